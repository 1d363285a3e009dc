"""Running backward over a recorded graph: `backward` and `grad`.

Two ways to run the same graph. The fast path (graph_backward.py) turns the whole graph into
one adjoint Function (lowering.py), cached by structural key, so a training loop traces
nothing after its first step. The node-by-node path walks nodes in topological order, as
PyTorch's engine does; it serves what one Function cannot: tensor hooks and `retain_grad` on
intermediate tensors, custom `autograd.Function` nodes (their backward is Python),
`create_graph=True` (gradients are recorded op by op) and gradients with respect to non-leaf
tensors.
"""

from __future__ import annotations

import numpy as np

from ..ir.types import TensorType
from . import errors
from .grad_mode import _enabled
from .graph import AccumulateGrad
from .graph_backward import run_graph
from .layout_cache import layout_of
from .tensor import Tensor, as_tensor


def topo_order(roots) -> list:
    """Nodes reachable from `roots`, each before every node its gradients flow into."""
    post, seen = [], set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, edges = stack[-1]
            for nxt, _ in edges:
                if nxt is not None and nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, iter(nxt.next_functions)))
                    break
            else:
                stack.pop()
                post.append(node)
    return post[::-1]


def _seed(tensors, grads, create_graph):
    """Validate the roots and their gradients: [((node, index), gradient tensor)]."""
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grads)):
        node = t.grad_fn
        if node is None and not t._requires_grad:
            raise errors.no_grad_fn(i)
        if g is None:
            d = t._data
            if d.size != 1:
                raise errors.not_scalar()
            one = np.empty(d.shape, d.dtype)
            one.fill(1)  # (np.ones, without its Python wrapper: this is every backward's path)
            roots.append(((node, t._output_nr) if node is not None else t._edge(),
                          Tensor._make(one)))
            continue  # the seed has t's type already
        g = as_tensor(g)
        if tuple(g.shape) != tuple(t.shape):
            raise errors.AutogradError("backward", f"Mismatch in shape: grad_output[{i}] has a "
                                       f"shape of {g.shape} and output[{i}] has a shape of "
                                       f"{t.shape}.")
        if not create_graph:
            g = g.detach()
        if g._data.dtype != t._data.dtype or g._data.shape != t._data.shape:
            g = g._as_cotangent(TensorType.of(t._data))
        roots.append((t._edge(), g))
    return roots


def run(tensors, grads, inputs, retain_graph, create_graph, accumulate) -> list:
    """Backpropagate from `tensors`; accumulate into `.grad` or return the grads of `inputs`."""
    roots = _seed(tensors, grads, create_graph)
    targets = {} if inputs is None else {t._edge(): i for i, t in enumerate(inputs)}
    prev, _enabled[0] = _enabled[0], bool(create_graph)  # (set_grad_enabled, inline)
    try:
        layout = None if create_graph else layout_of(roots, targets)
        if layout is not None:
            order = layout.nodes  # (its leaves' AccumulateGrad nodes keep nothing to release)
            results = run_graph(layout, roots, targets, accumulate)
        else:
            order = topo_order([node for (node, _), _ in roots])
            results = _run_nodes(order, roots, targets, accumulate, create_graph)
        if accumulate and inputs is not None:  # backward(inputs=[a non-leaf]) fills its .grad
            for t, g in zip(inputs, results):
                if g is not None and not t.is_leaf:
                    t._accumulate(g, create_graph)
    finally:
        _enabled[0] = prev
    if not retain_graph:
        for node in order:
            node.release()
    return results


# ---- the node-by-node path -------------------------------------------------------------------


def _needed(order, targets) -> set:
    """Nodes on a path to a target (all nodes when there are no targets)."""
    if not targets:
        return set(order)
    target_nodes = {node for node, _ in targets}
    need = set()
    for node in reversed(order):
        if node in target_nodes or any(nxt in need for nxt, _ in node.next_functions):
            need.add(node)
    return need


def _add(pending: dict, edge, g):
    pending[edge] = g if edge not in pending else pending[edge] + g


def _output_hooks(node, i, g, create_graph):
    """Hooks registered on the tensor that is output `i` of `node`, then its retain_grad."""
    for hook in node.tensor_hooks.get(i, ()):
        new = hook(g)
        g = g if new is None else new
    ref = node.retained.get(i)
    tensor = ref() if ref is not None else None
    if tensor is not None:
        tensor._accumulate(g, create_graph)
    return g


def _run_nodes(order, roots, targets, accumulate, create_graph) -> list:
    need = _needed(order, targets)
    pending: dict = {}
    for edge, g in roots:
        _add(pending, edge, g)
    results = [None] * len(targets)
    for node in order:
        if node not in need:
            continue
        grads = [pending.pop((node, i), None) for i in range(node.n_outputs)]
        if all(g is None for g in grads):
            continue
        grads = [g if g is None else _output_hooks(node, i, g, create_graph)
                 for i, g in enumerate(grads)]
        if isinstance(node, AccumulateGrad):
            g = node.variable._run_hooks(grads[0])
            if accumulate and (not targets or (node, 0) in targets):
                node.variable._accumulate(g, create_graph)
            grads = [g]
        for i, g in enumerate(grads):
            if (node, i) in targets:
                results[targets[(node, i)]] = g
        if isinstance(node, AccumulateGrad):
            continue
        in_grads = node.apply(grads, create_graph)
        for hook in node.hooks:
            hook(tuple(in_grads), tuple(grads))
        for (nxt, nr), g in zip(node.next_functions, in_grads):
            if nxt is not None and g is not None:
                _add(pending, (nxt, nr), g)
    return results

