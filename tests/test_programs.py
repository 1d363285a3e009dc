"""Every corpus program (tests/programs.py) through every whole-program check.

Gradients against central finite differences in a random direction (orders 1 and 2), the IR
text round trip and verifier, optimized vs unoptimized gradient Functions, jit vs plain numpy,
and instruction counts that must not grow with the data size.
"""

from __future__ import annotations

import functools

import fd_util as fd
import numpy as np
import programs as P
import pytest

import gradjit
import gradjit.numpy as gnp
from gradjit.ir import interp, parse, verify
from gradjit.passes import optimize

F64 = [p for p in P.PROGRAMS if "f32" not in p.flags]
F32 = [p for p in P.PROGRAMS if "f32" in p.flags]


def by_name(progs):
    return pytest.mark.parametrize("prog", progs, ids=[p.name for p in progs])


@functools.cache
def grad_of(prog: P.Program):
    """One grad transform per program, so its trace cache serves every test."""
    return gradjit.grad(prog.fn, argnums=prog.argnums)


def flat_inputs(fn, args) -> list[np.ndarray]:
    """The arrays a Function with these (pytree) arguments takes, in parameter order."""
    return [np.asarray(x, p.type.np_dtype) for x, p in zip(fd.leaves(list(args)), fn.params)]


def assert_close_scalar(got: float, want: float, rtol: float):
    assert abs(got - want) <= rtol * (1.0 + abs(want)), f"{got!r} != {want!r}"


# ---- gradients ---------------------------------------------------------------------------


@by_name(F64)
def test_gradient_matches_finite_differences(prog):
    args = prog.args()
    g = fd.grads_as_list(grad_of(prog)(*args), prog.argnums)
    v = fd.random_like(np.random.default_rng(1), fd.wrt(args, prog.argnums))
    want = float(fd.directional_fd(prog.fn, args, prog.argnums, v, 1e-6))
    assert_close_scalar(fd.vdot(g, v), want, 1e-6)


@by_name(P.PROGRAMS)
def test_gradient_keeps_structure_and_dtype(prog):
    args = prog.args()
    x = fd.wrt(args, prog.argnums)
    g = fd.grads_as_list(grad_of(prog)(*args), prog.argnums)
    assert fd.tree_map(lambda _: 0, g) == fd.tree_map(lambda _: 0, x)  # same nesting
    for xi, gi in zip(fd.leaves(x), fd.leaves(g)):
        if isinstance(xi, float):
            assert isinstance(gi, float)
        else:
            assert isinstance(gi, np.ndarray) or np.ndim(xi) == 0
            assert np.shape(gi) == np.shape(xi) and np.asarray(gi).dtype == xi.dtype


@by_name(F64)
def test_second_order_matches_finite_differences(prog):
    """grad <w, grad f> in a direction v against the finite difference of grad f along v."""
    args = prog.args()
    rng = np.random.default_rng(2)
    x = fd.wrt(args, prog.argnums)
    w, v = fd.random_like(rng, x), fd.random_like(rng, x)
    first = grad_of(prog)

    def w_dot_grad(*a):
        g = fd.grads_as_list(first(*a), prog.argnums)
        return sum(np.sum(wi * gi) for wi, gi in zip(fd.leaves(w), fd.leaves(g)))

    hv = fd.grads_as_list(gradjit.grad(w_dot_grad, argnums=prog.argnums)(*args), prog.argnums)
    dg = fd.directional_fd(lambda *a: fd.grads_as_list(first(*a), prog.argnums), args,
                           prog.argnums, v, 1e-5)
    assert_close_scalar(fd.vdot(hv, v), fd.vdot(w, dg), 1e-5)


@by_name(F32)
def test_f32_gradient_matches_f64(prog):
    """f32 programs: the f32 gradient agrees with the same program's f64 gradient."""
    args = prog.args()
    g32 = fd.leaves(grad_of(prog)(*args))
    g64 = fd.leaves(gradjit.grad(prog.fn, argnums=prog.argnums)(*fd.to_f64(args)))
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32 and b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5 * np.max(np.abs(b)))


