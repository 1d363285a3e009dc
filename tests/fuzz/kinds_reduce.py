"""Step kinds for reductions, comparisons, boolean logic, `where`, casts and integer values."""

from __future__ import annotations

import numpy as np

from . import kind as K
from .kind import kind
from .program import Src


def _axis_kd(allow_none=True, allow_tuple=True, nonempty=False, keepdims=True):
    def params(g, x):
        axis = K.axis_param(g, x, allow_none, allow_tuple, nonempty)
        if axis is False or (x.ndim == 0 and not allow_none):
            return None
        p = {"axis": axis}
        if keepdims:
            p["kd"] = bool(g.rng.random() < 0.3)
        return p

    return K.unary(params)


def _var_ok(p, x):
    x = np.asarray(x, np.float64)
    axis = p["axis"]
    if x.size == 0 or K.reduced_count(x.shape, axis) < 2:
        return False
    return bool(np.var(x, axis=axis).min() > 0.01)


def _prod_ok(p, x):
    # few factors, each small: the leave-one-out products in its derivative stay finite too
    return K.bounded(3)(p, x) and K.reduced_count(np.shape(x), p["axis"]) <= 8


def _raw_reduce(g, x):
    if x.ndim == 0:
        return None
    axes = tuple(sorted(int(a) for a in g.rng.choice(x.ndim, size=g.rng.integers(1, x.ndim + 1),
                                                     replace=False)))
    name = g.choice(["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"])
    if name in ("reduce_max", "reduce_min") and any(x.shape[a] == 0 for a in axes):
        return None
    return {"prim": name, "axes": axes, "np": Src("np." + name[7:])}


NONEMPTY = _axis_kd(nonempty=True)
REDUCE = [
    kind("sum", "np.sum({0}, axis={axis}, keepdims={kd})", _axis_kd(), weight=3),
    kind("sum_method", "{0}.sum(axis={axis})", _axis_kd(keepdims=False)),
    kind("add_reduce", "np.add.reduce({0}, axis={axis})",
         _axis_kd(allow_none=False, keepdims=False), weight=0.3),
    kind("mean", "np.mean({0}, axis={axis}, keepdims={kd})", NONEMPTY),
    kind("mean_method", "{0}.mean(axis={axis})", _axis_kd(nonempty=True, keepdims=False),
         weight=0.5),
    kind("max", "np.max({0}, axis={axis}, keepdims={kd})", NONEMPTY),
    kind("amin", "np.amin({0}, axis={axis})", _axis_kd(nonempty=True, keepdims=False)),
    kind("max_method", "{0}.max(axis={axis})", _axis_kd(nonempty=True, keepdims=False),
         weight=0.5),
    kind("maximum_reduce", "np.maximum.reduce({0}, axis={axis})",
         _axis_kd(allow_none=False, nonempty=True, keepdims=False), weight=0.3),
    kind("prod", "np.prod({0}, axis={axis})", _axis_kd(keepdims=False), ok=_prod_ok),
    kind("var", "np.var({0}, axis={axis})", _axis_kd(keepdims=False), ok=_var_ok),
    kind("std", "np.std({0}, axis={axis})", _axis_kd(keepdims=False), ok=_var_ok),
    kind("logsumexp", "gnp.logsumexp({0}, axis={axis}, keepdims={kd})", NONEMPTY,
         ref="ref.logsumexp({0}, axis={axis}, keepdims={kd})"),
    kind("softmax", "gnp.softmax({0}, axis={axis})",
         _axis_kd(allow_none=False, allow_tuple=False, nonempty=True, keepdims=False),
         ref="ref.softmax({0}, axis={axis})"),
    kind("log_softmax", "gnp.log_softmax({0}, axis={axis})",
         _axis_kd(allow_none=False, allow_tuple=False, nonempty=True, keepdims=False),
         ref="ref.log_softmax({0}, axis={axis})", weight=0.5),
    kind("raw_reduce", "R[{prim}]({0}, axes={axes})", K.unary(_raw_reduce),
         ref="{np}({0}, axis={axes})", ok=lambda p, x: p["prim"] != "reduce_prod" or
         _prod_ok({"axis": p["axes"]}, x)),
]


