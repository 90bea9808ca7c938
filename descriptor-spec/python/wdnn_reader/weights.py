"""Weights files (SPEC §7): the index, the zstd chunks of the logical stream, and the three encodings."""

import hashlib

import numpy as np
import zstandard

from . import container, limits, schema
from .dtypes import NAMES as DTYPES
from .dtypes import NUMPY
from .dtypes import size as dtype_size
from .errors import Corrupted, Decompress, Inconsistent, Truncated, UnknownEncoding
from .schema import Struct

MAX_CHUNK_SIZE = 4 << 20


class Chunk:
    def __init__(self, compressed_size, size, sha256):
        self.compressed_size, self.size, self.sha256 = compressed_size, size, sha256


class WeightEntry:
    def __init__(self, id_, name, dtype, shape, encoding, offset, length):
        self.id, self.name, self.dtype, self.shape = id_, name, dtype, tuple(shape)
        self.encoding, self.offset, self.length = encoding, offset, length
        numel = 1
        for d in self.shape:
            numel *= d
        self.numel = numel

    @property
    def encoding_name(self):
        return self.encoding["type"]

    def __repr__(self):
        return f"weight {self.id} `{self.name}` {self.dtype}{list(self.shape)} {self.encoding_name}"


class WeightsFile:
    """A weights file whose container and index are checked; :meth:`decode_stream` checks the chunks."""

    def __init__(self, where, stream_size, chunks, tensors, body):
        self.where, self.stream_size, self.chunks, self.tensors, self.body = where, stream_size, chunks, tensors, body

    def decode_stream(self, progress=None):
        """Verifies each chunk's SHA-256 (over its compressed bytes), decompresses it and checks its size (SPEC
        §7.1); returns the logical stream as bytes."""
        out = bytearray()
        at = 0
        dctx = zstandard.ZstdDecompressor()
        for i, c in enumerate(self.chunks):
            compressed = bytes(self.body[at : at + c.compressed_size])
            at += c.compressed_size
            found = hashlib.sha256(compressed).digest()
            if found != c.sha256:
                raise Corrupted(
                    self.where,
                    f"checksum mismatch in weight chunk {i} (expected sha256 {c.sha256.hex()}, found {found.hex()})",
                )
            out += _decompress_frame(dctx, compressed, c.size, self.where, i)
            if progress is not None:
                progress(len(out), self.stream_size)
        return bytes(out)


def _decompress_frame(dctx, compressed, size, where, i):
    """Exactly one zstd frame that decompresses to ``size`` bytes."""
    try:
        obj = dctx.decompressobj()
        data = obj.decompress(compressed)
        if not obj.eof:
            raise zstandard.ZstdError("the frame is incomplete")
        if obj.unused_data:
            raise zstandard.ZstdError(f"{len(obj.unused_data)} bytes follow the frame")
    except zstandard.ZstdError as e:
        raise Decompress(where, f"weight chunk {i} does not decompress: {e}") from None
    if len(data) != size:
        raise Decompress(where, f"weight chunk {i} decompressed to {len(data)} bytes, expected {size}")
    return data


def _chunk(s):
    return Chunk(
        s.field("compressed_size", schema.u64),
        s.field("size", schema.u64),
        s.field("sha256", schema.binary),
    )


def _encoding(v, where, path):
    s = Struct(v, where, path)
    tag = s.field("type", schema.string)
    if tag == "Int8":
        return {"type": tag, "axis": s.field("axis", schema.u32), "scales_offset": s.field("scales_offset", schema.u64)}
    return {"type": tag}


def _entry(index):
    def decode(s):
        return WeightEntry(
            index,
            s.field("name", schema.string),
            s.field("dtype", schema.enum(DTYPES)),
            s.field("shape", schema.array(schema.u64)),
            s.field("encoding", _encoding),
            s.field("offset", schema.u64),
            s.field("length", schema.u64),
        )

    return decode


def encoded_length(e):
    """The stream bytes an entry's values take (SPEC §7.2), or None when dtype, encoding and axis do not fit."""
    enc = e.encoding_name
    if enc == "Raw":
        return e.numel * dtype_size(e.dtype)
    if enc == "F16" and e.dtype == "f32":
        return 2 * e.numel
    if enc == "Int8" and e.dtype == "f32" and e.encoding["axis"] < len(e.shape):
        return e.numel
    return None


def parse(data, where):
    """Checks a weights file up to its chunks (SPEC §2, §7): container, schema, unknown encodings, body length,
    stream size, each entry's range."""
    c = container.read(data, b"WGHT", where)
    s = Struct(c.head, where, "weights")
    stream_size = s.field("stream_size", schema.u64)
    chunks = s.field("chunks", schema.array(schema.struct(_chunk)))
    v = s.field("tensors", schema.array(lambda x, w, p: x))
    if not isinstance(v, list):
        schema._fail(where, "weights.tensors", "an array", v)
    tensors = [_entry(i)(Struct(x, where, f"weights.tensors[{i}]")) for i, x in enumerate(v)]
    for t in tensors:
        if t.encoding_name not in ("Raw", "F16", "Int8"):
            raise UnknownEncoding(where, f"weight `{t.name}` uses unknown encoding `{t.encoding_name}`")
    body_len = sum(ch.compressed_size for ch in chunks)
    if body_len != len(c.body):
        expected = len(data) - len(c.body) + body_len
        raise Truncated(where, f"truncated or padded file: expected {expected} bytes, found {len(data)}")

    def bad(detail):
        raise Inconsistent(where, f"invalid descriptor: {detail}")

    for i, ch in enumerate(chunks):
        if ch.size > MAX_CHUNK_SIZE:
            bad(f"chunk {i} of {ch.size} bytes is larger than {MAX_CHUNK_SIZE} bytes")
    limits.check(where, "stream_size", stream_size, limits.STREAM)
    total = sum(ch.size for ch in chunks)
    if total != stream_size:
        bad(f"chunks hold {total} bytes, the index says {stream_size}")
    for t in tensors:
        need = encoded_length(t)
        if need is None:
            bad(f"weight `{t.name}` has an impossible dtype, encoding or axis ({t.dtype}, {t.encoding})")
        if t.length != need or t.offset + t.length > stream_size:
            bad(f"weight `{t.name}` range {t.offset}+{t.length} is inconsistent (needs {need} bytes)")
        if t.encoding_name == "Int8":
            end = t.encoding["scales_offset"] + 4 * t.shape[t.encoding["axis"]]
            if end > stream_size:
                bad(f"weight `{t.name}` scales lie outside the stream")
    return WeightsFile(where, stream_size, chunks, tensors, c.body)


def decode(entry, stream):
    """An entry's values as a numpy array of its dtype and shape (SPEC §7.2)."""
    raw = np.frombuffer(stream, dtype=np.uint8, count=entry.length, offset=entry.offset)
    enc = entry.encoding_name
    if enc == "Raw":
        return raw.view(NUMPY[entry.dtype]).reshape(entry.shape)
    if enc == "F16":
        return raw.view("<f2").astype(np.float32).reshape(entry.shape)
    # Int8: q[i] · scale[(i / inner) mod shape[axis]], the product in f32.
    axis = entry.encoding["axis"]
    channels = entry.shape[axis]
    scales = np.frombuffer(stream, dtype="<f4", count=channels, offset=entry.encoding["scales_offset"])
    q = raw.view(np.int8).astype(np.float32).reshape(entry.shape)
    bshape = [1] * len(entry.shape)
    bshape[axis] = channels
    return (q * scales.reshape(bshape)).astype(np.float32)
