"""Fusion and buffer planning decisions (no LLVM compile needed: lowering only builds IR)."""

from __future__ import annotations

import numpy as np

import gradjit
from gradjit.codegen import lower
from gradjit.codegen.canon import canonical_dots


def plan_of(f, *args, grad=False):
    fn = (gradjit.value_and_grad(f) if grad else gradjit.jit(f)).trace(*args)
    return lower(fn).plan


def test_elementwise_gradient_is_one_loop_in_registers():
    f = lambda x: np.sum(np.tanh(x) * np.exp(-x * x) + np.log1p(x * x))
    plan = plan_of(f, np.ones(1000), grad=True)
    assert len(plan.groups) == 1  # value, reduction and gradient in one pass over x
    assert plan.ws_size == 0
    assert [s.dest.kind for s in plan.steps if s.dest is not None] == ["out", "out"]


def test_reduction_reads_its_fused_input():
    plan = plan_of(lambda x: np.sum(np.exp(x) * 2.0, axis=0), np.ones((100, 50)))
    assert [s.instr.prim.name for s in plan.steps] == ["reduce_sum"]
    assert plan.ws_size == 0


def test_workspace_is_reused_by_liveness():
    def f(x):
        t1 = np.exp(x)
        r1 = np.sum(t1[::-1] * t1)  # t1 is read reversed: it needs a buffer
        t2 = np.sin(x + r1)  # a new loop (it reads the finished reduction r1)
        return np.sum(t2[::-1] * t2)

    plan = plan_of(f, np.ones(1000))
    buffers = [s for s in plan.steps if s.dest is not None and s.dest.kind == "ws"]
    assert len(buffers) == 2
    assert plan.ws_size == 8000  # t2 reuses t1's bytes: t1 is dead by then


def test_transposed_operands_become_blas_flags_not_copies():
    x, w = np.ones((8, 4)), np.ones((5, 4))
    fn = canonical_dots(gradjit.jit(lambda x, w: x @ w.T).trace(x, w))
    names = [i.prim.name for i in fn.body]
    assert names.count("dot_general") == 1 and "transpose" not in names
    odd = gradjit.jit(lambda a, b: np.einsum("ijk,kji->", a, b)).trace(np.ones((2, 3, 4)),
                                                                      np.ones((4, 3, 2)))
    assert "transpose" in [i.prim.name for i in canonical_dots(odd).body]


def test_hessian_seed_and_pads_are_fused_not_stored():
    """hessian(f) at n=1000: the identity seed (iota, eq, cast) is recomputed where it is read
    and pads without interior padding are guarded reads, so the 1000x1000 result is one loop
    and the workspace holds only vectors (it held three 8 MB matrices)."""
    f = lambda x: np.sum(x[:-1] ** 2 * x[1:]) + np.sum(np.sin(x))  # noqa: E731
    x = np.linspace(-1, 1, 1000)
    plan = lower(gradjit.hessian(f).trace(x)).plan
    assert plan.ws_size < 64 * 1024
    square = [s for s in plan.steps if s.value.type.shape == (1000, 1000)]
    assert len(square) == 1 and square[0].dest.kind == "out"


def test_fused_pads_equal_the_interpreter_and_numpy():
    """Pads as remaps: both sides, a fill value, under a transpose, in a reduction, next to an
    interior pad (still a kernel) and a gather."""
    from gradjit.ops.api import pad_p

    def f(x, k):
        p = pad_p(np.sin(x[:, 1:]), (1, 0), (2, 3), (0, 0), 0.5)
        q = pad_p(x, (0, 2), (1, 0), (1, 0), -2.0)
        return p.T * 2.0 + 1.0, np.sum(p * p), q, p[k], np.pad(x, [(2, 0), (1, 1)]) * x[0, 0]

    x = np.arange(1.0, 13.0).reshape(3, 4) / 7
    k = np.array([0, 5, 2])
    got = gradjit.jit(f)(x, k)
    want = gradjit.jit(f, backend="interp")(x, k)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-15)
    p = np.pad(np.sin(x)[:, 1:], [(1, 2), (0, 3)], constant_values=0.5)
    np.testing.assert_allclose(got[0], p.T * 2.0 + 1.0, rtol=1e-15)
    np.testing.assert_allclose(got[4], np.pad(x, [(2, 0), (1, 1)]) * x[0, 0], rtol=1e-15)
