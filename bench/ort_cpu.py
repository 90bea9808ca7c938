#!/usr/bin/env python3
"""onnxruntime CPU timing for `cargo xtask bench`: median milliseconds of `runs` runs after warm-up.

    python bench/ort_cpu.py MODEL.onnx INPUT.npy [runs] [threads]

Prints one line: `ort <median_ms> <min_ms>`. Single-threaded by default, like wdnn's reference backend.
"""
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    model, inp = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    x = np.load(inp)
    feed = {session.get_inputs()[0].name: x}
    for _ in range(3):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    print(f"ort {times[len(times) // 2]:.3f} {times[0]:.3f}")


if __name__ == "__main__":
    main()
