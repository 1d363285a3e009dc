"""The runtime around compiled code: argument conversion, fresh outputs, the disk cache
(second process loads without compiling, damaged entries are rebuilt, unwritable directories
degrade to memory, concurrent compiles), and the backend registration."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradjit
from gradjit.errors import TraceError
from gradjit.runtime import cache, compile_function

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GRADJIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gjcache"))


def _fn(n=5):
    f = lambda x, y: np.sum(np.sin(x) * y) + x * 2.0
    return gradjit.jit(f).trace(np.ones(n), np.ones(n))


def test_inputs_are_converted_and_checked():
    fn = _fn()
    run = compile_function(fn)
    x = np.arange(10.0)[::2]  # not contiguous
    y = np.arange(5, dtype=np.float32)  # wrong dtype
    want = np.sum(np.sin(x) * y) + x * 2.0
    got = run([x, y])
    np.testing.assert_allclose(got[0], want, rtol=1e-12)
    np.testing.assert_allclose(run([list(x), y.astype(">f8")])[0], want, rtol=1e-12)
    with pytest.raises(TraceError, match="shape"):
        run([np.ones(4), np.ones(5)])
    with pytest.raises(TraceError, match="expects 2 arguments"):
        run([np.ones(5)])


def test_outputs_are_fresh_arrays():
    run = compile_function(_fn())
    a = run([np.ones(5), np.ones(5)])[0]
    b = run([np.zeros(5), np.ones(5)])[0]
    assert a is not b and not np.shares_memory(a, b)
    np.testing.assert_allclose(a, np.sum(np.sin(1.0) * np.ones(5)) + 2.0)


def test_c_abi_fallback_when_numpy_layout_differs(monkeypatch):
    from gradjit.runtime import call, jit, lower_text

    fn = _fn(4)
    low, text = lower_text(fn)
    engine = jit.Engine(jit.compile_object(text))
    monkeypatch.setattr(call, "numpy_layout_ok", lambda: False)
    run = call.make_runner(engine, low.name, low.plan.ws_size, fn.in_types, fn.out_types)
    x, y = np.arange(8.0)[::2], np.ones(4, np.float32)
    np.testing.assert_allclose(run([x, y])[0], np.sum(np.sin(x) * y) + 2 * x, rtol=1e-12)


def test_engines_are_independent(monkeypatch):
    """Freeing one compiled function's engine must not break loading the next (each engine
    owns its own target machine)."""
    import gc

    from gradjit.runtime import _memory, jit

    fn = _fn(7)
    compile_function(fn)
    _memory.clear()
    monkeypatch.setitem(jit._shared, "engine", None)  # the shared engine is dropped
    gc.collect()
    run = compile_function(fn)  # loads from the disk cache into a new engine
    np.testing.assert_allclose(run([np.ones(7), np.ones(7)])[0], 7 * np.sin(1.0) + 2.0)


def test_the_generic_entry_checks_every_input_before_running():
    """Every array function is called through one compiled entry (codegen/py_entry.py) with the
    runner's descriptor: an input of the wrong kind, rank, shape, dtype, byte order or layout,
    or a wrong count, is refused (status 1) before anything is written."""
    from gradjit.codegen.py_entry import descriptor
    from gradjit.runtime import support

    fn = _fn(6)
    run = compile_function(fn)
    entry = support.generic_entry()
    desc = np.array(descriptor(run.engine.address(run.symbol), fn.in_types, 1), np.uint64)
    ws = np.empty(max(run.workspace_bytes, 1), np.uint8)
    x, y = np.linspace(0, 1, 6), np.arange(6.0)

    def call(*arrays):
        out = np.full(6, -7.0)
        return entry((np.ndarray, ws, desc, *arrays, out)), out

    status, out = call(x, y)
    assert status == 0
    np.testing.assert_allclose(out, np.sum(np.sin(x) * y) + x * 2.0, rtol=1e-14)
    wide = np.linspace(0, 1, 12)
    for bad in [(wide[::2], y), (x.astype(np.float32), y), (x[:5], y), (x.reshape(2, 3), y),
                (x.astype(">f8"), y), (list(x), y), (x, y.astype(np.int64)), (x,),
                (x, y, y)]:
        status, out = call(*bad)
        assert status == 1 and (out == -7.0).all(), bad


def test_objects_share_engines_and_retired_engines_are_freed(monkeypatch):
    """Compiled objects go into one shared engine (a private one costs ~1.9 ms to make, an added
    object ~0.2 ms): same-named functions of other shapes live side by side (their symbols
    carry the cache key), reloading a loaded key adds nothing, and an engine retired after
    OBJECTS_PER_ENGINE objects is freed with the last runner using it."""
    import gc
    import weakref

    from gradjit.runtime import _memory, jit, support

    support.generic_entry()  # (made once per process: not one of the objects counted here)
    monkeypatch.setenv("GRADJIT_TIERS", "0")  # one object per function (tests/test_tiers.py)
    monkeypatch.setattr(jit, "OBJECTS_PER_ENGINE", 2)
    monkeypatch.setitem(jit._shared, "engine", None)
    sizes = (21, 22, 23)
    fns = {n: _fn(n) for n in sizes}
    added = jit.STATS["objects"]
    runs = {n: compile_function(fn) for n, fn in fns.items()}
    assert jit.STATS["objects"] == added + 3
    owners = {n: run.engine._owner for n, run in runs.items()}
    assert owners[21] is owners[22] and owners[23] is not owners[21]  # retired after 2
    for n, run in runs.items():
        np.testing.assert_allclose(run([np.ones(n), np.ones(n)])[0], n * np.sin(1.0) + 2.0)
    _memory.clear()
    assert compile_function(fns[23]).engine._owner is owners[23]  # from disk, nothing added
    assert jit.STATS["objects"] == added + 3
    retired = weakref.ref(owners[21])
    del runs[21], owners
    gc.collect()
    assert retired() is not None  # 22's runner still uses it
    np.testing.assert_allclose(runs[22]([np.ones(22), np.ones(22)])[0], 22 * np.sin(1.0) + 2.0)
    del runs[22]
    gc.collect()
    assert retired() is None


def test_runtime_symbols_carry_the_cache_key():
    """Every global symbol of a runtime object ends in its key: objects share engines, so two
    keys must never define the same name (scan regions, dots and vector math included)."""
    from gradjit.runtime import lower_text

    def f(x, w):
        h = gradjit.lax.scan(lambda c, r: (np.tanh(c @ w + r), c), x[0], x)[0]
        return np.sum(np.sin(h) * np.cos(x[1]))

    fn = gradjit.jit(gradjit.grad(f, argnums=(0, 1))).trace(np.ones((5, 64)), np.ones((64, 64)))
    low, text = lower_text(fn, {"symbol_suffix": "_KEY"})
    defined = [g for g in low.module.global_values if getattr(g, "blocks", True)
               and g.linkage not in ("internal", "private", "appending")]
    assert low.name in {g.name for g in defined}
    assert all(g.name.startswith(low.name) and low.name.endswith("_KEY") for g in defined)


def test_short_loops_are_not_interleaved_and_long_ones_are_left_to_llvm(monkeypatch):
    """A constant trip count under loops.INTERLEAVE_MIN carries `llvm.loop.interleave.count` 1
    (its interleaved copies cost compile time and buy nothing), and LLVM honours it: the
    vectorized reduction (an integer one: float sums run in lanes, codegen/loops.py) keeps one
    vector accumulator, where without the hint it keeps several. Longer loops carry no hint."""
    import re

    from gradjit.codegen import loops
    from gradjit.runtime import jit, lower_text

    f = lambda x: np.sum(x * x + 1)
    ones = lambda n: np.ones(n, np.int64)  # noqa: E731

    def accumulators(n):
        opt = jit.optimized_ir(lower_text(gradjit.jit(f).trace(ones(n)))[1])
        return len(re.findall(r"%vec\.phi\d* = phi", opt))

    for n, hinted in ((1000, True), (loops.INTERLEAVE_MIN, False)):
        text = lower_text(gradjit.jit(f).trace(ones(n)))[1]
        assert ('"llvm.loop.interleave.count", i32 1' in text) == hinted, n
    assert accumulators(1000) == 1
    monkeypatch.setattr(loops, "INTERLEAVE_MIN", 0)
    assert accumulators(1000) > 1
    x = np.arange(-500, 500)
    assert gradjit.jit(f, backend="llvm")(x) == np.sum(x * x + 1)


def test_backend_option_runs_compiled_code():
    f = lambda x, y: (x * y + np.sin(x)) * np.exp(y)
    g = gradjit.grad(f, argnums=(0, 1), backend="llvm")
    want = gradjit.grad(f, argnums=(0, 1), backend="interp")(0.3, -1.2)
    assert np.allclose(g(0.3, -1.2), want, rtol=1e-14)
    h = gradjit.hessian(lambda x: np.sum(x[:-1] ** 2 * x[1:]) + np.sum(np.sin(x)),
                        backend="llvm")
    x = np.linspace(-1, 1, 6)
    want = gradjit.hessian(lambda x: np.sum(x[:-1] ** 2 * x[1:]) + np.sum(np.sin(x)))(x)
    np.testing.assert_allclose(h(x), want, rtol=1e-12, atol=1e-14)


SCRIPT = textwrap.dedent("""
    import logging, sys, warnings
    import numpy as np
    import gradjit
    from gradjit.runtime import jit
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    warnings.simplefilter("always")
    f = gradjit.grad(lambda x: np.sum(np.tanh(x) * np.exp(-x * x) + np.log1p(x * x)),
                     backend="llvm")
    g = f(np.linspace(-2, 2, 7))
    gradjit.runtime.wait_optimized()  # (the first run's optimized code is stored by then)
    print("compiles", jit.STATS["compiles"], "loads", jit.STATS["loads"])
    print("result", " ".join(repr(float(v)) for v in g))
