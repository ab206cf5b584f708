#!/usr/bin/env bash
# Streaming IVF training against FAISS flat k-means on the full sample (issue 4).
#
# Case "k4096": vgen 4M x 128 (10,000 means) as the data set; k = 4096;
# sample_rate 256 (1,048,576 sampled rows); stream_rate 64 (chunks of
# 262,144 rows); coreset_rate 16; 0 and 1 refine passes.  Compared with
# FAISS flat k-means (25 iterations) and vkmeans (flat, 25 iterations) on the
# full sample.  Prints each step's wall time and peak RSS against the chunk
# bound  k x stream_rate x d x 4  (+ coreset + centroids), the losses (all by
# vloss on the sample) and the ratios.
# Case "scale": the whole flow at k = 131,072, d = 128 on multi-scale data
# (see scale() below), no disk for the data.
#
# Usage: pipelines/bench/stream.sh [k4096] [scale]
# Env: VT_BIN (build/bin), THREADS (2), WORK (a temp dir; ~2.5 GB for k4096),
# K and N (scale: a smaller k and row count, for a try).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${VT_BIN:-$top/build/bin}
threads=${THREADS:-2}
py=/usr/bin/python3
work=${WORK:-$(mktemp -d)}
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(k4096)
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

echo "# streaming IVF benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; threads=$threads"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; one run per side (the FAISS run alone takes minutes)"

# step NAME CMD...: run under /usr/bin/time, print "NAME secs MiB"
step() {
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/$name.t" "$@" 2>"$work/$name.err" || {
    echo "failed: $*" >&2; cat "$work/$name.err" >&2; exit 1; }
  local secs_ kib_
  read -r secs_ kib_ <"$work/$name.t"
  printf '%-34s %9.2f s %9.1f MiB\n' "$name" "$secs_" "$(awk -v k="$kib_" 'BEGIN {print k / 1024}')"
}
secs() { cut -d' ' -f1 "$work/$1.t"; }
mib() { awk -v k="$(cut -d' ' -f2 "$work/$1.t")" 'BEGIN {printf "%.1f", k / 1024}'; }
loss() { "$bin/vloss" -q -j "$threads" -c "$1" "$2" | sed -n 's/^loss=\([^ ]*\).*/\1/p'; }
source "$here/common.sh"

k4096() {
  local k=4096 d=128 n=4194304
  echo
  echo "## k4096: vgen -n $n -d $d --means 10000; k=$k sample_rate=256 stream_rate=64 coreset_rate=16"
  [ -f "$work/data.vt" ] || "$bin/vgen" -n $n -d $d --means 10000 --seed 7 -o "$work/data.vt"
  step vsample "$bin/vsample" -q -k $k --sample-rate 256 --seed 1 --total $n -o "$work/sample.vt" "$work/data.vt"
  step vcoreset "$bin/vcoreset" -q -k $k --stream-rate 64 --coreset-rate 16 --seed 1 -j "$threads" \
    -o "$work/coreset.vt" "$work/sample.vt"
  step vkmeans-coreset "$bin/vkmeans" -q -k $k --seed 1 -j "$threads" -o "$work/ivf0.vt" "$work/coreset.vt"
  step vrefine "$bin/vrefine" -q -j "$threads" -c "$work/ivf0.vt" -o "$work/ivf1.vt" "$work/sample.vt"
  step vkmeans-full "$bin/vkmeans" -q -k $k --hierarchical=off --iters 25 --tol 0 --seed 1 -j "$threads" \
    -o "$work/full.vt" "$work/sample.vt"
  "$bin/vcat" --to npy -o "$work/sample.npy" "$work/sample.vt"
  OMP_WAIT_POLICY=PASSIVE step faiss-flat "$py" "$here/peers.py" faiss "$work/sample.npy" $k 25 1234 "$work/faiss.npy"
  local l0 l1 lf lv
  l0=$(loss "$work/ivf0.vt" "$work/sample.vt")
  l1=$(loss "$work/ivf1.vt" "$work/sample.vt")
  lf=$(loss "$work/faiss.npy" "$work/sample.vt")
  lv=$(loss "$work/full.vt" "$work/sample.vt")
  local chunk=$((k * 64 * d * 4)) coreset=$((k * 16 * (d * 4 + 24))) cent=$((k * d * 4 * 2))
  local bound_mib
  bound_mib=$(awk -v a=$chunk -v b=$coreset -v c=$cent 'BEGIN {printf "%.1f", (a + b + c) / 1048576}')
  echo "chunk bound (k x 64 x d x 4 + coreset + centroids) = $bound_mib MiB;" \
    "target per step <= 1.25 x bound + 32 MiB = $(awk -v b="$bound_mib" 'BEGIN {printf "%.1f", 1.25 * b + 32}') MiB"
  for s in vsample vcoreset vkmeans-coreset vrefine; do
    echo "  $s: $(mib $s) MiB = $(ratio "$(mib $s)" "$bound_mib") x bound"
  done
  local t0 t1
  t0=$(awk -v a="$(secs vsample)" -v b="$(secs vcoreset)" -v c="$(secs vkmeans-coreset)" 'BEGIN {print a + b + c}')
  t1=$(awk -v a="$t0" -v b="$(secs vrefine)" 'BEGIN {print a + b}')
  echo "loss: stream 0 passes $l0, 1 pass $l1, vkmeans full $lv, FAISS flat $lf"
  echo "loss ratio to FAISS flat: 0 passes $(ratio "$l0" "$lf") (target <= 1.03), 1 pass $(ratio "$l1" "$lf") (target <= 1.01)"
  echo "loss ratio to vkmeans full: 0 passes $(ratio "$l0" "$lv"), 1 pass $(ratio "$l1" "$lv")"
  echo "time: pipeline with sampling, 0 passes $t0 s, 1 pass $t1 s; FAISS flat $(secs faiss-flat) s; vkmeans full $(secs vkmeans-full) s"
  echo "speed-up over FAISS flat: 0 passes $(ratio "$(secs faiss-flat)" "$t0")x, 1 pass $(ratio "$(secs faiss-flat)" "$t1")x (target >= 5)"
}

