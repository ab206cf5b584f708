#!/usr/bin/env bash
# Stream throughput, compression ratio and peak RSS of vcat (issue 2).
#
# 1. Throughput: vcat stream -> stream on 1 GiB of float32 vectors
#    (vgen -n 2097152 -d 128), uncompressed, lz4 and lz4-shuffle, beside `cat`
#    and the `lz4` command-line tool on the same bytes.  Every figure is a pipe
#    from page cache into `cat >/dev/null`, for both sides.  Each reference and
#    the vcat commands compared with it run alternately (A B A B ..., or
#    A B C A B C ... when two share a reference) RUNS times; medians are
#    reported, and the ratio is the median over rounds of ref_time / vcat_time
#    (> 1: vcat is faster).
#    vgen's Gaussian data does not shrink under plain LZ4, so its lz4 frames are
#    stored raw; the same comparisons therefore also run on Fashion-MNIST as
#    float32, concatenated FM_COPIES times (6: 1.05 GiB), where LZ4 really
#    decodes.  The lz4 reference files are made with `lz4 -1` from the same raw
#    float32 bytes.
# 2. Compression ratio on Fashion-MNIST as float32 (raw bytes / output bytes).
# 3. Peak RSS (/usr/bin/time %M) of 1 GiB conversions, target < 64 MiB.
#
# Usage: pipelines/bench/stream-throughput.sh
# Env: VT_BIN (the build's bin dir; default build/bin of this checkout), RUNS (3), FM_COPIES (6), TMPDIR (scratch, ~9 GB,
#      removed at the end), FMNIST (Debian's train-images-idx3-ubyte.gz).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${VT_BIN:-$top/build/bin}
bin=$(cd "$bin" 2>/dev/null && pwd) || { echo "no bin dir: ${VT_BIN:-$top/build/bin}" >&2; exit 2; }
runs=${RUNS:-3}
fm_copies=${FM_COPIES:-6}
fmnist=${FMNIST:-/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz}
n=2097152 d=128
raw_bytes=$((n * d * 4))

for p in "$bin/vcat" "$bin/vgen" /usr/bin/time; do
  [ -x "$p" ] || { echo "missing: $p" >&2; exit 2; }
done
command -v lz4 >/dev/null || { echo "missing: lz4 (Debian package lz4)" >&2; exit 2; }
[ -r "$fmnist" ] || { echo "missing: $fmnist (Debian package dataset-fashion-mnist)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vt-stream-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
cd "$work"
vcat=$bin/vcat vgen=$bin/vgen

source "$here/common.sh"
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
fail() { echo "failed: $*" >&2; cat "$work/err" >&2 2>/dev/null; exit 1; }

# pipe CMD: run `CMD | cat >/dev/null` under /usr/bin/time (whole pipeline:
# seconds), with the producer CMD itself under /usr/bin/time (its peak RSS).
# Sets secs and kib.
pipe() {
  /usr/bin/time -f '%e %M' -o outer bash -c \
    "set -o pipefail; /usr/bin/time -f '%e %M' -o inner $1 2>err | cat >/dev/null" || fail "$1"
  secs=$(tail -n1 outer | cut -d' ' -f1)
  kib=$(tail -n1 inner | cut -d' ' -f2)
}

# once LABEL SHOWN CMD...: run a whole command once under /usr/bin/time,
# stdout to /dev/null; appends "LABEL<tab>SHOWN<tab>secs kib" to rss.txt.
# (For a pipeline, %M is the largest RSS among its processes.)
once() {
  local label=$1 shown=$2; shift 2
  /usr/bin/time -f '%e %M' -o t1 "$@" >/dev/null 2>err || fail "$*"
  printf '%s\t%s\t%s\n' "$label" "$shown" "$(tail -n1 t1)" >> rss.txt
}

# The report is Markdown that pastes under a heading of docs/BENCHMARKS.md.
echo "**Stream throughput (issue 2)**, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(uname -sr)"
echo "- OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; $("$vcat" --version); $(lz4 --version 2>&1 | sed -n 's/^\*\*\* \(LZ4 command line interface\) [^ ]* \(v[0-9.]*\).*/\1 \2/p')"
echo "- commit: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$top" diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)'); VT_BIN=$bin"
echo "- data: vgen -n $n -d $d (float32, $raw_bytes bytes); Fashion-MNIST train as float32 x $fm_copies"
echo "- runs: $runs per side, alternating; default frames (1 MiB raw); scratch: $work"

