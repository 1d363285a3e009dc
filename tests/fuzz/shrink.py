"""Shrinking a failing program to a small reproducer, and writing it as a pytest test.

Greedy delta debugging over the program's data: drop dead steps, outputs, chunks of steps
(halving the chunk size down to one), unused arguments and argnums, then make the argument
values short literals and the argument shapes smaller. A candidate counts only if every step
still lies in its domain (checked on the concrete values, as during generation) and the same
check still fails the same way (`Outcome.signature`).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np

from .run import Outcome, run_case
from .oracle import Case
from .program import Arg, Program, array_lit, evaluate, functions, source

FAILURES_DIR = os.path.join(os.path.dirname(__file__), "failures")


def case_of(prog: Program) -> Case:
    f, f_ref = functions(prog)
    return Case(f, f_ref, prog.arg_values(), prog.argnums)


def _live(prog: Program) -> Program:
    """Only the steps the outputs depend on."""
    need, kept = set(prog.outputs), []
    for s in reversed(prog.steps):
        if s.out in need:
            need.update(s.ins)
            kept.append(s)
    return prog.with_(steps=kept[::-1])


def _substitute(name, env, before: set) -> str | None:
    """An earlier value (an argument first) of exactly the type of `name`, to stand in for it."""
    want = np.asarray(env[name])
    for other in before:
        v = np.asarray(env[other])
        if other != name and v.shape == want.shape and v.dtype == want.dtype:
            return other
    return None


def _remove(prog: Program, drop: set[int], env) -> Program:
    """prog without the steps at `drop`: their uses read a same-typed earlier value instead,
    or are dropped too when there is none."""
    rename: dict[str, str] = {}
    defined = [a.name for a in prog.args if a.name in env]
    steps = []
    for i, s in enumerate(prog.steps):
        ins = tuple(rename.get(n, n) for n in s.ins)
        if i in drop or any(n not in defined for n in ins):
            sub = next((n for n in ins if n in defined and _same_type(n, s.out, env)), None)
            sub = sub or _substitute(s.out, env, defined)
            if sub is not None:
                rename[s.out] = sub
            continue
        steps.append(replace(s, ins=ins))
        defined.append(s.out)
    outputs = [rename.get(o, o) for o in prog.outputs if rename.get(o, o) in defined]
    return prog.with_(steps=steps, outputs=outputs) if outputs else None


def _same_type(a, b, env) -> bool:
    x, y = np.asarray(env[a]), np.asarray(env[b])
    return x.shape == y.shape and x.dtype == y.dtype


def _step_chunks(prog: Program):
    n = len(prog.steps)
    size = max(n // 2, 1)
    while size >= 1:
        for start in range(n - 1, -1, -size):  # later steps first: they have fewer dependents
            yield set(range(max(start - size + 1, 0), start + 1))
        size //= 2


def _args_used(prog: Program) -> set[str]:
    return {n for s in prog.steps for n in s.ins} | set(prog.outputs)


def _drop_args(prog: Program):
    used = _args_used(prog)
    for i, a in enumerate(prog.args):
        if a.name not in used:
            keep = [j for j in range(len(prog.args)) if j != i]
            argnums = tuple(keep.index(j) for j in prog.argnums if j != i)
            if argnums:
                yield prog.with_(args=[prog.args[j] for j in keep], argnums=argnums)


def _literal(value, kind: str, decimals: int) -> str:
    if kind == "scalar":
        return repr(round(float(value), decimals))
    a = np.asarray(value)
    if a.dtype.kind == "f":
        a = np.round(a, decimals).astype(a.dtype)
    return array_lit(a)


def _simpler_args(prog: Program):
    for i, a in enumerate(prog.args):
        for decimals in (0, 1):
            expr = _literal(a.value(), a.kind, decimals)
            if expr != a.expr:
                args = list(prog.args)
                args[i] = Arg(a.name, expr, a.kind)
                yield prog.with_(args=args)
        value = np.asarray(a.value())
        for axis, d in enumerate(value.shape if a.kind == "array" else ()):
            if d > 1:
                args = list(prog.args)
                small = np.take(value, range(max(d // 2, 1)), axis=axis)
                args[i] = Arg(a.name, _literal(small, a.kind, 1), a.kind)
                yield prog.with_(args=args)


def _prefixes(prog: Program):
    """The program cut after step k, returning that step (reaches a crash in dead code)."""
    n = len(prog.steps)
    for k in sorted(range(n), key=lambda k: (k % max(n // 4, 1) != 0, -k)):
        yield _live(prog.with_(steps=prog.steps[: k + 1], outputs=[prog.steps[k].out]))


def candidates(prog: Program):
    """Smaller programs to try, most promising first."""
    yield _live(prog)
    for k in range(len(prog.outputs)):
        if len(prog.outputs) > 1:
            yield _live(prog.with_(outputs=[prog.outputs[k]]))
    env = evaluate(prog)
    if env is not None:
        for drop in _step_chunks(prog):
            smaller = _remove(prog, drop, env)
            if smaller is not None:
                yield smaller
    yield from _prefixes(prog)
    yield from _drop_args(prog)
    for k in prog.argnums if len(prog.argnums) > 1 else ():
        yield prog.with_(argnums=(k,))
    yield from _simpler_args(prog)


def shrink(prog: Program, outcome: Outcome, timeout: float, budget: float = 120.0) -> Program:
    """The smallest program found within `budget` seconds that fails like `outcome`."""
    deadline = time.monotonic() + budget

    def fails(candidate: Program) -> bool:
        if evaluate(candidate) is None:
            return False
        got = run_case(case_of(candidate), [outcome.check], timeout)
        return got.failed and got.signature == outcome.signature

    progress = True
    while progress and time.monotonic() < deadline:
        progress = False
        for cand in candidates(prog):
            if time.monotonic() > deadline:
                break
            if _size(cand) < _size(prog) and fails(cand):
                prog, progress = cand, True
                break
    return prog


def _size(prog: Program) -> tuple:
    """Fewer steps/outputs/args first, then fewer argument elements, then shorter source."""
    return (len(prog.steps) + len(prog.outputs) + len(prog.args) + len(prog.argnums),
            sum(np.size(a.value()) for a in prog.args), sum(len(a.expr) for a in prog.args))


# ---- the reproducer -----------------------------------------------------------------------------

_HEADER = '''"""Fuzz reproducer: {label}, check {check!r} ({kind}).

