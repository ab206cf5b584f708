/* vpq: PQ codebook training on the residuals of vectors against IVF
 * centroids (or on the vectors themselves), from a seeded reservoir sample
 * taken while the input streams by. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vtrain.h"
#include "bridge/accumio.h"
#include "bridge/centroids.h"
#include "train/pool.h"
#include "train/pq.h"
#include "train/reservoir.h"
#include "train/vecops.h"

static const char usage[] =
"Usage: vpq -c IVF_CENTROIDS -m M [OPTIONS] [FILE...]\n"
"       vpq --no-residual -m M [OPTIONS] [FILE...]\n"
"Train a product-quantizer codebook of M sub-spaces with 2^B centroids each\n"
"on the residuals x - c(x) of the vectors in FILE, c(x) being the nearest of\n"
"the IVF centroids, by one k-means per sub-space.  The training rows are a\n"
"seeded reservoir sample of the input, taken while it streams by.  Writes a\n"
"PQ codebook stream (M x 2^B rows of d/M) and prints the reconstruction MSE\n"
"on the training rows.\n"
"\n"
"  -c, --centroids FILE  IVF centroids (a centroids stream, or vectors in any\n"
"                        format) to take residuals against\n"
"  -m M                  sub-spaces (required; must divide d)\n"
"      --nbits B         bits per sub-space code, 1 to 16 (default 8; FAISS\n"
"                        trains up to 16, Lance takes 8, vassign encodes up\n"
"                        to 8)\n"
"      --sample N        training rows (default 256 x 2^B: 65536 at 8 bits);\n"
"                        an input of at most N rows is used whole\n"
"      --iters N         Lloyd iterations per sub-space (default 25)\n"
"      --no-residual     train on the vectors themselves (no -c)\n"
"      --metric=METRIC   l2, cosine (normalise rows; the centroids must be\n"
"                        normalised, as vkmeans --metric=cosine makes) or dot\n"
"                        (inner product: residuals x - c to the centroid of\n"
"                        the largest <x, c>, which must have unit norm).  The\n"
"                        default is the metric of -c, else of the input, else\n"
"                        l2; one that disagrees with either is an error\n"
"      --seed N          random seed of the sample and the k-means (default 1)\n"
"  -j, --threads N       threads (default: all cores)\n"
"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
"  -q, --quiet           no summary on stderr\n"
"  -v, --verbose         one line per sub-space on stderr\n"
"  -h, --help            this help\n"
"      --version         version\n"
"\n"
"Memory: about N x (4d + 12) + k x 4d + min(j, M) x (N x (4d/M + 64)\n"
"+ min(N x 2^B x 4, 64 MiB)) bytes (see vpq(1)).\n"
"Exit status: 0 ok, 1 failure, 2 usage.  See vpq(1), vkmeans(1).\n";

enum { OPT_NBITS = 0x2000, OPT_SAMPLE, OPT_ITERS, OPT_NORES };

typedef struct {
	long long m, sample;
	int nbits, iters, nores;
} opts;

static int on_opt(int c, const char *arg, void *ctx)
{
	opts *o = ctx;
	switch (c) {
	case 'm': o->m = vt_cli_int("-m", arg, 1, 1 << 20); return 0;
	case OPT_NBITS: o->nbits = (int)vt_cli_int("--nbits", arg, 1, VT_PQ_MAX_NBITS); return 0;
	case OPT_SAMPLE: o->sample = vt_cli_int("--sample", arg, 1, 1LL << 40); return 0;
	case OPT_ITERS: o->iters = (int)vt_cli_int("--iters", arg, 0, 1000000); return 0;
	case OPT_NORES: o->nores = 1; return 0;
	}
	return -1;
}

static const struct option longopts[] = {
	{"nbits", required_argument, NULL, OPT_NBITS},
	{"sample", required_argument, NULL, OPT_SAMPLE},
	{"iters", required_argument, NULL, OPT_ITERS},
	{"no-residual", no_argument, NULL, OPT_NORES},
	{0},
};

/* Stream the input into the reservoir, dropping non-finite rows. */
static vt_reservoir *sample_input(const vt_cli *c, vt_input *in, size_t cap, uint64_t *dropped)
{
	char err[512];
	size_t d = vt_input_header(in)->dim;
	vt_reservoir *res;
	int rc = vt_reservoir_new(&res, cap, d, c->seed);
	if (rc < 0)
		vt_cli_fail(rc, "--sample %zu: %s", cap, vt_strerror(rc));
	size_t batch = (1u << 20) / (4 * d) + 1;
	float *x = vt_cli_xmalloc(batch * d * sizeof *x);
	vt_progress pg;
	vt_progress_start(&pg, c, "rows");
	vt_progress_input(&pg, in);
	long r;
	*dropped = 0;
	while ((r = vt_input_read(in, batch, x, NULL, NULL, NULL, err, sizeof err)) > 0) {
		size_t n = vt_drop_nonfinite_rows(x, (size_t)r, d, NULL, NULL, NULL, NULL);
		*dropped += (size_t)r - n;
		if (n && (rc = vt_reservoir_add(res, x, n)) < 0)
			vt_cli_fail(rc, "--sample %zu: %s", cap, vt_strerror(rc));
		vt_progress_update(&pg, vt_input_rows(in), 0);
	}
	vt_progress_end(&pg);
	free(x);
	if (r < 0)
		vt_cli_fail((int)r, "%s", err);
	if ((rc = vt_reservoir_finish(res)) < 0)
		vt_cli_fail(rc, "%s", vt_strerror(rc));
	return res;
}

