#!/usr/bin/env bats
# pipelines/distributed/train.sh: distributed training over ssh with GNU
# parallel, on real sshd hosts.  The test starts one sshd per loopback address
# (127.0.0.2, 127.0.0.3, 127.0.0.4: a host is an address) on a high port, with
# a temporary host key, user key and config; each host keeps its shards in a
# directory of its own (host2/, host3/, host4/ of the test's directory).  The
# hosts share this machine's file system, so the workers run the programs of
# VT_BIN by absolute path.

load helpers
source "$VT_TESTS_DIR/../pipelines/distributed/loopback.sh"

TRAIN="$VT_TESTS_DIR/../pipelines/distributed/train.sh"
MK="$VT_TESTS_DIR/../pipelines/stream-train.mk"
PARAMS=(-k 16 --sample-rate 64 --stream-rate 16 --coreset-rate 8 --pq-m 4 --nbits 6 --seed 3)

# --- the hosts ----------------------------------------------------------------

setup_file() {
	[ -x /usr/sbin/sshd ] || skip "needs /usr/sbin/sshd (Debian openssh-server)"
	command -v ssh >/dev/null || skip "needs ssh (Debian openssh-client)"
	command -v parallel >/dev/null || skip "needs GNU parallel (Debian parallel)"
	command -v rsync >/dev/null || skip "needs rsync (GNU parallel's --return)"
	# The control sockets need a short path.
	VT_CM=$(mktemp -d /tmp/vdist-cm.XXXXXX)
	export VT_CM VT_SSHD=$BATS_FILE_TMPDIR/ssh
	vdist_lo_setup 2 3 4 || {
		echo "# could not start the sshd hosts: $(cat "$VT_SSHD"/sshd-*.log 2>/dev/null)" >&3
		return 1
	}

	# The data: 6000 rows in 3 uneven shards, and the one-machine model.
	local data=$BATS_FILE_TMPDIR/data
	mkdir -p "$data"
	"$VT_BIN/vgen" -n 6000 -d 8 --means 40 --seed 2 -o "$data/all.vt"
	"$VT_BIN/vcat" --rows 0:2500 -o "$data/s0.vt" "$data/all.vt"
	"$VT_BIN/vcat" --rows 2500:4100 -o "$data/s1.vt" "$data/all.vt"
	"$VT_BIN/vcat" --rows 4100:6000 -o "$data/s2.vt" "$data/all.vt"
	printf 'x %s\n' "$data/s0.vt" "$data/s1.vt" "$data/s2.vt" >"$data/manifest"
	"$TRAIN" --local -q --bin "$VT_BIN" "${PARAMS[@]}" "$data/manifest" "$data/ref"
}

teardown_file() {
	[ -n "${VT_SSHD:-}" ] || return 0
	vdist_lo_teardown 2 3 4
}

teardown() {
	# the small disk of the full-disk test, if an assertion left it mounted
	if mountpoint -q "$BATS_TEST_TMPDIR/work/small" 2>/dev/null; then
		umount "$BATS_TEST_TMPDIR/work/small"
	fi
}

# The hosts of pipelines/distributed/loopback.sh, under the test's names.
start_host() { vdist_lo_start "$@"; }
stop_host() { vdist_lo_stop "$@"; }
wait_host() { vdist_lo_wait "$@"; }

# --- the layout of a run ---------------------------------------------------------

# place H0 H1 H2: shard s lives in host${Hs}/ (a copy of the same bytes);
# writes hosts.slf (the hosts used) and manifest.
place() {
	local s h hosts=()
	: >manifest
	for s in 0 1 2; do
		h=$1
		shift
		mkdir -p "$BATS_TEST_TMPDIR/host$h"
		cp "$BATS_FILE_TMPDIR/data/s$s.vt" "$BATS_TEST_TMPDIR/host$h/s$s.vt"
		echo "127.0.0.$h $BATS_TEST_TMPDIR/host$h/s$s.vt" >>manifest
		hosts+=("127.0.0.$h")
	done
	printf '2/%s\n' "${hosts[@]}" | awk '!seen[$0]++' >hosts.slf
}

# dist OUT [train.sh options]: the distributed run, with the test's ssh.
dist() {
	local out=$1
	shift
	"$TRAIN" --bin "${BIN:-$VT_BIN}" --ssh "ssh -F $VT_SSHD/ssh_config" "${PARAMS[@]}" "$@" \
		hosts.slf manifest "$out"
}

assert_same_model() { # assert_same_model DIR: DIR's models are the local run's bytes
	local f
	for f in ivf.vt pq.vt sq.vt ivf.npy pq.npy sq.npy report.txt; do
		assert_files_equal "$1/$f" "$BATS_FILE_TMPDIR/data/ref/$f"
	done
}

# assert_no_model OUT: no OUT, no model directory of the run, no exported
# model or report among the step results it keeps (.OUT.vdist) for --resume.
assert_no_model() {
	assert_file_not_exists "$1"
	local st
	st=$(dirname "$1")/.$(basename "$1").vdist
	assert_file_not_exists "$st/model"
	if [ -d "$st" ]; then
		run -0 find "$st" -name '*.npy' -o -name report.txt
		assert_output ''
	fi
}

