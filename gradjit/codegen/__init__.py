"""Codegen: Function -> llvmlite `ir.Module` (text only; the runtime compiles it).

Lowering is table-driven: `scalar.TABLES` (elementwise math by operand kind), `exprs.EXPRS`
(index remaps and generators), `kernels.KERNELS` + `gemm.dot` (ops with their own loops),
`control.CONTROL` (scan, cond, while_loop: regions compiled once, called from loops/branches).
`LOWERED` lists every primitive name codegen handles.
"""

from .emit import KERNEL_RULES, Lowered, lower, symbol  # noqa: F401
from .exprs import EXPRS
from .scalar import BOOL, COMMON, FLOAT, INT

LOWERED = frozenset(EXPRS) | frozenset(KERNEL_RULES) | frozenset(FLOAT) | frozenset(INT) \
    | frozenset(BOOL) | frozenset(COMMON)
