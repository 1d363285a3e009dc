"""Forward mode and batching for users: jvp, vmap, and the Jacobians built on them.

`jacfwd` pushes a whole basis of tangents through one batched JVP, `jacrev` pulls a whole basis
of cotangents through one batched VJP, and `hessian` is forward-over-reverse: each is one traced
Function whose size does not grow with the number of inputs or outputs.
"""

from __future__ import annotations

import functools

from ..autodiff import pull_back, replay
from ..autodiff.forward import jvp_replay
from ..batching import batch_replay
from ..errors import TraceError
from ..ir.types import TensorType, is_float
from ..ops import api as A
from ..ops.primitive import user_loc
from . import pytree
from .core import trace_flat
from .staging import LeafInfo, Traced, trace_user
from .transforms import (Transformed, _argnums_tuple, _float_leaf_range, _grads_tree,
                         _map_leaves, jit)


def vmap_flat(f, args, dims, name="vmapped"):
    """f(*per-example args) -> list, applied along axis 0 of the args whose dim is 0."""
    sizes = {A.shape_of(x)[0] for x, d in zip(args, dims) if d is not None}
    if len(sizes) != 1:
        raise TraceError("vmap", "needs at least one batched argument and equal batch sizes, "
                         f"got sizes {sorted(sizes)}", user_loc())
    (n,) = sizes
    types = [A.type_of(x) for x in args]
    types = [t.with_shape(t.shape[1:]) if d is not None else t for t, d in zip(types, dims)]
    # unbatched Python numbers stay weakly typed (x32 * 2.0 is f32 under vmap as under jit)
    fn, captured = trace_flat(f, types, name, weak=[A.is_weak(x) for x in args])
    outs, out_dims = batch_replay(fn, list(args) + captured, list(dims) + [None] * len(captured))
    return [A.broadcast_to(o, (n,) + A.shape_of(o)) if d is None else o
            for o, d in zip(outs, out_dims)]


def _prefix(prefix, tree, what):
    """One axis (or None) per leaf of `tree`, from an int/None or a matching pytree prefix."""
    if prefix is None or isinstance(prefix, int):
        return [prefix] * len(pytree.flatten(tree)[0])
    if isinstance(prefix, (list, tuple)) and isinstance(tree, (list, tuple)) and \
            len(prefix) == len(tree):
        return [a for p, t in zip(prefix, tree) for a in _prefix(p, t, what)]
    if isinstance(prefix, dict) and isinstance(tree, dict) and set(prefix) == set(tree):
        return [a for k in sorted(tree) for a in _prefix(prefix[k], tree[k], what)]
    raise TraceError("vmap", f"{what} {prefix!r} does not match the structure of the "
                     "arguments/outputs", user_loc())


def vmap(f, in_axes=0, out_axes=0):
    """f mapped over an axis of its arguments: one batched Function, not a Python loop."""

    @functools.wraps(f)
    def batched(*args):
        axes = _prefix(in_axes if isinstance(in_axes, (list, tuple, dict)) or in_axes is None
                       or isinstance(in_axes, int) else in_axes, tuple(args), "in_axes")
        if isinstance(in_axes, list):
            axes = _prefix(tuple(in_axes), tuple(args), "in_axes")
        leaves, in_tree = pytree.flatten(list(args))
        moved, dims = [], []
        for x, ax in zip(leaves, axes):
            if ax is None:
                moved.append(x)
                dims.append(None)
            else:
                moved.append(A.moveaxis(x, ax, 0))
                dims.append(0)
        box = {}

        def per_example(*xs):
            out = f(*pytree.unflatten(in_tree, xs))
            flat, box["tree"] = pytree.flatten(out)
            return flat

        outs = vmap_flat(per_example, moved, dims, f"vmap_{getattr(f, '__name__', 'f')}")
        out = pytree.unflatten(box["tree"], outs)
        out_ax = _prefix(out_axes, out, "out_axes")
        outs = [o if ax in (0, None) else A.moveaxis(o, 0, ax) for o, ax in zip(outs, out_ax)]
        return pytree.unflatten(box["tree"], outs)

    return jit(batched)


def jvp(f, primals, tangents):
    """(f(*primals), the directional derivative of f at primals along tangents)."""
    primals, tangents = tuple(primals), tuple(tangents)
    p_leaves, p_tree = pytree.flatten(primals)
    t_leaves, t_tree = pytree.flatten(tangents)
    if p_tree != t_tree:
        raise TraceError("jvp", "tangents must have the structure of the primals", user_loc())
    for p, t in zip(p_leaves, t_leaves):
        if A.shape_of(p) != A.shape_of(t):
            raise TraceError("jvp", f"tangent shape {list(A.shape_of(t))} does not match the "
                             f"primal {A.type_of(p)}", user_loc())

    def pushed(ps, ts):
        leaves, in_tree = pytree.flatten(list(ps))
        infos = [LeafInfo(A.type_of(x), A.is_weak(x)) for x in leaves]
        traced = trace_user(f, ps, infos, None, getattr(f, "__name__", "f"))
        ts_flat = [A.asarray(t, A.dtype_of(p)) if is_float(A.dtype_of(p)) else None
                   for p, t in zip(leaves, pytree.flatten(list(ts))[0])]
        outs, touts = jvp_replay(traced.fn, leaves + traced.captured,
                                 ts_flat + [None] * len(traced.captured))
        touts = [A.zeros_like(o) if t is None else t for o, t in zip(outs, touts)]
        return (pytree.unflatten(traced.out_tree, outs), pytree.unflatten(traced.out_tree, touts))

    return jit(pushed)(primals, tangents)


def _basis(info: TensorType):
    m = info.size
    return A.reshape(A.eye(m, dtype=info.dtype), (m,) + info.shape)


def _jacobian(f, argnums, op, backend, columns):
    """A Jacobian transform; `columns(traced, xs, wrt, infos)` gives blocks[out][wrt]."""

    def build(traced: Traced, dynamic, infos, loc, argnums):
        fn = traced.fn
        nums = _argnums_tuple(argnums, len(dynamic), op, loc)
        wrt = _float_leaf_range(dynamic, nums, infos, op, loc)
        for r in fn.results:
            if not is_float(r.type.dtype):
                raise TraceError(op, f"the output has type {r.type}; only float outputs have "
                                 "a Jacobian", loc)

        def jac(*xs):
            blocks = columns(traced, list(xs) + traced.captured, wrt, infos)
            return [b for row in blocks for b in row]

        jfn, captured = trace_flat(jac, fn.in_types[: len(infos)], f"{op}_{fn.name}",
                                   [p.hint for p in fn.params], [i.weak for i in infos])
        grads_struct = _grads_tree(dynamic, nums, isinstance(argnums, int), wrt)
        return jfn, _map_leaves(traced.out_tree, pytree.flatten(grads_struct)[1]), captured

    return Transformed(f, op, build, backend=backend, argnums=argnums)


def _forward_columns(traced, primals, wrt, infos):
    fn = traced.fn
    blocks = [[None] * len(wrt) for _ in fn.results]
    for k, i in enumerate(wrt):
        def push(t, i=i):
            tangents = [None] * len(primals)
            tangents[i] = t
            outs, touts = jvp_replay(fn, primals, tangents)
            return [A.zeros_like(o) if t is None else t for o, t in zip(outs, touts)]

        cols = vmap_flat(push, [_basis(infos[i].type)], [0], "jvp_columns")
        for j, (c, r) in enumerate(zip(cols, fn.results)):
            blocks[j][k] = A.reshape(A.moveaxis(c, 0, -1), r.type.shape + infos[i].type.shape)
    return blocks


def _reverse_rows(traced, primals, wrt, infos):
    fn = traced.fn
    env = replay(fn, primals)
    blocks = []
    for j, r in enumerate(fn.results):
        def pull(ct, j=j):
            cts = [None] * len(fn.results)
            cts[j] = ct
            grads = pull_back(fn, env, cts, wrt)
            return [A.zeros_like(primals[i]) if g is None else g for i, g in zip(wrt, grads)]

        rows = vmap_flat(pull, [_basis(r.type)], [0], "vjp_rows")
        blocks.append([A.reshape(row, r.type.shape + infos[i].type.shape)
                       for row, i in zip(rows, wrt)])
    return blocks


def jacfwd(f=None, argnums=0, backend=None):
    """The Jacobian by forward mode (one batched JVP over a basis of input tangents)."""
    if f is None:
        return functools.partial(jacfwd, argnums=argnums, backend=backend)
    return _jacobian(f, argnums, "jacfwd", backend, _forward_columns)


def jacrev(f=None, argnums=0, backend=None):
    """The Jacobian by reverse mode (one batched VJP over a basis of output cotangents).

    For an output leaf of shape O and an argument leaf of shape I the block has shape O + I.
    """
    if f is None:
        return functools.partial(jacrev, argnums=argnums, backend=backend)
    return _jacobian(f, argnums, "jacrev", backend, _reverse_rows)


jacobian = jacrev


def hessian(f=None, argnums=0, backend=None):
    """Forward-over-reverse: jacfwd(jacrev(f)). For x of shape I, an array of shape I + I."""
    if f is None:
        return functools.partial(hessian, argnums=argnums, backend=backend)
    return jacfwd(jacrev(f, argnums, backend), argnums, backend)
