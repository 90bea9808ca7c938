"""PyTorch peer for `bench/gpu_bench.sh`: batch-1 fp32 latency of the torchvision versions of the benchmarked
architectures with random weights, in eager mode and replayed from a CUDA graph. TF32 is off (plain fp32, like the
WGSL kernels); eager is also timed with PyTorch's default TF32 convolutions for reference, and the CUDA graph once
more in fp16 (model and input in half precision: the peer of an fp16 WebGPU run).

Usage: python3 bench/gpu_peer.py OUT.json [RUNS]
"""

import json
import statistics
import sys
import time

import torch
import torchvision.models as tv

MODELS = {
    "resnet50": lambda: tv.resnet50(weights=None),
    "vgg19": lambda: tv.vgg19(weights=None),
    "squeezenet": lambda: tv.squeezenet1_0(weights=None),
    "inception_v1": lambda: tv.googlenet(weights=None, aux_logits=False, init_weights=True),
    "mobilenetv2": lambda: tv.mobilenet_v2(weights=None),
}


def wall_ms(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def graph_fp16_ms(model, x, runs):
    """The CUDA graph of the model in fp16 (converts `model` in place)."""
    model = model.half()
    static_x = x.half()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.inference_mode(), torch.cuda.stream(stream):
        for _ in range(5):
            model(static_x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.inference_mode(), torch.cuda.graph(graph):
        model(static_x)
    for _ in range(20):
        graph.replay()
    torch.cuda.synchronize()
    return wall_ms(graph.replay, runs)


def main():
    out = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    results = []
    for name, make in MODELS.items():
        model = make().eval().cuda()
        x = torch.randn(1, 3, 224, 224, device="cuda")
        row = {"model": name, "device": torch.cuda.get_device_name(0), "torch": torch.__version__}
        with torch.inference_mode():
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cuda.matmul.allow_tf32 = False
            for _ in range(20):
                model(x)
            torch.cuda.synchronize()
            row["eager_tf32_ms"] = wall_ms(lambda: model(x), runs)
            torch.backends.cudnn.allow_tf32 = False
            for _ in range(20):
                model(x)
            torch.cuda.synchronize()
            row["eager_ms"] = wall_ms(lambda: model(x), runs)
        static_x = x.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.cuda.stream(stream):
            for _ in range(5):
                model(static_x)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(graph):
            model(static_x)
        for _ in range(20):
            graph.replay()
        torch.cuda.synchronize()
        row["graph_ms"] = wall_ms(graph.replay, runs)
        del graph
        row["graph_fp16_ms"] = graph_fp16_ms(model, x, runs)
        print(json.dumps(row), flush=True)
        results.append(row)
        del model
        torch.cuda.empty_cache()
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
