"""Staging a user function: argument signatures, tracing to a flat Function, and execution.

A `Staged` is one user function specialized to one argument signature: its optimized Function
(flat leaves in, flat leaves out), the output tree, and the outer tracers it captured. Executing
it runs the backend on concrete arrays, or inlines the Function when the arguments are traced.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass

import numpy as np

from ..errors import TraceError
from ..ir import interp
from ..ir.core import Function
from ..ir.types import TensorType
from ..ops import api as A
from . import pytree
from .core import Tracer, any_tracer, inline, trace_flat


@dataclass(frozen=True)
class LeafInfo:
    type: TensorType
    weak: bool  # a Python number: weakly typed, and its gradient comes back as a scalar


def leaf_info(x, op: str, loc) -> LeafInfo:
    if isinstance(x, Tracer):
        return LeafInfo(x.aval, x.weak)
    if isinstance(x, (bool, int, float)) or (isinstance(x, (np.ndarray, np.generic))):
        try:
            return LeafInfo(A.type_of(x), A.is_weak(x))
        except TypeError as e:
            raise TraceError(op, f"argument dtype is not supported: {e}", loc,
                             "use float32/float64, int32/int64 or bool arrays") from None
    raise TraceError(op, f"argument of type {type(x).__name__} is not an array or a number",
                     loc, "pass numpy arrays, Python numbers, or tuples/lists/dicts of them; "
                     "mark other arguments static (jit(f, static_argnums=...))")


def leaf_names(f, args, in_tree) -> list[str]:
    """Readable parameter names: the function's argument names, suffixed inside pytrees."""
    try:
        names = list(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        names = []
    out = []
    for i, arg in enumerate(args):
        base = names[i] if i < len(names) else f"arg{i}"
        leaves, td = pytree.flatten(arg)
        out += [base] if td.kind == "leaf" else [f"{base}_{k}" for k in range(len(leaves))]
    return out


def fn_name(f) -> str:
    name = getattr(f, "__name__", "f")
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name).strip("_") or "f"


@dataclass
class Traced:
    """The result of tracing a user function on flat leaves."""

    fn: Function
    out_tree: pytree.TreeDef
    captured: list


def trace_user(f, args, infos, hints, name) -> Traced:
    """Trace f(*args) with every leaf of args replaced by a tracer."""
    leaves, in_tree = pytree.flatten(list(args))
    box = {}

    def flat(*tracers):
        out = f(*pytree.unflatten(in_tree, tracers))
        out_leaves, box["tree"] = pytree.flatten(out)
        return out_leaves

    fn, captured = trace_flat(flat, [i.type for i in infos], name, hints,
                              [i.weak for i in infos])
    return Traced(fn, box["tree"], captured)


# ---- backends ----------------------------------------------------------------------------


def _interp_backend(fn: Function):
    return lambda arrays: interp.run(fn, arrays)


def _llvm_backend(fn: Function):
    from ..runtime import llvm_backend  # imported on first use: LLVM start-up is not free

    return llvm_backend(fn)


BACKENDS = {"interp": _interp_backend, "llvm": _llvm_backend}
DEFAULT_BACKEND = "llvm"


def default_backend() -> str:
    """The backend transforms run on when none is named: $GRADJIT_BACKEND, else LLVM."""
    name = os.environ.get("GRADJIT_BACKEND") or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise ValueError(f"GRADJIT_BACKEND={name!r}: not a backend (one of {', '.join(BACKENDS)})")
    return name


@dataclass
class Staged:
    fn: Function
    out_tree: pytree.TreeDef
    captured: list
    backend: str
    raw: Function | None = None  # the Function before the pass pipeline (for dumps)
    _runner: object = None

    def execute(self, leaves) -> list:
        args = list(leaves) + self.captured
        if any_tracer(args):
            return inline(self.fn, args)
        if self._runner is None:
            self._runner = BACKENDS[self.backend](self.fn)
        arrays = [np.asarray(a, dtype=p.type.np_dtype) for a, p in zip(args, self.fn.params)]
        return self._runner(arrays)

    def finish(self, outs):
        outs = [o[()] if isinstance(o, np.ndarray) and o.ndim == 0 else o for o in outs]
        return pytree.unflatten(self.out_tree, outs)


