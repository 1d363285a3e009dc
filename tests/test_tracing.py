"""Tracing: numpy's protocols, dtype rules, closures over tracers, caching, pytrees."""

import numpy as np
import pytest

import gradjit
import gradjit.numpy as gnp


def _ops(fn) -> list[str]:
    return [i.prim.name for i in fn.body]


def test_plain_numpy_traces_into_single_instructions():
    W = np.ones((4, 3))

    def f(x):
        h = np.sin(x) @ W
        return np.sum(np.maximum(h, 0.0) * np.exp(h), axis=1, keepdims=True)

    fn = gradjit.trace(f, np.ones((5, 4)))
    ops = _ops(fn)
    assert ops.count("dot_general") == 1 and ops.count("reduce_sum") == 1
    assert {"sin", "maximum", "exp", "mul"} <= set(ops)
    assert fn.out_types[0].shape == (5, 1)


@pytest.mark.parametrize("x, y, expected", [
    (np.ones(3, np.float32), 2.0, "f32"),       # a Python float is weak: stays f32
    (np.ones(3, np.float32), np.float64(2), "f64"),  # a numpy scalar is not weak
    (np.ones(3, np.float32), np.ones(3), "f64"),
    (np.arange(3), 2.0, "f64"),                 # int tensor * float -> f64, like numpy
    (np.arange(3), 2, "i64"),
])
def test_dtype_promotion_follows_numpy(x, y, expected):
    fn = gradjit.trace(lambda a: a * y, x)
    assert fn.out_types[0].dtype == expected
    assert np.result_type(x, y) == fn.out_types[0].np_dtype  # the same as numpy 2's rule


def test_f32_gradients_stay_f32_and_python_floats_come_back_as_floats():
    g = gradjit.grad(lambda x: np.sum(np.tanh(x) * 3.0))(np.ones(3, np.float32))
    assert g.dtype == np.float32
    d = gradjit.grad(lambda x, y: x * y + np.sin(x), argnums=(0, 1))(2.0, 3.0)
    assert isinstance(d[0], float) and isinstance(d[1], float)
    assert d == pytest.approx((3.0 + np.cos(2.0), 2.0), rel=1e-15)


def test_closure_over_outer_tracer_in_nested_grad():
    # d/dx [ d/dy (x*y^2) at y=x ] = d/dx [2 x y]|y=x = d/dx 2x^2 = 4x
    def outer(x):
        inner = gradjit.grad(lambda y: x * y * y)
        return inner(x)

    for x in (0.5, 1.5, -2.0):
        assert gradjit.grad(outer)(x) == pytest.approx(4 * x, rel=1e-14)


def test_grad_inside_jit_and_jit_inside_grad():
    f = lambda x: np.sum(np.sin(x) * x)  # noqa: E731
    x = np.linspace(0, 1, 5)
    expected = np.cos(x) * x + np.sin(x)
    np.testing.assert_allclose(gradjit.jit(gradjit.grad(f))(x), expected, rtol=1e-14)
    np.testing.assert_allclose(gradjit.grad(gradjit.jit(f))(x), expected, rtol=1e-14)


def test_static_argnums_and_python_control_flow_on_statics():
    def power(x, n):
        out = x
        for _ in range(n - 1):
            out = out * x
        return out

    f = gradjit.jit(gradjit.grad(power), static_argnums=1)
    for n in (2, 3, 5):
        assert f(1.5, n) == pytest.approx(n * 1.5 ** (n - 1), rel=1e-14)


def test_traces_once_per_signature():
    calls = []

    def f(x):
        calls.append(1)
        return np.sum(x * x)

    g = gradjit.grad(f)
    for _ in range(3):
        g(np.ones(3))
    assert len(calls) == 1
    g(np.ones(4))
    g(np.ones(4, np.float32))
    assert len(calls) == 3


