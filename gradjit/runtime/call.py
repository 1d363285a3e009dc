"""Calling compiled code: one ctypes call per invocation.

The fast path passes one tuple of the numpy arrays themselves (`py_object`) to the generic
entry, which checks them against the runner's descriptor and reads their data pointers in
compiled code (codegen/py_entry.py).
Outputs are fresh arrays; the workspace is one byte array per compiled function and thread,
reused across that thread's calls (ctypes releases the GIL, so threads run at once). When the
arrays do not fit (wrong dtype, non-contiguous, a Python number, ...), the inputs are converted
and the call is made again. If numpy's array layout is not the one entry.py assumes, the C ABI
entry is used with a pointer array instead (slower: `.ctypes.data` costs ~1-2 µs per array).
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading

import numpy as np

from ..codegen.entry import (
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
)
from ..errors import CompilerBug, IndexingError, ResourceLimitError, TraceError
from . import native


@functools.cache
def numpy_layout_ok() -> bool:
    """Does numpy's array struct have the field offsets the generic entry reads?"""
    a = np.zeros((2, 3))
    pair = (a, a.dtype)
    at = lambda base, off, ty: ty.from_address(base + off).value
    try:
        dims = at(id(a), DIMS, ctypes.c_void_p)
        descr = at(id(a), DESCR, ctypes.c_void_p)
        return (at(id(a), OB_TYPE, ctypes.c_void_p) == id(np.ndarray)
                and at(id(a), DATA, ctypes.c_void_p) == a.ctypes.data
                and at(id(a), NDIM, ctypes.c_int32) == 2
                and [at(dims, 8 * k, ctypes.c_int64) for k in range(2)] == [2, 3]
                and at(id(a), FLAGS, ctypes.c_int32) & C_CONTIGUOUS_ALIGNED
                == C_CONTIGUOUS_ALIGNED
                and at(descr, DESCR_TYPE_NUM, ctypes.c_int32) == a.dtype.num
                and at(descr, DESCR_BYTEORDER, ctypes.c_char) in (b"=", b"<", b"|")
                and at(id(pair), TUPLE_SIZE, ctypes.c_int64) == 2
                and at(id(pair), TUPLE_ITEMS + 8, ctypes.c_void_p) == id(pair[1]))
    except (ValueError, OSError):
        return False


def _conform(arrays, in_types, name):
    if len(arrays) != len(in_types):
        raise TraceError(name, f"expects {len(in_types)} arguments, got {len(arrays)}")
    out = []
    for k, (a, t) in enumerate(zip(arrays, in_types)):
        a = np.asarray(a, dtype=t.np_dtype, order="C")  # (ascontiguousarray makes 0-d 1-d)
        if not a.flags.aligned:  # asarray keeps an unaligned view that is C-ordered already
            a = a.copy()
        if a.shape != t.shape:
            raise TraceError(name, f"argument {k} has shape {list(a.shape)}, expected {t}")
        out.append(a)
    return out


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_limit() -> int:
    """Bytes one call may allocate (workspace + outputs): $GRADJIT_MEMORY_LIMIT (e.g. 4G), else
    the machine's physical memory."""
    text = os.environ.get("GRADJIT_MEMORY_LIMIT", "").strip().upper().rstrip("B")
    if text:
        unit = text[-1] if text[-1] in _UNITS else ""
        return int(float(text[: len(text) - len(unit)]) * _UNITS[unit])
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**62


def _check_memory(symbol: str, ws_size: int, out_types) -> None:
    need = ws_size + sum(t.size * t.np_dtype.itemsize for t in out_types)
    limit = memory_limit()
    if need > limit:
        raise ResourceLimitError(
            symbol, f"a call needs {_size(need)} (workspace {_size(ws_size)} plus outputs), "
            f"over the limit of {_size(limit)}",
            hint="use smaller arrays, or raise GRADJIT_MEMORY_LIMIT (e.g. 64G)")


