"""The tensor runtime: compile a Function (codegen -> LLVM -> object), cache it in memory and
on disk, and return a runner `list of arrays -> list of arrays` (the "llvm" backend).

The cache key is a hash of the Function's text, the codegen options, the target (triple, CPU,
features, llvmlite) and the gradjit version (plus a hash of the codegen sources, so editing the
compiler invalidates old entries).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..ir.core import Function
from . import blas, cache, jit, tiers
from .call import make_runner
from .support import compiler_hash as _compiler_hash  # (importing it registers the library)

# compiled runners by key, least recently used first; bounded so that a program making many
# distinct shapes does not keep every engine alive ($GRADJIT_MEMORY_CACHE entries, default 1024)
_memory: OrderedDict[str, object] = OrderedDict()
_MEMORY_MAX = int(os.environ.get("GRADJIT_MEMORY_CACHE", "1024"))
_compiling = threading.Lock()  # one compile at a time: LLVM's engines are not built concurrently


def default_options() -> dict:
    found = blas.find()
    if found:
        jit.load_library(found["path"])
    return {"blas": found, "blas_min_flops": 4096, "vmath": True, "vmath_lib": True}


@dataclass
class Compiled:
    symbol: str
    ws_size: int
    llvm_ir: str | None  # None when loaded from the disk cache


def _key(fn: Function, options: dict) -> str:
    text = "\n".join([str(fn), repr(sorted(options.items())), jit.target_id(),
                      _compiler_hash()])
    return hashlib.sha256(text.encode()).hexdigest()


def lower_text(fn: Function, options: dict | None = None):
    from .. import codegen

    options = dict(default_options(), **(options or {}), triple=jit.triple())
    low = codegen.lower(fn, options)
    return low, str(low.module)


def compile_function(fn: Function, **options):
    """A runner for fn: from memory, else from the disk cache, else compiled (and stored)."""
    opts = dict(default_options(), **options)
    key = _key(fn, opts)
    runner = _memory.get(key)
    if runner is not None:
        _memory.move_to_end(key)
        return runner
    with _compiling:
        runner = _memory.get(key) or _load_or_compile(fn, key, options)
    _memory[key] = runner
    while len(_memory) > _MEMORY_MAX:
        _memory.popitem(last=False)  # runners in use keep their engine alive themselves
    return runner


def _load_or_compile(fn: Function, key: str, options):
    hit = cache.load(key)
    if hit is not None:
        header, obj = hit
        return _runner(fn, header)(jit.Engine(obj, key), header["symbol"])
    # the key in the symbols: objects of different keys share one engine (jit.Engine)
    suffix = "_" + key[:16]
    low, text = lower_text(fn, dict(options, symbol_suffix=suffix))
    header = {"symbol": low.name, "ws_size": low.plan.ws_size, "errors": low.errors}
    if tiers.eligible(low):
        return tiers.start(key, text, suffix, header, _runner(fn, header))
    obj = jit.compile_object(text)
    cache.store(key, header, obj)
    return _runner(fn, header)(jit.Engine(obj, key), header["symbol"])


def _runner(fn: Function, header: dict):
    """`(engine, symbol) -> runner` for fn's compiled code described by `header`."""
    errors = [tuple(e) for e in header["errors"]]
    return lambda engine, symbol: make_runner(engine, symbol, header["ws_size"], fn.in_types,
                                              fn.out_types, errors)


def wait_optimized(timeout: float | None = None) -> bool:
    """Block until every function compiled so far runs its optimized code (runtime/tiers.py);
    True when none is pending."""
    return tiers.wait(timeout)


def llvm_backend(fn: Function):
    return compile_function(fn)


def dump_llvm(fn: Function) -> str:
    return lower_text(fn)[1]


def dump_llvm_opt(fn: Function) -> str:
    return jit.optimized_ir(lower_text(fn)[1])


def dump_asm(fn: Function) -> str:
    return jit.assembly(lower_text(fn)[1])


DUMPS = {"llvm": dump_llvm, "llvm-opt": dump_llvm_opt, "asm": dump_asm}
