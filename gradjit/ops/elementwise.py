"""Elementwise primitives: unary math, binary arithmetic, comparisons, logic, select, cast.

Operands of binary primitives have equal shapes and dtypes; `ops.api` broadcasts and promotes.
Each VJP rule carries its math in a comment and is written with gradjit ops.
"""

from __future__ import annotations

import math

import numpy as np

from . import api as A
from . import shapes as S
from ..ir.types import DTYPES
from .primitive import Primitive

_erf = np.frompyfunc(math.erf, 1, 1)


def _erf_np(x):
    # np.asarray: frompyfunc returns a bare Python float for a 0-d input
    return np.asarray(_erf(x.astype(np.float64)), np.float64).astype(x.dtype)


def _logistic_np(x):
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype)


def unary(name, numpy, vjp, torch_name, lower=None, shape=S.float_unary):
    return Primitive(name, 1, shape, numpy, vjp=vjp, torch_name=torch_name, lower=lower or name,
                     jvp="elementwise", batch="elementwise")


# ---- unary ------------------------------------------------------------------------------
neg = unary("neg", np.negative, lambda g, x, out: (-g,), "NegBackward0",  # d(-x) = -dx
            shape=S.same_shape)
exp = unary("exp", np.exp, lambda g, x, out: (g * out,), "ExpBackward0")  # d e^x = e^x dx
log = unary("log", np.log, lambda g, x, out: (g / x,), "LogBackward0")  # d log x = dx / x
log1p = unary("log1p", np.log1p, lambda g, x, out: (g / (1 + x),), "Log1PBackward0")
expm1 = unary("expm1", np.expm1, lambda g, x, out: (g * (out + 1),), "Expm1Backward0")
sqrt = unary("sqrt", np.sqrt, lambda g, x, out: (g / (2 * out),), "SqrtBackward0")
sin = unary("sin", np.sin, lambda g, x, out: (g * A.cos(x),), "SinBackward0")
cos = unary("cos", np.cos, lambda g, x, out: (-g * A.sin(x),), "CosBackward0")
tan = unary("tan", np.tan, lambda g, x, out: (g * (1 + out * out),), "TanBackward0")
tanh = unary("tanh", np.tanh, lambda g, x, out: (g * (1 - out * out),), "TanhBackward0")
logistic = unary("logistic", _logistic_np,  # d s(x) = s (1 - s) dx
                 lambda g, x, out: (g * out * (1 - out),), "SigmoidBackward0")
abs_ = unary("abs", np.abs, lambda g, x, out: (g * A.sign(x),), "AbsBackward0",
             shape=S.same_shape)
square = unary("square", np.square, lambda g, x, out: (g * 2 * x,), "PowBackward0",
               shape=S.same_shape)
reciprocal = unary("reciprocal", np.reciprocal,  # d (1/x) = -dx / x^2
                   lambda g, x, out: (g * -(out * out),), "ReciprocalBackward0")  # (torch's order)
erf = unary("erf", _erf_np,  # d erf x = 2/sqrt(pi) e^{-x^2} dx
            lambda g, x, out: (g * (2 / math.sqrt(math.pi)) * A.exp(-x * x),), "ErfBackward0")
# sign is piecewise constant: its derivative is zero wherever it exists.
sign = unary("sign", np.sign, lambda g, x, out: (None,), "SignBackward0", shape=S.same_shape)
# stop_gradient is the identity whose derivative is declared zero.
stop_gradient = unary("stop_gradient", lambda x: x.copy(), lambda g, x, out: (None,),
                      "DetachBackward0", shape=S.same_shape)
integer_pow = Primitive(  # d x^n = n x^(n-1) dx; x^0 is constant (0 * x^-1 is NaN at x = 0)
    "integer_pow", 1, S.integer_pow, lambda x, n: np.power(x, n),
    vjp=lambda g, x, out, n: (None if n == 0 else g if n == 1 else
                              g * n * A.integer_pow(x, n - 1),),
    torch_name="PowBackward0", lower="integer_pow", jvp="elementwise", batch="elementwise")


