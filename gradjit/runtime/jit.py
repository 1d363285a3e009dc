"""The only module that touches `llvmlite.binding`: target machine, optimization, object code,
and loading objects into execution engines.

Everything is compiled to an object file first (the same bytes the disk cache stores), and an
engine is always made by loading an object, so a fresh compile and a cache hit run the same path.
`STATS["compiles"]` counts LLVM optimize+codegen runs (tests use it to prove cache hits).
Objects with a cache key share MCJIT engines (see Engine).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable

import llvmlite
import llvmlite.binding as llvm

from ..codegen import vmath_lib
from ..errors import CodegenError, CompilerBug

log = logging.getLogger("gradjit.runtime")
# quick: compiles of the quick tier (runtime/tiers.py); loads: Engine handles made for
# functions (support: for runtime/support.py's objects); objects: objects added to engines;
# library: compiles of support objects
STATS = {"compiles": 0, "quick": 0, "loads": 0, "support": 0, "objects": 0, "library": 0}
# (kernel, dtype, exact) -> the vector-math library object (set by runtime/support.py)
library_source: Callable[[tuple], bytes] | None = None
_lock = threading.Lock()


@functools.cache
def _init() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@functools.cache
def target_machine():
    """The host target: its CPU name and features, so the vectorizer uses AVX2/AVX-512."""
    return new_target_machine()


def new_target_machine():
    """A fresh host target machine (an execution engine takes ownership of the one it gets,
    and frees it with itself, so engines must not share the cached one)."""
    target, cpu, features = _host()
    return target.create_target_machine(cpu=cpu, features=features, opt=3, jit=True)


@functools.cache
def _host():
    """The host target, CPU name and feature string (asking LLVM for features costs ~0.2 ms,
    a noticeable part of loading a cached object)."""
    _init()
    return (llvm.Target.from_default_triple(), llvm.get_host_cpu_name(),
            llvm.get_host_cpu_features().flatten())


@functools.cache
def target_id() -> str:
    """Everything about the target that changes the object code (part of the cache key)."""
    _init()
    _, cpu, features = _host()
    return "|".join([llvm.get_process_triple(), cpu, features, f"llvmlite {llvmlite.__version__}"])


def triple() -> str:
    _init()
    return llvm.get_process_triple()


def load_library(path: str) -> None:
    """Make a shared library's symbols visible to JIT code (numpy's OpenBLAS)."""
    _init()
    llvm.load_library_permanently(path)


# Modules bigger than this (characters of LLVM IR) are optimized without loop unrolling: in a
# big function the unrolled copies of hundreds of small loops (W4's RNN gradient) double the
# time of the optimizer and of machine code generation (3.3 s -> 1.8 s), and run slower.
UNROLL_MAX_CHARS = int(os.environ.get("GRADJIT_UNROLL_MAX_CHARS", 100_000))


def optimize(llvm_ir: str, tm=None):
    """Parse, verify and run the O3 pipeline (loop and SLP vectorization on), then verify the
    result: LLVM 22's SLP vectorizer can emit a use before its definition in fully unrolled
    straight-line code, and machine codegen then *aborts the process* on such IR. So an invalid
    result is retried without SLP, and a still invalid one is a CodegenError, never an abort."""
    tm = tm or target_machine()
    for slp in (True, False):
        mod = _parse(llvm_ir, tm)
        pto = llvm.create_pipeline_tuning_options(speed_level=3)
        pto.loop_vectorization = True
        pto.slp_vectorization = slp
        pto.loop_unrolling = len(llvm_ir) < UNROLL_MAX_CHARS
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
        try:
            mod.verify()
            return mod
        except RuntimeError as e:
            problem = str(e).splitlines()[0] if str(e) else "invalid module"
            log.info("LLVM optimizer (slp=%s) produced invalid IR: %s", slp, problem)
    raise CodegenError("llvm", f"the LLVM optimizer produced invalid IR ({problem})",
                       hint="run with backend='interp' and report this program")


@functools.cache
def quick_target_machine():
    """The host target at codegen level 0: FastISel and the fast register allocator."""
    target, cpu, features = _host()
    return target.create_target_machine(cpu=cpu, features=features, opt=0, jit=True)


def _quick_passes(mod, tm):
    """The quick tier's passes: promote the accumulators to registers and fold the obvious.
    None changes a floating-point result (gradjit's IR has no fast-math flags), so this code
    gives the optimized tier's bits. For one loop with five library calls: ~1 ms of passes and
    ~2.5 ms of machine code, where O3 takes ~9 and ~7."""
    pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=0))
    mpm = llvm.create_new_module_pass_manager()
    mpm.add_sroa_pass()
    mpm.add_instruction_combine_pass()
    mpm.add_simplify_cfg_pass()
    mpm.run(mod, pb)
    return mod


def _parse(llvm_ir: str, tm):
    try:
        mod = llvm.parse_assembly(llvm_ir)
        mod.verify()
    except RuntimeError as e:  # our IR is wrong: a compiler bug, reported before LLVM aborts
        raise CompilerBug("codegen", f"invalid LLVM IR: {e}") from None
    mod.triple, mod.data_layout = llvm.get_process_triple(), str(tm.target_data)
    return mod


def compile_object(llvm_ir: str, stat: str = "compiles", quick: bool = False) -> bytes:
    """LLVM IR text -> optimized object code for the host; `quick`: the quick tier's code."""
    with _lock:
        if quick:
            tm = quick_target_machine()
            mod = _quick_passes(_parse(llvm_ir, tm), tm)
        else:
            tm, mod = target_machine(), optimize(llvm_ir)
        obj = tm.emit_object(mod)
        STATS[stat] += 1
    log.debug("compiled %d bytes of LLVM IR to %d bytes of object code", len(llvm_ir),
              len(obj))
    return obj


def assembly(llvm_ir: str) -> str:
    with _lock:
        return target_machine().emit_assembly(optimize(llvm_ir))


def optimized_ir(llvm_ir: str) -> str:
    with _lock:
        return str(optimize(llvm_ir))


def aot_artifact(llvm_ir: str, kind: str, cpu: str = "host"):
    """Optimized "obj" (bytes), "asm" or "llvm" (text) for ahead-of-time builds: position
    independent (it goes into a shared library), for the host CPU or a named one."""
    _init()
    host = cpu == "host"
    tm = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name() if host else cpu,
        features=llvm.get_host_cpu_features().flatten() if host else "", opt=3, reloc="pic")
    with _lock:
        mod = optimize(llvm_ir, tm)
        if kind == "llvm":
            return str(mod)
        return tm.emit_object(mod) if kind == "obj" else tm.emit_assembly(mod)


