#!/usr/bin/env bash
# slurm-train.sh: distributed IVF, PQ and SQ training as Slurm jobs.
usage() {
	cat <<'EOF'
Usage: slurm-train.sh [OPTIONS] MANIFEST OUT

Train IVF centroids, a PQ codebook and SQ bounds over a data set in shards on
a cluster with Slurm and a shared file system, and leave the model directory
OUT: the same files as train.sh (ivf.vt pq.vt sq.vt, their .npy exports,
report.txt, transfer.txt, logs/), and the same bytes as `train.sh --local`
on the same shards.  Run it on a login node; it submits the jobs, waits for
them, and exits 0 once OUT is in place.

MANIFEST  the shards, one a line, in data-set order: HOST PATH, as for
          train.sh; HOST is a label only (any node runs any shard), PATH the
          shard's file (any file vcat reads) on the shared file system.

The steps of train.sh, as jobs: each per-shard step is a job array (one task
per shard: worker.sh in the shard's work directory), each of the master's
steps a job, chained with --dependency=afterok: count[] -> offsets ->
sample[] -> chunks -> coreset[] -> kmeans -> (refineP[] -> applyP) x
REFINE_PASSES -> quantizers and loss[] -> report.  A task's results are
copied to the run's directory, where the master's jobs read them.

Options: those of train.sh (see train.sh --help) but --ssh and --local:
-k --sample-rate --stream-rate --coreset-rate --refine-passes --seed -j
--pq-m --nbits --sq-mode --bin --remote-bin (the programs on the nodes)
--remote-dir (the shards' work directories: default a .vdist directory beside
each shard's file) --retries N (a task tries its step N more times)
--keep --resume -q -h; and
  --sbatch ARGS         more sbatch options for every job, split at spaces,
                        e.g. "-p batch -t 60" (SBATCH_ARGS; Slurm's own
                        SBATCH_* variables work too)
  --poll SECONDS        how often to look at the queue (POLL, default 5)

The jobs are submitted with --no-requeue: a task on a node that fails fails
the run (then --resume); --sbatch --requeue lets Slurm run it again itself.

-j J is each job's --cpus-per-task and the threads of its programs.  A job
that Slurm says can never start (PartitionConfig, e.g. -j over a node's CPUs;
PartitionTimeLimit; BadConstraints; ...) stops the run, naming it.

Exit status: 0 ok; 1 a failed job (the message names the step and the
shard, with its Slurm job and the last line of its log); 2 usage.  OUT
appears only when complete.  A failed run keeps .OUT.vdist (step results,
logs/, slurm/ with each job's output) for --resume.  See
docs/DISTRIBUTED.md.
EOF
}

set -Eeuo pipefail
trap 'echo "vdist: a command failed (exit $?) at line $LINENO of slurm-train.sh (a full disk?)" >&2' ERR
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) vd_here=$here
self=$here/$(basename "${BASH_SOURCE[0]}")
vd_usage="Usage: slurm-train.sh [OPTIONS] MANIFEST OUT (slurm-train.sh --help)"
# shellcheck source=lib.sh
. "$here/lib.sh"


# --- in a job: --job task STEP STATE | --job master NAME STATE ----------------

# task STEP: this array task's shard, in its work directory; the results
# copied to the run's work directory; jobs/STEP-S.ok when done.
job_task() {
	local step=$1 s=${SLURM_ARRAY_TASK_ID:?not in an array task} t0 a args=() try vargs
	t0=$(now)
	rm -rf "${work:?}/$step-$s" "$state/jobs/$step-$s.ok"
	case $step in
	count) ;;
	sample) vd_counts ;;
	*) vd_counts; vd_samples ;;
	esac
	case " $(vd_shards "$step") " in
	*" $s "*) ;;
	*)
		echo "$(where "$s"): step $step: an empty sample, nothing to do"
		touch "$state/jobs/$step-$s.ok"
		return 0
		;;
	esac
	mkdir -p "${swd[$s]}" || die "$(where "$s"): step $step: cannot create ${swd[$s]}"
	mapfile -t vargs < <(vd_args "$step")
	for a in "${vargs[@]}"; do
		case $a in
		'{PATH}') a=${spath[$s]} ;;
		'{OFFSET}') a=${offset[$s]} ;;
		'{FIRST}') a=${first[$s]} ;;
		*.vt) cp "$work/$a" "${swd[$s]}/" || die "$(where "$s"): step $step: cannot copy $a" ;;
		esac
		args+=("$a")
	done
	echo "$(where "$s"): step $step on $(hostname -s) in ${swd[$s]}"
	for ((try = 0; ; try++)); do
		(cd "${swd[$s]}" && vdist_worker ${RESUME:+--resume} "$step" "$s" "$REMOTE_BIN" "$J" "${args[@]}") && break
		[ "$try" -lt "${RETRIES:-0}" ] || die "$(where "$s"): step $step failed on $(hostname -s)"
		echo "$(where "$s"): step $step: trying again"
	done
	cp -r "${swd[$s]}/$step-$s" "$work/$step-$s.tmp" && mv "$work/$step-$s.tmp" "$work/$step-$s" ||
		die "$(where "$s"): step $step: cannot copy its results to $work"
	echo "$step $t0 $(now)" >"$logs/rounds.d/$step-$s"
	touch "$state/jobs/$step-$s.ok"
}

