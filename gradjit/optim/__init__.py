"""`gradjit.optim` (torch.optim)."""

from ..eager.optim import SGD, Optimizer  # noqa: F401
