"""A corpus of small whole programs, each parametrized into every whole-program test.

A program is a plain Python function on numpy arrays (numpy spelling, `gradjit.numpy` only where
numpy has no name), returning a float scalar, plus a seeded generator of example arguments and
the argnums to differentiate. Arguments keep clear of kinks (relu, abs, max, where thresholds)
by a margin far larger than the finite-difference step, so every program is smooth where it is
checked, to second order.

Flags: "f32" marks programs whose float arguments are f32; the tests check them against the same
program run on f64 copies of the arguments instead of against finite differences.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import gradjit.numpy as gnp


@dataclass(frozen=True)
class Program:
    name: str
    fn: Callable
    make_args: Callable[[np.random.Generator], tuple]
    argnums: int | tuple[int, ...] = 0
    flags: frozenset = frozenset()

    def args(self) -> tuple:
        """The example arguments: the same on every call (seeded by the program's name)."""
        return self.make_args(np.random.default_rng(zlib.crc32(self.name.encode())))


PROGRAMS: list[Program] = []


def program(make_args, argnums=0, flags=()):
    """Register the decorated function as a corpus program."""
    def register(fn):
        PROGRAMS.append(Program(fn.__name__, fn, make_args, argnums, frozenset(flags)))
        return fn

    return register


def normal(rng, *shape, scale=1.0, dtype=np.float64):
    """A normal sample as an array (0-d when no shape is given, never a numpy scalar)."""
    return np.asarray(rng.normal(size=shape) * scale, dtype=dtype)


def away_from(x, point=0.0, margin=0.1):
    """x pushed at least `margin` away from `point` (so a kink there is never crossed)."""
    return np.where(x >= point, np.maximum(x, point + margin), np.minimum(x, point - margin))


# ---- models ------------------------------------------------------------------------------


def mlp_args(rng, batch=6, din=4, dh=5, classes=3, dtype=np.float64):
    params = {"W1": normal(rng, din, dh, scale=0.5, dtype=dtype),
              "b1": normal(rng, dh, dtype=dtype),
              "W2": normal(rng, dh, classes, scale=0.5, dtype=dtype),
              "b2": normal(rng, classes, dtype=dtype)}
    labels = rng.integers(0, classes, size=batch)
    return params, normal(rng, batch, din, dtype=dtype), labels


def mlp_logits(params, x):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return h @ params["W2"] + params["b2"]


def mlp_onehot_args(rng):
    params, x, labels = mlp_args(rng)
    return params, x, np.eye(3)[labels]


@program(mlp_onehot_args)
def mlp_onehot(params, x, y):
    """Softmax cross-entropy written out: the shift by the row max cancels in the gradient."""
    logits = mlp_logits(params, x)
    m = np.max(logits, axis=1, keepdims=True)
    log_p = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.mean(np.sum(log_p * y, axis=1))


@program(mlp_args)
def mlp_labels(params, x, labels):
    """Integer labels picked out of the log-probabilities by a gather."""
    log_p = gnp.log_softmax(mlp_logits(params, x), axis=1)
    n = x.shape[0]
    return -np.mean(log_p[np.arange(n), labels])


@program(lambda rng: mlp_args(rng, dtype=np.float32), flags=("f32",))
def mlp_f32(params, x, labels):
    log_p = gnp.log_softmax(mlp_logits(params, x), axis=1)
    return -np.sum(log_p[np.arange(x.shape[0]), labels]) / 6.0


def gmm_args(rng, n=7, K=3, d=3):
    return (normal(rng, K), normal(rng, K, d), normal(rng, K, d, d, scale=0.3),
            normal(rng, n, d))


def gmm_terms(alphas, means, L, logdet, x):
    """log(pi_k N(x_n | mu_k, (L_k L_k^T)^-1)) for every (n, k): z = L_k^T (x_n - mu_k)."""
    d = x.shape[1]
    diff = x[:, None, :] - means[None, :, :]
    z = np.einsum("kji,nkj->nki", L, diff)
    return (gnp.log_softmax(alphas) + logdet - 0.5 * np.sum(z ** 2, axis=2)
            - 0.5 * d * np.log(2 * np.pi))


@program(gmm_args, argnums=(0, 1, 2))
def gmm_tril(alphas, means, Lraw, x):
    """Gaussian mixture log-likelihood; precision factors from np.tril, exp on the diagonal."""
    d = x.shape[1]
    eye = np.eye(d)
    L = np.tril(Lraw, -1) + np.exp(Lraw) * eye
    logdet = np.sum(Lraw * eye, axis=(1, 2))
    terms = gmm_terms(alphas, means, L, logdet, x)
    m = np.max(terms, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(terms - m), axis=1)) + m[:, 0])


