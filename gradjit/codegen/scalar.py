"""Scalar lowering tables for the elementwise primitives: one table per operand kind (float,
int, bool), keyed by primitive name. Each entry maps (cx, *operands) to one register value;
`cx` carries the builder, the operand dtype, the instruction params and declaration helpers.
"""

from __future__ import annotations

from llvmlite import ir

from ..errors import CodegenError
from .ltypes import REG, const

CMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def _fcmp(op):
    # ne is the one unordered comparison: NaN != NaN is true, as in numpy
    if op == "!=":
        return lambda cx, x, y: cx.b.fcmp_unordered(op, x, y)
    return lambda cx, x, y: cx.b.fcmp_ordered(op, x, y)


def _icmp(method, op):
    return lambda cx, x, y: getattr(cx.b, method)(op, x, y)


def _intrinsic(name):
    return lambda cx, *xs: cx.b.call(cx.intrinsic(name, len(xs)), xs)


def _libm(name):
    return lambda cx, *xs: cx.b.call(cx.libm(name, len(xs)), xs)


def _vmath(name):
    """A vectorizable IR kernel (codegen.vmath) when one exists, else libm."""
    def lower(cx, *xs):
        kernel = cx.vmath(name)
        if kernel is None:
            return _libm(name)(cx, *xs)
        cx.em.watch(name, xs[0])  # (a fast kernel's argument beyond its range is noted)
        return cx.b.call(kernel, xs)
    return lower


def _one(cx):
    return const(cx.dtype, 1)


def _fsign(cx, x):
    b = cx.b
    neg = b.select(b.fcmp_ordered("<", x, const(cx.dtype, 0)), const(cx.dtype, -1), x)
    return b.select(b.fcmp_ordered(">", x, const(cx.dtype, 0)), _one(cx), neg)  # NaN, ±0 kept


def _isign(cx, x):
    b, zero = cx.b, const(cx.dtype, 0)
    neg = b.select(b.icmp_signed("<", x, zero), const(cx.dtype, -1), zero)
    return b.select(b.icmp_signed(">", x, zero), _one(cx), neg)


def _logistic(cx, x):
    # 1 / (1 + e^-x): exact at both tails (e^-x overflows to inf -> 0, underflows -> 1)
    b = cx.b
    e = FLOAT["exp"](cx, b.fneg(x))
    return b.fdiv(_one(cx), b.fadd(_one(cx), e))


def integer_pow(cx, x, mul, n: int):
    """x**n by repeated squaring, unrolled (n is static); negative n is 1 / x**-n."""
    if n < 0:
        return cx.b.fdiv(_one(cx), integer_pow(cx, x, mul, -n))
    acc, base = None, x
    while n:
        if n & 1:
            acc = base if acc is None else mul(acc, base)
        n >>= 1
        if n:
            base = mul(base, base)
    return _one(cx) if acc is None else acc


FLOAT = {
    "neg": lambda cx, x: cx.b.fneg(x),
    "abs": _intrinsic("llvm.fabs"),
    "sqrt": _intrinsic("llvm.sqrt"),
    "square": lambda cx, x: cx.b.fmul(x, x),
    "reciprocal": lambda cx, x: cx.b.fdiv(_one(cx), x),
    "sign": _fsign,
    "exp": _vmath("exp"), "log": _vmath("log"), "log1p": _vmath("log1p"),
    "expm1": _vmath("expm1"), "tanh": _vmath("tanh"), "sin": _vmath("sin"),
    "cos": _vmath("cos"), "erf": _vmath("erf"), "tan": _libm("tan"),
    "logistic": _logistic,
    "integer_pow": lambda cx, x: integer_pow(cx, x, cx.b.fmul, cx.params["n"]),
    "add": lambda cx, x, y: cx.b.fadd(x, y),
    "sub": lambda cx, x, y: cx.b.fsub(x, y),
    "mul": lambda cx, x, y: cx.b.fmul(x, y),
    "div": lambda cx, x, y: cx.b.fdiv(x, y),
    "pow": _intrinsic("llvm.pow"),
    "atan2": _libm("atan2"),
    "maximum": _intrinsic("llvm.maximum"),  # NaN-propagating, like numpy
    "minimum": _intrinsic("llvm.minimum"),
    **{name: _fcmp(op) for name, op in CMP.items()},
}

