/* vloss: the exact k-means objective of centroids over a stream, and the
 * cluster-size report; or the mergeable accumulators of it (--partial). */
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
#include "train/stats.h"

static const char usage[] =
"Usage: vloss -c CENTROIDS [OPTIONS] [FILE...]\n"
"       vloss [OPTIONS] ACCUM...\n"
"Compute the exact objective  loss = sum_x min_c ||x - c||^2  of CENTROIDS over\n"
"the vectors (or weighted points: sum of local loss + w ||x - c||^2) in FILE,\n"
"and the cluster sizes.  Prints one line:\n"
"  loss= mean= n= k= min= max= empty= max_mean= cv= imbalance= [ip= ip_mean=]\n"
"where n is the number of rows (the total weight for weighted points), the\n"
"sizes are the rows per centroid, cv their coefficient of variation, and\n"
"imbalance = k sum(h^2) / (sum h)^2.  Under the dot metric, ip is the summed\n"
"inner product sum_x max_c <x, c> (the objective that spherical k-means\n"
"maximises; it needs the centroids) and ip_mean = ip / n.  With --partial,\n"
"write accumulators (per-centroid sums, counts, losses) instead; vloss on\n"
"accumulators, possibly from several shards concatenated, prints the same\n"
"report (with ip when -c is given too).\n"
"\n"
"  -c, --centroids FILE  centroids (a centroids stream, or vectors in any format)\n"
"      --partial         write an accumulator stream instead of the report\n"
"      --json            print the report as one JSON object\n"
"      --sizes           print, instead of the report, one line per centroid:\n"
"                        its index, size (rows or weight) and loss, after a\n"
"                        header line \"centroid size loss\"\n"
"      --metric=METRIC   l2, cosine (normalise rows first) or dot (inner\n"
"                        product: unit-norm centroids, and ip= ip_mean= in the\n"
"                        report).  The default is the metric of -c, else of\n"
"                        the input, else l2; one that disagrees with either is\n"
"                        an error\n"
"      --batch-rows N    rows assigned at once (default: about 16 MiB of rows)\n"
"  -j, --threads N       threads (default: all cores)\n"
"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
"  -q, --quiet           no progress line, no warnings\n"
"  -v, --verbose         more detail\n"
"  -h, --help            this help\n"
"      --version         version\n"
"\n"
"Memory: batch x d x 4 + k x d x 20 bytes, the nearest-centroid index (about\n"
"k x (8 + d / 14) bytes) and up to 30 MiB + 660 x min(batch, 32768) bytes of\n"
"search scratch (+ one input frame).  VT_NEAREST=auto|search|brute in the\n"
"environment forces the search or brute force (the same output).\n"
"Exit status: 0 ok, 1 failure, 2 usage.  See vloss(1), vkmeans(1).\n";

enum { OPT_JSON = 0x2000, OPT_BATCH, OPT_SIZES };

typedef struct {
	int json, sizes;
	size_t batch;
} opts;

static int on_opt(int c, const char *arg, void *ctx)
{
	opts *o = ctx;
	switch (c) {
	case OPT_JSON: o->json = 1; return 0;
	case OPT_SIZES: o->sizes = 1; return 0;
	case OPT_BATCH: o->batch = (size_t)vt_cli_int("--batch-rows", arg, 1, 1 << 24); return 0;
	}
	return -1;
}

static const struct option longopts[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"sizes", no_argument, NULL, OPT_SIZES},
	{"batch-rows", required_argument, NULL, OPT_BATCH},
	{0},
};

/* The report; ip (the summed inner product) is printed when ip_ok. */
static void report(FILE *f, const vt_accum *a, int json, int ip_ok, double ip)
{
	vt_cluster_stats st;
	vt_cluster_stats_compute(a->weight, a->k, &st);
	double n = a->total_weight, loss = a->total_loss;
	double mean = n > 0 ? loss / n : 0;
	double ip_mean = n > 0 ? ip / n : 0;
	if (json) {
		fprintf(f,
		        "{\"loss\": %.17g, \"mean\": %.17g, \"n\": %.17g, \"k\": %zu, \"min\": %.17g, "
		        "\"max\": %.17g, \"empty\": %zu, \"max_mean\": %.17g, \"cv\": %.17g, "
		        "\"imbalance\": %.17g",
		        loss, mean, n, a->k, st.min, st.max, st.empty, st.max_mean, st.cv, st.imbalance);
		if (ip_ok)
			fprintf(f, ", \"ip\": %.17g, \"ip_mean\": %.17g", ip, ip_mean);
		fputs("}\n", f);
	} else {
		fprintf(f,
		        "loss=%.10g mean=%.10g n=%.17g k=%zu min=%.17g max=%.17g empty=%zu "
		        "max_mean=%.6g cv=%.6g imbalance=%.6g",
		        loss, mean, n, a->k, st.min, st.max, st.empty, st.max_mean, st.cv, st.imbalance);
		if (ip_ok)
			fprintf(f, " ip=%.10g ip_mean=%.10g", ip, ip_mean);
		fputc('\n', f);
	}
}

static int on_progress(void *ctx, uint64_t rows)
{
	vt_progress_update(ctx, rows, 0);
	return 0;
}

