"""Python operators, ndarray-style methods and numpy's dispatch protocols for traced values."""

from __future__ import annotations

import numpy as np

from ..errors import ConcretizationError, TraceError
from ..ops import api as A
from ..ops.primitive import user_loc
from .numpy_protocol import FUNCTIONS, UFUNCS, UFUNC_REDUCE

_HINT = ("use gradjit.numpy.where for a value-dependent choice, gradjit.cond / fori_loop / "
         "scan for control flow, or mark the argument static (jit(f, static_argnums=...))")


def _binop(fn, swap=False):
    op = A.user_facing(fn)
    if swap:
        return lambda self, other: op(other, self)
    return lambda self, other: op(self, other)


class TensorMethods:
    """Mixin: everything a numpy user writes on an array, routed to gradjit's array API."""

    __slots__ = ()
    __array_priority__ = 1000

    # ---- metadata ----
    shape = property(lambda self: self.aval.shape)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    dtype = property(lambda self: self.aval.np_dtype)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # ---- arithmetic ----
    __add__, __radd__ = _binop(A.add), _binop(A.add, True)
    __sub__, __rsub__ = _binop(A.subtract), _binop(A.subtract, True)
    __mul__, __rmul__ = _binop(A.multiply), _binop(A.multiply, True)
    __truediv__, __rtruediv__ = _binop(A.divide), _binop(A.divide, True)
    __pow__, __rpow__ = _binop(A.power), _binop(A.power, True)
    __matmul__, __rmatmul__ = _binop(A.matmul), _binop(A.matmul, True)
    __lt__, __le__ = _binop(A.less), _binop(A.less_equal)
    __gt__, __ge__ = _binop(A.greater), _binop(A.greater_equal)
    __eq__, __ne__ = _binop(A.equal), _binop(A.not_equal)
    __and__, __or__ = _binop(A.logical_and), _binop(A.logical_or)
    __hash__ = object.__hash__

    def __neg__(self):
        return A.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return A.absolute(self)

    def __invert__(self):
        return A.logical_not(self)

    def __getitem__(self, key):
        return A.getitem(self, key)

    # ---- methods ----
    def sum(self, axis=None, keepdims=False, dtype=None):
        return A.sum(self, axis, keepdims, dtype)

    def mean(self, axis=None, keepdims=False):
        return A.mean(self, axis, keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return A.var(self, axis, keepdims, ddof)

    def std(self, axis=None, keepdims=False, ddof=0):
        return A.std(self, axis, keepdims, ddof)

    def max(self, axis=None, keepdims=False):
        return A.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return A.min(self, axis, keepdims)

    def prod(self, axis=None, keepdims=False):
        return A.prod(self, axis, keepdims)

    def argmax(self, axis=None):
        return A.argmax(self, axis)

    def reshape(self, *shape):
        return A.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int)
                         else shape)

    def transpose(self, *axes):
        return A.transpose(self, axes[0] if len(axes) == 1 and axes[0] is not None and
                           not isinstance(axes[0], int) else (axes or None))

    def astype(self, dtype):
        return A.cast(self, dtype)

    def dot(self, other):
        return A.dot(self, other)

    def squeeze(self, axis=None):
        return A.squeeze(self, axis)

    def ravel(self):
        return A.ravel(self)

    flatten = ravel

    def clip(self, a_min=None, a_max=None):
        return A.clip(self, a_min, a_max)

    def swapaxes(self, a, b):
        return A.swapaxes(self, a, b)

    T = property(A.user_facing(lambda self: A.transpose(self), ".T"))

    # ---- things that need a concrete value ----
    def _concrete(self, what: str):
        raise ConcretizationError(
            what, f"needs a concrete value, but got a traced {self.aval}", user_loc(), _HINT)

    def __bool__(self):
        self._concrete("bool()")

    def __float__(self):
        self._concrete("float()")

    def __int__(self):
        self._concrete("int()")

    def __index__(self):
        self._concrete("index")

    def __complex__(self):
        self._concrete("complex()")

    def item(self):
        self._concrete(".item()")

    def tolist(self):
        self._concrete(".tolist()")

    def __array__(self, dtype=None, copy=None):
        raise ConcretizationError(
            "np.asarray()", f"needs a concrete value, but got a traced {self.aval}", user_loc(),
            "numpy converted a traced value to an array; indexing a numpy array with a traced "
            "index does this: use gradjit.numpy.take(array, index, axis) instead; otherwise "
            + _HINT)

    # ---- numpy's protocols ----
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if kwargs.get("out") is not None:
            raise TraceError(f"np.{ufunc.__name__}", "out= cannot write into a traced value",
                             user_loc(), "use the returned value instead")
        if method == "__call__" and ufunc.__name__ in UFUNCS and not kwargs:
            return UFUNCS[ufunc.__name__](*inputs)
        if method == "reduce" and ufunc.__name__ in UFUNC_REDUCE:
            return UFUNC_REDUCE[ufunc.__name__](*inputs, **kwargs)
        raise TraceError(f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"),
                         "is not supported on traced values", user_loc(),
                         "see gradjit.numpy for the supported functions")

    def __array_function__(self, func, types, args, kwargs):
        impl = FUNCTIONS.get(func.__name__)
        if impl is None or getattr(np, func.__name__, None) is not func:
            name = f"{func.__module__}.{func.__name__}".replace("numpy", "np", 1)
            raise TraceError(name, "is not supported on traced values", user_loc(),
                             "see gradjit.numpy for the supported functions, or compute it "
                             "outside the traced function")
        return impl(*args, **kwargs)


_METHODS = """__neg__ __abs__ __invert__ __getitem__ sum mean var std max min prod argmax reshape
transpose astype dot squeeze ravel flatten clip swapaxes""".split()
for _name in _METHODS:
    setattr(TensorMethods, _name, A.user_facing(getattr(TensorMethods, _name),
                                                "indexing" if _name == "__getitem__" else _name))
