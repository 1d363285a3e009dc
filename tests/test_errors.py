"""Bad input gets a gradjit error naming the op, the types and the user's line, with a hint."""

import numpy as np
import pytest

import gradjit
import gradjit.numpy as gnp
from gradjit.errors import (ConcretizationError, IndexingError, IRParseError, MissingRule,
                            ShapeError, TraceError, UnexpectedTracerError)
from gradjit.ir.types import TensorType
from gradjit.ops import REGISTRY, Primitive


def _line_of(marker: str) -> int:
    with open(__file__) as f:
        return next(i for i, line in enumerate(f, 1) if marker in line and "_line_of" not in line)


def _raises(exc, fn, *args):
    with pytest.raises(exc) as info:
        fn(*args)
    return str(info.value)


def test_shape_mismatch_names_op_types_and_line():
    def f(x):
        return np.sum(x + np.ones(4))  # MARK-broadcast

    msg = _raises(ShapeError, gradjit.grad(f), np.ones(3))
    assert msg.startswith("add: shapes [3] and [4] do not broadcast")
    assert "f64[3], f64[4]" in msg
    assert f"test_errors.py:{_line_of('MARK-broadcast')}" in msg
    assert "x + np.ones(4)" in msg


def test_matmul_mismatch():
    msg = _raises(ShapeError, gradjit.jit(lambda a: a @ np.ones((4, 2))), np.ones((2, 3)))
    assert msg.startswith("matmul:") and "f64[2,3], f64[4,2]" in msg


def test_primitive_shape_rule_error_is_located():
    msg = _raises(ShapeError, gradjit.jit(lambda x: x.reshape(5)), np.ones(4))  # MARK-reshape
    assert "reshape: cannot reshape 4 elements into shape [5]" in msg
    assert f":{_line_of('MARK-reshape')}" in msg


@pytest.mark.parametrize("body, what", [
    (lambda x: x if x > 0 else -x, "bool()"),
    (lambda x: float(x) * 2, "float()"),
    (lambda x: int(x) * 2.0, "int()"),
    (lambda x: np.ones(3)[x], "np.asarray()"),
])
def test_python_control_flow_on_traced_values(body, what):
    msg = _raises(ConcretizationError, gradjit.grad(body), 1.5)
    assert msg.startswith(f"{what}: needs a concrete value, but got a traced")
    assert "hint:" in msg and "static_argnums" in msg and "where" in msg
    assert "test_errors.py" in msg


def test_while_on_traced_value():
    def f(x):
        while x < 10:  # MARK-while
            x = x * 2
        return x

    msg = _raises(ConcretizationError, gradjit.grad(f), 1.0)
    assert f":{_line_of('MARK-while')}" in msg and "fori_loop" in msg


def test_grad_of_non_scalar_output():
    msg = _raises(TraceError, gradjit.grad(lambda x: x * 2), np.ones(3))
    assert "grad: the output must be a float scalar, got f64[3]" in msg
    assert "jacobian" in msg and "vjp" in msg


def test_grad_of_tuple_output_without_has_aux():
    msg = _raises(TraceError, gradjit.grad(lambda x: (x, x)), 1.0)
    assert "has_aux" in msg


def test_grad_wrt_integer_input():
    msg = _raises(TraceError, gradjit.grad(lambda x: x * 2.0), 3)
    assert "argument 0 has type i64[]" in msg and "only float" in msg and "hint:" in msg
    msg = _raises(TraceError, gradjit.grad(lambda x: np.sum(x * 1.0)), np.arange(3))
    assert "i64[3]" in msg


def test_argnums_out_of_range():
    msg = _raises(TraceError, gradjit.grad(lambda x: x, argnums=2), 1.0)
    assert "argnums=2" in msg


@pytest.mark.parametrize("fn, name", [
    (lambda x: np.linalg.inv(x).sum(), "np.linalg.inv"),
    (lambda x: np.sort(x).sum(), "np.sort"),
    (lambda x: np.cumsum(x).sum(), "np.cumsum"),
    (lambda x: np.floor(x).sum(), "np.floor"),
])
def test_unsupported_numpy_function_is_named(fn, name):
    msg = _raises(TraceError, gradjit.grad(fn), np.eye(2))
    assert msg.startswith(f"{name}: is not supported on traced values")
    assert "gradjit.numpy" in msg


