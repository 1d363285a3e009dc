"""Seed 000_ddc326187ca0b5cc.txt ("2.6 Autograd", Chinese): every code example, on gradjit.

Each test names the section it reproduces and compares with the numbers the tutorial prints.
"""

import re

import numpy as np
import pytest

import gradjit as torch
import gradjit.nn.functional as F
from gradjit.autograd.function import Function


def _wxy():
    w = torch.tensor([1.], requires_grad=True)
    x = torch.tensor([2.], requires_grad=True)
    a = torch.add(w, x)
    b = torch.add(w, 1)
    return w, x, a, b, torch.mul(a, b)


def test_backward_retain_graph_true():
    """torch.autograd.backward / retain_grad参数使用: retain_graph=True prints 5 then 10."""
    w, x, a, b, y = _wxy()
    y.backward(retain_graph=True)
    assert repr(w.grad) == "tensor([5.])"
    y.backward()
    assert repr(w.grad) == "tensor([10.])"


def test_backward_retain_graph_false_raises():
    """retain_graph=False: the second backward raises PyTorch's error and its hint."""
    w, x, a, b, y = _wxy()
    y.backward()
    assert repr(w.grad) == "tensor([5.])"
    with pytest.raises(RuntimeError) as err:
        y.backward()
    assert "Trying to backward through the graph a second time" in str(err.value)
    assert "Specify retain_graph=True" in str(err.value)


def test_grad_tensors():
    """grad_tensors使用: loss = cat([y0, y1]) weighted by [1, 2] gives w.grad = 9."""
    w = torch.tensor([1.], requires_grad=True)
    x = torch.tensor([2.], requires_grad=True)
    a = torch.add(w, x)
    b = torch.add(w, 1)
    y0 = torch.mul(a, b)
    y1 = torch.add(a, b)
    loss = torch.cat([y0, y1], dim=0)
    grad_tensors = torch.tensor([1., 2.])
    loss.backward(gradient=grad_tensors)
    assert repr(w.grad) == "tensor([9.])"


def test_autograd_grad_second_order():
    """torch.autograd.grad: d(x^2)/dx = 6 (with grad_fn), second derivative 2."""
    x = torch.tensor([3.], requires_grad=True)
    y = torch.pow(x, 2)
    grad_1 = torch.autograd.grad(y, x, create_graph=True)
    assert repr(grad_1) == "(tensor([6.], grad_fn=<MulBackward0>),)"
    grad_2 = torch.autograd.grad(grad_1[0], x)
    assert repr(grad_2) == "(tensor([2.]),)"


class Exp(Function):
    @staticmethod
    def forward(ctx, i):
        result = i.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        result, = ctx.saved_tensors
        return grad_output * result


def test_function_exp():
    """案例1: exp as a custom Function prints tensor([2.7183], grad_fn=<ExpBackward>)."""
    x = torch.tensor([1.], requires_grad=True)
    y = Exp.apply(x)
    assert repr(y) == "tensor([2.7183], grad_fn=<ExpBackward>)"
    y.backward()
    assert repr(x.grad) == "tensor([2.7183])"


class GradCoeff(Function):
    @staticmethod
    def forward(ctx, x, coeff):
        ctx.coeff = coeff
        x.view_as(x)
        return x

    @staticmethod
    def backward(ctx, grad_output):
        return ctx.coeff * grad_output, None


def test_function_grad_coeff():
    """案例2: GradCoeff scales the gradient by -0.1: ret = 4 (PowBackward0), x.grad = -0.4."""
    x = torch.tensor([2.], requires_grad=True)
    ret = GradCoeff.apply(x, -0.1)
    ret = ret ** 2
    assert repr(ret) == "tensor([4.], grad_fn=<PowBackward0>)"
    ret.backward()
    assert repr(x.grad) == "tensor([-0.4000])"


class LegendrePolynomial3(Function):
    @staticmethod
    def forward(ctx, x):
        y = 0.5 * (5 * x ** 3 - 3 * x)
        ctx.save_for_backward(x)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        ret, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * ret ** 2 - 1)


def test_function_legendre():
    """案例3: y_pred = a + b * P3(c + d * x) on Python numbers prints 127.0."""
    a, b, c, d = 1, 2, 1, 2
    x = 1
    P3 = LegendrePolynomial3.apply
    y_pred = a + b * P3(c + d * x)
    assert str(y_pred) == "127.0"


