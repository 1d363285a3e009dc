"""The coefficients of codegen/vmath.py's erf_for_f32: least-squares polynomial fits on
Chebyshev nodes, in f64, against math.erf and math.erfc. Prints them and their largest error on
a fine grid (run: python scripts/fit_erf32.py; the kernel's ulp test is in
tests/test_codegen_vmath.py).

    erf(x) = x + x P(x^2)          for |x| < SMALL (P: degree 6)
    erf(x) = 1 - exp(Q(|x| - MID))  for SMALL <= |x| <= ONE (Q: degree 11, fit to log erfc)
"""

from __future__ import annotations

import math

import numpy as np

SMALL, MID, ONE = 0.921875, 2.42, 3.92


def chebyshev_nodes(lo: float, hi: float, n: int = 6000) -> np.ndarray:
    return (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (np.arange(n) + 0.5) / n)


def fit(xs: np.ndarray, ys: np.ndarray, degree: int) -> np.ndarray:
    """Coefficients, lowest power first."""
    return np.linalg.lstsq(np.vander(xs, degree + 1, increasing=True), ys, rcond=None)[0]


def main() -> None:
    erf, erfc = np.vectorize(math.erf), np.vectorize(math.erfc)
    zs = chebyshev_nodes(0.0, SMALL * SMALL)
    xs = np.sqrt(zs)
    p = fit(zs, (erf(xs) - xs) / xs, 6)  # (the nodes avoid x = 0)
    ts = chebyshev_nodes(SMALL, ONE)
    q = fit(ts - MID, np.log(erfc(ts)), 11)
    grid = np.linspace(1e-6, SMALL, 200001)
    small = np.max(np.abs(grid + grid * np.polyval(p[::-1], grid * grid) - erf(grid)) / erf(grid))
    grid = np.linspace(SMALL, ONE, 200001)
    tail = np.max(np.abs(np.polyval(q[::-1], grid - MID) - np.log(erfc(grid))))
    print("ERF32_P =", [float(c) for c in p])
    print("ERF32_Q =", [float(c) for c in q])
    print(f"largest error: {small:.2g} (relative, erf), {tail:.2g} (absolute, log erfc)")


if __name__ == "__main__":
    main()
