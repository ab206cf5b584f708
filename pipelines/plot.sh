#!/usr/bin/env bash
# Plot a training run with gnuplot (PNG):
#   DIR/sizes.png  the cluster sizes of DIR/ivf.vt, largest first, against the
#                  mean size (from the centroids' weights: rows per centroid)
#   DIR/loss.png   the loss per vkmeans iteration (DIR/vkmeans.log, the
#                  `vkmeans -v` log) and per refine pass (DIR/refine.log, the
#                  `vrefine` logs), when those logs exist
# Usage: pipelines/plot.sh DIR     (BIN: the programs, default build/bin)
set -euo pipefail
dir=${1:?usage: pipelines/plot.sh DIR}
bin=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
command -v gnuplot >/dev/null || { echo "plot.sh: needs gnuplot (Debian gnuplot-nox)" >&2; exit 1; }
[ -f "$dir/ivf.vt" ] || { echo "plot.sh: $dir/ivf.vt: no such file" >&2; exit 1; }

# Sizes: the weight column of the centroids' text dump, sorted.
"$bin/vcat" --to text "$dir/ivf.vt" | awk '{print $1}' | sort -gr | awk '{print NR, $1}' >"$dir/sizes.dat"
mean=$(awk '{s += $2} END {print s / NR}' "$dir/sizes.dat")
gnuplot <<GP
set terminal pngcairo size 900,500 noenhanced
set output "$dir/sizes.png"
set title "cluster sizes of $dir/ivf.vt (largest first)"
set xlabel "cluster rank"
set ylabel "rows"
set grid
plot "$dir/sizes.dat" using 1:2 with steps title "size", $mean with lines dashtype 2 title "mean"
GP

# Loss: vkmeans iterations, then the refine passes continuing the x axis.
: >"$dir/loss.dat"
if [ -f "$dir/vkmeans.log" ]; then
  sed -n 's/^vkmeans: iter \([0-9]*\) loss \([^ ]*\).*/\1 \2/p' "$dir/vkmeans.log" >>"$dir/loss.dat"
fi
iters=$(wc -l <"$dir/loss.dat")
: >"$dir/refine.dat"
if [ -f "$dir/refine.log" ]; then
  sed -n 's/^vrefine: .*loss=\([^ ]*\).*/\1/p' "$dir/refine.log" | awk -v o="$iters" '{print o + NR, $1}' >"$dir/refine.dat"
fi
if [ -s "$dir/loss.dat" ] || [ -s "$dir/refine.dat" ]; then
  plots=()
  [ -s "$dir/loss.dat" ] && plots+=("\"$dir/loss.dat\" using 1:2 with linespoints title \"vkmeans iteration\"")
  [ -s "$dir/refine.dat" ] && plots+=("\"$dir/refine.dat\" using 1:2 with linespoints title \"refine pass\"")
  gnuplot <<GP
set terminal pngcairo size 900,500 noenhanced
set output "$dir/loss.png"
set title "loss per iteration and pass"
set xlabel "iteration"
set ylabel "loss"
set offsets 0.5, 0.5, 0, 0
set grid
plot $(IFS=,; echo "${plots[*]}")
GP
fi
echo "plot.sh: wrote $dir/sizes.png${iters:+ and $dir/loss.png}"
