/* vassign: every row's nearest IVF partitions, their distances and the PQ
 * code of its residual, as a labels stream. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "vtrain.h"
#include "bridge/accumio.h"
#include "bridge/labelpass.h"
#include "bridge/shuffle.h"
#include "bridge/centroids.h"
#include "train/pool.h"
#include "train/sqcode.h"

static const char usage[] =
"Usage: vassign -c IVF_CENTROIDS [--pq CODEBOOK | --sq BOUNDS] [--top N] [OPTIONS]\n"
"               [FILE...]\n"
"       vassign -c IVF_CENTROIDS [--pq CODEBOOK | --sq BOUNDS] --sort [--budget SIZE]\n"
"               [--tmpdir DIR] [--offsets FILE.npy] [--vectors-out FILE] [FILE...]\n"
"Label every row of the vectors in FILE: its N nearest IVF partitions (exact:\n"
"the argmin of the double squared distance, ties to the lower index), their\n"
"squared distances, and with --pq (or --sq) the PQ (or 8-bit SQ) code of its\n"
"residual to the nearest partition.  Writes a labels stream (docs/FORMAT.md), one row per input row in\n"
"input order, with the input's ids, else OFFSET + the row number.  vcat --to\n"
"npy or text exports it; vmerge merges the labels of shards by id.\n"
"\n"
"  -c, --centroids FILE  IVF centroids (a centroids stream, or vectors in any\n"
"                        format)\n"
"      --pq FILE         PQ codebook trained on residuals against -c (vpq -c);\n"
"                        adds the code of every row\n"
"      --sq FILE         SQ bounds of the residuals against -c (vsqbounds -c);\n"
"                        adds the 8-bit code of every row's residual, d bytes,\n"
"                        as FAISS's IndexIVFScalarQuantizer QT_8bit stores it\n"
"      --top N           partitions per row, nearest first (default 1, at most\n"
"                        64 and k)\n"
"      --offset A        id of the first row of an input without ids (default 0;\n"
"                        for shards cut with vcat --rows A:B)\n"
"      --metric=METRIC   l2, cosine (normalise rows) or dot (the largest inner\n"
"                        product; the centroids must have unit norm, so it is\n"
"                        the nearest one, and the distances stay ||x - c||^2).\n"
"                        The default is the metric of -c, else of the input,\n"
"                        else l2; one that disagrees with either, or with\n"
"                        --pq, is an error\n"
"      --batch-rows N    rows labelled at once (default: about 16 MiB of rows)\n"
"      --sort            write the rows in order of (nearest partition, id), an\n"
"                        external merge sort (rows of equal id keep input order)\n"
"      --budget SIZE     --sort: bytes of the sort's run buffer (K, M, G suffixes;\n"
"                        default 1G); more rows go to sorted runs in --tmpdir\n"
"      --tmpdir DIR      --sort: where the runs go (default $TMPDIR, else /tmp)\n"
"      --offsets FILE    --sort: write the .npy int64 array of k + 1 offsets: the\n"
"                        row where each partition starts\n"
"      --vectors-out FILE  --sort: also write the input rows with their ids, in\n"
"                        the same order, as a vectors stream\n"
"  -j, --threads N       threads (default: all cores)\n"
"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
"  -z, --compress=CODEC  frame compression: none (default), lz4, lz4-shuffle (-z)\n"
"  -q, --quiet           no progress line, no summary\n"
"  -v, --verbose         details of the search\n"
"  -h, --help            this help\n"
"      --version         version\n"
"\n"
"Memory: about batch x (4d + 24 N + M + 16) + 4 k d + 12 d 2^B + the search\n"
"index (8 k + G (4d + 52)) bytes, plus with --sort the budget (see vassign(1)).\n"
"Exit status: 0 ok, 1 failure, 2 usage.  See vassign(1), vcat(1), vmerge(1).\n";

enum { OPT_PQ = 0x2000, OPT_SQ, OPT_TOP, OPT_OFFSET, OPT_BATCH, OPT_SORT, OPT_BUDGET,
       OPT_TMPDIR, OPT_OFFSETS, OPT_VECTORS_OUT };

typedef struct {
	const char *pq, *sq;
	size_t top;
	unsigned long long offset;
	int offset_given;
	size_t batch;
	int sort;
	unsigned long long budget;
	const char *tmpdir, *offsets, *vectors_out;
} opts;

static int on_opt(int c, const char *arg, void *ctx)
{
	opts *o = ctx;
	switch (c) {
	case OPT_PQ: o->pq = arg; return 0;
	case OPT_SQ: o->sq = arg; return 0;
	case OPT_TOP: o->top = (size_t)vt_cli_int("--top", arg, 1, VT_NEAREST_MAX_TOP); return 0;
	case OPT_OFFSET:
		o->offset = (unsigned long long)vt_cli_int("--offset", arg, 0, 1LL << 62);
		o->offset_given = 1;
		return 0;
	case OPT_BATCH: o->batch = (size_t)vt_cli_int("--batch-rows", arg, 1, 1 << 24); return 0;
	case OPT_SORT: o->sort = 1; return 0;
	case OPT_BUDGET: o->budget = vt_cli_size("--budget", arg); return 0;
	case OPT_TMPDIR: o->tmpdir = arg; return 0;
	case OPT_OFFSETS: o->offsets = arg; return 0;
	case OPT_VECTORS_OUT: o->vectors_out = arg; return 0;
	}
	return -1;
}

static const struct option longopts[] = {
	{"pq", required_argument, NULL, OPT_PQ},
	{"sq", required_argument, NULL, OPT_SQ},
	{"top", required_argument, NULL, OPT_TOP},
	{"offset", required_argument, NULL, OPT_OFFSET},
	{"batch-rows", required_argument, NULL, OPT_BATCH},
	{"sort", no_argument, NULL, OPT_SORT},
	{"budget", required_argument, NULL, OPT_BUDGET},
	{"tmpdir", required_argument, NULL, OPT_TMPDIR},
	{"offsets", required_argument, NULL, OPT_OFFSETS},
	{"vectors-out", required_argument, NULL, OPT_VECTORS_OUT},
	{0},
};

static int on_progress(void *ctx, uint64_t rows)
{
	vt_progress_update(ctx, rows, 0);
	return 0;
}

/* A model of --pq or --sq (header h, read from path) must have been made on
 * residuals against the centroids cent (read from cpath), under the run's
 * metric: else an error that names both.  what is "codebook" or "bounds",
 * unmade says how a model of rows was made. */
