"""The hot call path: a signature seen before runs a call compiled for it, and an all-f64-scalar
function called with Python floats goes through the scalar entry (floats in registers, no numpy
objects). Both must give exactly what the general path gives, on every thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import gradjit
from gradjit.runtime import compile_function


def w1(x, y):
    return (x * y + np.sin(x)) * np.exp(y)


def w1_grad(x, y):  # by hand
    e = np.exp(y)
    return (y + np.cos(x)) * e, (x + x * y + np.sin(x)) * e


def test_scalar_entry_only_for_all_f64_scalar_functions():
    assert compile_function(gradjit.jit(w1).trace(0.5, 0.25)).scalar is not None
    assert compile_function(gradjit.jit(w1).trace(np.ones(3), 0.25)).scalar is None
    f32 = np.float32(0.5)
    assert compile_function(gradjit.jit(w1).trace(f32, f32)).scalar is None


@pytest.mark.parametrize("x, y", [(0.7, -0.3), (0.0, 0.0), (-2.5, 1.5), (1e300, 1.0),
                                  (float("nan"), 1.0), (float("inf"), -1.0)])
def test_scalar_path_equals_the_array_path_and_the_interpreter(x, y):
    fast = gradjit.grad(w1, argnums=(0, 1))
    interp = gradjit.grad(w1, argnums=(0, 1), backend="interp")
    for _ in range(2):  # the first call traces; the second takes the compiled fast call
        got = fast(x, y)
        assert all(type(g) is np.float64 for g in got)
        np.testing.assert_allclose(got, interp(x, y), rtol=1e-14)
        np.testing.assert_allclose(got, fast(np.asarray(x), np.asarray(y)), rtol=1e-14)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got, w1_grad(x, y), rtol=1e-12)


def test_pytree_outputs_on_the_fast_path():
    vg = gradjit.value_and_grad(w1, argnums=(0, 1))
    aux = gradjit.grad(lambda x, y: (w1(x, y), {"y": y, "none": None, "l": [x, x * y]}),
                       has_aux=True)
    for _ in range(2):
        value, (gx, gy) = vg(0.7, -0.3)
        assert value == pytest.approx(w1(0.7, -0.3), rel=1e-14)
        assert (gx, gy) == pytest.approx(w1_grad(0.7, -0.3), rel=1e-12)
        g, extra = aux(0.7, -0.3)
        assert g == pytest.approx(w1_grad(0.7, -0.3)[0], rel=1e-12)
        assert extra["none"] is None and extra["y"] == -0.3
        assert extra["l"] == pytest.approx([0.7, 0.7 * -0.3])
    arrays = gradjit.jit(lambda x: {"s": x.sum(), "pair": (x * 2, None), "list": [x[0]]})
    for _ in range(2):
        out = arrays(np.arange(3.0))
        assert type(out["s"]) is np.float64 and out["s"] == 3.0
        np.testing.assert_array_equal(out["pair"][0], [0.0, 2.0, 4.0])
        assert out["pair"][1] is None and out["list"] == [0.0]


def test_scalar_path_from_8_threads_at_once():
    g = gradjit.grad(w1, argnums=(0, 1))
    g(0.1, 0.2)
    points = np.random.default_rng(0).normal(size=(8, 200, 2))
    errors, start = [], threading.Barrier(8)

    def work(k):
        start.wait()
        for x, y in points[k]:
            got = g(float(x), float(y))
            if not np.allclose(got, w1_grad(x, y), rtol=1e-12):
                errors.append((k, x, y, got))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_native_builtin_serves_float_calls_and_gives_the_ctypes_paths_answer():
    from gradjit.runtime import native

    assert native.layout_ok()  # CPython 3.x, 64-bit: the offsets hold (else this path is off)
    g = gradjit.grad(w1, argnums=(0, 1))
    first = g(0.7, -0.3)
    assert type(g._native).__name__ == "builtin_function_or_method"
    run = compile_function(g.trace(0.7, -0.3))
    for x, y in [(0.7, -0.3), (-2.5, 1.5), (float("nan"), 1.0), (1e300, 1.0)]:
        got = g._native(x, y)
        assert type(got) is tuple and all(type(v) is np.float64 for v in got)
        np.testing.assert_array_equal(got, list(run.scalar(x, y)))  # bit for bit
        np.testing.assert_array_equal(got, g(x, y))
    assert g(0.7, -0.3) == first
    one = gradjit.grad(w1)  # one gradient: a float64, not a 1-tuple
    assert type(one(0.7, -0.3)) is np.float64 and type(one(0.7, -0.3)) is np.float64
    assert one(0.7, -0.3) == pytest.approx(w1_grad(0.7, -0.3)[0], rel=1e-13)


@pytest.mark.parametrize("args", [(np.float64(0.7), -0.3), (np.asarray(0.7), -0.3), (0.7,),
                                  (0.7, -0.3, 1.0), ()])
def test_native_builtin_declines_what_is_not_exactly_its_floats(args):
    g = gradjit.grad(w1, argnums=(0, 1))
    g(0.7, -0.3)
    assert g._native(*args) is NotImplemented
    if len(args) == 2:  # the general path answers instead, the same numbers
        np.testing.assert_allclose(g(*args), w1_grad(0.7, -0.3), rtol=1e-13)
    else:
        with pytest.raises(TypeError):
            g(*args)


def test_native_builtin_keeps_no_references():
    import sys
    import tracemalloc

    g = gradjit.grad(w1, argnums=(0, 1))
    g(0.7, -0.3)
    out = g(0.7, -0.3)
    assert sys.getrefcount(out) == 2 and [sys.getrefcount(v) for v in out] == [3, 3]
    tracemalloc.start()
    try:
        for _ in range(20000):
            g(0.7, -0.3)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20000):
            g(0.7, -0.3)
        assert tracemalloc.get_traced_memory()[0] - before < 1000
    finally:
        tracemalloc.stop()


def test_native_builtin_is_dropped_with_its_compiled_code(monkeypatch):
    from gradjit.tracer import transforms

    monkeypatch.setattr(transforms, "MAX_SIGNATURES", 2)
    g = gradjit.grad(lambda x, y: np.sum(w1(x, y)))
    g(0.7, -0.3)
    assert g._native is not transforms._not_native
    for n in (1, 2, 3):  # the float signature is the stalest: it goes, with its code
        g(np.full(n, 0.7), np.full(n, -0.3))
    assert g._native is transforms._not_native
    assert g(0.7, -0.3) == pytest.approx(w1_grad(0.7, -0.3)[0], rel=1e-13)
    assert g._native is not transforms._not_native
