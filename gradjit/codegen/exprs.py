"""Expression rules: the value of an instruction's output at an index, in terms of its
operands' values at (remapped) indices. Elementwise primitives use the scalar tables; the
rules here move indices (broadcast, transpose, slice, flip, reshape, gather) or make values
(iota, const). A rule is `(em, instr, idx) -> register value`; `idx` is a list of i64 values,
or a `Flat` offset inside a flattened elementwise loop.
"""

from __future__ import annotations

import numpy as np

from ..errors import CompilerBug
from .loops import branch_value, linear
from .ltypes import I64, const, i64
from .plan import trivial_reshape
from .scalar import cast


class Flat:
    """The row-major offset of a flattened loop over an elementwise tree of one shape."""

    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


def _remap(fn):
    """A rule that evaluates operand 0 at `fn(instr, idx)`; unit-size operands ignore idx."""
    def rule(em, instr, idx):
        x = instr.args[0]
        if x.type.size == 1:
            return em.value(x, [i64(0)] * x.type.ndim)
        return em.value(x, fn(em, instr, idx))
    return rule


def _broadcast(em, instr, idx):
    x_shape = instr.args[0].type.shape
    lead = len(idx) - len(x_shape)
    return [i64(0) if d == 1 else idx[lead + k] for k, d in enumerate(x_shape)]


def _transpose(em, instr, idx):
    out = [None] * len(idx)
    for k, p in enumerate(instr.params["perm"]):
        out[p] = idx[k]
    return out


def _slice(em, instr, idx):
    b, p = em.b, instr.params
    return [_affine(b, i, s, lo) for i, lo, s in zip(idx, p["start"], p["step"])]


def _flip(em, instr, idx):
    shape, axes = instr.out.type.shape, instr.params["axes"]
    return [em.b.sub(i64(shape[k] - 1), i) if k in axes else i for k, i in enumerate(idx)]


def _pad(em, instr, idx):
    """Without interior padding: the operand at idx - lo where that lies inside it, else the
    fill value. The operand is evaluated in a branch taken only inside, at consecutive
    addresses, which the loop vectorizer turns into masked loads (a clamped index instead
    would make every read a gather, and the loop scalar)."""
    x, p, b = instr.args[0], instr.params, em.b
    if any(p["interior"]):
        raise CompilerBug("codegen", "a pad with interior padding is a kernel, not an expression")
    dtype = instr.out.type.dtype
    fill = cast(b, const("f64", p.get("value", 0.0)), "f64", dtype)
    if x.type.size == 0:
        return fill
    inside, src = None, []
    for i, lo, d in zip(idx, p["lo"], x.type.shape):
        j = b.sub(i, i64(lo)) if lo else i
        ok = b.icmp_unsigned("<", j, i64(d))  # (a negative j is a huge unsigned one)
        inside = ok if inside is None else b.and_(inside, ok)
        src.append(j)
    if inside is None:  # a 0-d pad is its operand
        return em.value(x, src)
    return branch_value(b, inside, lambda: em.value(x, src), fill, "pad")


def _affine(b, i, scale: int, offset: int):
    if scale != 1:
        i = b.mul(i, i64(scale), flags=("nsw", "nuw"))
    return b.add(i, i64(offset), flags=("nsw", "nuw")) if offset else i


def _reshape(em, instr, idx):
    x, out = instr.args[0], instr.out
    if x.type.size == 1:
        return em.value(x, [i64(0)] * x.type.ndim)
    if x in em.plan.slots:  # read the operand's buffer at the same row-major offset
        return em.load(x, None, offset=linear(em.b, idx, out.type.shape))
    if not trivial_reshape(x.type, out.type):
        raise CompilerBug("codegen", f"reshape {x.type} -> {out.type} of a fused operand")
    kept = iter(i for i, d in zip(idx, out.type.shape) if d != 1)
    return em.value(x, [i64(0) if d == 1 else next(kept) for d in x.type.shape])


def _iota(em, instr, idx):
    dtype = instr.out.type.dtype
    i = idx[instr.params["axis"]]
    return cast(em.b, i, "i64", dtype) if dtype != "bool" else em.b.icmp_signed("!=", i, i64(0))


def _const(em, instr, idx):
    value, dtype = instr.params["value"], instr.out.type.dtype
    if value.size == 1:
        return const(dtype, np.asarray(value).reshape(-1)[0])
    glob = em.const_global(instr.out, value)
    return em.load(instr.out, idx, base=glob)


def gather_index(em, x, ind, axis: int, idx, op: str = "gather", loc: str | None = None):
    """The index into x that gather reads for output index `idx`: negative indices count from
    the end; out-of-range ones are reported (em.check) and clamped, so memory stays safe."""
    size, b = x.type.shape[axis], em.b
    k = em.value(ind, idx[axis : axis + ind.type.ndim])
    k = b.sext(k, I64) if k.type != I64 else k
    bad = b.or_(b.icmp_signed("<", k, i64(-size)), b.icmp_signed(">=", k, i64(size)))
    em.check(bad, op, f"an index is out of bounds for an axis of size {size}", loc)
    k = b.select(b.icmp_signed("<", k, i64(0)), b.add(k, i64(size)), k)
    k = b.select(b.icmp_signed("<", k, i64(0)), i64(0), k)
    k = b.select(b.icmp_signed(">=", k, i64(size)), i64(max(size - 1, 0)), k)
    return list(idx[:axis]) + [k] + list(idx[axis + ind.type.ndim :])


def _gather(em, instr, idx):
    x, ind = instr.args
    return em.value(x, gather_index(em, x, ind, instr.params["axis"], idx, loc=instr.loc))


EXPRS = {
    "broadcast_to": _remap(_broadcast),
    "transpose": _remap(_transpose),
    "slice": _remap(_slice),
    "flip": _remap(_flip),
    "reshape": _reshape,
    "iota": _iota,
    "const": _const,
    "gather": _gather,
    "pad": _pad,
}
# remaps that keep an elementwise tree flat when the operand has one element
FLAT_SAFE = frozenset({"broadcast_to", "reshape", "transpose", "flip", "slice"})
