"""Structured control flow as LLVM control flow: `scan` and `while_loop` become loops, `cond` a
switch. Each region is compiled once, as an internal function with the body ABI
(`i32 f(ptr in..., ptr out..., ptr ws)`, see emit.py) that the loop calls; LLVM inlines it when
it has one call site (option `inline_regions=False` keeps the calls, for measurement).

Carries live in memory: each carry has two buffers, the instruction's output and a scratch copy
(plan.LOOP_BUFFERS), and steps alternate between them, so a step never writes what it reads and
the regions' `noalias` arguments hold. A scan's trip count is static, so its first step picks
the buffer that makes the last step write the output; a while loop copies the final carry when
it ended in the scratch copy. Scanned inputs and stacked outputs are read and written in place,
one slice per step. A region's status (a failed run-time check) is kept like the caller's own.
"""

from __future__ import annotations

from llvmlite import ir

from ..ir.core import Function, Instr
from .ltypes import I1, I8, I64, MEM, PTR, i64
from .plan import nbytes


def _split(seq, *sizes):
    out, start = [], 0
    for n in sizes:
        out.append(list(seq[start : start + n]))
        start += n
    return out + [list(seq[start:])]


def region(em, instr: Instr, fn: Function) -> ir.Function:
    """The internal LLVM function for region `fn` of `instr`, emitted by a child Emitter that
    shares the module's constants and run-time check numbering."""
    canon, plan = em.plan.regions[instr].fns[id(fn)]
    child = type(em)(em.module, canon, plan, em.options)
    child.globals, child.error_sites = em.globals, em.error_sites
    f = child.emit_body(em.module.get_unique_name(f"{em.b.function.name}.{fn.name}"))
    if not em.options.get("inline_regions", True):
        f.attributes.add("noinline")
    return f


def _call(em, f: ir.Function, ins, outs, ws) -> None:
    em.call_checked(f, [*ins, *outs, ws])


def _scratch(em, instr):
    """(the regions' workspace pointer, pointers to the loop buffers of plan.LOOP_BUFFERS)."""
    info = em.plan.regions[instr]
    base = em.bases[info.scratch]
    return base, [em.b.gep(base, [i64(off)], inbounds=True, source_etype=I8)
                  for off in info.offsets]


def _at(em, v, step):
    """The slice `step` of a buffer stacked along its first axis."""
    per = v.type.size // v.type.shape[0] if v.type.shape[0] else 0
    off = em.b.mul(step, i64(per), flags=("nsw", "nuw"))
    return em.b.gep(em.buffer(v), [off], inbounds=True, source_etype=MEM[v.type.dtype])


def _copy(em, dst, src, nbytes_: int) -> None:
    if nbytes_:
        memcpy = em.module.declare_intrinsic("llvm.memcpy", [PTR, PTR, I64])
        em.b.call(memcpy, [dst, src, i64(nbytes_), ir.Constant(I1, 0)])


class Carries:
    """Loop-carried buffers as phis: a step reads `cur` and writes `nxt`; the next step reads
    what this one wrote and writes `alt`, the other buffer of the pair (output, spare)."""

    def __init__(self, em, init, outs, spare, swap_first: bool):
        """`swap_first`: the first step writes the spare buffers, so that an even number of
        steps ends in the outputs."""
        self.em, self.outs = em, outs
        b = em.b
        self.pre = pre = b.block
        self.head = b.append_basic_block("carry.head")
        b.branch(self.head)
        b.position_at_end(self.head)
        first, second = (spare, outs) if swap_first else (outs, spare)
        self.cur, self.nxt, self.alt = ([b.phi(PTR, name) for _ in init]
                                        for name in ("cur", "nxt", "alt"))
        for phis, start in ((self.cur, init), (self.nxt, first), (self.alt, second)):
            for phi, p in zip(phis, start):
                phi.add_incoming(p, pre)
        self.cur_is_out, self.nxt_is_out = b.phi(I1, "cur_is_out"), b.phi(I1, "nxt_is_out")
        self.cur_is_out.add_incoming(ir.Constant(I1, 0), pre)
        self.nxt_is_out.add_incoming(ir.Constant(I1, int(not swap_first)), pre)

    def advance(self) -> None:
        """Close the loop: the buffers just written are read by the next step."""
        b, here = self.em.b, self.em.b.block
        for phis, values in ((self.cur, self.nxt), (self.nxt, self.alt), (self.alt, self.nxt)):
            for phi, p in zip(phis, values):
                phi.add_incoming(p, here)
        self.cur_is_out.add_incoming(self.nxt_is_out, here)
        self.nxt_is_out.add_incoming(b.not_(self.nxt_is_out), here)
        b.branch(self.head)

    def finish(self, types) -> None:
        """After the loop: copy the final carry into the outputs unless it is there."""
        with self.em.b.if_then(self.em.b.not_(self.cur_is_out)):
            for dst, src, t in zip(self.outs, self.cur, types):
                _copy(self.em, dst, src, nbytes(t))