static void check_made_against(const vt_header *h, const char *path, const char *what,
                               const char *unmade, const vt_model *cent, const char *cpath,
                               int metric)
{
	char mine[17];
	vt_centroids_id_hex(cent->x, cent->rows, cent->dim, mine);
	const char *theirs = vt_header_get(h, "centroids_id");
	if (!theirs)
		vt_cli_fail(VT_EFORMAT, "%s: %s; vassign encodes residuals against %s (centroids_id %s)",
		            path, unmade, cpath, mine);
	if (strcmp(theirs, mine) != 0)
		vt_cli_fail(VT_EFORMAT, "%s: %s against other centroids (centroids_id %s), not %s "
		            "(centroids_id %s)", path, what, theirs, cpath, mine);
	int m = vt_metric_recorded(h, NULL);
	if (m >= 0 && m != metric)
		vt_cli_fail(VT_EINVAL, "%s: made with metric=%s, but %s runs under metric=%s", path,
		            vt_metric_name(m), cpath, vt_metric_name(metric));
}

/* Load the codebook of --pq and check it belongs to the centroids cent
 * (loaded from cpath) and the run's metric. */
static void load_pq(vt_model *pq, const char *path, const vt_model *cent, const char *cpath,
                    int metric)
{
	char err[512];
	int rc = vt_model_load(pq, path, VT_KINDMASK(VT_KIND_PQ), (size_t)1 << 24, err, sizeof err);
	if (rc == VT_EKIND)
		vt_cli_fail(rc, "%s: is not a PQ codebook (make one with vpq -c %s)", path, cpath);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	const char *m = vt_header_get(&pq->h, "m"), *nb = vt_header_get(&pq->h, "nbits");
	const char *d = vt_header_get(&pq->h, "d");
	long nbits = strtol(nb, NULL, 10);
	if (nbits > 8)
		vt_cli_fail(VT_EUNSUP, "%s: nbits=%ld: vassign writes one byte per code, so nbits "
		            "must be 1 to 8", path, nbits);
	if (strtoull(d, NULL, 10) != cent->dim)
		vt_cli_fail(VT_EDIM, "%s: codebook of d=%s (m=%s), but %s has dimension %u", path, d,
		            m, cpath, cent->dim);
	check_made_against(&pq->h, path, "codebook trained", "codebook was not trained on "
	                   "residuals (vpq --no-residual)", cent, cpath, metric);
}

