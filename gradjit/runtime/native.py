"""Compiled scalar functions as CPython builtins: the `_fc` entry (codegen/entry.py) wrapped in
a METH_FASTCALL function object, so `grad(f)(0.7, -0.3)` reaches machine code through one
vectorcall, with no ctypes argument conversion and no array (W1 of the benchmarks).

The entry reads float objects and tuples at fixed offsets; `layout_ok` proves those offsets on
this interpreter at start-up (with numpy's, see call.numpy_layout_ok), and where they do not
hold (a debug or free-threaded build) nothing here is used: callers keep the ctypes path.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from ..codegen import entry as E

METH_FASTCALL = 0x0080


class _MethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


@functools.cache
def layout_ok() -> bool:
    """Do float objects hold their type and value where the `_fc` entry reads them?"""
    from .call import numpy_layout_ok  # (tuples and array data, checked there)

    x = float("0.7")  # a fresh object, not a cached constant
    try:
        made = _alloc()(np.float64, 0)  # what the entry does to return a result
        ctypes.c_double.from_address(id(made) + E.FLOAT_VAL).value = x
        return (numpy_layout_ok()
                and ctypes.c_void_p.from_address(id(x) + E.OB_TYPE).value == id(float)
                and ctypes.c_double.from_address(id(x) + E.FLOAT_VAL).value == x
                and type(made) is np.float64 and made == x and np.float64(x) == x
                and ctypes.c_double.from_address(id(np.float64(x)) + E.FLOAT_VAL).value == x)
    except (ValueError, OSError, AttributeError):
        return False


@functools.cache
def _alloc():
    alloc = ctypes.pythonapi.PyType_GenericAlloc
    alloc.restype = ctypes.py_object
    alloc.argtypes = [ctypes.py_object, ctypes.c_ssize_t]
    return alloc


@functools.cache
def _c_api() -> list[int]:
    api = ctypes.pythonapi
    address = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
    # results are numpy.float64, as on the array path, made like numpy makes its scalars
    # (an allocation of the type's size, zeroed; the value at the same offset as a float's)
    words = {E.CTX_FLOAT_TYPE: id(float), E.CTX_RESULT_TYPE: id(np.float64),
             E.CTX_ALLOC: address(api.PyType_GenericAlloc),
             E.CTX_TUPLE_NEW: address(api.PyTuple_New), E.CTX_NOT_IMPLEMENTED: id(NotImplemented),
             E.CTX_INCREF: address(api.Py_IncRef), E.CTX_DECREF: address(api.Py_DecRef),
             E.CTX_AS_TUPLE: 0}
    return [words[k] for k in range(len(words))]


@functools.cache
def _new_function():
    new = ctypes.pythonapi.PyCFunction_NewEx
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object]
    return new


def fastcall(engine, symbol: str, as_tuple: bool):
    """A builtin `(float, ...) -> float or tuple of floats` running `symbol`'s `_fc` entry, or
    None where there is none (not an all-f64-scalar function) or the layout is not ours. It
    returns NotImplemented for arguments that are not exactly its floats, and for a failed
    run-time check: the caller then takes its general path, which raises what it should."""
    if not layout_ok():
        return None
    try:
        address = engine.address(symbol + "_fc")
    except KeyError:
        return None
    context = np.array(_c_api(), dtype=np.uint64)
    context[E.CTX_AS_TUPLE] = int(as_tuple)
    method = _MethodDef(symbol.encode(), address, METH_FASTCALL, None)
    # `self` is what the entry receives: the context first, then all the function must keep
    # alive (its method record and the engine owning the code) as long as it lives
    return _new_function()(ctypes.byref(method), (context, method, engine), None)
