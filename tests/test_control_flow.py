"""Structured control flow (scan, fori_loop, while_loop, cond, switch) against the unrolled
Python equivalent: values, gradients, second derivatives, forward mode, batching, IR text."""

from __future__ import annotations

import numpy as np
import pytest

import gradjit
from gradjit import lax
from gradjit.ir import parse, verify


def _recurrence_scan(x):
    c, ys = lax.scan(lambda c, xi: (c * xi + np.sin(c), c ** 2), 0.5, x)
    return c + np.sum(ys)


def _recurrence_unrolled(x):
    c, total = 0.5, 0.0
    for xi in x:
        total = total + c ** 2
        c = c * xi + np.sin(c)
    return c + total


X = np.linspace(0.1, 0.9, 6)


def test_scan_value_gradient_and_hessian_match_unrolled():
    assert gradjit.jit(_recurrence_scan)(X) == pytest.approx(_recurrence_unrolled(X), rel=1e-14)
    np.testing.assert_allclose(gradjit.grad(_recurrence_scan)(X),
                               gradjit.grad(_recurrence_unrolled)(X), rtol=1e-13)
    np.testing.assert_allclose(gradjit.hessian(_recurrence_scan)(X),
                               gradjit.hessian(_recurrence_unrolled)(X), rtol=1e-12)
    # reverse over reverse through the loop, too
    np.testing.assert_allclose(gradjit.jacrev(gradjit.grad(_recurrence_scan))(X),
                               gradjit.hessian(_recurrence_unrolled)(X), rtol=1e-12)


def test_scan_jvp_and_vmap():
    v = np.cos(np.arange(6.0))
    _, t = gradjit.jvp(_recurrence_scan, (X,), (v,))
    assert t == pytest.approx(gradjit.grad(_recurrence_unrolled)(X) @ v, rel=1e-13)
    batch = np.stack([X, X * 0.5, X[::-1]])
    got = gradjit.vmap(_recurrence_scan)(batch)
    np.testing.assert_allclose(got, [_recurrence_unrolled(b) for b in batch], rtol=1e-14)
    per_example = gradjit.vmap(gradjit.grad(_recurrence_scan))(batch)
    for row, b in zip(per_example, batch):
        np.testing.assert_allclose(row, gradjit.grad(_recurrence_unrolled)(b), rtol=1e-13)


def test_scan_with_pytrees_consts_reverse_and_integer_carry():
    W = np.array([[0.5, -0.2], [0.1, 0.3]])

    def f(W, xs):
        def step(carry, x):
            h, count = carry["h"], carry["n"]
            h = np.tanh(h @ W + x)
            return {"h": h, "n": count + 1}, (h, h.sum())

        final, (hs, sums) = lax.scan(step, {"h": np.zeros(2), "n": np.int64(0)}, xs,
                                     reverse=True)
        return np.sum(final["h"]) + np.sum(hs ** 2) + np.sum(sums) + final["n"] * 0.0

    def unrolled(W, xs):
        h, total = np.zeros(2), 0.0
        for x in xs[::-1]:
            h = np.tanh(h @ W + x)
            total = total + np.sum(h ** 2) + np.sum(h)
        return np.sum(h) + total

    xs = np.random.default_rng(0).normal(size=(5, 2))
    assert gradjit.jit(f)(W, xs) == pytest.approx(unrolled(W, xs), rel=1e-13)
    for argnums in (0, 1):
        np.testing.assert_allclose(gradjit.grad(f, argnums)(W, xs),
                                   gradjit.grad(unrolled, argnums)(W, xs), rtol=1e-12)


def test_fori_loop_static_and_traced_bounds():
    def power(x):
        return lax.fori_loop(0, 5, lambda i, v: v * x + i, 1.0)

    def unrolled(x):
        v = 1.0
        for i in range(5):
            v = v * x + i
        return v

    for x in (0.7, -1.3):
        assert gradjit.grad(power)(x) == pytest.approx(gradjit.grad(unrolled)(x), rel=1e-13)
        assert gradjit.grad(gradjit.grad(power))(x) == pytest.approx(
            gradjit.grad(gradjit.grad(unrolled))(x), rel=1e-12)
    traced = gradjit.jit(lambda x, n: lax.fori_loop(0, n, lambda i, v: v * x, 1.0))
    assert traced(1.5, np.int64(4)) == pytest.approx(1.5 ** 4)


def test_while_loop_value_and_gradient_through_the_recorded_trip_count():
    def f(x):
        # halve until below 1: the trip count depends on x, the derivative is 2^-T
        return lax.while_loop(lambda v: v > 1.0, lambda v: v * 0.5 + 0.01 * np.sin(v), x)

    def unrolled(x):
        v = x
        while v > 1.0:
            v = v * 0.5 + 0.01 * np.sin(v)
        return v

    for x in (0.5, 3.0, 37.0):
        assert gradjit.jit(f)(x) == pytest.approx(unrolled(x), rel=1e-14)
        eps = 1e-6
        fd = (unrolled(x + eps) - unrolled(x - eps)) / (2 * eps)
        assert gradjit.grad(f)(x) == pytest.approx(fd, rel=1e-6)
        _, t = gradjit.jvp(f, (x,), (1.0,))
        assert t == pytest.approx(gradjit.grad(f)(x), rel=1e-13)