assert_workers_clean() { # the hosts' .vdist directories hold no run
	local left
	left=$(find "$BATS_TEST_TMPDIR" -path '*/.vdist/*' -maxdepth 4 2>/dev/null || true)
	assert_equal "$left" ''
}

# fault_bin: a copy of VT_BIN in which vsample, vcoreset and vrefine are
# wrappers that misbehave when a control file in $BATS_TEST_TMPDIR/ctl says
# so (the hosts share the file system, so the files reach them):
#   ctl/die     vsample --for sq of a shard under host3/ writes 3000 bytes, then
#               kills the sshd session that runs it (the host dies mid-stream);
#               the file is removed, so it happens once
#   ctl/slow    vcoreset in a work dir under host2/ waits 2 s first (host2's
#               results arrive last)
#   ctl/stale   vrefine in a work dir under host3/ keeps the first centroids it
#               is given and uses them for every later pass (a stale partial)
#   ctl/kill    vrefine in a work dir under host4/ writes half its output, then
#               kills host 4: its sshd and the session that runs the job (the
#               host is gone mid-step); the file is removed, so it happens once
#   ctl/assign  vassign in a work dir under host3/ fails with a message
fault_bin() {
	local fb=$BATS_TEST_TMPDIR/fbin ctl=$BATS_TEST_TMPDIR/ctl p
	mkdir -p "$fb" "$ctl"
	for p in "$VT_BIN"/v*; do ln -sf "$p" "$fb/"; done
	for p in vsample vcoreset vrefine vassign; do
		rm -f "$fb/$p"
		cat >"$fb/$p" <<-EOF
			#!/usr/bin/env bash
			real=$VT_BIN/$p ctl=$ctl sshd_pid=$VT_SSHD/sshd-4.pid
		EOF
		cat >>"$fb/$p" <<-'EOF'
			name=${real##*/}
			if [ "$name" = vsample ] && [[ " $* " == *"/host3/"* && " $* " == *" sq "* ]] &&
				rm "$ctl/die" 2>/dev/null; then
				"$real" "$@" | head -c 3000
				p=$$
				while [ "$p" -gt 1 ]; do
					if [ "$(cat /proc/$p/comm)" = sshd ]; then kill -9 "$p"; break; fi
					p=$(awk '/^PPid:/ {print $2}' /proc/$p/status)
				done
				exit 1
			fi
			if [ "$name" = vassign ] && [ -e "$ctl/assign" ] && [[ $PWD == */host3/* ]]; then
				echo "vassign: injected failure on host3" >&2
				exit 1
			fi
			if [ "$name" = vcoreset ] && [ -e "$ctl/slow" ] && [[ $PWD == */host2/* ]]; then
				sleep 2
			fi
			if [ "$name" = vrefine ] && [[ $PWD == */host4/* ]] && rm "$ctl/kill" 2>/dev/null; then
				"$real" "$@"
				for a in "$@"; do
					[ "${prev-}" != -o ] || truncate -s 100 "$a"
					prev=$a
				done
				kill -9 "$(cat "$sshd_pid")"
				p=$$
				while [ "$p" -gt 1 ]; do
					if [ "$(cat /proc/$p/comm)" = sshd ]; then kill -9 "$p"; fi
					p=$(awk '/^PPid:/ {print $2}' /proc/$p/status)
				done
				exit 1
			fi
			if [ "$name" = vrefine ] && [ -e "$ctl/stale" ] && [[ $PWD == */host3/* ]]; then
				args=() prev=
				for a in "$@"; do
					if [ "$prev" = -c ]; then
						[ -e "$ctl/stale.vt" ] || cp "$a" "$ctl/stale.vt"
						a=$ctl/stale.vt
					fi
					args+=("$a") prev=$a
				done
				set -- "${args[@]}"
			fi
			exec "$real" "$@"
		EOF
		chmod +x "$fb/$p"
	done
	echo "$fb"
}

# --- tests -----------------------------------------------------------------------

@test "train.sh: --help, and usage errors exit 2 with nothing on stdout" {
	run -0 "$TRAIN" --help
	assert_line --index 0 "Usage: train.sh [OPTIONS] SSHLOGINFILE MANIFEST OUT"
	assert_output --partial "--local"
	run -2 --separate-stderr "$TRAIN" --bin "$VT_BIN" hosts manifest out
	assert_output ''
	assert_err "give -k K"
	run -2 --separate-stderr "$TRAIN" --bin "$VT_BIN" -k 4 manifest out
	assert_output ''
	assert_err "give SSHLOGINFILE MANIFEST OUT"
	run -2 --separate-stderr "$TRAIN" --bin "$VT_BIN" -k 4 --sq-mode meanstd a b c
	assert_err "--sq-mode is global or dim"
	# A manifest host that is not an sshlogin.
	place 2 3 4
	echo "127.0.0.9 $BATS_TEST_TMPDIR/host2/s0.vt" >>manifest
	run -1 --separate-stderr dist out
	assert_err "manifest: line 4: host 127.0.0.9 is not in hosts.slf"
	assert_no_model out
}

@test "train.sh --local: one shard gives stream-train.mk's model, byte for byte" {
	echo "x $BATS_FILE_TMPDIR/data/all.vt" >one
	run -0 "$TRAIN" --local -q --bin "$VT_BIN" "${PARAMS[@]}" one out
	make -s -f "$MK" DATA="$BATS_FILE_TMPDIR/data/all.vt" K=16 OUT=mk BIN="$VT_BIN" SAMPLE_RATE=64 \
		STREAM_RATE=16 CORESET_RATE=8 PQ_M=4 NBITS=6 SEED=3 >/dev/null
	assert_files_equal out/ivf.vt mk/ivf.vt
	assert_files_equal out/pq.vt mk/pq.vt
	# The same bounds (vsqbounds of merged partials leaves out the row count).
	run -0 vcat --to text mk/sq.vt
	sq_mk=$output
	run -0 vcat --to text out/sq.vt
	assert_output "$sq_mk"
	run -0 sed -n 2p mk/report.txt
	refute_output ''
	run -0 sed -n 2p out/report.txt
	assert_output "$(sed -n 2p mk/report.txt)"
	# Three shards are another model (it depends on the shards), with the
	# same SQ bounds (the same sample).
	run -1 cmp -s out/ivf.vt "$BATS_FILE_TMPDIR/data/ref/ivf.vt"
	run -0 vcat --to text "$BATS_FILE_TMPDIR/data/ref/sq.vt"
	assert_output "$sq_mk"
}

@test "train.sh --local --metric cosine: stream-train.mk's METRIC=cosine model, byte for byte" {
	echo "x $BATS_FILE_TMPDIR/data/all.vt" >one
	run -0 "$TRAIN" --local -q --bin "$VT_BIN" "${PARAMS[@]}" --metric cosine one out
	make -s -f "$MK" DATA="$BATS_FILE_TMPDIR/data/all.vt" K=16 OUT=mk BIN="$VT_BIN" SAMPLE_RATE=64 \
		STREAM_RATE=16 CORESET_RATE=8 PQ_M=4 NBITS=6 SEED=3 METRIC=cosine >/dev/null
	assert_files_equal out/ivf.vt mk/ivf.vt
	assert_files_equal out/pq.vt mk/pq.vt
	local f
	for f in ivf pq sq; do
		run -0 vcat --info "out/$f.vt"
		assert_line "meta.metric: cosine"
	done
	run -1 cmp -s out/ivf.vt "$BATS_FILE_TMPDIR/data/ref/ivf.vt"
	run -2 "$TRAIN" --local -q --bin "$VT_BIN" "${PARAMS[@]}" --metric ip one out2
	assert_output --partial "--metric is l2, cosine or dot (got 'ip')"
}

@test "train.sh --local --metric dot: stream-train.mk's METRIC=dot model (spherical), byte for byte" {
	echo "x $BATS_FILE_TMPDIR/data/all.vt" >one
	run -0 "$TRAIN" --local -q --bin "$VT_BIN" "${PARAMS[@]}" --metric dot one out
	make -s -f "$MK" DATA="$BATS_FILE_TMPDIR/data/all.vt" K=16 OUT=mk BIN="$VT_BIN" SAMPLE_RATE=64 \
		STREAM_RATE=16 CORESET_RATE=8 PQ_M=4 NBITS=6 SEED=3 METRIC=dot >/dev/null
	assert_files_equal out/ivf.vt mk/ivf.vt
	assert_files_equal out/pq.vt mk/pq.vt
	local f
	for f in ivf pq sq; do
		run -0 vcat --info "out/$f.vt"
		assert_line "meta.metric: dot"
	done
}

@test "train.sh: 3 hosts give the local run's model, byte for byte; bytes moved per host" {
	place 2 3 4
	run -0 --separate-stderr dist out
	assert_same_model out
	for f in transfer.txt logs/vkmeans.log logs/count.joblog logs/refine1.joblog; do
		assert_file_exists "out/$f"
	done
	run -0 cat out/report.txt
	assert_line --index 0 --partial "shards=3 n=6000 m=1024 k=16"
	# One line per host: its raw data, what was sent to it and returned.
	run -0 grep -E '^127\.0\.0\.[234] +1 +[0-9]+ +[0-9]+ +[0-9]+ ' out/transfer.txt
	assert_equal "${#lines[@]}" 3
	run -0 awk '$1 == "127.0.0.3" {print $3}' out/transfer.txt
	assert_output "$(stat -c %s "$BATS_TEST_TMPDIR/host3/s1.vt")"
	# Each shard's jobs ran on its host.
	run -0 awk -F'\t' 'NR > 1 {split($9, w, " "); print w[3], $2}' out/logs/sample.joblog
	assert_line "0 127.0.0.2"
	assert_line "1 127.0.0.3"
	assert_line "2 127.0.0.4"
	assert_workers_clean
}

@test "train.sh: 1 and 2 hosts, results in another order: the same model" {
	BIN=$(fault_bin)
	place 2 2 2
	run -0 dist out1
	assert_same_model out1
	# host2 holds shards 0 and 2, host3 shard 1; host2's coresets come last.
	touch "$BATS_TEST_TMPDIR/ctl/slow"
	place 2 3 2
	run -0 dist out2
	assert_same_model out2
	# (the jobs in the order they ended)
	run -0 bash -c "awk -F'\t' 'NR > 1 {split(\$9, w, \" \"); printf \"%.3f %s\\n\", \$3 + \$4, w[3]}' \
		out2/logs/coreset.joblog | sort -n | cut -d' ' -f2"
	assert_line --index 0 1
	assert_workers_clean
}

@test "train.sh: shard paths with spaces (HOST, a tab, PATH), --local and over the hosts: the same model" {
	place 2 3 4
	local s h
	: >manifest
	for s in 0 1 2; do
		h=$((s + 2))
		mkdir -p "$BATS_TEST_TMPDIR/host$h/my shards"
		mv "$BATS_TEST_TMPDIR/host$h/s$s.vt" "$BATS_TEST_TMPDIR/host$h/my shards/part $s.vt"
		printf '127.0.0.%s\t%s\n' "$h" "$BATS_TEST_TMPDIR/host$h/my shards/part $s.vt" >>manifest
	done
	run -0 "$TRAIN" --local -q --bin "$VT_BIN" "${PARAMS[@]}" manifest local
	assert_same_model local
	run -0 --separate-stderr dist out -q
	assert_same_model out
	# without the tab, a path with spaces is refused, naming the line
	printf '127.0.0.2 %s\n' "$BATS_TEST_TMPDIR/host2/my shards/part 0.vt" >manifest
	run -1 --separate-stderr dist out2 -q
	assert_err "manifest: line 1: expected HOST PATH (a tab between them when the path has spaces)"
}

@test "train.sh: a host that dies mid-stream stops the run naming it and the shard; --retries completes it" {
	BIN=$(fault_bin)
	place 2 3 4
	touch "$BATS_TEST_TMPDIR/ctl/die"
	run -1 --separate-stderr dist out
	assert_err_regex "vdist: host 127\.0\.0\.3: shard 1 \(127\.0\.0\.3:[^)]*/host3/s1\.vt\): step sample failed"
	assert_no_model out
	assert_file_not_exists "$BATS_TEST_TMPDIR/ctl/die"
	# GNU parallel tries the job again (on the same host: it holds the shard).
	touch "$BATS_TEST_TMPDIR/ctl/die"
	run -0 dist out --retries 2
	assert_file_not_exists "$BATS_TEST_TMPDIR/ctl/die"
	assert_same_model out
}

@test "train.sh: an unreachable host stops the run naming it and its shard; a rerun gives the same model" {
	place 2 3 4
	stop_host 4
	run -1 --separate-stderr dist out
	assert_err_regex "vdist: host 127\.0\.0\.4: shard 2 \(127\.0\.0\.4:[^)]*/host4/s2\.vt\): step count failed: ssh"
	assert_no_model out
	start_host 4
	wait_host 4
	run -0 dist out
	assert_same_model out
}

@test "train.sh: a full disk on the master stops the run naming the host and shard, with no model" {
	# (A rerun with room gives the same model: see the tests above.)
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	mkdir small
	mount -t tmpfs -o size=160k tmpfs small 2>/dev/null || skip "cannot mount a tmpfs here"
	place 2 3 4
	run -1 --separate-stderr dist small/out
	umount small
	assert_err_regex "vdist: host 127\.0\.0\.[234]: shard [012] \([^)]*\): step [a-z0-9]+: "
	assert_no_model small/out
}

@test "train.sh: a partial computed against stale centroids is refused (vmerge, centroids_id)" {
	BIN=$(fault_bin)
	place 2 3 4
	touch "$BATS_TEST_TMPDIR/ctl/stale"
	run -1 --separate-stderr dist out --refine-passes 2
	assert_err "refine2-1/acc.vt"
	assert_err "vdist: master: refine pass 2: vmerge of the accumulators failed"
	assert_err_regex "vdist: host 127\.0\.0\.3: shard 1 \([^)]*\): refine pass 2: its accumulators were not computed against ivf-1\.vt"
	run -0 grep -c "its accumulators were not" <<<"$stderr"
	assert_output 1
	assert_no_model out
}

# secs CMD...: run CMD; its wall time in seconds in $secs (CMD's status kept)
secs() {
	local t0 rc=0
	t0=$(date +%s.%N)
	"$@" || rc=$?
	secs=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
	return "$rc"
}

@test "train.sh --resume: a host killed mid-run comes back; the resume reuses what finished, redoes a damaged sample, same bytes" {
	BIN=$(fault_bin)
	place 2 3 4
	# An uninterrupted run, for its time.
	secs run -0 dist full -q
	assert_same_model full
	local t_full=$secs
	# Host 4 dies in refine pass 1, after counts, samples, coresets and vkmeans.
	touch "$BATS_TEST_TMPDIR/ctl/kill"
	secs run -1 --separate-stderr dist out -q
	local t_killed=$secs
	assert_file_not_exists "$BATS_TEST_TMPDIR/ctl/kill"
	assert_err_regex "vdist: host 127\.0\.0\.4: shard 2 \(127\.0\.0\.4:[^)]*/host4/s2\.vt\): step refine1 failed: ssh failed"
	assert_err "the same command with --resume reuses them"
	assert_no_model out
	# The step's half-written accumulators never became a result.
	local w4
	w4=$(echo "$BATS_TEST_TMPDIR"/host4/.vdist/vdist-*/s2)
	assert_file_exists "$w4/refine1-2.part/acc.vt"
	assert_file_not_exists "$w4/refine1-2"
	# Host 4 comes back; shard 0's sample on host 2 is damaged meanwhile.
	stop_host 4
	start_host 4
	wait_host 4
	local s0
	s0=$(echo "$BATS_TEST_TMPDIR"/host2/.vdist/vdist-*/s0/sample.vt)
	flip_byte "$s0" damaged.vt $(($(stat -c %s "$s0") / 2))
	cp damaged.vt "$s0"
	run -1 vcat --count "$s0"
	secs run -0 --separate-stderr dist out -q --resume
	local t_resume=$secs
	assert_same_model out
	assert_workers_clean
	assert_file_not_exists .out.vdist
	# The logs of the second attempt: what was reused, what was computed.
	sed -n '/^# attempt 2 (--resume)/,$p' out/logs/steps.log >attempt2
	run -0 grep -c . attempt2
	assert_output 20
	for l in "count shard 0: reused" "count shard 1: reused" "count shard 2: reused" \
		"sample shard 0: computed" "sample shard 1: reused" "sample shard 2: reused" \
		"coreset shard 0: reused" "coreset shard 1: reused" "coreset shard 2: reused" \
		"master vkmeans: reused ivf-0.vt" \
		"refine1 shard 0: reused" "refine1 shard 1: reused" "refine1 shard 2: computed" \
		"master refine pass 1: computed ivf-1.vt" "loss shard 0: computed" "master vpq: computed pq.vt"; do
		run -0 grep -c "^$l" attempt2
		assert_output 1
	done
	# The seconds of work that the resume skipped, of the work of a run.
	local skipped total
	skipped=$(grep ': reused' attempt2 | grep -o 'took [0-9.]*' | awk '{t += $2} END {printf "%.2f", t}')
	total=$(grep -o 'took [0-9.]*' attempt2 | awk '{t += $2} END {printf "%.2f", t}')
	echo "# resume: full run ${t_full}s, killed run ${t_killed}s, resume ${t_resume}s;" \
		"the resume reused $(grep -c ': reused' attempt2) of 19 step results, ${skipped}s of ${total}s of step time" >&3
}

# --- assign.sh: vassign where the shards live ---------------------------------------

ASSIGN="$VT_TESTS_DIR/../pipelines/distributed/assign.sh"

# dassign [assign.sh options]: over the hosts of place's hosts.slf and manifest.
dassign() {
	"$ASSIGN" --bin "${BIN:-$VT_BIN}" --ssh "ssh -F $VT_SSHD/ssh_config" hosts.slf manifest "$@"
}

# assert_no_labels: no shard's labels beside it, no run state, no work
# directory on the hosts.
assert_no_labels() {
	run -0 find "$BATS_TEST_TMPDIR" -name '*.labels.vt' -o -name '.*.vdist-part' -o -name '.*.vdist'
	assert_output ''
	assert_workers_clean
}

@test "assign.sh: 3, 2 and 1 hosts merge into one vassign's bytes over all the rows; --pq --top -z -j; extra options" {
	local ref=$BATS_FILE_TMPDIR/data/ref all=$BATS_FILE_TMPDIR/data/all.vt
	vassign -q -c "$ref/ivf.vt" -o one.vt "$all"
	vassign -q -c "$ref/ivf.vt" --pq "$ref/pq.vt" --top 3 -z -o onepq.vt "$all"
	place 2 3 4
	run -0 --separate-stderr dassign -c "$ref/ivf.vt" -o out.vt
	assert_output ''
	# (a line, not the first: a host's login shell may print before it, as
	# pyenv's rehash in a .bashrc does when sessions start at once)
	assert_err_regex $'(^|\n)vdist: assign: shards=3 rows=6000 out=.*/out\.vt time='
	assert_files_equal out.vt one.vt
	assert_workers_clean
	assert_file_not_exists .out.vt.vdist
	# The labels differ from the first's: the test would see a wrong merge.
	run -1 cmp -s onepq.vt one.vt
	# Where the shards are, how many run at once, and -j change no byte.
	place 2 2 3
	run -0 dassign -q --keep -c "$ref/ivf.vt" --pq "$ref/pq.vt" --top 3 -z -j 2 -o "out 2 2 3.vt"
	assert_files_equal "out 2 2 3.vt" onepq.vt
	# Each shard's job ran on its host (the joblog of a --keep run).
	run -0 awk -F'\t' 'NR > 1 {split($9, w, " "); print w[3], $2}' ".out 2 2 3.vt.vdist/logs/assign.joblog"
	assert_line "0 127.0.0.2"
	assert_line "1 127.0.0.2"
	assert_line "2 127.0.0.3"
	rm -rf ".out 2 2 3.vt.vdist"
	rm -rf "$BATS_TEST_TMPDIR"/host*/.vdist
	# --local: the same bytes.
	run -0 "$ASSIGN" --local -q --bin "$VT_BIN" -c "$ref/ivf.vt" --pq "$ref/pq.vt" --top 3 -z manifest -o local.vt
	assert_files_equal local.vt onepq.vt
	# Options after -- go to vassign as they are; --send ships a file that
	# they name (here the codebook, as --pq would).
	run -0 dassign -q -c "$ref/ivf.vt" --top 3 -z --send "$ref/pq.vt" -o sent.vt -- --pq pq.vt --batch-rows 300
	assert_files_equal sent.vt onepq.vt
}

@test "assign.sh --leave: one labels stream beside each shard, their paths printed; they merge into one run's bytes" {
	local ref=$BATS_FILE_TMPDIR/data/ref all=$BATS_FILE_TMPDIR/data/all.vt s
	vassign -q -c "$ref/ivf.vt" --pq "$ref/pq.vt" --top 2 -o one.vt "$all"
	place 2 3 4
	run -0 --separate-stderr dassign -c "$ref/ivf.vt" --pq "$ref/pq.vt" --top 2 --leave
	assert_equal "${#lines[@]}" 3
	assert_line --index 0 "$(printf '127.0.0.2\t%s' "$BATS_TEST_TMPDIR/host2/s0.labels.vt")"
	assert_line --index 1 "$(printf '127.0.0.3\t%s' "$BATS_TEST_TMPDIR/host3/s1.labels.vt")"
	assert_line --index 2 "$(printf '127.0.0.4\t%s' "$BATS_TEST_TMPDIR/host4/s2.labels.vt")"
	assert_err_regex $'(^|\n)vdist: assign: shards=3 rows=6000 left time='
	# Each is vassign of its shard with the shard's offset.
	local off=(0 2500 4100) f=()
	for s in 0 1 2; do
		vassign -q -c "$ref/ivf.vt" --pq "$ref/pq.vt" --top 2 --offset "${off[$s]}" -o "l$s.vt" \
			"$BATS_FILE_TMPDIR/data/s$s.vt"
		assert_files_equal "$BATS_TEST_TMPDIR/host$((s + 2))/s$s.labels.vt" "l$s.vt"
		f+=("$BATS_TEST_TMPDIR/host$((s + 2))/s$s.labels.vt")
	done
	vmerge -q -o m.vt "${f[2]}" "${f[0]}" "${f[1]}"
	assert_files_equal m.vt one.vt
	assert_workers_clean
	assert_file_not_exists .manifest.labels.vdist
	# A shard without an extension gets NAME.labels.vt; two shards that would
	# leave the same file are refused before any work.
	mv "$BATS_TEST_TMPDIR/host2/s0.vt" "$BATS_TEST_TMPDIR/host2/s0"
	sed -i "s|/host2/s0.vt|/host2/s0|" manifest
	run -0 --separate-stderr dassign -q -c "$ref/ivf.vt" --leave
	assert_line --index 0 "$(printf '127.0.0.2\t%s' "$BATS_TEST_TMPDIR/host2/s0.labels.vt")"
	cp "$BATS_TEST_TMPDIR/host3/s1.vt" "$BATS_TEST_TMPDIR/host3/s1.npy"
	echo "127.0.0.3 $BATS_TEST_TMPDIR/host3/s1.npy" >>manifest
	run -1 --separate-stderr dassign -q -c "$ref/ivf.vt" --leave
	assert_err "vdist: manifest: shards 1 and 3 would both leave their labels in 127.0.0.3:$BATS_TEST_TMPDIR/host3/s1.labels.vt"
}

@test "assign.sh: shards with ids keep them (no offsets); a mix of shards with and without ids is refused" {
	local ref=$BATS_FILE_TMPDIR/data/ref s
	vcat --ids -o allids.vt "$BATS_FILE_TMPDIR/data/all.vt"
	vassign -q -c "$ref/ivf.vt" -o one.vt allids.vt
	place 2 3 4
	vcat --rows 0:2500 -o "$BATS_TEST_TMPDIR/host2/s0.vt" allids.vt
	vcat --rows 2500:4100 -o "$BATS_TEST_TMPDIR/host3/s1.vt" allids.vt
	vcat --rows 4100: -o "$BATS_TEST_TMPDIR/host4/s2.vt" allids.vt
	run -0 dassign -q -c "$ref/ivf.vt" -o out.vt
	assert_files_equal out.vt one.vt
	# shard 1 without ids: its rows would be numbered from 2500 as well
	cp "$BATS_FILE_TMPDIR/data/s1.vt" "$BATS_TEST_TMPDIR/host3/s1.vt"
	run -1 --separate-stderr dassign -q -c "$ref/ivf.vt" -o out2.vt
	assert_err_regex "vdist: shard 1 \(127\.0\.0\.3:.*/host3/s1\.vt\) has no ids, and 2 of the 3 shards have: all the shards or none"
	assert_file_not_exists out2.vt
	assert_no_labels
}

@test "assign.sh: a failing host names itself and its shard; no labels are left, anywhere" {
	local ref=$BATS_FILE_TMPDIR/data/ref
	BIN=$(fault_bin)
	place 2 3 4
	touch "$BATS_TEST_TMPDIR/ctl/assign"
	cp "$BATS_FILE_TMPDIR/data/all.vt" old.vt
	cp old.vt out.vt
	run -1 --separate-stderr dassign -q -c "$ref/ivf.vt" --pq "$ref/pq.vt" -o out.vt
	assert_err "vassign: injected failure on host3"
	assert_err_regex "vdist: host 127\.0\.0\.3: shard 1 \(127\.0\.0\.3:[^)]*/host3/s1\.vt\): step assign failed: exit 1"
	assert_err "vdist: stopped: step assign failed on 127.0.0.3"
	# An earlier FILE is replaced only by a complete one.
	assert_files_equal out.vt old.vt
	assert_no_labels
	rm "$BATS_TEST_TMPDIR/ctl/assign"
	# A labels file that cannot be put in place (a directory in the way):
	# the labels already placed are removed too.
	mkdir -p "$BATS_TEST_TMPDIR/host4/s2.labels.vt/x"
	run -1 --separate-stderr dassign -q -c "$ref/ivf.vt" --leave
	assert_err_regex "vdist: host 127\.0\.0\.4: shard 2 .*: step leave failed: exit 1"
	assert_err "vdist: removing the labels put in place so far"
	assert_output ''
	assert_dir_exists "$BATS_TEST_TMPDIR/host4/s2.labels.vt/x"
	rm -r "$BATS_TEST_TMPDIR/host4/s2.labels.vt"
	assert_no_labels
	# An unreachable host: the first round stops, naming it.
	stop_host 4
	run -1 --separate-stderr dassign -q -c "$ref/ivf.vt" -o out2.vt
	start_host 4
	wait_host 4
	assert_err_regex "vdist: host 127\.0\.0\.4: shard 2 \(127\.0\.0\.4:[^)]*/host4/s2\.vt\): step info failed: ssh failed"
	assert_file_not_exists out2.vt
	# (host 4 was down: only hosts 2 and 3 were cleaned)
	rm -rf "$BATS_TEST_TMPDIR"/host4/.vdist
	assert_no_labels
}

@test "assign.sh: usage errors exit 2 before any work; a model that vassign refuses stops the run before any host" {
	local ref=$BATS_FILE_TMPDIR/data/ref
	run -0 "$ASSIGN" --help
	assert_line --index 0 "Usage: assign.sh [OPTIONS] SSHLOGINFILE MANIFEST -c IVF (-o FILE | --leave) [-- VASSIGN-OPTIONS]"
	place 2 3 4
	run -2 --separate-stderr dassign -o out.vt
	assert_output ''
	assert_err "vdist: give -c IVF, the centroids"
	run -2 --separate-stderr dassign -c "$ref/ivf.vt"
	assert_err "vdist: give -o FILE (the merged labels) or --leave"
	run -2 --separate-stderr dassign -c "$ref/ivf.vt" -o out.vt --leave
	assert_err "vdist: -o and --leave: give one"
	run -2 --separate-stderr dassign -c "$ref/ivf.vt" -o out.vt -k 16
	assert_err "vdist: -k: an option of train.sh, not of assign.sh"
	run -2 --separate-stderr dassign -c "$ref/ivf.vt" -o out.vt --top two
	assert_err "vdist: TOP must be a whole number (got 'two')"
	run -2 --separate-stderr dassign -c "$ref/ivf.vt" -o out.vt --metric ip
	assert_err "vdist: --metric is l2, cosine or dot (got 'ip')"
	run -2 --separate-stderr dassign -c "$ref/ivf.vt" -o out.vt -- --offset 5
	assert_err "vdist: --offset after --: assign.sh sets it (give -c and -o to assign.sh)"
	run -2 --separate-stderr "$ASSIGN" --bin "$VT_BIN" -c "$ref/ivf.vt" -o out.vt manifest
	assert_err "vdist: give SSHLOGINFILE MANIFEST"
	run -2 --separate-stderr "$ASSIGN" --local --bin "$VT_BIN" -c "$ref/ivf.vt" -o out.vt hosts.slf manifest
	assert_err "vdist: --local takes MANIFEST"
	# What vassign refuses, here, before any host: its usage errors (exit 2),
	# a codebook of other centroids (exit 1), naming both files.
	run -2 --separate-stderr dassign -c "$ref/ivf.vt" -o out.vt --top 99
	assert_err "vdist: vassign: --top: '99' is not a whole number from 1 to 64"
	run -2 --separate-stderr dassign -c "$ref/ivf.vt" -o out.npy
	assert_err "vdist: vassign: -o out.npy: vassign writes a vtrain stream, not npy"
	run -2 --separate-stderr dassign -c "$ref/ivf.vt" -o out.vt -- --no-such-option
	assert_err_regex "vdist: vassign: .*no-such-option"
	vkmeans -q -k 8 -o other.vt "$BATS_FILE_TMPDIR/data/all.vt"
	run -1 --separate-stderr dassign -c other.vt --pq "$ref/pq.vt" -o out.vt
	assert_err_regex "vdist: vassign: .*pq-pq\.vt: codebook trained against other centroids"
	assert_err "vdist: vassign refused the model or the options (above), here, before any host was used"
	run -1 --separate-stderr dassign -c missing.vt -o out.vt
	assert_err "vdist: missing.vt: cannot read it"
	for f in out.vt .out.vt.vdist; do assert_file_not_exists "$f"; done
	assert_no_labels
}

# --- docs/DISTRIBUTED.md ---------------------------------------------------------

# dist_doc N: the N-th sh block of docs/DISTRIBUTED.md (from 1, in the
# document's order), on the test's scale: -k 16 for -k 1024, --pq-m 4 for
# --pq-m 16 (d = 8); the other parameters are PARAMS's, by the environment
# variables that train.sh documents.
dist_doc() {
	local b
	b=$(block "$VT_TESTS_DIR/../docs/DISTRIBUTED.md" "# Distributed training" "$1" sh)
	[ -n "$b" ] || fail "docs/DISTRIBUTED.md has no sh block $1"
	b=${b//-k 1024 /-k 16 }
	printf '%s\n' "${b//--pq-m 16 /--pq-m 4 }"
}

@test "docs: DISTRIBUTED.md's ssh recipes (train, assign, --send, resume) run as written, on the test's hosts" {
	# The layout the recipes name: pipelines/, hosts.slf, shards.txt; the
	# programs and the test's ssh through train.sh's environment variables.
	ln -s "$VT_TESTS_DIR/../pipelines" pipelines
	place 2 3 4
	mv manifest shards.txt
	export BIN=$VT_BIN SSH="ssh -F $VT_SSHD/ssh_config" QUIET=1
	export SAMPLE_RATE=64 STREAM_RATE=16 CORESET_RATE=8 PQ_M=4 NBITS=6 SEED=3
	local ref=$BATS_FILE_TMPDIR/data/ref all=$BATS_FILE_TMPDIR/data/all.vt recipe
	# Training, over the hosts and here: the one-machine model, twice.
	recipe=$(dist_doc 1)
	[[ $recipe == *"train.sh -k 16 -j 4 --pq-m 4 hosts.slf shards.txt out/model"* ]] ||
		fail "the training recipe changed: $recipe"
	run -0 bash -euo pipefail -c "$recipe"
	assert_same_model out/model
	assert_same_model out/model-here
	# Labels: merged (-o), left beside the shards (--leave), and here.
	recipe=$(dist_doc 2)
	[[ $recipe == *"--leave >labels.txt"* ]] || fail "the labels recipe changed: $recipe"
	run -0 bash -euo pipefail -c "$recipe"
	vassign -q -c out/model/ivf.vt --pq out/model/pq.vt -o one.vt "$all"
	assert_files_equal labels.vt one.vt
	vassign -q -c out/model/ivf.vt -o one-here.vt "$all"
	assert_files_equal labels-here.vt one-here.vt
	assert_equal "$(wc -l <labels.txt)" 3
	local left
	mapfile -t left < <(cut -f2 labels.txt)
	run -0 vmerge -o left.vt "${left[@]}"
	assert_files_equal left.vt one-here.vt
	# vassign's own options after --, and --send: the SQ codes.
	cp out/model/ivf.vt ivf.vt
	vsqbounds -q -c ivf.vt -o sq.vt "$all"
	recipe=$(dist_doc 3)
	[[ $recipe == *"--send sq.vt"* ]] || fail "the --send recipe changed: $recipe"
	run -0 bash -euo pipefail -c "$recipe"
	vassign -q -c ivf.vt --sq sq.vt -o one-sq.vt "$all"
	assert_files_equal labels.vt one-sq.vt
	# Resume: host 3 is down for the first command (exit 1, as the recipe
	# says), back for the second.
	rm -rf out/model
	recipe=$(dist_doc 4)
	[[ $recipe == *"--resume"* ]] || fail "the resume recipe changed: $recipe"
	stop_host 3
	run -1 bash -euo pipefail -c "$(sed -n 1p <<<"$recipe")"
	assert_no_model out/model
	start_host 3
	wait_host 3
	run -0 bash -euo pipefail -c "$(sed -n 2p <<<"$recipe")"
	assert_same_model out/model
}
