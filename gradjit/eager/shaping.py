"""torch-level shape ops: views, transposes, cat/stack/split, dtype casts, indexing.

Index keys are split into a static template (ints, slices, None, Ellipsis) and index tensors,
so a node's structural key never holds data. A boolean mask becomes its integer positions at
once (its shape depends on the data, as in PyTorch). Assignment `x[key] = v` is an in-place
op: it writes through the positions `key` selects.
"""

from __future__ import annotations

import numpy as np

from ..ops import api as A
from . import dtypes
from .recorder import TENSOR, EagerOp, apply, apply_inplace
from .tensor import Tensor, as_tensor


def _sizes(args) -> tuple:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(int(a) for a in args)


_VIEW = EagerOp("ViewBackward0", lambda x, shape: A.reshape(x, shape), view=True)
_UNSAFE_VIEW = EagerOp("UnsafeViewBackward0", lambda x, shape: A.reshape(x, shape), view=True)
_TRANSPOSE = EagerOp("TransposeBackward0", lambda x, perm: A.transpose(x, perm), view=True)
_PERMUTE = EagerOp("PermuteBackward0", lambda x, perm: A.transpose(x, perm), view=True)
_T = EagerOp("TBackward0", lambda x, perm: A.transpose(x, perm), view=True)
_SQUEEZE = EagerOp("SqueezeBackward1", lambda x, shape: A.reshape(x, shape), view=True)
_UNSQUEEZE = EagerOp("UnsqueezeBackward0", lambda x, shape: A.reshape(x, shape), view=True)
_EXPAND = EagerOp("ExpandBackward0", lambda x, shape: A.broadcast_to(x, shape))
_CLONE = EagerOp("CloneBackward0", lambda x: x)  # the recorder copies a result that aliases
_TO = EagerOp("ToCopyBackward0", lambda x, dtype: A.asarray(x, dtype))
_CAT = EagerOp("CatBackward0", lambda *xs, dim, dtype: A.concatenate(
    [A.asarray(x, dtype) for x in xs], dim))
_STACK = EagerOp("StackBackward0", lambda *xs, dim, dtype: A.stack(
    [A.asarray(x, dtype) for x in xs], dim))
_FLIP = EagerOp("FlipBackward0", lambda x, dims: A.flip(x, dims))


def view(input, *shape):
    return apply(_VIEW, input, shape=_resolve(input, _sizes(shape)))


def reshape(input, *shape):
    return view(input, *shape)


def _resolve(x, shape) -> tuple:
    return tuple(A.shape_of(A.reshape(np.empty(x.shape, dtype=bool), shape)))


def flatten(input, start_dim=0, end_dim=-1):
    shape = list(input.shape)
    if not shape:
        return view(input, 1)
    s, e = start_dim % len(shape), end_dim % len(shape)
    new = shape[:s] + [int(np.prod(shape[s:e + 1], dtype=np.int64))] + shape[e + 1:]
    return view(input, new)


def transpose(input, dim0, dim1):
    perm = list(range(input.ndim))
    if perm:
        dim0, dim1 = dim0 % input.ndim, dim1 % input.ndim
        perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
    return apply(_TRANSPOSE, input, perm=tuple(perm))


swapaxes = swapdims = transpose


def permute(input, *dims):
    return apply(_PERMUTE, input, perm=tuple(d % input.ndim for d in _sizes(dims)))


def t(input):
    if input.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return apply(_T, input, perm=tuple(range(input.ndim))[::-1])


def numpy_T(input):
    return apply(_PERMUTE, input, perm=tuple(range(input.ndim))[::-1])


def squeeze(input, dim=None):
    shape = list(input.shape)
    dims = range(len(shape)) if dim is None else [d % max(len(shape), 1) for d in (
        dim if isinstance(dim, (tuple, list)) else (dim,))]
    keep = [n for i, n in enumerate(shape) if not (i in dims and n == 1)]
    return apply(_SQUEEZE, input, shape=tuple(keep))


def unsqueeze(input, dim):
    shape = list(input.shape)
    shape.insert(dim % (len(shape) + 1), 1)
    return apply(_UNSQUEEZE, input, shape=tuple(shape))


