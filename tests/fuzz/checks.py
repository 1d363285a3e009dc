"""The check functions run on every `Case` (see oracle.py for what each one means) and the
backend hook: core checks run on the interpreter, `backend:<name>` compares a backend with it."""

from __future__ import annotations

import importlib.util
import os
from contextlib import contextmanager

import numpy as np

import gradjit
from gradjit.ir import interp, parse, verify
from gradjit.ir.core import Function
from gradjit.passes import optimize
from gradjit.tracer.staging import BACKENDS

from .compare import Mismatch, close, low_precision_close, same_type
from .fdiff import close_to_estimate, directional
from .oracle import JAC_MAX_ENTRIES, Case, Skip, is_float_out, vdot, weight

HESSIAN_MAX_INPUTS = 40  # the hess check also builds the full Hessian below this many inputs


def _round_trip(text: str, what: str):
    """parse(text) prints back as text; returns the parsed Function."""
    fn = parse(text)
    again = str(fn)
    if again != text:
        raise Mismatch(f"{what}: text round trip changed the IR:\n{text}\n---\n{again}")
    return fn


def check_ir(case: Case):
    """The verifier after every pass and text round trips, on the primal and the gradient; the
    pipeline run on the parsed gradient text gives the Function the gradient actually ran."""
    verify(case.traced)
    _round_trip(str(case.traced), "primal (traced)")
    _round_trip(str(optimize(case.traced, check=verify)), "primal (optimized)")
    staged = case.grad_fn()._staged(case.args)[0]
    raw = _round_trip(str(staged.raw), "gradient (traced)")
    verify(raw)
    k = staged.raw.meta.get("unused_results", 0)  # grad runs without the value it traced
    raw = Function(raw.name, raw.params, raw.body, raw.results[k:])
    if str(optimize(raw, check=verify)) != str(staged.fn):
        raise Mismatch("gradient: the pipeline on the parsed IR differs from the one run")


def flat_arrays(fn, args) -> list:
    return [np.asarray(a, p.type.np_dtype) for a, p in zip(args, fn.params)]


def check_interp(case: Case):
    case.compare_outs(interp.run(case.traced, flat_arrays(case.traced, case.args)), "interp")
    case.compare_outs(gradjit.jit(case.f, backend="interp")(*case.args), "jit")


def _grad_types(case: Case, grads, what: str):
    for i, g in zip(case.argnums, grads):
        x = case.args[i]
        if type(x) is float:  # a Python float (np.float64 is a float too, but a strong one)
            if not isinstance(g, float):
                raise Mismatch(f"{what} of Python float arg {i} is a {type(g).__name__}")
        else:
            same_type(g, x, f"{what} of arg {i}")


def check_grad(case: Case):
    _grad_types(case, case.grad, "gradient")
    wide = case.wide
    est = directional(wide.loss_ref_at, wide.abs_loss)
    if not est.smooth:
        raise Skip(est.reason)
    gv = vdot(wide.grad, wide.v)
    if not close_to_estimate(gv, est, 1e-6):
        raise Mismatch(f"<grad, v> = {gv!r} but finite differences give {est.value!r} "
                       f"(+- {est.error:.3g})")
    if case.low:
        case.compare_low(case.grad, wide.grad, "f32 gradient vs f64 gradient of arg")


def _tangents(case: Case, direction):
    ts = [0.0 if type(a) is float else np.zeros_like(a) for a in case.args]
    for i, d in zip(case.argnums, direction):
        ts[i] = d
    return tuple(ts)


