"""Scans in a gradient: run the forward scan once, stack nothing needless, measure what reverse
mode stores.

Reverse mode of `scan` (ops/control.py) binds a "saving" scan: the primal body, also returning
the carry each step saw, stacked. Replaying the primal already bound the plain scan on the same
operands, so the gradient would run the forward loop twice. `merge_scans` keeps one: when two
scans have the same operands and params and one body computes the other's results as a prefix
of its own, the larger one takes the earlier one's place and serves both.
`prune_scan_outputs` drops stacked outputs nobody reads (DCE keeps a scan whole), and
`hoist_invariant_xs` turns a scanned operand that is a broadcast along the scan axis (the zero
cotangent of an unused output) into a const. `stored_residuals` counts the stacked carries.
"""

from __future__ import annotations

from ..ir.core import Function, Instr, Value
from ..ops.primitive import REGISTRY
from .dce import dce
from .regions import map_regions

_SAME = ("num_consts", "num_carry", "length", "reverse")


def _prefix_text(body: Function, n: int) -> str:
    """The text of body computing only its first n results (named neutrally: parameters lose
    their hints, which depend on how the body was traced)."""
    fresh = {p: Value(p.type) for p in body.params}
    instrs = [Instr(i.prim, [fresh.get(a, a) for a in i.args], i.params, i.outs, i.loc)
              for i in body.body]
    results = [fresh.get(r, r) for r in body.results[:n]]
    return str(dce(Function("region", list(fresh.values()), instrs, results)))


def _extends(big: Instr, small: Instr) -> bool:
    """big computes small's results as the prefix of its own (same operands, params, body)."""
    b, s = big.params["body"], small.params["body"]
    if (big.args != small.args or any(big.params[k] != small.params[k] for k in _SAME)
            or b.in_types != s.in_types or len(b.results) < len(s.results)):
        return False
    return _prefix_text(b, len(s.results)) == _prefix_text(s, len(s.results))


def merge_scans(fn: Function) -> Function:
    rename: dict[Value, Value] = {}

    def resolve(v):
        while v in rename:
            v = rename[v]
        return v

    body: list[Instr | None] = []
    scans: list[int] = []  # positions in body of the scans kept so far
    for instr in fn.body:
        args = [resolve(a) for a in instr.args]
        instr = Instr(instr.prim, args, map_regions(instr.params, merge_scans), instr.outs,
                      instr.loc)
        if instr.prim.name == "scan":
            for j in scans:
                kept = body[j]
                if _extends(instr, kept):  # the newcomer serves both, from the earlier place
                    rename.update(zip(kept.outs, instr.outs))
                    body[j] = instr
                    break
                if _extends(kept, instr):
                    rename.update(zip(instr.outs, kept.outs))
                    break
            else:
                scans.append(len(body))
                body.append(instr)
            continue
        body.append(instr)
    # uses emitted before a scan was replaced still name its old outputs
    body = [Instr(i.prim, [resolve(a) for a in i.args], i.params, i.outs, i.loc) for i in body]
    return Function(fn.name, list(fn.params), body, [resolve(r) for r in fn.results],
                    dict(fn.meta))


def prune_scan_outputs(fn: Function) -> Function:
    """Drop the stacked outputs of scans that nothing uses, and what their bodies compute only
    for them (e.g. the cotangents of scanned inputs that are not differentiated): DCE alone
    keeps a scan whole, and each unused stack is T slices of memory."""
    used = set(fn.results)
    for instr in fn.body:
        used.update(instr.args)
    body = []
    for instr in fn.body:
        params = map_regions(instr.params, prune_scan_outputs)
        outs = instr.outs
        if instr.prim.name == "scan":
            n = params["num_carry"]
            keep = list(range(n)) + [k for k in range(n, len(outs)) if outs[k] in used]
            if len(keep) < len(outs):
                region = params["body"]
                region = Function(region.name, list(region.params), region.body,
                                  [region.results[k] for k in keep], dict(region.meta))
                params = {**params, "body": dce(region)}
                outs = [outs[k] for k in keep]
        body.append(Instr(instr.prim, instr.args, params, outs, instr.loc))
    return Function(fn.name, list(fn.params), body, list(fn.results), dict(fn.meta))


def _invariant_slice(producer: Instr | None, x: Value):
    """(v, reshape needed) when x = broadcast_to(v) has the same slice at every step."""
    if producer is None or producer.prim.name != "broadcast_to":
        return None
    v = producer.args[0]
    if v.type.ndim < x.type.ndim:
        return v, False
    return (v, True) if v.type.shape[0] == 1 else None


def hoist_invariant_xs(fn: Function) -> Function:
    """A scanned operand that is a broadcast along the scan axis (the zero cotangent of an
    unused output, typically) becomes a const the body broadcasts: no T-slice stack."""
    producers = {o: i for i in fn.body for o in i.outs}
    body = []
    for instr in fn.body:
        params = map_regions(instr.params, hoist_invariant_xs)
        args = instr.args
        if instr.prim.name == "scan":
            args, params = _hoist(instr, params, producers)
        body.append(Instr(instr.prim, args, params, instr.outs, instr.loc))
    return Function(fn.name, list(fn.params), body, list(fn.results), dict(fn.meta))


def _hoist(instr: Instr, params: dict, producers: dict):
    nc, n = params["num_consts"], params["num_consts"] + params["num_carry"]
    region = params["body"]
    consts, const_params, xs, x_params, prologue = [], [], [], [], []
    for x, p in zip(instr.args[n:], region.params[n:]):
        found = _invariant_slice(producers.get(x), x)
        if found is None:
            xs.append(x)
            x_params.append(p)
            continue
        v, squeeze = found
        q = Value(v.type)
        consts.append(v)
        const_params.append(q)
        if squeeze:  # drop v's leading 1, which the broadcast stretched along the scan axis
            flat = Value(v.type.with_shape(v.type.shape[1:]))
            prologue.append(Instr(REGISTRY["reshape"], [q], {"shape": flat.type.shape}, [flat]))
            q = flat
        prologue.append(Instr(REGISTRY["broadcast_to"], [q], {"shape": p.type.shape}, [p]))
    if not consts:
        return instr.args, params
    region = Function(region.name, region.params[:nc] + const_params + region.params[nc:n] +
                      x_params, prologue + region.body, list(region.results), dict(region.meta))
    args = list(instr.args[:nc]) + consts + list(instr.args[nc:n]) + xs
    return args, {**params, "body": region, "num_consts": nc + len(consts)}


def stored_residuals(fn: Function) -> int:
    """Bytes of the carries that reverse-mode scans stack for the backward pass (results of a
    scan body that pass a parameter through), summed over fn and its regions; each region is
    counted once, as its buffers are reused across iterations."""
    total = 0
    for instr in fn.body:
        for region in _regions(instr.params):
            total += stored_residuals(region)
        if instr.prim.name == "scan":
            body, n = instr.params["body"], instr.params["num_carry"]
            params = set(body.params)
            for r, out in zip(body.results[n:], instr.outs[n:]):
                if r in params:
                    total += out.type.size * out.type.np_dtype.itemsize
    return total


def _regions(params: dict) -> list[Function]:
    found = []
    map_regions(params, lambda f: found.append(f) or f)
    return found
