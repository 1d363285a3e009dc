"""Forward mode (jvp, jacfwd) and batching (vmap) on whole programs, and the Jacobians built
on them: each checked against finite differences, reverse mode, or a Python loop."""

from __future__ import annotations

import functools

import fd_util as fd
import numpy as np
import programs as P
import pytest

import gradjit
import gradjit.numpy as gnp

F64 = [p for p in P.PROGRAMS if "f32" not in p.flags]


def by_name(progs):
    return pytest.mark.parametrize("prog", progs, ids=[p.name for p in progs])


def _close(got, want, rtol):
    assert abs(got - want) <= rtol * (1.0 + abs(want)), f"{got!r} != {want!r}"


def _partial(prog, args):
    """prog.fn as a function of its differentiated arguments only (the rest held fixed)."""
    nums = fd.argnums_tuple(prog.argnums)

    def f(*diff):
        full = list(args)
        for n, v in zip(nums, diff):
            full[n] = v
        return prog.fn(*full)

    return f, [args[n] for n in nums]


@by_name(F64)
def test_jvp_matches_finite_differences_and_vjp(prog):
    args = prog.args()
    f, diff = _partial(prog, args)
    rng = np.random.default_rng(7)
    v = fd.random_like(rng, diff)
    out, tangent = gradjit.jvp(f, diff, v)
    assert out == pytest.approx(prog.fn(*args), rel=1e-12)
    eps = 1e-6
    plus, minus = f(*fd.axpy(eps, v, diff)), f(*fd.axpy(-eps, v, diff))
    _close(float(tangent), (plus - minus) / (2 * eps), 1e-6)
    # <J v, 1> == <v, J^T 1>: forward and reverse agree exactly up to rounding
    g = gradjit.grad(f, argnums=tuple(range(len(diff))))(*diff)
    _close(float(tangent), fd.vdot(v, list(g)), 1e-10)


@by_name(F64)
def test_jacfwd_equals_jacrev_and_grad(prog):
    args = prog.args()
    fwd = gradjit.jacfwd(prog.fn, argnums=prog.argnums)(*args)
    rev = gradjit.jacrev(prog.fn, argnums=prog.argnums)(*args)
    grad = gradjit.grad(prog.fn, argnums=prog.argnums)(*args)
    for a, b, c in zip(fd.leaves(fwd), fd.leaves(rev), fd.leaves(grad)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b, c, rtol=1e-10, atol=1e-12)


HESSIAN_PROGRAMS = [p for p in F64 if p.name in {
    "rosenbrock", "mlp_onehot", "gmm_tril", "logistic_regression", "unary_math", "powers",
    "gather_scatter", "slicing_steps", "reductions_keepdims", "prod_and_std", "einsum_forms"}]


@by_name(HESSIAN_PROGRAMS)
def test_forward_over_reverse_equals_reverse_over_reverse(prog):
    args = prog.args()
    nums = prog.argnums
    g = gradjit.grad(prog.fn, argnums=nums)
    fwd = gradjit.jacfwd(g, argnums=nums)(*args)
    rev = gradjit.jacrev(g, argnums=nums)(*args)
    for a, b in zip(fd.leaves(fwd), fd.leaves(rev)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def _chain(x):
    return np.sum(x[:-1] ** 2 * x[1:]) + np.sum(np.sin(x))


def _chain_hessian(x):
    n = len(x)
    H = np.diag(-np.sin(x))
    i = np.arange(n - 1)
    H[i, i] += 2 * x[1:]
    H[i, i + 1] += 2 * x[:-1]
    H[i + 1, i] += 2 * x[:-1]
    return H


@pytest.mark.parametrize("n", [3, 100, 400])
def test_hessian_is_one_function_whose_size_does_not_grow(n):
    x = np.linspace(-1, 1, n)
    h = gradjit.hessian(_chain)
    np.testing.assert_allclose(h(x), _chain_hessian(x), rtol=1e-13, atol=1e-13)
    size = len(h.trace(x).body)
    assert size == len(gradjit.hessian(_chain).trace(np.linspace(-1, 1, 257)).body) or size < 60


def test_hessian_instruction_count_independent_of_n():
    counts = {n: len(gradjit.hessian(_chain).trace(np.linspace(0, 1, n)).body)
              for n in (70, 200, 1000)}
    assert len(set(counts.values())) == 1, counts


def test_hessian_of_quadratic_form_and_two_arguments():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 6))
    x = rng.normal(size=6)
    np.testing.assert_allclose(gradjit.hessian(lambda v: v @ A @ v)(x), A + A.T, rtol=1e-13)
    f = lambda x, y: np.sum(x ** 2 * y) + np.sum(y ** 3)  # noqa: E731
    y = rng.normal(size=6)
    (hxx, hxy), (hyx, hyy) = gradjit.hessian(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(hxx, np.diag(2 * y), rtol=1e-14)
    np.testing.assert_allclose(hxy, np.diag(2 * x), rtol=1e-14)
    np.testing.assert_allclose(hyx, np.diag(2 * x), rtol=1e-14)
    np.testing.assert_allclose(hyy, np.diag(6 * y), rtol=1e-14)


def test_vmap_matches_a_python_loop():
    rng = np.random.default_rng(1)
    W, xs = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))

    def f(x, W, k):
        return np.tanh(x @ W) * k + np.sum(x ** 2)

    got = gradjit.vmap(f, in_axes=(0, None, None))(xs, W, 2.0)
    want = np.stack([f(x, W, 2.0) for x in xs])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    got = gradjit.vmap(f, in_axes=(1, None, None), out_axes=1)(xs.T.copy(), W, 2.0)
    np.testing.assert_allclose(got, want.T, rtol=1e-14)


