#!/usr/bin/env bash
# vassign beside FAISS's index.add.
#
# 1M x 128 vectors (vgen, 10,000 means, seed 7), IVF k = 4,096 trained by
# vkmeans on a 262,144-row sample, PQ M = 16, nbits = 8 by vpq.  Timed as
# whole processes, alternating, REPS rounds, medians:
#   vassign            labels only (exact nearest partition, top 1)
#   vassign --pq       labels and PQ codes
#   faiss assign       IndexFlatL2(ivf).search(x, 1): FAISS's labels only
#   faiss add          IndexIVFPQ(our ivf, our pq).add(x): labels and codes
# and prints the ratios vtrain / faiss, the peak RSS, and how many rows
# FAISS's float assignment puts in vassign's exact partition.
#
# `vassign.sh sort` runs only the out-of-core sort by partition instead:
# SORT_ROWS (2,000,000) x 128 rows, IVF k = K (4,096; vkmeans on a
# 262,144-row sample), PQ M = 16: vassign --pq with and without --sort,
# with the default budget (1 GiB), 16M and 256M, with and without
# --vectors-out; wall time, peak RSS, the runs and the bytes spilled (-v).
#
# Usage: pipelines/bench/vassign.sh [sort]
# Env: VT_BIN (build/bin), REPS (3), THREADS (2), WORK (a temp dir; ~1.5 GB,
#      ~4 GB for sort), K (4096: the IVF k), SAMPLE (262144: rows vkmeans
#      trains the IVF on).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${VT_BIN:-$top/build/bin}
reps=${REPS:-3}
threads=${THREADS:-2}
py=/usr/bin/python3
work=${WORK:-$(mktemp -d)}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

echo "# vassign benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; threads=$threads"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; reps=$reps (alternating, medians)"
echo "# commit: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)"

source "$here/common.sh"
med() { cut -d' ' -f"$2" "$work/$1.times" | median; }

