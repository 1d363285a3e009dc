"""Programs the CLI tests run through the real `gradjit` command."""

import numpy as np


def tanh_layer(x, W):
    return np.sum(np.tanh(x @ W) ** 2)


def chain(x):
    return np.sum(x[:-1] ** 2 * x[1:]) + np.sum(np.sin(x))


def vector_out(x):
    return np.sin(x) * 2.0


def shape_bug(x):
    return np.sum(x + np.ones(7))


def integer_out(x):
    return np.argmax(x)


def raises(x):
    raise RuntimeError("boom from user code")


if __name__ == "__main__":
    print("script ran", chain(np.ones(3)))
