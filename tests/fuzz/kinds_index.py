"""Step kinds for indexing: take/gather with repeated and negative indices, multi-axis and
boolean-mask indexing, traced (computed) indices, and scatter-adds where repeats accumulate."""

from __future__ import annotations

import numpy as np

from . import kind as K
from .kind import kind


def indices(g, n: int, shape=None) -> np.ndarray:
    """A constant int64 index array for an axis of size n: repeats and negatives included."""
    if shape is None:
        shape = tuple(int(g.rng.integers(1, 5)) for _ in range(int(g.choice([0, 1, 1, 1, 2]))))
    if n == 0:
        shape = (0,)
    idx = g.rng.integers(-n, n, size=shape) if n else np.zeros(shape)
    return np.asarray(idx, dtype=np.int64)


def _axis(g, x):
    return int(g.rng.integers(x.ndim)) if x.ndim else None


def _take(g, x, negative_axis=True):
    axis = _axis(g, x)
    if axis is None:
        return None
    negative = negative_axis and g.rng.random() < 0.3
    return {"idx": indices(g, x.shape[axis]), "axis": axis - x.ndim if negative else axis}


def _take_flat(g, x):
    return {"idx": indices(g, x.size)}


def _first(g, x, at=0):
    return {"idx": indices(g, x.shape[at])} if x.ndim > at else None


def _two(g, x, gap=False):
    if x.ndim < (3 if gap else 2):
        return None
    n = int(g.rng.integers(1, 4))
    shape_i, shape_j = ((n,), (n,)) if g.rng.random() < 0.6 else ((n, 1), (int(
        g.rng.integers(1, 4)),))
    j_axis = 2 if gap else 1
    return {"i": indices(g, x.shape[0], shape_i), "j": indices(g, x.shape[j_axis], shape_j)}


def _mask(g, x):
    if x.ndim == 0:
        return None
    lead = int(g.rng.integers(1, x.ndim + 1))
    return {"mask": g.rng.random(x.shape[:lead]) < 0.5}


def _traced(g):
    """A float operand and an integer value of the program to index it with. The operand must
    depend on the arguments: numpy does not dispatch `np.take(array, tracer)` to the tracer
    (only `a` takes part in its dispatch), and a constant may be a plain array while tracing."""
    x = g.val(lambda v: v.kind == "f" and not v.const)
    i = x and x.ndim and g.val(lambda v: v.kind == "i")
    if not i:
        return None
    axis = int(g.rng.integers(x.ndim))
    return [x, i], {"axis": axis}


def _traced_first(g):
    found = _traced(g)
    return found and (found[0], {"axis": 0})


def _in_range(p, x, i, *rest):
    n = np.shape(x)[p["axis"]]
    i = np.asarray(i)
    return i.size == 0 or (n > 0 and -n <= i.min() and i.max() < n)


def _index_add(g, traced_idx=False):
    x = g.float_val()
    if x is None or x.ndim == 0:
        return None
    axis = int(g.rng.integers(x.ndim))
    if traced_idx:
        i = g.val(lambda v: v.kind == "i")
        if i is None:
            return None
        idx_shape = i.shape
    else:
        idx = indices(g, x.shape[axis])
        idx_shape = idx.shape
    target = x.shape[:axis] + idx_shape + x.shape[axis + 1 :]
    upd = g.broadcastable_to(target)
    if upd is None:
        return None
    if traced_idx:
        return [x, upd, i], {"axis": axis}
    return [x, upd], {"idx": idx, "axis": axis, "target": target}


def _scatter_ok(p, x, upd, *idx):
    return not idx or _in_range(p, x, idx[0])


def _one_hot(g):
    i = g.val(lambda v: v.kind == "i")
    return i and ([i], {"n": int(g.rng.integers(1, 6))})


U = K.unary
INDEX = [
    kind("take", "np.take({0}, {idx}, axis={axis})", U(_take), weight=2),
    kind("take_flat", "np.take({0}, {idx})", U(_take_flat), weight=0.5),
    kind("index_rows", "{0}[{idx}]", U(_first), weight=1.5),
    kind("index_cols", "{0}[:, {idx}]", U(lambda g, x: _first(g, x, 1))),
    kind("index_two", "{0}[{i}, {j}]", U(_two)),
    kind("index_gap", "{0}[{i}, :, {j}]", U(lambda g, x: _two(g, x, gap=True)), weight=0.5),
    kind("index_mixed", "{0}[{idx}, 1:]", U(lambda g, x: _first(g, x) if x.ndim > 1 else None),
         weight=0.5),
    kind("index_mask", "{0}[{mask}]", U(_mask), weight=0.5),
    kind("take_traced", "np.take({0}, {1}, axis={axis})", _traced, ok=_in_range),
    kind("index_traced", "{0}[{1}]", _traced_first, ok=_in_range),
    kind("index_add", "gnp.index_add({0}, {idx}, {1}, axis={axis})", lambda g: _index_add(g),
         ref="ref.index_add({0}, {idx}, {1}, axis={axis})", weight=1.5),
    kind("index_add_traced", "gnp.index_add({0}, {2}, {1}, axis={axis})",
         lambda g: _index_add(g, traced_idx=True), ok=_scatter_ok,
         ref="ref.index_add({0}, {2}, {1}, axis={axis})"),
    kind("raw_gather", "R['gather']({0}, {idx}, axis={axis})",
         U(lambda g, x: _take(g, x, negative_axis=False)),
         ref="np.take({0}, {idx}, axis={axis})"),
    kind("raw_scatter_add",
         "R['scatter_add']({0}, {idx}, np.broadcast_to({1}, {target}).astype({0}.dtype), "
         "axis={axis})", lambda g: _index_add(g), ref="ref.index_add({0}, {idx}, {1}, {axis})"),
    kind("one_hot", "gnp.one_hot({0}, {n})", _one_hot, ref="ref.one_hot({0}, {n})",
         weight=0.5),
]
