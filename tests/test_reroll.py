"""Loop rerolling (passes/reroll.py): a traced Python loop becomes one scan. Every case checks
the rerolled function's values and gradients against the unrolled trace run by the
interpreter, and that the loop was (or, where it must not be, was not) rerolled."""

from __future__ import annotations

import numpy as np
import pytest

import gradjit
from gradjit.passes import reroll as R

rng = np.random.default_rng(0)


def scans(fn) -> int:
    return sum(i.prim.name == "scan" for i in fn.body)


def unrolled(transform, f, *args, **kw):
    """The same transform without rerolling, on the interpreter: the oracle (and its trace
    before the pass pipeline, which is what rerolling sees)."""
    old, R.ENABLED = R.ENABLED, False
    try:
        t = transform(f, backend="interp", **kw)
        return t._staged(args)[0].raw, t(*args)
    finally:
        R.ENABLED = old


def check(f, *args, rerolled=True, argnums=0):
    g = gradjit.value_and_grad(f, argnums=argnums)
    got = g(*args)
    fn_unrolled, want = unrolled(gradjit.value_and_grad, f, *args, argnums=argnums)
    assert (scans(gradjit.jit(f).trace(*args)) > 0) == rerolled
    assert scans(fn_unrolled) == 0
    np.testing.assert_allclose(got[0], want[0], rtol=1e-11)  # (LLVM vs the interpreter)
    for a, b in zip(np.atleast_1d(got[1]) if argnums == 0 else got[1], want[1]
                    if argnums != 0 else np.atleast_1d(want[1])):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    return g


def rnn(Wh, Wx, b, xs):
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t] + b)
    return np.sum(h * h)


def test_rnn_is_one_scan_and_its_gradient_matches_the_unrolled_trace():
    args = (rng.normal(size=(8, 8)) * 0.3, rng.normal(size=(8, 3)), rng.normal(size=8),
            rng.normal(size=(12, 3)))
    check(rnn, *args, argnums=(0, 1, 2, 3))
    fn = gradjit.grad(rnn, argnums=(0, 1, 2)).trace(*args)
    assert len(fn.body) < 40  # 12 unrolled steps and their adjoints were ~250 instructions


def test_two_carries_and_columns_of_a_matrix():
    def lstm_like(x, W):
        h, c = np.zeros(4), np.ones(4)
        for t in range(x.shape[1]):  # x[:, t]: a slice moving along axis 1
            z = W @ np.concatenate([h, x[:, t]])
            c = c * 0.5 + np.tanh(z) * np.exp(-c * c)
            h = np.sin(c) * z
        return np.sum(h) + np.sum(c * c)

    check(lstm_like, rng.normal(size=(2, 9)), rng.normal(size=(4, 6)) * 0.5, argnums=(0, 1))


def test_chunks_of_two_rows():
    def f(x):
        s = np.zeros(3)
        for t in range(0, x.shape[0], 2):
            s = np.cos(s) + np.sum(x[t:t + 2] * x[t:t + 2], axis=0) * s + 0.1
        return np.sum(s * s)

    check(f, rng.normal(size=(16, 3)))


def collected(x, steps):
    """An RNN-like loop that keeps every step's state (`outs.append(h)`)."""
    h, outs = x, []
    for _ in range(steps):
        h = np.tanh(h * 1.5 + 0.1) * np.cos(h)
        outs.append(h)
    return h, outs


def test_values_of_every_iteration_read_later_are_stacked_scan_outputs():
    def f(x):
        h, outs = collected(x, 8)
        return np.sum(np.stack(outs) ** 2) + np.sum(outs[3] * h)

    x = rng.normal(size=5)
    check(f, x)
    fn = gradjit.jit(f).trace(x)
    (scan,) = [i for i in fn.body if i.prim.name == "scan"]
    assert [o.type.shape for o in scan.outs] == [(5,), (8, 5)]  # the carry, the stacked hs


def test_long_loops_with_stacked_outputs_reroll_quickly():
    import time

    def f(x):
        return np.sum(np.stack(collected(x, 100)[1]) ** 2)

    old, R.ENABLED = R.ENABLED, False
    raw = gradjit.jit(f)._staged((np.ones(5),))[0].raw
    R.ENABLED = old
    t = time.perf_counter()
    fn = R.reroll(raw)
    assert time.perf_counter() - t < 2.0  # (was minutes: rows read back were rerolled again)
    assert scans(fn) == 1 and len(fn.body) < len(raw.body) // 2


def test_constants_that_change_per_iteration_keep_the_loop_unrolled():
    def f(x):
        for t in range(10):
            x = np.sin(x) * (t + 1.0) + np.cos(x) * 0.5
        return np.sum(x)

    check(f, rng.normal(size=4), rerolled=False)


def test_nested_loops_and_a_second_derivative():
    def f(x):
        for _ in range(5):
            y = x
            for _ in range(6):
                y = np.sin(y) * 0.9 + x * 0.1
            x = y * y + 0.2
        return np.sum(x)

    x = rng.normal(size=3) * 0.3
    check(f, x)
    fn = gradjit.jit(f).trace(x)
    (outer,) = [i for i in fn.body if i.prim.name == "scan"]
    assert scans(outer.params["body"]) == 1  # the inner loop, rerolled inside the outer body
    h = gradjit.hessian(lambda v: f(v))(x)
    _, want = unrolled(gradjit.hessian, f, x)
    np.testing.assert_allclose(h, want, rtol=1e-10, atol=1e-12)


def test_switched_off_by_the_environment_switch():
    old, R.ENABLED = R.ENABLED, False
    try:
        args = (np.eye(4) * 0.5, np.ones((4, 2)), np.zeros(4), np.ones((8, 2)))
        assert scans(gradjit.jit(rnn).trace(*args)) == 0
    finally:
        R.ENABLED = old


@pytest.mark.parametrize("steps", [3, 4, 40])
def test_short_loops_stay_unrolled_long_ones_reroll(steps):
    args = (np.eye(6) * 0.5, rng.normal(size=(6, 2)), np.zeros(6), rng.normal(size=(steps, 2)))
    fn = gradjit.jit(rnn).trace(*args)
    fn_unrolled, want = unrolled(gradjit.jit, rnn, *args)
    searched = len(fn_unrolled.body) >= R.MIN_INSTRS
    assert (scans(fn) == 1) == (searched and steps >= R.MIN_TRIPS)
    assert steps < R.MIN_TRIPS or searched  # (the cases do test both sides)
    np.testing.assert_allclose(gradjit.jit(rnn)(*args), want, rtol=1e-13)
