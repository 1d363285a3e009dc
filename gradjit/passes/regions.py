"""Passes reach into structured control flow: a region is a Function like any other."""

from __future__ import annotations

from ..ir.core import Function


def map_regions(params: dict, run) -> dict:
    """params with every sub-Function replaced by run(sub-Function) (params itself when it has
    none: the common case, so it is checked first without building anything)."""
    if not any(type(v) is Function or (type(v) is tuple and any(type(x) is Function for x in v))
               for v in params.values()):
        return params

    def one(v):
        if isinstance(v, Function):
            return run(v)
        if isinstance(v, tuple) and any(isinstance(x, Function) for x in v):
            return tuple(one(x) for x in v)
        return v

    return {k: one(v) for k, v in params.items()}
