#!/usr/bin/env bash
# k-means beside FAISS and scikit-learn (issue 3).
#
# For each case: vkmeans, FAISS (faiss.Kmeans, OMP_WAIT_POLICY=PASSIVE) and
# scikit-learn (Lloyd, random init) run alternately REPS times on the same
# rows with the same k, iterations and threads; scikit-learn with k-means++
# init runs once for its loss.  Every loss is computed by vloss on the same
# rows.  Prints medians of wall time and peak RSS, losses and ratios, and
# (from one more vkmeans run with -v) how many rows the Lloyd passes found
# near a tie and decided on the exact distance (issue 18).
#
# Usage: pipelines/bench/kmeans.sh [CASE...]   (fmnist sift1k sift4k; default all)
# Env: VT_BIN (build/bin), REPS (3), THREADS (2), WORK (a temp dir).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${VT_BIN:-$top/build/bin}
reps=${REPS:-3}
threads=${THREADS:-2}
py=/usr/bin/python3
work=${WORK:-$(mktemp -d)}
trap '[ -z "${WORK:-}" ] && rm -rf "$work"' EXIT
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(fmnist sift1k sift4k)

export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

echo "# k-means benchmark, $(date -u +%Y-%m-%d)"
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; threads=$threads"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; reps=$reps (alternating, medians)"

source "$here/common.sh"

loss_of() { "$bin/vloss" -q -c "$1" "$2" | sed -n 's/^loss=\([^ ]*\).*/\1/p'; }

run_case() {
  local name=$1 data=$2 k=$3 iters=$4 hier=$5
  local sides=(vtrain faiss)
  [ "$hier" = flat ] && sides+=(sklearn)
  for s in "${sides[@]}"; do rm -f "$work/$name-$s.times"; done
  for r in $(seq "$reps"); do
    local mode=off
    [ "$hier" = flat ] || mode=on
    timed "$name-vtrain" "$bin/vkmeans" -q -k "$k" --iters "$iters" --tol 0 --seed 1 \
      --hierarchical=$mode -j "$threads" -o "$work/$name-vtrain.vt" "$data.npy"
    OMP_WAIT_POLICY=PASSIVE timed "$name-faiss" "$py" "$here/peers.py" faiss "$data.npy" \
      "$k" "$iters" 1234 "$work/$name-faiss.npy"
    if [ "$hier" = flat ]; then
      timed "$name-sklearn" "$py" "$here/peers.py" sklearn-random "$data.npy" "$k" "$iters" 1 \
        "$work/$name-sklearn.npy"
    fi
  done
  local lv lf ls lpp
  lv=$(loss_of "$work/$name-vtrain.vt" "$data.npy")
  lf=$(loss_of "$work/$name-faiss.npy" "$data.npy")
  echo
  echo "## $name: $(basename "$data"), k=$k, iters=$iters ($hier vkmeans)"
  printf '%-22s %10s %10s %14s\n' side time_s rss_mib loss
  for s in "${sides[@]}"; do
    local t m l
    t=$(cut -d' ' -f1 "$work/$name-$s.times" | median)
    m=$(cut -d' ' -f2 "$work/$name-$s.times" | median)
    case $s in
      vtrain) l=$lv ;; faiss) l=$lf ;;
      sklearn) ls=$(loss_of "$work/$name-sklearn.npy" "$data.npy"); l=$ls ;;
    esac
    printf '%-22s %10.2f %10.0f %14.6e\n' "$s" "$t" "$(awk -v m="$m" 'BEGIN {print m / 1024}')" "$l"
    eval "t_$s=$t"
  done
  if [ "$hier" = flat ]; then
    rm -f "$work/$name-skpp.times"
    timed "$name-skpp" "$py" "$here/peers.py" sklearn-k-means++ "$data.npy" "$k" "$iters" 1 \
      "$work/$name-skpp.npy"
    lpp=$(loss_of "$work/$name-skpp.npy" "$data.npy")
    printf '%-22s %10.2f %10s %14.6e\n' "sklearn k-means++ (1x)" "$(cut -d' ' -f1 "$work/$name-skpp.times")" - "$lpp"
  fi
  # the near-ties that dd decided (issue 18), from one more run with -v
  local mode=off
  [ "$hier" = flat ] || mode=on
  "$bin/vkmeans" -v -k "$k" --iters "$iters" --tol 0 --seed 1 --hierarchical=$mode \
    -j "$threads" -o "$work/$name-v.vt" "$data.npy" 2>&1 | sed -n 's/^vkmeans: exact labels: /exact labels: /p'
  echo "time vtrain/faiss   = $(ratio "$t_vtrain" "$t_faiss")"
  echo "loss vtrain/faiss   = $(ratio "$lv" "$lf")"
  if [ "$hier" = flat ]; then
    echo "time vtrain/sklearn = $(ratio "$t_vtrain" "$t_sklearn")"
    echo "loss vtrain/sklearn-k-means++ = $(ratio "$lv" "$lpp")"
  fi
}

for c in "${cases[@]}"; do
  case $c in
    fmnist)
      [ -f "$work/fmnist.npy" ] || zcat /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz |
        "$bin/vcat" --to npy -o "$work/fmnist.npy"
      run_case fmnist "$work/fmnist" 256 25 flat ;;
    sift1k|sift4k)
      [ -f "$work/sift.npy" ] || "$bin/vgen" -n 262144 -d 128 --means 10000 --seed 1 \
        --to npy -o "$work/sift.npy"
      if [ "$c" = sift1k ]; then run_case sift1k "$work/sift" 1024 25 flat
      else run_case sift4k "$work/sift" 4096 25 hierarchical; fi ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done
