"""The eager Tensor API: errors, printing, grad modes, nodes, hooks, Functions, optim, nn ops.

Values are checked against numpy or closed forms; error texts against PyTorch's key phrases.
"""

import re

import numpy as np
import pytest

import gradjit as torch
import gradjit.nn.functional as F
from gradjit.autograd import Function

# ---- errors ----------------------------------------------------------------------------------

def test_errors_are_runtime_errors_with_pytorch_phrases():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and "
                                           "does not have a grad_fn"):
        torch.tensor([1.0]).sum().backward()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                           "in an in-place operation"):
        x.mul_(2)
    u = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors appears to not "
                                           "have been used in the graph"):
        torch.autograd.grad((x * x).sum(), [x, u])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="(?s)Trying to backward through the graph a second "
                                           "time.*retain_graph=True"):
        y.backward()


def test_graph_without_saved_values_can_run_twice():
    """Like PyTorch: only nodes that saved values refuse a second backward."""
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_modified_saved_tensor_raises():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    e = x.exp()
    loss = (e * e).sum()
    with torch.no_grad():
        e.add_(1)  # ExpBackward0 and MulBackward0 need it
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_inplace_on_nonleaf_rebases_history():
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = x * x
    y.add_(x)
    y.mul_(3)
    assert y.grad_fn.name() == "MulBackward0" and y._version_value == 2
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * (2 * np.array([1.0, -2.0]) + 1))


def test_masked_assignment_gradient():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 2
    y[y < 0] = 0.0
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 2.0]


# ---- printing ----------------------------------------------------------------------------------

@pytest.mark.parametrize("make, text", [
    (lambda: torch.tensor([5.]), "tensor([5.])"),
    (lambda: torch.tensor(2., requires_grad=True), "tensor(2., requires_grad=True)"),
    (lambda: torch.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
    (lambda: torch.tensor([True, False]), "tensor([ True, False])"),
    (lambda: torch.tensor([0.5, 2.0], dtype=torch.double), "tensor([0.5000, 2.0000], "
     "dtype=torch.float64)"),
    (lambda: torch.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: torch.tensor([-18.1909, 1.4176]), "tensor([-18.1909,   1.4176])"),
    (lambda: torch.zeros(0), "tensor([])"),
    (lambda: torch.arange(12).view(3, 4), "tensor([[ 0,  1,  2,  3],\n        [ 4,  5,  6,"
     "  7],\n        [ 8,  9, 10, 11]])"),
    (lambda: torch.ones(3) * torch.tensor([1.0], requires_grad=True),
     "tensor([1., 1., 1.], grad_fn=<MulBackward0>)"),
    (lambda: torch.tensor([float("nan"), 1.0]), "tensor([nan, 1.])"),
])
def test_repr(make, text):
    assert repr(make()) == text


def test_repr_wraps_long_rows_and_summarizes():
    text = repr(torch.arange(30.))
    assert text.startswith("tensor([ 0.,  1.,") and "\n        " in text
    assert all(len(line) <= 80 for line in text.split("\n"))
    assert repr(torch.zeros(2000)) == "tensor([0., 0., 0.,  ..., 0., 0., 0.])".replace(
        ",  ...", ", ...")
    assert repr(torch.Size([2, 3])) == "torch.Size([2, 3])"


# ---- grad modes, leaves, data ---------------------------------------------------------------

def test_grad_modes():
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        assert not (x * 2).requires_grad
        with torch.enable_grad():
            assert (x * 2).requires_grad
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert torch.is_grad_enabled()

    @torch.set_grad_enabled(False)
    def f(v):
        return v * 2

    assert torch.is_grad_enabled() and not f(x).requires_grad


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2], requires_grad=True)
    x = torch.tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad = False
    assert y.detach().is_leaf and not y.detach().requires_grad