def test_missing_rule_names_primitive_and_reason():
    prim = Primitive("test_nondiff_floor", 1, lambda x: x, np.floor, nondiff="piecewise constant "
                     "by declaration (a test primitive)")
    try:
        msg = _raises(MissingRule, gradjit.grad(lambda x: np.sum(prim(x) * x)),  # MARK-missing
                      np.ones(3))
    finally:
        del REGISTRY[prim.name]
    assert msg.startswith("test_nondiff_floor: has no derivative: it is piecewise constant")
    assert f":{_line_of('MARK-missing')}" in msg and "stop_gradient" in msg


def test_leaked_tracer():
    leaked = []

    def keep(x):
        leaked.append(x)
        return x * 2

    gradjit.jit(keep)(1.0)
    msg = _raises(UnexpectedTracerError, gradjit.jit(lambda y: y + leaked[0]), 2.0)
    assert "used outside the trace that made it" in msg and "hint:" in msg


def test_bad_argument_types():
    assert "str is not an array" in _raises(TraceError, gradjit.jit(lambda x: x), "hello")
    msg = _raises(TraceError, gradjit.jit(lambda x: x), np.ones(2, dtype=complex))
    assert "complex128" in msg


def test_out_of_range_constant_index():
    msg = _raises(IndexingError, gradjit.jit(lambda x: x[np.array([0, 5])]), np.ones(3))
    assert "index 5 is out of bounds for an axis of size 3" in msg
    assert _raises(IndexingError, gradjit.jit(lambda x: x[3]), np.ones(3))


def test_out_of_range_traced_index_is_refused_at_run_time():
    f = gradjit.jit(lambda x, i: gnp.take(x, i))
    with pytest.raises(TraceError, match="out of bounds"):
        f(np.ones(3), np.array([1, 7]))
    np.testing.assert_array_equal(f(np.arange(3.0), np.array([2, -1])), [2.0, 2.0])


def test_traced_boolean_mask():
    msg = _raises(IndexingError, gradjit.jit(lambda x: x[x > 0]), np.ones(3))
    assert "where" in msg


def test_eager_shape_error_outside_a_trace():
    with pytest.raises(ShapeError, match="add: shapes"):
        gnp.add(np.ones(2), np.ones(3))


@pytest.mark.parametrize("text, where", [
    ("", "line 1"),
    ("func f(x) {\n}", "line 1, column 1: expected 'func @name"),
    ("func @f(%x: f64[3]) -> f64[3] {\n  %0 = sinn %x : f64[3]\n  return %0\n}",
     "line 2, column 8: unknown op 'sinn'"),
    ("func @f(%x: f64[3]) -> f64[3] {\n  %0 = sin %y : f64[3]\n  return %0\n}",
     "line 2, column 12: undefined value %y"),
    ("func @f(%x: f64[3]) -> f64[3] {\n  %0 = sin %x : q64[3]\n  return %0\n}", "line 2"),
    ("func @f(%x: f64[3]) -> f64[3] {\n  %0 = sin %x : f64[3]\n", "missing"),
    ("func @f(%x: f64[3]) -> f64[] {\n  %0 = reduce_sum %x {axes=(0,} : f64[]\n  return %0\n}",
     "line 2"),
])
def test_malformed_ir_text(text, where):
    msg = _raises(IRParseError, gradjit.ir.parse, text)
    assert msg.startswith("parse: ") and where in msg


def test_verifier_reports_type_errors_with_context():
    fn = gradjit.trace(lambda x: np.sin(x) * 2.0, np.ones(3))
    fn.body[0].outs[0].type = TensorType("f64", (4,))
    with pytest.raises(gradjit.CompilerBug, match=r"declares f64\[4\].*\n.*sin"):
        gradjit.ir.verify(fn)
