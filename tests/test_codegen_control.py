"""Structured control flow compiled to LLVM loops and branches (codegen/control.py), checked
against the numpy interpreter: scan (consts, several and integer carries, reverse, lengths 0
and 1), fori_loop, while_loop (including zero trips), cond/switch (including out-of-range
indices), nested regions, and the gradient, second gradient, jvp and vmap of each, whose rules
build new regions (saving/vjp/jvp/batched bodies, counting and recomputing while loops).

Every program runs through `jit(f, backend="llvm")` and `jit(f, backend="interp")` on the same
optimized Function; the primitive-level cases also compare `compile_function` with `interp.run`
and with plain numpy loops. Values agree to rounding (rtol 1e-12).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradjit
from gradjit import lax
from gradjit.codegen import lower
from gradjit.ir import interp
from gradjit.ir.core import Function, Instr, Value
from gradjit.ir.types import TensorType
from gradjit.ops import api as A
from gradjit.ops.control import cond_p, scan_p, trace_region, while_p
from gradjit.runtime import compile_function
from gradjit.tracer import pytree

RTOL = 1e-12
rng = np.random.default_rng(0)
W = rng.normal(size=(3, 3)) * 0.5
XS = rng.normal(size=(5, 3))
V = rng.normal(size=(5, 3))


def assert_same(got, want, rtol=RTOL):
    got, want = pytree.flatten(got)[0], pytree.flatten(want)[0]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * max(1.0, np.max(np.abs(w),
                                                                              initial=0)))


def compiled_equals_interp(f, *args, rtol=RTOL):
    """jit(f) on LLVM == jit(f) on the interpreter; returns the compiled result."""
    got = gradjit.jit(f, backend="llvm")(*args)
    assert_same(got, gradjit.jit(f, backend="interp")(*args), rtol)
    return got


def transforms(loss, x, v):
    """The gradient, a second gradient (Hessian-vector product by reverse over reverse), the
    jvp and the vmap'd gradient of a scalar loss, as one program each."""
    return {
        "grad": lambda x: gradjit.grad(loss)(x),
        "grad2": lambda x: gradjit.grad(lambda y: np.sum(gradjit.grad(loss)(y) * v))(x),
        "jvp": lambda x: gradjit.jvp(loss, (x,), (v,)),
        "vmap": lambda x: gradjit.vmap(gradjit.grad(loss))(np.stack([x, x * 0.5, -x])),
    }


# ---- scan ---------------------------------------------------------------------------------


def scan_program(reverse):
    def f(xs):
        def step(carry, x):
            h, s, n = carry
            h = np.tanh(W @ h + x)  # W is a captured const
            s = s + np.sum(h * x)
            return (h, s, n + 1), (h, s * 2.0, n)

        init = (np.full(3, 0.1), 0.0, np.int64(0))
        return lax.scan(step, init, xs, reverse=reverse)
    return f


def scan_numpy(xs, reverse):
    h, s, n = np.full(3, 0.1), 0.0, 0
    ys = [None] * len(xs)
    for i in (range(len(xs) - 1, -1, -1) if reverse else range(len(xs))):
        h = np.tanh(W @ h + xs[i])
        s = s + np.sum(h * xs[i])
        ys[i] = (h, s * 2.0, n)
        n += 1
    stack = lambda k, shape, dt: np.array([y[k] for y in ys], dt).reshape((len(xs),) + shape)
    return (h, s, n), (stack(0, (3,), float), stack(1, (), float), stack(2, (), np.int64))


def scan_loss(reverse):
    def loss(xs):
        (h, s, n), (hs, ss, ns) = scan_program(reverse)(xs)
        return np.sum(h) + s + np.sum(hs ** 2) + np.sum(ss * ns)
    return loss


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("length", [0, 1, 2, 5])
def test_scan_values(length, reverse):
    xs = XS[:length]
    got = compiled_equals_interp(scan_program(reverse), xs)
    assert_same(got, scan_numpy(xs, reverse))


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("length", [0, 1])
def test_scan_gradient_of_short_scans(length, reverse):
    compiled_equals_interp(gradjit.grad(scan_loss(reverse)), XS[:length])


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", ["grad", "grad2", "jvp", "vmap"])
def test_scan_transforms(kind, reverse):
    compiled_equals_interp(transforms(scan_loss(reverse), XS, V)[kind], XS)


