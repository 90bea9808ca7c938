#!/usr/bin/env python3
"""Checks the independent reader against the Rust reference backend.

For every fixture model (MobileNetV2 with f32, f16 and int8 weights and with NHWC activations, the style network,
the nine zoo graphs with random weights) it converts a bundle with ``cargo xtask convert`` into a scratch folder,
runs its fallback descriptor with the Rust reference (``cargo xtask run --backend fallback``) and with this reader
on the same inputs, and prints the relative L2 distance of every output (it must be at most 1e-5). Then it damages
one bundle in the ways SPEC §8 lists and checks that the reader refuses each with the class SPEC §8.1 prescribes,
and that the Rust runner refuses it too.

    run_checks.py [--xtask CMD] [--scratch DIR] [--only NAME ...] [--keep [--skip-convert]]

``--xtask`` is how to call the xtask binary (default ``cargo xtask``); ``cargo xtask test`` passes its own path.
Prints ``N passed, N failed`` last; exits 1 if anything failed.
"""

import argparse
import hashlib
import os
import shlex
import shutil
import struct
import subprocess
import sys
import time

import msgpack
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from wdnn_reader import Bundle, Executable  # noqa: E402
from wdnn_reader.errors import ReaderError  # noqa: E402

TOLERANCE = 1e-5
ZOO = "bvlc_alexnet densenet121 inception_v1 inception_v2 resnet50 shufflenet squeezenet vgg19 zfnet512".split()
MNV2 = "fixtures/models/mobilenetv2-imagenet.onnx"
MNV2_INPUT = {"input": "fixtures/expected/mobilenetv2/chelsea.input.npy"}
# Bundles that also get a webgpu descriptor: the reader runs it ignoring its payloads (SPEC §6.1: its rewrites keep
# the numbers), against the same Rust fallback outputs.
WEBGPU_TOO = ["--backends", "fallback,webgpu"]
# Photos for the preprocessing check (SPEC §3.1): lossless, so any decoder gives the same pixels.
PHOTOS = ["chelsea", "camera", "coffee", "motorcycle_left"]


def models(cache):
    """(name, onnx, convert arguments, inputs by name)."""
    out = [
        ("mobilenetv2-f32", MNV2, ["--weights", "f32", "--preprocess", "imagenet"] + WEBGPU_TOO, MNV2_INPUT),
        ("mobilenetv2-f16", MNV2, ["--weights", "f16"], MNV2_INPUT),
        ("mobilenetv2-int8", MNV2, ["--weights", "int8"], MNV2_INPUT),
        ("mobilenetv2-nhwc", MNV2, ["--layout", "nhwc"], MNV2_INPUT),
        (
            "multistyle26",
            "fixtures/models/multistyle26.onnx",
            ["--input-shape", "image=1,3,256,256", "--input-shape", "style_weights=26"],
            {
                "image": "fixtures/expected/multistyle26/content.input.npy",
                "style_weights": "fixtures/expected/multistyle26/style9.style_weights.npy",
            },
        ),
    ]
    for n in ZOO:
        # Random weights do not compress: a fast zstd level keeps the conversion short; the frames are the same kind.
        extra = WEBGPU_TOO if n == "squeezenet" else []
        out.append((n, f"{cache}/zoo-random/{n}.onnx", ["--zstd-level", "3"] + extra, None))
    return out


def rel_l2(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / d) if d else float(np.linalg.norm(a - b))


def safe(name):
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def sh(cmd, log):
    with open(log, "ab") as f:
        f.write(("$ " + shlex.join(cmd) + "\n").encode())
        f.flush()
        r = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
    return r.returncode


