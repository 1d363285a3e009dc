"""The two tiers of compiled code (runtime/tiers.py): an array function first runs quick code,
then the optimized code, with the same bits, float sums included (they run in a fixed order of
lanes, codegen/loops.py, checked here against that order); scalar functions compile once;
failures and exits are clean."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import gradjit
import gradjit.runtime as rt
from gradjit.codegen.loops import LANES
from gradjit.ir import interp
from gradjit.runtime import cache, compile_function, jit, tiers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 3.0, -20.0, 40.0, 709.0, -745.5, 800.0, 1e300,
                    -1e300, 5e-324, np.inf, -np.inf, np.nan, 1e8, -3e5, 1e-9])


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADJIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GRADJIT_TIERS", raising=False)
    rt._memory.clear()
    yield
    rt.wait_optimized()
    rt._memory.clear()


def _inputs(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=3.0, size=n)
    x[rng.integers(0, n, size=min(n, 40))] = rng.choice(SPECIAL, size=min(n, 40))
    return x, np.abs(rng.normal(size=n)) + 0.1


ELEMENTWISE = {  # reduction-free gradients and functions over the vector-math kernels
    "grad tanh exp sin cos": lambda: gradjit.grad(
        lambda x, y: np.sum(np.tanh(x * y) * np.exp(-x) - np.sin(y) * np.cos(x)), argnums=(0, 1)),
    "grad log1p expm1 sqrt": lambda: gradjit.grad(
        lambda x, y: np.sum(np.log1p(y * y) * np.expm1(-y) + np.sqrt(y) * x)),
    "jit erf log pow where": lambda: gradjit.jit(
        lambda x, y: np.where(x > 0, gradjit.numpy.erf(x) * np.log(y), y ** 1.5 - x / y)),
    "jit maximum tanh sin": lambda: gradjit.jit(
        lambda x, y: np.maximum(np.tanh(x), np.sin(x * 3.0)) / (1.0 + y)),
}


@pytest.mark.parametrize("n", [7, 300, 5000])  # library calls; and inlined kernels (two runs)
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_quick_then_optimized_code_give_the_same_bits(name, n):
    x, y = _inputs(n, seed=n)
    fn = ELEMENTWISE[name]().trace(x, y)
    quick = jit.STATS["quick"]
    run = compile_function(fn)
    first = [o.copy() for o in run([x, y])]
    assert jit.STATS["quick"] == quick + 1 and run.symbol.endswith("q")
    assert rt.wait_optimized(timeout=120)
    assert not run.symbol.endswith("q") and run.earlier  # promoted, the quick engine kept
    again = run([x, y])
    for a, b in zip(first, again):
        _same_values(a, b)
    for a, b in zip(again, interp.run(fn, [x, y])):  # and right (test_codegen_programs' bound)
        finite = np.abs(b[np.isfinite(b)])
        atol = 1e-12 * max(1.0, float(finite.max(initial=0.0)))
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=atol, equal_nan=True)


def _same_values(a, b):
    """The same bits, except that a NaN may have another sign or payload: LLVM does not keep
    those (a NaN from `0 * inf` under a negation may come out either way)."""
    assert a.dtype == b.dtype and np.array_equal(np.isnan(a), np.isnan(b))
    keep = ~np.isnan(a)
    assert np.array_equal(a[keep].view(np.uint8), b[keep].view(np.uint8))


def test_the_optimized_object_is_stored_and_loaded_next_time():
    x, y = _inputs(64, seed=1)
    fn = ELEMENTWISE["grad tanh exp sin cos"]().trace(x, y)
    want = compile_function(fn)([x, y])
    key = rt._key(fn, rt.default_options())
    rt.wait_optimized()
    header, obj = cache.load(key)
    assert header["symbol"].endswith(key[:16])  # the optimized code's symbol, not the quick one
    rt._memory.clear()
    compiles, quick = jit.STATS["compiles"], jit.STATS["quick"]
    run = compile_function(fn)
    assert (jit.STATS["compiles"], jit.STATS["quick"]) == (compiles, quick)  # from the disk
    for a, b in zip(run([x, y]), want):
        _same_values(a, b)


def _scan_with_sum(c, xs):
    return gradjit.scan(lambda c, x: (c + np.sum(x * c), c), c, xs)


def _wide(shape, seed):
    """Values over 16 decades: any other order of their sum rounds differently."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) * 10.0 ** rng.uniform(-8, 8, size=shape)


