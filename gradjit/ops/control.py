"""Structured control flow: `scan`, `cond` and `while_loop`, whose params hold sub-Functions.

A region is a closed Function: what its body uses from outside is passed in as leading
"const" operands. The derivative, forward and batching rules build new regions by tracing
(replaying the body under the tracer), so the derivative of a loop is a loop of primitives and
can be differentiated again. Those rules reach downstream (tracer, autodiff, batching) through
imports inside the functions: a higher-order primitive's rules are transformations themselves.
"""

from __future__ import annotations

import numpy as np

from ..ir.core import Function
from ..ir.types import TensorType, is_float
from . import api as A
from .primitive import Primitive


def trace_region(f, in_types, name) -> Function:
    """A closed Function from f(*values) -> list; tracing must capture nothing from outside."""
    from ..tracer.core import trace_flat

    fn, captured = trace_flat(f, list(in_types), name)
    assert not captured, f"region {name} captured outer values"
    return fn


def _run(fn: Function, args):
    from ..ir import interp

    return interp.run(fn, [np.asarray(a) for a in args])


def _zeros_for(values):
    return [A.zeros_like(v) for v in values]


def _placed(n, *groups):
    """A list of n Nones with values placed: each group is (offset, positions, values)."""
    out = [None] * n
    for offset, positions, values in groups:
        for i, v in zip(positions, values):
            out[offset + i] = v
    return out


def _split(seq, *sizes):
    out, start = [], 0
    for n in sizes:
        out.append(list(seq[start : start + n]))
        start += n
    out.append(list(seq[start:]))
    return out


# ---- scan --------------------------------------------------------------------------------


def _scan_shape(*types, body, num_consts, num_carry, length, reverse):
    consts, carry, xs = _split(types, num_consts, num_carry)
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise ValueError(f"scanned operand {x} must have leading dimension {length}")
    expected = consts + carry + [x.with_shape(x.shape[1:]) for x in xs]
    if body.in_types != expected:
        raise TypeError("body takes (" + ", ".join(map(str, body.in_types)) + ") but the "
                        "operands give (" + ", ".join(map(str, expected)) + ")")
    if body.out_types[:num_carry] != carry:
        raise TypeError("body returns carry (" + ", ".join(map(str, body.out_types[:num_carry]))
                        + ") for a carry of (" + ", ".join(map(str, carry)) + ")")
    return carry + [y.with_shape((length,) + y.shape) for y in body.out_types[num_carry:]]


def _scan_np(*args, body, num_consts, num_carry, length, reverse):
    consts, carry, xs = _split(args, num_consts, num_carry)
    ys = []
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        outs = _run(body, consts + carry + [x[i] for x in xs])
        carry, y = outs[:num_carry], outs[num_carry:]
        ys.append(y)
    ys = ys[::-1] if reverse else ys
    stacked = [np.stack([y[k] for y in ys]) if ys else np.zeros((0,) + t.shape, t.np_dtype)
               for k, t in enumerate(body.out_types[num_carry:])]
    return tuple(carry + stacked)


def scan_bind(body, consts, carry, xs, length, reverse=False):
    return list(scan_p(*consts, *carry, *xs, body=body, num_consts=len(consts),
                       num_carry=len(carry), length=length, reverse=reverse))


