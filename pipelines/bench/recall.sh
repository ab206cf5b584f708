#!/usr/bin/env bash
# Recall of IVF-PQ and IVF-SQ indexes against FAISS and LanceDB (issue 16).
#
# For each case, three sides train on the same data in one run,
# alternating REPS times:
#   vtrain  pipelines/stream-train.mk (IVF centroids, PQ codebook on
#           residuals, SQ bounds per dimension), timed as the whole make;
#   faiss   IndexIVFPQ.train, then IndexIVFScalarQuantizer.train on the
#           trained quantizer (the SQ ranges only), on the rows of vtrain's
#           IVF sample (the same rows, so FAISS subsamples nothing for its
#           k-means); the whole python process is timed;
#   lance   LanceDB's own IVF_PQ index (@lancedb/lancedb 0.31.0 under
#           /usr/bin/node, nodejs): the rows written into a Lance table, then
#           createIndex, whose time (training, encoding every row and
#           writing the index) is Lance's figure.  Lance 0.31's node API has
#           no IVF_SQ index (only IVF_PQ, IVF_RQ, IVF_FLAT and HNSW kinds).
# Then every row is added to FAISS indexes built from vtrain's models
# (pipelines/bench/faiss_models.py) and to FAISS's own, and each index is
# searched for the queries' top 10 at nprobe 1, 4, 16 and 64 (Lance with no
# refine step): recall@10 against the exact neighbours (IndexFlatL2,
# computed once) and, for FAISS, the mean number of codes compared per query
# (faiss.cvar.indexIVF_stats.ndis / nq).
#
# Cases:
#   fmnist  Fashion-MNIST (Debian's dataset-fashion-mnist): the 60,000 x 784
#           train images, the first 1,000 test images as queries; k = 256,
#           PQ M = 16 x 8 bits, SQ 8 bits.
#   multi   multi-scale vgen data, vgen -n 1000000 -d 128 --means 2048
#           --top 8 --seed 7, and 1,000 held-out queries (rows 1,000,000 to
#           1,000,999 of the same generator); k = 1,024, PQ 16 x 8, SQ 8.
#
# Usage: pipelines/bench/recall.sh [fmnist] [multi]   (default: both)
# Env: VT_BIN (build/bin), REPS (1), THREADS (2), WORK (a temp dir, kept;
#      about 2.5 GB for multi), LANCE=0 (no Lance side), SMOKE=1 (tiny
#      sizes, to check that the script runs: no figure to keep),
#      LANCE_NODE (where @lancedb/lancedb is installed; WORK/node).
# It installs what it needs when missing: python3-faiss (apt-get), nodejs
# and npm (apt-get), and @lancedb/lancedb@0.31.0 (npm, into LANCE_NODE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${VT_BIN:-$top/build/bin}
reps=${REPS:-1}
threads=${THREADS:-2}
smoke=${SMOKE:-0}
lance=${LANCE:-1}
py=/usr/bin/python3
node=/usr/bin/node
lance_version=0.31.0
fm=/usr/share/datasets/fashion-mnist
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(fmnist multi)
for c in "${cases[@]}"; do
  case $c in fmnist | multi) ;; *) echo "recall.sh: unknown case: $c (fmnist, multi)" >&2; exit 2 ;; esac
done
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
nodedir=${LANCE_NODE:-$work/node}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
source "$here/common.sh"

# install PKG...: the Debian packages that are missing (apt-get, sudo when
# not root).
install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "recall.sh: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

"$py" -c 'import faiss, numpy' 2>/dev/null || install python3-numpy python3-faiss
[[ " ${cases[*]} " != *" fmnist "* ]] || [ -f "$fm/train-images-idx3-ubyte.gz" ] || install dataset-fashion-mnist
if [ "$lance" = 1 ]; then
  [ -x "$node" ] || install nodejs npm
  command -v npm >/dev/null || install npm
  have=$("$node" -p "require('$nodedir/node_modules/@lancedb/lancedb/package.json').version" 2>/dev/null || true)
  if [ "$have" != "$lance_version" ]; then
    echo "recall.sh: npm i -E @lancedb/lancedb@$lance_version in $nodedir" >&2
    mkdir -p "$nodedir"
    [ -f "$nodedir/package.json" ] || echo '{"private": true}' >"$nodedir/package.json"
    (cd "$nodedir" && npm i -E --no-audit --no-fund "@lancedb/lancedb@$lance_version" >&2)
  fi
fi

echo "# recall benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); threads=$threads"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; reps=$reps (alternating, medians); commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# faiss $("$py" -c 'import faiss; print(faiss.__version__)'); $([ "$lance" = 1 ] && echo "@lancedb/lancedb $lance_version, node $("$node" --version)" || echo "LanceDB skipped (LANCE=0)")"
[ "$smoke" = 0 ] || echo "# SMOKE=1: tiny sizes; these figures mean nothing"

