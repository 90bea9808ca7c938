"""Reductions along axes (SPEC §5, §5.3): Reduce, Softmax, LogSoftmax, ArgMax, ArgMin, LayerNorm, CumSum,
CumProd, TopK."""

import numpy as np

from .elementwise import finish


def k_reduce(op, ins, outs):
    x = ins[0]
    axes = tuple(op["axes"])
    if not axes:  # no axes: a copy
        return [finish(x, outs[0])]
    f = op["fun"]
    with np.errstate(all="ignore"):
        if f == "Sum":
            y = np.sum(x, axis=axes, keepdims=True)
        elif f == "Mean":
            y = np.mean(x, axis=axes, keepdims=True, dtype=x.dtype if x.dtype.kind == "f" else None)
        elif f == "Max":
            y = np.max(x, axis=axes, keepdims=True)
        elif f == "Min":
            y = np.min(x, axis=axes, keepdims=True)
        elif f == "Prod":
            y = np.prod(x, axis=axes, keepdims=True)
        elif f == "L1":
            y = np.sum(np.abs(x), axis=axes, keepdims=True)
        elif f == "L2":
            y = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        elif f == "LogSum":
            y = np.log(np.sum(x, axis=axes, keepdims=True))
        elif f == "LogSumExp":
            m = np.max(x, axis=axes, keepdims=True)
            m = np.where(np.isfinite(m), m, 0)
            y = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        elif f == "SumSquare":
            y = np.sum(x * x, axis=axes, keepdims=True)
    # The output's shape says whether reduced axes are kept; the element order is the same.
    return [finish(np.reshape(y, outs[0][1]), outs[0])]


def k_softmax(op, ins, outs):
    x, axis = ins[0], op["axis"]
    with np.errstate(all="ignore"):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return [finish(e / np.sum(e, axis=axis, keepdims=True), outs[0])]


def k_log_softmax(op, ins, outs):
    x, axis = ins[0], op["axis"]
    with np.errstate(all="ignore"):
        d = x - np.max(x, axis=axis, keepdims=True)
        return [finish(d - np.log(np.sum(np.exp(d), axis=axis, keepdims=True)), outs[0])]


def _arg(x, axis, last, pick):
    if last:
        flipped = np.flip(x, axis=axis)
        return x.shape[axis] - 1 - pick(flipped, axis=axis)
    return pick(x, axis=axis)


def k_argmax(op, ins, outs):
    y = _arg(ins[0], op["axis"], op["select_last_index"], np.argmax)
    return [finish(np.reshape(y, outs[0][1]), outs[0])]


def k_argmin(op, ins, outs):
    y = _arg(ins[0], op["axis"], op["select_last_index"], np.argmin)
    return [finish(np.reshape(y, outs[0][1]), outs[0])]


def k_layer_norm(op, ins, outs):
    x = ins[0]
    axes = tuple(range(op["axis"], x.ndim))
    eps = x.dtype.type(op["epsilon"])
    mean = np.mean(x, axis=axes, keepdims=True)
    d = x - mean
    var = np.mean(d * d, axis=axes, keepdims=True)
    y = d / np.sqrt(var + eps) * ins[1]
    if len(ins) > 2:
        y = y + ins[2]
    return [finish(y, outs[0])]


def _cumulative(op, ins, outs, acc, identity):
    x, axis = ins[0], op["axis"]
    if op["reverse"]:
        x = np.flip(x, axis=axis)
    y = acc(x, axis=axis, dtype=x.dtype)
    if op["exclusive"]:
        y = np.concatenate([np.full_like(np.take(y, [0], axis=axis), identity), np.delete(y, -1, axis=axis)], axis)
    if op["reverse"]:
        y = np.flip(y, axis=axis)
    return [finish(y, outs[0])]


def k_cumsum(op, ins, outs):
    return _cumulative(op, ins, outs, np.cumsum, 0)


def k_cumprod(op, ins, outs):
    return _cumulative(op, ins, outs, np.cumprod, 1)


def k_topk(op, ins, outs):
    """The K largest (smallest) values along ``axis`` in order; ties keep the lower index first; NaN is larger
    than any number."""
    x, axis = ins[0], op["axis"]
    k = outs[0][1][axis]
    moved = np.moveaxis(x, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    idx = np.empty((flat.shape[0], k), np.int64)
    for r, row in enumerate(flat):
        nan = np.isnan(row) if row.dtype.kind == "f" else np.zeros(row.shape, bool)
        if op["largest"]:
            order = np.lexsort((np.arange(row.size), -np.where(nan, 0, row), ~nan))
        else:
            order = np.lexsort((np.arange(row.size), np.where(nan, 0, row), nan))
        idx[r] = order[:k]
    values = np.take_along_axis(flat, idx, axis=1)
    shape = moved.shape[:-1] + (k,)
    values = np.moveaxis(values.reshape(shape), -1, axis)
    idx = np.moveaxis(idx.reshape(shape), -1, axis)
    return [finish(values, outs[0]), finish(idx, outs[1])]


KERNELS = {
    "Reduce": k_reduce,
    "Softmax": k_softmax,
    "LogSoftmax": k_log_softmax,
    "ArgMax": k_argmax,
    "ArgMin": k_argmin,
    "LayerNorm": k_layer_norm,
    "CumSum": k_cumsum,
    "CumProd": k_cumprod,
    "TopK": k_topk,
}
