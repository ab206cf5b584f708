/* vkmeans: weighted k-means (flat, or hierarchical for large k) over
 * vectors or weighted points, writing centroids. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vtrain.h"
#include "stream/rows.h"
#include "train/cindex.h"
#include "train/nearest.h"
#include "train/kmeans.h"
#include "train/pool.h"
#include "train/vecops.h"

static const char usage[] =
"Usage: vkmeans [-k K] [OPTIONS] [FILE...]\n"
"Train K centroids by weighted k-means on the vectors or weighted points in\n"
"FILE (all of them are read into memory: give it a sample or a coreset).\n"
"Weighted points count with their weight, and their local loss is added, so\n"
"the loss reported is that of the original rows they stand for.  Writes a\n"
"centroids stream with each centroid's weight and loss.\n"
"\n"
"  -k N                  number of centroids (default: the input's k, as\n"
"                        vsample -k and vcoreset record it; one that\n"
"                        disagrees with it is an error)\n"
"      --iters N         Lloyd iterations (default 25)\n"
"      --tol T           stop when the loss improves by less than T x loss\n"
"                        (default 1e-4; 0 never stops early)\n"
"      --init METHOD     k-means++ (default) or random\n"
"      --hierarchical=on|off|auto  split hierarchically (auto: when K > 256)\n"
"      --hierarchical-k N  children per split (default 16)\n"
"      --split-iters N   iterations of each split (default 20)\n"
"      --refine-iters N  global Lloyd iterations after the hierarchy (default 5)\n"
"      --probe N         refine through an index of ceil(sqrt K) groups of\n"
"                        centroids, probing the N nearest groups and each\n"
"                        row's own (0: compare with all K; default: 8 when\n"
"                        K >= 8192, else 0; exact with --balance)\n"
"      --balance F       penalise large clusters while assigning, for more\n"
"                        even partitions: F x (mean loss per row) x (cluster\n"
"                        size / mean size); useful 0.05 to 0.3 (default 0)\n"
"      --allow-duplicates  accept K larger than the number of distinct rows\n"
"      --metric=METRIC   l2, cosine (normalise, train as L2, emit the means\n"
"                        normalised; the loss recorded is theirs) or dot\n"
"                        (inner product: spherical k-means, the rows as they\n"
"                        are, unit-norm centroids renormalised after every\n"
"                        update; a row goes to the largest <x, c>).  The\n"
"                        default is the input's metric, else l2; one that\n"
"                        disagrees with it is an error\n"
"      --seed N          random seed (default 1)\n"
"  -j, --threads N       threads (default: all cores)\n"
"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
"  -q, --quiet           no summary on stderr\n"
"  -v, --verbose         the loss of every iteration on stderr\n"
"  -h, --help            this help\n"
"      --version         version\n"
"\n"
"Memory: about n x (4d + 64) + min(4 n K, 64 MiB) + 12 K d bytes for n input\n"
"rows (see vkmeans(1)).\n"
"Exit status: 0 ok, 1 failure, 2 usage.  See vkmeans(1), vloss(1).\n";

enum {
	OPT_ITERS = 0x2000, OPT_TOL, OPT_INIT, OPT_HIER, OPT_HIERK, OPT_SPLIT, OPT_REFINE,
	OPT_BALANCE, OPT_DUP, OPT_PROBE,
};

typedef struct {
	int iters, split_iters, refine_iters, init, mode, dup, probe;
	long long hier_k;
	double tol, balance;
} opts;

static int on_opt(int c, const char *arg, void *ctx)
{
	opts *o = ctx;
	switch (c) {
	case OPT_ITERS: o->iters = (int)vt_cli_int("--iters", arg, 0, 1000000); return 0;
	case OPT_TOL: o->tol = vt_cli_double("--tol", arg, 0, 1); return 0;
	case OPT_INIT:
		if ((o->init = vt_kmeans_init_parse(arg)) < 0)
			vt_cli_usage_error("--init: '%s' is not k-means++ or random", arg);
		return 0;
	case OPT_HIER:
		if (!arg || strcmp(arg, "on") == 0)
			o->mode = VT_KMEANS_HIER;
		else if (strcmp(arg, "off") == 0)
			o->mode = VT_KMEANS_FLAT;
		else if (strcmp(arg, "auto") == 0)
			o->mode = VT_KMEANS_AUTO;
		else
			vt_cli_usage_error("--hierarchical: '%s' is not on, off or auto", arg);
		return 0;
	case OPT_HIERK: o->hier_k = vt_cli_int("--hierarchical-k", arg, 2, 1 << 16); return 0;
	case OPT_SPLIT: o->split_iters = (int)vt_cli_int("--split-iters", arg, 1, 100000); return 0;
	case OPT_REFINE: o->refine_iters = (int)vt_cli_int("--refine-iters", arg, 0, 100000); return 0;
	case OPT_BALANCE: o->balance = vt_cli_double("--balance", arg, 0, 1e30); return 0;
	case OPT_DUP: o->dup = 1; return 0;
	case OPT_PROBE: o->probe = (int)vt_cli_int("--probe", arg, 0, VT_CINDEX_MAX_PROBE); return 0;
	}
	return -1;
}

static const struct option longopts[] = {
	{"iters", required_argument, NULL, OPT_ITERS},
	{"tol", required_argument, NULL, OPT_TOL},
	{"init", required_argument, NULL, OPT_INIT},
	{"hierarchical", optional_argument, NULL, OPT_HIER},
	{"hierarchical-k", required_argument, NULL, OPT_HIERK},
	{"split-iters", required_argument, NULL, OPT_SPLIT},
	{"refine-iters", required_argument, NULL, OPT_REFINE},
	{"balance", required_argument, NULL, OPT_BALANCE},
	{"allow-duplicates", no_argument, NULL, OPT_DUP},
	{"probe", required_argument, NULL, OPT_PROBE},
	{0},
};

/* Each iteration: its loss with -v, else a progress line on a terminal. */
typedef struct {
	const vt_cli *c;
	vt_progress pg;
	int total;   /* iterations expected (0: unknown, hierarchical) */
} iter_ctx;

