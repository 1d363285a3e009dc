"""gradjit demo: trace a function, differentiate it as IR, run it, and show the IR."""

import numpy as np

import gradjit
import gradjit.numpy as gnp


def loss(W, b, x, y):
    """A tiny softmax classifier: mean cross-entropy of logits x @ W + b."""
    logits = x @ W + b
    return -np.mean(np.sum(gnp.log_softmax(logits, axis=1) * y, axis=1))


def main():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(4, 3)) * 0.1, np.zeros(3)
    x = rng.normal(size=(8, 4))
    y = np.eye(3)[rng.integers(0, 3, size=8)]

    value_and_grad = gradjit.value_and_grad(loss, argnums=(0, 1))
    value, (dW, db) = value_and_grad(W, b, x, y)
    print(f"loss(W, b)   = {value:.6f}")
    print("dloss/dW     =\n", np.array2string(dW, precision=5))
    print("dloss/db     =", np.array2string(db, precision=5))

    # a finite-difference check of one entry, so the demo shows the numbers are right
    eps = 1e-6
    Wp, Wm = W.copy(), W.copy()
    Wp[0, 0] += eps
    Wm[0, 0] -= eps
    fd = (loss(Wp, b, x, y) - loss(Wm, b, x, y)) / (2 * eps)
    print(f"check dW[0,0]: gradjit {dW[0, 0]:.8f}  finite difference {fd:.8f}")

    # higher order: the adjoint is IR, so grad(grad(grad(sin))) is just the same pass again
    d3 = gradjit.grad(gradjit.grad(gradjit.grad(np.sin)))
    print(f"d3/dx3 sin(x) at 0.5 = {d3(0.5):.8f}  (-cos 0.5 = {-np.cos(0.5):.8f})")

    f = lambda x: np.sum(np.tanh(x) * np.exp(-x * x))  # noqa: E731
    print("\n-- primal IR (stage 'trace') --")
    print(gradjit.dump(f, np.ones(5), stage="trace"))
    print("\n-- gradient IR (stage 'opt') --")
    print(gradjit.grad(f).dump(np.ones(5), stage="opt"))


if __name__ == "__main__":
    main()
