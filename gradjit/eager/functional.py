"""torch-level math: arithmetic with torch's dtype rules, unary math, reductions, matmul.

Each op is an `EagerOp` (grad_fn name + a function over `gradjit.ops.api`) applied by the
recorder. PyTorch's type promotion differs from numpy's in two ways that users see: a Python
float with an integer tensor gives the default float dtype (f32), and a zero-dim tensor counts
only when it is of a higher category than the dimensioned operands; `result_ir` does both.
"""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from ..ops import api as A
from . import dtypes
from .fast_ops import NUMPY, apply_numpy, binary_numpy, float_ir, int_pow_np, mm_np
from .recorder import EagerOp, apply
from .tensor import Tensor, as_tensor

_CATEGORY = {"bool": 0, "i32": 1, "i64": 1, "f32": 2, "f64": 2}


def _promote(a: str, b: str) -> str:
    if _CATEGORY[a] != _CATEGORY[b]:
        return a if _CATEGORY[a] > _CATEGORY[b] else b
    return dtypes.dtype_name(np.promote_types(dtypes.DTYPES[a], dtypes.DTYPES[b]))


def _join(irs):
    out = None
    for d in irs:
        out = d if out is None else _promote(out, d)
    return out


def result_ir(*xs) -> str:
    """torch's result dtype: dimensioned tensors, then zero-dim tensors, then Python numbers."""
    dims = _join(x.dtype.ir for x in xs if isinstance(x, Tensor) and x.ndim)
    zero = _join(x.dtype.ir for x in xs if isinstance(x, Tensor) and not x.ndim)
    out = zero if dims is None else dims
    if dims is not None and zero is not None and _CATEGORY[zero] > _CATEGORY[dims]:
        out = zero
    for x in xs:
        if not isinstance(x, Tensor):
            kind = "bool" if isinstance(x, bool) else "i64" if isinstance(
                x, numbers.Integral) else dtypes.default_ir()
            if out is None or _CATEGORY[kind] > _CATEGORY[out]:
                out = kind
    return out


def _float_ir(ir: str) -> str:
    return ir if ir in ("f32", "f64") else dtypes.default_ir()


def _cast(v, ir):
    """Tensors (arrays or tracers) to `ir`; Python numbers stay weakly typed."""
    return v if isinstance(v, (int, float, bool)) else A.asarray(v, ir)


def _coerce(x):
    return x if isinstance(x, (Tensor, numbers.Number)) else as_tensor(x)


def _python_number(x):
    return float(x) if isinstance(x, (float, np.floating)) else int(x) if isinstance(
        x, (numbers.Integral, np.integer)) and not isinstance(x, bool) else x


# ---- elementwise binary ----------------------------------------------------------------------


def _binary_op(name, fn, float_result=False, numpy=None):
    op = EagerOp(name, lambda x, y, dtype: fn(_cast(x, dtype), _cast(y, dtype)),
                 fast=numpy or NUMPY.get(fn))
    fast = op.fast

    def call(input, other):
        out = None if fast is None else binary_numpy(op, fast, input, other)
        if out is not None:
            return out
        input, other = _coerce(_python_number(input)), _coerce(_python_number(other))
        ir = result_ir(input, other)
        return apply(op, input, other, dtype=_float_ir(ir) if float_result else ir)

    def reflected(self, other):
        """`other (op) self`: Tensor's reflected operator (`lr * w.grad`), one call less."""
        out = None if fast is None else binary_numpy(op, fast, other, self)
        return call(other, self) if out is None else out

    call.reflected = reflected
    return call


_add = _binary_op("AddBackward0", A.add)
_sub = _binary_op("SubBackward0", A.subtract)
# `other - input` (`2.0 - x`, torch.rsub): its own op, as torch records it (RsubBackward1
# for a number, RsubBackward0 for a tensor)
_rsub, _rsub_tensor = (_binary_op(name, lambda x, y: A.subtract(y, x),
                                  numpy=lambda a, b: np.subtract(b, a))
                       for name in ("RsubBackward1", "RsubBackward0"))
