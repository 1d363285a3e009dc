"""Algebraic simplification and constant folding, as a table of rewrite rules keyed by op.

NaN semantics: a rule fires only when it is exact for every input, NaN and inf included:
`x*1 -> x`, `x/1 -> x`, `x+0 -> x` (up to the sign of a zero), double negation, composed
transposes/reshapes, identity shape ops. `x*0` is *not* folded (inf*0 and nan*0 are nan).
Constants fold when every operand is constant and the result has at most 64 elements.
`stop_gradient` is kept: it still matters if the function is differentiated again.
Size-independent rewrites: elementwise ops on broadcast scalars fold to a broadcast scalar,
broadcasts and reductions compose, and a transposed matrix product becomes the product with its
operands swapped (no transpose copy), when nothing else uses the unswapped product.
"""

from __future__ import annotations

import numpy as np

from ..ir.core import Function, Instr, Value, uses
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


class _Defs(dict):
    """Value -> defining instruction, plus how often each value of the input is used."""

    def __init__(self, use_counts):
        super().__init__()
        self.uses = use_counts

    def sole(self, v: Value, prim: str) -> Instr | None:
        """v's defining instruction if it is `prim` and v has no other use."""
        instr = self.get(v)
        ok = instr is not None and instr.prim.name == prim and self.uses.get(v, 0) == 1
        return instr if ok else None


def _dot_swapped(dot: Instr, perm):
    """transpose(dot_general(x, y), perm) as dot_general(y, x) when perm swaps the free blocks."""
    (xc, yc), (xb, yb) = dot.params["contract"], dot.params["batch"]
    x, y = dot.args
    nb = len(xb)
    nx = x.type.ndim - len(xc) - nb
    ny = y.type.ndim - len(yc) - nb
    swapped = tuple(range(nb)) + tuple(range(nb + nx, nb + nx + ny)) + tuple(range(nb, nb + nx))
    if tuple(perm) != swapped or perm == tuple(range(len(perm))):
        return None
    return ("dot_general", (y, x), {"contract": (yc, xc), "batch": (yb, xb)})


def _transpose(args, params, defs, out):
    dot = defs.sole(args[0], "dot_general")
    if dot is not None:
        return _dot_swapped(dot, params["perm"])
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


def _broadcast(args, params, defs, out):
    if args[0].type == out.type:
        return args[0]
    inner = defs.get(args[0])
    if inner is not None and inner.prim.name == "broadcast_to":  # broadcasting composes
        return ("broadcast_to", (inner.args[0],), dict(params))
    return None


def _reshape_of_scalar(args, params, defs, out):
    inner = defs.get(args[0])
    if inner is not None and inner.prim.name == "broadcast_to":
        source = inner.args[0].type  # one value broadcast: any reshape is a broadcast of it
        if source.size == 1 and source.ndim <= out.type.ndim:
            return ("broadcast_to", (inner.args[0],), {"shape": out.type.shape})
    return _reshape(args, params, defs, out)


def _sum_of_sum(args, params, defs, out):
    inner = defs.sole(args[0], "reduce_sum")
    if inner is None:
        return None
    kept = [i for i in range(inner.args[0].type.ndim) if i not in inner.params["axes"]]
    axes = tuple(sorted(inner.params["axes"] + tuple(kept[a] for a in params["axes"])))
    return ("reduce_sum", (inner.args[0],), {"axes": axes})


RULES = {
    "add": _add,
    "sub": lambda args, params, defs, out: args[0] if _is(args[1], defs, 0) else None,
    "mul": _mul,
    "div": lambda args, params, defs, out: args[0] if _is(args[1], defs, 1) else None,
    "neg": _neg,
    "transpose": _transpose,
    "reshape": _reshape_of_scalar,
    "broadcast_to": _broadcast,
    "reduce_sum": _sum_of_sum,
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
    if value.size == 0:  # numpy gives empty arrays arbitrary strides; they hold nothing
        return 0
    return int(np.prod([d for d, s in zip(value.shape, value.strides) if s], dtype=np.int64))


def _fold_splats(instr: Instr, values):
    """An elementwise op on broadcast scalars: the scalar result, broadcast (any size)."""
    if instr.prim.batch != "elementwise" or not values or \
            any(_stored_size(v) != 1 or v.size == 0 for v in values):  # size 0: no scalar
        return None
    scalars = [np.asarray(v.flat[0], v.dtype) for v in values]
    with np.errstate(all="ignore"):
        result = coerce(instr.prim.numpy(*scalars, **instr.params),
                        instr.out.type.with_shape(()))
    scalar = Value(instr.out.type.with_shape(()))
    return [Instr(REGISTRY["const"], (), {"value": result}, [scalar], instr.loc),
            Instr(REGISTRY["broadcast_to"], (scalar,), {"shape": instr.out.type.shape},
                  instr.outs, instr.loc)]


def _fold(instr: Instr, args, defs):
    if instr.prim.name in _NO_FOLD or instr.prim.multiple_results:
        return None
    values = [_const_value(a, defs) for a in args]
    if any(v is None for v in values):
        return None
    splat = _fold_splats(instr, values) if instr.out.type.ndim else None
    if splat is not None:
        return splat
    if instr.out.type.size > _FOLD_MAX:
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
    defs = _Defs(uses(fn))
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
        if isinstance(new, list):  # several instructions, the last defining the output
            body += new
            defs.update((o, i) for i in new for o in i.outs)
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