def _scan_vjp(g, *args, out, body, num_consts, num_carry, length, reverse):
    # Reverse mode of a scan is a scan the other way: each step pulls the cotangent of its
    # carry and outputs back through the body (rematerialized from the carry it saw, which a
    # forward scan stacks), and accumulates the cotangents of the consts.
    from ..autodiff import pull_back, replay

    consts, init, xs = _split(args, num_consts, num_carry)
    gs = g if isinstance(g, list) else [g]
    ct_carry, ct_ys = gs[:num_carry], gs[num_carry:]
    n_y = len(body.results) - num_carry

    def forward_saving(*vals):  # the body, also returning the carry it was given
        outs = replay(body, list(vals))
        return [outs[r] for r in body.results] + list(vals[num_consts : num_consts + num_carry])

    fwd = trace_region(forward_saving, body.in_types, "saving_" + body.name)
    saved = list(scan_bind(fwd, consts, init, xs, length, reverse))[num_carry + n_y :]

    f_consts = [i for i, c in enumerate(consts) if is_float(A.dtype_of(c))]
    f_carry = [i for i, c in enumerate(init) if is_float(A.dtype_of(c))]
    f_xs = [i for i, x in enumerate(xs) if is_float(A.dtype_of(x))]
    wrt = f_consts + [num_consts + i for i in f_carry] + \
        [num_consts + num_carry + i for i in f_xs]

    def backward_step(*vals):
        c, acc, ct_c, carry_t, x_t, ct_y = _split(
            vals, num_consts, len(f_consts), len(f_carry), num_carry, len(xs))
        env = replay(body, c + carry_t + x_t)
        cts = [None] * num_carry
        for k, i in enumerate(f_carry):
            cts[i] = ct_c[k]
        got = pull_back(body, env, cts + ct_y, wrt)
        got = [A.zeros_like(env[body.params[w]]) if v is None else v for w, v in zip(wrt, got)]
        d_consts, d_carry, d_xs = _split(got, len(f_consts), len(f_carry))
        return [a + d for a, d in zip(acc, d_consts)] + d_carry + d_xs

    types = [A.type_of(v) for v in consts + [consts[i] for i in f_consts] +
             [init[i] for i in f_carry] + init]
    types += [t.with_shape(t.shape[1:]) for t in map(A.type_of, xs + ct_ys)]
    bwd = trace_region(backward_step, types, "vjp_" + body.name)
    ct_init = [ct_carry[i] for i in f_carry]
    outs = scan_bind(bwd, consts, _zeros_for([consts[i] for i in f_consts]) + ct_init,
                     saved + xs + ct_ys, length, not reverse)
    d_consts, d_carry, d_xs = _split(list(outs), len(f_consts), len(f_carry))
    return tuple(_placed(len(args), (0, f_consts, d_consts), (num_consts, f_carry, d_carry),
                         (num_consts + num_carry, f_xs, d_xs)))


def _scan_jvp(primals, tangents, out, body, num_consts, num_carry, length, reverse):
    # forward mode: scan the body's JVP, carrying the tangent of every float carry beside it
    from ..autodiff.forward import jvp_replay

    consts, carry, xs = _split(primals, num_consts, num_carry)
    t_consts, t_carry, t_xs = _split(tangents, num_consts, num_carry)
    a_consts = [i for i, t in enumerate(t_consts) if t is not None]
    f_carry = [i for i, c in enumerate(carry) if is_float(A.dtype_of(c))]
    a_xs = [i for i, t in enumerate(t_xs) if t is not None]

    def step(*vals):
        c, tc, k, tk, x, tx = _split(vals, num_consts, len(a_consts), num_carry, len(f_carry),
                                     len(xs))
        tangents_in = _placed(len(body.params), (0, a_consts, tc), (num_consts, f_carry, tk),
                              (num_consts + num_carry, a_xs, tx))
        outs, touts = jvp_replay(body, c + k + x, tangents_in)
        touts = [A.zeros_like(o) if t is None else t for o, t in zip(outs, touts)]
        return outs[:num_carry] + [touts[i] for i in f_carry] + outs[num_carry:] + \
            [t for o, t in zip(outs[num_carry:], touts[num_carry:]) if is_float(A.dtype_of(o))]

    def slice_type(v):
        t = A.type_of(v)
        return t.with_shape(t.shape[1:])

    tc0 = [t_carry[i] if t_carry[i] is not None else A.zeros_like(carry[i]) for i in f_carry]
    types = [A.type_of(v) for v in consts + [t_consts[i] for i in a_consts] + carry + tc0]
    types += [slice_type(v) for v in xs + [t_xs[i] for i in a_xs]]
    fn = trace_region(step, types, "jvp_" + body.name)
    outs = scan_bind(fn, consts + [t_consts[i] for i in a_consts], carry + tc0,
                     xs + [t_xs[i] for i in a_xs], length, reverse)
    new_carry, t_new, ys = _split(list(outs), num_carry, len(f_carry))
    ys, t_ys = ys[: len(body.results) - num_carry], ys[len(body.results) - num_carry :]
    tangent_out = [None] * len(out)
    for j, i in enumerate(f_carry):
        tangent_out[i] = t_new[j]
    float_ys = [k for k, y in enumerate(ys) if is_float(A.dtype_of(y))]
    for j, k in enumerate(float_ys):
        tangent_out[num_carry + k] = t_ys[j]
    return tangent_out


