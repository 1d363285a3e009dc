"""Bad input gets a gradjit error naming the op, the types and the user's line, with a hint.

The catalogue of bad *inputs* (control flow and recursion on traced values, grad of non-float
inputs or outputs, leaked tracers, unsupported numpy functions, out-of-range indices, malformed
IR text, layouts, dtypes, NaN/inf, empty and huge arrays) is tests/test_bad_inputs.py; this file
keeps the shape, rule and verifier errors.
"""

import numpy as np
import pytest

import gradjit
import gradjit.numpy as gnp
from gradjit.errors import IndexingError, MissingRule, ShapeError, TraceError
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


def test_argnums_out_of_range():
    msg = _raises(TraceError, gradjit.grad(lambda x: x, argnums=2), 1.0)
    assert "argnums=2" in msg


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


def test_traced_boolean_mask():
    msg = _raises(IndexingError, gradjit.jit(lambda x: x[x > 0]), np.ones(3))
    assert "where" in msg


def test_eager_shape_error_outside_a_trace():
    with pytest.raises(ShapeError, match="add: shapes"):
        gnp.add(np.ones(2), np.ones(3))


def test_verifier_reports_type_errors_with_context():
    fn = gradjit.trace(lambda x: np.sin(x) * 2.0, np.ones(3))
    fn.body[0].outs[0].type = TensorType("f64", (4,))
    with pytest.raises(gradjit.CompilerBug, match=r"declares f64\[4\].*\n.*sin"):
        gradjit.ir.verify(fn)
