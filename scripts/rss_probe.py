"""Resident memory over many compile/call cycles of one jitted gradient.

Calls `gradjit.grad(loss)` (default LLVM backend) on `--shapes` distinct input sizes, then keeps
cycling through them until `--calls` calls are made, and prints the resident set size (VmRSS
from /proc/self/status) at the start, after the warm-up (one call per shape: every shape
compiled once), halfway through the rest and at the end, plus the compile/load counts and the
sizes of the in-memory caches. The compile cache is a throwaway directory.

With the default in-memory cache bound (GRADJIT_MEMORY_CACHE=1024) every shape stays compiled
and the calls after the warm-up must not grow RSS at all; with a small bound (`--memory-cache 4`)
every call after the warm-up evicts, re-stages and reloads a function from the disk cache, and
RSS must stay flat as well (a leaked engine per reload would show as ~60 KB per call).

    python scripts/rss_probe.py                                 # 10,000 calls, 500 shapes
    python scripts/rss_probe.py --shapes 40 --calls 240 --memory-cache 4 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def loss(x):
    import numpy as np

    return np.sum(np.tanh(x) * np.exp(-x * x) + np.sin(x) ** 2)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", type=int, default=500)
    p.add_argument("--calls", type=int, default=10_000)
    p.add_argument("--memory-cache", type=int, default=None,
                   help="GRADJIT_MEMORY_CACHE for this run (default: gradjit's own)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.memory_cache is not None:  # read when gradjit is imported
        os.environ["GRADJIT_MEMORY_CACHE"] = str(args.memory_cache)
    cache_dir = tempfile.mkdtemp(prefix="gradjit-rss-")
    os.environ["GRADJIT_CACHE_DIR"] = cache_dir
    try:
        return _run(args)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def _run(args) -> dict:
    import numpy as np

    import gradjit
    import gradjit.runtime as rt
    from gradjit.runtime import jit

    f = gradjit.grad(loss)
    xs = [np.linspace(-1.0, 1.0, 3 + k) for k in range(args.shapes)]
    report = {"shapes": args.shapes, "calls": args.calls, "memory_cache": rt._MEMORY_MAX,
              "rss_start_mb": rss_mb()}
    t0 = time.perf_counter()
    for x in xs:  # warm-up: every shape compiled once
        f(x)
    rt.wait_optimized()  # (and its optimized code stored in the disk cache)
    report.update(rss_warm_mb=rss_mb(), compiles_warm=jit.STATS["compiles"],
                  loads_warm=jit.STATS["loads"])
    rest = max(args.calls - args.shapes, 0)
    for k in range(rest):
        x = xs[k % args.shapes]
        g = f(x)
        if k == rest // 2 - 1:
            report.update(rss_mid_mb=rss_mb(), loads_mid=jit.STATS["loads"],
                          compiles_mid=jit.STATS["compiles"])
        if k % 997 == 0:  # the results stay right: d/dx of tanh(x) e^{-x^2} + sin(x)^2
            want = ((1 - np.tanh(x) ** 2) * np.exp(-x * x) - 2 * x * np.tanh(x) *
                    np.exp(-x * x) + np.sin(2 * x))
            assert np.allclose(g, want, rtol=1e-10, atol=1e-12)
    report.setdefault("rss_mid_mb", rss_mb())
    report.setdefault("loads_mid", jit.STATS["loads"])
    report.setdefault("compiles_mid", jit.STATS["compiles"])
    report.update(rss_end_mb=rss_mb(), compiles=jit.STATS["compiles"], loads=jit.STATS["loads"],
                  memory_cache_entries=len(rt._memory), transform_signatures=len(f.cache),
                  seconds=round(time.perf_counter() - t0, 1))
    return report


def _print(report: dict) -> None:
    print(f"{report['calls']} calls over {report['shapes']} shapes, "
          f"GRADJIT_MEMORY_CACHE={report['memory_cache']}, {report['seconds']} s")
    for label, key in [("start", "rss_start_mb"), ("after warm-up", "rss_warm_mb"),
                       ("midway", "rss_mid_mb"), ("end", "rss_end_mb")]:
        print(f"  RSS {label:<14} {report[key]:8.1f} MB")
    print(f"  after warm-up: {report['rss_end_mb'] - report['rss_warm_mb']:+.1f} MB; "
          f"second half: {report['rss_end_mb'] - report['rss_mid_mb']:+.1f} MB")
    print(f"  compiles {report['compiles']}, loads {report['loads']}, in-memory cache "
          f"{report['memory_cache_entries']} entries, transform cache "
          f"{report['transform_signatures']} signatures")


if __name__ == "__main__":
    result = main()
    if "--json" in sys.argv:
        print(json.dumps(result))
    else:
        _print(result)
