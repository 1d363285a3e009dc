"""The `gradjit` command: run, dump (and, with the backend, compile and cache).

Exit status: 0 on success, 1 on a user error (one paragraph: the op, types, the user's line, a
hint; no traceback unless --traceback), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import runpy
import shutil
import subprocess
import sys
import time
import traceback

import numpy as np

from .cli_args import ArgError, build_args

TRANSFORMS = ("grad", "value-and-grad", "hessian", "jacobian")


class UserError(Exception):
    """A problem with the user's input, reported without a traceback."""


def load_function(target: str, command: str = "run"):
    """`path/prog.py:fname` -> the function (the module is imported under its file name)."""
    path, _, name = target.rpartition(":") if ":" in target else (target, "", "")
    if not os.path.exists(path):
        raise UserError(f"{command}: no such file: {path}")
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3] or "prog", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if not callable(fn):
        found = [k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                 and getattr(v, "__module__", None) == module.__name__]
        raise UserError(f"{command}: {path} has no function {name!r} (functions there: "
                        f"{', '.join(found) or 'none'})")
    return fn


def transformed(fn, args):
    """The gradjit callable the flags ask for, and a label for printing."""
    import gradjit

    argnums = tuple(int(a) for a in args.argnums.split(",")) if args.argnums else 0
    if args.argnums and len(argnums) == 1:
        argnums = argnums[0]
    kw = {"backend": args.backend} if args.backend else {}
    table = {
        "grad": lambda: gradjit.grad(fn, argnums=argnums, **kw),
        "value-and-grad": lambda: gradjit.value_and_grad(fn, argnums=argnums, **kw),
        "hessian": lambda: gradjit.hessian(fn, argnums=argnums, **kw),
        "jacobian": lambda: gradjit.jacobian(fn, argnums=argnums, **kw),
    }
    mode = next((t for t in TRANSFORMS if getattr(args, t.replace("-", "_"))), None)
    return (table[mode]() if mode else gradjit.jit(fn, **kw)), mode or "value"


def _flatten_named(value, prefix="result"):
    from .tracer import pytree

    leaves, _ = pytree.flatten(value)
    if len(leaves) == 1 and not isinstance(value, (tuple, list, dict)):
        return {prefix: value}
    return {f"{prefix}[{i}]": leaf for i, leaf in enumerate(leaves)}


def _prepare(args, command: str):
    """(the transformed function, its label, its arguments) for a run or dump command."""
    fn = load_function(args.target, command)
    try:
        call_args = build_args(fn, args.args, args.seed)
    except ArgError as e:
        raise UserError(f"{command}: --args: {e}") from None
    f, label = transformed(fn, args)
    return f, label, call_args


