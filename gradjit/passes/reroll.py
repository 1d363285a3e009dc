"""Loop rerolling: a Python loop traced N times (the same instructions repeated, each iteration
reading the one before) becomes one `scan` of one iteration's body.

Tracing unrolls `for t in range(50): h = tanh(Wh @ h + Wx @ xs[t] + b)` into 50 copies; the
gradient doubles that and LLVM then optimizes and compiles every copy (W4's first call: 2 s).
As a scan, differentiation, passes and code generation see one body. The scan computes the same
operations in the same order, so values are unchanged.

A run of iterations qualifies when every iteration's instructions equal the template's (the
second iteration) up to renaming, and each operand is, in every iteration, either the same
value from before the loop (a scan const), a value of its own iteration (same position), or
one of the previous iteration's (a carry; iteration 0 reads its initial value from before the
loop). A `slice` may advance by one chunk per iteration along one axis (`xs[t]`): the chunks
become a scanned operand. Values read after the loop are the last carries, or (`outs.append(h)`)
stacked scan outputs, sliced where they are read.
"""

from __future__ import annotations

import os

import numpy as np

from ..ir.core import Function, Instr, Value
from ..ops.primitive import REGISTRY

MIN_TRIPS = 4  # fewer repeats are left unrolled
MIN_INSTRS = 48  # functions shorter than this are not searched (nothing to gain)
MAX_ATTEMPTS = 32  # exact checks per search: a function that is almost periodic stays cheap
# a loop of only these (data movement) is not worth a scan: it is how rows of a scan's stacked
# outputs are read, which must not be rerolled again
MOVES = frozenset({"slice", "reshape", "broadcast_to", "transpose", "const", "concatenate"})
ENABLED = os.environ.get("GRADJIT_REROLL", "1") != "0"  # (read per call: tests switch it)


def reroll(fn: Function) -> Function:
    """fn with every qualifying repeated run of instructions as a scan (innermost first)."""
    if not ENABLED or len(fn.body) < MIN_INSTRS:
        return fn
    while True:
        found = _find(fn)
        if found is None:
            return fn
        smaller = _apply(fn, *found)
        if len(smaller.body) >= len(fn.body):  # (rows of many stacked values read one by one)
            return fn
        fn = smaller


# ---- finding a loop ------------------------------------------------------------------------
def _param_key(v):
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, Function):
        return ("fn", str(v))
    if isinstance(v, (tuple, list)):
        return tuple(_param_key(x) for x in v)
    return repr(v)


def _key(instr: Instr):
    """What every iteration's copy of an instruction must share (a slice may move)."""
    moving = ("start", "stop") if instr.prim.name == "slice" else ()
    params = tuple(sorted((k, _param_key(v)) for k, v in instr.params.items()
                          if k not in moving))
    return (instr.prim.name, len(instr.args), tuple(o.type for o in instr.outs), params)


