"""Step kinds for arithmetic: elementwise math, comparisons and `where`, casts, reductions.

Ops with a restricted domain come twice: bare, when the example values lie inside the domain
(`ok`), and wrapped so any finite input is fine (log of softplus + eps, sqrt of square + eps,
division by exp(...)).
"""

from __future__ import annotations

import numpy as np

from . import kind as K
from .kind import kind
from .program import Src

_below = lambda level, i=0: lambda p, *xs: np.asarray(xs[i]).size == 0 or \
    np.max(xs[i]) < level


def _choice(g, options):
    return options[int(g.rng.integers(len(options)))]


# ---- unary, total ---------------------------------------------------------------------------
U = K.unary()
UNARY = [
    kind("sin", "np.sin({0})", U, weight=2), kind("cos", "np.cos({0})", U),
    kind("tanh", "np.tanh({0})", U, weight=2), kind("neg", "-{0}", U),
    kind("negative", "np.negative({0})", U, weight=0.3),
    kind("abs", "np.abs({0})", U), kind("abs_builtin", "abs({0})", U, weight=0.3),
    kind("square", "np.square({0})", U, ok=K.bounded(30)),
    kind("pow2", "{0} ** 2", U, ok=K.bounded(30)),
    kind("self_mul", "{0} * {0}", U, ok=K.bounded(30)),
    kind("cube", "{0} ** 3", U, ok=K.bounded(10), weight=0.5),
    kind("sigmoid", "gnp.sigmoid({0})", U, ref="ref.sigmoid({0})"),
    kind("erf", "gnp.erf({0})", U, ref="ref.erf({0})", weight=0.5),
    kind("sign", "np.sign({0})", U, weight=0.3),
    kind("straight_through", "gnp.stop_gradient({0}) + ({0} - gnp.stop_gradient({0}))", U,
         ref="{0} + ({0} - {0})", weight=0.5),
    kind("softplus", "gnp.softplus({0})", U, ref="ref.softplus({0})"),
    kind("relu", "gnp.relu({0})", U, ref="ref.relu({0})"),
    kind("clip", "np.clip({0}, {lo}, {hi})",
         K.unary(lambda g, x: {"lo": -round(g.rng.uniform(0.2, 2), 2),
                               "hi": round(g.rng.uniform(0.2, 2), 2)})),
    kind("clip_method", "{0}.clip({lo}, {hi})",
         K.unary(lambda g, x: {"lo": -0.5, "hi": round(g.rng.uniform(0.1, 2), 2)}), weight=0.3),
]

# ---- unary, restricted domain: bare when inside it, and wrapped --------------------------------
DOMAIN = [
    kind("exp", "np.exp({0})", U, ok=_below(6)),
    kind("exp_squashed", "np.exp(np.tanh({0}) * 2)", U),
    kind("expm1", "np.expm1({0})", U, ok=_below(6), weight=0.5),
    kind("log", "np.log({0})", U, ok=K.positive()),
    kind("log_softplus", "np.log(gnp.softplus({0}) + 1e-3)", U,
         ref="np.log(ref.softplus({0}) + 1e-3)"),
    kind("log_square", "np.log(np.square({0}) + 0.5)", U),
    kind("log1p", "np.log1p({0})", U, ok=K.above(-0.9), weight=0.5),
    kind("log1p_abs", "np.log1p(np.abs({0}))", U, weight=0.5),
    kind("sqrt", "np.sqrt({0})", U, ok=K.positive()),
    kind("sqrt_square", "np.sqrt(np.square({0}) + 1e-2)", U),
    kind("pow_half", "{0} ** 0.5", U, ok=K.positive(), weight=0.5),
    kind("pow_float", "{0} ** {p}", K.unary(lambda g, x: {"p": _choice(g, [1.5, 2.5, 0.7, -0.5])}),
         ok=K.positive(), weight=0.5),
    kind("rpow", "{c} ** {0}", K.unary(lambda g, x: {"c": _choice(g, [2.0, 0.5, 1.7])}),
         ok=K.bounded(6), weight=0.5),
    kind("tan", "np.tan({0})", U, ok=K.bounded(1.2), weight=0.5),
    kind("tan_tanh", "np.tan(np.tanh({0}))", U, weight=0.5),
    kind("reciprocal", "np.reciprocal({0})", U, ok=K.nonzero()),
    kind("one_over", "1.0 / {0}", U, ok=K.nonzero(), weight=0.5),
    kind("one_over_safe", "1.0 / (1.0 + np.square({0}))", U),
]

def _hypot_ok(p, y, x):
    y, x = np.broadcast_arrays(np.asarray(y, np.float64), np.asarray(x, np.float64))
    return y.size == 0 or np.hypot(x, y).min() > 0.1


