"""Structured control flow for traced code: `scan`, `fori_loop`, `while_loop`, `cond`, `switch`,
and `checkpoint` (rematerialization).

Each traces its body once into a region (a sub-Function), however many times it runs, so a
1,000-step recurrence is one loop in the IR, and its gradient is one reverse loop.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .errors import TraceError
from .ir.core import Function
from .ops import api as A
from .ops import control as C
from .ops.primitive import user_loc
from .ops.remat import remat_bind
from .tracer import pytree
from .tracer.core import trace_flat


def _closed(f, in_tree, in_types, name, out_types=None):
    """Trace f on tracers of in_types into a closed region: values it captures from an
    enclosing trace become leading const parameters. Returns (region, consts, out tree)."""
    box = {}

    def flat(*leaves):
        out = f(*pytree.unflatten(in_tree, leaves))
        flat_out, box["tree"] = pytree.flatten(out)
        if out_types is not None:
            flat_out = [_like(o, t, name) for o, t in zip(flat_out, out_types)]
        return flat_out

    fn, captured = trace_flat(flat, in_types, name)
    n = len(in_types)
    region = Function(fn.name, fn.params[n:] + fn.params[:n], fn.body, fn.results)
    return region, captured, box["tree"]


def _like(value, t, name):
    """A loop carry must keep its type; a weak Python number takes the carry's dtype."""
    if A.shape_of(value) != t.shape:
        raise TraceError(name, f"the body returns a carry of type {A.type_of(value)} for a "
                         f"carry of type {t}", user_loc(),
                         "a loop body must return its carry with unchanged shapes and dtypes")
    return A.asarray(value, t.dtype)


def _leaves_and_types(tree):
    leaves, td = pytree.flatten(tree)
    leaves = [A.asarray(x) for x in leaves]
    return leaves, td, [A.type_of(x) for x in leaves]


def scan(f, init, xs=None, length=None, reverse=False, checkpoint=None):
    """carry, ys = scan(f, init, xs): `carry, y = f(carry, x)` for each x along xs' first axis.

    checkpoint="sqrt": reverse mode stores about 2*sqrt(T) carries instead of T (see _scan_sqrt).
    """
    if checkpoint not in (None, "sqrt"):
        raise TraceError("scan", f"unknown checkpoint={checkpoint!r}; use None or 'sqrt'",
                         user_loc())
    carry, carry_tree, carry_types = _leaves_and_types(init)
    x_leaves, x_tree, x_types = _leaves_and_types(xs)
    lengths = {t.shape[0] for t in x_types if t.shape}
    if length is not None:
        lengths.add(int(length))
    if len(lengths) != 1 or any(not t.shape for t in x_types):
        raise TraceError("scan", f"xs must share one leading length (got {sorted(lengths)}) "
                         "or pass length= when there are no xs", user_loc())
    (n,) = lengths
    if checkpoint == "sqrt" and n > 3:
        return _scan_sqrt(f, init, xs, n, reverse)
    slice_types = [t.with_shape(t.shape[1:]) for t in x_types]
    in_tree = pytree.flatten((init, xs))[1]

    def body(c, x):
        new_carry, y = f(c, x)
        new_leaves, tree = pytree.flatten(new_carry)
        if tree != carry_tree:
            raise TraceError("scan", "the body must return (carry, y) with the carry "
                             "structured like init", user_loc())
        return [_like(v, t, "scan") for v, t in zip(new_leaves, carry_types)], y

    region, consts, out_tree = _closed(body, in_tree, carry_types + slice_types, "body")
    outs = C.scan_bind(region, consts, carry, x_leaves, n, reverse)
    new_carry, ys = outs[: len(carry)], outs[len(carry):]
    y_tree = out_tree.children[1]
    return pytree.unflatten(carry_tree, new_carry), pytree.unflatten(y_tree, ys)


def _scan_sqrt(f, init, xs, n, reverse):
    """A scan of T = B*K + R steps as a scan over B blocks, each a scan of K ~ sqrt(T) steps,
    then the R < K left over. Reverse mode of a scan stores only the carry each step saw (the
    step's intermediates are recomputed from it), so the outer scan stores B block-start
    carries, and the backward recomputes one block's K carries at a time from its start."""
    k = math.isqrt(n - 1) + 1  # ceil(sqrt(n))
    blocks, rest = divmod(n, k)
    leaves, tree = pytree.flatten(xs)
    leaves = [A.asarray(x) for x in leaves]
    # the R left-over steps are the ones that run last: at the end, or at the start if reverse
    cut = rest if reverse else blocks * k
    main, tail = ([x[cut:] for x in leaves], [x[:cut] for x in leaves]) if reverse else \
        ([x[:cut] for x in leaves], [x[cut:] for x in leaves])
    main = [A.reshape(x, (blocks, k) + A.shape_of(x)[1:]) for x in main]
    carry, ys = scan(lambda c, xb: scan(f, c, xb, length=k, reverse=reverse), init,
                     pytree.unflatten(tree, main), length=blocks, reverse=reverse)
    y_leaves, y_tree = pytree.flatten(ys)
    y_leaves = [A.reshape(y, (blocks * k,) + A.shape_of(y)[2:]) for y in y_leaves]
    if rest:
        carry, ys_tail = scan(f, carry, pytree.unflatten(tree, tail), length=rest,
                              reverse=reverse)
        parts = zip(pytree.flatten(ys_tail)[0], y_leaves)
        y_leaves = [A.concatenate([t, y] if reverse else [y, t]) for t, y in parts]
    return carry, pytree.unflatten(y_tree, y_leaves)


