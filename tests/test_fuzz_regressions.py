"""Regression tests for bugs the random-program fuzzer (tests/fuzz) found.

Each is the fuzzer's shrunk reproducer, in the form it prints: the program's traced spelling
`f`, its plain-numpy reference `f_ref`, the arguments, and the fuzz check that failed (which
compares against numpy, finite differences or the interpreter), plus a direct assertion.
"""

from __future__ import annotations

import numpy as np
from fuzz.checks import check_program

import gradjit

F32 = np.float32


# ---- vmap lost the weak type of an unbatched Python float (seed 4, program 79) ---------------
# vmap traced the per-example function with every unbatched argument strongly typed, so an f32
# array times a Python float came out f64 under vmap (f32 under jit and in numpy).


def weak_scalar_f(x0, s1):
    v1 = np.arctan2(x0, s1)
    v2 = v1 * s1
    return (v2,)


def weak_scalar_f_ref(x0, s1):
    v1 = np.arctan2(x0, s1)
    v2 = v1 * s1
    return (v2,)


def test_vmap_keeps_an_unbatched_python_float_weak():
    x = np.asarray([[0.5, -1.25], [1.5, 0.75]], dtype=F32)
    check_program(weak_scalar_f, weak_scalar_f_ref, (x, -1.4), argnums=(0,), check="vmap")
    out = gradjit.vmap(lambda x, s: x * s, in_axes=(0, None))(x, 2.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x * 2.0)


# ---- simplify folded by the strides of an empty constant (seed 31, programs 1289 and 1343) ---
# Whether `pad` of an empty constant folded depended on the numpy strides of the constant's
# array (0 or 8 bytes: numpy leaves them arbitrary for empty arrays), which the text form does
# not keep: the pipeline on parse(str(fn)) differed from the pipeline on fn itself.


def empty_slice_f(x1):
    v4 = x1[:-1:-2, 0:1:2, None, ...]
    return (v4,)


def test_pipeline_is_the_same_on_the_parsed_gradient_with_empty_constants():
    x = np.asarray([[-0.5]], dtype=np.float64)
    check_program(empty_slice_f, empty_slice_f, (x,), argnums=(0,), check="ir")


def test_simplify_does_not_depend_on_the_strides_of_an_empty_constant():
    from gradjit.ir import parse
    from gradjit.passes import optimize

    zero_strided = np.cos(np.arange(0.0).reshape((0, 1, 1))).astype(np.float64)
    assert zero_strided.strides == (0, 0, 0)  # what numpy happens to give (the trigger)

    def f(x):
        return np.sum(x[:0] * zero_strided)

    fn = gradjit.grad(f).trace(np.ones((1, 1, 1)))
    raw = parse(gradjit.grad(f).dump(np.ones((1, 1, 1)), stage="trace"))
    raw.results = raw.results[1:]  # the trace returns the value too; grad runs without it
    assert str(optimize(raw)) == str(fn)


# ---- a uniform constant entered the IR as a numpy scalar (seed 0, programs 1, 4, 51, ...) ----
# An index array of equal entries became `broadcast_to(const)` with the const's value a numpy
# scalar (np.int64) instead of a 0-d array; CSE keys constants by their array, so it no longer
# merged that const with an equal one, and the pipeline on the parsed text (where every const
# is an array) gave different IR than on the traced Function.


def uniform_index_f(x0, s1):
    # dead, but traced: its integer 0 is the constant CSE must merge with the index's
    gradjit.while_loop(lambda s: s[0] < 5, lambda s: (s[0] + 1, s[1] * s[1] * 0.1), (0, s1))
    v47 = x0[np.array([[-1], [0], [-1], [0]], dtype=np.int64)]
    return (v47,)


def test_pipeline_is_the_same_on_the_parsed_gradient_with_uniform_constants():
    args = (np.asarray([1.0]), -2.0)
    check_program(uniform_index_f, uniform_index_f, args, argnums=(0,), check="ir")


def test_constants_are_arrays():
    fn = gradjit.trace(lambda x: x[np.zeros((4, 1), np.int64)] * np.full(3, 2.0), np.ones(3))
    consts = [i.params["value"] for i in fn.body if i.prim.name == "const"]
    assert consts and all(isinstance(v, np.ndarray) for v in consts)
