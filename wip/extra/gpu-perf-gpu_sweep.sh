#!/usr/bin/env bash
# GEMM tile sweep for the webgpu target: converts the benchmarked architectures with each `--webgpu-tuning` given
# and times them with `xtask bench-gpu` (wall time without timestamps, GPU time with them), one JSON per tuning.
#
# Usage: bench/gpu_sweep.sh XTASK_BINARY OUT_DIR RUNS TUNING...   (a TUNING of `default` converts with no option)
# With PROFILE=1 the first tuning's models are also profiled kernel by kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
XTASK=$1
OUT=$2
RUNS=$3
shift 3
mkdir -p "$OUT" /tmp/wdnn-sweep
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/wdnn-xdg}
mkdir -p -m700 "$XDG_RUNTIME_DIR"
declare -A MODELS=(
  [resnet50]=fixtures/models/light/light_resnet50.onnx
  [vgg19]=fixtures/models/light/light_vgg19.onnx
  [squeezenet]=fixtures/models/light/light_squeezenet.onnx
  [inception_v1]=fixtures/models/light/light_inception_v1.onnx
  [mobilenetv2]=fixtures/models/mobilenetv2-imagenet.onnx
)
i=0
for tuning in "$@"; do
  i=$((i + 1))
  opt=()
  [ "$tuning" != default ] && opt=(--webgpu-tuning "$tuning")
  BUNDLES=()
  for name in resnet50 vgg19 squeezenet inception_v1 mobilenetv2; do
    "$XTASK" convert "${MODELS[$name]}" --backends webgpu --zstd-level 1 "${opt[@]}" --out "/tmp/wdnn-sweep/$i/$name" >/dev/null
    BUNDLES+=("/tmp/wdnn-sweep/$i/$name")
  done
  echo "== tuning $tuning"
  profile=()
  [ "${PROFILE:-0}" = 1 ] && [ $i = 1 ] && profile=(--profile)
  "$XTASK" bench-gpu --runs "$RUNS" "${profile[@]}" --json "$OUT/sweep-$i.json" "${BUNDLES[@]}"
done
