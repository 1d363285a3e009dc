"""Sum a loop's outer products once, after the loop: `acc += a_t (x) b_t` becomes one GEMM.

Reverse mode of a scan accumulates the cotangent of each const (a weight matrix) in a carry:
`acc = acc + dot_general(a_t, b_t)`, every step reading and writing the whole matrix for a
rank-1 update. When a_t and b_t vary per step and the carry is used by nothing else, the scan
stacks a_t and b_t instead, and after the loop one dot_general contracts the step axis too:
    sum_t dot(a_t, b_t) = dot(A, B) over (t, contracted dims),
which BLAS does at full speed. The stacks cost T * (|a| + |b|), less than T accumulator passes.
"""

from __future__ import annotations

from ..ir.core import Function, Instr, Value
from ..ops.primitive import REGISTRY
from .dce import dce
from .regions import map_regions


def sum_dots_after_scans(fn: Function) -> Function:
    rename: dict[Value, Value] = {}
    body = []
    for instr in fn.body:
        instr = Instr(instr.prim, [rename.get(a, a) for a in instr.args],
                      map_regions(instr.params, sum_dots_after_scans), instr.outs, instr.loc)
        found = _accumulated_dots(instr) if instr.prim.name == "scan" else []
        if found:
            new, after, renamed = _rewrite(instr, found)
            body += [new] + after
            rename.update(renamed)
        else:
            body.append(instr)
    return Function(fn.name, list(fn.params), body, [rename.get(r, r) for r in fn.results],
                    dict(fn.meta))


def _varying(region: Function, start: int) -> set[Value]:
    """Values of region that depend on its params from `start` on (carries and slices)."""
    out = set(region.params[start:])
    for i in region.body:
        if any(a in out for a in i.args):
            out.update(i.outs)
    return out


def _accumulated_dots(instr: Instr) -> list[tuple[int, Instr]]:
    """(carry index, dot_general) for each carry updated only by `carry + dot(a_t, b_t)`."""
    p, region = instr.params, instr.params["body"]
    nc = p["num_consts"]
    if p["length"] == 0:
        return []
    producers = {o: i for i in region.body for o in i.outs}
    uses: dict[Value, int] = {}
    for v in [a for i in region.body for a in i.args] + list(region.results):
        uses[v] = uses.get(v, 0) + 1
    varying = _varying(region, nc)
    found = []
    for k in range(p["num_carry"]):
        acc, res = region.params[nc + k], region.results[k]
        add = producers.get(res)
        if add is None or add.prim.name != "add" or uses.get(acc) != 1 or uses[res] != 1 \
                or acc not in add.args or add.args[0] is add.args[1]:
            continue
        d = add.args[1] if add.args[0] is acc else add.args[0]
        dot = producers.get(d)
        if (dot is None or dot.prim.name != "dot_general" or uses[d] != 1
                or dot.params["batch"] != ((), ()) or d.type != acc.type
                or not all(a in varying for a in dot.args)):
            continue
        found.append((k, dot))
    return found


def _rewrite(instr: Instr, found):
    """(the scan without those carries but stacking the dots' operands, the sums after it,
    renames of the dropped carry outputs)."""
    p, region = instr.params, instr.params["body"]
    nc, n_carry, length = p["num_consts"], p["num_carry"], p["length"]
    drop = {k for k, _ in found}
    keep = [k for k in range(n_carry) if k not in drop]
    operands = list(dict.fromkeys(a for _, dot in found for a in dot.args))  # each once
    scanned, after = _scanned_stacks(instr, operands), []
    stacked = [a for a in operands if a not in scanned]
    new_region = dce(Function(
        region.name, region.params[:nc] + [region.params[nc + k] for k in keep] +
        region.params[nc + n_carry:], region.body,
        [region.results[k] for k in keep] + region.results[n_carry:] + stacked,
        dict(region.meta)))
    stacks = {a: Value(a.type.with_shape((length,) + a.type.shape)) for a in stacked}
    args = list(instr.args)
    outs = [instr.outs[k] for k in keep] + list(instr.outs[n_carry:]) + list(stacks.values())
    new = Instr(instr.prim, args[:nc] + [args[nc + k] for k in keep] + args[nc + n_carry:],
                {**p, "body": new_region, "num_carry": len(keep)}, outs, instr.loc)
    for a, (x, reshape) in scanned.items():  # the scan's own input already stacks it
        stacks[a] = x
        if reshape:
            stacks[a] = Value(x.type.with_shape((length,) + a.type.shape))
            after.append(Instr(REGISTRY["reshape"], [x], {"shape": stacks[a].type.shape},
                               [stacks[a]], instr.loc))
    renamed = {}
    for k, dot in found:
        total, sums = _summed_dot(dot, [stacks[a] for a in dot.args])
        out = Value(total.type)
        after += sums + [Instr(REGISTRY["add"], [args[nc + k], total], {}, [out], dot.loc)]
        renamed[instr.outs[k]] = out
    return new, after, renamed


def _scanned_stacks(instr: Instr, operands) -> dict[Value, tuple[Value, bool]]:
    """Operands that are a scanned input's slice, or its reshape: {operand: (the stacked input,
    needs a reshape)}; they need no stack of their own."""
    p, region = instr.params, instr.params["body"]
    start = p["num_consts"] + p["num_carry"]
    sliced = dict(zip(region.params[start:], instr.args[start:]))
    producers = {o: i for i in region.body for o in i.outs}
    out = {}
    for a in operands:
        if a in sliced:
            out[a] = (sliced[a], False)
        elif a in producers and producers[a].prim.name == "reshape" and \
                producers[a].args[0] in sliced:
            out[a] = (sliced[producers[a].args[0]], True)
    return out


def _summed_dot(dot: Instr, stacks) -> tuple[Value, list[Instr]]:
    """sum over the step axis of dot(a_t, b_t), from the stacks of a and b: one dot_general
    contracting the step axis too; leading contracted dims fold into it (a plain GEMM)."""
    (ca, cb), instrs = dot.params["contract"], []
    m = len(ca)
    if ca == cb == tuple(range(m)):
        folded = []
        for s in stacks:
            shape = s.type.shape
            flat = Value(s.type.with_shape((_prod(shape[: m + 1]),) + shape[m + 1:]))
            instrs.append(Instr(REGISTRY["reshape"], [s], {"shape": flat.type.shape}, [flat],
                                dot.loc))
            folded.append(flat)
        stacks, contract = folded, ((0,), (0,))
    else:
        contract = ((0,) + tuple(c + 1 for c in ca), (0,) + tuple(c + 1 for c in cb))
    total = Value(dot.outs[0].type)
    instrs.append(Instr(dot.prim, list(stacks), {**dot.params, "contract": contract}, [total],
                        dot.loc))
    return total, instrs


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