# Objects loaded into one shared MCJIT engine before a fresh one is started. A private engine
# costs ~1.9 ms to make (MCJIT runs its code generator over the empty module it starts with);
# adding an object to a live one costs ~0.2 ms. An engine is freed when its last handle goes,
# so a retired engine's code lives as long as any runner of it.
OBJECTS_PER_ENGINE = int(os.environ.get("GRADJIT_OBJECTS_PER_ENGINE", 64))
_shared: dict = {}  # "engine" -> the _Shared engine objects with a key are added to


class _Shared:
    def __init__(self):
        self.ee = llvm.create_mcjit_compiler(llvm.parse_assembly(""), new_target_machine())
        self.ee.finalize_object()
        self.objects: dict = {}  # key (None: a private engine's) -> digest of its object
        self.libraries: set[tuple] = set()  # vmath_lib objects loaded (each once)


class Engine:
    """Object code loaded into an MCJIT engine; keep it alive as long as its functions.

    With a `key` (the runtime's cache key, which its global symbols carry as a suffix, so no two
    keys share a symbol) the object goes into the shared engine, once per key and engine; a
    different object under a loaded key (a rebuilt cache entry) starts a fresh engine, so a
    symbol never has two definitions in one engine. Without a key the object gets a private
    engine (its symbols may repeat another object's). The vector-math library objects the
    object calls are loaded into its engine first."""

    def __init__(self, obj: bytes, key: str | None = None, stat: str = "loads"):
        libraries = [(lib, library_source(lib)) for lib in vmath_lib.needed(obj)]
        with _lock:
            STATS[stat] += 1
            digest = hashlib.blake2b(obj, digest_size=16).digest()
            owner = _shared.get("engine") if key is not None else None
            if (owner is None or len(owner.objects) >= OBJECTS_PER_ENGINE
                    or owner.objects.get(key, digest) != digest):
                owner = _Shared()
                if key is not None:
                    _shared["engine"] = owner
            self._owner, self._ee = owner, owner.ee
            if key is None or key not in owner.objects:
                for lib, lib_obj in libraries:
                    if lib not in owner.libraries:
                        self._ee.add_object_file(llvm.ObjectFileRef.from_data(lib_obj))
                        owner.libraries.add(lib)
                self._ee.add_object_file(llvm.ObjectFileRef.from_data(obj))
                self._ee.finalize_object()
                owner.objects[key] = digest
                STATS["objects"] += 1

    def address(self, name: str) -> int:
        with _lock:
            addr = self._ee.get_function_address(name)
        if not addr:
            raise KeyError(name)
        return addr