def test_data_has_its_own_version_and_shares_storage():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data.mul_(2)  # no error: .data is outside autograd
    assert x.tolist() == [2.0, 4.0] and x._version_value == 0
    y.backward()  # PyTorch's known hazard: the gradient uses the new values
    assert x.grad.tolist() == [4.0, 8.0]


def test_numpy_item_tolist():
    x = torch.tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy().dtype == np.float32 and x.tolist() == [[1.0, 2.0]]
    assert x.sum().item() == 3.0 and x.shape == (1, 2) and x.size(1) == 2
    a = np.arange(3.0)
    t = torch.from_numpy(a)
    a[0] = 7
    assert t[0].item() == 7 and t.dtype == torch.float64


def test_dtype_promotion_like_torch():
    i = torch.tensor([1, 2])
    f = torch.tensor([1.0, 2.0])
    assert (i * 1.5).dtype == torch.float32 and (i / 2).dtype == torch.float32
    assert (i + 1).dtype == torch.int64 and (f * torch.tensor(2.0, dtype=torch.double)).dtype \
        == torch.float32
    assert (f + torch.ones(2, dtype=torch.double)).dtype == torch.float64
    assert (i > 1).dtype == torch.bool


# ---- nodes, hooks, retain_grad ----------------------------------------------------------------

def test_next_functions_and_hand_calls():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    z = x * torch.tensor(3.0)
    l = z.sum()
    mul = l.grad_fn.next_functions[0][0]
    assert mul.name() == "MulBackward0"
    acc, nr = mul.next_functions[0]
    assert type(acc).__name__ == "AccumulateGrad" and nr == 0 and acc.variable is x
    assert mul.next_functions[1] == (None, 0)
    dz = l.grad_fn(torch.tensor(1.0))
    dx, dc = mul(dz)
    assert dc is None and dx.tolist() == [3.0, 3.0]
    acc(dx)
    assert x.grad.tolist() == [3.0, 3.0]


def test_hooks_and_retain_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    y = x * 2
    y.retain_grad()
    handle = y.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    assert y.grad.tolist() == [40.0, 80.0] and seen == [[80.0, 160.0]]
    handle.remove()
    x.grad = None
    y = x * 2
    (y * y).sum().backward()
    assert x.grad.tolist() == [8.0, 16.0]


def test_backward_inputs_and_grad_wrt_nonleaf():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    h = a * b
    out = (h * h).sum()
    gh, = torch.autograd.grad(out, h, retain_graph=True)
    assert gh.tolist() == [6.0, 16.0]
    out.backward(inputs=[a])
    assert a.grad.tolist() == [18.0, 64.0] and b.grad is None


def test_autograd_backward_several_roots():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    torch.autograd.backward([(x * x).sum(), x * 3], [None, torch.tensor([1.0, -1.0])])
    assert x.grad.tolist() == [5.0, 1.0]


# ---- custom Functions and gradcheck -----------------------------------------------------------

class Cube(Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x ** 3 * scale

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 3 * x ** 2 * ctx.scale, None


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 2 * x ** 2, None


def test_custom_function_and_gradcheck():
    x = torch.tensor([0.5, -1.5], dtype=torch.double, requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn.name() == "CubeBackward" and y.grad_fn.next_functions[0][0].variable is x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([0.5, -1.5]) ** 2)
    assert torch.autograd.gradcheck(lambda t: Cube.apply(t, 2.0), (x,))
    assert not torch.autograd.gradcheck(lambda t: WrongCube.apply(t, 1.0), (x,),
                                        raise_exception=False)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        torch.autograd.gradcheck(lambda t: WrongCube.apply(t, 1.0), (x,))


def test_custom_function_double_backward():
    x = torch.tensor([2.0], dtype=torch.double, requires_grad=True)
    g, = torch.autograd.grad(Cube.apply(x, 1.0), x, create_graph=True)
    assert g.item() == 12.0 and g.requires_grad
    h, = torch.autograd.grad(g, x)
    assert h.item() == 12.0
    assert torch.autograd.gradgradcheck(lambda t: Cube.apply(t, 1.0), (x,))


def test_custom_function_saved_tensor_freed():
    x = torch.tensor([2.0], requires_grad=True)
    y = Cube.apply(x, 1.0)
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


# ---- nn.functional and optim -------------------------------------------------------------------

def _conv_ref(x, w, stride, pad, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    per = o // groups
    for oc in range(o):
        g = oc // per
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * stride:i * stride + kh,
                           j * stride:j * stride + kw]
                out[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3))
    return out


