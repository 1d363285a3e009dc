"""Every primitive record, checked against numpy and finite differences.

For each record in `gradjit.ops.REGISTRY` (with its spec in tests/op_specs.py): the shape rule
and the record's numpy implementation against an independent numpy reference; the interpreter
running a one-instruction Function against that reference (f64, then f32 and integer dtypes);
the VJP against central finite differences in random directions at orders 1 and 2; and the
text form of the traced Function and its gradients round-tripping through the parser and the
verifier.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from fd import assert_adjoint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from op_draw import Draw
from op_specs import SPECS

import gradjit
from gradjit.ir import interp, parse, verify
from gradjit.ir.types import TensorType, is_float
from gradjit.ops import REGISTRY, bind
from gradjit.ops import api as A

NAMES = sorted(REGISTRY)
DIFF_NAMES = [n for n in NAMES if n in SPECS and (SPECS[n].diff or SPECS[n].zero_grad)]
OTHER_DTYPES = [(n, t) for n in NAMES if n in SPECS for t in SPECS[n].dtypes]
# a deeper run: GRADJIT_PRIMITIVE_EXAMPLES=200 pytest tests/test_primitives.py
EXAMPLES = settings(max_examples=int(os.environ.get("GRADJIT_PRIMITIVE_EXAMPLES", "20")),
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

pytestmark = pytest.mark.usefixtures("interp_backend")


class Case:
    """One drawn application of a primitive: its operands, params and a value generator."""

    def __init__(self, name: str, data, dtype: str = "f64"):
        self.prim, self.spec = REGISTRY[name], SPECS[name]
        draw = Draw(data, dtype)
        self.args, self.params = self.spec.draw(draw)
        self.rng = draw.rng

    def f(self, *xs):
        out = bind(self.prim, *xs, **self.params)
        return pack(out) if self.prim.multiple_results else out

    def ref(self):
        """The spec's reference result (packed like `f` for multiple-result records)."""
        out = self.spec.ref(*self.args, **self.params)
        return pack(out) if self.prim.multiple_results else out

    def out_type(self) -> TensorType:
        out = self.prim.out_type([TensorType.of(a) for a in self.args], self.params)
        return TensorType.of(self.ref()) if self.prim.multiple_results else out

    def diff(self) -> list[int]:
        """The operands whose derivatives are checked: float ones, when the output is float."""
        if not is_float(self.out_type().dtype):
            return []
        return [i for i in self.spec.diff if i < len(self.args) and is_float(
            TensorType.of(self.args[i]).dtype)]

    def like(self, x) -> np.ndarray:
        """A random array shaped and typed like x (a cotangent or a direction)."""
        return np.asarray(self.rng.uniform(-1, 1, np.shape(x)), np.asarray(x).dtype)

    def loss(self, u, square=False):
        """x -> sum(u * f(x)) (or sum(u * f(x)^2) / 2: a cotangent that depends on x)."""
        def loss(*xs):
            y = self.f(*xs)
            return A.sum(A.multiply(u, A.multiply(y, y) * 0.5 if square else y))

        return loss


def pack(outs):
    """A multiple-result record's float results as one flat array (so every check applies)."""
    floats = [o for o in outs if is_float(A.dtype_of(o))]
    return A.concatenate([A.reshape(o, (-1,)) for o in floats])


def _assert_matches(got, expected, rtol=1e-12):
    """got has exactly expected's type and equals it (to rtol for floats)."""
    assert TensorType.of(got) == TensorType.of(expected)
    if is_float(TensorType.of(expected).dtype):
        scale = float(np.max(np.abs(expected[np.isfinite(expected)]), initial=1.0))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)
    else:
        np.testing.assert_array_equal(got, expected)