/* Load the SQ bounds of --sq and check they belong to the centroids cent
 * (loaded from cpath), the dimension and the run's metric; fill FAISS's
 * trained array (vmin, vdiff) and the float32 bounds that sq_id names. */
static void load_sq(vt_model *sq, const char *path, const vt_model *cent, const char *cpath,
                    int metric, float *vmin, float *vdiff, float *bounds)
{
	char err[512];
	int rc = vt_model_load(sq, path, VT_KINDMASK(VT_KIND_SQ), (size_t)1 << 16, err,
	                       sizeof err);
	if (rc == VT_EKIND)
		vt_cli_fail(rc, "%s: is not SQ bounds (make them with vsqbounds -c %s)", path, cpath);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	const char *form = vt_header_get(&sq->h, "form");
	if (!form || strcmp(form, "bounds") != 0 || sq->rows != 2)
		vt_cli_fail(VT_EFORMAT, "%s: holds SQ statistics, not bounds (finish them with "
		            "vsqbounds %s)", path, path);
	if (sq->dim != cent->dim)
		vt_cli_fail(VT_EDIM, "%s: bounds of d=%u, but %s has dimension %u", path, sq->dim,
		            cpath, cent->dim);
	check_made_against(&sq->h, path, "bounds of residuals", "bounds of rows, not of "
	                   "residuals (vsqbounds without -c)", cent, cpath, metric);
	const size_t d = sq->dim;
	for (size_t j = 0; j < 2 * d; j++) {
		if (!isfinite(sq->xd[j]) || (j < d && sq->xd[j] > sq->xd[d + j]))
			vt_cli_fail(VT_EDATA, "%s: dimension %zu has bounds [%g, %g]", path, j % d,
			            sq->xd[j % d], sq->xd[d + j % d]);
		bounds[j] = (float)sq->xd[j];
	}
	vt_sq8_trained(sq->xd, d, vmin, vdiff);
}

/* Open the extra output of option opt at path (a file, not stdout). */
static void open_extra(vt_out *o, const char *opt, const char *path, const vt_cli *c)
{
	if (strcmp(path, "-") == 0 || (c->output && strcmp(path, c->output) == 0))
		vt_cli_usage_error("%s %s: give a file of its own (not standard output or -o)", opt,
		                   path);
	if (vt_out_open(o, path) < 0)
		vt_cli_fail(VT_EIO, "%s: %s", path, strerror(errno));
}

/* --sort: the labels to w in (partition, id) order, the offsets and the
 * input rows to their files.  Returns what vt_assign_sorted returns. */
static int run_sorted(const opts *o, const vt_cli *c, vt_input *in, vt_pool *pool,
                      const vt_model *cent, const vt_assign_opts *ao, vt_header *h,
                      vt_writer *w, vt_assign_stats *st, vt_sort_stats *ss, char *err,
                      size_t errlen)
{
	const size_t k = cent->rows, d = cent->dim;
	vt_sort_opts so = {.budget = (size_t)o->budget, .keep_rows = o->vectors_out != NULL};
	so.tmpdir = o->tmpdir ? o->tmpdir : getenv("TMPDIR") && *getenv("TMPDIR") ?
	            getenv("TMPDIR") : "/tmp";
	struct stat sb;
	const char *why = stat(so.tmpdir, &sb) < 0 ? strerror(errno) : !S_ISDIR(sb.st_mode) ?
	                  "not a directory" : access(so.tmpdir, W_OK | X_OK) < 0 ?
	                  strerror(errno) : NULL;
	if (why)
		vt_cli_fail(VT_EIO, "--tmpdir %s: %s", so.tmpdir, why);
	vt_out vo, fo;
	vt_header vh;
	vt_writer *wv = NULL;
	if (o->vectors_out) {
		open_extra(&vo, "--vectors-out", o->vectors_out, c);
		vt_cli_check_meta(c, vt_sort_vectors_header(&vh, h, d));
		if (vt_writer_open(&wv, &vo, &vh, c->codec, 0) < 0)
			vt_cli_fail(VT_EIO, "%s: %s", o->vectors_out, strerror(errno));
	}
	if (o->offsets)
		open_extra(&fo, "--offsets", o->offsets, c);
	uint64_t *counts = vt_cli_xmalloc(k * sizeof *counts);
	int rc = vt_assign_sorted(in, pool, cent->x, k, d, ao, &so, w, wv, counts, st, ss, err,
	                          errlen);
	const char *failed = rc < 0 && st->write_failed == 2 ? o->vectors_out : NULL;
	if (rc == 0 && wv && ((rc = vt_writer_finish(wv)) < 0 || (rc = vt_out_commit(&vo)) < 0))
		failed = o->vectors_out;
	if (rc == 0 && o->offsets && ((rc = vt_labels_offsets_npy(&fo, counts, k)) < 0 ||
	                              (rc = vt_out_commit(&fo)) < 0))
		failed = o->offsets;
	if (failed)
		vt_cli_fail(rc, "%s: %s", failed, rc == VT_EIO ? strerror(errno) : vt_strerror(rc));
	if (rc < 0 && wv)
		vt_out_abort(&vo);   /* the caller fails; these outputs go with -o */
	if (rc < 0 && o->offsets)
		vt_out_abort(&fo);
	if (wv) {
		vt_writer_free(wv);
		vt_header_free(&vh);
	}
	free(counts);
	return rc;
}

