"""Seed 001_674006212204be9f.txt ("八、自动微分", Chinese): every code example, on gradjit."""

import numpy as np
import pytest

import gradjit as torch


def test_1_2_is_leaf():
    """1.2 计算图 / 叶子节点: x is a leaf, y = x**2 and z = y.sum() are not."""
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x ** 2
    z = y.sum()
    assert (x.is_leaf, y.is_leaf, z.is_leaf) == (True, False, False)


def test_1_2_detach_shares_data():
    """1.2 detach(): y = x.detach() shares x's data and does not track gradients.

    The tutorial's comment claims x still prints [1., 2., 3.] after `y += 1`; PyTorch itself
    prints [2., 3., 4.] because detach() shares storage (seed 000 relies on exactly that), so
    gradjit follows PyTorch.
    """
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.detach()
    y += 1
    assert repr(y) == "tensor([2., 3., 4.])"
    assert repr(x) == "tensor([2., 3., 4.], requires_grad=True)"
    assert y.requires_grad is False


def test_2_1_scalar_gradient():
    """2.1 标量梯度计算: d(x^2)/dx at 1 prints tensor(2.)."""
    x = torch.tensor(1.0, requires_grad=True)
    y = x ** 2
    y.backward()
    assert repr(x.grad) == "tensor(2.)"


def test_2_2_vector_backward_needs_gradient():
    """2.2 向量梯度计算: y.backward() on a vector raises the scalar-outputs error."""
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x ** 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar "
                                           "outputs"):
        y.backward()


def test_2_2_vector_backward_with_gradient():
    """2.2: y.backward(ones) gives tensor([2., 4., 6.])."""
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x ** 2
    y.backward(torch.tensor([1.0, 1.0, 1.0]))
    assert repr(x.grad) == "tensor([2., 4., 6.])"


def test_2_2_mean_loss():
    """2.2: loss = mean(x^2) gives 2x/3 = [0.6667, 1.3333, 2.0000]."""
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (x ** 2).mean()
    loss.backward()
    assert repr(x.grad) == "tensor([0.6667, 1.3333, 2.0000])"


def test_2_4_several_scalars():
    """2.4 多标量梯度计算: y = x1^2 + 2 x2 + 7 in f64: 10 and 2 with dtype=torch.float64."""
    x1 = torch.tensor(5.0, requires_grad=True, dtype=torch.float64)
    x2 = torch.tensor(3.0, requires_grad=True, dtype=torch.float64)
    y = x1**2 + 2 * x2 + 7
    y.backward()
    assert f"{x1.grad} {x2.grad}" == \
        "tensor(10., dtype=torch.float64) tensor(2., dtype=torch.float64)"


def test_2_5_several_vectors():
    """2.5 多向量梯度计算: z = x * y, loss = z.sum(): z, loss and both gradients."""
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = torch.tensor([4.0, 5.0, 6.0], requires_grad=True)
    z = x * y
    loss = z.sum()
    assert repr(z) == "tensor([ 4., 10., 18.], grad_fn=<MulBackward0>)"
    assert repr(loss) == "tensor(32., grad_fn=<SumBackward0>)"
    loss.backward()
    assert repr(x.grad) == "tensor([4., 5., 6.])"
    assert repr(y.grad) == "tensor([1., 2., 3.])"


def test_3_1_grad_control():
    """3.1 控制梯度计算: requires_grad after no_grad (context, decorator) and the global switch."""
    x = torch.tensor(10.5, requires_grad=True)
    seen = [x.requires_grad]
    y = x**2 + 2 * x + 3
    seen.append(y.requires_grad)
    with torch.no_grad():
        y = x**2 + 2 * x + 3
    seen.append(y.requires_grad)

    @torch.no_grad()
    def y_fn(x):
        return x**2 + 2 * x + 3

    seen.append(y_fn(x).requires_grad)
    try:
        torch.set_grad_enabled(False)
        y = x**2 + 2 * x + 3
        seen.append(y.requires_grad)
    finally:
        torch.set_grad_enabled(True)
    assert seen == [True, True, False, False, False]


_ACCUMULATED = ["tensor([1.3333, 2.0000, 4.2000])", "tensor([2.6667, 4.0000, 8.4000])",
                "tensor([ 4.0000,  6.0000, 12.6000])"]


def test_3_2_accumulation():
    """3.2 累计梯度: three backward calls accumulate (the printed three rows)."""
    x = torch.tensor([1.0, 2.0, 5.3], requires_grad=True)
    seen = []
    for i in range(3):
        y = x**2 + 2 * x + 7
        z = y.mean()
        z.backward()
        seen.append(repr(x.grad))
    assert seen == _ACCUMULATED


def test_3_2_graph_outside_loop_raises():
    """3.2 思考: with y computed once outside the loop the second backward raises."""
    x = torch.tensor([1.0, 2.0, 5.3], requires_grad=True)
    y = x**2 + 2 * x + 7
    y.mean().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second"):
        y.mean().backward()


def test_3_3_zero_grad():
    """3.3 梯度清零: x.grad.zero_() before each backward: the same row three times."""
    x = torch.tensor([1.0, 2.0, 5.3], requires_grad=True)
    seen = []
    for i in range(3):
        y = x**2 + 2 * x + 7
        z = y.mean()
        if x.grad is not None:
            x.grad.zero_()
        z.backward()
        seen.append(repr(x.grad))
    assert seen == [_ACCUMULATED[0]] * 3