def test_nested_vmap_and_pytrees():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 4, 2)), rng.normal(size=(4, 2))

    def f(p):
        return {"dot": np.sum(p["a"] * p["b"]), "a2": p["a"] * 2}

    inner = gradjit.vmap(f, in_axes=({"a": 0, "b": 0},))
    outer = gradjit.vmap(inner, in_axes=({"a": 0, "b": None},))
    got = outer({"a": a, "b": b})
    np.testing.assert_allclose(got["dot"], np.einsum("ijk,jk->ij", a, b), rtol=1e-14)
    np.testing.assert_allclose(got["a2"], 2 * a)


def test_per_example_gradients_match_a_loop():
    prog = next(p for p in F64 if p.name == "mlp_labels")
    params, x, labels = prog.args()

    def loss(params, xi, yi):
        return prog.fn(params, xi[None], yi[None])

    per_example = gradjit.vmap(gradjit.grad(loss), in_axes=(None, 0, 0))(params, x, labels)
    for i in range(len(x)):
        want = gradjit.grad(loss)(params, x[i], labels[i])
        for k in want:
            np.testing.assert_allclose(per_example[k][i], want[k], rtol=1e-12, atol=1e-14)


def test_jit_of_vmap_of_grad_is_one_function():
    f = lambda w, x: np.sum(np.sin(w * x) ** 2)  # noqa: E731
    g = gradjit.jit(gradjit.vmap(gradjit.grad(f), in_axes=(None, 0)))
    w, xs = np.linspace(0, 1, 3), np.linspace(0, 1, 12).reshape(4, 3)
    fn = g.trace(w, xs)
    assert fn.out_types[0].shape == (4, 3)
    want = np.stack([2 * np.sin(w * x) * np.cos(w * x) * x for x in xs])
    np.testing.assert_allclose(g(w, xs), want, rtol=1e-13)


def test_gathers_and_scatters_batch_over_both_operands():
    rng = np.random.default_rng(3)
    x, idx = rng.normal(size=(4, 6, 3)), rng.integers(0, 6, size=(4, 5))
    got = gradjit.vmap(lambda a, i: a[i] * 2)(x, idx)
    np.testing.assert_allclose(got, np.stack([a[i] * 2 for a, i in zip(x, idx)]))
    upd = rng.normal(size=(4, 5, 3))
    got = gradjit.vmap(lambda a, i, u: gnp.index_add(a, i, u))(x, idx, upd)
    want = x.copy()
    for b in range(4):
        np.add.at(want[b], idx[b], upd[b])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    # unbatched table, batched indices (an embedding lookup per example)
    got = gradjit.vmap(lambda i: gnp.take(x[0], i, axis=0), in_axes=0)(idx)
    np.testing.assert_allclose(got, x[0][idx])


@functools.cache
def _jvp_columns_count(n):
    return len(gradjit.jacfwd(lambda v: np.tanh(v) @ np.ones((n, 2))).trace(np.ones(n)).body)


def test_jacfwd_size_does_not_grow_with_inputs():
    assert _jvp_columns_count(10) == _jvp_columns_count(300)


def test_vmap_errors():
    with pytest.raises(gradjit.TraceError, match="batch sizes"):
        gradjit.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))
    with pytest.raises(gradjit.TraceError, match="in_axes"):
        gradjit.vmap(lambda a: a, in_axes=(0, 0))(np.ones(3))
