"""`x[...]` as numpy defines it, lowered to one slice, one gather and reshapes.

Basic indices (ints, slices with any step, None, Ellipsis) become a single strided `slice`
(plus `flip` for negative steps) and a reshape. Integer-array indices (several of them, or a
constant boolean mask) broadcast together and become one `gather` on a merged axis, placed as
numpy places advanced-index dimensions.
"""

from __future__ import annotations

import numpy as np

from . import api as A


def _is_advanced(k) -> bool:
    return A.is_tracer(k) or isinstance(k, (np.ndarray, list))


def _expand_key(key, ndim: int) -> list:
    key = list(key) if isinstance(key, tuple) else [key]
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(k is not None and k is not Ellipsis for k in key)
    for i, k in enumerate(key):
        if isinstance(k, np.ndarray) and k.dtype == bool:
            key[i : i + 1] = list(np.nonzero(k))  # a constant mask is a tuple of index arrays
            used += k.ndim - 1
            break
    if used > ndim:
        raise IndexError(f"too many indices for a tensor of rank {ndim}")
    for i, k in enumerate(key):
        if k is Ellipsis:
            key[i : i + 1] = [slice(None)] * (ndim - used)
            break
    return key + [slice(None)] * (ndim - used)


def getitem(x, key):
    x = A.asarray(x)
    for k in (key if isinstance(key, tuple) else (key,)):
        if A.is_tracer(k) and A.dtype_of(k) == "bool":
            raise IndexError("boolean-mask indexing with a traced mask has a data-dependent "
                             "shape; use gradjit.numpy.where(mask, x, 0) instead")
    key = _expand_key(key, len(A.shape_of(x)))
    # insert the new axes first, so every remaining key entry addresses one axis of x
    shape = list(A.shape_of(x))
    for i, k in enumerate(key):
        if k is None:
            shape.insert(i, 1)
    x = A.reshape(x, shape)
    key = [slice(None) if k is None else k for k in key]
    advanced = [i for i, k in enumerate(key) if _is_advanced(k)]
    if advanced:
        key = [np.asarray(k) if isinstance(k, (int, np.integer)) else k for k in key]
        advanced = [i for i, k in enumerate(key) if _is_advanced(k) or
                    isinstance(k, np.ndarray)]
    x, squeeze = _basic(x, key)
    if advanced:
        x = _advanced(x, [key[i] for i in advanced], advanced)
    return A.reshape(x, [d for i, d in enumerate(A.shape_of(x)) if i not in squeeze]) \
        if squeeze else x


def _basic(x, key):
    """Apply slices and integer indices; returns (x, axes to squeeze)."""
    shape = A.shape_of(x)
    start, stop, step, flips, squeeze = [], [], [], [], []
    for axis, (k, d) in enumerate(zip(key, shape)):
        if isinstance(k, slice):
            b, e, s = k.indices(d)
            if s < 0:  # x[b:e:-s] reads the flipped axis forwards
                flips.append(axis)
                b, e, s = d - 1 - b, d - 1 - e, -s
            start.append(b), stop.append(max(b, e)), step.append(s)
        elif isinstance(k, (int, np.integer)):
            i = int(k)
            if not -d <= i < d:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {d}")
            i %= d
            start.append(i), stop.append(i + 1), step.append(1), squeeze.append(axis)
        else:  # advanced: whole axis for now
            start.append(0), stop.append(d), step.append(1)
    x = A.flip_p(x, tuple(flips))
    return A.slice_p(x, tuple(start), tuple(stop), tuple(step)), squeeze


def _advanced(x, indices, axes):
    """Gather at broadcast integer arrays `indices` addressing `axes` of x (numpy placement)."""
    shape = A.shape_of(x)
    idx_shape = np.broadcast_shapes(*[A.shape_of(i) for i in indices])
    adjacent = axes == list(range(axes[0], axes[0] + len(axes)))
    where = axes[0] if adjacent else 0
    rest = [a for a in range(len(shape)) if a not in axes]
    perm = rest[:where] + axes + rest[where:]
    x = A.transpose(x, perm)
    dims = [shape[a] for a in axes]
    merged = int(np.prod(dims, dtype=np.int64))
    x = A.reshape(x, [shape[a] for a in rest[:where]] + [merged] + [shape[a] for a in
                                                                   rest[where:]])
    flat = None
    for i, (ix, d) in enumerate(zip(indices, dims)):
        ix = A.broadcast_to(_normalized(ix, d, merged if len(dims) > 1 else None), idx_shape)
        stride = int(np.prod(dims[i + 1 :], dtype=np.int64))
        term = ix * stride if stride != 1 else ix
        flat = term if flat is None else flat + term
    return A.gather_p(x, flat, where)


def _normalized(ix, size: int, past_end: int | None = None):
    """Indices as i64 in [0, size): negatives count from the end. Constant ones are checked now;
    traced ones by the gather at run time: alone, as they are (gather wraps negatives and refuses
    any outside [-size, size)); merged with others, an out-of-range one becomes `past_end` (the
    merged size), since a wrong component can add up to an in-range merged index."""
    if not A.is_tracer(ix):
        ix = np.asarray(ix)
        if ix.dtype.kind not in "iu":
            raise IndexError(f"arrays used as indices must be of integer type, got {ix.dtype}")
        if ix.size and (ix.min() < -size or ix.max() >= size):
            raise IndexError(f"index {int(ix.max() if ix.max() >= size else ix.min())} is out "
                             f"of bounds for an axis of size {size}")
        return np.where(ix < 0, ix + size, ix).astype(np.int64)
    if A.dtype_of(ix) not in ("i32", "i64"):
        raise IndexError(f"arrays used as indices must be of integer type, got {A.dtype_of(ix)}")
    ix = A.asarray(ix, "i64")
    if past_end is None:
        return ix
    bad = A.logical_or(A.less(ix, -size), A.greater_equal(ix, size))
    return A.where(bad, past_end, A.where(A.less(ix, 0), ix + size, ix))
