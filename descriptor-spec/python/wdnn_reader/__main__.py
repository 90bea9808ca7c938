"""Command line: ``python -m wdnn_reader run|verify|inspect BUNDLE ...``.

Exit status 0 on success; 2 when the reader refuses the bundle or an input, after printing ``error[CLASS]:
message`` (CLASS is the SPEC §8 class) on stderr.
"""

import argparse
import json
import os
import re
import sys

import numpy as np

from .bundle import Bundle
from .errors import ReaderError
from .executor import Executable


def _safe(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def cmd_run(args):
    b = Bundle(args.bundle)
    g, w, stream = b.load(args.backend)
    exe = Executable(g, w, stream, where=b.manifest.backend(args.backend).graph.file)
    inputs = []
    for spec in args.input:
        name, _, path = spec.partition("=")
        if not path:
            raise SystemExit(f"--input expects NAME=FILE.npy, got `{spec}`")
        inputs.append((name, np.load(path, allow_pickle=False)))
    outputs = exe.run(inputs)
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
    for name, value in outputs:
        print(f"output {name}: {value.dtype}{list(value.shape)}")
        if args.out_dir:
            path = os.path.join(args.out_dir, f"{_safe(name)}.npy")
            np.save(path, value)
            print(f"wrote {path}")


def cmd_verify(args):
    b = Bundle(args.bundle)
    backends = [args.backend] if args.backend else [e.backend for e in b.manifest.backends]
    for name in backends:
        g, w, _ = b.load(name)
        print(f"{name}: ok ({len(g.kernels)} kernels, {len(w.tensors)} weights, {len(w.chunks)} chunks)")


def cmd_inspect(args):
    b = Bundle(args.bundle)
    m = b.manifest
    g, w, _ = b.load(args.backend)
    if args.json:
        doc = {
            "model": m.model_name,
            "backend": g.backend,
            "arena_size": g.arena_size,
            "alignment": g.alignment,
            "kernels": [
                {
                    "name": k.name,
                    "op": k.op.type,
                    "attrs": {key: repr(v) for key, v in k.op.attrs.items()},
                    "inputs": [_tensor_json(g.tensors[i]) for i in k.inputs],
                    "outputs": [_tensor_json(g.tensors[o]) for o in k.outputs],
                }
                for k in g.kernels
            ],
            "weights": [
                {"name": e.name, "dtype": e.dtype, "shape": list(e.shape), "encoding": e.encoding, "length": e.length}
                for e in w.tensors
            ],
        }
        json.dump(doc, sys.stdout, indent=1)
        print()
        return
    print(f"model {m.model_name}, backend {g.backend}: {len(g.kernels)} kernels, arena {g.arena_size} bytes")
    for k in g.kernels:
        attrs = ", ".join(f"{key}={v!r}" for key, v in k.op.attrs.items())
        print(f"  {k.name}: {k.op.type}({attrs})")
        for i in k.inputs:
            print(f"      in  {g.tensors[i]}")
        for o in k.outputs:
            print(f"      out {g.tensors[o]}")
    for e in w.tensors:
        print(f"  {e} {e.length} bytes")


def _tensor_json(t):
    d = {"id": t.id, "name": t.name, "dtype": t.dtype, "shape": list(t.shape)}
    if t.in_arena:
        d["arena"] = [t.offset, t.end]
    else:
        d["weight"] = t.weight
    return d


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m wdnn_reader", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a bundle's fallback descriptor on .npy inputs")
    r.add_argument("bundle")
    r.add_argument("--backend", default="fallback")
    r.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy")
    r.add_argument("--out-dir")
    v = sub.add_parser("verify", help="check every file of a bundle (or one backend's)")
    v.add_argument("bundle")
    v.add_argument("--backend")
    i = sub.add_parser("inspect", help="print a backend's kernels, tensors and weights")
    i.add_argument("bundle")
    i.add_argument("--backend", default="fallback")
    i.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        {"run": cmd_run, "verify": cmd_verify, "inspect": cmd_inspect}[args.command](args)
    except ReaderError as e:
        print(f"error[{e.code}]: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
