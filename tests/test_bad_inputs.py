"""The bad-input catalogue: every kind of wrong or unusual input a user can hand gradjit, one
table-driven test per kind. Each error case checks the error class, a message fragment naming
the op and types, and the user's line (this file's line of the offending statement) where the
mistake is in user code. Each accepted case runs on both backends against numpy and the
interpreter (the reference).

Kinds: array layouts (Fortran, transposed, negative and skipping strides, windows, unaligned,
big-endian, read-only) and dtypes at call time; shapes that do not fit; integer, bool, object,
complex inputs to grad; NaN/inf; 0-d, empty and too large arrays; out-of-range gather indices;
Python control flow and recursion on traced values; leaked tracers; unsupported numpy
functions; malformed IR text; grad of a function whose output is not a float scalar.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import gradjit
import gradjit.numpy as gnp
from gradjit.errors import (ConcretizationError, IndexingError, IRParseError,
                            ResourceLimitError, ShapeError, TraceError, UnexpectedTracerError)
from gradjit.ops.primitive import active_handlers

HERE = os.path.basename(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ["llvm", "interp"]


def _line_of(marker: str) -> int:
    with open(__file__) as f:
        return next(i for i, line in enumerate(f, 1)
                    if line.rstrip().endswith(marker) and "_line_of" not in line)


def _at(marker: str) -> str:
    """'test_bad_inputs.py:<line>' of the line ending with `marker`."""
    return f"{HERE}:{_line_of(marker)}"


def _raises(exc, fn, *args) -> str:
    with pytest.raises(exc) as info:
        fn(*args)  # CALL
    return str(info.value)


def _same(got, want, rtol=1e-12):
    """Equal to numpy's values (NaN where numpy has NaN, infinities with their sign)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0, equal_nan=True)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GRADJIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gjcache"))


# ---- layouts: accepted, read through their strides, never out of bounds ------------------

def _embedded(a, view_of, shape):
    """A view equal to `a` inside a NaN-filled buffer: reading outside the view's elements (an
    ignored stride or offset, an out-of-bounds read) turns results into NaN."""
    buf = np.full(shape, np.nan)
    view = view_of(buf)
    view[...] = a
    return view


def _unaligned(a):
    raw = np.zeros(a.size * 8 + 1, np.uint8)[1:]  # data pointer at an odd address
    view = raw.view(np.float64).reshape(a.shape)
    view[...] = a
    assert not view.flags.aligned
    return view


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


LAYOUTS = {
    "c-order": lambda a: a.copy(),
    "fortran-order": np.asfortranarray,
    "transposed-view": lambda a: np.ascontiguousarray(a.T).T,
    "negative-strides": lambda a: np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1],
    "every-other-column": lambda a: _embedded(a, lambda b: b[:, ::2], (a.shape[0], 2 * a.shape[1])),
    "window-of-larger": lambda a: _embedded(a, lambda b: b[1:-1, 2:-3],
                                            (a.shape[0] + 2, a.shape[1] + 5)),
    "zero-stride-broadcast": lambda a: np.broadcast_to(a[0], a.shape),
    "unaligned": _unaligned,
    "big-endian": lambda a: a.astype(">f8"),
    "read-only": _read_only,
}


def _program(x, w):
    h = np.tanh(x @ w)  # big enough for the BLAS path
    return np.sum(h * h, axis=1) + np.sum(np.sin(x) * x, axis=1) + x[:, 3] * x[:, ::-1][:, 1]


