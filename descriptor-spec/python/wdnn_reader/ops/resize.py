"""Resize (SPEC §5, §5.5) as ONNX defines it: separable, one axis after another, each output index mapped to an
input coordinate by the coordinate transformation, then interpolated from its taps."""

import math

import numpy as np

from ..errors import Unimplemented
from .elementwise import finish


def _coordinate(mode, x, scale, n_in, n_out):
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        adjustment = n_out / (scale * n_in)
        center = n_in / 2
        return center * (1 - adjustment) + (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if n_out > 1 else 0.0
    if mode == "align_corners":
        return 0.0 if n_out == 1 else x * (n_in - 1) / (n_out - 1)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    raise Unimplemented("", f"Resize coordinates `{mode}`")


def _nearest(mode, c):
    if mode == "round_prefer_floor":
        return math.floor(c) if c - math.floor(c) == 0.5 else round(c)
    if mode == "round_prefer_ceil":
        return math.ceil(c) if c - math.floor(c) == 0.5 else round(c)
    if mode == "floor":
        return math.floor(c)
    return math.ceil(c)


def _cubic_weights(t, a):
    def w(d):
        d = abs(d)
        if d <= 1:
            return (a + 2) * d**3 - (a + 3) * d**2 + 1
        if d < 2:
            return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
        return 0.0

    return [w(t + 1), w(t), w(1 - t), w(2 - t)]


def taps(op, n_in, n_out, scale):
    """Per output index: the input indices it reads and their weights."""
    out = []
    for x in range(n_out):
        c = _coordinate(op["coordinates"], float(x), float(scale), n_in, n_out)
        mode = op["mode"]
        if mode == "nearest":
            i = min(max(_nearest(op["nearest"], c), 0), n_in - 1)
            out.append(([i], [1.0]))
        elif mode == "linear":
            c = min(max(c, 0.0), n_in - 1.0)
            i0 = math.floor(c)
            t = c - i0
            i1 = min(i0 + 1, n_in - 1)
            out.append(([i0, i1], [1.0 - t, t]))
        elif mode == "cubic":
            i0 = math.floor(c)
            ws = _cubic_weights(c - i0, op["cubic_coeff_a"])
            idx = [i0 - 1, i0, i0 + 1, i0 + 2]
            if op["exclude_outside"]:
                ws = [w if 0 <= i < n_in else 0.0 for i, w in zip(idx, ws)]
                total = sum(ws)
                ws = [w / total for w in ws] if total else ws
            out.append(([min(max(i, 0), n_in - 1) for i in idx], ws))
        else:
            raise Unimplemented("", f"Resize mode `{mode}`")
    return out


def k_resize(op, ins, outs):
    x = ins[0]
    out_shape = outs[0][1]
    y = x.astype(np.float64) if x.dtype.kind == "f" else x
    for axis, (n_in, n_out, scale) in enumerate(zip(x.shape, out_shape, op["scales"])):
        if n_in == n_out and scale == 1.0:
            continue
        t = taps(op, n_in, n_out, scale)
        width = max(len(i) for i, _ in t)
        index = np.array([i + [i[-1]] * (width - len(i)) for i, _ in t], np.int64)
        weight = np.array([w + [0.0] * (width - len(w)) for _, w in t], np.float64)
        moved = np.moveaxis(y, axis, -1)
        if op["mode"] == "nearest":
            moved = moved[..., index[:, 0]]
        else:
            moved = np.sum(moved[..., index] * weight, axis=-1)
        y = np.moveaxis(moved, -1, axis)
    return [finish(y, outs[0])]


KERNELS = {"Resize": k_resize}
