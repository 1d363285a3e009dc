"""Making tensors: `tensor`, `zeros`, `ones`, `eye`, `arange`, `linspace`, random draws.

`tensor(data)` follows PyTorch's dtype inference: Python floats become the default float
dtype (f32), Python ints i64, bools bool; numpy arrays keep their dtype (`from_numpy` also
shares their memory). Random draws come from one numpy Generator that `manual_seed` resets;
the stream differs from PyTorch's, so seeded values differ from the tutorials' printouts.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .tensor import Tensor, device

_rng = [np.random.default_rng()]


def manual_seed(seed: int):
    _rng[0] = np.random.default_rng(int(seed))
    return _rng[0]


seed = manual_seed


def initial_seed() -> int:
    return 0


def _finish(array: np.ndarray, dtype, requires_grad: bool, device_=None) -> Tensor:
    if device_ is not None:
        device(device_)
    if dtype is not None:
        array = array.astype(dtypes.DTYPES[dtypes.to_ir(dtype)], copy=False)
    t = Tensor._make(array if array.flags.c_contiguous else array.copy())
    if requires_grad:
        t.requires_grad = True
    return t


def _infer(data) -> np.ndarray:
    """The array of `data` with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data, dtype=np.float32 if data.dtype == np.float16 else None)
    if isinstance(data, (list, tuple)):
        data = [_infer(x) if isinstance(x, Tensor) else x for x in data]
    a = np.array(data)
    if a.dtype.kind == "f":
        return a.astype(dtypes.DTYPES[dtypes.default_ir()])
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind == "b":
        return a
    raise TypeError(f"tensor(): cannot make a tensor of {type(data).__name__}")


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    if dtype is not None and not isinstance(data, Tensor):  # no detour through f32
        data = np.array([_infer(x) if isinstance(x, Tensor) else x for x in data]
                        if isinstance(data, (list, tuple)) else data,
                        dtype=dtypes.DTYPES[dtypes.to_ir(dtype)])
    return _finish(_infer(data), dtype, requires_grad, device)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor) and dtype is None:
        return data
    return tensor(data, dtype, device)


def from_numpy(array: np.ndarray) -> Tensor:
    dtypes.dtype_name(array.dtype)  # raises for unsupported dtypes
    return Tensor._make(array)


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _filled(value, size, dtype, requires_grad, device) -> Tensor:
    ir = dtypes.to_ir(dtype) if dtype is not None else dtypes.default_ir()
    return _finish(np.full(_shape(size), value, dtype=dtypes.DTYPES[ir]), None, requires_grad,
                   device)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    return _filled(0, size, dtype, requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    return _filled(1, size, dtype, requires_grad, device)


empty = zeros


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None and not isinstance(fill_value, float):
        dtype = bool if isinstance(fill_value, bool) else int
    return _filled(fill_value, (size,), dtype, requires_grad, device)


def _like(fill, x: Tensor, dtype, requires_grad) -> Tensor:
    ir = dtypes.to_ir(dtype) if dtype is not None else x.dtype.ir
    return _finish(fill(x.shape, dtypes.DTYPES[ir]), None, requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    return _like(np.zeros, input, dtype, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False, **_) -> Tensor:
    return _like(np.ones, input, dtype, requires_grad)


empty_like = zeros_like


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(lambda s, d: np.full(s, fill_value, d), input, dtype, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(lambda s, d: _rng[0].random(s).astype(d), input, dtype, requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(lambda s, d: _rng[0].standard_normal(s).astype(d), input, dtype,
                 requires_grad)


def _random(draw, size, dtype, requires_grad, device, generator):
    ir = dtypes.to_ir(dtype) if dtype is not None else dtypes.default_ir()
    rng = generator if generator is not None else _rng[0]
    array = np.asarray(draw(rng, _shape(size))).astype(dtypes.DTYPES[ir])
    return _finish(array, None, requires_grad, device)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    return _random(lambda r, s: r.random(s), size, dtype, requires_grad, device, generator)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    return _random(lambda r, s: r.standard_normal(s), size, dtype, requires_grad, device,
                   generator)


def randint(low, high=None, size=(), dtype=None, device=None, requires_grad=False,
            generator=None) -> Tensor:
    low, high = (0, low) if high is None else (low, high)
    return _random(lambda r, s: r.integers(low, high, s), (size,), dtype or dtypes.int64,
                   requires_grad, device, generator)


def normal(mean=0.0, std=1.0, size=(), dtype=None, requires_grad=False) -> Tensor:
    return _random(lambda r, s: r.normal(mean, std, s), (size,), dtype, requires_grad, None,
                   None)


def randperm(n, dtype=None, requires_grad=False) -> Tensor:
    return _finish(_rng[0].permutation(n), dtype or dtypes.int64, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    ir = dtypes.to_ir(dtype) if dtype is not None else dtypes.default_ir()
    return _finish(np.eye(n, m, dtype=dtypes.DTYPES[ir]), None, requires_grad, device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    start, end = (0, start) if end is None else (start, end)
    integral = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    ir = dtypes.to_ir(dtype) if dtype is not None else "i64" if integral else \
        dtypes.default_ir()
    return _finish(np.arange(start, end, step).astype(dtypes.DTYPES[ir]), None, requires_grad,
                   device)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    ir = dtypes.to_ir(dtype) if dtype is not None else dtypes.default_ir()
    return _finish(np.linspace(start, end, steps).astype(dtypes.DTYPES[ir]), None,
                   requires_grad, device)


def _legacy_constructor(*args, **kwargs) -> np.ndarray:
    """`torch.Tensor(data)` (f32 values) or `torch.Tensor(2, 3)` (uninitialized f32)."""
    if len(args) == 1 and not isinstance(args[0], numbers.Integral):
        return np.array(_infer(args[0]), dtype=dtypes.DTYPES[dtypes.default_ir()])
    return np.zeros(_shape(args), dtype=dtypes.DTYPES[dtypes.default_ir()])
