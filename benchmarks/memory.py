"""Peak memory of each (workload, implementation), each in a fresh process so that peaks, caches
and one library's imports never show in another's numbers.

The child (`run.py --memory-one LABEL IMPL`, importing only that peer) builds the workload, then
measures against its size after set-up: the peak of the first call (which traces and compiles,
for gradjit and JAX) and the peak of later calls over the size just before them. Peaks are
Linux's VmHWM, reset between phases through /proc/self/clear_refs. glibc's malloc gets a fixed
mmap threshold, so freed arrays go back to the system and a later call's peak is its own (with
the default, the first call's freed arrays stay in the heap and hide the later calls' use). For
gradjit it also reports the workspace bytes of every object the workload compiled (the runner's
`workspace_bytes`): it is held between calls, so it is in the first call's peak only.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

PEER_MODULES = {"torch": "torch", "jax": "jax"}  # implementations that need a peer imported


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # Linux >= 4.0: VmHWM := VmRSS


def supported() -> bool:
    try:
        _status("VmHWM")
        _reset_peak()
        return True
    except OSError:
        return False


def workspace_bytes() -> int:
    """Scratch bytes of every object compiled in this process (one per compiled function)."""
    from gradjit.runtime import _memory

    return sum(getattr(r, "workspace_bytes", 0) for r in _memory.values())


def measure(make, impl: str, budget: float = 0.5) -> dict:
    fn = make()[impl]
    gc.collect()
    base = _status("VmRSS")
    _reset_peak()
    fn()
    if impl == "gradjit":  # the first call's peak includes compiling its optimized code
        from gradjit.runtime import wait_optimized

        wait_optimized()
    first = _status("VmHWM") - base
    gc.collect()
    before = _status("VmRSS")
    _reset_peak()
    start, runs = time.perf_counter(), 0
    while runs < 2 or (runs < 20 and time.perf_counter() - start < budget):
        fn()
        runs += 1
    result = {"first": first, "steady": _status("VmHWM") - before, "runs": runs}
    if impl == "gradjit":
        result["workspace"] = workspace_bytes()
    return result


def child(workloads: dict, label: str, impl: str) -> None:
    """The `--memory-one` side: one JSON line on stdout."""
    print(json.dumps(measure(workloads[label][0], impl)))


def _one(run_py: str, label: str, impl: str, cache_dir: str) -> dict:
    env = {**os.environ, "GRADJIT_BENCH_PEERS": PEER_MODULES.get(impl, ""),
           "GRADJIT_CACHE_DIR": cache_dir,  # an empty disk cache: the first call compiles
           "GRADJIT_BENCH_CPU": "all",  # two run at a time; they measure memory, not time
           "MALLOC_MMAP_THRESHOLD_": "65536"}
    proc = subprocess.run([sys.executable, run_py, "--memory-one", label, impl], env=env,
                          capture_output=True, text=True, timeout=600)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(lines[-1])


def _one_in_tmp(run_py: str, label: str, impl: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="gradjit-mem-") as d:
        return _one(run_py, label, impl, d)


def measure_all(run_py: str, rows: dict, on_row=None, jobs: int = 2) -> dict:
    """{label: {impl: result}} for every row measured for time (first-call rows measure the
    same code as their steady rows, so they are left out), `jobs` processes at a time (peaks
    are per process, so they do not mix); `on_row(label, cells)` as each row completes."""
    out = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {label: {impl: pool.submit(_one_in_tmp, run_py, label, impl)
                           for impl in r["times"]}
                   for label, r in rows.items() if "first call" not in label}
        for label, cells in futures.items():
            out[label] = {impl: f.result() for impl, f in cells.items()}
            if on_row is not None:
                on_row(label, out[label])
    return out
