"""Unit tests of the reader on small bundles written here by hand, from SPEC.md (no cargo needed).

    .cache/reader-venv/bin/python -m unittest discover -s descriptor-spec/python/tests
"""

import hashlib
import os
import struct
import sys
import unittest

import msgpack
import numpy as np
import zstandard

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wdnn_reader import Bundle, Executable, container, graph, views, weights  # noqa: E402
from wdnn_reader.errors import ReaderError  # noqa: E402


def seal(kind, head, body=b"", major=1, minor=0):
    h = msgpack.packb(head, use_bin_type=True)
    return (
        b"WDNN" + kind + struct.pack("<HHIQ", major, minor, 0, len(h)) + hashlib.sha256(h).digest() + h + body
    )


def weights_file(entries, stream, chunk=1 << 22):
    """A WGHT file of ``entries`` over ``stream``, cut into chunks of ``chunk`` bytes."""
    pieces = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]
    comp = [zstandard.ZstdCompressor(level=3).compress(p) for p in pieces]
    chunks = [
        {"compressed_size": len(c), "size": len(p), "sha256": hashlib.sha256(c).digest()}
        for c, p in zip(comp, pieces)
    ]
    return seal(b"WGHT", {"stream_size": len(stream), "chunks": chunks, "tensors": entries}, b"".join(comp))


def tensor(name, shape, offset=None, weight=None, dtype="f32"):
    storage = {"kind": "Arena", "offset": offset} if weight is None else {"kind": "Weight", "id": weight}
    return {"name": name, "dtype": dtype, "shape": shape, "storage": storage}


def kernel(name, op, inputs, outputs):
    return {"name": name, "op": op, "inputs": inputs, "outputs": outputs, "payload": None}


def bundle(g, w):
    gb, wb = seal(b"GRPH", g), w
    sig = lambda ios: [  # noqa: E731
        {"name": n, "dtype": g["tensors"][t]["dtype"], "shape": g["tensors"][t]["shape"]}
        for n, t in ((io["name"], io["tensor"]) for io in ios)
    ]
    ref = lambda f, b: {"file": f, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}  # noqa: E731
    m = {
        "model_name": "t",
        "source_sha256": "0" * 64,
        "converter": "test",
        "inputs": sig(g["inputs"]),
        "outputs": sig(g["outputs"]),
        "backends": [{"backend": "fallback", "graph": ref("g", gb), "weights": ref("w", wb)}],
        "preprocessing": None,
    }
    return {"manifest.wdnn": seal(b"MANI", m), "g": gb, "w": wb}


def tiny_graph(kernels, tensors, inputs, outputs, arena):
    return {
        "name": "t",
        "backend": "fallback",
        "tensors": tensors,
        "inputs": [{"name": tensors[i]["name"], "tensor": i} for i in inputs],
        "outputs": [{"name": tensors[o]["name"], "tensor": o} for o in outputs],
        "kernels": kernels,
        "arena_size": arena,
        "alignment": 16,
    }


def code(fn):
    try:
        fn()
    except ReaderError as e:
        return e.code
    return None


class ContainerOrder(unittest.TestCase):
    """SPEC §2: the order of checks is defined for files of any length."""

    def test_short_files(self):
        good = seal(b"MANI", {"x": 1})
        v2 = good[:8] + b"\2\0" + good[10:]
        for n in range(0, 8):
            self.assertEqual(code(lambda n=n: container.read(good[:n], b"MANI", "f")), "bad_magic", n)
        for n in range(8, 12):
            self.assertEqual(code(lambda n=n: container.read(good[:n], b"MANI", "f")), "truncated", n)
        for n in range(12, 56):
            self.assertEqual(code(lambda n=n: container.read(v2[:n], b"MANI", "f")), "unsupported_version", n)
            self.assertEqual(code(lambda n=n: container.read(good[:n], b"MANI", "f")), "truncated", n)
        self.assertEqual(code(lambda: container.read(good[:-1], b"MANI", "f")), "truncated")
        self.assertEqual(code(lambda: container.read(good, b"GRPH", "f")), "bad_magic")
        self.assertIsNone(code(lambda: container.read(good[:10] + b"\7\0" + good[12:], b"MANI", "f")))

    def test_head_checksum_then_schema(self):
        good = seal(b"MANI", {"x": 1})
        bad = bytearray(good)
        bad[-1] ^= 1
        self.assertEqual(code(lambda: container.read(bytes(bad), b"MANI", "f")), "corrupted")
        self.assertEqual(code(lambda: container.read(seal(b"MANI", {"x": 1})[:56] + b"", b"MANI", "f")), "truncated")


def simple_graph(**op_fields):
    op = {"type": "Unary", "fun": {"fn": "Relu"}, **op_fields}
    return tiny_graph(
        [kernel("k", op, [0], [1])], [tensor("x", [4], 0), tensor("y", [4], 16)], [0], [1], 32
    )


