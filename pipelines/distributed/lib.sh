# lib.sh: what train.sh (ssh, --local), slurm-train.sh and assign.sh share:
# the options, the manifest, the run's state directory and resume, the
# arguments of each per-shard step, the master's steps, and the rounds over
# ssh.  Sourced (bash) with vd_here (this directory) and vd_usage (the
# caller's usage line) set; it sources worker.sh (vdist_worker, exported for
# GNU parallel's --env).
#
# The master's steps run in the work directory ($work) and read only files:
# the shards' results STEP-S/ (returned by ssh, or copied there by the Slurm
# tasks) and the master's earlier results.  So a step can run in another
# process (a Slurm job) or in a later attempt (--resume) of the same run.

# shellcheck source=worker.sh
. "$vd_here/worker.sh"
export -f vdist_worker

prog=vdist
die() {
	echo "$prog: $*" >&2
	exit 1
}
usage_error() {
	echo "$prog: $*" >&2
	echo "$vd_usage" >&2
	exit 2
}

q() { printf '%q' "$1"; }
now() { date +%s.%N; }

vd_defaults() {
	K=${K:-} SAMPLE_RATE=${SAMPLE_RATE:-256} STREAM_RATE=${STREAM_RATE:-64}
	CORESET_RATE=${CORESET_RATE:-16} REFINE_PASSES=${REFINE_PASSES:-1} SEED=${SEED:-1}
	J=${J:-1} PQ_M=${PQ_M:-16} NBITS=${NBITS:-8} SQ_MODE=${SQ_MODE:-dim} METRIC=${METRIC:-l2}
	BIN=${BIN:-$vd_here/../../build/bin} REMOTE_BIN=${REMOTE_BIN:-} REMOTE_DIR=${REMOTE_DIR:-}
	SSH=${SSH:-ssh} RETRIES=${RETRIES:-} KEEP=${KEEP:-} LOCAL=${LOCAL:-} QUIET=${QUIET:-}
	RESUME=${RESUME:-}
}

# vd_parse ARGS...: the options into the variables above, the operands into
# args[], then vd_checks.  Each option goes first to the caller's vd_option
# ARGS..., which takes it (and sets vd_used, the words it took) or returns 1.
vd_parse() {
	args=()
	while [ $# -gt 0 ]; do
		if vd_option "$@"; then
			shift $((vd_used <= $# ? vd_used : $#))
			continue
		fi
		case $1 in
		-h | --help) usage; exit 0 ;;
		-k) K=${2-}; shift ;;
		--sample-rate) SAMPLE_RATE=${2-}; shift ;;
		--stream-rate) STREAM_RATE=${2-}; shift ;;
		--coreset-rate) CORESET_RATE=${2-}; shift ;;
		--refine-passes) REFINE_PASSES=${2-}; shift ;;
		--seed) SEED=${2-}; shift ;;
		-j) J=${2-}; shift ;;
		--pq-m) PQ_M=${2-}; shift ;;
		--nbits) NBITS=${2-}; shift ;;
		--sq-mode) SQ_MODE=${2-}; shift ;;
		--metric) METRIC=${2-}; shift ;;
		--metric=*) METRIC=${1#--metric=} ;;
		--bin) BIN=${2-}; shift ;;
		--remote-bin) REMOTE_BIN=${2-}; shift ;;
		--remote-dir) REMOTE_DIR=${2-}; shift ;;
		--ssh) SSH=${2-}; shift ;;
		--retries) RETRIES=${2-}; shift ;;
		--keep) KEEP=1 ;;
		--local) LOCAL=1 ;;
		--resume) RESUME=1 ;;
		-q) QUIET=1 ;;
		--) shift; args+=("$@"); break ;;
		-*) usage_error "unknown option $1" ;;
		*) args+=("$1") ;;
		esac
		[ $# -gt 0 ] && shift
	done
	vd_checks
}

