"""Plain-numpy spellings of the gradjit.numpy functions numpy lacks (the fuzzer's reference).

Written independently of gradjit (no import of it), each in the most direct numpy form, so the
reference side of "interpreter == numpy" shares no code with the side under test.
"""

from __future__ import annotations

import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf(x):
    return _erf(x).astype(x.dtype)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0, x)


def relu(x):
    return np.where(x > 0, x, 0)


def logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    return x - logsumexp(x, axis=axis, keepdims=True)


def index_add(x, idx, upd, axis=0):
    """x with upd added at idx along axis, repeats accumulating (numpy's add.at)."""
    out = np.moveaxis(x.copy(), axis, 0)
    idx = np.asarray(idx)
    target = x.shape[:axis] + idx.shape + x.shape[axis + 1 :]
    u = np.broadcast_to(np.asarray(upd, x.dtype), target)
    u = np.moveaxis(u.reshape(x.shape[:axis] + (idx.size,) + x.shape[axis + 1 :]), axis, 0)
    np.add.at(out, np.where(idx < 0, idx + x.shape[axis], idx).ravel(), u)
    return np.moveaxis(out, 0, axis)


def pad_interior(x, lo, hi, interior, value=0.0):
    """Pad with lo/hi elements and `interior` elements between neighbours, all `value`."""
    out = x
    for axis, (a, b, k) in enumerate(zip(lo, hi, interior)):
        n = out.shape[axis]
        size = a + b + n + max(n - 1, 0) * k
        shape = out.shape[:axis] + (size,) + out.shape[axis + 1 :]
        grown = np.full(shape, value, dtype=x.dtype)
        place = [slice(None)] * out.ndim
        place[axis] = np.arange(n) * (k + 1) + a
        grown[tuple(place)] = out
        out = grown
    return out


def dot_general(x, y, contract, batch):
    """XLA's dot_general: output axes are batch, then lhs free, then rhs free."""
    (xc, yc), (xb, yb) = contract, batch
    xf = [i for i in range(x.ndim) if i not in xc + xb]
    yf = [i for i in range(y.ndim) if i not in yc + yb]
    xt = np.transpose(x, list(xb) + xf + list(xc))
    yt = np.transpose(y, list(yb) + list(yc) + yf)
    nb, nc = len(xb), len(xc)
    bshape = xt.shape[:nb]
    fx, fy = xt.shape[nb : xt.ndim - nc], yt.shape[nb + nc :]
    k = int(np.prod(xt.shape[xt.ndim - nc :], dtype=np.int64))
    a = xt.reshape(bshape + (int(np.prod(fx, dtype=np.int64)), k))
    b = yt.reshape(bshape + (k, int(np.prod(fy, dtype=np.int64))))
    return np.matmul(a, b).reshape(bshape + fx + fy)


def iota(shape, axis, dtype):
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return np.broadcast_to(np.arange(shape[axis]).reshape(view), shape).astype(dtype)


def one_hot(idx, n):
    return (np.asarray(idx)[..., None] == np.arange(n)).astype(np.float64)


def gather(x, idx, axis):
    return np.take(x, idx, axis=axis)


# ---- structured control flow, as the Python loops and branches it stands for ------------------


def _keep(value, like):
    """A loop carry keeps its type (a body result of another dtype is cast back)."""
    return np.asarray(value, dtype=np.asarray(like).dtype)


def scan(f, init, xs, reverse=False, checkpoint=None):
    carry, ys = init, []
    for x in (xs[::-1] if reverse else xs):
        new, y = f(carry, x)
        carry = tuple(_keep(n, c) for n, c in zip(new, carry)) if isinstance(carry, tuple) \
            else _keep(new, carry)
        ys.append(y)
    ys = ys[::-1] if reverse else ys
    return carry, (np.stack(ys) if ys else None)  # no ys to stack for an empty scan


def fori_loop(lower, upper, body, init):
    value = init
    for i in range(int(lower), int(upper)):
        value = _keep(body(i, value), init)
    return value


def while_loop(cond, body, init):
    state = init
    while cond(state):
        state = tuple(_keep(n, s) for n, s in zip(body(state), state))
    return state


def checkpoint(f):
    return f  # rematerialization changes what reverse mode stores, not what f computes


def cond(pred, true_fun, false_fun, *operands):
    return (true_fun if pred else false_fun)(*operands)


def switch(index, branches, *operands):
    return branches[int(np.clip(index, 0, len(branches) - 1))](*operands)
