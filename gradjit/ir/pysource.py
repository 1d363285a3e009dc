"""A Function as a standalone numpy module: straight-line Python a person can read and run.

`to_python(fn)` emits one assignment per instruction (with the user's line as a comment) using
only numpy; the few primitives numpy has no single call for use helpers from a short prelude
that is included only when used.
"""

from __future__ import annotations

import base64

import numpy as np

from .core import Function
from .printer import Namer

_LETTERS = "abcdefghijklmnopqrstuvwxyz"

PRELUDE = {
    "erf": '''\
def _erf(x):
    import math
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)
''',
    "pad": '''\
def _pad(x, lo, hi, interior, value):
    shape = [a + b + d + max(d - 1, 0) * i for a, b, i, d in zip(lo, hi, interior, x.shape)]
    out = np.full(shape, value, dtype=x.dtype)
    out[tuple(slice(a, a + (d - 1) * (i + 1) + 1 if d else a, i + 1)
              for a, i, d in zip(lo, interior, x.shape))] = x
    return out
''',
    "scatter_add": '''\
def _scatter_add(x, idx, upd, axis):
    out = x.copy()
    np.add.at(out, (slice(None),) * axis + (idx,), upd)
    return out
''',
    "const": '''\
def _const(data, dtype, shape):
    import base64
    return np.frombuffer(base64.b64decode(data), dtype=dtype).reshape(shape).copy()
''',
}


def _dt(t) -> str:
    return f"np.{t.np_dtype.name}"


def _const(args, p, out):
    value = p["value"]
    if value.size <= 64:
        return f"np.array({value.tolist()!r}, dtype={_dt(out)})".replace("nan", "np.nan") \
            .replace("inf", "np.inf")
    data = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()
    return f"_const({data!r}, {_dt(out)}, {out.shape})"


def _dot(args, p, out):
    (xc, yc), (xb, yb) = p["contract"], p["batch"]
    nx = len(args[2])
    xs, ys = list(_LETTERS[:nx]), list(_LETTERS[nx : nx + len(args[3])])
    for a, b in [*zip(xc, yc), *zip(xb, yb)]:
        ys[b] = xs[a]
    o = [xs[a] for a in xb] + [xs[i] for i in range(nx) if i not in xc + xb]
    o += [ys[i] for i in range(len(ys)) if i not in yc + yb]
    return f"np.einsum('{''.join(xs)},{''.join(ys)}->{''.join(o)}', {args[0]}, {args[1]})"


def _iota(args, p, out):
    view = [1] * len(p["shape"])
    view[p["axis"]] = p["shape"][p["axis"]]
    return (f"np.broadcast_to(np.arange({p['shape'][p['axis']]}, dtype={_dt(out)})"
            f".reshape({tuple(view)}), {tuple(p['shape'])}).copy()")


def _slice(args, p, out):
    parts = [f"{b}:{e}" + (f":{s}" if s != 1 else "")
             for b, e, s in zip(p["start"], p["stop"], p["step"])]
    return f"{args[0]}[{', '.join(parts)}].copy()"


def _fmt(template):
    return lambda args, p, out: template.format(*args, **p, dt=_dt(out))


