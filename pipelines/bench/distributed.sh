#!/usr/bin/env bash
# Distributed training on loopback sshd hosts (issue 6).
#
# vgen 300,000 x 128 (1,000 means) cut into 3 shards of 100,000 rows; K=256
# with the default rates, PQ 16 x 8 bits, SQ dim.  Three hosts are sshd
# instances on 127.0.0.2-4 (pipelines/distributed/loopback.sh).  Prints:
#  - wall time of train.sh --local, W=1 (every shard on one host) and W=3
#    (a shard per host), alternating, medians, and whether the models are
#    the same bytes;
#  - the bytes moved per host against the raw data (train.sh's
#    transfer.txt of a W=3 run);
#  - the ssh and GNU parallel overhead: `ssh host true`, and a null
#    parallel job with --return, with and without a shared connection.
#
# Usage: pipelines/bench/distributed.sh
# Env: VT_BIN (build/bin), REPS (3), WORK (a temp dir; ~200 MB).
# Needs /usr/sbin/sshd, ssh, GNU parallel and rsync (pipelines/setup.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=$(cd "${VT_BIN:-$top/build/bin}" && pwd)
reps=${REPS:-3}
work=${WORK:-$(mktemp -d)}
train=$top/pipelines/distributed/train.sh
source "$top/pipelines/distributed/loopback.sh"
export VT_SSHD=$work/ssh VT_CM
VT_CM=$(mktemp -d /tmp/vdist-cm.XXXXXX)
trap 'vdist_lo_teardown 2 3 4' EXIT
vdist_lo_setup 2 3 4 || { echo "cannot start the loopback sshd hosts" >&2; exit 1; }
ssh_cmd="ssh -F $VT_SSHD/ssh_config"

echo "# distributed benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(parallel --version | head -1)"
echo "# commit: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown); reps=$reps (alternating, medians)"

source "$here/common.sh"
params=(-k 256 --pq-m 16 --nbits 8 --seed 1 -j 1 -q --bin "$bin")

# the data: three shards, each in the directory of its host
"$bin/vgen" -q -n 300000 -d 128 --means 1000 --seed 7 -o "$work/all.vt"
: >"$work/m3"
: >"$work/m1"
for s in 0 1 2; do
  h=$((s + 2))
  mkdir -p "$work/host$h" "$work/one"
  "$bin/vcat" --rows $((s * 100000)):$(((s + 1) * 100000)) -o "$work/host$h/s$s.vt" "$work/all.vt"
  cp "$work/host$h/s$s.vt" "$work/one/s$s.vt"
  echo "127.0.0.$h $work/host$h/s$s.vt" >>"$work/m3"
  echo "127.0.0.2 $work/one/s$s.vt" >>"$work/m1"
done
printf '1/127.0.0.%s\n' 2 3 4 >"$work/w3.slf"
echo "3/127.0.0.2" >"$work/w1.slf"
raw=$(stat -c %s "$work/host2/s0.vt")

run() { # run NAME CMD...: append the wall seconds to $work/NAME.times
  local name=$1 t0 t1
  shift
  rm -rf "$work/out-$name"
  t0=$(date +%s.%N)
  "$@" >"$work/$name.log" 2>&1 || { echo "failed: $*" >&2; cat "$work/$name.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >>"$work/$name.times"
}
rm -f "$work"/*.times
for r in $(seq "$reps"); do
  run local "$train" --local "${params[@]}" "$work/m3" "$work/out-local"
  run w1 "$train" --ssh "$ssh_cmd" "${params[@]}" "$work/w1.slf" "$work/m1" "$work/out-w1"
  run w3 "$train" --ssh "$ssh_cmd" "${params[@]}" "$work/w3.slf" "$work/m3" "$work/out-w3"
done

echo
echo "## wall time (s), 3 shards of 100,000 x 128 ($raw bytes each), K=256"
for n in local w1 w3; do
  printf '%-6s median %6.2f   rounds: %s\n' "$n" "$(median <"$work/$n.times")" "$(tr '\n' ' ' <"$work/$n.times")"
done
same=yes
for f in ivf.vt pq.vt sq.vt; do
  cmp -s "$work/out-local/$f" "$work/out-w1/$f" && cmp -s "$work/out-local/$f" "$work/out-w3/$f" || same=no
done
echo "ivf.vt, pq.vt and sq.vt byte-identical for local, W=1 and W=3: $same"

echo
echo "## bytes moved, W=3 (train.sh transfer.txt); raw data per host: $raw bytes"
cat "$work/out-w3/transfer.txt"

echo
echo "## ssh and GNU parallel overhead (medians of 10)"
t10() { # t10 CMD...: the median wall time of 10 runs
  local i t0 t1
  for i in $(seq 10); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
  done | median
}
touch "$work/null.in"
cd "$work"   # parallel's --return writes into the current directory
printf '%-52s %6.3f s\n' "ssh 127.0.0.3 true, shared connection" "$(t10 $ssh_cmd 127.0.0.3 true)"
printf '%-52s %6.3f s\n' "ssh 127.0.0.3 true, new connection" \
  "$(t10 $ssh_cmd -o ControlMaster=no -o ControlPath=none 127.0.0.3 true)"
printf '%-52s %6.3f s\n' "parallel, one local null job" "$(t10 parallel --will-cite true ::: 1)"
printf '%-52s %6.3f s\n' "parallel, one remote job with --return, shared" \
  "$(t10 parallel --will-cite --ssh "$ssh_cmd" -S 127.0.0.3 --wd "$work" --return null.in true ::: 1)"
printf '%-52s %6.3f s\n' "parallel, one remote job with --return, new" \
  "$(t10 parallel --will-cite --ssh "$ssh_cmd -o ControlMaster=no -o ControlPath=none" -S 127.0.0.3 \
       --wd "$work" --return null.in true ::: 1)"
