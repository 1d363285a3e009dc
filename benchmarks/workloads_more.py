"""More workloads: the Hessian at n=1000 (W5b), per-example gradients through vmap (W8), and
eager training loops (W6: the seed's linear regression, W6b: an MLP), each against the same
work in the peers. Same conventions as workloads.py."""

from __future__ import annotations

import numpy as np

import gradjit
import gradjit.numpy as gnp
from workloads import jax, torch, w5_f

if jax is not None:
    import jax.numpy as jnp


# ---- W5b: Hessian, n = 1000 --------------------------------------------------------------
def w5b():
    x = np.linspace(-1, 1, 1000)
    h = gradjit.hessian(w5_f, backend="llvm")
    impls = {"gradjit": lambda: h(x)}
    if jax is not None:
        jh = jax.jit(jax.hessian(lambda v: jnp.sum(v[:-1] ** 2 * v[1:]) + jnp.sum(jnp.sin(v))))
        impls["jax"] = lambda: jh(x).block_until_ready()
    if torch is not None:
        tx = torch.tensor(x)
        fn = lambda v: (v[:-1] ** 2 * v[1:]).sum() + torch.sin(v).sum()  # noqa: E731
        impls["torch"] = lambda: torch.func.hessian(fn)(tx)
    return impls


# ---- W8: per-example gradients of a small MLP ---------------------------------------------
def _mlp_params(rng, sizes=(32, 64, 10)):
    return [rng.normal(size=(a, b)) / np.sqrt(a) for a, b in zip(sizes, sizes[1:])]


def w8_loss(params, x, label):
    W1, W2 = params
    logits = np.tanh(x @ W1) @ W2
    return -gnp.log_softmax(logits)[label]


def w8():
    rng = np.random.default_rng(0)
    params = _mlp_params(rng)
    xs, labels = rng.normal(size=(256, 32)), rng.integers(0, 10, size=256)
    g = gradjit.jit(gradjit.vmap(gradjit.grad(w8_loss), in_axes=(None, 0, 0)), backend="llvm")
    impls = {"gradjit": lambda: g(params, xs, labels)}

    def by_hand():
        W1, W2 = params
        h = np.tanh(xs @ W1)
        z = h @ W2
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        dz = p.copy()
        dz[np.arange(256), labels] -= 1
        dW2 = h[:, :, None] * dz[:, None, :]
        dh = (dz @ W2.T) * (1 - h * h)
        return [xs[:, :, None] * dh[:, None, :], dW2]

    impls["numpy by hand"] = by_hand
    if jax is not None:
        def jloss(p, x, y):
            return -jax.nn.log_softmax(jnp.tanh(x @ p[0]) @ p[1])[y]
        jg = jax.jit(jax.vmap(jax.grad(jloss), in_axes=(None, 0, 0)))
        impls["jax"] = lambda: [a.block_until_ready() for a in jg(params, xs, labels)]
    if torch is not None:
        tp = [torch.tensor(p) for p in params]
        tx, ty = torch.tensor(xs), torch.tensor(labels)

        def tloss(p, x, y):
            logp = torch.log_softmax(torch.tanh(x @ p[0]) @ p[1], -1)
            return -torch.gather(logp, 0, y.unsqueeze(0)).sum()
        tg = torch.func.vmap(torch.func.grad(tloss), in_dims=(None, 0, 0))
        impls["torch"] = lambda: tg(tp, tx, ty)
    return impls


# ---- W6: eager training loops --------------------------------------------------------------
def _linear_regression(lib, steps=1000, lr=0.1):
    """The seed tutorial's loop: y = a + b x by SGD on the mean squared error."""
    rng = np.random.default_rng(42)
    x_np = rng.random((100, 1))
    y_np = 1 + 2 * x_np + 0.1 * rng.standard_normal((100, 1))

    def run():
        x, y = lib.tensor(x_np), lib.tensor(y_np)
        a = lib.tensor([0.5], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([0.5], dtype=lib.float64, requires_grad=True)
        for _ in range(steps):
            loss = ((y - (a + b * x)) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                a -= lr * a.grad
                b -= lr * b.grad
            a.grad.zero_()
            b.grad.zero_()
        return [a.detach().numpy(), b.detach().numpy()]

    return run


def w6():
    impls = {"gradjit": _linear_regression(gradjit)}
    if torch is not None:
        impls["torch"] = _linear_regression(torch)
    return impls


def _mlp_training(lib, F, steps=200):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((64, 784)).astype(np.float32)
    labels = rng.integers(0, 10, size=64)
    W1 = (rng.standard_normal((784, 256)) * 0.05).astype(np.float32)
    W2 = (rng.standard_normal((256, 10)) * 0.05).astype(np.float32)

    def run():
        x, y = lib.tensor(data), lib.tensor(labels)
        w1 = lib.tensor(W1, requires_grad=True)
        w2 = lib.tensor(W2, requires_grad=True)
        opt = lib.optim.SGD([w1, w2], lr=0.1)
        for _ in range(steps):
            opt.zero_grad()
            loss = F.cross_entropy(F.relu(x @ w1) @ w2, y)
            loss.backward()
            opt.step()
        return [w1.detach().numpy(), w2.detach().numpy()]

    return run


def w6b():
    import gradjit.nn.functional as gF

    impls = {"gradjit": _mlp_training(gradjit, gF)}
    if torch is not None:
        import torch.nn.functional as tF

        impls["torch"] = _mlp_training(torch, tF)
    return impls


WORKLOADS = {
    "W5b Hessian n=1000 (ms)": (w5b, 1e3),
    "W8 per-example grads (ms)": (w8, 1e3),
    "W6 eager lin.reg 1000 steps (ms)": (w6, 1e3),
    "W6b eager MLP 200 steps (ms)": (w6b, 1e3),
}
