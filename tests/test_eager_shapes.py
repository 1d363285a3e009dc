"""Backward layouts remembered by shape (eager/layout_cache.py): a graph that matches a shape
seen before reuses its layout and compiled adjoint, and anything that tells two graphs apart
(structure, sharing, leaves, static arguments, creation order, hooks, targets, in-place writes,
freed buffers) must send the graph the long way. Each case runs in a loop, so the shape is
cached before the variant arrives, and is compared with PyTorch step by step."""

from __future__ import annotations

import numpy as np
import pytest

import gradjit
from gradjit.eager import engine, layout_cache

torch = pytest.importorskip("torch")


def _pair(values, requires_grad=True):
    a = np.asarray(values, dtype=np.float64)
    return (gradjit.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def _close(g, t, rtol=1e-12):
    np.testing.assert_allclose(np.asarray(g.detach().numpy()), t.detach().numpy(), rtol=rtol,
                               atol=0)


def _remembered(loss) -> bool:
    """Whether a remembered shape gives this loss's graph its layout (without running it),
    and the same layout from its generic and its specialized matcher."""
    roots = engine._seed([loss], [None], False)
    found = False
    for shape in layout_cache._SHAPES.get(type(loss.grad_fn), []):
        layout = shape.match(roots, {})
        if shape.fast is not None:
            fast = shape.fast(roots, {})
            assert (fast is None) == (layout is None)
            if layout is not None:
                for slot in ("nodes", "fed", "leaves", "wanted", "key", "sources", "where"):
                    assert getattr(fast, slot) == getattr(layout, slot), slot
        found = found or layout is not None
    return found


def test_sgd_loop_matches_torch_every_step():
    rng = np.random.default_rng(1)
    xs, ys = rng.random((20, 1)), rng.random((20, 1))
    gx, gy, tx, ty = gradjit.tensor(xs), gradjit.tensor(ys), torch.tensor(xs), torch.tensor(ys)
    (ga, ta), (gb, tb) = _pair([0.5]), _pair([0.25])
    for _ in range(6):
        for lib, x, y, a, b in ((gradjit, gx, gy, ga, gb), (torch, tx, ty, ta, tb)):
            loss = ((y - (a + b * x)) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                a -= 0.1 * a.grad
                b -= 0.1 * b.grad
            a.grad.zero_()
            b.grad.zero_()
        _close(ga, ta)
        _close(gb, tb)
    again = ((gy - (ga + gb * gx)) ** 2).mean()
    assert _remembered(again)  # the loop's shape is kept
    shape = layout_cache._SHAPES[type(again.grad_fn)][0]
    assert shape.fast is not None and "def match" in shape.source  # and specialized
    assert not _remembered(((gy - (ga + gx * gb)) ** 2).mean())  # (another graph is not)


@pytest.mark.parametrize("variant", ["shared_node", "same_leaf_twice", "other_exponent",
                                     "creation_order", "other_shape", "other_number",
                                     "const_needs_grad", "leaf_without_grad"])
def test_graphs_of_one_root_op_are_told_apart(variant):
    # a base graph is remembered first; each variant has the same root op
    def base(lib, a, b, x):
        return (a * x * (b * x) ** 2 * 1.5).sum()

    def other(lib, a, b, x):
        if variant == "shared_node":
            u = a * x
            return (u * u ** 2 * 1.5).sum()  # one node used twice, where the base has two
        if variant == "same_leaf_twice":
            return (a * x * (a * x) ** 2 * 1.5).sum()
        if variant == "other_exponent":
            return (a * x * (b * x) ** 3 * 1.5).sum()  # only a static argument differs
        if variant == "other_number":
            return (a * x * (b * x) ** 2 * 2.5).sum()
        if variant == "creation_order":
            v = b * x
            u = a * x
            return (u * v ** 2 * 1.5).sum()  # the same structure, recorded in another order
        return base(lib, a, b, x)  # (the inputs below differ)

    for step in range(9):  # the base three times (remembered, then specialized), then both
        variant_step = step >= 3 and step % 2 == 1
        n = 3 if variant == "other_shape" and variant_step else 2
        (ga, ta) = _pair(np.arange(1.0, n + 1),
                         requires_grad=not (variant == "leaf_without_grad" and variant_step))
        (gb, tb) = _pair(np.arange(2.0, n + 2))
        (gx, tx) = _pair(np.linspace(0.5, 1.5, n),
                         requires_grad=variant == "const_needs_grad" and variant_step)
        fn = other if variant_step else base
        gl, tl = fn(gradjit, ga, gb, gx), fn(torch, ta, tb, tx)
        gl.backward()
        tl.backward()
        _close(gl, tl)
        for g, t in ((ga, ta), (gb, tb), (gx, tx)):
            assert (g.grad is None) == (t.grad is None)
            if t.grad is not None:
                _close(g.grad, t.grad)


def test_static_arguments_are_compared_by_value():
    # a slice is a static param (compared as `_freeze` keys it); an index array is an input
    values = np.arange(6.0)
    for idx in [slice(0, 2), slice(1, 3), slice(0, 2), slice(4, 6), slice(0, 4, 2),
                [0, 2], [1, 2], [[1], [3]], [1, 2]] * 3:
        (gx, tx) = _pair(values)
        gi, ti = (np.array(idx), torch.tensor(idx)) if isinstance(idx, list) else (idx, idx)
        gl, tl = (gx[gi] * 2.0 * gx[gi]).sum(), (tx[ti] * 2.0 * tx[ti]).sum()
        gl.backward()
        tl.backward()
        _close(gx.grad, tx.grad)


def test_hooks_and_retain_grad_added_after_the_shape_is_cached():
    for step in range(6):
        (ga, ta), (gx, tx) = _pair([1.0, -2.0]), _pair([0.5, 3.0], requires_grad=False)
        seen = []
        outs = []
        for lib, a, x in ((gradjit, ga, gx), (torch, ta, tx)):
            u = a * x
            if step == 4:
                u.register_hook(lambda g: g * 3.0)
                u.retain_grad()
            if step == 5:
                a.register_hook(lambda g, lib=lib, seen=seen: seen.append(lib) or None)
            loss = (u * u).sum()
            loss.backward()
            outs.append(u)
        _close(ga.grad, ta.grad)
        if step == 4:
            _close(outs[0].grad, outs[1].grad)
        if step == 5:
            assert seen == [gradjit, torch]


def test_targets_pick_their_leaves_each_time():
    for step in range(12):
        (ga, ta), (gb, tb) = _pair([1.5, 2.0]), _pair([-1.0, 0.5])
        for lib, a, b in ((gradjit, ga, gb), (torch, ta, tb)):
            loss = (a * b * a).sum()
            if step % 3 == 0:
                loss.backward()
            elif step % 3 == 1:
                loss.backward(inputs=[b])
            else:
                (g,) = lib.autograd.grad(loss, [a])
                a.grad = g
        _close(ga.grad, ta.grad) if ta.grad is not None else None
        assert (ga.grad is None) == (ta.grad is None)
        assert (gb.grad is None) == (tb.grad is None)
        if tb.grad is not None:
            _close(gb.grad, tb.grad)


def test_inplace_write_and_freed_buffers_are_still_caught():
    for _ in range(5):  # remembered, then specialized, by the first rounds
        (ga, _), (gx, _) = _pair([1.0, 2.0]), _pair([3.0, 4.0], requires_grad=False)
        (ga * gx * gx).sum().backward()
        y = ga * gx
        loss = (y * y).sum()
        loss.backward(retain_graph=True)
        loss.backward()  # retained once: accumulates again
        a, x = np.array([1.0, 2.0]), np.array([3.0, 4.0])
        np.testing.assert_allclose(ga.grad.numpy(), x * x + 2 * (2 * a * x * x), rtol=1e-15)
        with pytest.raises(RuntimeError, match="second time|freed"):
            loss.backward()
        y2 = ga * gx
        loss2 = (y2 * y2).sum()
        with gradjit.no_grad():
            y2 += 1.0
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss2.backward()


def test_gradient_accumulates_into_existing_grad_and_respects_replacement():
    for _ in range(5):
        (ga, ta), (gx, tx) = _pair([1.0, -1.0]), _pair([2.0, 5.0], requires_grad=False)
        for lib, a, x in ((gradjit, ga, gx), (torch, ta, tx)):
            (a * x).sum().backward()
            kept = a.grad
            version = kept._version if lib is torch else kept._version.value
            (a * x).sum().backward()  # into the same .grad tensor, in place
            assert a.grad is kept
            assert (kept._version if lib is torch else kept._version.value) > version
            a.grad = None
            (a * x).sum().backward()  # a fresh .grad
            assert a.grad is not kept
            a.grad = lib.ones(2, dtype=lib.float64)  # a user's grad: summed into
            (a * x).sum().backward()
        _close(ga.grad, ta.grad)


def test_reduction_fast_path_keeps_names_and_types():
    for dtype in (np.float32, np.float64):
        gx = gradjit.tensor(np.arange(6.0, dtype=dtype).reshape(2, 3), requires_grad=True)
        tx = torch.tensor(np.arange(6.0, dtype=dtype).reshape(2, 3), requires_grad=True)
        for name in ("sum", "mean"):
            g, t = getattr(gx, name)(), getattr(tx, name)()
            assert type(g.grad_fn).__name__ == type(t.grad_fn).__name__
            assert str(g.dtype) == str(t.dtype) and tuple(g.shape) == tuple(t.shape)
            _close(g, t, 1e-6)
    scalar = gradjit.tensor(2.5, requires_grad=True)  # rank 0: the long way
    assert type(scalar.mean().grad_fn).__name__ == "MeanBackward0"
    ints = gradjit.tensor([1, 2, 3])
    assert str(ints.sum().dtype) == str(torch.tensor([1, 2, 3]).sum().dtype)
    assert ints.mean(dtype=gradjit.float64).item() == 2.0  # (a bare integer mean: refused)


def test_reflected_operators_and_inplace_methods_keep_torch_behaviour():
    ops = [lambda v: 2.0 - v, lambda v: 3 * v, lambda v: 1.5 / v, lambda v: 4 + v,
           lambda v: 2.0 ** v, lambda v: 0.5 * v]
    for _ in range(2):
        (gx, tx) = _pair([0.5, -1.5, 2.0])
        for op in ops:
            g, t = op(gx), op(tx)
            _close(g, t)
            g.sum().backward()
            t.sum().backward()
        _close(gx.grad, tx.grad)
    names = [type(op(gx).grad_fn).__name__ for op in ops[1:]]
    assert names == ["MulBackward0", "MulBackward0", "AddBackward0", "PowBackward2",
                     "MulBackward0"]  # 1.5 / v is v.reciprocal() * 1.5 in PyTorch
    assert type(ops[2](gx).grad_fn.next_functions[0][0]).__name__ == "ReciprocalBackward0"
    with gradjit.no_grad():
        assert (3 * gx).grad_fn is None and not (3 * gx).requires_grad
    w = gradjit.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.zero_()
    with pytest.raises(RuntimeError, match="leaf"):
        w -= 1.0
    with pytest.raises(TypeError):
        w.zero_(1)
    v = gradjit.tensor([1.0, 2.0])
    version = v._version.value
    v.add_(gradjit.tensor([1.0, 1.0]), alpha=2.0)  # a keyword: the long way
    assert v.tolist() == [3.0, 4.0] and v._version.value == version + 1
    v.zero_()
    assert v.tolist() == [0.0, 0.0] and v._version.value == version + 2
