"""The recorded graph: nodes named like PyTorch's, their edges, and the arrays they keep.

Every tensor produced by a recorded op points at its node (`grad_fn`) and its output index.
A node's `next_functions` are `((node or None, output index), ...)`, one per tensor input, with
an `AccumulateGrad` node standing for each leaf that requires grad. Nodes are callable by hand
(`l.grad_fn(dl)`), which runs that one node's adjoint; `engine.py` runs whole graphs.
"""

from __future__ import annotations

from . import errors
from .grad_mode import is_grad_enabled


class Version:
    """The in-place version counter one storage's aliases share (`detach()` shares it)."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Saved:
    """An array a node keeps for backward and the version of its storage when it was saved."""

    __slots__ = ("array", "at", "version")

    def __init__(self, array, version: Version):
        self.array, self.version, self.at = array, version, version.value

    def ok(self) -> bool:
        """Still held and unchanged since it was saved (what `check` enforces)."""
        return self.array is not None and self.version.value == self.at

    def check(self, node: Node, what: str):
        if self.array is None:
            raise errors.freed(node.name())
        if self.version.value != self.at:
            raise errors.modified(what, node.name(), self.version.value, self.at)


def _lazy(slot: str, make):
    """A property over `slot` that makes its container on first use: most nodes never get a
    hook or metadata, and a training step records a few nodes per op."""

    def get(self):
        value = getattr(self, slot)
        if value is None:
            value = make()
            setattr(self, slot, value)
        return value

    return property(get)


class Node:
    """A grad_fn. Subclasses implement `apply(grads, create_graph) -> grads of the inputs`."""

    __slots__ = (
        "__weakref__",
        "_hooks",
        "_metadata",
        "_retained",
        "_tensor_hooks",
        "next_functions",
        "released",
    )
    n_outputs = 1

    def __init__(self, next_functions):
        self.next_functions = tuple(next_functions)
        self.released = False
        self._hooks = self._metadata = self._retained = self._tensor_hooks = None  # `_lazy`

    tensor_hooks = _lazy("_tensor_hooks", dict)  # output index -> hooks of that output tensor
    retained = _lazy("_retained", dict)  # output index -> weakref of a tensor retaining grad
    hooks = _lazy("_hooks", list)  # post hooks: hook(grad_inputs, grad_outputs)
    metadata = _lazy("_metadata", dict)

    def has_hooks(self) -> bool:
        """Any tensor hook, retain_grad or post hook (the whole-graph adjoint runs none)."""
        return bool(self._tensor_hooks or self._retained or self._hooks)

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def apply(self, grads: list, create_graph: bool) -> list:
        raise NotImplementedError

    def release(self):
        self.released = True

    def __call__(self, *grads):
        """Run this node alone (seed 002 calls nodes by hand): the gradients of its inputs."""
        from .tensor import as_tensor

        outs = self.apply([None if g is None else as_tensor(g) for g in grads],
                          is_grad_enabled())
        return outs[0] if len(outs) == 1 else tuple(outs)

    def register_hook(self, hook):
        self.hooks.append(hook)
        return _Handle(self.hooks, hook)

    def register_prehook(self, hook):
        self.tensor_hooks.setdefault(0, []).append(hook)
        return _Handle(self.tensor_hooks[0], hook)


class _Handle:
    """What `register_hook` returns: `.remove()` takes the hook out again."""

    def __init__(self, hooks: list, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: calling it adds the gradient into `.grad`."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        super().__init__(())
        self.variable = variable

    def apply(self, grads, create_graph):
        self.variable._accumulate(grads[0], create_graph)
        return []

    def __call__(self, *grads):
        from .tensor import as_tensor

        self.variable._accumulate(as_tensor(grads[0]), is_grad_enabled())
        return ()


_NODE_CLASSES: dict[tuple[type, str], type] = {}


def node_class(base: type, name: str) -> type:
    """A subclass of `base` named `name`, so `type(y.grad_fn).__name__` reads like PyTorch's."""
    cls = _NODE_CLASSES.get((base, name))
    if cls is None:
        cls = _NODE_CLASSES[(base, name)] = type(name, (base,), {"__slots__": ()})
    return cls


def make_handle(hooks: list, hook) -> _Handle:
    return _Handle(hooks, hook)
