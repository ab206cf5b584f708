#!/usr/bin/env bats
# pipelines/distributed/slurm-train.sh on a real Slurm cluster of one node:
# munged, slurmctld and slurmd started here (pipelines/distributed/
# slurm-local.sh) with a generated slurm.conf, keys, state and logs in a
# temporary directory, and stopped by pid.  The shards and the runs' work
# directories are on this machine's file system, which the "cluster" shares.
# If the cluster cannot start, setup_file fails with the reason: the suite
# never skips.

load helpers
source "$VT_TESTS_DIR/../pipelines/distributed/slurm-local.sh"

TRAIN="$VT_TESTS_DIR/../pipelines/distributed/train.sh"
STRAIN="$VT_TESTS_DIR/../pipelines/distributed/slurm-train.sh"
PARAMS=(-k 16 --sample-rate 64 --stream-rate 16 --coreset-rate 8 --pq-m 4 --nbits 6 --seed 3)

setup_file() {
	# The munge socket's path must be short.
	VT_SLURM=$(mktemp -d /tmp/vtslurm.XXXXXX)
	# 8 CPUs (the node's config overrides what it has), so that
	# DISTRIBUTED.md's -j 8 runs as written.
	export VT_SLURM SLURM_CONF=$VT_SLURM/slurm.conf VT_SLURM_CPUS=8
	if ! vtslurm_setup 2>"$VT_SLURM/setup.err"; then
		echo "# the Slurm cluster did not start: $(cat "$VT_SLURM/setup.err")" >&3
		return 1
	fi

	# The data: 6000 rows in 3 uneven shards, and the one-machine model.
	local data=$BATS_FILE_TMPDIR/data
	mkdir -p "$data"
	"$VT_BIN/vgen" -n 6000 -d 8 --means 40 --seed 2 -o "$data/all.vt"
	"$VT_BIN/vcat" --rows 0:2500 -o "$data/s0.vt" "$data/all.vt"
	"$VT_BIN/vcat" --rows 2500:4100 -o "$data/s1.vt" "$data/all.vt"
	"$VT_BIN/vcat" --rows 4100:6000 -o "$data/s2.vt" "$data/all.vt"
	printf 'fs %s\n' "$data/s0.vt" "$data/s1.vt" "$data/s2.vt" >"$data/manifest"
	"$TRAIN" --local -q --bin "$VT_BIN" "${PARAMS[@]}" "$data/manifest" "$data/ref"
}

teardown_file() {
	[ -n "${VT_SLURM:-}" ] || return 0
	vtslurm_teardown
	rm -rf "$VT_SLURM"
}

# strain OUT [options]: slurm-train.sh on the test's shards (manifest), in the
# cluster, looking at the queue every 0.3 s.
strain() {
	local out=$1
	shift
	"$STRAIN" --poll 0.3 --bin "${BIN:-$VT_BIN}" "${PARAMS[@]}" "$@" manifest "$out"
}

