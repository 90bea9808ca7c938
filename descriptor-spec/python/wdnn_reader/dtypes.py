"""Data types (SPEC §2.2): names, element sizes and their little-endian numpy forms."""

import numpy as np

#: DType name → numpy dtype (little-endian). ``bool`` is one byte, 0 or 1.
NUMPY = {
    "f32": np.dtype("<f4"),
    "f16": np.dtype("<f2"),
    "f64": np.dtype("<f8"),
    "i8": np.dtype("i1"),
    "i16": np.dtype("<i2"),
    "i32": np.dtype("<i4"),
    "i64": np.dtype("<i8"),
    "u8": np.dtype("u1"),
    "u16": np.dtype("<u2"),
    "u32": np.dtype("<u4"),
    "u64": np.dtype("<u8"),
    "bool": np.dtype("?"),
}
NAMES = frozenset(NUMPY)
FLOATS = frozenset({"f32", "f16", "f64"})


def size(dtype):
    return NUMPY[dtype].itemsize


def name_of(np_dtype):
    """The DType name of a numpy dtype (for inputs given as arrays)."""
    d = np.dtype(np_dtype).newbyteorder("<") if np.dtype(np_dtype).byteorder == ">" else np.dtype(np_dtype)
    for n, t in NUMPY.items():
        if t.kind == d.kind and t.itemsize == d.itemsize:
            return n
    return str(np_dtype)