n=1000000 d=128 k=${K:-4096} m=16 nbits=8 sample=${SAMPLE:-262144}
if [ "${1:-}" = sort ]; then
  n=${SORT_ROWS:-2000000}
  data=$work/sort-data.vt
  [ -f "$data" ] || "$bin/vgen" -q -n $n -d $d --means 10000 --seed 7 -o "$data"
  if [ ! -f "$work/sort-ivf.vt" ]; then
    "$bin/vsample" -q -m 262144 --seed 1 -o "$work/sort-sample.vt" "$data"
    "$bin/vkmeans" -q -k $k --seed 1 -j "$threads" -o "$work/sort-ivf.vt" "$work/sort-sample.vt"
    "$bin/vpq" -q -c "$work/sort-ivf.vt" -m $m --nbits $nbits --seed 1 -j "$threads" \
      -o "$work/sort-pq.vt" "$work/sort-sample.vt"
  fi
  echo
  echo "## vassign --sort: $n x $d rows, IVF k=$k, PQ M=$m; data $(du -m "$data" | cut -f1) MiB"
  mkdir -p "$work/tmp"
  t="--tmpdir $work/tmp"
  runs=(plain:"" sort:"--sort $t" sort16:"--sort --budget 16M $t"
        vec:"--sort --vectors-out $work/lists.vt $t"
        vec256:"--sort --budget 256M --vectors-out $work/lists.vt $t")
  for r in "${runs[@]}"; do rm -f "$work/${r%%:*}.times"; done
  for rep in $(seq "$reps"); do
    for r in "${runs[@]}"; do
      # shellcheck disable=SC2086
      timed "${r%%:*}" "$bin/vassign" -v -j "$threads" -c "$work/sort-ivf.vt" \
        --pq "$work/sort-pq.vt" ${r#*:} -o "$work/sorted.vt" "$data"
    done
  done
  printf '%-58s %7s %8s  %s\n' run time_s rss_mib "runs, spilled, sort and merge times (last round)"
  for r in "${runs[@]}"; do
    sp=$(sed -n 's/^vassign: sort: \([0-9]*\) runs of at most [0-9]* rows, \([0-9]*\) bytes spilled; sorting \(.*\), merging \(.*\)/\1 runs, \2 bytes, sort \3, merge \4/p' \
      "$work/${r%%:*}.err")
    printf '%-58s %7.2f %8.1f  %s\n' "vassign --pq $(sed "s|$work/||g" <<<"${r#*:}")" "$(med "${r%%:*}" 1)" \
      "$(awk -v k="$(med "${r%%:*}" 2)" 'BEGIN {print k/1024}')" "${sp:--}"
  done
  echo "per-round times (s):"
  for r in "${runs[@]}"; do echo "  ${r%%:*}: $(cut -d' ' -f1 "$work/${r%%:*}.times" | tr '\n' ' ')"; done
  exit 0
fi
[ -f "$work/data.vt" ] || "$bin/vgen" -q -n $n -d $d --means 10000 --seed 7 -o "$work/data.vt"
if [ ! -f "$work/ivf.vt" ]; then
  "$bin/vsample" -q -m $sample --seed 1 -o "$work/ivf-sample.vt" "$work/data.vt"
  "$bin/vkmeans" -q -k $k --seed 1 -j "$threads" -o "$work/ivf.vt" "$work/ivf-sample.vt"
fi
if [ ! -f "$work/pq.vt" ]; then
  "$bin/vsample" -q --for pq --nbits $nbits --seed 2 -o "$work/pq-sample.vt" "$work/data.vt"
  "$bin/vpq" -q -c "$work/ivf.vt" -m $m --nbits $nbits --seed 1 -j "$threads" \
    -o "$work/pq.vt" "$work/pq-sample.vt"
fi
for f in ivf pq data; do
  [ -f "$work/$f.npy" ] || "$bin/vcat" --to npy -o "$work/$f.npy" "$work/$f.vt"
done

echo
echo "## labels of $n x $d rows, IVF k=$k (PQ M=$m nbits=$nbits)"
rm -f "$work"/{va,vapq,fa,fadd}.times
for r in $(seq "$reps"); do
  timed va "$bin/vassign" -j "$threads" -o "$work/labels.vt" -c "$work/ivf.vt" "$work/data.vt"
  OMP_WAIT_POLICY=PASSIVE timed fa "$py" "$here/assign_peers.py" assign "$work/ivf.npy" \
    "$work/data.npy"
  timed vapq "$bin/vassign" -j "$threads" -o "$work/labels-pq.vt" -c "$work/ivf.vt" \
    --pq "$work/pq.vt" "$work/data.vt"
  OMP_WAIT_POLICY=PASSIVE timed fadd "$py" "$here/assign_peers.py" add "$work/ivf.npy" \
    "$work/pq.npy" "$work/data.npy"
done
printf '%-22s %9s %9s\n' run time_s rss_mib
for t in va:"vassign" vapq:"vassign --pq" fa:"faiss assign" fadd:"faiss add (IVF-PQ)"; do
  printf '%-22s %9.2f %9.1f\n' "${t#*:}" "$(med "${t%%:*}" 1)" \
    "$(awk -v k="$(med "${t%%:*}" 2)" 'BEGIN {print k/1024}')"
done
echo "per-round times (s): vassign $(cut -d' ' -f1 "$work/va.times" | tr '\n' ' ')/ faiss assign $(cut -d' ' -f1 "$work/fa.times" | tr '\n' ' ')"
echo "                     vassign --pq $(cut -d' ' -f1 "$work/vapq.times" | tr '\n' ' ')/ faiss add $(cut -d' ' -f1 "$work/fadd.times" | tr '\n' ' ')"
echo "vassign's report: $(sed -n 's/^vassign: //p' "$work/va.err" | tail -1)"
echo "faiss's in-process times: $(sed -n 's/^faiss //p' "$work/fa.err" "$work/fadd.err" 2>/dev/null | tr '\n' ' ')"
pr() { paste -d' ' "$work/$1.times" "$work/$2.times" | awk '{print $1 / $3}' | median; }
echo "time vassign/faiss-assign       = $(printf '%.4f' "$(pr va fa)") (median of the paired ratios)"
echo "time vassign/faiss-add          = $(printf '%.4f' "$(pr va fadd)") (labels only against the whole add)"
echo "time vassign --pq/faiss-add     = $(printf '%.4f' "$(pr vapq fadd)")"
"$bin/vcat" --to npy -o "$work/labels.npy" "$work/labels.vt"
echo "rows where faiss's float assignment equals vassign's exact one: $("$py" "$here/assign_peers.py" agree "$work/ivf.npy" "$work/data.npy" "$work/labels.partitions.npy")"
