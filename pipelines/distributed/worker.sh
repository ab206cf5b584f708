#!/usr/bin/env bash
# The per-shard steps of a distributed vtrain run (pipelines/distributed/train.sh).
#
#   worker.sh [--resume] STEP SHARD BIN THREADS ARGS...   run one step in the current dir
#   . worker.sh                                     define vdist_worker (for --env)
#
# train.sh hands the function vdist_worker to GNU parallel (--env), so a
# worker host needs the vtrain programs at BIN, bash, perl and rsync, and not
# this file; the same steps run on one machine for `train.sh --local` and in
# Slurm jobs (docs/DISTRIBUTED.md).  A step runs in the shard's work
# directory, keeps the shard's IVF sample there (sample.vt) for the later
# passes, and leaves what goes back to the master in STEP-SHARD/ (written as
# STEP-SHARD.part/ and renamed when the step is complete), with time.txt, the
# seconds that the step took, key.txt, the step and its inputs (below), and
# run.txt, "computed" or "reused".
#
# --resume: a step whose STEP-SHARD/ is already there, with the same key,
# and whole (every stream verified with vcat --count: checksums and end
# marker; for sample, sample.vt too, with the rows of m.txt) is not run
# again: run.txt becomes "reused" and time.txt keeps the time it took.
# Anything else (a missing, partial or damaged result, other arguments) is
# removed and computed.  The key is the step's arguments, plus the size and
# time of the shard's file (count, sample) or a checksum of the centroids
# (refine, loss).
#
#   count  PATH                                     count.txt: "rows bytes"
#   sample PATH OFFSET TOTAL K RATE SEED NBITS SQMODE METRIC
#          sample.vt (kept); sq.vt (vsqbounds --partial), pq.vt (vsample --for pq
#          of the shard), m.txt (rows of sample.vt)
#   coreset K STREAM_RATE CORESET_RATE SEED FIRST_CHUNK TOTAL_ROWS BUDGET
#          coreset.vt (vcoreset of sample.vt)
#   refineP CENTROIDS                               acc.vt (vrefine --partial; P: the pass)
#   loss   CENTROIDS                                loss.vt (vloss --partial)
#   clean  DIR                                      removes DIR, the run's work dirs
#
# The steps of pipelines/distributed/assign.sh (vassign where the shard is):
#
#   info   PATH                                     info.txt: "rows ids" (ids: 1 when the
#          rows carry ids, else 0; vcat --info, which verifies the whole file)
#   assign PATH OFFSET DEST ARGS...                 vassign -q -j THREADS ARGS [--offset
#          OFFSET] of PATH (OFFSET -: the shard has ids); DEST -: the labels in
#          ASSIGN-S/labels.vt (returned), else kept here as labels.vt for leave;
#          rows.txt (their rows)
#   leave  DEST                                     the kept labels.vt to DEST (a hidden
#          name beside it, then a rename); path.txt
#   unleave DEST                                    removes DEST if it is a file (a
#          failed run's labels)
#
# Exit status: 0, or 1 with a message "vdist-worker: shard S: STEP: ..." (never
# 255, which is ssh's own).

