"""Step kinds for structured control flow: scan (forward and reverse, tuple carries, bodies
that capture outer values or branch inside), fori_loop with constant and traced bounds,
while_loop with counted and data-dependent trip counts, cond and switch, one level of nesting,
rematerialization (checkpoint, and scans with checkpoint="sqrt"), and plain Python loops that
tracing unrolls and passes/reroll.py rolls back into scans (functools.reduce over a range: a
loop in one expression, the same for numpy). Templates write `CF.`
for the control-flow module (gradjit in the traced spelling, plain Python loops in refs.py for
the reference) and `§i` for input i inside a body."""

from __future__ import annotations

import gradjit

from .kind import kind
from .program import Src

# elementwise bodies of one array `{v}`: smooth, bounded, dtype-preserving (weak floats only)
EXPRS = ["np.sin({v})", "np.tanh({v}) * 0.9 + 0.1", "{v} * 0.5 - 0.25", "np.cos({v}) * {v}",
         "{v} * {v} * 0.1", "np.tanh({v} * np.mean(§1))"]
SCAN_BODIES = [
    "lambda c, x: (np.tanh(c + x), c * x)",
    "lambda c, x: (c * 0.5 + np.sin(x), np.cos(c) + x)",
    "lambda c, x: (np.tanh(c * x + 0.5), c - x)",
    "lambda c, x: (np.tanh(c + x * np.mean(§1)), c * np.sum(§1))",  # captures input 1
    "lambda c, x: (CF.cond(np.sum(c) > 0, lambda a: np.tanh(a), lambda a: a * 0.5, c + x), "
    "c * x)",  # a branch inside a loop
]


def _expr(g, v: str, capture: int | None) -> str:
    """A body expression of `{v}`; it may read input `capture` (a captured outer value)."""
    options = EXPRS if capture is not None else EXPRS[:-1]
    return g.choice(options).format(v=v).replace("§1", f"§{capture}")


def _leading(x) -> bool:
    return x.ndim >= 1


def _capture(g):
    """A value for a body to capture (any nonempty float value)."""
    return g.val(lambda v: v.kind == "f" and v.size > 0)


def _scan(with_init: bool):
    def pick(g):
        x = g.val(lambda v: v.kind == "f" and _leading(v))
        if x is None:
            return None
        ins = [x]
        if with_init:
            init = g.val(lambda v: v.kind == "f" and v.shape == x.shape[1:])
            if init is None:
                return None
            ins.append(init)
        cap = _capture(g)
        bodies = SCAN_BODIES if cap is not None else [b for b in SCAN_BODIES if "§" not in b]
        body = g.choice(bodies)
        if "§1" in body:
            body = body.replace("§1", f"§{len(ins)}")
            ins.append(cap)
        which = 1 if x.shape[0] and g.rng.random() < 0.5 else 0
        return ins, {"body": Src(body), "rev": bool(g.rng.random() < 0.3), "which": which}

    return pick


def _tuple_scan(g):
    x = g.val(lambda v: v.kind == "f" and _leading(v))
    return None if x is None else ([x], {"which": Src(g.choice(["[0][1]", "[1]"]) if
                                                      x.shape[0] else "[0][0]")})


def _unary_body(g):
    """(operand, maybe a captured value of its dtype) for a loop or a branch: a captured value
    of another dtype would make one branch's result differ in type from the other's."""
    x = g.float_val()
    if x is None:
        return None
    cap = g.val(lambda v: v.kind == "f" and v.size > 0 and v.dtype == x.dtype)
    return ([x, cap], 1) if cap is not None else ([x], None)


def _fori(traced_bound: bool):
    def pick(g):
        found = _unary_body(g)
        if found is None:
            return None
        ins, capture = found
        p = {"body": Src(_expr(g, "v", capture)), "n": int(g.rng.integers(0, 6))}
        if traced_bound:
            bound = g.val(lambda v: v.kind == "i" and v.ndim == 0)
            if bound is None:
                return None
            ins = ins + [bound] if capture else ins + [ins[0], bound]  # the bound is input 2
        return ins, p

    return pick


def _bound_ok(p, *xs):
    return 0 <= int(xs[2]) <= 8


def _while(data_dependent: bool):
    def pick(g):
        found = _unary_body(g)
        if found is None:
            return None
        ins, capture = found
        if data_dependent:  # its body is fixed: the sum must grow for the trip count to vary
            return ins[:1], {"c": round(float(g.rng.normal()) * 3, 2)}
        return ins, {"body": Src(_expr(g, "s[1]", capture)), "n": int(g.rng.integers(0, 6))}

    return pick


