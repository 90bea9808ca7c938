#!/usr/bin/env bash
# The GPU benchmark of BENCHMARKS.md: converts the benchmarked architectures for webgpu, times them with
# `xtask bench-gpu` (wgpu on Vulkan), then times the torchvision versions in PyTorch with CUDA, and prints the table.
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
for name in ${WDNN_BENCH_MODELS:-resnet50 vgg19 squeezenet inception_v1 mobilenetv2}; do
  "$XTASK" convert "${MODELS[$name]}" --backends webgpu,fallback --zstd-level 1 --out "/tmp/wdnn-bench/$name" >/dev/null
  BUNDLES+=("/tmp/wdnn-bench/$name")
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
if [ "${WDNN_BENCH_PEER:-1}" != 0 ]; then
  python3 bench/gpu_peer.py "$OUT/torch.json" "$RUNS"
else
  echo '[]' >"$OUT/torch.json"
fi
python3 bench/gpu_table.py "$OUT/wdnn.json" "$OUT/torch.json" "$OUT/wdnn-trusted.json" "$OUT/wdnn-warm.json" \
  | tee "$OUT/table.md"
