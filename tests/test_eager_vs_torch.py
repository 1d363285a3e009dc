"""Differential tests of the eager API against PyTorch (the `oracle` extra: torch==2.13.0):
random sequences of eager ops, their values, gradients and second gradients must agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradjit
import gradjit.nn.functional as gF

torch = pytest.importorskip("torch")
tF = pytest.importorskip("torch.nn.functional")

# op name -> (arity, f(lib, F, *xs)); inputs stay in each op's smooth domain (log/sqrt/div take
# positive operands, no kinks near the sampled points: relu/abs/clamp see values away from them)
UNARY = {
    "exp": lambda lib, F, x: lib.exp(x * 0.5),
    "sin": lambda lib, F, x: lib.sin(x),
    "tanh": lambda lib, F, x: lib.tanh(x),
    "sigmoid": lambda lib, F, x: lib.sigmoid(x),
    "log": lambda lib, F, x: lib.log(x * x + 1.0),
    "sqrt": lambda lib, F, x: lib.sqrt(x * x + 0.5),
    "pow3": lambda lib, F, x: x ** 3,
    "softplus": lambda lib, F, x: F.softplus(x),
    "neg_scale": lambda lib, F, x: -2.5 * x + 1.0,
    "mean_keep": lambda lib, F, x: x - x.mean(dim=-1, keepdim=True),
    "transpose": lambda lib, F, x: x.t() @ x,
}
BINARY = {
    "add": lambda lib, F, x, y: x + y,
    "mul": lambda lib, F, x, y: x * y,
    "sub": lambda lib, F, x, y: x - y,
    "div": lambda lib, F, x, y: x / (y * y + 1.0),
    "matmul": lambda lib, F, x, y: lib.matmul(x, y.t()),
    "maximum": lambda lib, F, x, y: lib.maximum(x, y + 3.0),
}


def _program(ops):
    def run(lib, F, xs):
        pool = list(xs)
        for name, i, j in ops:
            if name in UNARY:
                out = UNARY[name](lib, F, pool[i % len(pool)])
            else:
                out = BINARY[name](lib, F, pool[i % len(pool)], pool[j % len(pool)])
            if tuple(out.shape) == (3, 3):
                pool.append(out)
        return (pool[-1] * pool[-1]).sum() + pool[-2].sum() + 0.1 * (xs[0] * xs[1]).sum()

    return run


OPS = st.lists(st.tuples(st.sampled_from(sorted(UNARY) + sorted(BINARY)),
                         st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=8)


def _leaves(lib, data):
    return [lib.tensor(d, dtype=lib.float64, requires_grad=True) for d in data]


@settings(max_examples=25, deadline=None)
@given(ops=OPS, seed=st.integers(0, 2**31 - 1))
def test_random_op_sequences_match_pytorch(ops, seed):
    rng = np.random.default_rng(seed)
    data = [rng.uniform(-1, 1, (3, 3)) for _ in range(2)]
    program = _program(ops)
    results = {}
    for lib, F in ((gradjit, gF), (torch, tF)):
        xs = _leaves(lib, data)
        loss = program(lib, F, xs)
        grads = lib.autograd.grad(loss, xs, create_graph=True)
        total = sum((g * g).sum() for g in grads)
        second = lib.autograd.grad(total, xs, allow_unused=True)
        results[lib.__name__] = [np.asarray(loss.detach().numpy())] + \
            [g.detach().numpy() for g in grads] + \
            [np.zeros((3, 3)) if s is None else s.detach().numpy() for s in second]
    for got, want in zip(results["gradjit"], results["torch"]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_training_step_matches_pytorch():
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(8, 5)), rng.integers(0, 3, size=8)
    W, b = rng.normal(size=(5, 3)), rng.normal(size=3)
    weights = {}
    for lib, F in ((gradjit, gF), (torch, tF)):
        w = lib.tensor(W, requires_grad=True)
        bias = lib.tensor(b, requires_grad=True)
        opt = lib.optim.SGD([w, bias], lr=0.1, momentum=0.9, weight_decay=0.01)
        for _ in range(5):
            opt.zero_grad()
            loss = F.cross_entropy(lib.tensor(x) @ w + bias, lib.tensor(labels))
            loss.backward()
            opt.step()
        weights[lib.__name__] = (w.detach().numpy(), bias.detach().numpy())
    for got, want in zip(weights["gradjit"], weights["torch"]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_number_over_tensor_equals_pytorch_bit_for_bit(dtype):
    """`1.5 / x` is x.reciprocal() * 1.5 in PyTorch: ~30% of its values differ from 1.5 / x."""
    x = np.random.default_rng(8).standard_normal(1000).astype(dtype)
    got, want = [], []
    for lib, out in ((gradjit, got), (torch, want)):
        v = lib.tensor(x, requires_grad=True)
        y = 1.5 / v
        y.sum().backward()
        out += [y.detach().numpy(), v.grad.numpy()]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                     {"weight_decay": 0.01},
                                     {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1,
                                      "maximize": True}])
def test_sgd_steps_equal_pytorch_bit_for_bit(options, dtype):
    """Each `add(..., alpha=)` of PyTorch's SGD rounds once (an fma); gradjit's too."""
    rng = np.random.default_rng(7)
    p0, g0 = rng.standard_normal(1001).astype(dtype), rng.standard_normal(1001).astype(dtype)
    got = []
    for lib in (gradjit, torch):
        p = lib.tensor(p0, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1, **options)
        for _ in range(3):
            p.grad = lib.tensor(g0)
            opt.step()
        got.append(p.detach().numpy())
    np.testing.assert_array_equal(*got)


@pytest.mark.parametrize("expr", ["2.0 - x", "lib.rsub(x, 3.0)", "lib.rsub(x, y, alpha=2)",
                                  "1 - x * y"])
def test_reflected_subtraction_records_rsub_like_torch(expr):
    """`2.0 - x` is torch's rsub: grad_fn RsubBackward1, value other - x, gradient -1."""
    data = np.array([1.5, -2.0, 0.25])
    got = {}
    for lib in (torch, gradjit):
        x = lib.tensor(data, requires_grad=True)
        y = lib.tensor(data[::-1].copy(), requires_grad=True)
        out = eval(expr, {"lib": lib, "x": x, "y": y})
        out.sum().backward()
        got[lib] = (type(out.grad_fn).__name__, out.detach().numpy(), x.grad.numpy())
    assert got[gradjit][0] == got[torch][0]
    np.testing.assert_array_equal(got[gradjit][1], got[torch][1])
    np.testing.assert_array_equal(got[gradjit][2], got[torch][2])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_keeps_nan_and_passes_its_gradient_like_torch(dtype):
    data = np.array([np.nan, 2.0, -1.0, 0.0, 3.5], dtype)
    got = {}
    for lib in (torch, gradjit):
        x = lib.tensor(data, requires_grad=True)
        r = lib.relu(x * 1.0)  # (the recorded op, not the leaf)
        r.backward(lib.full_like(x, 3.0))
        got[lib] = (r.detach().numpy(), x.grad.numpy())
    for a, b in zip(got[gradjit], got[torch]):
        np.testing.assert_array_equal(a, b)


