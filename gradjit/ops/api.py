"""The array API every other layer uses: numpy names, broadcasting, dtype promotion, composites.

Works on numpy arrays, Python numbers and tracers alike, through `bind`. Primitive operands must
agree in shape and dtype; these wrappers make them agree the way numpy would (Python scalars are
weakly typed: `x32 * 2.0` stays f32). Composites (mean, logsumexp, softmax, ...) are built here
from primitives and need no derivative rule of their own.
"""

from __future__ import annotations

import builtins
import functools
import math

import numpy as np

from ..errors import GradjitError, IndexingError, ShapeError
from ..ir.types import FLOATS, TensorType, dtype_name, normalize_axes, normalize_axis, promote
from . import elementwise as E
from . import index as I
from . import linalg as L
from . import reduce as R
from . import shape as SH

# ---- what a value is ---------------------------------------------------------------------


def is_tracer(x) -> bool:
    return getattr(x, "__gradjit_tracer__", False)


def type_of(x) -> TensorType:
    if is_tracer(x):
        return x.aval
    if isinstance(x, bool):
        return TensorType("bool", ())
    if isinstance(x, int):
        return TensorType("i64", ())
    if isinstance(x, float):
        return TensorType("f64", ())
    return TensorType.of(x)


def shape_of(x) -> tuple[int, ...]:
    return type_of(x).shape


def dtype_of(x) -> str:
    return type_of(x).dtype


def is_float_dtype(dtype: str) -> bool:
    return dtype in FLOATS


def is_weak(x) -> bool:
    """Python numbers (and tracers of Python-number arguments) take the other operand's dtype."""
    if isinstance(x, (int, float)):
        return not isinstance(x, np.generic)  # np.float64 is a float, but a strong one
    return getattr(x, "weak", False)


def _mark_weak(out, weak: bool):
    if weak and is_tracer(out):
        out.weak = True
    return out


def result_dtype(*xs) -> str:
    strong = [dtype_of(x) for x in xs if not is_weak(x)]
    weak = [dtype_of(x) for x in xs if is_weak(x)]
    dtype = strong[0] if strong else weak[0]
    for d in strong[1:]:
        dtype = promote(dtype, d)
    for d in weak:  # a weak float lifts an integer tensor to f64, as numpy does
        if d in FLOATS and dtype not in FLOATS:
            dtype = "f64"
        elif d == "i64" and dtype == "bool":
            dtype = "i64"
    return dtype


def asarray(x, dtype: str | None = None):
    """x as a tensor (tracer or numpy array) of `dtype`; a no-op when it already is one."""
    if is_tracer(x):
        return x if dtype is None or x.aval.dtype == dtype else E.cast(x, dtype=dtype)
    if isinstance(x, (list, tuple)) and builtins.any(is_tracer(v) for v in _leaves(x)):
        return stack([asarray(v, dtype) for v in x])
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"cannot make a tensor of {type(x).__name__}")
    return arr.astype(type_of(arr).np_dtype if dtype is None else TensorType(dtype, ()).np_dtype,
                      copy=False)


def _leaves(x):
    for v in x:
        yield from _leaves(v) if isinstance(v, (list, tuple)) else (v,)


def cast(x, dtype):
    return asarray(x, dtype_name(dtype))


def broadcast_to(x, shape):
    shape = tuple(int(d) for d in shape)
    x = asarray(x)
    return x if shape_of(x) == shape else SH.broadcast_to(x, shape=shape)


def broadcast_shapes(*shapes) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError("shapes " + " and ".join(str(list(s)) for s in shapes) +
                         " do not broadcast") from None


def _agree(*xs, dtype: str | None = None):
    """Promote and broadcast operands the numpy way."""
    dtype = dtype or result_dtype(*xs)
    shape = broadcast_shapes(*[shape_of(x) for x in xs])
    return [broadcast_to(asarray(x, dtype), shape) for x in xs]


