"""Running a fallback descriptor over one arena (SPEC §1, §4.2, §4.3, §4.4).

The arena is one byte buffer of ``arena_size`` bytes; every arena tensor is the bytes ``[offset, offset + size)``
of it, so a tensor that no kernel writes (a view, SPEC §4.4) reads whatever the kernels that wrote its range left
there. Each kernel copies its inputs out of the arena before any output is written (SPEC §4.2), so in-place
kernels see their inputs intact.
"""

import numpy as np

from . import views as views_mod
from . import weights as weights_mod
from .dtypes import NUMPY, name_of
from .errors import BadInput, Inconsistent, ReaderError, Unimplemented
from .ops import KERNELS


class Executable:
    """A loaded graph: weights decoded once, kernels resolved, the arena allocated."""

    def __init__(self, graph, weights_file, stream, where="graph descriptor"):
        self.graph, self.where = graph, where
        for k in graph.kernels:
            if k.op.type not in KERNELS:
                raise Unimplemented(where, f"kernel `{k.name}`: op `{k.op.type}` is not implemented by this reader")
        #: The tensors no kernel writes, by kind (SPEC §4.4); checked before the first run.
        self.views = views_mod.classify(graph, where)
        self.weights = {}
        for t in graph.tensors:
            if not t.in_arena and t.weight not in self.weights:
                self.weights[t.weight] = weights_mod.decode(weights_file.tensors[t.weight], stream)
        self.arena = np.zeros(graph.arena_size, dtype=np.uint8)

    def view(self, t):
        """Tensor ``t``'s arena range as a writable numpy array of its dtype and shape."""
        return self.arena[t.offset : t.end].view(NUMPY[t.dtype]).reshape(t.shape)

    def read(self, tid):
        t = self.graph.tensors[tid]
        return self.view(t).copy() if t.in_arena else self.weights[t.weight]

    def run(self, inputs):
        """Runs the model on ``inputs`` (a mapping or a list of ``(name, array)`` pairs); returns the outputs as a
        list of ``(name, array)`` in the signature's order (SPEC §8: a missing, repeated or unknown input, or one of
        the wrong dtype or shape, is refused)."""
        pairs = list(inputs.items()) if isinstance(inputs, dict) else list(inputs)
        g = self.graph
        by_name = {}
        for name, value in pairs:
            if name in by_name:
                raise BadInput(name, "input given twice")
            if not any(n == name for n, _ in g.inputs):
                raise BadInput(name, f"unknown input (the model's inputs: {', '.join(n for n, _ in g.inputs)})")
            by_name[name] = np.asarray(value)
        for name, tid in g.inputs:
            if name not in by_name:
                raise BadInput(name, "missing input")
            t, v = g.tensors[tid], by_name[name]
            if name_of(v.dtype) != t.dtype:
                raise BadInput(name, f"expected dtype {t.dtype}, found {name_of(v.dtype)}")
            if tuple(v.shape) != t.shape:
                raise BadInput(name, f"expected shape {list(t.shape)}, found {list(v.shape)}")
            self.view(t)[...] = v
        for k in g.kernels:
            ins = [self.read(i) for i in k.inputs]
            outs = [(g.tensors[o].dtype, g.tensors[o].shape) for o in k.outputs]
            try:
                results = KERNELS[k.op.type](k.op, ins, outs)
            except ReaderError as e:
                raise type(e)(self.where, f"kernel `{k.name}` ({k.op.type}): {e.detail}") from None
            except (ValueError, IndexError, TypeError, ZeroDivisionError) as e:
                raise Inconsistent(self.where, f"kernel `{k.name}` ({k.op.type}) cannot run: {e}") from None
            if len(results) != len(k.outputs):
                raise Inconsistent(self.where, f"kernel `{k.name}` ({k.op.type}) has {len(k.outputs)} outputs")
            for o, r in zip(k.outputs, results):
                t = g.tensors[o]
                if tuple(r.shape) != t.shape:
                    raise Inconsistent(
                        self.where,
                        f"kernel `{k.name}` ({k.op.type}) computes shape {list(r.shape)} for {t}",
                    )
                self.view(t)[...] = r
        return [(name, self.read(tid).copy()) for name, tid in g.outputs]


def load(bundle, backend="fallback"):
    """Opens ``backend`` of an opened :class:`~wdnn_reader.bundle.Bundle` for running."""
    g, w, stream = bundle.load(backend)
    return Executable(g, w, stream, where=bundle.manifest.backend(backend).graph.file)
