"""The vectorizable transcendental kernels (codegen/vmath.py) against numpy / math.erf, in ulp.

Stated bounds (f64, against numpy's own f64 results, which carry up to ~1 ulp of their own;
measured maxima on these samples: 1 ulp for all, 2 for tanh): exp, log, log1p, expm1, sin, cos,
erf <= 2 ulp; tanh <= 3 ulp. f32: exp, expm1, log, log1p and tanh have kernels of their own
(vmath32), erf an f64 kernel of its own (fewer terms), the others run the f64 kernel and round
once; all <= 1 ulp of f32 (measured: 1 for those made for f32, 0 for the others), and those
give the exact value at inf, NaN, zeros and the ends of their ranges. Every kernel is also
checked on inf, -inf, NaN, +-0, subnormals and its range boundaries, and sin/cos on huge
arguments (libm path) and near multiples of pi/2. An `asm` check confirms a fused exp/tanh
loop uses vector registers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradjit
from gradjit.codegen import vmath, vmath32
from gradjit.ir.core import Function, Instr, Value
from gradjit.ir.types import TensorType
from gradjit.ops import REGISTRY
from gradjit.runtime import compile_function

N = 40000
BOUND = {"exp": 2, "log": 2, "sin": 2, "cos": 2, "erf": 2, "expm1": 2, "log1p": 2, "tanh": 3}
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
            1e-310, -1e-310, 1e-300, 1.0, -1.0, 0.5, 709.78, 709.79, -745.1, -745.2, 40.0,
            -40.0, 19.1, 20.0, 1e5, -1e5, 1e5 + 1, 1e300, -1e300, 0.84375, 1.25, 2.857142857,
            6.0, -0.99999999, 1e-20, -1e-20]
_erf = np.vectorize(math.erf, otypes=[np.float64])


def reference(name, x):
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        return _erf(x) if name == "erf" else getattr(np, name)(x)


def domain(name, rng):
    """Arguments covering the kernel's whole range: wide, small-magnitude and hard regions."""
    wide = {"exp": rng.uniform(-750, 712, N), "expm1": rng.uniform(-60, 712, N),
            "log": np.exp(rng.uniform(-745, 709, N)),
            "log1p": np.expm1(rng.uniform(-30, 700, N)),
            "tanh": rng.uniform(-25, 25, N), "erf": rng.uniform(-7, 7, N),
            "sin": rng.uniform(-2e5, 2e5, N), "cos": rng.uniform(-2e5, 2e5, N)}[name]
    tiny = rng.choice([-1, 1], N) * 10.0 ** rng.uniform(-310, 1, N)
    if name in ("log", "log1p"):
        tiny = np.abs(tiny) if name == "log" else tiny * 0.9 / np.maximum(1, np.abs(tiny))
    near = np.round(rng.uniform(-60000, 60000, N)) * (np.pi / 2) + rng.normal(0, 1e-6, N)
    parts = [wide, tiny, near if name in ("sin", "cos") else wide[::-1], np.array(SPECIALS)]
    return np.concatenate(parts)


def ulp_error(got, want, dtype):
    with np.errstate(over="ignore"):
        got, want = got.astype(np.float64), want.astype(dtype).astype(np.float64)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(all="ignore"):
        err = np.abs(got - want) / np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    return np.where(same, 0.0, np.where(np.isfinite(err), err, np.inf))


@pytest.fixture(scope="module")
def results():
    """All kernels in both precisions, compiled as one Function."""
    rng = np.random.default_rng(42)
    cases = [(name, dtype) for name in BOUND for dtype in ("f64", "f32")]
    inputs = {name: domain(name, rng) for name in BOUND}
    params, body, outs = [], [], []
    for name, dtype in cases:
        t = TensorType(dtype, inputs[name].shape)
        x, y = Value(t), Value(t)
        params.append(x)
        body.append(Instr(REGISTRY[name], [x], {}, [y]))
        outs.append(y)
    run = compile_function(Function("vmath", params, body, outs))
    with np.errstate(over="ignore"):  # 1e300 and friends become inf in f32, as intended
        args = [inputs[name].astype(p.type.np_dtype) for (name, _), p in zip(cases, params)]
    return {case: (a, r) for case, a, r in zip(cases, args, run(args))}


@pytest.mark.parametrize("name", list(BOUND))
def test_f64_within_stated_ulp(results, name):
    x, got = results[(name, "f64")]
    err = ulp_error(got, reference(name, x), np.float64)
    worst = int(np.argmax(err))
    assert err[worst] <= BOUND[name], f"{name}({x[worst]!r}) = {got[worst]!r}, {err[worst]} ulp"


@pytest.mark.parametrize("name", list(BOUND))
def test_f32_within_one_ulp(results, name):
    x, got = results[(name, "f32")]
    assert got.dtype == np.float32
    err = ulp_error(got, reference(name, x), np.float32)
    worst = int(np.argmax(err))
    assert err[worst] <= 1, f"{name}({x[worst]!r}) = {got[worst]!r}, {err[worst]} ulp"


@pytest.mark.parametrize("name", list(BOUND))
def test_special_values_exact(results, name):
    x, got = results[(name, "f64")]
    want = reference(name, x[-len(SPECIALS):])
    got = got[-len(SPECIALS):]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    zero = finite & (want == 0)
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))


