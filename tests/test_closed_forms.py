"""Transforms against derivatives known in closed form, and the structure of what they return.

Higher-order grads, Hessians and Jacobians are compared with analytic formulas; argnums tuples
must nest like JAX's (jacobian: one block per argument; hessian: a block matrix of blocks).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradjit

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("x", [-2.5, -0.3, 0.0, 0.5, 1.0, 3.0])
def test_third_derivative_of_sin(x):
    d3 = gradjit.grad(gradjit.grad(gradjit.grad(np.sin)))(x)
    assert isinstance(d3, float)
    np.testing.assert_allclose(d3, -np.cos(x), rtol=1e-12, atol=1e-15)


def test_fourth_derivative_of_exp_times_x():
    # d^4/dx^4 x e^x = (x + 4) e^x
    f = lambda x: x * np.exp(x)
    d4 = gradjit.grad(gradjit.grad(gradjit.grad(gradjit.grad(f))))
    for x in (-1.0, 0.25, 2.0):
        np.testing.assert_allclose(d4(x), (x + 4) * np.exp(x), rtol=1e-12)


# ---- Hessians ------------------------------------------------------------------------------


def chain_cubic(x):
    return np.sum(x[:-1] ** 2 * x[1:]) + np.sum(np.sin(x))


def chain_cubic_hessian(x):
    # f = sum_i x_i^2 x_{i+1} + sum_i sin x_i:
    # H_jj = 2 x_{j+1} (j < n-1) - sin x_j,  H_{j,j+1} = H_{j+1,j} = 2 x_j
    off = 2 * x[:-1]
    diag = -np.sin(x)
    diag[:-1] += 2 * x[1:]
    return np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)


def test_hessian_of_100_dim_chain():
    x = RNG.normal(size=100)
    H = gradjit.hessian(chain_cubic)(x)
    assert H.shape == (100, 100) and H.dtype == np.float64
    np.testing.assert_allclose(H, chain_cubic_hessian(x), rtol=1e-12, atol=1e-14)


def test_hessian_of_quadratic_form():
    A = RNG.normal(size=(100, 100))
    x = RNG.normal(size=100)
    H = gradjit.hessian(lambda x: x @ A @ x)(x)
    np.testing.assert_allclose(H, A + A.T, rtol=1e-12)


def test_hessian_of_two_args_nests_like_jax():
    # f(x, Y) = sum_ij x_i^2 Y_ij + sum sin(Y)
    x, Y = RNG.normal(size=3), RNG.normal(size=(3, 2))
    f = lambda x, Y: np.sum(x[:, None] ** 2 * Y) + np.sum(np.sin(Y))
    (hxx, hxy), (hyx, hyy) = gradjit.hessian(f, argnums=(0, 1))(x, Y)
    eye3 = np.eye(3)
    np.testing.assert_allclose(hxx, np.diag(2 * Y.sum(axis=1)), rtol=1e-12)
    want_xy = 2 * x[:, None, None] * eye3[:, :, None] * np.ones((1, 1, 2))  # d2f/dx_i dY_kj
    np.testing.assert_allclose(hxy, want_xy, rtol=1e-12)
    np.testing.assert_allclose(hyx, np.transpose(want_xy, (1, 2, 0)), rtol=1e-12)
    want_yy = np.diag(-np.sin(Y).ravel()).reshape(3, 2, 3, 2)
    np.testing.assert_allclose(hyy, want_yy, rtol=1e-12, atol=1e-15)
    assert (hxx.shape, hxy.shape, hyx.shape, hyy.shape) == ((3, 3), (3, 3, 2), (3, 2, 3),
                                                            (3, 2, 3, 2))


def test_hessian_with_int_argnums_is_a_single_block():
    x, Y = RNG.normal(size=3), RNG.normal(size=(3, 2))
    f = lambda x, Y: np.sum(np.sin(x[:, None] * Y))
    hyy = gradjit.hessian(f, argnums=1)(x, Y)
    assert isinstance(hyy, np.ndarray) and hyy.shape == (3, 2, 3, 2)
    want = np.diag((-np.sin(x[:, None] * Y) * x[:, None] ** 2).ravel()).reshape(3, 2, 3, 2)
    np.testing.assert_allclose(hyy, want, rtol=1e-12, atol=1e-15)


# ---- Jacobians -----------------------------------------------------------------------------


def test_jacobian_of_elementwise_map_is_diagonal():
    x = RNG.normal(size=7)
    J = gradjit.jacobian(lambda x: np.sin(x) * x)(x)
    np.testing.assert_allclose(J, np.diag(np.cos(x) * x + np.sin(x)), rtol=1e-12, atol=1e-15)


def test_jacobian_of_matrix_vector_map_is_the_matrix():
    W = RNG.normal(size=(4, 6))
    J = gradjit.jacobian(lambda x: W @ x)(RNG.normal(size=6))
    np.testing.assert_allclose(J, W, rtol=1e-14)


def test_jacobian_of_matmul_has_output_then_input_axes():
    X, W = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 4))
    jX, jW = gradjit.jacobian(lambda X, W: X @ W, argnums=(0, 1))(X, W)
    # d(XW)_ij / dX_ab = delta_ia W_bj ;  d(XW)_ij / dW_ab = X_ia delta_bj
    np.testing.assert_allclose(jX, np.einsum("ia,bj->ijab", np.eye(2), W), rtol=1e-14)
    np.testing.assert_allclose(jW, np.einsum("ia,bj->ijab", X, np.eye(4)), rtol=1e-14)


def test_jacobian_of_pytree_output():
    x = RNG.normal(size=3)
    out = gradjit.jacobian(lambda x: {"sq": x ** 2, "tot": np.sum(x)})(x)
    assert set(out) == {"sq", "tot"}
    np.testing.assert_allclose(out["sq"], np.diag(2 * x), rtol=1e-14)
    np.testing.assert_allclose(out["tot"], np.ones(3), rtol=1e-14)


def test_grad_of_jacobian():
    # f(x, y) = sin(x) * y: J_x = diag(cos x * y), J_y = diag(sin x);
    # s = sum(J_x * M) = sum_i M_ii cos(x_i) y_i, so ds/dx = -M_ii sin x_i y_i, ds/dy = M_ii cos x_i
    x, y, M = RNG.normal(size=4), RNG.normal(size=4), RNG.normal(size=(4, 4))
    f = lambda x, y: np.sin(x) * y

    def s(x, y):
        jx, jy = gradjit.jacobian(f, argnums=(0, 1))(x, y)
        return np.sum(jx * M) + 0.0 * np.sum(jy)

    gx, gy = gradjit.grad(s, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, -np.diag(M) * np.sin(x) * y, rtol=1e-12)
    np.testing.assert_allclose(gy, np.diag(M) * np.cos(x), rtol=1e-12)


def test_grad_of_hessian_trace():
    # tr H of sum(x^4) is sum 12 x^2; its gradient is 24 x
    x = RNG.normal(size=5)
    g = gradjit.grad(lambda x: np.sum(gradjit.hessian(lambda z: np.sum(z ** 4))(x)
                                      * np.eye(5)))(x)
    np.testing.assert_allclose(g, 24 * x, rtol=1e-12)


# ---- vjp, value_and_grad -------------------------------------------------------------------


def test_vjp_matches_grad_for_scalar_output():
    x, W = RNG.normal(size=3), RNG.normal(size=(3, 3))
    f = lambda x, W: np.sum(np.tanh(W @ x) ** 2)
    out, vjp_fn = gradjit.vjp(f, x, W)
    np.testing.assert_allclose(out, f(x, W), rtol=1e-14)
    for a, b in zip(vjp_fn(1.0), gradjit.grad(f, argnums=(0, 1))(x, W), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    np.testing.assert_allclose(vjp_fn(2.5)[0], 2.5 * gradjit.grad(f)(x, W), rtol=1e-14)


def test_vjp_of_vector_output_is_transposed_jacobian():
    x = RNG.normal(size=4)
    f = lambda x: np.sin(x[:3]) * x[1:]
    u = RNG.normal(size=3)
    (g,) = gradjit.vjp(f, x)[1](u)
    np.testing.assert_allclose(g, u @ gradjit.jacobian(f)(x), rtol=1e-14)


def test_value_and_grad_with_aux():
    x = RNG.normal(size=4)

    def f(x):
        pred = np.tanh(x)
        return np.sum(pred ** 2), {"pred": pred, "n": np.sum(x > 0)}

    (value, aux), g = gradjit.value_and_grad(f, has_aux=True)(x)
    np.testing.assert_allclose(value, np.sum(np.tanh(x) ** 2), rtol=1e-14)
    np.testing.assert_allclose(aux["pred"], np.tanh(x), rtol=1e-14)
    assert aux["n"] == np.sum(x > 0)
    np.testing.assert_allclose(g, 2 * np.tanh(x) * (1 - np.tanh(x) ** 2), rtol=1e-13)
    g2, aux2 = gradjit.grad(f, has_aux=True)(x)
    np.testing.assert_array_equal(g2, g)
    np.testing.assert_array_equal(aux2["pred"], aux["pred"])


# ---- dtypes ----------------------------------------------------------------------------------


def test_f32_in_f32_out():
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    f = lambda x: np.sum(np.sin(x) * x)
    g = gradjit.grad(f)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-5)
    assert gradjit.jacobian(lambda x: np.sin(x))(x).dtype == np.float32
    h = gradjit.hessian(f)(x[0])
    assert h.dtype == np.float32 and h.shape == (4, 4)
    np.testing.assert_allclose(h, np.diag(2 * np.cos(x[0]) - x[0] * np.sin(x[0])), rtol=1e-5,
                               atol=1e-6)


def test_mixed_dtypes_keep_each_argument_dtype():
    x32, y64 = RNG.normal(size=3).astype(np.float32), RNG.normal(size=3)
    g32, g64 = gradjit.grad(lambda a, b: np.sum(a * b), argnums=(0, 1))(x32, y64)
    assert g32.dtype == np.float32 and g64.dtype == np.float64
    np.testing.assert_allclose(g32, y64.astype(np.float32), rtol=1e-7)
    np.testing.assert_allclose(g64, x32.astype(np.float64), rtol=1e-15)


def test_python_float_in_float_out():
    ga, gb = gradjit.grad(lambda a, b: a * b ** 2, argnums=(0, 1))(1.5, -2.0)
    assert isinstance(ga, float) and isinstance(gb, float)
    assert (ga, gb) == (4.0, -6.0)
    h = gradjit.hessian(lambda a: a ** 3)(2.0)
    assert np.ndim(h) == 0 and float(h) == 12.0
