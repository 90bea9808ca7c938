#!/usr/bin/env python3
"""Checks the independent reader against the Rust reference backend.

For every fixture model (MobileNetV2 with f32, f16 and int8 weights and with NHWC activations, the style network,
the nine zoo graphs with random weights) it converts a bundle with ``cargo xtask convert`` into a scratch folder,
runs its fallback descriptor with the Rust reference (``cargo xtask run --backend fallback``) and with this reader
on the same inputs, and prints the relative L2 distance of every output (it must be at most 1e-5). Then it damages
one bundle in the ways SPEC §8 lists and checks that the reader refuses each with the class SPEC §8.1 prescribes,
and that the Rust runner refuses it too.

    run_checks.py [--xtask CMD] [--scratch DIR] [--only NAME ...] [--skip-convert]

``--xtask`` is how to call the xtask binary (default ``cargo xtask``); ``cargo xtask test`` passes its own path.
Prints ``N passed, N failed`` last; exits 1 if anything failed.
"""

import argparse
import hashlib
import os
import shlex
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


def models(cache):
    """(name, onnx, convert arguments, inputs by name)."""
    out = [
        ("mobilenetv2-f32", MNV2, ["--weights", "f32"], MNV2_INPUT),
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
        out.append((n, f"{cache}/zoo-random/{n}.onnx", ["--zstd-level", "3"], None))
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
        if sh(xtask + ["convert", onnx, "--out", bundle, "--backends", "fallback"] + args, log):
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


def damaged(files):
    """(case, expected SPEC §8 class, files, backend) for each damage."""
    M, G, W = "manifest.wdnn", "fallback.graph.wdnn", "fallback.weights.wdnn"

    def with_(name, data, reseal=False):
        f = dict(files)
        f[name] = data
        return reseal_manifest(f) if reseal else f

    m, g, w = files[M], files[G], files[W]
    wh_end = head_range(w)[1]
    yield "manifest shorter than its magic", "bad_magic", with_(M, m[:5]), "fallback"
    yield "manifest shorter than its version", "truncated", with_(M, m[:10]), "fallback"
    yield "manifest shorter than its header", "truncated", with_(M, m[:40]), "fallback"
    yield "manifest cut inside its head", "truncated", with_(M, m[:-1]), "fallback"
    yield "manifest with one byte more", "truncated", with_(M, m + b"\0"), "fallback"
    yield "manifest of the wrong kind", "bad_magic", with_(M, m[:4] + b"GRPH" + m[8:]), "fallback"
    yield "manifest of major version 2", "unsupported_version", with_(M, m[:8] + b"\2\0" + m[10:]), "fallback"
    yield "manifest of minor version 9", None, with_(M, m[:10] + b"\x09\0" + m[12:]), "fallback"
    yield "manifest head byte flipped", "corrupted", with_(M, flip(m, len(m) - 3)), "fallback"
    yield "graph file cut (manifest unchanged)", "truncated", with_(G, g[:-7]), "fallback"
    yield "graph byte flipped (manifest unchanged)", "corrupted", with_(G, flip(g, len(g) // 2)), "fallback"
    yield "weights byte flipped (manifest unchanged)", "corrupted", with_(W, flip(w, len(w) - 5)), "fallback"
    yield "graph cut, manifest resealed", "truncated", with_(G, g[:-7], True), "fallback"
    yield "graph head byte flipped, manifest resealed", "corrupted", with_(G, flip(g, len(g) - 9), True), "fallback"
    yield "graph with a trailing byte, manifest resealed", "truncated", with_(G, g + b"\0", True), "fallback"
    yield "graph of major version 3", "unsupported_version", with_(G, g[:8] + b"\3\0" + g[10:], True), "fallback"
    yield "graph with an unknown op", "unknown_op", with_(G, patch_head(g, b"Softmax", b"Softmux"), True), "fallback"
    yield "graph with an unknown function", "unknown_op", with_(G, patch_head(g, b"Relu", b"Relx"), True), "fallback"
    yield "graph head not MessagePack", "malformed", with_(G, reseal_head(g, b"\xc1"), True), "fallback"
    yield "weights body cut, manifest resealed", "truncated", with_(W, w[:-3], True), "fallback"
    yield "weights chunk byte flipped, manifest resealed", "corrupted", with_(W, flip(w, wh_end + 40), True), "fallback"
    yield "weights with an unknown encoding", "unknown_encoding", with_(W, patch_head(w, b"Raw", b"Rax"), True), "fallback"
    yield "a backend the bundle lacks", "missing_backend", dict(files), "webgpu"


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
    ("payload kind", "unknown_payload"),
    ("invalid descriptor", "inconsistent"),
    ("descriptor (it has:", "missing_backend"),
    ("has no descriptor for it", "missing_backend"),
]


def rust_class(message):
    return next((c for pattern, c in RUST_CLASSES if pattern in message), "?")


def classify(files, backend):
    try:
        b = Bundle(files)
        b.load(backend)
    except ReaderError as e:
        return e.code, str(e)
    return None, "accepted"


def check_damage(xtask, scratch, source):
    names = ["manifest.wdnn", "fallback.graph.wdnn", "fallback.weights.wdnn"]
    files = {n: open(os.path.join(source, n), "rb").read() for n in names}
    failures, passed = [], 0
    for i, (case, expected, bad, backend) in enumerate(damaged(files)):
        code, message = classify(bad, backend)
        ok = code == expected
        # The Rust runner must refuse it too (or accept it, for a newer minor version).
        folder = os.path.join(scratch, "damaged", f"{i:02d}")
        os.makedirs(folder, exist_ok=True)
        for n, data in bad.items():
            with open(os.path.join(folder, n), "wb") as f:
                f.write(data)
        cmd = xtask + ["run", folder, "--backend", backend]
        cmd += ["--input", f"data_0={os.path.join(scratch, 'damaged', 'input.npy')}"]
        np.save(os.path.join(scratch, "damaged", "input.npy"), np.zeros((1, 3, 224, 224), np.float32))
        env = dict(os.environ, RUST_BACKTRACE="0")
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
        rust_refused = r.returncode != 0
        rust_ok = rust_refused == (expected is not None)
        # anyhow prints `Error: context`, then `Caused by:` and the causes: keep them all, on one line.
        said = r.stderr[r.stderr.find("Error:") :] if "Error:" in r.stderr else ""
        rust_says = " ".join(line.strip() for line in said.splitlines() if line.strip() != "Caused by:")
        rust_code = rust_class(rust_says) if rust_refused else "accepted"
        note = "" if rust_code == (expected or "accepted") else f"   [Rust class differs: {rust_says[:160]}]"
        print(f"  {'ok  ' if ok and rust_ok else 'FAIL'} {case:48} reader: {code or 'accepted':19} "
              f"rust: {rust_code:19}{note}")
        if not ok:
            failures.append(f"damage `{case}`: the reader says {code} ({message}), SPEC §8.1 says {expected}")
        elif not rust_ok:
            failures.append(f"damage `{case}`: the Rust runner {'refused' if rust_refused else 'accepted'} it")
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
    a = p.parse_args()
    xtask = shlex.split(a.xtask)
    os.makedirs(a.scratch, exist_ok=True)
    failures, rows = [], []
    print(f"{'bundle':18} {'output':22} {'kernels':>7} {'rel. L2 vs Rust':>15} {'reader s':>9}")
    for name, onnx, args, inputs in models(a.cache):
        if a.only and name not in a.only:
            continue
        f, r = check_model(xtask, a.scratch, name, onnx, args, inputs, a.skip_convert, a.cache)
        for row in r:
            print(f"{row[0]:18} {row[1][:22]:22} {row[2]:7d} {row[3]:15.3e} {row[4]:9.2f}")
        if f:
            print("\n".join("  FAIL " + x for x in f))
        failures += f
        rows += r
    passed = len(rows) - sum(1 for x in failures if "rel. L2" in x)
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