def _cond(g):
    found = _unary_body(g)
    if found is None:
        return None
    ins, capture = found
    if capture is None:
        ins = ins + [ins[0]]  # the predicate reads the operand itself (input 1 either way)
    t, f = _expr(g, "a", 1), _expr(g, "a", 1)
    if g.rng.random() < 0.25:  # a loop inside a branch
        t = "CF.fori_loop(0, 3, lambda i, v: np.tanh(v) * 0.9 + 0.1, a)"
    return ins, {"t": Src(t), "f": Src(f), "c": round(float(g.rng.normal()), 2)}


def _switch(g):
    found = _unary_body(g)
    i = found and g.val(lambda v: v.kind == "i" and v.ndim == 0)
    if i is None:
        return None
    (x, *cap), _ = found
    branches = ", ".join("lambda a: " + _expr(g, "a", 2 if cap else None) for _ in range(3))
    return [x, i] + cap, {"b": Src(branches)}


def _py_loop(g):
    found = _unary_body(g)
    if found is None:
        return None
    ins, capture = found
    return ins, {"body": Src(_expr(g, "v", capture)), "n": int(g.rng.integers(6, 17))}


def _py_loop_xs(g):
    x = g.val(lambda v: v.kind == "f" and v.ndim >= 1 and v.shape[0] >= 4)
    return None if x is None else ([x], {"body": Src(g.choice(SCAN_BODIES[:3]))})


REDUCE = "__import__('functools').reduce"

REMAT_BODIES = ["lambda a, b: np.tanh(a) * b + np.sin(a * b)", "lambda a, b: np.cos(a - b) * a",
                "lambda a, b: a * b * 0.5 + CF.cond(np.sum(a) > 0, lambda t: t, lambda t: -t, b)"]


def _checkpoint(g):
    x = g.float_val()
    y = x and g.partner(x, scalar_ok=False)
    if y is None or not hasattr(gradjit, "checkpoint"):  # (rematerialization is recent)
        return None
    return [x, y], {"body": Src(g.choice(REMAT_BODIES))}


def _scan_sqrt(g):
    found = None if not hasattr(gradjit, "checkpoint") else _scan(False)(g)
    return found and (found[0], {**found[1], "rev": Src("False, checkpoint='sqrt'")})


CONTROL = [
    kind("scan", "CF.scan({body}, {0}[0] * 0.0 + 0.1, {0}, reverse={rev})[{which}]",
         _scan(False), weight=2),
    kind("scan_init", "CF.scan({body}, {1}, {0}, reverse={rev})[{which}]", _scan(True)),
    kind("scan_tuple", "CF.scan(lambda c, x: ((c[0] + x, np.tanh(c[1] * x)), c[0] * c[1]), "
         "({0}[0] * 0.0, {0}[0] * 0.0 + 1.0), {0}){which}", _tuple_scan, weight=0.5),
    kind("fori_loop", "CF.fori_loop(0, {n}, lambda i, v: {body}, {0})", _fori(False)),
    kind("fori_traced", "CF.fori_loop(0, {2}, lambda i, v: {body}, {0})", _fori(True),
         ok=_bound_ok, weight=0.5),
    kind("while_count", "CF.while_loop(lambda s: s[0] < {n}, lambda s: (s[0] + 1, {body}), "
         "(0, {0}))[1]", _while(False)),
    kind("while_data", "CF.while_loop(lambda s: (s[0] < 6) & (np.sum(s[1]) < {c}), "
         "lambda s: (s[0] + 1, s[1] * 0.5 + 0.6), (0, {0}))[1]", _while(True), weight=0.5),
    kind("cond", "CF.cond(np.sum({1}) > {c}, lambda a: {t}, lambda a: {f}, {0})", _cond,
         weight=1.5),
    kind("switch", "CF.switch({1}, [{b}], {0})", _switch, weight=0.5),
    kind("checkpoint", "CF.checkpoint({body})({0}, {1})", _checkpoint, weight=0.7),
    kind("scan_sqrt", "CF.scan({body}, {0}[0] * 0.0 + 0.1, {0}, reverse={rev})[{which}]",
         _scan_sqrt, weight=0.5),
    kind("py_loop", REDUCE + "(lambda v, _: {body}, range({n}), {0})", _py_loop),
    # a recurrence over the rows of {0}, carrying (state, last output) like an RNN
    kind("py_loop_xs", REDUCE + "(lambda s, t: ({body})(s[0], {0}[t]), range({0}.shape[0]), "
         "({0}[0] * 0.0 + 0.1, {0}[0] * 0.0))[1]", _py_loop_xs),
]