# --- Data, and the 1 GiB conversions whose peak RSS we report. ---
: > rss.txt
once "vgen to vt" "vgen -n $n -d $d -o g.vt" "$vgen" -n "$n" -d "$d" -o g.vt
once "vt to npy" "vcat --to npy g.vt -o g.npy" "$vcat" --to npy g.vt -o g.npy
once "npy to vt" "vcat g.npy -o g2.vt" "$vcat" g.npy -o g2.vt
cmp -s g.vt g2.vt || cmp -s <("$vcat" --to raw g.vt) <("$vcat" --to raw g2.vt) || fail "npy round trip differs"
rm -f g.npy g2.vt
once "vt to lz4-shuffle vt" "vcat -z g.vt -o g-sh.vt" "$vcat" -z g.vt -o g-sh.vt
once "lz4-shuffle vt to raw" "vcat --to raw g-sh.vt -o g.raw" "$vcat" --to raw g-sh.vt -o g.raw
once "vt to lz4 vt, to stdout" "vcat --compress=lz4 g.vt" "$vcat" --compress=lz4 g.vt
"$vcat" --compress=lz4 g.vt > g-lz4.vt
lz4 -1 -q -f g.raw g.raw.lz4
[ "$(stat -c %s g.raw)" = "$raw_bytes" ] || fail "g.raw has the wrong size"

