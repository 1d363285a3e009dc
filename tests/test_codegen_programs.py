"""Every corpus program (tests/programs.py) compiled with the LLVM backend against the
interpreter: primal (jit), gradient, and second order (the gradient of <w, grad f>).

Both backends run the same optimized Functions, so differences come only from codegen: BLAS
and vectorized sums reorder additions, so f64 results agree to rtol 1e-10 plus an absolute
1e-12 * max(1, largest magnitude of that output) (outputs that are cancellations, ~1e-13, differ
at rounding level); f32 programs to rtol 1e-4 plus 1e-5 * max(1, largest magnitude).
"""

from __future__ import annotations


import fd_util as fd
import numpy as np
import programs as P
import pytest

import gradjit


def assert_trees_close(got, want, f32: bool):
    rtol, scale = (1e-4, 1e-5) if f32 else (1e-10, 1e-12)
    g_leaves, w_leaves = fd.leaves(got), fd.leaves(want)
    assert len(g_leaves) == len(w_leaves)
    for g, w in zip(g_leaves, w_leaves):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        if g.dtype.kind == "f":
            atol = scale * max(1.0, float(np.nanmax(np.abs(w), initial=0)))
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, w)


def second_order(prog, backend):
    """x -> grad_x <w, grad f(x)> with a fixed random w (a Hessian-vector product)."""
    args = prog.args()
    w = fd.random_like(np.random.default_rng(2), fd.wrt(args, prog.argnums))
    first = gradjit.grad(prog.fn, argnums=prog.argnums, backend=backend)

    def w_dot_grad(*a):
        g = fd.grads_as_list(first(*a), prog.argnums)
        return sum(np.sum(wi * gi) for wi, gi in zip(fd.leaves(w), fd.leaves(g)))

    return gradjit.grad(w_dot_grad, argnums=prog.argnums, backend=backend)


TRANSFORMS = {
    "primal": lambda prog, backend: gradjit.jit(prog.fn, backend=backend),
    "grad": lambda prog, backend: gradjit.grad(prog.fn, argnums=prog.argnums, backend=backend),
    "grad2": second_order,
}


@pytest.mark.parametrize("order", list(TRANSFORMS))
@pytest.mark.parametrize("prog", P.PROGRAMS, ids=[p.name for p in P.PROGRAMS])
def test_compiled_equals_interpreted(prog, order):
    args = prog.args()
    want = TRANSFORMS[order](prog, "interp")(*args)
    got = TRANSFORMS[order](prog, "llvm")(*args)
    assert_trees_close(got, want, "f32" in prog.flags)


@pytest.mark.parametrize("prog", P.PROGRAMS, ids=[p.name for p in P.PROGRAMS])
def test_function_split_into_parts_equals_interpreted(prog):
    """Big functions are emitted as internal parts (codegen/frame.py PART_GROUPS); here every
    loop group is its own part, so every value that crosses groups crosses functions."""
    from gradjit.ir import interp
    from gradjit.runtime import compile_function

    args = prog.args()
    g = gradjit.grad(prog.fn, argnums=prog.argnums)
    fn = g.trace(*args)
    arrays = [np.asarray(a, p.type.np_dtype) for a, p in zip(fd.leaves(args), fn.params)]
    got = compile_function(fn, part_groups=1)(arrays)
    assert_trees_close(got, interp.run(fn, arrays), "f32" in prog.flags)