# shards: the shards in shard/ of the test's directory (a copy of the bytes),
# and manifest.
shards() {
	local s
	mkdir -p shard
	: >manifest
	for s in 0 1 2; do
		cp "$BATS_FILE_TMPDIR/data/s$s.vt" shard/
		echo "fs $PWD/shard/s$s.vt" >>manifest
	done
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

assert_queue_empty() {
	run -0 squeue -h
	assert_output ''
}

@test "slurm-train.sh: --help, and usage errors exit 2 with nothing on stdout" {
	run -0 "$STRAIN" --help
	assert_line --index 0 "Usage: slurm-train.sh [OPTIONS] MANIFEST OUT"
	run -2 --separate-stderr "$STRAIN" --bin "$VT_BIN" manifest out
	assert_output ''
	assert_err "give -k K"
	run -2 --separate-stderr "$STRAIN" --bin "$VT_BIN" -k 4 hosts manifest out
	assert_err "give MANIFEST OUT"
	run -2 --separate-stderr "$STRAIN" --bin "$VT_BIN" -k 4 --ssh ssh manifest out
	assert_err "--ssh: not with Slurm (use train.sh)"
	run -2 --separate-stderr "$STRAIN" --bin "$VT_BIN" -k 4 --poll soon manifest out
	assert_err "--poll is a number of seconds"
}

@test "slurm-train.sh: job arrays and chained jobs give the --local model, byte for byte" {
	shards
	run -0 --separate-stderr strain out --keep
	assert_same_model out
	run -0 cat out/report.txt
	assert_line --index 0 --partial "shards=3 n=6000 m=1024 k=16"
	# The jobs: an array per round, a job per master step, as submitted.
	run -0 awk '{print $1, $2}' .out.vdist/jobs.txt
	assert_output "task count
master offsets
task sample
master chunks
task coreset
master kmeans
task refine1
master apply1
master quantizers
task loss
master report"
	# Slurm ran every task of the arrays (its log says so), each shard in
	# its own work directory.
	local id
	id=$(awk '$2 == "sample" {print $3}' .out.vdist/jobs.txt)
	for s in 0 1 2; do
		run -0 grep -c "_job_complete: JobId=${id}_$s(.*) done" "$VT_SLURM/slurmctld.log"
		run -0 grep "step sample on" ".out.vdist/slurm/sample-$s.out"
		assert_output --partial "shard/.vdist/vdist-"
	done
	run -0 grep -E '^(count|sample|coreset|refine1|loss) ' out/transfer.txt
	assert_equal "${#lines[@]}" 5
	assert_queue_empty
	# Without --keep, nothing of the run is left but OUT.
	run -0 strain out2 -q
	assert_same_model out2
	assert_file_not_exists .out2.vdist
	assert_file_not_exists shard/.vdist
}

@test "slurm-train.sh: a failed task (a missing shard) fails the run, names the shard, leaves no model" {
	shards
	rm shard/s1.vt
	run -1 --separate-stderr strain out
	assert_err_regex "vdist: shard 1 \(fs:[^)]*/shard/s1\.vt\): step count failed \(Slurm job [0-9]+_1, FAILED\): vdist-worker: shard 1: count: [^ ]*/shard/s1\.vt: cannot read it"
	assert_err "vdist: stopped: step count failed on shard 1"
	assert_no_model out
	assert_queue_empty
}

# fault_bin: a copy of VT_BIN in which vrefine, in shard 2's work directory,
# kills the node when ctl/kill exists (once: the file is removed): it waits
# until the tasks of shards 0 and 1 are done (ctl/kill holds the run's jobs/
# directory), writes half its output, then kills slurmd and the slurmstepd
# that runs it.  The node stops answering; Slurm marks it down after
# SlurmdTimeout, and the task fails (NODE_FAIL).
fault_bin() {
	local fb=$BATS_TEST_TMPDIR/fbin ctl=$BATS_TEST_TMPDIR/ctl p
	mkdir -p "$fb" "$ctl"
	for p in "$VT_BIN"/v*; do ln -sf "$p" "$fb/"; done
	rm -f "$fb/vrefine"
	cat >"$fb/vrefine" <<-EOF
		#!/usr/bin/env bash
		real=$VT_BIN/vrefine ctl=$ctl slurmd_pid=$VT_SLURM/slurmd.pid
	EOF
	cat >>"$fb/vrefine" <<-'EOF'
		if [[ $PWD == */s2 ]] && jobs=$(cat "$ctl/kill" 2>/dev/null) && rm "$ctl/kill" 2>/dev/null; then
			for i in $(seq 600); do
				[ -e "$jobs/refine1-0.ok" ] && [ -e "$jobs/refine1-1.ok" ] && break
				sleep 0.1
			done
			"$real" "$@"
			for a in "$@"; do
				[ "${prev-}" != -o ] || truncate -s 100 "$a"
				prev=$a
			done
			kill -9 "$(cat "$slurmd_pid")"
			p=$$
			while [ "$p" -gt 1 ]; do
				[ "$(cat /proc/$p/comm)" != slurmstepd ] || kill -9 "$p"
				p=$(awk '/^PPid:/ {print $2}' /proc/$p/status)
			done
			exit 1
		fi
		exec "$real" "$@"
	EOF
	chmod +x "$fb/vrefine"
	echo "$fb"
}

# secs CMD...: run CMD; its wall time in seconds in $secs (CMD's status kept)
secs() {
	local t0 rc=0
	t0=$(date +%s.%N)
	"$@" || rc=$?
	secs=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
	return "$rc"
}

@test "slurm-train.sh --resume: the node dies in a task and comes back; the resume reuses what finished, same bytes" {
	shards
	BIN=$(fault_bin)
	secs run -0 strain full -q
	local t_full=$secs
	assert_same_model full
	echo "$PWD/.out.vdist/jobs" >"$BATS_TEST_TMPDIR/ctl/kill"
	secs run -1 --separate-stderr strain out -q
	local t_killed=$secs
	assert_file_not_exists "$BATS_TEST_TMPDIR/ctl/kill"
	assert_err_regex "vdist: shard 2 \(fs:[^)]*/shard/s2\.vt\): step refine1 failed \(Slurm job [0-9]+_2, NODE_FAIL\)"
	assert_err "vdist: stopped: step refine1 failed on shard 2"
	assert_err "the same command with --resume reuses them"
	assert_no_model out
	assert_queue_empty
	# The half-written accumulators never became a result.
	assert_file_exists shard/.vdist/vdist-*/s2/refine1-2.part/acc.vt
	assert_file_not_exists shard/.vdist/vdist-*/s2/refine1-2
	# The node comes back.
	run -0 vtslurm_slurmd
	secs run -0 --separate-stderr strain out -q --resume
	local t_resume=$secs
	assert_same_model out
	assert_file_not_exists .out.vdist
	assert_file_not_exists shard/.vdist
	sed -n '/^# attempt 2 (--resume)/,$p' out/logs/steps.log >attempt2
	run -0 grep -c . attempt2
	assert_output 20
	for l in "count shard 0: reused" "sample shard 1: reused" "sample shard 2: reused" \
		"coreset shard 2: reused" "master vkmeans: reused ivf-0.vt" \
		"refine1 shard 0: reused" "refine1 shard 1: reused" "refine1 shard 2: computed" \
		"master refine pass 1: computed ivf-1.vt" "loss shard 0: computed" "master vpq: computed pq.vt"; do
		run -0 grep -c "^$l" attempt2
		assert_output 1
	done
	run -0 grep -c ': reused' attempt2
	assert_output 12
	local skipped total
	skipped=$(grep ': reused' attempt2 | grep -o 'took [0-9.]*' | awk '{t += $2} END {printf "%.2f", t}')
	total=$(grep -o 'took [0-9.]*' attempt2 | awk '{t += $2} END {printf "%.2f", t}')
	echo "# resume: full run ${t_full}s, killed run ${t_killed}s, resume ${t_resume}s;" \
		"the resume reused 12 of 19 step results, ${skipped}s of ${total}s of step time" >&3
}

@test "docs: DISTRIBUTED.md's Slurm recipes run as written in the test's cluster" {
	local doc=$VT_TESTS_DIR/../docs/DISTRIBUTED.md recipe
	ln -s "$VT_TESTS_DIR/../pipelines" pipelines
	shards
	mv manifest shards.txt
	export BIN=$VT_BIN QUIET=1
	export SAMPLE_RATE=64 STREAM_RATE=16 CORESET_RATE=8 PQ_M=4 NBITS=6 SEED=3
	# The cluster recipe: the test's k (16 for 1024), and out/model here
	# for the shared /shared/out/model; its -j, --sbatch and partition as
	# written (slurm-local.sh's partition is "batch").
	recipe=$(block "$doc" "## Slurm" 1 sh)
	[[ $recipe == *'slurm-train.sh -k 1024 -j 8 --sbatch "-p batch -t 120" shards.txt /shared/out/model'* ]] ||
		fail "the Slurm recipe changed: $recipe"
	recipe=${recipe//-k 1024 /-k 16 }
	run -0 bash -euo pipefail -c "${recipe//\/shared\/out\/model/out/model}"
	assert_same_model out/model
	assert_queue_empty
	# "To try it by hand": its cluster lines are setup_file's and
	# teardown_file's (the cluster is up); its run, as written.
	recipe=$(block "$doc" "## Slurm" 2 sh)
	assert_equal "$(sed -n '1p;2p;4p' <<<"$recipe")" ". pipelines/distributed/slurm-local.sh
VT_SLURM=\$(mktemp -d /tmp/vts.XXXXXX) vtslurm_setup && export SLURM_CONF=\$VT_SLURM/slurm.conf
vtslurm_teardown"
	rm -rf out/model
	run -0 bash -euo pipefail -c "$(sed -n 3p <<<"$recipe")"
	assert_same_model out/model
	assert_queue_empty
}

@test "slurm-train.sh: a job that can never start (-j over the node's CPUs) stops the run, naming it and Slurm's reason; no job is left" {
	shards
	run -1 --separate-stderr strain out -j 64
	assert_err_regex '^vdist: Slurm job [0-9_]+(\[[0-9-]+\])? \(vdist-count\) can never start: PartitionConfig \(it asks more than the partition has: 64 CPUs per task by -j'
	assert_no_model out
	assert_queue_empty
}