def _scan_batch(args, dims, body, num_consts, num_carry, length, reverse):
    # consts keep their batch axis or none; every carry is batched (it may become batched
    # inside the loop); scanned operands keep the scan axis first and the batch axis second
    from ..batching import batch_replay
    from .rules import batch_size, batched

    n = batch_size(args, dims)
    consts, carry, xs = _split(args, num_consts, num_carry)
    c_dims, _, x_dims = _split(dims, num_consts, num_carry)
    carry = [batched(c, d, n) for c, d in zip(carry, dims[num_consts:])]
    xs = [A.moveaxis(x, 0, 1) if d is not None else x for x, d in zip(xs, x_dims)]
    in_dims = c_dims + [0] * num_carry + [0 if d is not None else None for d in x_dims]

    def step(*vals):
        outs, out_dims = batch_replay(body, list(vals), in_dims)
        return [batched(o, d, n) for o, d in zip(outs, out_dims)]

    types = [A.type_of(v) for v in consts + carry]
    types += [A.type_of(x).with_shape(A.shape_of(x)[1:]) for x in xs]
    fn = trace_region(step, types, "batched_" + body.name)
    outs = scan_bind(fn, consts, carry, xs, length, reverse)
    outs = outs[:num_carry] + [A.moveaxis(y, 1, 0) for y in outs[num_carry:]]
    return outs, [0] * len(outs)


scan_p = Primitive("scan", None, _scan_shape, _scan_np, vjp=_scan_vjp, jvp=_scan_jvp,
                   batch=_scan_batch, lower="scan", torch_name="ScanBackward0",
                   multiple_results=True)


# ---- cond --------------------------------------------------------------------------------


def _cond_shape(index, *ops, branches):
    if index.shape != () or index.dtype not in ("i32", "i64"):
        raise TypeError(f"branch index must be an integer scalar, got {index}")
    for b in branches:
        if b.in_types != list(ops):
            raise TypeError(f"branch {b.name} takes ({', '.join(map(str, b.in_types))}) but "
                            f"the operands are ({', '.join(map(str, ops))})")
        if b.out_types != branches[0].out_types:
            raise TypeError("branches return different types: " + " vs ".join(
                "(" + ", ".join(map(str, x.out_types)) + ")" for x in branches))
    return list(branches[0].out_types)


def _cond_np(index, *ops, branches):
    return tuple(_run(branches[int(np.clip(index, 0, len(branches) - 1))], ops))


def cond_bind(index, branches, operands):
    return list(cond_p(index, *operands, branches=tuple(branches)))


def _cond_vjp(g, index, *ops, out, branches):
    # the cotangent flows back through the branch that ran
    from ..autodiff import pull_back, replay

    gs = g if isinstance(g, list) else [g]
    wrt = [i for i, o in enumerate(ops) if is_float(A.dtype_of(o))]

    def branch_vjp(branch):
        def pulled(*vals):
            env = replay(branch, list(vals[: len(ops)]))
            got = pull_back(branch, env, list(vals[len(ops):]), wrt)
            return [A.zeros_like(vals[i]) if v is None else v for i, v in zip(wrt, got)]

        return trace_region(pulled, [A.type_of(v) for v in list(ops) + gs], "vjp_" + branch.name)

    outs = cond_bind(index, [branch_vjp(b) for b in branches], list(ops) + gs)
    result = [None] * (len(ops) + 1)
    for k, i in enumerate(wrt):
        result[i + 1] = outs[k]
    return tuple(result)


def _cond_jvp(primals, tangents, out, branches):
    from ..autodiff.forward import jvp_replay

    index, ops = primals[0], list(primals[1:])
    active = [i for i, t in enumerate(tangents[1:]) if t is not None]

    def branch_jvp(branch):
        def pushed(*vals):
            tangents_in = [None] * len(ops)
            for k, i in enumerate(active):
                tangents_in[i] = vals[len(ops) + k]
            outs, touts = jvp_replay(branch, list(vals[: len(ops)]), tangents_in)
            return outs + [A.zeros_like(o) if t is None else t for o, t in zip(outs, touts)
                           if is_float(A.dtype_of(o))]

        types = [A.type_of(v) for v in ops + [tangents[1 + i] for i in active]]
        return trace_region(pushed, types, "jvp_" + branch.name)

    outs = cond_bind(index, [branch_jvp(b) for b in branches],
                     ops + [tangents[1 + i] for i in active])
    n = len(branches[0].results)
    t_iter = iter(outs[n:])
    touts = [next(t_iter) if is_float(t.dtype) else None for t in branches[0].out_types]
    return touts


def _cond_batch(args, dims, branches):
    from ..batching import batch_replay
    from .rules import batch_size, batched

    n = batch_size(args, dims)
    index, ops = args[0], list(args[1:])

    def branch_batched(branch):
        def run(*vals):
            outs, out_dims = batch_replay(branch, list(vals), list(dims[1:]))
            return [batched(o, d, n) for o, d in zip(outs, out_dims)]

        return run

    if dims[0] is None:  # one branch for the whole batch
        fns = [trace_region(branch_batched(b), [A.type_of(v) for v in ops], "batched_" + b.name)
               for b in branches]
        outs = cond_bind(index, fns, ops)
    else:  # a branch per example: run every branch and select
        results = [branch_batched(b)(*ops) for b in branches]
        idx = A.clip(index, 0, len(branches) - 1)
        outs = results[0]
        for k, res in enumerate(results[1:], 1):
            outs = [A.where(A.reshape(A.equal(idx, k), (n,) + (1,) * (len(A.shape_of(o)) - 1)),
                            r, o) for o, r in zip(outs, res)]
    return outs, [0] * len(outs)


cond_p = Primitive("cond", None, _cond_shape, _cond_np, vjp=_cond_vjp, jvp=_cond_jvp,
                   batch=_cond_batch, lower="cond", torch_name="CondBackward0",
                   multiple_results=True)



# ---- while_loop --------------------------------------------------------------------------


def _while_shape(*types, cond, body, num_cond_consts, num_body_consts):
    cc, bc, carry = _split(types, num_cond_consts, num_body_consts)
    if cond.in_types != cc + carry or cond.out_types != [TensorType("bool", ())]:
        raise TypeError("cond must take (consts, carry) and return bool[]")
    if body.in_types != bc + carry or body.out_types != carry:
        raise TypeError("body returns (" + ", ".join(map(str, body.out_types)) + ") for a "
                        "carry of (" + ", ".join(map(str, carry)) + ")")
    return list(carry)


def _while_np(*args, cond, body, num_cond_consts, num_body_consts):
    cc, bc, carry = _split(args, num_cond_consts, num_body_consts)
    while bool(_run(cond, cc + carry)[0]):
        carry = _run(body, bc + carry)
    return tuple(carry)


def while_bind(cond, body, cond_consts, body_consts, carry):
    return list(while_p(*cond_consts, *body_consts, *carry, cond=cond, body=body,
                        num_cond_consts=len(cond_consts), num_body_consts=len(body_consts)))


def _repeat(body, consts, init, count):
    """body applied `count` times (a traced i64[] count) to `init`, as a counted while loop."""
    from ..autodiff import replay

    types = [A.type_of(v) for v in init]
    i64 = TensorType("i64", ())
    test = trace_region(lambda n, i, *c: [A.less(i, n)], [i64, i64] + types, "count")
    step = trace_region(lambda *v: [v[len(consts)] + 1] + [
        replay(body, list(v[: len(consts)]) + list(v[len(consts) + 1 :]))[r]
        for r in body.results], [A.type_of(c) for c in consts] + [i64] + types, "repeat")
    return while_bind(test, step, [count], list(consts), [np.int64(0)] + list(init))[1:]


def _while_vjp(g, *args, out, cond, body, num_cond_consts, num_body_consts):
    # The trip count T is recorded by a counting run; then step t = T-1 .. 0 pulls the carry's
    # cotangent back through the body at the carry it saw, recomputed from the start (O(T^2)
    # body evaluations, no storage: prefer scan/fori_loop with a static count for long loops).
    from ..autodiff import pull_back, replay

    cc, bc, init = _split(args, num_cond_consts, num_body_consts)
    gs = g if isinstance(g, list) else [g]
    i64 = TensorType("i64", ())
    types = [A.type_of(v) for v in init]
    counting_test = trace_region(
        lambda *v: [replay(cond, list(v[: len(cc)]) + list(v[len(cc) + 1:]))[cond.results[0]]],
        [A.type_of(c) for c in cc] + [i64] + types, "counting_" + cond.name)
    counting_body = trace_region(lambda *v: [v[len(bc)] + 1] + [
        replay(body, list(v[: len(bc)]) + list(v[len(bc) + 1:]))[r] for r in body.results],
        [A.type_of(c) for c in bc] + [i64] + types, "counting_" + body.name)
    trips = while_bind(counting_test, counting_body, cc, bc, [np.int64(0)] + list(init))[0]

    f_bc = [i for i, c in enumerate(bc) if is_float(A.dtype_of(c))]
    f_carry = [i for i, c in enumerate(init) if is_float(A.dtype_of(c))]
    wrt = f_bc + [len(bc) + i for i in f_carry]

    def back_step(*vals):
        consts, start, (k, *rest) = _split(vals, len(bc), len(init))
        ct_c, acc = rest[: len(f_carry)], rest[len(f_carry):]
        carry_k = _repeat(body, consts, start, k)
        env = replay(body, consts + carry_k)
        cts = [None] * len(init)
        for j, i in enumerate(f_carry):
            cts[i] = ct_c[j]
        got = pull_back(body, env, cts, wrt)
        got = [A.zeros_like(env[body.params[w]]) if v is None else v for w, v in zip(wrt, got)]
        return [k - 1] + got[len(f_bc):] + [a + d for a, d in zip(acc, got[: len(f_bc)])]

    ct_types = [types[i] for i in f_carry] + [A.type_of(bc[i]) for i in f_bc]
    loop_types = [A.type_of(c) for c in bc] + types + [i64] + ct_types
    back = trace_region(back_step, loop_types, "vjp_" + body.name)
    test = trace_region(lambda k, *rest: [A.greater_equal(k, 0)], [i64] + ct_types, "not_done")
    outs = while_bind(test, back, [], bc + init,
                      [trips - 1] + [gs[i] for i in f_carry] +
                      _zeros_for([bc[i] for i in f_bc]))
    ct_carry, ct_bc = outs[1 : 1 + len(f_carry)], outs[1 + len(f_carry):]
    return tuple(_placed(len(args), (len(cc), f_bc, ct_bc), (len(cc) + len(bc), f_carry, ct_carry)))