# vd_checks: the options' values (the training's; assign.sh has its own).
vd_checks() {
	[ -n "$K" ] || usage_error "give -k K, the number of IVF centroids"
	local v
	for v in K SAMPLE_RATE STREAM_RATE CORESET_RATE REFINE_PASSES SEED J PQ_M NBITS ${RETRIES:+RETRIES}; do
		[[ ${!v} =~ ^[0-9]+$ ]] || usage_error "$v must be a whole number (got '${!v}')"
	done
	[ "$K" -ge 1 ] || usage_error "give -k K, the number of IVF centroids"
	case $SQ_MODE in global | dim) ;; *) usage_error "--sq-mode is global or dim (min/max bounds merge exactly)" ;; esac
	case $METRIC in l2 | cosine | dot) ;; *) usage_error "--metric is l2, cosine or dot (got '$METRIC')" ;; esac
}

# vd_check_bin [PROGRAMS...]: the programs (default: the training's) are in
# BIN; BIN and REMOTE_BIN absolute.
vd_check_bin() {
	local p
	[ $# -gt 0 ] || set -- vcat vsample vcoreset vmerge vkmeans vrefine vpq vsqbounds vloss
	for p in "$@"; do
		[ -x "$BIN/$p" ] || die "no $p in BIN=$BIN (build first, or give --bin)"
	done
	BIN=$(cd "$BIN" && pwd)
	REMOTE_BIN=${REMOTE_BIN:-$BIN}
}

# vd_manifest FILE: the shards: shost[] spath[] sgrp[] (vd_group HOST LINE
# gives a shard's group), S.
vd_manifest() {
	local manifest=$1 ln=0 line h p rest
	[ -r "$manifest" ] || die "$manifest: cannot read the manifest"
	shost=() spath=() sgrp=()
	while IFS= read -r line || [ -n "$line" ]; do
		ln=$((ln + 1))
		case $line in '#'* | '') continue ;; esac
		if [[ $line == *$'\t'* ]]; then
			# HOST, a tab, then the path as it is (spaces and all)
			h=${line%%$'\t'*} p=${line#*$'\t'} rest=
			h=${h//[[:space:]]/}
		else
			read -r h p rest <<<"$line" || true
		fi
		[ -n "${h:-}" ] || continue
		[ -n "${p:-}" ] && [ -z "${rest:-}" ] ||
			die "$manifest: line $ln: expected HOST PATH (a tab between them when the path has spaces)"
		case $p in /*) ;; *) die "$manifest: line $ln: $p: the path must be absolute" ;; esac
		sgrp+=("$(vd_group "$h" "$ln")") || exit 1
		shost+=("$h") spath+=("$p")
	done <"$manifest"
	S=${#spath[@]}
	[ "$S" -gt 0 ] || die "$manifest: no shards"
}

where() { # where S: "shard S (HOST:PATH)"
	echo "shard $1 (${shost[$1]}:${spath[$1]})"
}

# --- the run's state: OUT's directory, resume --------------------------------

# vd_open OUT SHARDDIR: the state directory $state = .OUT.vdist beside OUT
# (work/ logs/ params.txt), locked for this run; a fresh one, or with
# --resume the one an earlier attempt left if it had the same parameters.
# runid names the run's directories on the workers; swd[] are the shards'
# work directories (SHARDDIR/sS if given, else under --remote-dir, else
# beside each shard's file).
vd_open() {
	out=${1%/}
	[ -n "$out" ] || usage_error "OUT is empty"
	mkdir -p "$(dirname "$out")" || die "$(dirname "$out"): cannot create it"
	outdir=$(cd "$(dirname "$out")" && pwd)
	out=$outdir/$(basename "$out")
	state=$outdir/.$(basename "$out").vdist
	work=$state/work logs=$state/logs
	# Names in paths only, never in a model's bytes; the same for every
	# attempt of the run, so that a resumed run finds the workers' results.
	runid=vdist-$(printf '%s:%s' "$(hostname -s 2>/dev/null || echo host)" "$out" | sha1sum | cut -c1-12)
	local params s
	params=$(
		vd_params
		for ((s = 0; s < S; s++)); do echo "${shost[$s]} ${spath[$s]}"; done
	)
	mkdir -p "$state" || die "$state: cannot create it"
	# (Commands that may leave a process behind, such as ssh's shared
	# connection, run with 9<&-: it would hold the lock.)
	exec 9<"$state"
	flock -n 9 || die "$state: another run of $out is under way"
	attempt=1
	if [ -n "$RESUME" ] && [ -f "$state/params.txt" ]; then
		[ "$(cat "$state/params.txt")" = "$params" ] ||
			die "$state: the earlier run had other parameters or shards (see its params.txt); run without --resume to start over"
		attempt=$(($(cat "$state/attempt" 2>/dev/null || echo 1) + 1))
	else
		RESUME=
		find "$state" -mindepth 1 -delete 2>/dev/null || rm -rf "${state:?}"/*
		echo "$params" >"$state/params.txt" || die "$state: cannot write in it"
	fi
	echo "$attempt" >"$state/attempt"
	echo "$runid" >"$state/runid"
	rm -rf "$state/model"
	mkdir -p "$work" "$logs" || die "$state: cannot create the work directories"
	rm -f "$logs/rounds.txt"
	echo "# attempt $attempt$([ -z "$RESUME" ] || echo ' (--resume)') $(date -u +%FT%TZ)" >>"$logs/steps.log"
	swd=()
	for ((s = 0; s < S; s++)); do
		if [ -n "${2-}" ]; then
			swd+=("$2/s$s")
		elif [ -n "$REMOTE_DIR" ]; then
			swd+=("${REMOTE_DIR%/}/$runid/s$s")
		else
			swd+=("$(dirname "${spath[$s]}")/.vdist/$runid/s$s")
		fi
	done
}

# vd_params: the parameters of a run, for params.txt (assign.sh has its own).
vd_params() {
	echo "k=$K sample_rate=$SAMPLE_RATE stream_rate=$STREAM_RATE coreset_rate=$CORESET_RATE" \
		"refine_passes=$REFINE_PASSES seed=$SEED pq_m=$PQ_M nbits=$NBITS sq_mode=$SQ_MODE" \
		"metric=$METRIC"
}

# vd_verify FILE: FILE is whole (a stream: every checksum and the end marker).
vd_verify() {
	[ -s "$1" ] || return 1
	case $1 in *.vt) "$BIN/vcat" --count "$1" >/dev/null 2>&1 || return 1 ;; esac
}

# vd_cached NAME OUTFILE "INPUTS" CMD...: run CMD, which writes OUTFILE, and
# note its key (CMD and a hash of the INPUTS files) in OUTFILE.key; with
# --resume, an OUTFILE of an earlier attempt with the same key that verifies
# is kept instead.  logs/steps.log says which.
vd_cached() {
	local name=$1 of=$2 ins=$3 key t0
	shift 3
	# shellcheck disable=SC2086
	key=$({ printf '%s\n' "$*"; cat $ins; } | sha1sum | cut -c1-40) || return 1
	local old=
	[ ! -f "$of.key" ] || read -r old t0 <"$of.key" || true
	if [ -n "$RESUME" ] && [ "$old" = "$key" ] && vd_verify "$of"; then
		echo "master $name: reused $of (the step took $t0 s)" >>"$logs/steps.log"
		return 0
	fi
	rm -f "$of" "$of.key"
	t0=$(now)
	"$@" || return 1
	t0=$(echo "$(now) $t0" | awk '{printf "%.3f", $1 - $2}')
	echo "$key $t0" >"$of.key"
	echo "master $name: computed $of (the step took $t0 s)" >>"$logs/steps.log"
}

# master WHAT CMD...: a step on the master; its failure stops the run.
master() {
	local what=$1
	shift
	"$@" || die "master: $what failed (exit $?)"
}

# --- the per-shard steps -------------------------------------------------------

# vd_expect STEP: the files that STEP-S/ must hold.
vd_expect() {
	case $1 in
	count) echo count.txt ;;
	sample) echo m.txt sq.vt pq.vt ;;
	coreset) echo coreset.vt ;;
	refine*) echo acc.vt ;;
	loss) echo loss.vt ;;
	info) echo info.txt ;;
	assign) echo rows.txt; [ -n "${LEAVE:-}" ] || echo labels.vt ;;
	leave) echo path.txt ;;
	esac
	echo time.txt
}

# vd_steps: the rounds of a run, in order, with the centroids each one is
# sent ("-" for none).
vd_steps() {
	local p
	printf "%s\n" "count -" "sample -" "coreset -"
	for ((p = 1; p <= REFINE_PASSES; p++)); do echo "refine$p ivf-$((p - 1)).vt"; done
	echo "loss ivf.vt"
}

# vd_args STEP: the worker's arguments of STEP after STEP SHARD BIN THREADS,
# a word a line; {PATH} {OFFSET} {FIRST} {DEST} stand for the shard's own
# (round).  Needs the counts (vd_counts) for sample, the samples
# (vd_samples) for coreset, and for assign the offsets (assign.sh) and
# vassign's arguments va_args[].
vd_args() {
	case $1 in
	count | info) echo '{PATH}' ;;
	sample) printf '%s\n' '{PATH}' '{OFFSET}' "$N" "$K" "$SAMPLE_RATE" "$SEED" "$NBITS" "$SQ_MODE" "$METRIC" ;;
	coreset) printf '%s\n' "$K" "$STREAM_RATE" "$CORESET_RATE" "$SEED" '{FIRST}' "$total_rows" "$budget" ;;
	refine*) echo "ivf-$((${1#refine} - 1)).vt" ;;
	loss) echo ivf.vt ;;
	assign) printf '%s\n' '{PATH}' '{OFFSET}' '{DEST}' "${va_args[@]}" ;;
	leave) echo '{DEST}' ;;
	esac
}

# vd_shards STEP: the shards that STEP runs on (coreset, refine and loss
# only on shards whose sample is not empty).
vd_shards() {
	case $1 in
	count | sample | info | assign | leave) seq 0 $((S - 1)) | paste -sd' ' - ;;
	*) echo "$nonempty" ;;
	esac
}

# vd_check_round STEP "SHARDS": every shard's STEP-S/ is here and whole; a
# line per shard in logs/steps.log (computed or reused, and its time).
vd_check_round() {
	local step=$1 s f
	for s in $2; do
		for f in $(vd_expect "$step"); do
			f=$step-$s/$f
			[ -s "$f" ] || die "host ${shost[$s]}: $(where "$s"): step $step: $f did not come back (a full disk here, or a failed transfer)"
			case $f in *.vt)
				"$BIN/vcat" --count "$f" >/dev/null 2>"$step.err" ||
					die "host ${shost[$s]}: $(where "$s"): step $step: $f came back damaged: $(cat "$step.err")" ;;
			esac
		done
		echo "$step shard $s: $(cat "$step-$s/run.txt" 2>/dev/null || echo computed)" \
			"(the step took $(cat "$step-$s/time.txt") s)" >>"$logs/steps.log"
	done
}

# vd_counts: offset[] raw[] N C from count-S/ (all shards).
vd_counts() {
	local s r b
	offset=() raw=() N=0
	for ((s = 0; s < S; s++)); do
		read -r r b <"count-$s/count.txt" || die "count-$s/count.txt: cannot read it"
		raw[s]=$b offset[s]=$N
		N=$((N + r))
	done
	[ "$N" -gt 0 ] || die "the shards hold no rows"
	C=$((K * STREAM_RATE))
}

# vd_samples: m[] first[] nonempty msum nchunk total_rows budget from
# sample-S/m.txt.
#
# Chunks are numbered by the shards' positions: shard s starts at chunk
# first[s] = the chunks of the shards before it, ceil(m / C) each.  vcoreset
# places chunk i at row i C of a sample of --total-rows rows, so every shard
# but the last non-empty one is padded to whole chunks in TOTAL, and the
# budget is scaled by TOTAL / m so that a full chunk gets the points it would
# get in one sample of m rows (the total stays within K x CORESET_RATE).
vd_samples() {
	local s last=-1
	m=() first=() msum=0 nchunk=0 nonempty=
	for ((s = 0; s < S; s++)); do
		m[$s]=$(cat "sample-$s/m.txt") || die "sample-$s/m.txt: cannot read it"
		first[$s]=$nchunk
		if [ "${m[$s]}" -gt 0 ]; then
			nchunk=$((nchunk + (m[s] + C - 1) / C))
			msum=$((msum + m[s])) last=$s nonempty+="$s "
		fi
	done
	[ "$msum" -gt 0 ] || die "no rows were sampled"
	total_rows=$((first[last] * C + m[last]))
	budget=$((K * CORESET_RATE * total_rows / msum))
}

# --- the master's steps (in $work) ---------------------------------------------

vd_files() { # vd_files STEP NAME: STEP-S/NAME of the shards of STEP
	local s
	for s in $(vd_shards "$1"); do echo "$1-$s/$2"; done
}

# ivf-0.vt: the coresets merged, vkmeans.
vd_kmeans() {
	local cs
	cs=$(vd_files coreset coreset.vt | paste -sd' ' -)
	# shellcheck disable=SC2086
	vd_cached vkmeans ivf-0.vt "$cs" vd_run_kmeans $cs || die "master: vkmeans failed"
}
vd_run_kmeans() {
	master "vmerge of the coresets" "$BIN/vmerge" -q -o coreset.vt "$@"
	master vkmeans "$BIN/vkmeans" -v -k "$K" --seed "$SEED" -j "$J" -o ivf-0.vt coreset.vt \
		2>"$logs/vkmeans.log"
}

# ivf-P.vt: refine pass P's accumulators merged, vrefine --apply; after the
# last pass, ivf.vt.
vd_apply() {
	local p=$1 c=ivf-$(($1 - 1)).vt accs
	accs=$(vd_files "refine$p" acc.vt | paste -sd' ' -)
	# shellcheck disable=SC2086
	vd_cached "refine pass $p" "ivf-$p.vt" "$c $accs" vd_run_apply "$p" $accs || exit 1
	[ "$p" != "$REFINE_PASSES" ] || master "ivf.vt" cp "ivf-$p.vt" ivf.vt
}
vd_run_apply() {
	local p=$1 c=ivf-$(($1 - 1)).vt s
	shift
	# vmerge refuses accumulators of other centroids (a stale partial); then
	# vrefine --apply of each shard's alone names the shards that are stale.
	if ! "$BIN/vmerge" -q -o "acc-$p.vt" "$@"; then
		for s in $nonempty; do
			"$BIN/vrefine" -q --apply -c "$c" "refine$p-$s/acc.vt" >/dev/null 2>&1 ||
				echo "$prog: host ${shost[$s]}: $(where "$s"): refine pass $p: its accumulators were not computed against $c" >&2
		done
		die "master: refine pass $p: vmerge of the accumulators failed"
	fi
	master "refine pass $p: vrefine --apply" "$BIN/vrefine" --apply -c "$c" -o "ivf-$p.vt" "acc-$p.vt" \
		2>>"$logs/refine.log"
}

# ivf.vt when there are no refine passes.
vd_ivf() {
	[ "$REFINE_PASSES" -gt 0 ] || master "ivf.vt" cp ivf-0.vt ivf.vt
}

# pq.vt and sq.vt: vpq on the PQ sample (the shards' parts in shard order),
# vmerge | vsqbounds of the SQ partials.
vd_quantizers() {
	local pqs sqs
	pqs=$(vd_files sample pq.vt | paste -sd' ' -)
	sqs=$(vd_files sample sq.vt | paste -sd' ' -)
	# shellcheck disable=SC2086
	vd_cached vpq pq.vt "ivf.vt $pqs" vd_run_vpq $pqs || exit 1
	# shellcheck disable=SC2086
	vd_cached vsqbounds sq.vt "$sqs" vd_run_sq $sqs || exit 1
}
vd_run_vpq() {
	"$BIN/vpq" -v -c ivf.vt -m "$PQ_M" --nbits "$NBITS" --seed "$SEED" -j "$J" \
		-o pq.vt "$@" 2>"$logs/vpq.log" ||
		{ cat "$logs/vpq.log" >&2; die "master: vpq failed"; }
}
vd_run_sq() {
	master "vmerge of the SQ partials" "$BIN/vmerge" -q -o sq.partial "$@"
	master "vsqbounds" "$BIN/vsqbounds" -q -o sq.vt sq.partial
}

# The model in $state/model: the three models, their .npy exports,
# report.txt (vloss partials merged), transfer.txt, logs/.
vd_model() {
	local model=$state/model f
	rm -rf "$model"
	mkdir -p "$model" || die "$model: cannot create it"
	# shellcheck disable=SC2046
	master "vmerge of the loss partials" "$BIN/vmerge" -q -o loss.vt $(vd_files loss loss.vt)
	{
		echo "shards=$S n=$N m=$msum k=$K chunks=$nchunk chunk_rows=$C total_rows=$total_rows" \
			"budget=$budget coreset_rate=$CORESET_RATE refine_passes=$REFINE_PASSES seed=$SEED" \
			"pq_m=$PQ_M nbits=$NBITS sq_mode=$SQ_MODE"
		"$BIN/vloss" loss.vt
	} >"$model/report.txt" || die "master: the report failed"
	for f in ivf pq sq; do
		master "$f.vt" cp "$f.vt" "$model/$f.vt"
		master "$f.npy" "$BIN/vcat" --to npy -o "$model/$f.npy" "$f.vt"
	done
	vd_transfer >"$model/transfer.txt" || die "master: transfer.txt failed"
	cp -r "$logs" "$model/logs" || die "$model/logs: cannot copy the logs"
}

# transfer.txt: the bytes that came back from each host and were sent to it
# (as file sizes), and the time of each round.
vd_transfer() {
	local s h b t st c t0 t1 jl mj mw
	declare -A hs=() hr=() hb=() ht=()
	printf '%-16s %6s %14s %12s %12s %8s\n' host shards raw_bytes sent returned moved/raw
	for ((s = 0; s < S; s++)); do
		h=${shost[$s]}
		hs[$h]=$((${hs[$h]:-0} + 1))
		hr[$h]=$((${hr[$h]:-0} + raw[s]))
		b=$(find . -maxdepth 2 -path "./*-$s/*" -type f ! -name key.txt ! -name run.txt -printf '%s\n' |
			awk '{t += $1} END {print t + 0}')
		hb[$h]=$((${hb[$h]:-0} + b))
		t=0
		if [ "${m[$s]}" -gt 0 ]; then
			while read -r st c; do
				[ "$c" = - ] || t=$((t + $(stat -c %s "$c")))
			done < <(vd_steps)
		fi
		ht[$h]=$((${ht[$h]:-0} + t))
	done
	for h in $(printf '%s\n' "${shost[@]}" | awk '!seen[$0]++'); do
		printf '%-16s %6d %14d %12d %12d %8.5f\n' "$h" "${hs[$h]}" "${hr[$h]}" "${ht[$h]}" "${hb[$h]}" \
			"$(echo "${ht[$h]} ${hb[$h]} ${hr[$h]}" | awk '{print ($3 ? ($1 + $2) / $3 : 0)}')"
	done
	echo "(sent: the centroids broadcast to each shard; returned: the files of every step;"
	echo " as file sizes, before rsync's compression and without ssh's own bytes)"
	echo
	printf '%-10s %8s %10s %10s %12s %10s\n' step wall_s max_job_s max_work_s returned sent
	while read -r st c; do
		[ -s "$logs/rounds.txt" ] && grep -q "^$st " "$logs/rounds.txt" || continue
		read -r t0 t1 mj < <(awk -v s="$st" '$1 == s {
			if (t0 == "" || $2 < t0) t0 = $2; if ($3 > t1) t1 = $3; if ($3 - $2 > mj) mj = $3 - $2 }
			END {print t0, t1, mj}' "$logs/rounds.txt")
		jl=$logs/$st.joblog
		[ ! -s "$jl" ] || mj=$(awk -F'\t' 'NR > 1 && $4 > m {m = $4} END {print m + 0}' "$jl")
		mw=$(cat "$st"-*/time.txt 2>/dev/null | awk '$1 > m {m = $1} END {print m + 0}')
		b=$(find . -maxdepth 2 -path "./$st-*/*" -type f ! -name key.txt ! -name run.txt -printf '%s\n' |
			awk '{t += $1} END {print t + 0}')
		t=0
		[ "$c" = - ] || t=$(($(stat -c %s "$c") * $(echo "$nonempty" | wc -w)))
		printf '%-10s %8.2f %10.2f %10.2f %12d %10d\n' "$st" "$(echo "$t1 $t0" | awk '{print $1 - $2}')" \
			"$mj" "$mw" "$b" "$t"
	done < <(vd_steps)
	echo "(max_job_s: the longest job, with ssh and rsync or Slurm's start;"
	echo " max_work_s: the longest time the programs took inside a job;"
	echo " returned and sent: the bytes of the step's files, all shards)"
}

# vd_install: $state/model becomes OUT (an earlier OUT is replaced only now).
vd_install() {
	cd "$outdir" || die "$outdir: cannot go there"
	if [ -e "$out" ]; then
		rm -rf "$state/old"
		mv "$out" "$state/old" || die "$out: cannot move the old model aside"
	fi
	mv "$state/model" "$out" || die "$out: cannot put the model in place"
}

# --- over ssh (train.sh, assign.sh) ---------------------------------------------

# vd_traps: the caller's finish at the exit, also on INT and TERM; finish
# ends with vd_exit RC: RC, or 1 for a run that did not finish ($ok unset).
vd_traps() {
	trap finish EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
vd_exit() {
	local rc=$1
	if [ -z "$ok" ] && [ "$rc" = 0 ]; then rc=1; fi
	exit "$rc"
}

# vd_operands NAMES...: the operands (args[]) into the variables NAMES, after
# the sshlogin file ($slf) unless --local; the manifest readable.
vd_operands() {
	local i
	if [ -n "$LOCAL" ]; then
		[ ${#args[@]} = $# ] || usage_error "--local takes ${*^^}"
		slf=''
	else
		[ ${#args[@]} = $(($# + 1)) ] || usage_error "give SSHLOGINFILE ${*^^}"
		slf=${args[0]}
		args=("${args[@]:1}")
		command -v parallel >/dev/null || die "GNU parallel is not installed (Debian: parallel)"
		[ -r "$slf" ] || die "$slf: cannot read the sshlogin file"
	fi
	for ((i = 1; i <= $#; i++)); do printf -v "${!i}" '%s' "${args[i - 1]}"; done
	[ -r "$manifest" ] || die "$manifest: cannot read the manifest"
}

# vd_sshlogins: hosts[] logins[] ncpus[] from the sshlogin file $slf (none
# with --local): NCPUS (default 1) and the login, whose last word is the host.
vd_sshlogins() {
	local line n
	hosts=() logins=() ncpus=()
	[ -z "$LOCAL" ] || return 0
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
}
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
# --- rounds: one job per shard, where the shard is --------------------------

# A round runs one GNU parallel per host, each with that host's sshlogin
# alone, all at once: a shard's jobs can only run where its data is, and
# --retries then tries a failed job again on the same host.  (One parallel
# with --hostgroups pins jobs as well, but GNU parallel 20221122 never
# retries a job whose host group holds one host: it waits for another.)

# round STEP [FILES]: run `vdist_worker STEP S ...` (lib.sh's vd_args, a
# word a line) for each shard S of STEP on its host (or here, with --local),
# then check that every shard's STEP-S/ came back whole.  The words {PATH}
# {OFFSET} {FIRST} {DEST} of the arguments become the shard's own (spath[]
# offset[] first[] sdest[]); FILES (names in the work directory, separated by
# spaces: the centroids, the model) are sent to each job.
round() {
	local step=$1 tfs=${2:--} shards
	[ "$tfs" != - ] || tfs=
	shards=$(vd_shards "$step")
	local log=$logs/$step.joblog t0 s g i
	t0=$(now)
	local a cmd vargs
	cmd="vdist_worker ${RESUME:+--resume }$step {1} $(q "$REMOTE_BIN") $J"
	mapfile -t vargs < <(vd_args "$step")
	for a in "${vargs[@]}"; do
		case $a in
		'{PATH}') cmd+=" {4}" ;;
		'{OFFSET}') cmd+=" {5}" ;;
		'{FIRST}') cmd+=" {6}" ;;
		'{DEST}') cmd+=" {7}" ;;
		*) cmd+=" $(q "$a")" ;;
		esac
	done
	# The jobs of each host: its shards, in columns joined with --link.
	local groups='' row
	declare -A col=()
	for s in $shards; do
		g=${sgrp[$s]}
		case " $groups " in *" $g "*) ;; *) groups+=" $g" ;; esac
		row=("$s" "${swd[$s]}" "${shost[$s]}" "${spath[$s]}" "${offset[$s]:-0}" "${first[$s]:-0}"
			"${sdest[$s]:--}")
		for i in 0 1 2 3 4 5 6; do col[$g.$i]+="${col[$g.$i]:+$'\n'}${row[$i]}"; done
		rm -rf "$step-$s"
	done
	if [ -n "$LOCAL" ]; then
		local wd path off fc dest lcmd
		printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n' >"$log"
		while IFS=$'\t' read -r s wd _ path off fc dest; do
			mkdir -p "$wd"
			for a in $tfs; do
				cp "$a" "$wd/" || die "$step: cannot copy $a for $(where "$s")"
			done
			lcmd=${cmd//\{1\}/$s}
			lcmd=${lcmd//\{4\}/$(q "$path")} lcmd=${lcmd//\{5\}/$off} lcmd=${lcmd//\{6\}/$fc}
			lcmd=${lcmd//\{7\}/$(q "$dest")}
			(cd "$wd" && eval "$lcmd") || die "$(where "$s"): step $step failed"
			cp -r "$wd/$step-$s" . || die "$(where "$s"): step $step: cannot copy its output here"
		done < <(paste <(echo "${col[local.0]}") <(echo "${col[local.1]}") <(echo "${col[local.2]}") \
			<(echo "${col[local.3]}") <(echo "${col[local.4]}") <(echo "${col[local.5]}") \
			<(echo "${col[local.6]}"))
	else
		local pids=() gs=()
		for g in $groups; do
			i=${g#h}
			local popts=(--will-cite --ssh "$SSH" -S "${ncpus[$i]}/${logins[$i]}" --link
				--env vdist_worker --wd '{2}' --return "$step-{1}" --joblog "$step.$g.joblog"
				--halt now,fail=1 --tagstring "{3} shard {1}:")
			[ -z "$RETRIES" ] || popts+=(--retries "$RETRIES")
			for a in $tfs; do popts+=(--tf "$a"); done
			local srcs=() list
			for a in 0 1 2 3 4 5 6; do
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
			split($9, w, " "); printf "%s %s %s %s\n", w[w[2] == "--resume" ? 4 : 3], $2, $7, $8 }' "$log")
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

# vd_remove STEP FN: best effort, on every host at once (or here), the
# worker's STEP (clean: remove a directory; unleave: a file) on the path
# `FN S` of each shard S whose FN prints one.
vd_remove() {
	local step=$1 fn=$2 s p
	if [ -n "$LOCAL" ]; then
		for ((s = 0; s < S; s++)); do
			p=$("$fn" "$s")
			[ -z "$p" ] || vdist_worker "$step" "$s" "$REMOTE_BIN" 1 "$p" || true
		done
		return 0
	fi
	local pids=() i
	for i in "${!logins[@]}"; do
		local dirs=()
		for ((s = 0; s < S; s++)); do
			[ "${sgrp[$s]}" = "h$i" ] || continue
			p=$("$fn" "$s")
			[ -z "$p" ] || dirs+=("$p")
		done
		[ ${#dirs[@]} -gt 0 ] || continue
		(cd / && timeout 60 parallel --will-cite --ssh "$SSH" -S "1/${logins[$i]}" --env vdist_worker \
			"vdist_worker $step 0 $(q "$REMOTE_BIN") 1 {}" ::: "${dirs[@]}" >/dev/null 2>&1 9<&-) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || true; done
}

# clean_workers: the run's work directories on the workers, removed.
clean_workers() {
	[ ${#swd[@]} -gt 0 ] || return 0
	vd_remove clean vd_rundir
}
vd_rundir() { dirname "${swd[$1]}"; }
