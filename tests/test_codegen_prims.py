"""Every primitive compiled (LLVM backend) against the interpreter, on several shapes and dtypes.

Cases are batched: one Function per (primitive, dtype) holds all of that primitive's cases, so
the whole file compiles ~120 small modules. f64 agrees to rtol 1e-12 (libm or our own kernels,
see test_codegen_vmath.py for the ulp bounds); f32 to a few ulp (rtol 2e-6).
"""

from __future__ import annotations


import numpy as np
import pytest

from gradjit.codegen import LOWERED
from gradjit.ir import interp
from gradjit.ir.core import Function, Instr, Value
from gradjit.ir.types import TensorType
from gradjit.ops import REGISTRY
from gradjit.runtime import compile_function

SHAPES = [(), (7,), (3, 4), (2, 3, 5), (1, 4), (0, 3), (33,)]
FLOAT_UNARY = ["neg", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh",
               "logistic", "abs", "square", "reciprocal", "erf", "sign", "stop_gradient"]
POSITIVE = {"log", "sqrt", "log1p", "pow"}  # domain: draw positive operands
FLOAT_BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2"]
COMPARE = ["lt", "le", "gt", "ge", "eq", "ne"]
INT_BINARY = ["add", "sub", "mul", "maximum", "minimum"]


def T(dtype, shape):
    return TensorType(dtype, tuple(shape))


def make_fn(name, cases):
    """One Function computing `prim(args, **params)` for every (prim, arg types, params)."""
    params, body, results = [], [], []
    for prim_name, arg_types, p in cases:
        prim = REGISTRY[prim_name]
        args = [Value(t) for t in arg_types]
        params += args
        out = Value(prim.out_type(arg_types, p))
        body.append(Instr(prim, args, p, [out]))
        results.append(out)
    return Function(name, params, body, results)


def draw(rng, t: TensorType, positive=False, lo=None, hi=None):
    if t.dtype == "bool":
        return rng.random(t.shape) < 0.5
    if t.dtype in ("i32", "i64"):
        return rng.integers(lo if lo is not None else -9, hi if hi is not None else 10,
                            size=t.shape).astype(t.np_dtype)
    x = rng.normal(size=t.shape) * 2
    x = np.abs(x) + 0.1 if positive else x
    return np.asarray(x, dtype=t.np_dtype)


def check(fn, inputs, rtol, scaled=False, **options):
    """Compiled == interpreted; `scaled` allows rtol * max|result| absolute error (sums with
    cancellation, where the summation order legitimately differs)."""
    run = compile_function(fn, **options)
    got, want = run(inputs), interp.run(fn, inputs)
    for k, (g, w) in enumerate(zip(got, want)):
        instr = fn.body[k] if k < len(fn.body) else None
        where = f"result {k} ({instr.prim.name} {[str(a.type) for a in instr.args]})"
        assert g.dtype == w.dtype and g.shape == w.shape, where
        if g.dtype.kind == "f":
            atol = rtol * float(np.nanmax(np.abs(w), initial=0)) if scaled else 0
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=where)
        else:
            np.testing.assert_array_equal(g, w, err_msg=where)


RTOL = {"f64": 1e-12, "f32": 2e-6}


def test_every_primitive_has_a_lowering():
    missing = sorted(set(REGISTRY) - LOWERED)
    assert not missing, f"primitives without a lowering: {missing}"


def _run_cases(name, cases, rng, rtol, positive=False, **options):
    fn = make_fn(name, cases)
    inputs = [draw(rng, p.type, positive) for p in fn.params]
    check(fn, inputs, rtol, **options)


@pytest.mark.parametrize("dtype", ["f64", "f32"])
@pytest.mark.parametrize("prim", FLOAT_UNARY + ["integer_pow"])
def test_float_unary(prim, dtype):
    rng = np.random.default_rng(0)
    ns = [-2, 0, 1, 2, 3, 5] if prim == "integer_pow" else [None]
    cases = [(prim, [T(dtype, s)], {} if n is None else {"n": n}) for s in SHAPES for n in ns]
    _run_cases(prim, cases, rng, RTOL[dtype], positive=prim in POSITIVE)


@pytest.mark.parametrize("dtype", ["f64", "f32"])
@pytest.mark.parametrize("prim", FLOAT_BINARY + COMPARE)
def test_float_binary(prim, dtype):
    rng = np.random.default_rng(1)
    cases = [(prim, [T(dtype, s)] * 2, {}) for s in SHAPES]
    fn = make_fn(prim, cases)
    inputs = [draw(rng, p.type, prim in POSITIVE) for p in fn.params]
    if prim in COMPARE + ["maximum", "minimum"]:  # ties and NaNs must agree too
        for a, b in zip(inputs[::2], inputs[1::2]):
            b.reshape(-1)[::3] = a.reshape(-1)[::3]
            a.reshape(-1)[1::5] = np.nan
    check(fn, inputs, RTOL[dtype])


