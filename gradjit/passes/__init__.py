"""Function -> Function passes and the pipeline that runs them in order."""

from __future__ import annotations

from ..ir.core import Function
from .cse import cse
from .dce import dce
from .simplify import simplify

# (name, pass) pairs, so a dump can show the Function after any of them.
PIPELINE = [("simplify", simplify), ("cse", cse), ("dce", dce),
            ("simplify2", simplify), ("cse2", cse), ("dce2", dce)]


def optimize(fn: Function, pipeline=PIPELINE, check=None) -> Function:
    """Run every pass of the pipeline; `check(fn)` (e.g. the verifier) runs after each."""
    for _, run in pipeline:
        fn = run(fn)
        if check is not None:
            check(fn)
    return fn


__all__ = ["PIPELINE", "cse", "dce", "optimize", "simplify"]