def test_3_4_retain_graph():
    """3.4 计算图管理: backward(retain_graph=True) then backward() on the same graph."""
    x = torch.tensor([1.0, 2.0, 5.3], requires_grad=True)
    loss = (x**2 + 2 * x + 7).mean()
    loss.backward(retain_graph=True)
    loss.backward()
    assert repr(x.grad) == _ACCUMULATED[1]


def test_3_5_gradient_descent():
    """3.5 案例1: x.data -= lr * x.grad under no_grad; x_i = 3 * 0.8^(i+1), y_i = x_{i-1}^2."""
    x = torch.tensor([3.0], requires_grad=True, dtype=torch.float)
    lr = 0.1
    history = []
    for i in range(50):
        y = x ** 2
        if x.grad is not None:
            x.grad.zero_()
        y.backward()
        with torch.no_grad():
            x.data -= lr * x.grad
        history.append((x.item(), y.item()))
    expect_x = np.float32(3.0)
    for x_i, y_i in history:
        expect_y = expect_x * expect_x
        expect_x = np.float32(expect_x - np.float32(0.1) * (2 * expect_x))
        assert (x_i, y_i) == (float(expect_x), float(expect_y))
    assert abs(history[-1][0]) < 1e-4


def test_3_5_without_no_grad_raises():
    """3.5: updating the leaf in place without no_grad raises the leaf in-place error."""
    x = torch.tensor([3.0], requires_grad=True)
    (x ** 2).backward()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                           "in an in-place operation"):
        x -= 0.1 * x.grad


def test_3_5_detach_update():
    """3.5 解决方法 2: new_x = x.detach() - lr * x.grad; x.data = new_x."""
    x = torch.tensor([3.0], requires_grad=True)
    (x ** 2).backward()
    with torch.no_grad():
        new_x = x.detach() - 0.1 * x.grad
        x.data = new_x
    assert repr(x) == "tensor([2.4000], requires_grad=True)"
    assert x.is_leaf and x.requires_grad


def _fit_line(epochs):
    x = torch.tensor([1, 2, 3, 4, 5], dtype=torch.float)
    y = torch.tensor([3, 5, 7, 9, 11], dtype=torch.float)
    a = torch.tensor([1], dtype=torch.float, requires_grad=True)
    b = torch.tensor([1], dtype=torch.float, requires_grad=True)
    lr = 0.01
    lines = []
    for epoch in range(epochs):
        y_pred = a * x + b
        loss = ((y_pred - y) ** 2).mean()
        if a.grad is not None and b.grad is not None:
            a.grad.zero_()
            b.grad.zero_()
        loss.backward()
        with torch.no_grad():
            a.data -= lr * a.grad
            b.data -= lr * b.grad
        if (epoch + 1) % 10 == 0:
            lines.append(f'Epoch [{epoch + 1}/{epochs}], Loss: {loss.item():.4f}')
    return lines, a.item(), b.item()


def test_3_6_linear_regression_100():
    """3.6 案例2: the printed losses of 100 epochs and a = 1.94921..., b = 1.18334...."""
    lines, a, b = _fit_line(100)
    assert lines == [f"Epoch [{e}/100], Loss: {v}" for e, v in zip(range(10, 101, 10), (
        "0.0965", "0.0110", "0.0099", "0.0092", "0.0086", "0.0081", "0.0075", "0.0071",
        "0.0066", "0.0062"))]
    assert a == pytest.approx(1.9492162466049194, rel=1e-6)
    assert b == pytest.approx(1.1833451986312866, rel=1e-6)


def test_3_6_linear_regression_500():
    """3.6 epochs=500: the last printed losses and a = 1.98689..., b = 1.04730...."""
    lines, a, b = _fit_line(500)
    assert lines[-7:] == [f"Epoch [{e}/500], Loss: {v}" for e, v in zip(range(440, 501, 10), (
        "0.0006", "0.0006", "0.0005", "0.0005", "0.0005", "0.0004", "0.0004"))]
    assert a == pytest.approx(1.986896276473999, rel=1e-5)
    assert b == pytest.approx(1.0473089218139648, rel=1e-5)


def test_4_higher_order():
    """4 高阶导数: y = x^3 at 2: first derivative 12, second 12."""
    x = torch.tensor(2.0, requires_grad=True)
    y = x**3
    dy_dx = torch.autograd.grad(y, x, create_graph=True)[0]
    assert dy_dx.item() == 12
    d2y_dx2 = torch.autograd.grad(dy_dx, x)[0]
    assert d2y_dx2.item() == 12


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


def test_5_custom_relu():
    """5 自定义梯度函数: MyReLU on [-1, 2] gives tensor([0., 1.])."""
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    y = MyReLU.apply(x)
    y.sum().backward()
    assert repr(x.grad) == "tensor([0., 1.])"


def test_6_grad_check():
    """6 梯度检查: analytic gradient 1.0 and the f32 central difference close to it."""
    x = torch.tensor([1.5], requires_grad=True)
    analytic_grad = torch.autograd.grad(MyReLU.apply(x), x)[0]
    eps = 1e-5
    f_plus = MyReLU.apply(x + eps)
    f_minus = MyReLU.apply(x - eps)
    numeric_grad = (f_plus - f_minus) / (2 * eps)
    diff = torch.abs(analytic_grad - numeric_grad)
    text = f"解析梯度: {analytic_grad.item()}, 数值梯度: {numeric_grad.item()}, 差异: {diff.item()}"
    assert text.startswith("解析梯度: 1.0, 数值梯度: ")
    assert diff.item() < 0.05  # f32 cancellation at eps=1e-5
