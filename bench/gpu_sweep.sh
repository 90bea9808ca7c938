#!/usr/bin/env bash
# GEMM tile sweep for the webgpu target: converts the benchmarked architectures with each `--webgpu-tuning` given
# (all conversions in parallel), then times each tuning's bundles with `xtask bench-gpu --profile` (GPU time of every
# dispatch), one JSON per tuning, and prints which tuning is fastest kernel by kernel (bench/gpu_sweep_pick.py).
#
# Usage: bench/gpu_sweep.sh XTASK_BINARY OUT_DIR RUNS TUNING...   (a TUNING of `default` converts with no option)
# WDNN_SWEEP_MODELS="squeezenet mobilenetv2" limits it to those models.
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
read -r -a NAMES <<<"${WDNN_SWEEP_MODELS:-resnet50 vgg19 squeezenet inception_v1 mobilenetv2}"
i=0
jobs=()
for tuning in "$@"; do
  i=$((i + 1))
  for name in "${NAMES[@]}"; do
    jobs+=("$i $tuning $name ${MODELS[$name]}")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${JOBS:-8}" -L 1 bash -c '
  opt=(); [ "$1" != default ] && opt=(--webgpu-tuning "$1")
  "'"$XTASK"'" convert "$3" --backends webgpu --zstd-level 1 "${opt[@]}" --out "/tmp/wdnn-sweep/$0/$2" >/dev/null'
i=0
for tuning in "$@"; do
  i=$((i + 1))
  echo "== tuning $tuning"
  BUNDLES=()
  for name in "${NAMES[@]}"; do BUNDLES+=("/tmp/wdnn-sweep/$i/$name"); done
  "$XTASK" bench-gpu --runs "$RUNS" --profile --json "$OUT/sweep-$i.json" "${BUNDLES[@]}"
done
FILES=()
for j in $(seq 1 $#); do FILES+=("$OUT/sweep-$j.json"); done
python3 bench/gpu_sweep_pick.py "$@" -- "${FILES[@]}" | tee "$OUT/sweep.md"
