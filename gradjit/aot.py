"""Ahead-of-time builds: a Function becomes a shared library (or object, assembly, LLVM IR)
plus a C header, callable from C without Python.

The lowered module (codegen) already exports `int32_t gj_<name>(void **args)` (inputs, outputs,
workspace). Here three plain C functions are added to that module in LLVM IR, so every artifact
(`so`, `obj`, `asm`, `llvm`) carries the same public API:

    int32_t NAME(const T *in..., T *out...);           allocates and frees the workspace
    int32_t NAME_ws(const T *in..., T *out..., void *ws);   caller's workspace, no allocation
    int64_t NAME_workspace_size(void);

A shared library is linked with the system C compiler (`cc -shared`), against numpy's OpenBLAS
with an rpath when the code calls GEMM, exporting only those three symbols.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from .errors import GradjitError
from .ir.core import Function

C_TYPES = {"f64": "double", "f32": "float", "i64": "int64_t", "i32": "int32_t",
           "bool": "uint8_t"}
WS_ALIGN = 64  # the buffer planner aligns workspace slots to 64 bytes
EMITS = ("so", "obj", "asm", "llvm")


class AotError(GradjitError):
    """An ahead-of-time build that cannot be made (no C compiler, a failing link)."""


@dataclass
class Api:
    """What the header documents: the C name, named inputs and outputs, and the errors."""

    name: str
    inputs: list[tuple[str, object]]  # (name, TensorType)
    outputs: list[tuple[str, object]]
    errors: list[tuple[str, str]]  # status k is errors[k - 1]
    ws_size: int
    summary: str  # one line: what the function computes, and from where
    target: str = ""
    blas: dict | None = None  # numpy's BLAS, when the code calls it (link against it)


# ---- the C API in LLVM IR ----------------------------------------------------------------


def add_api(module, entry_name: str, api: Api) -> None:
    """Add NAME, NAME_ws and NAME_workspace_size around the entry `i32 entry(ptr args)`."""
    from llvmlite import ir

    from .codegen.ltypes import I32, I64, PTR, i64

    entry = module.globals[entry_name]
    n = len(api.inputs) + len(api.outputs)
    with_ws = ir.Function(module, ir.FunctionType(I32, [PTR] * (n + 1)), api.name + "_ws")
    b = ir.IRBuilder(with_ws.append_basic_block())
    slots = b.alloca(PTR, size=n + 1)  # the `void **args` array the entry expects
    for k, arg in enumerate(with_ws.args):
        b.store(arg, b.gep(slots, [i64(k)], source_etype=PTR))
    b.ret(b.call(entry, [slots]))

    size = ir.Function(module, ir.FunctionType(I64, []), api.name + "_workspace_size")
    ir.IRBuilder(size.append_basic_block()).ret(i64(api.ws_size))

    main = ir.Function(module, ir.FunctionType(I32, [PTR] * n), api.name)
    b = ir.IRBuilder(main.append_basic_block())
    if api.ws_size == 0:
        b.ret(b.call(with_ws, [*main.args, ir.Constant(PTR, None)]))
        return
    alloc = ir.Function(module, ir.FunctionType(PTR, [I64, I64]), "aligned_alloc")
    free = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR]), "free")
    rounded = -(-api.ws_size // WS_ALIGN) * WS_ALIGN  # aligned_alloc wants a multiple
    ws = b.call(alloc, [i64(WS_ALIGN), i64(rounded)])
    failed, ok = main.append_basic_block("no_memory"), main.append_basic_block("run")
    b.cbranch(b.icmp_unsigned("==", ws, ir.Constant(PTR, None)), failed, ok)
    ir.IRBuilder(failed).ret(ir.Constant(I32, -1))
    b.position_at_end(ok)
    status = b.call(with_ws, [*main.args, ws])
    b.call(free, [ws])
    b.ret(status)


# ---- the header ---------------------------------------------------------------------------


def c_params(api: Api, ws: bool = False) -> str:
    ins = [f"const {C_TYPES[t.dtype]} *{n}" for n, t in api.inputs]
    outs = [f"{C_TYPES[t.dtype]} *{n}" for n, t in api.outputs]
    return ", ".join(ins + outs + (["void *workspace"] if ws else []))


def _array_lines(api: Api) -> list[str]:
    width = max(len(n) for n, _ in api.inputs + api.outputs)
    rows = [(n, "in ", t) for n, t in api.inputs] + [(n, "out", t) for n, t in api.outputs]
    return [f" *   {n:<{width}}  {io}  {C_TYPES[t.dtype]}[{t.size}]  {t}" +
            ("  (bool as one byte, 0 or 1)" if t.dtype == "bool" else "")
            for n, io, t in rows]


def _status_lines(api: Api) -> list[str]:
    lines = [" *    0  success", " *   -1  the workspace could not be allocated (NAME only)"]
    lines += [f" *   {k:>2}  {op}: {problem}" for k, (op, problem) in enumerate(api.errors, 1)]
    return [line.replace("NAME", api.name) for line in lines]


def _workspace_lines(api: Api) -> list[str]:
    if api.ws_size == 0:
        return [f" * {api.name} needs no scratch memory and allocates nothing; calls from several",
                f" * threads at once are safe. ({api.name}_ws ignores its workspace argument.)"]
    return [f" * {api.name} allocates its {api.ws_size}-byte scratch workspace (aligned_alloc) "
            "and frees it",
            f" * before returning, so concurrent calls are safe. {api.name}_ws takes a caller's",
            f" * workspace instead: {api.name}_workspace_size() bytes, {WS_ALIGN}-byte aligned, "
            "one per thread."]


def _comment(api: Api) -> list[str]:
    """The header's opening comment: the signature, the arrays, memory, statuses, target."""
    lines = [
        f"/* {api.name}: generated by gradjit; do not edit. Made by",
        f" *   {api.summary}",
        " *",
        f" * int32_t {api.name}({c_params(api)});",
        " *",
        " * Arrays are dense, row-major (C order) and aligned to their element size; sizes are",
        " * fixed at build time. Inputs are only read; outputs are written in full and must not",
        " * overlap the inputs. Nothing is kept after the call returns.",
        *_array_lines(api),
        " *",
        *_workspace_lines(api),
        " *",
        " * Return status:",
        *_status_lines(api),
        f" * Machine code for {api.target}:",
        " * it runs only on CPUs with the same instruction set features."]
    return [line.replace("*/", "* /") for line in lines] + [" */"]  # nothing ends it early


