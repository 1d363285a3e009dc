"""`gradjit.numpy`: the numpy names gradjit supports, usable on arrays and traced values.

Plain numpy calls on traced values (`np.sin(x)`, `x @ W`, `np.sum(x, axis=1)`) trace too; this
module is the explicit spelling, plus what numpy lacks (`stop_gradient`, `index_add`, `one_hot`,
`logsumexp`, `softmax`, ...).
"""

from .ops.api import (  # noqa: F401
    abs, absolute, add, add_at, amax, amin, arange, arctan2, argmax, argmin, asarray,
    broadcast_to, cast, clip, concatenate, cos, divide, dot, einsum, equal, erf, exp, expand_dims,
    expm1, eye, flip, full, full_like, getitem, greater, greater_equal, index_add, inner, isfinite,
    less, less_equal, log, log1p, log_softmax, logaddexp, logical_and, logical_not, logical_or,
    logistic, logsumexp, matmul, max, maximum, mean, min, minimum, moveaxis, multiply, negative,
    not_equal, one_hot, ones, ones_like, outer, pad, power, prod, ravel, reciprocal, relu, reshape,
    sigmoid, sign, sin, softmax, softplus, split, sqrt, square, squeeze, stack, std,
    stop_gradient, subtract, sum, swapaxes, take, tan, tanh, tensordot, transpose, tril,
    tril_indices, triu, triu_indices, true_divide, var, where, zeros, zeros_like)

float32, float64, int32, int64, bool_ = "f32", "f64", "i32", "i64", "bool"


def _wrap_exports():
    from .ops.api import user_facing

    names = [n for n, v in globals().items() if callable(v) and not n.startswith("_")]
    for n in names:
        globals()[n] = user_facing(globals()[n], n)


_wrap_exports()
