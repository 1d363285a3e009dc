"""Which numpy ufuncs and functions trace, and into what (tables, not branches)."""

from __future__ import annotations

from ..ops import api as A

UFUNCS = {
    "add": A.add, "subtract": A.subtract, "multiply": A.multiply, "divide": A.divide,
    "true_divide": A.divide, "power": A.power, "negative": A.negative,
    "positive": lambda x: x, "exp": A.exp, "log": A.log, "log1p": A.log1p, "expm1": A.expm1,
    "sqrt": A.sqrt, "sin": A.sin, "cos": A.cos, "tan": A.tan, "tanh": A.tanh,
    "absolute": A.absolute, "fabs": A.absolute, "sign": A.sign, "maximum": A.maximum,
    "minimum": A.minimum, "square": A.square, "reciprocal": A.reciprocal,
    "arctan2": A.arctan2, "less": A.less, "less_equal": A.less_equal, "greater": A.greater,
    "greater_equal": A.greater_equal, "equal": A.equal, "not_equal": A.not_equal,
    "logical_and": A.logical_and, "logical_or": A.logical_or, "logical_not": A.logical_not,
    "matmul": A.matmul, "logaddexp": A.logaddexp, "isfinite": A.isfinite,
}

UFUNC_REDUCE = {
    "add": lambda x, axis=0, keepdims=False, **_: A.sum(x, axis, keepdims),
    "multiply": lambda x, axis=0, keepdims=False, **_: A.prod(x, axis, keepdims),
    "maximum": lambda x, axis=0, keepdims=False, **_: A.max(x, axis, keepdims),
    "minimum": lambda x, axis=0, keepdims=False, **_: A.min(x, axis, keepdims),
}

_NAMES = """sum mean var std max amax min amin prod argmax argmin where concatenate stack split take
reshape transpose swapaxes moveaxis expand_dims squeeze ravel broadcast_to clip tril triu outer
inner dot matmul tensordot einsum pad flip zeros_like ones_like full_like square exp log sqrt
sin cos tanh abs maximum minimum add multiply""".split()

FUNCTIONS = {name: getattr(A, name) for name in _NAMES}
FUNCTIONS["abs"] = A.absolute
FUNCTIONS["round"] = None  # listed so the error names it; not differentiable usefully
FUNCTIONS = {k: v for k, v in FUNCTIONS.items() if v is not None}

UFUNCS = {k: A.user_facing(v, f"np.{k}") for k, v in UFUNCS.items()}
UFUNC_REDUCE = {k: A.user_facing(v, f"np.{k}.reduce") for k, v in UFUNC_REDUCE.items()}
FUNCTIONS = {k: A.user_facing(v, f"np.{k}") for k, v in FUNCTIONS.items()}