EXPRESSIONS = {
    "neg": _fmt("-{0}"), "exp": _fmt("np.exp({0})"), "log": _fmt("np.log({0})"),
    "log1p": _fmt("np.log1p({0})"), "expm1": _fmt("np.expm1({0})"), "sqrt": _fmt("np.sqrt({0})"),
    "sin": _fmt("np.sin({0})"), "cos": _fmt("np.cos({0})"), "tan": _fmt("np.tan({0})"),
    "tanh": _fmt("np.tanh({0})"), "logistic": _fmt("np.exp(-np.logaddexp(0, -{0}))"),
    "abs": _fmt("np.abs({0})"), "sign": _fmt("np.sign({0})"), "square": _fmt("np.square({0})"),
    "reciprocal": _fmt("np.reciprocal({0})"), "erf": _fmt("_erf({0})"),
    "stop_gradient": _fmt("{0}.copy()"), "integer_pow": _fmt("np.power({0}, {n})"),
    "cast": lambda a, p, out: f"{a[0]}.astype({_dt(out)})",
    "add": _fmt("{0} + {1}"), "sub": _fmt("{0} - {1}"), "mul": _fmt("{0} * {1}"),
    "div": _fmt("{0} / {1}"), "pow": _fmt("np.power({0}, {1})"),
    "maximum": _fmt("np.maximum({0}, {1})"), "minimum": _fmt("np.minimum({0}, {1})"),
    "atan2": _fmt("np.arctan2({0}, {1})"), "lt": _fmt("{0} < {1}"), "le": _fmt("{0} <= {1}"),
    "gt": _fmt("{0} > {1}"), "ge": _fmt("{0} >= {1}"), "eq": _fmt("{0} == {1}"),
    "ne": _fmt("{0} != {1}"), "and": _fmt("{0} & {1}"), "or": _fmt("{0} | {1}"),
    "not": _fmt("~{0}"), "select": _fmt("np.where({0}, {1}, {2})"),
    "reduce_sum": _fmt("np.sum({0}, axis={axes})"), "reduce_max": _fmt("np.max({0}, axis={axes})"),
    "reduce_min": _fmt("np.min({0}, axis={axes})"),
    "reduce_prod": _fmt("np.prod({0}, axis={axes})"),
    "argmax": _fmt("np.argmax({0}, axis={axis})"),
    "broadcast_to": _fmt("np.broadcast_to({0}, {shape}).copy()"),
    "reshape": _fmt("{0}.reshape({shape})"), "transpose": _fmt("{0}.transpose({perm})"),
    "concatenate": lambda a, p, out: f"np.concatenate([{', '.join(a[0])}], axis={p['axis']})",
    "slice": _slice, "pad": _fmt("_pad({0}, {lo}, {hi}, {interior}, {value})"),
    "flip": _fmt("np.flip({0}, {axes}).copy()"), "iota": _iota, "const": _const,
    "gather": _fmt("np.take({0}, {1}, axis={axis})"),
    "scatter_add": _fmt("_scatter_add({0}, {1}, {2}, {axis})"), "dot_general": _dot,
}


def to_python(fn: Function, name: str | None = None) -> str:
    """Standalone numpy source defining `name(*params)` that returns fn's results."""
    names = Namer(fn)
    params = [names(p)[1:] for p in fn.params]
    lines, used = [], set()
    for instr in fn.body:
        args = [names(a)[1:] for a in instr.args]
        if instr.prim.name == "concatenate":
            args = [args]
        elif instr.prim.name == "dot_general":
            args = args + [range(a.type.ndim) for a in instr.args]
        emit = EXPRESSIONS.get(instr.prim.name)
        if emit is None:
            raise NotImplementedError(f"no Python form for primitive {instr.prim.name!r}")
        expr = emit(args, instr.params, instr.out.type)
        used.update(k for k in PRELUDE if f"_{k}(" in expr)
        out = "v" + names.define(instr.out)[1:]
        names.names[instr.out] = out
        comment = f"  # {instr.loc.rsplit('/', 1)[-1]}" if instr.loc else ""
        lines.append(f"    {out} = {expr}{comment}")
    results = ", ".join(names(r)[1:] for r in fn.results)
    lines.append(f"    return {results}" + ("," if len(fn.results) == 1 else ""))
    header = [f'"""{fn.name}, generated by gradjit from its IR: numpy only, no gradjit."""', "",
              "import numpy as np", ""]
    for k in sorted(used):
        header += ["", PRELUDE[k]]
    signature = ", ".join(params)
    doc = "    # " + ", ".join(f"{n}: {p.type}" for n, p in zip(params, fn.params))
    return "\n".join(header + ["", f"def {name or fn.name}({signature}):", doc] + lines) + "\n"