REDUCTIONS = {  # name: (function, arguments): float sums and products, in lanes
    "value_and_grad of a sum": (
        gradjit.value_and_grad(lambda x: np.sum(np.tanh(x) * np.exp(-x * x) + np.log1p(x * x))),
        (np.linspace(-3, 3, 4099),)),
    "row logsumexp": (
        gradjit.jit(lambda x: np.log(np.sum(np.exp(x), axis=1))), (_wide((30, 27), 1) * 1e-8,)),
    "sum, mean, prod with tails": (
        gradjit.jit(lambda x: (np.sum(x), np.mean(x * 2.0), np.prod(1.0 + x[:11] * 1e-9))),
        (_wide(1003, 2),)),
    "f32 sum over a transposed read": (
        gradjit.jit(lambda x, y: np.sum(x.T * y)),
        (_wide((9, 7), 3).astype(np.float32), _wide((7, 9), 4).astype(np.float32))),
    "sum in a scan body": (gradjit.jit(_scan_with_sum), (np.ones(3), _wide((4, 3), 5))),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions_are_tiered_with_the_same_bits(name):
    f, args = REDUCTIONS[name]
    fn = f.trace(*args)
    quick = jit.STATS["quick"]
    run = compile_function(fn)
    arrays = [np.asarray(a) for a in args]
    first = [np.atleast_1d(o).copy() for o in run(arrays)]
    assert jit.STATS["quick"] == quick + 1
    assert rt.wait_optimized(timeout=120) and not run.symbol.endswith("q")
    for a, b in zip(first, run(arrays)):
        _same_values(a, np.atleast_1d(b))


def _lane_sum(rows, lanes: int) -> float:
    """codegen/loops.py's order: lane l adds the elements whose last index is l mod `lanes`,
    row after row, in order; then the lanes, in order. Python floats add as f64 does."""
    parts = [0.0] * lanes
    for row in np.atleast_2d(rows):
        for j, v in enumerate(row.tolist()):
            parts[j % lanes] += v
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total


def _in_order(rows) -> float:
    total = 0.0
    for v in np.ravel(rows).tolist():
        total += v
    return total


LIGHT, HEAVY = LANES
_heavy = lambda x, y: np.sin(x * 1e-9) * np.cos(y * 1e-9) * np.exp(x * 1e-9) * y  # noqa: E731
ORDERS = {  # name: (function, its terms, lanes, shapes)
    "flat loop (a fused group)": (lambda x, y: np.sum(x * y), lambda x, y: x * y, LIGHT,
                                  ((1003,), (1003,))),
    "innermost axis (a group over a transposed read)": (
        lambda x, y: np.sum(x.T * y), lambda x, y: x.T * y, LIGHT, ((70, 3), (3, 70))),
    "rows (the reduce kernel)": (lambda x, y: np.sum(x * y, axis=1), lambda x, y: x * y, LIGHT,
                                 ((5, 70), (5, 70))),
    "short rows": (lambda x, y: np.sum(x * y, axis=1), lambda x, y: x * y, HEAVY,
                   ((5, 21), (5, 21))),
    "flat loop, heavy body": (lambda x, y: np.sum(_heavy(x, y)), gradjit.jit(_heavy), HEAVY,
                              ((1003,), (1003,))),
    "rows, heavy body": (lambda x, y: np.sum(_heavy(x, y), axis=1), gradjit.jit(_heavy), HEAVY,
                         ((5, 70), (5, 70))),
}


@pytest.mark.parametrize("name", list(ORDERS))
def test_float_sums_run_in_the_documented_lane_order(name):
    """Light loop bodies over 64 elements or more sum in 8 lanes; heavy ones (several
    vector-math kernels) and short loops in 4. The heavy terms come from gradjit itself (its
    kernels, not numpy's, give their bits)."""
    f, terms_of, lanes, shapes = ORDERS[name]
    other = LIGHT + HEAVY - lanes
    for seed in range(0, 200, 2):  # data on which the in-order sum and the other lanes differ
        x, y = _wide(shapes[0], seed), _wide(shapes[1], seed + 1)
        terms = np.asarray(terms_of(x, y))
        sums = list(terms) if "rows" in name else [terms]  # what each result sums
        want = [_lane_sum(t, lanes) for t in sums]
        if want != [_in_order(t) for t in sums] and want != [_lane_sum(t, other) for t in sums]:
            break
    else:
        pytest.fail("no data tells the orders apart")
    got = np.asarray(gradjit.jit(f)(x, y))
    assert np.array_equal(got, np.array(want).reshape(got.shape))


def test_scalar_functions_compile_once_optimized():
    """Their CPython builtin holds the code's address, so they have one tier."""
    fn = gradjit.jit(lambda a, b: np.sin(a) * b).trace(0.5, 2.0)
    compiles, quick = jit.STATS["compiles"], jit.STATS["quick"]
    compile_function(fn)
    assert jit.STATS["compiles"] == compiles + 1 and jit.STATS["quick"] == quick


def test_an_array_function_is_tiered_control():
    """The control for the test above: the same body on arrays is tiered."""
    fn = gradjit.jit(lambda a, b: np.sin(a) * b).trace(np.ones(3), np.ones(3))
    quick = jit.STATS["quick"]
    compile_function(fn)
    assert jit.STATS["quick"] == quick + 1


def test_tiers_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("GRADJIT_TIERS", "0")
    fn = gradjit.jit(lambda x: np.exp(x) * 2.0).trace(np.ones(9))
    compiles, quick = jit.STATS["compiles"], jit.STATS["quick"]
    run = compile_function(fn)
    assert (jit.STATS["compiles"], jit.STATS["quick"]) == (compiles + 1, quick)
    assert not run.symbol.endswith("q")


def test_a_failed_optimization_keeps_the_quick_code(monkeypatch, caplog):
    def broken(llvm_ir, tm=None):
        raise gradjit.errors.CodegenError("llvm", "the LLVM optimizer produced invalid IR (test)")

    f = lambda x: np.tanh(x) * 3.0  # noqa: E731
    gradjit.jit(f)(np.ones(2))  # (the library's tanh, compiled before the optimizer breaks)
    rt.wait_optimized()
    monkeypatch.setattr(jit, "optimize", broken)
    x = np.linspace(-2, 2, 33)
    fn = gradjit.jit(f).trace(x)
    with caplog.at_level(logging.WARNING, logger="gradjit.runtime"):
        run = compile_function(fn)
        assert rt.wait_optimized(timeout=120)
    assert "its quick code stays" in caplog.text and run.symbol.endswith("q")
    np.testing.assert_allclose(run([x])[0], np.tanh(x) * 3.0, rtol=1e-15)
    assert cache.load(rt._key(fn, rt.default_options())) is None  # nothing half-built stored


def test_calls_in_flight_during_the_promotion_stay_correct():
    x, y = _inputs(2000, seed=3)
    fn = ELEMENTWISE["grad log1p expm1 sqrt"]().trace(x, y)
    run = compile_function(fn)
    want = [o.copy() for o in run([x, y])]
    bad, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            got = run([x, y])
            try:
                for a, b in zip(got, want):
                    _same_values(a, b)
            except AssertionError:
                bad.append(got)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    rt.wait_optimized(timeout=120)
    stop.set()
    for t in threads:
        t.join()
    assert not bad and not run.symbol.endswith("q")


EXIT_SCRIPT = textwrap.dedent("""
    import numpy as np
    import gradjit
    f = gradjit.grad(lambda x: np.sum(np.tanh(x) * np.exp(-x)))
    print(float(f(np.linspace(-1, 1, 11))[3]))
""")  # exits while the optimized code is being compiled


def test_a_process_exiting_during_a_background_compile_exits_cleanly(tmp_path):
    env = dict(os.environ, GRADJIT_CACHE_DIR=str(tmp_path / "c"), PYTHONPATH=ROOT)
    env.pop("GRADJIT_TIERS", None)
    out = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    x = np.linspace(-1, 1, 11)
    want = (1 - np.tanh(x) ** 2) * np.exp(-x) - np.tanh(x) * np.exp(-x)
    assert abs(float(out.stdout) - want[3]) < 1e-14
    entries = [p for p in os.listdir(tmp_path / "c") if len(p) == 2]
    assert entries  # the optimized object was stored before the interpreter exited
    assert tiers.enabled()
