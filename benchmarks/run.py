"""`make bench`: W1-W5 and compile latency for gradjit and its peers, one thread for all.

Peers: numpy with a hand-written gradient (always), PyTorch eager and JAX jit(grad) when
importable; a missing peer is reported as missing. Times are medians of repeats; ratios are
peer time / gradjit time (> 1: gradjit is faster).
"""

from __future__ import annotations

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # before numpy loads its BLAS
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads as W
import workloads_more as W2
import workloads_lstm as W3

import gradjit

PEERS = ["numpy by hand", "torch", "jax"]


def median_time(fn, budget=0.4, repeats=7) -> float:
    """Median seconds per call over `repeats` batches sized to fill about `budget` seconds."""
    fn()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < budget / repeats / 4 or n < 1:
        fn()
        n += 1
    per = (time.perf_counter() - start) / n
    inner = max(1, int(budget / repeats / per))
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t) / inner)
    return float(np.median(samples))


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


def row(label, times, scale):
    g = times["gradjit"]
    cells = [f"{label:<30}", f"{g * scale:>10.3g}"]
    for peer in PEERS:
        t = times.get(peer)
        cells.append(f"{t * scale:>10.3g} {t / g:>6.2f}x" if t else f"{'missing':>17}")
    print(" ".join(cells))


def compile_latency():
    """Cold compile of a 10-op function and a warm load from the disk cache, in ms."""
    from gradjit.runtime import _memory, compile_function, jit

    with tempfile.TemporaryDirectory() as d:
        os.environ["GRADJIT_CACHE_DIR"] = d
        cold, warm = [], []
        for k in range(5):
            def f(x, y, k=k):  # k changes the IR text, hence the cache key: every compile is cold
                return np.sum(np.tanh(x * y + k) * np.exp(-x) - np.sin(y) / (1 + x * x))

            fn = gradjit.jit(f).trace(np.ones(100), np.ones(100))
            t = time.perf_counter()
            compile_function(fn)
            cold.append(time.perf_counter() - t)
            _memory.clear()
            before = jit.STATS["compiles"]
            t = time.perf_counter()
            compile_function(fn)
            warm.append(time.perf_counter() - t)
            assert jit.STATS["compiles"] == before, "warm load compiled"
    n_ops = len(fn.body)
    print(f"compile latency ({n_ops}-op function): cold {np.median(cold) * 1e3:.1f} ms, "
          f"warm load from disk cache {np.median(warm) * 1e3:.2f} ms")


def main():
    missing = "; ".join(f"{p} ({why})" for p, why in W.MISSING.items()) or "none"
    print(f"gradjit {gradjit.__version__}; numpy {np.__version__}; 1 thread; "
          f"missing peers: {missing}")
    header = " ".join([f"{'workload':<30}", f"{'gradjit':>10}"] +
                      [f"{p:>17}" for p in PEERS])
    print(header)
    only = os.environ.get("GRADJIT_BENCH", "")  # e.g. GRADJIT_BENCH=W5,W8: a subset
    for label, (make, scale) in {**W.WORKLOADS, **W2.WORKLOADS, **W3.WORKLOADS}.items():
        if only and not any(label.startswith(k + " ") or label.startswith(k) for k in
                            only.split(",")):
            continue
        impls = make()
        check(impls)
        row(label, {name: median_time(fn) for name, fn in impls.items()}, scale)
    first = W.w4_first_call()
    t = time.perf_counter()
    first()
    print(f"W4 first call (trace + grad + compile + run): {(time.perf_counter() - t) * 1e3:.0f} ms")
    runner_overhead()
    compile_latency()


def runner_overhead():
    """W1 split: the compiled runner alone, and a bare ctypes call, in us."""
    import ctypes

    from gradjit.runtime import compile_function

    fn = gradjit.grad(W.w1_f, argnums=(0, 1)).trace(0.7, -0.3)
    run = compile_function(fn)
    a, b = np.asarray(0.7), np.asarray(-0.3)
    libm = ctypes.CDLL(None)
    cos = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(
        ctypes.cast(libm.cos, ctypes.c_void_p).value)
    print(f"W1 per-call split: compiled runner {median_time(lambda: run([a, b])) * 1e6:.2f} us, "
          f"bare ctypes call {median_time(lambda: cos(0.5)) * 1e6:.2f} us")


if __name__ == "__main__":
    main()
