"""The checks every fuzz program goes through, on a `Case`: a traced spelling `f`, its numpy
reference `f_ref`, example args and the argnums to differentiate.

Checks, in order (each a function `check_<name>(case)`; the first failure ends the program):

    ir       trace; verifier after every pass; text round trip of primal and gradient IR
    interp   interpreter on the traced Function and jit(f) == plain numpy (f64 ~1e-10)
    grad     gradient structure/dtypes; <grad, v> == central differences where smooth
    jvp      forward mode: jvp tangent == <v, grad>
    vjp      vjp(f) pulled back from the loss weights == grad of the loss
    vmap     vmap(f), vmap(grad loss) over stacked copies of the array args == each copy
    jac      jacfwd == jacrev, and sum_k <W_k, J_k v> == <v, grad>      (small programs)
    hess     grad <w, grad f> against differences of <w, grad f>, and hessian (forward over
             reverse) contracted with w and v against it                   (small programs)
    backend:<name>   jit/grad (and hess on small programs) on that backend == interpreter

The loss differentiated is sum_k <o_k, W_k> over f's float outputs o_k, with fixed weights W_k.
Core checks run on the interpreter (GRADJIT_BACKEND=interp while they run).
Programs with f32 in them are also run as f64 ("wide"): derivatives are checked there against
finite differences, and the f32 run against the wide one, gated by how well conditioned it is.
"""

from __future__ import annotations

import types
from functools import cached_property

import numpy as np

import gradjit

from .compare import Mismatch, close, low_precision_close, relative_error

JAC_MAX_ENTRIES = 3000  # jac runs when outputs x inputs is at most this
SMALL_BODY = 150  # jac and hess run on programs whose traced Function is at most this long


class Skip(Exception):
    """The check does not apply at this point (e.g. a kink within the finite-difference step)."""


# ---- the loss and the wide (f64) twin --------------------------------------------------------


def weight(shape, k: int, dtype):
    """The fixed weight array W_k of output k (deterministic, nonzero, varied)."""
    size = int(np.prod(shape, dtype=np.int64))
    return (np.cos(np.arange(size, dtype=np.float64).reshape(shape) * 0.7 + 0.3 * k + 0.1)
            .astype(dtype))


def is_float_out(o) -> bool:
    return np.dtype(o.dtype).kind == "f"


def loss_of(f):
    def loss(*args):
        total = 0.0
        for k, o in enumerate(f(*args)):
            if is_float_out(o):
                total = total + np.sum(o * weight(o.shape, k, o.dtype))
        return total

    return loss