def test_unused_inputs_have_zero_gradients():
    prog = next(p for p in P.PROGRAMS if p.name == "unused_inputs")
    x, unused, also_unused = prog.args()
    gx, gu, ga = grad_of(prog)(x, unused, also_unused)
    np.testing.assert_allclose(gx, np.sin(x) + x * np.cos(x), rtol=1e-13)
    assert gu.shape == (5,) and ga.shape == (3, 3)
    assert not np.any(gu) and not np.any(ga)


def test_stop_gradient_blocks_its_path():
    """d/dx sum(x * sg(x)^2) = sg(x)^2: stop_gradient makes finite differences disagree."""
    x = np.linspace(-1.0, 2.0, 5)
    g = gradjit.grad(lambda x: np.sum(x * gnp.stop_gradient(x) ** 2))(x)
    np.testing.assert_allclose(g, x ** 2, rtol=1e-14)
    gg = gradjit.grad(lambda x: np.sum(gradjit.grad(lambda y: np.sum(y * gnp.stop_gradient(
        y) ** 2))(x)))(x)
    np.testing.assert_array_equal(gg, np.zeros_like(x))  # the derivative of sg(x)^2 is zero


# ---- IR: text, verifier, passes ------------------------------------------------------------


@by_name(P.PROGRAMS)
def test_ir_text_round_trips_and_verifies(prog):
    args = prog.args()
    raw_grad_text = grad_of(prog).dump(*args, stage="trace")
    for fn in (gradjit.trace(prog.fn, *args), grad_of(prog).trace(*args), parse(raw_grad_text)):
        verify(fn)
        text = str(fn)
        back = verify(parse(text))
        assert str(back) == text


@by_name(P.PROGRAMS)
def test_optimized_gradient_equals_unoptimized(prog):
    args = prog.args()
    tol = 1e-5 if "f32" in prog.flags else 1e-12
    # the user-level trace of grad(f) (it inlines the already optimized adjoint) ...
    traced = gradjit.trace(grad_of(prog), *args)
    inputs = flat_inputs(traced, args)
    want = interp.run(traced, inputs)
    for got in interp.run(optimize(traced), inputs), \
            interp.run(optimize(traced, check=verify), inputs):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=tol, atol=0)
    # ... and the adjoint before any pass against the same Function after the pipeline
    raw = parse(grad_of(prog).dump(*args, stage="trace"))
    unopt, opt = interp.run(raw, inputs), interp.run(optimize(raw), inputs)
    for a, b, c in zip(unopt, opt, [None] + want, strict=True):
        np.testing.assert_allclose(b, a, rtol=tol, atol=0)
        if c is not None:  # results after the value: the gradient leaves of the trace
            np.testing.assert_allclose(a, c, rtol=tol, atol=0)


@by_name(P.PROGRAMS)
def test_jit_equals_numpy(prog):
    args = prog.args()
    got, want = gradjit.jit(prog.fn)(*args), prog.fn(*args)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if "f32" in prog.flags else 1e-12)


# ---- sizes must not change the program ------------------------------------------------------


def grad_instr_count(prog: P.Program, args) -> int:
    return len(gradjit.grad(prog.fn, argnums=prog.argnums).trace(*args).body)


@pytest.mark.parametrize("name", ["mlp_labels", "mlp_onehot"])
def test_mlp_gradient_size_does_not_depend_on_batch(name):
    """Batch 128 is past the constant folder's size limit: folding must not change the count."""
    prog = next(p for p in P.PROGRAMS if p.name == name)
    counts = {}
    for batch in (4, 32, 128):
        params, x, labels = P.mlp_args(np.random.default_rng(0), batch=batch)
        y = labels if name == "mlp_labels" else np.eye(3)[labels]
        counts[batch] = grad_instr_count(prog, (params, x, y))
    assert len(set(counts.values())) == 1, counts


@pytest.mark.parametrize("name", ["gmm_tril", "gmm_packed"])
def test_gmm_gradient_size_does_not_depend_on_points_or_components(name):
    prog = next(p for p in P.PROGRAMS if p.name == name)
    make = P.gmm_args if name == "gmm_tril" else P.gmm_packed_args
    rng = np.random.default_rng(0)
    counts = {(n, K): grad_instr_count(prog, make(rng, n=n, K=K))
              for n, K in ((5, 2), (40, 2), (5, 9), (40, 9), (100, 30))}
    assert len(set(counts.values())) == 1, counts