class Schema(unittest.TestCase):
    """SPEC §2.1: required, optional and nullable fields; scalar types."""

    def parse(self, g):
        return graph.parse(seal(b"GRPH", g), "g")

    def test_unknown_keys_are_ignored(self):
        g = simple_graph(future=1)
        g["future_key"] = {"a": [1]}
        g["kernels"][0]["payload"] = None
        self.parse(g)

    def test_optional_absent_is_default_and_nil_is_malformed(self):
        conv = {"type": "Conv", "group": 1, "strides": [], "dilations": [], "pads": []}
        g = tiny_graph(
            [kernel("c", conv, [0, 1], [2])],
            [tensor("x", [1, 1, 2, 2], 0), tensor("w", [1, 1, 1, 1], weight=0), tensor("y", [1, 1, 2, 2], 16)],
            [0],
            [2],
            32,
        )
        parsed = self.parse(g)
        self.assertEqual(parsed.kernels[0].op["epilogue"], [])
        self.assertFalse(parsed.kernels[0].op["channels_last"])
        conv["epilogue"] = None
        self.assertEqual(code(lambda: self.parse(g)), "malformed")

    def test_nullable_payload_may_be_absent_or_nil(self):
        g = simple_graph()
        del g["kernels"][0]["payload"]
        self.assertIsNone(self.parse(g).kernels[0].payload)

    def test_scalar_types(self):
        g = simple_graph()
        g["alignment"] = True
        self.assertEqual(code(lambda: self.parse(g)), "malformed")
        g = simple_graph()
        g["arena_size"] = 32.0
        self.assertEqual(code(lambda: self.parse(g)), "malformed")
        g = simple_graph()
        g["kernels"][0]["inputs"] = [1 << 32]
        self.assertEqual(code(lambda: self.parse(g)), "malformed")
        g = simple_graph()
        g["kernels"][0]["op"] = {"type": "Unary", "fun": {"fn": "Clip", "min": 0, "max": 0.1}}
        fun = self.parse(g).kernels[0].op["fun"]
        self.assertEqual(fun.attrs["max"], float(np.float32(0.1)))

    def test_unknown_op_is_named_after_the_schema(self):
        g = simple_graph()
        g["kernels"][0]["op"] = {"type": "FancyOp", "whatever": None}
        self.assertEqual(code(lambda: self.parse(g)), "unknown_op")
        g["arena_size"] = "big"
        self.assertEqual(code(lambda: self.parse(g)), "malformed")

    def test_unknown_scatter_reduction_is_an_unknown_op(self):
        g = simple_graph()
        g["kernels"][0]["op"] = {"type": "ScatterElements", "axis": 0, "reduction": "xor"}
        self.assertEqual(code(lambda: self.parse(g)), "unknown_op")
        g["kernels"][0]["op"] = {"type": "Reduce", "fun": "Median", "axes": [0]}
        self.assertEqual(code(lambda: self.parse(g)), "malformed")


class Weights(unittest.TestCase):
    """SPEC §7."""

    def test_int8_scales_anywhere_and_f16(self):
        x = np.array([[1.0, -2.0], [0.5, 0.25]], np.float32)
        scales = np.abs(x).max(axis=1) / np.float32(127)
        q = np.clip(np.round(x / scales[:, None]), -127, 127).astype(np.int8)
        half = np.array([1.5, -0.25], np.float16)
        stream = scales.astype("<f4").tobytes() + b"\0" * 8 + q.tobytes() + b"\0" * 12 + half.tobytes()
        entries = [
            {"name": "q", "dtype": "f32", "shape": [2, 2], "encoding": {"type": "Int8", "axis": 0,
                                                                        "scales_offset": 0},
             "offset": 16, "length": 4},
            {"name": "h", "dtype": "f32", "shape": [2], "encoding": {"type": "F16"}, "offset": 32, "length": 4},
        ]
        w = weights.parse(weights_file(entries, stream, chunk=16), "w")
        self.assertEqual(len(w.chunks), 3)
        s = w.decode_stream()
        np.testing.assert_array_equal(weights.decode(w.tensors[0], s), q.astype(np.float32) * scales[:, None])
        np.testing.assert_array_equal(weights.decode(w.tensors[1], s), half.astype(np.float32))

    def test_chunk_sha256_is_over_the_compressed_bytes(self):
        entries = [{"name": "r", "dtype": "u8", "shape": [64], "encoding": {"type": "Raw"}, "offset": 0,
                    "length": 64}]
        data = bytearray(weights_file(entries, bytes(range(64))))
        data[-2] ^= 0xFF
        w = weights.parse(bytes(data), "w")
        self.assertEqual(code(w.decode_stream), "corrupted")

    def test_lengths(self):
        e = {"name": "q", "dtype": "f32", "shape": [4], "encoding": {"type": "Int8", "axis": 0, "scales_offset": 4},
             "offset": 0, "length": 4}
        self.assertEqual(code(lambda: weights.parse(weights_file([e], b"\0" * 20), "w")), None)
        e["length"] = 20  # the scales are not part of `length`
        self.assertEqual(code(lambda: weights.parse(weights_file([e], b"\0" * 20), "w")), "inconsistent")
        e["length"], e["encoding"]["scales_offset"] = 4, 8
        self.assertEqual(code(lambda: weights.parse(weights_file([e], b"\0" * 20), "w")), "inconsistent")


