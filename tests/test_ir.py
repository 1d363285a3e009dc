"""The text form round-trips; the verifier accepts what the tracer makes; constants survive."""

import numpy as np

import gradjit
from gradjit.ir import parse, verify
from gradjit.ir.interp import run


def _roundtrip(fn):
    text = str(fn)
    again = parse(text)
    assert str(again) == text
    verify(again)
    return again


def test_roundtrip_with_params_names_and_locations():
    def f(x, y):
        return np.sum(np.transpose(x) @ y, axis=1, keepdims=True) * 2.0

    fn = gradjit.trace(f, np.ones((3, 2)), np.ones((3, 4)))
    text = str(fn)
    assert text.startswith("func @f(%x: f64[3,2], %y: f64[3,4]) -> f64[2,1] {")
    assert "# test_ir.py:" in text
    again = _roundtrip(fn)
    args = [np.arange(6.0).reshape(3, 2), np.arange(12.0).reshape(3, 4)]
    np.testing.assert_array_equal(run(again, args)[0], run(fn, args)[0])


def test_constants_small_large_and_special_values_roundtrip():
    big = np.linspace(-1, 1, 200).reshape(10, 20)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-310, 1.0 / 3.0])

    def f(x):
        return np.sum(x * big) + np.sum(special * x[0, :6])

    fn = gradjit.trace(f, np.ones((10, 20)))
    text = str(fn)
    assert "b64:" in text and "nan" in text and "-inf" in text
    again = _roundtrip(fn)
    consts = [i.params["value"] for i in again.body if i.prim.name == "const"]
    assert any(c.shape == big.shape and np.array_equal(c, big) for c in consts)
    assert any(np.array_equal(c, special, equal_nan=True) for c in consts)


def test_gradient_functions_roundtrip_at_every_order():
    f = lambda x: np.sum(np.sin(x) ** 3 * np.exp(-x))  # noqa: E731
    x = np.linspace(0.1, 1, 4)
    for g in (gradjit.grad(f), gradjit.hessian(f)):
        for stage in ("trace", "opt"):
            _roundtrip(parse(g.dump(x, stage=stage)))


def test_multi_result_and_integer_params_roundtrip():
    def f(x, idx):
        return x[idx] * 2.0, np.argmax(x), x > 0

    fn = gradjit.trace(f, np.ones(5, np.float32), np.array([0, 3, 3]))
    again = _roundtrip(fn)
    assert [str(t) for t in again.out_types] == ["f32[3]", "i64[]", "bool[5]"]


def test_parsed_function_is_executable_and_differentiable_again():
    text = """func @g(%x: f64[3]) -> f64[] {
  %0 = sin %x : f64[3]
  %1 = mul %0, %x : f64[3]
  %2 = reduce_sum %1 {axes=(0,)} : f64[]
  return %2
}"""
    fn = verify(parse(text))
    x = np.array([0.1, 0.2, 0.3])
    assert np.isclose(run(fn, [x])[0], np.sum(np.sin(x) * x), rtol=1e-14)
    from gradjit.tracer.core import inline

    g = gradjit.grad(lambda v: inline(fn, [v])[0])(x)
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-13)
