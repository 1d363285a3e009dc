"""The frame of an emitted function: its skeleton (entry block for allocas, the error slot,
the return), parts for big functions, buffer pointers bound on first use, and run-time checks.
`Emitter` (emit.py) builds on it."""

from __future__ import annotations

from llvmlite import ir

from .ltypes import I8, I32, MEM, PTR, REG, i64
from .plan import nbytes

# A function with more loop groups than this is emitted as internal parts of this many groups:
# LLVM's loop passes (rotation, vectorization) take time superlinear in the loops of one function
# (W4's 1050-op RNN gradient: 4 s in one piece).
PART_GROUPS = 24


class Frame:
    """Needs the Emitter's module, fn, plan and options, and its emit_group (for the body)."""

    def emit_body(self, name: str) -> ir.Function:
        n_in, n_out = len(self.fn.params), len(self.fn.results)
        body = self._open(name, [PTR] * (n_in + n_out + 1))
        ins, outs, ws = body.args[:n_in], body.args[n_in:n_in + n_out], body.args[-1]
        groups, per_part = self.plan.groups, self.options.get("part_groups", PART_GROUPS)
        if len(groups) <= per_part:
            self._bind_buffers(ins, outs, ws)
            for group in groups:
                self.emit_group(group)
        else:  # parts of PART_GROUPS groups each; stack temporaries live in one shared frame
            frame, offsets = self._frame()
            for k in range(0, len(groups), per_part):
                state = (self.b, self.entry, self.error)
                part = self._open(f"{name}.part{k // per_part}",
                                  [PTR] * (n_in + n_out + 2))
                part.attributes.add("noinline")
                self._bind_buffers(part.args[:n_in], part.args[n_in:n_in + n_out],
                                   part.args[n_in + n_out], (part.args[-1], offsets))
                for group in groups[k:k + per_part]:
                    self.emit_group(group)
                self._close()
                self.b, self.entry, self.error = state
                self.call_checked(part, [*body.args, frame])
        self._close()
        return body

    def call_checked(self, f: ir.Function, args) -> None:
        """Call an internal function; a nonzero status (its failed check) becomes ours."""
        status = self.b.call(f, args)
        failed = self.b.icmp_signed("!=", status, ir.Constant(I32, 0))
        self.b.store(self.b.select(failed, status, self.b.load(self.error, typ=I32)), self.error)

    def _open(self, name: str, arg_types) -> ir.Function:
        """Start an internal function `i32 name(args...)`: allocas collect in its `entry`."""
        f = ir.Function(self.module, ir.FunctionType(I32, arg_types), name)
        f.linkage = "internal"
        n_buffers = len(self.fn.params) + len(self.fn.results)
        for a in f.args[:n_buffers]:
            a.add_attribute("noalias")
        self.entry = f.append_basic_block("entry")
        self.b = ir.IRBuilder(f.append_basic_block("start"))
        self.error = self.alloca("i32")  # 0, or the number of the failed check (error_sites)
        self.b.store(ir.Constant(I32, 0), self.error)
        return f

    def _close(self) -> None:
        self.b.ret(self.b.load(self.error, typ=I32))
        ir.IRBuilder(self.entry).branch(self.entry.function.blocks[1])

    def _frame(self):
        """One stack buffer for every small temporary, and each one's offset in it."""
        offsets, size = {}, 0
        for v, slot in self.plan.slots.items():
            if slot.kind == "stack":
                offsets[v] = size
                size += -(-max(nbytes(v.type), 1) // 16) * 16
        frame = ir.IRBuilder(self.entry).alloca(ir.ArrayType(I8, max(size, 1)))
        frame.align = 64
        return frame, offsets

    def _bind_buffers(self, ins, outs, ws, frame=None):
        """Buffer pointers of this function, made on first use in its entry block (a part
        binds only what its groups touch)."""
        def make(v):
            slot, at = self.plan.slots[v], ir.IRBuilder(self.entry)
            if slot.kind == "in":
                return ins[slot.index]
            if slot.kind == "out":
                return outs[slot.index]
            if slot.kind == "ws":
                return at.gep(ws, [i64(slot.index)], inbounds=True, source_etype=I8)
            if frame is not None:  # "stack", in a part: the shared frame
                return at.gep(frame[0], [i64(frame[1][v])], inbounds=True, source_etype=I8)
            return self.alloca(v.type.dtype, v.type.size, MEM)

        self.bases = _Lazy(make)

    def check(self, bad, op: str, problem: str, loc: str | None = None) -> None:
        """Record a run-time error when `bad` holds (the call finishes, then the runtime raises
        `message`); a select, not a branch, so loops with checks still vectorize."""
        message = (op, problem, loc)
        if message not in self.error_sites:
            self.error_sites.append(message)
        site = ir.Constant(I32, self.error_sites.index(message) + 1)
        self.b.store(self.b.select(bad, site, self.b.load(self.error, typ=I32)), self.error)

    def alloca(self, dtype: str, count: int = 1, types=REG):
        eb = ir.IRBuilder(self.entry)
        return eb.alloca(types[dtype], size=i64(count) if count != 1 else None)


class _Lazy(dict):
    """A dict that makes a missing entry with make(key)."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value
