#!/usr/bin/env bash
# nearest.sh: the exact nearest-centroid search (lib/train/nearest) against
# brute force, per row, labels checked identical on every row benchmarked.
#
#   pipelines/bench/nearest.sh [BUILD_DIR] [WORK_DIR]
#
# Three cases, each one run of bench_nearest with REPS repetitions that
# alternate brute force and search (medians printed by bench_nearest):
#   multi   k = 131,072, d = 128: vgen's multi-scale mixture (1,024 top means,
#           sub-spread 2, spread 10, sigma 1); centroids = the 131,072 means
#           + N(0, 0.25^2) (not trained: vkmeans at this k takes 25-33 min here)
#   iid     the same with i.i.d. means (the worst case for any bound)
#   fashion Fashion-MNIST train (60,000 x 784), k = 4,096 centroids trained by
#           `vkmeans -k 4096 --seed 1` on the same rows (cached in WORK_DIR)
# Environment: ROWS (8192), FROWS (20000), REPS (3), PROBES (4,8), THREADS (2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
work=${2:-${TMPDIR:-/tmp}/vt-nearest}
mkdir -p "$work"
rows=${ROWS:-8192} frows=${FROWS:-20000} reps=${REPS:-3} probes=${PROBES:-4,8} threads=${THREADS:-2}
bench=$build/bench/bench_nearest
fm=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

echo "== multi-scale, k = 131072, d = 128"
"$bench" --gen multi -k 131072 -d 128 -n "$rows" -r "$reps" --top 1024 --probe "$probes" -j "$threads"
echo "== iid means, k = 131072, d = 128"
"$bench" --gen iid -k 131072 -d 128 -n "$rows" -r "$reps" -j "$threads"
if [ -r "$fm" ]; then
  echo "== Fashion-MNIST, k = 4096, d = 784"
  [ -s "$work/fm.raw" ] || { zcat "$fm" >"$work/fm.idx"; "$build/bin/vcat" --to raw "$work/fm.idx" >"$work/fm.raw"; }
  [ -s "$work/fm4096.raw" ] || {
    "$build/bin/vkmeans" -k 4096 --seed 1 -q -j "$threads" -o "$work/fm4096.vt" "$work/fm.idx"
    "$build/bin/vcat" --to raw "$work/fm4096.vt" >"$work/fm4096.raw"; }
  "$bench" --rows "$work/fm.raw" --centroids "$work/fm4096.raw" -d 784 -n "$frows" -r "$reps" \
    --probe "$probes" -j "$threads"
else
  echo "== Fashion-MNIST: $fm not found, skipped"
fi
