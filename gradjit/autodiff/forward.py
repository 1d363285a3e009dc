"""Forward mode: replay a Function through `bind`, carrying a tangent beside every value.

Like the reverse pass it runs under the tracer, so its output is IR of primitives (and can be
differentiated or batched again). Zero tangents stay symbolic (`None`).
"""

from __future__ import annotations

from ..errors import CompilerBug, MissingRule
from ..ir.core import Function
from ..ir.types import is_float
from ..ops import api as A
from ..ops.primitive import bind, loc_override
from ..ops.rules import jvp_rule


def jvp_replay(fn: Function, primals, tangents) -> tuple[list, list]:
    """fn's results and their tangents, given a tangent (or None) per parameter."""
    env = dict(zip(fn.params, primals))
    tenv = {p: t for p, t in zip(fn.params, tangents) if t is not None}
    for instr in fn.body:
        args = [env[a] for a in instr.args]
        multi = instr.prim.multiple_results
        with loc_override(instr.loc):
            out = bind(instr.prim, *args, **instr.params)
            outs = list(out) if multi else [out]
            env.update(zip(instr.outs, outs))
            ts = [tenv.get(a) for a in instr.args]
            if all(t is None for t in ts) or not any(is_float(o.type.dtype) for o in instr.outs):
                continue
            rule = jvp_rule(instr.prim)
            if rule is None:
                raise MissingRule(instr.prim.name, "has no derivative: it is "
                                  f"{instr.prim.nondiff}", instr.loc,
                                  hint="wrap the value in gradjit.numpy.stop_gradient")
            t = rule(args, ts, outs if multi else out, **instr.params)
        for o, tangent in zip(instr.outs, t if multi else [t]):
            if tangent is not None:
                if A.type_of(tangent) != o.type:
                    raise CompilerBug("forward", f"{instr.prim.name}: tangent "
                                      f"{A.type_of(tangent)} for a value of type {o.type}",
                                      instr.loc)
                tenv[o] = tangent
    return [env[r] for r in fn.results], [tenv.get(r) for r in fn.results]
