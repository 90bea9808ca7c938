"""Opening a bundle (SPEC §1, §3, §8): the manifest, then one backend's graph and weights, checked in the order SPEC
§8.1 gives."""

import hashlib
import os

from . import graph as graph_mod
from . import manifest as manifest_mod
from . import weights as weights_mod
from .errors import Corrupted, Inconsistent, MissingBackend, ReaderError, Truncated, UnsupportedFeature


class Bundle:
    """A bundle directory (or any mapping of file names to bytes) with its checked manifest."""

    def __init__(self, source):
        self._read = _reader(source)
        self.manifest = manifest_mod.parse(self._read(manifest_mod.MANIFEST_FILE), manifest_mod.MANIFEST_FILE)

    def load(self, backend="fallback", progress=None):
        """Reads and checks ``backend``'s graph and weights; returns ``(graph, weights_file, stream)``."""
        m = self.manifest
        entry = m.backend(backend)
        if entry is None:
            names = ", ".join(b.backend for b in m.backends) or "none"
            raise MissingBackend("bundle", f"no `{backend}` descriptor in the bundle (it has: {names})")
        # SPEC §2.3: a feature this reader lacks is named before the entry's files are read.
        for feature in entry.features:
            if feature not in manifest_mod.KNOWN_FEATURES:
                raise UnsupportedFeature(
                    "manifest", f"the `{backend}` descriptor needs format feature `{feature}`, which this reader lacks"
                )
        graph_bytes = self._read(entry.graph.file)
        verify_file(entry.graph, graph_bytes)
        g = graph_mod.parse(graph_bytes, entry.graph.file)
        weight_bytes = self._read(entry.weights.file)
        verify_file(entry.weights, weight_bytes)
        w = weights_mod.parse(weight_bytes, entry.weights.file)
        stream = w.decode_stream(progress)
        check_against(g, w, m, entry.graph.file, backend)
        return g, w, stream


def _reader(source):
    if isinstance(source, dict):

        def read(name):
            if name not in source:
                raise ReaderError(name, "no such file in the bundle")
            return source[name]

        return read
    root = os.fspath(source)

    def read(name):
        path = os.path.join(root, name)
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise ReaderError(name, f"cannot read {path}: {e.strerror}") from None

    return read


def verify_file(ref, data):
    """SPEC §3: the size first (a mismatch is truncated), then the SHA-256 of the whole file (corrupted)."""
    if len(data) != ref.size:
        raise Truncated(ref.file, f"truncated or padded file: expected {ref.size} bytes, found {len(data)}")
    found = hashlib.sha256(data).hexdigest()
    if found != ref.sha256:
        raise Corrupted(
            ref.file, f"checksum mismatch in the whole file (expected sha256 {ref.sha256}, found {found})"
        )


def check_against(g, w, m, where, backend):
    """Cross-file checks (SPEC §4.5): weight references resolve with the tensor's dtype and shape, the graph's
    inputs and outputs are the manifest's signature, and the graph is the backend's."""

    def bad(detail):
        raise Inconsistent(where, f"invalid descriptor: {detail}")

    for t in g.tensors:
        if t.in_arena:
            continue
        if t.weight >= len(w.tensors):
            bad(f"tensor `{t.name}` refers to missing weight {t.weight}")
        e = w.tensors[t.weight]
        if e.dtype != t.dtype or e.shape != t.shape:
            bad(f"tensor `{t.name}` is {t.dtype} {list(t.shape)} but weight {t.weight} is {e.dtype} {list(e.shape)}")
    for bindings, sigs, what in ((g.inputs, m.inputs, "inputs"), (g.outputs, m.outputs, "outputs")):
        same = len(bindings) == len(sigs) and all(
            name == s.name and g.tensors[tid].dtype == s.dtype and g.tensors[tid].shape == s.shape
            for (name, tid), s in zip(bindings, sigs)
        )
        if not same:
            bad(f"the graph's {what} differ from the manifest's signature")
    if g.backend != backend:
        bad(f"the `{backend}` entry of the manifest names a descriptor for backend `{g.backend}`")
