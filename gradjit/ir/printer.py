"""The text form of a Function (MLIR-like; `ir.parser` reads it back to an equal Function)."""

from __future__ import annotations

import math

from .core import Function, Value


def format_param(value) -> str:
    """Python-literal text for a parameter (tuples, numbers, strings, nested lists)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(map(format_param, value))
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(map(format_param, value)) + "]"
    if isinstance(value, (bool, int, str)) or value is None:
        return repr(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return format_param(value.item())
    if isinstance(value, Function):  # a region: printed in full below the instruction
        return f"@{value.name}"
    raise TypeError(f"cannot print parameter {value!r}")


def _short_loc(loc: str | None) -> str:
    return f"  # {loc.rsplit('/', 1)[-1]}" if loc else ""


class Namer:
    """Deterministic names: parameters by their hint when it is a clean unique identifier."""

    def __init__(self, fn: Function):
        self.names: dict[Value, str] = {}
        taken: set[str] = set()
        for i, p in enumerate(fn.params):
            hint = p.hint if p.hint and p.hint.isidentifier() and p.hint not in taken else None
            name = hint or f"arg{i}"
            while name in taken or name.isdigit():
                name += "_"
            taken.add(name)
            self.names[p] = name
        self.counter = 0

    def define(self, v: Value) -> str:
        self.names[v] = str(self.counter)
        self.counter += 1
        return "%" + self.names[v]

    def __call__(self, v: Value) -> str:
        return "%" + self.names.get(v, f"<undefined {v!r}>")


def regions(params: dict) -> list[Function]:
    """The sub-Functions an instruction's params hold (structured control flow)."""
    found = []
    for v in params.values():
        for item in v if isinstance(v, tuple) else (v,):
            if isinstance(item, Function):
                found.append(item)
    return found


def print_function(fn: Function, indent: str = "") -> str:
    name = Namer(fn)
    params = ", ".join(f"{name(p)}: {p.type}" for p in fn.params)
    results = ", ".join(str(r.type) for r in fn.results)
    arrow = results if len(fn.results) == 1 else f"({results})"
    lines = [f"{indent}func @{fn.name}({params}) -> {arrow} {{"]
    for instr in fn.body:
        args = [name(a) for a in instr.args]
        encode = instr.prim.extra.get("encode", {})
        params_text = ", ".join(
            f"{k}={format_param(encode[k](v) if k in encode else v)}"
            for k, v in instr.params.items())
        outs = ", ".join(name.define(o) for o in instr.outs)
        head = f"{indent}  {outs} = {instr.prim.name}"
        if args:
            head += " " + ", ".join(args)
        if params_text:
            head += " {" + params_text + "}"
        types = ", ".join(str(o.type) for o in instr.outs)
        lines.append(f"{head} : {types}{_short_loc(instr.loc)}")
        lines += [print_function(r, indent + "    ") for r in regions(instr.params)]
    lines.append(f"{indent}  return " + ", ".join(name(r) for r in fn.results))
    lines.append(f"{indent}}}")
    return "\n".join(lines)
