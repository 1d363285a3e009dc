"""Dead code elimination: drop instructions none of whose outputs reach a result."""

from __future__ import annotations

from ..ir.core import Function, Instr
from .regions import map_regions


def dce(fn: Function) -> Function:
    live = set(fn.results)
    kept = []
    for instr in reversed(fn.body):
        if any(o in live for o in instr.outs):
            params = map_regions(instr.params, dce)
            kept.append(instr if params is instr.params else
                        Instr(instr.prim, instr.args, params, instr.outs, instr.loc))
            live.update(instr.args)
    return Function(fn.name, list(fn.params), kept[::-1], list(fn.results), dict(fn.meta))