def test_scan_primitive_with_bool_and_int_stacks_and_no_xs():
    """A hand-built scan: carries of three dtypes, a bool stacked output, no scanned inputs."""
    f64, i64, b = (TensorType(d, ()) for d in ("f64", "i64", "bool"))
    body = trace_region(lambda a, x, n: [x * a + 1.0, n + 2, A.greater(x, 3.0), x],
                        [f64, f64, i64], "body")
    for length in (0, 1, 4):
        params = [Value(f64), Value(f64), Value(i64)]
        outs = [Value(t) for t in scan_p.out_type([p.type for p in params], dict(
            body=body, num_consts=1, num_carry=2, length=length, reverse=False))]
        instr = Instr(scan_p, params, dict(body=body, num_consts=1, num_carry=2, length=length,
                                           reverse=False), outs)
        fn = Function("prim_scan", params, [instr], outs)
        args = [np.float64(1.5), np.float64(0.5), np.int64(3)]
        got = compile_function(fn)(args)
        assert_same(got, interp.run(fn, args))
        x, n, xs = 0.5, 3, []
        for _ in range(length):
            xs.append(x)
            x, n = x * 1.5 + 1.0, n + 2
        assert got[0] == x and got[1] == n
        np.testing.assert_array_equal(got[2], np.array(xs) > 3.0)
        np.testing.assert_array_equal(got[3], np.array(xs, dtype=float))


# ---- fori_loop ----------------------------------------------------------------------------


def fori_static(x):
    return lax.fori_loop(0, 6, lambda i, v: v * np.cos(x) + np.sin(v) * i, x)


def fori_traced(x, n):
    return lax.fori_loop(0, n, lambda i, v: v * 0.9 + np.sin(v + x) / (i + 1), x * 0.0 + 1.0)


def test_fori_loop_static_and_traced_bounds():
    x = np.array([0.3, -1.2, 2.0])
    for kind, prog in transforms(lambda x: np.sum(fori_static(x)), x, x[::-1]).items():
        compiled_equals_interp(prog, x)
    for n in (0, 1, 4):
        got = compiled_equals_interp(fori_traced, x, np.int64(n))
        v = np.ones(3)
        for i in range(n):
            v = v * 0.9 + np.sin(v + x) / (i + 1)
        np.testing.assert_allclose(got, v, rtol=RTOL)
    # reverse mode through a traced trip count (a recorded while loop)
    compiled_equals_interp(lambda x, n: gradjit.grad(lambda y: np.sum(fori_traced(y, n)))(x),
                           x, np.int64(4))


# ---- while_loop ---------------------------------------------------------------------------


def halve(x):
    """Halve until below 1: the trip count depends on the value (zero for x <= 1)."""
    return lax.while_loop(lambda v: v > 1.0, lambda v: v * 0.5 + 0.01 * np.sin(v), x)


def halve_numpy(x):
    while x > 1.0:
        x = x * 0.5 + 0.01 * np.sin(x)
    return x


@pytest.mark.parametrize("x", [0.5, 1.0, 3.0, 37.0])
def test_while_loop_values_and_zero_trips(x):
    assert compiled_equals_interp(halve, x) == pytest.approx(halve_numpy(x), rel=1e-15)


def test_while_loop_with_pytree_carry_and_consts():
    def f(x, a):
        def body(s):
            v, k, total = s
            return v * a + 0.1, k + 1, total + np.sum(v)
        return lax.while_loop(lambda s: (s[1] < 4) & (np.sum(s[0]) < 50.0), body,
                              (x, np.int64(0), 0.0))

    x = np.array([0.5, 1.5])
    for a in (1.7, 0.2):
        compiled_equals_interp(f, x, a)
    compiled_equals_interp(f, x * 100, 1.7)  # the predicate is false at once


@pytest.mark.parametrize("kind", ["grad", "grad2", "jvp", "vmap"])
def test_while_loop_transforms(kind):
    def loss(x):  # a data-dependent trip count over a vector carry
        v = lax.while_loop(lambda v: np.sum(v) > 1.0, lambda v: v * 0.5 + 0.01 * np.sin(v), x)
        return np.sum(v * np.array([1.0, 2.0, 3.0]))

    x = np.array([0.7, 3.0, 21.0])
    compiled_equals_interp(transforms(loss, x, x[::-1])[kind], x)


def test_vmap_of_while_loop_gradient_with_per_example_trip_counts():
    xs = np.array([0.5, 3.0, 37.0, 1000.0])
    got = compiled_equals_interp(gradjit.vmap(gradjit.grad(halve)), xs)
    eps = 1e-6
    fd = [(halve_numpy(x + eps) - halve_numpy(x - eps)) / (2 * eps) for x in xs]
    np.testing.assert_allclose(got, fd, rtol=1e-6)


