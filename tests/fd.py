"""Central finite differences, and the check that reverse mode agrees with them.

A reverse-mode derivative is checked in one random direction at a time: for f, a cotangent u
and a direction v, `<J v, u>` from finite differences must equal `<v, Jᵀ u>` from the VJP.
"""

from __future__ import annotations

import numpy as np

EPS64 = np.finfo(np.float64).eps
ROUNDING = 100  # f itself carries a few ulps of error, amplified 1/h by differencing


def vdot(a, b) -> float:
    """<a, b> in f64, for arrays of any float dtype and shape (0-d included)."""
    return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


def with_arg(args, i, x) -> list:
    out = list(args)
    out[i] = np.asarray(x, dtype=args[i].dtype)
    return out


def directional(f, args, i, v, h) -> np.ndarray:
    """(f(x + h v) - f(x - h v)) / 2h with only argument i moved; f returns one array."""
    x = np.asarray(args[i], np.float64)
    plus = np.asarray(f(*with_arg(args, i, x + h * v)), np.float64)
    minus = np.asarray(f(*with_arg(args, i, x - h * v)), np.float64)
    return (plus - minus) / (2 * h)


def assert_adjoint(f, args, i, v, u, ad, h, rtol, what) -> None:
    """<J_i v, u> by central differences (step h) equals <v, ad> where ad = J_iᵀ u.

    The tolerance is relative to the size of the terms summed on each side (so a wrong rule on
    a single element of a large tensor still fails while cancellation in the sum does not),
    plus the rounding error of differencing f (~ eps <|u|, |f|> / h) and an estimate of the
    truncation error.
    """
    jv = directional(f, args, i, v, h)
    fd_value, ad_value = vdot(jv, u), vdot(v, ad)
    size = vdot(np.abs(jv), np.abs(u))
    noise = ROUNDING * EPS64 / h * vdot(np.abs(f(*args)), np.abs(u))
    # Richardson: the O(h^2) truncation error is about a third of D(2h) - D(h); it dominates
    # where the derivative itself vanishes (so a relative tolerance alone is too tight)
    truncation = vdot(np.abs(directional(f, args, i, v, 2 * h) - jv), np.abs(u))
    bound = rtol * (abs(fd_value) + abs(ad_value) + size) + noise + truncation
    assert abs(fd_value - ad_value) <= bound, (
        f"{what}, argument {i}: finite differences give <J v, u> = {fd_value!r}, reverse "
        f"mode gives <v, J^T u> = {ad_value!r} (|difference| {abs(fd_value - ad_value):.3g} "
        f"> tolerance {bound:.3g})")
