"""The per-step hot paths of an eager training loop, against PyTorch: the unrolled binary
operators (`binary_numpy`), the backward graph gathered in creation order, node keys that
leave the inputs' grad needs to the graph's sources, cached reduction axes, staged forwards
looked up by their plain arguments, and the backward seed. Each repeats its case so that the
cached and compiled paths run, and compares every repeat with torch."""

from __future__ import annotations

import numpy as np
import pytest

import gradjit
import gradjit.nn.functional as gF

torch = pytest.importorskip("torch")
tF = pytest.importorskip("torch.nn.functional")


def _pair(values, dtype="float64", requires_grad=True):
    a = np.asarray(values, dtype=dtype)
    return (gradjit.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def _close(g, t, rtol=1e-12):
    assert str(g.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("expr", [
    lambda x, y: x * y + 2.0, lambda x, y: 3 - x / y, lambda x, y: 2.5 * x - y ** 2,
    lambda x, y: (x - y) ** 3 / 4, lambda x, y: 1.5 / y + x ** -1, lambda x, y: -x + 7 * y,
], ids=["mul_add", "rsub_div", "rmul_pow", "pow3_div", "rdiv_pow_neg", "neg_rmul"])
def test_binary_operators_fast_path_equals_torch(expr, dtype):
    rtol = 1e-6 if dtype == "float32" else 1e-12
    for _ in range(3):
        (gx, tx), (gy, ty) = _pair([0.5, 1.5, -2.0], dtype), _pair([1.25, -0.75, 3.0], dtype)
        g, t = expr(gx, gy), expr(tx, ty)
        _close(g, t, rtol)
        assert g.grad_fn is not None
        g.sum().backward()
        t.sum().backward()
        _close(gx.grad, tx.grad, rtol)
        _close(gy.grad, ty.grad, rtol)


def test_binary_operators_without_grad_record_nothing():
    gx, _ = _pair([1.0, 2.0])
    with gradjit.no_grad():
        y = 0.5 * gx - gx ** 2
    assert y.grad_fn is None and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), 0.5 * np.array([1.0, 2.0]) - np.array([1.0, 4.0]))


def test_backward_order_when_creation_and_walk_orders_differ():
    # u is recorded first but reached last from the loss; v is shared by two consumers
    for _ in range(3):
        (ga, ta), (gb, tb) = _pair([0.3, -1.2]), _pair([2.0, 0.5])
        outs = []
        for a, b, lib in ((ga, gb, gradjit), (ta, tb, torch)):
            u = a * 3.0
            v = lib.exp(b)
            w = v * v + b
            loss = (w * a).sum() + (v - u).mean() + (u * w).sum()
            loss.backward()
            outs.append(loss)
        _close(*outs)
        _close(ga.grad, ta.grad)
        _close(gb.grad, tb.grad)


def test_node_by_node_path_keys_grad_needs_per_input():
    # the same op and types, with first one input then the other needing a gradient: a hook
    # sends both through the node-by-node path, whose adjoint differs with the grad needs
    for which in (0, 1, 0, 1):
        (gx, tx), (gy, ty) = (_pair([1.5, -0.5], requires_grad=which == 0),
                              _pair([2.0, 4.0], requires_grad=which == 1))
        for x, y in ((gx, gy), (tx, ty)):
            prod = x * y
            prod.register_hook(lambda g: g * 2.0)
            (prod ** 2).sum().backward()
        (g, t), (other, _) = ((gx, tx), (gy, ty))[::1 if which == 0 else -1]
        _close(g.grad, t.grad)
        assert other.grad is None


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (4,)])
def test_mean_and_sum_over_negative_dims_on_each_rank(shape):
    # dim=-1 means another axis on each rank: the cached axes are per (dims, rank)
    values = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) / 7.0
    for _ in range(2):
        gx, tx = _pair(values)
        g = gx.mean(dim=-1) * 2.0 + gx.sum(dim=(-1,), keepdim=True).mean()
        t = tx.mean(dim=-1) * 2.0 + tx.sum(dim=(-1,), keepdim=True).mean()
        _close(g, t)
        g.sum().backward()
        t.sum().backward()
        _close(gx.grad, tx.grad)


def test_invalid_reduction_dim_still_raises_each_time():
    gx, _ = _pair([[1.0, 2.0]])
    for _ in range(2):
        with pytest.raises(Exception, match="out of|range|bounds"):
            gx.mean(dim=5)


def test_staged_cross_entropy_cache_tells_arguments_apart():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, size=5)
    cases = [{}, {"reduction": "sum"}, {"label_smoothing": 0.1}, {"reduction": "none"}, {}]
    for kwargs in cases * 2:  # again: interpreted, then compiled, each by its own key
        gx, tx = _pair(logits)
        g = gF.cross_entropy(gx, gradjit.tensor(labels), **kwargs)
        t = tF.cross_entropy(tx, torch.tensor(labels), **kwargs)
        _close(g, t)
        g.sum().backward()
        t.sum().backward()
        _close(gx.grad, tx.grad)


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backward_seed_has_the_loss_type(shape, dtype):
    for _ in range(2):
        (gx, tx) = _pair(np.full(shape, 0.75), dtype)
        gl, tl = (gx * gx * 3.0).sum() * 1.0, (tx * tx * 3.0).sum() * 1.0
        gl.reshape(shape).backward() if shape else gl.backward()
        tl.reshape(shape).backward() if shape else tl.backward()
        _close(gx.grad, tx.grad, 1e-6)


def test_inplace_after_forward_is_still_caught_by_the_fast_backward():
    for _ in range(3):
        x = gradjit.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2.0
        z = (y * y).sum()
        with gradjit.no_grad():
            y.mul_(3.0)  # y is saved by y * y
        with pytest.raises(Exception, match="modified by an inplace operation"):
            z.backward()


def test_staged_indexing_cache_tells_static_arguments_apart():
    # same op, same input type, only a static index (params) or a number written (template)
    values = np.arange(12.0).reshape(3, 4)
    for index, number in [(0, 2.0), (1, 3.0), (-1, 2.0), ((slice(None), 2), 5.0), (0, 3.0)] * 2:
        gx, tx = _pair(values)
        g, t = gx[index] * 2.0, tx[index] * 2.0
        gx2, tx2 = gx * 1.0, tx * 1.0
        gx2[1, 2] = number
        tx2[1, 2] = number
        g, t = g.sum() + (gx2 * gx2).sum(), t.sum() + (tx2 * tx2).sum()
        _close(g, t)
        g.sum().backward()
        t.sum().backward()
        _close(gx.grad, tx.grad)
