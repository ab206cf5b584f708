#!/usr/bin/env bash
# vloss-nearest.sh: vloss at k = 16,384 over 262,144 x 128 rows, before and
# after the exact nearest-centroid search was wired in (issue 13), side by
# side: runs alternate BEFORE AFTER BEFORE AFTER ..., medians of whole
# processes under /usr/bin/time.
#
#   pipelines/bench/vloss-nearest.sh BEFORE_BIN AFTER_BIN [WORK_DIR]
#
# BEFORE_BIN, AFTER_BIN: directories holding vgen, vkmeans and vloss (e.g. a
# copy of build/bin made before the change, and build/bin).  The data and
# centroids are made once with BEFORE_BIN and kept in WORK_DIR:
#   multi  vgen -n 262144 -d 128 --means 16384 --top 256 --sub-spread 2 --seed 11
#   iid    vgen -n 262144 -d 128 --means 16384 --seed 11
#   centroids: vkmeans -k 16384 --seed 1 on each set (hierarchical, probe 8)
# The AFTER side also runs with VT_NEAREST=brute (brute force forced), and
# once more with -v, whose report is printed.  Environment: REPS (3),
# THREADS (2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
before=$(cd "$1" && pwd) after=$(cd "$2" && pwd)
work=${3:-${TMPDIR:-/tmp}/vt-vloss-nearest}
reps=${REPS:-3} threads=${THREADS:-2}
mkdir -p "$work"
. "$here/common.sh"

[ -s "$work/multi.vt" ] ||
  "$before/vgen" -q -n 262144 -d 128 --means 16384 --top 256 --sub-spread 2 --seed 11 -o "$work/multi.vt"
[ -s "$work/iid.vt" ] || "$before/vgen" -q -n 262144 -d 128 --means 16384 --seed 11 -o "$work/iid.vt"
for s in multi iid; do
  [ -s "$work/$s-c.vt" ] || "$before/vkmeans" -q -k 16384 --seed 1 -j "$threads" -o "$work/$s-c.vt" "$work/$s.vt"
done

echo "**vloss, k = 16,384, 262,144 x 128 rows** ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
echo "- OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; -j $threads; $reps runs per side, alternating"
echo "- before: $before; after: $after"
echo
echo "| data | side | wall s (median) | peak RSS MiB (median) | runs (s) | loss |"
echo "|---|---|---|---|---|---|"
for s in multi iid; do
  rm -f "$work"/"$s"-*.times
  for r in $(seq "$reps"); do
    timed "$s-before" "$before/vloss" -j "$threads" -c "$work/$s-c.vt" "$work/$s.vt"
    timed "$s-after" "$after/vloss" -j "$threads" -c "$work/$s-c.vt" "$work/$s.vt"
    VT_NEAREST=brute timed "$s-brute" "$after/vloss" -j "$threads" -c "$work/$s-c.vt" "$work/$s.vt"
  done
  for side in before after brute; do
    t=$(cut -d' ' -f1 "$work/$s-$side.times" | median)
    m=$(cut -d' ' -f2 "$work/$s-$side.times" | median)
    runs=$(cut -d' ' -f1 "$work/$s-$side.times" | paste -sd' ')
    case $side in
      before) exe=$before/vloss env=() ;;
      after) exe=$after/vloss env=() ;;
      brute) exe=$after/vloss env=(VT_NEAREST=brute) ;;
    esac
    loss=$(env "${env[@]}" "$exe" -j "$threads" -c "$work/$s-c.vt" "$work/$s.vt" | sed 's/ .*//')
    label=$side; [ "$side" = brute ] && label="after, VT_NEAREST=brute"
    printf '| %s | %s | %.2f | %.1f | %s | %s |\n' "$s" "$label" "$t" "$(awk -v k="$m" 'BEGIN {print k / 1024}')" "$runs" "$loss"
  done
done
echo
for s in multi iid; do
  echo "after, -v, $s:"
  "$after/vloss" -v -j "$threads" -c "$work/$s-c.vt" "$work/$s.vt" 2>&1 >/dev/null | sed 's/^/    /'
done