def _runs(body: list[Instr]):
    """(covered, start, period, length) of runs where instruction i equals i + period, the
    longest first: candidates, checked exactly by _match."""
    ids: dict = {}
    keys = np.array([ids.setdefault(_key(i), len(ids)) for i in body])
    n, out = len(keys), []
    for period in range(1, n // MIN_TRIPS + 1):
        eq = np.concatenate([[False], keys[:-period] == keys[period:], [False]])
        edges = np.flatnonzero(np.diff(eq.astype(np.int8)))
        for start, stop in zip(edges[::2], edges[1::2]):
            length = stop - start + period  # instructions inside the periodic stretch
            if length >= MIN_TRIPS * period:
                out.append((length // period * period, int(start), period, int(length)))
    out.sort(key=lambda c: (-c[0], c[2]))
    return out


def _find(fn: Function):
    body, attempts = fn.body, 0
    for _, first, period, length in _runs(body):
        if all(i.prim.name in MOVES for i in body[first:first + period]):
            continue
        for phase in range(period):
            start = first + phase
            trips = (first + length - start) // period
            for s, n in ((start, trips), (start, trips - 1), (start + period, trips - 1)):
                if n >= MIN_TRIPS and attempts < MAX_ATTEMPTS:
                    attempts += 1
                    plan = _match(fn, s, period, n)
                    if plan is not None:
                        return (s, period, n, plan)
    return None


def _match(fn: Function, s: int, period: int, trips: int):
    """The loop's structure if instructions [s, s + period * trips) are `trips` iterations,
    else None: (operand kinds of the template, carry inits, moving slices, stacked outputs)."""
    body = fn.body
    at: dict[Value, tuple[int, int, int]] = {}  # value -> (iteration, position, output)
    for k in range(trips):
        for j in range(period):
            for o, v in enumerate(body[s + k * period + j].outs):
                at[v] = (k, j, o)
    kinds = []  # per position: per operand ("local"|"carry", (j, o)) or ("outside", value)
    for j in range(period):
        row = []
        for v in body[s + period + j].args:
            k, jj, o = at.get(v, (None, None, None))
            if k == 1 and jj < j:
                row.append(("local", (jj, o)))
            elif k == 0:
                row.append(("carry", (jj, o)))
            elif k is None:
                row.append(("outside", v))
            else:
                return None
        kinds.append(row)
    inits: dict[tuple[int, int], Value] = {}
    for k in range(trips):
        for j in range(period):
            for v, (kind, ref) in zip(body[s + k * period + j].args, kinds[j]):
                got = at.get(v)
                if kind == "outside":
                    ok = v is ref
                elif kind == "local":
                    ok = got == (k,) + ref
                elif k > 0:
                    ok = got == (k - 1,) + ref
                else:  # iteration 0 reads the carry's initial value, from before the loop
                    ok = got is None and inits.setdefault(ref, v) is v and \
                        v.type == body[s + ref[0]].outs[ref[1]].type
                if not ok:
                    return None
    moving = _moving_slices(body, s, period, trips)
    if moving is None or any(kinds[j][0][0] != "outside" for j in moving):
        return None  # (a slice walking a value computed in the loop stays unrolled)
    return kinds, inits, moving, _stacked(fn, s + period * trips, at, trips, set(inits))


def _moving_slices(body, s, period, trips):
    """position -> (axis, chunk) of slices that advance one chunk per iteration; None when a
    slice moves any other way."""
    moving = {}
    for j in range(period):
        first = body[s + j]
        if first.prim.name != "slice":
            continue
        starts = np.array([body[s + k * period + j].params["start"] for k in range(trips)])
        stops = np.array([body[s + k * period + j].params["stop"] for k in range(trips)])
        if (starts == starts[0]).all() and (stops == stops[0]).all():
            continue
        steps = np.diff(starts, axis=0)
        width = stops[0] - starts[0]
        axes = np.flatnonzero(steps[0])
        if (len(axes) != 1 or not (steps == steps[0]).all() or not (stops - starts == width).all()
                or steps[0][axes[0]] != width[axes[0]] or first.params["step"][axes[0]] != 1):
            return None
        moving[j] = (int(axes[0]), int(width[axes[0]]))
    return moving


def _stacked(fn, end, at, trips, carries) -> list[tuple[int, int]]:
    """Positions whose values are read after the loop other than as the last carries: the
    scan stacks them (its ys)."""
    later = [a for instr in fn.body[end:] for a in instr.args] + list(fn.results)
    out = set()
    for v in later:
        where = at.get(v)
        if where is not None and (where[0] != trips - 1 or where[1:] not in carries):
            out.add(where[1:])
    return sorted(out)


# ---- rewriting -----------------------------------------------------------------------------
def _apply(fn: Function, s: int, period: int, trips: int, plan) -> Function:
    kinds, inits, moving, stacked = plan
    body = fn.body
    carries = sorted(inits)
    consts: list[Value] = []
    for j, row in enumerate(kinds):
        for kind, ref in row if j not in moving else ():
            if kind == "outside" and all(ref is not c for c in consts):
                consts.append(ref)
    prep, xs = [], []
    for j, (axis, chunk) in sorted(moving.items()):
        xs.append(_chunks(body[s + j], axis, chunk, trips, prep))
    template = body[s + period: s + 2 * period]
    region = _body(fn, template, kinds, consts, carries, moving, stacked)
    outs = [Value(inits[c].type) for c in carries]
    ys = [Value(template[j].outs[o].type.with_shape((trips,) + template[j].outs[o].type.shape))
          for j, o in stacked]
    scan = Instr(REGISTRY["scan"], consts + [inits[c] for c in carries] + xs,
                 {"body": region, "num_consts": len(consts), "num_carry": len(carries),
                  "length": trips, "reverse": False}, outs + ys, body[s].loc)
    names = {body[s + (trips - 1) * period + j].outs[o]: out for (j, o), out in zip(carries, outs)}
    after = []  # a stacked value read after the loop: its row of ys
    for (j, o), y in zip(stacked, ys):
        for k in range(trips):
            v = body[s + k * period + j].outs[o]
            if v not in names:
                row = _emit(after, "slice", [y], {"start": (k,) + (0,) * v.type.ndim,
                                                  "stop": (k + 1,) + v.type.shape,
                                                  "step": (1,) * (v.type.ndim + 1)},
                            v.type.with_shape((1,) + v.type.shape), scan.loc)
                names[v] = _emit(after, "reshape", [row], {"shape": v.type.shape}, v.type,
                                 scan.loc)
    rest = [_renamed(i, names) for i in body[s + period * trips:]]
    results = [names.get(r, r) for r in fn.results]
    return Function(fn.name, fn.params, body[:s] + prep + [scan] + after + rest, results,
                    fn.meta)


def _chunks(first: Instr, axis: int, chunk: int, trips: int, prep: list) -> Value:
    """The operand a moving slice walks, as (trips, *chunk shape): the slice of all its chunks,
    the axis split into (trips, chunk) and moved first."""
    x, p = first.args[0], first.params
    stop = list(p["stop"])
    stop[axis] = p["start"][axis] + trips * chunk
    shape = list(first.out.type.shape)
    shape[axis] = trips * chunk
    whole = _emit(prep, "slice", [x], {"start": p["start"], "stop": tuple(stop),
                                       "step": p["step"]}, first.out.type.with_shape(tuple(shape)),
                  first.loc)
    split = shape[:axis] + [trips, chunk] + shape[axis + 1:]
    v = _emit(prep, "reshape", [whole], {"shape": tuple(split)},
              first.out.type.with_shape(tuple(split)), first.loc)
    if axis:
        perm = (axis,) + tuple(i for i in range(len(split)) if i != axis)
        v = _emit(prep, "transpose", [v], {"perm": perm},
                  first.out.type.with_shape(tuple(split[i] for i in perm)), first.loc)
    return v


def _emit(prep, name, args, params, out_type, loc) -> Value:
    out = Value(out_type)
    prep.append(Instr(REGISTRY[name], args, params, [out], loc))
    return out


def _body(fn, template, kinds, consts, carries, moving, stacked) -> Function:
    """One iteration as a Function (consts, carries, chunks) -> (carries, stacked values),
    rerolled itself."""
    cparams = [Value(c.type, c.hint) for c in consts]
    carry_params = [Value(template[j].outs[o].type) for j, o in carries]
    x_params = [Value(template[j].out.type) for j in sorted(moving)]
    carry_of = dict(zip(carries, carry_params))
    local: dict[tuple[int, int], Value] = {}
    instrs = []
    for j, instr in enumerate(template):
        if j in moving:
            local[(j, 0)] = x_params[sorted(moving).index(j)]
            continue
        args = []
        for kind, ref in kinds[j]:
            if kind == "outside":
                args.append(next(p for c, p in zip(consts, cparams) if c is ref))
            else:
                args.append(local[ref] if kind == "local" else carry_of[ref])
        outs = [Value(o.type) for o in instr.outs]
        local.update(((j, o), v) for o, v in enumerate(outs))
        instrs.append(Instr(instr.prim, args, instr.params, outs, instr.loc))
    region = Function(f"{fn.name}_loop", cparams + carry_params + x_params, instrs,
                      [local[c] for c in carries] + [local[p] for p in stacked])
    return reroll(region)


def _renamed(instr: Instr, names: dict) -> Instr:
    if not any(a in names for a in instr.args):
        return instr
    return Instr(instr.prim, [names.get(a, a) for a in instr.args], instr.params, instr.outs,
                 instr.loc)