# ---- raw primitives through bind (operands must already agree in shape and dtype) ------------
_RAW_UNARY = {"sin": "np.sin", "tanh": "np.tanh", "logistic": "ref.sigmoid", "erf": "ref.erf",
              "neg": "np.negative", "abs": "np.abs", "square": "np.square", "sign": "np.sign",
              "cos": "np.cos", "stop_gradient": None}


def _raw_unary(g, x):
    name = _choice(g, [n for n in _RAW_UNARY if n != "stop_gradient"])
    return {"prim": name, "np": Src(_RAW_UNARY[name])}


def _raw_binary(g, x, y):
    name = _choice(g, ["add", "sub", "mul", "maximum", "minimum", "atan2"])
    fn = {"sub": "np.subtract", "mul": "np.multiply", "atan2": "np.arctan2"}.get(name, "np." + name)
    return {"prim": name, "np": Src(fn)}


RAW = [
    kind("raw_unary", "R[{prim}]({0})", K.unary(_raw_unary), ref="{np}({0})"),
    kind("raw_integer_pow", "R['integer_pow']({0}, n={n})",
         K.unary(lambda g, x: {"n": int(g.rng.integers(-2, 5))}), ref="np.power({0}, {n})",
         ok=lambda p, x: K.bounded(5)(p, x) and (p["n"] >= 0 or K.nonzero()(p, x))),
    kind("raw_binary", "R[{prim}]({0}, {1})", K.binary(_raw_binary, same_shape=True),
         ref="{np}({0}, {1})", ok=lambda p, x, y: p["prim"] != "atan2" or _hypot_ok(p, x, y)),
    kind("raw_exp", "R['exp']({0})", U, ref="np.exp({0})", ok=_below(6), weight=0.5),
    kind("raw_log", "R['log']({0})", U, ref="np.log({0})", ok=K.positive(), weight=0.5),
    kind("raw_sqrt", "R['sqrt']({0})", U, ref="np.sqrt({0})", ok=K.positive(), weight=0.5),
    kind("raw_expm1", "R['expm1']({0})", U, ref="np.expm1({0})", ok=_below(6), weight=0.3),
    kind("raw_log1p", "R['log1p']({0})", U, ref="np.log1p({0})", ok=K.above(-0.9), weight=0.3),
    kind("raw_tan", "R['tan']({0})", U, ref="np.tan({0})", ok=K.bounded(1.2), weight=0.3),
    kind("raw_reciprocal", "R['reciprocal']({0})", U, ref="np.reciprocal({0})",
         ok=K.nonzero(), weight=0.3),
    kind("raw_div", "R['div']({0}, {1})", K.binary(same_shape=True), ref="np.divide({0}, {1})",
         ok=K.nonzero(1), weight=0.5),
    kind("raw_pow", "R['pow']({0}, {1})", K.binary(same_shape=True), ref="np.power({0}, {1})",
         ok=lambda p, x, y: K.positive()(p, x) and K.bounded(3)(p, y) and K.bounded(5)(p, x),
         weight=0.5),
]


# ---- binary, broadcasting ----------------------------------------------------------------------
B = K.binary()
B_WRAPPED = K.binary(scalar_ok=False)  # the second operand goes through a numpy function
S = K.unary(K.with_scalar)


BINARY = [
    kind("add", "{0} + {1}", B, weight=3), kind("np_add", "np.add({0}, {1})", B, weight=0.5),
    kind("sub", "{0} - {1}", B, weight=2), kind("mul", "{0} * {1}", B, weight=3),
    kind("np_multiply", "np.multiply({0}, {1})", B, weight=0.5),
    kind("div", "{0} / {1}", B, ok=K.nonzero(1)),
    kind("div_exp", "{0} / np.exp({1})", B_WRAPPED, ok=K.bounded(6, 1)),  # exp(y) stays finite
    kind("div_safe", "{0} / (1.0 + np.square({1}))", B_WRAPPED),
    kind("maximum", "np.maximum({0}, {1})", B), kind("minimum", "np.minimum({0}, {1})", B),
    kind("arctan2", "np.arctan2({0}, {1})", B, ok=_hypot_ok, weight=0.5),
    kind("logaddexp", "np.logaddexp({0}, {1})", B, weight=0.5),
    kind("power_pos", "np.power(gnp.softplus({0}) + 0.5, np.tanh({1}))", B_WRAPPED,
         ref="np.power(ref.softplus({0}) + 0.5, np.tanh({1}))", weight=0.5),
    kind("scalar_mul", "{0} * {c}", S, weight=2), kind("scalar_rmul", "{c} * {0}", S),
    kind("scalar_add", "{0} + {c}", S), kind("scalar_rsub", "{c} - {0}", S),
    kind("scalar_div", "{0} / {c}", S, weight=0.5),
    kind("scalar_rdiv", "{c} / {0}", S, ok=K.nonzero(), weight=0.5),
]
