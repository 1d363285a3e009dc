"""Common subexpression elimination: one instruction per (op, operands, params)."""

from __future__ import annotations

import numpy as np

from ..ir.core import Function, Instr
from .regions import map_regions


def _key_of(value):
    if isinstance(value, Function):
        return ("region", str(value))
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (tuple, list)):
        return tuple(_key_of(v) for v in value)
    return value


def cse(fn: Function) -> Function:
    seen: dict[tuple, Instr] = {}
    rename = {}
    body = []
    for instr in fn.body:
        args = tuple(rename.get(a, a) for a in instr.args)
        instr = Instr(instr.prim, instr.args, map_regions(instr.params, cse), instr.outs,
                      instr.loc)
        key = (instr.prim.name, tuple(map(id, args)),
               tuple((k, _key_of(v)) for k, v in instr.params.items()),
               tuple(o.type for o in instr.outs))
        if key in seen:
            rename.update(zip(instr.outs, seen[key].outs))
            continue
        new = Instr(instr.prim, args, instr.params, instr.outs, instr.loc)
        seen[key] = new
        body.append(new)
    results = [rename.get(r, r) for r in fn.results]
    return Function(fn.name, list(fn.params), body, results, dict(fn.meta))
