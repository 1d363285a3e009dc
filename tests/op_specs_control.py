"""Specs for the structured control-flow records (scan, cond, while_loop).

Their regions are small fixed bodies traced with the array API; Hypothesis draws shapes,
lengths, directions and branch indices. References are plain Python loops over numpy.
Multiple-result records return tuples; tests/test_primitives.py packs them into one array.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from gradjit.ir.types import TensorType
from gradjit.ops import api as A
from gradjit.ops.control import trace_region


def _t(shape, dtype="f64"):
    return TensorType(dtype, tuple(shape))


def _scan_body(W, c, x):
    return [A.tanh(c * W + x), c * x + A.sin(x)]


def _scan_body_np(W, c, x):
    return np.tanh(c * W + x), c * x + np.sin(x)


def scan_draw(d):
    shape = d.shape(max_dims=2, max_side=3)
    length = d.int(0, 4)
    reverse = d(st.booleans(), "reverse")
    body = trace_region(_scan_body, [_t(shape)] * 3, "body")
    args = [d.values(shape, -1, 1), d.values(shape, -1, 1), d.values((length,) + shape, -1, 1)]
    return args, {"body": body, "num_consts": 1, "num_carry": 1, "length": length,
                  "reverse": reverse}


def scan_ref(W, c, xs, body, num_consts, num_carry, length, reverse):
    ys = [None] * length
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        c, ys[i] = _scan_body_np(W, c, xs[i])
    return c, np.stack(ys) if length else np.zeros((0,) + W.shape)


_BRANCHES = [
    (lambda x, y: [x * y, A.sin(x)], lambda x, y: (x * y, np.sin(x))),
    (lambda x, y: [x + y, A.cos(y) * x], lambda x, y: (x + y, np.cos(y) * x)),
    (lambda x, y: [A.exp(x) - y, y * y], lambda x, y: (np.exp(x) - y, y * y)),
]


def cond_draw(d):
    shape = d.shape(max_dims=2, max_side=3)
    n = d.int(1, 3)
    branches = tuple(trace_region(_BRANCHES[k][0], [_t(shape)] * 2, f"branch{k}")
                     for k in range(n))
    index = np.int64(d.int(-1, 3))  # out of range clamps, like lax.switch
    return [index, d.values(shape), d.values(shape)], {"branches": branches}


def cond_ref(index, x, y, branches):
    return _BRANCHES[int(np.clip(index, 0, len(branches) - 1))][1](x, y)


def while_draw(d):
    shape = d.shape(max_dims=2, max_side=3)
    n = np.int64(d.int(0, 4))
    cond = trace_region(lambda n, v, i: [A.less(i, n)],
                        [_t((), "i64"), _t(shape), _t((), "i64")], "cond")
    body = trace_region(lambda a, v, i: [A.tanh(v * a) + 0.5 * v, i + 1],
                        [_t(shape), _t(shape), _t((), "i64")], "body")
    args = [n, d.values(shape, -1, 1), d.values(shape, -1, 1), np.int64(0)]
    return args, {"cond": cond, "body": body, "num_cond_consts": 1, "num_body_consts": 1}


def while_ref(n, a, v, i, cond, body, num_cond_consts, num_body_consts):
    while i < n:
        v, i = np.tanh(v * a) + 0.5 * v, i + 1
    return v, np.int64(i)


def _remat_body(x, y):
    return [A.sin(x) * y, A.exp(x - y) * x]


def remat_draw(d):
    shape = d.shape(max_dims=2, max_side=3)
    body = trace_region(_remat_body, [_t(shape)] * 2, "body")
    return [d.values(shape, -1, 1), d.values(shape, -1, 1)], {"body": body}


def remat_ref(x, y, body):
    return np.sin(x) * y, np.exp(x - y) * x
