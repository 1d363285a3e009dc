"""The autograd API: `backward`, `grad`, custom `Function`, and `gradcheck`.

A custom Function's forward runs without recording; its outputs get one `<Name>Backward` node
whose `apply` calls the user's `backward(ctx, *grads)` as written (recording only under
`create_graph=True`, as in PyTorch).
"""

from __future__ import annotations

import numpy as np

from . import errors
from .engine import run
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .graph import Node, Saved, node_class
from .tensor import Tensor, as_tensor


def _seq(x) -> list:
    return [x] if isinstance(x, Tensor) or x is None else list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulate d(tensors)/d(leaves) into the leaves' `.grad` (or only into `inputs`)."""
    tensors = _seq(tensors)
    grads = _seq(grad_tensors if grad_tensors is not None else grad_variables)
    if len(grads) == 1 and grads[0] is None:
        grads = [None] * len(tensors)
    inputs = None if inputs is None else _seq(inputs)
    retain = create_graph if retain_graph is None else retain_graph
    run(tensors, grads, inputs, retain, create_graph, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of `outputs` with respect to `inputs`, as a tuple (no `.grad` changes)."""
    outputs, inputs = _seq(outputs), _seq(inputs)
    grads = _seq(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise errors.AutogradError("grad", f"One of the differentiated Tensors (input {i}) "
                                       "does not require grad")
    retain = create_graph if retain_graph is None else retain_graph
    results = run(outputs, grads, inputs, retain, create_graph, accumulate=False)
    out = []
    for i, (t, g) in enumerate(zip(inputs, results)):
        if g is None:
            if materialize_grads:
                g = Tensor._make(np.zeros_like(t._data))
            elif not allow_unused:
                raise errors.unused(i)
        out.append(g)
    return tuple(out)


# ---- custom Functions ------------------------------------------------------------------------


_FREED = object()  # what a released node leaves in place of its saved tensors


class FunctionCtx:
    """`ctx`: saves tensors for backward (with their versions) and holds any attributes."""

    def __init__(self):
        self._saved = None
        self._node = None
        self.needs_input_grad = ()
        self.materialize_grads = True
        self.non_differentiable = set()

    def save_for_backward(self, *tensors):
        self._saved = [(t, Saved(t._data, t._version) if isinstance(t, Tensor) else None)
                       for t in tensors]

    @property
    def saved_tensors(self) -> tuple:
        if self._saved is _FREED:
            raise errors.freed(self._node.name())
        if self._saved is None:
            return ()
        for t, saved in self._saved:
            if saved is not None:
                saved.check(self._node, f"{t.dtype} tensor of shape {list(t.shape)}")
        return tuple(t for t, _ in self._saved)

    saved_variables = saved_tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value


class CustomNode(Node):
    """The node of a custom Function: its backward is the user's Python code."""

    __slots__ = ("cls", "ctx", "n_args", "n_out", "out_meta", "positions")

    @property
    def n_outputs(self):
        return self.n_out

    def apply(self, grads, create_graph):
        grads = [Tensor._make(np.zeros(s, d)) if g is None and self.ctx.materialize_grads
                 else g for g, (s, d) in zip(grads, self.out_meta)]
        with _grad_mode(create_graph):
            result = self.cls.backward(self.ctx, *grads)
        result = result if isinstance(result, tuple) else (result,)
        if len(result) < self.n_args:
            raise errors.AutogradError(
                f"{self.cls.__name__}.backward", f"function backward returned an incorrect "
                f"number of gradients (expected {self.n_args}, got {len(result)})")
        return [None if result[p] is None else as_tensor(result[p]) for p in self.positions]

    def release(self):
        super().release()
        if self.ctx._saved is not None:
            self.ctx._saved = _FREED


def _grad_mode(enabled: bool):
    from .grad_mode import set_grad_enabled

    return set_grad_enabled(enabled)


class Function:
    """Subclass with `forward(ctx, *args)` and `backward(ctx, *grads)` staticmethods."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if not (is_grad_enabled() and any(ctx.needs_input_grad)):
            return out
        outs = out if isinstance(out, tuple) else (out,)
        node = node_class(CustomNode, cls.__name__ + "Backward")(
            [args[i]._edge() for i in positions])
        node.cls, node.ctx, node.positions, node.n_args = cls, ctx, positions, len(args)
        node.out_meta = [(o.shape, o._data.dtype) if isinstance(o, Tensor) else None
                         for o in outs]
        node.n_out = len(outs)
        ctx._node = node
        wrapped = tuple(_attach(o, node, i, ctx) for i, o in enumerate(outs))
        return wrapped if isinstance(out, tuple) else wrapped[0]


def _attach(o, node, i, ctx):
    """An output tensor of a custom Function, with the Function's node as its history."""
    if not isinstance(o, Tensor) or not o.is_floating_point() or id(o) in ctx.non_differentiable:
        return o
    return Tensor._make(o._data, o._version, node, i)


def once_differentiable(fn):
    return fn


class InplaceFunction(Function):
    pass


# ---- gradcheck -------------------------------------------------------------------------------


def _flat_outputs(fn, inputs) -> np.ndarray:
    with no_grad():
        out = fn(*inputs)
    outs = _seq(out) if not isinstance(out, tuple) else list(out)
    return np.concatenate([np.asarray(o._data, np.float64).reshape(-1) for o in outs
                           if isinstance(o, Tensor)])


def _numerical(fn, inputs, x: Tensor, eps: float) -> np.ndarray:
    """Central differences: column j is (f(x + eps e_j) - f(x - eps e_j)) / 2 eps."""
    data = x._data  # perturbed in place, element by element (any memory layout)
    cols = []
    for j in range(data.size):
        at = np.unravel_index(j, data.shape)
        orig = data[at]
        data[at] = orig + eps
        plus = _flat_outputs(fn, inputs)
        data[at] = orig - eps
        minus = _flat_outputs(fn, inputs)
        data[at] = orig
        cols.append((plus - minus) / (2 * eps))
    return np.stack(cols, axis=1)


def _analytical(fn, inputs, diff) -> list[np.ndarray]:
    """Row i of each Jacobian: the gradient of output element i (one backward per row)."""
    out = fn(*inputs)
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) if isinstance(o, Tensor)]
    sizes = [o.numel() for o in outs]
    jac = [np.zeros((sum(sizes), x.numel())) for x in diff]
    row = 0
    for k, size in enumerate(sizes):
        for i in range(size):
            seeds = [Tensor._make(np.zeros(p._data.shape, p._data.dtype)) for p in outs]
            seeds[k]._data[np.unravel_index(i, outs[k]._data.shape)] = 1
            gs = grad(outs, diff, seeds, retain_graph=True, allow_unused=True)
            for j, g in enumerate(gs):
                if g is not None:
                    jac[j][row] = g._data.reshape(-1)
            row += 1
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              fast_mode=False, **_) -> bool:
    """Compare the autograd Jacobian of `func` at `inputs` with central finite differences."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    analytic = _analytical(func, inputs, diff)
    for j, (x, a) in enumerate(zip(diff, analytic)):
        n = _numerical(func, inputs, x, eps)
        if not np.allclose(a, n, rtol=rtol, atol=atol):
            if raise_exception:
                worst = np.unravel_index(np.argmax(np.abs(a - n)), a.shape)
                raise errors.AutogradError(
                    "gradcheck", f"Jacobian mismatch for output 0 with respect to input {j},\n"
                    f"numerical:{n[worst]}\nanalytical:{a[worst]}")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, **kwargs) -> bool:
    """gradcheck of the map inputs -> vjp(inputs) with fixed random cotangents."""
    inputs = tuple(inputs)
    with no_grad():
        outs = func(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    rng = np.random.default_rng(0)
    seeds = grad_outputs or [Tensor._make(rng.standard_normal(o.shape)) for o in outs]
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]

    def first(*xs):
        with enable_grad():
            return _first(*xs)

    def _first(*xs):
        gs = grad(func(*xs), [x for x in xs if isinstance(x, Tensor) and x.requires_grad],
                  seeds, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first, inputs, **kwargs) if diff else True
