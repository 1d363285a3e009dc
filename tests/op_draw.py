"""Drawing operands for primitive tests: Hypothesis picks structure, numpy fills values.

Hypothesis chooses shapes (size-1 dims and 0-d included), axes, params and a seed; a numpy
Generator seeded by it fills values inside an op's domain: away from poles and kinks, without
ties, with exact zeros where a rule might divide by x. Values drawn this way stay generic,
which central differences need, while failures still shrink and replay.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradjit.ir.types import DTYPES, INTS


class Draw:
    """What a spec draws with: Hypothesis for structure, a seeded numpy Generator for values."""

    def __init__(self, data, dtype: str = "f64"):
        self.data, self.dtype = data, dtype
        self.rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))

    def __call__(self, strategy, label=None):
        return self.data.draw(strategy, label=label)

    def int(self, lo: int, hi: int) -> int:
        return self(st.integers(lo, hi))

    def shape(self, min_dims=0, max_dims=3, min_side=1, max_side=4) -> tuple[int, ...]:
        return self(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                     max_side=max_side), "shape")

    def axes(self, ndim: int) -> tuple[int, ...]:
        """A sorted set of axes (empty and all-axes included)."""
        return tuple(sorted(self(st.sets(st.integers(0, ndim - 1)), "axes"))) if ndim else ()

    def values(self, shape, lo=-2.0, hi=2.0, away=0.0, dtype=None) -> np.ndarray:
        """Values in [lo, hi]; with `away`, |x| >= away (a symmetric domain with a hole at 0)."""
        dtype = dtype or self.dtype
        if dtype == "bool":
            return self.rng.random(shape) < 0.5
        if dtype in INTS:
            x = self.rng.integers(math.floor(lo), math.ceil(hi) + 1, size=shape)
            return np.where((x == 0) & (away > 0), 1, x).astype(DTYPES[dtype])
        if away:
            assert lo == -hi, "`away` needs a symmetric domain"
            x = self.rng.uniform(away, hi, shape) * self.rng.choice([-1.0, 1.0], shape)
        else:
            x = self.rng.uniform(lo, hi, shape)
        return np.asarray(x, DTYPES[dtype])

    def distinct(self, shape, dtype=None) -> np.ndarray:
        """Pairwise distinct values at least 0.25 apart (no ties for max/argmax, even under FD)."""
        n = int(np.prod(shape, dtype=np.int64))
        ranks = self.rng.permutation(n).reshape(shape)
        if (dtype or self.dtype) in INTS:
            return (ranks - n // 2).astype(DTYPES[dtype or self.dtype])
        x = (ranks - n / 2) * 0.3 + self.rng.uniform(-0.02, 0.02, shape)
        return np.asarray(x, DTYPES[dtype or self.dtype])

    def with_zeros(self, x: np.ndarray) -> np.ndarray:
        """x with some entries set to exactly 0 (where a rule might divide by x)."""
        if x.size and self(st.booleans(), "zeros"):
            x = x.copy()
            x[self.rng.random(x.shape) < 0.3] = 0
        return x
