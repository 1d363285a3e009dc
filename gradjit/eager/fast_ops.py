"""Eager ops as plain numpy when torch's rules and numpy's agree: one float dtype.

When every tensor argument has one float dtype and the rest are Python numbers, torch's result
dtype is numpy's (weak scalars), so an op can run as its numpy function, skipping the array
API's type and broadcast checks (most of a small op's time). Each numpy function here gives
exactly what the array API gives (tests/test_eager_fast.py checks them bit for bit). In-place
ops that record nothing write straight into the tensor's array.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from ..ops import api as A
from .grad_mode import _enabled
from .graph import Version
from .quiet import _QUIET, _quiet_off, _quiet_on
from .recorder import _ITEMS, _NODE_CLASS, TENSOR, EagerOp, _new_tensor, _node_class
from .tensor import Tensor

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def float_ir(x, y=0.0):
    """The IR dtype when `x` and `y` are tensors of one float dtype or a Python number (not
    both numbers), else None: then torch's promotion is numpy's with weak scalars, and the op
    may run as plain numpy (`apply_numpy`). Subclasses and numpy scalars take the long way."""
    tx, ty = type(x), type(y)
    if tx is Tensor:
        d = x._data.dtype
        if ty is Tensor:
            if y._data.dtype is not d:
                return None
        elif ty is not float and ty is not int:
            return None
    elif ty is Tensor and (tx is float or tx is int):
        d = y._data.dtype
    else:
        return None
    return "f64" if d is _F64 else "f32" if d is _F32 else None


_DTYPE_PARAMS = {ir: MappingProxyType({"dtype": ir}) for ir in ("f32", "f64")}
_ITEMS.update({id(p): tuple(p.items()) for p in _DTYPE_PARAMS.values()})  # (they never die)


def apply_numpy(op: EagerOp, fn, args, ir: str) -> Tensor:
    """`apply(op, *args, dtype=ir)` when `float_ir` holds for the tensor arguments: `fn`
    (numpy, returning a fresh array) computes the op on the arrays and numbers."""
    vals = [a._data if type(a) is Tensor else a for a in args]
    token = _quiet_on(_QUIET)  # `quiet`, inline: this is every small op's path
    try:
        out = fn(*vals)
    finally:
        _quiet_off(token)
    return _result(op, out, [a for a in args if type(a) is Tensor], None, ir, args)


_TWO = (TENSOR, TENSOR)


def binary_numpy(op: EagerOp, fn, x, y) -> Tensor | None:
    """`apply_numpy(op, fn, (x, y), float_ir(x, y))`, or None when `float_ir` is None: the
    arithmetic operators' path, unrolled (a training step runs several per line)."""
    tx, ty = type(x), type(y)
    if tx is Tensor:
        a, d = x._data, x._data.dtype
        if ty is Tensor:
            if y._data.dtype is not d:
                return None
            tensors, template, b = (x, y), _TWO, y._data
        elif ty is float or ty is int:
            tensors, template, b = (x,), (TENSOR, y), y
        else:
            return None
    elif ty is Tensor and (tx is float or tx is int):
        a, b, d = x, y._data, y._data.dtype
        tensors, template = (y,), (x, TENSOR)
    else:
        return None
    ir = "f64" if d is _F64 else "f32" if d is _F32 else None
    if ir is None:
        return None
    token = _quiet_on(_QUIET)
    try:
        out = fn(a, b)
    finally:
        _quiet_off(token)
    if type(out) is not np.ndarray:  # `_result`, inline from here
        out = np.asarray(out)
    result = _new_tensor(Tensor)
    result._data, result._version, result.grad_fn, result._output_nr = out, Version(), None, 0
    result._requires_grad, result._grad, result._hooks, result._acc = False, None, (), None
    if _enabled[0]:  # (`fn` gives the float dtype `ir`)
        for t in tensors:
            if t._requires_grad or t.grad_fn is not None:
                cls = _NODE_CLASS.get(op) or _node_class(op)
                result.grad_fn = cls(op, template, _DTYPE_PARAMS[ir], tensors, out,
                                     result._version)
                break
    return result


_ALL = (TENSOR, None, False)  # the template of a reduction over every dim (`x.sum()`)
_ALL_AXES = [tuple(range(n)) for n in range(33)]  # the normalized axes of `dim=None`


def reduce_all_numpy(op: EagerOp, fn, x) -> Tensor | None:
    """`_reduce(op, x, None, False, None, fast=fn)`, or None when its plain-numpy path does
    not apply: `x.sum()` and `x.mean()` of a float tensor of rank >= 1 (a loss's last op),
    without `_reduce`'s argument handling."""
    if type(x) is not Tensor:
        return None
    d = x._data
    dt = d.dtype
    ir = "f64" if dt is _F64 else "f32" if dt is _F32 else None
    if ir is None or not 0 < d.ndim < 33:
        return None
    token = _quiet_on(_QUIET)
    try:
        out = fn(d, _ALL_AXES[d.ndim], False)
    finally:
        _quiet_off(token)
    return _result(op, out, (x,), _ALL, ir)


