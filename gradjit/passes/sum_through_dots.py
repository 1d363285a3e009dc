"""Sum before multiplying: `reduce_sum(dot(A, B))` over axes that are free axes of A alone
becomes `dot(reduce_sum(A), B)`, since sum_i A[i] B = (sum_i A[i]) B.

Reverse mode makes this shape whenever a broadcast parameter meets a matrix product: the
cotangent of `means` in `(x - means) @ Q.T` is the sum over points of `dY @ Q`, one matmul per
point where one per component suffices (W7: a 25x1000x10x10 batched product becomes 25x10x10).
Negations between the two move along (they commute with both). The dot and the chain must have
no other use; DCE removes them.
"""

from __future__ import annotations

from ..ir.core import Function, Instr, Value, producers, uses
from ..ops.primitive import REGISTRY

CHAIN = frozenset({"neg"})  # elementwise linear ops that commute with the sum and the dot


def sum_through_dots(fn: Function) -> Function:
    made, count = producers(fn), uses(fn)
    body = []
    for instr in fn.body:
        body += _rewritten(instr, made, count) or [instr]
    return Function(fn.name, list(fn.params), body, list(fn.results), dict(fn.meta))


def _rewritten(r: Instr, made, count) -> list[Instr] | None:
    if r.prim.name != "reduce_sum":
        return None
    chain, v = [], r.args[0]
    while v in made and made[v].prim.name in CHAIN and count.get(v) == 1:
        chain.append(made[v])
        v = made[v].args[0]
    dot = made.get(v)
    if dot is None or dot.prim.name != "dot_general" or count.get(v) != 1:
        return None
    side = _one_sides_free_axes(dot, r.params["axes"])
    if side is None:
        return None
    k, axes = side
    operand = dot.args[k]
    summed = _instr("reduce_sum", [operand], {"axes": axes}, r.loc)
    (contract, batch) = (dot.params["contract"], dot.params["batch"])
    shift = lambda a: a - sum(x < a for x in axes)  # noqa: E731  (axes left of a are gone)
    contract = tuple(tuple(map(shift, c)) if i == k else c for i, c in enumerate(contract))
    batch = tuple(tuple(map(shift, b)) if i == k else b for i, b in enumerate(batch))
    args = [summed.out, dot.args[1]] if k == 0 else [dot.args[0], summed.out]
    out = [summed, _instr("dot_general", args, {"contract": contract, "batch": batch}, dot.loc)]
    for link in reversed(chain):
        out.append(_instr(link.prim.name, [out[-1].out], dict(link.params), link.loc))
    if out[-1].out.type != r.out.type:
        return None  # (cannot happen for the ops above; kept as a guard)
    last = out[-1]
    out[-1] = Instr(last.prim, last.args, last.params, [r.out], last.loc)
    return out


def _one_sides_free_axes(dot: Instr, axes) -> tuple[int, tuple[int, ...]] | None:
    """(operand k, its axes) when the summed output axes are all free axes of operand k.
    The output is batch axes, then lhs free axes, then rhs free axes."""
    contract, batch = dot.params["contract"], dot.params["batch"]
    free = [[a for a in range(x.type.ndim) if a not in contract[i] + batch[i]]
            for i, x in enumerate(dot.args)]
    nb = len(batch[0])
    for k, start in ((0, nb), (1, nb + len(free[0]))):
        span = range(start, start + len(free[k]))
        if axes and all(a in span for a in axes):
            return k, tuple(sorted(free[k][a - start] for a in axes))
    return None


def _instr(name: str, args, params, loc) -> Instr:
    prim = REGISTRY[name]
    out = Value(prim.out_type([a.type for a in args], params))
    return Instr(prim, args, params, [out], loc)
