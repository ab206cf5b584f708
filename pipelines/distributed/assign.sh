#!/usr/bin/env bash
# assign.sh: vassign over a data set whose shards live on several hosts,
# where each shard lives, over ssh with GNU parallel (as train.sh).
usage() {
	cat <<'EOF'
Usage: assign.sh [OPTIONS] SSHLOGINFILE MANIFEST -c IVF (-o FILE | --leave) [-- VASSIGN-OPTIONS]
       assign.sh --local [OPTIONS] MANIFEST -c IVF (-o FILE | --leave) [-- VASSIGN-OPTIONS]

Label every row of a data set whose shards live on several hosts (vassign:
its nearest IVF partitions, their distances, and with --pq its PQ code).
vassign runs on the host of each shard, with the shard's first global id;
the model is sent to every host.  Then either the labels come back and are
merged with vmerge into FILE (-o), the bytes of one vassign over the shards
put end to end, or each shard's labels stay beside it (--leave).

SSHLOGINFILE  GNU parallel sshlogins, one a line: [NCPUS/]SSHLOGIN (as for
              train.sh: NCPUS shards of that host at once, default 1).
MANIFEST      the shards, one a line, in data-set order: HOST PATH (as for
              train.sh; HOST<TAB>PATH for a path with spaces).

Steps: vcat --info of each shard on its host (its rows, and whether they
carry ids); the global offsets (the rows of the shards before each one;
shards with ids keep their ids, and then every shard must have them); on
each host: vassign -c IVF [--pq PQ] ... --offset A_s of each shard; then
-o: the labels returned, checked and merged with vmerge into FILE; or
--leave: each shard's labels put beside it, as DIR/NAME.labels.vt for the
shard DIR/NAME.EXT, and "HOST<TAB>PATH" of each printed on stdout (a
manifest of the labels).  The bytes depend on the shards and their order,
never on the hosts, NCPUS or -j.

Options (J, BIN, REMOTE_BIN, REMOTE_DIR, SSH and RETRIES in the environment
work too, as for train.sh):
  -c, --centroids FILE  the IVF centroids (required)
  --pq FILE             a PQ codebook (vpq -c of the same centroids): codes
  --top N               partitions per row (default 1)
  --metric METRIC       l2, cosine or dot: confirms the model's (vassign(1))
  -z, --compress=CODEC  the labels' frames: none (default), lz4, lz4-shuffle (-z)
  -o FILE               the merged labels (written when complete)
  --leave               each shard's labels beside it, instead of -o
  --send FILE           send FILE to every host as well (repeatable), into
                        the directory vassign runs in: VASSIGN-OPTIONS name
                        it by its base name (--send sq.vt -- --sq sq.vt)
  -- VASSIGN-OPTIONS    the rest goes to vassign as it is, on every host
  -j J                  threads of each vassign (J, default 1)
  --bin DIR             vtrain programs on this machine (BIN, default build/bin)
  --remote-bin DIR      vtrain programs on the workers (REMOTE_BIN, default BIN)
  --remote-dir DIR      work directory on the workers (REMOTE_DIR; default: a
                        .vdist directory beside each shard's file)
  --ssh CMD             ssh command for parallel (SSH, default ssh)
  --retries N           GNU parallel --retries: try a failing job N times
  --keep                keep the work directories (master and workers)
  --local               run every step here, one shard after another
  -q                    no summary on stderr
  -h, --help            this help

The model and the options are checked here first (vassign on no rows):
what vassign refuses stops the run before any host is used.

Exit status: 0 ok; 1 a failed step (the message names the host and shard);
2 usage.  A failed run leaves no FILE, no shard's labels (with --leave, a
failure while they are put in place removes every shard's labels file, an
earlier run's too) and, on the hosts that answer, no work directory.  There
is no --resume: a run starts over.  See docs/DISTRIBUTED.md.
EOF
}

set -Eeuo pipefail
trap 'echo "vdist: master: a command failed (exit $?) at line $LINENO of assign.sh (a full disk?)" >&2' ERR
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) vd_here=$here
vd_usage="Usage: assign.sh [OPTIONS] SSHLOGINFILE MANIFEST -c IVF (-o FILE | --leave) (assign.sh --help)"
# shellcheck source=lib.sh
. "$here/lib.sh"