def checkpoint(f):
    """f, rematerialized: reverse mode keeps only f's operands and recomputes f's
    intermediates in the backward pass (one `remat` instruction, whose region is f)."""

    @functools.wraps(f)
    def rematerialized(*args):
        leaves, tree, types = _leaves_and_types(args)
        region, consts, out_tree = _closed(f, tree, types, "remat_" + _name(f))
        return pytree.unflatten(out_tree, remat_bind(region, consts + leaves))

    return rematerialized


def _name(f) -> str:
    name = getattr(f, "__name__", "f")
    return name if name.isidentifier() else "f"


def fori_loop(lower, upper, body_fun, init_val):
    """body_fun(i, val) for i in [lower, upper): a scan for Python-int bounds (differentiable
    in reverse), a while loop for traced bounds."""
    if isinstance(lower, (int, np.integer)) and isinstance(upper, (int, np.integer)):
        out, _ = scan(lambda v, i: (body_fun(i, v), None), init_val,
                      np.arange(int(lower), max(int(upper), int(lower)), dtype=np.int64))
        return out
    state = while_loop(lambda s: A.less(s[0], s[1]),
                       lambda s: (s[0] + 1, s[1], body_fun(s[0], s[2])),
                       (A.asarray(lower, "i64"), A.asarray(upper, "i64"), init_val))
    return state[2]


def while_loop(cond_fun, body_fun, init_val):
    """Repeat `val = body_fun(val)` while `cond_fun(val)`; reverse mode records the trip count
    and recomputes (O(T^2) body evaluations)."""
    carry, tree, types = _leaves_and_types(init_val)
    test, test_consts, test_tree = _closed(lambda *c: cond_fun(pytree.unflatten(tree, c)),
                                           pytree.flatten(tuple(carry))[1], types, "cond")
    if test.out_types != [A.TensorType("bool", ())]:
        raise TraceError("while_loop", "cond_fun must return a bool scalar, got "
                         f"{', '.join(map(str, test.out_types))}", user_loc())
    step, step_consts, _ = _closed(
        lambda *c: pytree.flatten(body_fun(pytree.unflatten(tree, c)))[0],
        pytree.flatten(tuple(carry))[1], types, "body", out_types=types)
    outs = C.while_bind(test, step, test_consts, step_consts, carry)
    return pytree.unflatten(tree, outs)


def switch(index, branches, *operands):
    """branches[index](*operands), with index clamped to the valid range."""
    leaves, tree, types = _leaves_and_types(operands)
    regions, consts, trees = [], [], []
    for i, b in enumerate(branches):
        region, c, out_tree = _closed(lambda *ops, b=b: b(*ops), tree, types, f"branch{i}")
        regions.append(region)
        consts.append(c)
        trees.append(out_tree)
    if any(t != trees[0] for t in trees):
        raise TraceError("cond", "branches must return the same structure", user_loc())
    regions, all_consts = _unify_consts(regions, consts, len(leaves))
    index = A.asarray(index, "i64") if not A.is_tracer(index) else A.asarray(index, "i64")
    outs = C.cond_bind(index, regions, all_consts + leaves)
    return pytree.unflatten(trees[0], outs)


def cond(pred, true_fun, false_fun, *operands):
    """true_fun(*operands) if pred else false_fun(*operands); both branches are traced."""
    index = A.cast(A.asarray(pred, "bool"), "i64")
    return switch(index, [false_fun, true_fun], *operands)


def _unify_consts(regions, consts, n_ops):
    """Give every branch the same leading const parameters (the union of their captures)."""
    union, key = [], {}
    for cs in consts:
        for c in cs:
            if id(c) not in key:
                key[id(c)] = len(union)
                union.append(c)
    out = []
    for region, cs in zip(regions, consts):
        types = [A.type_of(c) for c in union] + region.in_types[len(cs):]

        def call(*vals, region=region, cs=cs):
            from .tracer.core import inline

            mine = [vals[key[id(c)]] for c in cs]
            return inline(region, mine + list(vals[len(union):]))

        out.append(C.trace_region(call, types, region.name))
    return out, union