static int on_iter(void *user, int iter, double loss, double seconds)
{
	iter_ctx *ic = user;
	if (ic->c->verbose)
		vt_cli_verbose(ic->c, "iter %d loss %.10g time %.3f", iter, loss, seconds);
	else
		vt_progress_update(&ic->pg, (uint64_t)iter, (uint64_t)ic->total);
	return 0;
}

int main(int argc, char **argv)
{
	vt_cli_init("vkmeans");
	opts o = {.iters = 25, .tol = 1e-4, .split_iters = 20, .refine_iters = 5, .hier_k = 16,
	          .mode = VT_KMEANS_AUTO, .probe = -1};
	vt_cli_spec spec = {
		.name = "vkmeans",
		.usage = usage,
		.shared = VT_CLI_OUTPUT | VT_CLI_K | VT_CLI_SEED | VT_CLI_THREADS | VT_CLI_METRIC,
		.longopts = longopts,
		.opt = on_opt,
		.ctx = &o,
	};
	vt_cli c;
	vt_cli_parse(argc, argv, &spec, &c);
	if (!c.seed_given)
		c.seed = 1;
	vt_cli_no_tty(c.output);
	vt_out out;
	vt_cli_open_output(&c, &out);
	/* Read every row (vectors or weighted points) into memory. */
	char err[512];
	int rc;
	vt_input *in = vt_cli_open_input(&c, NULL);
	const vt_header *ih = vt_input_header(in);
	if (ih->kind != VT_KIND_VECTORS && ih->kind != VT_KIND_POINTS)
		vt_cli_fail(VT_EKIND, "%s: is a %s stream; vkmeans reads vectors or weighted points",
		            vt_input_path(in), vt_kind_name(ih->kind));
	/* k and the metric: the stream's, confirmed by the options */
	char mfrom[600];
	c.metric = vt_cli_input_metric(&c, in, mfrom, sizeof mfrom);
	c.k = vt_cli_input_k(&c, in, 1);
	int weighted = ih->kind == VT_KIND_POINTS;
	vt_rows rows;
	vt_rows_init(&rows, ih->dim, weighted ? VT_COL_WEIGHT | VT_COL_LOSS : 0);
	if ((rc = vt_rows_read_all(&rows, in, SIZE_MAX, err, sizeof err)) < 0)
		vt_cli_fail(rc, "%s", err);
	size_t d = ih->dim, n = rows.n;
	float *x = rows.x;
	const double *w = rows.weight, *l = rows.loss;
	if (n == 0)
		vt_cli_fail(VT_EINVAL, "%s: no rows to cluster", vt_input_path(in));
	size_t bad = vt_first_nonfinite_row(x, n, d);
	if (bad < n)
		vt_cli_fail(VT_EDATA, "%s: row %zu has a NaN or infinite value (filter with vsample)",
		            vt_input_path(in), bad);
	size_t zero = 0;
	if (c.metric == VT_METRIC_COSINE)
		zero = vt_normalize_rows(x, n, d);
	if (zero)
		vt_cli_msg("warning: %zu rows have norm 0 and cannot be normalised", zero);

	vt_kmeans *km;
	if ((rc = vt_kmeans_new(&km, (size_t)c.k)) < 0)
		vt_cli_fail(rc, "k=%lld: %s", c.k, vt_strerror(rc));
	vt_kmeans_set_iters(km, o.iters);
	vt_kmeans_set_tol(km, o.tol);
	vt_kmeans_set_seed(km, c.seed);
	vt_kmeans_set_threads(km, c.threads);
	vt_kmeans_set_init(km, o.init);
	vt_kmeans_set_mode(km, o.mode);
	vt_kmeans_set_hier_k(km, (size_t)o.hier_k);
	vt_kmeans_set_split_iters(km, o.split_iters);
	vt_kmeans_set_refine_iters(km, o.refine_iters);
	vt_kmeans_set_balance(km, o.balance);
	vt_kmeans_set_allow_duplicates(km, o.dup);
	vt_kmeans_set_spherical(km, c.metric == VT_METRIC_DOT);
	vt_kmeans_set_probe(km, o.probe);
	vt_kmeans_set_nearest(km, vt_cli_nearest_mode());
	iter_ctx ic = {.c = &c, .total = o.mode == VT_KMEANS_FLAT || c.k <= 256 ? o.iters : 0};
	vt_progress_start(&ic.pg, &c, "iterations");
	vt_kmeans_set_callback(km, on_iter, &ic);
	/* with -v, the final labels are checked against brute force */
	int32_t *labels = c.verbose ? vt_cli_xmalloc(n * sizeof *labels) : NULL;
	double t0 = vt_now();
	rc = vt_kmeans_run(km, x, n, d, w, l, labels);
	vt_progress_end(&ic.pg);
	if (rc == VT_EINVAL && (size_t)c.k > n)
		vt_cli_fail(rc, "k=%lld is larger than the %zu input rows", c.k, n);
	if (rc == VT_EINVAL)
		vt_cli_fail(rc, "k=%lld is larger than the number of distinct rows; give fewer "
		            "centroids, or --allow-duplicates", c.k);
	if (rc < 0)
		vt_cli_fail(rc, "%s", vt_strerror(rc));
	double secs = vt_now() - t0;
	vt_assign_report ar = {.mode = vt_cli_nearest_mode(), .k = (size_t)c.k, .d = d};
	const vt_nearest_stats *ns = vt_kmeans_nearest_stats(km, &ar.t_build, &ar.groups, &ar.bytes);
	if (ns) {
		ar.st = *ns;
		vt_cli_nearest_report(&c, "final labels", &ar);
	}
	if (labels && ns) {
		size_t step = n > 20000 ? (n + 19999) / 20000 : 1;
		double agree = 0, ratio = 1;
		vt_pool *pool = NULL;
		if ((rc = vt_pool_new(&pool, c.threads)) == 0)
			rc = vt_nearest_agreement(pool, x, n, d, vt_kmeans_centroids(km), (size_t)c.k,
			                          labels, step, &agree, &ratio);
		vt_pool_free(pool);
		if (rc < 0)
			vt_cli_fail(rc, "%s", vt_strerror(rc));
		vt_cli_verbose(&c, "brute-force check: on %zu rows (every %zu-th), the final labels "
		               "are a nearest centroid for %.4f%%; their loss is %.7f x brute force's",
		               (n + step - 1) / step, step, 100 * agree, ratio);
	}
	free(labels);
	{
		double rec, near, ref;
		vt_kmeans_ties(km, &rec, &near, &ref);
		vt_cli_verbose(&c, "exact labels: of %.0f rows recomputed by the Lloyd passes, %.0f "
		               "(%.3f%%) were near a tie and decided on dd, %.0f of them by the "
		               "reference", rec, near, rec > 0 ? 100 * near / rec : 0.0, ref);
	}

	size_t k = (size_t)c.k;
	/* Under cosine the centroids written are the means projected onto the
	 * sphere, and their weights and losses are recomputed for them. */
	if (c.metric == VT_METRIC_COSINE && (rc = vt_kmeans_normalize(km, x, n, d, w, l)) < 0)
		vt_cli_fail(rc, "%s", vt_strerror(rc));
	float *cent = vt_cli_xmalloc(k * d * sizeof *cent);
	memcpy(cent, vt_kmeans_centroids(km), k * d * sizeof *cent);

	vt_header h;
	vt_header_init(&h, VT_KIND_CENTROIDS, VT_ELEM_F32, VT_COL_WEIGHT | VT_COL_LOSS, (uint32_t)d);
	rc = 0;
	vt_header_put(&h, &rc, "made_by", "%s", "vkmeans " VT_VERSION_STRING);
	vt_header_put(&h, &rc, "k", "%zu", k);
	vt_header_put(&h, &rc, "metric", "%s", vt_metric_name(c.metric));
	vt_header_put(&h, &rc, "seed", "%llu", (unsigned long long)c.seed);
	vt_header_put(&h, &rc, "iters", "%d", vt_kmeans_iterations(km));
	vt_header_put(&h, &rc, "loss", "%.17g", vt_kmeans_loss(km));
	vt_header_put(&h, &rc, "n", "%zu", n);
	vt_header_put(&h, &rc, "vkmeans.init", "%s", vt_kmeans_init_name(o.init));
	vt_header_put(&h, &rc, "vkmeans.mode", "%s",
	              vt_kmeans_was_hierarchical(km) ? "hierarchical" : "flat");
	vt_header_put(&h, &rc, "vkmeans.max_iters", "%d", o.iters);
	vt_header_put(&h, &rc, "vkmeans.tol", "%.17g", o.tol);
	if (vt_kmeans_was_hierarchical(km)) {
		vt_header_put(&h, &rc, "vkmeans.hierarchical_k", "%lld", o.hier_k);
		vt_header_put(&h, &rc, "vkmeans.split_iters", "%d", o.split_iters);
		vt_header_put(&h, &rc, "vkmeans.refine_iters", "%d", o.refine_iters);
		vt_header_put(&h, &rc, "vkmeans.probe", "%d", vt_kmeans_probe_used(km));
	}
	vt_header_put(&h, &rc, "vkmeans.balance", "%.17g", o.balance);
	vt_header_put(&h, &rc, "vkmeans.input", "%s", vt_kind_name(ih->kind));
	vt_cli_check_meta(&c, rc);

	vt_cli_check_output(&c, vt_model_write(&out, &h, k, cent, NULL, vt_kmeans_weights(km),
	                                       vt_kmeans_losses(km)));
	vt_header_free(&h);
	vt_cli_commit_output(&c, &out);
	if (!c.quiet)
		vt_cli_msg("k=%zu n=%zu d=%zu %s iters=%d probe=%d loss=%.10g time=%.2fs", k, n, d,
		           vt_kmeans_was_hierarchical(km) ? "hierarchical" : "flat",
		           vt_kmeans_iterations(km), vt_kmeans_probe_used(km), vt_kmeans_loss(km),
		           secs);
	vt_kmeans_free(km);
	vt_input_free(in);
	vt_rows_free(&rows);
	free(cent);
	return 0;
}
