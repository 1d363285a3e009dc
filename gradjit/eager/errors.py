"""Autograd errors: PyTorch's meaning and key words, as RuntimeError subclasses.

Users port tutorials that catch `RuntimeError` and read its text, so each message keeps the
phrase PyTorch prints (`grad can be implicitly created only for scalar outputs`, ...) and adds
gradjit's usual location and hint.
"""

from __future__ import annotations

from ..errors import GradjitError
from ..ops.primitive import user_loc


class AutogradError(GradjitError, RuntimeError):
    """An eager autograd call cannot be carried out as asked."""

    def __init__(self, op: str, problem: str, hint: str | None = None):
        super().__init__(op, problem, user_loc(), hint)


def not_scalar() -> AutogradError:
    return AutogradError("backward", "grad can be implicitly created only for scalar outputs",
                         "pass gradient= (a tensor shaped like the output), or reduce the "
                         "output first, e.g. y.sum().backward()")


def freed(node_name: str) -> AutogradError:
    return AutogradError(
        "backward", f"Trying to backward through the graph a second time (or directly access "
        f"saved tensors after they have already been freed) at {node_name}. Saved intermediate "
        "values of the graph are freed when you call .backward() or autograd.grad().",
        "Specify retain_graph=True if you need to backward through the graph a second time or "
        "if you need to access saved tensors after calling backward.")


def leaf_inplace(op: str) -> AutogradError:
    return AutogradError(op, "a leaf Variable that requires grad is being used in an in-place "
                         "operation.", "update parameters inside `with torch.no_grad():` or "
                         "through `.data`")


def no_grad_fn(index: int = 0) -> AutogradError:
    return AutogradError("backward", f"element {index} of tensors does not require grad and "
                         "does not have a grad_fn", "create the inputs with requires_grad=True "
                         "and compute the output outside no_grad()")


def unused(index: int) -> AutogradError:
    return AutogradError("grad", "One of the differentiated Tensors appears to not have been "
                         f"used in the graph (input {index}).", "Set allow_unused=True if this "
                         "is the desired behavior.")


def modified(what: str, node_name: str, now: int, saved: int) -> AutogradError:
    return AutogradError(
        "backward", f"one of the variables needed for gradient computation has been modified "
        f"by an inplace operation: [{what}], which is saved by {node_name}, is at version {now}; "
        f"expected version {saved} instead.", "clone the tensor before modifying it in place, "
        "or modify it only after backward()")


def no_requires_grad(dtype) -> AutogradError:
    return AutogradError("requires_grad", "Only Tensors of floating point and complex dtype "
                         f"can require gradients (got {dtype})")


# torch's words when an op that needs a float dtype gets an integer or bool tensor
_NEEDS_FLOAT = {"mean": "could not infer output dtype. Input dtype must be either a floating "
                        "point or complex dtype. Got: {dtype}",
                "var": "std and var only support floating point and complex dtypes (got {dtype})"}


def needs_float(op: str, dtype) -> AutogradError:
    problem = _NEEDS_FLOAT["var" if op in ("var", "std") else op].format(dtype=dtype)
    hint = f"convert it first, e.g. x.float().{op}()"
    return AutogradError(op, problem, hint + (" or x.mean(dtype=torch.float32)"
                                              if op == "mean" else ""))
