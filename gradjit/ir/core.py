"""SSA IR: values, instructions and functions. Plain data; passes build new ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .types import TensorType


class Value:
    """An SSA value. Identity is the value: two Values are equal only if they are the same."""

    __slots__ = ("type", "hint")

    def __init__(self, type: TensorType, hint: str | None = None):
        self.type = type
        self.hint = hint  # a readable name for the printer (parameter names), never semantic

    def __repr__(self) -> str:
        return f"Value({self.hint or hex(id(self))}: {self.type})"


class Instr:
    """`outs = prim(args) {params}` at the user's source location `loc` ('file:line' or None)."""

    __slots__ = ("prim", "args", "params", "outs", "loc")

    def __init__(self, prim, args, params: dict[str, Any], outs, loc: str | None = None):
        self.prim = prim
        self.args: tuple[Value, ...] = tuple(args)
        self.params = params
        self.outs: tuple[Value, ...] = tuple(outs)
        self.loc = loc

    @property
    def out(self) -> Value:
        assert len(self.outs) == 1, self.prim.name
        return self.outs[0]

    def __repr__(self) -> str:
        return f"Instr({self.prim.name}, {len(self.args)} args)"


@dataclass
class Function:
    name: str
    params: list[Value]
    body: list[Instr]
    results: list[Value]
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def in_types(self) -> list[TensorType]:
        return [p.type for p in self.params]

    @property
    def out_types(self) -> list[TensorType]:
        return [r.type for r in self.results]

    def __str__(self) -> str:
        from .printer import print_function

        return print_function(self)

    def __eq__(self, other) -> bool:
        return isinstance(other, Function) and str(self) == str(other)

    __hash__ = None

    def dump(self) -> str:
        return str(self)


def uses(fn: Function) -> dict[Value, int]:
    """How often each value is used by the body and the results."""
    count: dict[Value, int] = {}
    for instr in fn.body:
        for a in instr.args:
            count[a] = count.get(a, 0) + 1
    for r in fn.results:
        count[r] = count.get(r, 0) + 1
    return count


def producers(fn: Function) -> dict[Value, Instr]:
    return {out: instr for instr in fn.body for out in instr.outs}
