"""dot_general: contraction with batch dimensions; matmul, dot, einsum, outer build on it.

Output layout (as in XLA): batch dims, then lhs free dims, then rhs free dims.
"""

from __future__ import annotations

import numpy as np

from . import api as A
from . import shapes as S
from .primitive import Primitive

def _dot_np(x, y, contract, batch):
    # as one batched matrix product (BLAS): (batch, x free, contracted) @ (batch, contracted,
    # y free), reshaped to batch + x free + y free
    (xc, yc), (xb, yb) = contract, batch
    x_free = [i for i in range(x.ndim) if i not in xc + xb]
    y_free = [i for i in range(y.ndim) if i not in yc + yb]
    size = lambda a, axes: int(np.prod([a.shape[i] for i in axes], dtype=np.int64))  # noqa
    b, m, k, n = size(x, xb), size(x, x_free), size(x, xc), size(y, y_free)
    xt = np.transpose(x, list(xb) + x_free + list(xc)).reshape(b, m, k)
    yt = np.transpose(y, list(yb) + list(yc) + y_free).reshape(b, k, n)
    out = np.matmul(xt, yt)
    return out.reshape([x.shape[i] for i in xb] + [x.shape[i] for i in x_free] +
                       [y.shape[i] for i in y_free])


def _ranges_like(*lists):
    start = 0
    for ls in lists:
        yield tuple(range(start, start + len(ls)))
        start += len(ls)


def _transpose_lhs(g, x, y, contract, batch, swap_ans=False):
    # x_bar = g . y contracted over y's free dims, then permuted back into x's layout
    (xc, yc), (xb, yb) = contract, batch
    x_nd, y_nd = len(A.shape_of(x)), len(A.shape_of(y))
    x_kept = [i for i in range(x_nd) if i not in xc + xb]
    y_kept = [i for i in range(y_nd) if i not in yc + yb]
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(xb, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(xb, x_kept, y_kept)
    dims = ((ans_y, tuple(y_kept)), (ans_batch, tuple(yb)))
    xc_sorted_by_y = list(np.take(xc, np.argsort(yc))) if xc else []
    out_axes = tuple(int(a) for a in np.argsort(list(xb) + x_kept + xc_sorted_by_y))
    return A.transpose(A.dot_general_p(g, y, contract=dims[0], batch=dims[1]), out_axes)


def _dot_vjp(g, x, y, out, contract, batch):
    # d(x.y) = dx.y + x.dy; each term's transpose is another dot_general
    (xc, yc), (xb, yb) = contract, batch
    swapped_c, swapped_b = (yc, xc), (yb, xb)
    return (_transpose_lhs(g, x, y, contract, batch),
            _transpose_lhs(g, y, x, swapped_c, swapped_b, swap_ans=True))


def _dot_jvp(primals, tangents, out, contract, batch):
    # d(x.y) = dx.y + x.dy (bilinear)
    (x, y), (tx, ty) = primals, tangents
    terms = [A.dot_general_p(tx, y, contract, batch) if tx is not None else None,
             A.dot_general_p(x, ty, contract, batch) if ty is not None else None]
    terms = [t for t in terms if t is not None]
    return None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _shift(axes, by=1):
    return tuple(a + by for a in axes)


def _dot_batch(args, dims, contract, batch):
    (x, y), (dx, dy) = args, dims
    (xc, yc), (xb, yb) = contract, batch
    if dx is not None and dy is not None:  # a new shared batch dimension, first in the output
        return A.dot_general_p(x, y, (_shift(xc), _shift(yc)),
                               ((0,) + _shift(xb), (0,) + _shift(yb))), 0
    if dx is not None:  # the batch axis is lhs' first free dim: right after the batch dims
        out = A.dot_general_p(x, y, (_shift(xc), yc), (_shift(xb), yb))
        return A.moveaxis(out, len(xb), 0), 0
    x_free = len(A.shape_of(x)) - len(xc) - len(xb)
    out = A.dot_general_p(x, y, (xc, _shift(yc)), (xb, _shift(yb)))
    return A.moveaxis(out, len(xb) + x_free, 0), 0


dot_general = Primitive("dot_general", 2, S.dot_general, _dot_np, vjp=_dot_vjp,
                        torch_name="MmBackward0", lower="dot_general", jvp=_dot_jvp,
                        batch=_dot_batch)