def _result(op: EagerOp, out, tensors, template, ir: str, args=()) -> Tensor:
    """`record(op, out, args, tensors, params of dtype ir)`, inline (`template` is made from
    `args` when it is None and a node is recorded)."""
    if type(out) is not np.ndarray:
        out = np.asarray(out)  # a ufunc of 0-d operands returns a numpy scalar
    result = _new_tensor(Tensor)  # Tensor._make, inline
    result._data, result._version, result.grad_fn, result._output_nr = out, Version(), None, 0
    result._requires_grad, result._grad, result._hooks, result._acc = False, None, (), None
    if _enabled[0] and out.dtype.kind == "f":
        for t in tensors:
            if t._requires_grad or t.grad_fn is not None:
                if template is None:
                    template = tuple([TENSOR if type(a) is Tensor else a for a in args])
                cls = _NODE_CLASS.get(op) or _node_class(op)
                result.grad_fn = cls(op, template, _DTYPE_PARAMS[ir], tensors, out,
                                     result._version)
                break
    return result


def _records(t) -> bool:
    return type(t) is Tensor and (t._requires_grad or t.grad_fn is not None)


def inplace_numpy(target: Tensor, ufunc, other) -> bool:
    """`target.op_(other)` straight into target's array when nothing records and `float_ir`
    holds (so torch's result dtype is target's); False when it does not apply (or numpy
    refuses: a broadcast larger than target, a read-only view), leaving target unchanged for
    `apply_inplace`, which reports such errors. numpy buffers overlapping operands, so
    `out=` gives what the out-of-place op and a copy would."""
    if type(target) is not Tensor:  # (`float_ir` and `_records`, inline)
        return False
    d = target._data
    dt, to, on = d.dtype, type(other), _enabled[0]
    if dt is not _F64 and dt is not _F32 or on and (target._requires_grad or
                                                    target.grad_fn is not None):
        return False
    if to is Tensor:
        b = other._data
        if b.dtype is not dt or on and (other._requires_grad or other.grad_fn is not None):
            return False
    elif to is float or to is int:
        b = other
    else:
        return False
    token = _quiet_on(_QUIET)  # `quiet`, inline (an optimizer step's path)
    try:
        ufunc(d, b, d)  # (out= as the third positional argument: parsed faster)
    except ValueError:
        return False
    finally:
        _quiet_off(token)
    target._version.value += 1
    return True


def fill_numpy(target: Tensor, value) -> bool:
    """`target.fill_(value)` of a float array and a Python number when nothing records (as
    `inplace_numpy`)."""
    d = target._data
    if type(target) is not Tensor or d.dtype.kind != "f" or type(value) not in (int, float) \
            or _enabled[0] and _records(target):
        return False
    try:
        d.fill(float(value))
    except ValueError:  # a read-only array (cheaper to try than to ask `d.flags`)
        return False
    target._version.value += 1
    return True


# ---- numpy functions equal to array-API ones on float arrays --------------------------------

def relu_np(x):
    """`A.relu`, as `where(x <= 0, 0, x)` computes it (NaN stays, -0.0 becomes +0.0), in two
    passes of numpy's fast loops (np.where with a scalar took 2.5x as long: W6b's relu)."""
    out = np.maximum(x, x.dtype.type(0), out=np.empty_like(x))
    return np.add(out, x.dtype.type(0), out=out)  # max(-0.0, 0) may be -0.0: + 0 makes it +0.0


# array-API functions and the numpy functions that compute them on same-dtype float arrays
NUMPY = {A.add: np.add, A.subtract: np.subtract, A.multiply: np.multiply,
         A.divide: np.true_divide, A.maximum: np.maximum, A.minimum: np.minimum,
         A.exp: np.exp, A.log: np.log, A.sqrt: np.sqrt, A.sin: np.sin, A.cos: np.cos,
         A.tanh: np.tanh, A.negative: np.negative, A.absolute: np.absolute,
         A.relu: relu_np}


def int_pow_np(x, n):
    """`A.power(x, n)` for a float array and an int |n| <= 64 (its square and integer_pow)."""
    return x.copy() if n == 1 else np.square(x) if n == 2 else np.power(x, n)


def sum_np(x, axes, keepdim):
    """`A.sum(x, axes, keepdim)` for a float array and non-empty normalized axes (np.sum is
    this ufunc reduction behind a Python wrapper)."""
    out = np.add.reduce(x, axis=axes)
    return out.reshape([1 if i in axes else n for i, n in enumerate(x.shape)]) if keepdim \
        else out


def mean_np(x, axes, keepdim):
    """`A.mean`: the sum over the count, as the array API divides it."""
    count = 1
    for a in axes:
        count *= x.shape[a]
    return sum_np(x, axes, keepdim) / count


def mm_np(x, y):
    """`A.matmul` of two matrices: one batch of numpy's matmul, as `dot_general` runs it (a
    plain 2-D matmul may take another BLAS routine, e.g. syrk for x @ x.T: other roundings)."""
    return np.matmul(x[None], y[None])[0]
