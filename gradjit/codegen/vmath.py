"""Vectorizable transcendental kernels written in LLVM IR.

With no vector math library reachable from llvmlite, `llvm.exp.v8f64` would become eight scalar
libm calls. These kernels are straight-line f64 code (range reduction, polynomial, bit tricks,
selects for special values), marked alwaysinline, so the loop vectorizer widens them like any
arithmetic. f32 runs vmath32's f32 kernel (exp, expm1, log, log1p, tanh) or an f64 kernel
rounded once (erf's made for f32 results: F32_IN_F64). sin/cos are fast only for |x| <= 1e5
and exp for |x| <= 708 (beyond, and NaN for exp: libm; SLOW_PATH): a big loop computing them
runs first with the fast kernels (no call: it vectorizes) while noting whether any lane was
beyond; only then it runs again with the exact ones, which call libm per lane
(Emitter.emit_group; a predicated call kept loops scalar, 5x slower). Small loops call the
library's exact kernels (vmath_lib). Polynomials are fdlibm's, except the fast exp's (EXP_Q);
the measured ulp bounds are asserted in tests/test_codegen_vmath.py.
"""

from __future__ import annotations

import functools
import struct

from llvmlite import ir

from . import vmath32
from .vmath32 import log1p_by, log_specials
from .loops import branch_value
from .ltypes import F32, F64, I1, I32, I64

# 1.5 * 2^52: adding it rounds |t| < 2^51 to an integer, held in the low mantissa bits
MAGIC = 6755399441055744.0
LN2_HI, LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
LOG2E, TWO_OVER_PI = 1.4426950408889634, 0.6366197723675814
PIO2 = (1.5707963267948966, 6.123233995736766e-17, -1.4973849048591698e-33)
TRIG_LIMIT = 1e5
EXP_LIMIT = 708.0  # e^x and 2^round(x/ln2) are normal numbers for |x| <= this
EXP_TAYLOR = [1.0 / f for f in (1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800,
                                39916800, 479001600, 6227020800)]
# e^r = 1 + r + r^2 q(r) on |r| <= ln2/2: q a degree-9 Chebyshev fit computed in long double
# (4 fewer terms than Taylor's, q within 1e-15 relative; used by the fast exp only: expm1, whose
# result is r-sized, keeps Taylor's terms)
EXP_Q = [0.5000000000000001, 0.1666666666666672, 0.04166666666662632, 0.00833333333326055,
         0.0013888888916157415, 0.00019841270099613952, 2.4801522879647192e-05,
         2.755697584909956e-06, 2.7619361976199554e-07, 2.5219293313142247e-08]
LG = [6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
      2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
      1.479819860511658591e-01]
SIN = [-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
       2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10]
COS = [4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
       -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11]


def f64_bits(v: float) -> int:
    return struct.unpack("<q", struct.pack("<d", v))[0]


# per float type: (LLVM float type, integer of its width, mantissa bits, exponent bias, the
# round-to-integer constant 1.5 * 2^mantissa bits and its bit pattern)
MAGIC32 = 12582912.0
FLOATS = {"f64": (F64, I64, 52, 1023, MAGIC, f64_bits(MAGIC)),
          "f32": (F32, I32, 23, 127, MAGIC32, struct.unpack("<i", struct.pack("<f", MAGIC32))[0])}


