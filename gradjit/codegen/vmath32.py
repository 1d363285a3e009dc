"""f32 kernels computed in f32: exp, expm1, log, log1p and tanh, on 8 floats per AVX2 vector
where the f64 kernels (vmath) fit 4 doubles. Other functions run vmath's f64 kernel and round
once.

They cover the whole f32 range themselves, with no libm path: exp and expm1 clamp their argument
to where the f32 result no longer changes, and scale by 2^n in two steps (a subnormal result
rounds once, 2^128 is never formed); tanh is 1.0 in f32 beyond |x| = 9.02. Polynomials are
Cephes' (expf, logf, tanhf) or Taylor's (e^r - 1). All five are within 1 ulp of the correctly
rounded value (measured on 6e5-9e5 arguments each; tests/test_codegen_vmath.py asserts it).
"""

from __future__ import annotations

import math

LOG2E = 1.4426950408889634
LN2_HI, LN2_LO = 0.693359375, -2.12194440e-4  # ln 2 = HI + LN2_LO: n * HI is exact
EXP_Q = [5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3,
         1.3981999507e-3, 1.9875691500e-4]  # e^r = 1 + r + r^2 q(r), |r| <= ln2/2
EXPM1_Q = [1.0 / f for f in (2, 6, 24, 120, 720, 5040)]  # e^r - 1 = r + r^2 q(r)
LOG_P = [3.3333331174e-1, -2.4999993993e-1, 2.0000714765e-1, -1.6668057665e-1,
         1.4249322787e-1, -1.2420140846e-1, 1.1676998740e-1, -1.1514610310e-1,
         7.0376836292e-2]  # log(1 + f) = f - f^2/2 + f^3 p(f), f in [sqrt(1/2) - 1, sqrt(2) - 1)
EXPM1_SMALL = [1.0 / math.factorial(n) for n in range(2, 11)]  # e^x - 1 = x + x^2 p(x)
TANH_P = [-3.33332819422e-1, 1.33314422036e-1, -5.37397155531e-2, 2.06390887954e-2,
          -5.70498872745e-3]  # tanh x = x + x^3 p(x^2), |x| < 0.625
SMALLEST_NORMAL = 1.17549435e-38


def _reduce(k, x):
    """(n as i32, r) with x = n ln2 + r, |r| <= ln2/2."""
    n, ni = k.round_int(k.mul(x, k.c(LOG2E)))
    return ni, k.fma(n, k.c(-LN2_LO), k.fma(n, k.c(-LN2_HI), x))


def exp(k, x):
    # e^x is inf in f32 from x = 88.73 and rounds to 0 below -103.97; NaN passes the clamps
    x = k.sel(k.gt(x, k.c(89.0)), k.c(89.0), k.sel(k.lt(x, k.c(-104.0)), k.c(-104.0), x))
    ni, r = _reduce(k, x)
    p = k.add(k.c(1.0), k.fma(k.mul(r, r), k.poly(r, EXP_Q), r))
    half = k.b.ashr(ni, k.i(1))  # 2^n in two normal halves: n runs from -150 to 128
    return k.mul(k.mul(p, k.pow2(half)), k.pow2(k.b.sub(ni, half)))


def tanh(k, x):
    # |x| < 0.625: Cephes' odd polynomial. Beyond, tanh|x| = e/(e+2), e = e^(2|x|) - 1 =
    # 2^n (e^r - 1) + (2^n - 1); past |x| = 10 both are 1.0 in f32, so 2|x| is clamped to 20
    # (NaN passes every step; the sign, -0's too, is x's by copysign)
    a = k.abs(x)
    a = k.sel(k.gt(a, k.c(10.0)), k.c(10.0), a)
    ni, r = _reduce(k, k.add(a, a))
    s = k.pow2(ni)
    e = k.fma(s, k.fma(k.mul(r, r), k.poly(r, EXPM1_Q), r), k.sub(s, k.c(1.0)))
    z = k.mul(a, a)
    y = k.sel(k.lt(a, k.c(0.625)), k.fma(k.mul(z, a), k.poly(z, TANH_P), a),
              k.div(e, k.add(e, k.c(2.0))))
    return k.call("llvm.copysign", y, x)


