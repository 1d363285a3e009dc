"""Eager autograd vs central finite differences: first and second order, both engines.

Each program is a sequence of eager ops on f64 tensors ending in a scalar. `backward()` runs
the whole-graph adjoint (the fast path); `autograd.grad(create_graph=True)` runs node by node
through the recorder, and its result is differentiated again for the second order.
"""

import numpy as np
import pytest

import gradjit as torch
import gradjit.nn.functional as F
from gradjit.eager import lowering

rng = np.random.default_rng(0)


def _t(*shape, positive=False):
    a = rng.standard_normal(shape)
    return np.abs(a) + 0.5 if positive else a


PROGRAMS = {  # name: (function of tensors -> scalar tensor, input arrays)
    "arith": (lambda x, y: ((x * y + x / (y * y + 1) - 2.5 * y) ** 2).sum(), [_t(3), _t(3)]),
    "broadcast": (lambda x, b: torch.tanh(x + b).mean(), [_t(4, 3), _t(3)]),
    "unary": (lambda x: (torch.exp(-x) + torch.sin(x) * x.cos() + torch.sigmoid(x)).sum(),
              [_t(5)]),
    "log_sqrt": (lambda x: (torch.log(x) + x.sqrt() + x.pow(1.5) + 1 / x).sum(),
                 [_t(4, positive=True)]),
    "matmul": (lambda a, b: (torch.matmul(a, b).relu() ** 2).sum(), [_t(3, 4), _t(4, 2)]),
    "mm_chain": (lambda x, w1, w2: torch.tanh(x.mm(w1)).mm(w2).sum(), [_t(2, 3), _t(3, 4),
                                                                      _t(4, 1)]),
    "reductions": (lambda x: x.sum(0).pow(2).sum() + x.mean(1).exp().sum() + x.var(),
                   [_t(3, 4)]),
    "shapes": (lambda x: (x.view(2, 6).t() * torch.arange(12.).view(6, 2).double()).sum()
               + x.transpose(0, 1).reshape(-1)[::2].sum() + x[1:, 2].pow(3).sum(), [_t(3, 4)]),
    "cat_stack": (lambda x, y: (torch.cat([x, y * 2], 0) ** 2).sum()
                  + torch.stack([x, y]).prod(), [_t(2), _t(2)]),
    "index": (lambda x: (x[torch.tensor([0, 2, 2])] ** 2).sum() + x[x > 0].sum(), [_t(4)]),
    "clamp_where": (lambda x: (x.clamp(-0.5, 0.5) * 3).sum()
                    + torch.where(x > 0, x * x, -x).sum(), [np.array([-1.3, -0.2, 0.4, 0.9])]),
    "softmax": (lambda x, w: (F.softmax(x, dim=1) * w).sum() + F.log_softmax(x, 0).sum(),
                [_t(2, 3), _t(2, 3)]),
    "losses": (lambda x, y: F.mse_loss(x, y) + F.binary_cross_entropy_with_logits(
        x, torch.sigmoid(y), pos_weight=torch.tensor([2.0, 1.0, 0.5], dtype=torch.double)),
        [_t(2, 3), _t(2, 3)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, torch.tensor([2, 0])), [_t(2, 3)]),
    "linear": (lambda x, w, b: F.linear(x, w, b).tanh().sum(), [_t(2, 3), _t(4, 3), _t(4)]),
    "conv": (lambda x, w: (F.conv2d(x, w, stride=2, padding=1) ** 2).sum(),
             [_t(1, 1, 4, 4), _t(2, 1, 3, 3)]),
    "conv_groups": (lambda x, w: F.conv2d(x, w, groups=2).sin().sum(),
                    [_t(1, 2, 3, 3), _t(2, 1, 2, 2)]),
    "conv_transpose": (lambda x, w: (F.conv_transpose2d(x, w, stride=2, padding=1) ** 2).sum(),
                       [_t(1, 2, 2, 2), _t(2, 1, 3, 3)]),
    "inplace": (lambda x: _inplace_chain(x), [_t(3)]),
}


def _inplace_chain(x):
    y = x * 1
    y.mul_(x)
    y += 1
    y[0] = 2.0
    return (y * x).sum()


def _leaves(arrays):
    return [torch.tensor(a, dtype=torch.double, requires_grad=True) for a in arrays]


def _numeric_grad(f, arrays, eps=1e-6):
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            vals = []
            for s in (eps, -eps):
                moved = [b.copy() for b in arrays]
                moved[k][i] += s
                with torch.no_grad():
                    vals.append(f(*[torch.tensor(b, dtype=torch.double) for b in moved]).item())
            g[i] = (vals[0] - vals[1]) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_first_order_backward(name):
    f, arrays = PROGRAMS[name]
    xs = _leaves(arrays)
    f(*xs).backward()
    for x, g in zip(xs, _numeric_grad(f, arrays)):
        np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_second_order(name):
    """d/dx <grad f(x), v> (create_graph, node by node) vs differences of grad f."""
    f, arrays = PROGRAMS[name]
    vs = [rng.standard_normal(a.shape) for a in arrays]
    xs = _leaves(arrays)
    gs = torch.autograd.grad(f(*xs), xs, create_graph=True)
    for g, a in zip(gs, arrays):  # the node-by-node gradient equals the fast path's
        assert g.shape == a.shape
    dot = sum((g * torch.tensor(v)).sum() for g, v in zip(gs, vs) if g.requires_grad)
    if not isinstance(dot, torch.Tensor) or not dot.requires_grad:
        pytest.skip("piecewise linear in its inputs: the second derivative is zero")
    hv = torch.autograd.grad(dot, xs, allow_unused=True)

    def grad_dot(*ts):
        with torch.enable_grad():
            ys = [t.detach().requires_grad_() for t in ts]
            g2 = torch.autograd.grad(f(*ys), ys)
        return sum((g * torch.tensor(v)).sum() for g, v in zip(g2, vs))

    for h, n in zip(hv, _numeric_grad(grad_dot, arrays, eps=1e-5)):
        got = np.zeros_like(n) if h is None else h.detach().numpy()
        np.testing.assert_allclose(got, n, rtol=1e-4, atol=1e-5)


def test_fast_path_matches_node_path():
    """The whole-graph adjoint and the node-by-node engine agree (hooks force the latter)."""
    f, arrays = PROGRAMS["mm_chain"]
    a = _leaves(arrays)
    f(*a).backward()
    b = _leaves(arrays)
    out = f(*b)
    out.register_hook(lambda g: g)  # a hook on a non-leaf: node by node
    out.backward()
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-12)


def test_training_loop_traces_once():
    """Step 2..N of a loop reuse the cached adjoint: no new traces after the first step."""
    w = torch.randn(3, 2, dtype=torch.double, requires_grad=True)
    x = torch.randn(4, 3, dtype=torch.double)
    opt = torch.optim.SGD([w], lr=0.1)
    sizes = []
    for step in range(4):
        loss = (torch.tanh(x @ w) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sizes.append(lowering.cache_sizes())
    assert sizes[1] == sizes[2] == sizes[3]
