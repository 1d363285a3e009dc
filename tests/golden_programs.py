"""Programs whose optimized gradient IR is kept as golden text (tests/golden/<name>.txt).

The IR's `loc` comments name this file and its line numbers: append new programs at the end
and regenerate with GRADJIT_UPDATE_GOLDEN=1 after any edit that moves a line.
"""

from __future__ import annotations

import numpy as np

import gradjit.numpy as gnp


def tanh_gauss(x):
    return np.sum(np.tanh(x) * np.exp(-x * x))


def softmax_regression(W, b, x, y):
    logits = x @ W + b
    return -np.mean(np.sum(gnp.log_softmax(logits, axis=1) * y, axis=1))


def strided_gather(x, idx):
    y = x[::2] * x[1::2]
    return np.sum(y[idx] ** 2) + np.sum(np.flip(x) * x)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


GOLDEN = {
    "tanh_gauss": (tanh_gauss, 0, lambda: (np.linspace(-1, 1, 5),)),
    "softmax_regression": (softmax_regression, (0, 1), lambda: (
        np.linspace(-1, 1, 12).reshape(4, 3), np.array([0.1, -0.2, 0.3]),
        np.cos(np.arange(32.0)).reshape(8, 4), np.eye(3)[np.arange(8) % 3])),
    "strided_gather": (strided_gather, 0, lambda: (np.arange(6.0), np.array([0, 2, 2]))),
    "rosenbrock": (rosenbrock, 0, lambda: (np.ones(4),)),
}