def header(api: Api) -> str:
    """The documented C header for the three exported functions."""
    guard, up = f"GRADJIT_{api.name.upper()}_H", api.name.upper()
    cases = "".join(f"\n        case {k}: return {json.dumps(f'{op}: {p}')};"
                    for k, (op, p) in enumerate(api.errors, 1))
    sizes = [f"#define {up}_{n}_SIZE {t.size}" for n, t in api.inputs + api.outputs]
    return "\n".join([
        *_comment(api),
        f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", "",
        "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
        "/* element counts of the arguments */", *sizes, "",
        f"int32_t {api.name}({c_params(api)});",
        f"int32_t {api.name}_ws({c_params(api, ws=True)});",
        f"int64_t {api.name}_workspace_size(void);", "",
        f"/* A message for a status {api.name} returned. */",
        f"static inline const char *{api.name}_strerror(int32_t status) {{",
        "    switch (status) {",
        "        case 0: return \"success\";",
        f"        case -1: return \"out of memory for the workspace\";{cases}",
        "        default: return \"unknown status\";", "    }", "}", "",
        "#ifdef __cplusplus", "}", "#endif", "#endif", ""])


# ---- building -----------------------------------------------------------------------------


def lower_with_api(fn: Function, api: Api, cpu: str = "host") -> str:
    """The LLVM IR text with the C API added (and api's errors, workspace, target, BLAS)."""
    from . import runtime
    from .runtime import blas, jit

    low, _ = runtime.lower_text(fn, {"vmath_lib": False})  # a .so carries its kernels
    api.errors, api.ws_size = [tuple(e[:2]) for e in low.errors], low.plan.ws_size
    api.target = f"{jit.triple()}, CPU {cpu if cpu != 'host' else jit.target_id().split('|')[1]}"
    add_api(low.module, low.name, api)
    found = blas.find()
    names = {found[k] for k in ("f64", "f32", "f64v", "f32v") if k in found} if found else set()
    api.blas = found if names & set(low.module.globals) else None
    return str(low.module)


def build(fn: Function, api: Api, out: str, emit: str = "so", cpu: str = "host") -> list[str]:
    """Write the artifact `out` (and, for so/obj, the header next to it); the paths written."""
    from .runtime import jit

    text = lower_with_api(fn, api, cpu)
    kind = "obj" if emit == "so" else emit
    art = jit.aot_artifact(text, kind, cpu)
    written = []
    if emit == "so":
        _link(art, out, api)
    else:
        with open(out, "wb" if kind == "obj" else "w") as f:
            f.write(art)
    written.append(out)
    if emit in ("so", "obj"):
        path = header_path(out)
        with open(path, "w") as f:
            f.write(header(api))
        written.append(path)
    return written


def header_path(out: str) -> str:
    return os.path.splitext(out)[0] + ".h"


def link_command(objects: list[str], out: str, uses_blas: dict | None) -> list[str]:
    wanted = shlex.split(os.environ.get("CC", "")) or ["cc"]  # $CC may carry flags
    found = shutil.which(wanted[0]) or (shutil.which("gcc") if "CC" not in os.environ else None)
    if not found:
        raise AotError("compile", f"no C compiler found to link the shared library (looked for "
                       f"{'$CC=' + wanted[0] if 'CC' in os.environ else 'cc, gcc'})",
                       hint="install one (Debian/Ubuntu: apt-get install gcc) or set $CC, "
                       "or use --emit obj and link the object yourself")
    cmd = [found, *wanted[1:], "-shared", "-o", out, *objects]
    if uses_blas:  # numpy's OpenBLAS, found again at run time through the rpath
        cmd += [uses_blas["path"], f"-Wl,-rpath,{os.path.dirname(uses_blas['path'])}"]
    return cmd + ["-lm"]


def _link(obj: bytes, out: str, api: Api) -> None:
    with tempfile.TemporaryDirectory(prefix="gradjit-aot-") as tmp:
        obj_path = os.path.join(tmp, api.name + ".o")
        with open(obj_path, "wb") as f:
            f.write(obj)
        cmd = link_command([obj_path], out, api.blas)
        if sys.platform.startswith("linux"):  # export the C API only (and a soname)
            script = os.path.join(tmp, "exports.map")
            names = [api.name, api.name + "_ws", api.name + "_workspace_size"]
            with open(script, "w") as f:
                f.write("{ global: " + "; ".join(names) + "; local: *; };\n")
            cmd += [f"-Wl,--version-script={script}",
                    f"-Wl,-soname,{os.path.basename(out)}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AotError("compile", f"linking {out} failed:\n  {' '.join(cmd)}\n"
                           f"{proc.stderr.strip()}")