INT = {
    "neg": lambda cx, x: cx.b.neg(x),
    "abs": lambda cx, x: cx.b.select(cx.b.icmp_signed("<", x, const(cx.dtype, 0)),
                                     cx.b.neg(x), x),
    "square": lambda cx, x: cx.b.mul(x, x),
    "sign": _isign,
    "integer_pow": lambda cx, x: integer_pow(cx, x, cx.b.mul, cx.params["n"]),
    "add": lambda cx, x, y: cx.b.add(x, y),
    "sub": lambda cx, x, y: cx.b.sub(x, y),
    "mul": lambda cx, x, y: cx.b.mul(x, y),
    "maximum": lambda cx, x, y: cx.b.select(cx.b.icmp_signed(">", x, y), x, y),
    "minimum": lambda cx, x, y: cx.b.select(cx.b.icmp_signed("<", x, y), x, y),
    **{name: _icmp("icmp_signed", op) for name, op in CMP.items()},
}

# numpy's bool arithmetic: + is or, * is and, max is or, min is and
BOOL = {
    "add": lambda cx, x, y: cx.b.or_(x, y),
    "mul": lambda cx, x, y: cx.b.and_(x, y),
    "maximum": lambda cx, x, y: cx.b.or_(x, y),
    "minimum": lambda cx, x, y: cx.b.and_(x, y),
    "and": lambda cx, x, y: cx.b.and_(x, y),
    "or": lambda cx, x, y: cx.b.or_(x, y),
    "not": lambda cx, x: cx.b.not_(x),
    "abs": lambda cx, x: x,
    "square": lambda cx, x: x,
    "integer_pow": lambda cx, x: x if cx.params["n"] > 0 else const("bool", 1),
    **{name: _icmp("icmp_unsigned", op) for name, op in CMP.items()},
}

# shared by every kind
COMMON = {
    "select": lambda cx, p, x, y: cx.b.select(p, x, y),
    "stop_gradient": lambda cx, x: x,
    "cast": lambda cx, x: cast(cx.b, x, cx.dtype, cx.params["dtype"]),
}

TABLES = {"f32": FLOAT, "f64": FLOAT, "i32": INT, "i64": INT, "bool": BOOL}


def lower_scalar(cx, name: str, args):
    """The register value of elementwise primitive `name` on scalar operands."""
    rule = COMMON.get(name) or TABLES[cx.dtype].get(name)
    if rule is None:
        raise CodegenError("codegen", f"no lowering for {name} on {cx.dtype}",
                           hint="numpy rejects this combination too, or it is missing here")
    return rule(cx, *args)


def cast(b: ir.IRBuilder, x, src: str, dst: str):
    """numpy's astype between two IR dtypes, on a register value."""
    if src == dst:
        return x
    to = REG[dst]
    if dst == "bool":  # nonzero test; NaN is true, as in numpy
        if src in ("f32", "f64"):
            return b.fcmp_unordered("!=", x, const(src, 0))
        return b.icmp_signed("!=", x, const(src, 0))
    if src == "bool":
        return b.uitofp(x, to) if dst in ("f32", "f64") else b.zext(x, to)
    if src in ("f32", "f64"):
        if dst in ("f32", "f64"):
            return b.fpext(x, to) if dst == "f64" else b.fptrunc(x, to)
        return b.fptosi(x, to)
    if dst in ("f32", "f64"):
        return b.sitofp(x, to)
    return b.sext(x, to) if to.width > x.type.width else b.trunc(x, to)