def _size(n: int) -> str:
    """Bytes for people (a limit of 1M must not read as 0.00 GiB): 512 B, 1.00 MiB, 7.63 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def make_runner(engine, symbol: str, ws_size: int, in_types, out_types, errors=()):
    """A callable `list of arrays -> list of fresh output arrays` for a loaded object;
    `errors` are the (op, problem) of the object's run-time checks, in status order."""
    _check_memory(symbol, ws_size, out_types)  # before anything is allocated
    specs = [(t.shape, t.np_dtype) for t in out_types]
    workspace = _per_thread(lambda: np.empty(max(ws_size, 1), np.uint8))
    empty, ndarray = np.empty, np.ndarray
    if not numpy_layout_ok():
        run = _c_abi_runner(engine.address(symbol), workspace, specs, in_types, symbol, errors)
        run.engine, run.symbol, run.workspace_bytes = engine, symbol, ws_size
        run.scalar = _scalar_runner(engine, symbol, ws_size, len(in_types), len(out_types),
                                    errors)
        return run
    from ..codegen.py_entry import descriptor
    from .support import generic_entry

    entry = generic_entry()
    desc = np.array(descriptor(engine.address(symbol), in_types, len(out_types)), np.uint64)

    def run(arrays):
        outs = [empty(s, d) for s, d in specs]
        ws = workspace()
        status = entry((ndarray, ws, desc, *arrays, *outs))
        if status == 1:
            status = entry((ndarray, ws, desc, *_conform(arrays, in_types, symbol), *outs))
            if status == 1:
                raise CompilerBug("runtime", f"{symbol}: conformed arguments were refused")
        if status:
            _raise(errors, status - 1)
        return outs

    def promote(better, name: str) -> None:
        """Run `name` in engine `better` from the next call on (runtime/tiers.py): one aligned
        store of its address; the engines of earlier code stay alive for calls in flight."""
        address = better.address(name)
        run.earlier.append(run.engine)
        run.engine, run.symbol = better, name
        desc[0] = address

    run.engine, run.symbol = engine, symbol  # the engine owns the code: keep it alive
    run.earlier, run.promote = [], promote
    run.workspace_bytes = ws_size  # public: scratch bytes per call (and thread), for reports
    run.scalar = _scalar_runner(engine, symbol, ws_size, len(in_types), len(out_types), errors)
    return run


def _scalar_runner(engine, symbol, ws_size, n_in, n_out, errors):
    """`floats -> the outputs as a ctypes array of doubles` (this thread's buffer: read it
    before this thread's next call) through the `_s` entry (codegen/entry.py), or None when
    the function has none (not all-f64-scalar) or needs a workspace."""
    try:
        address = engine.address(symbol + "_s")
    except KeyError:
        return None
    if ws_size:
        return None
    entry = ctypes.CFUNCTYPE(ctypes.c_int32, *[ctypes.c_double] * n_in, ctypes.c_void_p,
                             ctypes.c_void_p)(address)
    buffer = _per_thread(lambda: (ctypes.c_double * max(n_out, 1))())
    address = _per_thread(lambda: ctypes.addressof(buffer()))  # an int converts fastest

    def run(*xs):
        status = entry(*xs, address(), None)
        if status:
            _raise(errors, status)
        return buffer()

    run.native = functools.partial(native.fastcall, engine, symbol)  # (as_tuple) -> builtin
    return run


def _raise(errors, k: int):
    op, problem, loc = errors[k - 1]
    raise IndexingError(op, problem, loc, hint="indices must lie in [-size, size)")


def _per_thread(make):
    """A getter of one object per calling thread, made on first use."""
    local = threading.local()

    def get():
        value = getattr(local, "value", None)
        if value is None:
            value = local.value = make()
        return value

    return get


def _c_abi_runner(address, workspace, specs, in_types, name, errors):
    entry = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)(address)
    n = len(in_types) + len(specs) + 1
    pointers = _per_thread(lambda: (ctypes.c_void_p * n)())

    def run(arrays):
        arrays = _conform(arrays, in_types, name)
        outs = [np.empty(s, d) for s, d in specs]
        ptrs = pointers()
        for k, a in enumerate([*arrays, *outs, workspace()]):
            ptrs[k] = a.ctypes.data
        status = entry(ptrs)
        if status:
            _raise(errors, status)
        return outs

    return run
