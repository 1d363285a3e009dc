"""torch-style dtype objects (`gradjit.float32`, `gradjit.double`, ...) over the IR dtype names.

A tensor stores a numpy array; these objects only name its dtype the way PyTorch prints it
(`dtype=torch.float64`) and convert whatever a user passes as `dtype=` to an IR dtype name.
"""

from __future__ import annotations

import builtins

import numpy as np

from ..ir.types import DTYPES, dtype_name


class dtype:
    """One tensor dtype: its torch name and the IR dtype it stands for."""

    __slots__ = ("ir", "name")

    def __init__(self, name: str, ir: str):
        self.name, self.ir = name, ir

    @property
    def is_floating_point(self) -> bool:
        return self.ir in ("f32", "f64")

    @property
    def itemsize(self) -> int:
        return DTYPES[self.ir].itemsize

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.ir,))


float32 = dtype("float32", "f32")
float64 = dtype("float64", "f64")
int32 = dtype("int32", "i32")
int64 = dtype("int64", "i64")
bool_ = dtype("bool", "bool")
float, double, long, int = float32, float64, int64, int32

_BY_IR = {d.ir: d for d in (float32, float64, int32, int64, bool_)}
# what `dtype=` may be besides a dtype object: Python types mean torch's defaults for them
_PYTHON = {builtins.float: "f32", builtins.int: "i64", builtins.bool: "bool"}
_default = ["f32"]


def to_ir(d) -> str:
    """The IR dtype name of a torch dtype, a Python type, a numpy dtype or an IR name."""
    if isinstance(d, dtype):
        return d.ir
    if d in _PYTHON:
        return _PYTHON[d]
    return dtype_name(d)


def to_dtype(ir: str) -> dtype:
    return _BY_IR[ir]


def of_array(a: np.ndarray) -> dtype:
    return _BY_IR[dtype_name(a.dtype)]


def get_default_dtype() -> dtype:
    return _BY_IR[_default[0]]


def set_default_dtype(d) -> None:
    ir = to_ir(d)
    if ir not in ("f32", "f64"):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = ir


def default_ir() -> str:
    return _default[0]