def log(k, x):
    """Cephes' logf: x = 2^e m, m in [sqrt(1/2), sqrt(2)), with no division."""
    b = k.b
    sub = k.lt(x, k.c(SMALLEST_NORMAL))  # subnormal (or <= 0): scale up by 2^25
    bits = k.bits(k.sel(sub, k.mul(x, k.c(33554432.0)), x))
    e = b.sub(b.and_(b.lshr(bits, k.i(23)), k.i(0xFF)), k.i(127))
    e = b.sub(e, b.select(sub, k.i(25), k.i(0)))
    m = k.from_bits(b.or_(b.and_(bits, k.i(0x007FFFFF)), k.i(0x3F800000)))
    big = k.gt(m, k.c(1.4142135623730951))
    m = k.sel(big, k.mul(m, k.c(0.5)), m)
    ef = b.sitofp(b.add(e, b.zext(big, k.I)), k.F)
    f = k.sub(m, k.c(1.0))
    z = k.mul(f, f)
    y = k.fma(ef, k.c(LN2_LO), k.mul(k.mul(f, z), k.poly(f, LOG_P)))
    y = k.fma(z, k.c(-0.5), y)
    return log_specials(k, x, k.fma(ef, k.c(LN2_HI), k.add(f, y)))


def log1p_by(k, x, log_kernel):
    """log(1 + x) by `log_kernel` (either precision's log): log(u) + (x - (u - 1)) / u
    corrects the rounding of u = 1 + x (Goldberg's trick)."""
    u = k.add(k.c(1.0), x)
    y = k.add(log_kernel(k, u), k.div(k.sub(x, k.sub(u, k.c(1.0))), u))
    y = k.sel(k.eq(u, k.c(1.0)), x, y)
    y = k.sel(k.eq(x, k.c(-1.0)), k.c(float("-inf")), y)
    y = k.sel(k.eq(x, k.c(float("inf"))), x, y)
    return k.sel(k.isnan(x), x, y)


def expm1(k, x):
    # |x| < 0.7: Taylor's series to x^10 (the reduced form below loses bits to cancellation
    # for n = 1 and r < 0). Beyond: 2 (h (e^r - 1) + (h - 1/2)), h = 2^(n-1), one rounding
    # in the fma and h finite up to n = 128. e^x - 1 is -1 in f32 below x = -17.33 and
    # overflows from 88.73, so x is clamped to [-18, 89]; NaN passes, -0 is kept.
    xc = k.sel(k.gt(x, k.c(89.0)), k.c(89.0), k.sel(k.lt(x, k.c(-18.0)), k.c(-18.0), x))
    ni, r = _reduce(k, xc)
    h = k.pow2(k.b.sub(ni, k.i(1)))
    em1 = k.fma(k.mul(r, r), k.poly(r, EXPM1_Q), r)
    y = k.mul(k.c(2.0), k.fma(h, em1, k.sub(h, k.c(0.5))))
    small = k.fma(k.mul(x, x), k.poly(x, EXPM1_SMALL), x)
    y = k.sel(k.lt(k.abs(x), k.c(0.7)), small, y)
    return k.sel(k.b.fcmp_unordered("ueq", x, k.c(0.0)), x, y)


def log_specials(k, x, y):
    """log's value at 0, negatives, inf and NaN (either precision)."""
    y = k.sel(k.eq(x, k.c(0.0)), k.c(float("-inf")), y)
    y = k.sel(k.lt(x, k.c(0.0)), k.c(float("nan")), y)
    y = k.sel(k.eq(x, k.c(float("inf"))), x, y)
    return k.sel(k.isnan(x), x, y)


KERNELS = {"exp": exp, "expm1": expm1, "log": log, "log1p": lambda k, x: log1p_by(k, x, log),
           "tanh": tanh}
