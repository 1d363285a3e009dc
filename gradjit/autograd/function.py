"""`gradjit.autograd.function` (torch.autograd.function): custom Functions."""

from ..eager.autograd import Function, FunctionCtx, InplaceFunction, once_differentiable  # noqa: F401
