"""The verifier: SSA form, arity and every instruction's type against its shape rule."""

from __future__ import annotations

from ..errors import CompilerBug, GradjitError
from .core import Function
from .printer import regions


def _context(fn: Function, index: int) -> str:
    text = str(fn).splitlines()
    lo, hi = max(1, index - 2), min(len(text) - 2, index + 3)
    return "\n".join(("> " if i == index + 1 else "  ") + text[i] for i in range(lo, hi + 1))


def verify(fn: Function) -> Function:
    """Raise CompilerBug (showing the instructions around the bad one) unless fn is well formed."""
    defined = set(fn.params)
    if len(defined) != len(fn.params):
        raise CompilerBug("verify", f"{fn.name}: a parameter is listed twice")
    for i, instr in enumerate(fn.body):
        def bad(problem, i=i, instr=instr):
            return CompilerBug("verify", f"{fn.name}: {instr.prim.name}: {problem}\n"
                               f"{_context(fn, i)}", instr.loc)

        for a in instr.args:
            if a not in defined:
                raise bad("uses a value before it is defined")
        if instr.prim.arity is not None and instr.prim.arity != len(instr.args):
            raise bad(f"takes {instr.prim.arity} operands, got {len(instr.args)}")
        try:
            expected = instr.prim.out_type([a.type for a in instr.args], instr.params)
        except GradjitError as e:
            raise bad(f"ill-typed: {e.problem}") from None
        expected = expected if isinstance(expected, list) else [expected]
        if [o.type for o in instr.outs] != expected:
            got = ", ".join(str(o.type) for o in instr.outs)
            raise bad(f"declares {got}, its shape rule gives {', '.join(map(str, expected))}")
        for region in regions(instr.params):
            verify(region)
        for o in instr.outs:
            if o in defined:
                raise bad("redefines a value")
            defined.add(o)
    for r in fn.results:
        if r not in defined:
            raise CompilerBug("verify", f"{fn.name}: returns an undefined value")
    return fn
