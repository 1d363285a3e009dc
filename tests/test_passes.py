"""Passes as text in, text out: each rule fires where it is exact and nowhere else."""

import numpy as np
import pytest

from gradjit.ir import parse, verify
from gradjit.ir.interp import run
from gradjit.passes import cse, dce, optimize, simplify


def _body(fn) -> list[str]:
    return [line.strip() for line in str(fn).splitlines()[1:-1]]


def _check(pass_, before: str, after: list[str]):
    fn = verify(parse(before))
    out = verify(pass_(fn))
    assert _body(out) == after
    assert str(fn) == before.strip()  # passes never mutate their input
    return fn, out


HEAD = "func @f(%x: f64[3], %y: f64[3]) -> f64[3] {\n"


def test_simplify_identities():
    before = HEAD + """  %0 = const {value=1.0} : f64[]
  %1 = broadcast_to %0 {shape=(3,)} : f64[3]
  %2 = mul %x, %1 : f64[3]
  %3 = const {value=0.0} : f64[]
  %4 = broadcast_to %3 {shape=(3,)} : f64[3]
  %5 = add %4, %2 : f64[3]
  %6 = neg %5 : f64[3]
  %7 = neg %6 : f64[3]
  %8 = div %7, %1 : f64[3]
  return %8
}"""
    fn, out = _check(lambda f: dce(simplify(f)), before, ["return %x"])
    x = np.array([1.0, np.nan, -np.inf])
    np.testing.assert_array_equal(run(out, [x, x])[0], run(fn, [x, x])[0])


def test_times_zero_is_not_folded_because_of_nan_and_inf():
    before = HEAD + """  %0 = const {value=0.0} : f64[]
  %1 = broadcast_to %0 {shape=(3,)} : f64[3]
  %2 = mul %x, %1 : f64[3]
  return %2
}"""
    fn, out = _check(simplify, before, _body(parse(before)))
    x = np.array([np.inf, np.nan, 1.0])
    assert np.isnan(run(out, [x, x])[0][:2]).all()


def test_transpose_and_reshape_chains_compose():
    before = """func @f(%x: f64[2,3,4]) -> f64[24] {
  %0 = transpose %x {perm=(1, 2, 0)} : f64[3,4,2]
  %1 = transpose %0 {perm=(2, 0, 1)} : f64[2,3,4]
  %2 = reshape %1 {shape=(6, 4)} : f64[6,4]
  %3 = reshape %2 {shape=(24,)} : f64[24]
  return %3
}"""
    _check(lambda f: dce(simplify(f)), before, ["%0 = reshape %x {shape=(24,)} : f64[24]",
                                                "return %0"])


def test_constant_folding_small_only():
    before = """func @f(%x: f64[100]) -> f64[100] {
  %0 = const {value=[1.0, 2.0]} : f64[2]
  %1 = exp %0 : f64[2]
  %2 = reduce_sum %1 {axes=(0,)} : f64[]
  %3 = broadcast_to %2 {shape=(100,)} : f64[100]
  %4 = mul %x, %3 : f64[100]
  return %4
}"""
    fn, out = _check(lambda f: dce(simplify(f)), before, [
        f"%0 = const {{value={float(np.exp(1.0) + np.exp(2.0))!r}}} : f64[]",
        "%1 = broadcast_to %0 {shape=(100,)} : f64[100]",
        "%2 = mul %x, %1 : f64[100]",
        "return %2"])


def test_cse_merges_equal_instructions_and_constants():
    before = HEAD + """  %0 = sin %x : f64[3]
  %1 = sin %x : f64[3]
  %2 = const {value=[1.0, 2.0, 3.0]} : f64[3]
  %3 = const {value=[1.0, 2.0, 3.0]} : f64[3]
  %4 = mul %0, %2 : f64[3]
  %5 = mul %1, %3 : f64[3]
  %6 = add %4, %5 : f64[3]
  return %6
}"""
    _check(lambda f: dce(cse(f)), before, [
        "%0 = sin %x : f64[3]", "%1 = const {value=[1.0, 2.0, 3.0]} : f64[3]",
        "%2 = mul %0, %1 : f64[3]", "%3 = add %2, %2 : f64[3]", "return %3"])


