"""Checked decoding of MessagePack heads (SPEC §2.1).

A head decodes to plain Python values; these helpers then read a struct (a map with string keys) field by field,
checking each value's MessagePack type and range as SPEC §2.1 says, and raise :class:`Malformed` naming the path of
the bad field (``kernels[3].op.strides``). Keys a struct does not know are ignored (SPEC §2: newer minor versions
may add them).
"""

import msgpack

from .errors import Malformed

U32 = (1 << 32) - 1
U64 = (1 << 64) - 1
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1

_MISSING = object()


class DuplicateKey(ValueError):
    pass


def _pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKey(f"key {k!r} appears twice in one map")
        out[k] = v
    return out


def unpack(head, where, part):
    """Decodes one MessagePack value that must span all of ``head``."""
    try:
        return msgpack.unpackb(
            head,
            raw=False,
            strict_map_key=False,
            object_pairs_hook=_pairs,
            use_list=True,
        )
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, UnicodeDecodeError) as e:
        raise Malformed(where, f"malformed {part}: {e}") from None


class Struct:
    """A map being read as a struct; ``path`` names it in messages."""

    def __init__(self, value, where, path):
        if not isinstance(value, dict):
            raise Malformed(where, f"{path}: expected a map, found {_kind(value)}")
        for k in value:
            if not isinstance(k, str):
                raise Malformed(where, f"{path}: map key {k!r} is not a string")
        self.value, self.where, self.path = value, where, path

    def _get(self, key, default):
        v = self.value.get(key, _MISSING)
        if v is _MISSING:
            if default is _MISSING:
                raise Malformed(self.where, f"{self.path}: missing field `{key}`")
            return _MISSING
        return v

    def field(self, key, decode, default=_MISSING, nullable=False):
        """Field ``key`` decoded by ``decode(value, where, path)``. With ``default``, the key is optional (SPEC
        §2.1: absent means the default); with ``nullable``, the value may also be nil (an Option: nil is None)."""
        v = self._get(key, default)
        if v is _MISSING:
            return default
        if v is None and nullable:
            return None
        return decode(v, self.where, f"{self.path}.{key}")

    def has(self, key):
        return key in self.value

    def sub(self, key):
        return Struct(self._get(key, _MISSING), self.where, f"{self.path}.{key}")


def _kind(v):
    return {
        type(None): "nil",
        bool: "a bool",
        int: "an integer",
        float: "a float",
        str: "a string",
        bytes: "a byte string",
        list: "an array",
        dict: "a map",
    }.get(type(v), type(v).__name__)


def _fail(where, path, what, v):
    raise Malformed(where, f"{path}: expected {what}, found {_kind(v)} {v!r}"[:300])


def string(v, where, path):
    if not isinstance(v, str):
        _fail(where, path, "a string", v)
    return v


def boolean(v, where, path):
    if not isinstance(v, bool):
        _fail(where, path, "a bool", v)
    return v


def _int_in(lo, hi, name):
    def decode(v, where, path):
        if isinstance(v, bool) or not isinstance(v, int):
            _fail(where, path, name, v)
        if not lo <= v <= hi:
            raise Malformed(where, f"{path}: {v} is out of range for {name}")
        return v

    return decode


u32 = _int_in(0, U32, "an unsigned 32-bit integer")
u64 = _int_in(0, U64, "an unsigned 64-bit integer")
i64 = _int_in(I64_MIN, I64_MAX, "a signed 64-bit integer")


def f64(v, where, path):
    """A float field of 64-bit precision: float32, float64 or an integer (SPEC §2.1)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        _fail(where, path, "a number", v)
    return float(v)


def f32(v, where, path):
    """A float field of 32-bit precision: the value rounded to the nearest binary32 (SPEC §2.1)."""
    import numpy as np

    with np.errstate(over="ignore"):
        return float(np.float32(f64(v, where, path)))


def binary(v, where, path):
    if not isinstance(v, bytes):
        _fail(where, path, "a byte string (bin)", v)
    return v


def array(item, length=None):
    def decode(v, where, path):
        if not isinstance(v, list):
            _fail(where, path, "an array", v)
        if length is not None and len(v) != length:
            raise Malformed(where, f"{path}: expected {length} elements, found {len(v)}")
        return [item(x, where, f"{path}[{i}]") for i, x in enumerate(v)]

    return decode


def struct(decode_struct):
    """A field that is itself a struct, decoded by ``decode_struct(Struct)``."""

    def decode(v, where, path):
        return decode_struct(Struct(v, where, path))

    return decode


def enum(names):
    """A plain enumeration (SPEC §2.1): a string among ``names``. An unknown name is malformed."""

    def decode(v, where, path):
        s = string(v, where, path)
        if s not in names:
            raise Malformed(where, f"{path}: unknown value `{s}` (known: {', '.join(sorted(names))})")
        return s

    return decode
