"""Reductions over a set of axes: sum, max, min, prod, and argmax (integer-valued)."""

from __future__ import annotations

import numpy as np

from . import api as A
from . import shapes as S
from .primitive import Primitive


def _expand(g, x, axes):
    """A reduced cotangent broadcast back over the reduced axes of x."""
    kept = tuple(1 if i in axes else d for i, d in enumerate(A.shape_of(x)))
    return A.broadcast_to(A.reshape(g, kept), A.shape_of(x))


def _sum_vjp(g, x, out, axes):
    # d sum(x) = sum(dx): every element receives the cotangent of its sum
    return (_expand(g, x, axes),)


def _extremum_vjp(g, x, out, axes):
    # the cotangent goes to the arg-extremal elements, shared equally among ties
    hit = A.cast(x == _expand(out, x, axes), A.dtype_of(x))
    count = _expand(A.reduce_sum(hit, axes), x, axes)
    return (_expand(g, x, axes) * hit / count,)


def _prod_vjp(g, x, out, axes):
    # d prod(x)/dx_i = prod_{j != i} x_j, computed exactly (no division, so zeros are fine):
    # move the reduced axes last and flatten them to n, build an (n, n) copy with 1 on the
    # diagonal, and take the product along the last axis.
    shape = A.shape_of(x)
    kept = [i for i in range(len(shape)) if i not in axes]
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    moved = A.transpose(x, tuple(kept) + tuple(axes))
    flat = A.reshape(moved, tuple(shape[i] for i in kept) + (n,))
    rows = A.broadcast_to(A.expand_dims(flat, -2), A.shape_of(flat)[:-1] + (n, n))
    eye = A.broadcast_to(A.eye(n, dtype="bool"), A.shape_of(rows))
    others = A.reduce_prod(A.where(eye, A.ones_like(rows), rows), (len(kept) + 1,))
    grad_moved = A.reshape(others * A.expand_dims(g, -1), A.shape_of(moved))
    return (A.transpose(grad_moved, tuple(np.argsort(tuple(kept) + tuple(axes)))),)


def _reducer(name, numpy, vjp, torch_name, linear=False, shape=S.reduce):
    impl = lambda x, axes: numpy(x, axis=tuple(axes))  # noqa: E731
    return Primitive(name, 1, shape, impl, vjp=vjp, torch_name=torch_name, lower=name,
                     linear=linear, jvp=None if linear else "reduction", batch="axes")


reduce_sum = _reducer("reduce_sum", np.sum, _sum_vjp, "SumBackward0", linear=True)
reduce_max = _reducer("reduce_max", np.max, _extremum_vjp, "MaxBackward0", shape=S.extremum)
reduce_min = _reducer("reduce_min", np.min, _extremum_vjp, "MinBackward0", shape=S.extremum)
reduce_prod = _reducer("reduce_prod", np.prod, _prod_vjp, "ProdBackward0")
argmax = Primitive("argmax", 1, S.argreduce, lambda x, axis: np.argmax(x, axis=axis),
                   nondiff="integer-valued", lower="argmax", batch="axis")
