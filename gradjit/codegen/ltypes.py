"""IR dtypes as LLVM types, and the one place that knows bool is i1 in registers, i8 in memory."""

from __future__ import annotations

from llvmlite import ir

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
F32, F64 = ir.FloatType(), ir.DoubleType()
PTR = ir.PointerType()

# register type (what expressions compute with) and memory type (what buffers hold)
REG = {"bool": I1, "i32": I32, "i64": I64, "f32": F32, "f64": F64}
MEM = {"bool": I8, "i32": I32, "i64": I64, "f32": F32, "f64": F64}
ITEMSIZE = {"bool": 1, "i32": 4, "i64": 8, "f32": 4, "f64": 8}


def i64(n: int) -> ir.Constant:
    return ir.Constant(I64, int(n))


def const(dtype: str, value) -> ir.Constant:
    """A scalar immediate of an IR dtype (bool as i1)."""
    if dtype in ("f32", "f64"):
        return ir.Constant(REG[dtype], float(value))
    return ir.Constant(REG[dtype], int(bool(value)) if dtype == "bool" else int(value))


def load(b: ir.IRBuilder, dtype: str, base, index) -> ir.Value:
    """Element `index` (an i64) of a buffer of `dtype`, as a register value."""
    addr = b.gep(base, [index], inbounds=True, source_etype=MEM[dtype])
    v = b.load(addr, typ=MEM[dtype])
    return b.trunc(v, I1) if dtype == "bool" else v


def store(b: ir.IRBuilder, dtype: str, value, base, index) -> None:
    addr = b.gep(base, [index], inbounds=True, source_etype=MEM[dtype])
    b.store(b.zext(value, I8) if dtype == "bool" else value, addr)
