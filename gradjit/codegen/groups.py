"""Horizontal fusion: consecutive steps over one shape share one loop nest.

Inside a shared loop every value is computed once per index and kept in a register, so a
temporary read only by steps of its own loop needs no buffer at all; full reductions of values
of that shape accumulate in the same loop. A step may join the current loop when it has the
loop's shape, reads buffers written in this loop only at the loop's own index (through
elementwise ops, never through a broadcast, transpose, gather, ...), and does not read a
reduction still being accumulated.
"""

from __future__ import annotations

from ..ir.core import Value

FULL_REDUCTIONS = frozenset({"reduce_sum", "reduce_max", "reduce_min", "reduce_prod"})
# expressions that read their operands somewhere other than at their own index
REMAPS = frozenset({"broadcast_to", "transpose", "slice", "flip", "reshape", "gather", "pad"})
KERNELS = frozenset({"argmax", "dot_general", "concatenate", "pad", "scatter_add", "scan", "cond",
                     "while_loop", "remat"})


def is_remap_pad(instr) -> bool:
    """A pad without interior padding is an index remap (a guarded read, exprs._pad), fused
    like a slice; with interior padding it is a kernel with loops of its own."""
    return instr.prim.name == "pad" and not any(instr.params["interior"])


def is_full_reduction(step) -> bool:
    instr = step.instr
    if instr is None or instr.prim.name not in FULL_REDUCTIONS:
        return False
    ndim = instr.args[0].type.ndim
    return ndim > 0 and len(instr.params["axes"]) == ndim


def loop_shape(step):
    """The shape of the loop this step runs, or None when it needs loops of its own."""
    if step.instr is None:
        return step.src.type.shape
    if is_full_reduction(step):
        return step.instr.args[0].type.shape
    name = step.instr.prim.name
    if (name in KERNELS and not is_remap_pad(step.instr)) or name in FULL_REDUCTIONS:
        return None
    return step.value.type.shape


def reads(step, slots, producers) -> dict[Value, bool]:
    """The buffers a step reads -> whether every read is at the loop's own index."""
    if step.instr is None:
        start = [(step.src, True)]
    else:
        ident = step.instr.prim.name not in REMAPS and (
            is_full_reduction(step) or loop_shape(step) is not None)
        start = [(a, ident) for a in step.instr.args]
    out, seen, todo = {}, set(), start
    while todo:
        v, ident = todo.pop()
        if (v, ident) in seen:
            continue
        seen.add((v, ident))
        if v in slots:
            while slots[v] is not None and slots[v].kind == "view":
                v, ident = slots[v].of, False
            out[v] = out.get(v, True) and ident
        else:
            instr = producers[v]
            todo.extend((a, ident and instr.prim.name not in REMAPS) for a in instr.args)
    return out


def group_steps(steps, slots, producers) -> list[list[int]]:
    """Step numbers partitioned into loops, in program order."""
    groups: list[list[int]] = []
    shape, written, pending = None, set(), set()
    for n, step in enumerate(steps):
        s, r = loop_shape(step), reads(step, slots, producers)
        joins = (s is not None and groups and s == shape and not (set(r) & pending)
                 and all(ok for v, ok in r.items() if v in written))
        if not joins:
            groups.append([])
            shape, written, pending = s, set(), set()
        groups[-1].append(n)
        written.add(step.value)
        if is_full_reduction(step):
            pending.add(step.value)
    return groups
