#!/usr/bin/env bash
# Set up vtrain (Debian packages, build) and run the main job on the embedded
# default data set, Fashion-MNIST (Debian's dataset-fashion-mnist):
#   1. convert the 60,000 x 784 training images to a compressed vtrain stream;
#   2. inspect it (header, frames, compression ratio, checksums);
#   3. train IVF centroids and score them, as far as the programs are built.
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

if [ -x "$bin/vkmeans" ] && [ -x "$bin/vloss" ]; then
  k=${K:-256}
  echo "== vkmeans -k $k"
  "$bin/vkmeans" -k "$k" --seed 1 -o "$out/ivf.vt" "$out/fmnist.vt"
  "$bin/vloss" -c "$out/ivf.vt" "$out/fmnist.vt" | tee "$out/report.txt"
  "$bin/vcat" --to npy -o "$out/ivf.npy" "$out/ivf.vt"
  echo "centroids: $out/ivf.vt and $out/ivf.npy; report: $out/report.txt"
fi