mul = multiply = _binary_op("MulBackward0", A.multiply)
div = divide = true_divide = _binary_op("DivBackward0", A.divide, float_result=True)
maximum = _binary_op("MaximumBackward0", A.maximum)
minimum = _binary_op("MinimumBackward0", A.minimum)
atan2 = _binary_op("Atan2Backward0", A.arctan2, float_result=True)
eq = _binary_op("EqBackward0", A.equal)
ne = _binary_op("NeBackward0", A.not_equal)
lt = less = _binary_op("LtBackward0", A.less)
le = less_equal = _binary_op("LeBackward0", A.less_equal)
gt = greater = _binary_op("GtBackward0", A.greater)
ge = greater_equal = _binary_op("GeBackward0", A.greater_equal)
logical_and = _binary_op("LogicalAndBackward0", A.logical_and)
logical_or = _binary_op("LogicalOrBackward0", A.logical_or)


def add(input, other, *, alpha=1):
    return _add(input, other if alpha == 1 else other * alpha)


def sub(input, other, *, alpha=1):
    return _sub(input, other if alpha == 1 else other * alpha)


subtract = sub


def rsub(input, other, *, alpha=1):
    return (_rsub_tensor if isinstance(other, Tensor) else _rsub)(
        input if alpha == 1 else input * alpha, other)


_POW = {  # torch names the three overloads: tensor ** number, tensor ** tensor, number ** tensor
    "PowBackward0": EagerOp("PowBackward0", lambda x, e, dtype: A.power(_cast(x, dtype), e)),
    "PowBackward1": EagerOp("PowBackward1",
                            lambda x, e, dtype: A.power(_cast(x, dtype), _cast(e, dtype))),
    "PowBackward2": EagerOp("PowBackward2", lambda b, x, dtype: A.power(b, _cast(x, dtype))),
}


def pow(input, exponent):
    if type(exponent) is not int or type(input) is not Tensor:  # (else both are as they are)
        input, exponent = _python_number(input), _python_number(exponent)
    if isinstance(exponent, float) and exponent.is_integer() and builtins.abs(exponent) <= 64:
        exponent = int(exponent)  # x ** 2.0 is x ** 2: exact, and no log(x) in its derivative
    if type(exponent) is int and -64 <= exponent <= 64 and type(input) is Tensor:
        out = binary_numpy(_POW["PowBackward0"], int_pow_np, input, exponent)
        if out is not None:
            return out
    ir = result_ir(_coerce(input), _coerce(exponent))
    if not isinstance(input, Tensor):
        return apply(_POW["PowBackward2"], input, _coerce(exponent), dtype=_float_ir(ir))
    if not isinstance(exponent, Tensor):
        return apply(_POW["PowBackward0"], input, exponent, dtype=ir)
    return apply(_POW["PowBackward1"], input, exponent, dtype=ir)


def floor_divide(input, other):
    a, b = as_tensor(input).detach(), _coerce(other)
    b = b._data if isinstance(b, Tensor) else b
    return Tensor._make(np.asarray(np.floor_divide(a._data, b)))


def remainder(input, other):
    a, b = as_tensor(input), _coerce(other)
    return sub(a, mul(floor_divide(a, b), b))


# ---- elementwise unary -----------------------------------------------------------------------


def _unary_op(name, fn, float_result=True):
    op = EagerOp(name, lambda x, dtype: fn(A.asarray(x, dtype)), fast=NUMPY.get(fn))
    fast = op.fast

    def call(input):
        if fast is not None:
            ir = float_ir(input)
            if ir is not None:
                return apply_numpy(op, fast, (input,), ir)
        ir = as_tensor(input).dtype.ir
        return apply(op, as_tensor(input), dtype=_float_ir(ir) if float_result else ir)

    return call