def with_globals(fn, **names):
    """fn with some of its globals replaced (F32 -> float64 gives the wide twin)."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, **names}, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def widen(x):
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype == np.float32:
        return np.asarray(x, np.float64)
    return x


def vdot(a, b) -> float:
    return float(sum(np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64))
                     for x, y in zip(a, b)))


class Case:
    def __init__(self, f, f_ref, args, argnums, seed: int = 0):
        self.f, self.f_ref, self.args = f, f_ref, tuple(args)
        self.argnums = tuple(argnums)
        self.loss, self.loss_ref = loss_of(f), loss_of(f_ref)
        # f32 anywhere (an argument, or a cast to F32 inside) makes the program low precision
        self.low = "F32" in f.__code__.co_names or any(
            isinstance(a, (np.ndarray, np.generic)) and a.dtype == np.float32 for a in self.args)
        rng = np.random.default_rng(seed)
        self.v = [self._draw(rng, self.args[i]) for i in self.argnums]
        self.w = [self._draw(rng, self.args[i]) for i in self.argnums]

    @staticmethod
    def _draw(rng, x):
        if type(x) is float:
            return float(rng.normal())
        return rng.normal(size=np.shape(x)).astype(np.asarray(x).dtype)

    @cached_property
    def wide(self) -> Case:
        if not self.low:
            return self
        f64 = np.float64
        twin = Case(with_globals(self.f, F32=f64), with_globals(self.f_ref, F32=f64),
                    [widen(a) for a in self.args], self.argnums)
        twin.low = False
        twin.v, twin.w = [widen(x) for x in self.v], [widen(x) for x in self.w]
        return twin

    @cached_property
    def ref_outs(self) -> list:
        with np.errstate(all="ignore"):
            return list(self.f_ref(*self.args))

    @cached_property
    def abs_loss(self) -> float:
        """sum_k sum |o_k W_k|: the size of the terms the loss adds (its rounding scale)."""
        return float(sum(np.sum(np.abs(np.asarray(o, np.float64) * weight(np.shape(o), k,
                                                                          np.float64)))
                         for k, o in enumerate(self.ref_outs) if is_float_out(np.asarray(o))))

    @cached_property
    def traced(self):
        return gradjit.trace(self.f, *self.args)

    def grad_fn(self, backend="interp"):
        """grad of the loss (one transform per backend, so its trace cache serves every use)."""
        cache = self.__dict__.setdefault("_grad_fns", {})
        if backend not in cache:
            cache[backend] = gradjit.grad(self.loss, argnums=self.argnums, backend=backend)
        return cache[backend]

    @cached_property
    def grad(self) -> list:
        return list(self.grad_fn()(*self.args))

    def moved(self, t: float, direction) -> tuple:
        """The args with the differentiated ones moved by t * direction."""
        out = list(self.args)
        for i, d in zip(self.argnums, direction):
            x = out[i]
            out[i] = x + t * d if type(x) is float else \
                np.asarray(x + t * np.asarray(d, np.float64), dtype=x.dtype)
        return tuple(out)

    def loss_ref_at(self, t: float) -> float:
        with np.errstate(all="ignore"):
            if t == 0:
                return float(self.loss_ref(*self.args))
            try:
                return float(self.loss_ref(*self.moved(t, self.v)))
            except IndexError:  # a computed index left its range: a jump, not a bug
                return float("nan")

    @cached_property
    def small(self) -> bool:
        return len(self.traced.body) <= SMALL_BODY

    @cached_property
    def conditioning(self) -> float:
        """numpy's own relative f32 error on this program (0 for f64 programs)."""
        if not self.low:
            return 0.0
        errs = [relative_error(o, w) for o, w in zip(self.ref_outs, self.wide.ref_outs)
                if is_float_out(np.asarray(o))]
        return max(errs, default=0.0)

    def ref_at(self, args) -> tuple[list, list]:
        """numpy's outputs at other args, and the wide twin's (the same list for f64)."""
        with np.errstate(all="ignore"):
            try:
                outs = list(self.f_ref(*args))
            except IndexError:
                raise Skip("a computed index leaves its range at the moved point") from None
            wide = list(self.wide.f_ref(*[widen(a) for a in args])) if self.low else outs
        return outs, wide

    def compare_outs(self, got, what: str, rtol=1e-10, want=None):
        """gradjit's outputs against numpy's (at the example args, or `want` from ref_at)."""
        got = list(got)
        want, wide = want or (self.ref_outs, self.wide.ref_outs)
        if len(got) != len(want):
            raise Mismatch(f"{what}: {len(got)} outputs, numpy gives {len(want)}")
        for k, (g, w) in enumerate(zip(got, want)):
            if self.low:
                low_precision_close(g, w, wide[k], f"{what} output {k}")
            else:
                close(g, w, f"{what} output {k}", rtol)

    def compare_low(self, got, want, what: str):
        """An f32 derivative against the wide one. Only a sanity check: f32 derivatives can be
        far less accurate than f32 values (1 - tanh(x)^2 from a saturated tanh), so the bound
        is loose, and ill-conditioned programs (numpy's own f32 run off by 1e-4) are skipped."""
        if self.conditioning > 1e-4:
            raise Skip(f"f32 program too ill-conditioned ({self.conditioning:.2g}) to compare")
        rtol = max(0.03, 1000 * self.conditioning)
        for k, (g, w) in enumerate(zip(got, want)):
            g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
            err = float(np.max(np.abs(g - w), initial=0.0))
            # (+ 1e-30: f32 flushes what f64 still resolves, such as 1e-83, to zero)
            tol = rtol * float(np.max(np.abs(w), initial=0.0)) + 1e-4 * self.abs_loss + 1e-30
            if err > tol:
                raise Mismatch(f"{what} {k}: f32 error {err:.3g} > {tol:.3g}")
