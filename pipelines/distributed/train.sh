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
              and PATH the shard's file on that host (any file vcat reads).
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
  --bin DIR             vtrain programs on this machine (BIN, default build/bin)
  --remote-bin DIR      vtrain programs on the workers (REMOTE_BIN, default: BIN
                        as an absolute path)
  --remote-dir DIR      work directory on the workers (REMOTE_DIR; default: a
                        .vdist directory beside each shard's file)
  --ssh CMD             ssh command for parallel (SSH, default ssh)
  --retries N           GNU parallel --retries: try a failing job N times
  --keep                keep the work directories (master and workers)
  --local               run every step here, one shard after another
  -q                    no summary on stdout
  -h, --help            this help

Exit status: 0 ok; 1 a failed step (the message names the host and shard);
2 usage.  OUT appears only when complete (built in a temporary directory
beside it and renamed).  See docs/DISTRIBUTED.md.
EOF
}

set -Eeuo pipefail
trap 'echo "vdist: master: a command failed (exit $?) at line $LINENO of train.sh (a full disk?)" >&2' ERR
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=worker.sh
. "$here/worker.sh"
export -f vdist_worker

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
q() { printf '%q' "$1"; }
now() { date +%s.%N; }

K=${K:-} SAMPLE_RATE=${SAMPLE_RATE:-256} STREAM_RATE=${STREAM_RATE:-64}
CORESET_RATE=${CORESET_RATE:-16} REFINE_PASSES=${REFINE_PASSES:-1} SEED=${SEED:-1}
J=${J:-1} PQ_M=${PQ_M:-16} NBITS=${NBITS:-8} SQ_MODE=${SQ_MODE:-dim}
BIN=${BIN:-$here/../../build/bin} REMOTE_BIN=${REMOTE_BIN:-} REMOTE_DIR=${REMOTE_DIR:-}
SSH=${SSH:-ssh} RETRIES=${RETRIES:-} KEEP=${KEEP:-} LOCAL=${LOCAL:-} QUIET=${QUIET:-}

args=()
while [ $# -gt 0 ]; do
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
	--bin) BIN=${2-}; shift ;;
	--remote-bin) REMOTE_BIN=${2-}; shift ;;
	--remote-dir) REMOTE_DIR=${2-}; shift ;;
	--ssh) SSH=${2-}; shift ;;
	--retries) RETRIES=${2-}; shift ;;
	--keep) KEEP=1 ;;
	--local) LOCAL=1 ;;
	-q) QUIET=1 ;;
	--) shift; args+=("$@"); break ;;
	-*) usage_error "unknown option $1" ;;
	*) args+=("$1") ;;
	esac
	[ $# -gt 0 ] && shift
done

[ -n "$K" ] || usage_error "give -k K, the number of IVF centroids"
for v in K SAMPLE_RATE STREAM_RATE CORESET_RATE REFINE_PASSES SEED J PQ_M NBITS ${RETRIES:+RETRIES}; do
	[[ ${!v} =~ ^[0-9]+$ ]] || usage_error "$v must be a whole number (got '${!v}')"
done
[ "$K" -ge 1 ] || usage_error "give -k K, the number of IVF centroids"
case $SQ_MODE in global | dim) ;; *) usage_error "--sq-mode is global or dim (min/max bounds merge exactly)" ;; esac
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
for p in vcat vsample vcoreset vmerge vkmeans vrefine vpq vsqbounds vloss; do
	[ -x "$BIN/$p" ] || die "no $p in BIN=$BIN (build first, or give --bin)"
done
BIN=$(cd "$BIN" && pwd)
REMOTE_BIN=${REMOTE_BIN:-$BIN}
out=${out%/}
[ -n "$out" ] || usage_error "OUT is empty"
mkdir -p "$(dirname "$out")" || die "$(dirname "$out"): cannot create it"
outdir=$(cd "$(dirname "$out")" && pwd)
out=$outdir/$(basename "$out")

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