def _elementwise(prim, *xs, float_result=False):
    dtype = result_dtype(*xs)
    if float_result and dtype not in FLOATS:
        dtype = "f64"
    return _mark_weak(prim(*_agree(*xs, dtype=dtype)), builtins.all(map(is_weak, xs)))


def _unary(prim, float_result=True):
    return lambda x: _elementwise(prim, x, float_result=float_result)


def _binary(prim, float_result=False):
    return lambda x, y: _elementwise(prim, x, y, float_result=float_result)


# ---- elementwise -------------------------------------------------------------------------
exp, log, log1p, expm1 = map(_unary, (E.exp, E.log, E.log1p, E.expm1))
sqrt, sin, cos, tan, tanh = map(_unary, (E.sqrt, E.sin, E.cos, E.tan, E.tanh))
sigmoid = logistic = _unary(E.logistic)
erf, reciprocal = _unary(E.erf), _unary(E.reciprocal)
negative, absolute, sign, square = (_unary(p, False) for p in (E.neg, E.abs_, E.sign, E.square))
abs = absolute  # noqa: A001
stop_gradient = _unary(E.stop_gradient, False)
add, subtract, multiply = _binary(E.add), _binary(E.sub), _binary(E.mul)
divide = true_divide = _binary(E.div, True)
maximum, minimum = _binary(E.maximum), _binary(E.minimum)
arctan2 = atan2 = _binary(E.atan2, True)
less, less_equal, greater = _binary(E.lt), _binary(E.le), _binary(E.gt)
greater_equal, equal, not_equal = _binary(E.ge), _binary(E.eq), _binary(E.ne)


def logical_and(x, y):
    return E.logical_and(*_agree(x, y, dtype="bool"))


def logical_or(x, y):
    return E.logical_or(*_agree(x, y, dtype="bool"))


def logical_not(x):
    return E.logical_not(asarray(x, "bool"))


def integer_pow(x, n: int):
    if n == 0:
        return ones_like(x)
    return E.integer_pow(asarray(x), n=int(n))


def power(x, y):
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool) and builtins.abs(y) <= 64:
        x = asarray(x) if not is_weak(x) else asarray(x, result_dtype(x, y))
        if y < 0 and dtype_of(x) not in FLOATS:
            x = asarray(x, "f64")
        return {1: lambda v: v, 2: square}.get(int(y), lambda v: integer_pow(v, int(y)))(x)
    if isinstance(y, float) and y == 0.5:
        return sqrt(x)
    return _elementwise(E.pow_, x, y, float_result=True)


def where(cond, x, y):
    cond = asarray(cond, "bool")
    dtype = result_dtype(x, y)
    shape = broadcast_shapes(shape_of(cond), shape_of(x), shape_of(y))
    xb, yb = (broadcast_to(asarray(v, dtype), shape) for v in (x, y))
    return E.select(broadcast_to(cond, shape), xb, yb)


def logaddexp(x, y):
    m = maximum(x, y)
    return m + log1p(exp(-absolute(x - y)))


def isfinite(x):
    return less(absolute(x), math.inf)


for _name, _fn in list(globals().items()):  # name the table-made functions for error messages
    if getattr(_fn, "__name__", None) == "<lambda>":
        _fn.__name__ = _name

# ---- constants ---------------------------------------------------------------------------


def full(shape, value, dtype="f64"):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return broadcast_to(np.asarray(value, dtype=TensorType(dtype_name(dtype), ()).np_dtype),
                        shape)


def zeros(shape, dtype="f64"):
    return full(shape, 0, dtype)


def ones(shape, dtype="f64"):
    return full(shape, 1, dtype)


def full_like(x, value, dtype=None):
    out = full(shape_of(x), value, dtype or dtype_of(x))
    if is_tracer(x) and not is_tracer(out):  # 0-d: still a traced value, like any other shape
        out = SH.reshape(out, shape=())
    return out


