"""The eager fast path: an elementwise op whose array inputs already have the result's float
dtype (the rest Python numbers) runs its numpy function instead of the array API. It must give
exactly what the array API gives: values (specials included), dtype, and the recorded gradient."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import gradjit as torch
from gradjit.eager import functional as F
from gradjit.eager import reductions as R
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


# ---- fast paths of reductions, integer powers, matmul, relu: bit for bit the array API ------


def _op_of(call, name="op"):
    return call.__closure__[call.__code__.co_freevars.index(name)].cell_contents


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), 1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_and_mean_fast_equal_the_array_api(dtype, dim, keepdim):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32 if dtype == "f32" else np.float64)
    x[0, 1, 2] = np.inf
    for name, table in (("sum", R._SUM), ("mean", R._MEAN)):
        got = getattr(torch.tensor(x), name)(dim=dim, keepdim=keepdim)
        op = table[f"{name.capitalize()}Backward{0 if dim is None else 1}"]
        want = np.asarray(op.fn(x, R._dims(dim), keepdim, dtype))
        assert got.numpy().dtype == want.dtype and got.numpy().shape == want.shape
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 3, 5])
def test_integer_power_fast_equals_the_array_api(dtype, n):
    with np.errstate(over="ignore"):  # 1e300 is inf in f32
        x = np.array(SPECIAL, np.float32 if dtype == "f32" else np.float64)
    got = (torch.tensor(x) ** n).numpy()
    want = np.asarray(F._POW["PowBackward0"].fn(x, n, dtype=dtype))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_and_relu_fast_equal_the_array_api(dtype):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((64, 78)).astype(dtype), rng.standard_normal((78, 25)).astype(dtype)
    ir = "f32" if dtype == np.float32 else "f64"
    mm = F._MATMUL.get("MmBackward0") or F._matmul_op("MmBackward0")
    ta, tb = torch.tensor(a), torch.tensor(b)
    for x, y in ((ta, tb), (tb.t(), ta.t()), (ta, ta.t())):  # views; a @ a.T: numpy's syrk
        got = (x @ y).numpy()
        np.testing.assert_array_equal(got, np.asarray(mm.fn(x._data, y._data, dtype=ir)))
    with np.errstate(over="ignore"):
        specials = np.array(SPECIAL + [-1.0], dtype)
    relu = _op_of(F.relu)
    got = torch.relu(torch.tensor(specials)).numpy()
    want = np.asarray(relu.fn(specials, dtype=ir))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert not np.signbit(got[1])  # relu(-0.0) is +0.0, as the array API's where gives


def test_fast_ops_record_the_same_gradients_as_torch():
    real = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    xs, ws = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    grads = []
    for lib in (torch, real):
        x = lib.tensor(xs, requires_grad=True)
        w = lib.tensor(ws, requires_grad=True)
        h = lib.relu(x @ w)
        loss = (h ** 3).mean() + h.sum(dim=0, keepdim=True).mean() * 0.5 + (x ** -1).sum()
        loss.backward()
        grads.append((x.grad.numpy().copy(), w.grad.numpy().copy()))
    for g, t in zip(*grads):
        np.testing.assert_allclose(g, t, rtol=1e-12)


# ---- in place without recording: straight into the array -------------------------------


def test_inplace_fast_path_equals_out_of_place_and_bumps_the_version_once():
    rng = np.random.default_rng(3)
    a0, b0 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    for method, ufunc in (("__isub__", np.subtract), ("add_", np.add), ("mul_", np.multiply),
                          ("div_", np.true_divide)):
        for other in (torch.tensor(b0), 0.3, 2):
            a = torch.tensor(a0)
            v = a._version.value
            getattr(a, method)(other)
            want = ufunc(a0, other.numpy() if isinstance(other, torch.Tensor) else other)
            np.testing.assert_array_equal(a.numpy(), want)
            assert a._version.value == v + 1
    a = torch.tensor(a0)
    a -= a[0]  # row 0 is read by every row and overwritten: numpy buffers, as a copy would
    np.testing.assert_array_equal(a.numpy(), a0 - a0[0])
    small = torch.tensor(b0)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        small += torch.tensor(a0)  # the fast path declines; the long way reports it
    np.testing.assert_array_equal(small.numpy(), b0)


def test_inplace_fast_path_keeps_the_autograd_rules():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w -= 0.1  # recording: refused as before
    y = w * 2
    z = y * y
    with torch.no_grad():
        w -= 0.5  # not recording: in place
        y += 1.0  # y is saved by z's node: its version moves on
    assert np.array_equal(w.detach().numpy(), [0.5, 1.5])
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    g = torch.tensor([1.0, 2.0])
    v = g._version.value
    g.zero_()
    assert g._version.value == v + 1 and not g.numpy().any()


# ---- the whole-graph backward: keys, owned gradients, compiled staged forwards -------------


def test_graph_key_tells_shared_leaves_from_distinct_ones():
    # a*a and a*b have the same node keys and types; only the sources differ
    for _ in range(3):  # interpreted, then compiled
        a = torch.tensor([3.0], requires_grad=True)
        b = torch.tensor([5.0], requires_grad=True)
        (a * a).sum().backward()
        (a * b).sum().backward()
        assert a.grad.item() == 6.0 + 5.0 and b.grad.item() == 3.0


def test_owned_gradients_are_not_shared_and_accumulate():
    x = torch.tensor(np.ones((2, 2)))
    for _ in range(3):
        a = torch.tensor([[1.0, 2.0]], requires_grad=True)
        b = torch.tensor([[1.0, 2.0]], requires_grad=True)
        (x * a + x * b).sum().backward()  # equal gradients: still two arrays
        assert not np.shares_memory(a.grad._data, b.grad._data)
        c = torch.tensor([1.0, 2.0], requires_grad=True)
        d = torch.tensor([1.0, 2.0], requires_grad=True)
        (c + d).sum().backward()  # the interpreter returns one array for both: copied
        assert not np.shares_memory(c.grad._data, d.grad._data)
        a.grad.zero_()
        assert b.grad.numpy().tolist() == [[2.0, 2.0]]
        (x * a).sum().backward()
        assert a.grad.numpy().tolist() == [[2.0, 2.0]]


def test_staged_forward_compiled_after_repeats_matches_the_interpreter():
    import gradjit.nn.functional as gF

    rng = np.random.default_rng(4)
    z = torch.tensor(rng.standard_normal((8, 5)).astype(np.float32), requires_grad=True)
    y = torch.tensor(rng.integers(0, 5, size=8))
    losses = [gF.cross_entropy(z, y) for _ in range(4)]  # interpreted, then compiled
    assert all(v.dtype == torch.float32 for v in losses)
    np.testing.assert_allclose([v.item() for v in losses], losses[0].item(), rtol=1e-6)


def _rounded_once(exact: Fraction, dtype) -> np.ndarray:
    """The `dtype` number nearest to `exact` (ties to even)."""
    v = dtype(float(exact))
    near = [np.nextafter(v, dtype(-np.inf)), v, np.nextafter(v, dtype(np.inf))]
    return min(near, key=lambda c: (abs(Fraction(float(c)) - exact),
                                    int(np.array(c).view(f"u{c.itemsize}")) & 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 1001])
def test_plain_sgd_step_rounds_p_minus_lr_g_once(dtype, n):
    """p - lr g with one rounding per element (PyTorch's fma), every element: the compiled
    axpy's vector body and its tail."""
    rng = np.random.default_rng(n)
    p0, g0 = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    p = torch.tensor(p0, requires_grad=True)
    p.grad = torch.tensor(g0)
    v = p._version.value
    torch.optim.SGD([p], lr=0.1).step()
    a = Fraction(float(dtype(-0.1)))
    want = [_rounded_once(Fraction(float(x)) + a * Fraction(float(g)), dtype)
            for x, g in zip(p0, g0)]
    np.testing.assert_array_equal(p.detach().numpy(), np.array(want, dtype))
    assert p._version.value == v + 1


def test_sgd_step_with_a_numpy_lr_takes_numpy():
    rng = np.random.default_rng(6)
    p0, g0 = rng.standard_normal(9).astype(np.float32), rng.standard_normal(9).astype(np.float32)
    p = torch.tensor(p0, requires_grad=True)
    p.grad = torch.tensor(g0)
    torch.optim.SGD([p], lr=np.float32(0.1)).step()
    np.testing.assert_array_equal(p.detach().numpy(), p0 - np.float32(0.1) * g0)
