"""Tracing Python functions into IR, numpy's protocols, and the public transforms."""

from .core import Tracer  # noqa: F401
from .transforms import dump, grad, jit, trace, value_and_grad, vjp  # noqa: F401
from .vectorize import hessian, jacfwd, jacobian, jacrev, jvp, vmap  # noqa: F401
