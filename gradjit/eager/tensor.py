"""`Tensor`: a numpy array plus autograd metadata, PyTorch's eager tensor.

The array is the storage; a `Version` counter shared by its aliases (`detach()`) counts
in-place writes. A tensor made by a recorded op has `grad_fn` (its node) and `_output_nr`; a
leaf that requires grad gets one `AccumulateGrad` node, made on first use. Math methods and
operators are attached from the op table in tensor_methods.py.
"""

from __future__ import annotations

import weakref

import numpy as np

from ..ir.types import TensorType
from . import dtypes, errors
from .formatting import tensor_repr
from .graph import AccumulateGrad, Version, make_handle


class Size(tuple):
    """A shape; prints as `torch.Size([2, 3])`."""

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))


class device:
    """Only the CPU exists; `device=` arguments are accepted and checked."""

    def __init__(self, spec="cpu"):
        self.type = str(getattr(spec, "type", spec)).split(":")[0]
        if self.type != "cpu":
            raise errors.AutogradError("device", f"device {spec!r} is not available",
                                       "gradjit runs on the CPU; use device='cpu'")

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __eq__(self, other) -> bool:
        return str(getattr(other, "type", other)).split(":")[0] == "cpu"

    __hash__ = object.__hash__


CPU = device()


class Tensor:
    __slots__ = (
        "__weakref__",
        "_acc",
        "_data",
        "_grad",
        "_hooks",
        "_output_nr",
        "_requires_grad",
        "_version",
        "grad_fn",
    )
    __array_priority__ = 1000
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, *args, **kwargs):
        from .creation import _legacy_constructor

        self._set(_legacy_constructor(*args, **kwargs), Version(), None, 0, False)

    @classmethod
    def _make(cls, array, version=None, grad_fn=None, output_nr=0, requires_grad=False):
        t = object.__new__(cls)
        t._set(array, version or Version(), grad_fn, output_nr, requires_grad)
        return t

    def _set(self, array, version, grad_fn, output_nr, requires_grad):
        self._data, self._version, self.grad_fn, self._output_nr = array, version, grad_fn, \
            output_nr
        self._requires_grad, self._grad, self._hooks, self._acc = requires_grad, None, (), None

    # ---- metadata --------------------------------------------------------------------------
    shape = property(lambda self: Size(self._data.shape))
    dtype = property(lambda self: dtypes.of_array(self._data))
    device = property(lambda self: CPU)
    ndim = property(lambda self: self._data.ndim)
    is_leaf = property(lambda self: self.grad_fn is None)
    is_cuda = False
    output_nr = property(lambda self: self._output_nr)
    _version_value = property(lambda self: self._version.value)

    def size(self, dim=None):
        return self.shape if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad or self.grad_fn is not None

    @requires_grad.setter
    def requires_grad(self, value: bool):
        if self.grad_fn is not None:
            raise errors.AutogradError("requires_grad", "you can only change requires_grad "
                                       "flags of leaf variables.", "use .detach() first")
        if value and not self.is_floating_point():
            raise errors.no_requires_grad(self.dtype)
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad = None if value is None else as_tensor(value)

    @property
    def data(self) -> Tensor:
        """The same storage without history and with its own version counter (PyTorch's)."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value):
        self._data = as_tensor(value)._data

    @property
    def version(self) -> int:
        return self._version.value

    # ---- conversion ------------------------------------------------------------------------
    def numpy(self, force: bool = False) -> np.ndarray:
        if self.requires_grad and not force:
            raise errors.AutogradError("numpy", "Can't call numpy() on Tensor that requires "
                                       "grad. Use tensor.detach().numpy() instead.")
        return self._data

    def item(self):
        if self._data.size != 1:
            raise errors.AutogradError("item", f"a Tensor with {self._data.size} elements "
                                       "cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise errors.AutogradError("bool", "Boolean value of Tensor with more than one "
                                       "value is ambiguous")
        return bool(self.item())

    def __len__(self):
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return tensor_repr(self, dtypes.default_ir())

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(self.item(), spec) if spec and self._data.size == 1 else repr(self)

    # ---- autograd --------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if gradient is None and inputs is None and not create_graph:  # a loss's backward
            _engine_run()([self], [None], None, bool(retain_graph), False, True)
            return
        from .autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        return Tensor._make(self._data, self._version)

    def detach_(self) -> Tensor:
        self.grad_fn, self._requires_grad = None, False
        return self

    def retain_grad(self):
        if self.grad_fn is None:
            if not self._requires_grad:
                raise errors.AutogradError("retain_grad", "can't retain_grad on Tensor that has "
                                           "requires_grad=False")
            return
        self.grad_fn.retained[self._output_nr] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self.grad_fn is not None and self._output_nr in self.grad_fn.retained

    def register_hook(self, hook):
        if not self.requires_grad:
            raise errors.AutogradError("register_hook", "cannot register a hook on a tensor "
                                       "that doesn't require gradient")
        if self.grad_fn is None:
            if type(self._hooks) is not list:  # (a tensor starts with none: `()`, shared)
                self._hooks = []
            hooks = self._hooks
        else:
            hooks = self.grad_fn.tensor_hooks.setdefault(self._output_nr, [])
        hooks.append(hook)
        return make_handle(hooks, hook)

    def _run_hooks(self, g):
        for hook in self._hooks:
            new = hook(g)
            g = g if new is None else new
        return g

    def _edge(self):
        """(node, output index) gradients of this tensor flow into; (None, 0) if none."""
        if self.grad_fn is not None:
            return self.grad_fn, self._output_nr
        if self._requires_grad:
            if self._acc is None or self._acc() is None:
                node = AccumulateGrad(self)
                self._acc = weakref.ref(node)
                return node, 0
            return self._acc(), 0
        return None, 0

    def _accumulate(self, g, create_graph: bool, owned: bool = False):
        """Add a gradient into `.grad` (in place unless the graph of the sum is wanted). An
        `owned` gradient (a fresh array no one else holds) becomes `.grad` without a copy."""
        d, gd = self._data, g._data
        if gd.dtype != d.dtype or gd.shape != d.shape:
            g, owned = g._as_cotangent(TensorType.of(d)), False
        if self._grad is None:
            self._grad = g if create_graph or owned else Tensor._make(np.array(g._data))
        elif create_graph or self._grad.requires_grad:
            self._grad = self._grad + g
        else:
            self._grad._data += g._data
            self._grad._version.value += 1

    def _as_cotangent(self, t: TensorType) -> Tensor:
        """This gradient in type `t` (dtype cast, broadcast of a scalar gradient)."""
        if self._data.dtype == t.np_dtype and self._data.shape == t.shape:
            return self
        if self.requires_grad:
            out = self.to(dtypes.to_dtype(t.dtype))
            return out if out.shape == t.shape else out.expand(*t.shape)
        return Tensor._make(np.broadcast_to(self._data, t.shape).astype(t.np_dtype))

    def _snapshot(self) -> Tensor:
        """A copy of the current values with this tensor's place in the graph."""
        t = Tensor._make(self._data.copy(), None, self.grad_fn, self._output_nr,
                         self._requires_grad)
        t._acc = self._acc
        return t


def _engine_run():
    """engine.run, imported once (engine imports this module)."""
    global _run
    if _run is None:
        from .engine import run

        _run = run
    return _run


_run = None


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def as_tensor(x, dtype=None) -> Tensor:
    if isinstance(x, Tensor):
        return x if dtype is None else x.to(dtype)
    from .creation import tensor

    return tensor(x, dtype=dtype)


def ones_like(t: Tensor) -> Tensor:
    return Tensor._make(np.ones_like(t._data))