class K:
    """A tiny expression builder over an IRBuilder (keeps the kernels readable), on doubles
    or (dtype="f32") floats; with lanes > 1 it builds the same kernel on <lanes x type>
    (vmath_lib's vector variants)."""

    def __init__(self, b: ir.IRBuilder, module: ir.Module, lanes: int = 1,
                 dtype: str = "f64"):
        self.b, self.m, self.lanes, self.dtype = b, module, lanes, dtype
        vec = (lambda t: t) if lanes == 1 else (lambda t: ir.VectorType(t, lanes))
        fty, ity, self.mantissa, self.bias, self.magic, self.magic_bits = FLOATS[dtype]
        self.F, self.I, self.I1 = vec(fty), vec(ity), vec(I1)

    def _const(self, ty, v):
        return ir.Constant(ty, v if self.lanes == 1 else [v] * self.lanes)

    def c(self, v: float):
        return self._const(self.F, v)

    def i(self, v: int):
        return self._const(self.I, v)

    def add(self, x, y): return self.b.fadd(x, y)  # noqa: E704
    def sub(self, x, y): return self.b.fsub(x, y)  # noqa: E704
    def mul(self, x, y): return self.b.fmul(x, y)  # noqa: E704
    def div(self, x, y): return self.b.fdiv(x, y)  # noqa: E704

    def call(self, intrinsic, *xs):
        suffix = self.dtype if self.lanes == 1 else f"v{self.lanes}{self.dtype}"
        name = f"{intrinsic}.{suffix}"
        f = self.m.globals.get(name) or ir.Function(
            self.m, ir.FunctionType(self.F, [self.F] * len(xs)), name)
        return self.b.call(f, xs)

    def fma(self, x, y, z):
        return self.call("llvm.fma", x, y, z)

    def abs(self, x):
        return self.call("llvm.fabs", x)

    def sel(self, cond, x, y):
        return self.b.select(cond, x, y)

    def lt(self, x, y): return self.b.fcmp_ordered("<", x, y)  # noqa: E704
    def gt(self, x, y): return self.b.fcmp_ordered(">", x, y)  # noqa: E704
    def eq(self, x, y): return self.b.fcmp_ordered("==", x, y)  # noqa: E704
    def isnan(self, x): return self.b.fcmp_unordered("uno", x, x)  # noqa: E704

    def bits(self, x):
        return self.b.bitcast(x, self.I)

    def from_bits(self, n):
        return self.b.bitcast(n, self.F)

    def poly(self, x, coeffs):
        """coeffs[0] + coeffs[1] x + ... by Estrin's scheme: pairs c0 + c1 x, then pairs of
        pairs in x^2, x^4, ...; a dependency chain of log2(n) fmas instead of Horner's n."""
        terms = [self.c(a) for a in coeffs]
        power = x
        while len(terms) > 1:
            pairs = [self.fma(hi, power, lo) for lo, hi in zip(terms[::2], terms[1::2])]
            terms = pairs + terms[len(pairs) * 2:]
            if len(terms) > 1:
                power = self.mul(power, power)
        return terms[0]

    def round_int(self, t):
        """(nearest integer as a float, as an integer) of t, |t| < 2^51 (f32: 2^22), without
        fptosi (vectorizes)."""
        shifted = self.add(t, self.c(self.magic))
        n_int = self.b.sub(self.bits(shifted), self.i(self.magic_bits))
        return self.sub(shifted, self.c(self.magic)), n_int

    def pow2(self, k):
        """2**k for an integer k in [-1022, 1023] (f32: [-126, 127])."""
        return self.from_bits(self.b.shl(self.b.add(k, self.i(self.bias)), self.i(self.mantissa)))


# ---- kernels (each: K, x -> result) -------------------------------------------------------


def _exp_core(k: K, x):
    """e^x for x clamped to [-746, 710]; the 2^n scale is applied in two halves so results
    in the subnormal range round once and overflow happens only at the very end."""
    x = k.sel(k.gt(x, k.c(710.0)), k.c(710.0), k.sel(k.lt(x, k.c(-746.0)), k.c(-746.0), x))
    n, ni = k.round_int(k.mul(x, k.c(LOG2E)))
    r = k.fma(n, k.c(-LN2_LO), k.fma(n, k.c(-LN2_HI), x))
    p = k.poly(r, EXP_TAYLOR)
    half = k.b.ashr(ni, k.i(1))
    return k.mul(k.mul(p, k.pow2(half)), k.pow2(k.b.sub(ni, half)))


def exp(k: K, x):
    """e^x for |x| <= EXP_LIMIT, where 2^n is a normal number: one scaling step and no clamps
    (the caller takes libm's value beyond, and for NaN: SLOW_PATH). 1.2 ulp measured against
    long double; the clamped _exp_core measured 2.1."""
    n, ni = k.round_int(k.mul(x, k.c(LOG2E)))
    r = k.fma(n, k.c(-LN2_LO), k.fma(n, k.c(-LN2_HI), x))
    return k.mul(k.add(k.c(1.0), k.fma(k.mul(r, r), k.poly(r, EXP_Q), r)), k.pow2(ni))


def _expm1_small(k: K, r):
    """e^r - 1 for |r| <= ln2/2: r + r^2 (1/2 + r/6 + ...), no cancellation."""
    return k.fma(k.mul(r, r), k.poly(r, EXP_TAYLOR[2:]), r)


def _expm1_mid(k: K, x):
    """e^x - 1 = 2^n (e^r - 1) + (2^n - 1), exact-ish for |x| <= 40."""
    n, ni = k.round_int(k.mul(x, k.c(LOG2E)))
    r = k.fma(n, k.c(-LN2_LO), k.fma(n, k.c(-LN2_HI), x))
    s = k.pow2(ni)
    return k.fma(s, _expm1_small(k, r), k.sub(s, k.c(1.0)))


