"""Generic forward-mode (JVP) and batching rules that whole families of primitives share.

A record names one of these by string (`jvp="elementwise"`, `batch="elementwise"`) or brings
its own callable; `jvp_rule(prim)` and `batch_rule(prim)` resolve either. Batched values carry
their batch axis first (dim 0) or are unbatched (None); rules keep it that way.
"""

from __future__ import annotations

from . import api as A

# ---- JVP ---------------------------------------------------------------------------------


def _elementwise_jvp(prim):
    # The Jacobian of an elementwise op is diagonal in each operand, so the VJP rule applied to a
    # tangent is that operand's tangent contribution: dout = sum_i (d out / d x_i) * t_i.
    def rule(primals, tangents, out, **params):
        total = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            c = prim.vjp(t, *primals, out=out, **params)[i]
            if c is not None:
                total = c if total is None else total + c
        return total

    return rule


def _linear_jvp(prim):
    # a linear op's tangent is the op applied to the tangents (zeros where a tangent is zero)
    def rule(primals, tangents, out, **params):
        floats = [A.is_float_dtype(A.dtype_of(p)) for p in primals]
        if all(t is None for t, f in zip(tangents, floats) if f):
            return None
        args = [(A.zeros_like(p) if t is None else t) if f else p
                for p, t, f in zip(primals, tangents, floats)]
        return prim(*args, **params)

    return rule


def _reduction_jvp(prim):
    # each output depends on its own slice: dout = sum over the axes of (d out / d x) * t,
    # where the VJP of a cotangent of ones gives d out / d x in x's shape
    def rule(primals, tangents, out, axes):
        (x,), (t,) = primals, tangents
        if t is None:
            return None
        partial = prim.vjp(A.ones_like(out), x, out=out, axes=axes)[0]
        return A.reduce_sum(t * partial, axes)

    return rule


_JVP = {"elementwise": _elementwise_jvp, "linear": _linear_jvp, "reduction": _reduction_jvp}


def jvp_rule(prim):
    """The callable JVP rule of a record (None for a primitive without a derivative)."""
    rule = prim.jvp
    if rule is None and prim.linear:
        rule = "linear"
    if isinstance(rule, str):
        rule = _JVP[rule](prim)
    return rule


# ---- batching ----------------------------------------------------------------------------


def batch_size(args, dims) -> int:
    return next(A.shape_of(a)[0] for a, d in zip(args, dims) if d is not None)


def batched(x, dim, size):
    """x with a leading batch axis of `size` (broadcast when x is unbatched)."""
    return x if dim is not None else A.broadcast_to(x, (size,) + A.shape_of(x))


def _elementwise_batch(prim):
    # same-shape operands: give every operand the batch axis, then apply as is
    def rule(args, dims, **params):
        n = batch_size(args, dims)
        return prim(*[batched(a, d, n) for a, d in zip(args, dims)], **params), 0

    return rule


def _axes_batch(prim, key):
    # ops with an axis/axes parameter: batch every operand, shift the axes past the batch axis
    def rule(args, dims, **params):
        n = batch_size(args, dims)
        shifted = dict(params)
        value = params[key]
        shifted[key] = tuple(a + 1 for a in value) if isinstance(value, tuple) else value + 1
        return prim(*[batched(a, d, n) for a, d in zip(args, dims)], **shifted), 0

    return rule


_BATCH = {
    "elementwise": _elementwise_batch,
    "axes": lambda prim: _axes_batch(prim, "axes"),
    "axis": lambda prim: _axes_batch(prim, "axis"),
}


def batch_rule(prim):
    rule = prim.batch
    if isinstance(rule, str):
        rule = _BATCH[rule](prim)
    return rule
