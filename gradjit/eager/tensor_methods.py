"""Tensor methods and Python operators, attached from tables of the functional ops.

Out-of-place methods call the op of the same name; in-place ones (`add_`, `-=`, `x[k] = v`)
compute out of place and write back through `recorder.apply_inplace`, which checks leaves,
bumps the version counter and rebases the history.
"""

from __future__ import annotations

import numpy as np

from ..ops import api as A
from . import dtypes
from . import functional as F
from . import shaping as S
from .fast_ops import fill_numpy, inplace_numpy
from .recorder import EagerOp, apply, apply_inplace
from .tensor import Tensor


def _swap(fn):
    reflected = getattr(fn, "reflected", None)  # (the binary ops' own, with their fast path)
    return reflected if reflected is not None else lambda self, other: fn(other, self)


def _rdiv(self, other):
    """`other / self` as PyTorch's Tensor.__rdiv__ computes it: self.reciprocal() * other
    (grad_fn MulBackward0 over ReciprocalBackward0; the value rounded twice)."""
    return F.mul(F.reciprocal(self), other)


_OPERATORS = {
    # (operators take no `alpha`: the ops themselves, one call less on every `+` and `-`)
    "__add__": F._add, "__radd__": _swap(F._add), "__sub__": F._sub, "__rsub__": F._rsub,
    "__mul__": F.mul, "__rmul__": _swap(F.mul), "__truediv__": F.div,
    "__rtruediv__": _rdiv, "__pow__": F.pow, "__rpow__": _swap(F.pow),
    "__matmul__": F.matmul, "__rmatmul__": _swap(F.matmul), "__floordiv__": F.floor_divide,
    "__rfloordiv__": _swap(F.floor_divide), "__mod__": F.remainder,
    "__lt__": F.lt, "__le__": F.le, "__gt__": F.gt, "__ge__": F.ge, "__eq__": F.eq,
    "__ne__": F.ne, "__and__": F.logical_and, "__or__": F.logical_or,
    "__neg__": F.neg, "__abs__": F.abs, "__invert__": F.logical_not,
    "__getitem__": S.getitem,
}

_METHODS = {name: getattr(F, name) for name in (
    "add", "sub", "mul", "div", "pow", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin",
    "cos", "tan", "tanh", "sigmoid", "erf", "reciprocal", "neg", "abs", "sign", "square", "relu",
    "clamp", "clip", "sum", "mean", "prod", "logsumexp", "amax", "amin", "max", "min", "argmax",
    "argmin", "var", "std", "all", "any", "norm", "matmul", "mm", "bmm", "mv", "dot", "outer",
    "eq", "ne", "lt", "le", "gt", "ge", "maximum", "minimum", "masked_fill", "remainder",
    "logical_not", "logical_and", "logical_or", "atan2", "floor_divide", "subtract",
    "multiply", "divide", "true_divide", "negative", "absolute")}
_METHODS.update({name: getattr(S, name) for name in (
    "view", "reshape", "flatten", "transpose", "swapaxes", "permute", "t", "squeeze",
    "unsqueeze", "expand", "expand_as", "clone", "to", "flip", "narrow", "split", "chunk",
    "unbind", "select")})
_METHODS.update({
    "view_as": lambda self, other: S.view(self, *other.shape),
    "reshape_as": lambda self, other: S.view(self, *other.shape),
    "type_as": lambda self, other: S.to(self, other.dtype),
    "float": lambda self: S.to(self, dtypes.float32),
    "double": lambda self: S.to(self, dtypes.float64),
    "long": lambda self: S.to(self, dtypes.int64),
    "int": lambda self: S.to(self, dtypes.int32),
    "bool": lambda self: S.to(self, dtypes.bool_),
    "half": lambda self: S.to(self, dtypes.float32),
    "type": lambda self, dtype=None: f"torch.{_TYPE_NAMES[self.dtype.ir]}" if dtype is None
    else S.to(self, dtype),
    "cpu": lambda self: self, "cuda": lambda self, *a, **k: self,
    "contiguous": lambda self, *a, **k: self,
    "is_contiguous": lambda self, *a, **k: True,
    "allclose": F.allclose, "equal": F.equal, "isclose": F.isclose,
    "__setitem__": S.setitem,
})
_TYPE_NAMES = {"f32": "FloatTensor", "f64": "DoubleTensor", "i64": "LongTensor",
               "i32": "IntTensor", "bool": "BoolTensor"}

for _name, _fn in {**_OPERATORS, **_METHODS}.items():
    setattr(Tensor, _name, _fn)

Tensor.T = property(S.numpy_T)
Tensor.mT = property(lambda self: S.transpose(self, -2, -1))


# ---- in-place --------------------------------------------------------------------------------


def _inplace(name, fn, fast=None):
    """The in-place method `name`: `fast(self, *args)` when it applies (it says so by returning
    True, having done the work), else `fn` out of place and written back."""

    def method(self, *args, **kwargs):
        if fast is not None and not kwargs and fast(self, *args):
            return self
        return apply_inplace(self, fn, *args, op_name=name, **kwargs)

    method.__name__ = name
    return method


_COPY = EagerOp("CopyBackwards", lambda x, src, dtype: A.broadcast_to(A.asarray(src, dtype),
                                                                       A.shape_of(x)))
_FILL = EagerOp("FillBackward0", lambda x, value, dtype: A.full_like(x, value),
                fast=np.full_like)


def _copy(self, src, non_blocking=False):
    src = src if isinstance(src, Tensor) else Tensor._make(np.asarray(src))
    return apply(_COPY, self, src, dtype=self.dtype.ir)


def _fill(self, value):
    return apply(_FILL, self, float(value) if self.is_floating_point() else int(value),
                 dtype=self.dtype.ir)


_INPLACE = {"add_": F.add, "sub_": F.sub, "mul_": F.mul, "div_": F.div, "pow_": F.pow,
            "clamp_": F.clamp, "clip_": F.clamp, "exp_": F.exp, "neg_": F.neg, "abs_": F.abs,
            "sqrt_": F.sqrt, "relu_": F.relu, "sigmoid_": F.sigmoid, "tanh_": F.tanh,
            "masked_fill_": F.masked_fill, "copy_": _copy, "fill_": _fill,
            "zero_": lambda self: _fill(self, 0), "__iadd__": F.add, "__isub__": F.sub,
            "__imul__": F.mul, "__itruediv__": F.div, "__ipow__": F.pow}
_UFUNCS = {F.add: np.add, F.sub: np.subtract, F.mul: np.multiply, F.div: np.true_divide}


def _inplace_ufunc(name, fn, ufunc):
    """`_inplace(name, fn, fast)` with `inplace_numpy(self, ufunc, other)` as `fast`, inline
    (`w -= lr * w.grad` runs it per parameter and step)."""

    def method(self, *args, **kwargs):
        if not kwargs and inplace_numpy(self, ufunc, *args):
            return self
        return apply_inplace(self, fn, *args, op_name=name, **kwargs)

    method.__name__ = name
    return method


def zero_(self):
    if fill_numpy(self, 0):  # (`_inplace`'s fast path, inline: once per parameter and step)
        return self
    return apply_inplace(self, _INPLACE["zero_"], op_name="zero_")


for _name, _fn in _INPLACE.items():
    setattr(Tensor, _name, _inplace_ufunc(_name, _fn, _UFUNCS[_fn]) if _fn in _UFUNCS else
            _inplace(_name, _fn, fill_numpy if _fn is _fill else None))
Tensor.zero_ = zero_
