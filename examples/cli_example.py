"""A small program for the command line (the README's "Command line" section runs it)."""

import numpy as np


def energy(x, W):
    """A tanh layer's squared output, summed: matmul, elementwise, reduction."""
    h = np.tanh(x @ W)
    return np.sum(h * h)


if __name__ == "__main__":
    print(energy(np.ones((2, 3)), np.ones((3, 2))))
