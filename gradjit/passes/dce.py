"""Dead code elimination: drop instructions none of whose outputs reach a result."""

from __future__ import annotations

from ..ir.core import Function


def dce(fn: Function) -> Function:
    live = set(fn.results)
    kept = []
    for instr in reversed(fn.body):
        if any(o in live for o in instr.outs):
            kept.append(instr)
            live.update(instr.args)
    return Function(fn.name, list(fn.params), kept[::-1], list(fn.results), dict(fn.meta))
