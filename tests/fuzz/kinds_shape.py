"""Step kinds that move data without arithmetic: reshapes, transposes, broadcasts, slicing with
steps, concatenation, padding (also interior padding through raw `bind`), flips."""

from __future__ import annotations

import numpy as np

from . import kind as K
from .kind import kind
from .program import Src, array_lit


def random_shape(g, size: int, max_rank: int = 4) -> tuple[int, ...]:
    """A random shape with `size` elements: size's prime factors spread over axes, plus 1s."""
    if size == 0:
        rank = int(g.rng.integers(1, max_rank + 1))
        dims = [g.dim(nonzero=True) for _ in range(rank)]
        dims[int(g.rng.integers(rank))] = 0
        return tuple(dims)
    factors, n, p = [], size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    rank = int(g.rng.integers(1, max_rank + 1))
    dims = [1] * rank
    for f in factors:
        dims[int(g.rng.integers(rank))] *= f
    return tuple(dims)


def _reshape(g, x):
    shape = random_shape(g, x.size)
    if x.size and len(shape) > 1 and g.rng.random() < 0.3:
        shape = tuple(-1 if i == int(g.rng.integers(len(shape))) else d
                      for i, d in enumerate(shape))
    return {"shape": shape}


def _perm(g, x):
    return {"perm": tuple(int(a) for a in g.rng.permutation(x.ndim))} if x.ndim > 1 else None


def _two_axes(g, x):
    if x.ndim < 2:
        return None
    a, b = (int(v) for v in g.rng.choice(x.ndim, size=2, replace=False))
    return {"a": a, "b": b - x.ndim if g.rng.random() < 0.3 else b}


def _broadcast(g, x):
    shape = tuple(g.dim() if d == 1 and g.rng.random() < 0.7 else d for d in x.shape)
    lead = tuple(g.dim() for _ in range(int(g.rng.integers(0, 3 - min(x.ndim, 2)))))
    target = lead + shape
    return None if target == x.shape or np.prod(target) > g.max_size else {"shape": target}


def _index_part(g, d: int) -> str:
    """One axis of a basic index: a slice (any step, maybe negative) or an integer."""
    r = g.rng.random()
    if r < 0.15 and d > 0:
        return str(int(g.rng.integers(-d, d)))
    if r < 0.35:
        return ":"
    lo, hi = (int(v) for v in sorted(g.rng.integers(-d - 1, d + 2, size=2)))
    step = int(g.choice([1, 1, 2, 3, -1, -2]))
    if step < 0:
        lo, hi = hi, lo
    part = lambda v: "" if g.rng.random() < 0.25 else str(v)
    return f"{part(lo)}:{part(hi)}" + ("" if step == 1 else f":{step}")


def _basic_key(g, x):
    parts = [_index_part(g, d) for d in x.shape]
    if parts and g.rng.random() < 0.3:
        parts[int(g.rng.integers(len(parts) + 1)):] = ["..."]
    if g.rng.random() < 0.25:
        parts.insert(int(g.rng.integers(len(parts) + 1)), "None")
    return {"key": Src(", ".join(parts) if parts else "...")}


def _pad_widths(g, x):
    if x.ndim == 0:
        return None
    if g.rng.random() < 0.2:
        return {"w": int(g.rng.integers(0, 3))}
    return {"w": tuple((int(g.rng.integers(0, 3)), int(g.rng.integers(0, 3))) for _ in x.shape)}


def _with(params, **more):
    return None if params is None else {**params, **more}


def _pad_interior(g, x):
    nd = x.ndim
    draw = lambda hi: tuple(int(v) for v in g.rng.integers(0, hi, size=nd))
    return {"lo": draw(3), "hi": draw(3), "interior": draw(3),
            "v": g.choice([0.0, 0.0, 1.5, -0.25])} if nd else None


def _concat_partner(g, x, same_shape=False):
    if x.ndim == 0:
        return None
    axis = int(g.rng.integers(x.ndim))

    def fits(v):
        return v.kind == "f" and v.ndim == x.ndim and all(
            a == b for i, (a, b) in enumerate(zip(v.shape, x.shape))
            if i != axis or same_shape)

    y = g.val(fits) if g.rng.random() < 0.75 else x
    return None if y is None else (y, axis)


def _concat(g):
    x = g.float_val()
    found = x and _concat_partner(g, x)
    if not found:
        return None
    y, axis = found
    return [x, y], {"axis": axis - x.ndim if g.rng.random() < 0.3 else axis}


def _stack(g):
    x = g.float_val()
    found = x and _concat_partner(g, x, same_shape=True)
    if not found:
        return None
    return [x, found[0]], {"axis": int(g.rng.integers(-x.ndim - 1, x.ndim + 1))}


def _split(g, x):
    if x.ndim == 0:
        return None
    axis = int(g.rng.integers(x.ndim))
    d = x.shape[axis]
    sections = [n for n in (1, 2, 3) if d % n == 0] if d else [1, 2]
    n = int(g.choice(sections))
    return {"n": n, "axis": axis, "i": int(g.rng.integers(n))}