def test_while_loop_batched_predicates():
    f = gradjit.vmap(lambda x: lax.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, x))
    xs = np.array([0.3, 4.0, 11.0, 9.0])
    want = []
    for x in xs:
        while x < 10.0:
            x = x * 2.0
        want.append(x)
    np.testing.assert_allclose(f(xs), want)


def test_cond_and_switch():
    def f(x, y):
        return lax.cond(np.sum(x) > 0, lambda a, b: np.sum(a * b) * y, lambda a, b: np.sum(a - b),
                        x, x * 2)

    for x in (np.array([1.0, 2.0]), np.array([-1.0, -2.0])):
        want = (lambda a: np.sum(a * a * 2) * 3.0) if np.sum(x) > 0 else \
            (lambda a: np.sum(a - 2 * a))
        assert gradjit.jit(f)(x, 3.0) == pytest.approx(want(x))
        np.testing.assert_allclose(gradjit.grad(f)(x, 3.0), gradjit.grad(want)(x), rtol=1e-14)
        _, t = gradjit.jvp(lambda a: f(a, 3.0), (x,), (np.ones(2),))
        assert t == pytest.approx(np.sum(gradjit.grad(want)(x)))
    g = gradjit.jit(lambda i, x: lax.switch(i, [np.sin, np.cos, lambda v: v * 2], x))
    for i, fn in enumerate([np.sin, np.cos, lambda v: v * 2]):
        assert g(np.int64(i), 0.3) == pytest.approx(fn(0.3))
    assert g(np.int64(7), 0.3) == pytest.approx(0.6)  # clamped, like lax.switch
    batched = gradjit.vmap(lambda p, v: lax.cond(p, lambda a: a * 2, lambda a: -a, v))
    np.testing.assert_allclose(batched(np.array([True, False, True]), np.arange(3.0)),
                               [0.0, -1.0, 4.0])


def test_regions_print_parse_and_verify():
    for f in (gradjit.grad(_recurrence_scan), gradjit.hessian(_recurrence_scan)):
        for stage in ("trace", "opt"):
            text = f.dump(X, stage=stage)
            assert text.count("func @") > 1 and "    func @" in text  # nested regions
            again = verify(parse(text))
            assert str(again) == text


def _lstm_loss(params, xs):
    W, U, b = params

    def cell(carry, x):
        h, c = carry
        gates = x @ W + h @ U + b
        i, f, o, g = np.split(gates, 4)
        c = gradjit.numpy.sigmoid(f) * c + gradjit.numpy.sigmoid(i) * np.tanh(g)
        h = gradjit.numpy.sigmoid(o) * np.tanh(c)
        return (h, c), h

    n = U.shape[0]
    (h, _), hs = lax.scan(cell, (np.zeros(n), np.zeros(n)), xs)
    return np.sum(hs ** 2) / xs.shape[0] + np.sum(h)


def _lstm_params(rng, n_in, n):
    return (rng.normal(size=(n_in, 4 * n)) * 0.3, rng.normal(size=(n, 4 * n)) * 0.3,
            rng.normal(size=4 * n) * 0.1)


def test_lstm_scan_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    params, xs = _lstm_params(rng, 3, 4), rng.normal(size=(20, 3))
    g = gradjit.grad(_lstm_loss)(params, xs)
    v = [rng.normal(size=p.shape) for p in params]
    eps = 1e-6
    plus = _lstm_loss(tuple(p + eps * d for p, d in zip(params, v)), xs)
    minus = _lstm_loss(tuple(p - eps * d for p, d in zip(params, v)), xs)
    directional = sum(np.sum(a * d) for a, d in zip(g, v))
    assert directional == pytest.approx((plus - minus) / (2 * eps), rel=1e-6)


def test_lstm_ir_size_does_not_grow_with_sequence_length():
    rng = np.random.default_rng(2)
    params = _lstm_params(rng, 3, 4)
    sizes = {T: len(gradjit.grad(_lstm_loss).trace(params, np.ones((T, 3))).body)
             for T in (10, 100, 1000)}
    assert len(set(sizes.values())) == 1, sizes


def test_python_loop_over_traced_count_points_at_fori_loop():
    with pytest.raises(gradjit.ConcretizationError, match="fori_loop"):
        gradjit.jit(lambda x, n: sum(x for _ in range(n)))(1.0, np.int64(3))


def test_carry_type_errors_are_clear():
    with pytest.raises(gradjit.TraceError, match="carry"):
        gradjit.jit(lambda x: lax.scan(lambda c, v: (np.ones(2), v), 0.0, x))(np.ones(3))
