"""Comparing arrays the fuzzer computed two ways, with tolerances that respect conditioning.

f64 results must agree to ~1e-10 relative to the output's scale. f32 results cannot be held to
a fixed tolerance after a 200-op chain, so they are judged against an f64 run of the same
program: gradjit's f32 error may be at most a few times numpy's own f32 error on it.
"""

from __future__ import annotations

import numpy as np


class Mismatch(AssertionError):
    """Two computations of the same thing disagree (a bug, unless the oracle is wrong)."""


def _describe(got, want) -> str:
    got, want = np.asarray(got), np.asarray(want)
    return f"{got.dtype}{list(got.shape)} vs {want.dtype}{list(want.shape)}"


def same_type(got, want, what: str):
    got_a, want_a = np.asarray(got), np.asarray(want)
    if got_a.shape != want_a.shape or got_a.dtype != want_a.dtype:
        raise Mismatch(f"{what}: type differs: got {_describe(got, want)}")


def _worst(got, want, tol):
    bad = np.abs(got - want) > tol
    i = np.unravel_index(np.argmax(np.where(bad, np.abs(got - want), -1)), got.shape)
    return f"at {tuple(int(j) for j in i)}: {got[i]!r} vs {want[i]!r} (tolerance {tol[i]:.3g})"


def close(got, want, what: str, rtol: float = 1e-10, atol: float = 0.0):
    """|got - want| <= rtol (|want| + max |want|) + atol elementwise; ints and bools exactly."""
    same_type(got, want, what)
    got, want = np.asarray(got), np.asarray(want)
    if want.size == 0:
        return
    if want.dtype.kind != "f":
        if not np.array_equal(got, want):
            raise Mismatch(f"{what}: values differ at {np.argwhere(got != want)[0].tolist()}")
        return
    g, w = got.astype(np.float64), want.astype(np.float64)
    if not np.array_equal(np.isfinite(g), np.isfinite(w)):
        raise Mismatch(f"{what}: non-finite values differ: {g!r} vs {w!r}")
    g, w = np.where(np.isfinite(g), g, 0), np.where(np.isfinite(w), w, 0)
    tol = rtol * (np.abs(w) + np.max(np.abs(w))) + atol + 1e-300
    if np.any(np.abs(g - w) > tol):
        raise Mismatch(f"{what}: {_worst(g, w, tol)}")


def low_precision_close(got, want, wide, what: str, factor: float = 20.0, floor: float = 1e-5,
                        atol: float = 0.0):
    """An f32 result `got` against numpy's own f32 result `want` and the f64 result `wide`:
    max |got - wide| <= factor * max |want - wide| + floor * max |wide| + atol."""
    same_type(got, want, what)
    got, want = np.asarray(got), np.asarray(want)
    if want.size == 0 or want.dtype.kind != "f":
        return  # integer results of an f32 program may flip where values nearly tie
    g, w, x = (np.asarray(a, np.float64) for a in (got, want, wide))
    numpy_error = np.max(np.abs(w - x))
    tol = factor * numpy_error + floor * np.max(np.abs(x)) + atol + 1e-30
    if np.max(np.abs(g - x)) > tol:
        raise Mismatch(f"{what}: f32 error {np.max(np.abs(g - x)):.3g} > {tol:.3g} (numpy's "
                       f"own f32 error {numpy_error:.3g}; {_worst(g, x, np.full(g.shape, tol))})")


def relative_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if want.size == 0:
        return 0.0
    return float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-30))
