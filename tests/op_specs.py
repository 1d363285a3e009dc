"""How to test each primitive: one `OpSpec` per record in `gradjit.ops.REGISTRY`.

A spec draws operands and params inside the op's domain (with tests/op_draw.py), gives a
plain-numpy reference written independently of the record's own `numpy` implementation, names
the operands whose derivatives are checked, and sets tolerances. tests/test_primitives.py walks
this table; a record without a spec fails there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from hypothesis import strategies as st
import op_specs_control as C
from op_draw import Draw

from gradjit.ir.types import DTYPES, INTS

ALL_DTYPES = tuple(DTYPES)


@dataclass(frozen=True)
class OpSpec:
    draw: Callable[[Draw], tuple[list, dict]]  # -> (operands, params)
    ref: Callable  # (*operands, **params) -> array: plain numpy, independent of the record
    diff: tuple[int, ...] = ()  # float operands whose derivatives are checked (orders 1 and 2)
    zero_grad: bool = False  # derivative declared zero (stop_gradient): the VJP must give 0
    dtypes: tuple[str, ...] = ()  # further dtypes the interpreter is checked in
    step1: float = 1e-6  # central-difference step and relative tolerance, order 1
    rtol1: float = 1e-6
    step2: float = 1e-5  # ... order 2 (differences of the exact order-1 gradient)
    rtol2: float = 1e-5


def index_map(out_shape, dtype, source) -> np.ndarray:
    """out[j] = source(j) element by element: a slow reference that shares no code."""
    out = np.empty(out_shape, dtype)
    for j in np.ndindex(*out_shape):
        out[j] = source(j)
    return out


def in_f64(f):
    """A reference computed in f64 and returned in its first operand's dtype."""
    return lambda *xs: np.asarray(f(*[np.asarray(x, np.float64) for x in xs]), xs[0].dtype)


# ---- elementwise ------------------------------------------------------------------------

FLOAT_EXTRA, INT_EXTRA = ("f32",), ("f32", "i32", "i64")


def unary(ref, lo=-2.0, hi=2.0, away=0.0, dtypes=FLOAT_EXTRA, **kw) -> OpSpec:
    def draw(d):
        return [d.values(d.shape(), lo, hi, away)], {}

    return OpSpec(draw, ref, diff=(0,), dtypes=dtypes, **kw)


def binary(ref, x=(-2.0, 2.0, 0.0), y=(-2.0, 2.0, 0.0), dtypes=FLOAT_EXTRA, **kw) -> OpSpec:
    def draw(d):
        shape = d.shape()
        return [d.values(shape, *x), d.values(shape, *y)], {}

    return OpSpec(draw, ref, diff=(0, 1), dtypes=dtypes, **kw)


def _apart_draw(d):
    # y differs from x by at least 0.2 everywhere: no ties, and no tie within an FD step
    shape = d.shape()
    x = d.values(shape)
    gap = d.values(shape, -1.5, 1.5, away=0.2, dtype="f64")
    return [x, np.asarray(x + gap, x.dtype)], {}


def _integer_pow_draw(d):
    n = d.int(-3, 4) if d.dtype not in INTS else d.int(0, 4)
    # at n >= 0 the function is a polynomial: x = 0 is an ordinary point, so it is drawn too
    x = d.values(d.shape(), away=0.3) if n < 0 else d.with_zeros(d.values(d.shape()))
    return [x], {"n": n}


def _integer_pow_ref(x, n):
    out = np.ones_like(x)
    for _ in range(abs(n)):
        out = out * x
    return out if n >= 0 else 1 / out


_CASTS = [("f64", "f32"), ("f32", "f64"), ("f64", "f64"), ("f32", "f32"), ("i64", "f64"),
          ("i32", "f32"), ("bool", "f64"), ("f64", "i64"), ("f32", "i32"), ("i32", "i64"),
          ("f64", "bool"), ("i64", "bool")]


