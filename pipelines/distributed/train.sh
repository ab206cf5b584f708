#!/usr/bin/env bash
# train.sh: distributed IVF, PQ and SQ training over ssh with GNU parallel.
usage() {
	cat <<'EOF'
Usage: train.sh [OPTIONS] SSHLOGINFILE MANIFEST OUT
       train.sh --local [OPTIONS] MANIFEST OUT

Train IVF centroids, a PQ codebook and SQ bounds over a data set whose shards
live on several hosts, and leave the model directory OUT: ivf.vt pq.vt sq.vt,
their .npy exports, report.txt (vloss of the IVF centroids over the sample,
merged from per-host partials), transfer.txt (bytes moved per host) and logs/.
The work runs where the data is; only small streams cross the network.

SSHLOGINFILE  GNU parallel sshlogins, one a line: [NCPUS/]SSHLOGIN, e.g.
              "4/root@10.0.0.5" (NCPUS shards of that host at once; default 1).
MANIFEST      the shards, one a line, in data-set order: HOST PATH, where HOST
              is an sshlogin's host (its last word, with or without user@)
              and PATH the shard's file on that host (any file vcat reads);
              a PATH with spaces goes after a tab: HOST<TAB>PATH.
              Lines starting with # are ignored.

Steps: row counts (vcat --count) on each host, then global offsets; on each
host: vsample --offset/--total of each shard (kept there), vsqbounds --partial
and the shard's PQ sample (returned), then vcoreset of the shard's sample with
chunks numbered from the shard's position (returned); master: vmerge ->
vkmeans; REFINE_PASSES x (vrefine --partial on each host against the broadcast
centroids -> vmerge -> vrefine --apply); master: vpq on the PQ sample (the
shards' parts in shard order), vmerge | vsqbounds; vloss --partial on each
host -> vmerge -> vloss.  The model depends on the shards and their order,
never on the hosts or on the order in which results arrive; --local runs the
same steps on this machine, one shard after another, and gives the same bytes.

Options (environment variables of the same name in capitals work too):
  -k K                  IVF centroids (required)
  --sample-rate R       sample rows per centroid (SAMPLE_RATE, default 256)
  --stream-rate R       coreset chunk rows per centroid (STREAM_RATE, 64)
  --coreset-rate R      coreset points per centroid (CORESET_RATE, 16)
  --refine-passes P     distributed Lloyd passes (REFINE_PASSES, 1)
  --seed S              the seed of every step (SEED, 1)
  -j J                  threads of each program (J, default 1)
  --pq-m M              PQ sub-spaces (PQ_M, 16; must divide d)
  --nbits B             PQ bits (NBITS, 8)
  --sq-mode MODE        global or dim (SQ_MODE, dim)
  --metric METRIC       l2 or cosine (METRIC, l2): vsample normalises the rows
                        under cosine, and every later step reads it from them
  --bin DIR             vtrain programs on this machine (BIN, default build/bin)
  --remote-bin DIR      vtrain programs on the workers (REMOTE_BIN, default: BIN
                        as an absolute path)
  --remote-dir DIR      work directory on the workers (REMOTE_DIR; default: a
                        .vdist directory beside each shard's file)
  --ssh CMD             ssh command for parallel (SSH, default ssh)
  --retries N           GNU parallel --retries: try a failing job N times
  --keep                keep the work directories (master and workers)
  --resume              reuse what an earlier, failed run of the same OUT
                        finished: each step result that is whole (its
                        streams verified) and was computed from the same
                        inputs; redo the rest (the same bytes as one run)
  --local               run every step here, one shard after another
  -q                    no summary on stdout
  -h, --help            this help

Exit status: 0 ok; 1 a failed step (the message names the host and shard);
2 usage.  OUT appears only when complete (built in the run's directory
.OUT.vdist beside it, and renamed).  A failed run keeps .OUT.vdist and the
workers' directories for --resume; a run without --resume starts over.
See docs/DISTRIBUTED.md.
EOF
}

set -Eeuo pipefail
trap 'echo "vdist: master: a command failed (exit $?) at line $LINENO of train.sh (a full disk?)" >&2' ERR
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) vd_here=$here
# shellcheck source=worker.sh
. "$here/worker.sh"
export -f vdist_worker
# shellcheck source=lib.sh
. "$here/lib.sh"

prog=vdist
die() {
	echo "$prog: $*" >&2
	exit 1
}
usage_error() {
	echo "$prog: $*" >&2
	echo "Usage: train.sh [OPTIONS] SSHLOGINFILE MANIFEST OUT (train.sh --help)" >&2
	exit 2
}
vd_option() { return 1; } # (no options of its own)

vd_defaults
vd_parse "$@"
if [ -n "$LOCAL" ]; then
	[ ${#args[@]} = 2 ] || usage_error "--local takes MANIFEST OUT"
	slf='' manifest=${args[0]} out=${args[1]}
else
	[ ${#args[@]} = 3 ] || usage_error "give SSHLOGINFILE MANIFEST OUT"
	slf=${args[0]} manifest=${args[1]} out=${args[2]}
	command -v parallel >/dev/null || die "GNU parallel is not installed (Debian: parallel)"
	[ -r "$slf" ] || die "$slf: cannot read the sshlogin file"
fi
[ -r "$manifest" ] || die "$manifest: cannot read the manifest"
vd_check_bin

# --- hosts and shards --------------------------------------------------------

# The sshlogins: NCPUS (default 1) and the login, whose last word is the host.
hosts=() logins=() ncpus=()
if [ -z "$LOCAL" ]; then
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%%#*}
		line=$(echo "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
		[ -n "$line" ] || continue
		line=$(echo "$line" | sed 's|^@[^/]*/||')
		n=1
		if [[ $line =~ ^([0-9]+)/(.*)$ ]]; then
			n=${BASH_REMATCH[1]} line=${BASH_REMATCH[2]}
		fi
		logins+=("$line") ncpus+=("$n") hosts+=("${line##* }")
	done <"$slf"
	[ ${#logins[@]} -gt 0 ] || die "$slf: no sshlogins"
fi
host_index() { # host_index NAME: the sshlogin whose host is NAME (user@ optional)
	local i
	for i in "${!hosts[@]}"; do
		if [ "${hosts[$i]}" = "$1" ] || [ "${hosts[$i]#*@}" = "$1" ] || [ "${hosts[$i]}" = "${1#*@}" ]; then
			echo "$i"
			return 0
		fi
	done
	return 1
}
vd_group() { # vd_group HOST LINE: the shard's GNU parallel (h + sshlogin), or local
	local g
	[ -z "$LOCAL" ] || { echo local; return 0; }
	g=$(host_index "$1") || die "$manifest: line $2: host $1 is not in $slf"
	echo "h$g"
}
vd_manifest "$manifest"

# The state: $state (work/ logs/), kept when the run fails, for --resume.
vd_open "$out"
ok=
finish() {
	local rc=$?
	if [ -n "$ok" ] && [ -z "$KEEP" ]; then
		clean_workers || true
		rm -rf "$state"
	elif [ -n "$ok" ]; then
		echo "$prog: kept $state and the workers' $runid directories" >&2
	else
		rm -rf "$state/model"
		echo "$prog: the finished steps are kept in $state and the workers' $runid" \
			"directories: the same command with --resume reuses them (without it, the run starts over)" >&2
	fi
	if [ -z "$ok" ] && [ "$rc" = 0 ]; then rc=1; fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$work"

# --- rounds: one job per shard, where the shard is --------------------------

# A round runs one GNU parallel per host, each with that host's sshlogin
# alone, all at once: a shard's jobs can only run where its data is, and
# --retries then tries a failed job again on the same host.  (One parallel
# with --hostgroups pins jobs as well, but GNU parallel 20221122 never
# retries a job whose host group holds one host: it waits for another.)

# round STEP [FILE]: run `vdist_worker STEP S ...` (lib.sh's vd_args) for
# each shard S of STEP on its host (or here, with --local), then check that
# every shard's STEP-S/ came back whole.  The words {PATH} {OFFSET} {FIRST}
# of the arguments become the shard's own; FILE (in the work directory, the
# centroids) is sent to each job.
round() {
	local step=$1 tf=${2:--} shards
	[ "$tf" != - ] || tf=
	shards=$(vd_shards "$step")
	local log=$logs/$step.joblog t0 s g i
	t0=$(now)
	local a cmd
	cmd="vdist_worker ${RESUME:+--resume }$step {1} $(q "$REMOTE_BIN") $J"
	for a in $(vd_args "$step"); do
		case $a in
		'{PATH}') cmd+=" {4}" ;;
		'{OFFSET}') cmd+=" {5}" ;;
		'{FIRST}') cmd+=" {6}" ;;
		*) cmd+=" $(q "$a")" ;;
		esac
	done
	# The jobs of each host: its shards, in columns joined with --link.
	local groups='' row
	declare -A col=()
	for s in $shards; do
		g=${sgrp[$s]}
		case " $groups " in *" $g "*) ;; *) groups+=" $g" ;; esac
		row=("$s" "${swd[$s]}" "${shost[$s]}" "${spath[$s]}" "${offset[$s]:-0}" "${first[$s]:-0}")
		for i in 0 1 2 3 4 5; do col[$g.$i]+="${col[$g.$i]:+$'\n'}${row[$i]}"; done
		rm -rf "$step-$s"
	done
	if [ -n "$LOCAL" ]; then
		local wd path off fc lcmd
		printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n' >"$log"
		while IFS=$'\t' read -r s wd _ path off fc; do
			mkdir -p "$wd"
			[ -z "$tf" ] || cp "$tf" "$wd/" || die "$step: cannot copy $tf for $(where "$s")"
			lcmd=${cmd//\{1\}/$s}
			lcmd=${lcmd//\{4\}/$(q "$path")} lcmd=${lcmd//\{5\}/$off} lcmd=${lcmd//\{6\}/$fc}
			(cd "$wd" && eval "$lcmd") || die "$(where "$s"): step $step failed"
			cp -r "$wd/$step-$s" . || die "$(where "$s"): step $step: cannot copy its output here"
		done < <(paste <(echo "${col[local.0]}") <(echo "${col[local.1]}") <(echo "${col[local.2]}") \
			<(echo "${col[local.3]}") <(echo "${col[local.4]}") <(echo "${col[local.5]}"))
	else
		local pids=() gs=()
		for g in $groups; do
			i=${g#h}
			local popts=(--will-cite --ssh "$SSH" -S "${ncpus[$i]}/${logins[$i]}" --link
				--env vdist_worker --wd '{2}' --return "$step-{1}" --joblog "$step.$g.joblog"
				--halt now,fail=1 --tagstring "{3} shard {1}:")
			[ -z "$RETRIES" ] || popts+=(--retries "$RETRIES")
			[ -z "$tf" ] || popts+=(--tf "$tf")
			local srcs=() list
			for a in 0 1 2 3 4 5; do
				mapfile -t list <<<"${col[$g.$a]}"
				srcs+=(::: "${list[@]}")
			done
			parallel "${popts[@]}" "$cmd" "${srcs[@]}" 9<&- &
			pids+=($!) gs+=("$g")
		done
		local prc=0 bad=
		for i in "${!pids[@]}"; do
			wait "${pids[$i]}" || { prc=$?; bad+=" ${gs[$i]}"; }
		done
		# The joblogs name the host and the shard of every failed job.
		head -n1 "$step.${gs[0]}.joblog" >"$log" 2>/dev/null || true
		for g in "${gs[@]}"; do tail -n +2 "$step.$g.joblog" >>"$log" 2>/dev/null || true; done
		local failed
		failed=$(awk -F'\t' 'NR > 1 && ($7 != 0 || $8 != 0) {
			split($9, w, " "); printf "%s %s %s %s\n", w[3], $2, $7, $8 }' "$log")
		if [ -n "$failed" ]; then
			local sh hst ev sig msg=
			while read -r sh hst ev sig; do
				if [ "$ev" = 255 ]; then
					msg="ssh failed (exit 255: the host is unreachable, or the connection was lost)"
				elif [ "$sig" != 0 ]; then
					msg="killed by signal $sig"
				else
					msg="exit $ev"
				fi
				echo "$prog: host $hst: $(where "$sh"): step $step failed: $msg" >&2
			done <<<"$failed"
			die "stopped: step $step failed on $(echo "$failed" | awk '{print $2}' | sort -u | paste -sd' ' -)"
		fi
		[ "$prc" = 0 ] || die "step $step: GNU parallel failed (exit $prc) on$(for g in $bad; do echo -n " ${hosts[${g#h}]}"; done)"
	fi
	# Everything that should have come back did, and is whole.
	vd_check_round "$step" "$shards"
	echo "$step $t0 $(now)" >>"$logs/rounds.txt"
}

clean_workers() {
	[ ${#swd[@]} -gt 0 ] || return 0
	local s
	if [ -n "$LOCAL" ]; then
		for ((s = 0; s < S; s++)); do vdist_worker clean "$s" "$REMOTE_BIN" 1 "$(dirname "${swd[$s]}")" || true; done
		return 0
	fi
	local pids=() i
	for i in "${!logins[@]}"; do
		local dirs=()
		for ((s = 0; s < S; s++)); do
			[ "${sgrp[$s]}" = "h$i" ] && dirs+=("$(dirname "${swd[$s]}")")
		done
		[ ${#dirs[@]} -gt 0 ] || continue
		(cd / && timeout 60 parallel --will-cite --ssh "$SSH" -S "1/${logins[$i]}" --env vdist_worker \
			"vdist_worker clean 0 $(q "$REMOTE_BIN") 1 {}" ::: "${dirs[@]}" >/dev/null 2>&1 9<&-) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || true; done
}

# --- the steps ----------------------------------------------------------------

mapfile -t steps < <(vd_steps)
for sc in "${steps[@]}"; do
	read -r step c <<<"$sc"
	round "$step" "$c"
	case $step in
	count) vd_counts ;;
	sample) vd_samples ;;
	coreset) vd_kmeans; vd_ivf ;;
	refine*) vd_apply "${step#refine}" ;;
	loss) vd_quantizers ;;
	esac
done
vd_model
vd_install
ok=1
[ -n "$QUIET" ] || { cat "$out/report.txt"; cat "$out/transfer.txt"; }