def test_while_loop_primitive_against_numpy():
    i64, f64 = TensorType("i64", ()), TensorType("f64", (2,))
    test = trace_region(lambda n, v, i: [A.less(i, n)], [i64, f64, i64], "cond")
    body = trace_region(lambda a, v, i: [A.tanh(v * a) + 0.5 * v, i + 1], [f64, f64, i64],
                        "body")
    params = [Value(i64), Value(f64), Value(f64), Value(i64)]
    outs = [Value(f64), Value(i64)]
    p = dict(cond=test, body=body, num_cond_consts=1, num_body_consts=1)
    fn = Function("prim_while", params, [Instr(while_p, params, p, outs)], outs)
    run = compile_function(fn)
    a, v0 = np.array([0.3, -2.0]), np.array([1.0, 0.25])
    for n in (0, 1, 2, 7):
        args = [np.int64(n), a, v0, np.int64(0)]
        got = run(args)
        assert_same(got, interp.run(fn, args))
        v = v0
        for _ in range(n):
            v = np.tanh(v * a) + 0.5 * v
        np.testing.assert_allclose(got[0], v, rtol=RTOL)
        assert got[1] == n


# ---- cond / switch ------------------------------------------------------------------------


def cond_program(x, y):
    return lax.cond(np.sum(x) > 0, lambda a, b: np.sum(a * b) * y, lambda a, b: np.sum(a - b),
                    x, x * 2)


BRANCHES = [np.sin, np.cos, lambda v: v * 2 + np.exp(v)]


def switch_program(i, x):
    return lax.switch(i, BRANCHES, x)


def test_cond_and_switch_values_including_out_of_range():
    for x in (np.array([1.0, 2.0]), np.array([-1.0, -2.0])):
        compiled_equals_interp(cond_program, x, 3.0)
    x = np.array([0.3, -0.7])
    run = gradjit.jit(switch_program, backend="llvm")
    for i in (-5, -1, 0, 1, 2, 3, 100):
        got = run(np.int64(i), x)
        np.testing.assert_allclose(got, BRANCHES[min(max(i, 0), 2)](x), rtol=RTOL)
        assert_same(got, gradjit.jit(switch_program, backend="interp")(np.int64(i), x))


def test_cond_primitive_with_i32_index_and_several_results():
    f64 = TensorType("f64", (3,))
    branches = tuple(trace_region(lambda x, y, k=k: [x * y + k, A.sum(x) - k], [f64, f64],
                                  f"branch{k}") for k in range(3))
    params = [Value(TensorType("i32", ())), Value(f64), Value(f64)]
    outs = [Value(f64), Value(TensorType("f64", ()))]
    fn = Function("prim_cond", params, [Instr(cond_p, params, {"branches": branches}, outs)],
                  outs)
    run = compile_function(fn)
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 4.0])
    for i in (-3, 0, 1, 2, 9):
        got = run([np.int32(i), x, y])
        k = min(max(i, 0), 2)
        np.testing.assert_array_equal(got[0], x * y + k)
        assert got[1] == np.sum(x) - k
        assert_same(got, interp.run(fn, [np.int32(i), x, y]))


@pytest.mark.parametrize("kind", ["grad", "grad2", "jvp", "vmap"])
def test_cond_transforms(kind):
    loss = lambda x: cond_program(x, 3.0) + lax.switch(
        np.where(np.sum(x) > 1, 2, 1), BRANCHES, x)[0]  # an index computed in the program
    for x in (np.array([1.0, 2.0]), np.array([-1.0, -2.0])):
        compiled_equals_interp(transforms(loss, x, np.array([0.3, -0.4]))[kind], x)


def test_vmap_of_cond_with_a_batched_predicate():
    prog = gradjit.vmap(lambda p, v: lax.cond(p, lambda a: a * 2, lambda a: -np.sin(a), v))
    got = compiled_equals_interp(prog, np.array([True, False, True]), np.arange(3.0))
    np.testing.assert_allclose(got, [0.0, -np.sin(1.0), 4.0], rtol=RTOL)
    # an index shared by the batch: one cond over batched branches
    shared = lambda i, xs: gradjit.vmap(lambda v: lax.switch(i, BRANCHES, v))(xs)
    for i in (0, 2, 7):
        got = compiled_equals_interp(shared, np.int64(i), XS[:, :2])
        np.testing.assert_allclose(got, BRANCHES[min(i, 2)](XS[:, :2]), rtol=RTOL)


# ---- nested regions -----------------------------------------------------------------------


def scan_of_scans(xs):
    def row(c, x):
        c, inner = lax.scan(lambda d, v: (d * 0.9 + np.sin(v * d), d * v), c, x)
        return c + np.sum(inner), inner
    c, rows = lax.scan(row, 0.3, xs)
    return c + np.sum(rows ** 2)


def while_of_conds(x):
    step = lambda v: lax.cond(np.sum(v) > 3.0, lambda u: u * 1.5, lambda u: u + 0.75, v)
    return np.sum(lax.while_loop(lambda v: np.sum(v) < 20.0, step, x))