def _cast_draw(d):
    src, dst = d(st.sampled_from(_CASTS), "cast")
    return [d.values(d.shape(), -5.0, 5.0, dtype=src)], {"dtype": dst}


def _compare_draw(d):
    # a dtype of any kind, with some exact ties so eq/le/ge see equal operands
    dtype = d(st.sampled_from(ALL_DTYPES), "dtype")
    shape = d.shape()
    x, other = d.values(shape, -3, 3, dtype=dtype), d.values(shape, -3, 3, dtype=dtype)
    return [x, np.where(d.rng.random(shape) < 0.3, x, other)], {}


def compare(ref) -> OpSpec:
    return OpSpec(_compare_draw, ref)


def logic(ref, arity=2) -> OpSpec:
    def draw(d):
        shape = d.shape()
        return [d.values(shape, dtype="bool") for _ in range(arity)], {}

    return OpSpec(draw, ref)


def _select_draw(d):
    shape = d.shape()
    return [d.values(shape, dtype="bool"), d.values(shape), d.values(shape)], {}


ELEMENTWISE = {
    "neg": unary(lambda x: 0 - x, dtypes=INT_EXTRA),
    "exp": unary(np.exp),
    "log": unary(np.log, 0.2, 3.0),
    "log1p": unary(np.log1p, -0.6, 2.0),
    "expm1": unary(np.expm1),
    "sqrt": unary(np.sqrt, 0.2, 3.0),
    "sin": unary(np.sin, -3.0, 3.0),
    "cos": unary(np.cos, -3.0, 3.0),
    "tan": unary(lambda x: np.sin(x) / np.cos(x), -1.2, 1.2),
    "tanh": unary(np.tanh, -3.0, 3.0),
    "logistic": unary(in_f64(lambda x: 1 / (1 + np.exp(-x))), -5.0, 5.0),
    "abs": unary(lambda x: np.where(x < 0, -x, x), away=0.1, dtypes=INT_EXTRA),
    "square": unary(lambda x: x * x, dtypes=INT_EXTRA),
    "reciprocal": unary(lambda x: 1 / x, away=0.3),
    "erf": unary(in_f64(np.vectorize(math.erf, otypes=[np.float64]))),
    "sign": unary(lambda x: (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype), away=0.1,
                  dtypes=INT_EXTRA),
    "stop_gradient": unary(lambda x: x, zero_grad=True, dtypes=INT_EXTRA),
    "integer_pow": OpSpec(_integer_pow_draw, _integer_pow_ref, diff=(0,), dtypes=INT_EXTRA),
    # a cast is linear, so any step is exact up to rounding; f32 operands round at 1e-7
    "cast": OpSpec(_cast_draw, lambda x, dtype: x.astype(DTYPES[dtype]), diff=(0,),
                   step1=0.5, rtol1=1e-5, step2=0.5, rtol2=1e-5),
    "add": binary(lambda x, y: x + y, dtypes=INT_EXTRA),
    "sub": binary(lambda x, y: x - y, dtypes=INT_EXTRA),
    "mul": binary(lambda x, y: x * y, dtypes=INT_EXTRA),
    "div": binary(lambda x, y: x / y, y=(-2.0, 2.0, 0.5)),
    "pow": binary(in_f64(lambda x, y: np.exp(y * np.log(x))), x=(0.5, 2.0, 0.0)),
    "maximum": OpSpec(_apart_draw, lambda x, y: np.where(x > y, x, y), (0, 1), dtypes=INT_EXTRA),
    "minimum": OpSpec(_apart_draw, lambda x, y: np.where(x < y, x, y), (0, 1), dtypes=INT_EXTRA),
    # |y| >= 0.2 keeps atan2 off its branch cut (y = 0, x < 0) and away from the origin
    "atan2": binary(np.arctan2, x=(-2.0, 2.0, 0.2)),
    "lt": compare(lambda x, y: x < y), "le": compare(lambda x, y: x <= y),
    "gt": compare(lambda x, y: x > y), "ge": compare(lambda x, y: x >= y),
    "eq": compare(lambda x, y: x == y), "ne": compare(lambda x, y: x != y),
    "and": logic(lambda x, y: x & y), "or": logic(lambda x, y: x | y),
    "not": logic(lambda x: ~x, arity=1),
    "select": OpSpec(_select_draw, lambda p, x, y: np.where(p, x, y), diff=(1, 2),
                     dtypes=INT_EXTRA),
}


