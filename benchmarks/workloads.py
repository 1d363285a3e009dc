"""Benchmark workloads W1-W5: each is a dict of implementations (name -> zero-arg callable
doing one gradient evaluation), built lazily so a missing peer (torch, jax) only drops its
row. Every implementation computes the same gradient; `check` compares them to gradjit's."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile

import numpy as np

import gradjit

MISSING: dict[str, str] = {}  # peer -> why it is not in the table
# $GRADJIT_BENCH_PEERS=torch: import only these peers (a memory run measures one at a time)
ONLY_PEERS = os.environ.get("GRADJIT_BENCH_PEERS")


def _maybe(name):
    if ONLY_PEERS is not None and name not in ONLY_PEERS.split(","):
        return None
    try:
        return __import__(name)
    except Exception as e:  # noqa: BLE001  (a half-installed peer raises OSError, not ImportError)
        MISSING[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
        return None


torch = _maybe("torch")
jax = _maybe("jax")
if jax is not None:
    jax.config.update("jax_enable_x64", True)  # f64 workloads stay f64 (JAX defaults to f32)
    import jax.numpy as jnp
if torch is not None:
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


# ---- W1: scalar latency ------------------------------------------------------------------
def w1_f(x, y):
    return (x * y + np.sin(x)) * np.exp(y)


def w1():
    x, y = 0.7, -0.3
    g = gradjit.grad(w1_f, argnums=(0, 1), backend="llvm")
    impls = {"gradjit": lambda: g(x, y)}

    def by_hand():  # d/dx = (y + cos x) e^y; d/dy = (x + x y + sin x) e^y
        e = math.exp(y)
        return (y + math.cos(x)) * e, (x + x * y + math.sin(x)) * e

    impls["numpy by hand"] = by_hand
    if jax is not None:
        jg = jax.jit(jax.grad(lambda a, b: (a * b + jnp.sin(a)) * jnp.exp(b), argnums=(0, 1)))
        impls["jax"] = lambda: jg(x, y)
    if torch is not None:
        def torch_grad():
            a = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            b = torch.tensor(y, dtype=torch.float64, requires_grad=True)
            ((a * b + torch.sin(a)) * torch.exp(b)).backward()
            return a.grad, b.grad
        impls["torch"] = torch_grad
    return impls


# ---- W2: elementwise ---------------------------------------------------------------------
def w2_f(x):
    return np.sum(np.tanh(x) * np.exp(-x * x) + np.log1p(x * x))


def w2():
    x = np.random.default_rng(0).normal(size=10**6)
    g = gradjit.grad(w2_f, backend="llvm")

    def by_hand():
        t, e = np.tanh(x), np.exp(-x * x)
        return (1 - t * t) * e - 2 * x * t * e + 2 * x / (1 + x * x)

    impls = {"gradjit": lambda: g(x), "numpy by hand": by_hand}
    if jax is not None:
        jx = jnp.asarray(x)
        jg = jax.jit(jax.grad(lambda v: jnp.sum(jnp.tanh(v) * jnp.exp(-v * v)
                                                + jnp.log1p(v * v))))
        impls["jax"] = lambda: jg(jx).block_until_ready()
    if torch is not None:
        tx = torch.tensor(x)

        def torch_grad():
            v = tx.detach().requires_grad_(True)
            (torch.tanh(v) * torch.exp(-v * v) + torch.log1p(v * v)).sum().backward()
            return v.grad
        impls["torch"] = torch_grad
    return impls


# ---- W3: MLP -----------------------------------------------------------------------------
def w3_loss(W1, b1, W2, b2, x, y):
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True)) + m
    return -np.mean(np.sum((logits - lse) * y, axis=1))


def w3_data():
    rng = np.random.default_rng(0)
    f = np.float32
    W1 = (rng.normal(size=(784, 512)) * 0.05).astype(f)
    W2 = (rng.normal(size=(512, 10)) * 0.05).astype(f)
    b1, b2 = np.zeros(512, f), np.zeros(10, f)
    x = rng.normal(size=(256, 784)).astype(f)
    y = np.eye(10, dtype=f)[rng.integers(0, 10, 256)]
    return W1, b1, W2, b2, x, y


def w3():
    args = w3_data()
    W1, b1, W2, b2, x, y = args
    g = gradjit.grad(w3_loss, argnums=(0, 1, 2, 3), backend="llvm")

    def by_hand():
        h = np.tanh(x @ W1 + b1)
        z = h @ W2 + b2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dz = (p - y) / x.shape[0]
        dh = (dz @ W2.T) * (1 - h * h)
        return x.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0)

    impls = {"gradjit": lambda: g(*args), "numpy by hand": by_hand}
    if jax is not None:
        def jloss(W1, b1, W2, b2, x, y):
            z = jnp.tanh(x @ W1 + b1) @ W2 + b2
            return -jnp.mean(jnp.sum(jax.nn.log_softmax(z, axis=1) * y, axis=1))
        jg = jax.jit(jax.grad(jloss, argnums=(0, 1, 2, 3)))
        jargs = [jnp.asarray(a) for a in args]
        impls["jax"] = lambda: jax.block_until_ready(jg(*jargs))
    if torch is not None:
        targs = [torch.tensor(a) for a in args]

        def torch_grad():
            ps = [t.detach().requires_grad_(True) for t in targs[:4]]
            z = torch.tanh(targs[4] @ ps[0] + ps[1]) @ ps[2] + ps[3]
            loss = -(torch.log_softmax(z, dim=1) * targs[5]).sum(1).mean()
            return torch.autograd.grad(loss, ps)
        impls["torch"] = torch_grad
    return impls


# ---- W4: unrolled RNN --------------------------------------------------------------------
STEPS, HIDDEN, INPUT = 50, 128, 32


def w4_loss(Wh, Wx, b, xs):
    h = np.zeros(HIDDEN)
    for t in range(STEPS):
        h = np.tanh(Wh @ h + Wx @ xs[t] + b)
    return np.sum(h * h)


def w4_data():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(HIDDEN, HIDDEN)) * 0.1, rng.normal(size=(HIDDEN, INPUT)) * 0.1,
            np.zeros(HIDDEN), rng.normal(size=(STEPS, INPUT)))


def w4():
    args = w4_data()
    Wh, Wx, b, xs = args
    g = gradjit.grad(w4_loss, argnums=(0, 1, 2), backend="llvm")

    def by_hand():
        hs = [np.zeros(HIDDEN)]
        for t in range(STEPS):
            hs.append(np.tanh(Wh @ hs[-1] + Wx @ xs[t] + b))
        dh = 2 * hs[-1]
        dWh, dWx, db = np.zeros_like(Wh), np.zeros_like(Wx), np.zeros_like(b)
        for t in reversed(range(STEPS)):
            da = dh * (1 - hs[t + 1] ** 2)
            dWh += np.outer(da, hs[t])
            dWx += np.outer(da, xs[t])
            db += da
            dh = Wh.T @ da
        return dWh, dWx, db

    impls = {"gradjit": lambda: g(*args), "numpy by hand": by_hand}
    if jax is not None:
        jg = jax.jit(jax.grad(_w4_jax_loss(), argnums=(0, 1, 2)))
        impls["jax"] = lambda: jax.block_until_ready(jg(*args))
    if torch is not None:
        targs = [torch.tensor(a) for a in args]

        def torch_grad():
            ps = [t.detach().requires_grad_(True) for t in targs[:3]]
            h = torch.zeros(HIDDEN, dtype=torch.float64)
            for t in range(STEPS):
                h = torch.tanh(ps[0] @ h + ps[1] @ targs[3][t] + ps[2])
            return torch.autograd.grad((h * h).sum(), ps)
        impls["torch"] = torch_grad
    return impls


def _w4_jax_loss():
    """A new function object each call, so no JAX cache can know it."""
    def jloss(Wh, Wx, b, xs):
        h = jnp.zeros(HIDDEN)
        for t in range(STEPS):
            h = jnp.tanh(Wh @ h + Wx @ xs[t] + b)
        return jnp.sum(h * h)
    return jloss


_SPENT_CACHES: list[str] = []  # earlier first calls' cache directories, removed on the next


@contextlib.contextmanager
def empty_gradjit_caches():
    """No compiled object in memory and an empty disk cache, for first-call timings. The last
    first call's optimized code (runtime/tiers.py) is waited for first (other libraries ran
    meanwhile, so that costs nothing), then its directory is removed."""
    from gradjit.runtime import _memory, wait_optimized

    wait_optimized()
    while _SPENT_CACHES:
        shutil.rmtree(_SPENT_CACHES.pop(), ignore_errors=True)
    _memory.clear()
    old = os.environ.get("GRADJIT_CACHE_DIR")
    os.environ["GRADJIT_CACHE_DIR"] = d = tempfile.mkdtemp(prefix="gradjit-bench-")
    _SPENT_CACHES.append(d)
    try:
        yield
    finally:
        os.environ.pop("GRADJIT_CACHE_DIR")
        if old is not None:
            os.environ["GRADJIT_CACHE_DIR"] = old


def w4_first_call():
    """Trace + differentiate + compile + run on a fresh transform with empty caches (LLVM's
    process start-up is paid already, as JAX's is), and the same for a fresh jax.jit of a
    fresh function."""
    args = w4_data()

    def gradjit_first():
        with empty_gradjit_caches():
            return gradjit.grad(w4_loss, argnums=(0, 1, 2), backend="llvm")(*args)

    impls = {"gradjit": gradjit_first}
    if jax is not None:
        def jax_first():
            jax.clear_caches()
            jg = jax.jit(jax.grad(_w4_jax_loss(), argnums=(0, 1, 2)))
            return jax.block_until_ready(jg(*args))
        impls["jax"] = jax_first
    return impls


# ---- W5: Hessian -------------------------------------------------------------------------
def w5_f(x):
    return np.sum(x[:-1] ** 2 * x[1:]) + np.sum(np.sin(x))


def w5():
    x = np.linspace(-1, 1, 100)
    h = gradjit.hessian(w5_f, backend="llvm")

    def by_hand():  # d2/dxi dxj of sum x_i^2 x_{i+1} + sin x_i
        H = np.diag(-np.sin(x))
        H[np.arange(99), np.arange(99)] += 2 * x[1:]
        H[np.arange(99), np.arange(1, 100)] += 2 * x[:-1]
        H[np.arange(1, 100), np.arange(99)] += 2 * x[:-1]
        return H

    impls = {"gradjit": lambda: h(x), "numpy by hand": by_hand}
    if jax is not None:
        jh = jax.jit(jax.hessian(lambda v: jnp.sum(v[:-1] ** 2 * v[1:]) + jnp.sum(jnp.sin(v))))
        impls["jax"] = lambda: jh(x).block_until_ready()
    if torch is not None:
        tx = torch.tensor(x)
        impls["torch"] = lambda: torch.autograd.functional.hessian(
            lambda v: (v[:-1] ** 2 * v[1:]).sum() + torch.sin(v).sum(), tx)
    return impls


WORKLOADS = {
    "W1 scalar grad (us)": (w1, 1e6),
    "W2 elementwise 1e6 grad (ms)": (w2, 1e3),
    "W3 MLP f32 grad (ms)": (w3, 1e3),
    "W4 RNN 50 steps grad (ms)": (w4, 1e3),
    "W5 Hessian n=100 (ms)": (w5, 1e3),
}