shost=() spath=() sgrp=() swd=()
ln=0
while IFS= read -r line || [ -n "$line" ]; do
	ln=$((ln + 1))
	case $line in '#'* | '') continue ;; esac
	read -r h p rest <<<"$line" || true
	[ -n "${h:-}" ] || continue
	[ -n "${p:-}" ] && [ -z "${rest:-}" ] || die "$manifest: line $ln: expected HOST PATH"
	case $p in /*) ;; *) die "$manifest: line $ln: $p: the path must be absolute" ;; esac
	if [ -z "$LOCAL" ]; then
		g=$(host_index "$h") || die "$manifest: line $ln: host $h is not in $slf"
		sgrp+=("h$g")
	else
		sgrp+=(local)
	fi
	shost+=("$h") spath+=("$p")
done <"$manifest"
S=${#spath[@]}
[ "$S" -gt 0 ] || die "$manifest: no shards"

# Names in paths only, never in a model's bytes.
runid=vdist-$(hostname -s 2>/dev/null || echo host)-$$-$(date +%s)
for ((s = 0; s < S; s++)); do
	if [ -n "$REMOTE_DIR" ]; then
		swd+=("${REMOTE_DIR%/}/$runid/s$s")
	else
		swd+=("$(dirname "${spath[$s]}")/.vdist/$runid/s$s")
	fi
done
where() { # where S: "shard S (HOST:PATH)"
	echo "shard $1 (${shost[$1]}:${spath[$1]})"
}

tmp=$(mktemp -d "$outdir/.$(basename "$out").vdist.XXXXXX") || die "$outdir: cannot make a temporary directory"
work=$tmp/work model=$tmp/model
mkdir -p "$work" "$model/logs" || die "$tmp: cannot create the work directories"
ok=
finish() {
	local rc=$?
	if [ -z "$KEEP" ]; then
		clean_workers || true
		rm -rf "$tmp"
	else
		echo "$prog: kept $tmp and the workers' $runid directories" >&2
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

# expect STEP: the files that STEP-S/ must hold.
expect() {
	case $1 in
	count) echo count.txt ;;
	sample) echo m.txt sq.vt pq.vt ;;
	coreset) echo coreset.vt ;;
	refine*) echo acc.vt ;;
	loss) echo loss.vt ;;
	esac
	echo time.txt
}

# round STEP "SHARDS" [--tf FILE] -- ARGS...: run `vdist_worker STEP S ...` for
# each shard S on its host (or here, with --local), then check that every
# shard's STEP-S/ came back whole.  The words {PATH} {OFFSET} {FIRST} of ARGS
# become the shard's own; FILE (in the work directory) is sent to each job.
declare -A sent=()
round() {
	local step=$1 shards=$2 tf=
	shift 2
	if [ "${1-}" = --tf ]; then tf=$2; shift 2; fi
	[ "${1-}" = -- ] && shift
	local log=$model/logs/$step.joblog t0 s g i
	t0=$(now)
	local a cmd
	cmd="vdist_worker $step {1} $(q "$REMOTE_BIN") $J"
	for a in "$@"; do
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
			parallel "${popts[@]}" "$cmd" "${srcs[@]}" &
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
	for s in $shards; do
		local f
		for f in $(expect "$step"); do
			f=$step-$s/$f
			[ -s "$f" ] || die "host ${shost[$s]}: $(where "$s"): step $step: $f did not come back (a full disk here, or a failed transfer)"
			case $f in *.vt)
				"$BIN/vcat" --count "$f" >/dev/null 2>"$step.err" ||
					die "host ${shost[$s]}: $(where "$s"): step $step: $f came back damaged: $(cat "$step.err")" ;;
			esac
		done
		[ -z "$tf" ] || sent[${shost[$s]}]=$((${sent[${shost[$s]}]:-0} + $(stat -c %s "$tf")))
	done
	echo "$step $t0 $(now)" >>"$model/logs/rounds.txt"
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
			"vdist_worker clean 0 $(q "$REMOTE_BIN") 1 {}" ::: "${dirs[@]}" >/dev/null 2>&1) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || true; done
}

# master STEP CMD...: a step on this machine; its failure stops the run.
master() {
	local what=$1
	shift
	"$@" || die "master: $what failed (exit $?)"
}

# --- 1. row counts, offsets --------------------------------------------------

all=$(seq 0 $((S - 1)) | paste -sd' ' -)
round count "$all" -- '{PATH}'
declare -a offset=() raw=()
N=0
for ((s = 0; s < S; s++)); do
	read -r r b <"count-$s/count.txt"
	raw[s]=$b offset[s]=$N
	N=$((N + r))
done
[ "$N" -gt 0 ] || die "the shards hold no rows"
C=$((K * STREAM_RATE))

# --- 2. samples (kept on the hosts), SQ partials, PQ sample parts -----------

round sample "$all" -- '{PATH}' '{OFFSET}' "$N" "$K" "$SAMPLE_RATE" "$SEED" "$NBITS" "$SQ_MODE"

# Chunks are numbered by the shards' positions: shard s starts at chunk
# first[s] = the chunks of the shards before it, ceil(m / C) each.  vcoreset
# places chunk i at row i C of a sample of --total-rows rows, so every shard
# but the last non-empty one is padded to whole chunks in TOTAL, and the
# budget is scaled by TOTAL / m so that a full chunk gets the points it would
# get in one sample of m rows (the total stays within K x CORESET_RATE).
declare -a m=() first=()
msum=0 nchunk=0 last=-1 nonempty=
for ((s = 0; s < S; s++)); do
	m[$s]=$(cat "sample-$s/m.txt")
	first[$s]=$nchunk
	if [ "${m[$s]}" -gt 0 ]; then
		nchunk=$((nchunk + (m[s] + C - 1) / C))
		msum=$((msum + m[s])) last=$s nonempty+="$s "
	fi
done
[ "$msum" -gt 0 ] || die "no rows were sampled"
total_rows=$((first[last] * C + m[last]))
budget=$((K * CORESET_RATE * total_rows / msum))

# --- 3. coresets, merged -> vkmeans -------------------------------------------

round coreset "$nonempty" -- "$K" "$STREAM_RATE" "$CORESET_RATE" "$SEED" '{FIRST}' "$total_rows" "$budget"
coresets=()
for s in $nonempty; do coresets+=("coreset-$s/coreset.vt"); done
master "vmerge of the coresets" "$BIN/vmerge" -q -o coreset.vt "${coresets[@]}"
master vkmeans "$BIN/vkmeans" -v -k "$K" --seed "$SEED" -j "$J" -o ivf-0.vt coreset.vt \
	2>"$model/logs/vkmeans.log"

# --- 4. refine passes: map (vrefine --partial), reduce (vmerge, --apply) -----

: >"$model/logs/refine.log"
for ((p = 1; p <= REFINE_PASSES; p++)); do
	c=ivf-$((p - 1)).vt
	round "refine$p" "$nonempty" --tf "$c" -- "$c"
	accs=()
	for s in $nonempty; do accs+=("refine$p-$s/acc.vt"); done
	# vmerge refuses accumulators of other centroids (a stale partial); then
	# vrefine --apply of each shard's alone names the shards that are stale.
	if ! "$BIN/vmerge" -q -o "acc-$p.vt" "${accs[@]}"; then
		for s in $nonempty; do
			"$BIN/vrefine" -q --apply -c "$c" "refine$p-$s/acc.vt" >/dev/null 2>&1 ||
				echo "$prog: host ${shost[$s]}: $(where "$s"): refine pass $p: its accumulators were not computed against $c" >&2
		done
		die "master: refine pass $p: vmerge of the accumulators failed"
	fi
	master "refine pass $p: vrefine --apply" "$BIN/vrefine" --apply -c "$c" -o "ivf-$p.vt" "acc-$p.vt" \
		2>>"$model/logs/refine.log"
done
master "ivf.vt" cp "ivf-$REFINE_PASSES.vt" "$model/ivf.vt"

# --- 5. quantizers -------------------------------------------------------------

pqs=() sqs=()
for ((s = 0; s < S; s++)); do pqs+=("sample-$s/pq.vt") sqs+=("sample-$s/sq.vt"); done
"$BIN/vpq" -v -c "$model/ivf.vt" -m "$PQ_M" --nbits "$NBITS" --seed "$SEED" -j "$J" \
	-o "$model/pq.vt" "${pqs[@]}" 2>"$model/logs/vpq.log" ||
	{ cat "$model/logs/vpq.log" >&2; die "master: vpq failed"; }
master "vmerge of the SQ partials" "$BIN/vmerge" -q -o sq.partial "${sqs[@]}"
master "vsqbounds" "$BIN/vsqbounds" -q -o "$model/sq.vt" sq.partial

# --- 6. the report: vloss partials from the hosts, merged ----------------------

master "ivf.vt" cp "$model/ivf.vt" ivf.vt
round loss "$nonempty" --tf ivf.vt -- ivf.vt
losses=()
for s in $nonempty; do losses+=("loss-$s/loss.vt"); done
master "vmerge of the loss partials" "$BIN/vmerge" -q -o loss.vt "${losses[@]}"
{
	echo "shards=$S n=$N m=$msum k=$K chunks=$nchunk chunk_rows=$C total_rows=$total_rows" \
		"budget=$budget coreset_rate=$CORESET_RATE refine_passes=$REFINE_PASSES seed=$SEED" \
		"pq_m=$PQ_M nbits=$NBITS sq_mode=$SQ_MODE"
	"$BIN/vloss" loss.vt
} >"$model/report.txt" || die "master: the report failed"

for f in ivf pq sq; do
	master "$f.npy" "$BIN/vcat" --to npy -o "$model/$f.npy" "$model/$f.vt"
done

# --- 7. bytes moved, per host --------------------------------------------------

{
	printf '%-16s %6s %14s %12s %12s %8s\n' host shards raw_bytes sent returned moved/raw
	declare -A hs=() hr=() hb=()
	for ((s = 0; s < S; s++)); do
		h=${shost[$s]}
		hs[$h]=$((${hs[$h]:-0} + 1))
		hr[$h]=$((${hr[$h]:-0} + raw[s]))
		b=$(find . -maxdepth 2 -path "./*-$s/*" -type f -printf '%s\n' | awk '{t += $1} END {print t + 0}')
		hb[$h]=$((${hb[$h]:-0} + b))
	done
	for h in $(printf '%s\n' "${shost[@]}" | awk '!seen[$0]++'); do
		printf '%-16s %6d %14d %12d %12d %8.5f\n' "$h" "${hs[$h]}" "${hr[$h]}" "${sent[$h]:-0}" \
			"${hb[$h]}" "$(echo "${sent[$h]:-0} ${hb[$h]} ${hr[$h]}" | awk '{print ($3 ? ($1 + $2) / $3 : 0)}')"
	done
	echo "(sent: the centroids broadcast to each shard; returned: the files of every step;"
	echo " as file sizes, before rsync's compression and without ssh's own bytes)"
	echo
	printf '%-10s %8s %10s %10s\n' step wall_s max_job_s max_work_s
	while read -r st t0 t1; do
		jl=$model/logs/$st.joblog
		mj=$( [ -s "$jl" ] && awk -F'\t' 'NR > 1 && $4 > m {m = $4} END {print m + 0}' "$jl" || echo 0)
		mw=$(cat "$st"-*/time.txt 2>/dev/null | awk '$1 > m {m = $1} END {print m + 0}')
		printf '%-10s %8.2f %10.2f %10.2f\n' "$st" "$(echo "$t1 $t0" | awk '{print $1 - $2}')" "$mj" "$mw"
	done <"$model/logs/rounds.txt"
	echo "(max_job_s: the longest job as GNU parallel timed it, with ssh and rsync;"
	echo " max_work_s: the longest time the programs took inside a job)"
} >"$model/transfer.txt"

# --- done: the model appears whole, or not at all ------------------------------

cd "$outdir"
if [ -e "$out" ]; then
	mv "$out" "$tmp/old" || die "$out: cannot move the old model aside"
fi
mv "$model" "$out" || die "$out: cannot put the model in place"
ok=1
[ -n "$QUIET" ] || { cat "$out/report.txt"; cat "$out/transfer.txt"; }