# ---- reductions -------------------------------------------------------------------------


def _reduce_draw(values):
    def draw(d):
        shape = d.shape()
        return [values(d, shape)], {"axes": d.axes(len(shape))}

    return draw


def reduction(ref, values=lambda d, s: d.values(s), dtypes=("i64",)) -> OpSpec:
    return OpSpec(_reduce_draw(values), lambda x, axes: ref(x, axis=axes), diff=(0,),
                  dtypes=dtypes)


def _argmax_draw(d):
    shape = d.shape(min_dims=1)
    return [d.distinct(shape)], {"axis": d.int(0, len(shape) - 1)}


def _argmax_ref(x, axis):
    # the position of the largest entry, found by comparing against the maximum
    moved = np.moveaxis(x, axis, -1)
    return index_map(moved.shape[:-1], np.int64,
                     lambda j: int(np.flatnonzero(moved[j] == moved[j].max())[0]))


REDUCTIONS = {
    "reduce_sum": reduction(np.sum),
    "reduce_max": reduction(np.max, Draw.distinct),
    "reduce_min": reduction(np.min, Draw.distinct),
    # prod's rule avoids dividing by x, so exact zeros (one or several per group) are drawn
    "reduce_prod": reduction(np.prod, lambda d, s: d.with_zeros(d.values(s, -1.5, 1.5))),
    "argmax": OpSpec(_argmax_draw, _argmax_ref, dtypes=("i32",)),
}


# ---- shape ------------------------------------------------------------------------------
SHAPED = ("f32", "i64", "bool")  # shape ops move values of any dtype


def shaped(draw, ref, diff=(0,)) -> OpSpec:
    return OpSpec(draw, ref, diff=diff, dtypes=SHAPED)


def _broadcast_draw(d):
    shape = d.shape(max_dims=4)
    lead = d.int(0, len(shape))
    ones = d(st.lists(st.booleans(), min_size=len(shape) - lead, max_size=len(shape) - lead))
    x_shape = tuple(1 if one else s for one, s in zip(ones, shape[lead:]))
    return [d.values(x_shape)], {"shape": shape}


def _broadcast_ref(x, shape):
    lead = len(shape) - x.ndim
    return index_map(shape, x.dtype, lambda j: x[tuple(
        0 if x.shape[a] == 1 else j[lead + a] for a in range(x.ndim))])


def _prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def _reshape_draw(d):
    x = d.values(d.shape())
    factors = d(st.permutations(_prime_factors(x.size)))
    cuts = sorted(d(st.lists(st.integers(0, len(factors)), max_size=3)))
    bounds = [0, *cuts, len(factors)]
    shape = tuple(int(np.prod(factors[a:b], dtype=np.int64)) for a, b in pairwise(bounds))
    return [x], {"shape": () if x.size == 1 and d(st.booleans()) else shape}


def _reshape_ref(x, shape):
    flat = [x[j] for j in np.ndindex(*x.shape)]  # row-major order
    return np.array(flat, x.dtype).reshape(shape)


def _transpose_draw(d):
    x = d.values(d.shape(max_dims=4))
    return [x], {"perm": tuple(d(st.permutations(range(x.ndim))))}


def _transpose_ref(x, perm):
    inverse = np.argsort(perm)
    return index_map([x.shape[p] for p in perm], x.dtype,
                     lambda j: x[tuple(j[inverse[a]] for a in range(x.ndim))])


def _concatenate_draw(d):
    shape = d.shape(min_dims=1)
    axis = d.int(0, len(shape) - 1)
    sizes = d(st.lists(st.integers(0, 3), min_size=1, max_size=4), "sizes")
    return [d.values(shape[:axis] + (n,) + shape[axis + 1:]) for n in sizes], {"axis": axis}


