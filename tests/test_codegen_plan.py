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
