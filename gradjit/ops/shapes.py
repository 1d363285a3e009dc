"""Shape rules shared by the primitive records: (arg types..., **params) -> out type.

Rules raise ValueError/TypeError with a short problem; `Primitive.out_type` adds the op and the
operand types to make it a ShapeError.
"""

from __future__ import annotations

import numpy as np

from ..ir.types import TensorType, is_float


def same_shape(x: TensorType, **_) -> TensorType:
    return x


def float_unary(x: TensorType, **_) -> TensorType:
    if not is_float(x.dtype):
        raise TypeError(f"expects a float tensor, got {x.dtype}")
    return x


def _same(*xs: TensorType) -> None:
    first = xs[0]
    for x in xs[1:]:
        if x.shape != first.shape:
            raise ValueError(f"shapes {first.shape} and {x.shape} differ (broadcast first)")
        if x.dtype != first.dtype:
            raise TypeError(f"dtypes {first.dtype} and {x.dtype} differ (cast first)")


def binary(x: TensorType, y: TensorType, **_) -> TensorType:
    _same(x, y)
    return x


def float_binary(x: TensorType, y: TensorType, **_) -> TensorType:
    _same(x, y)
    return float_unary(x)


def compare(x: TensorType, y: TensorType, **_) -> TensorType:
    _same(x, y)
    return x.with_dtype("bool")


def logical(*xs: TensorType, **_) -> TensorType:
    _same(*xs)
    if xs[0].dtype != "bool":
        raise TypeError(f"expects bool tensors, got {xs[0].dtype}")
    return xs[0]


def select(pred: TensorType, x: TensorType, y: TensorType, **_) -> TensorType:
    _same(x, y)
    if pred.dtype != "bool" or pred.shape != x.shape:
        raise TypeError(f"predicate must be bool{list(x.shape)}, got {pred}")
    return x


def cast(x: TensorType, *, dtype: str) -> TensorType:
    return x.with_dtype(dtype)


def integer_pow(x: TensorType, *, n: int) -> TensorType:
    if not isinstance(n, int):
        raise TypeError(f"exponent must be an int, got {n!r}")
    if n < 0 and not is_float(x.dtype):
        raise TypeError(f"negative exponent {n} needs a float tensor, got {x.dtype}")
    return x


def _check_axes(axes, ndim: int) -> tuple[int, ...]:
    if tuple(sorted(set(axes))) != tuple(axes) or any(not 0 <= a < ndim for a in axes):
        raise ValueError(f"axes {axes} must be sorted, unique and within rank {ndim}")
    return axes


def reduce(x: TensorType, *, axes: tuple[int, ...]) -> TensorType:
    _check_axes(axes, x.ndim)
    return x.with_shape(d for i, d in enumerate(x.shape) if i not in axes)


def extremum(x: TensorType, *, axes: tuple[int, ...]) -> TensorType:
    """max/min: like numpy, refuse an empty reduced axis (it has no identity to return)."""
    out = reduce(x, axes=axes)
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"zero-size axis of {x}: max and min have no identity to return")
    return out


def argreduce(x: TensorType, *, axis: int) -> TensorType:
    _check_axes((axis,), x.ndim)
    if x.shape[axis] == 0:
        raise ValueError("attempt to get argmax of an empty axis")
    return TensorType("i64", tuple(d for i, d in enumerate(x.shape) if i != axis))


def broadcast_to(x: TensorType, *, shape: tuple[int, ...]) -> TensorType:
    if len(shape) < x.ndim or any(
        d not in (1, s) for d, s in zip(x.shape[::-1], shape[::-1])
    ):
        raise ValueError(f"cannot broadcast {list(x.shape)} to {list(shape)}")
    return x.with_shape(shape)


def reshape(x: TensorType, *, shape: tuple[int, ...]) -> TensorType:
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ValueError(f"cannot reshape {x.size} elements into shape {list(shape)}")
    return x.with_shape(shape)