exp = _unary_op("ExpBackward0", A.exp)
log = _unary_op("LogBackward0", A.log)
log1p = _unary_op("Log1PBackward0", A.log1p)
expm1 = _unary_op("Expm1Backward0", A.expm1)
sqrt = _unary_op("SqrtBackward0", A.sqrt)
rsqrt = _unary_op("RsqrtBackward0", lambda x: A.reciprocal(A.sqrt(x)))
sin = _unary_op("SinBackward0", A.sin)
cos = _unary_op("CosBackward0", A.cos)
tan = _unary_op("TanBackward0", A.tan)
tanh = _unary_op("TanhBackward0", A.tanh)
sigmoid = _unary_op("SigmoidBackward0", A.sigmoid)
erf = _unary_op("ErfBackward0", A.erf)
reciprocal = _unary_op("ReciprocalBackward0", A.reciprocal)
neg = negative = _unary_op("NegBackward0", A.negative, float_result=False)
abs = absolute = _unary_op("AbsBackward0", A.absolute, float_result=False)
sign = _unary_op("SignBackward0", A.sign, float_result=False)
square = _unary_op("PowBackward0", A.square, float_result=False)
relu = _unary_op("ReluBackward0", A.relu, float_result=False)
logical_not = _unary_op("LogicalNotBackward0", A.logical_not, float_result=False)


def _clamp_fn(x, lo, hi):
    # torch's clamp passes the gradient where lo <= x <= hi (bounds included)
    inside = np.bool_(True) if lo is None else A.greater_equal(x, lo)
    if hi is not None:
        inside = A.logical_and(inside, A.less_equal(x, hi))
    return A.where(inside, x, A.stop_gradient(A.clip(x, lo, hi)))


_CLAMP = {name: EagerOp(name, _clamp_fn) for name in
          ("ClampBackward1", "ClampMinBackward0", "ClampMaxBackward0")}


def clamp(input, min=None, max=None):  # noqa: F811  (torch names its bounds min and max)
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    name = "ClampBackward1" if min is not None and max is not None else \
        "ClampMinBackward0" if min is not None else "ClampMaxBackward0"
    lo, hi = (None if v is None else float(v) for v in (min, max))
    return apply(_CLAMP[name], as_tensor(input), lo, hi)


clip = clamp

_WHERE = EagerOp("WhereBackward0", lambda c, x, y, dtype: A.where(c, _cast(x, dtype),
                                                                    _cast(y, dtype)))


def where(condition, input, other):
    input, other = _coerce(_python_number(input)), _coerce(_python_number(other))
    return apply(_WHERE, as_tensor(condition), input, other, dtype=result_ir(input, other))


def masked_fill(input, mask, value):
    return where(mask, value, input)


# ---- linear algebra --------------------------------------------------------------------------


def _matmul_name(a: Tensor, b: Tensor) -> str:
    nd = (a.ndim, b.ndim)
    return {(2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 1): "DotBackward0",
            (1, 2): "SqueezeBackward4"}.get(nd, "BmmBackward0" if nd == (3, 3) else
                                            "UnsafeViewBackward0")


_MATMUL: dict = {}


def matmul(input, other):
    ir = float_ir(input, other) if type(other) is Tensor else None
    if ir is not None and input._data.ndim == 2 and other._data.ndim == 2:
        return apply_numpy(_MATMUL.get("MmBackward0") or _matmul_op("MmBackward0"), mm_np,
                           (input, other), ir)
    a, b = as_tensor(input), as_tensor(other)
    name = _matmul_name(a, b)
    return apply(_MATMUL.get(name) or _matmul_op(name), a, b, dtype=result_ir(a, b))


def _matmul_op(name: str) -> EagerOp:
    op = _MATMUL[name] = EagerOp(name, lambda x, y, dtype: A.matmul(_cast(x, dtype),
                                                                    _cast(y, dtype)))
    return op


mm = bmm = mv = dot = inner = matmul


def outer(input, vec2):
    return mul(as_tensor(input).reshape(-1, 1), as_tensor(vec2).reshape(1, -1))


# ---- comparisons returning Python values ---------------------------------------------------


def equal(input, other) -> bool:
    a, b = as_tensor(input)._data, as_tensor(other)._data
    return a.shape == b.shape and bool(np.array_equal(a, b))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(np.allclose(as_tensor(input)._data, as_tensor(other)._data, rtol, atol,
                            equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    return Tensor._make(np.isclose(as_tensor(input)._data, as_tensor(other)._data, rtol, atol,
                                   equal_nan))


# the reductions live in reductions.py; they are part of this module's names (F.sum, ...)
from .reductions import (  # noqa: E402, F401  (imported last: they use the ops above)
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    sum,
    var,
)
