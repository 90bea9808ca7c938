#!/usr/bin/env bash
# The GPU benchmark of BENCHMARKS.md: converts the benchmarked architectures for webgpu and webgpu-f16 (f16
# storage, one bundle holding both), times each with `xtask bench-gpu` (wgpu on Vulkan), then times the torchvision
# versions in PyTorch with CUDA (fp32 and fp16 CUDA graphs), and prints the fp32 tables and the fp16 table.
#
# Usage: bench/gpu_bench.sh XTASK_BINARY OUT_DIR [RUNS]
# On the device machine (see BENCHMARKS.md for the exact `run` call), XTASK_BINARY is a build of `xtask` carried
# there; elsewhere `target/debug/xtask` after `cargo build -p xtask`.
# WDNN_BENCH_MODELS="resnet50 inception_v1" times only those; WDNN_BENCH_PEER=0 skips PyTorch, WDNN_BENCH_TRUSTED=0
# the run without bounds checks.
#
# Loads are timed cold and warm: the first bench-gpu starts from an empty pipeline cache directory (every pipeline
# compiled; the directory filled), the second loads from it. The NVIDIA driver's own shader disk cache is off
# (`__GL_SHADER_DISK_CACHE=0`) in both, so that cold means compiled and warm means wgpu's pipeline cache alone.
set -euo pipefail
cd "$(dirname "$0")/.."
XTASK=$1
OUT=$2
RUNS=${3:-100}
mkdir -p "$OUT" /tmp/wdnn-bench
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/wdnn-xdg}
mkdir -p -m700 "$XDG_RUNTIME_DIR"
# The zoo graphs without their weights (tract folds their ConstantOfShape weights) and the real MobileNetV2.
declare -A MODELS=(
  [resnet50]=fixtures/models/light/light_resnet50.onnx
  [vgg19]=fixtures/models/light/light_vgg19.onnx
  [squeezenet]=fixtures/models/light/light_squeezenet.onnx
  [inception_v1]=fixtures/models/light/light_inception_v1.onnx
  [mobilenetv2]=fixtures/models/mobilenetv2-imagenet.onnx
)
BUNDLES=()
TILES=()
for name in ${WDNN_BENCH_MODELS:-resnet50 vgg19 squeezenet inception_v1 mobilenetv2}; do
  "$XTASK" convert "${MODELS[$name]}" --backends webgpu-f16,webgpu,fallback --zstd-level 1 --out "/tmp/wdnn-bench/$name" >/dev/null
  BUNDLES+=("/tmp/wdnn-bench/$name")
  # The f16 descriptor again with f16 GEMM tiles (the `f16_tiles` tuning, off by default until measured here).
  "$XTASK" convert "${MODELS[$name]}" --backends webgpu-f16,fallback --webgpu-tuning f16_tiles=1 --zstd-level 1 \
    --out "/tmp/wdnn-bench/tiles/$name" >/dev/null
  TILES+=("/tmp/wdnn-bench/tiles/$name")
done
export __GL_SHADER_DISK_CACHE=0
CACHE=/tmp/wdnn-bench/pipeline-cache
rm -rf "$CACHE"
"$XTASK" bench-gpu --runs "$RUNS" --check --profile --pipeline-cache "$CACHE" --json "$OUT/wdnn.json" "${BUNDLES[@]}" \
  ${WDNN_BENCH_FLAGS:-}
# Warm: the same loads from the pipeline cache the first run filled (and the run times measured again).
"$XTASK" bench-gpu --runs "$RUNS" --pipeline-cache "$CACHE" --json "$OUT/wdnn-warm.json" "${BUNDLES[@]}" \
  ${WDNN_BENCH_FLAGS:-}
# The same without wgpu's shader bounds checks (`--trusted`), for comparison (WDNN_BENCH_TRUSTED=0 skips it).
if [ "${WDNN_BENCH_TRUSTED:-1}" != 0 ]; then
  "$XTASK" bench-gpu --runs "$RUNS" --trusted --json "$OUT/wdnn-trusted.json" "${BUNDLES[@]}"
else
  echo '[]' >"$OUT/wdnn-trusted.json"
fi
# The f16 descriptors (an adapter without shader-f16 fails here, naming it), checked against the fallback too.
"$XTASK" bench-gpu --backend webgpu-f16 --runs "$RUNS" --check --profile --json "$OUT/wdnn-f16.json" "${BUNDLES[@]}" \
  ${WDNN_BENCH_FLAGS:-}
"$XTASK" bench-gpu --backend webgpu-f16 --runs "$RUNS" --json "$OUT/wdnn-f16-tiles.json" "${TILES[@]}"
# MobileNetV2's accuracy in f16 on the photos (the light graphs' constant weights overflow f16: no measure there).
if [ -d /tmp/wdnn-bench/mobilenetv2 ]; then
  for backend in webgpu-f16 webgpu; do
    for photo in camera chelsea china coffee motorcycle_left; do
      "$XTASK" run /tmp/wdnn-bench/mobilenetv2 --backend "$backend" \
        --input input=fixtures/expected/mobilenetv2/$photo.input.npy --out-dir "/tmp/wdnn-bench/runs/$backend/$photo" >/dev/null
    done
  done
  python3 bench/gpu_f16_accuracy.py /tmp/wdnn-bench/runs "$OUT/f16-accuracy.json"
else
  echo '[]' >"$OUT/f16-accuracy.json"
fi
if [ "${WDNN_BENCH_PEER:-1}" != 0 ]; then
  python3 bench/gpu_peer.py "$OUT/torch.json" "$RUNS"
else
  echo '[]' >"$OUT/torch.json"
fi
python3 bench/gpu_table.py "$OUT/wdnn.json" "$OUT/torch.json" "$OUT/wdnn-trusted.json" "$OUT/wdnn-warm.json" \
  "$OUT/wdnn-f16.json" "$OUT/f16-accuracy.json" "$OUT/wdnn-f16-tiles.json" \
  | tee "$OUT/table.md"