def transpose(x: TensorType, *, perm: tuple[int, ...]) -> TensorType:
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"perm {perm} is not a permutation of {x.ndim} axes")
    return x.with_shape(x.shape[p] for p in perm)


def concatenate(*xs: TensorType, axis: int) -> TensorType:
    if not xs:
        raise ValueError("needs at least one operand")
    first = xs[0]
    _check_axes((axis,), first.ndim)
    for x in xs[1:]:
        if x.dtype != first.dtype or x.ndim != first.ndim or any(
            a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis
        ):
            raise ValueError(f"operands differ outside axis {axis}")
    size = sum(x.shape[axis] for x in xs)
    return first.with_shape(size if i == axis else d for i, d in enumerate(first.shape))


def slice_len(start: int, stop: int, step: int) -> int:
    return max(0, -(-(stop - start) // step))


def slice_(x: TensorType, *, start, stop, step) -> TensorType:
    if not len(start) == len(stop) == len(step) == x.ndim:
        raise ValueError("start, stop and step need one entry per axis")
    for b, e, s, d in zip(start, stop, step, x.shape):
        if s < 1 or not 0 <= b <= d or not b <= e <= d:
            raise ValueError(f"slice {b}:{e}:{s} is not within an axis of size {d}")
    return x.with_shape(slice_len(b, e, s) for b, e, s in zip(start, stop, step))


def pad(x: TensorType, *, lo, hi, interior, value=0.0) -> TensorType:
    if not len(lo) == len(hi) == len(interior) == x.ndim:
        raise ValueError("lo, hi and interior need one entry per axis")
    if min((*lo, *hi, *interior), default=0) < 0:
        raise ValueError("negative padding is not supported")
    return x.with_shape(
        a + b + d + max(d - 1, 0) * i for a, b, i, d in zip(lo, hi, interior, x.shape)
    )


def flip(x: TensorType, *, axes) -> TensorType:
    _check_axes(axes, x.ndim)
    return x


def iota(*, shape, axis: int, dtype: str) -> TensorType:
    _check_axes((axis,), len(shape))
    return TensorType(dtype, tuple(shape))


def const(*, value: np.ndarray) -> TensorType:
    return TensorType.of(value)


def _index(idx: TensorType) -> None:
    if idx.dtype not in ("i32", "i64"):
        raise TypeError(f"indices must be integers, got {idx.dtype}")


def gather(x: TensorType, idx: TensorType, *, axis: int) -> TensorType:
    _index(idx)
    _check_axes((axis,), x.ndim)
    return x.with_shape(x.shape[:axis] + idx.shape + x.shape[axis + 1 :])


def scatter_add(x: TensorType, idx: TensorType, upd: TensorType, *, axis: int) -> TensorType:
    expected = gather(x, idx, axis=axis)
    if upd != expected:
        raise ValueError(f"updates must be {expected}, got {upd}")
    return x


def dot_general(x: TensorType, y: TensorType, *, contract, batch) -> TensorType:
    (xc, yc), (xb, yb) = contract, batch
    if x.dtype != y.dtype:
        raise TypeError(f"dtypes {x.dtype} and {y.dtype} differ (cast first)")
    if len(xc) != len(yc) or len(xb) != len(yb):
        raise ValueError("contracting and batch dimensions must pair up")
    for a, b in [*zip(xc, yc), *zip(xb, yb)]:
        if x.shape[a] != y.shape[b]:
            raise ValueError(f"dimension {a} of lhs ({x.shape[a]}) != dimension {b} of rhs "
                             f"({y.shape[b]})")
    for axes, t in ((xc + xb, x), (yc + yb, y)):
        if len(set(axes)) != len(axes) or any(not 0 <= a < t.ndim for a in axes):
            raise ValueError(f"bad dimension numbers {contract}, {batch}")
    x_free = [d for i, d in enumerate(x.shape) if i not in xc + xb]
    y_free = [d for i, d in enumerate(y.shape) if i not in yc + yb]
    return x.with_shape([x.shape[a] for a in xb] + x_free + y_free)