zcat "$fmnist" > fm.idx
fm_raw=$((60000 * 784 * 4))
once "F-MNIST idx (stdin) to vt, 188 MB" "zcat ${fmnist##*/} | vcat" bash -c "zcat '$fmnist' | '$vcat'"
fm=()
for _ in $(seq "$fm_copies"); do fm+=(fm.idx); done
"$vcat" --to raw "${fm[@]}" > fm6.raw
"$vcat" --compress=lz4 "${fm[@]}" > fm6-lz4.vt
"$vcat" -z "${fm[@]}" > fm6-sh.vt
"$vcat" "${fm[@]}" > fm6.vt
lz4 -1 -q -f fm6.raw fm6.raw.lz4
fm6_bytes=$((fm_raw * fm_copies))
cat ./* > /dev/null   # everything in page cache

# --- 1. Throughput. ---
# Pairs: label|target ratio (or -)|bytes|reference command|vcat command
pairs=(
  "uncompressed pass-through (Gaussian)|0.50|$raw_bytes|cat g.vt|$vcat g.vt"
  "lz4 decode (Gaussian; frames stored raw)|1.00|$raw_bytes|lz4 -dc g.raw.lz4|$vcat --compress=none g-lz4.vt"
  "lz4-shuffle decode (Gaussian)|-|$raw_bytes|lz4 -dc g.raw.lz4|$vcat --compress=none g-sh.vt"
  "lz4 decode (F-MNIST x$fm_copies)|1.00|$fm6_bytes|lz4 -dc fm6.raw.lz4|$vcat --compress=none fm6-lz4.vt"
  "lz4-shuffle decode (F-MNIST x$fm_copies)|-|$fm6_bytes|lz4 -dc fm6.raw.lz4|$vcat --compress=none fm6-sh.vt"
  "lz4 pass-through, same codec (F-MNIST x$fm_copies)|-|$fm6_bytes|cat fm6-lz4.vt|$vcat --compress=lz4 fm6-lz4.vt"
  "lz4-shuffle pass-through, same codec (Gaussian)|-|$raw_bytes|cat g-sh.vt|$vcat -z g-sh.vt"
  "lz4 -> lz4 (Gaussian; raw-stored frames re-encoded)|-|$raw_bytes|cat g-lz4.vt|$vcat --compress=lz4 g-lz4.vt"
  "encode lz4 (Gaussian)|-|$raw_bytes|lz4 -1 -c g.raw|$vcat --compress=lz4 g.vt"
  "encode lz4-shuffle (Gaussian)|-|$raw_bytes|lz4 -1 -c g.raw|$vcat -z g.vt"
  "encode lz4 (F-MNIST x$fm_copies)|-|$fm6_bytes|lz4 -1 -c fm6.raw|$vcat --compress=lz4 fm6.vt"
  "encode lz4-shuffle (F-MNIST x$fm_copies)|-|$fm6_bytes|lz4 -1 -c fm6.raw|$vcat -z fm6.vt"
)
# Entries that share a reference command (consecutive) share its run: each
# round runs the reference, then each of its vcat commands (A B C A B C ...).
for i in "${!pairs[@]}"; do : > "ref$i"; : > "vt$i"; : > "ratio$i"; done
for _ in $(seq "$runs"); do
  prev=
  for i in "${!pairs[@]}"; do
    IFS='|' read -r _ _ _ ref vt <<< "${pairs[$i]}"
    if [ "$ref" != "$prev" ]; then
      pipe "$ref"; rs=$secs rk=$kib; prev=$ref
    fi
    echo "$rs $rk" >> "ref$i"
    pipe "$vt"; echo "$secs $kib" >> "vt$i"
    awk -v a="$rs" -v b="$secs" 'BEGIN {print (b > 0 ? a / b : 0)}' >> "ratio$i"
  done
done

echo
echo "#### Throughput: \`CMD | cat >/dev/null\`, from page cache; medians of $runs alternating runs"
echo
echo "Ratio: median over rounds of ref_time / vcat_time (vcat's throughput relative to the reference). GB/s counts raw float32 bytes (10^9)."
echo
echo "| case | reference | s | GB/s | RSS MiB | vcat | s | GB/s | RSS MiB | ratio | target | met |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for i in "${!pairs[@]}"; do
  IFS='|' read -r label target bytes ref vt <<< "${pairs[$i]}"
  rt=$(cut -d' ' -f1 "ref$i" | median); rm_=$(cut -d' ' -f2 "ref$i" | median)
  vtt=$(cut -d' ' -f1 "vt$i" | median); vm=$(cut -d' ' -f2 "vt$i" | median)
  ratio=$(median < "ratio$i")
  met=-
  [ "$target" = - ] || met=$(awk -v r="$ratio" -v t="$target" 'BEGIN {print (r >= t ? "yes" : "NO")}')
  printf '| %s | `%s` | %.2f | %.2f | %s | `%s` | %.2f | %.2f | %s | %.2f | %s | %s |\n' \
    "$label" "$ref" "$rt" "$(awk -v b="$bytes" -v t="$rt" 'BEGIN {print b / t / 1e9}')" "$(mib "$rm_")" \
    "${vt#"$bin"/}" "$vtt" "$(awk -v b="$bytes" -v t="$vtt" 'BEGIN {print b / t / 1e9}')" "$(mib "$vm")" \
    "$ratio" "${target/#-/—}" "$met"
done
echo
echo "Per-round times (s), reference / vcat:"
for i in "${!pairs[@]}"; do
  IFS='|' read -r label _ _ _ _ <<< "${pairs[$i]}"
  echo "- $label: $(cut -d' ' -f1 "ref$i" | paste -sd' ') / $(cut -d' ' -f1 "vt$i" | paste -sd' ')"
done

# --- 2. Compression ratio on Fashion-MNIST as float32. ---
echo
echo "#### Compression ratio: Fashion-MNIST train as float32 ($fm_raw bytes)"
echo
echo "| codec | command | bytes | ratio |"
echo "|---|---|---|---|"
ratio_row() {
  local name=$1 cmd=$2 b
  b=$(bash -c "set -o pipefail; $cmd | wc -c") || fail "$cmd"
  local shown=${cmd//$bin\//}
  printf '| %s | `%s` | %s | %.3f |\n' "$name" "${shown//|/\\|}" "$b" "$(awk -v a="$fm_raw" -v b="$b" 'BEGIN {print a / b}')"
}
ratio_row "lz4 -1 (CLI), raw float32" "zcat '$fmnist' | $vcat --to raw | lz4 -1 -c"
ratio_row "vcat lz4" "zcat '$fmnist' | $vcat --compress=lz4"
ratio_row "vcat lz4-shuffle" "zcat '$fmnist' | $vcat -z"
ratio_row "vcat none (stream overhead)" "zcat '$fmnist' | $vcat"
echo
echo "Gaussian (vgen) for scale: lz4 -1 $(awk -v a="$raw_bytes" -v b="$(stat -c %s g.raw.lz4)" 'BEGIN {printf "%.3f", a / b}'),"\
  "vcat lz4 $(awk -v a="$raw_bytes" -v b="$(stat -c %s g-lz4.vt)" 'BEGIN {printf "%.3f", a / b}'),"\
  "vcat lz4-shuffle $(awk -v a="$raw_bytes" -v b="$(stat -c %s g-sh.vt)" 'BEGIN {printf "%.3f", a / b}')."

# --- 3. Peak RSS of conversions. ---
echo
echo "#### Peak RSS: \`/usr/bin/time -f '%e %M'\`, one run each (1 GiB unless noted; -o includes fsync)"
echo
echo "| conversion | command | s | peak RSS MiB | target < 64 MiB |"
echo "|---|---|---|---|---|"
while IFS=$'\t' read -r label shown t; do
  s=${t% *} k=${t#* }
  printf '| %s | `%s` | %.2f | %s | %s |\n' "$label" "${shown//|/\\|}" "$s" "$(mib "$k")" \
    "$( [ "$k" -lt 65536 ] && echo yes || echo NO)"
done < rss.txt