{message}
Found by `make fuzz` (tests/fuzz); regenerate with GRADJIT_FUZZ_SEED={seed} and --start {index}.
"""

import numpy as np

import gradjit  # noqa: F401
import gradjit.numpy as gnp  # noqa: F401
from fuzz import refs as ref  # noqa: F401
from fuzz.checks import check_program
from gradjit.ops.primitive import REGISTRY as R  # noqa: F401

F32 = np.float32

'''


def reproducer(prog: Program, outcome: Outcome) -> str:
    message = "\n".join("    " + line for line in outcome.message.strip().splitlines()[-6:])
    head = _HEADER.format(label=prog.label, check=outcome.check, kind=outcome.kind,
                          message=message, seed=prog.seed, index=prog.index)
    args = "".join(f"\n        {a.expr},  # {a.name}" for a in prog.args)
    test = (f"\n\ndef test_fuzz_seed{prog.seed}_program{prog.index}():\n"
            f"    args = ({args}\n    )\n"
            f"    check_program(f, f_ref, args, argnums={prog.argnums!r}, "
            f"check={outcome.check!r})\n")
    return head + source(prog, False) + "\n\n" + source(prog, True) + test


def write_reproducer(prog: Program, outcome: Outcome) -> str:
    os.makedirs(FAILURES_DIR, exist_ok=True)
    check = (outcome.check or "x").replace(":", "_")
    path = os.path.join(FAILURES_DIR, f"repro_seed{prog.seed}_p{prog.index}_{check}.py")
    with open(path, "w") as f:
        f.write(reproducer(prog, outcome))
    return path
