"""The IR: types, values/instructions/functions, text form, verifier and numpy interpreter."""

from .core import Function, Instr, Value  # noqa: F401
from .parser import parse  # noqa: F401
from .printer import print_function  # noqa: F401
from .types import TensorType  # noqa: F401
from .verify import verify  # noqa: F401
