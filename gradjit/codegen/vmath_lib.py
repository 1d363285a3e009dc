"""The vector-math library: vmath's kernels compiled once, called instead of copied.

Each kernel inlined into a loop is optimized and compiled again in every module that uses it:
for a 10-op function with tanh, exp, sin and cos that was half of its LLVM time. So loops whose
speed matters little (groups under TWO_RUNS_MIN elements, and the exact reruns of big groups;
emit.Emitter decides) call a library kernel instead. A library object holds one kernel for one
dtype: `gj_lib_<name>_<dtype>[_fast]` on a scalar, and `..._v<n>` on <n x dtype> vectors.
Calls carry the vector-function-abi-variant attribute, so the loop vectorizer still vectorizes
such loops, calling the `_v<n>` variants. The runtime compiles a library object on first use,
keeps it in the disk cache like any object and loads it into each engine whose objects call it
(runtime/__init__.py, jit.Engine). Ahead-of-time builds inline the kernels instead.

Every variant computes exactly what the scalar kernel computes, lane by lane (the same
operations, fma where the kernel has fma): results do not depend on the vector width.
"""

from __future__ import annotations

import functools
import re

from llvmlite import ir

from . import vmath
from .loops import branch_value
from .ltypes import F32, F64

LANES = {"f64": (2, 4, 8), "f32": (4, 8, 16)}  # SSE, AVX2 and AVX-512 widths
PREFIX = "gj_lib_"
# a library symbol in an object's symbol names: (kernel, dtype, "_fast" or "")
SYMBOL = re.compile(rb"gj_lib_([a-z0-9]+)_(f32|f64)(_fast)?")
_ATTRS = "nounwind willreturn memory(none)"


def symbol(name: str, dtype: str, exact: bool) -> str:
    return f"{PREFIX}{name}_{dtype}" + ("" if exact else "_fast")


def declare(module: ir.Module, name: str, dtype: str, exact: bool):
    """The scalar library kernel, declared in a user's module with its vector variants (kept
    alive through llvm.compiler.used, see finish), or None when vmath has no such kernel."""
    if name not in vmath.KERNELS:
        return None
    exact = exact or vmath.slow_limit(name, dtype) is None
    fname = symbol(name, dtype, exact)
    if fname in module.globals:
        return module.globals[fname]
    ty = F64 if dtype == "f64" else F32
    return _Declared(module, ir.FunctionType(ty, [ty]), fname, _declaration(fname, dtype),
                     [f"{fname}_v{n}" for n in LANES[dtype]])


@functools.cache
def _declaration(fname: str, dtype: str) -> str:
    """The text declaring a scalar kernel and its vector variants (made once: building them
    as llvmlite objects and printing them was a third of lowering a small function)."""
    ty = "double" if dtype == "f64" else "float"
    variants = "".join(f'declare <{n} x {ty}> @"{fname}_v{n}"(<{n} x {ty}>)\n\n'
                       for n in LANES[dtype])
    mapping = ",".join(f"_ZGV_LLVM_N{n}v_{fname}({fname}_v{n})" for n in LANES[dtype])
    return (f'{variants}declare {ty} @"{fname}"({ty}) {_ATTRS} '
            f'"vector-function-abi-variant"="{mapping}"\n')


class _Declared(ir.Function):
    """A library kernel's declaration, printed from text (with attributes llvmlite cannot
    spell: memory(none), strings) together with its vector variants'."""

    def __init__(self, module, fnty, name, text, variants):
        super().__init__(module, fnty, name)
        self._text, self.variants = text, variants

    def descr(self, buf):
        buf.append(self._text)


class _Used(ir.GlobalValue):
    """llvm.compiler.used, printed from text: the vector variants it names are declared only
    as text (_Declared)."""

    def __init__(self, module, names):
        super().__init__(module, ir.ArrayType(ir.PointerType(), len(names)), "llvm.compiler.used")
        self._names, self.linkage = names, "appending"
        module.add_global(self)

    def descr(self, buf):
        refs = ", ".join(f'ptr @"{n}"' for n in self._names)
        buf.append(f'appending global [{len(self._names)} x ptr] [{refs}], '
                   'section "llvm.metadata"\n')


def finish(module: ir.Module) -> None:
    """Keep the declared vector variants until the loop vectorizer has seen them (unused
    declarations are otherwise dropped before it runs, and the calls stay scalar)."""
    names = [v for g in module.global_values if isinstance(g, _Declared) for v in g.variants]
    if names:
        _Used(module, names)


def needed(obj: bytes) -> list[tuple[str, str, bool]]:
    """The library kernels an object calls, from the names in its symbol table."""
    found = {(m.group(1).decode(), m.group(2).decode(), not m.group(3))
             for m in SYMBOL.finditer(obj)}
    return sorted(k for k in found if k[0] in vmath.KERNELS)


@functools.cache
def library_ir(name: str, dtype: str, exact: bool) -> str:
    """LLVM IR text of one library object: the scalar kernel and its vector variants."""
    module = ir.Module(name=symbol(name, dtype, exact))
    fname = symbol(name, dtype, exact)
    for lanes in (1, *LANES[dtype]):
        _variant(module, name, dtype, exact, lanes, fname if lanes == 1 else f"{fname}_v{lanes}")
    return str(module)


def _variant(module, name, dtype, exact, lanes, fname):
    k_ty = F64 if dtype == "f64" else F32
    ty = k_ty if lanes == 1 else ir.VectorType(k_ty, lanes)
    fn = ir.Function(module, ir.FunctionType(ty, [ty]), fname)
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def slow(k, x, y):
        return _slow_lanes(k, name, x, y) if lanes > 1 else \
            vmath._with_slow_path(b, module, name, x, y, vmath.SLOW_PATH[name])
    b.ret(vmath.compute(b, module, name, dtype, fn.args[0], lanes, slow if exact else None))


def _slow_lanes(k, name, x, fast):
    """libm's result in the lanes with |x| > SLOW_PATH[name] (rare: then every lane calls libm
    and a select keeps the fast result where it is exact)."""
    b = k.b
    far = b.fcmp_unordered("ugt", k.abs(x), k.c(vmath.SLOW_PATH[name]))
    any_far = b.icmp_unsigned("!=", b.bitcast(far, ir.IntType(k.lanes)),
                              ir.Constant(ir.IntType(k.lanes), 0))
    libm = vmath.libm_f64(k.m, name)

    def exact():
        y = fast
        for j in range(k.lanes):
            lane = ir.Constant(ir.IntType(32), j)
            pick = b.select(b.extract_element(far, lane),
                            b.call(libm, [b.extract_element(x, lane)]),
                            b.extract_element(fast, lane))
            y = b.insert_element(y, pick, lane)
        return y

    return branch_value(b, any_far, exact, fast, "slow")

