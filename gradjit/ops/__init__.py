"""Primitive records by family, and the numpy-flavoured array API built on them."""

from . import (api, control, elementwise, index, linalg, reduce, remat,  # noqa: F401 (records)
               shape)
from .primitive import REGISTRY, Primitive, bind  # noqa: F401