def cmd_run(args) -> int:
    if ":" not in args.target:
        return _run_script(args)
    timings = {}
    t0 = time.perf_counter()
    f, label, call_args = _prepare(args, "run")
    t1 = time.perf_counter()
    f(*call_args)  # trace, differentiate, optimize (and compile) once
    t2 = time.perf_counter()
    result = f(*call_args)
    t3 = time.perf_counter()
    timings.update(load=t1 - t0, first_call=t2 - t1, steady_call=t3 - t2)
    named = _flatten_named(result, label)
    if args.out:
        np.savez(args.out, **{k.replace("[", "_").replace("]", ""): np.asarray(v)
                              for k, v in named.items()})
    if args.json:
        out = {k: np.asarray(v).tolist() for k, v in named.items()}
        if args.time:
            out["time_s"] = timings
        print(json.dumps(out))
    else:
        with np.printoptions(precision=6, suppress=True, linewidth=100):
            for k, v in named.items():
                text = np.array2string(np.asarray(v), prefix=f"{k} = ")
                print(f"{k} = {text}")
        if args.time:
            print("time: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in timings.items()))
    return 0


def _run_script(args) -> int:
    if not os.path.exists(args.target):
        raise UserError(f"run: no such file: {args.target}")
    t0 = time.perf_counter()
    sys.argv = [args.target] + list(args.args)
    runpy.run_path(args.target, run_name="__main__")
    if args.time:
        print(f"time: script {(time.perf_counter() - t0) * 1e3:.1f} ms", file=sys.stderr)
    return 0


def cmd_dump(args) -> int:
    from .ir.dot import to_dot
    from .ir.pysource import to_python
    from .passes import optimize

    f, _, call_args = _prepare(args, "dump")
    staged = f._staged(call_args)[0] if hasattr(f, "_staged") else None
    raw = staged.raw if staged else None
    functions = {"trace": raw, "opt": staged.fn if staged else optimize(raw)}
    stages = list(functions) if args.stage == "all" else [args.stage]
    for stage in stages:
        if stage not in functions:
            return _backend_stage(f, call_args, stage)
        ir = functions[stage]
        if args.format == "python":
            print(to_python(ir), end="")
        elif args.format in ("dot", "svg"):
            dot = to_dot(ir)
            print(dot if args.format == "dot" else _svg(dot), end="")
        else:
            if len(stages) > 1:
                print(f"// ---- {stage} ----")
            print(ir)
    return 0


def _backend_stage(f, call_args, stage) -> int:
    dump = getattr(f, "dump", None)
    try:
        print(dump(*call_args, stage=stage))
    except ValueError as e:
        raise UserError(f"dump: {e}") from None
    return 0


def _svg(dot: str) -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise UserError("dump: --format svg needs Graphviz's `dot` program, which is not "
                        "installed\n  hint: install Graphviz (Debian/Ubuntu: apt-get install "
                        "graphviz; macOS: brew install graphviz), or use --format dot")
    return subprocess.run([exe, "-Tsvg"], input=dot, capture_output=True, text=True,
                          check=True).stdout


def _common(p):
    p.add_argument("target", help="prog.py:function (run also takes a plain prog.py)")
    p.add_argument("--args", nargs="*", default=[], metavar="NAME=SPEC",
                   help="arguments: 3.0, [1,2], x.npy, randn(3,4), f32[5]:ones, ...")
    group = p.add_mutually_exclusive_group()
    for t in TRANSFORMS:
        group.add_argument(f"--{t}", action="store_true", help=f"run the {t} of the function")
    p.add_argument("--argnums", default="", help="differentiated arguments, e.g. 0,1")
    p.add_argument("--backend", choices=("llvm", "interp"), default=None)
    p.add_argument("--seed", type=int, default=0, help="seed for random fills")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gradjit", description="Trace, differentiate, compile "
                                 "and run Python functions.")
    ap.add_argument("--traceback", action="store_true", help="show Python tracebacks")
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a function (or its gradient) and print the result")
    _common(run)
    run.add_argument("--time", action="store_true", help="print trace/compile/run times")
    run.add_argument("--json", action="store_true", help="machine-readable output")
    run.add_argument("--out", help="save the results to an .npz file")
    run.set_defaults(func=cmd_run)
    dump = sub.add_parser("dump", help="print the IR after a stage")
    _common(dump)
    dump.add_argument("--stage", default="opt",
                      choices=("trace", "opt", "llvm", "llvm-opt", "asm", "all"))
    dump.add_argument("--format", default="text", choices=("text", "dot", "svg", "python"))
    dump.set_defaults(func=cmd_dump)
    for extra in EXTRA_COMMANDS:
        extra(sub)
    return ap


def _aot_commands(sub):
    from .cli_compile import add_commands  # compile, cache (imported here: no cycle)

    add_commands(sub)


EXTRA_COMMANDS: list = [_aot_commands]  # backend commands (compile, cache) register here


def main(argv=None) -> int:
    from .errors import GradjitError

    ap = parser()
    args = ap.parse_args(argv)
    show_tb = args.traceback or "--traceback" in (argv or sys.argv)
    try:
        return args.func(args)
    except (UserError, GradjitError) as e:
        if show_tb:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # an exception from the user's own code
        if show_tb:
            traceback.print_exc()
        else:
            package = os.path.dirname(os.path.abspath(__file__))
            user = [fr for fr in traceback.extract_tb(e.__traceback__)
                    if not fr.filename.startswith((package, "<"))]
            where = f"\n  at {os.path.basename(user[-1].filename)}:{user[-1].lineno}  " \
                f"{user[-1].line}" if user else ""
            print(f"error: {type(e).__name__}: {e}{where}\n  hint: run with --traceback for "
                  "the full Python traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