def test_pytree_arguments_and_outputs():
    def loss(params, x):
        return np.sum((x @ params["W"] + params["b"][0]) ** 2) + params["scale"] ** 2

    params = {"W": np.ones((3, 2)), "b": [np.zeros(2)], "scale": 0.5}
    x = np.arange(6.0).reshape(2, 3)
    g = gradjit.grad(loss)(params, x)
    assert set(g) == {"W", "b", "scale"} and isinstance(g["b"], list)
    r = x @ params["W"] + params["b"][0]
    np.testing.assert_allclose(g["W"], 2 * x.T @ r, rtol=1e-14)
    np.testing.assert_allclose(g["b"][0], 2 * r.sum(0), rtol=1e-14)
    assert g["scale"] == pytest.approx(1.0)
    out = gradjit.jit(lambda p: {"a": p["W"] * 2, "b": (p["scale"], p["b"])})(params)
    assert out["b"][0] == 0.5 and isinstance(out["b"][1], list)


def test_unused_input_gets_zero_gradient_of_its_shape():
    g = gradjit.grad(lambda x, y: np.sum(x * 2), argnums=(0, 1))(np.ones(2), np.ones((3, 3)))
    np.testing.assert_array_equal(g[1], np.zeros((3, 3)))


def test_integer_inputs_pass_through_undifferentiated():
    def f(x, idx):
        return np.sum(x[idx] ** 2)

    g = gradjit.grad(f)(np.arange(4.0), np.array([1, 1, 3]))
    np.testing.assert_array_equal(g, [0.0, 4.0, 0.0, 6.0])


def test_gradjit_numpy_names_work_on_arrays_and_tracers():
    x = np.array([[0.5, -1.0, 2.0]])
    for name in ("logsumexp", "softmax", "log_softmax", "softplus", "relu"):
        fn = getattr(gnp, name)
        eager = np.asarray(fn(x))
        traced = gradjit.jit(fn)(x)
        np.testing.assert_allclose(traced, eager, rtol=1e-14)
    np.testing.assert_allclose(gnp.logsumexp(x), np.log(np.sum(np.exp(x))), rtol=1e-14)


def test_logsumexp_is_stable_and_handles_all_minus_inf():
    x = np.array([1000.0, 1000.0, -np.inf])
    assert gnp.logsumexp(x) == pytest.approx(1000 + np.log(2))
    assert gnp.logsumexp(np.full(3, -np.inf)) == -np.inf
    g = gradjit.grad(gnp.logsumexp)(x)
    np.testing.assert_allclose(g, [0.5, 0.5, 0.0])


def test_dump_stages():
    f = lambda x: np.sum(np.exp(x) * 1.0)  # noqa: E731
    traced = gradjit.dump(f, np.ones(3), stage="trace")
    opt = gradjit.dump(f, np.ones(3), stage="opt")
    assert "mul" in traced and "mul" not in opt
    with pytest.raises(ValueError, match="unknown stage"):
        gradjit.dump(f, np.ones(3), stage="nope")


def test_decorator_forms():
    @gradjit.grad
    def f(x):
        return x ** 3

    @gradjit.value_and_grad(argnums=1, has_aux=True)
    def g(x, y):
        return x * y, {"twice": 2 * y}

    @gradjit.jit(static_argnums=(1,))
    def h(x, k):
        return x * k

    assert f(2.0) == pytest.approx(12.0)
    (value, aux), dy = g(3.0, 4.0)
    assert (value, aux["twice"], dy) == (12.0, 8.0, 3.0)
    assert h(2.0, 3) == 6.0


def test_like_constructors_of_a_0d_tracer_are_traced_like_any_shape():
    # np.take dispatches on its first operand only, so a constant there could not take a traced
    # index; ones_like of a traced 0-d value must be traced as it is for every other shape
    f = gradjit.jit(lambda x, i: np.take(np.ones_like(x).reshape(1, -1), i) * x)
    assert f(2.0, np.array([0])) == pytest.approx([2.0])


def test_tracing_in_several_threads_at_once():
    # each thread has its own trace state: interleaved traces must not see each other's ops
    import threading

    errors = []

    def worker(k):
        for i in range(30):
            f = gradjit.grad(lambda x, i=i: np.sum(np.tanh(x * (k + 1)) ** 2 + x * i),
                             backend="interp")
            x = np.linspace(-1, 1, 5 + k)
            t = np.tanh(x * (k + 1))
            want = 2 * t * (1 - t * t) * (k + 1) + i
            try:
                if not np.allclose(f(x), want, rtol=1e-12):
                    errors.append((k, i))
            except Exception as e:  # noqa: BLE001  (any failure in a thread fails the test)
                errors.append((k, i, e))

    import sys

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, in the middle of traces
    try:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors
