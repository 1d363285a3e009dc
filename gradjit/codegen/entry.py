"""Entry points around a body function.

- `int32_t <name>(void **args)`: the C ABI (inputs, outputs, workspace pointers), for AOT and C;
  returns 0, or k when run-time check k failed (an index out of range; see Lowered.errors).
- `i32 <name>_s(double..., double *out, ptr ws)`: only when every input and output is an f64
  scalar: Python floats in, floats out, without a numpy object on the way.
- `ptr <name>_fc(ptr self, ptr *args, i64 nargs)`: with `_s`, a CPython METH_FASTCALL function
  (runtime/native.py makes it a builtin): Python floats in, a numpy.float64 or a tuple of them
  out (what the array path gives), no ctypes on the way. It answers NotImplemented to anything
  else, and when a run-time check fails: the caller's general path then runs and raises.

The runtime calls array functions through one generic entry (py_entry.py), which checks the
numpy arrays it is given and calls `<name>` with their data pointers. The field offsets of
numpy's array struct are below; the runtime verifies them at start-up and falls back to
calling the C ABI entry itself when they do not hold.
"""

from __future__ import annotations

from llvmlite import ir

from ..ir.core import Function
from .ltypes import F64, I8, I32, I64, PTR, i64

# numpy's PyArrayObject_fields / PyArray_Descr layout on 64-bit CPython (numpy 1.x and 2.x)
OB_TYPE, DATA, NDIM, DIMS, DESCR, FLAGS = 8, 16, 24, 32, 56, 64
DESCR_BYTEORDER, DESCR_TYPE_NUM = 26, 28
TUPLE_SIZE, TUPLE_ITEMS = 16, 24  # PyTupleObject: ob_size, then the item pointers inline
FLOAT_VAL = 16  # PyFloatObject and numpy.float64: the double after the object header
# the `_fc` entry's context: words of an uint64 array, item 0 of its `self` tuple
CTX_FLOAT_TYPE, CTX_RESULT_TYPE, CTX_ALLOC, CTX_TUPLE_NEW, CTX_NOT_IMPLEMENTED, CTX_INCREF, \
    CTX_DECREF, CTX_AS_TUPLE = range(8)
C_CONTIGUOUS_ALIGNED = 0x1 | 0x100
# numpy type numbers per IR dtype (i64 is NPY_LONG or NPY_LONGLONG on LP64)
TYPE_NUMS = {"bool": (0,), "i32": (5,), "i64": (7, 9), "f32": (11,), "f64": (12,)}


def add_entries(module: ir.Module, name: str, fn: Function, body: ir.Function) -> None:
    """The C entry; scalar functions also get `_s` and `_fc` (the body, small then, is
    inlined into each; an array function's body has one caller, the C entry)."""
    _c_entry(module, name, body)
    if is_scalar(fn):
        _scalar_entry(module, name, fn, body)
        _fastcall_entry(module, name, fn, body)


def is_scalar(fn: Function) -> bool:
    """Every input and output an f64 scalar: such a function also gets the `_s` entry."""
    return all(v.type.ndim == 0 and v.type.dtype == "f64" for v in [*fn.params, *fn.results])


def _scalar_entry(module, name, fn: Function, body):
    """`i32 <name>_s(double x0, ..., double *out, ptr ws)`: inputs in registers, outputs into
    out[0..n), no arrays at all. The runtime calls it for Python-float arguments (a call costs
    one ctypes call and no numpy objects; see runtime/call.py)."""
    n_in = len(fn.params)
    f = ir.Function(module, ir.FunctionType(I32, [F64] * n_in + [PTR, PTR]), name + "_s")
    b = ir.IRBuilder(f.append_basic_block("entry"))
    slots = []
    for x in f.args[:n_in]:
        slot = b.alloca(F64)
        b.store(x, slot)
        slots.append(slot)
    out, ws = f.args[n_in], f.args[n_in + 1]
    outs = [b.gep(out, [i64(k)], source_etype=F64) for k in range(len(fn.results))]
    b.ret(b.call(body, slots + outs + [ws]))


class _Callee:
    """A function pointer held in a value, called with a known type (llvmlite calls only
    values that carry a function type; opaque pointers do not)."""

    def __init__(self, value, fnty):
        self.value, self.function_type = value, fnty

    def get_reference(self):
        return self.value.get_reference()


