"""Seed 002_797e8c35e9292abb.txt ("Autograd", Chinese): every code example, on gradjit.

The tutorial prints seeded random draws; gradjit's generator is not PyTorch's, so these tests
check the relations the tutorial demonstrates (x.grad == y, hand-called nodes == backward,
the optimizer loop == the manual loop, convergence to the least-squares line).
"""

import re

import numpy as np

import gradjit as torch
from gradjit import optim

device = "cpu"


def test_intro_product_gradient():
    """简介: l = (x * y).sum(); l.backward() gives x.grad == y and y.grad == x."""
    torch.manual_seed(6)
    x = torch.randn(4, 4, requires_grad=True)
    y = torch.randn(4, 4, requires_grad=True)
    z = x * y
    l = z.sum()
    l.backward()
    assert torch.equal(x.grad, y.detach()) and torch.equal(y.grad, x.detach())
    assert re.fullmatch(r"tensor\(\[\[[- ]\d\.\d{4}, .*\]\]\)", repr(x.grad), re.DOTALL)


def test_intro_nodes_called_by_hand():
    """简介: back_sum(dl), back_mul(dz), back_x(dx), back_y(dy) fill x.grad and y.grad."""
    torch.manual_seed(6)
    x = torch.randn((4, 4), requires_grad=True)
    y = torch.randn((4, 4), requires_grad=True)
    z = x * y
    l = z.sum()
    dl = torch.tensor(1.)
    back_sum = l.grad_fn
    dz = back_sum(dl)
    back_mul = back_sum.next_functions[0][0]
    dx, dy = back_mul(dz)
    back_x = back_mul.next_functions[0][0]
    back_x(dx)
    back_y = back_mul.next_functions[1][0]
    back_y(dy)
    assert type(back_sum).__name__ == "SumBackward0" and back_mul.name() == "MulBackward0"
    assert back_sum.next_functions[0][1] == 0 and back_mul.next_functions[1][1] == 0
    assert type(back_x).__name__ == "AccumulateGrad" and back_x.variable is x
    np.testing.assert_array_equal(x.grad.detach().numpy(), y.detach().numpy())
    np.testing.assert_array_equal(y.grad.detach().numpy(), x.detach().numpy())
    # ... and the result is the same as l.backward()
    x2, y2 = x.detach().clone().requires_grad_(), y.detach().clone().requires_grad_()
    (x2 * y2).sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), x2.grad.numpy())


def test_create_tensors_with_device():
    """创建支持梯度的张量: randn(1, requires_grad=True, dtype=torch.float, device=device)."""
    b = torch.randn(1, requires_grad=True, dtype=torch.float, device=device)
    w = torch.randn(1, requires_grad=True, dtype=torch.float, device=device)
    assert b.is_leaf and w.requires_grad and b.dtype == torch.float32 and b.shape == (1,)


def _data():
    # the tutorial's data (from the original "PyTorch step by step"): y = 1 + 2x + noise
    rng = np.random.default_rng(42)
    x = rng.random((100, 1))
    y = 1 + 2 * x + 0.1 * rng.standard_normal((100, 1))
    return torch.tensor(x[:80], dtype=torch.float), torch.tensor(y[:80], dtype=torch.float)


def _manual(x_train_tensor, y_train_tensor, n_epochs):
    lr = 0.1
    torch.manual_seed(42)
    b = torch.randn(1, requires_grad=True, dtype=torch.float, device=device)
    w = torch.randn(1, requires_grad=True, dtype=torch.float, device=device)
    for epoch in range(n_epochs):
        yhat = b + w * x_train_tensor
        error = (yhat - y_train_tensor)
        loss = (error ** 2).mean()
        loss.backward()
        with torch.no_grad():
            b -= lr * b.grad
            w -= lr * w.grad
        b.grad.zero_()
        w.grad.zero_()
    return b, w


def _with_optimizer(x_train_tensor, y_train_tensor, n_epochs):
    lr = 0.1
    torch.manual_seed(42)
    b = torch.randn(1, requires_grad=True, dtype=torch.float, device=device)
    w = torch.randn(1, requires_grad=True, dtype=torch.float, device=device)
    optimizer = optim.SGD([b, w], lr=lr)
    for epoch in range(n_epochs):
        yhat = b + w * x_train_tensor
        error = (yhat - y_train_tensor)
        loss = (error ** 2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return b, w


def test_update_parameters_manually_and_with_sgd():
    """更新参数: 1000 epochs by hand and with optim.SGD reach the least-squares line."""
    x, y = _data()
    b1, w1 = _manual(x, y, 1000)
    b2, w2 = _with_optimizer(x, y, 1000)
    assert repr(b1).endswith(", requires_grad=True)")
    np.testing.assert_allclose([b1.item(), w1.item()], [b2.item(), w2.item()], rtol=1e-6)
    design = np.hstack([np.ones((80, 1)), x.numpy().astype(np.float64)])
    b_ls, w_ls = np.linalg.lstsq(design, y.numpy().astype(np.float64), rcond=None)[0][:, 0]
    np.testing.assert_allclose([b1.item(), w1.item()], [b_ls, w_ls], atol=2e-3)
    assert abs(b1.item() - 1) < 0.1 and abs(w1.item() - 2) < 0.2
