"""torch-level reductions: sum, mean, prod, logsumexp, amax/amin, max/min with indices,
argmax/argmin, var/std, all/any, norm. Each is an EagerOp over `gradjit.ops.api`, with the
plain-numpy path (fast_ops) for float tensors; functional.py re-exports them all."""

from __future__ import annotations

import builtins

import numpy as np

from ..ir.types import normalize_axes
from ..ops import api as A
from . import dtypes, errors
from .fast_ops import apply_numpy, float_ir, mean_np, reduce_all_numpy, sum_np
from .functional import _float_ir, abs, maximum, minimum, pow, sqrt  # noqa: A004
from .recorder import EagerOp, apply
from .tensor import Tensor, as_tensor


def _reduce_op(name, fn):
    return EagerOp(name, lambda x, dim, keepdim, dtype: fn(A.asarray(x, dtype), dim, keepdim))


_SUM = {n: _reduce_op(n, lambda x, d, k: A.sum(x, d, k)) for n in ("SumBackward0",
                                                                    "SumBackward1")}
_MEAN = {n: _reduce_op(n, A.mean) for n in ("MeanBackward0", "MeanBackward1")}
_PROD = _reduce_op("ProdBackward0", A.prod)
_LSE = _reduce_op("LogsumexpBackward0", A.logsumexp)
_AMAX = {n: _reduce_op(n, fn) for n, fn in (("MaxBackward1", A.max), ("MinBackward1", A.min),
                                           ("AmaxBackward0", A.max), ("AminBackward0", A.min))}


def _dims(dim):
    return None if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)


_AXES: dict = {}  # (dims, ndim) -> normalized axes, () when invalid (the array API reports it)


def _axes(dims, ndim: int) -> tuple:
    key = (dims, ndim)
    axes = _AXES.get(key)
    if axes is None:
        try:
            axes = normalize_axes(dims, ndim)
        except ValueError:
            axes = ()
        if len(_AXES) < 4096 and (dims is None or builtins.all(type(a) is int for a in dims)):
            _AXES[key] = axes  # (a tensor as a dim is read each time: it may change)
    return axes


def _reduce(ops, input, dim, keepdim, dtype, float_only=False, fast=None):
    op = ops if isinstance(ops, EagerOp) else ops[1 if dim is not None else 0]
    ir = float_ir(input) if fast is not None and dtype is None else None
    if ir is not None:
        dims = _dims(dim)
        axes = _axes(dims, input._data.ndim)
        if axes:
            return apply_numpy(op, lambda x, d, k: fast(x, axes, k),
                               (input, dims, bool(keepdim)), ir)
    input = as_tensor(input)
    ir = input.dtype.ir if dtype is None else dtypes.to_ir(dtype)
    if ir in ("bool", "i32") and not float_only:
        ir = "i64"
    ir = _float_ir(ir) if float_only else ir
    return apply(op, input, _dims(dim), bool(keepdim), ir)


_SUMS, _MEANS = [_SUM["SumBackward0"], _SUM["SumBackward1"]], \
    [_MEAN["MeanBackward0"], _MEAN["MeanBackward1"]]


def sum(input, dim=None, keepdim=False, *, dtype=None):
    if dim is None and keepdim is False and dtype is None:
        out = reduce_all_numpy(_SUMS[0], sum_np, input)
        if out is not None:
            return out
    return _reduce(_SUMS, input, dim, keepdim, dtype, fast=sum_np)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dim is None and keepdim is False and dtype is None:
        out = reduce_all_numpy(_MEANS[0], mean_np, input)
        if out is not None:
            return out
    if dtype is None:
        _float_only("mean", input)
    return _reduce(_MEANS, input, dim, keepdim, dtype, float_only=True, fast=mean_np)


def _float_only(op: str, input) -> None:
    """torch refuses an integer or bool tensor here (it would not guess a float dtype)."""
    if isinstance(input, Tensor) and input.dtype.ir not in ("f32", "f64"):
        raise errors.needs_float(op, input.dtype)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    return _reduce(_PROD, input, dim, keepdim, dtype)


def logsumexp(input, dim, keepdim=False):
    return _reduce(_LSE, input, dim, keepdim, None, float_only=True)


def amax(input, dim=(), keepdim=False):
    return _reduce(_AMAX["AmaxBackward0"], input, dim or None, keepdim, None)


def amin(input, dim=(), keepdim=False):
    return _reduce(_AMAX["AminBackward0"], input, dim or None, keepdim, None)


def _extremum(name, arg):
    def call(input, dim=None, keepdim=False):
        if isinstance(dim, Tensor):
            return (maximum if name == "MaxBackward1" else minimum)(input, dim)
        values = _reduce(_AMAX[name], input, dim, keepdim, None)
        if dim is None:
            return values
        idx = arg(input, dim, keepdim)
        return _MinMax(values, idx)

    return call


class _MinMax(tuple):
    """torch.return_types.max: (values, indices) with attribute access."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


def argmax(input, dim=None, keepdim=False):
    a = as_tensor(input)._data
    out = np.argmax(a if dim is not None else a.reshape(-1), axis=dim if dim is not None else 0)
    return Tensor._make(np.asarray(np.expand_dims(out, dim) if keepdim and dim is not None
                                   else out, dtype=np.int64))


def argmin(input, dim=None, keepdim=False):
    return argmax(Tensor._make(-as_tensor(input)._data), dim, keepdim)


max = _extremum("MaxBackward1", argmax)
min = _extremum("MinBackward1", argmin)


_VAR = EagerOp("VarBackward0", lambda x, d, k, dtype, ddof: A.var(A.asarray(x, dtype), d, k,
                                                                    ddof))


def var(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    ddof = int(unbiased) if correction is None else int(correction)
    x = as_tensor(input)
    _float_only("var", x)
    return apply(_VAR, x, _dims(dim), bool(keepdim), _float_ir(x.dtype.ir), ddof)


def std(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    _float_only("std", input)
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def all(input, dim=None):
    a = as_tensor(input)._data.astype(bool)
    return Tensor._make(np.asarray(a.all() if dim is None else a.all(axis=dim)))


def any(input, dim=None):
    a = as_tensor(input)._data.astype(bool)
    return Tensor._make(np.asarray(a.any() if dim is None else a.any(axis=dim)))


def norm(input, p=2, dim=None, keepdim=False):
    x = as_tensor(input)
    return pow(sum(pow(abs(x), p), dim, keepdim), 1.0 / p) if p != 2 else \
        sqrt(sum(x * x, dim, keepdim))
