"""Canonical dots: every dot_general becomes transposes and reshapes around a GEMM.

The GEMM form is rank 2 (`(M,K)` or `(K,M)` times `(K,N)` or `(N,K)`) or rank 3 with one
leading batch axis, one contracting axis per side, output `(B?, M, N)`. Each operand keeps its
memory layout when it already groups its axes as batch, free, contracting (or batch,
contracting, free): that is a transpose flag for BLAS, not a copy. Otherwise a transpose is
inserted (which the planner materializes). Reshapes of buffers are free views.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..ir.core import Function, Instr, Value
from ..ops.primitive import REGISTRY


def canonical_dots(fn: Function) -> Function:
    body, producers = [], {o: i for i in fn.body for o in i.outs}
    for instr in fn.body:
        if instr.prim.name == "dot_general":
            instr = _through_transposes(instr, producers)
        body.extend(_as_gemm(instr) if instr.prim.name == "dot_general" and not is_gemm(instr)
                    else [instr])
    return Function(fn.name, fn.params, _live(body, fn.results), fn.results, fn.meta)


def _live(body, results) -> list[Instr]:
    """body without instructions nothing uses any more (transposes folded into dots)."""
    used, keep = set(results), []
    for instr in reversed(body):
        if any(o in used for o in instr.outs):
            keep.append(instr)
            used.update(instr.args)
    return keep[::-1]


def _through_transposes(instr: Instr, producers) -> Instr:
    """Read a transposed operand's source directly (`x @ w.T` becomes a BLAS flag, not a
    copy) when that keeps the order of its free axes, hence the output layout."""
    args, dims = list(instr.args), [list(d) for d in instr.params["contract"]]
    batch = [list(d) for d in instr.params["batch"]]
    for side in (0, 1):
        src = producers.get(args[side])
        if src is None or src.prim.name != "transpose":
            continue
        perm = src.params["perm"]
        used = set(dims[side]) | set(batch[side])
        free = [perm[a] for a in range(len(perm)) if a not in used]
        if free != sorted(free):
            continue
        args[side] = src.args[0]
        dims[side] = [perm[a] for a in dims[side]]
        batch[side] = [perm[a] for a in batch[side]]
    if args == list(instr.args):
        return instr
    params = {"contract": tuple(map(tuple, dims)), "batch": tuple(map(tuple, batch))}
    return Instr(instr.prim, args, params, instr.outs, instr.loc)


def is_gemm(instr: Instr) -> bool:
    x, y = instr.args
    (xc, yc), (xb, yb) = instr.params["contract"], instr.params["batch"]
    nb = len(xb)
    return (x.type.ndim == y.type.ndim == 2 + nb and nb <= 1 and tuple(xb) == tuple(yb)
            == tuple(range(nb)) and len(xc) == 1 and xc[0] >= nb and yc[0] >= nb)


def _emit(body, name, x, loc, **params) -> Value:
    prim = REGISTRY[name]
    out = Value(prim.out_type([a.type for a in x], params))
    body.append(Instr(prim, x, params, [out], loc))
    return out


def _layout(x: Value, batch, free, contract, body, loc, k_last: bool):
    """x transposed (if needed) and reshaped to (B?, M, K) or (B?, K, M)."""
    perm = tuple(batch) + (tuple(free) + tuple(contract) if k_last else
                           tuple(contract) + tuple(free))
    if perm != tuple(range(x.type.ndim)):
        x = _emit(body, "transpose", [x], loc, perm=perm)
    dims = x.type.shape
    size = lambda axes: int(np.prod([dims[a] for a in axes], dtype=np.int64))
    nb, nf = len(batch), len(free)
    first, second = (range(nb, nb + nf), range(nb + nf, len(dims))) if k_last else \
        (range(nb, len(dims) - nf), range(len(dims) - nf, len(dims)))
    shape = ((size(range(nb)),) if nb else ()) + (size(first), size(second))
    if shape != dims:
        x = _emit(body, "reshape", [x], loc, shape=shape)
    return x


def _choices(instr):
    """(cost, x_perm choice, y_perm choice, contract pairing), cheapest first."""
    x, y = instr.args
    (xc, yc), (xb, yb) = instr.params["contract"], instr.params["batch"]
    xf = [i for i in range(x.type.ndim) if i not in (*xc, *xb)]
    yf = [i for i in range(y.type.ndim) if i not in (*yc, *yb)]
    pairs = list(zip(xc, yc))
    out = []
    for order, xk_last, yk_first in itertools.product(
            (sorted(pairs), sorted(pairs, key=lambda p: p[1])), (True, False), (True, False)):
        cx, cy = [a for a, _ in order], [b for _, b in order]
        xp = (*xb, *xf, *cx) if xk_last else (*xb, *cx, *xf)
        yp = (*yb, *cy, *yf) if yk_first else (*yb, *yf, *cy)
        cost = (xp != tuple(range(x.type.ndim))) + (yp != tuple(range(y.type.ndim)))
        out.append((cost, xk_last, yk_first, cx, cy, xf, yf))
    return sorted(out, key=lambda c: c[0])


def _as_gemm(instr: Instr) -> list[Instr]:
    x, y = instr.args
    xb, yb = instr.params["batch"]
    _, xk_last, yk_first, cx, cy, xf, yf = _choices(instr)[0]
    body, loc = [], instr.loc
    x3 = _layout(x, xb, xf, cx, body, loc, xk_last)
    y3 = _layout(y, yb, yf, cy, body, loc, not yk_first)
    nb = 1 if xb else 0
    xk, yk = nb + (1 if xk_last else 0), nb + (0 if yk_first else 1)
    batch = ((0,), (0,)) if nb else ((), ())
    gemm = REGISTRY["dot_general"]
    params = {"contract": ((xk,), (yk,)), "batch": batch}
    out_type = gemm.out_type([x3.type, y3.type], params)
    if out_type == instr.out.type:
        return body + [Instr(gemm, [x3, y3], params, [instr.out], loc)]
    flat = Value(out_type)
    body.append(Instr(gemm, [x3, y3], params, [flat], loc))
    body.append(Instr(REGISTRY["reshape"], [flat], {"shape": instr.out.type.shape},
                      [instr.out], loc))
    return body
