"""Tracing Python functions into IR, numpy's protocols, and the public transforms."""

from .core import Tracer  # noqa: F401
from .transforms import (dump, grad, hessian, jacobian, jit, trace, value_and_grad,  # noqa: F401
                         vjp)