def check_jvp(case: Case):
    for c in {id(case): case, id(case.wide): case.wide}.values():
        value, tangent = gradjit.jvp(c.loss, c.args, _tangents(c, c.v))
        gv = vdot(c.grad, c.v)
        scale = vdot(np.abs(np.concatenate([np.ravel(g) for g in c.grad] or [[0.0]])),
                     np.abs(np.concatenate([np.ravel(v) for v in c.v] or [[0.0]])))
        rtol, floor = (1e-3, 1e-6) if c.low else (1e-9, 1e-12)
        # the floor: a zero derivative computed two ways may come out as 0 and as roundoff
        if abs(float(tangent) - gv) > rtol * (scale + abs(gv)) + floor * (1 + c.abs_loss):
            raise Mismatch(f"jvp tangent {float(tangent)!r} != <grad, v> {gv!r}"
                           f"{' (f32)' if c.low else ''}")
        if not c.low:
            close(np.float64(value), np.float64(c.loss_ref_at(0.0)), "jvp primal", 1e-10)


def check_vjp(case: Case):
    """vjp(f) pulled back from the loss weights W_k == the gradient of the loss."""
    _, pull = gradjit.vjp(case.f, *case.args)
    cts = tuple(weight(np.shape(o), k, np.asarray(o).dtype) if is_float_out(np.asarray(o))
                else np.zeros(np.shape(o), np.asarray(o).dtype)
                for k, o in enumerate(case.ref_outs))
    got = pull(cts)
    for i, g in zip(case.argnums, case.grad):
        close(np.float64(got[i]) if np.ndim(got[i]) == 0 else np.asarray(got[i], np.float64),
              np.asarray(g, np.float64), f"vjp vs grad of arg {i}", 1e-4 if case.low else 1e-9,
              (1e-6 if case.low else 1e-12) * (1 + case.abs_loss))


def check_vmap(case: Case, batch: int = 3):
    """vmap(f) and vmap(grad loss) over stacked copies of the array arguments (moved apart
    along v) == f and grad loss on each copy."""
    direction = [0.0 if type(case.args[i]) is float else v
                 for i, v in zip(case.argnums, case.v)]  # Python floats stay unbatched
    members = [case.moved(1e-3 * b, direction) for b in range(batch)]
    arrays = [isinstance(a, (np.ndarray, np.generic)) for a in case.args]
    stacked = tuple(np.stack([m[i] for m in members]) if arr else a
                    for i, (a, arr) in enumerate(zip(case.args, arrays)))
    in_axes = tuple(0 if arr else None for arr in arrays)
    wants = [case.ref_at(m) for m in members]  # first: Skip if an index leaves its range
    outs = gradjit.vmap(case.f, in_axes=in_axes)(*stacked)
    grads = gradjit.vmap(case.grad_fn(), in_axes=in_axes)(*stacked)  # per-example gradients
    rtol, floor = (1e-4, 1e-6) if case.low else (1e-9, 1e-12)
    for b, m in enumerate(members):
        case.compare_outs([np.asarray(o)[b] for o in outs], f"vmap member {b}", want=wants[b])
        for i, (g, want) in enumerate(zip(grads, case.grad_fn()(*m))):
            close(np.asarray(g, np.float64)[b], np.asarray(want, np.float64),
                  f"vmap(grad) member {b}, argnum {i}", rtol, floor * (1 + case.abs_loss))


def _float_outputs(case: Case):
    """f restricted to its float outputs, and those outputs' (index, numpy value)."""
    keep = [is_float_out(np.asarray(o)) for o in case.ref_outs]
    return (lambda *a: tuple(o for o, k in zip(case.f(*a), keep) if k)), \
        [(k, o) for k, o in enumerate(case.ref_outs) if keep[k]]