def scan(em, instr: Instr, dest) -> None:
    p, b = instr.params, em.b
    n_const, n_carry, length = p["num_consts"], p["num_carry"], p["length"]
    consts, init, xs = _split(instr.args, n_const, n_carry)
    carry_out, ys = instr.outs[:n_carry], instr.outs[n_carry:]
    f = region(em, instr, p["body"])
    ws, spare = _scratch(em, instr)
    outs = [em.buffer(o) for o in carry_out]
    carries = Carries(em, [em.buffer(v) for v in init], outs, spare,
                      length > 0 and length % 2 == 0)
    done = b.append_basic_block("scan.done")
    body = b.append_basic_block("scan.body")
    t = b.phi(I64, "t")
    t.add_incoming(i64(0), carries.pre)
    b.cbranch(b.icmp_signed("<", t, i64(length)), body, done)
    b.position_at_end(body)
    step = b.sub(i64(length - 1), t) if p["reverse"] else t
    _call(em, f, [em.buffer(c) for c in consts] + carries.cur + [_at(em, x, step) for x in xs],
          carries.nxt + [_at(em, y, step) for y in ys], ws)
    t.add_incoming(b.add(t, i64(1), flags=("nsw", "nuw")), b.block)
    carries.advance()
    b.position_at_end(done)
    carries.finish([o.type for o in carry_out])


def while_loop(em, instr: Instr, dest) -> None:
    p, b = instr.params, em.b
    cc, bc, init = _split(instr.args, p["num_cond_consts"], p["num_body_consts"])
    test, step = region(em, instr, p["cond"]), region(em, instr, p["body"])
    ws, spare = _scratch(em, instr)
    pred, spare = spare[-1], spare[:-1]
    carries = Carries(em, [em.buffer(v) for v in init], [em.buffer(o) for o in instr.outs],
                      spare, False)
    _call(em, test, [em.buffer(c) for c in cc] + carries.cur, [pred], ws)
    body, done = b.append_basic_block("while.body"), b.append_basic_block("while.done")
    b.cbranch(b.trunc(b.load(pred, typ=I8), I1), body, done)
    b.position_at_end(body)
    _call(em, step, [em.buffer(c) for c in bc] + carries.cur, carries.nxt, ws)
    carries.advance()
    b.position_at_end(done)
    carries.finish([o.type for o in instr.outs])


def cond(em, instr: Instr, dest) -> None:
    """index clamped to [0, n-1], then a switch over the branches (the last one is default)."""
    b, branches = em.b, instr.params["branches"]
    index, ops = instr.args[0], instr.args[1:]
    k = em.load(index, [])
    k = b.sext(k, I64) if k.type != I64 else k
    last = i64(len(branches) - 1)
    k = b.select(b.icmp_signed("<", k, i64(0)), i64(0), k)
    k = b.select(b.icmp_signed(">", k, last), last, k)
    fns = [region(em, instr, fn) for fn in branches]
    ws, _ = _scratch(em, instr)
    ins, outs = [em.buffer(v) for v in ops], [em.buffer(o) for o in instr.outs]
    done = b.append_basic_block("cond.done")
    blocks = [b.append_basic_block(f"cond.{n}") for n in range(len(fns))]
    switch = b.switch(k, blocks[-1])
    for n, (f, block) in enumerate(zip(fns, blocks)):
        if n < len(fns) - 1:
            switch.add_case(i64(n), block)
        b.position_at_end(block)
        _call(em, f, ins, outs, ws)
        b.branch(done)
    b.position_at_end(done)


def remat(em, instr: Instr, dest) -> None:
    """A rematerialized region: one call (a cond with one branch)."""
    ws, _ = _scratch(em, instr)
    _call(em, region(em, instr, instr.params["body"]), [em.buffer(v) for v in instr.args],
          [em.buffer(o) for o in instr.outs], ws)


CONTROL = {"scan": scan, "while_loop": while_loop, "cond": cond, "remat": remat}
