"""Objects compiled once per process and machine, not per function: the vector-math library
kernels (codegen/vmath_lib.py), loaded into each engine whose objects call them, the generic
array entry (codegen/py_entry.py), loaded once, which every array runner calls, and the eager
SGD step's axpy (codegen/axpy.py). All live in the disk cache like any object (keyed by their
text's origin, the target and the compiler's sources), so a new process loads them in well
under a millisecond.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import threading

from . import cache, jit

_libraries: dict[tuple, bytes] = {}
_lock = threading.Lock()


@functools.cache
def compiler_hash() -> str:
    import gradjit

    h = hashlib.sha256(gradjit.__version__.encode())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for sub in ("codegen", "runtime"):
        folder = os.path.join(root, sub)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                with open(os.path.join(folder, name), "rb") as f:
                    h.update(name.encode() + f.read())
    return h.hexdigest()


def library_object(lib: tuple) -> bytes:
    """The object of vector-math library kernel `lib` = (name, dtype, exact)."""
    from ..codegen import vmath_lib

    obj = _libraries.get(lib)
    if obj is None:
        with _lock:
            obj = _libraries.get(lib) or _load_or_compile(
                ("vmath_lib", repr(lib)), vmath_lib.symbol(*lib),
                lambda: vmath_lib.library_ir(*lib))
        _libraries[lib] = obj
    return obj


@functools.cache
def generic_entry():
    """The generic array entry as a ctypes function `int32 (py_object)`, with its engine."""
    from ..codegen import py_entry

    return _function(("py_entry",), py_entry.NAME, lambda: py_entry.module_ir(jit.triple()),
                     ctypes.c_int32, ctypes.py_object)


@functools.cache
def axpy(dtype: str):
    """codegen/axpy.py's `y += a * x` for `dtype` as a ctypes function (n, a, x address, y
    address), with its engine."""
    from ..codegen import axpy as kernel

    scalar = ctypes.c_float if dtype == "f32" else ctypes.c_double
    return _function(("axpy", dtype), kernel.name(dtype),
                     lambda: kernel.module_ir(dtype, jit.triple()),
                     None, ctypes.c_int64, scalar, ctypes.c_void_p, ctypes.c_void_p)


def _function(what: tuple, symbol: str, make_ir, restype, *argtypes):
    """Support function `symbol` as a ctypes function that keeps its engine alive."""
    with _lock:
        obj = _load_or_compile(what, symbol, make_ir)
    engine = jit.Engine(obj, stat="support")
    fn = ctypes.CFUNCTYPE(restype, *argtypes)(engine.address(symbol))
    fn.engine = engine  # the code lives as long as the function
    return fn


def _load_or_compile(what: tuple, symbol: str, make_ir) -> bytes:
    key = hashlib.sha256("\n".join([*what, jit.target_id(), compiler_hash()]).encode())
    key = key.hexdigest()
    hit = cache.load(key)
    if hit is not None:
        return hit[1]
    obj = jit.compile_object(make_ir(), stat="library")
    cache.store(key, {"symbol": symbol, "ws_size": 0, "errors": []}, obj)
    return obj


jit.library_source = library_object
