"""Algebraic simplification and constant folding, as a table of rewrite rules keyed by op.

NaN semantics: a rule fires only when it is exact for every input, NaN and inf included:
`x*1 -> x`, `x/1 -> x`, `x+0 -> x` (up to the sign of a zero), double negation, composed
transposes/reshapes, identity shape ops. `x*0` is *not* folded (inf*0 and nan*0 are nan).
Constants fold when every operand is constant and the result has at most 64 elements.
`stop_gradient` is kept: it still matters if the function is differentiated again.
"""

from __future__ import annotations

import numpy as np

from ..ir.core import Function, Instr, Value
from ..ops import REGISTRY
from ..ops.primitive import coerce
from .regions import map_regions

_FOLD_MAX = 64
_NO_FOLD = ("const", "broadcast_to")  # a broadcast scalar reads better than its expansion


def _splat(v: Value, defs) -> float | None:
    """The scalar a value holds everywhere, if it is a constant (possibly broadcast)."""
    instr = defs.get(v)
    while instr is not None and instr.prim.name in ("broadcast_to", "reshape"):
        instr = defs.get(instr.args[0])
    if instr is None or instr.prim.name != "const":
        return None
    value = instr.params["value"]
    if value.size == 0:
        return None
    first = value.flat[0]
    return first.item() if np.all(value == first) else None


def _is(v, defs, number) -> bool:
    s = _splat(v, defs)
    return s is not None and s == number


def _identity_if(cond):
    return lambda args, params, defs, out: args[0] if cond(args, params, out) else None


def _add(args, params, defs, out):
    x, y = args
    return x if _is(y, defs, 0) else y if _is(x, defs, 0) else None


def _mul(args, params, defs, out):
    x, y = args
    return x if _is(y, defs, 1) else y if _is(x, defs, 1) else None


def _neg(args, params, defs, out):
    inner = defs.get(args[0])
    return inner.args[0] if inner is not None and inner.prim.name == "neg" else None


def _transpose(args, params, defs, out):
    inner = defs.get(args[0])
    if inner is None or inner.prim.name != "transpose":
        return None
    perm = tuple(inner.params["perm"][p] for p in params["perm"])
    x = inner.args[0]
    return x if perm == tuple(range(len(perm))) else ("transpose", (x,), {"perm": perm})


def _reshape(args, params, defs, out):
    if args[0].type.shape == out.type.shape:
        return args[0]
    inner = defs.get(args[0])
    if inner is not None and inner.prim.name == "reshape":
        x = inner.args[0]
        return x if x.type.shape == out.type.shape else ("reshape", (x,), dict(params))
    return None


RULES = {
    "add": _add,
    "sub": lambda args, params, defs, out: args[0] if _is(args[1], defs, 0) else None,
    "mul": _mul,
    "div": lambda args, params, defs, out: args[0] if _is(args[1], defs, 1) else None,
    "neg": _neg,
    "transpose": _transpose,
    "reshape": _reshape,
    "broadcast_to": _identity_if(lambda a, p, out: a[0].type == out.type),
    "cast": _identity_if(lambda a, p, out: a[0].type == out.type),
    "select": lambda args, params, defs, out: args[1] if args[1] is args[2] else None,
    "integer_pow": _identity_if(lambda a, p, out: p["n"] == 1),
}


def _const_value(v: Value, defs):
    """The array a value holds if it is a constant or a broadcast of one, else None."""
    instr = defs.get(v)
    if instr is not None and instr.prim.name == "broadcast_to":
        inner = _const_value(instr.args[0], defs)
        return None if inner is None else np.broadcast_to(inner, instr.params["shape"])
    return instr.params["value"] if instr is not None and instr.prim.name == "const" else None


def _stored_size(value: np.ndarray) -> int:
    """Elements a constant really holds (a broadcast view holds those of its source)."""
    return int(np.prod([d for d, s in zip(value.shape, value.strides) if s], dtype=np.int64))


def _fold(instr: Instr, args, defs):
    if instr.prim.name in _NO_FOLD or len(instr.outs) != 1 or instr.out.type.size > _FOLD_MAX:
        return None
    values = [_const_value(a, defs) for a in args]
    if any(v is None for v in values):
        return None
    # never expand a broadcast into a bigger constant: whether that fits under _FOLD_MAX
    # depends on the data size, and the IR must not change shape with it
    if values and instr.out.type.size > sum(_stored_size(v) for v in values):
        return None
    with np.errstate(all="ignore"):
        result = coerce(instr.prim.numpy(*values, **instr.params), instr.out.type)
    return ("const", (), {"value": result})


def simplify(fn: Function) -> Function:
    rename: dict[Value, Value] = {}
    defs: dict[Value, Instr] = {}
    body = []
    for instr in fn.body:
        args = tuple(rename.get(a, a) for a in instr.args)
        instr = Instr(instr.prim, instr.args, map_regions(instr.params, simplify), instr.outs,
                      instr.loc)
        rule = RULES.get(instr.prim.name)
        new = (rule(args, instr.params, defs, instr.outs[0]) if rule else None) or \
            _fold(instr, args, defs)
        if isinstance(new, Value):
            rename[instr.out] = new
            continue
        if new is not None:
            name, args, params = new
            instr = Instr(REGISTRY[name], args, params, instr.outs, instr.loc)
        else:
            instr = Instr(instr.prim, args, instr.params, instr.outs, instr.loc)
        body.append(instr)
        defs.update((o, instr) for o in instr.outs)
    results = [rename.get(r, r) for r in fn.results]
    return Function(fn.name, list(fn.params), body, results, dict(fn.meta))
