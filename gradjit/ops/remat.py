"""Rematerialization: `remat`, a region whose reverse mode stores nothing but its operands.

`remat(*operands, body=f)` computes f(*operands). Its derivative rules do not reuse the body's
intermediates: they are `remat` instructions again, whose regions replay the body (forward) and
pull back through it, so the intermediates are recomputed inside the backward pass and live
only there. Because the backward is one opaque instruction, no pass can hoist the recomputation
back next to the forward (CSE does not look through regions), and grad of grad stays
rematerialized.
"""

from __future__ import annotations

from ..ir.types import is_float
from . import api as A
from .control import _run, trace_region
from .primitive import Primitive


def _remat_shape(*types, body):
    if body.in_types != list(types):
        raise TypeError("body takes (" + ", ".join(map(str, body.in_types)) + ") but the "
                        "operands are (" + ", ".join(map(str, types)) + ")")
    return list(body.out_types)


def _remat_np(*args, body):
    return tuple(_run(body, args))


def remat_bind(body, operands):
    return list(remat_p(*operands, body=body))


def _remat_vjp(g, *args, out, body):
    # d/dx f = pull_back(replay(f, x)): both inside one remat region, run at backward time
    from ..autodiff import pull_back, replay

    gs = g if isinstance(g, list) else [g]
    wrt = [i for i, a in enumerate(args) if is_float(A.dtype_of(a))]

    def pulled(*vals):
        env = replay(body, list(vals[: len(args)]))
        got = pull_back(body, env, list(vals[len(args):]), wrt)
        return [A.zeros_like(vals[i]) if v is None else v for i, v in zip(wrt, got)]

    region = trace_region(pulled, [A.type_of(v) for v in list(args) + gs], "vjp_" + body.name)
    cts = remat_bind(region, list(args) + gs)
    result = [None] * len(args)
    for k, i in enumerate(wrt):
        result[i] = cts[k]
    return tuple(result)


def _remat_jvp(primals, tangents, out, body):
    from ..autodiff.forward import jvp_replay

    active = [i for i, t in enumerate(tangents) if t is not None]
    n = len(primals)

    def pushed(*vals):
        tangents_in = [None] * n
        for k, i in enumerate(active):
            tangents_in[i] = vals[n + k]
        outs, touts = jvp_replay(body, list(vals[:n]), tangents_in)
        return outs + [A.zeros_like(o) if t is None else t for o, t in zip(outs, touts)
                       if is_float(A.dtype_of(o))]

    operands = list(primals) + [tangents[i] for i in active]
    region = trace_region(pushed, [A.type_of(v) for v in operands], "jvp_" + body.name)
    outs = remat_bind(region, operands)
    t_iter = iter(outs[len(body.results):])
    return [next(t_iter) if is_float(t.dtype) else None for t in body.out_types]


def _remat_batch(args, dims, body):
    from ..batching import batch_replay
    from .rules import batch_size, batched

    n = batch_size(args, dims)

    def run(*vals):
        outs, out_dims = batch_replay(body, list(vals), list(dims))
        return [batched(o, d, n) for o, d in zip(outs, out_dims)]

    region = trace_region(run, [A.type_of(v) for v in args], "batched_" + body.name)
    return remat_bind(region, list(args)), [0] * len(body.results)


remat_p = Primitive("remat", None, _remat_shape, _remat_np, vjp=_remat_vjp, jvp=_remat_jvp,
                    batch=_remat_batch, lower="remat", torch_name="CheckpointBackward0",
                    multiple_results=True)