def _while_jvp(primals, tangents, out, cond, body, num_cond_consts, num_body_consts):
    from ..autodiff.forward import jvp_replay

    cc, bc, carry = _split(primals, num_cond_consts, num_body_consts)
    _, t_bc, t_carry = _split(tangents, num_cond_consts, num_body_consts)
    a_bc = [i for i, t in enumerate(t_bc) if t is not None]
    f_carry = [i for i, c in enumerate(carry) if is_float(A.dtype_of(c))]
    tc0 = [t_carry[i] if t_carry[i] is not None else A.zeros_like(carry[i]) for i in f_carry]

    def step(*vals):
        b, tb, c, tc = _split(vals, len(bc), len(a_bc), len(carry))
        tangents_in = _placed(len(body.params), (0, a_bc, tb), (len(bc), f_carry, tc))
        outs, touts = jvp_replay(body, b + c, tangents_in)
        return outs + [A.zeros_like(outs[i]) if touts[i] is None else touts[i] for i in f_carry]

    from ..autodiff import replay

    types = [A.type_of(v) for v in bc + [t_bc[i] for i in a_bc] + carry + tc0]
    fn = trace_region(step, types, "jvp_" + body.name)
    test = trace_region(lambda *v: [replay(cond, list(v[: len(cc) + len(carry)]))
                                    [cond.results[0]]],
                        [A.type_of(v) for v in cc + carry + tc0], cond.name)
    outs = while_bind(test, fn, cc, bc + [t_bc[i] for i in a_bc], carry + tc0)
    touts = [None] * len(carry)
    for j, i in enumerate(f_carry):
        touts[i] = outs[len(carry) + j]
    return touts


def _while_batch(args, dims, cond, body, num_cond_consts, num_body_consts):
    # every carry is batched; while any example's predicate holds, step all of them and keep
    # the old carry where that example's predicate is false
    from ..batching import batch_replay
    from .rules import batch_size, batched

    n = batch_size(args, dims)
    cc, bc, carry = _split(args, num_cond_consts, num_body_consts)
    ccd, bcd, _ = _split(dims, num_cond_consts, num_body_consts)
    carry = [batched(c, d, n) for c, d in zip(carry, dims[len(cc) + len(bc):])]

    def predicate(c_consts, c):
        (p,), (d,) = batch_replay(cond, list(c_consts) + list(c), ccd + [0] * len(c))
        return batched(p, d, n)

    def step(*vals):
        c_consts, b_consts, c = _split(vals, len(cc), len(bc))
        keep_going = predicate(c_consts, c)
        outs, out_dims = batch_replay(body, b_consts + c, bcd + [0] * len(c))
        new = [batched(o, d, n) for o, d in zip(outs, out_dims)]
        return [A.where(A.reshape(keep_going, (n,) + (1,) * (len(A.shape_of(o)) - 1)), o, old)
                for o, old in zip(new, c)]

    any_test = trace_region(lambda *v: [A.greater(A.sum(A.cast(predicate(
        v[: len(cc)], v[len(cc):]), "i64")), 0)], [A.type_of(v) for v in cc + carry],
        "any_" + cond.name)
    fn = trace_region(step, [A.type_of(v) for v in cc + bc + carry], "batched_" + body.name)
    outs = while_bind(any_test, fn, cc, cc + bc, carry)
    return outs, [0] * len(outs)


while_p = Primitive("while_loop", None, _while_shape, _while_np, vjp=_while_vjp, jvp=_while_jvp,
                    batch=_while_batch, lower="while_loop", torch_name="WhileBackward0",
                    multiple_results=True)