def gmm_packed_args(rng, n=7, K=3, d=3):
    alphas, means, _, x = gmm_args(rng, n, K, d)
    return alphas, means, normal(rng, K, d * (d + 1) // 2, scale=0.3), x


@program(gmm_packed_args, argnums=(0, 1, 2))
def gmm_packed(alphas, means, q, x):
    """The same likelihood with each factor packed as d(d+1)/2 numbers, unpacked by a gather."""
    d = x.shape[1]
    rows, cols = np.tril_indices(d)
    slot = np.zeros((d, d), np.int64)
    slot[rows, cols] = 1 + np.arange(len(rows))  # slot 0 holds the zero of the upper triangle
    on_diag = rows == cols
    q = np.where(on_diag, np.exp(q), q)
    L = np.concatenate([np.zeros((q.shape[0], 1)), q], axis=1)[:, slot]
    logdet = np.sum(np.log(q[:, np.nonzero(on_diag)[0]]), axis=1)
    return np.sum(gnp.logsumexp(gmm_terms(alphas, means, L, logdet, x), axis=1))


@program(lambda rng: ((normal(rng, 4, 3, scale=0.5), normal(rng, 3, 3, scale=0.5),
                       normal(rng, 3)), normal(rng, 5, 2, 4)), argnums=0)
def rnn_5_steps(params, xs):
    """An Elman RNN unrolled over 5 steps (Python loop over a static length)."""
    Wx, Wh, b = params
    h = np.zeros((xs.shape[1], 3))
    for t in range(5):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h ** 2)


@program(lambda rng: (normal(rng, 4), normal(rng), normal(rng, 10, 4),
                      rng.integers(0, 2, size=10).astype(np.float64)), argnums=(0, 1))
def logistic_regression(w, b, X, y):
    z = X @ w + b
    p = gnp.sigmoid(z)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 0.01 * np.sum(w * w)


@program(lambda rng: (normal(rng, 6, scale=0.5) + 1.0,))
def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@program(lambda rng: (normal(rng, 3, 4, scale=0.5), normal(rng, 3, 4, scale=0.5),
                      normal(rng, 3, 4, scale=0.5)), argnums=(0, 1, 2))
def attention(q, k, v):
    scores = q @ k.T / np.sqrt(4.0)
    return np.sum(gnp.softmax(scores, axis=-1) @ v * np.arange(4.0))


@program(lambda rng: (normal(rng, 4, 6), normal(rng, 6), normal(rng, 6)), argnums=(0, 1, 2))
def layer_norm(x, gamma, beta):
    mu = np.mean(x, axis=-1, keepdims=True)
    sd = np.sqrt(np.var(x, axis=-1, keepdims=True) + 1e-5)
    return np.sum(np.sin((x - mu) / sd * gamma + beta))


@program(lambda rng: (normal(rng, 12), normal(rng, 3)), argnums=(0, 1))
def conv1d_slices(x, w):
    """A valid 1-D convolution as a sum of shifted slices."""
    n = x.shape[0] - 2
    y = w[0] * x[0:n] + w[1] * x[1:n + 1] + w[2] * x[2:n + 2]
    return np.sum(np.tanh(y))


@program(lambda rng: (normal(rng, 5), normal(rng, 4)), argnums=(0, 1))
def horner_polynomial(x, coeffs):
    acc = np.zeros_like(x)
    for i in range(4):
        acc = acc * x + coeffs[i]
    return np.sum(acc)


# ---- composites --------------------------------------------------------------------------