def check_model(xtask, scratch, name, onnx, args, inputs, skip_convert, cache):
    bundle = os.path.join(scratch, name)
    log = os.path.join(scratch, f"{name}.log")
    if not skip_convert or not os.path.exists(os.path.join(bundle, "manifest.wdnn")):
        open(log, "w").close()
        backends = [] if "--backends" in args else ["--backends", "fallback"]
        if sh(xtask + ["convert", onnx, "--out", bundle] + backends + args, log):
            return [f"{name}: conversion failed (see {log})"], []
    b = Bundle(bundle)
    if inputs is None:
        inputs = {b.manifest.inputs[0].name: os.path.join(cache, "zoo-random", f"{name}.input.npy")}
    rust_dir = os.path.join(bundle, "rust-outputs")
    run = xtask + ["run", bundle, "--backend", "fallback", "--out-dir", rust_dir]
    for k, v in inputs.items():
        run += ["--input", f"{k}={os.path.join(REPO, v)}"]
    if sh(run, log):
        return [f"{name}: the Rust fallback failed (see {log})"], []
    start = time.perf_counter()
    g, w, stream = b.load("fallback")
    exe = Executable(g, w, stream, where=f"{name}/fallback.graph.wdnn")
    outputs = exe.run({k: np.load(os.path.join(REPO, v)) for k, v in inputs.items()})
    seconds = time.perf_counter() - start
    failures, rows = [], []
    for out_name, value in outputs:
        ref = np.load(os.path.join(rust_dir, f"{safe(out_name)}.npy"))
        err = rel_l2(value, ref) if value.shape == ref.shape else float("inf")
        rows.append((name, out_name, len(g.kernels), err, seconds))
        if not err <= TOLERANCE:
            failures.append(f"{name}: output `{out_name}` rel. L2 {err:.3e} > {TOLERANCE:g}")
    refs = {out_name: np.load(os.path.join(rust_dir, f"{safe(out_name)}.npy")) for out_name, _ in outputs}
    if b.manifest.backend("webgpu") is not None:
        g, w, stream = b.load("webgpu")
        exe = Executable(g, w, stream, where=f"{name}/webgpu.graph.wdnn")
        for out_name, value in exe.run({k: np.load(os.path.join(REPO, v)) for k, v in inputs.items()}):
            err = rel_l2(value, refs[out_name])
            rows.append((f"{name} (webgpu)", out_name, len(g.kernels), err, 0.0))
            if not err <= TOLERANCE:
                failures.append(f"{name} webgpu graph: output `{out_name}` rel. L2 {err:.3e} > {TOLERANCE:g}")
    if b.manifest.preprocessing is not None:
        f, r = check_preprocessing(xtask, b, bundle, name, log)
        failures += f
        rows += r
    return failures, rows


def check_preprocessing(xtask, b, bundle, name, log):
    """SPEC §3.1: the reader's preprocessing of a photo, run through the reader, against `cargo xtask run --image`."""
    try:
        from PIL import Image
    except ImportError:
        return [f"{name}: pillow is missing (descriptor-spec/python/requirements.txt)"], []
    from wdnn_reader.preprocess import preprocess

    g, w, stream = b.load("fallback")
    exe = Executable(g, w, stream)
    failures, rows = [], []
    for photo in PHOTOS:
        path = os.path.join(REPO, "fixtures", "images", f"{photo}.png")
        out_dir = os.path.join(bundle, f"rust-{photo}")
        if sh(xtask + ["run", bundle, "--backend", "fallback", "--image", path, "--out-dir", out_dir], log):
            failures.append(f"{name}: the Rust fallback failed on {photo}.png (see {log})")
            continue
        rgb = np.asarray(Image.open(path).convert("RGB"))
        x = preprocess(rgb, b.manifest.preprocessing)
        (out_name, value), = exe.run({b.manifest.inputs[0].name: x})
        err = rel_l2(value, np.load(os.path.join(out_dir, f"{safe(out_name)}.npy")))
        rows.append((f"{name} {photo}.png", out_name, len(g.kernels), err, 0.0))
        if not err <= TOLERANCE:
            failures.append(f"{name}: preprocessed {photo}.png gives rel. L2 {err:.3e} > {TOLERANCE:g}")
    return failures, rows


# --- damaged bundles --------------------------------------------------------------------------------------------


def head_range(data):
    (h,) = struct.unpack_from("<Q", data, 16)
    return 56, 56 + h


def reseal_head(data, new_head=None):
    """The container with its head replaced (or kept) and the head checksum recomputed."""
    start, end = head_range(data)
    head = data[start:end] if new_head is None else new_head
    out = bytearray(data[:start] + head + data[end:])
    out[16:24] = struct.pack("<Q", len(head))
    out[24:56] = hashlib.sha256(head).digest()
    return bytes(out)


def patch_head(data, old, new):
    start, end = head_range(data)
    head = data[start:end]
    assert old in head, (old, head[:100])
    return reseal_head(data, head.replace(old, new, 1))


