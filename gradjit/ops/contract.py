"""matmul, dot, tensordot, inner, outer and einsum, each as one `dot_general` plus reshapes."""

from __future__ import annotations

import numpy as np

from . import api as A


def _same_dtype(x, y):
    dtype = A.result_dtype(x, y)
    return A.asarray(x, dtype), A.asarray(y, dtype)


def matmul(x, y):
    """numpy's matmul: 1-D operands are promoted and demoted, batch dims broadcast."""
    x, y = _same_dtype(x, y)
    xs, ys = A.shape_of(x), A.shape_of(y)
    if not xs or not ys:
        raise ValueError("operands must not be scalars (use * instead)")
    x1, y1 = len(xs) == 1, len(ys) == 1
    if x1:
        x, xs = A.reshape(x, (1,) + xs), (1,) + xs
    if y1:
        y, ys = A.reshape(y, ys + (1,)), ys + (1,)
    if xs[-1] != ys[-2]:
        raise ValueError(f"contracting dimensions differ: {list(xs)} @ {list(ys)}")
    if len(ys) == 2:  # (..., m, k) @ (k, n): contract directly, no batch needed
        out = A.dot_general_p(x, y, ((len(xs) - 1,), (0,)), ((), ()))
    elif len(xs) == 2:  # (m, k) @ (..., k, n): (m, ..., n) then move m into place
        out = A.dot_general_p(x, y, ((1,), (len(ys) - 2,)), ((), ()))
        out = A.moveaxis(out, 0, -2)
    else:
        batch = np.broadcast_shapes(xs[:-2], ys[:-2])
        x = A.broadcast_to(x, batch + xs[-2:])
        y = A.broadcast_to(y, batch + ys[-2:])
        nb = len(batch)
        out = A.dot_general_p(x, y, ((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb))))
    shape = A.shape_of(out)
    if x1:
        shape = shape[:-2] + shape[-1:]
    if y1:
        shape = shape[:-1]
    return A.reshape(out, shape)


def tensordot(x, y, axes=2):
    x, y = _same_dtype(x, y)
    nx = len(A.shape_of(x))
    if isinstance(axes, int):
        xa, ya = tuple(range(nx - axes, nx)), tuple(range(axes))
    else:
        xa, ya = (tuple([a] if isinstance(a, int) else a) for a in axes)
    ny = len(A.shape_of(y))
    xa = tuple(a % nx for a in xa)
    ya = tuple(a % ny for a in ya)
    return A.dot_general_p(x, y, (xa, ya), ((), ()))


def dot(x, y):
    """numpy's dot: scalars multiply; otherwise x's last axis with y's second-to-last."""
    if not A.shape_of(x) or not A.shape_of(y):
        return A.multiply(x, y)
    ny = len(A.shape_of(y))
    return tensordot(x, y, ((-1,), (max(ny - 2, 0),)))


def inner(x, y):
    return tensordot(x, y, ((-1,), (-1,)))


def outer(x, y):
    return A.multiply(A.reshape(x, (-1, 1)), A.reshape(y, (1, -1)))


def einsum(subscripts: str, *operands):
    """Explicit or implicit einsum over any number of operands, folded pairwise."""
    subscripts = subscripts.replace(" ", "")
    if "..." in subscripts:
        raise ValueError("'...' is not supported; spell out the axes")
    lhs, _, out = subscripts.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"{len(ins)} subscripts for {len(operands)} operands")
    if "->" not in subscripts:
        letters = "".join(ins)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for spec, x in zip(ins, operands):
        if len(spec) != len(A.shape_of(x)) or len(set(spec)) != len(spec):
            raise ValueError(f"subscripts {spec!r} do not fit an operand of shape "
                             f"{list(A.shape_of(x))} (repeated letters are not supported)")
    acc, acc_spec = operands[0], ins[0]
    for spec, x in zip(ins[1:], operands[1:]):
        later = set(out).union(*[set(s) for s in ins[ins.index(spec) + 1 :]])
        acc, acc_spec = _pair(acc, acc_spec, x, spec, later)
    acc, acc_spec = _reduce_to(acc, acc_spec, set(out))
    return A.transpose(acc, [acc_spec.index(c) for c in out])


def _reduce_to(x, spec, keep):
    drop = [i for i, c in enumerate(spec) if c not in keep]
    if not drop:
        return x, spec
    return A.sum(x, tuple(drop)), "".join(c for c in spec if c in keep)


def _pair(x, xs, y, ys, later):
    x, y = _same_dtype(x, y)
    x, xs = _reduce_to(x, xs, set(ys) | later)
    y, ys = _reduce_to(y, ys, set(xs) | later)
    shared = [c for c in xs if c in ys]
    batch = [c for c in shared if c in later]
    contract = [c for c in shared if c not in later]
    out = A.dot_general_p(x, y, (tuple(xs.index(c) for c in contract),
                                 tuple(ys.index(c) for c in contract)),
                          (tuple(xs.index(c) for c in batch), tuple(ys.index(c) for c in batch)))
    spec = "".join(batch) + "".join(c for c in xs if c not in shared) + \
        "".join(c for c in ys if c not in shared)
    return out, spec