@pytest.mark.parametrize("dtype", ["i32", "i64", "bool"])
def test_int_and_bool_elementwise(dtype):
    rng = np.random.default_rng(2)
    binary = INT_BINARY if dtype != "bool" else ["add", "mul", "maximum", "minimum", "and",
                                                  "or"]
    unary = ["neg", "abs", "square", "sign", "stop_gradient"] if dtype != "bool" else \
        ["not", "abs", "square", "stop_gradient"]
    cases = [(p, [T(dtype, s)] * 2, {}) for p in binary + COMPARE for s in SHAPES[:4]]
    cases += [(p, [T(dtype, s)], {}) for p in unary for s in SHAPES[:4]]
    cases += [("integer_pow", [T(dtype, (6,))], {"n": n}) for n in (0, 1, 2, 3)]
    _run_cases(f"elementwise_{dtype}", cases, rng, 0)


def test_select_and_cast():
    rng = np.random.default_rng(3)
    dtypes = ["bool", "i32", "i64", "f32", "f64"]
    cases = [("select", [T("bool", s), T(d, s), T(d, s)], {}) for d in dtypes for s in SHAPES]
    cases += [("cast", [T(a, (9,))], {"dtype": b}) for a in dtypes for b in dtypes]
    _run_cases("select_cast", cases, rng, 0)


