"""Kernels: instructions with their own loop nests, writing a destination buffer. Operands are
read through `em.value`, so fused expressions are computed inside these loops. A kernel is
`(em, instr, dest) -> None` where `dest` is the output buffer pointer.
"""

from __future__ import annotations

from .exprs import gather_index
from .loops import lane_loop, lane_total, lanes_for, loop, nest
from .ltypes import REG, const, i64
from .scalar import cast, lower_scalar

_FLOAT_ID = {"reduce_sum": 0.0, "reduce_prod": 1.0, "reduce_max": float("-inf"),
             "reduce_min": float("inf")}
_INT_ID = {"reduce_sum": 0, "reduce_prod": 1, "reduce_max": "min", "reduce_min": "max"}
_BOOL_ID = {"reduce_sum": 0, "reduce_prod": 1, "reduce_max": 0, "reduce_min": 1}
_COMBINE = {"reduce_sum": "add", "reduce_prod": "mul", "reduce_max": "maximum",
            "reduce_min": "minimum"}


def identity(name: str, dtype: str):
    if dtype in ("f32", "f64"):
        return const(dtype, _FLOAT_ID[name])
    if dtype == "bool":
        return const(dtype, _BOOL_ID[name])
    v = _INT_ID[name]
    bits = REG[dtype].width
    return const(dtype, {"min": -(1 << (bits - 1)), "max": (1 << (bits - 1)) - 1}.get(v, v))


def combiner(em, name, dtype):
    """`(acc, x) -> acc combined with x`, without fast-math flags: float sums and products keep
    a fixed order by running in lanes (loops.lane_loop), never by LLVM's reassociation."""
    cx = em.cx(dtype, {})
    op = _COMBINE[name]
    return lambda acc, x: lower_scalar(cx, op, [acc, x])


def in_lanes(name: str, dtype: str) -> bool:
    """Does this reduction accumulate in lanes? Float sums and products: their rounding
    depends on the order (integer ones, maxima and minima do not)."""
    return dtype in ("f32", "f64") and _COMBINE[name] in ("add", "mul")


def reduce(em, instr, dest):
    """Reduced axes innermost with register accumulators when the last axis is reduced (the
    innermost reduced loop in lanes for float sums and products); otherwise accumulate into
    dest in the operand's row-major order (contiguous inner loop)."""
    x, axes, name = instr.args[0], instr.params["axes"], instr.prim.name
    shape, dtype, b = x.type.shape, x.type.dtype, em.b
    kept = [k for k in range(len(shape)) if k not in axes]
    out_shape = instr.out.type.shape
    combine, ident = combiner(em, name, dtype), identity(name, dtype)
    if shape and (len(shape) - 1) in axes:
        sizes = [shape[a] for a in axes]
        lanes = lanes_for(em.weight([instr]), sizes[-1]) if in_lanes(name, dtype) else 1
        accs = [em.alloca(dtype) for _ in range(lanes)]
        with nest(b, out_shape, "r") as out_idx:
            for acc in accs:
                b.store(ident, acc)
            with nest(b, sizes[:-1], "k") as outer_idx:
                def add(i, lane):
                    full = _merge(len(shape), kept, out_idx, axes, [*outer_idx, i])
                    acc = accs[lane % lanes]
                    b.store(combine(b.load(acc, typ=REG[dtype]), em.value(x, full)), acc)
                if lanes > 1:
                    lane_loop(b, sizes[-1], lanes, "kl", add)
                else:
                    with nest(b, sizes[-1:], "k") as inner:
                        add(inner[0], 0)
            total = lane_total([b.load(acc, typ=REG[dtype]) for acc in accs], combine)
            em.store(instr.out, total, out_idx, base=dest)
        return
    with nest(b, out_shape, "z") as out_idx:
        em.store(instr.out, ident, out_idx, base=dest)
    with nest(b, shape, "r") as idx:
        out_idx = [idx[k] for k in kept]
        cur = em.load(instr.out, out_idx, base=dest)
        em.store(instr.out, combine(cur, em.value(x, idx)), out_idx, base=dest)


