"""GEMM kernels for canonical dots (see canon.py): a call into the BLAS numpy ships (cblas
`?gemv` for a matrix times a vector, else `?gemm`, one call per batch entry) for f32/f64 when
the runtime found one, else a loop nest in i-k-j order whose inner loop runs along contiguous
rows of the rhs and the output, so it vectorizes. The rhs may be stored transposed; the loop
nest reads it either way.
"""

from __future__ import annotations

from llvmlite import ir

from .loops import loop
from .ltypes import F32, F64, I32, I64, PTR, REG, const, i64
from .scalar import lower_scalar

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def gemm_dims(instr):
    """(B, M, N, K, x stored as (K,M), y stored as (N,K)) of a canonical dot."""
    x, y = instr.args
    (xc, yc), (xb, _) = instr.params["contract"], instr.params["batch"]
    nb = len(xb)
    xs, ys = x.type.shape[nb:], y.type.shape[nb:]
    x_t, y_t = xc[0] == nb, yc[0] == nb + 1
    m, k = (xs[1], xs[0]) if x_t else xs
    n = ys[0] if y_t else ys[1]
    return (x.type.shape[0] if nb else 1), m, n, k, x_t, y_t


def use_blas(em, instr) -> bool:
    blas = em.options.get("blas")
    if not blas or instr.out.type.dtype not in ("f32", "f64"):
        return False
    _, m, n, k, _, _ = gemm_dims(instr)
    return m * n * k >= em.options.get("blas_min_flops", 0) and m * n > 0 and k > 0


def dot(em, instr, dest):
    (use_blas(em, instr) and _blas_gemm or _loop_gemm)(em, instr, dest)


def _cblas(em, dtype):
    blas = em.options["blas"]
    ity = I64 if blas.get("ilp64") else I32
    fty = F64 if dtype == "f64" else F32
    name = blas[dtype]
    if name in em.module.globals:
        return em.module.globals[name], ity
    fnty = ir.FunctionType(ir.VoidType(), [I32, I32, I32, ity, ity, ity, fty, PTR, ity, PTR,
                                           ity, fty, PTR, ity])
    return ir.Function(em.module, fnty, name), ity


def _cblas_gemv(em, dtype):
    name, ity = em.options["blas"].get(dtype + "v"), I64 if em.options["blas"].get("ilp64") \
        else I32
    if name is None:
        return None, ity
    if name in em.module.globals:
        return em.module.globals[name], ity
    fty = F64 if dtype == "f64" else F32
    fnty = ir.FunctionType(ir.VoidType(), [I32, I32, ity, ity, fty, PTR, ity, PTR, ity, fty,
                                           PTR, ity])
    return ir.Function(em.module, fnty, name), ity


def _blas_gemv(em, instr, dest) -> bool:
    """A matrix times a vector (m == 1 or n == 1) as one ?gemv: ?gemm would pack the matrix on
    every call (most of the time of an RNN's per-step products). False when it does not apply.
    The vector is contiguous either way; the matrix is the stored x (n == 1) or y (m == 1)."""
    x, y = instr.args
    nb, m, n, k, x_t, y_t = gemm_dims(instr)
    dtype = instr.out.type.dtype
    if nb != 1 or len(instr.params["batch"][0]) or (m != 1 and n != 1):
        return False
    fn, ity = _cblas_gemv(em, dtype)
    if fn is None:
        return False
    c = lambda v: ir.Constant(ity, v)
    if n == 1:  # out (m) = X (m, k) v: X stored (m, k), or (k, m) when x_t
        mat, vec, trans, rows, cols = x, y, x_t, (k if x_t else m), (m if x_t else k)
    else:  # out (n) = Y^T v: Y stored (k, n), or (n, k) when y_t
        mat, vec, trans, rows, cols = y, x, not y_t, (n if y_t else k), (k if y_t else n)
    em.b.call(fn, [ir.Constant(I32, ROW_MAJOR), ir.Constant(I32, TRANS if trans else NO_TRANS),
                   c(rows), c(cols), const(dtype, 1.0), em.buffer(mat), c(max(1, cols)),
                   em.buffer(vec), c(1), const(dtype, 0.0), dest, c(1)])
    return True


def _blas_gemm(em, instr, dest):
    if _blas_gemv(em, instr, dest):
        return
    x, y = instr.args
    nb, m, n, k, x_t, y_t = gemm_dims(instr)
    dtype, b = instr.out.type.dtype, em.b
    fn, ity = _cblas(em, dtype)
    c = lambda v: ir.Constant(ity, v)
    xp, yp = em.buffer(x), em.buffer(y)
    with loop(b, nb, "batch") as bi:
        at = lambda p, size: b.gep(p, [b.mul(bi, i64(size))], source_etype=REG[dtype])
        b.call(fn, [ir.Constant(I32, ROW_MAJOR), ir.Constant(I32, TRANS if x_t else NO_TRANS),
                    ir.Constant(I32, TRANS if y_t else NO_TRANS), c(m), c(n), c(k),
                    const(dtype, 1.0), at(xp, m * k), c(max(1, m if x_t else k)),
                    at(yp, k * n), c(max(1, k if y_t else n)), const(dtype, 0.0),
                    at(dest, m * n), c(max(1, n))])


def _loop_gemm(em, instr, dest):
    x, y = instr.args
    nb, m, n, k, x_t, y_t = gemm_dims(instr)
    dtype, b = instr.out.type.dtype, em.b
    cx = em.cx(dtype, {})
    mul = lambda p, q: lower_scalar(cx, "mul", [p, q])
    add = lambda p, q: lower_scalar(cx, "add", [p, q])
    xp, yp = em.buffer(x), em.buffer(y)
    load = lambda p, off: em.load_at(dtype, p, off)
    with loop(b, nb, "b") as bi, loop(b, m, "i") as i:
        row = b.add(b.mul(bi, i64(m * n)), b.mul(i, i64(n)))
        with loop(b, n, "j0") as j:
            em.store_at(dtype, const(dtype, 0), dest, b.add(row, j))
        with loop(b, k, "k") as kk:
            xi = b.add(b.mul(bi, i64(m * k)),
                       b.add(b.mul(kk, i64(m)), i) if x_t else b.add(b.mul(i, i64(k)), kk))
            a = load(xp, xi)
            with loop(b, n, "j") as j:
                yi = b.add(b.mul(bi, i64(k * n)),
                           b.add(b.mul(j, i64(k)), kk) if y_t else b.add(b.mul(kk, i64(n)), j))
                out = b.add(row, j)
                em.store_at(dtype, add(load(dest, out), mul(a, load(yp, yi))), dest, out)
