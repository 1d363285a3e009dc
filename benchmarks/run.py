"""`make bench`: every workload (W1-W8, LSTM), first-call and compile latency, peak memory,
and the performance targets, for gradjit and its peers, one thread for all.

Peers: numpy with a hand-written gradient (always), PyTorch eager and JAX jit(grad) when
importable; a missing peer is reported as missing. Times are medians of repeats; ratios are
peer time / gradjit time (> 1: gradjit is faster). `--json PATH` also writes the results
(scripts/readme_perf.py renders them into the README); `--no-memory` (or
GRADJIT_BENCH_MEMORY=0) skips the memory runs (GRADJIT_BENCH_JOBS=2 run at a time);
GRADJIT_BENCH=W5,W7 runs a subset. The process runs on one core (GRADJIT_BENCH_CPU=k picks
it, =all does not pin).
"""

from __future__ import annotations

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # before numpy loads its BLAS
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")


def pin_one_core() -> str:
    """Run the whole process on one core, before any library starts a thread: XLA's CPU
    runtime ignores the flags above and used ~1.5-1.7 cores for W2 and W3 (process CPU time
    / wall time), so "1 thread for all" needs the kernel's affinity. GRADJIT_BENCH_CPU=all
    leaves the process unpinned (the memory children, which do not time anything)."""
    want = os.environ.get("GRADJIT_BENCH_CPU", "")
    if want == "all" or not hasattr(os, "sched_setaffinity"):
        return "unpinned"
    cpu = int(want) if want else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


PINNED = pin_one_core()

import argparse
import datetime
import json
import platform
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memory
import report
import workloads as W
import workloads_gmm as WG
import workloads_lstm as W3
import workloads_more as W2

import gradjit

WORKLOADS = {**W.WORKLOADS, **W2.WORKLOADS, **WG.WORKLOADS, **W3.WORKLOADS}


def median_times(impls: dict, budget=0.4, repeats=7) -> dict:
    """Median seconds per call of each implementation, over `repeats` rounds; a round times one
    batch (sized to fill about budget / repeats seconds) of each implementation in turn, so a
    slow spell of this shared machine falls on all of them rather than on one."""
    inner = {name: _batch_size(fn, budget / repeats) for name, fn in impls.items()}
    samples = {name: [] for name in impls}
    for _ in range(repeats):
        for name, fn in impls.items():
            t = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            samples[name].append((time.perf_counter() - t) / inner[name])
    return {name: float(np.median(s)) for name, s in samples.items()}


def _batch_size(fn, seconds: float) -> int:
    """Calls of fn (after a warm-up call, and gradjit's optimized code) that take about
    `seconds`."""
    from gradjit.runtime import wait_optimized

    fn()
    wait_optimized()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds / 4 or n < 1:
        fn()
        n += 1
    return max(1, int(seconds / ((time.perf_counter() - start) / n)))


def w7_pairs() -> dict:
    """Each library's W7 gradient and objective timed in the same rounds (their ratio is the
    target; timed in separate rows minutes apart, the machine's drift showed up in it)."""
    impls = {}
    for kind, grad in (("grad", True), ("objective", False)):
        impls.update({(name, kind): fn for name, fn in WG._impls(grad).items()})
    times = median_times(impls)
    return {name: times[name, "grad"] / times[name, "objective"]
            for name, kind in impls if kind == "grad"}


def check(impls):
    """All implementations agree with gradjit (so the table compares equal work)."""
    ref = [np.asarray(a, np.float64) for a in _flat(impls["gradjit"]())]
    for name, fn in impls.items():
        got = [np.asarray(a, np.float64) for a in _flat(fn())]
        for r, g in zip(ref, got):
            if not np.allclose(r, g, rtol=2e-3, atol=1e-5):
                raise AssertionError(f"{name} disagrees with gradjit")


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [y for item in x for y in _flat(item)]
    return [x.detach().numpy() if hasattr(x, "detach") else x]


def _f10(x, y):  # 10 instructions once traced (checked when printed)
    return np.sum(np.tanh(x * y) * np.exp(-x) - np.sin(y) * np.cos(x))


def _f16(x, y, k):  # the earlier benchmark's function: 16 instructions
    return np.sum(np.tanh(x * y + k) * np.exp(-x) - np.sin(y) / (1 + x * x))


def compile_latency(name, transform, args) -> dict:
    """Compile latency in seconds, median of 5: `transform()` traced on `args(k)`, the k-th
    with a different shape, hence IR text and cache key, so every compile is cold. 'cold': until
    the first runnable code (the quick tier's, runtime/tiers.py, where it applies); 'optimized':
    how much later the optimized code runs; 'warm': a load from the disk cache."""
    from gradjit.runtime import _memory, compile_function, jit, wait_optimized

    with tempfile.TemporaryDirectory() as d:
        os.environ["GRADJIT_CACHE_DIR"] = d
        cold, optimized, warm = [], [], []
        for k in range(5):
            fn = transform().trace(*args(k))
            wait_optimized()  # an idle compiler
            t = time.perf_counter()
            compile_function(fn)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            wait_optimized()
            optimized.append(time.perf_counter() - t)
            _memory.clear()
            before = jit.STATS["compiles"] + jit.STATS["quick"]
            t = time.perf_counter()
            compile_function(fn)
            warm.append(time.perf_counter() - t)
            assert jit.STATS["compiles"] + jit.STATS["quick"] == before, "warm load compiled"
        os.environ.pop("GRADJIT_CACHE_DIR")
    return {"name": name, "ops": len(fn.body), "cold": float(np.median(cold)),
            "optimized": float(np.median(optimized)), "warm": float(np.median(warm))}