_RNG = np.random.default_rng(7)
_X, _W = _RNG.normal(size=(6, 40)), _RNG.normal(size=(40, 30)) / 6


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_array_layouts_are_accepted_and_read_correctly(layout, backend):
    x, w = LAYOUTS[layout](_X), LAYOUTS[layout](_W)
    bases = [np.array(a.base if a.base is not None else a) for a in (x, w)]
    clean = [np.array(x), np.array(w)]  # C-ordered native copies: what numpy computes on
    _same(gradjit.jit(_program, backend=backend)(x, w), _program(*clean))
    loss = lambda x, w: np.sum(_program(x, w))  # noqa: E731
    got = gradjit.grad(loss, argnums=(0, 1), backend=backend)(x, w)
    want = gradjit.grad(loss, argnums=(0, 1), backend="interp")(*clean)
    for g, r in zip(got, want):
        _same(g, r)
    for a, before in zip((x, w), bases):  # inputs are only read
        np.testing.assert_array_equal(np.array(a.base if a.base is not None else a), before)


# ---- dtypes at call time --------------------------------------------------------------------

def _poly(x):
    return x * 2.5 + x * x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32, np.bool_, ">f8"])
def test_other_dtypes_compute_as_numpy_does(dtype, backend):
    f = gradjit.jit(_poly, backend=backend)
    x64 = np.array([1.5, -2.0, 0.0, 3.0])
    _same(f(x64), _poly(x64))  # first compiled for f64 ...
    x = x64.astype(dtype)
    got, want = f(x), _poly(x)  # ... then given another dtype: its own signature
    assert got.dtype == want.dtype
    _same(got, want, rtol=1e-6 if want.dtype == np.float32 else 1e-12)
    _same(f(x64), _poly(x64))  # and the f64 version is still the f64 one


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_float32_and_float64_promote_as_numpy(backend):
    f = gradjit.jit(lambda a, b: np.sin(a) * b + a, backend=backend)
    a, b = np.linspace(-1, 1, 5, dtype=np.float32), np.linspace(0, 2, 5)
    got, want = f(a, b), np.sin(a) * b + a
    assert got.dtype == want.dtype == np.float64
    _same(got, want, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value, fragment", [
    (np.ones(3, np.float16), "unsupported dtype float16"),
    (np.ones(3, np.uint8), "unsupported dtype uint8"),
    (np.ones(3, np.complex64), "unsupported dtype complex64"),
    (np.ones(2, dtype=complex), "unsupported dtype complex128"),
    (np.array([1.0, None]), "unsupported dtype object"),
    ("hello", "argument of type str is not an array or a number"),
], ids=["f16", "u8", "complex64", "complex128", "object", "str"])
def test_unsupported_argument_types_are_refused_at_the_call(value, fragment, backend):
    msg = _raises(TraceError, gradjit.jit(_poly, backend=backend), value)
    assert msg.startswith("jit: ") and fragment in msg
    assert _at("# CALL") in msg and "hint:" in msg


# ---- shapes that do not fit ------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes_that_do_not_fit_name_the_op_types_and_line(backend):
    def f(x, w):
        return np.tanh(x @ w)  # MATMUL

    msg = _raises(ShapeError, gradjit.jit(f, backend=backend), np.ones((6, 40)), np.ones((30, 40)))
    assert msg.startswith("matmul: ") and "f64[6,40], f64[30,40]" in msg
    assert _at("# MATMUL") in msg
    # (further shape rules: tests/test_errors.py, test_shape_mismatch_names_op_types_and_line)


# ---- grad of integer, bool, object, complex inputs ---------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value, fragment", [
    (3, "argument 0 has type i64[]; only float arguments can be differentiated"),
    (True, "argument 0 has type bool[]"),
    (np.arange(3), "argument 0 has type i64[3]"),
    (np.ones(3, np.int32), "argument 0 has type i32[3]"),
    (np.ones(2, bool), "argument 0 has type bool[2]"),
    (np.array([1.0, 2.0], dtype=object), "unsupported dtype object"),
    (1 + 2j, "argument of type complex is not an array or a number"),
    (np.ones(2, complex), "unsupported dtype complex128"),
], ids=["int", "bool", "int-array", "i32-array", "bool-array", "object", "complex", "c128"])
def test_grad_refuses_non_float_inputs(value, fragment, backend):
    msg = _raises(TraceError, gradjit.grad(lambda x: np.sum(x * 2.0), backend=backend), value)
    assert msg.startswith("grad: ") and fragment in msg
    assert _at("# CALL") in msg and "hint:" in msg


