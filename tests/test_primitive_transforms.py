"""Every primitive's forward-mode (JVP) and batching rules, from the same specs as
tests/test_primitives.py: JVP against central differences, JVP against the VJP by the
transposition identity <J v, u> == <v, J^T u>, and the batched primitive against a loop."""

from __future__ import annotations

import numpy as np
import pytest
from fd import directional, vdot
from hypothesis import given
from hypothesis import strategies as st
from op_specs import SPECS
from test_primitives import DIFF_NAMES, EXAMPLES, NAMES, Case, _as_arrays

import gradjit
from gradjit.ir.types import TensorType, is_float
from gradjit.ops import REGISTRY
from gradjit.ops.rules import batch_rule, jvp_rule

SMOOTH = [n for n in DIFF_NAMES if not SPECS[n].zero_grad]
BATCHED = [n for n in NAMES if REGISTRY[n].arity != 0]

pytestmark = pytest.mark.usefixtures("interp_backend")


def _jvp(case: Case, tangents: dict[int, np.ndarray]):
    """f(args) and its tangent for the given per-operand tangents (others held fixed)."""
    idx = sorted(tangents)

    def f(*moving):
        args = list(case.args)
        for i, m in zip(idx, moving):
            args[i] = m
        return case.f(*args)

    return gradjit.jvp(f, [case.args[i] for i in idx], [tangents[i] for i in idx])


@pytest.mark.parametrize("name", SMOOTH)
@EXAMPLES
@given(data=st.data())
def test_jvp_matches_finite_differences(name, data):
    case = Case(name, data)
    for i in case.diff():
        v = case.like(case.args[i])
        out, t = _jvp(case, {i: v})
        np.testing.assert_allclose(out, case.f(*case.args), rtol=1e-14, atol=1e-14)
        fd = directional(case.f, case.args, i, np.asarray(v, np.float64), case.spec.step1)
        fd2 = directional(case.f, case.args, i, np.asarray(v, np.float64), 2 * case.spec.step1)
        scale = np.abs(fd) + np.abs(np.asarray(t, np.float64)) + 1.0
        # tolerance: the spec's order-1 tolerance plus the Richardson estimate of truncation
        bound = case.spec.rtol1 * scale + 2 * np.abs(fd2 - fd) + 1e-7
        assert np.all(np.abs(np.asarray(t, np.float64) - fd) <= bound), (name, i)


@pytest.mark.parametrize("name", SMOOTH)
@EXAMPLES
@given(data=st.data())
def test_jvp_is_the_transpose_of_the_vjp(name, data):
    case = Case(name, data)
    diff = case.diff()
    if not diff:
        return
    tangents = {i: case.like(case.args[i]) for i in diff}
    _, t = _jvp(case, tangents)
    u = case.like(t)
    _, vjp_fn = gradjit.vjp(case.f, *case.args)
    cts = _as_arrays(vjp_fn(u))
    lhs = vdot(t, u)
    rhs = sum(vdot(tangents[i], cts[i]) for i in diff)
    size = sum(vdot(np.abs(tangents[i]), np.abs(cts[i])) for i in diff) + abs(lhs)
    wide = case.out_type().dtype == "f64" and all(
        TensorType.of(case.args[i]).dtype == "f64" for i in diff)
    tol = 1e-11 if wide else 1e-5
    assert abs(lhs - rhs) <= tol * (size + 1.0), (name, lhs, rhs)


@pytest.mark.parametrize("name", BATCHED)
@EXAMPLES
@given(data=st.data())
def test_batching_rule_matches_a_loop(name, data):
    # a batch of 3: each operand batched (along a drawn axis) or shared, at least one batched;
    # batched copies differ from each other where that stays in the op's domain
    case = Case(name, data)
    n = len(case.args)
    batched = data.draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(any), "batched")
    axes, stacks = [], []
    for a, b in zip(case.args, batched):
        a = np.asarray(a)
        if not b:
            axes.append(None)
            stacks.append(a)
            continue
        copies = [a, _nudged(a, 1), _nudged(a, 2)]
        axis = data.draw(st.integers(0, a.ndim), "axis")
        axes.append(axis)
        stacks.append(np.stack(copies, axis=axis))
    got = gradjit.vmap(case.f, in_axes=tuple(axes))(*stacks)
    for k in range(3):
        args = [np.take(s, k, axis=ax) if ax is not None else s for s, ax in zip(stacks, axes)]
        want = np.asarray(case.f(*args))
        np.testing.assert_allclose(np.asarray(got)[k], want, rtol=1e-13, atol=1e-13)


def _nudged(a: np.ndarray, k: int) -> np.ndarray:
    """A copy that differs slightly but keeps its domain (sign, integrality, order)."""
    if is_float(TensorType.of(a).dtype):
        return (a * (1 + 0.01 * k)).astype(a.dtype)
    return a.copy()


def test_every_record_has_forward_and_batching_rules():
    for name, prim in REGISTRY.items():
        if prim.vjp is not None:
            assert jvp_rule(prim) is not None, f"{name} has a VJP but no JVP rule"
        if prim.arity != 0:
            assert batch_rule(prim) is not None, f"{name} has no batching rule"
