"""Compares the tunings of `bench/gpu_sweep.sh`: each model's wall and GPU time per tuning, then every GEMM-shaped
dispatch (Conv, MatMul) with its GPU time per tuning and the fastest one, so that the defaults can be chosen per shape.

Usage: python3 bench/gpu_sweep_pick.py TUNING... -- SWEEP-1.json ...   (the same order as the sweep's tunings)
"""

import json
import sys

ORDER = ["resnet50", "vgg19", "squeezenet", "inception_v1", "mobilenetv2"]


def gemm_shape(k):
    """(m, n, k) of a Conv or MatMul dispatch from its output and weight shapes, where they say it."""
    out, w = k.get("out") or [], k.get("weight") or []
    if k["op"] == "Conv" and len(out) == 4 and len(w) == 4:
        return out[1], out[2] * out[3], w[1] * w[2] * w[3]
    if k["op"] == "MatMul" and len(out) >= 2 and len(w) >= 2:
        return out[-2], out[-1], w[-2]
    return None


def main():
    split = sys.argv.index("--")
    tunings, files = sys.argv[1:split], sys.argv[split + 1:]
    runs = [{r["model"]: r for r in json.load(open(f))} for f in files]
    print("| model | " + " | ".join(f"`{t}` wall / GPU ms" for t in tunings) + " |")
    print("|---|" + "---:|" * len(tunings))
    for name in ORDER:
        cells = [f"{r[name]['wall_ms']:.3f} / {r[name]['gpu_ms']:.3f}" if name in r else "-" for r in runs]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nGEMM dispatches (ms, mean of 10 profiled runs); best per row in bold, then its gain over the first tuning.\n")
    print("| model | kernel | m × n × k | " + " | ".join(f"`{t}`" for t in tunings) + " | best | gain |")
    print("|---|---|---|" + "---:|" * len(tunings) + "---|---:|")
    totals = [0.0] * len(tunings)
    best_total = 0.0
    for name in ORDER:
        if name not in runs[0]:
            continue
        for k in runs[0][name].get("kernels", []):
            shape = gemm_shape(k)
            if shape is None:
                continue
            times = []
            for r in runs:
                match = [x for x in r.get(name, {}).get("kernels", []) if x["name"] == k["name"]]
                times.append(match[0]["ms"] if match else float("nan"))
            best = min(range(len(times)), key=lambda i: times[i])
            for i, t in enumerate(times):
                totals[i] += t
            best_total += times[best]
            cells = [f"**{t:.4f}**" if i == best else f"{t:.4f}" for i, t in enumerate(times)]
            gain = times[0] / times[best] if times[best] > 0 else float("nan")
            print(f"| {name} | {k['name']} | {shape[0]} × {shape[1]} × {shape[2]} | " + " | ".join(cells)
                  + f" | `{tunings[best]}` | {gain:.2f}× |")
    print("\nSum of the GEMM dispatches per tuning (ms): "
          + ", ".join(f"`{t}` {s:.3f}" for t, s in zip(tunings, totals)) + f"; best of each: {best_total:.3f}")


if __name__ == "__main__":
    main()
