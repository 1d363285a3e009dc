"""`y += a * x` with one rounding per element (an fma), on contiguous f32 or f64 arrays: the
eager SGD step `p -= lr * g` (optim.SGD), which PyTorch computes as fma(g, -lr, p). One pass
over both arrays, where numpy's `np.subtract(p, lr * g, out=p)` made two and rounded twice.

`void gj_lib_axpy_<dtype>(i64 n, <dtype> a, ptr x, ptr y)`; the loop vectorizer widens it (and
checks at run time that x and y do not partly overlap). Compiled once per machine, cached like
the runtime's other support objects (runtime/support.py).
"""

from __future__ import annotations

TYPES = {"f32": "float", "f64": "double"}


def name(dtype: str) -> str:
    return f"gj_lib_axpy_{dtype}"


def module_ir(dtype: str, triple: str) -> str:
    t = TYPES[dtype]
    return f"""target triple = "{triple}"

declare {t} @llvm.fma.{dtype}({t}, {t}, {t})

define void @{name(dtype)}(i64 %n, {t} %a, ptr %x, ptr %y) {{
entry:
  %empty = icmp sle i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [0, %entry], [%next, %loop]
  %px = getelementptr inbounds {t}, ptr %x, i64 %i
  %py = getelementptr inbounds {t}, ptr %y, i64 %i
  %vx = load {t}, ptr %px
  %vy = load {t}, ptr %py
  %r = call {t} @llvm.fma.{dtype}({t} %a, {t} %vx, {t} %vy)
  store {t} %r, ptr %py
  %next = add nuw nsw i64 %i, 1
  %more = icmp slt i64 %next, %n
  br i1 %more, label %loop, label %done
done:
  ret void
}}
"""
