"""Which arena tensors are views, and a check that every read sees bytes that were written (SPEC §4.4).

Format 1.0 has no field that says "this tensor is a view": a tensor that no kernel writes shares the bytes of its
arena range with the tensors that were written there. This module walks the kernels in order, keeping for each byte
range of the arena the tensor that last wrote it, and classifies every read of an arena tensor:

- *produced*: a model input or a kernel output, whose bytes were last written by itself;
- *reshape view*: not produced, its range last written by one tensor with exactly its offset and byte size;
- *concat view*: not produced, its range tiled by several tensors (the concat's inputs) written straight into it.

Anything else — a read of bytes nobody wrote, or of a tensor partly overwritten since it was written — is an
inconsistent plan (SPEC §4.4 lets a runner check this; this reader does, before the first run).
"""

from .errors import Inconsistent


class _LastWriters:
    """Disjoint byte ranges of the arena, each with the tensor that wrote it last."""

    def __init__(self):
        self.segments = []  # (start, end, tensor id), disjoint

    def write(self, start, end, tid):
        if start == end:
            return
        kept = []
        for s, e, t in self.segments:
            if e <= start or s >= end:
                kept.append((s, e, t))
                continue
            if s < start:
                kept.append((s, start, t))
            if e > end:
                kept.append((end, e, t))
        kept.append((start, end, tid))
        self.segments = kept

    def covering(self, start, end):
        """The segments inside [start, end), in order, clipped; None where a byte was never written."""
        parts = sorted((max(s, start), min(e, end), t) for s, e, t in self.segments if s < end and e > start)
        at = start
        for s, e, _ in parts:
            if s != at:
                return None
            at = e
        return parts if at == end else None


def classify(graph, where="graph descriptor"):
    """``{tensor id: ("reshape", base id) | ("concat", [part ids])}`` for the tensors that no kernel writes;
    raises :class:`Inconsistent` for a read the plan cannot satisfy."""
    tensors = graph.tensors
    writers = _LastWriters()
    views = {}

    def bad(detail):
        raise Inconsistent(where, f"invalid descriptor: {detail}")

    def read(tid, reader):
        t = tensors[tid]
        if not t.in_arena or t.nbytes == 0:
            return
        parts = writers.covering(t.offset, t.end)
        if parts is None:
            bad(f"{reader} reads {t}, but some of its bytes were never written")
        ids = [p for _, _, p in parts]
        whole = [tensors[p] for p in ids]
        if ids == [tid]:
            return
        if tid in produced:
            bad(f"{reader} reads {t}, which was overwritten by {tensors[ids[-1]]} after it was written")
        if len(ids) == 1 and (whole[0].offset, whole[0].end) == (t.offset, t.end):
            views[tid] = ("reshape", ids[0])
        elif all(t.offset <= w.offset and w.end <= t.end for w in whole) and len(set(ids)) == len(ids):
            views[tid] = ("concat", ids)
        else:
            bad(f"{reader} reads {t}, whose bytes were last written by {', '.join(map(str, whole))}")

    produced = set()
    for _, tid in graph.inputs:
        t = tensors[tid]
        writers.write(t.offset, t.end, tid)
        produced.add(tid)
    for k in graph.kernels:
        for tid in k.inputs:
            read(tid, f"kernel `{k.name}`")
        for tid in k.outputs:
            t = tensors[tid]
            writers.write(t.offset, t.end, tid)
            produced.add(tid)
    for name, tid in graph.outputs:
        read(tid, f"output `{name}`")
    return views
