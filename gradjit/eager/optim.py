"""`torch.optim.SGD`: plain, momentum, Nesterov and weight decay, updating leaves in place.

Updates write the parameters' arrays directly (as PyTorch does under no_grad), bumping their
version counters, so a graph that saved a parameter before the step refuses to backward.
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor


class Optimizer:
    def __init__(self, params, defaults: dict):
        params = list(params)
        groups = params if params and isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups = [{**defaults, **g, "params": list(g["params"])} for g in groups]
        self.state: dict = {}
        for g in self.param_groups:
            for p in g["params"]:
                if not isinstance(p, Tensor):
                    raise TypeError(f"optimizer can only optimize Tensors, got {type(p)}")

    def zero_grad(self, set_to_none: bool = True):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def add_param_group(self, group: dict):
        self.param_groups.append({**self.defaults, **group, "params": list(group["params"])})


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"Invalid SGD hyper-parameters: lr={lr}, momentum={momentum}, "
                             f"weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    self._update(p, g)
        return loss

    def _update(self, p: Tensor, g: dict):
        # PyTorch's _single_tensor_sgd, step for step; each `a.add(b, alpha=c)` is an fma there
        d = p.grad._data
        if not (g["maximize"] or g["weight_decay"] or g["momentum"]):
            return _descend(p, d, g["lr"])
        d = -d if g["maximize"] else d
        if g["weight_decay"]:
            d = _add_scaled(np.array(d), g["weight_decay"], p._data)
        if g["momentum"]:
            buf = self.state.setdefault(id(p), {}).get("momentum_buffer")
            if buf is None:
                buf = np.array(d)
            else:
                buf *= g["momentum"]
                _add_scaled(buf, 1 - g["dampening"], d)
            self.state[id(p)]["momentum_buffer"] = buf
            d = _add_scaled(np.array(d), g["momentum"], buf) if g["nesterov"] else buf
        _descend(p, d, g["lr"])


_KINDS = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _descend(p: Tensor, d: np.ndarray, lr) -> None:
    """p -= lr * d, as PyTorch's `p.add_(d, alpha=-lr)`."""
    _add_scaled(p._data, -lr, d)
    p._version.value += 1


def _add_scaled(y: np.ndarray, a, x: np.ndarray) -> np.ndarray:
    """y += a * x in place, rounded once per element as PyTorch's `y.add_(x, alpha=a)` rounds
    it (an fma): one pass of codegen/axpy.py's loop when x and y are separate C-contiguous
    arrays of the same float dtype, y writeable, and a is a number; else numpy's, rounded
    twice. Returns y."""
    kind = _KINDS.get(y.dtype)
    if kind and type(a) in (float, int) and x.dtype == y.dtype and x.shape == y.shape \
            and y.flags.c_contiguous and y.flags.writeable and x.flags.c_contiguous \
            and not np.may_share_memory(x, y):
        from ..runtime.support import axpy

        axpy(kind)(y.size, a, x.ctypes.data, y.ctypes.data)
    else:
        y += np.asarray(a * x, dtype=y.dtype)
    return y
