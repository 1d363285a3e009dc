"""Directional derivatives by finite differences that tell a kink from a wrong gradient.

`directional(phi)` estimates phi'(0) for a scalar function phi(t) = f(x + t v) with 4th-order
(Richardson) central differences at two step sizes h1 > h2. Smoothness is decided from the
differences themselves, never from the gradient under test:

- a kink or tie between the sample points makes the two estimates disagree;
- a kink exactly at t = 0 leaves them equal (both see the same one-sided slopes) but makes the
  second difference grow like 1/h, so the second differences at h1 and h2 disagree.

Either way the estimate is reported as not smooth and the caller skips the comparison (the
program is still run and checked otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

H1, H2 = 1e-4, 1.25e-5
EPS = 2.2e-16


@dataclass
class Estimate:
    value: float  # phi'(0) by the finer step
    error: float  # how far the estimate may be off (disagreement of the two steps + rounding)
    smooth: bool
    reason: str = ""


def _richardson(phi, h: float, f0: float):
    fp1, fm1, fp2, fm2 = phi(h), phi(-h), phi(2 * h), phi(-2 * h)
    d1 = (fp1 - fm1) / (2 * h)
    d2 = (fp2 - fm2) / (4 * h)
    second = (fp1 - 2 * f0 + fm1) / (h * h)
    return (4 * d1 - d2) / 3, second, max(map(abs, (fp1, fm1, fp2, fm2)))


def directional(phi, magnitude: float = 0.0) -> Estimate:
    """phi'(0) of a scalar function; `magnitude` bounds the size of the terms phi sums (its
    rounding error is about EPS * magnitude), when it is larger than |phi| itself."""
    f0 = float(phi(0.0))
    r1, s1, m1 = _richardson(phi, H1, f0)
    r2, s2, m2 = _richardson(phi, H2, f0)
    values = [f0, r1, r2, s1, s2]
    if not all(np.isfinite(values)):
        return Estimate(float("nan"), float("inf"), False, "not finite near the point")
    noise = 64 * EPS * max(magnitude, m1, m2, abs(f0), 1e-300)
    error = abs(r1 - r2) + noise / H2
    # a kink at t = 0 makes the second difference grow like 1/h (by H1/H2 = 8 here)
    curvature_noise = 4 * noise / (H2 * H2)
    if abs(s2 - s1) > 0.25 * max(abs(s1), abs(s2)) + curvature_noise:
        jump = abs(s2 - s1) * H2
        if jump > 1e-9 * (abs(r2) + 1):
            return Estimate(r2, error, False, "kink at the point")
    if abs(r1 - r2) > 1e-7 * (abs(r2) + 1e-3) + 32 * noise / H2:
        return Estimate(r2, error, False, "kink near the point")
    return Estimate(r2, error, True)


def close_to_estimate(got: float, est: Estimate, rtol: float, scale: float = 0.0) -> bool:
    """Whether `got` agrees with a smooth estimate, within its error and rtol."""
    tol = 16 * est.error + rtol * (abs(est.value) + abs(got) + scale)
    return abs(got - est.value) <= tol
