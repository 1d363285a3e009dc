"""The eager recorder: run an op at once on numpy arrays and record its node.

An `EagerOp` is a torch-level op written with `gradjit.ops.api` (so the same function
evaluates on arrays now and traces to IR later, in lowering.py). `apply` runs it on the inputs'
arrays; when grad mode is on and an input requires grad it records an `OpNode` that keeps the
input and output arrays with their versions. `run_eagerly` evaluates an IR Function op by op
through `apply`, which is how `create_graph=True` gives gradients a `grad_fn`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..ir.types import TensorType, _type_of
from ..ops.primitive import bind
from . import errors
from .grad_mode import _enabled
from .graph import Node, Saved, Version, node_class
from .node_keys import _SEQ, _freeze, edges_and_sig, intern_key
from .quiet import quiet
from .tensor import Tensor

_new_tensor = object.__new__
_NO_EDGE = (None, 0)  # the edge of an input that needs no gradient
TENSOR = object()  # marks where a tensor argument sits in an op's argument template


@dataclass(frozen=True, eq=False)
class EagerOp:
    """A torch-level op: the grad_fn name and an array-API function computing it."""

    name: str
    fn: Callable  # (*arrays-or-tracers, **params) -> array-or-tracer
    view: bool = False  # the result is a view of the first input (shares its storage)
    # run the forward as its traced Function, cached per signature: worth it for composites
    # of many primitives (conv2d, losses), where the array API's per-call work dominates
    staged: bool = False
    # the numpy function computing `fn` when every array input already has the result's float
    # dtype and the rest are Python numbers (numpy's weak scalars then agree with torch's
    # promotion): skips the array API's type and broadcast checks, most of an eager op's time.
    # It returns a fresh array (never a view of an input)
    fast: Callable | None = None


class OpNode(Node):
    """One recorded op: what ran, on which arrays, and the array it produced.

    Recording is on every op's path, so it keeps only what is cheap to take: the arrays with
    their versions, and each array's (shape, dtype) in `sig`. Types and the structural key are
    made from those when a backward asks for them.
    """

    __slots__ = ("_key", "inputs", "op", "out", "params", "seq", "sig", "template")

    def __init__(self, op: EagerOp, template, params, tensors, out: np.ndarray, out_version):
        self.released = False  # Node.__init__, inline (with `edges_and_sig`)
        self._hooks = self._metadata = self._retained = self._tensor_hooks = None
        self.op, self.template, self.params, self._key = op, template, params, None
        self.seq = next(_SEQ)  # creation order: a node's inputs come before it
        if len(tensors) == 2:  # `edges_and_sig`, inline for the ops most steps run
            t, u = tensors
            fn, gn, d, e = t.grad_fn, u.grad_fn, t._data, u._data
            self.next_functions = (
                (fn, t._output_nr) if fn is not None else t._edge() if t._requires_grad
                else _NO_EDGE,
                (gn, u._output_nr) if gn is not None else u._edge() if u._requires_grad
                else _NO_EDGE)
            self.inputs = (Saved(d, t._version), Saved(e, u._version))
            self.sig = ((d.shape, d.dtype), (e.shape, e.dtype), (out.shape, out.dtype))
        elif len(tensors) == 1:
            t = tensors[0]
            fn, d = t.grad_fn, t._data
            self.next_functions = ((fn, t._output_nr) if fn is not None else t._edge()
                                   if t._requires_grad else _NO_EDGE,)
            self.inputs = (Saved(d, t._version),)
            self.sig = ((d.shape, d.dtype), (out.shape, out.dtype))
        else:
            self.next_functions, self.inputs, self.sig = edges_and_sig(tensors, out)
        self.out = Saved(out, out_version)

    @property
    def requires(self) -> tuple:
        """Which inputs need a gradient: those with an edge (a node or a leaf's)."""
        return tuple([node is not None for node, _ in self.next_functions])

    @property
    def in_types(self) -> tuple:
        return tuple(_type_of(d, s) for s, d in self.sig[:-1])

    @property
    def out_type(self) -> TensorType:
        s, d = self.sig[-1]
        return _type_of(d, s)

    @property
    def key(self) -> int:
        """The structural key (op, static arguments, params and input types) as a small int:
        graph keys are tuples of these and of where each input comes from (so whether it
        needs a gradient), hashed once per backward."""
        if self._key is None:
            p = self.params
            raw = (self.op, self.template, _ITEMS.get(id(p)) or tuple(p.items()), self.sig)
            try:
                self._key = intern_key(raw)
            except TypeError:  # an unhashable static argument (a list, an array): frozen
                self._key = intern_key((raw[0], _freeze(raw[1]), _freeze(raw[2]), raw[3]))
        return self._key

    def call_args(self, values):
        """The op's positional arguments with `values` at the tensor positions."""
        it = iter(values)
        return [next(it) if a is TENSOR else a for a in self.template]

    def release(self):
        self.released = True
        for s in self.inputs:
            s.array = None
        self.out.array = None

    def check_saved(self, used_inputs, used_out: bool):
        for s, used, t in zip(self.inputs, used_inputs, self.in_types):
            if used:
                s.check(self, _describe(t))
        if used_out:
            self.out.check(self, _describe(self.out_type))

    def input_tensors(self):
        """The saved inputs as tensors still connected to the graph (for create_graph)."""
        out = []
        for s, (node, nr), t in zip(self.inputs, self.next_functions, self.in_types):
            variable = getattr(node, "variable", None)  # a leaf: its own tensor
            out.append(variable if variable is not None else
                       Tensor._make(_placeholder(s.array, t), s.version, node, nr))
        return out

    def output_tensor(self):
        return Tensor._make(_placeholder(self.out.array, self.out_type), self.out.version,
                            self, 0)

    def apply(self, grads, create_graph):
        from .lowering import run_node_adjoint

        return run_node_adjoint(self, grads[0], create_graph)


_TYPE_NAMES = {"f32": "FloatTensor", "f64": "DoubleTensor", "i64": "LongTensor",
               "i32": "IntTensor", "bool": "BoolTensor"}


def _describe(t: TensorType) -> str:
    """How PyTorch names a saved tensor in errors: `torch.FloatTensor [3]`."""
    return f"torch.{_TYPE_NAMES[t.dtype]} {list(t.shape)}"


def _placeholder(array, t: TensorType):
    """A released array that the adjoint does not read is passed as zeros."""
    return np.zeros(t.shape, t.np_dtype) if array is None else array


_FLOAT = {"f32": np.dtype(np.float32), "f64": np.dtype(np.float64)}


def _plain(vals, ir) -> bool:
    """Every value a numpy array of the float dtype `ir`, or a Python int or float."""
    want = _FLOAT.get(ir)
    if want is None:
        return False
    for v in vals:
        kind = type(v)
        if kind is np.ndarray:
            if v.dtype != want:
                return False
        elif kind is not float and kind is not int:
            return False
    return True


def apply(op: EagerOp, *args, **params):
    """Run `op` on the arrays of `args` now; record its node if anything requires grad."""
    vals = [a._data if isinstance(a, Tensor) else a for a in args]
    tensors = [a for a in args if isinstance(a, Tensor)]
    if op.staged:
        from .lowering import run_forward

        template = tuple(TENSOR if isinstance(a, Tensor) else a for a in args)
        out = run_forward(op, template, params, [t._data for t in tensors])
    elif op.fast is not None and _plain(vals, params.get("dtype")):
        return record(op, quiet(op.fast, *vals), args, tensors, params)
    else:
        out = np.asarray(quiet(op.fn, *vals, **params))
    if op.view and tensors:
        version = tensors[0]._version
    else:
        version = None
        if any(out is v or (isinstance(v, np.ndarray) and np.may_share_memory(out, v))
               for v in vals):
            out = out.copy()  # only view ops may alias their input
    return record(op, out, args, tensors, params, version)


def record(op: EagerOp, out, args, tensors, params: dict, version=None) -> Tensor:
    """The tensor of `op`'s result `out` (fresh unless `version` is its input's: a view), with
    its node when grad mode is on and an input requires grad."""
    if type(out) is not np.ndarray:
        out = np.asarray(out)  # a ufunc of 0-d operands returns a numpy scalar
    result = _new_tensor(Tensor)  # Tensor._make, inline
    result._data, result._version, result.grad_fn, result._output_nr = \
        out, version or Version(), None, 0
    result._requires_grad, result._grad, result._hooks, result._acc = False, None, (), None
    if _enabled[0] and out.dtype.kind == "f":
        for t in tensors:
            if t._requires_grad or t.grad_fn is not None:
                template = tuple([TENSOR if isinstance(a, Tensor) else a for a in args])
                cls = _NODE_CLASS.get(op) or _node_class(op)
                result.grad_fn = cls(op, template, params, tensors, out, result._version)
                break
    return result


# id -> items of the params mappings that live as long as the module (fast_ops' dtype ones)
_ITEMS: dict = {}
_NODE_CLASS: dict = {}  # EagerOp -> its OpNode subclass (named like torch's grad_fn)


def _node_class(op: EagerOp) -> type:
    cls = _NODE_CLASS[op] = node_class(OpNode, op.name)
    return cls


def apply_inplace(target, fn, *args, op_name: str = "an in-place op", **kwargs):
    """`target.op_(...)`: `fn(target, *args)` out of place, written into target's storage.

    When recording, the op sees a snapshot of target's old values (its node keeps them) and
    target takes the op's node as its new history, as PyTorch rebases in-place ops.
    """
    recording = _enabled[0] and any(isinstance(a, Tensor) and a.requires_grad
                                    for a in (target, *args))
    if recording and target.requires_grad and target.grad_fn is None:
        raise errors.leaf_inplace(op_name)
    source = target
    if recording:
        source = target._snapshot()
        old = target.grad_fn
        if isinstance(old, OpNode) and old.out.array is target._data:
            old.out = Saved(source._data, source._version)  # the old node keeps old values
    result = fn(source, *args, **kwargs)
    if result._data.shape != target._data.shape:
        raise errors.AutogradError("in-place", f"output with shape {list(target.shape)} doesn't "
                                   f"match the broadcast shape {list(result.shape)}")
    if result.grad_fn is not None and result._data.dtype != target._data.dtype:
        result = result.to(target.dtype)
    np.copyto(target._data, result._data, casting="unsafe")
    target._version.value += 1
    if result.grad_fn is not None:
        node = result.grad_fn
        if isinstance(node, OpNode):
            node.out = Saved(target._data, target._version)
        target.grad_fn, target._output_nr = node, result._output_nr
    return target


_PRIM_OPS: dict = {}


def prim_op(prim) -> EagerOp:
    """The eager op of one primitive (what create_graph records)."""
    op = _PRIM_OPS.get(prim)
    if op is None:
        op = _PRIM_OPS[prim] = EagerOp(prim.torch_name or prim.name,
                                       lambda *xs, _p=prim, **params: bind(_p, *xs, **params))
    return op


def run_eagerly(fn, tensors) -> list:
    """Evaluate an IR Function on tensors op by op, recording nodes as any eager code does."""
    env = dict(zip(fn.params, tensors))
    for instr in fn.body:
        (out,) = instr.outs
        env[out] = apply(prim_op(instr.prim), *[env[a] for a in instr.args], **instr.params)
    return [env[r] for r in fn.results]
