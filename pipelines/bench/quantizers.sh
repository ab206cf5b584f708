#!/usr/bin/env bash
# Quantizers beside FAISS (issue 5).
#
#  1. vpq against faiss.ProductQuantizer(d, 16, 8).train on the same 65,536
#     residuals (vgen 1M x 128, 10,000 means; IVF k = 1024 trained by vkmeans
#     on its k x 256 sample).  Both whole processes compute the residuals
#     from the same IVF centroids and sample; alternating runs, medians.  The
#     MSE of both codebooks is computed by one judge (quant_peers.py pq-mse).
#  2. Interop: our IVF centroids and PQ codebook loaded into a FAISS
#     IndexIVFPQ (nlist 1024, M 16), 1M vectors added, recall@10 at nprobe 16
#     for 1,000 queries, against FAISS's own IndexIVFPQ trained on the same
#     IVF sample.
#  3. vsqbounds --mode dim against ScalarQuantizer(QT_8bit, RS_minmax).train
#     on the same rows.
#
# Usage: pipelines/bench/quantizers.sh
# Env: VT_BIN (build/bin), REPS (3), THREADS (2), WORK (a temp dir; ~1 GB).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${VT_BIN:-$top/build/bin}
reps=${REPS:-3}
threads=${THREADS:-2}
py=/usr/bin/python3
work=${WORK:-$(mktemp -d)}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

echo "# quantizer benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; threads=$threads"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; reps=$reps (alternating, medians)"
echo "# commit: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)"

source "$here/common.sh"
med() { cut -d' ' -f"$2" "$work/$1.times" | median; }

n=1000000 d=128 k=1024 m=16 nbits=8
[ -f "$work/data.vt" ] || "$bin/vgen" -q -n $n -d $d --means 10000 --seed 7 -o "$work/data.vt"
"$bin/vsample" -q -k $k --seed 1 -o "$work/ivf-sample.vt" "$work/data.vt"
"$bin/vkmeans" -q -k $k --seed 1 -j "$threads" -o "$work/ivf.vt" "$work/ivf-sample.vt"
"$bin/vsample" -q --for pq --nbits $nbits --seed 2 -o "$work/pq-sample.vt" "$work/data.vt"
for f in ivf ivf-sample pq-sample data; do "$bin/vcat" --to npy -o "$work/$f.npy" "$work/$f.vt"; done

echo
echo "## vpq against faiss.ProductQuantizer($d, $m, $nbits).train, 65,536 residuals, IVF k=$k"
rm -f "$work"/pq-*.times
for r in $(seq "$reps"); do
  timed pq-vtrain "$bin/vpq" -c "$work/ivf.vt" -m $m --nbits $nbits --seed 1 -j "$threads" \
    -o "$work/pq.vt" "$work/pq-sample.vt"
  OMP_WAIT_POLICY=PASSIVE timed pq-faiss "$py" "$here/quant_peers.py" pq-train "$work/ivf.npy" \
    "$work/pq-sample.npy" $m $nbits "$work/pq-faiss.npy"
done
"$bin/vcat" --to npy -o "$work/pq.npy" "$work/pq.vt"
mse_v=$("$py" "$here/quant_peers.py" pq-mse "$work/ivf.npy" "$work/pq-sample.npy" "$work/pq.npy")
mse_f=$("$py" "$here/quant_peers.py" pq-mse "$work/ivf.npy" "$work/pq-sample.npy" "$work/pq-faiss.npy")
printf '%-8s %9s %9s %14s\n' side time_s rss_mib mse
printf '%-8s %9.2f %9.1f %14.6g\n' vtrain "$(med pq-vtrain 1)" "$(awk -v k="$(med pq-vtrain 2)" 'BEGIN {print k/1024}')" "$mse_v"
printf '%-8s %9.2f %9.1f %14.6g\n' faiss "$(med pq-faiss 1)" "$(awk -v k="$(med pq-faiss 2)" 'BEGIN {print k/1024}')" "$mse_f"
echo "per-round times (s), vtrain / faiss: $(cut -d' ' -f1 "$work/pq-vtrain.times" | tr '\n' ' ')/ $(cut -d' ' -f1 "$work/pq-faiss.times" | tr '\n' ' ')"
echo "vpq's own report: $(sed -n 's/^vpq: //p' "$work/pq-vtrain.err" | tail -1)"
pr=$(paste -d' ' "$work/pq-vtrain.times" "$work/pq-faiss.times" | awk '{print $1 / $3}' | median)
echo "time vtrain/faiss = $(printf '%.4f' "$pr") (median of the paired ratios; target <= 0.2)"
echo "mse  vtrain/faiss = $(ratio "$mse_v" "$mse_f") (target <= 1.01)"

echo
echo "## interop: our IVF + PQ in a FAISS IndexIVFPQ (nlist $k, M $m), $n rows added, 1,000 queries"
"$bin/vgen" -q -n 1000 -d $d --means 10000 --seed 7 --first 5000000 --to npy -o "$work/queries.npy"
"$py" "$here/quant_peers.py" ivfpq-recall "$work/data.npy" "$work/queries.npy" "$work/ivf.npy" \
  "$work/pq.npy" "$work/ivf-sample.npy" 16

echo
echo "## vsqbounds --mode dim against ScalarQuantizer(QT_8bit, RS_minmax), the 65,536-row sample"
"$bin/vsqbounds" -q --mode dim -o "$work/sq.vt" "$work/pq-sample.vt"
"$bin/vcat" --to npy -o "$work/sq.npy" "$work/sq.vt"
"$py" "$here/quant_peers.py" sq-dim "$work/pq-sample.npy" "$work/sq.npy"
