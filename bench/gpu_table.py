"""Joins `cargo xtask bench-gpu --json` and `bench/gpu_peer.py` results into the markdown table of BENCHMARKS.md.

Usage: python3 bench/gpu_table.py WDNN.json TORCH.json
"""

import json
import sys

ORDER = ["resnet50", "vgg19", "squeezenet", "inception_v1", "mobilenetv2"]


def main():
    ours = {r["model"]: r for r in json.load(open(sys.argv[1]))}
    torch = {r["model"]: r for r in json.load(open(sys.argv[2]))}
    trusted = {r["model"]: r for r in json.load(open(sys.argv[3]))} if len(sys.argv) > 3 else {}
    first = next(iter(ours.values()))
    peer = next(iter(torch.values()))
    print(f"Adapter: {first['adapter']}; PyTorch {peer['torch']} on {peer['device']}; batch 1, fp32, median of "
          f"{first['runs']} runs after warm-up.\n")
    print("| model | GFLOP | wdnn webgpu wall ms | GPU ms | GFLOP/s (wall) | load ms | pipelines ms | first run ms "
          "| dispatches | wall ms, no bounds checks | PyTorch eager ms | CUDA graph ms | eager (TF32 conv) ms "
          "| wdnn / eager |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ORDER:
        o, t = ours.get(name), torch.get(name)
        if o is None:
            continue
        t = t or {}
        ratio = o["wall_ms"] / t["eager_ms"] if t.get("eager_ms") else float("nan")
        print(f"| {name} | {o['gflop']:.2f} | {o['wall_ms']:.3f} | {o['gpu_ms']:.3f} | {o['gflop'] / o['wall_ms'] * 1e3:.0f} "
              f"| {o['load_ms']:.0f} | {o['pipelines_ms']:.0f} | {o['first_run_ms']:.2f} | {o['dispatches']} "
              f"| {trusted.get(name, {}).get('wall_ms', float('nan')):.3f} "
              f"| {t.get('eager_ms', float('nan')):.3f} | {t.get('graph_ms', float('nan')):.3f} "
              f"| {t.get('eager_tf32_ms', float('nan')):.3f} | {ratio:.2f}× |")


if __name__ == "__main__":
    main()