def check_jac(case: Case):
    fl, outs = _float_outputs(case)
    n_in = sum(np.size(case.args[i]) for i in case.argnums)
    if not case.small or sum(np.size(o) for _, o in outs) * n_in > JAC_MAX_ENTRIES:
        raise Skip("too large for a Jacobian")
    jf = gradjit.jacfwd(fl, argnums=case.argnums)(*case.args)
    jr = gradjit.jacrev(fl, argnums=case.argnums)(*case.args)
    if case.low and not all(np.all(np.isfinite(b)) for rows in (jf, jr) for r in rows for b in r):
        raise Skip("f32 Jacobian overflows")  # an f32 intermediate of a derivative overflowed
    rtol = 1e-4 if case.low else 1e-9
    # zero blocks computed two ways may differ by roundoff: judge them on the whole Jacobian
    atol = rtol * max((np.max(np.abs(b), initial=0.0) for row in jr for b in row), default=0)
    # and a floor for derivatives that are zero but come out as roundoff of the outputs' size
    peak = max((np.max(np.abs(np.asarray(o, np.float64)), initial=0.0) for _, o in outs),
               default=0.0)
    atol += (1e-6 if case.low else 1e-13) * (1 + peak)
    total = 0.0
    for (k, o), row_f, row_r in zip(outs, jf, jr):
        for i, (bf, br, v) in enumerate(zip(row_f, row_r, case.v)):
            # dtypes may differ in mixed programs: jacfwd's blocks take the output's dtype,
            # jacrev's the input's (as in JAX); the values must agree
            close(np.asarray(bf, np.float64), np.asarray(br, np.float64),
                  f"jacfwd vs jacrev block ({k}, {i})", rtol, atol)
            jv = np.tensordot(np.asarray(br, np.float64), np.asarray(v, np.float64),
                              axes=np.ndim(v))
            total += float(np.sum(jv * weight(np.shape(o), k, np.float64)))
    gv = vdot(case.grad, case.v)
    if abs(total - gv) > (1e-3 if case.low else 1e-8) * (abs(gv) + case.abs_loss + 1):
        raise Mismatch(f"sum_k <W_k, J_k v> = {total!r} but <grad, v> = {gv!r}")


def _w_dot_grad(case: Case, backend=None):
    first = case.grad_fn(backend)

    def h(*args):
        return sum(gradjit.numpy.sum(w * g) for w, g in zip(case.w, first(*args)))

    return h


def check_hess(case: Case):
    c = case.wide
    if not case.small:
        raise Skip("too large for a second gradient")
    hh = gradjit.grad(_w_dot_grad(c), argnums=c.argnums)(*c.args)
    h = _w_dot_grad(c)
    scale = vdot(np.abs(np.concatenate([np.ravel(g) for g in c.grad] or [[0.0]])),
                 np.abs(np.concatenate([np.ravel(w) for w in c.w] or [[0.0]])))
    def phi(t):
        try:
            return float(h(*c.moved(t, c.v)))
        except (IndexError, gradjit.TraceError):
            if t == 0:
                raise
            return float("nan")  # a computed index left its range near the point: a jump

    est = directional(phi, scale + c.abs_loss)
    if not est.smooth:
        raise Skip("second order: " + est.reason)
    got = vdot(hh, c.v)
    if not close_to_estimate(got, est, 1e-6):
        raise Mismatch(f"<grad <w, grad f>, v> = {got!r} but differences of <w, grad f> give "
                       f"{est.value!r} (+- {est.error:.3g})")
    if sum(np.size(c.args[i]) for i in c.argnums) <= HESSIAN_MAX_INPUTS:
        _hessian_agrees(c, got, scale)


def _hessian_agrees(c: Case, want: float, scale: float):
    """hessian (forward over reverse) contracted with w and v == reverse over reverse."""
    blocks = gradjit.hessian(c.loss, argnums=c.argnums)(*c.args)
    total = 0.0
    for w, row in zip(c.w, blocks):
        for v, h in zip(c.v, row):
            hv = np.tensordot(np.asarray(h, np.float64), np.asarray(v, np.float64), np.ndim(v))
            total += float(np.sum(hv * np.asarray(w, np.float64)))
    if abs(total - want) > 1e-8 * (abs(want) + scale + 1):
        raise Mismatch(f"<w, hessian v> = {total!r} (forward over reverse) but "
                       f"<grad <w, grad f>, v> = {want!r} (reverse over reverse)")


