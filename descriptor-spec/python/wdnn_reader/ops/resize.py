"""Resize (SPEC §5, §5.5) as ONNX defines it: separable, one axis after another, each output index mapped to an
input coordinate by the coordinate transformation, then interpolated from its taps."""

import itertools
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


def _reflect(x, lo, hi):
    """`x` mirrored at `lo` and `hi` until it lies between them."""
    span = hi - lo
    if x < lo:
        n, r = divmod(lo - x, span)
        return lo + r if n % 2 == 0 else hi - r
    if x > hi:
        n, r = divmod(x - hi, span)
        return hi - r if n % 2 == 0 else lo + r
    return x


def _keys(t, a=-0.75):
    """Keys' cubic convolution weights of the four taps around a point `t` past the second one."""
    far = lambda d: ((a * d - 5 * a) * d + 8 * a) * d - 4 * a  # noqa: E731
    near = lambda d: ((a + 2) * d - (a + 3)) * d * d + 1  # noqa: E731
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def k_grid_sample(op, ins, outs):
    """ONNX GridSample: X [N, C, D...] sampled at grid [N, H..., r], whose last axis lists the last spatial axis
    first; coordinates are normalized to [-1, 1] (the corner pixels' centres with align_corners, else their edges)."""
    x, grid = ins[0].astype(np.float64), ins[1].astype(np.float64)
    mode, padding, aligned = op["mode"], op["padding"], op["align_corners"]
    dims = x.shape[2:]
    k = len(dims)
    lo = [0.0 if aligned else -0.5] * k
    hi = [d - 1.0 if aligned else d - 0.5 for d in dims]
    out = np.zeros(tuple(outs[0][1]), np.float64)

    def pixel(n, index):
        """The values of X[n, :, index...] under the padding rule (an int index per axis)."""
        fixed = []
        for axis, i in enumerate(index):
            if padding == "zeros":
                if not 0 <= i < dims[axis]:
                    return 0.0
            elif padding == "border":
                i = min(max(i, 0), dims[axis] - 1)
            else:
                i = int(_reflect(float(i), lo[axis], hi[axis]))
            fixed.append(i)
        return x[(n, slice(None), *fixed)]

    for position in np.ndindex(*out.shape[:1], *out.shape[2:]):
        n, where = position[0], position[1:]
        normalized = grid[(n, *where)][::-1]
        c = [(v + 1) / 2 * (d - 1) if aligned else ((v + 1) * d - 1) / 2 for v, d in zip(normalized, dims)]
        if mode == "nearest":
            c = [float(np.rint(v)) for v in c]
        for axis, v in enumerate(c):
            if v < lo[axis] or v > hi[axis]:
                if padding == "border":
                    c[axis] = min(max(v, 0.0), dims[axis] - 1.0)
                elif padding == "reflection":
                    c[axis] = _reflect(v, lo[axis], hi[axis])
        if mode == "nearest":
            value = pixel(n, [int(v) for v in c])
        else:
            taps = []
            for v in c:
                base = math.floor(v)
                t = v - base
                if mode == "linear":
                    taps.append([(base, 1 - t), (base + 1, t)])
                else:
                    taps.append([(base - 1 + j, w) for j, w in enumerate(_keys(t))])
            value = 0.0
            for combo in itertools.product(*taps):
                weight = math.prod(w for _, w in combo)
                value = value + weight * pixel(n, [i for i, _ in combo])
        out[(n, slice(None), *where)] = value
    return [finish(out, outs[0])]


KERNELS = {"Resize": k_resize, "GridSample": k_grid_sample}