# ---- integer-valued: argmax, counts, casts -------------------------------------------------
ARG = _axis_kd(allow_tuple=False, nonempty=True, keepdims=False)


def _pick_kind(kinds, params=None):
    """One operand whose dtype kind ('f', 'i', 'b') is in `kinds`."""
    def pick(g):
        x = g.val(lambda v: v.kind in kinds)
        if x is None:
            return None
        p = params(g, x) if params else {}
        return None if p is None else ([x], p)

    return pick


def _pair_kind(kinds):
    def pick(g):
        x = g.val(lambda v: v.kind in kinds)
        y = x and g.partner(x, kinds=kinds)
        return None if y is None else ([x, y], {})

    return pick


def _low(g, x):
    return {"dt": Src(g.choice(["F32", "np.float64"]) if g.mode != "f64" else "np.float64")}


INTEGER = [
    kind("argmax", "np.argmax({0}, axis={axis})", ARG),
    kind("argmin", "np.argmin({0}, axis={axis})", ARG, weight=0.5),
    kind("argmax_method", "{0}.argmax(axis={axis})", ARG, weight=0.3),
    kind("truncate", "({0} * 2).astype(np.int64)", K.unary(), weight=0.5),
    kind("count", "np.sum({0}, axis={axis})", _pick_kind("b", lambda g, x: {
        "axis": K.axis_param(g, x, allow_tuple=False) if x.ndim else None})),
    kind("int_add", "{0} + {1}", _pair_kind("i"), weight=0.5),
    kind("int_scale", "{0} * 3 - 1", _pick_kind("i"), weight=0.3),
    kind("int_to_float", "{0}.astype({dt})", _pick_kind("ib", _low)),
    kind("int_times_float", "{0} * 0.5", _pick_kind("i"), weight=0.5),
    kind("int_sqrt", "np.sqrt({0} * {0} + 1)", _pick_kind("i"), weight=0.3),
]

# ---- booleans and where ----------------------------------------------------------------------
_CMP = ["<", "<=", ">", ">="]


def _where(g):
    c = g.val(lambda v: v.kind == "b")
    x = c and g.partner(c, kinds="f")
    y = x and g.partner(x, kinds="f", also=c)
    return None if y is None else ([c, x, y], {})


def _where_scalar(g):
    c = g.val(lambda v: v.kind == "b")
    x = c and g.partner(c, kinds="f")
    return None if x is None else ([c, x], {"c": g.scalar()})


def _float_plus_int(g):
    x = g.float_val()
    i = x and g.partner(x, kinds="i")
    return None if i is None else ([x, i], {})


LOGIC = [
    kind("compare", "{0} {op} {1}", K.binary(lambda g, x, y: {"op": Src(g.choice(_CMP))}),
         weight=2),
    kind("np_greater", "np.greater({0}, {1})", K.binary(), weight=0.5),
    kind("compare_scalar", "{0} {op} {c}", K.unary(lambda g, x: {
        "op": Src(g.choice(_CMP)), "c": round(float(g.rng.normal()), 2)})),
    kind("equal", "{0} == {1}", K.binary(), weight=0.3),
    kind("not_equal", "{0} != {1}", K.binary(), weight=0.3),
    kind("and", "{0} & {1}", _pair_kind("b"), weight=0.5),
    kind("logical_or", "np.logical_or({0}, {1})", _pair_kind("b"), weight=0.5),
    kind("invert", "~{0}", _pick_kind("b"), weight=0.5),
    kind("where", "np.where({0}, {1}, {2})", _where, weight=3),
    kind("where_scalar", "np.where({0}, {1}, {c})", _where_scalar),
    kind("mask_mul", "({0} > 0) * {1}", K.binary(), weight=0.5),
    kind("astype", "{0}.astype({dt})", K.unary(_low), weight=0.5),
    kind("float_plus_int", "{0} + {1}", _float_plus_int, weight=0.5),
]