/* Sum accumulator streams; with -c, check they were made against it. */
static vt_accum *from_accumulators(vt_input *in, const vt_model *cent)
{
	char err[512], id[17];
	vt_accum *a;
	int rc = cent ? vt_accum_read_against(in, cent->x, cent->rows, cent->dim, &a, err,
	                                      sizeof err)
	              : vt_accum_read(in, &a, id, err, sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	return a;
}

int main(int argc, char **argv)
{
	vt_cli_init("vloss");
	opts o = {0};
	vt_cli_spec spec = {
		.name = "vloss",
		.usage = usage,
		.shared = VT_CLI_OUTPUT | VT_CLI_CENTROIDS | VT_CLI_THREADS | VT_CLI_METRIC |
		          VT_CLI_PARTIAL,
		.longopts = longopts,
		.opt = on_opt,
		.ctx = &o,
	};
	vt_cli c;
	vt_cli_parse(argc, argv, &spec, &c);
	if (c.partial && (o.json || o.sizes))
		vt_cli_usage_error("--partial writes a stream; --%s is for the report",
		                   o.json ? "json" : "sizes");
	if (o.json && o.sizes)
		vt_cli_usage_error("--json and --sizes are two reports; give one");
	if (c.partial)
		vt_cli_no_tty(c.output);

	char err[512];
	int rc;
	vt_out out;
	vt_cli_open_output(&c, &out);
	vt_input *in = vt_cli_open_input(&c, NULL);
	const vt_header *ih = vt_input_header(in);
	int is_accum = ih->kind == VT_KIND_ACCUM;
	if (!is_accum && ih->kind != VT_KIND_VECTORS && ih->kind != VT_KIND_POINTS)
		vt_cli_fail(VT_EKIND, "%s: is a %s stream; vloss reads vectors, weighted points or "
		            "accumulators", vt_input_path(in), vt_kind_name(ih->kind));
	if (!is_accum && !c.centroids)
		vt_cli_usage_error("-c CENTROIDS is required (except on accumulators)");
	if (is_accum && c.partial)
		vt_cli_usage_error("the input is accumulators already; merge them with cat or vmerge");

	char mfrom[600];
	int metric = vt_cli_input_metric(&c, in, mfrom, sizeof mfrom);
	vt_model cent = {0};
	vt_centroids_opts co = {.dim = is_accum ? 0 : ih->dim, .dim_of = vt_input_path(in),
	                        .metric = metric, .metric_from = mfrom[0] ? mfrom : NULL,
	                        .metric_out = &metric};
	if (c.centroids && (rc = vt_centroids_load(&cent, c.centroids, &co, err, sizeof err)) < 0)
		vt_cli_fail(rc, "%s", err);

	vt_accum *a;
	if (is_accum) {
		a = from_accumulators(in, c.centroids ? &cent : NULL);
	} else {
		size_t k = cent.rows, d = cent.dim;
		vt_pool *pool;
		if (vt_pool_new(&pool, c.threads) < 0 || vt_accum_new(&a, k, d) < 0)
			vt_cli_fail(VT_ENOMEM, "%s", vt_strerror(VT_ENOMEM));
		vt_progress pg;
		vt_progress_start(&pg, &c, "rows");
		vt_progress_input(&pg, in);
		vt_pass_opts ao = {.batch_rows = o.batch, .cosine = metric == VT_METRIC_COSINE,
		                   .nearest_mode = vt_cli_nearest_mode(),
		                   .progress = on_progress, .progress_ctx = &pg};
		vt_pass_stats st;
		double t0 = vt_now();
		rc = vt_pass_input(in, pool, cent.x, k, d, &ao, a, &st, err, sizeof err);
		vt_progress_end(&pg);
		if (rc < 0)
			vt_cli_fail(rc, "%s", err);
		vt_pool_free(pool);
		if (st.zero_norm && !c.quiet)
			vt_cli_msg("warning: %zu rows have norm 0 and cannot be normalised", st.zero_norm);
		vt_cli_verbose(&c, "rows=%llu k=%zu d=%zu time=%.3fs", (unsigned long long)st.rows, k,
		               d, vt_now() - t0);
		vt_cli_nearest_report(&c, "pass", &st.nearest);
	}

	if (c.partial) {
		char id[17];
		vt_centroids_id_hex(cent.x, cent.rows, cent.dim, id);
		rc = vt_accum_write(&out, a, id, vt_metric_name(metric), "vloss " VT_VERSION_STRING);
	} else {
		char *buf = NULL;
		size_t len = 0;
		FILE *mf = open_memstream(&buf, &len);
		if (!mf)
			vt_cli_fail(VT_ENOMEM, "%s", vt_strerror(VT_ENOMEM));
		if (o.sizes) {
			fputs("centroid size loss\n", mf);
			for (size_t j = 0; j < a->k; j++)
				fprintf(mf, "%zu %.17g %.17g\n", j, a->weight[j], a->loss[j]);
		} else {
			/* dot: the inner products, from the sums and the centroids */
			int ip_ok = metric == VT_METRIC_DOT && c.centroids;
			report(mf, a, o.json, ip_ok, ip_ok ? vt_accum_dot(a, cent.x) : 0);
		}
		fclose(mf);
		rc = vt_out_write(&out, buf, len);
		free(buf);
	}
	vt_cli_check_output(&c, rc);
	vt_cli_commit_output(&c, &out);
	vt_accum_free(a);
	vt_model_free(&cent);
	vt_input_free(in);
	return 0;
}