def _as_arrays(xs) -> list[np.ndarray]:
    return [np.asarray(x) for x in (xs if isinstance(xs, (tuple, list)) else (xs,))]


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_shape_rule_matches_numpy(name, data):
    case = Case(name, data)
    expected = case.spec.ref(*case.args, **case.params)
    got = case.prim.numpy(*case.args, **case.params)
    rule = case.prim.out_type([TensorType.of(a) for a in case.args], case.params)
    if case.prim.multiple_results:
        assert rule == [TensorType.of(e) for e in expected] == [TensorType.of(g) for g in got]
    else:
        assert rule == TensorType.of(expected) == TensorType.of(got)


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_interpreter_matches_numpy(name, data):
    case = Case(name, data)
    fn = gradjit.trace(case.f, *case.args)
    assert fn.body[0].prim is case.prim and (case.prim.multiple_results or len(fn.body) == 1)
    _assert_matches(interp.run(fn, case.args)[0], np.asarray(case.ref()))


@pytest.mark.parametrize(("name", "dtype"), OTHER_DTYPES)
@EXAMPLES
@given(data=st.data())
def test_interpreter_matches_numpy_in_other_dtypes(name, dtype, data):
    # f32 against the reference evaluated in f64 (so f32 accuracy is checked, not just
    # agreement with numpy's f32), integers and bools exactly
    case = Case(name, data, dtype)
    fn = gradjit.trace(case.f, *case.args)
    got = interp.run(fn, case.args)[0]
    assert TensorType.of(got) == case.out_type()
    wide = [a.astype(np.float64) if a.dtype == np.float32 else a for a in case.args]
    expected = np.asarray(case.spec.ref(*wide, **case.params))
    if got.dtype == np.float32:
        np.testing.assert_allclose(got, expected.astype(np.float32), rtol=2e-6, atol=1e-6)
    else:
        _assert_matches(got, expected)


@pytest.mark.parametrize("name", DIFF_NAMES)
@EXAMPLES
@given(data=st.data())
def test_vjp_matches_finite_differences(name, data):
    case = Case(name, data)
    u = case.like(case.f(*case.args))
    _, vjp_fn = gradjit.vjp(case.f, *case.args)
    cts = _as_arrays(vjp_fn(u))
    if case.spec.zero_grad:  # the derivative is declared zero, whatever the math says
        assert all(not np.any(c) for c in cts if c is not None)
        return
    diff = case.diff()
    grads = _as_arrays(gradjit.grad(case.loss(u), argnums=tuple(diff))(*case.args)) if diff \
        else []
    for i, g in zip(diff, grads):
        v = case.like(case.args[i])
        assert_adjoint(case.f, case.args, i, v, u, cts[i], case.spec.step1, case.spec.rtol1,
                       f"{name} order 1")
        _assert_matches(g, cts[i])  # grad of <u, f> and vjp apply the same rules


def _second_order(case: Case, u, w):
    """(x -> order-1 gradient flattened, x -> <w, order-1 gradient>) for the checked operands."""
    diff = tuple(case.diff())
    g1 = gradjit.grad(case.loss(u, square=True), argnums=diff)

    def flat_g1(*xs):
        return np.concatenate([np.ravel(g) for g in _as_arrays(g1(*xs))]).astype(np.float64)

    def h(*xs):
        return sum(A.sum(A.multiply(wk, gk)) for wk, gk in zip(w, g1(*xs)))

    return flat_g1, h


@pytest.mark.parametrize("name", [n for n in DIFF_NAMES if not SPECS[n].zero_grad])
@EXAMPLES
@given(data=st.data())
def test_second_order_vjp_matches_finite_differences(name, data):
    # differentiate <w, grad(sum(u f^2) / 2)> again, against differences of the exact gradient
    case = Case(name, data)
    diff = case.diff()
    if not diff:
        return
    u = case.like(case.f(*case.args))
    w = [case.like(case.args[i]) for i in diff]
    flat_g1, h = _second_order(case, u, w)
    hess_w = _as_arrays(gradjit.grad(h, argnums=tuple(diff))(*case.args))
    w_flat = np.concatenate([np.ravel(x) for x in w]).astype(np.float64)
    for i, hw in zip(diff, hess_w):
        assert_adjoint(flat_g1, case.args, i, case.like(case.args[i]), w_flat, hw,
                       case.spec.step2, case.spec.rtol2, f"{name} order 2")


