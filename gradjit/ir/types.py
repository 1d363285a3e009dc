"""IR types: a dtype name and a static shape. All shape/dtype vocabulary lives here."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# IR dtype names and their numpy dtypes; the order is the promotion lattice within a kind.
DTYPES: dict[str, np.dtype] = {
    "bool": np.dtype(np.bool_),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
}
_BY_NUMPY = {v: k for k, v in DTYPES.items()}
FLOATS = ("f32", "f64")
INTS = ("i32", "i64")


def dtype_name(dtype) -> str:
    """The IR name of a numpy dtype (or IR name); raises TypeError for unsupported dtypes."""
    if isinstance(dtype, str) and dtype in DTYPES:
        return dtype
    try:
        np_dtype = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"unsupported dtype {dtype!r}") from e
    if not np_dtype.isnative:  # byte-swapped (e.g. '>f8' from a file): the same values
        np_dtype = np_dtype.newbyteorder("=")
    if np_dtype not in _BY_NUMPY:
        raise TypeError(f"unsupported dtype {np_dtype} (gradjit supports {', '.join(DTYPES)})")
    return _BY_NUMPY[np_dtype]


def is_float(dtype: str) -> bool:
    return dtype in FLOATS


def promote(a: str, b: str) -> str:
    """numpy's promotion restricted to gradjit's dtypes."""
    return dtype_name(np.promote_types(DTYPES[a], DTYPES[b]))


@dataclass(frozen=True, slots=True)
class TensorType:
    dtype: str
    shape: tuple[int, ...]

    def __post_init__(self):
        assert self.dtype in DTYPES, self.dtype
        assert all(isinstance(d, int) and d >= 0 for d in self.shape), self.shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def np_dtype(self) -> np.dtype:
        return DTYPES[self.dtype]

    def with_shape(self, shape) -> TensorType:
        return TensorType(self.dtype, tuple(shape))

    def with_dtype(self, dtype: str) -> TensorType:
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        return f"{self.dtype}[{','.join(map(str, self.shape))}]"

    @staticmethod
    def of(array) -> TensorType:
        """The type of a concrete value (numpy array, numpy scalar or Python number)."""
        a = array if isinstance(array, np.ndarray) else np.asarray(array)
        return _type_of(a.dtype, a.shape)


@functools.lru_cache(maxsize=4096)
def _type_of(dtype: np.dtype, shape: tuple[int, ...]) -> TensorType:
    """Types are values: one object per (dtype, shape) on the eager and tracing hot paths."""
    return TensorType(dtype_name(dtype), tuple(int(d) for d in shape))


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """numpy broadcasting; raises ValueError with both shapes when they do not broadcast."""
    return tuple(np.broadcast_shapes(*shapes))


def normalize_axis(axis: int, ndim: int) -> int:
    """A non-negative axis; raises ValueError when out of bounds."""
    return _check_axis(int(axis), ndim)


def normalize_axes(axes, ndim: int) -> tuple[int, ...]:
    """None -> all axes; an int or sequence -> sorted, non-negative, unique axes."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, int):
        axes = (axes,)
    out = tuple(sorted({_check_axis(int(a), ndim) for a in axes}))
    if len(out) != len(tuple(axes)):
        raise ValueError(f"repeated axis in {tuple(axes)}")
    return out


def _check_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for a tensor of rank {ndim}")
    return axis % ndim
