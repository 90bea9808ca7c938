"""Conv, ConvTranspose and MatMul (SPEC §5), each followed by its epilogue (§5.4)."""

import numpy as np

from .elementwise import apply_steps, finish
from .layout import from_channels_last, per_axis, split_pads, to_channels_last


def _bias(op, ins):
    """Input 2 is the bias unless an epilogue step names it as its operand (SPEC §5.4)."""
    named = any(s.step == "Binary" and s.operand == 2 for s in op["epilogue"])
    return ins[2] if len(ins) > 2 and not named else None


def _window_slices(start, stride, count):
    return slice(start, start + stride * (count - 1) + 1, stride)


def conv_nchw(x, w, group, strides, dilations, pads, out_spatial):
    """ONNX Conv without bias: x [N, C, D...], w [O, C/group, k...], explicit pads (begins, then ends)."""
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    k = w.shape[2:]
    r = len(k)
    og = o // group
    begins, ends = pads[:r], pads[r:]
    # Pad enough for every window the output's extent asks for.
    need = [(out_spatial[i] - 1) * strides[i] + (k[i] - 1) * dilations[i] + 1 for i in range(r)]
    widths = [(0, 0), (0, 0)] + [
        (begins[i], max(ends[i], need[i] - begins[i] - x.shape[2 + i])) for i in range(r)
    ]
    xp = np.pad(x, widths)
    xp = xp.reshape(n, group, cg, *xp.shape[2:])
    wg = w.reshape(group, og, cg, *k)
    s = int(np.prod(out_spatial)) if out_spatial else 1
    acc = np.zeros((n, group, og, s), dtype=np.float32)
    for kpos in np.ndindex(*k):
        window = tuple(_window_slices(kpos[i] * dilations[i], strides[i], out_spatial[i]) for i in range(r))
        xs = xp[(slice(None), slice(None), slice(None)) + window].reshape(n, group, cg, s)
        wk = wg[(slice(None), slice(None), slice(None)) + kpos]  # [group, og, cg]
        if cg == 1:
            acc += xs * wk[None, :, :, :]  # depthwise: [n, g, 1, s] * [1, g, og, 1]
        else:
            acc += np.matmul(wk[None], xs)
    return acc.reshape(n, o, *out_spatial)


def k_conv(op, ins, outs):
    x, w = ins[0], ins[1]
    out_shape = outs[0][1]
    cl = op["channels_last"]
    if cl:
        x = from_channels_last(x)
    nchw = from_channels_last(np.empty(out_shape, np.uint8)).shape if cl else out_shape
    r = w.ndim - 2
    acc = conv_nchw(x.astype(np.float32), w.astype(np.float32), op["group"], per_axis(op["strides"], r, 1, "strides"),
                    per_axis(op["dilations"], r, 1, "dilations"), split_pads(op["pads"], r), nchw[2:])
    b = _bias(op, ins)
    if b is not None:
        acc = acc + b.astype(np.float32).reshape((1, -1) + (1,) * (acc.ndim - 2))
    if cl:
        acc = to_channels_last(acc)
    return [finish(apply_steps(acc, op["epilogue"], ins, out_shape), outs[0])]


def conv_transpose_nchw(x, w, group, strides, dilations, pads, out_spatial):
    """ONNX ConvTranspose without bias: x [N, I, D...], w [I, O/group, k...]; the full transposed convolution,
    cropped by the begin pads to the output's extent."""
    n, ci = x.shape[:2]
    cog = w.shape[1]
    k = w.shape[2:]
    r = len(k)
    cig = ci // group
    in_spatial = x.shape[2:]
    begins = pads[:r]
    full = [
        max((in_spatial[i] - 1) * strides[i] + (k[i] - 1) * dilations[i] + 1, begins[i] + out_spatial[i])
        for i in range(r)
    ]
    acc = np.zeros((n, group, cog, *full), dtype=np.float32)
    s = int(np.prod(in_spatial)) if in_spatial else 1
    xs = x.reshape(n, group, cig, s)
    wg = w.reshape(group, cig, cog, *k)
    for kpos in np.ndindex(*k):
        wk = np.swapaxes(wg[(slice(None), slice(None), slice(None)) + kpos], 1, 2)  # [group, cog, cig]
        contrib = np.matmul(wk[None], xs).reshape(n, group, cog, *in_spatial)
        window = tuple(_window_slices(kpos[i] * dilations[i], strides[i], in_spatial[i]) for i in range(r))
        acc[(slice(None), slice(None), slice(None)) + window] += contrib
    crop = tuple(slice(begins[i], begins[i] + out_spatial[i]) for i in range(r))
    return acc[(slice(None), slice(None), slice(None)) + crop].reshape(n, group * cog, *out_spatial)


def k_conv_transpose(op, ins, outs):
    x, w = ins[0], ins[1]
    out_shape = outs[0][1]
    cl = op["channels_last"]
    if cl:
        x = from_channels_last(x)
    nchw = from_channels_last(np.empty(out_shape, np.uint8)).shape if cl else out_shape
    r = w.ndim - 2
    acc = conv_transpose_nchw(x.astype(np.float32), w.astype(np.float32), op["group"],
                              per_axis(op["strides"], r, 1, "strides"), per_axis(op["dilations"], r, 1, "dilations"),
                              split_pads(op["pads"], r), nchw[2:])
    b = _bias(op, ins)
    if b is not None:
        acc = acc + b.astype(np.float32).reshape((1, -1) + (1,) * (acc.ndim - 2))
    if cl:
        acc = to_channels_last(acc)
    return [finish(apply_steps(acc, op["epilogue"], ins, out_shape), outs[0])]


def k_matmul(op, ins, outs):
    a, b = ins[0], ins[1]
    if op["transpose_a"] and a.ndim >= 2:
        a = np.swapaxes(a, -1, -2)
    if op["transpose_b"] and b.ndim >= 2:
        b = np.swapaxes(b, -1, -2)
    out_shape = outs[0][1]
    acc = np.matmul(a, b)
    c = _bias(op, ins)
    if c is not None:
        acc = acc + c
    acc = np.broadcast_to(acc, out_shape)
    return [finish(apply_steps(acc, op["epilogue"], ins, out_shape), outs[0])]


KERNELS = {"Conv": k_conv, "ConvTranspose": k_conv_transpose, "MatMul": k_matmul}