CENTROIDS='' PQ='' TOP='' AMETRIC='' CODEC='' OUT='' LEAVE=''
sends=() extra=()
vd_option() {
	vd_used=2
	case $1 in
	-c | --centroids) CENTROIDS=${2-} ;;
	--pq) PQ=${2-} ;;
	--top) TOP=${2-} ;;
	--metric) AMETRIC=${2-} ;;
	--metric=*) AMETRIC=${1#--metric=} vd_used=1 ;;
	-z) CODEC=lz4-shuffle vd_used=1 ;;
	--compress=*) CODEC=${1#--compress=} vd_used=1 ;;
	-o) OUT=${2-} ;;
	--leave) LEAVE=1 vd_used=1 ;;
	--send) sends+=("${2-}") ;;
	--) extra=("${@:2}") vd_used=$# ;;
	-k | --sample-rate | --stream-rate | --coreset-rate | --refine-passes | --seed | --pq-m | --nbits | \
		--sq-mode | --resume)
		usage_error "$1: an option of train.sh, not of assign.sh" ;;
	*) return 1 ;;
	esac
	[ "$vd_used" = 1 ] || [ $# -ge 2 ] || usage_error "$1 needs a value"
}
vd_checks() {
	[ -n "$CENTROIDS" ] || usage_error "give -c IVF, the centroids"
	[ -n "$OUT" ] || [ -n "$LEAVE" ] || usage_error "give -o FILE (the merged labels) or --leave"
	[ -z "$OUT" ] || [ -z "$LEAVE" ] || usage_error "-o and --leave: give one"
	local v a
	for v in J ${TOP:+TOP} ${RETRIES:+RETRIES}; do
		[[ ${!v} =~ ^[0-9]+$ ]] || usage_error "$v must be a whole number (got '${!v}')"
	done
	case $AMETRIC in '' | l2 | cosine | dot) ;; *) usage_error "--metric is l2, cosine or dot (got '$AMETRIC')" ;; esac
	case $CODEC in '' | none | lz4 | lz4-shuffle) ;; *) usage_error "--compress is none, lz4 or lz4-shuffle (got '$CODEC')" ;; esac
	for a in "${extra[@]}"; do
		case $a in
		-o | --output | --output=* | --offset | --offset=* | -c | --centroids | --centroids=*)
			usage_error "$a after --: assign.sh sets it (give -c and -o to assign.sh)" ;;
		*$'\n'*) usage_error "an argument after -- holds a newline" ;;
		esac
	done
}
vd_params() { # (for params.txt)
	echo "assign centroids=$CENTROIDS pq=$PQ top=$TOP metric=$AMETRIC codec=$CODEC leave=$LEAVE" \
		"send=${sends[*]} args=${extra[*]}"
}

vd_defaults
vd_parse "$@"
vd_operands manifest
vd_check_bin vcat vgen vassign vmerge
vd_sshlogins
vd_manifest "$manifest"

# --- the model, here: staged in the work directory and checked -------------------

files=()
for f in "$CENTROIDS" ${PQ:+"$PQ"} "${sends[@]}"; do
	[ -r "$f" ] && [ -f "$f" ] || die "$f: cannot read it"
done
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
CENTROIDS=$(abs "$CENTROIDS")
[ -z "$PQ" ] || PQ=$(abs "$PQ")
for i in "${!sends[@]}"; do sends[i]=$(abs "${sends[$i]}"); done
# sdest[]: with --leave, each shard's labels file (distinct on each host).
sdest=()
if [ -n "$LEAVE" ]; then
	declare -A seen=()
	for ((s = 0; s < S; s++)); do
		p=${spath[$s]} b=${spath[$s]##*/}
		case $b in ?*.*) p=${p%.*} ;; esac
		sdest[s]=$p.labels.vt
		k="${shost[$s]} ${sdest[$s]}"
		[ -z "${seen[$k]:-}" ] ||
			die "$manifest: shards ${seen[$k]} and $s would both leave their labels in ${shost[$s]}:${sdest[$s]}"
		seen[$k]=$s
	done
	for ((s = 0; s < S; s++)); do
		[ -z "${seen[${shost[$s]} ${spath[$s]}]:-}" ] ||
			die "$manifest: the labels of shard ${seen[${shost[$s]} ${spath[$s]}]} would replace shard $s (${spath[$s]})"
	done
fi

# The state: .OUT.vdist beside OUT (--leave: beside the manifest), removed
# at the end, failed or not (no --resume).
vd_open "${OUT:-$manifest.labels}"
ok='' leaving=''
vd_dest() { echo "${sdest[$1]}"; }
finish() {
	local rc=$?
	if [ -z "$ok" ] && [ -n "$leaving" ]; then
		echo "$prog: removing the labels put in place so far" >&2
		vd_remove unleave vd_dest
	fi
	if [ -z "$KEEP" ]; then
		clean_workers || true
		rm -rf "$state"
	else
		echo "$prog: kept $state and the workers' $runid directories" >&2
	fi
	vd_exit "$rc"
}
vd_traps
cd "$work"
t0=$(now)