def scan_of_whiles(xs):
    def step(c, x):
        v = lax.while_loop(lambda v: np.sum(v * v) > 1.0, lambda v: v * 0.5 + c * 0.01, x)
        return c + np.sum(v), v
    c, vs = lax.scan(step, 0.1, xs)
    return c * np.sum(vs)


def cond_of_fori(x):
    return lax.cond(np.sum(x) > 0, lambda v: np.sum(lax.fori_loop(0, 3, lambda i, u: np.tanh(
        u * i + v), v)), lambda v: np.sum(v ** 2), x)


def scan_of_scans_numpy(xs):
    c, rows = 0.3, []
    for x in xs:
        d, inner = c, []
        for v in x:
            inner.append(d * v)
            d = d * 0.9 + np.sin(v * d)
        c = d + np.sum(inner)
        rows.append(inner)
    return c + np.sum(np.array(rows) ** 2)


NESTED = {"scan_of_scans": (scan_of_scans, XS * 0.5), "while_of_conds": (while_of_conds, XS[0]),
          "scan_of_whiles": (scan_of_whiles, XS * 3), "cond_of_fori": (cond_of_fori, XS[1])}


def test_nested_values():
    for name, (f, x) in NESTED.items():
        compiled_equals_interp(f, x)
    assert gradjit.jit(scan_of_scans, backend="llvm")(XS * 0.5) == pytest.approx(
        scan_of_scans_numpy(XS * 0.5), rel=1e-13)


@pytest.mark.parametrize("kind", ["grad", "grad2", "jvp", "vmap"])
@pytest.mark.parametrize("name", list(NESTED))
def test_nested_transforms(name, kind):
    f, x = NESTED[name]
    compiled_equals_interp(transforms(f, x, np.cos(np.arange(x.size)).reshape(x.shape))[kind], x)


# ---- code shape ---------------------------------------------------------------------------


def test_each_region_is_emitted_once_and_the_module_does_not_grow_with_length():
    loss = scan_loss(False)
    sizes = []
    for length in (100, 1000):  # (both long enough for the stacks to live in the workspace)
        fn = gradjit.grad(loss).trace(XS[:1].repeat(length, 0))
        text = str(lower(fn).module)
        regions = [line for line in text.splitlines() if line.startswith("define internal i32")
                   and "." in line.split("(")[0]]
        # the saving scan (which also gives the value: passes/scans.py) and the reverse scan
        assert len(regions) == 2, regions
        sizes.append((len(text.splitlines()), len(text)))
    # the same code; only constants (trip counts, workspace offsets) have more digits
    assert sizes[0][0] == sizes[1][0] and abs(sizes[0][1] - sizes[1][1]) < 100, sizes


def test_regions_with_workspace_temporaries_and_passthrough_results():
    """Bodies big enough that their temporaries, carries and nested regions' scratch live in
    the workspace; a body returning its parameters unchanged; a scan with no carry."""
    big = rng.normal(size=(4, 200))

    def f(xs):
        def step(c, x):
            t = np.exp(x * 0.1) * c
            inner, _ = lax.scan(lambda d, r: (np.tanh(d * r + t[::-1]), None), c, xs[:2])
            return inner + t[::-1] * 0.5, (c, x)  # ys: the carry it saw and its x unchanged
        c, (cs, same) = lax.scan(step, np.full(200, 0.3), xs)
        _, doubled = lax.scan(lambda _, x: ((), x * 2.0), (), xs)
        return c, cs, same, doubled

    plan = lower(gradjit.jit(f).trace(big)).plan
    bodies = [p for r in plan.regions.values() for _, p in r.fns.values()]
    assert plan.ws_size > 0 and any(p.ws_size > 0 and p.regions for p in bodies)
    got = compiled_equals_interp(f, big)
    np.testing.assert_array_equal(got[2], big)
    np.testing.assert_array_equal(got[3], big * 2.0)
    compiled_equals_interp(gradjit.grad(lambda xs: np.sum(f(xs)[0] ** 2)), big)


def test_a_failed_check_inside_a_loop_body_is_reported():
    import gradjit.numpy as gnp

    def f(v, idx):
        return lax.scan(lambda c, i: (c + gnp.take(v, i, 0), c), 0.0, idx)[0]

    run = gradjit.jit(f, backend="llvm")
    v = np.arange(4.0)
    assert run(v, np.array([0, 3, -1])) == 6.0
    with pytest.raises(gradjit.TraceError, match="gather: an index is out of bounds"):
        run(v, np.array([0, 4, 1]))


def test_switch_branches_returning_operands_and_constants():
    def f(i, x, y):
        return lax.switch(i, [lambda a, b: (a, b), lambda a, b: (b, a * 0.0 + 1.0),
                              lambda a, b: (a + b, a)], x, y)

    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for i in (-1, 0, 1, 2, 5):
        compiled_equals_interp(f, np.int64(i), x, y)
