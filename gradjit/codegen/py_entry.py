"""One array entry point for every compiled function, compiled once per process.

`i32 gj_lib_py_entry(tuple)` is what the runtime calls through ctypes with one `py_object`: the
tuple `(numpy.ndarray, workspace, descriptor, inputs..., outputs...)`. The descriptor is a
uint64 array made once per runner: the address of the function's C entry (`i32 <name>(void
**args)`), the input and output counts, then per input its rank, its two accepted numpy type
numbers (the same one twice when there is one) and its dimensions. The entry checks each input
(exactly an ndarray, rank, shape, dtype, native byte order, C-contiguous and aligned; the field
offsets are entry.py's, verified at start-up by call.numpy_layout_ok) and returns 1 without
touching anything when one does not fit (the runtime then converts the inputs and calls again);
otherwise it calls the C entry with the data pointers of inputs, outputs and workspace and
returns 0, or k + 1 when run-time check k failed.

A per-function copy of these checks (it was ~45 instructions) cost ~9 ms of the ~33 ms LLVM
took for a 10-op function: the optimizer and code generator pay per function, whatever its size.
"""

from __future__ import annotations

from llvmlite import ir

from .entry import (
    C_CONTIGUOUS_ALIGNED,
    DATA,
    DESCR,
    DESCR_BYTEORDER,
    DESCR_TYPE_NUM,
    DIMS,
    FLAGS,
    NDIM,
    OB_TYPE,
    TUPLE_ITEMS,
    TUPLE_SIZE,
    TYPE_NUMS,
    _Callee,
)
from .loops import loop
from .ltypes import I8, I32, I64, PTR, i64

NAME = "gj_lib_py_entry"  # (gj_lib_: runtime support objects, see runtime/support.py)
HEAD = 3  # tuple items before the inputs: ndarray type, workspace, descriptor


def descriptor(c_entry: int, in_types, n_out: int) -> list[int]:
    """The uint64 words of a function's descriptor (see the module docstring)."""
    words = [c_entry, len(in_types), n_out]
    for t in in_types:
        nums = TYPE_NUMS[t.dtype]
        words += [len(t.shape), nums[0], nums[-1], *t.shape]
    return words


def module_ir(triple: str) -> str:
    m = ir.Module(name=NAME)
    m.triple = triple
    f = ir.Function(m, ir.FunctionType(I32, [PTR]), NAME)
    b = ir.IRBuilder(f.append_basic_block("entry"))
    refuse = f.append_basic_block("refuse")
    ir.IRBuilder(refuse).ret(ir.Constant(I32, 1))

    def guard(ok):
        nxt = f.append_basic_block("ok")
        b.cbranch(ok, nxt, refuse)
        b.position_at_end(nxt)

    def field(obj, offset, ty):
        return b.load(b.gep(obj, [i64(offset)], source_etype=I8), typ=ty)

    def word(base, k, ty=I64):
        return word_at(b, base, k, ty)

    # the running descriptor offset and shape flag, in the entry block (not grown per loop)
    off_slot, ok_slot = b.alloca(I64), b.alloca(ir.IntType(1))
    tup = f.args[0]
    size = field(tup, TUPLE_SIZE, I64)
    guard(b.icmp_signed(">=", size, i64(HEAD)))
    items = b.gep(tup, [i64(TUPLE_ITEMS)], source_etype=I8)
    item = lambda k: b.load(b.gep(items, [k], source_etype=PTR), typ=PTR)  # noqa: E731
    ndarray, ws, desc_obj = item(i64(0)), item(i64(1)), item(i64(2))
    guard(b.icmp_unsigned("==", field(desc_obj, OB_TYPE, PTR), ndarray))
    desc = field(desc_obj, DATA, PTR)
    n_in, n_out = word(desc, i64(1)), word(desc, i64(2))
    n_arrays = b.add(n_in, n_out)
    guard(b.icmp_signed("==", size, b.add(n_arrays, i64(HEAD))))
    args = b.alloca(PTR, size=b.add(n_arrays, i64(1)))
    b.store(field(ws, DATA, PTR), b.gep(args, [n_arrays], source_etype=PTR))

    b.store(i64(3), off_slot)
    with loop(b, n_in, "in") as k:
        obj, off = item(b.add(k, i64(HEAD))), b.load(off_slot, typ=I64)
        guard(b.icmp_unsigned("==", field(obj, OB_TYPE, PTR), ndarray))
        ndim = word(desc, off)
        guard(b.icmp_signed("==", b.sext(field(obj, NDIM, I32), I64), ndim))
        guard(_layout_ok(b, ok_slot, obj, desc, off, ndim, field))
        b.store(field(obj, DATA, PTR), b.gep(args, [k], source_etype=PTR))
        b.store(b.add(off, b.add(ndim, i64(3))), off_slot)
    with loop(b, n_out, "out") as k:  # the outputs: fresh arrays the runtime made
        at = b.add(n_in, k)
        b.store(field(item(b.add(at, i64(HEAD))), DATA, PTR), b.gep(args, [at], source_etype=PTR))
    c_entry = word(desc, i64(0), PTR)
    status = b.call(_Callee(c_entry, ir.FunctionType(I32, [PTR])), [args])
    b.ret(b.select(b.icmp_signed("==", status, ir.Constant(I32, 0)), status,
                   b.add(status, ir.Constant(I32, 1))))
    return str(m)


def _layout_ok(b, ok_slot, obj, desc, off, ndim, field):
    """Shape (a loop over the rank), dtype, byte order and contiguity of one input."""
    dims = field(obj, DIMS, PTR)
    b.store(ir.Constant(ir.IntType(1), 1), ok_slot)
    with loop(b, ndim, "dim") as j:
        got = b.load(b.gep(dims, [j], source_etype=I64), typ=I64)
        want = word_at(b, desc, b.add(off, b.add(j, i64(3))))
        b.store(b.and_(b.load(ok_slot, typ=ir.IntType(1)), b.icmp_signed("==", got, want)),
                ok_slot)
    ok = b.load(ok_slot, typ=ir.IntType(1))
    flags = b.and_(field(obj, FLAGS, I32), ir.Constant(I32, C_CONTIGUOUS_ALIGNED))
    ok = b.and_(ok, b.icmp_signed("==", flags, ir.Constant(I32, C_CONTIGUOUS_ALIGNED)))
    descr = field(obj, DESCR, PTR)
    ok = b.and_(ok, b.icmp_signed("!=", field(descr, DESCR_BYTEORDER, I8),
                                  ir.Constant(I8, ord(">"))))
    num = b.sext(field(descr, DESCR_TYPE_NUM, I32), I64)
    nums = [word_at(b, desc, b.add(off, i64(d))) for d in (1, 2)]
    return b.and_(ok, b.or_(*[b.icmp_signed("==", num, n) for n in nums]))



def word_at(b, base, k, ty=I64):
    """Word k (an i64 value) of a uint64 array."""
    return b.load(b.gep(base, [k], source_etype=I64), typ=ty)