def test_cse_keeps_different_params_apart():
    before = """func @f(%x: f64[2,3]) -> (f64[2], f64[3]) {
  %0 = reduce_sum %x {axes=(1,)} : f64[2]
  %1 = reduce_sum %x {axes=(0,)} : f64[3]
  return %0, %1
}"""
    _check(cse, before, _body(parse(before)))


def test_dce_removes_only_dead_code():
    before = HEAD + """  %0 = sin %x : f64[3]
  %1 = cos %y : f64[3]
  %2 = exp %1 : f64[3]
  return %0
}"""
    _check(dce, before, ["%0 = sin %x : f64[3]", "return %0"])


def test_stop_gradient_survives_optimization():
    before = HEAD + """  %0 = stop_gradient %x : f64[3]
  %1 = mul %0, %y : f64[3]
  return %1
}"""
    _check(optimize, before, _body(parse(before)))


@pytest.mark.parametrize("n", [0, 1])
def test_select_with_equal_branches(n):
    before = HEAD + """  %0 = gt %x, %y : bool[3]
  %1 = select %0, %y, %y : f64[3]
  return %1
}"""
    _check(lambda f: dce(simplify(f)), before, ["return %y"])


DOTS = "func @f(%a: f64[4,1], %b: f64[3,1], %c: f64[4,2], %d: f64[3,2], %e: f64[4,3]) " + \
    """-> f64[4,3] {
  %0 = dot_general %a, %b {contract=((1,), (1,)), batch=((), ())} : f64[4,3]
  %1 = dot_general %c, %d {contract=((1,), (1,)), batch=((), ())} : f64[4,3]
  %2 = add %0, %e : f64[4,3]
  %3 = add %2, %1 : f64[4,3]
  return %3
}"""


# DOTS' two dots as one; the contracted axis goes first, so the stacks are contiguous blocks
MERGED = ["%0 = transpose %a {perm=(1, 0)} : f64[1,4]",
          "%1 = transpose %c {perm=(1, 0)} : f64[2,4]",
          "%2 = concatenate %0, %1 {axis=0} : f64[3,4]",
          "%3 = transpose %b {perm=(1, 0)} : f64[1,3]",
          "%4 = transpose %d {perm=(1, 0)} : f64[2,3]",
          "%5 = concatenate %3, %4 {axis=0} : f64[3,3]",
          "%6 = dot_general %2, %5 {contract=((0,), (0,)), batch=((), ())} : f64[4,3]"]


def _dot_args(rng):
    return [rng.normal(size=s) for s in [(4, 1), (3, 1), (4, 2), (3, 2), (4, 3)]]


def test_a_sum_of_dots_is_one_dot_over_concatenated_operands():
    from gradjit.passes import merge_dot_sums

    fn, out = _check(lambda f: dce(merge_dot_sums(f)), DOTS,
                     MERGED + ["%7 = add %6, %e : f64[4,3]", "return %7"])
    args = _dot_args(np.random.default_rng(0))
    np.testing.assert_allclose(run(out, args)[0], run(fn, args)[0], rtol=1e-14)


def test_a_dot_used_elsewhere_or_alone_stays():
    from gradjit.passes import merge_dot_sums

    used = DOTS.replace("-> f64[4,3]", "-> (f64[4,3], f64[4,3])").replace(
        "return %3", "return %3, %0")
    _check(merge_dot_sums, used, _body(parse(used)))
    alone = DOTS.replace("%3 = add %2, %1", "%3 = add %2, %2")
    _check(merge_dot_sums, alone, _body(parse(alone)))


def test_a_sum_of_only_dots_becomes_the_dot():
    from gradjit.passes import merge_dot_sums

    text = DOTS.replace("  %2 = add %0, %e : f64[4,3]\n  %3 = add %2, %1", "  %2 = add %0, %1")\
        .replace("return %3", "return %2")
    fn, out = _check(lambda f: dce(merge_dot_sums(f)), text, MERGED + ["return %6"])
    args = _dot_args(np.random.default_rng(1))
    np.testing.assert_allclose(run(out, args)[0], run(fn, args)[0], rtol=1e-14)