@pytest.mark.parametrize("stride, pad, groups", [(1, 0, 1), (2, 1, 1), (1, 1, 2)])
def test_conv2d_vs_loops(stride, pad, groups):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((4, 4 // groups, 3, 3))
    got = F.conv2d(torch.tensor(x), torch.tensor(w), stride=stride, padding=pad, groups=groups)
    np.testing.assert_allclose(got.numpy(), _conv_ref(x, w, stride, pad, groups), rtol=1e-10)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    """<conv2d(x, w), y> = <x, conv_transpose2d(y, w)> for matching stride and padding."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((1, 3, 7, 7)), rng.standard_normal((2, 3, 3, 3))
    y = rng.standard_normal(F.conv2d(torch.tensor(x), torch.tensor(w), stride=2,
                                     padding=1).shape)
    lhs = (F.conv2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1).numpy() * y).sum()
    back = F.conv_transpose2d(torch.tensor(y), torch.tensor(w), stride=2, padding=1)
    assert back.shape == x.shape
    np.testing.assert_allclose(lhs, (x * back.numpy()).sum(), rtol=1e-10)


def test_losses_vs_numpy():
    rng = np.random.default_rng(3)
    z, t = rng.standard_normal((4, 3)), rng.random((4, 3))
    pw = np.array([1.0, 2.0, 0.5])
    got = F.binary_cross_entropy_with_logits(torch.tensor(z), torch.tensor(t),
                                             pos_weight=torch.tensor(pw), reduction="sum")
    p = 1 / (1 + np.exp(-z))
    ref = -(pw * t * np.log(p) + (1 - t) * np.log(1 - p)).sum()
    np.testing.assert_allclose(got.item(), ref, rtol=1e-10)
    labels = np.array([0, 2, 1, 2])
    ce = F.cross_entropy(torch.tensor(z), torch.tensor(labels))
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    np.testing.assert_allclose(ce.item(), -logp[np.arange(4), labels].mean(), rtol=1e-10)
    assert ce.grad_fn is None and F.mse_loss(torch.tensor(z), torch.tensor(t)).item() == \
        pytest.approx(((z - t) ** 2).mean())


def test_sgd_momentum_weight_decay_vs_numpy():
    w0 = np.array([1.0, -2.0])
    w = torch.tensor(w0, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)
    ref, buf = w0.copy(), None
    for _ in range(3):
        opt.zero_grad()
        (w ** 2).sum().backward()
        opt.step()
        d = 2 * ref + 0.01 * ref
        buf = d if buf is None else 0.9 * buf + d
        ref = ref - 0.1 * (d + 0.9 * buf)
    np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-12)
    assert w.grad is not None
    opt.zero_grad()
    assert w.grad is None


def test_creation_functions():
    torch.manual_seed(3)
    a = torch.randn(2, 3)
    torch.manual_seed(3)
    assert torch.equal(a, torch.randn(2, 3)) and a.dtype == torch.float32
    assert torch.eye(3).sum().item() == 3 and torch.arange(0, 1, 0.25).tolist() == [
        0, 0.25, 0.5, 0.75]
    assert torch.linspace(0, 1, 3).tolist() == [0.0, 0.5, 1.0]
    assert torch.zeros_like(a).shape == (2, 3) and torch.ones(2, dtype=torch.int64).dtype == \
        torch.long
    r = torch.rand(100)
    assert 0 <= r.min().item() and r.max().item() < 1
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-f]+>",
                        repr((torch.ones(1, requires_grad=True) + 1).grad_fn))
