"""The step-kind record and the operand pickers most kinds share.

A kind says how to spell one step (a format template over the input names and params, traced
and reference), how to choose its operands and params from the generator's pool (`pick`), and
which concrete inputs lie in its domain (`ok`, checked on the example values with a margin, so
finite differences around them stay inside it too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MARGIN = 0.05  # how far inside a domain boundary (log, sqrt, 1/x) every example value lies


@dataclass
class Kind:
    name: str
    trace: str  # template: {0}, {1}, ... are input names, {param} a param's source
    pick: Callable  # (gen) -> (input Vals, params) or None when it does not apply
    ref: str | None = None  # the plain-numpy template (None: the traced one is plain numpy)
    ok: Callable | None = None  # (params, *input values) -> bool
    weight: float = 1.0


def kind(name, trace, pick, ref=None, ok=None, weight=1.0) -> Kind:
    return Kind(name, trace, pick, ref, ok, weight)


# ---- domains (on concrete values) ---------------------------------------------------------


def _arr(x):
    return np.asarray(x, dtype=np.float64)


def positive(i=0, margin=MARGIN):
    return lambda p, *xs: _arr(xs[i]).size == 0 or _arr(xs[i]).min() > margin


def nonzero(i=0, margin=0.1):
    return lambda p, *xs: _arr(xs[i]).size == 0 or np.abs(_arr(xs[i])).min() > margin


def bounded(bound, i=0):
    return lambda p, *xs: _arr(xs[i]).size == 0 or np.abs(_arr(xs[i])).max() < bound


def above(level, i=0):
    return lambda p, *xs: _arr(xs[i]).size == 0 or _arr(xs[i]).min() > level


def all_of(*checks):
    return lambda p, *xs: all(c(p, *xs) for c in checks)


# ---- pickers ------------------------------------------------------------------------------


def unary(params=None):
    """One float operand (any shape); `params(gen, x)` -> dict or None."""
    def pick(g):
        x = g.float_val()
        if x is None:
            return None
        p = params(g, x) if params else {}
        return None if p is None else ([x], p)

    return pick


def binary(params=None, same_shape=False, scalar_ok=True):
    """Two float operands that broadcast together (often of different shapes). The second may
    be a Python-float argument only where the spelling uses it directly as an operand: numpy
    turns `np.exp(s)` into a strong float64 scalar where gradjit keeps it weakly typed."""
    def pick(g):
        x = g.float_val()
        y = x and g.partner(x, same_shape=same_shape, scalar_ok=scalar_ok and not same_shape)
        if y is None:
            return None
        p = params(g, x, y) if params else {}
        return None if p is None else ([x, y], p)

    return pick


def with_scalar(g, x):
    """A scalar operand: a literal, a Python-float argument, or a strong numpy scalar."""
    return {"c": g.scalar()}


def axis_param(g, x, allow_none=True, allow_tuple=True, nonempty=False):
    """A numpy `axis=` value for x: None, an int (maybe negative) or a tuple."""
    nd = x.ndim
    if nd == 0:
        return None if allow_none else False
    r = g.rng.random()
    if allow_none and r < 0.2:
        axes = tuple(range(nd))
        axis = None
    elif allow_tuple and r < 0.45 and nd > 1:
        axes = tuple(sorted(g.rng.choice(nd, size=g.rng.integers(1, nd + 1), replace=False)))
        axes = tuple(int(a) for a in axes)
        axis = axes
    else:
        a = int(g.rng.integers(nd))
        axes, axis = (a,), a - nd if g.rng.random() < 0.3 else a
    if nonempty and any(x.shape[a] == 0 for a in axes):
        return False
    return axis


def reduced_count(shape, axis) -> int:
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))
