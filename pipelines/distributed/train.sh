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
  --metric METRIC       l2, cosine or dot (METRIC, l2): vsample normalises the
                        rows under cosine, and records the metric in them for
                        every later step (dot: spherical k-means, vkmeans(1))
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
vd_usage="Usage: train.sh [OPTIONS] SSHLOGINFILE MANIFEST OUT (train.sh --help)"
# shellcheck source=lib.sh
. "$here/lib.sh"

vd_option() { return 1; } # (no options of its own)

vd_defaults
vd_parse "$@"
vd_operands manifest out
vd_check_bin

# --- hosts and shards --------------------------------------------------------

vd_sshlogins
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
	vd_exit "$rc"
}
vd_traps
cd "$work"

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