def test_a_long_sum_of_outer_products_becomes_few_gemms(monkeypatch):
    """What reverse mode of an unrolled RNN makes: the pipeline merges 20 rank-1 updates into
    dots of at most MAX_MERGED terms each, and the result is still the sum. (Traced, this loop
    would be rerolled into a scan first: rerolling is off here, to see the pass.)"""
    import gradjit
    from gradjit.passes import reroll
    from gradjit.passes.dot_sums import MAX_MERGED

    monkeypatch.setattr(reroll, "ENABLED", False)

    def f(a, b):
        total = a[0][:, None] @ b[0][None, :]
        for i in range(1, 20):
            total = total + a[i][:, None] @ b[i][None, :]
        return total

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(20, 6)), rng.normal(size=(20, 5))
    fn = gradjit.jit(f).trace(a, b)
    dots = [i for i in fn.body if i.prim.name == "dot_general"]
    assert len(dots) == -(-20 // MAX_MERGED)
    np.testing.assert_allclose(run(fn, [a, b])[0], a.T @ b, rtol=1e-13)


# ---- sum_through_dots ---------------------------------------------------------------------
def _sum_dot_case(sum_axes, neg=False, extra_use=False):
    """a: f64[4,3,5] times b: f64[4,5,6] over their last/middle axes, batched over the first:
    f64[4,3,6]; then a sum over `sum_axes` (after a negation, if `neg`)."""
    reduced = ",".join(d for i, d in enumerate("436") if i not in sum_axes)
    chain = "  %1 = neg %0 : f64[4,3,6]\n" if neg else ""
    summed = "%1" if neg else "%0"
    results = ("%2, %0", f"f64[{reduced}], f64[4,3,6]") if extra_use else ("%2", f"f64[{reduced}]")
    return (f"func @f(%a: f64[4,3,5], %b: f64[4,5,6]) -> ({results[1]}) {{\n"
            "  %0 = dot_general %a, %b {contract=((2,), (1,)), batch=((0,), (0,))} : "
            "f64[4,3,6]\n"
            f"{chain}  %2 = reduce_sum {summed} {{axes={tuple(sum_axes)}}} : f64[{reduced}]\n"
            f"  return {results[0]}\n}}\n")


@pytest.mark.parametrize("sum_axes, neg, rewritten", [
    ((1,), False, True),  # the lhs' free axis: summed before the product
    ((1,), True, True),  # through a negation
    ((2,), False, True),  # the rhs' free axis
    ((1, 2), False, False),  # both sides' axes: left alone
    ((0,), False, False),  # the batch axis: left alone
])
def test_sum_through_dots_is_exact_where_it_fires(sum_axes, neg, rewritten):
    from gradjit.passes import dce, sum_through_dots

    fn = verify(parse(_sum_dot_case(list(sum_axes), neg)))
    out = verify(dce(sum_through_dots(fn)))
    dots = [i for i in out.body if i.prim.name == "dot_general"]
    assert len(dots) == 1
    assert (dots[0].out.type.size < 4 * 3 * 6) == rewritten  # the product got smaller
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(4, 3, 5)), rng.normal(size=(4, 5, 6))]
    np.testing.assert_allclose(run(out, args)[0], run(fn, args)[0], rtol=1e-13)


def test_sum_through_dots_leaves_a_product_that_is_used_elsewhere():
    from gradjit.passes import sum_through_dots

    fn = verify(parse(_sum_dot_case([1], extra_use=True)))
    assert str(sum_through_dots(fn)) == str(fn)


def test_gmm_means_gradient_needs_no_per_point_product():
    """W7: the cotangent of `means` in (x - means) @ Q.T was a 25x1000x10 batched product
    summed over the points; now the points are summed first."""
    import sys
    from pathlib import Path

    import gradjit

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import workloads_gmm as G

    args = G.gmm_data()
    fn = gradjit.grad(G.gmm_objective, argnums=(0, 1, 2)).trace(*args)
    sizes = sorted(i.out.type.size for i in fn.body if i.prim.name == "dot_general")
    assert sizes == [250, 2500, 250000]  # the forward's Y, dQ, and dmeans' small product
    got = gradjit.grad(G.gmm_objective, argnums=(0, 1, 2))(*args)
    for g, w in zip(got, G.gmm_grad_by_hand(*args)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