def expand(input, *sizes):
    sizes = _sizes(sizes)
    lead = len(sizes) - input.ndim
    shape = tuple(input.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return apply(_EXPAND, input, shape=shape)


def expand_as(input, other):
    return expand(input, *other.shape)


def broadcast_to(input, size):
    return expand(input, *size)


def clone(input, *, memory_format=None):
    return apply(_CLONE, input)


def to(input, *args, **kwargs):
    """`.to(dtype)`, `.to(device)`, `.to(other)`: only dtype changes anything on the CPU."""
    dtype = kwargs.get("dtype")
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, dtypes.dtype) or a in (float, int, bool):
            dtype = a
    if dtype is None or dtypes.to_ir(dtype) == input.dtype.ir:
        return input
    return apply(_TO, input, dtype=dtypes.to_ir(dtype))


def cat(tensors, dim=0):
    tensors = [as_tensor(t) for t in tensors]
    from .functional import result_ir

    return apply(_CAT, *tensors, dim=dim, dtype=result_ir(*tensors))


concat = concatenate = cat


def stack(tensors, dim=0):
    tensors = [as_tensor(t) for t in tensors]
    from .functional import result_ir

    return apply(_STACK, *tensors, dim=dim, dtype=result_ir(*tensors))


def flip(input, dims):
    return apply(_FLIP, input, dims=tuple(dims))


def narrow(input, dim, start, length):
    key = [slice(None)] * input.ndim
    key[dim] = slice(start, start + length)
    return getitem(input, tuple(key))


def split(tensor, split_size_or_sections, dim=0):
    n = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        sizes = [min(split_size_or_sections, n - b) for b in range(0, n, split_size_or_sections)]
    else:
        sizes = list(split_size_or_sections)
    bounds = np.cumsum([0] + sizes)
    return tuple(narrow(tensor, dim, int(b), int(e - b)) for b, e in zip(bounds, bounds[1:]))


def chunk(input, chunks, dim=0):
    return split(input, -(-input.shape[dim] // chunks), dim)


def unbind(input, dim=0):
    return tuple(select(input, dim, i) for i in range(input.shape[dim]))


def select(input, dim, index):
    key = [slice(None)] * input.ndim
    key[dim] = index
    return getitem(input, tuple(key))


# ---- indexing --------------------------------------------------------------------------------


def _split_key(key):
    """(static template, index arrays): tensors and masks become int64 index arrays."""
    key = key if isinstance(key, tuple) else (key,)
    template, arrays = [], []
    for k in key:
        if isinstance(k, (Tensor, list, np.ndarray)) and not isinstance(k, bool):
            a = np.asarray(k._data if isinstance(k, Tensor) else k)
            parts = np.nonzero(a) if a.dtype == bool else (a,)
            for p in parts:
                template.append(TENSOR)
                arrays.append(Tensor._make(np.asarray(p, dtype=np.int64)))
        else:
            template.append(int(k) if isinstance(k, (np.integer, Tensor)) else k)
    return tuple(template), arrays


def _fill(template, idx):
    it = iter(idx)
    return tuple(next(it) if k is TENSOR else k for k in template)


def _getitem_fn(x, *idx, key):
    return A.getitem(x, _fill(key, idx))


_GETITEM = {n: EagerOp(n, _getitem_fn, staged=True) for n in ("SelectBackward0", "SliceBackward0",
                                                 "IndexBackward0")}


def getitem(input, key):
    template, arrays = _split_key(key)
    name = "IndexBackward0" if arrays else "SelectBackward0" if any(
        isinstance(k, int) for k in template) else "SliceBackward0"
    return apply(_GETITEM[name], input, *arrays, key=template)


def _index_put_fn(x, v, pos):
    # positions `pos` of x (flat) take the values v; the gradient of x is zero there
    flat = A.reshape(x, (-1,))
    pos = A.reshape(pos, (-1,))
    v = A.reshape(A.broadcast_to(A.asarray(v, A.dtype_of(x)), A.shape_of(pos)), (-1,))
    hit = A.greater(A.index_add(A.zeros(A.shape_of(flat), "i64"), pos, 1), 0)
    placed = A.index_add(A.zeros_like(flat), pos, v)
    return A.reshape(A.where(hit, placed, flat), A.shape_of(x))


_INDEX_PUT = EagerOp("IndexPutBackward0", _index_put_fn, staged=True)


def setitem(target, key, value):
    """`target[key] = value`, in place."""
    template, arrays = _split_key(key)
    np_key = _fill(template, [a._data for a in arrays])
    pos = np.arange(target.numel(), dtype=np.int64).reshape(target.shape)[np_key]
    value = value if isinstance(value, Tensor) else float(value) if target.is_floating_point() \
        else value
    pos = Tensor._make(np.asarray(pos))
    return apply_inplace(target, lambda src: apply(_INDEX_PUT, src, value, pos),
                         op_name="__setitem__")