""")


def _run(cache_dir, script=SCRIPT):
    env = dict(os.environ, GRADJIT_CACHE_DIR=str(cache_dir), PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return out


def _counts(out):
    line = next(s for s in out.stdout.splitlines() if s.startswith("compiles"))
    words = line.split()
    return int(words[1]), int(words[3])


def _result(out):
    return next(s for s in out.stdout.splitlines() if s.startswith("result"))


def _entries(root, library=False):
    """The cache entries of compiled functions (or of runtime/support.py's objects)."""
    paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".o")]
    return [p for p in paths if library == _is_library(p)]


def _is_library(path):
    with open(path, "rb") as f:
        return b'"symbol": "gj_lib_' in f.read()


def test_second_process_loads_without_compiling_and_damage_is_rebuilt(tmp_path):
    root = tmp_path / "cache"
    first = _run(root)
    assert _counts(first) == (1, 2)  # loads: the quick tier's code, then the optimized code
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    second = _run(root)
    assert _counts(second) == (0, 1)  # loaded from disk, LLVM never ran
    assert _result(second) == _result(first)
    (entry,) = _entries(root)
    with open(entry, "r+b") as f:  # corrupt the object code
        f.seek(os.path.getsize(entry) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    third = _run(root)
    assert _counts(third) == (1, 2) and "damaged entry" in third.stderr
    assert _result(third) == _result(first)
    with open(entry, "r+b") as f:  # truncated entries are rebuilt too
        f.truncate(100)
    assert _counts(_run(root)) == (1, 2)
    assert _counts(_run(root)) == (0, 1)  # and the rebuilt entry is good again


def test_unwritable_cache_degrades_to_memory_with_a_warning(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    out = _run(blocker / "cache")
    assert _counts(out) == (1, 2)
    assert "cached in memory only" in out.stderr


def test_concurrent_compiles_both_succeed(tmp_path):
    root = tmp_path / "cache"
    env = dict(os.environ, GRADJIT_CACHE_DIR=str(root), PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    results = {next(s for s in o.splitlines() if s.startswith("result")) for o, _ in outs}
    assert len(results) == 1
    assert len(_entries(root)) == 1
    assert _counts(_run(root)) == (0, 1)  # the entry the racers left behind is valid


def test_cache_entries_verify_their_content(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADJIT_CACHE_DIR", str(tmp_path))
    assert cache.store("ab" * 32, {"symbol": "s", "ws_size": 0}, b"object bytes")
    header, obj = cache.load("ab" * 32)
    assert obj == b"object bytes" and header["symbol"] == "s"
    assert cache.load("cd" * 32) is None


def test_one_compiled_function_called_from_8_threads_at_once():
    # ctypes releases the GIL, so the calls overlap: each thread needs its own workspace
    import threading

    def f(a, b):
        h = np.tanh(a @ b)
        return np.sum(h * h, axis=1) + np.exp(-a).sum(axis=1)

    g = gradjit.jit(f, backend="llvm")
    rng = np.random.default_rng(0)
    inputs = [(rng.normal(size=(64, 48)), rng.normal(size=(48, 32))) for _ in range(8)]
    expected = [f(a, b) for a, b in inputs]
    g(*inputs[0])
    failures = []

    def worker(k):
        for _ in range(200):
            got = g(*inputs[k])
            if not np.allclose(got, expected[k], rtol=1e-12, atol=1e-12):
                failures.append(k)
                return

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_in_memory_cache_is_bounded_lru(monkeypatch):
    import gradjit.runtime as rt

    monkeypatch.setattr(rt, "_MEMORY_MAX", 3)
    rt._memory.clear()
    fns = [gradjit.jit(lambda x, k=k: x * k + 1.0).trace(np.ones(4)) for k in range(5)]
    runners = [rt.compile_function(fn) for fn in fns]
    assert len(rt._memory) == 3
    rt.compile_function(fns[2])  # touched: now the most recent
    rt.compile_function(fns[0])  # evicts the least recent (fns[3])
    assert rt.compile_function(fns[2]) is runners[2]
    np.testing.assert_allclose(runners[0]([np.arange(4.0)])[0], np.arange(4.0) * 0 + 1.0)
    np.testing.assert_allclose(runners[4]([np.arange(4.0)])[0], np.arange(4.0) * 4 + 1.0)


def test_compiling_from_several_threads_is_safe():
    import threading

    results = {}

    def worker(k):
        f = gradjit.jit(lambda x: np.sin(x) * (k + 1), backend="llvm")
        results[k] = f(np.linspace(0, 1, 7))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        np.testing.assert_allclose(results[k], np.sin(np.linspace(0, 1, 7)) * (k + 1))


def test_a_cache_directory_others_can_write_is_refused(tmp_path, monkeypatch):
    import gradjit.runtime as rt
    from gradjit.runtime import cache

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("GRADJIT_CACHE_DIR", str(shared))
    rt._memory.clear()
    fn = gradjit.jit(lambda x: np.cos(x) * 3.0).trace(np.ones(3))
    with pytest.warns(RuntimeWarning, match="refusing .*others can write"):
        run = rt.compile_function(fn)
    np.testing.assert_allclose(run([np.zeros(3)])[0], [3.0, 3.0, 3.0])
    assert cache.entries() == []  # nothing stored, so nothing can be planted and loaded


def test_a_call_over_the_memory_limit_is_refused_before_allocating(monkeypatch):
    import gradjit.runtime as rt

    monkeypatch.setenv("GRADJIT_MEMORY_LIMIT", "1M")
    rt._memory.clear()
    f = gradjit.jit(lambda x: np.outer(x, x) * 2.0, backend="llvm")
    with pytest.raises(MemoryError, match=r"needs 7\.63 GiB .* over the limit of 1\.00 MiB"):
        f(np.ones(32000))  # a 32000 x 32000 f64 output: refused, not attempted
    np.testing.assert_allclose(f(np.ones(4)), np.full((4, 4), 2.0))  # small calls still run


def test_four_processes_compiling_the_same_function_all_succeed(tmp_path):
    # a shared cache directory, cold: every process compiles and stores; one valid entry remains
    script = (
        "import numpy as np, gradjit\n"
        "f = gradjit.jit(lambda x: np.sum(np.tanh(x) * np.exp(-x * x)), backend='llvm')\n"
        "x = np.linspace(-1, 1, 1000)\n"
        "print(repr(float(f(x))))\n")
    env = dict(os.environ, GRADJIT_CACHE_DIR=str(tmp_path / "shared"))
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    x = np.linspace(-1, 1, 1000)
    want = float(np.sum(np.tanh(x) * np.exp(-x * x)))
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert float(out) == pytest.approx(want, rel=1e-12)
    from gradjit.runtime import cache

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADJIT_CACHE_DIR", str(tmp_path / "shared"))
        entries = [e for e in cache.entries() if e.endswith(".o")]
        symbols = sorted(cache.load(os.path.basename(e)[:-2])[0]["symbol"] for e in entries)
        library = [s for s in symbols if s.startswith("gj_lib_")]
        assert library == ["gj_lib_exp_f64", "gj_lib_py_entry", "gj_lib_tanh_f64"]  # support
        assert len(symbols) == 4  # and the function: one entry each
        assert not [e for e in cache.entries() if ".tmp-" in e]


def test_runner_reports_its_workspace_bytes_fresh_and_from_the_disk_cache(monkeypatch):
    """`workspace_bytes` is the planner's size, also for an object loaded from disk (the
    benchmarks report it) and for the C ABI runner."""
    from gradjit.runtime import _memory, call, jit, lower_text
    from gradjit.runtime import wait_optimized as rt_wait

    def f(x):
        t = np.exp(x)
        return np.sum(t[::-1] * t)  # t is read reversed: it needs a workspace buffer

    fn = gradjit.jit(f).trace(np.ones(300))
    want = lower_text(fn)[0].plan.ws_size
    assert want >= 300 * 8
    assert compile_function(fn).workspace_bytes == want
    rt_wait()
    _memory.clear()
    before = jit.STATS["compiles"]
    assert compile_function(fn).workspace_bytes == want
    assert jit.STATS["compiles"] == before  # that one came from the disk cache
    low, text = lower_text(fn)
    monkeypatch.setattr(call, "numpy_layout_ok", lambda: False)
    run = call.make_runner(jit.Engine(jit.compile_object(text)), low.name, want,
                           fn.in_types, fn.out_types)
    assert run.workspace_bytes == want
