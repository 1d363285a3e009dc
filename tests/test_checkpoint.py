"""Rematerialization and the scan passes of gradients: `checkpoint(f)` and
`scan(..., checkpoint="sqrt")` give the same values and derivatives as the plain code while
storing less (measured on the gradient IR), and a gradient runs its forward scan once."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import gradjit
import gradjit.numpy as gnp
from gradjit import lax
from gradjit.ir import interp, parse, verify
from gradjit.passes import hoist_invariant_xs, merge_scans
from gradjit.passes.scans import stored_residuals

RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=5), RNG.normal(size=5)


def _block(x, y):
    return np.sin(x) * np.exp(y) + x * y, np.tanh(x - y)


def _uses_block(block):
    def f(x, y):
        a, b = block(x * 1.5, y)
        return np.sum(a * a) + np.sum(np.cos(b) * x)
    return f


PLAIN, REMAT = _uses_block(_block), _uses_block(gradjit.checkpoint(_block))


@pytest.mark.parametrize("backend", ["interp", "llvm"])
def test_checkpoint_values_gradients_and_hessians_match_the_plain_function(backend):
    jit = functools.partial(gradjit.jit, backend=backend)
    assert jit(REMAT)(X, Y) == pytest.approx(PLAIN(X, Y), rel=1e-14)
    for argnums in (0, 1, (0, 1)):
        got = gradjit.grad(REMAT, argnums, backend=backend)(X, Y)
        want = gradjit.grad(PLAIN, argnums, backend="interp")(X, Y)
        for g, w in zip(np.atleast_2d(got), np.atleast_2d(want)):
            np.testing.assert_allclose(g, w, rtol=1e-13)
    hess = gradjit.jacrev(gradjit.grad(REMAT), backend=backend)(X, Y)
    np.testing.assert_allclose(hess, gradjit.hessian(PLAIN)(X, Y), rtol=1e-12, atol=1e-14)


def test_checkpoint_gradient_recomputes_in_the_backward_pass():
    fn = gradjit.grad(REMAT).trace(X, Y)
    remats = [i for i in fn.body if i.prim.name == "remat"]
    # the forward, then its pullback, itself a remat replaying the block (sin, exp recomputed)
    assert len(remats) == 2, fn
    back = str(remats[1].params["body"])
    assert "sin" in back and "exp" in back and "cos" in back
    assert not any(i.prim.name in ("exp", "tanh") for i in fn.body), str(fn)
    again = parse(str(fn))
    verify(again)
    assert str(again) == str(fn)


def test_checkpoint_forward_mode_and_vmap():
    v = np.cos(np.arange(5.0))
    _, t = gradjit.jvp(lambda x: REMAT(x, Y), (X,), (v,))
    assert t == pytest.approx(gradjit.grad(PLAIN)(X, Y) @ v, rel=1e-13)
    batch = np.stack([X, X[::-1], 2 * X])
    got = gradjit.vmap(gradjit.grad(REMAT), in_axes=(0, None))(batch, Y)
    for row, b in zip(got, batch):
        np.testing.assert_allclose(row, gradjit.grad(PLAIN)(b, Y), rtol=1e-13)


def test_checkpointed_scan_body_and_pytrees():
    def f(x, ck):
        def step(c, xi):
            new = {"a": np.sin(c["a"]) * xi + c["b"], "b": c["b"] * 0.9 + np.cos(c["a"])}
            return new, new["a"] ** 2
        body = gradjit.checkpoint(step) if ck else step
        c, ys = lax.scan(body, {"a": 0.3, "b": -0.2}, x)
        return c["a"] + np.sum(ys)

    x = np.linspace(-1, 1, 7)
    for backend in ("interp", "llvm"):
        np.testing.assert_allclose(gradjit.grad(lambda x: f(x, True), backend=backend)(x),
                                   gradjit.grad(lambda x: f(x, False))(x), rtol=1e-13)


# ---- scan(..., checkpoint="sqrt") ---------------------------------------------------------


def _recurrence(x, ck=None, reverse=False):
    def step(c, xi):
        h, k = c
        return (np.tanh(h * xi + np.sin(k)), k + 0.1 * h * xi), h * k
    (h, k), ys = lax.scan(step, (0.5, -0.3), x, reverse=reverse, checkpoint=ck)
    return h + k * k + np.sum(ys * np.linspace(1, 2, x.shape[0]))


@pytest.mark.parametrize("length", [1, 4, 9, 11, 17])
@pytest.mark.parametrize("reverse", [False, True])
def test_sqrt_checkpointed_scan_matches_the_plain_scan(length, reverse):
    x = np.sin(np.arange(length) + 0.5)
    sqrt = functools.partial(_recurrence, ck="sqrt", reverse=reverse)
    plain = functools.partial(_recurrence, reverse=reverse)
    assert gradjit.jit(sqrt)(x) == pytest.approx(plain(x), rel=1e-14)
    np.testing.assert_allclose(gradjit.grad(sqrt)(x), gradjit.grad(plain, backend="interp")(x),
                               rtol=1e-13, atol=1e-15)
    if length in (4, 11):  # second order, reverse over reverse, both backends
        want = gradjit.hessian(plain, backend="interp")(x)
        for backend in ("interp", "llvm"):
            np.testing.assert_allclose(gradjit.jacrev(gradjit.grad(sqrt), backend=backend)(x),
                                       want, rtol=1e-12, atol=1e-14)


def test_sqrt_checkpoint_without_xs_and_bad_option():
    def f(a, ck):
        c, ys = lax.scan(lambda c, _: (np.sin(c) * a, c), a, None, length=10, checkpoint=ck)
        return c + np.sum(ys)

    np.testing.assert_allclose(gradjit.grad(lambda a: f(a, "sqrt"))(0.7),
                               gradjit.grad(lambda a: f(a, None))(0.7), rtol=1e-13)
    with pytest.raises(gradjit.TraceError, match="checkpoint"):
        gradjit.jit(lambda a: f(a, "log"))(0.7)


def _lstm_loss(params, xs, checkpoint=None):
    W, U, b = params

    def cell(carry, x):
        h, c = carry
        i, f, o, g = np.split(x @ W + h @ U + b, 4)
        c = gnp.sigmoid(f) * c + gnp.sigmoid(i) * np.tanh(g)
        return (gnp.sigmoid(o) * np.tanh(c), c), None

    n = U.shape[0]
    (h, _), _ = lax.scan(cell, (np.zeros(n), np.zeros(n)), xs, checkpoint=checkpoint)
    return np.sum(h * h)


def test_lstm_stored_carries_grow_like_sqrt_t():
    rng = np.random.default_rng(3)
    n_in, n = 32, 64
    params = (rng.normal(size=(n_in, 4 * n)) * 0.2, rng.normal(size=(n, 4 * n)) * 0.2,
              np.zeros(4 * n))
    carry = 2 * n * 8  # bytes of (h, c)
    for T in (100, 1000, 10000):
        xs = np.zeros((T, n_in))
        plain = stored_residuals(gradjit.grad(_lstm_loss).trace(params, xs))
        sqrt = stored_residuals(gradjit.grad(
            functools.partial(_lstm_loss, checkpoint="sqrt")).trace(params, xs))
        assert plain == T * carry
        # block starts + one block + the left-over steps: at most 3 sqrt(T) carries
        assert 2 * np.sqrt(T) * carry <= sqrt <= 3 * np.sqrt(T) * carry, (T, sqrt)
    # and the numbers agree on a short, random sequence (compiled)
    xs = rng.normal(size=(30, n_in))
    np.testing.assert_allclose(
        gradjit.grad(functools.partial(_lstm_loss, checkpoint="sqrt"))(params, xs)[1],
        gradjit.grad(_lstm_loss, backend="interp")(params, xs)[1], rtol=1e-11, atol=1e-14)


# ---- one forward scan per gradient --------------------------------------------------------


def _forward_scans(fn, reverse=False):  # (the backward scans run the other way)
    return [i for i in fn.body if i.prim.name == "scan" and i.params["reverse"] == reverse]


@pytest.mark.parametrize("reverse", [False, True])
def test_gradient_runs_the_forward_scan_once_with_unchanged_numbers(reverse):
    f = functools.partial(_recurrence, reverse=reverse)
    x = np.cos(np.arange(8.0))
    staged = gradjit.value_and_grad(f, backend="interp")._staged((x,))[0]
    assert len(_forward_scans(staged.raw, reverse)) == 2  # replayed primal and saving scan
    merged = merge_scans(staged.raw)
    assert len(_forward_scans(merged, reverse)) == 1
    verify(merged)
    for got, want in zip(interp.run(merged, [x]), interp.run(staged.raw, [x])):
        np.testing.assert_array_equal(got, want)
    opt = gradjit.value_and_grad(f).trace(x)
    assert len([i for i in opt.body if i.prim.name == "scan"]) == 2, opt  # forward + reverse
    value, g = gradjit.value_and_grad(f)(x)
    assert value == pytest.approx(f(x), rel=1e-14)
    np.testing.assert_allclose(g, gradjit.grad(f, backend="interp")(x), rtol=1e-13)


def test_scans_with_different_bodies_are_not_merged():
    def f(x):
        a, _ = lax.scan(lambda c, xi: (c * xi, None), 1.0, x)
        b, _ = lax.scan(lambda c, xi: (c + xi, None), 1.0, x)
        return a * b

    x = np.linspace(0.5, 1.5, 4)
    fn = merge_scans(gradjit.jit(f).trace(x))
    assert len(_forward_scans(fn)) == 2
    assert gradjit.jit(f)(x) == pytest.approx(np.prod(x) * (1 + np.sum(x)), rel=1e-14)


def test_zero_cotangent_stacks_become_consts():
    # the unused ys get a zero cotangent; its T-long broadcast becomes a const of the body
    def f(x):
        c, ys = lax.scan(lambda c, xi: (np.sin(c) + xi, c * xi), 0.2, x)
        return c

    x = np.linspace(0.1, 0.7, 5)
    raw = gradjit.grad(f, backend="interp")._staged((x,))[0].raw
    hoisted = hoist_invariant_xs(raw)
    verify(hoisted)
    def broadcast_stacks(fn):
        made = {o: i.prim.name for i in fn.body for o in i.outs}
        back = [i for i in fn.body if i.prim.name == "scan" and i.params["reverse"]][0]
        n = back.params["num_consts"] + back.params["num_carry"]
        return [a for a in back.args[n:] if made.get(a) == "broadcast_to"]

    assert len(broadcast_stacks(raw)) == 1 and not broadcast_stacks(hoisted)
    for got, want in zip(interp.run(hoisted, [x]), interp.run(raw, [x])):
        np.testing.assert_array_equal(got, want)


# ---- weight cotangents summed after the loop (passes/scan_sums.py) -------------------------


def _outer_sums(xs, ys, M):
    def step(c, xy):
        x, y = xy
        acc, acc_t, acc_m, h = c
        h = np.tanh(h @ M + y)  # a carry feeding back: stays a carry
        row, col = x[None, :], h[None, :]
        return (acc + x[:, None] @ col,  # contracts a trailing dim of x's column
                acc_t + np.einsum("ti,tj->ij", row, col),  # a leading dim: folds into steps
                acc_m + np.outer(x, h) @ M,  # M is the same every step: stays a carry
                h), None
    n, m = xs.shape[1], ys.shape[1]
    init = (np.ones((n, m)), np.zeros((n, m)), np.zeros((n, m)), np.zeros(m))
    return lax.scan(step, init, (xs, ys))[0]


def _outer_sums_np(xs, ys, M):
    acc, acc_t, acc_m, h = np.ones((xs.shape[1], ys.shape[1])), 0.0, 0.0, np.zeros(ys.shape[1])
    for x, y in zip(xs, ys):
        h = np.tanh(h @ M + y)
        step = np.outer(x, h)
        acc, acc_t, acc_m = acc + step, acc_t + step, acc_m + step @ M
    return acc, acc_t, acc_m, h


@pytest.mark.parametrize("backend", ["interp", "llvm"])
def test_accumulated_outer_products_become_one_contraction_after_the_loop(backend):
    xs, ys, M = RNG.normal(size=(7, 3)), RNG.normal(size=(7, 4)), RNG.normal(size=(4, 4)) * 0.5
    fn = gradjit.jit(_outer_sums).trace(xs, ys, M)
    verify(fn)
    (scan,) = [i for i in fn.body if i.prim.name == "scan"]
    assert scan.params["num_carry"] == 2  # h and acc_m; two sums are dot_generals after it
    after = [i for i in fn.body[fn.body.index(scan):] if i.prim.name == "dot_general"]
    assert len(after) == 2
    for got, want in zip(gradjit.jit(_outer_sums, backend=backend)(xs, ys, M),
                         _outer_sums_np(xs, ys, M)):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_lstm_weight_cotangents_leave_the_backward_loop():
    rng = np.random.default_rng(4)
    params = (rng.normal(size=(3, 16)) * 0.3, rng.normal(size=(4, 16)) * 0.3, np.zeros(16))
    xs = rng.normal(size=(9, 3))
    staged = gradjit.grad(_lstm_loss, backend="interp")._staged((params, xs))[0]
    back = [i for i in staged.fn.body if i.prim.name == "scan" and i.params["reverse"]]
    carried = [o.type.shape for o in back[0].outs[: back[0].params["num_carry"]]]
    assert (3, 16) not in carried and (4, 16) not in carried, carried
    got = interp.run(staged.fn, [*params, xs])
    want = interp.run(staged.raw, [*params, xs])[1:]  # the trace also returns the value
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)
