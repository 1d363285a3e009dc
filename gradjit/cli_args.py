"""Building a program's arguments from the command line's `name=spec` words.

A spec is a Python literal (`3.0`, `[1, 2]`), a `.npy` file, a fill call (`randn(3,4)`,
`rand(5)`, `zeros(2,2)`, `ones(3)`, `arange(4)`), or a typed fill (`f32[5]:ones`,
`f64[3,4]:randn`; a bare type `f64[100]` is zeros, enough for `compile`, which needs only
types). Fills are f64 unless typed; random fills use `--seed`.
"""

from __future__ import annotations

import ast
import inspect
import os
import re

import numpy as np

from .ir.parser import parse_type

FILLS = {
    "zeros": lambda rng, shape, dt: np.zeros(shape, dt),
    "ones": lambda rng, shape, dt: np.ones(shape, dt),
    "randn": lambda rng, shape, dt: rng.standard_normal(shape).astype(dt),
    "rand": lambda rng, shape, dt: rng.random(shape).astype(dt),
    "arange": lambda rng, shape, dt: np.arange(int(np.prod(shape)), dtype=dt).reshape(shape),
}
_CALL = re.compile(r"^(\w+)\(([\d,\s]*)\)$")
_TYPED = re.compile(r"^(\w+\[[\d,\s]*\])(?::(\w+))?$")


class ArgError(ValueError):
    """A malformed `--args` word (the CLI reports it as a usage-level user error)."""


def parse_value(spec: str, rng: np.random.Generator):
    spec = spec.strip()
    if spec.endswith(".npy"):
        if not os.path.exists(spec):
            raise ArgError(f"no such .npy file: {spec}")
        return np.load(spec, allow_pickle=False)
    typed = _TYPED.match(spec)
    if typed:
        t = parse_type(typed.group(1))
        return _fill(typed.group(2) or "zeros", rng, t.shape, t.np_dtype, spec)
    call = _CALL.match(spec)
    if call and call.group(1) in FILLS:
        shape = tuple(int(d) for d in call.group(2).replace(" ", "").split(",") if d)
        return _fill(call.group(1), rng, shape, np.float64, spec)
    try:
        value = ast.literal_eval(spec)
    except (ValueError, SyntaxError):
        raise ArgError(f"cannot read {spec!r}: expected a number, a list, a .npy file, a fill "
                       f"like randn(3,4), or a typed fill like f32[5]:ones") from None
    if isinstance(value, (list, tuple)):
        return np.asarray(value, dtype=np.float64 if _has_float(value) else None)
    if not isinstance(value, (int, float, bool)):
        raise ArgError(f"cannot use {spec!r} as an argument (numbers and lists only)")
    return value


def _has_float(value) -> bool:
    return any(_has_float(v) if isinstance(v, (list, tuple)) else isinstance(v, float)
               for v in value)


def _fill(name, rng, shape, dtype, spec):
    if name not in FILLS:
        raise ArgError(f"unknown fill {name!r} in {spec!r} (one of {', '.join(FILLS)})")
    return FILLS[name](rng, shape, dtype)


def build_args(fn, words: list[str], seed: int) -> tuple:
    """The positional arguments for fn from `name=spec` (or bare `spec`, in order) words."""
    rng = np.random.default_rng(seed)
    params = list(inspect.signature(fn).parameters)
    named, positional = {}, []
    for word in words:
        name, eq, spec = word.partition("=")
        if eq and name.strip().isidentifier():
            if name.strip() not in params:
                raise ArgError(f"{fn.__name__} has no parameter {name.strip()!r} "
                               f"(its parameters: {', '.join(params)})")
            named[name.strip()] = parse_value(spec, rng)
        else:
            positional.append(parse_value(word, rng))
    args = list(positional)
    for p in params[len(positional):]:
        if p in named:
            args.append(named.pop(p))
        elif named:
            raise ArgError(f"missing a value for parameter {p!r} of {fn.__name__}")
    return tuple(args)
