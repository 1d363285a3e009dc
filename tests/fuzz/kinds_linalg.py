"""Step kinds for contractions: matmul (1-D, batched, broadcast), dot, inner, outer, tensordot,
random einsum specs over two or three operands, and raw dot_general with batch dimensions."""

from __future__ import annotations

import string

import numpy as np

from . import kind as K
from .kind import kind


def _accepts(fn, *shapes) -> bool:
    """Whether numpy accepts operands of these shapes (tried on zero-strided empty arrays)."""
    try:
        fn(*[np.broadcast_to(np.zeros(()), s) for s in shapes])
    except (ValueError, IndexError):
        return False
    return True


def _pair(fits, params=None):
    """x and a partner y from the pool (maybe x itself) with fits(x.shape, y.shape)."""
    def pick(g):
        x = g.float_val()
        y = x and g.val(lambda v: v.kind == "f" and fits(x.shape, v.shape))
        if y is None:
            return None
        p = params(g, x, y) if params else {}
        return None if p is None else ([x, y], p)

    return pick


def _matmul_fits(xs, ys):
    return len(xs) >= 1 and len(ys) >= 1 and _accepts(np.matmul, xs, ys)


def _tensordot_params(g, x, y):
    pairs = [(a, b) for a in range(x.ndim) for b in range(y.ndim) if x.shape[a] == y.shape[b]]
    if not pairs:
        return None
    a, b = pairs[int(g.rng.integers(len(pairs)))]
    return {"axes": ([a], [b])}


def _einsum_spec(g, shapes) -> str:
    """A random explicit or implicit einsum spec: equal dims may share a letter."""
    fresh = iter(string.ascii_letters)
    sizes: dict[str, int] = {}
    specs = []
    for shape in shapes:
        spec = ""
        for d in shape:
            shared = [c for c, n in sizes.items() if n == d and c not in spec]
            c = g.choice(shared) if shared and g.rng.random() < 0.6 else next(fresh)
            sizes.setdefault(c, d)
            spec += c
        specs.append(spec)
    lhs = ",".join(specs)
    if g.rng.random() < 0.3:
        return lhs
    letters = list(dict.fromkeys("".join(specs)))
    keep = [c for c in letters if g.rng.random() < 0.6]
    return lhs + "->" + "".join(g.rng.permutation(keep)) if keep else lhs + "->"


def _einsum(n_operands):
    def pick(g):
        xs = [g.float_val() for _ in range(n_operands)]
        if any(x is None for x in xs):
            return None
        return xs, {"spec": _einsum_spec(g, [x.shape for x in xs])}

    return pick


def _dot_general(g, x, y):
    pairs = [(a, b) for a in range(x.ndim) for b in range(y.ndim) if x.shape[a] == y.shape[b]]
    g.rng.shuffle(pairs)
    contract, batch, used_x, used_y = ([], []), ([], []), set(), set()
    for a, b in pairs:
        if a in used_x or b in used_y or g.rng.random() < 0.4:
            continue
        target = batch if g.rng.random() < 0.35 else contract
        target[0].append(a), target[1].append(b), used_x.add(a), used_y.add(b)
    return {"c": tuple(map(tuple, contract)), "b": tuple(map(tuple, batch))}


_last_dims_equal = lambda xs, ys: len(xs) and len(ys) and xs[-1] == ys[-1]
LINALG = [
    kind("matmul", "{0} @ {1}", _pair(_matmul_fits), weight=3),
    kind("np_matmul", "np.matmul({0}, {1})", _pair(_matmul_fits), weight=0.5),
    kind("dot", "np.dot({0}, {1})", _pair(lambda xs, ys: _accepts(np.dot, xs, ys))),
    kind("dot_method", "{0}.dot({1})", _pair(lambda xs, ys: _accepts(np.dot, xs, ys)),
         weight=0.3),
    kind("inner", "np.inner({0}, {1})", _pair(_last_dims_equal), weight=0.5),
    kind("outer", "np.outer({0}, {1})", _pair(lambda xs, ys: True), weight=0.5),
    kind("tensordot", "np.tensordot({0}, {1}, axes={axes})", _pair(
        lambda xs, ys: True, _tensordot_params), weight=0.5),
    kind("einsum", "np.einsum({spec}, {0}, {1})", _einsum(2), weight=2),
    kind("einsum3", "np.einsum({spec}, {0}, {1}, {2})", _einsum(3), weight=0.5),
    kind("einsum1", "np.einsum({spec}, {0})", _einsum(1), weight=0.5),
    kind("raw_dot_general", "R['dot_general']({0}, {1}.astype({0}.dtype), contract={c}, "
         "batch={b})", _pair(lambda xs, ys: True, _dot_general),
         ref="ref.dot_general({0}, {1}.astype({0}.dtype), {c}, {b})"),
    kind("gram", "{0} @ np.swapaxes({0}, -1, -2)",
         K.unary(lambda g, x: {} if x.ndim >= 2 else None)),
    kind("eye", "{0} @ gnp.eye({n})", K.unary(lambda g, x: {"n": x.shape[-1]} if x.ndim
                                                  else None), ref="{0} @ np.eye({n})",
         weight=0.3),
]
