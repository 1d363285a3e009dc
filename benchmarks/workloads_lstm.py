"""LSTM workloads (issue 8): the gradient of an LSTM (input 32, hidden 64) over T = 100 and
1,000 steps written with `lax.scan`, against JAX `jit(grad)` of `jax.lax.scan` and a PyTorch
eager loop; steady time per gradient and first-call time (trace + differentiate + compile +
run, with every cache emptied before each call). Same conventions as workloads.py."""

from __future__ import annotations

import gradjit
from lstm import jax_lstm_grad, lstm_inputs, lstm_loss, lstm_params, torch_lstm_grad
from workloads import empty_gradjit_caches, jax, torch


def _impls(T, cold):
    params, xs = lstm_params(), lstm_inputs(T)
    g = gradjit.grad(lstm_loss)

    def gradjit_cold():
        with empty_gradjit_caches():
            return gradjit.grad(lambda p, x: lstm_loss(p, x))(params, xs)

    impls = {"gradjit": gradjit_cold if cold else lambda: g(params, xs)}
    if jax is not None:
        jg = jax_lstm_grad()

        def jax_cold():
            jax.clear_caches()
            return [a.block_until_ready() for a in jax_lstm_grad()(params, xs)]

        impls["jax"] = jax_cold if cold else lambda: [a.block_until_ready()
                                                      for a in jg(params, xs)]
    if torch is not None:
        tp, tx = [torch.tensor(p) for p in params], torch.tensor(xs)
        impls["torch"] = lambda: torch_lstm_grad(tp, tx)  # eager: no compile, first = steady
    return impls


WORKLOADS = {
    f"LSTM T={T} {kind} (ms)": (lambda T=T, cold=cold: _impls(T, cold), 1e3)
    for T in (100, 1000) for kind, cold in (("grad", False), ("first call", True))
}
