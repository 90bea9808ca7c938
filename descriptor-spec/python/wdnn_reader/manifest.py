"""The bundle manifest (SPEC §3)."""

from . import container, limits, schema
from .dtypes import NAMES as DTYPES
from .schema import Struct

MANIFEST_FILE = "manifest.wdnn"


class TensorSignature:
    def __init__(self, name, dtype, shape):
        self.name, self.dtype, self.shape = name, dtype, tuple(shape)

    def __repr__(self):
        return f"{self.name}: {self.dtype}{list(self.shape)}"


class FileRef:
    def __init__(self, file, size, sha256):
        self.file, self.size, self.sha256 = file, size, sha256


#: The format features this reader implements (SPEC §2.3).
KNOWN_FEATURES = frozenset({"packed-weights"})


class BackendEntry:
    def __init__(self, backend, graph, weights, features):
        self.backend, self.graph, self.weights, self.features = backend, graph, weights, features


class Preprocessing:
    def __init__(self, resize_short_side, crop, scale, mean, std):
        self.resize_short_side, self.crop, self.scale, self.mean, self.std = (
            resize_short_side,
            crop,
            scale,
            mean,
            std,
        )


class Manifest:
    def __init__(self, model_name, source_sha256, converter, inputs, outputs, backends, preprocessing, minor):
        self.model_name, self.source_sha256, self.converter = model_name, source_sha256, converter
        self.inputs, self.outputs, self.backends, self.preprocessing = inputs, outputs, backends, preprocessing
        self.minor = minor

    def backend(self, name):
        return next((b for b in self.backends if b.backend == name), None)


def _signature(s):
    return TensorSignature(
        s.field("name", schema.string),
        s.field("dtype", schema.enum(DTYPES)),
        s.field("shape", schema.array(schema.u64)),
    )


def _file_ref(s):
    return FileRef(s.field("file", schema.string), s.field("size", schema.u64), s.field("sha256", schema.string))


def _backend(s):
    return BackendEntry(
        s.field("backend", schema.string),
        s.field("graph", schema.struct(_file_ref)),
        s.field("weights", schema.struct(_file_ref)),
        s.field("features", schema.array(schema.string), default=[]),
    )


def _preprocessing(s):
    return Preprocessing(
        s.field("resize_short_side", schema.u32),
        s.field("crop", schema.array(schema.u32, 2)),
        s.field("scale", schema.f32),
        s.field("mean", schema.array(schema.f32, 3)),
        s.field("std", schema.array(schema.f32, 3)),
    )


def parse(data, where=MANIFEST_FILE):
    """Checks and decodes a manifest file (SPEC §2, §3)."""
    c = container.read(data, b"MANI", where)
    s = Struct(c.head, where, "manifest")
    m = Manifest(
        s.field("model_name", schema.string),
        s.field("source_sha256", schema.string),
        s.field("converter", schema.string),
        s.field("inputs", schema.array(schema.struct(_signature))),
        s.field("outputs", schema.array(schema.struct(_signature))),
        s.field("backends", schema.array(schema.struct(_backend))),
        s.field("preprocessing", schema.struct(_preprocessing), default=None, nullable=True),
        c.minor,
    )
    container.expect_no_body(c, where)
    # SPEC §3: before any file the manifest names is read.
    for entry in m.backends:
        for ref in (entry.graph, entry.weights):
            limits.check_file_name(ref.file)
            limits.check(where, f"size of {ref.file}", ref.size, limits.FILE)
    return m
