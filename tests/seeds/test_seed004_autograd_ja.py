"""Seed 004_49cc9c7c2a62ee0b.txt ("PyTorch入門 5. 自動微分", Japanese/Chinese), on gradjit."""

import re

import numpy as np

import gradjit as torch


def _model():
    torch.manual_seed(0)
    x = torch.ones(5)
    y = torch.zeros(3)
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    return x, y, w, b, z, loss


def _bce(z, y):
    z = z.astype(np.float64)
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


def test_loss_and_grad_fn():
    """Automatic Differentiation: loss prints with BinaryCrossEntropyWithLogitsBackward0."""
    x, y, w, b, z, loss = _model()
    assert re.fullmatch(r"tensor\(\d\.\d{4}, grad_fn=<BinaryCrossEntropyWithLogitsBackward0>\)",
                        repr(loss))
    zs = x.numpy() @ w.detach().numpy() + b.detach().numpy()
    assert abs(loss.item() - _bce(zs, 0.0)) < 1e-6


def test_grad_fn_names():
    """テンソル、関数、計算グラフの関係: z.grad_fn and loss.grad_fn are these nodes."""
    x, y, w, b, z, loss = _model()
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-f]+>", repr(z.grad_fn))
    assert re.fullmatch(r"<BinaryCrossEntropyWithLogitsBackward0 object at 0x[0-9a-f]+>",
                        repr(loss.grad_fn))


def test_gradients():
    """勾配の計算: w.grad has 5 equal rows, each equal to b.grad = (sigmoid(z) - y) / 3."""
    x, y, w, b, z, loss = _model()
    loss.backward()
    expect = (1 / (1 + np.exp(-z.detach().numpy().astype(np.float64)))) / 3
    np.testing.assert_allclose(b.grad.numpy(), expect, rtol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), np.tile(b.grad.numpy(), (5, 1)), rtol=1e-6)
    assert w.grad.shape == (5, 3)


def test_no_grad():
    """勾配計算をしない方法: True, then False inside no_grad."""
    x, y, w, b, z, loss = _model()
    z = torch.matmul(x, w) + b
    seen = [z.requires_grad]
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    seen.append(z.requires_grad)
    assert seen == [True, False]


def test_detach():
    """detach(): z_det.requires_grad is False."""
    x, y, w, b, z, loss = _model()
    z = torch.matmul(x, w) + b
    assert z.detach().requires_grad is False


_FIRST = ("tensor([[4., 2., 2., 2., 2.],\n        [2., 4., 2., 2., 2.],\n"
          "        [2., 2., 4., 2., 2.],\n        [2., 2., 2., 4., 2.],\n"
          "        [2., 2., 2., 2., 4.]])")
_SECOND = ("tensor([[8., 4., 4., 4., 4.],\n        [4., 8., 4., 4., 4.],\n"
           "        [4., 4., 8., 4., 4.],\n        [4., 4., 4., 8., 4.],\n"
           "        [4., 4., 4., 4., 8.]])")


def test_jacobian_product():
    """补充: out = (inp + 1)^2 with backward(ones_like, retain_graph=True) three times."""
    inp = torch.eye(5, requires_grad=True)
    out = (inp+1).pow(2)
    out.backward(torch.ones_like(inp), retain_graph=True)
    first = "First call\n " + repr(inp.grad)
    out.backward(torch.ones_like(inp), retain_graph=True)
    second = "\nSecond call\n " + repr(inp.grad)
    inp.grad.zero_()
    out.backward(torch.ones_like(inp), retain_graph=True)
    third = "\nCall after zeroing gradients\n " + repr(inp.grad)
    assert first == "First call\n " + _FIRST
    assert second == "\nSecond call\n " + _SECOND
    assert third == "\nCall after zeroing gradients\n " + _FIRST
