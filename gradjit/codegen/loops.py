"""Loop nests over static shapes: counted loops with a phi induction variable, row-major
linear indices. Trip counts are constants, so LLVM sees exactly what it needs to vectorize
(only py_entry's loops over a descriptor have trip counts read at run time)."""

from __future__ import annotations

import contextlib

from llvmlite import ir

from .ltypes import I64, i64


def branch_value(b: ir.IRBuilder, cond, make, otherwise, name: str):
    """`make()` when cond holds, else `otherwise`: a branch and a phi, so make's code runs only
    when needed (a guarded read, a libm call for rare arguments)."""
    here = b.block
    then, done = b.append_basic_block(f"{name}.then"), b.append_basic_block(f"{name}.done")
    b.cbranch(cond, then, done)
    b.position_at_end(then)
    got = make()
    end = b.block
    b.branch(done)
    b.position_at_end(done)
    out = b.phi(got.type)
    out.add_incoming(got, end)
    out.add_incoming(otherwise, here)
    return out


# Constant trip counts below this are not interleaved (`llvm.loop.interleave.count` 1): the
# vectorizer's extra copies of a short loop ran no faster in the bench but cost ~5 of a small
# function's ~22 ms of LLVM time (machine code for the copies, mostly). Longer loops: LLVM
# decides.
INTERLEAVE_MIN = 4096


class _LoopID(ir.values.MDValue):
    """A distinct loop id: LLVM only reads loop metadata whose operand 0 is the node itself.
    Compared and hashed by identity (its operands contain itself)."""

    __hash__ = object.__hash__

    def __init__(self, module: ir.Module, props):
        super().__init__(module, [], name=str(len(module.metadata)))
        self.operands = (self, *props)

    def __eq__(self, other):
        return self is other


def _no_interleave(module: ir.Module):
    prop = module.add_metadata([ir.MetaDataString(module, "llvm.loop.interleave.count"),
                                ir.Constant(ir.IntType(32), 1)])
    return _LoopID(module, [prop])


@contextlib.contextmanager
def loop(b: ir.IRBuilder, n, name: str = "i"):
    """`for i in range(n)` (n an int or an i64 value): yields the i64 induction variable,
    positioned in the body."""
    pre = b.block
    head = b.append_basic_block(f"{name}.head")
    body = b.append_basic_block(f"{name}.body")
    done = b.append_basic_block(f"{name}.done")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64, name)
    i.add_incoming(i64(0), pre)
    b.cbranch(b.icmp_signed("<", i, n if isinstance(n, ir.Value) else i64(n)), body, done)
    b.position_at_end(body)
    yield i
    i.add_incoming(b.add(i, i64(1), flags=("nsw", "nuw")), b.block)
    latch = b.branch(head)
    if isinstance(n, int) and n < INTERLEAVE_MIN:
        latch.set_metadata("llvm.loop", _no_interleave(b.module))
    b.position_at_end(done)


# Floating-point sums and products are computed in one fixed order, the same whatever LLVM
# makes of the loop (so a function's quick and optimized code agree, runtime/tiers.py, and so do
# machines of different vector widths). With L lanes, lane l accumulates the elements whose
# index along the loop is l mod L, in order, and the lanes are combined in order at the end.
# The loop runs over blocks of L elements with the lanes written out, which LLVM's SLP
# vectorizer turns into vector operations per block: the same vector loop as a reassociating
# reduction gives (measured on the benchmarks). A pairwise combination of the lanes made SLP
# use two 2-lane vectors instead. L is 8 for a light loop body over 64 elements or more (two
# vector accumulators on AVX2, one on AVX-512: in-cache sums ran ~1.4x faster than with 4), and
# 4 for a heavy body, which is compute bound anyway and would be written out 8 times (compile
# time), and for shorter loops (8 lanes over W7's rows of 10 made its gradient 40% slower).
LANES = (8, 4)  # (light, heavy)
LIGHT_WEIGHT = 16  # Emitter.weight of a light body: one vector-math kernel and a few ops
HEAVY_OPS = 10  # the weight of a vector-math kernel (exp, tanh, ...) against 1 for an add


def lanes_for(weight: int, n: int) -> int:
    """The lanes of a reduction over n elements along its loop whose body weighs `weight`."""
    return LANES[0] if weight <= LIGHT_WEIGHT and n >= 8 * LANES[0] else LANES[1]


def lane_loop(b: ir.IRBuilder, n: int, lanes: int, name: str, body) -> None:
    """`body(i, lane)` for i in range(n), lane = i % lanes, in blocks: a loop over the
    n // lanes whole blocks with the lanes written out, then the n % lanes last elements."""
    blocks = n // lanes
    if blocks:
        with loop(b, blocks, name) as j:
            first = b.mul(j, i64(lanes), flags=("nsw", "nuw"))
            for lane in range(lanes):
                body(b.add(first, i64(lane), flags=("nsw", "nuw")) if lane else first, lane)
    for lane in range(n % lanes):
        body(i64(blocks * lanes + lane), lane)


def lane_total(lanes, combine):
    """The lanes' partial results combined in order: ((l0 + l1) + l2) + l3."""
    total = lanes[0]
    for part in lanes[1:]:
        total = combine(total, part)
    return total


@contextlib.contextmanager
def nest(b: ir.IRBuilder, shape, name: str = "d"):
    """Row-major loops over `shape` (outermost first); yields the list of indices. Axes of
    size 1 get the constant 0 instead of a loop."""
    with contextlib.ExitStack() as stack:
        idx = []
        for k, d in enumerate(shape):
            idx.append(i64(0) if d == 1 else stack.enter_context(loop(b, d, f"{name}{k}")))
        yield idx


def strides(shape) -> list[int]:
    """Row-major element strides."""
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def linear(b: ir.IRBuilder, idx, shape) -> ir.Value:
    """The row-major element offset of multi-index `idx` into `shape`."""
    off = None
    for i, d, s in zip(idx, shape, strides(shape)):
        if d == 1:
            continue  # the index is 0 on a unit axis
        term = i if s == 1 else b.mul(i, i64(s), flags=("nsw", "nuw"))
        off = term if off is None else b.add(off, term, flags=("nsw", "nuw"))
    return i64(0) if off is None else off
