"""The primitive record, the registry of all records, and `bind`, the one way an op is applied.

`bind` hands the primitive to the innermost active handler: the numpy evaluator when nothing is
being traced, or a trace builder (tracer/) that appends an instruction. VJP rules call ops that
bind, so the same rule evaluates eagerly on arrays or emits IR under a trace.
"""

from __future__ import annotations

import contextlib
import threading
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import GradjitError, ShapeError
from ..ir.types import TensorType

REGISTRY: dict[str, Primitive] = {}


@dataclass(eq=False)
class Primitive:
    """One record per primitive: everything every stage needs to know about it."""

    name: str
    arity: int | None  # None: variadic
    shape: Callable[..., TensorType]  # (arg types..., **params) -> out type
    numpy: Callable[..., Any]  # (arrays..., **params) -> array: the reference semantics
    vjp: Callable | None = None  # (g, *args, out=..., **params) -> cotangent per arg (None: zero)
    nondiff: str | None = None  # why there is no vjp, when there is none
    lower: Any = None  # plain data for codegen (ops/ never imports llvmlite)
    torch_name: str | None = None  # grad_fn name in eager mode
    linear: bool = False  # linear in its float arguments
    # returns a tuple of results (structured control flow); rules then take and give lists
    multiple_results: bool = False
    # forward mode: (primals, tangents (None: zero), out, **params) -> tangent (None: zero);
    # or the name of a generic rule in ops/rules.py ("elementwise", "linear", "reduction")
    jvp: Callable | str | None = None
    # batching: (args, batch dims (0 or None), **params) -> (out, out batch dim); or a name
    batch: Callable | str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        assert self.name not in REGISTRY, f"duplicate primitive {self.name}"
        assert (self.vjp is None) == (self.nondiff is not None), self.name
        REGISTRY[self.name] = self

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def results(self, out) -> list:
        """What `bind` returned, as a list of results."""
        return list(out) if self.multiple_results else [out]

    def out_type(self, in_types, params) -> TensorType:
        """The shape rule, with failures reported as a ShapeError naming this op and types."""
        try:
            return self.shape(*in_types, **params)
        except GradjitError:
            raise
        except (ValueError, TypeError, IndexError) as e:
            types = ", ".join(map(str, in_types))
            raise ShapeError(self.name, f"{e} (operands: {types})") from None

    def __call__(self, *args, **params):
        return bind(self, *args, **params)


# ---- source locations -------------------------------------------------------------------

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SKIP_DIRS = (_PACKAGE_DIR, os.path.dirname(np.__file__))
class _ThreadState(threading.local):
    """Each thread traces on its own: its own handler stack and location overrides."""

    def __init__(self):
        self.handlers: list[Handler] = [_EVAL]
        self.locs: list[str | None] = []




def user_loc() -> str | None:
    """'file:line' of the innermost frame outside gradjit and numpy (the user's code)."""
    locs = _state.locs
    if locs:
        return locs[-1]
    frame = sys._getframe(1)
    while frame is not None:
        path = frame.f_code.co_filename
        if not path.startswith(_SKIP_DIRS) and not path.startswith("<frozen"):
            return f"{path}:{frame.f_lineno}"
        frame = frame.f_back
    return None


@contextlib.contextmanager
def loc_override(loc: str | None):
    """Bind calls inside use `loc` (replaying an instruction keeps the user's line)."""
    _state.locs.append(loc)
    try:
        yield
    finally:
        _state.locs.pop()


# ---- bind and handlers ------------------------------------------------------------------


class Handler:
    """Interprets `bind`: evaluates, or records into a trace."""

    def process(self, prim: Primitive, args, params):
        raise NotImplementedError


class EvalHandler(Handler):
    """Runs the numpy reference at once (nothing is being traced)."""

    def process(self, prim, args, params):
        for a in args:  # before np.asarray, which would report a leaked tracer as concretization
            if hasattr(a, "_escaped"):
                a._escaped(prim)
        arrays = [np.asarray(a) for a in args]
        try:
            out_type = prim.out_type([TensorType.of(a) for a in arrays], params)
        except GradjitError as e:
            raise e.at(user_loc()) from None
        with np.errstate(all="ignore"):  # NaN and inf propagate as in numpy, silently
            return coerce(prim.numpy(*arrays, **params), out_type)


def coerce(result, out_type):
    """numpy results as arrays of exactly the IR type (numpy returns scalars for 0-d)."""
    if isinstance(out_type, (list, tuple)):
        return tuple(coerce(r, t) for r, t in zip(result, out_type))
    return np.asarray(result, dtype=out_type.np_dtype)


_EVAL = EvalHandler()
_state = _ThreadState()


def bind(prim: Primitive, *args, **params):
    return _state.handlers[-1].process(prim, args, params)


@contextlib.contextmanager
def handler(h: Handler):
    _state.handlers.append(h)
    try:
        yield h
    finally:
        popped = _state.handlers.pop()
        assert popped is h


def active_handlers() -> list[Handler]:
    return _state.handlers
