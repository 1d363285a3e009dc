"""The LSTM of issue 8 (input 32, hidden 64) written with `lax.scan`, the same model in JAX
(`jax.lax.scan`) and in a PyTorch eager loop, and what reverse mode stores.

`python benchmarks/lstm.py` prints, at T = 100, 1,000, 10,000, the bytes of carries the gradient
stacks for its backward pass (plain scan vs `checkpoint="sqrt"`), the compiled workspace size,
the gradient IR size and its cold compile time. Timings vs the peers are rows of `run.py`
(workloads_lstm.py).
"""

from __future__ import annotations

import functools
import time

import numpy as np

import gradjit
import gradjit.numpy as gnp
from gradjit import lax
from gradjit.passes.scans import stored_residuals

N_IN, N_H = 32, 64


def lstm_params(seed=0, n_in=N_IN, n=N_H):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n_in, 4 * n)) / np.sqrt(n_in), rng.normal(size=(n, 4 * n)) /
            np.sqrt(n), rng.normal(size=4 * n) * 0.1)


def lstm_inputs(T, seed=1, n_in=N_IN):
    return np.random.default_rng(seed).normal(size=(T, n_in))


def lstm_loss(params, xs, checkpoint=None, final=False):
    """Mean squared hidden state over the sequence (`final`: squared last hidden state)."""
    W, U, b = params
    n = U.shape[0]

    def cell(carry, x):
        h, c = carry
        i, f, o, g = np.split(x @ W + h @ U + b, 4)
        c = gnp.sigmoid(f) * c + gnp.sigmoid(i) * np.tanh(g)
        h = gnp.sigmoid(o) * np.tanh(c)
        return (h, c), h

    (h, _), hs = lax.scan(cell, (np.zeros(n), np.zeros(n)), xs, checkpoint=checkpoint)
    return np.sum(h * h) if final else np.sum(hs * hs) / xs.shape[0]


def jax_lstm_grad():
    import jax
    import jax.numpy as jnp

    def loss(params, xs):
        W, U, b = params

        def cell(carry, x):
            h, c = carry
            i, f, o, g = jnp.split(x @ W + h @ U + b, 4)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        n = U.shape[0]
        _, hs = jax.lax.scan(cell, (jnp.zeros(n), jnp.zeros(n)), xs)
        return jnp.sum(hs * hs) / xs.shape[0]

    return jax.jit(jax.grad(loss))


def torch_lstm_grad(params, xs):
    """The same gradient by a PyTorch eager loop (one autograd graph of T steps)."""
    import torch

    W, U, b = (p.detach().requires_grad_() for p in params)
    n = U.shape[0]
    h = c = torch.zeros(n, dtype=W.dtype)
    total = 0.0
    for x in xs:
        i, f, o, g = torch.split(x @ W + h @ U + b, n)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        total = total + torch.sum(h * h)
    (total / xs.shape[0]).backward()
    return W.grad, U.grad, b.grad


def _compile_ms(fn) -> float:
    """A cold compile (empty memory and disk caches), in ms."""
    import os
    import tempfile

    from gradjit.runtime import _memory, compile_function

    _memory.clear()
    with tempfile.TemporaryDirectory() as d:
        old, os.environ["GRADJIT_CACHE_DIR"] = os.environ.get("GRADJIT_CACHE_DIR"), d
        t = time.perf_counter()
        compile_function(fn)
        took = time.perf_counter() - t
        os.environ.pop("GRADJIT_CACHE_DIR")
        if old is not None:
            os.environ["GRADJIT_CACHE_DIR"] = old
    return took * 1e3


def memory_report(lengths=(100, 1000, 10000)):
    """Rows (loss, T, checkpoint, stored residual bytes, compiled workspace bytes, gradient IR
    lines, cold compile ms); the workspace of the mean-over-sequence loss also holds h's stack
    and its cotangent, O(T) whatever the checkpointing."""
    from gradjit.codegen.plan import make_plan

    params, rows = lstm_params(), []
    for final in (False, True):
        for T in lengths:
            for ck in (None, "sqrt"):
                fn = gradjit.grad(functools.partial(lstm_loss, checkpoint=ck, final=final)).trace(
                    params, lstm_inputs(T))
                rows.append(("final h" if final else "mean hs", T, ck or "none",
                             stored_residuals(fn), make_plan(fn).ws_size,
                             len(str(fn).splitlines()), _compile_ms(fn)))
    return rows


def main():
    print(f"{'loss':>8} {'T':>6} {'checkpoint':>10} {'stored carries (B)':>19} "
          f"{'workspace (B)':>14} {'IR lines':>9} {'compile (ms)':>13}")
    for loss, T, ck, stored, ws, lines, ms in memory_report():
        print(f"{loss:>8} {T:>6} {ck:>10} {stored:>19,} {ws:>14,} {lines:>9} {ms:>13.0f}")
    params = lstm_params()
    for T in (100, 1000):
        t = time.perf_counter()
        got = gradjit.grad(functools.partial(lstm_loss, checkpoint="sqrt"))(params,
                                                                             lstm_inputs(T))
        want = gradjit.grad(lstm_loss)(params, lstm_inputs(T))
        err = max(float(np.max(np.abs(a - b))) for a, b in zip(got, want))
        print(f"T={T}: sqrt-checkpointed gradient vs plain: max |diff| {err:.1e} "
              f"({time.perf_counter() - t:.2f} s for both, compiled)")


if __name__ == "__main__":
    main()
