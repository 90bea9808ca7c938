"""MaxPool, AveragePool (SPEC §5) and Lrn."""

import numpy as np

from .elementwise import finish
from .layout import from_channels_last, per_axis, split_pads, to_channels_last


def _windows(xp, k, strides, dilations, out_spatial):
    r = len(k)
    for kpos in np.ndindex(*k):
        yield (slice(None), slice(None)) + tuple(
            slice(kpos[i] * dilations[i], kpos[i] * dilations[i] + strides[i] * (out_spatial[i] - 1) + 1, strides[i])
            for i in range(r)
        )


def _pad_widths(x, k, strides, dilations, pads, out_spatial):
    """Begin pads, and end pads long enough for every window of the output's extent (ceil mode)."""
    r = len(k)
    widths = [(0, 0), (0, 0)]
    for i in range(r):
        need = (out_spatial[i] - 1) * strides[i] + (k[i] - 1) * dilations[i] + 1
        widths.append((pads[i], max(pads[r + i], need - pads[i] - x.shape[2 + i], 0)))
    return widths


def _pooled(op, ins, outs, compute):
    x = ins[0]
    out_shape = outs[0][1]
    cl = op["channels_last"]
    if cl:
        x = from_channels_last(x)
    nchw = from_channels_last(np.empty(out_shape, np.uint8)).shape if cl else out_shape
    y = compute(x, nchw[2:])
    if cl:
        y = to_channels_last(y)
    return [finish(y, outs[0])]


def _window_attrs(op):
    k = op["kernel_shape"]
    r = len(k)
    strides = per_axis(op["strides"], r, 1, "strides")
    return k, strides, per_axis(op["dilations"], r, 1, "dilations"), split_pads(op["pads"], r)


def k_max_pool(op, ins, outs):
    k, strides, dilations, pads = _window_attrs(op)

    def compute(x, out_spatial):
        lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = np.pad(x, _pad_widths(x, k, strides, dilations, pads, out_spatial), constant_values=lowest)
        y = None
        for w in _windows(xp, k, strides, dilations, out_spatial):
            y = xp[w].copy() if y is None else np.maximum(y, xp[w])
        return y

    return _pooled(op, ins, outs, compute)


def k_average_pool(op, ins, outs):
    k, strides, dilations, pads = _window_attrs(op)
    r = len(k)

    def compute(x, out_spatial):
        widths = _pad_widths(x, k, strides, dilations, pads, out_spatial)
        xp = np.pad(x.astype(np.float32), widths)
        # The divisor counts window positions inside the input, or inside the input extended by the pads.
        inside = np.ones((1, 1) + x.shape[2:], np.float32)
        if op["count_include_pad"]:
            inside = np.pad(inside, [(0, 0), (0, 0)] + [(pads[i], pads[r + i]) for i in range(r)], constant_values=1)
            extra = [(0, 0), (0, 0)] + [(0, widths[2 + i][1] - pads[r + i]) for i in range(r)]
            inside = np.pad(inside, extra)
        else:
            inside = np.pad(inside, widths)
        total = np.zeros(x.shape[:2] + tuple(out_spatial), np.float32)
        count = np.zeros((1, 1) + tuple(out_spatial), np.float32)
        for w in _windows(xp, k, strides, dilations, out_spatial):
            total += xp[w]
            count += inside[w]
        return total / count

    return _pooled(op, ins, outs, compute)


def k_lrn(op, ins, outs):
    """ONNX LRN: y = x / (bias + alpha/size · Σ x²)^beta, the sum over channels c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉."""
    x = ins[0].astype(np.float32)
    size = op["size"]
    lo, hi = (size - 1) // 2, (size - 1) - (size - 1) // 2
    sq = np.pad(x * x, [(0, 0), (lo, hi)] + [(0, 0)] * (x.ndim - 2))
    c = x.shape[1]
    total = np.zeros_like(x)
    for j in range(size):
        total += sq[:, j : j + c]
    alpha, beta, bias = (np.float32(op[n]) for n in ("alpha", "beta", "bias"))
    return [finish(x / (bias + alpha / np.float32(size) * total) ** beta, outs[0])]


KERNELS = {"MaxPool": k_max_pool, "AveragePool": k_average_pool, "Lrn": k_lrn}