# mib KIB: KiB as MiB, 1 decimal
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# col FILE N: column N of FILE's lines
col() { cut -d' ' -f"$2" "$1"; }

# run_case NAME K M NPROBES DESCRIPTION: $work/NAME holds base.vt, base.npy,
# queries.npy and gt.npy.
run_case() {
  local name=$1 k=$2 m=$3 nprobes=$4 what=$5
  local cw=$work/$name
  local sides=(vtrain faiss)
  [ "$lance" = 1 ] && sides+=(lance)
  local s r
  for s in "${sides[@]}"; do rm -f "$work/$name-$s.times" "$cw/$s.builds"; done
  rm -f "$cw/lance.recall"
  echo
  echo "## $name: $what"
  for r in $(seq "$reps"); do
    rm -rf "$cw/vt"
    timed "$name-vtrain" make -s -f "$top/pipelines/stream-train.mk" DATA="$cw/base.vt" K="$k" \
      OUT="$cw/vt" BIN="$bin" PQ_M="$m" NBITS=8 J="$threads" -j"$threads" all
    [ -f "$cw/train.npy" ] || "$bin/vcat" -q --to npy -o "$cw/train.npy" "$cw/vt/sample.vt"
    OMP_WAIT_POLICY=PASSIVE timed "$name-faiss" "$py" "$here/recall_peers.py" train "$cw/train.npy" \
      "$k" "$m" 8 "$cw/faiss"
    if [ "$lance" = 1 ]; then
      /usr/bin/time -f '%e %M' -o "$work/$name-lance.t1" "$node" "$here/recall_lance.mjs" "$nodedir" \
        "$cw/lance.db" "$cw/base.npy" "$cw/queries.npy" "$cw/gt.npy" "$k" "$m" "$nprobes" \
        >"$cw/lance.out" 2>"$work/$name-lance.err" || {
        echo "failed: recall_lance.mjs" >&2; cat "$work/$name-lance.err" >&2; exit 1; }
      cat "$work/$name-lance.t1" >>"$work/$name-lance.times"
      sed -n 's/^build //p' "$cw/lance.out" >>"$cw/lance.builds"
      grep '^ivfpq lance ' "$cw/lance.out" >>"$cw/lance.recall"
    fi
  done
  col "$work/$name-vtrain.times" 1 >"$cw/vtrain.builds"
  "$py" "$here/recall_peers.py" eval "$cw/base.npy" "$cw/queries.npy" "$cw/gt.npy" "$nprobes" \
    "$cw/vt/ivf.npy" "$cw/vt/pq.npy" "$cw/vt/sq.npy" "$cw/faiss" >"$cw/eval.txt" 2>"$cw/eval.err" || {
    echo "failed: recall_peers.py eval" >&2; cat "$cw/eval.err" >&2; exit 1; }

  echo
  echo "Training (vtrain, FAISS) and index build (Lance): seconds and peak RSS, medians of $reps"
  echo
  echo "| side | what is timed | s | peak RSS MiB | per run (s) |"
  echo "|---|---|---|---|---|"
  echo "| vtrain | \`make -f pipelines/stream-train.mk all\` (IVF, PQ, SQ; -j$threads J=$threads) | $(col "$work/$name-vtrain.times" 1 | median) | $(mib "$(col "$work/$name-vtrain.times" 2 | median)") | $(col "$work/$name-vtrain.times" 1 | tr '\n' ' ')|"
  echo "| FAISS | python: IndexIVFPQ.train + IndexIVFScalarQuantizer.train on $("$bin/vcat" --count "$cw/vt/sample.vt") rows | $(col "$work/$name-faiss.times" 1 | median) | $(mib "$(col "$work/$name-faiss.times" 2 | median)") | $(col "$work/$name-faiss.times" 1 | tr '\n' ' ')|"
  if [ "$lance" = 1 ]; then
    echo "| Lance | createIndex IVF_PQ (train, encode $("$bin/vcat" --count "$cw/base.vt") rows, write) | $(median <"$cw/lance.builds") | $(mib "$(col "$work/$name-lance.times" 2 | median)") (node process) | $(tr '\n' ' ' <"$cw/lance.builds")|"
  fi
  echo
  echo "FAISS's own split (last run): $(sed -n 's/^faiss train on //p' "$work/$name-faiss.err" | tail -1)"
  [ "$lance" = 1 ] && echo "Lance's table write (last run): $(sed -n 's/^write //p' "$cw/lance.out") s; its node process: $(col "$work/$name-lance.times" 1 | median) s"
  echo "time vtrain/FAISS = $(paste -d' ' "$work/$name-vtrain.times" "$work/$name-faiss.times" | awk '{print $1 / $3}' | median | xargs printf '%.4f') (median of paired ratios; target <= 0.5)"
  [ "$lance" = 1 ] && echo "time vtrain/Lance = $(paste -d' ' "$cw/vtrain.builds" "$cw/lance.builds" | awk '{print $1 / $2}' | median | xargs printf '%.4f') (median of paired ratios; target <= 0.15)"

  echo
  echo "Recall@10 of $(cut -d' ' -f2 "$cw/sizes") queries; ndis = codes compared per query (FAISS)"
  echo
  local ratio_hdr="" ratio_sep=""
  [ "$lance" = 1 ] && { ratio_hdr=" Lance | vtrain/Lance |"; ratio_sep="---|---|"; }
  echo "| index | nprobe | vtrain | FAISS | vtrain/FAISS |$ratio_hdr ndis vtrain | ndis FAISS |"
  echo "|---|---|---|---|---|${ratio_sep}---|---|"
  local kind p rv rf nv nf rl lcell
  for kind in ivfpq ivfsq; do
    for p in ${nprobes//,/ }; do
      read -r rv nv < <(awk -v k=$kind -v p="$p" '$1 == k && $2 == "vtrain" && $3 == p {print $4, $5}' "$cw/eval.txt")
      read -r rf nf < <(awk -v k=$kind -v p="$p" '$1 == k && $2 == "faiss" && $3 == p {print $4, $5}' "$cw/eval.txt")
      lcell=""
      if [ "$lance" = 1 ]; then
        if [ $kind = ivfpq ]; then
          rl=$(awk -v p="$p" '$3 == p {print $4}' "$cw/lance.recall" | median)
          lcell=" $(printf '%.4f' "$rl") | $(ratio "$rv" "$rl") |"
        else
          lcell=" no IVF_SQ | - |"
        fi
      fi
      echo "| $([ $kind = ivfpq ] && echo "IVF-PQ $m x 8" || echo "IVF-SQ8") | $p | $rv | $rf | $(ratio "$rv" "$rf") |$lcell $nv | $nf |"
    done
  done
  if [ "$lance" = 1 ] && [ "$reps" -gt 1 ]; then
    echo
    echo "Lance's recall per build (its builds of the same rows differ): $(awk '{printf "nprobe %s %s; ", $3, $4}' "$cw/lance.recall")"
  fi
  echo
  echo "FAISS add of every row: $(tr '\n' ';' <"$cw/eval.err" | sed 's/;$//; s/;/; /g')"
}

fmnist() {
  local cw=$work/fmnist n=60000 nq=1000 k=256 nprobes=1,4,16,64
  [ "$smoke" = 1 ] && { n=2000; nq=50; k=16; nprobes=1,4,16; }
  mkdir -p "$cw"
  if [ ! -f "$cw/gt.npy" ] || [ "$(cat "$cw/sizes" 2>/dev/null)" != "$n $nq" ]; then
    rm -f "$cw/train.npy"
    zcat "$fm/train-images-idx3-ubyte.gz" >"$cw/train.idx"
    zcat "$fm/t10k-images-idx3-ubyte.gz" >"$cw/test.idx"
    "$bin/vcat" -q --rows 0:$n -o "$cw/base.vt" "$cw/train.idx"
    "$bin/vcat" -q --to npy -o "$cw/base.npy" "$cw/base.vt"
    "$bin/vcat" -q --rows 0:$nq --to npy -o "$cw/queries.npy" "$cw/test.idx"
    rm -f "$cw/train.idx" "$cw/test.idx"
    "$py" "$here/recall_peers.py" truth "$cw/base.npy" "$cw/queries.npy" "$cw/gt.npy"
    echo "$n $nq" >"$cw/sizes"
  fi
  run_case fmnist $k 16 $nprobes \
    "Fashion-MNIST, $n x 784 train images, the first $nq test images as queries; k=$k, PQ 16 x 8 bits, SQ 8 bits"
}

multi() {
  local cw=$work/multi n=1000000 nq=1000 d=128 means=2048 tops=8 k=1024 nprobes=1,4,16,64
  [ "$smoke" = 1 ] && { n=4000; nq=50; d=32; means=64; tops=4; k=32; nprobes=1,4,16; }
  local gen=("$bin/vgen" -q -d $d --means $means --top $tops --seed 7)
  mkdir -p "$cw"
  if [ ! -f "$cw/gt.npy" ] || [ "$(cat "$cw/sizes" 2>/dev/null)" != "$n $nq $d" ]; then
    rm -f "$cw/train.npy"
    "${gen[@]}" -n $n -o "$cw/base.vt"
    "$bin/vcat" -q --to npy -o "$cw/base.npy" "$cw/base.vt"
    "${gen[@]}" -n $nq --first $n --to npy -o "$cw/queries.npy"
    "$py" "$here/recall_peers.py" truth "$cw/base.npy" "$cw/queries.npy" "$cw/gt.npy"
    echo "$n $nq $d" >"$cw/sizes"
  fi
  run_case multi $k 16 $nprobes \
    "multi-scale vgen -n $n -d $d --means $means --top $tops --seed 7, $nq held-out queries (rows $n to $((n + nq - 1))); k=$k, PQ 16 x 8 bits, SQ 8 bits"
}

for c in "${cases[@]}"; do "$c"; done
