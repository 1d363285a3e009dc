"""W7: the ADBench Gaussian mixture model log-likelihood (n = 1000 points, K = 25 components,
d = 10), its gradient w.r.t. (alphas, means, icf) and the objective alone, so the table shows
each library's gradient/objective ratio (the cheap-gradient bound is ~4, a good hand-written
gradient ~2).

icf[k] holds the log-diagonal of the inverse-Cholesky factor Q_k, then its strict lower
triangle column by column (ADBench's layout). One numpy-style source serves gradjit (traced),
numpy (run as is) and JAX (xp=jax.numpy); Q is built with a gather from a padded icf, which is
how a numpy user writes it when in-place assignment is not allowed (gradjit, like JAX, cannot
trace `Q[:, rows, cols] = icf[:, d:]` into a numpy array, nor `np.add.at`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

import gradjit
from workloads import jax, torch

if jax is not None:
    import jax.numpy as jnp

N, K, D = 1000, 25, 10
GAMMA, M = 1.0, 0  # Wishart prior (ADBench's gamma, m)


def gmm_data():
    rng = np.random.default_rng(0)
    alphas = rng.normal(size=K)
    means = rng.uniform(size=(K, D))
    icf = rng.normal(size=(K, D + D * (D - 1) // 2)) * 0.3
    x = rng.uniform(size=(N, D))
    return alphas, means, icf, x


@functools.cache
def lower_index(d):
    """(d, d) positions into [0, icf[k, d:]...]: 0 on and above the diagonal, 1 + the entry's
    column-major rank below it, so `padded[:, lower_index(d)]` is the strict lower triangle."""
    cols, rows = np.triu_indices(d, 1)  # (col, row) pairs with row > col, column by column
    idx = np.zeros((d, d), np.int64)
    idx[rows, cols] = 1 + np.arange(rows.size)
    return idx


def _constants(n, d, k):
    """The terms without parameters: the Gaussians' normalizer and the Wishart's."""
    nu = d + M + 1
    multigammaln = d * (d - 1) / 4 * math.log(math.pi) + sum(
        math.lgamma(0.5 * nu + (1 - j) / 2) for j in range(1, d + 1))
    wishart = nu * d * (math.log(GAMMA) - 0.5 * math.log(2)) - multigammaln
    return -n * d * 0.5 * math.log(2 * math.pi) - k * wishart


def logsumexp(a, axis, xp=np):
    m = xp.max(a, axis=axis, keepdims=True)
    return xp.squeeze(m, axis) + xp.log(xp.sum(xp.exp(a - m), axis=axis))


def gmm_objective(alphas, means, icf, x, xp=np):
    n, d = x.shape
    k = alphas.shape[0]
    log_diag = icf[:, :d]
    diag = xp.exp(log_diag)
    sum_qs = xp.sum(log_diag, axis=1)
    lower = xp.concatenate([xp.zeros((k, 1)), icf[:, d:]], axis=1)[:, lower_index(d)]
    Q = diag[:, :, None] * xp.eye(d) + lower  # (K, d, d)
    Z = x[None, :, :] - means[:, None, :]  # (K, n, d)
    Y = Z @ xp.swapaxes(Q, 1, 2)  # Y[k, i] = Q_k (x_i - mu_k)
    beta = (alphas + sum_qs)[:, None] - 0.5 * xp.sum(Y * Y, axis=2)  # (K, n)
    prior = xp.sum(0.5 * GAMMA**2 * (xp.sum(diag * diag, axis=1)
                                     + xp.sum(icf[:, d:] ** 2, axis=1)) - M * sum_qs)
    return (_constants(n, d, k) + xp.sum(logsumexp(beta, 0, xp))
            - n * logsumexp(alphas, 0, xp) + prior)


def gmm_grad_by_hand(alphas, means, icf, x):
    """The analytic gradient. With w = softmax_k(beta), y = Q(x - mu), z = x - mu:
    d/dalpha = sum_i w - n softmax(alpha); d/dmu_k = Q_k^T sum_i w y;
    d/dQ_k = -sum_i w y z^T, through Q's diagonal exp(q) (plus 1 per point from sum q) and its
    strict lower entries; the prior adds gamma^2 exp(2q) - m and gamma^2 l."""
    n, d = x.shape
    diag = np.exp(icf[:, :d])
    lower = np.concatenate([np.zeros((len(icf), 1)), icf[:, d:]], axis=1)[:, lower_index(d)]
    Q = diag[:, :, None] * np.eye(d) + lower
    Z = x[None, :, :] - means[:, None, :]
    Y = Z @ np.swapaxes(Q, 1, 2)
    beta = (alphas + icf[:, :d].sum(1))[:, None] - 0.5 * np.einsum("kij,kij->ki", Y, Y)
    w = np.exp(beta - beta.max(0))
    w /= w.sum(0)
    a = np.exp(alphas - alphas.max())
    wsum = w.sum(1)
    WY = w[:, :, None] * Y
    G = -np.swapaxes(WY, 1, 2) @ Z  # (K, d, d): d loss / d Q_k
    cols, rows = np.triu_indices(d, 1)
    d_icf = np.empty_like(icf)
    d_icf[:, :d] = (wsum[:, None] + np.diagonal(G, axis1=1, axis2=2) * diag
                    + GAMMA**2 * diag * diag - M)
    d_icf[:, d:] = G[:, rows, cols] + GAMMA**2 * icf[:, d:]
    d_means = np.einsum("kd,kde->ke", WY.sum(1), Q)
    return wsum - n * a / a.sum(), d_means, d_icf


def _torch_objective(alphas, means, icf, x):
    n, d = x.shape
    diag = torch.exp(icf[:, :d])
    padded = torch.cat([torch.zeros(icf.shape[0], 1, dtype=icf.dtype), icf[:, d:]], 1)
    Q = torch.diag_embed(diag) + padded[:, torch.from_numpy(lower_index(d))]
    Y = (x[None] - means[:, None]) @ Q.transpose(1, 2)
    beta = (alphas + icf[:, :d].sum(1))[:, None] - 0.5 * (Y * Y).sum(2)
    prior = (0.5 * GAMMA**2 * ((diag * diag).sum(1) + (icf[:, d:] ** 2).sum(1))
             - M * icf[:, :d].sum(1)).sum()
    return (_constants(n, d, icf.shape[0]) + torch.logsumexp(beta, 0).sum()
            - n * torch.logsumexp(alphas, 0) + prior)


def _impls(grad: bool):
    args = gmm_data()
    if grad:
        g = gradjit.grad(gmm_objective, argnums=(0, 1, 2), backend="llvm")
        impls = {"gradjit": lambda: g(*args), "numpy by hand": lambda: gmm_grad_by_hand(*args)}
    else:
        f = gradjit.jit(gmm_objective, backend="llvm")
        impls = {"gradjit": lambda: f(*args), "numpy by hand": lambda: gmm_objective(*args)}
    if jax is not None:
        jf = functools.partial(gmm_objective, xp=jnp)
        jf = jax.jit(jax.grad(jf, argnums=(0, 1, 2)) if grad else jf)
        jargs = [jnp.asarray(a) for a in args]
        impls["jax"] = lambda: jax.block_until_ready(jf(*jargs))
    if torch is not None:
        targs = [torch.tensor(a) for a in args]

        def torch_grad():
            ps = [t.detach().requires_grad_(True) for t in targs[:3]]
            return torch.autograd.grad(_torch_objective(*ps, targs[3]), ps)

        def torch_objective():
            with torch.no_grad():
                return _torch_objective(*targs)

        impls["torch"] = torch_grad if grad else torch_objective
    return impls


GRAD, OBJECTIVE = "W7 GMM grad (ms)", "W7 GMM objective (ms)"
WORKLOADS = {GRAD: (lambda: _impls(True), 1e3), OBJECTIVE: (lambda: _impls(False), 1e3)}