# The files sent to each job, by name: c-NAME (the centroids), pq-NAME, and
# the --send files by their base names.
stage() { # stage FILE NAME
	[ ! -e "$2" ] || die "$1: another file sent has the name $2"
	case $2 in info-* | assign-* | leave-* | labels.vt | .* | '') die "$1: $2 is a name of the run's own" ;; esac
	[[ $2 != *[[:space:]]* ]] || die "$1: a file sent to the hosts cannot have spaces in its name"
	cp "$1" "$2" || die "$1: cannot copy it"
	files+=("$2")
}
stage "$CENTROIDS" "c-${CENTROIDS##*/}"
va_args=(-c "c-${CENTROIDS##*/}")
if [ -n "$PQ" ]; then
	stage "$PQ" "pq-${PQ##*/}"
	va_args+=(--pq "pq-${PQ##*/}")
fi
for f in "${sends[@]}"; do stage "$f" "${f##*/}"; done
[ -z "$TOP" ] || va_args+=(--top "$TOP")
[ -z "$AMETRIC" ] || va_args+=("--metric=$AMETRIC")
[ -z "$CODEC" ] || va_args+=("--compress=$CODEC")
va_args+=("${extra[@]}")

# vassign here, on no rows of the centroids' dimension: its options and the
# model (a codebook of other centroids, a metric that disagrees) are refused
# before any host is used.
d=$("$BIN/vcat" --info "${files[0]}" 2>check.err | awk '$1 == "dim:" {print $2}') || true
[ -n "$d" ] || die "$CENTROIDS: not centroids: $(cat check.err)"
"$BIN/vgen" -q -n 0 -d "$d" -o zero.vt 2>check.err || die "vgen of an empty input failed: $(cat check.err)"
rc=0
# (-o under FILE's name: vassign refuses a foreign one, as vmerge would)
check=check.vt
if [ -n "$OUT" ] && [ ! -e "${OUT##*/}" ]; then check=${OUT##*/}; fi
"$BIN/vassign" -q -j 1 "${va_args[@]}" -o "$check" zero.vt 2>check.err || rc=$?
if [ "$rc" != 0 ]; then
	sed "s/^/$prog: /" check.err >&2
	[ "$rc" = 2 ] && exit 2
	die "vassign refused the model or the options (above), here, before any host was used"
fi
rm -f zero.vt "$check" check.err

# --- the rounds ------------------------------------------------------------------

# Rows and ids: the offsets.
round info
rows=() offset=() N=0 nids=0
for ((s = 0; s < S; s++)); do
	read -r r i <"info-$s/info.txt" || die "info-$s/info.txt: cannot read it"
	[[ $r =~ ^[0-9]+$ ]] || die "host ${shost[$s]}: $(where "$s"): no row count ($r)"
	rows[s]=$r offset[s]=$N
	if [ "$i" = 1 ]; then offset[s]=- nids=$((nids + 1)); fi
	N=$((N + r))
done
if [ "$nids" != 0 ] && [ "$nids" != "$S" ]; then
	for ((s = 0; s < S; s++)); do [ "${offset[$s]}" = - ] || break; done
	die "$(where "$s") has no ids, and $nids of the $S shards have: all the shards or none"
fi

round assign "${files[*]}"
for ((s = 0; s < S; s++)); do
	[ "$(cat "assign-$s/rows.txt")" = "${rows[$s]}" ] ||
		die "host ${shost[$s]}: $(where "$s"): $(cat "assign-$s/rows.txt") labels for ${rows[$s]} rows"
done

if [ -n "$LEAVE" ]; then
	leaving=1
	round leave
	for ((s = 0; s < S; s++)); do
		[ "$(cat "leave-$s/path.txt")" = "${sdest[$s]}" ] || die "$(where "$s"): leave-$s/path.txt: another path"
	done
	ok=1
	for ((s = 0; s < S; s++)); do printf '%s\t%s\n' "${shost[$s]}" "${sdest[$s]}"; done
else
	labels=()
	for ((s = 0; s < S; s++)); do labels+=("assign-$s/labels.vt"); done
	master "vmerge of the labels" "$BIN/vmerge" -q ${CODEC:+"--compress=$CODEC"} -o "$out" "${labels[@]}"
	ok=1
fi
[ -n "$QUIET" ] || echo "$prog: assign: shards=$S rows=$N $([ -n "$LEAVE" ] && echo left || echo "out=$out")" \
	"time=$(echo "$(now) $t0" | awk '{printf "%.2f", $1 - $2}')s" >&2