vdist_worker() {
	local resume=
	if [ "${1-}" = --resume ]; then resume=1; shift; fi
	local step=$1 shard=$2 bin=$3 j=$4
	shift 4
	(
		set -eu -o pipefail
		fail() {
			echo "vdist-worker: shard $shard: $step: $*" >&2
			exit 1
		}
		[ -x "$bin/vsample" ] || fail "no vtrain programs in $bin on $(hostname)"
		t0=$(date +%s.%N)
		out=$step-$shard
		key="$step $*"
		case $step in
		count | sample | info | assign) key+=" $(stat -L -c '%s %Y' "$1" 2>/dev/null || echo -)" ;;
		refine* | loss) key+=" $(cksum <"$1" 2>/dev/null || echo -)" ;;
		esac
		whole() { # the files of $out, and sample.vt for sample
			local f
			[ "$(cat "$out/key.txt" 2>/dev/null)" = "$key" ] && [ -s "$out/time.txt" ] || return 1
			for f in "$out"/*.vt; do
				[ -e "$f" ] || continue
				"$bin/vcat" --count "$f" >/dev/null 2>&1 || return 1
			done
			case $step in
			count) [ -s "$out/count.txt" ] ;;
			sample)
				[ -s "$out/sq.vt" ] && [ -s "$out/pq.vt" ] &&
					[ "$("$bin/vcat" --count sample.vt 2>/dev/null)" = "$(cat "$out/m.txt")" ] ;;
			coreset) [ -s "$out/coreset.vt" ] ;;
			refine*) [ -s "$out/acc.vt" ] ;;
			loss) [ -s "$out/loss.vt" ] ;;
			info) [ -s "$out/info.txt" ] ;;
			assign) [ -s "$out/rows.txt" ] ;;
			*) return 1 ;;
			esac
		}
		if [ -n "$resume" ] && [ "$step" != clean ] && [ "$step" != unleave ] && [ -d "$out" ] && whole; then
			echo reused >"$out/run.txt.tmp" && mv "$out/run.txt.tmp" "$out/run.txt"
			exit 0
		fi
		if [ "$step" != clean ] && [ "$step" != unleave ]; then
			rm -rf "$out" "$out.part"
			mkdir "$out.part"
			echo "$key" >"$out.part/key.txt"
			echo computed >"$out.part/run.txt"
		fi
		case $step in
		count)
			[ $# = 1 ] || fail "usage: count PATH"
			[ -r "$1" ] || fail "$1: cannot read it on $(hostname)"
			rows=$("$bin/vcat" --count "$1") || fail "$1: vcat --count failed"
			bytes=$(stat -L -c %s "$1")
			echo "$rows $bytes" >"$out.part/count.txt"
			;;
		sample)
			[ $# = 9 ] || fail "usage: sample PATH OFFSET TOTAL K RATE SEED NBITS SQMODE METRIC"
			local path=$1 a=$2 n=$3 k=$4 rate=$5 seed=$6 nbits=$7 sqmode=$8 metric=$9
			"$bin/vsample" -q -k "$k" --sample-rate "$rate" --seed "$seed" --total "$n" \
				--metric "$metric" --offset "$a" -o sample.vt "$path" ||
				fail "$path: vsample (ivf) failed"
			"$bin/vsample" -q --for sq --seed "$seed" --total "$n" --offset "$a" \
				--metric "$metric" "$path" |
				"$bin/vsqbounds" -q --partial --mode "$sqmode" -o "$out.part/sq.vt" ||
				fail "$path: vsample (sq) | vsqbounds --partial failed"
			"$bin/vsample" -q --for pq --nbits "$nbits" --seed "$seed" --total "$n" \
				--metric "$metric" --offset "$a" -z -o "$out.part/pq.vt" "$path" ||
				fail "$path: vsample (pq) failed"
			"$bin/vcat" --count sample.vt >"$out.part/m.txt" || fail "sample.vt: unreadable"
			;;
		coreset)
			[ $# = 7 ] || fail "usage: coreset K STREAM_RATE CORESET_RATE SEED FIRST TOTAL BUDGET"
			"$bin/vcoreset" -q -k "$1" --stream-rate "$2" --coreset-rate "$3" --seed "$4" \
				--first-chunk "$5" --total-rows "$6" --budget "$7" -j "$j" -z \
				-o "$out.part/coreset.vt" sample.vt || fail "vcoreset failed"
			;;
		refine*)
			[ $# = 1 ] || fail "usage: refine CENTROIDS"
			"$bin/vrefine" -q --partial -c "$1" -j "$j" -o "$out.part/acc.vt" sample.vt ||
				fail "vrefine --partial -c $1 failed"
			;;
		loss)
			[ $# = 1 ] || fail "usage: loss CENTROIDS"
			"$bin/vloss" -q --partial -c "$1" -j "$j" -o "$out.part/loss.vt" sample.vt ||
				fail "vloss --partial -c $1 failed"
			;;
		info)
			[ $# = 1 ] || fail "usage: info PATH"
			[ -r "$1" ] || fail "$1: cannot read it on $(hostname)"
			"$bin/vcat" --info "$1" >"$out.part/info" || fail "$1: vcat --info failed"
			awk '$1 == "rows:" {r = $2} $1 == "columns:" {i = ($0 ~ /ids/)}
				END {if (r == "") exit 1; print r, i + 0}' "$out.part/info" >"$out.part/info.txt" ||
				fail "$1: vcat --info gave no row count"
			rm -f "$out.part/info"
			;;
		assign)
			[ $# -ge 3 ] || fail "usage: assign PATH OFFSET DEST ARGS..."
			local path=$1 offset=$2 dest=$3 labels
			shift 3
			[ "$offset" = - ] || set -- "$@" --offset "$offset"
			labels=$out.part/labels.vt
			[ "$dest" = - ] || labels=labels.vt
			"$bin/vassign" -q -j "$j" "$@" -o "$labels" "$path" || fail "$path: vassign failed"
			"$bin/vcat" --count "$labels" >"$out.part/rows.txt" || fail "$labels: unreadable"
			;;
		leave)
			[ $# = 1 ] || fail "usage: leave DEST"
			[ -s labels.vt ] || fail "labels.vt: not in $(pwd) on $(hostname) (the assign step did not run here)"
			local tmp
			tmp=$(dirname "$1")/.$(basename "$1").vdist-part
			{ mv -T labels.vt "$tmp" && mv -T "$tmp" "$1"; } || {
				rm -f "$tmp"
				fail "$1: cannot put the labels there on $(hostname)"
			}
			echo "$1" >"$out.part/path.txt"
			;;
		unleave)
			[ $# = 1 ] || fail "usage: unleave DEST"
			[ ! -f "$1" ] || rm -f "$1"
			exit 0
			;;
		clean)
			[ $# = 1 ] || fail "usage: clean DIR"
			rm -rf "$1"
			rmdir "$(dirname "$1")" 2>/dev/null || true
			exit 0
			;;
		*) fail "unknown step" ;;
		esac
		echo "$(date +%s.%N) $t0" | awk '{printf "%.3f\n", $1 - $2}' >"$out.part/time.txt"
		mv "$out.part" "$out"
	) || {
		rc=$?
		[ "$rc" = 255 ] && rc=1
		return "$rc"
	}
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	vdist_worker "$@"
fi
