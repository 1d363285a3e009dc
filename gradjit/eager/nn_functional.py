"""`torch.nn.functional`: convolutions, losses and activations as eager ops.

Each is one node with PyTorch's grad_fn name, its math written with `gradjit.ops.api`:
conv2d gathers the kernel's strided windows (one slice per kernel offset, stacked) and
contracts them with the weight in one `dot_general`, groups as a batch dimension;
conv_transpose2d is conv2d of the stride-dilated, padded input with the flipped weight.
"""

from __future__ import annotations

from ..ops import api as A
from . import functional as F
from .recorder import EagerOp, apply
from .tensor import Tensor, as_tensor


def _op(name, fn):
    return EagerOp(name, fn, staged=True)  # composites: run as their cached Function


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(x) for x in v)


def _conv2d_fn(x, w, stride, padding, dilation, groups):
    n, c, h, wd = A.shape_of(x)
    o, cg, kh, kw = A.shape_of(w)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    x = A.pad_p(x, (0, 0, ph, pw), (0, 0, ph, pw), (0, 0, 0, 0))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    windows = [A.slice_p(x, (0, 0, i * dh, j * dw),
                         (n, c, i * dh + (oh - 1) * sh + 1, j * dw + (ow - 1) * sw + 1),
                         (1, 1, sh, sw)) for i in range(kh) for j in range(kw)]
    patches = A.reshape(A.stack(windows, axis=2), (n, groups, cg, kh * kw, oh, ow))
    wg = A.reshape(w, (groups, o // groups, cg, kh * kw))
    out = A.dot_general_p(patches, wg, ((2, 3), (2, 3)), ((1,), (0,)))  # g, n, oh, ow, o/g
    return A.reshape(A.transpose(out, (1, 0, 4, 2, 3)), (n, o, oh, ow))


def _with_bias(out, b):
    return out if b is None else out + A.reshape(b, (1, -1, 1, 1))


_CONV = _op("ConvolutionBackward0", lambda x, w, b, stride, padding, dilation, groups:
                _with_bias(_conv2d_fn(x, w, stride, padding, dilation, groups), b))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if isinstance(padding, str):
        raise NotImplementedError("conv2d: string padding is not supported; pass integers")
    return apply(_CONV, input, weight, bias, stride=_pair(stride), padding=_pair(padding),
                 dilation=_pair(dilation), groups=int(groups))


def _conv_transpose2d_fn(x, w, b, stride, padding, output_padding, dilation, groups):
    cin, cog, kh, kw = A.shape_of(w)
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    # spread the input by the stride, pad so every output sees the full kernel, then crop
    lo = (dh * (kh - 1), dw * (kw - 1))
    hi = (lo[0] + oph, lo[1] + opw)
    x = A.pad_p(x, (0, 0) + lo, (0, 0) + hi, (0, 0, sh - 1, sw - 1))
    wt = A.reshape(w, (groups, cin // groups, cog, kh, kw))
    wt = A.reshape(A.transpose(wt, (0, 2, 1, 3, 4)), (groups * cog, cin // groups, kh, kw))
    out = _conv2d_fn(x, A.flip(wt, (2, 3)), (1, 1), (0, 0), dilation, groups)
    _, _, oh, ow = A.shape_of(out)
    out = A.slice_p(out, (0, 0, ph, pw), (A.shape_of(out)[0], groups * cog, oh - ph, ow - pw),
                    (1, 1, 1, 1))
    return _with_bias(out, b)


_CONV_T = _op("ConvolutionBackward0", _conv_transpose2d_fn)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    return apply(_CONV_T, input, weight, bias, stride=_pair(stride), padding=_pair(padding),
                 output_padding=_pair(output_padding), dilation=_pair(dilation),
                 groups=int(groups))


# ---- losses ----------------------------------------------------------------------------------


def _reduce(loss, reduction: str):
    return {"mean": A.mean, "sum": A.sum, "none": lambda v: v}[reduction](loss)


_MSE = _op("MseLossBackward0",
               lambda x, y, reduction: _reduce(A.square(x - A.asarray(y, A.dtype_of(x))),
                                               reduction))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    return apply(_MSE, input, as_tensor(target), reduction=reduction)


def _bce_logits_fn(x, y, w, pw, reduction):
    # (1 - y) x + (1 + (pw - 1) y) log(1 + e^-x), with log(1 + e^-x) = softplus(-x) (stable)
    y = A.asarray(y, A.dtype_of(x))
    log_weight = 1 if pw is None else 1 + (pw - 1) * y
    loss = (1 - y) * x + log_weight * A.softplus(-x)
    return _reduce(loss if w is None else loss * w, reduction)


_BCE_LOGITS = _op("BinaryCrossEntropyWithLogitsBackward0", _bce_logits_fn)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    return apply(_BCE_LOGITS, input, as_tensor(target), weight, pos_weight,
                 reduction=reduction)


_BCE = _op("BinaryCrossEntropyBackward0", lambda p, y, w, reduction: _reduce(
    (lambda loss: loss if w is None else loss * w)(
        -(y * A.maximum(A.log(p), -100.0) + (1 - y) * A.maximum(A.log1p(-p), -100.0))),
    reduction))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    return apply(_BCE, input, as_tensor(target), weight, reduction=reduction)


def _cross_entropy_fn(x, target, w, reduction, label_smoothing, class_axis_last):
    logp = A.log_softmax(x, axis=1)
    c = A.shape_of(x)[1]
    if A.dtype_of(target) in ("i32", "i64"):  # class indices: one-hot along the class axis
        onehot = A.moveaxis(A.one_hot(target, c, A.dtype_of(x)), -1, 1)
    else:
        onehot = target
    if label_smoothing:
        onehot = onehot * (1 - label_smoothing) + label_smoothing / c
    wb = 1 if w is None else A.reshape(w, (1, c) + (1,) * (len(A.shape_of(x)) - 2))
    loss = -A.sum(onehot * logp * wb, axis=1)
    if reduction == "mean" and w is not None and A.dtype_of(target) in ("i32", "i64"):
        return A.sum(loss) / A.sum(A.sum(onehot * wb, axis=1))
    return _reduce(loss, reduction)


_CROSS_ENTROPY = _op("NllLossBackward0", _cross_entropy_fn)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    return apply(_CROSS_ENTROPY, input, as_tensor(target), weight, reduction=reduction,
                 label_smoothing=float(label_smoothing), class_axis_last=False)


def nll_loss(input, target, weight=None, reduction="mean", **_):
    onehot = one_hot(as_tensor(target), input.shape[1]).to(input.dtype)
    loss = -(onehot * input).sum(1)
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()


# ---- activations -----------------------------------------------------------------------------

relu, sigmoid, tanh = F.relu, F.sigmoid, F.tanh
_SOFTMAX = _op("SoftmaxBackward0", lambda x, dim: A.softmax(x, dim))
_LOG_SOFTMAX = _op("LogSoftmaxBackward0", lambda x, dim: A.log_softmax(x, dim))
_SOFTPLUS = _op("SoftplusBackward0", lambda x: A.softplus(x))
_LEAKY = _op("LeakyReluBackward0", lambda x, slope: A.where(A.greater(x, 0), x,
                                                                 x * slope))
_GELU = _op("GeluBackward0", lambda x: 0.5 * x * (1 + A.erf(x * 0.7071067811865476)))


def softmax(input, dim=None, dtype=None):
    return apply(_SOFTMAX, input, dim=-1 if dim is None else dim)


def log_softmax(input, dim=None, dtype=None):
    return apply(_LOG_SOFTMAX, input, dim=-1 if dim is None else dim)


def softplus(input, beta=1, threshold=20):
    return apply(_SOFTPLUS, input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return apply(_LEAKY, input, slope=float(negative_slope))


def gelu(input, approximate="none"):
    return apply(_GELU, input)


_LINEAR = {n: _op(n, lambda x, w, b: A.matmul(x, A.transpose(w)) if b is None else
                      A.matmul(x, A.transpose(w)) + b) for n in ("AddmmBackward0",
                                                                 "MmBackward0",
                                                                 "ViewBackward0")}


def linear(input, weight, bias=None):
    name = "AddmmBackward0" if bias is not None and input.ndim == 2 else \
        "MmBackward0" if input.ndim == 2 else "ViewBackward0"
    return apply(_LINEAR[name], input, weight, bias)


def one_hot(tensor, num_classes=-1):
    import numpy as np

    idx = tensor._data.astype(np.int64)
    n = int(idx.max()) + 1 if num_classes < 0 else num_classes
    return Tensor._make(np.eye(n, dtype=np.int64)[idx])


def dropout(input, p=0.5, training=True, inplace=False):
    if not training or p == 0:
        return input
    from .creation import rand_like

    keep = (rand_like(input) >= p).to(input.dtype)
    return input * keep / (1 - p)
