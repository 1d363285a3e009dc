"""Staging a user function: argument signatures, tracing to a flat Function, and execution.

A `Staged` is one user function specialized to one argument signature: its optimized Function
(flat leaves in, flat leaves out), the output tree, and the outer tracers it captured. Executing
it runs the backend on concrete arrays, or inlines the Function when the arguments are traced.
"""

from __future__ import annotations

import collections
import inspect
import os
import sys
import traceback
from dataclasses import dataclass

import numpy as np

from ..errors import TraceError
from ..ir import interp
from ..ir.core import Function
from ..ir.types import TensorType
from ..ops import api as A
from ..ops.primitive import _SKIP_DIRS
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

    try:
        fn, captured = trace_flat(flat, [i.type for i in infos], name, hints,
                                  [i.weak for i in infos])
    except RecursionError as e:  # reported from the user's recursive call, not from inside us
        raise _recursion_error(e) from None
    return Traced(fn, box["tree"], captured)


def _recursion_error(e: RecursionError) -> TraceError:
    """The user's line that recursed most often (the recursive call) and what to do instead."""
    frames = [f"{fs.filename}:{fs.lineno}" for fs in traceback.extract_tb(e.__traceback__)
              if not fs.filename.startswith(_SKIP_DIRS)]
    loc = collections.Counter(frames).most_common(1)[0][0] if frames else None
    return TraceError("trace", f"the function recursed past Python's limit of "
                      f"{sys.getrecursionlimit()} frames while being traced (a recursion that "
                      "never ends, or whose depth depends on traced values)", loc,
                      "bound the recursion by a Python int (static_argnums), or write the loop "
                      "with gradjit.while_loop / fori_loop / scan")


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
        arrays = [np.asarray(a, dtype=p.type.np_dtype) for a, p in zip(args, self.fn.params)]
        return self.runner()(arrays)

    def runner(self):
        if self._runner is None:
            self._runner = BACKENDS[self.backend](self.fn)
        return self._runner

    def fast_call(self, all_floats: bool, post=None):
        """`args -> result` for concrete leaves of one signature (no captured values), compiled
        once with every per-call decision taken here: Python floats into an all-f64-scalar
        function go through the runner's scalar entry (no numpy objects on the way in)."""
        run = self.runner()
        scalar = getattr(run, "scalar", None) if all_floats else None
        names = {"run": run, "scalar": scalar, "post": post, "f64": np.float64,
                 "asarray": np.asarray, "dtypes": [p.type.np_dtype for p in self.fn.params]}
        outs = []
        for k, t in enumerate(self.fn.out_types):
            if scalar is not None:
                outs.append(f"f64(o[{k}])")
            else:
                outs.append(f"o[{k}][()]" if t.ndim == 0 else f"o[{k}]")
        tree = pytree.expression(self.out_tree, outs, names)
        if scalar is not None:
            first = "o = scalar(*args)"
        else:
            first = "o = run([asarray(a, d) for a, d in zip(args, dtypes)])"
        result = tree if post is None else f"post({tree})"
        exec(f"def call(args):\n    {first}\n    return {result}\n", names)  # noqa: S102
        return names["call"]

    def native_call(self, post=None):
        """The runner's builtin for Python floats in (runtime/native.py), or None. It returns a
        float or a flat tuple of floats, so it serves only results of that shape after `post`
        (grad's post, `r -> r[1]`, only selects: it is applied to placeholders to find out)."""
        scalar = getattr(self.runner(), "scalar", None)
        if scalar is None or self.captured:
            return None
        leaves = [object() for _ in range(self.out_tree.num_leaves)]
        shaped = pytree.unflatten(self.out_tree, leaves)
        if post is not None:
            try:
                shaped = post(shaped)
            except Exception:  # noqa: BLE001  (a post that computes: not for the builtin)
                return None
        if len(leaves) == 1 and shaped is leaves[0]:
            return scalar.native(False)
        if type(shaped) is tuple and len(shaped) == len(leaves) and \
                all(a is b for a, b in zip(shaped, leaves)):
            return scalar.native(True)
        return None

    def finish(self, outs):
        outs = [o[()] if isinstance(o, np.ndarray) and o.ndim == 0 else o for o in outs]
        return pytree.unflatten(self.out_tree, outs)