def zeros_like(x, dtype=None):
    return full_like(x, 0, dtype)


def ones_like(x, dtype=None):
    return full_like(x, 1, dtype)


def iota(shape, axis=0, dtype="i64"):
    return SH.iota(shape=tuple(shape), axis=normalize_axis(axis, len(shape)),
                   dtype=dtype_name(dtype))


def arange(start, stop=None, step=1, dtype=None):
    return np.arange(start, stop, step, dtype=dtype)


def eye(n, m=None, k=0, dtype="f64"):
    m = n if m is None else m
    hit = equal(iota((n, m), 1) - iota((n, m), 0), k)
    return hit if dtype_name(dtype) == "bool" else asarray(hit, dtype_name(dtype))


def _tri_mask(shape, k, lower):
    rows = iota(shape[-2:], 0)
    cols = iota(shape[-2:], 1)
    mask = less_equal(cols - rows, k) if lower else greater_equal(cols - rows, k)
    return broadcast_to(mask, shape)


def tril(x, k=0):
    return where(_tri_mask(shape_of(x), k, True), x, zeros_like(x))


def triu(x, k=0):
    return where(_tri_mask(shape_of(x), k, False), x, zeros_like(x))


tril_indices, triu_indices = np.tril_indices, np.triu_indices


def one_hot(idx, n, dtype="f64"):
    idx = asarray(idx)
    hit = equal(expand_dims(idx, -1), iota(shape_of(idx) + (n,), -1))
    return asarray(hit, dtype_name(dtype))


# ---- reductions --------------------------------------------------------------------------


def _reduction(prim, x, axis, keepdims, dtype=None):
    x = asarray(x, dtype)
    shape = shape_of(x)
    axes = normalize_axes(axis, len(shape))
    out = prim(x, axes=axes) if axes else x
    if keepdims:
        out = reshape(out, tuple(1 if i in axes else d for i, d in enumerate(shape)))
    return out


def reduce_sum(x, axes):
    return R.reduce_sum(x, axes=tuple(axes)) if axes else x


def reduce_prod(x, axes):
    return R.reduce_prod(x, axes=tuple(axes)) if axes else x


def sum(x, axis=None, keepdims=False, dtype=None):  # noqa: A001
    if dtype is None and dtype_of(x) in ("bool", "i32"):
        dtype = "i64"
    return _reduction(R.reduce_sum, x, axis, keepdims, dtype and dtype_name(dtype))


