"""Two tiers of compiled code: a function first runs code from a quick compile, while a
background thread compiles it again with the full O3 pipeline, stores that object in the disk
cache and points the runner at it.

The quick tier (jit.compile_object(quick=True)) runs three cheap passes and FastISel. For a
function with one loop the LLVM part takes ~4 ms instead of ~16, so a new gradient is
runnable in about a third of the time; its code is not vectorized and runs 2-6x slower
until the optimized code takes over, ~20 ms later.

Both tiers compute the same bits (a NaN's sign aside): LLVM's optimizations do not change
floating-point results of IR without fast-math flags, and gradjit's IR has none. Its float sums
and products run in a fixed order of lanes (codegen/loops.py, LANES), not by the vectorizer's
reassociation. Functions with a scalar entry compile once, at O3: their CPython builtin holds
its code's address. `GRADJIT_TIERS=0` turns the quick tier off.

The worker is a non-daemon thread that exits when it has nothing to do, so the interpreter
waits for a compile in flight before it exits, and forks wait for it too (a child must not
inherit LLVM's lock held).
"""

from __future__ import annotations

import collections
import logging
import os
import threading

from ..codegen.entry import is_scalar
from . import cache, jit
from .call import numpy_layout_ok

log = logging.getLogger("gradjit.runtime")
_jobs: collections.deque = collections.deque()
_state = threading.Condition()
_pending = [0]  # jobs submitted and not finished
_worker: list[threading.Thread | None] = [None]


def enabled() -> bool:
    return os.environ.get("GRADJIT_TIERS", "1") != "0"


def eligible(low) -> bool:
    """May this lowered function start on quick code? (see the module docstring)"""
    return enabled() and not is_scalar(low.fn) and numpy_layout_ok()


def start(key: str, text: str, suffix: str, header: dict, make_runner):
    """A runner on the quick tier's code now; the optimized object is compiled, stored under
    `key` and swapped in by the worker. `suffix` ends the text's symbols (the quick object's
    get a "q" more: objects share engines); `make_runner(engine, symbol)` builds a runner."""
    quick = jit.compile_object(text.replace(suffix, suffix + "q"), stat="quick", quick=True)
    run = make_runner(jit.Engine(quick, key + "q"), header["symbol"] + "q")
    root = cache.cache_dir()  # (the directory in effect now, whatever it is when stored)

    def optimize():
        obj = jit.compile_object(text)
        cache.store(key, header, obj, root)
        run.promote(jit.Engine(obj, key), header["symbol"])

    _submit(optimize, header["symbol"])
    return run


def _submit(job, name: str) -> None:
    with _state:
        _jobs.append((job, name))
        _pending[0] += 1
        if _worker[0] is None:
            _worker[0] = threading.Thread(target=_work, name="gradjit-optimize")
            _worker[0].start()


def _work() -> None:
    while True:
        with _state:
            if not _jobs:
                _worker[0] = None
                return
            job, name = _jobs.popleft()
        try:
            job()
        except Exception as e:  # noqa: BLE001  (the quick code keeps running: still correct)
            log.warning("optimizing %s failed, its quick code stays: %s", name, e)
        finally:
            with _state:
                _pending[0] -= 1
                _state.notify_all()


def wait(timeout: float | None = None) -> bool:
    """Block until every function compiled so far runs its optimized code (or `timeout`
    seconds passed); True when none is pending. Benchmarks call it before timing."""
    with _state:
        return _state.wait_for(lambda: _pending[0] == 0, timeout)


os.register_at_fork(before=wait)