int main(int argc, char **argv)
{
	vt_cli_init("vassign");
	opts o = {.top = 1};
	vt_cli_spec spec = {
		.name = "vassign",
		.usage = usage,
		.shared = VT_CLI_OUTPUT | VT_CLI_CENTROIDS | VT_CLI_THREADS | VT_CLI_COMPRESS |
		          VT_CLI_METRIC,
		.longopts = longopts,
		.opt = on_opt,
		.ctx = &o,
	};
	vt_cli c;
	vt_cli_parse(argc, argv, &spec, &c);
	if (!c.centroids)
		vt_cli_usage_error("-c IVF_CENTROIDS is required");
	if (o.pq && o.sq)
		vt_cli_usage_error("--pq and --sq both give the codes; choose one");
	vt_cli_no_tty(c.output);
	if (!o.sort && (o.budget || o.tmpdir || o.offsets || o.vectors_out))
		vt_cli_usage_error("%s applies to --sort only", o.budget ? "--budget" : o.tmpdir ?
		                   "--tmpdir" : o.offsets ? "--offsets" : "--vectors-out");

	char err[512];
	int rc;
	vt_out out;
	vt_cli_open_output(&c, &out);
	vt_input *in = vt_cli_open_input(&c, NULL);
	const vt_header *ih = vt_input_header(in);
	if (ih->kind != VT_KIND_VECTORS)
		vt_cli_fail(VT_EKIND, "%s: is a %s stream; vassign labels vectors", vt_input_path(in),
		            vt_kind_name(ih->kind));
	if (o.offset_given && (ih->cols & VT_COL_IDS))
		vt_cli_fail(VT_EINVAL, "%s: has ids of its own; --offset numbers the rows of an input "
		            "without ids", vt_input_path(in));

	char mfrom[600];
	int metric = vt_cli_input_metric(&c, in, mfrom, sizeof mfrom);
	vt_model cent = {0}, pq = {0}, sq = {0};
	vt_centroids_opts co = {.dim = ih->dim, .dim_of = vt_input_path(in), .metric = metric,
	                        .metric_from = mfrom[0] ? mfrom : NULL, .metric_out = &metric};
	if ((rc = vt_centroids_load(&cent, c.centroids, &co, err, sizeof err)) < 0)
		vt_cli_fail(rc, "%s", err);
	const size_t k = cent.rows, d = cent.dim;
	if (o.top > k)
		vt_cli_fail(VT_EINVAL, "--top %zu: %s has only k=%zu centroids", o.top, c.centroids, k);
	size_t M = 0;
	int nbits = 0;
	if (o.pq) {
		load_pq(&pq, o.pq, &cent, c.centroids, metric);
		M = (size_t)strtoul(vt_header_get(&pq.h, "m"), NULL, 10);
		nbits = (int)strtol(vt_header_get(&pq.h, "nbits"), NULL, 10);
	}
	float *sq_vmin = NULL, *sq_vdiff = NULL, *sq_bounds = NULL;
	if (o.sq) {
		sq_vmin = vt_cli_xmalloc(4 * d * sizeof *sq_vmin);
		sq_vdiff = sq_vmin + d, sq_bounds = sq_vmin + 2 * d;
		load_sq(&sq, o.sq, &cent, c.centroids, metric, sq_vmin, sq_vdiff, sq_bounds);
		M = d, nbits = 8;
	}

	vt_labels_shape s;
	if (vt_labels_shape_make(&s, k, o.top, M, nbits) < 0)
		vt_cli_fail(VT_EINVAL, "labels of top=%zu and %zu codes do not fit a stream", o.top, M);
	s.sq = o.sq != NULL;
	vt_header h;
	vt_cli_check_meta(&c, vt_assign_header(&h, &s, cent.x, d, o.pq ? pq.x : NULL,
	                                       sq_bounds, vt_metric_name(metric),
	                                       "vassign " VT_VERSION_STRING));
	if (o.sort)
		vt_cli_check_meta(&c, vt_sort_mark(&h));
	vt_writer *w;
	vt_cli_check_output(&c, vt_writer_open(&w, &out, &h, c.codec, 0));

	vt_pool *pool;
	if ((rc = vt_pool_new(&pool, c.threads)) < 0)
		vt_cli_fail(rc, "%s", vt_strerror(rc));
	vt_progress pg;
	vt_progress_start(&pg, &c, "rows");
	vt_progress_input(&pg, in);
	vt_assign_opts ao = {.top = o.top, .cosine = metric == VT_METRIC_COSINE,
	                     .offset = o.offset, .batch_rows = o.batch,
	                     .codebook = o.pq ? pq.x : NULL, .pq_m = M, .pq_nbits = nbits,
	                     .sq_vmin = sq_vmin, .sq_vdiff = sq_vdiff,
	                     .progress = on_progress, .progress_ctx = &pg};
	vt_assign_stats st;
	vt_sort_stats ss = {0};
	double t0 = vt_now();
	if (o.sort)
		rc = run_sorted(&o, &c, in, pool, &cent, &ao, &h, w, &st, &ss, err, sizeof err);
	else
		rc = vt_assign_input(in, pool, cent.x, k, d, &ao, w, &st, err, sizeof err);
	vt_progress_end(&pg);
	if (rc < 0 && st.write_failed)
		vt_cli_output_failed(&c, rc);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	vt_cli_check_output(&c, vt_writer_finish(w));
	vt_cli_commit_output(&c, &out);
	double secs = vt_now() - t0;

	if (st.zero_norm && !c.quiet)
		vt_cli_msg("warning: %zu rows have norm 0 and cannot be normalised", st.zero_norm);
	const vt_nearest_stats *ns = &st.nearest;
	vt_cli_verbose(&c, "search: index %zu bytes; rows certified in round 1 %.0f, round 2 %.0f, "
	               "brute force %.0f (costly %.0f, overflow %.0f, chunks %.0f); %.3g "
	               "evaluations per row", st.index_bytes, ns->rows_round1, ns->rows_round2,
	               ns->rows_costly + ns->rows_overflow + ns->rows_brute, ns->rows_costly,
	               ns->rows_overflow, ns->rows_brute, ns->rows ? ns->evals / ns->rows : 0.0);
	vt_cli_verbose(&c, "time: search %.2fs, %s encoding %.2fs", st.t_nearest,
	               o.sq ? "SQ" : "PQ", st.t_pq);
	if (o.sort)
		vt_cli_verbose(&c, "sort: %zu runs of at most %zu rows, %llu bytes spilled; sorting "
		               "%.2fs, merging %.2fs", ss.runs, ss.run_rows,
		               (unsigned long long)ss.spilled, ss.t_sort, ss.t_merge);
	char runs[32] = "";
	if (o.sort)
		snprintf(runs, sizeof runs, " runs=%zu", ss.runs);
	if (!c.quiet)
		vt_cli_msg("rows=%llu k=%zu top=%zu %s=%zu metric=%s%s time=%.2fs",
		           (unsigned long long)st.rows, k, o.top, o.sq ? "sq_d" : "pq_m", M,
		           vt_metric_name(metric), runs, secs);
	vt_pool_free(pool);
	vt_writer_free(w);
	vt_header_free(&h);
	vt_model_free(&pq);
	vt_model_free(&sq);
	free(sq_vmin);
	vt_model_free(&cent);
	vt_input_free(in);
	return 0;
}
