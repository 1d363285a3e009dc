"""Indexing primitives: gather along one axis and its transpose, scatter-add.

Multi-axis integer indexing (`x[i, j]`, `x[tril_indices]`) is lowered by `ops.api` to a
gather on one merged axis, so these two records cover all of it.
"""

from __future__ import annotations

import numpy as np

from ..errors import TraceError
from . import api as A
from . import shapes as S
from .primitive import Primitive


def _checked(idx, size: int, op: str):
    """numpy-style indices (negative counts from the end), refusing out-of-range ones."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size and (idx.min() < -size or idx.max() >= size):
        bad = idx[(idx < -size) | (idx >= size)].flat[0]
        raise TraceError(op, f"index {bad} is out of bounds for an axis of size {size}",
                         hint="indices must lie in [-size, size)")
    return np.where(idx < 0, idx + size, idx)


def _gather_np(x, idx, axis):
    return np.take(x, _checked(idx, x.shape[axis], "gather"), axis=axis)


def _scatter_add_np(x, idx, upd, axis):
    out = x.copy()
    index = (slice(None),) * axis + (_checked(idx, x.shape[axis], "scatter_add"),)
    np.add.at(out, index, upd)
    return out


def _gather_vjp(g, x, idx, out, axis):
    # gather reads x at idx: its transpose adds the cotangent back at idx (repeats accumulate)
    return A.scatter_add_p(A.zeros_like(x), idx, g, axis=axis), None


def _scatter_add_vjp(g, x, idx, upd, out, axis):
    # out = x + scatter(upd): x passes through, upd reads the cotangent at idx
    return g, None, A.gather_p(g, idx, axis=axis)


gather = Primitive("gather", 2, S.gather, _gather_np, vjp=_gather_vjp,
                   torch_name="IndexBackward0", linear=True, lower="gather")
scatter_add = Primitive("scatter_add", 3, S.scatter_add, _scatter_add_np, vjp=_scatter_add_vjp,
                        torch_name="IndexAddBackward0", linear=True, lower="scatter_add")
