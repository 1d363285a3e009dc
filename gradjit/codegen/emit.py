"""The codegen driver: a Function becomes an llvmlite module.

`lower(fn, options)` canonicalizes dots, plans fusion and buffers (plan.py), and emits one
internal body function `void <name>_body(ptr noalias in..., ptr noalias out..., ptr ws)` whose
steps are loop nests (expressions) or kernels (scan/cond/while_loop regions become internal
functions of the same form, control.py; the function's frame is frame.py's), plus the entry
points of entry.py. Values are produced on demand by `Emitter.value(v, idx)`: a load when v
has a buffer, otherwise v's rule evaluated at idx (that is what fusion is).
"""

from __future__ import annotations

import contextlib
import functools
import re
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from ..errors import CodegenError
from ..ir.core import Function, Value
from . import vmath, vmath_lib
from .canon import canonical_dots
from .control import CONTROL
from .entry import add_entries
from .exprs import EXPRS, FLAT_SAFE, Flat
from .frame import Frame
from .gemm import dot
from .groups import is_full_reduction, loop_shape
from .kernels import KERNELS, combiner, identity, in_lanes
from .loops import HEAVY_OPS, lane_loop, lane_total, lanes_for, linear, loop, nest
from .ltypes import I64, MEM, REG, i64
from .ltypes import load as load_elem
from .ltypes import store as store_elem
from .plan import Plan, is_kernel, make_plan
from .scalar import lower_scalar
from .vmath import f64_bits

KERNEL_RULES = {**KERNELS, "dot_general": dot, **CONTROL}
TWO_RUNS_MIN = 4096  # elements of a group's loop from which sin/cos loops run twice (above)




@dataclass
class Lowered:
    module: ir.Module
    name: str  # the symbol of `int32 name(void **args)`; `name_s`, `name_fc`: scalar entries
    fn: Function  # after canonicalization
    plan: Plan
    errors: list[tuple]  # run-time checks (op, problem, loc): entry status k + 1 is errors[k - 1]


def symbol(fn: Function) -> str:
    return "gj_" + re.sub(r"[^A-Za-z0-9_]", "_", fn.name)


def lower(fn: Function, options: dict | None = None) -> Lowered:
    fn = canonical_dots(fn)
    plan = make_plan(fn)
    name = symbol(fn) + (options or {}).get("symbol_suffix", "")
    module = ir.Module(name=name)
    module.triple = (options or {}).get("triple", "")
    em = Emitter(module, fn, plan, options or {})
    body = em.emit_body(name + "_body")
    add_entries(module, name, fn, body)
    vmath_lib.finish(module)
    return Lowered(module, name, fn, plan, em.error_sites)


class Cx:
    """What a scalar rule needs: builder, operand dtype, params, declarations."""

    __slots__ = ("b", "dtype", "em", "params")

    def __init__(self, em, dtype, params):
        self.b, self.dtype, self.params, self.em = em.b, dtype, params, em

    def intrinsic(self, name, nargs=1):
        ty = REG[self.dtype]
        return self.em.module.declare_intrinsic(name, [ty], ir.FunctionType(ty, [ty] * nargs))

    def libm(self, name, nargs):
        fname = name if self.dtype == "f64" else name + "f"
        if fname in self.em.module.globals:
            return self.em.module.globals[fname]
        ty = REG[self.dtype]
        return ir.Function(self.em.module, ir.FunctionType(ty, [ty] * nargs), fname)

    def vmath(self, name):
        if not self.em.options.get("vmath", True):
            return None
        if self.em.library:
            return vmath_lib.declare(self.em.module, name, self.dtype, self.em.beyond is None)
        return vmath.kernel(self.em.module, name, self.dtype, exact=self.em.beyond is None,
                            inline=not self.em.rerun)