def _cast_vjp(g, x, out, dtype):
    # a cast is the identity on values; the cotangent goes back in the input's dtype.
    return (A.cast(g, A.dtype_of(x)) if A.is_float_dtype(A.dtype_of(x)) else None,)


cast = Primitive("cast", 1, S.cast, lambda x, dtype: x.astype(DTYPES[dtype]),
                 vjp=_cast_vjp, torch_name="ToCopyBackward0", lower="cast", linear=True,
                 batch="elementwise")


# ---- binary -----------------------------------------------------------------------------
def binary(name, numpy, vjp, torch_name, shape=S.binary):
    return Primitive(name, 2, shape, numpy, vjp=vjp, torch_name=torch_name, lower=name,
                     jvp="elementwise", batch="elementwise")


add = binary("add", np.add, lambda g, x, y, out: (g, g), "AddBackward0")
sub = binary("sub", np.subtract, lambda g, x, y, out: (g, -g), "SubBackward0")
mul = binary("mul", np.multiply, lambda g, x, y, out: (g * y, g * x), "MulBackward0")
div = binary("div", np.divide,  # d(x/y) = dx/y - x dy/y^2
             lambda g, x, y, out: (g / y, -g * out / y), "DivBackward0", shape=S.float_binary)


def _pow_vjp(g, x, y, out):
    # d x^y = y x^(y-1) dx + log(x) x^y dy; log x is taken as 0 where x == 0 (x^y is 0 or 1 there)
    safe_log = A.where(x == 0, A.zeros_like(x), A.log(A.where(x == 0, A.ones_like(x), x)))
    return g * y * A.power(x, y - 1), g * safe_log * out


pow_ = binary("pow", np.power, _pow_vjp, "PowBackward1", shape=S.float_binary)


def _tie_mask(x, y, win):
    # 1 where x wins, 1/2 on ties (the subgradient JAX and PyTorch pick), 0 where y wins
    half = A.where(x == y, A.full_like(x, 0.5), A.zeros_like(x))
    return A.where(win(x, y), A.ones_like(x), half)


def _extremum_vjp(win):
    def rule(g, x, y, out):
        m = _tie_mask(x, y, win)
        return g * m, g * (1 - m)

    return rule


maximum = binary("maximum", np.maximum, _extremum_vjp(lambda a, b: a > b), "MaximumBackward0")
minimum = binary("minimum", np.minimum, _extremum_vjp(lambda a, b: a < b), "MinimumBackward0")


def _atan2_vjp(g, y, x, out):
    # d atan2(y, x) = (x dy - y dx) / (x^2 + y^2)
    r2 = x * x + y * y
    return g * x / r2, -g * y / r2


atan2 = binary("atan2", np.arctan2, _atan2_vjp, "Atan2Backward0", shape=S.float_binary)


# ---- comparisons and logic: boolean-valued, so no derivative ------------------------------
def boolean(name, numpy, arity=2, shape=S.compare):
    return Primitive(name, arity, shape, numpy, nondiff="boolean-valued", lower=name,
                     batch="elementwise")


lt, le = boolean("lt", np.less), boolean("le", np.less_equal)
gt, ge = boolean("gt", np.greater), boolean("ge", np.greater_equal)
eq, ne = boolean("eq", np.equal), boolean("ne", np.not_equal)
logical_and = boolean("and", np.logical_and, shape=S.logical)
logical_or = boolean("or", np.logical_or, shape=S.logical)
logical_not = boolean("not", np.logical_not, arity=1, shape=S.logical)


def _select_vjp(g, pred, x, y, out):
    # select routes the cotangent to the branch that was taken
    zero = A.zeros_like(g)
    return None, A.where(pred, g, zero), A.where(pred, zero, g)


select = Primitive("select", 3, S.select, np.where, vjp=_select_vjp,
                   torch_name="WhereBackward0", lower="select", jvp="elementwise",
                   batch="elementwise")
