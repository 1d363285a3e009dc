"""Running many programs: settings from the environment, failures shrunk, a summary report."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass, field

from gradjit.ops.primitive import REGISTRY

from .checks import check_names, extra_backends
from .run import Outcome, run_case
from .gen import generate
from .program import Program
from .shrink import case_of, reproducer, shrink, write_reproducer


@dataclass
class Settings:
    n: int = 200
    seed: int = 0
    timeout: float = 60.0
    backends_spec: str = "auto"  # "auto": every extra backend that imports; "none"; or a list
    start: int = 0
    shrink_budget: float = 120.0  # seconds per failure; 0 turns shrinking off
    extra_every: int = 1  # programs 0, k, 2k, ... also get the extra checks (jvp, vmap, ...)

    @classmethod
    def from_env(cls, **defaults) -> Settings:
        env = os.environ.get
        s = cls(**defaults)
        return cls(int(env("GRADJIT_FUZZ_N", s.n)), int(env("GRADJIT_FUZZ_SEED", s.seed)),
                   float(env("GRADJIT_FUZZ_TIMEOUT", s.timeout)),
                   env("GRADJIT_FUZZ_BACKENDS", s.backends_spec), s.start, s.shrink_budget,
                   int(env("GRADJIT_FUZZ_EXTRA_EVERY", s.extra_every)))

    @property
    def backends(self) -> list[str]:
        if self.backends_spec == "auto":
            return extra_backends()
        if self.backends_spec in ("", "none"):
            return []
        return [b.strip() for b in self.backends_spec.split(",") if b.strip()]

    @property
    def checks(self) -> list[str]:
        return check_names(self.backends)

    def checks_of(self, index: int) -> list[str]:
        return check_names(self.backends, extra=index % max(self.extra_every, 1) == 0)


@dataclass
class Report:
    ran: int = 0
    failures: list = field(default_factory=list)  # (Program, Outcome, shrunk Program)
    reproducers: list = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    coverage: set = field(default_factory=set)
    seconds: list = field(default_factory=list)  # (seconds, program index)

    def summary(self, elapsed: float) -> str:
        core = [f for f in self.failures if not f[1].check.startswith("backend:")]
        lines = [(f"fuzz: {self.ran} programs in {elapsed:.1f} s "
                  f"({elapsed / max(self.ran, 1) * 1000:.0f} ms each), {len(core)} core "
                  f"failures, {len(self.failures) - len(core)} backend failures")]
        for prog, out, small in self.failures:
            lines.append(f"  {prog.label}: {out.check} {out.kind} {out.error_type} "
                         f"({len(prog.steps)} steps, shrunk to {len(small.steps)})")
        lines.append("skipped checks: " + (", ".join(
            f"{c} [{r}] x{n}" for (c, r), n in self.skipped.most_common()) or "none"))
        missing = sorted(set(REGISTRY) - self.coverage)
        lines.append(f"primitives used: {len(self.coverage & set(REGISTRY))}/{len(REGISTRY)}"
                     + (f" (never: {', '.join(missing)})" if missing else ""))
        slow = sorted(self.seconds, reverse=True)[:3]
        lines.append("slowest: " + ", ".join(f"program {i} {t:.2f} s" for t, i in slow))
        return "\n".join(lines)


def primitives_of(case) -> set[str]:
    """Primitive names in the traced primal and gradient Functions (already cached)."""
    names = {i.prim.name for i in case.traced.body}
    grad = case.grad_fn().trace(*case.args)
    return names | {i.prim.name for i in grad.body}


def run_one(settings: Settings, index: int) -> tuple[Program, Outcome, object]:
    prog = generate(settings.seed, index)
    case = case_of(prog)
    return prog, run_case(case, settings.checks_of(index), settings.timeout), case


def handle_failure(settings: Settings, prog: Program, out: Outcome) -> tuple[Program, str, str]:
    """Shrink a failure; returns (shrunk program, reproducer text, path it was written to)."""
    small = shrink(prog, out, settings.timeout, settings.shrink_budget) \
        if settings.shrink_budget > 0 else prog
    final = run_case(case_of(small), [out.check], settings.timeout)
    text = reproducer(small, final if final.failed else out)
    return small, text, write_reproducer(small, final if final.failed else out)


def _one(settings: Settings, index: int):
    """Run program `index` (in a worker process when jobs > 1); shrink it if it fails."""
    prog, out, case = run_one(settings, index)
    used: set[str] = set()
    if out.check != "ir":
        try:
            used = primitives_of(case)
        except Exception:  # noqa: BLE001, S110 (the failure itself is what gets reported)
            pass
    failure = handle_failure(settings, prog, out) if out.failed else None
    return index, prog, out, used, failure


def run_programs(settings: Settings, on_failure=print, jobs: int = 1) -> Report:
    report = Report()
    indices = range(settings.start, settings.start + settings.n)
    run = functools.partial(_one, settings)
    with contextlib.ExitStack() as stack:
        if jobs > 1:
            pool = stack.enter_context(multiprocessing.get_context("fork").Pool(jobs))
            results = pool.imap(run, indices, chunksize=2)
        else:
            results = map(run, indices)
        for index, prog, out, used, failure in results:
            report.ran += 1
            report.seconds.append((out.seconds, index))
            report.skipped.update((c, r.split(" (")[0]) for c, r in out.skipped)
            report.coverage |= used
            if out.failed:
                on_failure(f"FAIL {prog.label}: {out.check} {out.kind} {out.error_type}: "
                           f"{out.message.strip().splitlines()[-1][:200]}")
                small, text, path = failure
                report.failures.append((prog, out, small))
                report.reproducers.append(f"# written to {path}\n{text}")
    return report
