#!/usr/bin/env bash
# exact-cost.sh: what deciding near-ties on the exact distance costs (issue
# 18): the same k-means and PQ runs with two builds, alternating, timed by
# user CPU seconds (less sensitive than wall time to a busy machine), one
# thread each, medians of REPS runs.  Then the rows near a tie, from one
# `vkmeans -v` run of the new build.
#
#   pipelines/bench/exact-cost.sh OLD_BIN NEW_BIN [CASE...]
#
# OLD_BIN, NEW_BIN: the bin/ directories of the two builds (e.g. one built
# from the commit before the change).  Cases (default all):
#   fmnist   Fashion-MNIST train, 60,000 x 784, flat k = 256, 25 iterations
#   sift1k   vgen 262,144 x 128 (10,000 means, seed 1), flat k = 1,024, 25 it.
#   hier     vgen 60,000 x 32 (1,000 means, seed 3), hierarchical k = 1,024
#   narrow   vgen 131,072 x 64 (4,000 means, seed 7), k = 8,192 (narrowed)
#   pq       vpq -m 8 on the 60,000 x 32 set against 1,024 vsample'd centroids
#   balance  Fashion-MNIST, flat k = 256, --balance 0.1, 25 iterations
#   blobs    vgen 60,000 x 784, 64 means (spread 4, sigma 1, seed 7), flat
#            k = 256, 25 iterations: bench_kernel --kmeans's shape, where
#            four centroids share a blob and most rows are near a tie
# Environment: REPS (3), WORK (a directory for the data; default a temp dir).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: exact-cost.sh OLD_BIN NEW_BIN [CASE...]" >&2; exit 2; }
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd)
shift 2
reps=${REPS:-3}
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(fmnist sift1k hier narrow pq balance blobs)
fm=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

echo "# exact-labels cost, $(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
echo "# user CPU seconds, -j 1, median of $reps alternating runs; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# timeit BIN PROG ARGS...: user seconds of one run
timeit() {
  local b=$1 p=$2
  shift 2
  /usr/bin/time -f %U -o "$work/t" "$b/$p" -q -j 1 "$@" -o "$work/out" >/dev/null 2>&1
  cat "$work/t"
}

# compare NAME PROG ARGS...: both builds, alternating, then the -v line
compare() {
  local name=$1 prog=$2 r to=() tn=()
  shift 2
  for r in $(seq "$reps"); do
    to+=("$(timeit "$old" "$prog" "$@")")
    tn+=("$(timeit "$new" "$prog" "$@")")
  done
  local mo mn
  mo=$(printf '%s\n' "${to[@]}" | median)
  mn=$(printf '%s\n' "${tn[@]}" | median)
  printf '%-8s old %8.2f s  new %8.2f s  new/old %.4f   (old: %s; new: %s)\n' "$name" "$mo" "$mn" \
    "$(awk -v a="$mn" -v b="$mo" 'BEGIN {print a / b}')" "${to[*]}" "${tn[*]}"
  if [ "$prog" = vkmeans ]; then
    "$new/vkmeans" -v -j 1 "$@" -o "$work/out" 2>&1 | sed -n 's/^vkmeans: exact labels: /         /p'
  fi
}

data() {
  case $1 in
    fm) [ -s "$work/fm.npy" ] || zcat "$fm" | "$new/vcat" -q --to npy -o "$work/fm.npy" ;;
    sift) [ -s "$work/sift.npy" ] ||
      "$new/vgen" -q -n 262144 -d 128 --means 10000 --seed 1 --to npy -o "$work/sift.npy" ;;
    g32) [ -s "$work/g32.vt" ] || "$new/vgen" -q -n 60000 -d 32 --means 1000 --seed 3 -o "$work/g32.vt"
      [ -s "$work/c1024.vt" ] || "$new/vsample" -q -m 1024 --seed 5 -o "$work/c1024.vt" "$work/g32.vt" ;;
    g64) [ -s "$work/g64.vt" ] || "$new/vgen" -q -n 131072 -d 64 --means 4000 --seed 7 -o "$work/g64.vt" ;;
    blobs) [ -s "$work/blobs.vt" ] ||
      "$new/vgen" -q -n 60000 -d 784 --means 64 --spread 4 --sigma 1 --seed 7 -o "$work/blobs.vt" ;;
  esac
}

for c in "${cases[@]}"; do
  case $c in
    fmnist) data fm; compare fmnist vkmeans -k 256 --iters 25 --tol 0 --seed 1 "$work/fm.npy" ;;
    sift1k) data sift
      compare sift1k vkmeans -k 1024 --iters 25 --tol 0 --seed 1 --hierarchical=off "$work/sift.npy" ;;
    hier) data g32; compare hier vkmeans -k 1024 --hierarchical=on --seed 1 "$work/g32.vt" ;;
    narrow) data g64; compare narrow vkmeans -k 8192 --seed 1 "$work/g64.vt" ;;
    pq) data g32; compare pq vpq -c "$work/c1024.vt" -m 8 "$work/g32.vt" ;;
    balance) data fm
      compare balance vkmeans -k 256 --iters 25 --tol 0 --balance 0.1 --seed 1 "$work/fm.npy" ;;
    blobs) data blobs; compare blobs vkmeans -k 256 --iters 25 --tol 0 --seed 1 "$work/blobs.vt" ;;
    *) echo "exact-cost.sh: unknown case $c" >&2; exit 2 ;;
  esac
done
