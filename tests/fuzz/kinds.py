"""The table of every step kind the generator draws from, by name."""

from __future__ import annotations

from .kind import Kind
from .kinds_control import CONTROL
from .kinds_index import INDEX
from .kinds_linalg import LINALG
from .kinds_math import BINARY, DOMAIN, RAW, UNARY
from .kinds_reduce import INTEGER, LOGIC, REDUCE
from .kinds_shape import SHAPE

# group weights: how often a step comes from each family
GROUPS: list[tuple[float, list[Kind]]] = [
    (3.0, UNARY), (2.0, DOMAIN), (1.0, RAW), (3.0, BINARY), (1.5, REDUCE), (0.6, INTEGER),
    (1.2, LOGIC), (2.5, SHAPE), (1.5, INDEX), (1.5, LINALG), (1.2, CONTROL),
]

KINDS: dict[str, Kind] = {}
for _, group in GROUPS:
    for k in group:
        assert k.name not in KINDS, k.name
        KINDS[k.name] = k
