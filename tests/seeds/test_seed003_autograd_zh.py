"""Seed 003_6e5b2d40b11eb475.txt ("Pytorch 中的 autograd 自动求导", Chinese), on gradjit."""

import re

import numpy as np

import gradjit as torch


def test_tensor_ops_print():
    """Tensor 的操作: ones(3, 3) and ones(2, 2, requires_grad=True) print as in PyTorch."""
    assert repr(torch.ones(3, 3)) == ("tensor([[1., 1., 1.],\n        [1., 1., 1.],\n"
                                      "        [1., 1., 1.]])")
    x = torch.ones(2, 2, requires_grad=True)
    assert repr(x) == "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)"


def _chain():
    x = torch.ones(2, 2, requires_grad=True)
    y = x + 2
    z = y * y * 3
    return x, y, z, z.mean()


def test_add_grad_fn():
    """y = x + 2 prints grad_fn=<AddBackward0>; x.grad_fn is None; y.grad_fn is a node."""
    x, y, z, out = _chain()
    assert repr(y) == "tensor([[3., 3.],\n        [3., 3.]], grad_fn=<AddBackward0>)"
    assert x.grad_fn is None
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))


def test_mul_mean_print():
    """z = y * y * 3, out = z.mean(): 27s with MulBackward0 and MeanBackward0."""
    x, y, z, out = _chain()
    assert f"{z} {out}" == ("tensor([[27., 27.],\n        [27., 27.]], grad_fn=<MulBackward0>) "
                            "tensor(27., grad_fn=<MeanBackward0>)")


def test_requires_grad_():
    """requires_grad_(): False, True, True and <SumBackward0 ...>; values as a relation."""
    a = torch.randn(2, 2)
    a = ((a * 3) / (a - 1))
    seen = [a.requires_grad]
    a.requires_grad_(True)
    seen.append(a.requires_grad)
    b = (a * a).sum()
    seen.append(b.requires_grad)
    assert seen == [False, True, True]
    assert re.fullmatch(r"<SumBackward0 object at 0x[0-9a-f]+>", repr(b.grad_fn))
    assert repr(a).endswith("requires_grad=True)") and repr(b).endswith(
        "grad_fn=<SumBackward0>)")
    assert b.item() == np.float32((a.detach().numpy() ** 2).sum())


def test_gradients():
    """梯度 Gradients: out.backward(); x.grad is 4.5 everywhere."""
    x, y, z, out = _chain()
    out.backward()
    assert repr(x.grad) == "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])"


def test_no_grad_block():
    """x.requires_grad, (x ** 2).requires_grad, and inside no_grad: True True False."""
    x = torch.ones(2, 2, requires_grad=True)
    seen = [x.requires_grad, (x ** 2).requires_grad]
    with torch.no_grad():
        seen.append((x ** 2).requires_grad)
    assert seen == [True, True, False]


def test_detach_equal():
    """detach(): True, False, tensor(True)."""
    x = torch.ones(2, 2, requires_grad=True)
    y = x.detach()
    assert (x.requires_grad, y.requires_grad) == (True, False)
    assert repr(x.eq(y).all()) == "tensor(True)"
