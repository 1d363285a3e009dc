"""The eager fast path: an elementwise op whose array inputs already have the result's float
dtype (the rest Python numbers) runs its numpy function instead of the array API. It must give
exactly what the array API gives: values (specials included), dtype, and the recorded gradient."""

from __future__ import annotations

import numpy as np
import pytest

import gradjit as torch
from gradjit.eager import functional as F
from gradjit.eager.recorder import _plain

SPECIAL = [0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 1e300, -1e-300, 3.0]
BINARY = [F._add, F._sub, F.mul, F.div, F.maximum, F.minimum]
UNARY = [F.exp, F.log, F.sqrt, F.sin, F.cos, F.tanh, F.neg, F.abs]


def _ops(calls):
    return [c.__closure__[[n for n in c.__code__.co_freevars].index("op")].cell_contents
            for c in calls]


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("op", _ops(BINARY) + _ops(UNARY), ids=lambda op: op.name)
def test_fast_function_equals_the_array_api(op, dtype):
    assert op.fast is not None
    np_dtype = np.dtype(np.float32 if dtype == "f32" else np.float64)
    with np.errstate(over="ignore"):  # 1e300 is inf in f32
        x = np.array(SPECIAL, np_dtype)
        y = np.array(SPECIAL[::-1], np_dtype)
    cases = [(x,)] if op.name in {o.name for o in _ops(UNARY)} else \
        [(x, y), (x, 2.5), (3, y), (x, -1)]
    for vals in cases:
        assert _plain(vals, dtype)
        with np.errstate(all="ignore"):
            fast = np.asarray(op.fast(*vals))
            slow = np.asarray(op.fn(*vals, dtype=dtype))
        assert fast.dtype == slow.dtype == np_dtype
        np.testing.assert_array_equal(fast, slow)


def test_mixed_or_integer_inputs_take_the_array_api():
    f32, f64 = np.ones(3, np.float32), np.ones(3)
    assert not _plain((f32, f64), "f32")  # torch promotion decides the dtype, not numpy's
    assert not _plain((np.arange(3), 1.5), "f32")
    assert not _plain((f64, np.float64(2.0)), "f64")  # a numpy scalar is not weak
    assert not _plain((f64, True), "f64")
    assert (torch.tensor([1, 2]) * 0.5).dtype == torch.float32  # as in PyTorch


def test_gradients_through_fast_ops():
    x = torch.tensor([0.5, 1.5, 2.0], dtype=torch.float64, requires_grad=True)
    y = (torch.tanh(x) * torch.exp(-x) + x / 3.0 - torch.sqrt(x)).sum()
    y.backward()
    v = x.detach().numpy()
    t = np.tanh(v)
    want = (1 - t * t) * np.exp(-v) - t * np.exp(-v) + 1 / 3.0 - 0.5 / np.sqrt(v)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_fill_and_zero_keep_the_dtype(dtype):
    t = torch.tensor([[1, 2], [3, 4]], dtype=dtype)
    t.fill_(7)
    assert t.dtype == dtype and t.numpy().tolist() == [[7, 7], [7, 7]]
    t.zero_()
    assert t.dtype == dtype and not t.numpy().any()
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.zero_()
