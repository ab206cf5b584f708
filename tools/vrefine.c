/* vrefine: one streaming Lloyd pass of vectors (or weighted points)
 * against centroids, writing new centroids; or the pass's mergeable
 * accumulators (--partial), or the centroids of merged accumulators
 * (--apply). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vtrain.h"
#include "bridge/accumio.h"
#include "bridge/centroids.h"
#include "bridge/pass.h"
#include "train/pool.h"
#include "train/vecops.h"

#define MADE_BY "vrefine " VT_VERSION_STRING

static const char usage[] =
"Usage: vrefine -c CENTROIDS [OPTIONS] [FILE...]\n"
"       vrefine -c CENTROIDS --partial [OPTIONS] [FILE...]\n"
"       vrefine -c CENTROIDS --apply [OPTIONS] ACCUM...\n"
"One Lloyd pass: assign every vector (or weighted point) of FILE to its\n"
"nearest centroid of CENTROIDS and write the new centroids, each the mean of\n"
"its members (weight = members, loss = their loss against the old centroid).\n"
"An empty cluster keeps its old centroid.  Prints the pass's loss on stderr:\n"
"  vrefine: pass loss=... n=... empty=...\n"
"Run it again on its output for more passes.  With --partial, write the\n"
"pass's accumulators instead (one per shard); --apply turns accumulators,\n"
"concatenated or merged, into the same centroids that one run over all the\n"
"shards writes (the sums are exact: see vrefine(1)).\n"
"\n"
"  -c, --centroids FILE  centroids (a centroids stream, or vectors in any format)\n"
"      --partial         write an accumulator stream instead of centroids\n"
"      --apply           read accumulators (of -c) and write their centroids\n"
"      --metric=METRIC   l2, cosine (normalise rows, emit normalised\n"
"                        centroids) or dot (inner product: the centroids must\n"
"                        have unit norm, and the new ones are the members'\n"
"                        means scaled to unit norm, as spherical k-means\n"
"                        does).  The default is the metric of -c, else\n"
"                        of the input, else l2; one that disagrees with either\n"
"                        is an error\n"
"      --batch-rows N    rows assigned at once (default: about 16 MiB of rows)\n"
"  -j, --threads N       threads (default: all cores)\n"
"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
"  -q, --quiet           no summary or warnings on stderr\n"
"  -v, --verbose         more detail\n"
"  -h, --help            this help\n"
"      --version         version\n"
"\n"
"Memory: batch x (4d + 29) + 36 k d + 80 k bytes, the nearest-centroid index\n"
"(about k x (8 + d / 14) bytes) and up to 30 MiB + 660 x min(batch, 32768)\n"
"bytes of search scratch (+ one input frame).  VT_NEAREST=auto|search|brute in\n"
"the environment forces the search or brute force (the same output).\n"
"Exit status: 0 ok, 1 failure, 2 usage.  See vrefine(1), vloss(1), vkmeans(1).\n";

enum { OPT_APPLY = 0x2000, OPT_BATCH };

typedef struct {
	int apply;
	size_t batch;
} opts;

static int on_opt(int c, const char *arg, void *ctx)
{
	opts *o = ctx;
	switch (c) {
	case OPT_APPLY: o->apply = 1; return 0;
	case OPT_BATCH: o->batch = (size_t)vt_cli_int("--batch-rows", arg, 1, 1 << 24); return 0;
	}
	return -1;
}

static const struct option longopts[] = {
	{"apply", no_argument, NULL, OPT_APPLY},
	{"batch-rows", required_argument, NULL, OPT_BATCH},
	{0},
};

static int on_progress(void *ctx, uint64_t rows)
{
	vt_progress_update(ctx, rows, 0);
	return 0;
}

/* --apply: the summed accumulators of in, checked against cent. */
static vt_accum *read_accumulators(vt_input *in, const vt_model *cent)
{
	char err[512];
	vt_accum *a;
	int rc = vt_accum_read_against(in, cent->x, cent->rows, cent->dim, &a, err, sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	return a;
}

/* The header of the new centroids: -c's metadata, then ours. */
static void new_header(vt_header *h, const vt_model *cent, const vt_accum *a, int metric,
                       size_t empty)
{
	vt_header_init(h, VT_KIND_CENTROIDS, VT_ELEM_F32, VT_COL_WEIGHT | VT_COL_LOSS, cent->dim);
	int rc = 0;
	for (size_t i = 0; i < cent->h.nmeta; i++)
		if (strcmp(cent->h.meta[i].key, "source") != 0 && strcmp(cent->h.meta[i].key, "rows") != 0)
			vt_header_put(h, &rc, cent->h.meta[i].key, "%s", cent->h.meta[i].value);
	const char *old = vt_header_get(&cent->h, "made_by");
	if (!old) {
		vt_header_put(h, &rc, "made_by", "%s", MADE_BY);
	} else {
		size_t n = strlen(old), m = strlen(", " MADE_BY);
		if (strcmp(old, MADE_BY) != 0 && (n < m || strcmp(old + n - m, ", " MADE_BY) != 0))
			vt_header_put(h, &rc, "made_by", "%s, %s", old, MADE_BY);
	}
	const char *p = vt_header_get(&cent->h, "vrefine.passes");
	long long passes = p ? strtoll(p, NULL, 10) : 0;
	vt_header_put(h, &rc, "k", "%zu", a->k);
	vt_header_put(h, &rc, "metric", "%s", vt_metric_name(metric));
	vt_header_put(h, &rc, "loss", "%.17g", a->total_loss);
	vt_header_put(h, &rc, "n", "%.17g", a->total_weight);
	vt_header_put(h, &rc, "vrefine.passes", "%lld", passes > 0 ? passes + 1 : 1);
	vt_header_put(h, &rc, "vrefine.empty", "%zu", empty);
	if (rc < 0)
		vt_cli_fail(rc, "%s: metadata: %s", "-c", vt_strerror(rc));
}

int main(int argc, char **argv)
{
	vt_cli_init("vrefine");
	opts o = {0};
	vt_cli_spec spec = {
		.name = "vrefine",
		.usage = usage,
		.shared = VT_CLI_OUTPUT | VT_CLI_CENTROIDS | VT_CLI_THREADS | VT_CLI_METRIC |
		          VT_CLI_PARTIAL,
		.longopts = longopts,
		.opt = on_opt,
		.ctx = &o,
	};
	vt_cli c;
	vt_cli_parse(argc, argv, &spec, &c);
	if (!c.centroids)
		vt_cli_usage_error("-c CENTROIDS is required");
	if (c.partial && o.apply)
		vt_cli_usage_error("--partial writes accumulators; --apply reads them: give one");
	if (o.apply && o.batch)
		vt_cli_usage_error("--batch-rows is for passes over rows, not --apply");
	vt_cli_no_tty(c.output);

	char err[512];
	int rc;
	vt_out out;
	vt_cli_open_output(&c, &out);
	vt_model cent = {0};
	if ((rc = vt_centroids_load(&cent, c.centroids, NULL, err, sizeof err)) < 0)
		vt_cli_fail(rc, "%s", err);
	size_t k = cent.rows, d = cent.dim;

	/* The identifier is that of the centroids as given; under cosine they
	 * are assigned to (and kept, when empty) normalised. */
	char id[17];
	vt_centroids_id_hex(cent.x, k, d, id);
	float *cx = vt_cli_xmalloc(k * d * sizeof *cx);
	memcpy(cx, cent.x, k * d * sizeof *cx);

	vt_input *in = vt_cli_open_input(&c, NULL);
	const vt_header *ih = vt_input_header(in);
	/* The model's metric rules; the input's record and --metric confirm it. */
	char mfrom[600];
	int metric = vt_cli_input_metric(&c, in, mfrom, sizeof mfrom);
	if ((metric = vt_metric_settle(&cent.h, c.centroids, metric, mfrom[0] ? mfrom : NULL, err,
	                               sizeof err)) < 0)
		vt_cli_fail(metric, "%s", err);
	/* Under dot the largest inner product is the nearest centroid only for
	 * unit centroids. */
	if (metric == VT_METRIC_DOT &&
	    (rc = vt_centroids_check_unit(&cent, c.centroids, metric, err, sizeof err)) < 0)
		vt_cli_fail(rc, "%s", err);
	vt_accum *a = NULL;
	double t0 = vt_now();
	if (o.apply) {
		if (ih->kind != VT_KIND_ACCUM)
			vt_cli_fail(VT_EKIND, "%s: is a %s stream; vrefine --apply reads accumulators",
			            vt_input_path(in), vt_kind_name(ih->kind));
		a = read_accumulators(in, &cent);
		if (metric == VT_METRIC_COSINE)
			vt_normalize_rows(cx, k, d);
	} else {
		if (metric == VT_METRIC_COSINE)
			vt_normalize_rows(cx, k, d);
		if (ih->kind == VT_KIND_ACCUM)
			vt_cli_fail(VT_EKIND, "%s: is an accum stream; give accumulators to "
			            "vrefine --apply", vt_input_path(in));
		if (ih->kind != VT_KIND_VECTORS && ih->kind != VT_KIND_POINTS)
			vt_cli_fail(VT_EKIND, "%s: is a %s stream; vrefine reads vectors or weighted "
			            "points", vt_input_path(in), vt_kind_name(ih->kind));
		if ((rc = vt_centroids_check_dim(&cent, c.centroids, ih->dim, vt_input_path(in), err,
		                                 sizeof err)) < 0)
			vt_cli_fail(rc, "%s", err);
		/* The loss grid's scale: the centroids' own loss, when they carry one. */
		double scale = 0;
		for (size_t j = 0; cent.loss && j < k; j++)
			scale += cent.loss[j];
		vt_pool *pool;
		if (vt_pool_new(&pool, c.threads) < 0 || vt_accum_new(&a, k, d) < 0)
			vt_cli_fail(VT_ENOMEM, "%s", vt_strerror(VT_ENOMEM));
		vt_progress pg;
		vt_progress_start(&pg, &c, "rows");
		vt_progress_input(&pg, in);
		vt_pass_opts ao = {.batch_rows = o.batch, .cosine = metric == VT_METRIC_COSINE,
		                   .exact = 1, .loss_scale = scale,
		                   .nearest_mode = vt_cli_nearest_mode(),
		                   .progress = on_progress, .progress_ctx = &pg};
		vt_pass_stats st;
		rc = vt_pass_input(in, pool, cx, k, d, &ao, a, &st, err, sizeof err);
		vt_progress_end(&pg);
		if (rc < 0)
			vt_cli_fail(rc, "%s", err);
		vt_pool_free(pool);
		if (st.zero_norm && !c.quiet)
			vt_cli_msg("warning: %zu rows have norm 0 and cannot be normalised", st.zero_norm);
		if (st.inexact && !c.quiet)
			vt_cli_msg("warning: %zu sums do not fit the exact range; sharded runs may "
			           "differ from one run in the last bit", st.inexact);
		vt_cli_verbose(&c, "rows=%llu loss_scale=%.17g time=%.3fs",
		               (unsigned long long)st.rows, scale, vt_now() - t0);
		vt_cli_nearest_report(&c, "pass", &st.nearest);
	}

	float *nc = NULL;
	size_t empty = 0;
	if (c.partial) {
		rc = vt_accum_write(&out, a, id, vt_metric_name(metric), MADE_BY);
		for (size_t j = 0; j < k; j++)
			empty += a->weight[j] == 0;
	} else {
		nc = vt_cli_xmalloc(k * d * sizeof *nc);
		vt_accum_centroids(a, cx, nc, &empty);
		if (metric == VT_METRIC_COSINE)
			for (size_t j = 0; j < k; j++)
				if (a->weight[j] > 0)
					vt_normalize_rows(nc + j * d, 1, d);
		/* dot: spherical k-means' update, the mean's direction; a mean of
		 * norm 0 has none, and the old centroid stays */
		if (metric == VT_METRIC_DOT)
			for (size_t j = 0; j < k; j++)
				if (a->weight[j] > 0 && vt_normalize_rows(nc + j * d, 1, d))
					memcpy(nc + j * d, cx + j * d, d * sizeof *nc);
		vt_header h;
		new_header(&h, &cent, a, metric, empty);
		rc = vt_model_write(&out, &h, k, nc, NULL, a->weight, a->loss);
		vt_header_free(&h);
	}
	vt_cli_check_output(&c, rc);
	vt_cli_commit_output(&c, &out);
	if (!c.quiet)
		vt_cli_msg("%s loss=%.17g n=%.17g empty=%zu", c.partial ? "partial" : "pass",
		           a->total_loss, a->total_weight, empty);
	vt_cli_verbose(&c, "k=%zu d=%zu time=%.3fs", k, d, vt_now() - t0);
	free(nc), free(cx);
	vt_accum_free(a);
	vt_model_free(&cent);
	vt_input_free(in);
	return 0;
}
