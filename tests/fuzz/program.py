"""A fuzz program as data, and its two Python spellings.

A program is a list of arguments (each with the numpy source that builds its example value), a
list of steps `out = <kind>(ins, params)`, and the outputs. It is spelled twice from the same
steps: the *traced* spelling (numpy calls, operators, `gradjit.numpy`, raw `bind`) that gradjit
traces, and the *reference* spelling in plain numpy. Both are real Python source, exec'd, so
tracing goes through the numpy protocol exactly as user code does, and a failing program prints
as code a person can paste into a test.
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass, field, replace

import numpy as np

import gradjit
import gradjit.numpy as gnp
from gradjit.ops.primitive import REGISTRY

from . import refs

CAP = 1e3  # no intermediate value is larger: deep chains stay finite and well conditioned


class Src(str):
    """A parameter that is already source text (an index key, an einsum spec)."""


def lit(v) -> str:
    """Python source for a parameter value."""
    if isinstance(v, Src):
        return str(v)
    if isinstance(v, np.ndarray):
        return array_lit(v)
    return repr(v)


_DTYPE_SRC = {"float64": "np.float64", "float32": "F32", "int64": "np.int64",
              "int32": "np.int32", "bool": "bool"}


def array_lit(a: np.ndarray) -> str:
    dtype = _DTYPE_SRC[a.dtype.name]
    if a.size == 0:
        return f"np.zeros({a.shape!r}, dtype={dtype})"
    return f"np.array({a.tolist()!r}, dtype={dtype})"


@dataclass(frozen=True)
class Arg:
    name: str
    expr: str  # numpy source building the example value (F32 may appear)
    kind: str  # "array" (float), "int" (an index array), "bool" or "scalar" (a Python float)

    def value(self, f32=np.float32):
        return eval(self.expr, {"np": np, "F32": f32})


@dataclass(frozen=True)
class Step:
    kind: str
    ins: tuple[str, ...]
    params: dict = field(hash=False)
    out: str


@dataclass
class Program:
    seed: int
    index: int
    args: list[Arg]
    steps: list[Step]
    outputs: list[str]
    argnums: tuple[int, ...]
    mode: str = "f64"  # "f64", "f32" or "mixed": the float dtypes of the arguments

    @property
    def label(self) -> str:
        return f"seed {self.seed} program {self.index}"

    def arg_values(self, f32=np.float32) -> tuple:
        return tuple(a.value(f32) for a in self.args)

    def with_(self, **changes) -> Program:
        return replace(self, **changes)


def kinds():
    from .kinds import KINDS

    return KINDS


def spell(step: Step, ref: bool, names=None) -> str:
    """The step's expression; `names` replaces its input names (positionally).

    Two markers serve control flow, whose bodies are params: `CF.` is `gradjit.` in the traced
    spelling and `ref.` (plain Python loops and branches) in the reference; `§i` inside a
    param is input i (a value a loop body captures from the enclosing trace)."""
    kind = kinds()[step.kind]
    names = names or step.ins
    template = kind.ref if ref and kind.ref is not None else kind.trace
    text = template.format(*names, **{k: lit(v) for k, v in step.params.items()})
    for i, name in enumerate(names):
        text = text.replace(f"§{i}", name)
    return text.replace("CF.", "ref." if ref else "gradjit.")


def source(prog: Program, ref: bool, name: str | None = None) -> str:
    """`def f(args): ...; return (outputs,)` in the traced or the reference spelling."""
    name = name or ("f_ref" if ref else "f")
    params = ", ".join(a.name for a in prog.args)
    lines = [f"def {name}({params}):"]
    lines += [f"    {s.out} = {spell(s, ref)}" for s in prog.steps]
    lines.append(f"    return ({''.join(o + ', ' for o in prog.outputs)})")
    return "\n".join(lines) + "\n"


TRACE_NS = {"np": np, "gnp": gnp, "gradjit": gradjit, "R": REGISTRY, "F32": np.float32}
REF_NS = {"np": np, "ref": refs, "F32": np.float32}


def compile_source(text: str, filename: str, namespace: dict) -> dict:
    """exec `text` as if it were the file `filename` (so tracebacks and locs show its lines)."""
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    ns = dict(namespace)
    exec(compile(text, filename, "exec"), ns)  # noqa: S102 (our own generated source)
    return ns


def functions(prog: Program):
    """(f, f_ref): the traced spelling and the plain-numpy reference, as functions."""
    tag = f"<fuzz s{prog.seed} p{prog.index} {id(prog):x}>"
    f = compile_source(source(prog, False), tag, TRACE_NS)["f"]
    f_ref = compile_source(source(prog, True), tag + "ref", REF_NS)["f_ref"]
    return f, f_ref


# ---- concrete evaluation (generation and shrinking both keep programs in their domains) ----

_step_fns: dict[str, object] = {}


def step_fn(step: Step):
    """The reference spelling of one step as a function of its inputs (memoized by text)."""
    names = [f"_{i}" for i in range(len(step.ins))]
    text = f"lambda {', '.join(names)}: {spell(step, True, names)}"
    fn = _step_fns.get(text)
    if fn is None:
        fn = _step_fns[text] = eval(text, REF_NS)
    return fn


def valid_value(v) -> bool:
    """A numeric array, finite and within CAP (every intermediate value of a program is)."""
    a = np.asarray(v)
    if a.dtype.kind not in "fiub":
        return False
    if a.dtype.kind != "f" or a.size == 0:
        return True
    return bool(np.all(np.isfinite(a)) and np.max(np.abs(a)) <= CAP)


def evaluate(prog: Program) -> dict | None:
    """name -> value of every argument and step, or None when a step leaves its domain."""
    env = {a.name: v for a, v in zip(prog.args, prog.arg_values())}
    with np.errstate(all="ignore"):
        for s in prog.steps:
            kind = kinds()[s.kind]
            try:
                xs = [env[i] for i in s.ins]
            except KeyError:
                return None
            if kind.ok is not None and not kind.ok(s.params, *xs):
                return None
            try:
                out = step_fn(s)(*xs)
            except Exception:  # noqa: BLE001 (a shrunk step numpy no longer accepts)
                return None
            if not valid_value(out):
                return None
            env[s.out] = out
    return env
