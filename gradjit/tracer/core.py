"""Tracing: a Builder records bound primitives as instructions; Tracers stand for their values.

Builders nest (grad of grad traces inside a trace). A tracer of an enclosing builder used in an
inner trace is captured as an extra parameter of the inner function (a closure), so every
Function is closed and the outer trace sees the use when the inner function is inlined.
"""

from __future__ import annotations

import numpy as np

from ..errors import CompilerBug, GradjitError, UnexpectedTracerError
from ..ir.core import Function, Instr, Value
from ..ir.types import TensorType
from ..ops import shape as SH
from ..ops.primitive import Handler, active_handlers, bind, coerce, handler, loc_override, user_loc
from .tensor_methods import TensorMethods


class Tracer(TensorMethods):
    """A traced value: what a user's function receives and computes with while being traced."""

    __slots__ = ("value", "builder", "weak")
    __gradjit_tracer__ = True

    def __init__(self, value: Value, builder: Builder, weak: bool = False):
        self.value, self.builder, self.weak = value, builder, weak

    @property
    def aval(self) -> TensorType:
        return self.value.type

    def __repr__(self) -> str:
        return f"Tracer<{self.aval}>"

    def _escaped(self, prim):
        raise UnexpectedTracerError(
            getattr(prim, "name", prim),
            f"a traced value ({self.aval}) was used outside the trace that made it",
            user_loc(), hint="a tracer leaked out of a traced function (stored in a global, "
            "returned through a side channel, or captured by a closure that outlived the "
            "trace); pass values in as arguments and return them instead")

    # a leaked tracer is not a control-flow problem: float(), bool(), np.asarray() say so
    def _leaked(self) -> bool:
        return not (self.builder.live and self.builder in active_handlers())

    def _concrete(self, what: str):
        if self._leaked():
            self._escaped(what)
        super()._concrete(what)

    def __array__(self, dtype=None, copy=None):
        if self._leaked():
            self._escaped("np.asarray()")
        return super().__array__(dtype, copy)


class Builder(Handler):
    """Records instructions for one Function being traced."""

    def __init__(self, name: str = "f"):
        self.name = name
        self.params: list[Value] = []
        self.body: list[Instr] = []
        self.captured: dict[int, tuple[Tracer, Value]] = {}  # id(outer tracer) -> (it, param)
        self.live = True

    def new_param(self, type: TensorType, hint: str | None = None, weak=False) -> Tracer:
        value = Value(type, hint)
        self.params.append(value)
        return Tracer(value, self, weak)

    def value_of(self, x) -> Value:
        """The Value of x in this trace: its own tracer, a captured outer tracer, or a const."""
        if isinstance(x, Tracer):
            if x.builder is self:
                return x.value
            if x.builder.live and x.builder in active_handlers():
                key = id(x)
                if key not in self.captured:
                    self.captured[key] = (x, Value(x.aval, "captured"))
                return self.captured[key][1]
            x._escaped(_CAPTURE)
        arr = coerce(np.asarray(x), TensorType.of(np.asarray(x)))
        if arr.size > 1 and np.all(arr == arr.flat[0]):  # np.zeros(...): a broadcast scalar
            # a 0-d array, not the numpy scalar arr.flat[0] (CSE keys consts by their array)
            scalar = self.process(SH.const, (), {"value": np.array(arr.flat[0], arr.dtype)})
            return self.process(SH.broadcast_to, (scalar,), {"shape": arr.shape}).value
        return self.process(SH.const, (), {"value": arr.copy()}).value

    def process(self, prim, args, params):
        values = [self.value_of(a) for a in args]
        loc = user_loc()
        try:
            out_type = prim.out_type([v.type for v in values], params)
        except GradjitError as e:
            raise e.at(loc) from None
        if isinstance(out_type, list):
            outs = [Value(t) for t in out_type]
            self.body.append(Instr(prim, values, params, outs, loc))
            return tuple(Tracer(v, self) for v in outs)
        out = Value(out_type)
        self.body.append(Instr(prim, values, params, [out], loc))
        return Tracer(out, self)

    def finish(self, results) -> tuple[Function, list[Tracer]]:
        """Close the trace: the Function (captures become trailing params) and the captures."""
        result_values = [self.value_of(r) for r in results]
        self.live = False
        captured = list(self.captured.values())
        fn = Function(self.name, self.params + [v for _, v in captured], self.body,
                      result_values)
        fn.meta["n_captured"] = len(captured)
        return fn, [t for t, _ in captured]


class _Capture:
    name = "capture"


_CAPTURE = _Capture()


def trace_flat(f, in_types, name="f", hints=None, weak=None):
    """Trace `f(*tracers) -> list of leaves`. Returns (Function, its leaf outputs' captures)."""
    builder = Builder(name)
    with handler(builder):
        args = [builder.new_param(t, (hints or [None] * len(in_types))[i],
                                  bool(weak and weak[i])) for i, t in enumerate(in_types)]
        outs = f(*args)
        fn, captured = builder.finish(outs)
    return fn, captured


def inline(fn: Function, args):
    """Evaluate fn by binding its instructions: under a trace this copies fn into the trace."""
    if len(args) != len(fn.params):
        raise CompilerBug("inline", f"{fn.name} takes {len(fn.params)} values, got {len(args)}")
    env = dict(zip(fn.params, args))
    for instr in fn.body:
        with loc_override(instr.loc):
            outs = bind(instr.prim, *[env[a] for a in instr.args], **instr.params)
        env.update(zip(instr.outs, instr.prim.results(outs)))
    return [env[r] for r in fn.results]


def any_tracer(values) -> bool:
    return any(isinstance(v, Tracer) for v in values)