@program(lambda rng: (normal(rng, 3, 5, scale=2.0),))
def softplus_log_softmax(x):
    return np.sum(gnp.softplus(x)) + np.sum(gnp.log_softmax(x, axis=0) * np.cos(x))


@program(lambda rng: (normal(rng, 4, 3), normal(rng, 4, 3)), argnums=(0, 1))
def logaddexp_logsumexp(x, y):
    return np.sum(np.logaddexp(x, y)) + np.sum(gnp.logsumexp(x * y, axis=1, keepdims=True))


@program(lambda rng: (np.abs(normal(rng, 5)) + 0.5, normal(rng, 5, scale=0.5)), argnums=(0, 1))
def unary_math(x, y):
    return np.sum(np.log1p(x) * np.expm1(y) + np.sqrt(x) / (1.0 + x) + np.tan(y)
                  + gnp.erf(y) + np.arctan2(y, x) + np.reciprocal(x + 1.0) + np.cos(x * y))


@program(lambda rng: (np.abs(normal(rng, 4)) + 0.5, normal(rng, 4, scale=0.5)), argnums=(0, 1))
def powers(x, y):
    return np.sum(x ** 3 + x ** -2 + x ** 2.5 + np.power(x, y) + 2.0 ** y + x ** 0.5 + y ** 2)


# ---- broadcasting, contraction ------------------------------------------------------------


@program(lambda rng: (normal(rng, 3, 4), normal(rng, 4), normal(rng, 3), normal(rng, 2, 1, 4),
                      normal(rng)), argnums=(0, 1, 2, 3, 4))
def broadcast_kinds(x, row, col, lead, s):
    """Scalar, row, column and leading-dimension broadcasts, each in both operand orders."""
    y = s * x + row - col[:, None]
    z = lead * y + y / (2.0 + lead ** 2)  # (2, 1, 4) with (3, 4) -> (2, 3, 4)
    return np.sum(np.sin(z)) + np.sum(x * s) + np.sum(row[None, :] * col[:, None])


@program(lambda rng: (normal(rng, 3, 4), normal(rng, 4, 5), normal(rng, 5, 2), normal(rng, 2)),
         argnums=(0, 1, 2, 3))
def matmul_chain(A, B, C, v):
    return np.sum(np.sin(A @ B @ C @ v)) + v @ (C.T @ C) @ v


@program(lambda rng: (normal(rng, 2, 3, 4), normal(rng, 2, 4, 5), normal(rng, 5, 2),
                      normal(rng, 1, 2, 3)), argnums=(0, 1, 2, 3))
def batched_matmul(x, y, w, u):
    """Batch dims: equal, a 2-D right operand, and a broadcast batch of one."""
    z = (x @ y) @ w  # (2, 3, 2)
    return np.sum(np.tanh(u @ z)) + np.sum(np.matmul(x, y) ** 2)


@program(lambda rng: (normal(rng, 2, 3, 4), normal(rng, 2, 4, 3), normal(rng, 3, 4),
                      normal(rng, 4)), argnums=(0, 1, 2, 3))
def einsum_forms(a, b, m, v):
    bmm = np.einsum("bij,bjk->bik", a, b)
    trace_like = np.einsum("ij,ij->", m, m)
    outer = np.einsum("i,j->ij", v, v)
    chain = np.einsum("ij,jk,kl->il", m, outer, m.T)
    return np.sum(np.sin(bmm)) + trace_like + np.sum(chain) + np.sum(np.einsum("bij,j->bi", a, v))


@program(lambda rng: (normal(rng, 3, 4), normal(rng, 4), normal(rng, 4, 2)), argnums=(0, 1, 2))
def dot_family(a, v, t):
    return (np.sum(np.dot(a, v) ** 2) + np.sum(np.outer(v, v) * 0.5) + np.inner(v, v)
            + np.sum(np.tensordot(a, t, axes=1)) + np.sum(np.tensordot(a, a, axes=([0], [0]))))


# ---- indexing ----------------------------------------------------------------------------


