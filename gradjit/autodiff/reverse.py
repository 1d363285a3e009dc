"""Reverse mode: replay a Function through `bind`, then pull cotangents back through it.

Under a trace this emits the adjoint as ordinary IR built from primitives (the central
invariant), so its output can be differentiated again. Zero cotangents stay symbolic (`None`):
nothing is computed for paths that do not reach an output; fan-out contributions add up.
"""

from __future__ import annotations

from ..errors import CompilerBug, MissingRule
from ..ir.core import Function, Value
from ..ir.types import is_float
from ..ops import api as A
from ..ops.primitive import bind, loc_override


def active_values(fn: Function, wrt) -> set[Value]:
    """Float values that depend on the parameters in `wrt` (only they carry cotangents)."""
    active = {fn.params[i] for i in wrt if is_float(fn.params[i].type.dtype)}
    for instr in fn.body:
        # nondiff primitives propagate activity too, so a cotangent reaching one is an error
        # (MissingRule) rather than a silent zero
        if any(a in active for a in instr.args):
            active.update(o for o in instr.outs if is_float(o.type.dtype))
    return active


def replay(fn: Function, primals) -> dict:
    """Bind fn's instructions on `primals`; returns the environment Value -> value."""
    env = dict(zip(fn.params, primals))
    for instr in fn.body:
        with loc_override(instr.loc):
            outs = bind(instr.prim, *[env[a] for a in instr.args], **instr.params)
        env.update(zip(instr.outs, instr.prim.results(outs)))
    return env


def backward(fn: Function, primals, cotangents, wrt) -> tuple[list, list]:
    """fn's results and the cotangents of its params `wrt` given its results' `cotangents`.

    A cotangent of None is zero; a returned cotangent of None means none reaches that param.
    """
    env = replay(fn, primals)
    return [env[r] for r in fn.results], pull_back(fn, env, cotangents, wrt)


def pull_back(fn: Function, env: dict, cotangents, wrt) -> list:
    """The reverse sweep over a replayed fn (`env` from `replay`)."""
    active = active_values(fn, wrt)
    ct: dict[Value, object] = {}
    instr = None

    def accumulate(v: Value, g):
        if g is not None and v in active:
            if A.type_of(g) != v.type:
                raise CompilerBug("reverse", f"cotangent {A.type_of(g)} for a value of type "
                                  f"{v.type}", instr.loc if instr else None)
            ct[v] = A.add(ct[v], g) if v in ct else g

    for r, g in zip(fn.results, cotangents):
        accumulate(r, g)
    for instr in reversed(fn.body):
        gs = [ct.pop(o, None) for o in instr.outs]
        if all(g is None for g in gs):
            continue
        if instr.prim.vjp is None:
            raise MissingRule(instr.prim.name, f"has no derivative: it is {instr.prim.nondiff}",
                              instr.loc, hint="wrap the value in gradjit.numpy.stop_gradient "
                              "if its derivative is not needed")
        args = [env[a] for a in instr.args]
        outs = [env[o] for o in instr.outs]
        multi = instr.prim.multiple_results
        g = [A.zeros_like(o) if g is None else g for o, g in zip(outs, gs)] if multi else gs[0]
        with loc_override(instr.loc):
            arg_cts = instr.prim.vjp(g, *args, out=outs if multi else outs[0], **instr.params)
            for a, c in zip(instr.args, arg_cts):
                accumulate(a, c)
    return [ct.get(fn.params[i]) for i in wrt]
