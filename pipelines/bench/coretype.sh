#!/usr/bin/env bash
# coretype.sh: the kernel matrix of issue 18.  Each program runs once under
# every OpenBLAS kernel this CPU can execute (OPENBLAS_CORETYPE, read from
# the CPU flags: Prescott needs sse3, Sandybridge avx, Haswell avx2 + fma,
# SkylakeX avx512f) and the outputs are compared byte for byte (cmp).
#
#   pipelines/bench/coretype.sh [BUILD_DIR] [WORK_DIR]
#
# Data: Fashion-MNIST train (60,000 x 784, through vcat) and a vgen set of
# 60,000 x 32 (1,000 means, seed 3).  The -c centroids are rows drawn by
# vsample (no kernel involved), so that every program of a cell starts from
# the same bytes.  Cells:
#   vrefine        vrefine -c (1,024 centroids) on the vgen set
#   vrefine-part   the same with --partial
#   vkmeans-hier   vkmeans -k 1024 --hierarchical=on on the vgen set
#   vkmeans-probe  the same with a narrowed refinement (--probe 8)
#   vpq            vpq -c (1,024 centroids) -m 8 on the vgen set
#   vkmeans-flat   vkmeans -k 256 (flat) on the vgen set and on Fashion-MNIST
#   vcoreset       vsample -k 256 | vcoreset -k 256 on Fashion-MNIST
#   vloss          vloss -c (256 centroids) on Fashion-MNIST (its report)
#   vsqbounds      vsqbounds -c (1,024 centroids) on the vgen set
#   vassign        vassign -c (1,024 centroids) --pq on the vgen set (the
#                  codebook made once, under the default kernel)
# Prints one line per cell: the first 12 hex digits of each kernel's output
# hash, and "same" or "DIFFER".  Exit 1 when a cell differs.
# Environment: CELLS (space-separated subset), CORETYPES (override the list
# read from the CPU), THREADS (2), FAST=1 (Fashion-MNIST cut to 20,000 rows).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
work=${2:-${TMPDIR:-/tmp}/vt-coretype}
bin=$build/bin
threads=${THREADS:-2}
mkdir -p "$work"
fm=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

# The kernels this CPU runs, from its flags (sse3 shows as "pni").
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { case $flags in *" $1 "*) return 0 ;; esac; return 1; }
coretypes() {
  has pni && echo Prescott
  has avx && echo Sandybridge
  has avx2 && has fma && echo Haswell
  has avx512f && echo SkylakeX
  return 0
}
read -r -a cts <<<"${CORETYPES:-$(coretypes | tr '\n' ' ')}"

# Data and fixed centroids (made once, cached in WORK_DIR).
[ -s "$work/g32.vt" ] || "$bin/vgen" -q -n 60000 -d 32 --means 1000 --seed 3 -o "$work/g32.vt"
if [ ! -s "$work/fm.npy" ]; then
  if [ "${FAST:-0}" = 1 ]; then
    zcat "$fm" | "$bin/vcat" -q --rows 0:20000 --to npy -o "$work/fm.npy"
  else
    zcat "$fm" | "$bin/vcat" -q --to npy -o "$work/fm.npy"
  fi
fi
[ -s "$work/c1024.vt" ] || "$bin/vsample" -q -m 1024 --seed 5 -o "$work/c1024.vt" "$work/g32.vt"
[ -s "$work/c256fm.vt" ] || "$bin/vsample" -q -m 256 --seed 5 -o "$work/c256fm.vt" "$work/fm.npy"
[ -s "$work/pq.vt" ] || "$bin/vpq" -q -c "$work/c1024.vt" -m 8 -j "$threads" -o "$work/pq.vt" "$work/g32.vt"

# run CELL CT: the cell's output under kernel CT, into $work/out/CELL.CT
run() {
  local cell=$1 o=$work/out/$1.$2
  case $cell in
    vrefine) "$bin/vrefine" -q -j "$threads" -c "$work/c1024.vt" -o "$o" "$work/g32.vt" ;;
    vrefine-part) "$bin/vrefine" -q -j "$threads" --partial -c "$work/c1024.vt" -o "$o" "$work/g32.vt" ;;
    vkmeans-hier) "$bin/vkmeans" -q -j "$threads" -k 1024 --hierarchical=on --seed 1 -o "$o" "$work/g32.vt" ;;
    vkmeans-probe) "$bin/vkmeans" -q -j "$threads" -k 1024 --hierarchical=on --probe 8 --seed 1 \
                     -o "$o" "$work/g32.vt" ;;
    vpq) "$bin/vpq" -q -j "$threads" -c "$work/c1024.vt" -m 8 -o "$o" "$work/g32.vt" ;;
    vkmeans-flat) "$bin/vkmeans" -q -j "$threads" -k 256 --seed 1 -o "$o" "$work/g32.vt" ;;
    vkmeans-flat-fm) "$bin/vkmeans" -q -j "$threads" -k 256 --seed 1 -o "$o" "$work/fm.npy" ;;
    vcoreset) "$bin/vsample" -q -k 256 --seed 1 "$work/fm.npy" |
                "$bin/vcoreset" -q -j "$threads" -k 256 -o "$o" ;;
    vloss) "$bin/vloss" -q -j "$threads" -c "$work/c256fm.vt" "$work/fm.npy" >"$o" ;;
    vsqbounds) "$bin/vsqbounds" -q -c "$work/c1024.vt" -o "$o" "$work/g32.vt" ;;
    vassign) "$bin/vassign" -q -j "$threads" -c "$work/c1024.vt" --pq "$work/pq.vt" -o "$o" \
               "$work/g32.vt" ;;
    *) echo "coretype.sh: unknown cell $cell" >&2; exit 2 ;;
  esac
}

all="vrefine vrefine-part vkmeans-hier vkmeans-probe vpq vkmeans-flat vkmeans-flat-fm vcoreset vloss vsqbounds vassign"
read -r -a cells <<<"${CELLS:-$all}"
mkdir -p "$work/out"
echo "# kernel matrix, $(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p')"
echo "# kernels: ${cts[*]}; threads: $threads; Fashion-MNIST rows: $("$bin/vcat" --count "$work/fm.npy")"
printf '%-16s' cell
for ct in "${cts[@]}"; do printf ' %-12s' "$ct"; done
printf ' %s\n' result
bad=0
for cell in "${cells[@]}"; do
  printf '%-16s' "$cell"
  for ct in "${cts[@]}"; do
    rm -f "$work/out/$cell.$ct"
    OPENBLAS_CORETYPE=$ct run "$cell" "$ct"
    printf ' %-12s' "$(sha256sum <"$work/out/$cell.$ct" | cut -c1-12)"
  done
  same=same
  for ct in "${cts[@]}"; do
    cmp -s "$work/out/$cell.${cts[0]}" "$work/out/$cell.$ct" || same=DIFFER
  done
  [ "$same" = same ] || bad=1
  printf ' %s\n' "$same"
done
exit "$bad"
