"""Fusion and buffer planning (pure Python over the IR; no LLVM here).

Every instruction is either an *expression* (elementwise math, casts, selects, index remaps like
broadcast/transpose/slice, iota, constants, gather) that can be evaluated at any index inside
its consumer's loop nest, or a *kernel* (reductions, dot, concatenate, pad, scatter-add) with its
own loops writing a buffer. An expression is fused into its consumer unless it is a result, a
consumer needs a real buffer, or recomputing it would repeat work (several uses, or a consumer
that reads each element many times, like a broadcast or a dot). What is left is a list of steps,
grouped into shared loop nests (groups.py); temporaries read only inside their own loop stay in
registers, the others get a stack slot when small and otherwise a workspace offset chosen by
liveness (first fit, 64-byte aligned).

Structured control flow (`scan`, `cond`, `while_loop`) is a kernel with several outputs, all
buffers; its regions are planned here too (`Plan.regions`), and one scratch temporary per such
instruction holds the regions' workspace and the loop's second carry buffers (codegen/control.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.core import Function, Instr, Value
from ..ir.printer import regions
from ..ir.types import TensorType
from .canon import canonical_dots
from .groups import group_steps, is_remap_pad, reads

CONTROL = frozenset({"scan", "cond", "while_loop", "remat"})
KERNELS = frozenset({"reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "argmax",
                     "dot_general", "concatenate", "pad", "scatter_add"}) | CONTROL
# expressions that only move or generate data: recomputing them per use costs a load at most
CHEAP = frozenset({"broadcast_to", "transpose", "slice", "flip", "reshape", "stop_gradient",
                   "iota", "const"})
# a value computed from indices and constants alone by at most this many ops (an identity
# matrix: iota, iota, sub, eq, cast) is recomputed per use, never stored: jacfwd/hessian seed
# with one, and a stored 1000x1000 one cost 8 MB of memory traffic per read
GENERATED_OPS = 8
SMALL_BYTES = 256  # temporaries up to this size live on the stack (and SROA puts them in regs)
ALIGN = 64
ITEMSIZE = {"bool": 1, "i32": 4, "i64": 8, "f32": 4, "f64": 8}


def is_kernel(instr: Instr) -> bool:
    """Does the op write its output with loops of its own (so it needs a buffer)?"""
    return instr.prim.name in KERNELS and not is_remap_pad(instr)


def nbytes(t: TensorType) -> int:
    return t.size * ITEMSIZE[t.dtype]


def trivial_reshape(src: TensorType, dst: TensorType) -> bool:
    """Only unit axes are added or removed, so the reshape is an index remap."""
    return [d for d in src.shape if d != 1] == [d for d in dst.shape if d != 1]


def needs_buffer(use: Instr, pos: int) -> bool:
    """Does this operand have to be a real buffer (BLAS, or a reshape that regroups axes)?"""
    name = use.prim.name
    if name == "dot_general" or name in CONTROL:  # BLAS and regions take pointers
        return True
    return name == "reshape" and not trivial_reshape(use.args[0].type, use.out.type)


def reads_once(use: Instr, pos: int) -> bool:
    """Does `use` read each element of its operand `pos` at most once per evaluation?"""
    name = use.prim.name
    if name == "broadcast_to":
        return use.out.type.size <= use.args[0].type.size
    return name not in ("dot_general", "gather")


@dataclass(frozen=True)
class Slot:
    """Where a buffer lives: a parameter, a result, the workspace, the stack, or a view."""

    kind: str  # "in" | "out" | "ws" | "stack" | "view"
    index: int = 0  # parameter/result number, or workspace byte offset
    of: Value | None = None  # for views: the value owning the buffer


@dataclass(eq=False)
class Step:
    """`instr` (None for a plain copy of `src`) computes `value` into `dest` (None: the value
    lives in a register of its loop)."""

    instr: Instr | None
    value: Value
    dest: Slot
    src: Value | None = None


@dataclass
class Plan:
    slots: dict[Value, Slot]
    steps: list[Step]
    ws_size: int
    groups: list[list[Step]]  # steps sharing one loop nest (groups.py)
    regions: dict[Instr, Regions] = field(default_factory=dict)  # per control-flow instruction

    def base(self, v: Value) -> Value:
        """The value owning the buffer v reads from (views resolved)."""
        slot = self.slots[v]
        return self.base(slot.of) if slot.kind == "view" else v


def _uses(fn: Function) -> dict[Value, list[tuple[Instr, int]]]:
    uses: dict[Value, list] = {}
    for instr in fn.body:
        for pos, a in enumerate(instr.args):
            uses.setdefault(a, []).append((instr, pos))
    return uses


def _fuse_or_buffer(fn: Function):
    """Decide per value: a slot (buffer) or fused; returns (slots, steps, temps)."""
    uses, results = _uses(fn), {}
    for k, r in enumerate(fn.results):
        results.setdefault(r, []).append(k)
    slots = {p: Slot("in", i) for i, p in enumerate(fn.params)}
    cheap: dict[Value, bool] = {}
    generated: dict[Value, int] = {}  # values made from indices and constants: their op count
    steps, temps, copies = [], [], []
    for instr in fn.body:
        if instr.prim.name in CONTROL:
            steps += _control_step(instr, results, slots, temps)
            continue
        v, name = instr.out, instr.prim.name
        my_uses = uses.get(v, [])
        cheap[v] = name in CHEAP and all(a in slots or cheap.get(a) for a in instr.args)
        if name not in ("gather", "pad") and not is_kernel(instr) and v not in results and \
                all(a in generated for a in instr.args):
            generated[v] = 1 + sum(generated[a] for a in instr.args)
            cheap[v] = cheap[v] or generated[v] <= GENERATED_OPS
        if name == "reshape" and instr.args[0] in slots and v not in results:
            slots[v] = Slot("view", of=instr.args[0])
            continue
        must = is_kernel(instr) or v in results or any(needs_buffer(*u) for u in my_uses)
        if not cheap[v] and not must:
            must = len(my_uses) > 1 or not all(reads_once(*u) for u in my_uses)
        if not must:
            continue
        if v in results:
            slots[v] = Slot("out", results[v][0])
        else:
            temps.append(v)
            slots[v] = None  # assigned below, once liveness is known
        steps.append(Step(instr, v, slots[v]))
    for r, ks in results.items():  # params, repeated results: copy into the output buffer
        first = 0 if r in slots and slots[r] is not None and slots[r].kind == "out" else None
        for k in ks[1:] if first == 0 else ks:
            copies.append(Step(None, r, Slot("out", k), src=r))
    return slots, steps + copies, temps


def _control_step(instr: Instr, results, slots, temps) -> list[Step]:
    """Every output of scan/cond/while_loop is a buffer its regions write (no outputs: nothing
    to run; DCE removes such instructions, hand-built IR may not)."""
    for o in instr.outs:
        slots[o] = Slot("out", results[o][0]) if o in results else None
        if o not in results:
            temps.append(o)
    return [Step(instr, instr.outs[0], slots[instr.outs[0]])] if instr.outs else []


def make_plan(fn: Function) -> Plan:
    slots, steps, temps = _fuse_or_buffer(fn)
    producers = {o: i for i in fn.body for o in i.outs}
    groups = group_steps(steps, slots, producers)
    group_of = {n: g for g, members in enumerate(groups) for n in members}
    defined = {o: group_of[n] for n, s in enumerate(steps) if s.instr is not None
               for o in s.instr.outs}
    readers: dict[Value, set[int]] = {}
    for n, step in enumerate(steps):
        for v in reads(step, slots, producers):
            readers.setdefault(v, set()).add(group_of[n])
    registers = {v for v in temps if readers.get(v, set()) <= {defined[v]}
                 and not is_kernel(producers[v])}
    for v in registers:  # read only inside its own loop: it lives in a register there
        del slots[v]
    temps = [v for v in temps if v not in registers]
    regions = {}
    for n, step in enumerate(steps):
        if step.instr is not None and step.instr.prim.name in CONTROL:
            regions[step.instr] = info = plan_regions(step.instr)
            temps.append(info.scratch)
            defined[info.scratch], readers[info.scratch] = group_of[n], {group_of[n]}
    temps.sort(key=lambda v: defined[v])  # first fit below walks definitions in order
    ws_size = _assign_workspace(temps, slots, defined, readers)
    for step in steps:
        if step.instr is not None:
            step.dest = slots.get(step.value)
    return Plan(slots, steps, ws_size, [[steps[n] for n in g] for g in groups], regions)


# the buffers a loop needs beside its outputs: a second buffer per carry (steps alternate
# between the two, so a step never overwrites what it reads) and the while loop's predicate
LOOP_BUFFERS = {
    "scan": lambda instr: [o.type for o in instr.outs[: instr.params["num_carry"]]],
    "while_loop": lambda instr: [o.type for o in instr.outs] + [TensorType("bool", ())],
    "cond": lambda instr: [],
    "remat": lambda instr: [],
}


@dataclass
class Regions:
    """One control-flow instruction's regions (canonical Function and plan, keyed by the id of
    the region in instr.params) and its scratch buffer: the regions' workspace at offset 0,
    then LOOP_BUFFERS at `offsets`."""

    fns: dict[int, tuple[Function, Plan]]
    scratch: Value
    offsets: list[int]


def plan_regions(instr: Instr) -> Regions:
    fns = {}
    for region in regions(instr.params):
        canon = canonical_dots(region)
        fns[id(region)] = (canon, make_plan(canon))
    size, offsets = max([p.ws_size for _, p in fns.values()], default=0), []
    for t in LOOP_BUFFERS[instr.prim.name](instr):
        offsets.append(-(-size // ALIGN) * ALIGN)
        size = offsets[-1] + nbytes(t)
    return Regions(fns, Value(TensorType("i64", (-(-size // 8),))), offsets)


def _assign_workspace(temps, slots, defined, readers) -> int:
    """Stack slots for small temporaries; first-fit workspace offsets by loop liveness."""
    live: list[tuple[int, int, int]] = []  # (offset, end offset, last loop reading it)
    ws_size = 0
    for v in temps:
        size = nbytes(v.type)
        if size <= SMALL_BYTES:
            slots[v] = Slot("stack")
            continue
        start = defined[v]
        last = max(readers.get(v, {start}) | {start})
        live = sorted(x for x in live if x[2] >= start)  # still read at or after start
        off = 0
        for lo, hi, _ in live:
            if off + size <= lo:
                break
            off = max(off, -(-hi // ALIGN) * ALIGN)
        live.append((off, off + size, last))
        slots[v] = Slot("ws", off)
        ws_size = max(ws_size, off + size)
    return ws_size