def expm1(k: K, x):
    # _expm1_mid for |x| <= 40; beyond, e^x or -1
    xc = k.sel(k.gt(x, k.c(40.0)), k.c(40.0), k.sel(k.lt(x, k.c(-40.0)), k.c(-40.0), x))
    mid = _expm1_mid(k, xc)
    out = k.sel(k.gt(x, k.c(40.0)), _exp_core(k, x), k.sel(k.lt(x, k.c(-40.0)), k.c(-1.0), mid))
    return k.sel(k.b.fcmp_unordered("ueq", x, k.c(0.0)), x, out)  # NaN, and -0 keeps its sign


def log(k: K, x):
    """fdlibm's log: x = 2^e m, m in [sqrt(1/2), sqrt(2)); log m from s = f/(2+f)."""
    b = k.b
    sub = k.lt(x, k.c(2.2250738585072014e-308))  # subnormal (or <= 0): scale up by 2^54
    xs = k.sel(sub, k.mul(x, k.c(18014398509481984.0)), x)
    bits = k.bits(xs)
    e = b.sub(b.and_(b.lshr(bits, k.i(52)), k.i(0x7FF)), k.i(1023))
    e = b.sub(e, b.select(sub, k.i(54), k.i(0)))
    m = k.from_bits(b.or_(b.and_(bits, k.i(0x000FFFFFFFFFFFFF)), k.i(0x3FF0000000000000)))
    big = k.gt(m, k.c(1.4142135623730951))
    m = k.sel(big, k.mul(m, k.c(0.5)), m)
    e = b.add(e, b.zext(big, k.I))
    return log_specials(k, x, _log_reduced(k, k.sub(m, k.c(1.0)), b.sitofp(e, k.F)))


def _log_reduced(k: K, f, ef):
    hfsq = k.mul(k.c(0.5), k.mul(f, f))
    s = k.div(f, k.add(k.c(2.0), f))
    z = k.mul(s, s)
    w = k.mul(z, z)
    t1 = k.mul(w, k.poly(w, LG[1::2]))
    t2 = k.mul(z, k.poly(w, LG[0::2]))
    r = k.add(t2, t1)
    inner = k.sub(hfsq, k.fma(s, k.add(hfsq, r), k.mul(ef, k.c(LN2_LO))))
    return k.fma(ef, k.c(LN2_HI), k.sub(f, inner))


def log1p(k: K, x):
    return log1p_by(k, x, log)


def tanh(k: K, x):
    # tanh|x| = e/(e+2) with e = expm1(2|x|); tanh is 1.0 in f64 beyond |x| = 19.1
    # (2|x| is clamped to 40, where expm1 needs no overflow path: one polynomial, not two;
    # NaN passes the clamp and every step after it, so it needs no select of its own)
    a = k.abs(x)
    a = k.sel(k.gt(a, k.c(20.0)), k.c(20.0), a)
    e = _expm1_mid(k, k.add(a, a))
    return k.call("llvm.copysign", k.div(e, k.add(e, k.c(2.0))), x)


def _sincos_reduced(k: K, x):
    """(quadrant as i64, r) with x = q pi/2 + r, |r| <= pi/4, for |x| <= TRIG_LIMIT."""
    n, ni = k.round_int(k.mul(x, k.c(TWO_OVER_PI)))
    r = k.fma(n, k.c(-PIO2[0]), x)
    r = k.fma(n, k.c(-PIO2[1]), r)
    return ni, k.fma(n, k.c(-PIO2[2]), r)


def _ksin(k: K, r):
    z = k.mul(r, r)
    return k.fma(k.mul(z, r), k.poly(z, SIN), r)


def _kcos(k: K, r):
    z = k.mul(r, r)
    rz = k.mul(z, k.poly(z, COS))
    hz = k.mul(k.c(0.5), z)
    w = k.sub(k.c(1.0), hz)
    return k.add(w, k.fma(z, rz, k.sub(k.sub(k.c(1.0), w), hz)))


def _trig(k: K, x, shift: int):
    b = k.b
    q, r = _sincos_reduced(k, x)
    q = b.add(q, k.i(shift))
    s, c = _ksin(k, r), _kcos(k, r)
    odd = b.trunc(b.and_(q, k.i(1)), k.I1)
    neg = b.trunc(b.lshr(b.and_(q, k.i(2)), k.i(1)), k.I1)
    y = k.sel(odd, c, s)
    return k.sel(neg, b.fneg(y), y)