# ---- NaN and inf propagate as in numpy ----------------------------------------------------------

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e308, -1e308, 5e-324,
                    710.0, -746.0, 0.5, 2.0])
SPECIAL = np.concatenate([SPECIAL, SPECIAL[::-1], SPECIAL[:5]])  # vector body and a tail

ELEMENTWISE = {
    "sqrt": np.sqrt, "log": np.log, "log1p": np.log1p, "exp": np.exp, "expm1": np.expm1,
    "tanh": np.tanh, "sin": np.sin, "cos": np.cos, "abs": np.abs, "sign": np.sign,
    "reciprocal": lambda x: 1.0 / x, "x/x": lambda x: x / x, "inf*x": lambda x: x * np.inf,
    "power": lambda x: x ** 0.5, "logaddexp": lambda x: np.logaddexp(x, 0.0),
    "maximum": lambda x: np.maximum(x, x[::-1]), "clip": lambda x: np.clip(x, -1.0, 1.0),
    "where": lambda x: np.where(x > 0, x, -x), "x!=x": lambda x: x != x,
    "isfinite": np.isfinite, "sum": np.sum, "max": np.max, "mean": np.mean, "prod": np.prod,
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_nan_and_inf_propagate_like_numpy(name, backend):
    f = ELEMENTWISE[name]
    with np.errstate(all="ignore"):
        want = f(SPECIAL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and silently: no RuntimeWarning escapes
        got = gradjit.jit(f, backend=backend)(SPECIAL)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    _same(got, want, rtol=1e-13)


DERIVATIVES = {  # f, and f' written out in numpy: what numpy gives at 0, inf, NaN, ...
    "sqrt": (np.sqrt, lambda x: 0.5 / np.sqrt(x)),  # d/dx sqrt at 0 = inf
    "log": (np.log, lambda x: 1.0 / x),
    "exp": (np.exp, np.exp),
    "tanh": (np.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
    "reciprocal": (lambda x: 1.0 / x, lambda x: -1.0 / (x * x)),
    "square": (lambda x: x * x, lambda x: 2.0 * x),
    "cube": (lambda x: x ** 3, lambda x: 3.0 * x ** 2),
    "power-half": (lambda x: x ** 0.5, lambda x: 0.5 / np.sqrt(x)),
    "sin": (np.sin, np.cos),
    "log1p": (np.log1p, lambda x: 1.0 / (1.0 + x)),
    "abs": (np.abs, np.sign),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(DERIVATIVES))
def test_gradients_at_nan_inf_and_zero_are_numpys(name, backend):
    f, df = DERIVATIVES[name]
    with np.errstate(all="ignore"):
        want = df(SPECIAL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = gradjit.grad(lambda x: np.sum(f(x)), backend=backend)(SPECIAL)
    _same(got, want, rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalar_derivative_of_sqrt_at_zero_is_inf(backend):
    assert gradjit.grad(np.sqrt, backend=backend)(0.0) == np.inf
    assert np.isnan(gradjit.grad(np.sqrt, backend=backend)(np.nan))


# ---- 0-d arrays ---------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", [2.0, np.float64(2.0), np.array(2.0), np.float32(2.0),
                                   np.array(2.0, np.float32), np.array(3)],
                         ids=["float", "np.float64", "0-d f64", "np.float32", "0-d f32", "0-d i64"])
def test_zero_dimensional_inputs(value, backend):
    f = lambda x: x * x + np.sin(x)  # noqa: E731
    got, want = gradjit.jit(f, backend=backend)(value), f(value)
    assert np.ndim(got) == 0 and np.asarray(got).dtype == np.asarray(want).dtype
    _same(got, want, rtol=1e-6)
    if np.asarray(value).dtype.kind == "f":
        g = gradjit.grad(f, backend=backend)(value)
        assert np.ndim(g) == 0 and np.asarray(g).dtype == np.asarray(value).dtype
        _same(g, 2 * np.asarray(value) + np.cos(value), rtol=1e-6)


# ---- empty arrays -------------------------------------------------------------------------------

EMPTY = {
    "elementwise": lambda x: np.sin(x) * 2.0 + x,
    "sum": np.sum,
    "sum-axis0": lambda x: np.sum(x, axis=0),
    "sum-last-axis": lambda x: np.sum(np.exp(x), axis=-1),
    "mean": np.mean,  # NaN, as numpy
    "prod": np.prod,
    "matmul-xxT": lambda x: x @ x.T,
    "matmul-xTx": lambda x: x.T @ x,
    "concatenate": lambda x: np.concatenate([x, 2 * x]),
    "reshape": lambda x: x.reshape(-1) * 3.0,
    "transpose": lambda x: x.T + 1.0,
}


EMPTY_CASES = [(name, shape) for name in EMPTY for shape in [(0,), (3, 0), (0, 3)]
               if shape != (0,) or not name.startswith("matmul")]  # (x.T is x for 1-d)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, shape", EMPTY_CASES, ids=[f"{n}-{s}" for n, s in EMPTY_CASES])
def test_empty_arrays_compute_as_numpy(name, shape, backend):
    f = EMPTY[name]
    x = np.ones(shape)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns for the mean of nothing
        want = f(x)
    _same(gradjit.jit(f, backend=backend)(x), want)
    g = gradjit.grad(lambda x: np.sum(f(x)), backend=backend)(x)
    assert g.shape == shape
    _same(g, gradjit.grad(lambda x: np.sum(f(x)), backend="interp")(x))


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_with_an_empty_inner_dimension_is_zeros(backend):
    f = gradjit.jit(lambda a, b: a @ b, backend=backend)
    _same(f(np.ones((64, 0)), np.ones((0, 64))), np.zeros((64, 64)))  # BLAS with k = 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, type_text", [((0,), "f64[0]"), ((3, 0), "f64[3,0]")])
def test_max_of_an_empty_axis_is_refused_as_numpy_does(shape, type_text, backend):
    def f(x):
        return np.max(x, axis=-1)  # EMPTY-MAX

    with pytest.raises(ValueError):
        f(np.ones(shape))  # numpy: no identity to return
    msg = _raises(ShapeError, gradjit.jit(f, backend=backend), np.ones(shape))
    assert msg.startswith("reduce_max: zero-size axis") and type_text in msg
    assert _at("# EMPTY-MAX") in msg


# ---- too large: refused before allocating -----------------------------------------------------

HUGE = {  # each needs an 11 MiB buffer (an output, or a BLAS operand in the workspace)
    "jit": (gradjit.jit, lambda x: np.outer(x, x) * 2.0),
    "grad": (gradjit.grad, lambda x: np.sum(np.tanh(np.outer(x, x)) @ x)),
}


@pytest.mark.parametrize("kind", list(HUGE))
def test_too_large_calls_are_refused_before_allocating(kind, monkeypatch):
    # llvm only: the limit is on the compiled function's workspace and outputs (the
    # interpreter has neither; numpy raises its own MemoryError for what cannot be allocated)
    import gradjit.runtime as rt

    monkeypatch.setenv("GRADJIT_MEMORY_LIMIT", "1M")
    rt._memory.clear()
    transform, fn = HUGE[kind]
    f, x = transform(fn, backend="llvm"), np.linspace(-1, 1, 1200)
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError) as info:
            f(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(info.value, ResourceLimitError)
    msg = str(info.value)
    assert re.search(r"a call needs [\d.]+ MiB .* over the limit of 1\.00 MiB", msg), msg
    assert "GRADJIT_MEMORY_LIMIT" in msg
    assert peak < 5 * 2**20  # tracing and compiling only: no 11 MiB buffer was allocated
    monkeypatch.setenv("GRADJIT_MEMORY_LIMIT", "64M")  # the limit is read at each compile
    rt._memory.clear()
    _same(f(x), transform(fn, backend="interp")(x))


# ---- out-of-range gather indices computed at run time ----------------------------------------

_VEC, _MAT, _I = np.arange(4.0), np.arange(12.0).reshape(3, 4), np.array
GATHERS = {  # name: (function, arguments, op); each line ends with # G:<name>
    "take": (lambda x, i: gnp.take(x, i), (_VEC, _I([1, 7])), "gather"),  # G:take
    "past-end": (lambda x, i: x[i], (_VEC, _I([4])), "gather"),  # G:past-end
    "before-start": (lambda x, i: x[i], (_VEC, _I([-5])), "gather"),  # G:before-start
    "column": (lambda x, i: x[:, i], (_MAT, _I([0, 4])), "gather"),  # G:column
    "two-axes": (lambda x, i, j: x[i, j], (_MAT, _I([0]), _I([5])), "gather"),  # G:two-axes
    "axes-neg": (lambda x, i, j: x[i, j], (_MAT, _I([1]), _I([-5])), "gather"),  # G:axes-neg
    "python-int": (lambda x, i: x[i] * 2.0, (_VEC, 9), "gather"),  # G:python-int
    "huge": (lambda x, i: x[i], (_VEC, _I([2**62, -(2**62)])), "gather"),  # G:huge
}


def _in_range(args):
    """The arguments with every index -1 (in range, and negative: counted from the end)."""
    return tuple(a if k == 0 else np.full_like(a, -1) if np.ndim(a) else -1
                 for k, a in enumerate(args))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(GATHERS))
def test_out_of_range_indices_raise_index_error_naming_op_and_line(name, backend):
    fn, args, op = GATHERS[name]
    f = gradjit.jit(fn, backend=backend)
    with pytest.raises(IndexError):
        fn(*args)  # numpy refuses it too
    msg = _raises(IndexingError, f, *args)
    assert msg.startswith(f"{op}: ") and "out of bounds for an axis of size" in msg
    assert _at(f"# G:{name}") in msg and "hint:" in msg
    ok = _in_range(args)
    _same(f(*ok), fn(*ok))  # the same compiled function still runs good indices


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_range_index_in_a_gradient_is_refused(backend):
    g = gradjit.grad(lambda x, i: np.sum(x[i] ** 2), backend=backend)  # G:grad
    msg = _raises(IndexingError, g, _VEC, np.array([1, 7]))
    assert msg.split(":")[0] in ("gather", "scatter_add") and _at("# G:grad") in msg
    _same(g(_VEC, np.array([1, 1, -1])), [0.0, 4.0, 0.0, 6.0])


GATHER_SCRIPT = """
import numpy as np, gradjit, gradjit.numpy as gnp
fs = [gradjit.jit(lambda x, i: x[i]), gradjit.jit(lambda x, i: gnp.take(x, i, axis=1)),
      gradjit.grad(lambda x, i: np.sum(x[i] ** 2)), gradjit.jit(lambda x, i: x[i, i])]
x = np.arange(12.0).reshape(3, 4)
bad = [np.array([b]) for b in (4, -5, 10**6, -10**6, 2**62, -2**62, 2**63 - 1, -2**63)]
refused = 0
for _ in range(50):
    for f in fs:
        for i in bad:
            try:
                f(x, i)
            except IndexError:
                refused += 1
print("survived", refused, float(np.sum(fs[0](x, np.array([2, -3])))))
"""


def test_out_of_range_indices_never_crash_the_process(tmp_path):
    env = dict(os.environ, GRADJIT_CACHE_DIR=str(tmp_path), PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", GATHER_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])  # -11 would be a segfault
    want = f"survived {50 * 4 * 8} {float(np.sum(_MAT[[2, -3]]))}"
    assert out.stdout.strip() == want


CONSTANT_INDICES = {  # out of range at trace time; each line ends with # CI:<name>
    "array": lambda x: x[np.array([0, 5])],  # CI:array
    "int": lambda x: x[3],  # CI:int
    "negative": lambda x: x[-4] * 2.0,  # CI:negative
    "second-axis": lambda x: x.reshape(1, 3)[0, np.array([3])],  # CI:second-axis
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CONSTANT_INDICES))
def test_out_of_range_constant_indices_are_refused_while_tracing(name, backend):
    msg = _raises(IndexingError, gradjit.jit(CONSTANT_INDICES[name], backend=backend), _VEC[:3])
    assert "out of bounds for" in msg and "size 3" in msg and _at(f"# CI:{name}") in msg


# ---- Python control flow on traced values --------------------------------------------------

CONTROL_FLOW = {  # name: (function, what needed the value); each line ends with # CF:<name>
    "if": (lambda x: x if x > 0 else -x, "bool()"),  # CF:if
    "float": (lambda x: float(x) * 2, "float()"),  # CF:float
    "int": (lambda x: int(x) * 2.0, "int()"),  # CF:int
    "numpy-index": (lambda x: np.ones(3)[x], "np.asarray()"),  # CF:numpy-index
}


@pytest.mark.parametrize("name", list(CONTROL_FLOW))
def test_python_control_flow_on_traced_values(name):
    body, what = CONTROL_FLOW[name]
    msg = _raises(ConcretizationError, gradjit.grad(body), 1.5)
    assert msg.startswith(f"{what}: needs a concrete value, but got a traced")
    assert "hint:" in msg and "static_argnums" in msg and "where" in msg
    assert _at(f"# CF:{name}") in msg


def test_while_on_traced_value():
    def f(x):
        while x < 10:  # MARK-while
            x = x * 2
        return x

    msg = _raises(ConcretizationError, gradjit.grad(f), 1.0)
    assert _at("# MARK-while") in msg and "fori_loop" in msg


# ---- recursion on traced values --------------------------------------------------------------

def _nested_sin(x, depth):
    return x if depth == 0 else np.sin(_nested_sin(x, depth - 1))


def _halve_until_small(x):
    return x if x < 0.01 else _halve_until_small(x * 0.5)  # REC-traced-if


def _forever(x):
    return _forever(np.sin(x))  # REC-forever


def _forever_cond(x):
    return gradjit.cond(x > 1.0, lambda y: _forever_cond(y * 0.5), lambda y: y, x)  # REC-cond


@pytest.mark.parametrize("backend", BACKENDS)
def test_recursion_bounded_by_a_python_int_works(backend):
    g = gradjit.grad(_nested_sin, backend=backend)(0.7, 5)
    x, want = 0.7, 1.0
    for _ in range(5):  # chain rule: the product of cos at each level
        want, x = want * np.cos(x), np.sin(x)
    _same(g, want)


@pytest.mark.parametrize("fn, cls, fragment, mark", [
    (_halve_until_small, ConcretizationError, "bool(): needs a concrete value", "REC-traced-if"),
    (_forever, TraceError, "trace: the function recursed past Python's limit", "REC-forever"),
    (_forever_cond, TraceError, "trace: the function recursed past", "REC-cond"),
], ids=["traced-condition", "unbounded", "unbounded-under-cond"])
def test_recursion_on_traced_values_errors_clearly(fn, cls, fragment, mark):
    msg = _raises(cls, gradjit.grad(fn), 0.5)
    assert msg.startswith(fragment) and _at(f"# {mark}") in msg and "hint:" in msg
    assert len(active_handlers()) == 1  # the tracer's state unwound: nothing is left traced
    assert gradjit.grad(lambda x: x * x)(3.0) == 6.0


# ---- tracers leaking out of a trace ------------------------------------------------------------

_LEAKED: list = []


def _leak(x):
    _LEAKED.append(x)  # a side channel: the tracer outlives its trace
    global _LEAKED_GLOBAL
    _LEAKED_GLOBAL = x
    _LEAKED.append(lambda y: y * x)  # a closure over the traced x
    return x * 2.0


LEAK_USES = {  # name: (a use of the leaked tracer, the op named); lines end with # LK:<name>
    "later-jit": (lambda: gradjit.jit(lambda y: y + _LEAKED[0])(1.0), "capture"),  # LK:later-jit
    "later-grad": (lambda: gradjit.grad(lambda y: y * _LEAKED[0])(1.0), "capture"),  # LK:later-grad
    "arithmetic": (lambda: _LEAKED[0] * 2.0, "mul"),  # LK:arithmetic
    "numpy-ufunc": (lambda: np.sin(_LEAKED_GLOBAL), "sin"),  # LK:numpy-ufunc
    "float": (lambda: float(_LEAKED_GLOBAL), "float()"),  # LK:float
    "np.asarray": (lambda: np.asarray(_LEAKED[0]), "np.asarray()"),  # LK:np.asarray
    "closure": (lambda: _LEAKED[1](3.0), "mul"),  # (the use is the closure's line, in _leak)
}


@pytest.mark.parametrize("name", list(LEAK_USES))
def test_leaked_tracers_raise_unexpected_tracer_error(name):
    _LEAKED.clear()
    gradjit.grad(_leak)(1.0)
    use, op = LEAK_USES[name]
    msg = _raises(UnexpectedTracerError, use)
    assert msg.startswith(f"{op}: a traced value (f64[]) was used outside the trace that made it")
    assert "hint:" in msg and "leaked" in msg
    mark = "# a closure over the traced x" if name == "closure" else f"# LK:{name}"
    assert _at(mark) in msg


# ---- numpy functions gradjit does not support ---------------------------------------------------

UNSUPPORTED = {  # the name in the message: a use; each line ends with # NP:<name>
    "np.linalg.svd": lambda x: np.linalg.svd(x)[1].sum(),  # NP:np.linalg.svd
    "np.fft.fft": lambda x: np.fft.fft(x).real.sum(),  # NP:np.fft.fft
    "np.unique": lambda x: np.unique(x).sum(),  # NP:np.unique
    "np.linalg.inv": lambda x: np.linalg.inv(x).sum(),  # NP:np.linalg.inv
    "np.sort": lambda x: np.sort(x).sum(),  # NP:np.sort
    "np.cumsum": lambda x: np.cumsum(x).sum(),  # NP:np.cumsum
    "np.floor": lambda x: np.floor(x).sum(),  # NP:np.floor
    "np.median": lambda x: np.median(x),  # NP:np.median
}


@pytest.mark.parametrize("name", list(UNSUPPORTED))
def test_unsupported_numpy_function_is_named(name):
    msg = _raises(TraceError, gradjit.grad(UNSUPPORTED[name]), np.eye(2))
    assert msg.startswith(f"{name}: is not supported on traced values")
    assert "gradjit.numpy" in msg and _at(f"# NP:{name}") in msg


# ---- malformed IR text -------------------------------------------------------------------------

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


# ---- grad of a function whose output is not a float scalar -------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, fragment", [
    (lambda x: x * 2, "the output must be a float scalar, got f64[3]"),
    (lambda x: np.argmax(x), "the output must be a float scalar, got i64[]"),
    (lambda x: np.sum(x) > 0, "the output must be a float scalar, got bool[]"),
    (lambda x: (x > 0).astype(np.int64).sum(), "got i64[]"),
    (lambda x: (np.sum(x), x), "the function must return one scalar, got a tuple"),
], ids=["vector", "argmax", "bool", "int-sum", "tuple"])
def test_grad_of_output_that_is_not_a_float_scalar(fn, fragment, backend):
    msg = _raises(TraceError, gradjit.grad(fn, backend=backend), np.ones(3))
    assert msg.startswith("grad: ") and fragment in msg
    assert _at("# CALL") in msg and "hint:" in msg and "jacobian" in msg and "vjp" in msg
    if "tuple" in fragment:
        assert "has_aux" in msg
