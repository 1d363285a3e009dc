"""Running backward over a recorded graph: `backward` and `grad`.

Two ways to run the same graph. The fast path turns the whole graph into one adjoint Function
(lowering.py), cached by structural key, so a training loop traces nothing after its first
step. The node-by-node path walks nodes in topological order, as PyTorch's engine does; it
serves what one Function cannot: tensor hooks and `retain_grad` on intermediate tensors,
custom `autograd.Function` nodes (their backward is Python), `create_graph=True` (gradients are
recorded op by op) and gradients with respect to non-leaf tensors.
"""

from __future__ import annotations

import numpy as np

from ..ir.types import TensorType
from . import errors
from .grad_mode import set_grad_enabled
from .graph import AccumulateGrad
from .lowering import Plan, graph_adjoint
from .recorder import OpNode, _describe


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
    from .tensor import as_tensor, ones_like

    roots = []
    for i, (t, g) in enumerate(zip(tensors, grads)):
        if not t.requires_grad:
            raise errors.no_grad_fn(i)
        if g is None:
            if t.numel() != 1:
                raise errors.not_scalar()
            g = ones_like(t)
        else:
            g = as_tensor(g)
            if tuple(g.shape) != tuple(t.shape):
                raise errors.AutogradError("backward", f"Mismatch in shape: grad_output[{i}] has "
                                           f"a shape of {g.shape} and output[{i}] has a shape "
                                           f"of {t.shape}.")
            if not create_graph:
                g = g.detach()
        roots.append((t._edge(), g._as_cotangent(TensorType.of(t._data))))
    return roots


def run(tensors, grads, inputs, retain_graph, create_graph, accumulate) -> list:
    """Backpropagate from `tensors`; accumulate into `.grad` or return the grads of `inputs`."""
    roots = _seed(tensors, grads, create_graph)
    order = topo_order([node for (node, _), _ in roots])
    targets = {} if inputs is None else {t._edge(): i for i, t in enumerate(inputs)}
    with set_grad_enabled(create_graph):
        if _fast_ok(order, roots, targets, create_graph):
            results = _run_fast(order, roots, targets, accumulate)
        else:
            results = _run_nodes(order, roots, targets, accumulate, create_graph)
        if accumulate and inputs is not None:  # backward(inputs=[a non-leaf]) fills its .grad
            for t, g in zip(inputs, results):
                if g is not None and not t.is_leaf:
                    t._accumulate(g, create_graph)
    if not retain_graph:
        for node in order:
            node.release()
    return results


def _fast_ok(order, roots, targets, create_graph) -> bool:
    if create_graph or any(isinstance(node, AccumulateGrad) for (node, _), _ in roots):
        return False
    if any(not isinstance(node, AccumulateGrad) for node, _ in targets):
        return False
    return all(isinstance(n, AccumulateGrad) or (isinstance(n, OpNode) and not n.tensor_hooks
               and not n.retained and not n.hooks) for n in order)


# ---- the fast path: one adjoint Function for the whole graph --------------------------------


def _plan(order, roots, targets):
    """The graph as a Plan plus the arrays (with their owners, for checks) it will be fed."""
    nodes = [n for n in reversed(order) if isinstance(n, OpNode)]
    index = {n: i for i, n in enumerate(nodes)}
    leaves: dict = {}  # AccumulateGrad -> (position, saved, type, owner node)
    consts, sources = [], []
    for n in nodes:
        srcs = []
        for (nxt, _), saved, t in zip(n.next_functions, n.inputs, n.in_types):
            if nxt is None:
                srcs.append(("const", len(consts)))
                consts.append((saved, t, n))
            elif isinstance(nxt, AccumulateGrad):
                if nxt not in leaves:
                    leaves[nxt] = (len(leaves), saved, t, n)
                srcs.append(("leaf", leaves[nxt][0]))
            else:
                srcs.append(("node", index[nxt]))
        sources.append(srcs)
    wanted = list(leaves) if not targets else [node for node, _ in targets if node in leaves]
    plan = Plan(nodes, sources, [v[2] for v in leaves.values()], [c[1] for c in consts],
                [(index[node], node.out_type) for (node, _), _ in roots],
                [leaves[a][0] for a in wanted])
    fed = [v[1:] for v in leaves.values()] + consts + [(n.out, n.out_type, n) for n in nodes]
    return plan, fed, wanted


def _run_fast(order, roots, targets, accumulate) -> list:
    plan, fed, wanted = _plan(order, roots, targets)
    adj = graph_adjoint(plan)
    arrays = []
    for (saved, t, owner), used in zip(fed, adj.used):
        if used:
            saved.check(owner, _describe(t))
        arrays.append(saved.array if saved.array is not None else np.zeros(t.shape, t.np_dtype))
    arrays += [g._data for _, g in roots]
    from .tensor import Tensor

    grads = {acc: acc.variable._run_hooks(Tensor._make(a))
             for acc, a in zip(wanted, adj.run(arrays))}
    return _deliver(grads, targets, accumulate, False)


def _deliver(grads: dict, targets: dict, accumulate: bool, create_graph: bool) -> list:
    """Leaf gradients into `.grad` (backward) or into the result list (grad)."""
    results = [None] * len(targets)
    for node, g in grads.items():
        if accumulate:
            node.variable._accumulate(g, create_graph)
        if (node, 0) in targets:
            results[targets[(node, 0)]] = g
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