def sin(k: K, x):
    return k.sel(k.eq(x, k.c(0.0)), x, _trig(k, x, 0))  # sin(-0) is -0


def cos(k: K, x):
    return _trig(k, x, 1)


# fdlibm s_erf.c: erf on [0, 0.84375) as x + x P/Q; on [0.84375, 1.25) erx + P/Q in |x|-1;
# beyond, 1 - exp(-x^2 - 0.5625 + R/S)/|x| with R/S in 1/x^2 (two ranges); 1 past |x| = 6
ERX, EFX = 8.45062911510467529297e-01, 1.28379167095512586316e-01
PP = [1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
      -5.77027029648944159157e-03, -2.37630166566501626084e-05]
QQ = [1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02,
      5.08130628187576562776e-03, 1.32494738004321644526e-04, -3.96022827877536812320e-06]
PA = [-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
      3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
      -2.16637559486879084300e-03]
QA = [1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
      1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02]
RA = [-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
      -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
      -8.12874355063065934246e+01, -9.81432934416914548592e+00]
SA = [1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
      6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
      6.57024977031928170135e+00, -6.04244152148580987438e-02]
RB = [-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
      -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
      -4.83519191608651397019e+02]
SB = [1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
      3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
      -2.24409524465858183362e+01]


def erf(k: K, x):
    b, a = k.b, k.abs(x)
    small = k.fma(x, k.div(k.poly(k.mul(x, x), PP), k.poly(k.mul(x, x), QQ)), x)
    s = k.sub(a, k.c(1.0))
    mid = k.add(k.c(ERX), k.div(k.poly(s, PA), k.poly(s, QA)))
    ac = k.sel(k.gt(a, k.c(6.0)), k.c(6.0), k.sel(k.lt(a, k.c(1.25)), k.c(1.25), a))
    t = k.div(k.c(1.0), k.mul(ac, ac))
    near = k.lt(ac, k.c(1.0 / 0.35))
    ratio = k.sel(near, k.div(k.poly(t, RA), k.poly(t, SA)), k.div(k.poly(t, RB), k.poly(t, SB)))
    z = k.from_bits(b.and_(k.bits(ac), k.i(-(1 << 32))))  # ac with its low 32 bits cleared
    r = k.mul(_exp_core(k, k.sub(k.mul(k.b.fneg(z), z), k.c(0.5625))),
              _exp_core(k, k.add(k.mul(k.sub(z, ac), k.add(z, ac)), ratio)))
    tail = k.sub(k.c(1.0), k.div(r, ac))
    big = k.sel(k.gt(a, k.c(6.0)), k.c(1.0), tail)
    y = k.sel(k.lt(a, k.c(0.84375)), small,
              k.sel(k.lt(a, k.c(1.25)), k.call("llvm.copysign", mid, x),
                    k.call("llvm.copysign", big, x)))
    return k.sel(k.isnan(x), x, y)


# erf for an f32 result, computed in f64 with no division and one exp (the f64 erf has five
# divisions and two exps): x + x P(x^2) below ERF32_SMALL, 1 - e^Q(|x| - ERF32_MID) up to
# ERF32_ONE (past it, erf is 1.0 in f32). Least-squares fits made by scripts/fit_erf32.py,
# within 4.5e-10 of erf and of log erfc: far below half an f32 ulp (3e-8).
ERF32_SMALL, ERF32_MID, ERF32_ONE = 0.921875, 2.42, 3.92
ERF32_P = [0.12837916668276353, -0.376126341089215, 0.11283700529107038, -0.02685964751469659,
           0.0052015918075476175, -0.0008148506068176298, 8.39269661241232e-05]
ERF32_Q = [-7.384636082744641, -5.201870751721068, -0.9412024500586593, -0.011578766673763757,
           0.0023415388128956716, -0.0004596938721449463, 8.438484405237645e-05,
           -1.3891441433646831e-05, 1.9712750902733944e-06, -1.6496308217345268e-07,
           -5.950403991761277e-08, 2.2945021778408847e-08]


def erf_for_f32(k: K, x):
    a = k.abs(x)
    small = k.fma(x, k.poly(k.mul(x, x), ERF32_P), x)
    t = k.sel(k.gt(a, k.c(ERF32_ONE)), k.c(ERF32_ONE), a)
    tail = k.sub(k.c(1.0), exp(k, k.poly(k.sub(t, k.c(ERF32_MID)), ERF32_Q)))
    y = k.sel(k.lt(a, k.c(ERF32_SMALL)), small,
              k.call("llvm.copysign", k.sel(k.gt(a, k.c(ERF32_ONE)), k.c(1.0), tail), x))
    return k.sel(k.isnan(x), x, y)