# f32 arguments at the ends of vmath32's ranges: e^x's largest finite value, overflow, the
# smallest normal and subnormal results, log of subnormals and of the largest float, tanh where
# it becomes 1.0 in f32
F32_EDGES = {"exp": [88.72283, 88.72284, 88.7229, 89.0, 1e4, -87.33654, -87.33655, -103.27893,
                     -103.972, -103.973, -104.0, -1e4, 1e-30, -1e-30],
             "log": [1e-45, 1e-40, 1.1754942e-38, 1.17549435e-38, 3.4028235e38, 1.0, 0.99999994,
                     1.0000001, 1.4142135, 1.4142137, 0.70710677],
             "expm1": [0.3466, 0.35, 0.6931, 0.7, 0.69999, 17.33, -17.34, -18.0, 88.72283,
                       88.72284, 89.0, 1e-30, 1e-45],
             "log1p": [1e-45, 1e-30, 1e-8, 6e-8, 1e-4, 0.5, 3.4028235e38, 0.99999994, 1e-8],
             "erf": [0.921875, 0.92187494, 2.42, 3.7, 3.92, 3.9200001, 6.0, 1e-30, 1e-45],
             "tanh": [9.0, 9.01, 9.02, 10.0, 1e4, 0.625, 0.62499994, 1e-30, 1e-45, -1e-45]}


@pytest.mark.parametrize("name", [*vmath32.KERNELS, *vmath.F32_IN_F64])
def test_f32_kernels_exact_at_specials_and_range_ends(name):
    x = np.array(F32_EDGES[name] + [-v for v in F32_EDGES[name]] + SPECIALS[:5], np.float32)
    t = TensorType("f32", x.shape)
    a, y = Value(t), Value(t)
    run = compile_function(Function("edge", [a], [Instr(REGISTRY[name], [a], {}, [y])], [y]))
    got = run([x])[0]
    with np.errstate(over="ignore"):  # e^x beyond f32's range is inf, as intended
        want = reference(name, x).astype(np.float32)
    assert ulp_error(got, want, np.float32).max() <= 1, list(zip(x, got, want))
    special = ~np.isfinite(want) | (want == 0) | (np.abs(want) == 1)
    np.testing.assert_array_equal(got[special], want[special])
    np.testing.assert_array_equal(np.signbit(got[special & ~np.isnan(want)]),
                                  np.signbit(want[special & ~np.isnan(want)]))


def _is_vector_host() -> bool:
    from gradjit.runtime import jit

    features = jit.target_id()
    return "+avx2" in features or "+avx512f" in features


@pytest.mark.skipif(not _is_vector_host(), reason="no AVX2/AVX-512 on this host: the check "
                    "looks for ymm/zmm registers")
def test_fused_exp_tanh_loop_is_vectorized():
    f = lambda x: np.sum(np.tanh(x) * np.exp(-x * x))
    asm = gradjit.dump(f, np.ones(1000), stage="asm")
    body = asm.split("gj_f_body", 1)[-1] if "gj_f_body" in asm else asm
    assert "ymm" in body or "zmm" in body
    assert "callq\texp" not in asm and "callq\ttanh" not in asm
    for stage in ("llvm", "llvm-opt"):
        assert "define" in gradjit.dump(f, np.ones(3), stage=stage)


@pytest.mark.skipif(not _is_vector_host(), reason="no AVX2/AVX-512 on this host: the check "
                    "looks for ymm/zmm registers")
def test_sin_cos_loop_runs_vectorized_first():
    f = lambda x: np.sum(np.sin(x) * np.cos(2.0 * x))  # noqa: E731
    asm = gradjit.dump(f, np.ones(5000), stage="asm")  # (from TWO_RUNS_MIN elements)
    fast = asm.split("gj_f_body", 1)[-1].split("callq", 1)[0]  # the loop before any libm call
    assert "ymm" in fast or "zmm" in fast


@pytest.mark.parametrize("where", [0, 2517, 4999])
def test_one_argument_beyond_the_fast_range_reruns_the_loop_exactly(where):
    """A fused loop with a reduction, an output and a gradient: one lane past 1e5 makes the
    whole group run again with libm for such lanes; every result equals numpy's."""
    x = np.linspace(-3, 3, 5000)
    x[where] = 1e22
    f = lambda x: np.sum(np.sin(x) * np.cos(x + 1.0))  # noqa: E731
    value, grad = gradjit.value_and_grad(f)(x)
    np.testing.assert_allclose(value, np.sum(np.sin(x) * np.cos(x + 1.0)), rtol=1e-12)
    want = np.cos(x) * np.cos(x + 1.0) - np.sin(x) * np.sin(x + 1.0)
    np.testing.assert_allclose(grad, want, rtol=1e-12, atol=1e-14)
    out = gradjit.jit(lambda x: np.cos(x) * 2.0)(x)
    np.testing.assert_allclose(out, np.cos(x) * 2.0, rtol=1e-15, atol=1e-16)
    assert out[where] == 2.0 * np.cos(1e22)  # libm's own digits for the far lane
