"""Running checks on a case: a time limit per program, outcomes, and process isolation for
compiled backends (a native crash such as an LLVM assertion aborts only a forked child, and is
reported as a crash of that check instead of killing the fuzzer)."""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field

from .checks import run_check
from .compare import Mismatch
from .oracle import Case, Skip


class Timeout(BaseException):
    """A program ran past its time limit (a BaseException, so no `except Exception` eats it)."""


@contextmanager
def time_limit(seconds: float):
    def expire(signum, frame):
        raise Timeout(f"over the {seconds:g} s limit")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Outcome:
    check: str | None = None  # the failing check (None: passed)
    kind: str = ""  # "mismatch", "crash" or "timeout"
    message: str = ""
    error_type: str = ""
    skipped: list = field(default_factory=list)  # (check, reason)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.check is not None

    @property
    def signature(self) -> tuple:
        """What shrinking must preserve: the same check failing the same way."""
        return (self.check, self.kind, self.error_type)


def _run_here(case: Case, names, timeout: float) -> Outcome:
    out = Outcome()
    current = None
    try:
        with time_limit(timeout):
            for current in names:
                try:
                    run_check(case, current)
                except Skip as s:
                    out.skipped.append((current, str(s)))
    except Timeout as e:
        out.check, out.kind, out.message, out.error_type = current, "timeout", str(e), "Timeout"
    except Mismatch as e:
        out.check, out.kind, out.message, out.error_type = current, "mismatch", str(e), ""
    except Exception as e:  # noqa: BLE001 (a crash anywhere in gradjit is a finding)
        out.check, out.kind, out.error_type = current, "crash", type(e).__name__
        out.message = "".join(traceback.format_exception(e)[-12:])
    return out


def _run_forked(case: Case, name: str, timeout: float) -> Outcome:
    """Run one check in a forked child; a child that dies or hangs is a crash or a timeout."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, send the outcome, exit without cleanup
        os.close(read)
        try:
            data = pickle.dumps(_run_here(case, [name], timeout))
            os.write(write, data)
        finally:
            os._exit(0)
    os.close(write)
    chunks, deadline = [], time.monotonic() + timeout + 10
    with os.fdopen(read, "rb", buffering=0) as pipe:
        while select.select([pipe], [], [], max(deadline - time.monotonic(), 0))[0]:
            chunk = pipe.read(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        else:  # stuck where even the alarm cannot interrupt it (native code)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return Outcome(name, "timeout", "the child process hung; killed", "Timeout")
    _, status = os.waitpid(pid, 0)
    if chunks:
        return pickle.loads(b"".join(chunks))
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    return Outcome(name, "crash", f"the process died (signal {sig}, status {status}): a native "
                   "crash in the backend", f"Signal{sig}")


def run_case(case: Case, names, timeout: float) -> Outcome:
    """The checks in order (the first failure ends the program); backends in a child process."""
    start = time.perf_counter()
    core = [n for n in names if not n.startswith("backend:")]
    out = _run_here(case, core, timeout)
    for name in [n for n in names if n.startswith("backend:")]:
        if out.failed:
            break
        sub = _run_forked(case, name, timeout)
        out.skipped += sub.skipped
        if sub.failed:
            sub.skipped = out.skipped
            out = sub
    out.seconds = time.perf_counter() - start
    return out
