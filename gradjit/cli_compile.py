"""The backend commands of `gradjit`: `compile` (ahead-of-time shared libraries with a C
header, see aot.py) and `cache` (the on-disk object cache: info, clear, path)."""

from __future__ import annotations

import inspect
import keyword
import os
import re
import shlex

from .cli import UserError, _common, _prepare

C_KEYWORDS = frozenset("auto break case char const continue default do double else enum extern "
                       "float for goto if int long register restrict return short signed sizeof "
                       "static struct switch typedef union unsigned void volatile while bool "
                       "int32_t int64_t uint8_t".split())


def _c_name(name: str, fallback: str) -> str:
    name = re.sub(r"\W", "_", name or "")
    if not name or name[0].isdigit():
        return fallback
    return name + "_" if name in C_KEYWORDS or keyword.iskeyword(name) else name


def _wrt_names(user_fn, argnums: str) -> list[str]:
    params = list(inspect.signature(user_fn).parameters)
    nums = [int(a) for a in argnums.split(",")] if argnums else [0]
    return [_c_name(params[n], f"arg{n}") if -len(params) <= n < len(params) else f"arg{n}"
            for n in nums]


def _jacobian_names(prefix, n_results, wrt):
    if n_results == len(wrt):
        return [f"{prefix}_{w}" for w in wrt]
    return [f"{prefix}{j}_{w}" for j in range(n_results // max(len(wrt), 1)) for w in wrt]


OUTPUT_NAMES = {  # label -> (number of results, differentiated names) -> output names
    "value": lambda n, wrt: ["out"] if n == 1 else [f"out{k}" for k in range(n)],
    "grad": lambda n, wrt: [f"grad_{w}" for w in wrt],
    "value-and-grad": lambda n, wrt: ["value"] + [f"grad_{w}" for w in wrt],
    "jacobian": lambda n, wrt: _jacobian_names("jac", n, wrt),
    "hessian": lambda n, wrt: [f"hess_{a}_{b}" for a in wrt for b in wrt] if len(wrt) > 1
    else _jacobian_names("hess", n, wrt),
}


def _input_names(fn, user_fn, call_args, label, argnums: str) -> list[str]:
    """The C names of fn's parameters: the user's argument names, minus the Python ints a
    derivative transform keeps static (baked in at build time)."""
    params = list(inspect.signature(user_fn).parameters)
    nums = {int(a) % max(len(call_args), 1) for a in argnums.split(",")} if argnums else {0}
    names = [params[i] if i < len(params) else f"in{i}" for i, a in enumerate(call_args)
             if label == "value" or i in nums or type(a) not in (int, bool)]
    if len(names) != len(fn.params):
        names = [p.hint for p in fn.params]
    return [_c_name(n, f"in{k}") for k, n in enumerate(names)]


def _signature(fn, inputs, label, wrt):
    outputs = OUTPUT_NAMES[label](len(fn.results), wrt)
    if len(outputs) != len(fn.results) or len(set(inputs + outputs)) != len(inputs + outputs):
        outputs = [f"out{k}" for k in range(len(fn.results))]
    if len(set(inputs)) != len(inputs):
        inputs = [f"in{k}" for k in range(len(inputs))]
    return list(zip(inputs, fn.in_types)), list(zip(outputs, fn.out_types))


def _function_for(f, label, call_args):
    """The optimized Function to build; --grad keeps only the gradients (not the value)."""
    from .ir.core import Function
    from .passes import optimize

    staged = f._staged(call_args)[0]
    if staged.captured:
        raise UserError("compile: the function closes over values traced elsewhere; "
                        "compile a function of its arguments only")
    fn = staged.fn
    if label == "grad":
        k = fn.meta.get("primal_results", 1)
        fn = optimize(Function(fn.name, fn.params, fn.body, fn.results[k:], dict(fn.meta)))
    return fn


def _api(args, f, label, fn, call_args):
    """The C API to build: its name, named arrays, and the command that made it."""
    from .aot import Api

    names = _input_names(fn, f.f, call_args, label, args.argnums)
    inputs, outputs = _signature(fn, names, label, _wrt_names(f.f, args.argnums))
    path, _, fname = args.target.rpartition(":")
    words = ["gradjit", "compile", f"{os.path.basename(path)}:{fname}",
             *(["--" + label] if label != "value" else []),
             *(["--argnums", args.argnums] if args.argnums else []), "--args", *args.args]
    default = fname if label == "value" else f"{label}_{fname}".replace("-", "_")
    return Api(args.name or _c_name(default, "gradjit_fn"), inputs, outputs, [], 0,
               " ".join(shlex.quote(w) for w in words))


def cmd_compile(args) -> int:
    from . import aot

    if args.name and not re.fullmatch(r"[A-Za-z_]\w*", args.name):
        raise UserError(f"compile: --name {args.name!r} is not a C identifier")
    f, label, call_args = _prepare(args, "compile")
    fn = _function_for(f, label, call_args)
    api = _api(args, f, label, fn, call_args)
    written = aot.build(fn, api, args.output, args.emit, args.cpu)
    print("wrote " + ", ".join(f"{p} ({_human(os.path.getsize(p))})" for p in written))
    if args.emit in ("so", "obj"):
        print(f"  int32_t {api.name}({aot.c_params(api)});")
    if args.emit == "obj":  # the link line the so build would have run
        lib = os.path.splitext(os.path.basename(args.output))[0] + ".so"
        cmd = aot.link_command([args.output], lib if lib.startswith("lib") else "lib" + lib,
                               api.blas)
        print("  link it with: " + " ".join(shlex.quote(w) for w in cmd))
    if args.emit == "so":
        folder = os.path.dirname(os.path.abspath(args.output))
        lib = os.path.basename(args.output)
        link = f"-l{lib[3:-3]}" if lib.startswith("lib") and lib.endswith(".so") else lib
        print(f"  build a C program with: cc main.c -I{folder} -L{folder} {link} "
              f"-Wl,-rpath,{folder}")
    return 0


def _human(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _cache_info():
    from .runtime import cache

    files = cache.entries()
    total = sum(os.path.getsize(p) for p in files if os.path.exists(p))
    print(f"location: {cache.cache_dir()}")
    print(f"entries:  {len(files)}")
    print(f"size:     {_human(total)} ({total} bytes)")


def _cache_clear():
    from .runtime import cache

    count, freed = cache.clear()
    print(f"removed {count} entries ({_human(freed)}) from {cache.cache_dir()}")


def _cache_path():
    from .runtime import cache

    print(cache.cache_dir())


CPUS = ("host", "x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4")  # LLVM aborts on unknown names
CACHE_ACTIONS = {"info": _cache_info, "clear": _cache_clear, "path": _cache_path}


def cmd_cache(args) -> int:
    CACHE_ACTIONS[args.action]()
    return 0


def add_commands(sub) -> None:
    from .aot import EMITS

    comp = sub.add_parser("compile", help="build a shared library and C header (ahead of time)",
                          description="Build prog.py:f (or its gradient) for the argument types "
                          "given by --args into a shared library plus a C header next to it.")
    _common(comp)
    comp.add_argument("-o", "--output", required=True, help="the library (or artifact) to write")
    comp.add_argument("--emit", choices=EMITS, default="so",
                      help="so: shared library + header; obj: object + header; asm; llvm")
    comp.add_argument("--name", default="", help="the C function's name (default: the IR's)")
    comp.add_argument("--cpu", default="host", choices=CPUS, help="the CPU to generate code "
                      "for: this machine's (default), or an x86-64 level for a portable build")
    comp.set_defaults(func=cmd_compile)
    cache = sub.add_parser("cache", help="the on-disk cache of compiled code",
                           description="info: entries and size; clear: delete the entries; "
                           "path: print the directory ($GRADJIT_CACHE_DIR overrides it).")
    cache.add_argument("action", choices=tuple(CACHE_ACTIONS))
    cache.set_defaults(func=cmd_cache)