def _concatenate_ref(*xs, axis):
    out = np.zeros(xs[0].shape[:axis] + (sum(x.shape[axis] for x in xs),) + xs[0].shape[axis + 1:],
                   xs[0].dtype)
    start = 0
    for x in xs:
        for j in np.ndindex(*x.shape):
            out[j[:axis] + (start + j[axis],) + j[axis + 1:]] = x[j]
        start += x.shape[axis]
    return out


def _slice_draw(d):
    shape = d.shape(min_side=0, max_side=5)
    start = tuple(d.int(0, n) for n in shape)
    stop = tuple(d.int(b, n) for b, n in zip(start, shape))
    step = tuple(d.int(1, 3) for _ in shape)
    return [d.values(shape)], {"start": start, "stop": stop, "step": step}


def _slice_ref(x, start, stop, step):
    lens = [len(range(b, e, s)) for b, e, s in zip(start, stop, step)]
    return index_map(lens, x.dtype, lambda j: x[tuple(
        b + k * s for b, k, s in zip(start, j, step))])


def _pad_draw(d):
    shape = d.shape(min_side=0, max_side=3)
    lo, hi, interior = ([d.int(0, 2) for _ in shape] for _ in range(3))
    value = d(st.sampled_from([0.0, 1.5, -2.0]), "value")
    return [d.values(shape)], {"lo": tuple(lo), "hi": tuple(hi), "interior": tuple(interior),
                               "value": value}


def _pad_ref(x, lo, hi, interior, value):
    out_shape = [a + b + n + max(n - 1, 0) * i for a, b, i, n in zip(lo, hi, interior, x.shape)]
    out = np.full(out_shape, value, x.dtype)
    for j in np.ndindex(*x.shape):
        out[tuple(a + k * (i + 1) for a, k, i in zip(lo, j, interior))] = x[j]
    return out


def _flip_draw(d):
    x = d.values(d.shape())
    return [x], {"axes": d.axes(x.ndim)}


def _flip_ref(x, axes):
    return index_map(x.shape, x.dtype, lambda j: x[tuple(
        n - 1 - k if a in axes else k for a, (k, n) in enumerate(zip(j, x.shape)))])


def _iota_draw(d):
    shape = d.shape(min_dims=1)
    dtype = d(st.sampled_from(("i32", "i64", "f32", "f64")), "dtype")
    return [], {"shape": shape, "axis": d.int(0, len(shape) - 1), "dtype": dtype}


def _const_draw(d):
    # large constants print as base64; floats include the values whose text is special
    dtype = d(st.sampled_from(ALL_DTYPES), "dtype")
    value = d.values(d.shape(max_side=9), -1e3, 1e3, dtype=dtype)
    if dtype in ("f32", "f64") and value.size and d(st.booleans(), "special"):
        value.flat[: 4] = [np.nan, np.inf, -np.inf, -0.0][: min(4, value.size)]
    return [], {"value": value}


SHAPE = {
    "broadcast_to": shaped(_broadcast_draw, _broadcast_ref),
    "reshape": shaped(_reshape_draw, _reshape_ref),
    "transpose": shaped(_transpose_draw, _transpose_ref),
    "concatenate": OpSpec(_concatenate_draw, _concatenate_ref, diff=(0, 1, 2, 3), dtypes=SHAPED),
    "slice": shaped(_slice_draw, _slice_ref),
    "pad": OpSpec(_pad_draw, _pad_ref, diff=(0,), dtypes=("f32",)),
    "flip": shaped(_flip_draw, _flip_ref),
    "iota": OpSpec(_iota_draw, lambda shape, axis, dtype: np.indices(shape)[axis].astype(
        DTYPES[dtype])),
    "const": OpSpec(_const_draw, lambda value: value.copy()),
}


# ---- indexing and contraction -----------------------------------------------------------