def _merge(ndim, kept, kept_idx, axes, red_idx):
    full = [None] * ndim
    for k, i in zip(kept, kept_idx):
        full[k] = i
    for a, i in zip(axes, red_idx):
        full[a] = i
    return full


def argmax(em, instr, dest):
    """First index of the maximum; a NaN wins (numpy's argmax returns the first NaN)."""
    x, axis = instr.args[0], instr.params["axis"]
    shape, dtype, b = x.type.shape, x.type.dtype, em.b
    kept = [k for k in range(len(shape)) if k != axis]
    best, where = em.alloca(dtype), em.alloca("i64")
    with nest(b, instr.out.type.shape, "r") as out_idx:
        b.store(em.value(x, _merge(len(shape), kept, out_idx, [axis], [i64(0)])), best)
        b.store(i64(0), where)
        with loop(b, shape[axis], "k") as k:
            v, cur = em.value(x, _merge(len(shape), kept, out_idx, [axis], [k])), \
                b.load(best, typ=REG[dtype])
            take = _greater(b, dtype, v, cur)
            b.store(b.select(take, v, cur), best)
            b.store(b.select(take, k, b.load(where, typ=REG["i64"])), where)
        em.store(instr.out, b.load(where, typ=REG["i64"]), out_idx, base=dest)


def _greater(b, dtype, v, cur):
    if dtype in ("f32", "f64"):  # v > cur, or v is the first NaN
        cur_is_num = b.fcmp_ordered("==", cur, cur)
        return b.and_(cur_is_num, b.fcmp_unordered(">", v, cur))
    return (b.icmp_unsigned if dtype == "bool" else b.icmp_signed)(">", v, cur)


def concatenate(em, instr, dest):
    axis, b, at = instr.params["axis"], em.b, 0
    for x in instr.args:
        with nest(b, x.type.shape, "c") as idx:
            out_idx = list(idx)
            out_idx[axis] = b.add(idx[axis], i64(at)) if at else idx[axis]
            em.store(instr.out, em.value(x, idx), out_idx, base=dest)
        at += x.type.shape[axis]


def pad(em, instr, dest):
    x, p, b = instr.args[0], instr.params, em.b
    dtype = instr.out.type.dtype
    fill = cast(b, const("f64", p.get("value", 0.0)), "f64", dtype)
    with nest(b, instr.out.type.shape, "p") as idx:
        em.store(instr.out, fill, idx, base=dest)
    with nest(b, x.type.shape, "x") as idx:
        out_idx = [_scaled(b, i, n + 1, lo) for i, n, lo in zip(idx, p["interior"], p["lo"])]
        em.store(instr.out, em.value(x, idx), out_idx, base=dest)


def _scaled(b, i, scale, offset):
    if scale != 1:
        i = b.mul(i, i64(scale))
    return b.add(i, i64(offset)) if offset else i


def scatter_add(em, instr, dest):
    """out = x; then out[pre, idx[j], post] += upd[pre, j, post], sequentially (repeats add)."""
    x, ind, upd = instr.args
    axis, b = instr.params["axis"], em.b
    with nest(b, x.type.shape, "s") as idx:
        em.store(instr.out, em.value(x, idx), idx, base=dest)
    add = combiner(em, "reduce_sum", x.type.dtype)
    with nest(b, upd.type.shape, "u") as idx:
        out_idx = gather_index(em, x, ind, axis, idx, "scatter_add", instr.loc)
        cur = em.load(instr.out, out_idx, base=dest)
        em.store(instr.out, add(cur, em.value(upd, idx)), out_idx, base=dest)


KERNELS = {
    "reduce_sum": reduce, "reduce_max": reduce, "reduce_min": reduce, "reduce_prod": reduce,
    "argmax": argmax, "concatenate": concatenate, "pad": pad, "scatter_add": scatter_add,
}
