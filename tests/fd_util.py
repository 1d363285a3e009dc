"""Pytree arithmetic and central finite differences for checking whole-program gradients.

Arguments are pytrees (tuples, lists, dicts) of numpy arrays and Python floats; the helpers
keep each leaf's kind (a Python float stays a float, an f32 array stays f32).
"""

from __future__ import annotations

import numpy as np

from gradjit.tracer import pytree


def tree_map(f, tree, *rest):
    leaves, td = pytree.flatten(tree)
    others = [pytree.flatten(r)[0] for r in rest]
    return pytree.unflatten(td, [f(x, *ys) for x, *ys in zip(leaves, *others)])


def leaves(tree) -> list:
    return pytree.flatten(tree)[0]


def _is_float_leaf(x) -> bool:
    return isinstance(x, float) or np.asarray(x).dtype.kind == "f"


def random_like(rng, tree):
    """A random direction shaped like `tree` (floats for Python floats)."""
    def draw(x):
        if isinstance(x, float):
            return float(rng.normal())
        return rng.normal(size=np.shape(x)).astype(np.asarray(x).dtype)

    return tree_map(draw, tree)


def vdot(a, b) -> float:
    """<a, b> summed over every leaf, in f64."""
    return float(sum(np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64))
                     for x, y in zip(leaves(a), leaves(b))))


def axpy(alpha: float, v, x):
    """x + alpha * v leafwise, keeping each leaf of x's kind and dtype."""
    def step(xi, vi):
        if isinstance(xi, float):
            return xi + alpha * float(vi)
        xi = np.asarray(xi)
        return (xi + alpha * np.asarray(vi, np.float64)).astype(xi.dtype)

    return tree_map(step, x, v)


def argnums_tuple(argnums) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def wrt(args, argnums) -> list:
    """The differentiated arguments, as a list (one entry per argnum)."""
    return [args[i] for i in argnums_tuple(argnums)]


def grads_as_list(g, argnums) -> list:
    """A gradient as grad returns it (one tree, or a tuple for tuple argnums) as a list."""
    return [g] if isinstance(argnums, int) else list(g)


def replace_wrt(args, argnums, new) -> tuple:
    out = list(args)
    for i, value in zip(argnums_tuple(argnums), new):
        out[i] = value
    return tuple(out)


def directional_fd(f, args, argnums, v, eps: float):
    """(f(x + eps v) - f(x - eps v)) / 2 eps, moving only the differentiated arguments.

    f may return a pytree; the result is that pytree of difference quotients (in f64).
    """
    x = wrt(args, argnums)
    hi = f(*replace_wrt(args, argnums, axpy(eps, v, x)))
    lo = f(*replace_wrt(args, argnums, axpy(-eps, v, x)))
    return tree_map(lambda a, b: (np.asarray(a, np.float64) - np.asarray(b, np.float64))
                    / (2 * eps), hi, lo)


def to_f64(tree):
    """Float leaves as f64 (integer and boolean leaves unchanged)."""
    return tree_map(lambda x: np.asarray(x, np.float64) if _is_float_leaf(x) and
                    not isinstance(x, float) else x, tree)