def _indices(d, n: int):
    # numpy-style indices in [-n, n), drawn from few values so repeats are common
    idx = d.rng.integers(-n, n, size=d.shape(max_dims=2, max_side=5))
    return idx.astype(DTYPES[d(st.sampled_from(INTS), "index dtype")])


def _gather_draw(d):
    shape = d.shape(min_dims=1)
    axis = d.int(0, len(shape) - 1)
    return [d.values(shape), _indices(d, shape[axis])], {"axis": axis}


def _gather_ref(x, idx, axis):
    return x[(slice(None),) * axis + (idx,)]


def _scatter_add_draw(d):
    (x, idx), params = _gather_draw(d)
    axis = params["axis"]
    upd = d.values(x.shape[:axis] + idx.shape + x.shape[axis + 1:])
    return [x, idx, upd], params


def _scatter_add_ref(x, idx, upd, axis):
    out = x.copy()
    for j in np.ndindex(*idx.shape):  # one at a time, so repeated indices accumulate
        source = (slice(None),) * axis + j
        out[(slice(None),) * axis + (idx[j] % x.shape[axis],)] += upd[source]
    return out


def _dot_general_draw(d):
    # labelled dims (batch, contracting, lhs free, rhs free) placed in random positions
    counts = {k: d.int(0, 2) for k in "bcxy"}
    size = {k: [d.int(1, 3) for _ in range(n)] for k, n in counts.items()}
    x_dims = d(st.permutations([(k, i) for k in "bcx" for i in range(counts[k])]))
    y_dims = d(st.permutations([(k, i) for k in "bcy" for i in range(counts[k])]))

    def pairs(kind):
        ks = d(st.permutations(range(counts[kind])))  # pairing order need not be sorted
        return (tuple(x_dims.index((kind, i)) for i in ks),
                tuple(y_dims.index((kind, i)) for i in ks))

    x = d.values(tuple(size[k][i] for k, i in x_dims))
    y = d.values(tuple(size[k][i] for k, i in y_dims))
    return [x, y], {"contract": pairs("c"), "batch": pairs("b")}


def _dot_general_ref(x, y, contract, batch):
    # move dims to (batch, free, contracting) and (batch, contracting, free), then matmul
    (xc, yc), (xb, yb) = contract, batch
    xf = [i for i in range(x.ndim) if i not in xc + xb]
    yf = [i for i in range(y.ndim) if i not in yc + yb]
    bs, ms = [x.shape[i] for i in xb], [x.shape[i] for i in xf]
    ks, ns = [x.shape[i] for i in xc], [y.shape[i] for i in yf]
    b, m, k, n = (int(np.prod(s, dtype=np.int64)) for s in (bs, ms, ks, ns))
    lhs = x.transpose([*xb, *xf, *xc]).reshape(b, m, k)
    rhs = y.transpose([*yb, *yc, *yf]).reshape(b, k, n)
    return np.matmul(lhs, rhs).reshape(bs + ms + ns)


STRUCTURAL = {
    "gather": OpSpec(_gather_draw, _gather_ref, diff=(0,), dtypes=SHAPED),
    "scatter_add": OpSpec(_scatter_add_draw, _scatter_add_ref, diff=(0, 2), dtypes=("i64",)),
    "dot_general": OpSpec(_dot_general_draw, _dot_general_ref, diff=(0, 1)),
}

CONTROL = {  # regions: tests/op_specs_control.py
    "scan": OpSpec(C.scan_draw, C.scan_ref, diff=(0, 1, 2)),
    "cond": OpSpec(C.cond_draw, C.cond_ref, diff=(1, 2)),
    "while_loop": OpSpec(C.while_draw, C.while_ref, diff=(1, 2)),
    "remat": OpSpec(C.remat_draw, C.remat_ref, diff=(0, 1)),
}

SPECS: dict[str, OpSpec] = {**ELEMENTWISE, **REDUCTIONS, **SHAPE, **STRUCTURAL, **CONTROL}