KERNELS = {"erf": erf, "exp": exp, "expm1": expm1, "log": log, "log1p": log1p, "tanh": tanh,
           "sin": sin, "cos": cos}
F32_IN_F64 = {"erf": erf_for_f32}  # f64 kernels of f32 functions: less precision, less work
SLOW_PATH = {"sin": TRIG_LIMIT, "cos": TRIG_LIMIT, "exp": EXP_LIMIT}  # |x| above: libm, per lane


def slow_limit(name: str, dtype: str) -> float | None:
    """|x| above which `name`'s fast kernel for `dtype` is wrong (libm's then), or None."""
    return None if dtype == "f32" and name in vmath32.KERNELS else SLOW_PATH.get(name)


def compute(b: ir.IRBuilder, module, name: str, dtype: str, arg, lanes: int = 1, slow=None):
    """`name` at arg (a `dtype` scalar, or a vector of `lanes`), in `dtype`: vmath32's f32
    kernel, or the f64 kernel on the argument widened and its value rounded once.
    slow(k, x, y) -> y adds the libm path of a kernel with a slow_limit."""
    if dtype == "f32" and name in vmath32.KERNELS:
        return vmath32.KERNELS[name](K(b, module, lanes, "f32"), arg)
    k = K(b, module, lanes)
    x = arg if dtype == "f64" else b.fpext(arg, k.F)
    kernel = F32_IN_F64.get(name, KERNELS[name]) if dtype == "f32" else KERNELS[name]
    y = kernel(k, x)
    if slow is not None and name in SLOW_PATH:
        y = slow(k, x, y)
    return y if dtype == "f64" else b.fptrunc(y, arg.type)


def kernel(module: ir.Module, name: str, dtype: str, exact: bool = True, inline: bool = True):
    """The IR function computing `name` on one `dtype` scalar, or None to use libm; with
    exact=False, without the libm path for arguments beyond SLOW_PATH[name] (their results
    are wrong: the caller notes such arguments and recomputes); inline=False: one shared
    out-of-line copy (for rarely run code: a second inlined copy costs compile time).
    Each kernel is built once per process and its text reused (building and printing them was
    ~half of lowering a small function)."""
    if name not in KERNELS:
        return None
    exact = exact or slow_limit(name, dtype) is None
    fname = f"gj_vm_{name}_{dtype}" + ("" if exact else "_fast") + ("" if inline else "_call")
    if fname in module.globals:
        return module.globals[fname]
    text, fnty, uses = _template(fname, name, dtype, exact, inline)
    for used, used_ty in uses:  # the intrinsics and libm functions the text calls
        if used not in module.globals:
            ir.Function(module, used_ty, used)
    return _Prebuilt(module, fnty, fname, text)


class _Prebuilt(ir.Function):
    """A function whose definition is printed from text made earlier (a kernel's template)."""

    def __init__(self, module, fnty, name, text):
        super().__init__(module, fnty, name)
        self.linkage, self._text = "internal", text

    def descr(self, buf):
        buf.append(self._text)


@functools.cache
def _template(fname: str, name: str, dtype: str, exact: bool, inline: bool):
    """(definition text, function type, [(name, type) of the functions it calls])."""
    module = ir.Module()
    ty = F64 if dtype == "f64" else F32
    fn = ir.Function(module, ir.FunctionType(ty, [ty]), fname)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline" if inline else "noinline")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slow = (lambda k, x, y: _with_slow_path(b, module, name, x, y, SLOW_PATH[name])) \
        if exact else None
    b.ret(compute(b, module, name, dtype, fn.args[0], slow=slow))
    uses = [(g.name, g.function_type) for g in module.global_values if g is not fn]
    return str(fn), fn.function_type, uses


def libm_f64(module, name: str):
    """libm's `double name(double)`, declared once in module."""
    return module.globals.get(name) or ir.Function(module, ir.FunctionType(F64, [F64]), name)


def _with_slow_path(b: ir.IRBuilder, module, name, x, fast, limit):
    """libm's result for lanes with |x| > limit, taken by a branch the vectorizer predicates."""
    k = K(b, module)
    libm = libm_f64(module, name)
    far = b.fcmp_unordered("ugt", k.abs(x), k.c(limit))
    return branch_value(b, far, lambda: b.call(libm, [x]), fast, "slow")
