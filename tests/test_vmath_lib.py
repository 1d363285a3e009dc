"""The vector-math library (codegen/vmath_lib.py): kernels compiled once and called.

Every variant (scalar, and each vector width, for both dtypes, exact and fast) must give exactly
the inline kernel's bits on the ulp tests' arguments, which tests/test_codegen_vmath.py bounds
against numpy. Small loops call the library and still vectorize; a compiled function gives the
same bits with and without it; a damaged library entry in the disk cache is rebuilt."""

from __future__ import annotations

import ctypes
import os
import re

import numpy as np
import pytest
from llvmlite import ir
from test_codegen_vmath import domain

import gradjit
from gradjit import runtime
from gradjit.codegen import vmath, vmath_lib
from gradjit.codegen.loops import loop
from gradjit.codegen.ltypes import F32, F64, PTR, i64
from gradjit.runtime import cache, compile_function, jit, support

CASES = [(name, dtype, True) for name in vmath.KERNELS for dtype in ("f64", "f32")] + \
    [(name, dtype, False) for name in vmath.SLOW_PATH for dtype in ("f64", "f32")]


def _harness(name, dtype, exact, n):
    """Functions `void <k>(ptr x, ptr y)` over n elements: "inline" through the kernel copied
    in (the reference), "scalar" through the library's scalar kernel, "v<w>" through each
    vector variant."""
    ty = F64 if dtype == "f64" else F32
    m = ir.Module()
    m.triple = jit.triple()
    lib = vmath_lib.symbol(name, dtype, exact)
    kernels = {"inline": vmath.kernel(m, name, dtype, exact, inline=False),
               "scalar": ir.Function(m, ir.FunctionType(ty, [ty]), lib)}
    for w in vmath_lib.LANES[dtype]:
        vty = ir.VectorType(ty, w)
        kernels[f"v{w}"] = (w, ir.Function(m, ir.FunctionType(vty, [vty]), f"{lib}_v{w}"))
    for label, k in kernels.items():
        w, f = k if isinstance(k, tuple) else (1, k)
        h = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR, PTR]), "h_" + label)
        b = ir.IRBuilder(h.append_basic_block())
        arg_ty = f.function_type.args[0]
        with loop(b, n // w) as i:
            at = b.mul(i, i64(w))
            x = b.load(b.gep(h.args[0], [at], source_etype=ty), typ=arg_ty, align=4)
            b.store(b.call(f, [x]), b.gep(h.args[1], [at], source_etype=ty), align=4)
        b.ret_void()
    return str(m), list(kernels)


_TRIG_FAR = [1e22, 0.5, -3e5, 2.0, np.nan, -1e38, 7.0, 1e5]
FAR = {"sin": _TRIG_FAR, "cos": _TRIG_FAR, "exp": [800.0, 0.5, -745.5, 2.0, np.nan, -1e38, 7.0,
                                                   -708.5]}
assert set(FAR) == set(vmath.SLOW_PATH)


@pytest.mark.parametrize("name,dtype,exact", CASES)
def test_every_variant_gives_the_inline_kernels_bits(name, dtype, exact):
    x = domain(name, np.random.default_rng(3))
    if name in FAR:  # far lanes (libm's) at every position of a vector
        x = np.concatenate([x, np.tile(FAR[name], 2)])
    n = len(x) // 16 * 16
    with np.errstate(over="ignore"):
        x = np.ascontiguousarray(x[:n], np.float64 if dtype == "f64" else np.float32)
    text, labels = _harness(name, dtype, exact, n)
    engine = jit.Engine(jit.compile_object(text))  # loads the library object it calls
    outs = {}
    for label in labels:
        y = np.empty_like(x)
        ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(
            engine.address("h_" + label))(x.ctypes.data, y.ctypes.data)
        outs[label] = y.view(np.uint64 if dtype == "f64" else np.uint32)
    for label in labels[1:]:
        np.testing.assert_array_equal(outs[label], outs["inline"], err_msg=label)


def _fn(n):
    f = lambda x, y: np.tanh(x) * np.exp(-y) + np.sin(x) * np.cos(y) - np.log1p(x * x)
    return gradjit.jit(f).trace(np.ones(n), np.ones(n))


def test_small_loops_call_the_library_and_still_vectorize():
    fn = _fn(1000)
    text = runtime.DUMPS["llvm-opt"](fn)
    assert not re.search(r"define .*@gj_lib_", text)  # declared only: called, not copied
    calls = set(re.findall(r"call <\d+ x double> @(gj_lib_\w+_v\d+)", text))
    assert {c.rsplit("_v", 1)[0] for c in calls} == {
        "gj_lib_tanh_f64", "gj_lib_exp_f64", "gj_lib_sin_f64", "gj_lib_cos_f64",
        "gj_lib_log1p_f64"}
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=1000) * 3, rng.normal(size=1000) * 3
    x[::97] = 1e22  # far arguments: the exact sin/cos take libm's value in those lanes
    with_lib = compile_function(fn)([x, y])[0]
    copied = compile_function(fn, vmath_lib=False)([x, y])[0]
    np.testing.assert_array_equal(with_lib.view(np.uint64), copied.view(np.uint64))
    with np.errstate(all="ignore"):
        want = np.tanh(x) * np.exp(-y) + np.sin(x) * np.cos(y) - np.log1p(x * x)
    np.testing.assert_allclose(with_lib, want, rtol=1e-13, atol=1e-13)  # (sums cancel)


def test_a_damaged_library_entry_is_rebuilt(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("GRADJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(support, "_libraries", {})
    lib = ("erf", "f32", True)
    before = jit.STATS["library"]
    good = support.library_object(lib)
    assert jit.STATS["library"] == before + 1
    (entry,) = [e for e in cache.entries() if e.endswith(".o")]
    with open(entry, "r+b") as f:
        f.seek(os.path.getsize(entry) - 50)
        f.write(b"\xff" * 8)
    support._libraries.clear()
    with caplog.at_level("WARNING", logger="gradjit.runtime"):
        again = support.library_object(lib)
    assert "damaged entry" in caplog.text and jit.STATS["library"] == before + 2
    assert again == good
    support._libraries.clear()
    assert support.library_object(lib) == good and jit.STATS["library"] == before + 2
