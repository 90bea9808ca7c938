"""The accuracy rows of the fp16 table (`bench/gpu_bench.sh`): MobileNetV2 (real weights) on the five photos, run
by `xtask run` on the bundle's webgpu-f16 and webgpu descriptors, against onnxruntime's logits in
fixtures/expected/mobilenetv2: rel. L2 of the logits and whether the top-1 class agrees.

Usage: python3 bench/gpu_f16_accuracy.py RUNS_DIR OUT.json
RUNS_DIR holds <backend>/<photo>/logits.npy for backend webgpu-f16 and webgpu.
"""

import json
import sys

import numpy as np

PHOTOS = ["camera", "chelsea", "china", "coffee", "motorcycle_left"]


def main():
    runs, out = sys.argv[1], sys.argv[2]
    rows = []
    for backend in ["webgpu-f16", "webgpu"]:
        errors, agree = [], 0
        for photo in PHOTOS:
            expected = np.load(f"fixtures/expected/mobilenetv2/{photo}.logits.npy").astype(np.float64).ravel()
            actual = np.load(f"{runs}/{backend}/{photo}/logits.npy").astype(np.float64).ravel()
            errors.append(float(np.linalg.norm(actual - expected) / np.linalg.norm(expected)))
            agree += int(actual.argmax() == expected.argmax())
        rows.append({"backend": backend, "rel_l2_max": max(errors), "rel_l2_mean": sum(errors) / len(errors),
                     "top1_agree": agree, "photos": len(PHOTOS)})
        print(f"mobilenetv2 {backend}: top-1 {agree}/{len(PHOTOS)} as onnxruntime; logits rel. L2 max "
              f"{max(errors):.2e}, mean {sum(errors) / len(errors):.2e}")
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