# pstep NAME PRODUCER PROG ARGS...: "PRODUCER | PROG ARGS" (PRODUCER a shell
# command line); prints the pipeline's wall time and PROG's own wall time and
# peak RSS (the producer's is not PROG's).  PROG's stderr is kept in
# $work/NAME.err.
pstep() {
  local name=$1 producer=$2; shift 2
  local q=() a
  for a in "$@"; do q+=("$(printf '%q' "$a")"); done
  local t0 t1
  t0=$(date +%s.%N)
  bash -o pipefail -c "$producer | /usr/bin/time -f '%e %M' -o '$work/$name.t' ${q[*]}" \
    2>"$work/$name.err" || { echo "failed: $name" >&2; cat "$work/$name.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  local e kib
  read -r e kib <"$work/$name.t"
  printf '%-16s %9.2f s wall (pipeline %9.2f s) %9.1f MiB peak RSS\n' "$name" "$e" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$(awk -v k="$kib" 'BEGIN {print k / 1024}')"
}

# The scale run (issue 13): the whole flow at k = 131,072, d = 128 on
# vgen's multi-scale data (262,144 means around 1,024 top means), with no
# disk for the data: vgen row i depends only on (seed, i), so each step that
# reads the sample regenerates it (vgen | vsample, the same bytes each
# time).  coreset -> vkmeans -> 1 refine pass -> vloss -> vpq (M = 16, on a
# 65,536-row sample's residuals) -> vsqbounds -c (the same sample).  K and N
# override k and the rows (default 256 k: the sample is every row) for a
# smaller try.
scale() {
  local k=${K:-131072} d=128
  local n=${N:-$((k * 256))}
  local gen="'$bin/vgen' -q -n $n -d $d --means $((2 * k)) --top $((k / 128 > 0 ? k / 128 : 1)) --seed 7"
  local sample="$gen | '$bin/vsample' -q -k $k --sample-rate 256 --total $n"
  local small="$gen | '$bin/vsample' -q -m 65536 --seed 2 --total $n"
  echo
  echo "## scale: vgen -n $n -d $d --means $((2 * k)) --top $((k / 128 > 0 ? k / 128 : 1)); k=$k, 1 refine pass, vloss, vpq M=16, vsqbounds -c"
  local t0 t1
  t0=$(date +%s.%N)
  pstep coreset "$sample" "$bin/vcoreset" -v -k $k --stream-rate 64 -j "$threads" -o "$work/scale-coreset.vt"
  pstep vkmeans "cat '$work/scale-coreset.vt'" "$bin/vkmeans" -v -k $k -j "$threads" -o "$work/scale-ivf0.vt"
  pstep refine "$sample" "$bin/vrefine" -v -c "$work/scale-ivf0.vt" -j "$threads" -o "$work/scale-ivf.vt"
  pstep vloss "$sample" "$bin/vloss" -v -c "$work/scale-ivf.vt" -j "$threads"
  pstep vpq "$small" "$bin/vpq" -v -c "$work/scale-ivf.vt" -m 16 -j "$threads" -o "$work/scale-pq.vt"
  pstep vsqbounds "$small" "$bin/vsqbounds" -v -c "$work/scale-ivf.vt" -o "$work/scale-sq.vt"
  t1=$(date +%s.%N)
  local wall chunk_mib
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
  chunk_mib=$((k * 64 * d * 4 / 1048576))
  echo "whole flow: $wall s = $(awk -v w="$wall" 'BEGIN {printf "%.1f", w / 60}') min (target <= 40 min)"
  echo "chunk bound k x 64 x d x 4 = $chunk_mib MiB; target peak RSS <= 1.25 x = $((chunk_mib * 5 / 4)) MiB"
  local s
  for s in coreset vkmeans refine vloss vpq vsqbounds; do
    echo "  $s: $(mib "$s") MiB = $(ratio "$(mib "$s")" "$chunk_mib") x chunk"
  done
  echo "log (-v):"
  for s in coreset vkmeans refine vloss vpq vsqbounds; do
    tr '\r' '\n' <"$work/$s.err" | grep -v '^ *$' | tail -n 12 | sed "s/^/  $s: /"
  done
}

for c in "${cases[@]}"; do
  case $c in
    k4096) k4096 ;;
    scale) scale ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done
