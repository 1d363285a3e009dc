"""Indexing primitives: gather along one axis and its transpose, scatter-add.

Multi-axis integer indexing (`x[i, j]`, `x[tril_indices]`) is lowered by `ops.api` to a
gather on one merged axis, so these two records cover all of it.
"""

from __future__ import annotations

import numpy as np

from ..errors import IndexingError
from . import api as A
from . import rules as R
from . import shapes as S
from .primitive import Primitive


def _checked(idx, size: int, op: str):
    """numpy-style indices (negative counts from the end), refusing out-of-range ones."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size and (idx.min() < -size or idx.max() >= size):
        bad = idx[(idx < -size) | (idx >= size)].flat[0]
        raise IndexingError(op, f"index {bad} is out of bounds for an axis of size {size}",
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


def _merge_batch_into_axis(x, idx, axis):
    """With both x and idx batched: move x's batch axis next to `axis` and merge the two, and
    offset each batch's indices into its own block, so one gather/scatter serves the batch."""
    shape = A.shape_of(x)
    n_batch, n = shape[0], shape[axis + 1]
    perm = tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, len(shape)))
    merged = A.reshape(A.transpose(x, perm), shape[1 : axis + 1] + (n_batch * n,) +
                       shape[axis + 2 :])
    offsets = A.iota(A.shape_of(idx), 0, A.dtype_of(idx)) * n
    idx = A.where(A.less(idx, 0), idx + n, idx)  # negative indices count from their own block
    return merged, idx + offsets, perm


def _gather_batch(args, dims, axis):
    (x, idx), (dx, di) = args, dims
    if di is None:
        return I_gather(x, idx, axis=axis + 1), 0
    if dx is None:
        return A.moveaxis(I_gather(x, idx, axis=axis), axis, 0), 0
    merged, flat_idx, _ = _merge_batch_into_axis(x, idx, axis)
    return A.moveaxis(I_gather(merged, flat_idx, axis=axis), axis, 0), 0


def _scatter_add_batch(args, dims, axis):
    (x, idx, upd), (dx, di, du) = args, dims
    n = next(A.shape_of(a)[0] for a, d in zip(args, dims) if d is not None)
    x, upd = R.batched(x, dx, n), R.batched(upd, du, n)
    if di is None:
        return I_scatter_add(x, idx, upd, axis=axis + 1), 0
    merged, flat_idx, perm = _merge_batch_into_axis(x, idx, axis)
    out = I_scatter_add(merged, flat_idx, A.moveaxis(upd, 0, axis), axis=axis)
    unmerged = A.reshape(out, tuple(A.shape_of(x)[p] for p in perm))
    return A.transpose(unmerged, tuple(np.argsort(perm))), 0


gather = Primitive("gather", 2, S.gather, _gather_np, vjp=_gather_vjp,
                   torch_name="IndexBackward0", linear=True, lower="gather", batch=_gather_batch)
scatter_add = Primitive("scatter_add", 3, S.scatter_add, _scatter_add_np, vjp=_scatter_add_vjp,
                        torch_name="IndexAddBackward0", linear=True, lower="scatter_add",
                        batch=_scatter_add_batch)
I_gather, I_scatter_add = gather, scatter_add
