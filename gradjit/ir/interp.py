"""The numpy interpreter: the reference semantics every backend must reproduce."""

from __future__ import annotations

import numpy as np

from ..errors import GradjitError
from ..ops.primitive import coerce
from .core import Function


def run(fn: Function, args) -> list[np.ndarray]:
    """Evaluate fn on concrete arrays with each primitive's numpy reference."""
    env = dict(zip(fn.params, args))
    with np.errstate(all="ignore"):  # NaN and inf propagate as in numpy, silently
        for instr in fn.body:
            try:
                out = instr.prim.numpy(*[env[a] for a in instr.args], **instr.params)
            except GradjitError as e:  # a run-time check (an index out of range): the user's line
                raise e.at(instr.loc) from None
            env.update((o, coerce(v, o.type)) for o, v in zip(instr.outs, instr.prim.results(out)))
    return [env[r] for r in fn.results]