class ArenaAndViews(unittest.TestCase):
    """SPEC §4.2, §4.4: in-place kernels, reshape and concat views, and the plan check."""

    def run_bundle(self, g, w_entries, stream, inputs):
        b = Bundle(bundle(g, weights_file(w_entries, stream)))
        gr, wf, s = b.load()
        return Executable(gr, wf, s), gr

    def test_concat_view_and_reshape_view(self):
        # a = exp(x) and b = -x are written into the two halves of c (a concat view); y = c + 1; f is y as [2, 4]
        # (a reshape view) and the model output.
        t = [
            tensor("x", [1, 4], 0),
            tensor("a", [1, 4], 16),
            tensor("b", [1, 4], 32),
            tensor("c", [1, 8], 16),
            tensor("one", [1], weight=0),
            tensor("y", [1, 8], 48),
            tensor("f", [2, 4], 48),
        ]
        ks = [
            kernel("a", {"type": "Unary", "fun": {"fn": "Exp"}}, [0], [1]),
            kernel("b", {"type": "Unary", "fun": {"fn": "Neg"}}, [0], [2]),
            kernel("y", {"type": "Binary", "fun": {"fn": "Add"}}, [3, 4], [5]),
        ]
        g = tiny_graph(ks, t, [0], [6], 80)
        one = [{"name": "one", "dtype": "f32", "shape": [1], "encoding": {"type": "Raw"}, "offset": 0, "length": 4}]
        exe, _ = self.run_bundle(g, one, np.float32([1]).tobytes(), None)
        self.assertEqual(exe.views, {3: ("concat", [1, 2]), 6: ("reshape", 5)})
        x = np.float32([[0, 1, 2, 3]])
        (_, f), = exe.run({"x": x})
        np.testing.assert_allclose(f, (np.concatenate([np.exp(x), -x], 1) + 1).reshape(2, 4), rtol=1e-6)

    def test_in_place_kernels_read_before_they_write(self):
        # h = exp(x); k = h - x written over h; out = -k written over k.
        t = [tensor("x", [4], 0), tensor("h", [4], 16), tensor("k", [4], 16), tensor("out", [4], 16)]
        ks = [
            kernel("h", {"type": "Unary", "fun": {"fn": "Exp"}}, [0], [1]),
            kernel("k", {"type": "Binary", "fun": {"fn": "Sub"}}, [1, 0], [2]),
            kernel("out", {"type": "Unary", "fun": {"fn": "Neg"}}, [2], [3]),
        ]
        exe, _ = self.run_bundle(tiny_graph(ks, t, [0], [3], 32), [], b"", None)
        self.assertEqual(exe.views, {})
        x = np.float32([0, 1, -1, 2])
        (_, y), = exe.run({"x": x})
        np.testing.assert_allclose(y, -(np.exp(x) - x), rtol=1e-6)

    def test_reads_of_unwritten_or_overwritten_bytes_are_inconsistent(self):
        t = [tensor("x", [4], 0), tensor("y", [4], 16), tensor("z", [4], 32)]
        g = tiny_graph([kernel("k", {"type": "Unary", "fun": {"fn": "Neg"}}, [0], [1])], t, [0], [2], 48)
        self.assertEqual(code(lambda: views.classify(graph.parse(seal(b"GRPH", g), "g"))), "inconsistent")
        # y written over x, then x read again: the plan lost x.
        t = [tensor("x", [4], 0), tensor("y", [4], 0), tensor("z", [4], 16)]
        ks = [
            kernel("k", {"type": "Unary", "fun": {"fn": "Neg"}}, [0], [1]),
            kernel("j", {"type": "Binary", "fun": {"fn": "Add"}}, [1, 0], [2]),
        ]
        g = tiny_graph(ks, t, [0], [2], 32)
        self.assertEqual(code(lambda: views.classify(graph.parse(seal(b"GRPH", g), "g"))), "inconsistent")


class Inputs(unittest.TestCase):
    def test_bad_inputs(self):
        g = simple_graph()
        b = Bundle(bundle(g, weights_file([], b"")))
        exe = Executable(*b.load())
        x = np.zeros(4, np.float32)
        self.assertEqual(code(lambda: exe.run({})), "bad_input")
        self.assertEqual(code(lambda: exe.run([("x", x), ("x", x)])), "bad_input")
        self.assertEqual(code(lambda: exe.run({"x": x, "z": x})), "bad_input")
        self.assertEqual(code(lambda: exe.run({"x": x.astype(np.float64)})), "bad_input")
        self.assertEqual(code(lambda: exe.run({"x": x[:3]})), "bad_input")
        (_, y), = exe.run({"x": np.float32([-1, 0, 2, np.nan])})
        np.testing.assert_array_equal(y, np.float32([0, 0, 2, np.nan]))


if __name__ == "__main__":
    unittest.main()