@program(lambda rng: (normal(rng, 5, 3), normal(rng, 6, 3)), argnums=(0, 1))
def gather_scatter(table, upd):
    """Gather with repeated indices, then scatter-add with repeats back into a new array."""
    idx = np.array([0, 3, 3, 1, 4, 0])
    picked = table[idx] * upd
    out = gnp.index_add(np.zeros((4, 3)), np.array([1, 1, 0, 3, 2, 1]), picked)
    return np.sum(np.sin(out)) + np.sum(np.take(table, np.array([2, 0, 2]), axis=1) ** 2)


@program(lambda rng: (normal(rng, 6, 5), rng.integers(0, 5, size=6)))
def gather_traced_index(x, idx):
    """The index array is an (integer) argument: traced, not constant."""
    rows = np.arange(6)
    return np.sum(np.exp(x[rows, idx])) + np.sum(np.take(x, idx, axis=1)[:, :5] * x)


@program(lambda rng: (normal(rng, 8, 9),))
def slicing_steps(x):
    a = x[::2, 1::3]  # (4, 3)
    b = x[::-1][:4, ::-3]  # negative steps: (4, 3)
    c = x[6:1:-2, 8:0:-3]  # (3, 3)
    d = x[..., 2] + x[:, -1]
    return np.sum(a * b) + np.sum(np.sin(c)) + np.sum(d[None, :, None] ** 2) + x[3, 4]


@program(lambda rng: (normal(rng, 4, 5),))
def advanced_indexing(x):
    mask = np.arange(20).reshape(4, 5) % 3 == 0  # a constant boolean mask
    return (np.sum(x[[0, 2, 3], [1, 4, 0]] ** 2) + np.sum(np.exp(x[mask]))
            + np.sum(x[:, [4, 0, 4]] * x[1:, 1:4].sum()))


@program(lambda rng: (normal(rng, 5, 4),))
def flip_and_pad(x):
    y = np.flip(x, axis=0) * x + np.flip(x) + x[::-1, ::-1]
    p = np.pad(y, ((1, 2), (0, 3)))
    q = np.pad(x, 1, constant_values=0.5)
    return np.sum(np.sin(p) * np.arange(7.0)) + np.sum(q ** 2)


# ---- shapes, reductions --------------------------------------------------------------------


@program(lambda rng: (normal(rng, 2, 3, 4),))
def reshape_transpose(x):
    y = x.reshape(6, 4).T.reshape(2, 2, 6)
    z = np.transpose(y, (2, 0, 1)).reshape(-1, 4)
    w = np.moveaxis(x, 0, -1) * np.swapaxes(x, 0, 2).transpose(1, 0, 2)
    v = np.squeeze(np.expand_dims(x, 1), axis=1).ravel()
    return np.sum(np.sin(z) @ np.arange(4.0)) + np.sum(w ** 2) + np.sum(v * np.cos(v))


@program(lambda rng: (normal(rng, 3, 4), normal(rng, 3, 2)), argnums=(0, 1))
def concat_stack_split(x, y):
    c = np.concatenate([x, y, x[:, :1]], axis=1)  # (3, 7)
    s = np.stack([x, x * 2.0, np.sin(x)], axis=1)  # (3, 3, 4)
    a, b, d = np.split(c, [2, 5], axis=1)
    return np.sum(a ** 2) + np.sum(b * np.sum(s, axis=2)) + np.sum(np.tanh(d))


@program(lambda rng: (normal(rng, 3, 4, 2) + 0.2,))
def reductions_keepdims(x):
    s = np.sum(x, axis=1, keepdims=True)
    mx = np.max(x, axis=(0, 2), keepdims=True)
    mn = np.min(x, axis=2, keepdims=True)
    pr = np.prod(x, axis=1, keepdims=True)
    mean, var = np.mean(x, axis=0, keepdims=True), np.var(x, axis=2, keepdims=True)
    return (np.sum(s * x) + np.sum(mx * x) + np.sum(mn ** 2) + np.sum(pr)
            + np.sum(mean * x) + np.sum(var) + np.max(x) - np.min(x) + np.prod(x[0, :2]))


@program(lambda rng: (normal(rng, 4, 5),))
def prod_and_std(x):
    return np.sum(np.prod(x, axis=0)) + np.sum(np.std(x, axis=1)) + x.prod()