def reseal_manifest(files):
    """Updates the manifest's sizes and hashes to the files as they are now, as a writer would."""
    m = files["manifest.wdnn"]
    start, end = head_range(m)
    head = msgpack.unpackb(m[start:end], raw=False)
    for entry in head["backends"]:
        for ref in (entry["graph"], entry["weights"]):
            data = files[ref["file"]]
            ref["size"], ref["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    files["manifest.wdnn"] = reseal_head(m, msgpack.packb(head, use_bin_type=True))
    return files


def flip(data, at):
    out = bytearray(data)
    out[at] ^= 0x20
    return bytes(out)


class Case:
    """A damaged bundle: the class SPEC §8.1 prescribes (None: it must be accepted), a word the reader's message must
    contain, and what the Rust runner does: `refuse`, `accept`, or `any` (a check SPEC makes optional). `rust_gap`
    explains a known disagreement of the Rust runner with SPEC, reported but not failed on."""

    def __init__(self, case, expected, files, backend="fallback", names=None, rust="refuse", rust_gap=None,
                 inputs=None):
        self.case, self.expected, self.files, self.backend, self.names = case, expected, files, backend, names
        self.rust, self.rust_gap, self.inputs = rust, rust_gap, inputs


def edit_graph(g, change):
    """The graph file with its head decoded, changed by ``change(head)`` and encoded again."""
    start, end = head_range(g)
    head = msgpack.unpackb(g[start:end], raw=False)
    change(head)
    return reseal_head(g, msgpack.packb(head, use_bin_type=True))


def damaged(files):
    M, G, W = "manifest.wdnn", "fallback.graph.wdnn", "fallback.weights.wdnn"

    def with_(name, data, reseal=False):
        f = dict(files)
        f[name] = data
        return reseal_manifest(f) if reseal else f

    m, g, w = files[M], files[G], files[W]
    wh_end = head_range(w)[1]

    def set_payload(h):
        h["kernels"][0]["payload"] = {"kind": "Spirv", "words": 3}

    def set_nil_epilogue(h):
        conv = next(k for k in h["kernels"] if k["op"]["type"] == "Conv")
        conv["op"]["epilogue"] = None

    def add_unknown_keys(h):
        h["kernels"][0]["future_field"] = [1, 2]
        h["kernels"][0]["op"]["future_attribute"] = True
        h["tensors"][0]["storage"]["future"] = "x"

    def unwritten_output(h):
        # The first output bound to a new tensor in a fresh arena range that no kernel writes.
        t = dict(h["tensors"][h["outputs"][0]["tensor"]])
        size = 4
        for d in t["shape"]:
            size *= d
        t["storage"] = {"kind": "Arena", "offset": h["arena_size"]}
        h["arena_size"] += (size + 15) // 16 * 16
        h["tensors"].append(t)
        h["outputs"][0]["tensor"] = len(h["tensors"]) - 1

    def shrink_arena(h):
        h["arena_size"] -= 16

    def other_backend(h):
        h["backend"] = "wasm"

    def wrong_weight_shape(h):
        t = next(t for t in h["tensors"] if t["storage"]["kind"] == "Weight")
        t["shape"] = t["shape"] + [1]

    def int_for_bool(h):
        mm = next(k for k in h["kernels"] if k["op"]["type"] in ("MatMul", "Conv"))
        mm["op"]["channels_last"] = 0

    def bad_stream_size(h):
        h["stream_size"] += 16

    def bad_length(h):
        h["tensors"][0]["length"] += 4

    def wrong_input_shape():
        return {"data_0": np.zeros((1, 3, 224, 225), np.float32)}

    yield Case("manifest shorter than its magic", "bad_magic", with_(M, m[:5]))
    yield Case("manifest shorter than its version", "truncated", with_(M, m[:10]))
    yield Case("manifest shorter than its header", "truncated", with_(M, m[:40]))
    yield Case("manifest cut inside its head", "truncated", with_(M, m[:-1]))
    yield Case("manifest with one byte more", "truncated", with_(M, m + b"\0"))
    yield Case("manifest of the wrong kind", "bad_magic", with_(M, m[:4] + b"GRPH" + m[8:]))
    yield Case("manifest of major version 2", "unsupported_version", with_(M, m[:8] + b"\2\0" + m[10:]), names="2.0")
    yield Case("manifest of minor version 9", None, with_(M, m[:10] + b"\x09\0" + m[12:]), rust="accept")
    yield Case("manifest head byte flipped", "corrupted", with_(M, flip(m, len(m) - 3)))
    yield Case("graph file cut (manifest unchanged)", "truncated", with_(G, g[:-7]))
    yield Case("graph byte flipped (manifest unchanged)", "corrupted", with_(G, flip(g, len(g) // 2)))
    yield Case("weights byte flipped (manifest unchanged)", "corrupted", with_(W, flip(w, len(w) - 5)))
    yield Case("graph cut, manifest resealed", "truncated", with_(G, g[:-7], True))
    yield Case("graph head byte flipped, manifest resealed", "corrupted", with_(G, flip(g, len(g) - 9), True))
    yield Case("graph with a trailing byte, manifest resealed", "truncated", with_(G, g + b"\0", True))
    yield Case("graph of major version 3", "unsupported_version", with_(G, g[:8] + b"\3\0" + g[10:], True))
    yield Case(
        "graph with an unknown op", "unknown_op", with_(G, patch_head(g, b"Softmax", b"Softmux"), True),
        names="Softmux",
        rust_gap="the Rust names the op `?` when the graph holds a Reduce (its name lookup expects `fun` to be a map)",
    )
    yield Case("graph with an unknown function", "unknown_op", with_(G, patch_head(g, b"Relu", b"Relx"), True),
               names="Relx", rust_gap="the Rust names the function `?` when the graph holds a Reduce (as above)")
    yield Case("graph with an unknown payload kind", "unknown_payload", with_(G, edit_graph(g, set_payload), True),
               names="Spirv")
    yield Case("graph head not MessagePack", "malformed", with_(G, reseal_head(g, b"\xc1"), True))
    yield Case("graph with nil for an optional field", "malformed", with_(G, edit_graph(g, set_nil_epilogue), True))
    yield Case("graph with 0 for a bool", "malformed", with_(G, edit_graph(g, int_for_bool), True))
    yield Case("graph with keys this reader does not know", None, with_(G, edit_graph(g, add_unknown_keys), True),
               rust="accept")
    yield Case("graph with a tensor outside the arena", "inconsistent", with_(G, edit_graph(g, shrink_arena), True))
    yield Case("graph for another backend", "inconsistent", with_(G, edit_graph(g, other_backend), True))
    yield Case("graph tensor unlike its weight", "inconsistent", with_(G, edit_graph(g, wrong_weight_shape), True))
    yield Case("graph output that no kernel writes", "inconsistent", with_(G, edit_graph(g, unwritten_output), True),
               names="never written", rust="any")
    yield Case("weights body cut, manifest resealed", "truncated", with_(W, w[:-3], True))
    yield Case("weights chunk byte flipped, manifest resealed", "corrupted", with_(W, flip(w, wh_end + 40), True),
               names="chunk 0")
    yield Case("weights with an unknown encoding", "unknown_encoding", with_(W, patch_head(w, b"Raw", b"Rax"), True),
               names="Rax")
    yield Case("weights whose chunks do not add up", "inconsistent", with_(W, edit_graph(w, bad_stream_size), True))
    yield Case("weight with a wrong length", "inconsistent", with_(W, edit_graph(w, bad_length), True))
    yield Case("a backend the bundle lacks", "missing_backend", dict(files), backend="webgpu")
    yield Case("an input of the wrong shape", "bad_input", dict(files), inputs=wrong_input_shape(), names="shape")


# The Rust runner's messages (descriptor-spec/src/error.rs, runner-core/src/error.rs) by SPEC §8.1 class, to show
# where the two disagree on the class; the Rust must refuse every damaged bundle, its class is reported only.
RUST_CLASSES = [
    ("not a wdnn", "bad_magic"),
    ("is not supported by this runner", "unsupported_version"),
    ("truncated or padded", "truncated"),
    ("checksum mismatch", "corrupted"),
    ("does not decompress", "malformed"),
    ("malformed", "malformed"),
    ("unknown encoding", "unknown_encoding"),
    ("unknown op", "unknown_op"),
    ("unknown to this reader", "unknown_op"),
    ("invalid descriptor", "inconsistent"),
    ("payload kind", "unknown_payload"),
    ("descriptor (it has:", "missing_backend"),
    ("has no descriptor for it", "missing_backend"),
    ("the model expects", "bad_input"),
    ("given twice", "bad_input"),
]


def rust_class(message):
    return next((c for pattern, c in RUST_CLASSES if pattern in message), "?")


def classify(case):
    try:
        b = Bundle(case.files)
        g, w, stream = b.load(case.backend)
        exe = Executable(g, w, stream)
        inputs = case.inputs or {sig.name: np.zeros(sig.shape, np.float32) for sig in b.manifest.inputs}
        exe.run(inputs)
    except ReaderError as e:
        return e.code, str(e)
    return None, "accepted"


def check_damage(xtask, scratch, source):
    names = ["manifest.wdnn", "fallback.graph.wdnn", "fallback.weights.wdnn"]
    files = {n: open(os.path.join(source, n), "rb").read() for n in names}
    # Keep only the fallback descriptor, so that `webgpu` is a backend the bundle lacks.
    m = files["manifest.wdnn"]
    start, end = head_range(m)
    head = msgpack.unpackb(m[start:end], raw=False)
    head["backends"] = [e for e in head["backends"] if e["backend"] == "fallback"]
    files["manifest.wdnn"] = reseal_head(m, msgpack.packb(head, use_bin_type=True))
    env = dict(os.environ, RUST_BACKTRACE="0")
    failures, passed = [], 0
    for i, case in enumerate(damaged(files)):
        code, message = classify(case)
        ok = code == case.expected and (case.names is None or case.names in message)
        # The Rust runner on the same files.
        folder = os.path.join(scratch, "damaged", f"{i:02d}")
        os.makedirs(folder, exist_ok=True)
        for n, data in case.files.items():
            with open(os.path.join(folder, n), "wb") as f:
                f.write(data)
        inputs = case.inputs or {"data_0": np.zeros((1, 3, 224, 224), np.float32)}
        cmd = xtask + ["run", folder, "--backend", case.backend]
        for name, value in inputs.items():
            np.save(os.path.join(folder, f"{name}.input.npy"), value)
            cmd += ["--input", f"{name}={os.path.join(folder, name + '.input.npy')}"]
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
        refused = r.returncode != 0
        # xtask prints `error: context`, then one `  caused by: cause` line per cause: keep them all, on one line.
        said = r.stderr[r.stderr.find("error:") :] if "error:" in r.stderr else ""
        rust_says = " ".join(line.strip().removeprefix("caused by:").strip() for line in said.splitlines())
        rust_code = rust_class(rust_says) if refused else "accepted"
        rust_ok = {"refuse": refused, "accept": not refused, "any": True}[case.rust]
        if case.rust == "refuse" and case.expected is not None:
            rust_ok = rust_ok and rust_code == case.expected and (case.names is None or case.names in rust_says)
        verdict = "ok  " if ok and rust_ok else ("gap " if ok and case.rust_gap else "FAIL")
        note = f"   [known Rust gap: {case.rust_gap}]" if case.rust_gap and not rust_ok else ""
        if case.rust_gap and rust_ok:
            note = "   [the Rust gap is fixed: drop `rust_gap` from this case]"
        print(f"  {verdict} {case.case:48} reader: {code or 'accepted':19} rust: {rust_code:19}{note}")
        if not ok:
            failures.append(f"damage `{case.case}`: the reader says {code} ({message}); SPEC §8.1: {case.expected}")
        elif not rust_ok and not case.rust_gap:
            failures.append(f"damage `{case.case}`: the Rust runner says {rust_code} ({rust_says[:200]})")
        else:
            passed += 1
    return failures, passed


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--xtask", default="cargo xtask", help="how to call xtask (default: cargo xtask)")
    p.add_argument("--scratch", default=os.path.join(REPO, "target", "reader-checks"))
    p.add_argument("--cache", default=os.environ.get("WDNN_CACHE", os.path.join(REPO, ".cache")))
    p.add_argument("--only", nargs="*", help="model names to check (default: all)")
    p.add_argument("--skip-convert", action="store_true", help="reuse bundles already in the scratch folder")
    p.add_argument("--keep", action="store_true", help="keep every bundle (default: only the one damaged below)")
    a = p.parse_args()
    xtask = shlex.split(a.xtask)
    os.makedirs(a.scratch, exist_ok=True)
    failures, rows = [], []
    print(f"{'bundle':36} {'output':22} {'kernels':>7} {'rel. L2 vs Rust':>15} {'reader s':>9}")
    for name, onnx, args, inputs in models(a.cache):
        if a.only and name not in a.only:
            continue
        f, r = check_model(xtask, a.scratch, name, onnx, args, inputs, a.skip_convert, a.cache)
        for row in r:
            seconds = f"{row[4]:9.2f}" if row[4] else ""
            print(f"{row[0]:36} {row[1][:22]:22} {row[2]:7d} {row[3]:15.3e} {seconds:>9}")
        if f:
            print("\n".join("  FAIL " + x for x in f))
        failures += f
        rows += r
        if not a.keep and name != "squeezenet":
            shutil.rmtree(os.path.join(a.scratch, name), ignore_errors=True)
    passed = sum(1 for row in rows if row[3] <= TOLERANCE)
    damage_source = os.path.join(a.scratch, "squeezenet")
    if os.path.exists(os.path.join(damage_source, "manifest.wdnn")):
        print("damaged bundles (from squeezenet):")
        f, n = check_damage(xtask, a.scratch, damage_source)
        failures += f
        passed += n
    for x in failures:
        print("FAIL:", x)
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
