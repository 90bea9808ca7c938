"""Data movement (SPEC §5): Reshape, Transpose, Concat, Slice, Gather, GatherElements, Pad, Expand, Tile,
GatherNd, ScatterNd, ScatterElements."""

import numpy as np

from .elementwise import finish


def k_reshape(op, ins, outs):
    return [np.reshape(ins[0], outs[0][1])]


def k_transpose(op, ins, outs):
    return [finish(np.transpose(ins[0], op["perm"]), outs[0])]


def k_concat(op, ins, outs):
    return [finish(np.concatenate(ins, axis=op["axis"]), outs[0])]


def k_slice(op, ins, outs):
    x = ins[0]
    out_shape = outs[0][1]
    for axis, start, step in zip(op["axes"], op["starts"], op["steps"]):
        idx = start + step * np.arange(out_shape[axis], dtype=np.int64)
        x = np.take(x, idx, axis=axis)
    return [finish(x, outs[0])]


def _normalized(indices, extent):
    idx = indices.astype(np.int64)
    return np.where(idx < 0, idx + extent, idx)


def k_gather(op, ins, outs):
    data, axis = ins[0], op["axis"]
    idx = _normalized(ins[1], data.shape[axis])
    return [finish(np.take(data, idx, axis=axis), outs[0])]


def k_gather_elements(op, ins, outs):
    data, axis = ins[0], op["axis"]
    idx = _normalized(ins[1], data.shape[axis])
    return [finish(np.take_along_axis(data, idx, axis=axis), outs[0])]


def k_pad(op, ins, outs):
    x = ins[0]
    r = x.ndim
    pads = op["pads"]
    begins, ends = pads[:r], pads[r:]
    # Negative pads crop first; then the positive ones pad.
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(zip(begins, ends)))
    x = x[crop]
    widths = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
    mode = op["mode"]
    if mode == "constant":
        y = np.pad(x, widths, mode="constant", constant_values=x.dtype.type(op["value"]))
    else:
        y = np.pad(x, widths, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])
    return [finish(y, outs[0])]


def k_expand(op, ins, outs):
    return [finish(ins[0], outs[0])]


def k_tile(op, ins, outs):
    x = ins[0]
    for axis, extent in enumerate(outs[0][1]):
        x = np.take(x, np.arange(extent) % x.shape[axis], axis=axis)
    return [finish(x, outs[0])]


def k_gather_nd(op, ins, outs):
    data, indices, b = ins[0], ins[1].astype(np.int64), op["batch_dims"]
    batch = data.shape[:b]
    nb = int(np.prod(batch)) if b else 1
    m = indices.shape[-1]
    d = data.reshape((nb,) + data.shape[b:])
    ind = indices.reshape((nb, -1, m))
    res = []
    for i in range(nb):
        for t in ind[i]:
            t = tuple(int(v) + (data.shape[b + j] if v < 0 else 0) for j, v in enumerate(t))
            res.append(d[i][t])
    y = np.array(res, dtype=data.dtype) if res else np.zeros((0,), data.dtype)
    return [finish(y.reshape(outs[0][1]), outs[0])]


_REDUCE = {
    "add": np.add,
    "mul": np.multiply,
    "min": np.minimum,
    "max": np.maximum,
}


def _combine(reduction, old, new):
    return new if reduction == "none" else _REDUCE[reduction](old, new)


def k_scatter_nd(op, ins, outs):
    data, indices, updates = ins[0].copy(), ins[1].astype(np.int64), ins[2]
    m = indices.shape[-1]
    ind = indices.reshape(-1, m)
    upd = updates.reshape((ind.shape[0],) + data.shape[m:])
    for t, u in zip(ind, upd):
        t = tuple(int(v) + (data.shape[j] if v < 0 else 0) for j, v in enumerate(t))
        data[t] = _combine(op["reduction"], data[t], u)
    return [finish(data, outs[0])]


def k_scatter_elements(op, ins, outs):
    data, indices, updates, axis = ins[0].copy(), ins[1].astype(np.int64), ins[2], op["axis"]
    for pos in np.ndindex(*indices.shape):
        i = int(indices[pos])
        if i < 0:
            i += data.shape[axis]
        target = pos[:axis] + (i,) + pos[axis + 1 :]
        data[target] = _combine(op["reduction"], data[target], updates[pos])
    return [finish(data, outs[0])]


KERNELS = {
    "Reshape": k_reshape,
    "Transpose": k_transpose,
    "Concat": k_concat,
    "Slice": k_slice,
    "Gather": k_gather,
    "GatherElements": k_gather_elements,
    "Pad": k_pad,
    "Expand": k_expand,
    "Tile": k_tile,
    "GatherNd": k_gather_nd,
    "ScatterNd": k_scatter_nd,
    "ScatterElements": k_scatter_elements,
}