class Emitter(Frame):
    def __init__(self, module, fn: Function, plan: Plan, options: dict):
        self.module, self.fn, self.plan, self.options = module, fn, plan, options
        self.producers = {o: i for i in fn.body for o in i.outs}
        self.b: ir.IRBuilder = None
        self.bases: dict[Value, ir.Value] = {}
        self.globals: dict[Value, ir.GlobalVariable] = {}
        self.memo: dict[Value, ir.Value] = {}  # values of the current shared loop, at memo_idx
        self.memo_idx = None
        self.beyond = None  # in a group's fast run: limit -> the largest |argument| (as bits)
        self.watched = 0  # arguments noted in the current fast run
        self.rerun = False  # emitting a group's exact run: kernels are calls, not copies
        self.library = False  # kernels are calls of the vector-math library (vmath_lib)
        # (op, problem, user's file:line) of the run-time checks, numbered from 1
        self.error_sites: list[tuple[str, str, str | None]] = []

    # ---- steps ------------------------------------------------------------------------
    def emit_group(self, group):
        """A group's loops. With sin or cos inside, a big group runs with the fast kernels
        first, and again with the exact ones only when some argument was beyond the fast range
        (a group only reads buffers it does not write, so running it twice is safe). Small
        groups run the exact kernels once: their vectorized copies would cost more compile
        time (~80 ms for a 10-op function) than they save. Small groups and exact reruns call
        the vector-math library's kernels (vmath_lib) instead of copying them in: only big
        loops pay for a copy of each kernel in their own code."""
        small = max(_loop_size(s) for s in group) < TWO_RUNS_MIN
        if small or any(s.instr is not None and s.instr.prim.name in CONTROL for s in group):
            with self._kernels(library=small):  # (a region's groups decide for themselves)
                return self._emit_group(group)
        outer = (self.beyond, self.watched)
        self.beyond, self.watched = {}, 0
        for limit in sorted(set(vmath.SLOW_PATH.values())):  # (unused ones: dead stores)
            self.beyond[limit] = self.alloca("i64")
            self.b.store(i64(0), self.beyond[limit])
        with self._kernels(library=False):
            self._emit_group(group)
        largest, watched = self.beyond, self.watched
        self.beyond, self.watched = outer
        if watched:
            far = [self.b.icmp_signed(">", self.b.load(at, typ=I64), i64(f64_bits(limit)))
                   for limit, at in largest.items()]
            with self.b.if_then(functools.reduce(self.b.or_, far), likely=False):
                outer_rerun, self.rerun = self.rerun, True
                with self._kernels(library=True):
                    self._emit_group(group)
                self.rerun = outer_rerun

    @contextlib.contextmanager
    def _kernels(self, library: bool):
        """Within: vector-math kernels are library calls (when the options allow) or copies."""
        outer = self.library
        self.library = library and bool(self.options.get("vmath_lib", False))
        try:
            yield
        finally:
            self.library = outer

    def watch(self, name: str, x) -> None:
        """In a fast run: note whether x lies beyond the fast kernel of `name`, as the largest
        bit pattern of |x| per limit (NaN's is above every number's; a signed max is 2 vector
        instructions, where or-ing comparison flags was 5)."""
        limit = vmath.slow_limit(name, "f64" if x.type == REG["f64"] else "f32")
        if self.beyond is None or limit is None:
            return
        b = self.b
        x64 = x if x.type == REG["f64"] else b.fpext(x, REG["f64"])
        fabs = self.module.declare_intrinsic("llvm.fabs", [REG["f64"]])
        smax = self.module.declare_intrinsic("llvm.smax", [I64], ir.FunctionType(I64, [I64, I64]))
        at = self.beyond[limit]
        b.store(b.call(smax, [b.load(at, typ=I64), b.bitcast(b.call(fabs, [x64]), I64)]), at)
        self.watched += 1

    def _emit_group(self, group):
        if len(group) == 1 and (group[0].instr is None or group[0].dest is not None):
            return self.emit_step(group[0])
        shape = loop_shape(group[0])
        flat = len(shape) > 1 and all(self._step_flat(s, shape) for s in group)
        sums = [s for s in group if is_full_reduction(s) and in_lanes(*_reduction(s))]
        lanes = lanes_for(self.weight([s.instr for s in group if s.instr is not None]),
                          int(np.prod(shape if flat else shape[-1:]))) if sums else 1
        accs = {s: self._accumulators(s, lanes if s in sums else 1)
                for s in group if is_full_reduction(s)}
        body = functools.partial(self._group_body, group, accs, shape=shape)
        if not any(len(parts) > 1 for parts, _ in accs.values()):
            if flat:
                with loop(self.b, int(np.prod(shape)), "g") as i:
                    body(Flat(i), lane=0)
            else:
                with nest(self.b, shape, "g") as idx:
                    body(idx, lane=0)
        elif flat:  # the flat index in lanes (loops.lane_loop)
            lane_loop(self.b, int(np.prod(shape)), lanes, "g",
                      lambda i, lane: body(Flat(i), lane=lane))
        else:  # the innermost index in lanes (a full reduction's shape is not 0-d)
            with nest(self.b, shape[:-1], "g") as outer:
                lane_loop(self.b, shape[-1], lanes, "gl",
                          lambda i, lane: body([*outer, i], lane=lane))
        for step, (parts, combine) in accs.items():
            v = step.value
            loaded = [self.b.load(acc, typ=REG[v.type.dtype]) for acc in parts]
            self.store(v, lane_total(loaded, combine), [], self.bases[v])

    def _group_body(self, group, accs, idx, shape, lane):
        self.memo, self.memo_idx = {}, idx
        for step in group:
            if step in accs:
                lanes, combine = accs[step]
                acc = lanes[lane % len(lanes)]
                x = self.value(step.instr.args[0], idx)
                self.b.store(combine(self.b.load(acc, typ=x.type), x), acc)
                continue
            y = self.value(step.src, idx) if step.instr is None else self.expr(step.value, idx)
            self.memo[step.value] = y
            dest = self.out_ptr(step.dest.index) if step.instr is None else \
                (self.bases[step.value] if step.dest is not None else None)
            if dest is not None:
                off = idx.i if isinstance(idx, Flat) else linear(self.b, idx, shape)
                store_elem(self.b, step.value.type.dtype, y, dest, off)
        self.memo, self.memo_idx = {}, None

    def _accumulators(self, step, lanes: int):
        """(the step's accumulators, one per lane, and its combine)."""
        name, dtype = _reduction(step)
        parts = []
        for _ in range(lanes):
            parts.append(self.alloca(dtype))
            self.b.store(identity(name, dtype), parts[-1])
        return parts, combiner(self, name, dtype)

    def weight(self, instrs) -> int:
        """What one element of these instructions costs inside their loop, in operations (a
        vector-math kernel counts HEAVY_OPS; values read from buffers cost nothing):
        loops.lanes_for decides a reduction's lanes by it."""
        todo = [a for instr in instrs for a in instr.args]
        seen, total = set(), sum(_cost(instr) for instr in instrs)
        while todo:
            v = todo.pop()
            instr = self.producers.get(v)
            if v in seen or v in self.plan.slots or instr is None:
                continue
            seen.add(v)
            total += _cost(instr)
            todo.extend(instr.args)
        return total

    def _step_flat(self, step, shape) -> bool:
        if step.instr is None:
            return self.flat_ok(step.src, shape)
        if is_full_reduction(step):
            return self.flat_ok(step.instr.args[0], shape)
        return self.flat_ok(step.value, shape, top=True)

    def emit_step(self, step):
        dest = self.bases[step.value] if step.instr is not None else None
        if step.instr is None:  # copy a value into another output buffer
            dest = self.out_ptr(step.dest.index)
            self.emit_nest(step.src, step.value, dest)
        elif is_kernel(step.instr):
            KERNEL_RULES[step.instr.prim.name](self, step.instr, dest)
        else:
            self.emit_nest(None, step.value, dest)

    def out_ptr(self, k: int):
        return self.b.function.args[len(self.fn.params) + k]

    def emit_nest(self, src: Value | None, v: Value, dest):
        """dest[idx] = value at idx, over v's shape (flattened when the tree is elementwise)."""
        read = src if src is not None else None
        t = v.type
        at = (lambda idx: self.value(read, idx)) if read is not None else \
            (lambda idx: self.expr(v, idx))
        if t.size == 0:
            return
        if t.ndim > 1 and self.flat_ok(read or v, t.shape, top=read is None):
            with loop(self.b, t.size, "f") as i:
                store_elem(self.b, t.dtype, at(Flat(i)), dest, i)
            return
        with nest(self.b, t.shape, "e") as idx:
            store_elem(self.b, t.dtype, at(idx), dest, linear(self.b, idx, t.shape))

    def flat_ok(self, v: Value, shape, top=False) -> bool:
        """Is v's fused tree elementwise over buffers of `shape` (or of one element)?"""
        if v.type.size == 1 and not top:
            return True
        if v in self.plan.slots and not top:
            return v.type.shape == shape
        instr = self.producers.get(v)
        if instr is None or instr.prim.name in KERNEL_RULES:
            return False
        name = instr.prim.name
        if name in EXPRS and not (name in FLAT_SAFE and instr.args[0].type.size == 1):
            return False
        return all(self.flat_ok(a, shape) for a in instr.args)

    # ---- values -----------------------------------------------------------------------
    def value(self, v: Value, idx) -> ir.Value:
        if idx is self.memo_idx and v in self.memo:
            return self.memo[v]
        if v in self.plan.slots:
            return self.load(v, idx)
        return self.expr(v, idx)

    def expr(self, v: Value, idx) -> ir.Value:
        instr = self.producers[v]
        if isinstance(idx, Flat) and v.type.size == 1:  # flat_ok admits one-element subtrees
            idx = [i64(0)] * v.type.ndim  # whose rules (slice, gather) need an index list
        rule = EXPRS.get(instr.prim.name)
        if rule is not None:
            return rule(self, instr, idx)
        if instr.prim.name in KERNEL_RULES:
            raise CodegenError("codegen", f"{instr.prim.name} has no buffer (planner bug)")
        args = [self.value(a, idx) for a in instr.args]
        dtype = instr.args[-1].type.dtype if instr.args else v.type.dtype
        return lower_scalar(self.cx(dtype, instr.params), instr.prim.name, args)

    def cx(self, dtype: str, params) -> Cx:
        return Cx(self, dtype, params)

    def offset(self, v: Value, idx):
        if v.type.size == 1:
            return i64(0)
        return idx.i if isinstance(idx, Flat) else linear(self.b, idx, v.type.shape)

    def buffer(self, v: Value):
        return self.bases[self.plan.base(v)]

    def load(self, v: Value, idx, base=None, offset=None):
        base = base if base is not None else self.buffer(v)
        off = offset if offset is not None else self.offset(v, idx)
        return load_elem(self.b, v.type.dtype, base, off)

    def store(self, v: Value, x, idx, base):
        store_elem(self.b, v.type.dtype, x, base, self.offset(v, idx))

    def load_at(self, dtype, base, off):
        return load_elem(self.b, dtype, base, off)

    def store_at(self, dtype, x, base, off):
        store_elem(self.b, dtype, x, base, off)

    def const_global(self, v: Value, value: np.ndarray) -> ir.GlobalVariable:
        if v not in self.globals:
            t = v.type
            arr = ir.ArrayType(MEM[t.dtype], t.size)
            flat = np.ascontiguousarray(value, dtype=t.np_dtype).reshape(-1)
            items = [int(x) for x in flat.astype(np.int64)] if t.dtype != "f32" and \
                t.dtype != "f64" else [float(x) for x in flat]
            g = ir.GlobalVariable(self.module, arr, f"const{len(self.globals)}")
            g.global_constant, g.linkage = True, "private"
            g.initializer = ir.Constant(arr, items)
            self.globals[v] = g
        return self.globals[v]


def _reduction(step) -> tuple[str, str]:
    """(primitive, operand dtype) of a reduction step."""
    return step.instr.prim.name, step.instr.args[0].type.dtype


def _cost(instr) -> int:
    return HEAVY_OPS if instr.prim.name in vmath.KERNELS else 1


def _loop_size(step) -> int:
    shape = loop_shape(step)
    return int(np.prod(shape)) if shape is not None else step.value.type.size