# ---- backends -------------------------------------------------------------------------------


def extra_backends() -> list[str]:
    """Backends besides the interpreter that are registered and whose toolchain imports."""
    out = []
    for name in BACKENDS:
        if name == "interp" or (name == "llvm" and importlib.util.find_spec("llvmlite") is None):
            continue
        out.append(name)
    return out


def check_backend(case: Case, name: str):
    """jit and grad (and the second gradient of small programs) on `name` == interpreter.
    An ill-conditioned f32 program is compared as its f64 twin: its f32 results from two
    correct summation orders differ by roundoff amplified past any tolerance (seed 0 program
    1300: three cos(s) * s steps on s ~ 100 turn 1e-7 into 1e-2, in numpy as in LLVM)."""
    if case.low and case.conditioning > 1e-4:
        case = case.wide
    case.compare_outs(gradjit.jit(case.f, backend=name)(*case.args), f"{name} jit", rtol=1e-9)
    got = list(case.grad_fn(name)(*case.args))
    _grad_types(case, got, f"{name} gradient")
    rtol, floor = (1e-4, 1e-6) if case.low else (1e-8, 1e-12)
    floor *= 1 + case.abs_loss  # zero derivatives may come out as roundoff of the loss' size
    for i, (g, want) in enumerate(zip(got, case.grad)):
        if case.low:  # f32: as close to the f64 gradient as the interpreter's f32 one is (two
            # summation orders differ by roundoff, which ill-conditioned programs amplify)
            low_precision_close(g, want, case.wide.grad[i], f"{name} f32 gradient of argnum "
                                f"{i}", floor=1e-4, atol=floor)
            continue
        close(np.asarray(g, np.float64), np.asarray(want, np.float64),
              f"{name} gradient of argnum {i}", rtol, floor)
    if case.small and not case.low:
        args = case.args
        want = gradjit.grad(_w_dot_grad(case), argnums=case.argnums, backend="interp")(*args)
        got = gradjit.grad(_w_dot_grad(case, name), argnums=case.argnums, backend=name)(*args)
        for i, (g, w) in enumerate(zip(got, want)):
            close(np.float64(g), np.float64(w), f"{name} second gradient {i}", 1e-8, floor)


# every program: IR (verifier after each pass, round trips), interpreter, gradient vs differences
CHECKS = {"ir": check_ir, "interp": check_interp, "grad": check_grad}
# the other transforms, on every program of `make fuzz` and every k-th one of the test suite
EXTRA_CHECKS = {"jvp": check_jvp, "vjp": check_vjp, "vmap": check_vmap, "jac": check_jac,
                "hess": check_hess}
CHECKS.update(EXTRA_CHECKS)


def check_names(backends=(), extra=True) -> list[str]:
    core = [n for n in CHECKS if extra or n not in EXTRA_CHECKS]
    return core + [f"backend:{b}" for b in backends]


@contextmanager
def on_backend(name: str):
    """Transforms that take no backend argument (jvp, vmap) pick theirs from GRADJIT_BACKEND."""
    old = os.environ.get("GRADJIT_BACKEND")
    os.environ["GRADJIT_BACKEND"] = name
    try:
        yield
    finally:
        if old is None:
            del os.environ["GRADJIT_BACKEND"]
        else:
            os.environ["GRADJIT_BACKEND"] = old


def run_check(case: Case, name: str):
    """One check: the core ones on the interpreter, `backend:<name>` on that backend."""
    backend = name.split(":", 1)[1] if name.startswith("backend:") else "interp"
    with on_backend(backend):
        if name.startswith("backend:"):
            return check_backend(case, backend)
        return CHECKS[name](case)


def check_program(f, f_ref, args, argnums, check: str):
    """Run one check on a program given as functions (what a reproducer calls)."""
    try:
        run_check(Case(f, f_ref, args, argnums), check)
    except Skip as s:
        raise AssertionError(f"check {check!r} did not run here: {s}") from None
