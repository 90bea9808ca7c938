"""The container every bundle file uses (SPEC §2): a 56-byte header, a MessagePack head, a body."""

import hashlib
import struct

from . import schema
from .errors import BadMagic, Corrupted, Truncated, UnsupportedVersion

MAGIC = b"WDNN"
HEADER_LEN = 56
#: The major version this reader implements, and the newest minor version it knows.
FORMAT_MAJOR, FORMAT_MINOR = 1, 0

KINDS = {b"MANI": "manifest", b"GRPH": "graph descriptor", b"WGHT": "weights"}


class Container:
    """A checked container: its version, flags, decoded head and body."""

    def __init__(self, kind, major, minor, flags, head, body):
        self.kind, self.major, self.minor, self.flags, self.head, self.body = kind, major, minor, flags, head, body


def read(data, kind, where):
    """Checks ``data`` as a container of ``kind`` (``b"MANI"``, ``b"GRPH"`` or ``b"WGHT"``) in the order of SPEC
    §2 and decodes its head. The body's length is checked by the caller (SPEC §2, step 6)."""
    data = memoryview(data)
    # 1. magic and kind: a file shorter than 8 bytes cannot show them.
    if len(data) < 8 or bytes(data[0:4]) != MAGIC or bytes(data[4:8]) != kind:
        found = bytes(data[:8])
        raise BadMagic(where, f"not a wdnn {KINDS[kind]} file (expected `WDNN{kind.decode()}`, found {found!r})")
    # 2. major version: the file must hold it.
    if len(data) < 12:
        raise Truncated(where, f"truncated file: {len(data)} bytes, shorter than the 56-byte header")
    major, minor = struct.unpack_from("<HH", data, 8)
    if major != FORMAT_MAJOR:
        raise UnsupportedVersion(
            where,
            f"format version {major}.{minor} is not supported by this runner "
            f"(it reads version {FORMAT_MAJOR}.x)",
        )
    # 3. length.
    if len(data) < HEADER_LEN:
        raise Truncated(where, f"truncated file: {len(data)} bytes, shorter than the 56-byte header")
    (flags,) = struct.unpack_from("<I", data, 12)
    (head_len,) = struct.unpack_from("<Q", data, 16)
    head_end = HEADER_LEN + head_len
    if len(data) < head_end:
        raise Truncated(where, f"truncated file: the header announces {head_end} bytes or more, found {len(data)}")
    head = bytes(data[HEADER_LEN:head_end])
    # 4. head checksum.
    expected = bytes(data[24:56])
    found = hashlib.sha256(head).digest()
    if found != expected:
        raise Corrupted(
            where, f"checksum mismatch in the head (expected sha256 {expected.hex()}, found {found.hex()})"
        )
    # 5. the head as MessagePack (its schema is checked by the caller).
    value = schema.unpack(head, where, KINDS[kind])
    return Container(kind, major, minor, flags, value, data[head_end:])


def expect_no_body(c, where):
    """SPEC §2 step 6: a manifest or graph descriptor ends with its head."""
    if len(c.body):
        raise Truncated(where, f"padded file: {len(c.body)} bytes after the head, which must end the file")
