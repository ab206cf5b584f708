#!/usr/bin/env bash
# Plot a training run with gnuplot (PNG):
#   DIR/sizes.png  the cluster sizes of DIR/ivf.vt, largest first, against the
#                  mean size (from the centroids' weights: rows per centroid)
#   DIR/loss.png   two panels, two quantities: the coreset's weighted loss per
#                  vkmeans iteration (DIR/vkmeans.log, the `vkmeans -v` log),
#                  and the sample's loss before each refine pass
#                  (DIR/refine.log) with the final model's (DIR/report.txt),
#                  when those logs exist
# Usage: pipelines/plot.sh DIR     (BIN: the programs, default build/bin)
set -euo pipefail
dir=${1:?usage: pipelines/plot.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
# the build tree's programs, else (installed under PREFIX/share/vtrain/
# pipelines) PREFIX/bin
if [ -z "${BIN:-}" ]; then
  if [ -d "$here/../build/bin" ]; then BIN=$here/../build/bin; else BIN=$here/../../../bin; fi
fi
bin=$BIN
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

# Loss: two quantities, in two panels, never on one axis.  vkmeans trains on
# the coreset: its loss is the weighted loss of the coreset's points (their
# members' local losses included).  A refine pass reads the sample's rows:
# its loss is theirs against the centroids the pass starts from; report.txt
# gives the final model's loss on the same rows.
: >"$dir/loss.dat"
if [ -f "$dir/vkmeans.log" ]; then
  sed -n 's/^vkmeans: iter \([0-9]*\) loss \([^ ]*\).*/\1 \2/p' "$dir/vkmeans.log" >>"$dir/loss.dat"
fi
: >"$dir/refine.dat"
if [ -f "$dir/refine.log" ]; then
  sed -n 's/^vrefine: .*loss=\([^ ]*\).*/\1/p' "$dir/refine.log" | awk '{print NR - 1, $1}' >"$dir/refine.dat"
fi
final=
[ -f "$dir/report.txt" ] && final=$(sed -n 's/^loss=\([^ ]*\).*/\1/p' "$dir/report.txt" | head -n 1)
if [ -s "$dir/refine.dat" ] && [ -n "$final" ]; then
  echo "$(wc -l <"$dir/refine.dat") $final" >"$dir/final.dat"
else
  : >"$dir/final.dat"
fi
if [ -s "$dir/loss.dat" ] || [ -s "$dir/refine.dat" ]; then
  panels=0
  [ -s "$dir/loss.dat" ] && panels=$((panels + 1))
  [ -s "$dir/refine.dat" ] && panels=$((panels + 1))
  {
    echo 'set terminal pngcairo size 900,700 noenhanced'
    echo "set output \"$dir/loss.png\""
    echo "set multiplot layout $panels,1"
    echo 'set grid'
    echo 'set xtics 1'
    echo 'set ylabel "loss"'
    if [ -s "$dir/loss.dat" ]; then
      echo 'set title "vkmeans on the coreset: weighted loss of its points, per iteration"'
      echo 'set xlabel "vkmeans iteration"'
      echo "plot \"$dir/loss.dat\" using 1:2 with linespoints title \"coreset loss (weighted)\""
    fi
    if [ -s "$dir/refine.dat" ]; then
      echo 'set title "the sample'"'"'s rows: loss against the centroids before each refine pass, and the final model"'
      echo 'set xlabel "refine pass (0: the vkmeans centroids)"'
      echo 'set offsets 0.5, 0.5, 0, 0'
      if [ -s "$dir/final.dat" ]; then
        echo "plot \"$dir/refine.dat\" using 1:2 with linespoints title \"sample loss before the pass\", \"$dir/final.dat\" using 1:2 with points pointtype 7 title \"sample loss of the final model\""
      else
        echo "plot \"$dir/refine.dat\" using 1:2 with linespoints title \"sample loss before the pass\""
      fi
    fi
    echo 'unset multiplot'
  } | gnuplot
fi
iters=$(cat "$dir/loss.dat" "$dir/refine.dat" | wc -l)
[ "$iters" -gt 0 ] || iters=
echo "plot.sh: wrote $dir/sizes.png${iters:+ and $dir/loss.png}"