def prod(x, axis=None, keepdims=False):
    return _reduction(R.reduce_prod, x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _reduction(R.reduce_max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _reduction(R.reduce_min, x, axis, keepdims)


amax, amin = max, min


def argmax(x, axis=None):
    x = asarray(x)
    if axis is None:
        return R.argmax(reshape(x, (-1,)), axis=0)
    return R.argmax(x, axis=normalize_axis(axis, len(shape_of(x))))


def argmin(x, axis=None):
    return argmax(negative(x), axis)


def _count(x, axis):
    shape = shape_of(x)
    return int(np.prod([shape[a] for a in normalize_axes(axis, len(shape))], dtype=np.int64))


def mean(x, axis=None, keepdims=False):
    x = asarray(x, None if dtype_of(x) in FLOATS else "f64")
    return sum(x, axis, keepdims) / _count(x, axis)


def var(x, axis=None, keepdims=False, ddof=0):
    x = asarray(x, None if dtype_of(x) in FLOATS else "f64")
    centered = x - mean(x, axis, keepdims=True)
    return sum(square(centered), axis, keepdims) / (_count(x, axis) - ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    return sqrt(var(x, axis, keepdims, ddof))


def logsumexp(x, axis=None, keepdims=False):
    # shift by the (constant) max for stability; an all -inf row shifts by 0 instead of nan
    x = asarray(x)
    m = stop_gradient(max(x, axis, keepdims=True))
    m = where(isfinite(m), m, zeros_like(m))
    out = log(sum(exp(x - m), axis, keepdims=True)) + m
    return out if keepdims else reshape(out, shape_of(sum(x, axis)))


def softmax(x, axis=-1):
    e = exp(x - stop_gradient(max(x, axis, keepdims=True)))
    return e / sum(e, axis, keepdims=True)


def log_softmax(x, axis=-1):
    return x - logsumexp(x, axis, keepdims=True)


def softplus(x):
    # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
    return maximum(x, 0.0) + log1p(exp(-absolute(x)))


def relu(x):
    # NaN stays NaN (as in torch and jax.nn.relu) and its gradient flows (as torch's does)
    x = asarray(x)
    return where(less_equal(x, 0), zeros_like(x), x)


def clip(x, a_min=None, a_max=None):
    if a_min is not None:
        x = maximum(x, a_min)
    if a_max is not None:
        x = minimum(x, a_max)
    return x


# ---- shapes ------------------------------------------------------------------------------


def reshape(x, shape):
    x = asarray(x)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        size = type_of(x).size
        if shape.count(-1) > 1 or (known and size % known) or (not known and size):
            raise ValueError(f"cannot reshape {size} elements into shape {list(shape)}")
        shape = tuple(size // known if d == -1 and known else d for d in shape)
    return x if shape_of(x) == shape else SH.reshape(x, shape=shape)


def transpose(x, axes=None):
    x = asarray(x)
    nd = len(shape_of(x))
    perm = tuple(range(nd))[::-1] if axes is None else tuple(normalize_axis(a, nd) for a in axes)
    return x if perm == tuple(range(nd)) else SH.transpose(x, perm=perm)


def swapaxes(x, a, b):
    perm = list(range(len(shape_of(x))))
    a, b = normalize_axis(a, len(perm)), normalize_axis(b, len(perm))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x, source, destination):
    nd = len(shape_of(x))
    source, destination = normalize_axis(source, nd), normalize_axis(destination, nd)
    perm = [a for a in range(nd) if a != source]
    perm.insert(destination, source)
    return transpose(x, perm)


def expand_dims(x, axis):
    shape = list(shape_of(x))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in sorted(normalize_axis(a, len(shape) + len(axes)) for a in axes):
        shape.insert(a, 1)
    return reshape(x, shape)


def squeeze(x, axis=None):
    shape = shape_of(x)
    axes = [i for i, d in enumerate(shape) if d == 1] if axis is None else normalize_axes(
        axis, len(shape))
    if builtins.any(shape[a] != 1 for a in axes):
        raise ValueError(f"cannot squeeze an axis of size other than 1 in {list(shape)}")
    return reshape(x, [d for i, d in enumerate(shape) if i not in axes])


def ravel(x):
    return reshape(x, (-1,))


def concatenate(xs, axis=0):
    xs = list(xs)
    dtype = result_dtype(*xs)
    xs = [asarray(x, dtype) for x in xs]
    axis = normalize_axis(axis, len(shape_of(xs[0])))
    return xs[0] if len(xs) == 1 else SH.concatenate(*xs, axis=axis)


def stack(xs, axis=0):
    xs = list(xs)
    axis = normalize_axis(axis, len(shape_of(xs[0])) + 1)
    return concatenate([expand_dims(x, axis) for x in xs], axis)


def split(x, indices_or_sections, axis=0):
    shape = shape_of(x)
    axis = normalize_axis(axis, len(shape))
    n = shape[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(f"array split does not result in an equal division of {n}")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step)) if step else [0] * (indices_or_sections + 1)
    else:
        bounds = [0, *(builtins.min(int(i), n) for i in indices_or_sections), n]
    return [slice_axis(x, axis, b, e) for b, e in zip(bounds, bounds[1:])]


def slice_p(x, start, stop, step):
    if start == (0,) * len(start) and stop == shape_of(x) and step == (1,) * len(step):
        return x
    return SH.slice_(x, start=tuple(start), stop=tuple(stop), step=tuple(step))


def slice_axis(x, axis, begin, end, step=1):
    shape = shape_of(x)
    start = tuple(begin if i == axis else 0 for i in range(len(shape)))
    stop = tuple(end if i == axis else d for i, d in enumerate(shape))
    return slice_p(x, start, stop, tuple(step if i == axis else 1 for i in range(len(shape))))


def pad_p(x, lo, hi, interior, value=0.0):
    if not builtins.any((*lo, *hi, *interior)):
        return x
    return SH.pad(x, lo=tuple(lo), hi=tuple(hi), interior=tuple(interior), value=value)


def pad(x, pad_width, mode="constant", constant_values=0.0):
    if mode != "constant":
        raise ValueError(f"pad mode {mode!r} is not supported (only 'constant')")
    nd = len(shape_of(x))
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (nd, 2))
    return pad_p(asarray(x), tuple(int(w) for w in widths[:, 0]),
                 tuple(int(w) for w in widths[:, 1]), (0,) * nd, float(constant_values))


def flip_p(x, axes):
    return SH.flip(x, axes=tuple(axes)) if axes else x


def flip(x, axis=None):
    return flip_p(asarray(x), normalize_axes(axis, len(shape_of(x))))


# ---- indexing ----------------------------------------------------------------------------


def gather_p(x, idx, axis):
    return I.gather(x, idx, axis=axis)


def scatter_add_p(x, idx, upd, axis):
    return I.scatter_add(x, idx, upd, axis=axis)


def take(x, indices, axis=None):
    x = asarray(x)
    if axis is None:
        x, axis = ravel(x), 0
    return gather_p(x, _index_array(indices), normalize_axis(axis, len(shape_of(x))))


def index_add(x, indices, updates, axis=0):
    """x with `updates` added at `indices` along `axis` (repeats accumulate), like np.add.at."""
    x = asarray(x)
    axis = normalize_axis(axis, len(shape_of(x)))
    idx = _index_array(indices)
    target = shape_of(x)[:axis] + shape_of(idx) + shape_of(x)[axis + 1 :]
    return scatter_add_p(x, idx, broadcast_to(asarray(updates, dtype_of(x)), target), axis)


add_at = index_add


def _index_array(indices):
    idx = asarray(indices)
    if dtype_of(idx) not in ("i32", "i64"):
        raise TypeError(f"indices must be integers, got {dtype_of(idx)}")
    return idx


from .indexing import getitem  # noqa: E402, F401  (indexing builds on the functions above)

# ---- linear algebra ----------------------------------------------------------------------


def dot_general_p(x, y, contract, batch):
    return L.dot_general(x, y, contract=tuple(map(tuple, contract)),
                         batch=tuple(map(tuple, batch)))


from .contract import dot, einsum, inner, matmul, outer, tensordot  # noqa: E402, F401


# ---- the user-facing boundary ------------------------------------------------------------


def _operand_types(args) -> str:
    types = []
    for a in args:
        if isinstance(a, (list, tuple)):
            types += [_operand_types(a)]
        elif is_tracer(a) or isinstance(a, (np.ndarray, np.generic, float, int)):
            types.append(str(type_of(a)))
    return ", ".join(t for t in types if t)


def user_facing(fn, name: str | None = None):
    """fn, with shape/dtype/index errors raised as gradjit errors naming the op, the operand
    types and the user's line (never a bare ValueError from deep inside)."""
    op = name or fn.__name__

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GradjitError:
            raise
        except (ValueError, TypeError, IndexError) as e:
            cls = IndexingError if isinstance(e, IndexError) else ShapeError
            from .primitive import user_loc

            raise cls(op, f"{e} (operands: {_operand_types(args)})", user_loc()) from None

    return wrapper
