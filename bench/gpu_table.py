"""Joins `cargo xtask bench-gpu --json` and `bench/gpu_peer.py` results into the markdown tables of BENCHMARKS.md:
latency beside PyTorch, where the load time goes, where each run's wall time goes, and the fp16 peer.

Usage: python3 bench/gpu_table.py WDNN.json TORCH.json [WDNN-TRUSTED.json [WDNN-WARM.json [WDNN-F16.json
       [F16-ACCURACY.json [WDNN-F16-TILES.json]]]]]
(WDNN.json: the cold loads, from an empty pipeline cache; WDNN-WARM.json: the same loads from the filled cache.)
"""

import json
import sys

ORDER = ["resnet50", "vgg19", "squeezenet", "inception_v1", "mobilenetv2"]
NAN = float("nan")


def main():
    ours = {r["model"]: r for r in json.load(open(sys.argv[1]))}
    torch = {r["model"]: r for r in json.load(open(sys.argv[2]))}
    trusted = {r["model"]: r for r in json.load(open(sys.argv[3]))} if len(sys.argv) > 3 else {}
    warm = {r["model"]: r for r in json.load(open(sys.argv[4]))} if len(sys.argv) > 4 else {}
    half = {r["model"]: r for r in json.load(open(sys.argv[5]))} if len(sys.argv) > 5 else {}
    accuracy = json.load(open(sys.argv[6])) if len(sys.argv) > 6 else []
    tiles = {r["model"]: r for r in json.load(open(sys.argv[7]))} if len(sys.argv) > 7 else {}
    first = next(iter(ours.values()))
    peer = next(iter(torch.values()), None)
    who = f"PyTorch {peer['torch']} on {peer['device']}" if peer else "no PyTorch peer"
    print(f"Adapter: {first['adapter']}; {who}; batch 1, fp32, median of {first['runs']} runs after warm-up.\n")
    print("| model | GFLOP | wdnn webgpu wall ms | GPU ms | wall − GPU ms | GFLOP/s (wall) | load ms | pipelines ms "
          "| first run ms | dispatches | wall ms, no bounds checks | PyTorch eager ms | CUDA graph ms "
          "| eager (TF32 conv) ms | wdnn ÷ graph |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    models = [(n, ours[n], torch.get(n) or {}) for n in ORDER if n in ours]
    for name, o, t in models:
        ratio = o["wall_ms"] / t["graph_ms"] if t.get("graph_ms") else NAN
        print(f"| {name} | {o['gflop']:.2f} | {o['wall_ms']:.3f} | {o['gpu_ms']:.3f} | {o['wall_ms'] - o['gpu_ms']:.3f} "
              f"| {o['gflop'] / o['wall_ms'] * 1e3:.0f} | {o['load_ms']:.0f} | {o['pipelines_ms']:.0f} "
              f"| {o['first_run_ms']:.2f} | {o['dispatches']} | {trusted.get(name, {}).get('wall_ms', NAN):.3f} "
              f"| {t.get('eager_ms', NAN):.3f} | {t.get('graph_ms', NAN):.3f} | {t.get('eager_tf32_ms', NAN):.3f} "
              f"| {ratio:.2f}× |")
    print("\nLoad, ms. *model* is what loading the model costs once an adapter and a device exist (a browser page "
          "asks for them once): the graph's read + verify (file read, hash checked, graph decoded), checks "
          "(descriptor rules, every shader parsed against its bindings), then beside each other the weights (file "
          "read and hashed, zstd chunks decoded in parallel: *decode*; copied into buffers: *upload*) and the "
          "pipelines (shader modules and compute pipelines, the cache file's reading included), then bind groups and "
          "the cache file's writing. *cold*: an empty pipeline cache (every pipeline compiled by the driver, whose own "
          "disk cache is off); *warm*: the next process, from the cache file. The adapter (requested while the graph "
          "is read; the first model's includes the driver's start in this process) and the device (one per model in "
          "this runner; a page asks for one) are listed apart; *load* is the whole wall time.\n")
    print("| model | cache | load | model | graph read + verify | checks | decode | upload | pipelines | pipelines / shaders "
          "| bind | cache write | cache KiB | adapter | device |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, o, _ in models:
        for label, r in [("cold", o), ("warm", warm.get(name))]:
            if not r:
                continue
            state = r.get("pipeline_cache", "-")
            print(f"| {name} | {label} ({state}) | {r['load_ms']:.0f} | {r.get('model_load_ms', NAN):.0f} "
                  f"| {r.get('read_verify_ms', NAN):.0f} | {r.get('checks_ms', NAN):.0f} | {r.get('decode_ms', NAN):.0f} "
                  f"| {r['upload_ms']:.0f} | {r['pipelines_ms']:.0f} "
                  f"| {r.get('distinct_pipelines', '-')} / {r.get('shaders', '-')} | {r.get('bind_ms', NAN):.1f} "
                  f"| {r.get('cache_write_ms', NAN):.1f} | {r.get('pipeline_cache_bytes', 0) / 1024:.0f} "
                  f"| {r.get('adapter_ms', NAN):.0f} | {r['device_ms']:.0f} |")
    print("\nOne run's wall time (no timestamps), medians in ms: writing the inputs, submitting, recording the next "
          "run, waiting for the GPU, reading the outputs; and the wall time with timestamps on.\n")
    print("| model | process | wall | GPU | wall − GPU | write | submit | record | wait | read | wall with timestamps |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, o, _ in models:
        for label, r in [("first", o), ("second", warm.get(name))]:
            if not r:
                continue
            print(f"| {name} | {label} | {r['wall_ms']:.3f} | {r['gpu_ms']:.3f} | {r['wall_ms'] - r['gpu_ms']:.3f} "
                  f"| {r.get('run_write_ms', NAN):.3f} | {r.get('run_submit_ms', NAN):.3f} "
                  f"| {r.get('run_record_ms', NAN):.3f} | {r.get('run_wait_ms', NAN):.3f} "
                  f"| {r.get('run_read_ms', NAN):.3f} | {r.get('wall_with_timestamps_ms', NAN):.3f} |")
    if half:
        print("\nfp16: wdnn's webgpu-f16 descriptor (activations and large weights stored as f16, f32 arithmetic) "
              "beside PyTorch's CUDA graph with the model and input in half precision; rel. L2 and top-1 of the "
              "first output against wdnn's fallback (f32 reference) on the benchmark's input.\n")
        print("| model | wdnn f16 wall ms | GPU ms | wall − GPU ms | load ms | PyTorch fp16 CUDA graph ms "
              "| wdnn f16 ÷ fp16 graph | wdnn f32 wall ms | f16 ÷ f32 | rel. L2 vs f32 reference | top-1 agrees "
              "| `f16_tiles=1` wall / GPU ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        for name, o, t in models:
            h = half.get(name)
            if h is None:
                continue
            peer = t.get("graph_fp16_ms")
            ratio = h["wall_ms"] / peer if peer else NAN
            rel = h.get("rel_l2_vs_fallback")
            top1 = h.get("top1_agrees_with_fallback")
            print(f"| {name} | {h['wall_ms']:.3f} | {h['gpu_ms']:.3f} | {h['wall_ms'] - h['gpu_ms']:.3f} "
                  f"| {h['load_ms']:.0f} | {peer if peer else NAN:.3f} | {ratio:.2f}× | {o['wall_ms']:.3f} "
                  f"| {h['wall_ms'] / o['wall_ms']:.2f}× | {'-' if rel is None else f'{rel:.2e}'} "
                  f"| {'-' if top1 is None else ('yes' if top1 else 'no')} "
                  f"| {tiles.get(name, {}).get('wall_ms', NAN):.3f} / {tiles.get(name, {}).get('gpu_ms', NAN):.3f} |")
        print("\nThe light graphs' constant weights drive activations far beyond f16's range (±65504; up to 1e31 in "
              "f32), so their f16 outputs are not finite and say nothing of accuracy; their timing holds. Accuracy on "
              "real weights: MobileNetV2 on the five photos against onnxruntime's logits.\n")
        if accuracy:
            print("| MobileNetV2 descriptor | top-1 as onnxruntime | logits rel. L2 max | mean |")
            print("|---|---:|---:|---:|")
            for a in accuracy:
                print(f"| {a['backend']} | {a['top1_agree']}/{a['photos']} | {a['rel_l2_max']:.2e} "
                      f"| {a['rel_l2_mean']:.2e} |")
    elif any("graph_fp16_ms" in t for _, _, t in models):
        print("\nfp16: PyTorch's CUDA graph with the model and input in half precision.\n")
        print("| model | PyTorch fp16 CUDA graph ms | PyTorch fp32 CUDA graph ms |")
        print("|---|---:|---:|")
        for name, _, t in models:
            print(f"| {name} | {t.get('graph_fp16_ms', NAN):.3f} | {t.get('graph_ms', NAN):.3f} |")


if __name__ == "__main__":
    main()
