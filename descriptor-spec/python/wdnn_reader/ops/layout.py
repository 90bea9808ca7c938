"""NHWC ↔ NCHW for the ops with ``channels_last`` (SPEC §5): channels on the last axis instead of axis 1."""

import numpy as np


def from_channels_last(x):
    return np.moveaxis(x, -1, 1)


def to_channels_last(x):
    return np.moveaxis(x, 1, -1)
