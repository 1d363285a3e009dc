"""Regressions found by the fuzzer (tests/fuzz): programs the LLVM backend crashed on, compiled
and compared with the interpreter.

- One-element values inside a flattened loop: `flat_ok` lets a loop over an elementwise tree run
  on a flat offset when a subtree has one element, but that subtree's rule (slice, gather, iota)
  needs an index list; `Emitter.expr` now evaluates such values at index 0.
- LLVM 22's SLP vectorizer can emit invalid IR (a use before its definition) for small, fully
  unrolled second-order programs; machine codegen then aborted the process. `jit.optimize`
  verifies its result and retries without SLP. The program runs in a child process, so a
  regression fails this test instead of killing the test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradjit
import gradjit.numpy as gnp
from gradjit.errors import CompilerBug
from gradjit.ops.primitive import REGISTRY as R


def both(f, *args):
    """f's outputs compiled and interpreted; values and dtypes must agree."""
    got = gradjit.jit(f, backend="llvm")(*args)
    want = gradjit.jit(f, backend="interp")(*args)
    got, want = (got if isinstance(got, tuple) else (got,)), \
        (want if isinstance(want, tuple) else (want,))
    for g, w in zip(got, want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        tol = 1e-5 if g.dtype == np.float32 else 1e-10  # summation order may differ
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * 1e-2)


def _slice_to_one(x):  # slice of a (3,2,2) operand down to one element, scaled
    return R["slice"](x, start=(1, 0, 1), stop=(2, 2, 2), step=(1, 2, 2)) * 2.0


def _gather_of_reshape(x):  # the gather's one-element result feeds a 4-d elementwise loop
    return R["sign"](np.reshape(x, (1, -1, 1, 1))[np.array([0]), np.array([0])])


def _pad_interior_einsum(x):  # its gradient has a one-element slice of the padded value
    v = R["pad"](np.mean(x, axis=None, keepdims=True), lo=(1, 1), hi=(1, 1), interior=(0, 2),
                 value=0.0)
    return np.einsum("ab,bc->b", v, v)


CASES = {
    "slice_to_one": (_slice_to_one, (3, 2, 2)),
    "gather_of_reshape": (_gather_of_reshape, (3, 1)),
    "pad_interior_einsum": (_pad_interior_einsum, (3, 1)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_one_element_subtree_in_flat_loop(name):
    f, shape = CASES[name]
    x = np.random.default_rng(5).uniform(-2.0, 2.0, shape)
    both(f, x)
    both(f, x.astype(np.float32))


@pytest.mark.parametrize("name", ["slice_to_one", "pad_interior_einsum"])
def test_one_element_subtree_gradient(name):
    f, shape = CASES[name]
    x = np.random.default_rng(6).uniform(-2.0, 2.0, shape)
    loss = lambda x: gnp.sum(np.sin(f(x)) * 1.5)  # noqa: E731
    got = gradjit.grad(loss, backend="llvm")(x)
    want = gradjit.grad(loss, backend="interp")(x)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_invalid_llvm_ir_is_an_error_not_an_abort():
    from gradjit.runtime import jit

    uses_before_def = textwrap.dedent("""
        define i32 @f(i1 %c) {
        entry:
          br i1 %c, label %a, label %b
        a:
          %x = add i32 1, 2
          br label %b
        b:
          ret i32 %x
        }
    """)
    for text in ["define i32 @f() {\n  ret i64 0\n}\n", uses_before_def]:
        with pytest.raises(CompilerBug, match="invalid LLVM IR"):
            jit.optimize(text)


# The second gradient of this program made LLVM's SLP vectorizer emit invalid IR (fuzz seed 3,
# program 7 of an earlier generator, reduced); compiling that IR aborted the process.
SLP_CHILD = textwrap.dedent("""
    import numpy as np
    import gradjit
    import gradjit.numpy as gnp

    M = np.array([[[False, False], [True, False]], [[True, False], [False, False]]])

    def f(x0, x2):
        v2 = np.stack([x0, x2], axis=-2)
        v8 = np.einsum("ab,cd", v2, v2) * v2
        return np.square(v8[M]).max(axis=-1), gnp.sigmoid(v8)

    def W(shape, k):
        return np.cos(np.arange(int(np.prod(shape))).reshape(shape) * 0.7 + 0.3 * k + 0.1)

    def loss(*a):
        return sum(gnp.sum(o * W(o.shape, k)) for k, o in enumerate(f(*a)))

    def second(backend, args):
        first = gradjit.grad(loss, argnums=(0, 1), backend=backend)
        ws = [W(np.shape(a), 5 + i) for i, a in enumerate(args)]
        h = lambda *a: sum(gnp.sum(w * g) for w, g in zip(ws, first(*a)))
        return gradjit.grad(h, argnums=(0, 1), backend=backend)(*args)

    args = (np.array([-1.0, 1.0]), np.array([0.0, -1.0]))
    for g, w in zip(second("llvm", args), second("interp", args)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    print("CLEAN")
""")


def test_slp_invalid_ir_does_not_abort(tmp_path):
    env = dict(os.environ, GRADJIT_CACHE_DIR=str(tmp_path))  # a fresh cache: really compile
    run = subprocess.run([sys.executable, "-c", SLP_CHILD], capture_output=True, text=True,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("CLEAN")
