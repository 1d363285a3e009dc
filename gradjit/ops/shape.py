"""Shape primitives: broadcast, reshape, transpose, concatenate, slice, pad, flip; constants."""

from __future__ import annotations

import base64

import numpy as np

from ..ir.types import DTYPES
from . import api as A
from . import shapes as S
from .primitive import Primitive


def _broadcast_vjp(g, x, out, shape):
    # broadcasting copies: its transpose sums the copies (leading axes and size-1 axes)
    x_shape = A.shape_of(x)
    lead = len(shape) - len(x_shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(x_shape) if d == 1 and shape[lead + i] != 1)
    return (A.reshape(A.reduce_sum(g, axes), x_shape) if axes else A.reshape(g, x_shape),)


def _broadcast_batch(args, dims, shape):
    # align x's own axes to the right of the target shape, after the batch axis
    (x,) = args
    xs = A.shape_of(x)
    lifted = A.reshape(x, xs[:1] + (1,) * (len(shape) - len(xs) + 1) + xs[1:])
    return A.broadcast_to(lifted, xs[:1] + tuple(shape)), 0


def _prepend(prim, key, value_of):
    """Set prim's batching rule: prepend the batch axis' entry to the tuple parameters `key`."""
    def rule(args, dims, **params):
        params = dict(params)
        for k, v in zip(key, value_of(A.shape_of(args[0])[0])):
            params[k] = (v,) + tuple(params[k])
        return prim(args[0], **params), 0

    prim.batch = rule


broadcast_to = Primitive("broadcast_to", 1, S.broadcast_to,
                         lambda x, shape: np.broadcast_to(x, shape).copy(),
                         vjp=_broadcast_vjp, torch_name="ExpandBackward0", linear=True,
                         lower="broadcast_to", batch=_broadcast_batch)
reshape = Primitive("reshape", 1, S.reshape, lambda x, shape: np.reshape(x, shape),
                    vjp=lambda g, x, out, shape: (A.reshape(g, A.shape_of(x)),),
                    torch_name="ViewBackward0", linear=True, lower="reshape",
                    batch=lambda args, dims, shape: (
                        A.reshape(args[0], A.shape_of(args[0])[:1] + tuple(shape)), 0))
transpose = Primitive("transpose", 1, S.transpose, lambda x, perm: np.transpose(x, perm),
                      vjp=lambda g, x, out, perm: (A.transpose(g, tuple(np.argsort(perm))),),
                      torch_name="PermuteBackward0", linear=True, lower="transpose",
                      batch=lambda args, dims, perm: (
                          A.transpose(args[0], (0,) + tuple(p + 1 for p in perm)), 0))


def _concat_vjp(g, *xs, out, axis):
    # each operand gets back its own slab of the cotangent
    bounds = np.cumsum([0] + [A.shape_of(x)[axis] for x in xs])
    return tuple(A.slice_axis(g, axis, int(b), int(e)) for b, e in zip(bounds, bounds[1:]))


concatenate = Primitive("concatenate", None, S.concatenate,
                        lambda *xs, axis: np.concatenate(xs, axis=axis),
                        vjp=_concat_vjp, torch_name="CatBackward0", linear=True,
                        lower="concatenate", batch="axis")


def _slice_np(x, start, stop, step):
    return x[tuple(slice(b, e, s) for b, e, s in zip(start, stop, step))].copy()


def _slice_vjp(g, x, out, start, stop, step):
    # the transpose of a strided slice scatters back with zeros: lo, hi and interior padding
    shape = A.shape_of(x)
    n = A.shape_of(out)
    hi = tuple(d - (b + (k - 1) * s + 1) if k else d - b
               for d, b, s, k in zip(shape, start, step, n))
    interior = tuple(s - 1 if k > 1 else 0 for s, k in zip(step, n))
    return (A.pad_p(g, lo=tuple(start), hi=hi, interior=interior),)


slice_ = Primitive("slice", 1, S.slice_, _slice_np, vjp=_slice_vjp, torch_name="SliceBackward0",
                   linear=True, lower="slice")
_prepend(slice_, ("start", "stop", "step"), lambda n: (0, n, 1))


def _pad_np(x, lo, hi, interior, value=0.0):
    shape = S.pad(S.TensorType.of(x), lo=lo, hi=hi, interior=interior).shape
    out = np.full(shape, value, dtype=x.dtype)
    out[tuple(slice(a, a + (d - 1) * (i + 1) + 1 if d else a, i + 1)
              for a, i, d in zip(lo, interior, x.shape))] = x
    return out


def _pad_vjp(g, x, out, lo, hi, interior, value=0.0):
    # padding places x on a strided sub-grid: its transpose reads that sub-grid back
    shape = A.shape_of(x)
    start = tuple(lo)
    stop = tuple(a + (d - 1) * (i + 1) + 1 if d else a for a, i, d in zip(lo, interior, shape))
    step = tuple(i + 1 for i in interior)
    return (A.slice_p(g, start=start, stop=stop, step=step),)


def _pad_jvp(primals, tangents, out, lo, hi, interior, value=0.0):
    # pad is affine: the padding value is constant, so the tangent is padded with zeros
    (t,) = tangents
    return None if t is None else A.pad_p(t, lo, hi, interior, 0.0)


pad = Primitive("pad", 1, S.pad, _pad_np, vjp=_pad_vjp, torch_name="ConstantPadNdBackward0",
                lower="pad", jvp=_pad_jvp)
_prepend(pad, ("lo", "hi", "interior"), lambda n: (0, 0, 0))
flip = Primitive("flip", 1, S.flip, lambda x, axes: np.flip(x, axes).copy(),
                 vjp=lambda g, x, out, axes: (A.flip_p(g, axes=axes),),
                 torch_name="FlipBackward0", linear=True, lower="flip", batch="axes")


def _iota_np(shape, axis, dtype):
    index = np.arange(shape[axis], dtype=DTYPES[dtype])
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return np.broadcast_to(index.reshape(view), shape).copy()


iota = Primitive("iota", 0, S.iota, _iota_np, nondiff="a constant (it has no inputs)",
                 lower="iota")


# Constants print as nested lists when small and as base64 of their bytes when large, so the
# text form stays readable and still parses back to the same array.
_INLINE_MAX = 64


def _encode_const(value: np.ndarray):
    if value.size <= _INLINE_MAX:
        return value.tolist()
    return "b64:" + base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()


def _decode_const(text, out_type):
    if isinstance(text, str) and text.startswith("b64:"):
        flat = np.frombuffer(base64.b64decode(text[4:]), dtype=out_type.np_dtype)
        return flat.reshape(out_type.shape).copy()
    return np.asarray(text, dtype=out_type.np_dtype).reshape(out_type.shape)


const = Primitive("const", 0, S.const, lambda value: value, nondiff="a constant",
                  lower="const", extra={"encode": {"value": _encode_const},
                                        "decode": {"value": _decode_const}})