# master NAME: the master's step after a round; jobs/NAME.ok when done.
job_master() {
	local name=$1
	rm -f "$state/jobs/$name.ok"
	case $name in
	offsets) vd_check_round count "$(vd_shards count)"; vd_counts ;;
	chunks) vd_counts; vd_check_round sample "$(vd_shards sample)"; vd_samples ;;
	kmeans) vd_counts; vd_samples; vd_check_round coreset "$nonempty"; vd_kmeans; vd_ivf ;;
	apply*) vd_counts; vd_samples; vd_check_round "refine${name#apply}" "$nonempty"; vd_apply "${name#apply}" ;;
	quantizers) vd_counts; vd_samples; vd_quantizers ;;
	report)
		vd_counts; vd_samples; vd_check_round loss "$nonempty"
		cat "$logs"/rounds.d/* >"$logs/rounds.txt" 2>/dev/null || true
		vd_model
		vd_install
		;;
	*) die "no master step $name" ;;
	esac
	touch "$state/jobs/$name.ok"
}

if [ "${1-}" = --job ]; then
	[ $# = 4 ] || usage_error "--job task|master NAME STATE"
	# shellcheck source=/dev/null
	. "$4/config.sh"
	cd "$work"
	case $2 in
	task) job_task "$3" ;;
	master) job_master "$3" ;;
	*) usage_error "--job task|master NAME STATE" ;;
	esac
	exit 0
fi

# --- submit ------------------------------------------------------------------

SBATCH_ARGS=${SBATCH_ARGS:-} POLL=${POLL:-5}
vd_option() {
	case $1 in
	--sbatch) SBATCH_ARGS=${2-}; vd_used=2 ;;
	--poll) POLL=${2-}; vd_used=2 ;;
	--ssh | --local) usage_error "$1: not with Slurm (use train.sh)" ;;
	*) return 1 ;;
	esac
}
vd_defaults
vd_parse "$@"
[[ $POLL =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "--poll is a number of seconds (got '$POLL')"
[ ${#args[@]} = 2 ] || usage_error "give MANIFEST OUT"
manifest=${args[0]}
for p in sbatch squeue scancel; do
	command -v "$p" >/dev/null || die "no $p: is this a Slurm login node? (Debian: slurm-client)"
done
vd_check_bin
vd_group() { echo slurm; }
vd_manifest "$manifest"
vd_open "${args[1]}"

ids=()
ok=
finish() {
	local rc=$? id
	if [ -z "$ok" ] && [ ${#ids[@]} -gt 0 ]; then
		for id in "${ids[@]}"; do scancel "$id" 2>/dev/null || true; done
	fi
	if [ -n "$ok" ] && [ -z "$KEEP" ]; then
		local s
		for ((s = 0; s < S; s++)); do rm -rf "$(dirname "${swd[$s]}")"; done
		for ((s = 0; s < S; s++)); do rmdir "$(dirname "$(dirname "${swd[$s]}")")" 2>/dev/null || true; done
		rm -rf "$state"
	elif [ -n "$ok" ]; then
		echo "$prog: kept $state and the shards' $runid directories" >&2
	else
		echo "$prog: the finished steps are kept in $state and the shards' $runid" \
			"directories: the same command with --resume reuses them (without it, the run starts over)" >&2
	fi
	if [ -z "$ok" ] && [ "$rc" = 0 ]; then rc=1; fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$state/jobs" "$state/slurm" "$logs/rounds.d" "$state/installed"
mkdir -p "$state/jobs" "$state/slurm" "$logs/rounds.d"
declare -p K SAMPLE_RATE STREAM_RATE CORESET_RATE REFINE_PASSES SEED J PQ_M NBITS SQ_MODE METRIC \
	BIN REMOTE_BIN RETRIES RESUME S shost spath swd sgrp out outdir state work logs runid \
	>"$state/config.sh"
: >"$state/jobs.txt"

# sub task|master NAME [JOBID...]: submit NAME after the jobs JOBID (afterok);
# its id in $last.
sub() {
	local kind=$1 name=$2 o id
	shift 2
	o=(--parsable -J "vdist-$name" --chdir "$state" --kill-on-invalid-dep=yes --no-requeue -c "$J")
	[ $# = 0 ] || o+=("--dependency=afterok:$(IFS=:; echo "$*")")
	if [ "$kind" = task ]; then
		o+=(--array "0-$((S - 1))" -o "$state/slurm/$name-%a.out")
	else
		o+=(-o "$state/slurm/$name.out")
	fi
	# shellcheck disable=SC2206
	o+=($SBATCH_ARGS)
	id=$(sbatch "${o[@]}" --wrap "exec bash $(q "$self") --job $kind $(q "$name") $(q "$state")") ||
		die "sbatch of $name failed"
	id=${id%%;*}
	ids+=("$id")
	echo "$kind $name $id" >>"$state/jobs.txt"
	last=$id
}
sub task count
sub master offsets "$last"
sub task sample "$last"
sub master chunks "$last"
sub task coreset "$last"
sub master kmeans "$last"
for ((p = 1; p <= REFINE_PASSES; p++)); do
	sub task "refine$p" "$last"
	sub master "apply$p" "$last"
done
ivf=$last
sub master quantizers "$ivf"
quant=$last
sub task loss "$ivf"
sub master report "$quant" "$last"
final=$last
[ -n "$QUIET" ] || echo "$prog: submitted ${#ids[@]} jobs (${ids[0]} to $final), in $state/jobs.txt"

# --- wait: until the report job has left the queue ------------------------------

# A job that waits for a reason that cannot pass (it asks more than the
# partition has, or a dependency that can no longer be met) would keep the
# run waiting forever: stop it (finish cancels the jobs), naming the job and
# Slurm's reason.
never_runs() {
	local line id reason
	line=$(squeue -h -j "$(IFS=,; echo "${ids[*]}")" -t PENDING -o '%i %j %r' 2>/dev/null |
		grep -E ' (PartitionConfig|BadConstraints|PartitionNodeLimit|PartitionTimeLimit|DependencyNeverSatisfied|InvalidAccount|InvalidQOS)$' |
		head -n1) || return 1
	[ -n "$line" ] || return 1
	read -r id name reason <<<"$line"
	case $reason in
	PartitionConfig | PartitionNodeLimit)
		die "Slurm job $id ($name) can never start: $reason (it asks more than the partition has: $J CPUs per task by -j, and --sbatch's options)" ;;
	PartitionTimeLimit)
		die "Slurm job $id ($name) can never start: $reason (--sbatch's -t is over the partition's MaxTime)" ;;
	*) die "Slurm job $id ($name) can never start: $reason" ;;
	esac
}

while :; do
	if st=$(squeue -h -j "$final" -o %T 2>&1); then
		[ -n "$st" ] || break
	else
		case $st in *"Invalid job id"*) break ;; esac
		echo "$prog: squeue failed (trying again): $st" >&2
	fi
	never_runs || true
	sleep "$POLL"
done

# jobstate ID: Slurm's state of job ID, while Slurm still knows it.
jobstate() {
	scontrol -o show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n1 | cut -d= -f2 || true
}

if [ ! -e "$state/jobs/report.ok" ] || [ ! -d "$out" ]; then
	# The first job, in the order of the chain, that did not finish.
	while read -r kind name id; do
		if [ "$kind" = task ]; then
			bad=()
			for ((s = 0; s < S; s++)); do [ -e "$state/jobs/$name-$s.ok" ] || bad+=("$s"); done
			[ ${#bad[@]} -gt 0 ] || continue
			for s in "${bad[@]}"; do
				msg=$(grep -h 'vdist-worker:' "$state/slurm/$name-$s.out" 2>/dev/null | tail -n1 || true)
				[ -n "$msg" ] || msg=$(grep -h 'vdist' "$state/slurm/$name-$s.out" 2>/dev/null | tail -n1 || true)
				[ -n "$msg" ] || msg=$(tail -n1 "$state/slurm/$name-$s.out" 2>/dev/null || true)
				st=$(jobstate "${id}_$s")
				echo "$prog: $(where "$s"): step $name failed (Slurm job ${id}_$s${st:+, $st}): ${msg:-no output}" >&2
			done
			die "stopped: step $name failed on shard$([ ${#bad[@]} = 1 ] || echo s) ${bad[*]}"
		fi
		if [ ! -e "$state/jobs/$name.ok" ]; then
			msg=$(grep -h 'vdist' "$state/slurm/$name.out" 2>/dev/null | tail -n3 | paste -sd' ' - || true)
			st=$(jobstate "$id")
			die "master: $name failed (Slurm job $id${st:+, $st}): ${msg:-see $state/slurm/$name.out}"
		fi
	done <"$state/jobs.txt"
	die "the jobs ended without a model (see $state/slurm/)"
fi
ok=1
[ -n "$QUIET" ] || { cat "$out/report.txt"; cat "$out/transfer.txt"; }