def _assert_round_trips(fn, args):
    verify(fn)
    text = str(fn)
    back = parse(text)
    assert str(back) == text
    verify(back)
    for got, expected in zip(interp.run(back, args), interp.run(fn, args)):
        # a parsed constant is C-ordered where the original may be a transposed view, which can
        # change BLAS's summation order: equal to rounding, not bit for bit
        _assert_matches(got, expected)


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_text_round_trip_and_verifier(name, data):
    case = Case(name, data)
    _assert_round_trips(gradjit.trace(case.f, *case.args), case.args)
    diff = case.diff()
    if not diff or case.spec.zero_grad:
        return
    u = case.like(case.f(*case.args))
    order1 = gradjit.value_and_grad(case.loss(u, square=True), argnums=tuple(diff))
    _assert_round_trips(parse(order1.dump(*case.args, stage="trace")), case.args)
    _assert_round_trips(order1.trace(*case.args), case.args)
    _, h = _second_order(case, u, [case.like(case.args[i]) for i in diff])
    _assert_round_trips(gradjit.value_and_grad(h, argnums=tuple(diff)).trace(*case.args),
                        case.args)


@pytest.mark.parametrize("name", [n for n in NAMES if REGISTRY[n].linear])
@EXAMPLES
@given(data=st.data())
def test_linear_flag_is_true(name, data):
    # a record marked linear satisfies f(x + 2 y) = f(x) + 2 f(y) in its float operands (forward
    # mode applies such records to tangents); f32 only to rounding
    case = Case(name, data)
    floats = [i for i, a in enumerate(case.args) if is_float(TensorType.of(a).dtype)]
    if not floats or not is_float(case.out_type().dtype):
        return
    ys = [case.like(a) if i in floats else a for i, a in enumerate(case.args)]
    mixed = [a + 2 * y if i in floats else a for i, (a, y) in enumerate(zip(case.args, ys))]
    expected = case.f(*case.args) + 2 * case.f(*ys)
    rtol = 1e-12 if case.out_type().dtype == "f64" and all(
        TensorType.of(case.args[i]).dtype == "f64" for i in floats) else 1e-5
    np.testing.assert_allclose(case.f(*mixed), expected, rtol=rtol, atol=rtol)


def test_every_record_is_complete_and_has_a_spec():
    assert sorted(SPECS) == NAMES, (
        f"primitives without a spec in tests/op_specs.py: {sorted(set(NAMES) - set(SPECS))}; "
        f"specs without a primitive: {sorted(set(SPECS) - set(NAMES))}")
    for name, prim in REGISTRY.items():
        assert (prim.vjp is None) != (prim.nondiff is None), f"{name}: vjp xor nondiff reason"
        assert prim.nondiff is None or prim.nondiff.strip(), name
        assert prim.lower is not None, f"{name}: no lower descriptor"
        if prim.vjp is not None:
            assert prim.torch_name, f"{name}: differentiable but no torch_name"
            assert SPECS[name].diff or SPECS[name].zero_grad, f"{name}: derivative unchecked"
        else:
            assert not SPECS[name].diff, f"{name}: spec checks a derivative the record lacks"


@pytest.mark.parametrize(("name", "params", "expected"), [
    ("maximum", {}, ([0.5, 1.0, 0.5, 0.0], [0.5, 0.0, 0.5, 1.0])),
    ("minimum", {}, ([0.5, 0.0, 0.5, 1.0], [0.5, 1.0, 0.5, 0.0])),
    ("reduce_max", {"axes": (0,)}, ([0.0, 0.5, 0.5, 0.0],)),
    ("reduce_min", {"axes": (0,)}, ([0.5, 0.0, 0.0, 0.5],)),
])
def test_ties_share_the_cotangent_equally(name, params, expected):
    # a tie is a kink that finite differences cannot judge; the records document the subgradient
    # JAX and PyTorch use: the cotangent is shared equally among the tied operands
    x, y = np.array([1.0, 3.0, 3.0, 1.0]), np.array([1.0, 0.0, 3.0, 5.0])
    args = [x, y][: REGISTRY[name].arity]
    out, vjp_fn = gradjit.vjp(lambda *xs: bind(REGISTRY[name], *xs, **params), *args)
    cts = vjp_fn(np.ones_like(out))
    for got, want in zip(_as_arrays(cts), expected):
        np.testing.assert_array_equal(got, want)
