"""`gradjit.autograd` (torch.autograd): backward, grad, Function, gradcheck."""

from ..eager.autograd import (  # noqa: F401
                              Function,
                              FunctionCtx,
                              backward,
                              grad,
                              gradcheck,
                              gradgradcheck,
                              once_differentiable,
)
from ..eager.grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401
from . import function  # noqa: F401
