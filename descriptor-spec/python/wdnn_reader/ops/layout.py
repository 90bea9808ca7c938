"""NHWC ↔ NCHW for the ops with ``channels_last`` (SPEC §5): channels on the last axis instead of axis 1."""

import numpy as np


def from_channels_last(x):
    return np.moveaxis(x, -1, 1)


def to_channels_last(x):
    return np.moveaxis(x, 1, -1)


def per_axis(values, rank, default, what):
    """A per-spatial-axis list; empty means ``default`` on every axis (SPEC §5)."""
    if not values:
        return [default] * rank
    if len(values) != rank:
        raise ValueError(f"{what} has {len(values)} values for {rank} spatial axes")
    return list(values)


def split_pads(pads, rank):
    """``[begins…, ends…]``; empty means no padding (SPEC §5)."""
    if not pads:
        return [0] * (2 * rank)
    if len(pads) != 2 * rank:
        raise ValueError(f"pads has {len(pads)} values for {rank} spatial axes")
    return list(pads)