@pytest.mark.parametrize("dtype", ["f64", "f32", "i32", "i64", "bool"])
def test_reductions(dtype):
    rng = np.random.default_rng(4)
    axes_list = [(), (0,), (1,), (2,), (0, 1), (1, 2), (0, 2), (0, 1, 2)]
    cases = [(p, [T(dtype, (2, 3, 5))], {"axes": a})
             for p in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod") for a in axes_list]
    cases += [(p, [T(dtype, (40,))], {"axes": (0,)}) for p in ("reduce_sum", "reduce_max")]
    cases += [("reduce_sum", [T(dtype, (0, 3))], {"axes": (0,)})]
    cases += [("argmax", [T(dtype, (4, 6))], {"axis": a}) for a in (0, 1)]
    fn = make_fn(f"reductions_{dtype}", cases)
    inputs = [draw(rng, p.type, lo=-3, hi=4) for p in fn.params]
    if dtype in ("f32", "f64"):
        inputs[-1][1, 2] = inputs[-1][3, 4] = np.nan  # argmax returns the first NaN
        inputs[1].reshape(-1)[4] = np.nan  # NaN propagates through max
    check(fn, inputs, 1e-12 if dtype == "f64" else 1e-5, scaled=True)


@pytest.mark.parametrize("dtype", ["f64", "i32", "bool"])
def test_shape_ops(dtype):
    rng = np.random.default_rng(5)
    x = T(dtype, (3, 4))
    cases = [
        ("broadcast_to", [T(dtype, (3, 1))], {"shape": (2, 3, 4)}),
        ("broadcast_to", [T(dtype, ())], {"shape": (5,)}),
        ("broadcast_to", [T(dtype, (4,))], {"shape": (2, 4)}),
        ("reshape", [x], {"shape": (12,)}), ("reshape", [x], {"shape": (2, 6)}),
        ("reshape", [T(dtype, (1, 3, 4))], {"shape": (3, 4, 1)}),
        ("transpose", [x], {"perm": (1, 0)}),
        ("transpose", [T(dtype, (2, 3, 5))], {"perm": (2, 0, 1)}),
        ("concatenate", [x, T(dtype, (2, 4)), x], {"axis": 0}),
        ("concatenate", [x, T(dtype, (3, 1))], {"axis": 1}),
        ("slice", [T(dtype, (7, 6))], {"start": (1, 0), "stop": (7, 5), "step": (2, 3)}),
        ("slice", [x], {"start": (0, 4), "stop": (3, 4), "step": (1, 1)}),
        ("pad", [x], {"lo": (1, 0), "hi": (0, 2), "interior": (1, 2)}),
        ("pad", [x], {"lo": (0, 1), "hi": (2, 0), "interior": (0, 0), "value": 1.0}),
        ("flip", [T(dtype, (2, 3, 5))], {"axes": (0, 2)}),
        ("iota", [], {"shape": (3, 4), "axis": 1, "dtype": "i64" if dtype == "bool" else dtype}),
        ("const", [], {"value": np.asarray(draw(rng, T(dtype, (70,))))}),
        ("const", [], {"value": np.asarray(draw(rng, T(dtype, ())))}),
    ]
    _run_cases(f"shape_{dtype}", cases, rng, 0)


@pytest.mark.parametrize("dtype", ["f64", "f32", "i64"])
def test_gather_scatter(dtype):
    rng = np.random.default_rng(6)
    cases = [("gather", [T(dtype, (5, 3)), T("i64", (4,))], {"axis": 0}),
             ("gather", [T(dtype, (2, 5, 3)), T("i32", (2, 2))], {"axis": 1}),
             ("scatter_add", [T(dtype, (5, 3)), T("i64", (6,)), T(dtype, (6, 3))], {"axis": 0}),
             ("scatter_add", [T(dtype, (2, 4)), T("i32", (3,)), T(dtype, (2, 3))], {"axis": 1})]
    fn = make_fn(f"gather_{dtype}", cases)
    inputs = [draw(rng, p.type, lo=-3, hi=3) for p in fn.params]  # repeats and negatives
    check(fn, inputs, RTOL.get(dtype, 0))


DOTS = [  # (lhs shape, rhs shape, contract, batch)
    ((3, 4), (4, 5), ((1,), (0,)), ((), ())),
    ((4, 3), (4, 5), ((0,), (0,)), ((), ())),
    ((3, 4), (5, 4), ((1,), (1,)), ((), ())),
    ((4, 3), (5, 4), ((0,), (1,)), ((), ())),
    ((2, 3, 4), (2, 4, 5), ((2,), (1,)), ((0,), (0,))),
    ((3, 2, 4), (4, 5, 2), ((2,), (0,)), ((1,), (2,))),
    ((6,), (6,), ((0,), (0,)), ((), ())),
    ((3, 4), (4,), ((1,), (0,)), ((), ())),
    ((2, 3, 4), (3, 4, 5), ((1, 2), (0, 1)), ((), ())),
    ((2, 3, 4), (4, 3, 5), ((1, 2), (1, 0)), ((), ())),
    ((3, 1), (1, 4), ((1,), (0,)), ((), ())),
    ((3, 0), (0, 4), ((1,), (0,)), ((), ())),
    ((2, 3), (4, 5), ((), ()), ((), ())),
    ((17, 33), (33, 20), ((1,), (0,)), ((), ())),
    # a matrix times a vector (?gemv with BLAS) in every storage order
    ((5, 7), (7, 1), ((1,), (0,)), ((), ())),
    ((7, 5), (7, 1), ((0,), (0,)), ((), ())),
    ((5, 7), (1, 7), ((1,), (1,)), ((), ())),
    ((1, 7), (7, 5), ((1,), (0,)), ((), ())),
    ((1, 7), (5, 7), ((1,), (1,)), ((), ())),
    ((7, 1), (7, 5), ((0,), (0,)), ((), ())),
    ((7,), (7, 5), ((0,), (0,)), ((), ())),
    ((7,), (5, 7), ((0,), (1,)), ((), ())),
    ((1, 7), (7, 1), ((1,), (0,)), ((), ())),
]


# BLAS has no integer GEMM, so i64 always takes the loop nest
@pytest.mark.parametrize("dtype,blas", [("f64", "always"), ("f64", "never"), ("f32", "always"),
                                        ("f32", "never"), ("i64", "never")])
def test_dot_general(dtype, blas):
    rng = np.random.default_rng(7)
    cases = [("dot_general", [T(dtype, a), T(dtype, b)], {"contract": c, "batch": bt})
             for a, b, c, bt in DOTS]
    fn = make_fn(f"dot_{dtype}_{blas}", cases)
    inputs = [draw(rng, p.type) for p in fn.params]
    options = {"blas_min_flops": 0} if blas == "always" else {"blas": None}
    check(fn, inputs, 1e-12 if dtype == "f64" else 1e-5, scaled=True, **options)


def test_blas_is_found_and_used():
    from gradjit.runtime import blas, lower_text

    found = blas.find()
    assert found is not None, "numpy's OpenBLAS should be found on this machine"
    fn = make_fn("mm", [("dot_general", [T("f64", (64, 64))] * 2,
                         {"contract": ((1,), (0,)), "batch": ((), ())})])
    assert found["f64"] in lower_text(fn)[1]
    assert found["f64"] not in lower_text(fn, {"blas": None})[1]
    mv = make_fn("mv", [("dot_general", [T("f64", (64, 64)), T("f64", (64, 1))],
                         {"contract": ((1,), (0,)), "batch": ((), ())})])
    text = lower_text(mv)[1]
    assert found["f64v"] in text and found["f64"] not in text  # no packing of the matrix


def test_out_of_range_indices_raise_after_a_memory_safe_run():
    from gradjit.errors import TraceError

    cases = [("gather", [T("f64", (3, 2)), T("i64", (2,))], {"axis": 0}),
             ("scatter_add", [T("f64", (3,)), T("i32", (2,)), T("f64", (2,))], {"axis": 0})]
    for case in cases:
        fn = make_fn(case[0], [case])
        run = compile_function(fn)
        args = [np.ones(p.type.shape, p.type.np_dtype) for p in fn.params]
        args[1][:] = [2, -3]  # in range (negative counts from the end)
        np.testing.assert_array_equal(run(args)[0], interp.run(fn, args)[0])
        for bad in (3, -4):
            args[1][:] = [0, bad]
            with pytest.raises(TraceError, match=f"{case[0]}: an index is out of bounds"):
                run(args)