def test_function_legendre_gradient():
    """案例3 with a tensor input: the Function's backward is P3'(t) = 1.5 (5 t^2 - 1)."""
    t = torch.tensor([0.3, -1.2, 2.0], dtype=torch.double, requires_grad=True)
    LegendrePolynomial3.apply(t).sum().backward()
    v = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(t.grad.numpy(), 1.5 * (5 * v ** 2 - 1), rtol=1e-12)
    assert torch.autograd.gradcheck(LegendrePolynomial3.apply, (t,))


def convolution_backward(grad_out, X, weight):
    grad_input = F.conv2d(X.transpose(0, 1), grad_out.transpose(0, 1)).transpose(0, 1)
    grad_X = F.conv_transpose2d(grad_out, weight)
    return grad_X, grad_input


class MyConv2D(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, weight):
        ctx.save_for_backward(X, weight)
        return F.conv2d(X, weight)

    @staticmethod
    def backward(ctx, grad_out):
        X, weight = ctx.saved_tensors
        return convolution_backward(grad_out, X, weight)


def test_function_conv2d():
    """案例4: MyConv2D passes gradcheck; weight.grad is None, then matches built-in conv2d's."""
    torch.manual_seed(0)
    weight = torch.rand(5, 3, 3, 3, requires_grad=True, dtype=torch.double)
    X = torch.rand(10, 3, 7, 7, requires_grad=True, dtype=torch.double)
    assert torch.autograd.gradcheck(MyConv2D.apply, (X, weight)) is True
    y = MyConv2D.apply(X, weight)
    label = torch.randn_like(y)
    loss = F.mse_loss(y, label)
    assert weight.grad is None
    loss.backward()
    assert weight.grad.shape == (5, 3, 3, 3) and weight.grad.dtype == torch.float64
    assert repr(weight.grad).endswith("dtype=torch.float64)")
    # the same loss through the recorded conv2d node gives the same gradients
    w2 = weight.detach().clone().requires_grad_()
    X2 = X.detach().clone().requires_grad_()
    F.mse_loss(F.conv2d(X2, w2), label).backward()
    np.testing.assert_allclose(weight.grad.numpy(), w2.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(X.grad.numpy(), X2.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_grads_accumulate():
    """知识点一: gradients accumulate over four backward calls: 5, 10, 15, 20."""
    w = torch.tensor([1.], requires_grad=True)
    x = torch.tensor([2.], requires_grad=True)
    seen = []
    for i in range(4):
        a = torch.add(w, x)
        b = torch.add(w, 1)
        y = torch.mul(a, b)
        y.backward()
        seen.append(repr(w.grad))
    assert seen == ["tensor([5.])", "tensor([10.])", "tensor([15.])", "tensor([20.])"]


def test_requires_grad_propagates():
    """知识点二: nodes depending on leaves require grad and are not leaves."""
    w, x, a, b, y = _wxy()
    assert (a.requires_grad, b.requires_grad, y.requires_grad) == (True, True, True)
    assert (a.is_leaf, b.is_leaf, y.is_leaf) == (False, False, False)


def test_inplace_keeps_identity():
    """知识点三 (1): a = a + 1 makes a new tensor, a += 1 keeps the object: 1, 2, 3."""
    a = torch.ones((1, ))
    id0, r0 = id(a), repr(a)
    a = a + torch.ones((1, ))
    id1, r1 = id(a), repr(a)
    a += torch.ones((1, ))
    id2, r2 = id(a), repr(a)
    assert (r0, r1, r2) == ("tensor([1.])", "tensor([2.])", "tensor([3.])")
    assert id0 != id1 and id1 == id2


def test_inplace_on_leaf_raises():
    """知识点三 (2): w.add_(1) on a leaf that requires grad raises PyTorch's error."""
    w, x, a, b, y = _wxy()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                           "in an in-place operation"):
        w.add_(1)


def test_detach_shares_storage():
    """知识点四: writing w.detach().data[0] = 999 shows in w."""
    w, x, a, b, y = _wxy()
    y.backward()
    w_detach = w.detach()
    w_detach.data[0] = 999
    assert repr(w) == "tensor([999.], requires_grad=True)"


def test_no_grad_context():
    """知识点五: with torch.no_grad() nothing is recorded."""
    w = torch.tensor([1.], requires_grad=True)
    with torch.no_grad():
        y = w * 2
    assert y.requires_grad is False and y.grad_fn is None
    assert re.fullmatch(r"tensor\(\[2\.\]\)", repr(y))
