#!/usr/bin/env bash
# Set up vtrain (Debian packages, build) and run the main job on the embedded
# default data set, Fashion-MNIST (Debian's dataset-fashion-mnist):
#   1. convert the 60,000 x 784 training images to a compressed vtrain stream;
#   2. inspect it (header, frames, compression ratio, checksums);
#   3. train 256 IVF centroids with the streaming pipeline
#      (pipelines/stream-train.mk), score them, then a PQ codebook on
#      residuals and SQ bounds; export .npy, plot.
# Outputs go to ${OUT:-out/quickstart}.
set -euo pipefail
cd "$(dirname "$0")/.."
pipelines/setup.sh
bin=build/bin
out=${OUT:-out/quickstart}
mkdir -p "$out"
src=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

echo "== Fashion-MNIST -> $out/fmnist.vt (lz4-shuffle)"
zcat "$src" | "$bin/vcat" -z -o "$out/fmnist.vt"
"$bin/vcat" --info "$out/fmnist.vt"

k=${K:-256}
echo "== streaming IVF training, k=$k: sample -> coresets -> merge -> vkmeans -> refine -> report"
make -s -f pipelines/stream-train.mk DATA="$out/fmnist.vt" K="$k" OUT="$out/ivf" BIN="$bin" \
  -j"$(nproc)" all plots
tail -n 1 "$out/ivf/vpq.log"
echo "models: $out/ivf/ivf.vt pq.vt sq.vt (and .npy of each; docs/INTEROP.md);" \
  "report: $out/ivf/report.txt; plots: $out/ivf/sizes.png $out/ivf/loss.png"