def test_compiled_relu_keeps_nan_as_the_interpreter_does():
    relu = lambda v: np.sum(gradjit.numpy.relu(v) * v)
    x = np.array([np.nan, 2.0, -1.0, 0.0, 3.5] * 3)
    for backend in ("interp", "llvm"):
        assert np.isnan(gradjit.jit(lambda v: gradjit.numpy.relu(v), backend=backend)(x)[0])
        g = gradjit.grad(relu, backend=backend)(np.nan_to_num(x, nan=-2.0))
        np.testing.assert_array_equal(g, np.where(np.nan_to_num(x, nan=-2.0) > 0,
                                                  2 * np.nan_to_num(x, nan=-2.0), 0.0))


@pytest.mark.parametrize("expr", ["x.mean()", "lib.mean(x, 0)", "x.std()", "x.var(0)"])
def test_integer_mean_and_var_are_refused_like_torch(expr):
    """torch will not guess a float dtype for mean/std/var of an integer tensor: neither do we
    (a RuntimeError with torch's words, naming the op and the user's line); as float64 both
    give the same value."""
    values = {}
    for lib in (torch, gradjit):
        with pytest.raises(RuntimeError, match="floating point") as info:
            eval(expr, {"lib": lib, "x": lib.tensor([1, 2, 4])})
        values[lib] = eval(expr, {"lib": lib, "x": lib.tensor([1, 2, 4]).double()}).numpy()
    op = "mean" if "mean" in expr else "std" if "std" in expr else "var"
    assert str(info.value).startswith(op + ":") and "at <string>:1" in str(info.value)
    np.testing.assert_allclose(values[gradjit], values[torch], rtol=1e-15)
