"""A sum of contractions is one contraction: `dot(a1, b1) + dot(a2, b2) + ...` becomes
`dot(concat(a1, a2, ...), concat(b1, b2, ...))`, concatenating along a contracted axis.

Reverse mode of an unrolled loop (W4's RNN) accumulates each weight's cotangent as a chain of
adds of per-step outer products: T rank-1 updates that each read and write the whole matrix.
One GEMM over the stacked operands does the same arithmetic at BLAS speed and writes the matrix
once. Only dots used by nothing but the sum are merged, and only when their operands agree
everywhere but along the first contracted axis (so the concatenation is well typed).
"""

from __future__ import annotations

from collections import defaultdict

from ..ir.core import Function, Instr, Value
from ..ops.primitive import REGISTRY
from .regions import map_regions


# dots merged into one at most: the concatenation of k operands is k copy loops in one kernel,
# and LLVM's scheduling of those (unrolled) copies grows faster than linearly with k
MAX_MERGED = 8


def merge_dot_sums(fn: Function) -> Function:
    body = [Instr(i.prim, i.args, map_regions(i.params, merge_dot_sums), i.outs, i.loc)
            for i in fn.body]
    producers = {o: i for i in body for o in i.outs}
    uses: dict[Value, int] = defaultdict(int)
    for v in [a for i in body for a in i.args] + list(fn.results):
        uses[v] += 1
    inner = _inner_adds(body, producers, uses)
    out: list[Instr] = []
    for instr in body:
        if instr.prim.name == "add" and instr.out not in inner:
            out += _rewrite_sum(instr, producers, uses, inner) or [instr]
        else:
            out.append(instr)
    return Function(fn.name, list(fn.params), out, list(fn.results), dict(fn.meta))


def _inner_adds(body, producers, uses) -> set[Value]:
    """Outputs of adds whose only use is another add of the same type (inside one sum)."""
    inner = set()
    for i in body:
        if i.prim.name == "add":
            for a in i.args:
                p = producers.get(a)
                if p is not None and p.prim.name == "add" and uses[a] == 1 and \
                        a.type == i.out.type and i.args[0] is not i.args[1]:
                    inner.add(a)
    return inner


def _terms(v: Value, producers, inner) -> list[Value]:
    i = producers[v]
    return [t for a in i.args for t in
            (_terms(a, producers, inner) if a in inner else [a])]


def _key(dot: Instr):
    """Dots with the same key can be merged along their first contracted axes."""
    (cl, cr), batch = dot.params["contract"], dot.params["batch"]
    if not cl:
        return None
    lhs, rhs = dot.args

    def blank(t, axis):
        return (t.dtype, tuple(-1 if k == axis else d for k, d in enumerate(t.shape)))

    return (cl, cr, batch, blank(lhs.type, cl[0]), blank(rhs.type, cr[0]), dot.out.type)


def _rewrite_sum(root: Instr, producers, uses, inner) -> list[Instr] | None:
    terms = _terms(root.out, producers, inner)
    groups: dict = defaultdict(list)
    for t in terms:
        p = producers.get(t)
        if p is not None and p.prim.name == "dot_general" and uses[t] == 1 and t.type == \
                root.out.type:
            key = _key(p)
            if key is not None:
                groups[key].append(p)
    chunks = [g[k:k + MAX_MERGED] for g in groups.values() for k in range(0, len(g), MAX_MERGED)]
    merged = {id(g[0]): g for g in chunks if len(g) > 1}
    if not merged:
        return None
    gone = {d.out for g in merged.values() for d in g[1:]}
    new: list[Instr] = []
    summands = []
    for t in terms:
        if t in gone:
            continue
        group = merged.get(id(producers.get(t)))
        summands.append(_merged_dot(group, new, root.loc) if group else t)
    if len(summands) == 1:  # everything merged into one dot: it computes the sum itself
        new[-1].outs = (root.out,)
        return new
    acc = summands[0]
    for k, s in enumerate(summands[1:], 2):
        out = root.out if k == len(summands) else Value(root.out.type)
        new.append(Instr(REGISTRY["add"], [acc, s], {}, [out], root.loc))
        acc = out
    return new


def _merged_dot(group: list[Instr], new: list[Instr], loc) -> Value:
    """Append concatenations of the group's operands and their one dot; return its value.
    Without batch axes, each operand's concatenated axis is moved to the front first, so the
    stack is written in contiguous blocks (W4: a column-wise concatenation of 8 vectors is
    strided copies that LLVM takes twice as long to compile, and that run slower)."""
    params = dict(group[0].params)
    contract = [list(c) for c in params["contract"]]
    front = params["batch"] == ((), ())
    stacked = []
    for side in (0, 1):
        axis, parts = contract[side][0], [d.args[side] for d in group]
        if front and axis:
            perm = (axis,) + tuple(i for i in range(parts[0].type.ndim) if i != axis)
            moved = [Value(p.type.with_shape(p.type.shape[i] for i in perm)) for p in parts]
            new += [Instr(REGISTRY["transpose"], [p], {"perm": perm}, [m], loc)
                    for p, m in zip(parts, moved)]
            parts, contract[side], axis = moved, [perm.index(i) for i in contract[side]], 0
        t = parts[0].type
        size = sum(p.type.shape[axis] for p in parts)
        v = Value(t.with_shape(t.shape[:axis] + (size,) + t.shape[axis + 1:]))
        new.append(Instr(REGISTRY["concatenate"], parts, {"axis": axis}, [v], loc))
        stacked.append(v)
    params["contract"] = (tuple(contract[0]), tuple(contract[1]))
    out = Value(group[0].out.type)
    new.append(Instr(REGISTRY["dot_general"], stacked, params, [out], loc))
    return out