# ---- pytrees, structure --------------------------------------------------------------------


@program(lambda rng: ({"layers": [(normal(rng, 3, 3), normal(rng, 3)),
                                  (normal(rng, 3, 2), normal(rng, 2))],
                       "scale": normal(rng)}, (normal(rng, 4, 3), [normal(rng, 2)])),
         argnums=(0, 1))
def pytree_params(params, data):
    x, (shift,) = data
    for W, b in params["layers"]:
        x = np.tanh(x @ W + b)
    return params["scale"] * np.sum((x - shift) ** 2)


@program(lambda rng: (normal(rng, 5), normal(rng, 5), normal(rng, 3, 3)), argnums=(0, 1, 2))
def unused_inputs(x, unused, also_unused):
    """Two differentiated arguments never reach the output: their gradients are zeros."""
    return np.sum(np.sin(x) * x)


@program(lambda rng: (normal(rng, 4), normal(rng, 4)), argnums=1)
def argnum_one(x, y):
    return np.sum(x * np.exp(y)) + np.sum(y ** 3)


@program(lambda rng: (normal(rng, 6),))
def fan_out(x):
    """One subexpression feeding many consumers; its cotangents must add up."""
    y = np.sin(x)
    z = y * y + y * np.exp(y) + y
    w = z * y - np.tanh(z)
    return np.sum(w * y) + np.sum(z) * np.sum(y)


@program(lambda rng: (normal(rng, 5),))
def stop_gradient_shift(x):
    """stop_gradient on a shift the result does not depend on: the gradient stays exact."""
    m = gnp.stop_gradient(np.max(x))
    c = gnp.stop_gradient(np.mean(x))
    return np.log(np.sum(np.exp(x - m))) + m + np.sum((x - c) - (x - gnp.stop_gradient(x)))


@program(lambda rng: (away_from(normal(rng, 4, 5), 0.3), normal(rng, 4, 5)), argnums=(0, 1))
def where_mask(x, y):
    cond = x > 0.3
    const_mask = np.arange(20).reshape(4, 5) % 2 == 0
    return (np.sum(np.where(cond, np.sin(x) * y, x ** 2)) + np.sum(np.where(const_mask, y, 0.0))
            + np.sum(np.where(y[:, :1] > 10.0, 0.0, x * y)))  # broadcast mask, never true


def kink_free_pair(rng):
    """x at least 0.1 from 0, and y at least 0.2 from x."""
    x = away_from(normal(rng, 6), 0.0)
    return x, x + away_from(normal(rng, 6), 0.0, 0.2)


@program(kink_free_pair, argnums=(0, 1))
def max_min_abs_relu(x, y):
    """Kinked ops evaluated at least 0.1 away from every kink."""
    return np.sum(np.maximum(x, y) ** 2 + np.minimum(x, y) * x + np.abs(x) * y
                  + gnp.relu(x) * np.sin(y) + np.maximum(x, 0.0) + np.clip(x * 0.01, -1.0, 1.0))


# ---- dtypes and Python scalars ---------------------------------------------------------------


@program(lambda rng: (normal(rng, 4, 3, dtype=np.float32), normal(rng, 3, dtype=np.float32)),
         argnums=(0, 1), flags=("f32",))
def elementwise_f32(x, b):
    return np.sum(np.tanh(x + b) * np.exp(-x * x) + 2.0 * x ** 2) / np.float32(3.0)


@program(lambda rng: (normal(rng, 5), 0.7), argnums=(0, 1))
def python_float_scale(x, s):
    return np.sum(np.sin(s * x)) * s ** 2 + s


@program(lambda rng: (0.3, 1.2), argnums=(0, 1))
def python_floats_only(a, b):
    return a * np.sin(b) + np.exp(a * b) - a ** 3 / b


@program(lambda rng: (normal(rng, 3, 4),))
def scalar_output_methods(x):
    """ndarray methods and operators instead of numpy functions."""
    y = (x.T @ x).sum(axis=0)
    return -((y - x.mean()) ** 2).mean() + abs(x).max() + x.var() + (x * x).std()
