"""`python -m fuzz` (run from tests/, as `make fuzz N=...` does): generate, check, shrink, report.

    GRADJIT_FUZZ_SEED   seed (default 0)           GRADJIT_FUZZ_N        programs (default 200)
    GRADJIT_FUZZ_TIMEOUT  seconds per program (60) GRADJIT_FUZZ_BACKENDS "auto" (every extra
                                                   backend that imports), "none", or "llvm,..."
    GRADJIT_FUZZ_EXTRA_EVERY  k (default 1): the jvp, vjp, vmap, jac and hess checks run on
                          every k-th program (ir, interp and grad run on every one)
    --jobs J runs J worker processes; --start I begins at program I (to rerun one program:
    --start I --n 1); --no-shrink skips shrinking.

Prints one line per failure, shrinks each failure to a reproducer (written to
tests/fuzz/failures/ and printed), and ends with counts, skip reasons, primitive coverage and
timings. Exits 1 when a program failed.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time

from .runner import Settings, run_programs


def _private_cache():
    """Compiled programs go to a throwaway cache directory, not the user's (unless set)."""
    if "GRADJIT_CACHE_DIR" not in os.environ:
        path = tempfile.mkdtemp(prefix="gradjit-fuzz-cache-")
        os.environ["GRADJIT_CACHE_DIR"] = path
        atexit.register(shutil.rmtree, path, ignore_errors=True)


def main(argv=None) -> int:
    _private_cache()
    s = Settings.from_env()
    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=s.n)
    ap.add_argument("--seed", type=int, default=s.seed)
    ap.add_argument("--start", type=int, default=0, help="index of the first program")
    ap.add_argument("--timeout", type=float, default=s.timeout)
    ap.add_argument("--backends", default=s.backends_spec)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--shrink-budget", type=float, default=120.0)
    ap.add_argument("--extra-every", type=int, default=s.extra_every,
                    help="run jvp/vjp/vmap/jac/hess on every k-th program only")
    opts = ap.parse_args(argv)
    s = Settings(opts.n, opts.seed, opts.timeout, opts.backends, opts.start,
                 0.0 if opts.no_shrink else opts.shrink_budget, opts.extra_every)
    print(f"fuzz: seed {s.seed}, programs {s.start}..{s.start + s.n - 1}, checks "
          f"{', '.join(s.checks)}", flush=True)
    start = time.perf_counter()
    report = run_programs(s, on_failure=lambda line: print(line, flush=True), jobs=opts.jobs)
    elapsed = time.perf_counter() - start
    for repro in report.reproducers:
        print("\n" + "=" * 100 + "\n" + repro, flush=True)
    print(report.summary(elapsed))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
