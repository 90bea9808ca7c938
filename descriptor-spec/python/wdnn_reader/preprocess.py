"""Image preprocessing as the manifest describes it (SPEC §3.1): from 8-bit RGB pixels to the first input.

Decoding the image file is left to the caller (any decoder gives the same pixels for lossless formats such as PNG).
"""

import math

import numpy as np


def _round_half_away(v):
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def resized_size(width, height, short_side):
    """SPEC §3.1: the scale and both sides in f64, each side rounded half away from zero."""
    s = short_side / min(width, height)
    return _round_half_away(width * s), _round_half_away(height * s)


def _taps(n_in, n_out):
    """The antialiased triangle filter of SPEC §3.1 along one axis: per output index, ``(left, weights)``, in f32."""
    f32 = np.float32
    ratio = f32(n_in) / f32(n_out)
    sratio = max(ratio, f32(1))
    support = f32(1) * sratio
    taps = []
    for o in range(n_out):
        c = (f32(o) + f32(0.5)) * ratio
        left = min(max(math.floor(c - support), 0), n_in - 1)
        right = min(max(math.ceil(c + support), left + 1), n_in)
        centre = c - f32(0.5)
        w = [max(f32(0), f32(1) - abs((f32(i) - centre) / sratio)) for i in range(left, right)]
        total = f32(0)
        for x in w:
            total = f32(total + x)
        taps.append((left, [f32(x / total) for x in w]))
    return taps


def _pass(x, n_out, axis):
    """One pass along ``axis`` of an f32 image, each output the taps' sum accumulated in order, in f32."""
    x = np.moveaxis(x, axis, 0)
    out = np.empty((n_out,) + x.shape[1:], np.float32)
    for o, (left, w) in enumerate(_taps(x.shape[0], n_out)):
        acc = np.zeros(x.shape[1:], np.float32)
        for j, wj in enumerate(w):
            acc += x[left + j] * wj
        out[o] = acc
    return np.moveaxis(out, 0, axis)


def resize(rgb, width, height):
    """``rgb`` [h, w, 3] uint8 resized to ``height``×``width``: the vertical pass first, kept in f32, then the
    horizontal one, rounded half away from zero and clamped to 0..255."""
    h, w = rgb.shape[:2]
    if (w, h) == (width, height):
        return rgb.copy()
    x = _pass(rgb.astype(np.float32), height, 0)
    x = np.clip(_pass(x, width, 1), 0, 255)
    r = np.floor(x)
    return (r + (x - r >= np.float32(0.5))).astype(np.uint8)


def preprocess(rgb, p):
    """``rgb`` [h, w, 3] uint8 → the [1, 3, crop_h, crop_w] f32 input of a manifest's Preprocessing ``p``."""
    h, w = rgb.shape[:2]
    nw, nh = resized_size(w, h, p.resize_short_side)
    ch, cw = p.crop
    if ch > nh or cw > nw:
        raise ValueError(f"the resized image ({nw}×{nh}) is smaller than the crop ({cw}×{ch})")
    img = resize(rgb, nw, nh)
    top, left = (nh - ch) // 2, (nw - cw) // 2
    crop = img[top : top + ch, left : left + cw].astype(np.float32) * np.float32(p.scale)
    mean = np.array(p.mean, np.float32).reshape(1, 1, 3)
    std = np.array(p.std, np.float32).reshape(1, 1, 3)
    return ((crop - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)
