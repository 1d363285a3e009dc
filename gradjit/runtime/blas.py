"""Finding the BLAS numpy ships with (its OpenBLAS) and the cblas GEMM symbols it exports."""

from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy as np

# (double symbol, single symbol, 64-bit integers?), most specific first
_SYMBOLS = [("scipy_cblas_dgemm64_", "scipy_cblas_sgemm64_", True),
            ("cblas_dgemm64_", "cblas_sgemm64_", True),
            ("scipy_cblas_dgemm", "scipy_cblas_sgemm", False),
            ("cblas_dgemm", "cblas_sgemm", False)]


def _candidates() -> list[str]:
    root = os.path.dirname(os.path.dirname(np.__file__))
    found = []
    for pattern in ("numpy.libs/*openblas*.so*", "numpy/.dylibs/*openblas*", "numpy.libs/*blas*"):
        found += sorted(glob.glob(os.path.join(root, pattern)))
    return found


@functools.cache
def find() -> dict | None:
    """{'path', 'f64', 'f32', 'ilp64'} (and 'f64v', 'f32v': gemv) for numpy's BLAS, or None
    when none is usable."""
    if os.environ.get("GRADJIT_NO_BLAS"):
        return None
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for d, s, ilp64 in _SYMBOLS:
            if hasattr(lib, d) and hasattr(lib, s):
                found = {"path": path, "f64": d, "f32": s, "ilp64": ilp64}
                dv, sv = d.replace("gemm", "gemv"), s.replace("gemm", "gemv")
                if hasattr(lib, dv) and hasattr(lib, sv):  # matrix-vector without packing
                    found.update(f64v=dv, f32v=sv)
                return found
    return None