_vectors = lambda k: (np.ones(100 + k), np.ones(100 + k))  # noqa: E731
COMPILE_CASES = [  # (name, transform, k -> arguments)
    ("gradient of the 10-op function", lambda: gradjit.grad(_f10, argnums=(0, 1)), _vectors),
    ("10-op function", lambda: gradjit.jit(_f10), _vectors),
    ("16-op function (earlier benchmark)", lambda: gradjit.jit(_f16, static_argnums=(2,)),
     lambda k: (np.ones(100), np.ones(100), k + 1)),
]


FIRST_CALL_REPEATS = {"gradjit": 5}  # others 1: JAX's first call takes ~5 s


def first_calls() -> dict:
    """W4's first call (fresh transform, empty caches) for gradjit and JAX, median seconds (one
    sample of gradjit's once read 467 ms among runs of 59-111)."""
    out = {}
    for name, fn in W.w4_first_call().items():
        samples = []
        for _ in range(FIRST_CALL_REPEATS.get(name, 1)):
            gradjit.runtime.wait_optimized()  # (an idle compiler)
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        out[name] = float(np.median(samples))
    return out


def runner_overhead() -> dict:
    """W1 split, in seconds: the kernel's builtin alone (what `grad(f)(x, y)` calls), its array
    runner, and a bare ctypes call of the same compiled kernel (its `_s` entry)."""
    import ctypes

    from gradjit.runtime import compile_function

    g = gradjit.grad(W.w1_f, argnums=(0, 1))
    g(0.7, -0.3)
    run = compile_function(g.trace(0.7, -0.3))
    a, b = np.asarray(0.7), np.asarray(-0.3)
    kernel = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_double, ctypes.c_double, ctypes.c_void_p,
                              ctypes.c_void_p)(run.engine.address(run.symbol + "_s"))
    out = ctypes.addressof((ctypes.c_double * 2)())
    native = g._native
    return median_times({"runner": lambda: run([a, b]),
                         "ctypes": lambda: kernel(0.7, -0.3, out, None),
                         "builtin": lambda: native(0.7, -0.3)})


def machine() -> dict:
    """Where and with what the run happened (for the README)."""
    import llvmlite

    from gradjit.runtime import jit

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "llvmlite": llvmlite.__version__, "gradjit": gradjit.__version__}
    for name, mod in (("torch", W.torch), ("jax", W.jax)):
        versions[name] = mod.__version__ if mod is not None else "missing"
    return {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "cpu": cpu, "llvm_cpu": jit.target_id().split("|")[1], "cores": os.cpu_count(),
            "threads": 1, "pinned": PINNED, "versions": versions, "missing": dict(W.MISSING)}


def selected(label: str, only: str) -> bool:
    return not only or any(label.startswith(k) for k in only.split(","))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="PATH", help="also write the results here")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    ap.add_argument("--memory-one", nargs=2, metavar=("LABEL", "IMPL"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_one:
        return memory.child(WORKLOADS, *args.memory_one)
    start = time.perf_counter()
    data = {"meta": machine(), "rows": {}}
    missing = "; ".join(f"{p} ({why})" for p, why in W.MISSING.items()) or "none"
    print(f"gradjit {gradjit.__version__}; numpy {np.__version__}; 1 thread, {PINNED}; "
          f"missing peers: {missing}")
    print(report.header())
    only = os.environ.get("GRADJIT_BENCH", "")  # e.g. GRADJIT_BENCH=W5,W8: a subset
    for label, (make, scale) in WORKLOADS.items():
        if selected(label, only):
            impls = make()
            check(impls)
            times = median_times(impls)
            data["rows"][label] = {"scale": scale, "times": times}
            print(report.row(label, times, scale), flush=True)
    if selected("W7", only):
        data["w7_pairs"] = w7_pairs()
    if selected("W4 first call", only):
        data["w4_first_call"] = first_calls()
    if selected("W1 per-call", only):
        data["w1_split"] = runner_overhead()
    if selected("compile", only):
        data["compile"] = [compile_latency(*case) for case in COMPILE_CASES]
    print("\n".join(report.summary_lines(data)), flush=True)
    timed = time.perf_counter() - start
    if not args.no_memory and os.environ.get("GRADJIT_BENCH_MEMORY", "1") != "0":
        if memory.supported():
            print(report.MEMORY_TITLE)
            print(report.memory_header())
            data["memory"] = memory.measure_all(
                os.path.abspath(__file__), data["rows"],
                lambda label, cells: print(report.memory_row(label, cells), flush=True),
                jobs=int(os.environ.get("GRADJIT_BENCH_JOBS", "2")))
        else:
            print("memory: not measured (needs Linux's /proc/self/clear_refs)")
    print("\n".join(report.target_lines(data)))
    print(f"bench: {time.perf_counter() - start:.0f} s ({timed:.0f} s timing)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