def _raw_slice(g, x):
    start, stop, step = [], [], []
    for d in x.shape:
        b, e = sorted(int(v) for v in g.rng.integers(0, d + 1, size=2))
        start.append(b), stop.append(e), step.append(int(g.choice([1, 1, 2, 3])))
    key = ", ".join(f"{b}:{e}:{s}" for b, e, s in zip(start, stop, step)) or "..."
    return {"start": tuple(start), "stop": tuple(stop), "step": tuple(step), "key": Src(key)}


def _constant(g, x):
    shape = tuple(d if g.rng.random() < 0.6 else 1 for d in x.shape[int(g.rng.integers(
        x.ndim + 1)):])
    c = np.round(g.rng.normal(size=shape), 2).astype(x.dtype)
    return {"c": Src(array_lit(np.asarray(c)))}


def _axis_or_none(g, x):
    a = K.axis_param(g, x)
    return None if a is False else {"axis": a}


U = K.unary
SHAPE = [
    kind("reshape", "np.reshape({0}, {shape})", U(_reshape), weight=2),
    kind("reshape_method", "{0}.reshape({shape})", U(_reshape)),
    kind("transpose", "np.transpose({0}, {perm})", U(_perm)),
    kind("dot_T", "{0}.T", U(lambda g, x: {} if x.ndim > 1 else None), weight=0.5),
    kind("swapaxes", "np.swapaxes({0}, {a}, {b})", U(_two_axes), weight=0.5),
    kind("moveaxis", "np.moveaxis({0}, {a}, {b})", U(_two_axes), weight=0.5),
    kind("expand_dims", "np.expand_dims({0}, {axis})",
         U(lambda g, x: {"axis": int(g.rng.integers(-x.ndim - 1, x.ndim + 1))})),
    kind("new_axis", "{0}[None]", U(), weight=0.3),
    kind("squeeze", "np.squeeze({0})", U(lambda g, x: {} if 1 in x.shape else None)),
    kind("ravel", "np.ravel({0})", U(), weight=0.5),
    kind("flatten", "{0}.flatten()", U(), weight=0.3),
    kind("broadcast_to", "np.broadcast_to({0}, {shape})", U(_broadcast), weight=1.5),
    kind("concatenate", "np.concatenate([{0}, {1}], axis={axis})", _concat, weight=1.5),
    kind("concatenate3", "np.concatenate([{0}, {1}, {0}], axis={axis})", _concat, weight=0.5),
    kind("stack", "np.stack([{0}, {1}], axis={axis})", _stack),
    kind("slice", "{0}[{key}]", U(_basic_key), weight=3),
    kind("reverse", "{0}[::-1]", U(lambda g, x: {} if x.ndim else None), weight=0.5),
    kind("split", "np.split({0}, {n}, axis={axis})[{i}]", U(_split), weight=0.5),
    kind("pad", "np.pad({0}, {w})", U(_pad_widths)),
    kind("pad_value", "np.pad({0}, {w}, constant_values={c})",
         U(lambda g, x: _with(_pad_widths(g, x), c=0.5)), weight=0.5),
    kind("raw_pad", "R['pad']({0}, lo={lo}, hi={hi}, interior={interior}, value={v})",
         U(_pad_interior), ref="ref.pad_interior({0}, {lo}, {hi}, {interior}, {v})"),
    kind("raw_slice", "R['slice']({0}, start={start}, stop={stop}, step={step})",
         U(lambda g, x: _raw_slice(g, x) if x.ndim else None), ref="{0}[{key}]"),
    kind("flip", "np.flip({0}, axis={axis})", U(_axis_or_none)),
    kind("raw_flip", "R['flip']({0}, axes={axes})", U(lambda g, x: {"axes": tuple(
        i for i in range(x.ndim) if g.rng.random() < 0.5)} if x.ndim else None),
         ref="np.flip({0}, axis={axes})", weight=0.3),
    kind("tril", "np.tril({0}, k={k})", U(lambda g, x: {"k": int(g.rng.integers(-1, 2))}
                                           if x.ndim >= 2 else None), weight=0.5),
    kind("triu", "np.triu({0})", U(lambda g, x: {} if x.ndim >= 2 else None), weight=0.3),
    kind("iota_mul", "{0} * R['iota'](shape={shape}, axis={axis}, dtype='i64')",
         U(lambda g, x: {"shape": x.shape, "axis": int(g.rng.integers(x.ndim))}
           if x.ndim else None), ref="{0} * ref.iota({shape}, {axis}, np.int64)", weight=0.3),
    kind("plus_constant", "{0} + {c}", U(_constant)),
    kind("zeros_like", "np.zeros_like({0}) + {0}", U(), weight=0.2),
    kind("ones_like", "np.ones_like({0}) * 2.0", U(), weight=0.2),  # independent of the args
    kind("full_like", "np.full_like({0}, 0.5) * {0}", U(), weight=0.2),
]
