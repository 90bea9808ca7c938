#!/usr/bin/env python3
"""Runs the independent reader on the conformance vectors (``descriptor-spec/vectors``).

Every good vector must run to its expected outputs (floats: NaN and infinities where expected, rel. L2 at most 1e-5
over the rest; other dtypes: equal), and every bad vector must be refused with the SPEC §8.1 class its
``expect.json`` names, the message containing its ``names``. ``descriptor-spec/vectors/README.md`` states the rules.

    run_vectors.py [--vectors DIR]

Prints one line per vector and ``N passed, N failed`` last; exits 1 if anything failed.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from wdnn_reader import Bundle, Executable  # noqa: E402
from wdnn_reader.dtypes import NUMPY  # noqa: E402
from wdnn_reader.errors import ReaderError  # noqa: E402

TOLERANCE = 1e-5


def compare(actual, expected):
    """None when `actual` matches `expected` by the README's rule, else what differs."""
    actual = np.asarray(actual)
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        return f"{actual.dtype} {actual.shape}, expected {expected.dtype} {expected.shape}"
    if expected.dtype.kind != "f":
        return None if np.array_equal(actual, expected) else "values differ"
    a, e = actual.astype(np.float64).ravel(), expected.astype(np.float64).ravel()
    special = ~np.isfinite(e)
    if not np.array_equal(np.isnan(a[special]), np.isnan(e[special])):
        return "NaN elsewhere than expected"
    nan = np.isnan(e[special])
    if not np.array_equal(a[special][~nan], e[special][~nan]):
        return "infinities differ"
    a, e = a[~special], e[~special]
    norm = np.linalg.norm(e)
    err = np.linalg.norm(a - e) / norm if norm else np.linalg.norm(a - e)
    return None if err <= TOLERANCE else f"rel. L2 {err:.3e} > {TOLERANCE:g}"


def load_inputs(folder, bundle):
    return {s.name: np.load(os.path.join(folder, "inputs", f"{s.name}.npy")) for s in bundle.manifest.inputs}


def check_good(folder):
    b = Bundle(folder)
    g, w, stream = b.load("fallback")
    outputs = Executable(g, w, stream, where=f"{os.path.basename(folder)}/fallback.graph.wdnn").run(load_inputs(folder, b))
    failures = []
    for name, value in outputs:
        problem = compare(value, np.load(os.path.join(folder, "expected", f"{name}.npy")))
        if problem:
            failures.append(f"output `{name}`: {problem}")
    return failures


def check_bad(folder):
    with open(os.path.join(folder, "expect.json")) as f:
        expect = json.load(f)
    try:
        b = Bundle(folder)
        g, w, stream = b.load(expect["backend"])
        if os.path.isdir(os.path.join(folder, "inputs")):
            inputs = load_inputs(folder, b)
        else:
            inputs = {s.name: np.zeros(s.shape, NUMPY[s.dtype]) for s in b.manifest.inputs}
        Executable(g, w, stream).run(inputs)
    except ReaderError as e:
        if e.code != expect["class"]:
            return [f"class {e.code}, expected {expect['class']}: {e}"]
        if expect["names"] and expect["names"] not in str(e):
            return [f"the message does not name {expect['names']!r}: {e}"]
        return []
    return [f"accepted, expected {expect['class']}"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vectors", default=os.path.join(os.path.dirname(HERE), "vectors"))
    a = p.parse_args()
    passed, failures = 0, []
    for kind, check in (("good", check_good), ("bad", check_bad)):
        root = os.path.join(a.vectors, kind)
        for name in sorted(os.listdir(root)):
            try:
                problems = check(os.path.join(root, name))
            except ReaderError as e:
                problems = [f"refused: {e.code}: {e}"]
            except Exception as e:  # a reader bug: reported, and the other vectors still run
                problems = [f"the reader crashed: {type(e).__name__}: {e}"]
            print(f"  {'ok  ' if not problems else 'FAIL'} {kind}/{name}")
            if problems:
                failures += [f"{kind}/{name}: {x}" for x in problems]
            else:
                passed += 1
    for x in failures:
        print("FAIL:", x)
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
