"""Batching: replay a Function with a batch axis on some values, through each record's rule.

Batched values carry the batch axis first; unbatched values (None) are left alone, so work
that does not depend on the batch is done once. The output is IR of primitives again.
"""

from __future__ import annotations

from ..errors import CompilerBug
from ..ir.core import Function
from ..ops import api as A
from ..ops.primitive import bind, loc_override
from ..ops.rules import batch_rule


def batch_replay(fn: Function, args, dims) -> tuple[list, list]:
    """fn's results and their batch dims (0 or None), given args with batch dims 0/None."""
    env = dict(zip(fn.params, args))
    denv = dict(zip(fn.params, dims))
    for instr in fn.body:
        xs = [env[a] for a in instr.args]
        ds = [denv[a] for a in instr.args]
        multi = instr.prim.multiple_results
        with loc_override(instr.loc):
            if all(d is None for d in ds):
                out = bind(instr.prim, *xs, **instr.params)
                outs, dims_out = (list(out), [None] * len(out)) if multi else ([out], [None])
            else:
                out, d = batch_rule(instr.prim)(xs, ds, **instr.params)
                outs, dims_out = (list(out), list(d)) if multi else ([out], [d])
        for o, value, d in zip(instr.outs, outs, dims_out):
            if d is not None and A.shape_of(value)[1:] != o.type.shape:
                raise CompilerBug("vmap", f"{instr.prim.name}: batched result "
                                  f"{A.type_of(value)} does not extend {o.type}", instr.loc)
            env[o], denv[o] = value, d
    return [env[r] for r in fn.results], [denv[r] for r in fn.results]