def _fastcall_entry(module, name, fn: Function, body):
    """`ptr <name>_fc(ptr self, ptr *args, i64 nargs)`, a METH_FASTCALL C function. `self` is
    the tuple (context, ...) runtime/native.py builds: the context's words hold the C-API
    pointers it calls (so the module names no Python symbol and stays loadable anywhere)."""
    n_in, n_out = len(fn.params), len(fn.results)
    f = ir.Function(module, ir.FunctionType(PTR, [PTR, PTR, I64]), name + "_fc")
    b = ir.IRBuilder(f.append_basic_block("entry"))
    not_mine, null = f.append_basic_block("not_mine"), ir.Constant(PTR, None)
    self_, args, nargs = f.args

    def guard(ok, fail=not_mine):
        nxt = f.append_basic_block("ok")
        b.cbranch(ok, nxt, fail)
        b.position_at_end(nxt)

    ctx = _field(b, _field(b, self_, TUPLE_ITEMS, PTR), DATA, PTR)

    def word(k, ty=PTR):
        return b.load(b.gep(ctx, [i64(k)], source_etype=I64), typ=ty)

    def c_api(k, ret, *params):
        return _Callee(word(k), ir.FunctionType(ret, params))

    slots = [b.alloca(F64) for _ in range(n_in + n_out)]
    guard(b.icmp_signed("==", nargs, i64(n_in)))
    float_type = word(CTX_FLOAT_TYPE)
    for k in range(n_in):
        obj = b.load(b.gep(args, [i64(k)], source_etype=PTR), typ=PTR)
        guard(b.icmp_unsigned("==", _field(b, obj, OB_TYPE, PTR), float_type))
        b.store(_field(b, obj, FLOAT_VAL, F64), slots[k])
    status = b.call(body, slots + [null])
    guard(b.icmp_signed("==", status, ir.Constant(I32, 0)))
    alloc = c_api(CTX_ALLOC, PTR, PTR, I64)  # PyType_GenericAlloc(numpy.float64, 0)
    result_type = word(CTX_RESULT_TYPE)
    failed = f.append_basic_block("failed")
    ir.IRBuilder(failed).ret(null)

    def box(v, fail):
        obj = b.call(alloc, [result_type, i64(0)])
        guard(b.icmp_unsigned("!=", obj, null), fail)
        b.store(v, b.gep(obj, [i64(FLOAT_VAL)], source_etype=I8))
        return obj

    outs = [b.load(s, typ=F64) for s in slots[n_in:]]
    if n_out == 1:
        single = f.append_basic_block("single")
        tuple_block = f.append_basic_block("tuple")
        b.cbranch(b.icmp_signed("==", word(CTX_AS_TUPLE, I64), i64(0)), single, tuple_block)
        b.position_at_end(single)
        b.ret(box(outs[0], failed))
        b.position_at_end(tuple_block)
    t = b.call(c_api(CTX_TUPLE_NEW, PTR, I64), [i64(n_out)])
    guard(b.icmp_unsigned("!=", t, null), failed)
    drop = f.append_basic_block("drop")
    for k, v in enumerate(outs):
        b.store(box(v, drop), b.gep(t, [i64(TUPLE_ITEMS + 8 * k)], source_etype=I8))
    b.ret(t)
    b.position_at_end(drop)  # a float could not be made: the tuple goes, the error stays set
    b.call(c_api(CTX_DECREF, ir.VoidType(), PTR), [t])
    b.branch(failed)
    b.position_at_end(not_mine)
    nothing = word(CTX_NOT_IMPLEMENTED)
    b.call(c_api(CTX_INCREF, ir.VoidType(), PTR), [nothing])
    b.ret(nothing)


def _c_entry(module, name, body):
    n = len(body.args)
    f = ir.Function(module, ir.FunctionType(I32, [PTR]), name)
    b = ir.IRBuilder(f.append_basic_block())
    ptrs = [b.load(b.gep(f.args[0], [i64(k)], source_etype=PTR), typ=PTR) for k in range(n)]
    b.ret(b.call(body, ptrs))


def _field(b, obj, offset, ty):
    return b.load(b.gep(obj, [i64(offset)], source_etype=I8), typ=ty)