/* A sub-space's k-means is done: the progress line (a terminal only). */
static void on_subspace(void *ctx, size_t done, size_t total)
{
	vt_progress_update(ctx, done, total);
}

int main(int argc, char **argv)
{
	vt_cli_init("vpq");
	opts o = {.nbits = 8, .iters = VT_PQ_ITERS};
	vt_cli_spec spec = {
		.name = "vpq",
		.usage = usage,
		.shared = VT_CLI_OUTPUT | VT_CLI_CENTROIDS | VT_CLI_SEED | VT_CLI_THREADS |
		          VT_CLI_METRIC,
		.shortopts = "m:",
		.longopts = longopts,
		.opt = on_opt,
		.ctx = &o,
	};
	vt_cli c;
	vt_cli_parse(argc, argv, &spec, &c);
	if (o.m < 1)
		vt_cli_usage_error("-m is required (the number of sub-spaces, at least 1)");
	if (!c.centroids && !o.nores)
		vt_cli_usage_error("-c IVF_CENTROIDS is required (or --no-residual)");
	if (c.centroids && o.nores)
		vt_cli_usage_error("--no-residual trains on the vectors themselves; drop -c");
	const size_t K = (size_t)1 << o.nbits;
	if (!o.sample)
		o.sample = 256LL << o.nbits;
	if ((size_t)o.sample < K)
		vt_cli_usage_error("--sample %lld is smaller than the 2^%d = %zu centroids of a "
		                   "sub-space", o.sample, o.nbits, K);
	if (!c.seed_given)
		c.seed = 1;
	vt_cli_no_tty(c.output);

	int rc;
	char err[512];
	vt_out out;
	vt_cli_open_output(&c, &out);
	vt_input *in = vt_cli_open_input(&c, NULL);
	const vt_header *ih = vt_input_header(in);
	if (ih->kind != VT_KIND_VECTORS)
		vt_cli_fail(VT_EKIND, "%s: is a %s stream; vpq reads vectors", vt_input_path(in),
		            vt_kind_name(ih->kind));
	const size_t d = ih->dim, M = (size_t)o.m;
	if (d % M != 0)
		vt_cli_fail(VT_EDIM, "%s: d=%zu is not divisible by -m %zu", vt_input_path(in), d, M);
	char mfrom[600];
	int metric = vt_cli_input_metric(&c, in, mfrom, sizeof mfrom);
	vt_model cent = {0};
	vt_centroids_opts co = {.dim = ih->dim, .dim_of = vt_input_path(in), .metric = metric,
	                        .metric_from = mfrom[0] ? mfrom : NULL, .metric_out = &metric,
	                        .checks = VT_CENTROIDS_UNIT_NORM};
	if (c.centroids && (rc = vt_centroids_load(&cent, c.centroids, &co, err, sizeof err)) < 0)
		vt_cli_fail(rc, "%s", err);

	/* The training rows. */
	double t0 = vt_now();
	uint64_t dropped;
	vt_reservoir *res = sample_input(&c, in, (size_t)o.sample, &dropped);
	size_t n = vt_reservoir_count(res);
	uint64_t seen = vt_reservoir_seen(res);
	float *x = vt_reservoir_rows(res);
	if (!c.quiet && dropped)
		vt_cli_msg("dropped %llu rows with NaN or infinite values", (unsigned long long)dropped);
	if (n < K)
		vt_cli_fail(VT_EINVAL, "%s: %zu rows: PQ with %d bits needs at least %zu",
		            vt_input_path(in), n, o.nbits, K);
	if (metric == VT_METRIC_COSINE) {
		size_t zero = vt_normalize_rows(x, n, d);
		if (zero && !c.quiet)
			vt_cli_msg("warning: %zu rows have norm 0 and cannot be normalised", zero);
	}
	if (c.centroids) {
		vt_pool *pool;
		if ((rc = vt_pool_new(&pool, c.threads)) < 0)
			vt_cli_fail(rc, "%s", vt_strerror(rc));
		vt_assigner *as;
		if ((rc = vt_assigner_new(&as, pool, cent.x, cent.rows, d, vt_cli_nearest_mode())) < 0 ||
		    (rc = vt_assigner_subtract(as, pool, x, n, NULL)) < 0)
			vt_cli_fail(rc, "%s", vt_strerror(rc));
		vt_assign_report ar;
		vt_assigner_report(as, &ar);
		vt_cli_nearest_report(&c, "residuals", &ar);
		vt_assigner_free(as);
		vt_pool_free(pool);
	}

	/* One k-means per sub-space. */
	vt_pq_opts po;
	vt_pq_opts_init(&po, M);
	po.nbits = o.nbits;
	po.iters = o.iters;
	po.seed = c.seed;
	po.threads = c.threads;
	vt_progress ppg;
	vt_progress_start(&ppg, &c, "sub-spaces");
	po.progress = on_subspace;
	po.progress_ctx = &ppg;
	const size_t ds = d / M;
	float *cb = vt_cli_xmalloc(M * K * ds * sizeof *cb);
	vt_pq_sub *sub = vt_cli_xmalloc(M * sizeof *sub);
	double mse;
	rc = vt_pq_train(&po, x, n, d, cb, sub, &mse);
	vt_progress_end(&ppg);
	if (rc < 0)
		vt_cli_fail(rc, "%s: %s", vt_input_path(in), vt_strerror(rc));
	double secs = vt_now() - t0;
	for (size_t m = 0; m < M; m++)
		vt_cli_verbose(&c, "sub-space %zu: loss=%.10g mse=%.10g iters=%d time=%.2fs", m,
		               sub[m].loss, sub[m].loss / (double)n, sub[m].iters, sub[m].seconds);

	vt_header h;
	vt_header_init(&h, VT_KIND_PQ, VT_ELEM_F32, 0, (uint32_t)ds);
	rc = 0;
	vt_header_put(&h, &rc, "made_by", "%s", "vpq " VT_VERSION_STRING);
	vt_header_put(&h, &rc, "m", "%zu", M);
	vt_header_put(&h, &rc, "nbits", "%d", o.nbits);
	vt_header_put(&h, &rc, "d", "%zu", d);
	vt_header_put(&h, &rc, "metric", "%s", vt_metric_name(metric));
	vt_header_put(&h, &rc, "seed", "%llu", (unsigned long long)c.seed);
	vt_header_put(&h, &rc, "iters", "%d", o.iters);
	vt_header_put(&h, &rc, "residual", "%s", c.centroids ? "yes" : "no");
	if (c.centroids) {
		char id[17];
		vt_centroids_id_hex(cent.x, cent.rows, cent.dim, id);
		vt_header_put(&h, &rc, "centroids_id", "%s", id);
		vt_header_put(&h, &rc, "vpq.ivf_k", "%zu", cent.rows);
	}
	vt_header_put(&h, &rc, "mse", "%.17g", mse);
	vt_header_put(&h, &rc, "n", "%zu", n);
	vt_header_put(&h, &rc, "vpq.sample", "%lld", o.sample);
	vt_header_put(&h, &rc, "vpq.input_rows", "%llu", (unsigned long long)(seen + dropped));
	vt_header_put(&h, &rc, "vpq.nonfinite", "%llu", (unsigned long long)dropped);
	vt_cli_check_meta(&c, rc);

	vt_cli_check_output(&c, vt_model_write(&out, &h, M * K, cb, NULL, NULL, NULL));
	vt_header_free(&h);
	vt_cli_commit_output(&c, &out);
	if (!c.quiet)
		vt_cli_msg("m=%zu nbits=%d d=%zu n=%zu mse=%.10g time=%.2fs", M, o.nbits, d, n, mse,
		           secs);
	free(cb);
	free(sub);
	vt_reservoir_free(res);
	vt_model_free(&cent);
	vt_input_free(in);
	return 0;
}
