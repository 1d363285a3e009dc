"""`gradjit.nn` (torch.nn): the functional namespace."""

from . import functional  # noqa: F401
