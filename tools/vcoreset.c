/* vcoreset: reduce a stream of vectors (or weighted points), chunk by
 * chunk, to a coreset of weighted points within a budget. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vtrain.h"
#include "train/coreset.h"
#include "train/pool.h"
#include "train/rng.h"
#include "train/vecops.h"

static const char usage[] =
"Usage: vcoreset (-k K | --budget N) [OPTIONS] [FILE...]\n"
"Read vectors (or weighted points) in chunks of C rows and reduce each chunk\n"
"by weighted k-means to a local coreset of weighted points: weight = the\n"
"members' summed weight, loss = their summed squared distance to the point\n"
"(plus their own losses), id = their smallest global id.  The whole coreset\n"
"holds at most K x RATE points (or N), shared among the chunks in proportion\n"
"to their rows, which needs the total number of rows: --total-rows, or the\n"
"vsample.m metadata that vsample writes, or a foreign file's header, or the\n"
"end markers of one vtrain file.  K is -k, else the k the input records.\n"
"Points are written in id order.\n"
"\n"
"  -k N                  number of IVF centroids the coreset is for (default:\n"
"                        the input's k or vsample.k; one that disagrees is\n"
"                        an error)\n"
"      --budget N        at most N points in all (default K x coreset rate)\n"
"      --coreset-rate R  points per centroid (default 16)\n"
"      --stream-rate R   chunk of K x R rows (default 64)\n"
"      --chunk-rows C    chunk of C rows\n"
"      --mem BYTES       chunk sized to fit BYTES (K, M, G suffixes)\n"
"      --total-rows M    the input has M rows\n"
"      --first-chunk I   number this run's chunks from I (a part of a sample\n"
"                        cut at chunk boundaries; see vcoreset(1))\n"
"      --iters N         Lloyd iterations of each chunk's k-means (default 10)\n"
"      --seed N          random seed (default 1); chunk i uses (seed, i)\n"
"  -j, --threads N       threads of each chunk's k-means (default: all cores;\n"
"                        chunks run one at a time)\n"
"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
"  -z, --compress=CODEC  none (default), lz4, lz4-shuffle (-z)\n"
"  -q, --quiet           no summary on stderr\n"
"  -v, --verbose         one line per chunk on stderr\n"
"  -h, --help            this help\n"
"      --version         version\n"
"\n"
"Memory: about C x (4d + 96) + min(4 C g, C d, 64 MiB) + 24 k d + (T + 1) x\n"
"8 MiB bytes for chunks of C rows of dimension d reduced to k points by\n"
"g = ceil(sqrt k) first-level groups with T threads, plus the threads' groups;\n"
"--mem takes the largest C that fits (see vcoreset(1)).\n"
"Exit status: 0 ok, 1 failure, 2 usage.  See vcoreset(1), vkmeans(1), vmerge(1).\n";

enum {
	OPT_BUDGET = 0x2000, OPT_CRATE, OPT_SRATE, OPT_CHUNK, OPT_MEM, OPT_TOTAL, OPT_FIRST,
	OPT_ITERS,
};

typedef struct {
	long long budget, crate, srate, chunk, total, first;
	int first_given;        /* --first-chunk: the input is a part of the sample */
	unsigned long long mem;
	int iters;
} opts;

static int on_opt(int c, const char *arg, void *ctx)
{
	opts *o = ctx;
	switch (c) {
	case OPT_BUDGET: o->budget = vt_cli_int("--budget", arg, 1, 1LL << 31); return 0;
	case OPT_CRATE: o->crate = vt_cli_int("--coreset-rate", arg, 1, 1 << 20); return 0;
	case OPT_SRATE: o->srate = vt_cli_int("--stream-rate", arg, 1, 1 << 20); return 0;
	case OPT_CHUNK: o->chunk = vt_cli_int("--chunk-rows", arg, 1, 1LL << 32); return 0;
	case OPT_MEM: o->mem = vt_cli_size("--mem", arg); return 0;
	case OPT_TOTAL: o->total = vt_cli_int("--total-rows", arg, 0, 1LL << 48); return 0;
	case OPT_FIRST:
		o->first = vt_cli_int("--first-chunk", arg, 0, 1LL << 32);
		o->first_given = 1;
		return 0;
	case OPT_ITERS: o->iters = (int)vt_cli_int("--iters", arg, 0, 1000000); return 0;
	}
	return -1;
}

static const struct option longopts[] = {
	{"budget", required_argument, NULL, OPT_BUDGET},
	{"coreset-rate", required_argument, NULL, OPT_CRATE},
	{"stream-rate", required_argument, NULL, OPT_SRATE},
	{"chunk-rows", required_argument, NULL, OPT_CHUNK},
	{"mem", required_argument, NULL, OPT_MEM},
	{"total-rows", required_argument, NULL, OPT_TOTAL},
	{"first-chunk", required_argument, NULL, OPT_FIRST},
	{"iters", required_argument, NULL, OPT_ITERS},
	{0},
};

/* The announced row count of the input: --total-rows, vsample.m, the
 * foreign file's header or the end markers of one vtrain file; -1 if
 * unknown.  A --total-rows below the file's own count is an error before
 * any work (fewer rows are a part of the sample, cut at chunk boundaries).
 * With --first-chunk the input is such a part, and its count is not the
 * total. */
static long long total_rows(const opts *o, vt_input *in, const char **from)
{
	char err[512];
	int64_t counted = -1;
	int rc = o->first_given ? 0 : vt_input_count_rows(in, &counted, err, sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	if (o->total >= 0 && counted > o->total)
		vt_cli_fail(VT_EINVAL, "%s: holds %lld rows, more than the %lld of --total-rows",
		            vt_input_path(in), (long long)counted, o->total);
	if (o->total >= 0) {
		*from = "--total-rows";
		return o->total;
	}
	const char *m = vt_header_get(vt_input_header(in), "vsample.m");
	if (m) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(m, &end, 10);
		if (errno || end == m || *end || v > (1ULL << 48))
			vt_cli_fail(VT_EFORMAT, "%s: vsample.m metadata '%s' is not a row count",
			            vt_input_path(in), m);
		*from = "vsample.m";
		return (long long)v;
	}
	*from = vt_input_format(in) == VT_FMT_VT ? "the end markers" : "the file header";
	return counted;
}

int main(int argc, char **argv)
{
	vt_cli_init("vcoreset");
	opts o = {.crate = 16, .srate = 64, .total = -1, .iters = 10};
	vt_cli_spec spec = {
		.name = "vcoreset",
		.usage = usage,
		.shared = VT_CLI_OUTPUT | VT_CLI_K | VT_CLI_SEED | VT_CLI_THREADS | VT_CLI_COMPRESS,
		.longopts = longopts,
		.opt = on_opt,
		.ctx = &o,
	};
	vt_cli c;
	vt_cli_parse(argc, argv, &spec, &c);
	if (!!o.chunk + !!o.mem > 1)
		vt_cli_usage_error("--chunk-rows and --mem both size the chunk; give one");
	if (!c.seed_given)
		c.seed = 1;
	vt_cli_no_tty(c.output);

	vt_out out;
	vt_cli_open_output(&c, &out);
	vt_input *in = vt_cli_open_input(&c, NULL);
	const vt_header *ih = vt_input_header(in);
	if (ih->kind != VT_KIND_VECTORS && ih->kind != VT_KIND_POINTS)
		vt_cli_fail(VT_EKIND, "%s: is a %s stream; vcoreset reads vectors or weighted points",
		            vt_input_path(in), vt_kind_name(ih->kind));
	/* K: -k, or the stream's (vsample -k records it); they must agree */
	c.k = vt_cli_input_k(&c, in, 0);
	if (c.k < 1 && !o.budget)
		vt_cli_usage_error("give -k (the budget is K x coreset rate) or --budget");
	if (c.k < 1 && !o.chunk && !o.mem)
		vt_cli_usage_error("give the chunk as --chunk-rows, --mem or -k with --stream-rate");
	unsigned long long budget = o.budget ? (unsigned long long)o.budget
	                                     : (unsigned long long)c.k * (unsigned long long)o.crate;
	if (budget > (1ULL << 31))
		vt_cli_usage_error("a budget of %llu points is too large (at most 2^31)", budget);
	const size_t d = ih->dim;
	const int weighted = ih->kind == VT_KIND_POINTS, has_ids = (ih->cols & VT_COL_IDS) != 0;

	const char *from;
	long long M = total_rows(&o, in, &from);
	if (M < 0)
		vt_cli_usage_error("%s: the number of rows is unknown, and the budget is shared "
		                   "among the chunks by it: give --total-rows (vsample writes it "
		                   "as vsample.m)", vt_input_path(in));
	unsigned long long C;
	if (o.chunk)
		C = (unsigned long long)o.chunk;
	else if (o.mem) {
		unsigned long long T = c.threads > 0 ? (unsigned long long)c.threads
		                                     : (unsigned long long)vt_cpu_count();
		C = vt_coreset_chunk_for_mem(o.mem, d, budget, (unsigned long long)M, T);
		if (C < 1)
			vt_cli_usage_error("--mem %llu holds no chunk of dimension %zu (%llu bytes for "
			                   "one row)", o.mem, d, vt_coreset_peak_bytes(1, d, 1, T));
	} else
		C = (unsigned long long)c.k * (unsigned long long)o.srate;
	if (C > (1ULL << 32))
		vt_cli_usage_error("a chunk of %llu rows is too large (at most 2^32)", C);
	unsigned long long start = (unsigned long long)o.first * C;
	unsigned long long nchunks = ((unsigned long long)M + C - 1) / C;
	if (M > 0 && start >= (unsigned long long)M)
		vt_cli_usage_error("--first-chunk %lld starts at row %llu, past the %lld rows (%s)",
		                   o.first, start, M, from);
	/* points per full chunk; a short chunk of r rows gets max(1, B r / M) */
	unsigned long long kfull = vt_coreset_chunk_points(budget, C, (unsigned long long)M);
	if (kfull < 1)
		vt_cli_usage_error("a budget of %llu points is less than one per chunk (%llu chunks "
		                   "of %llu rows): raise the coreset rate or the chunk", budget,
		                   nchunks, C);

	vt_header h;
	vt_header_init(&h, VT_KIND_POINTS, VT_ELEM_F32, VT_COL_ALL, (uint32_t)d);
	int rc = 0;
	vt_header_put(&h, &rc, "made_by", "%s", "vcoreset " VT_VERSION_STRING);
	if (c.k > 0)
		vt_header_put(&h, &rc, "k", "%lld", c.k);
	int metric = vt_metric_recorded(ih, NULL);
	if (metric == VT_EINVAL)
		vt_cli_fail(VT_EFORMAT, "%s: the metric it records is not " VT_METRIC_NAMES,
		            vt_input_path(in));
	if (metric >= 0)
		vt_header_put(&h, &rc, "metric", "%s", vt_metric_name(metric));
	vt_header_put(&h, &rc, "seed", "%" PRIu64, c.seed);
	vt_header_put(&h, &rc, "vcoreset.budget", "%llu", budget);
	vt_header_put(&h, &rc, "vcoreset.chunk_rows", "%llu", C);
	vt_header_put(&h, &rc, "vcoreset.total_rows", "%lld", M);
	vt_header_put(&h, &rc, "vcoreset.chunks", "%llu", nchunks);
	if (o.first)
		vt_header_put(&h, &rc, "vcoreset.first_chunk", "%lld", o.first);
	vt_header_put(&h, &rc, "vcoreset.iters", "%d", o.iters);
	vt_header_put(&h, &rc, "vcoreset.input", "%s", vt_kind_name(ih->kind));
	vt_cli_check_meta(&c, rc);
	vt_writer *wr;
	vt_cli_check_output(&c, vt_writer_open(&wr, &out, &h, c.codec, 0));
	vt_header_free(&h);

	/* the chunk (C rows at most, fewer when the input is known to be
	 * shorter) and one chunk's points */
	size_t cap = (size_t)(M > 0 && (unsigned long long)M - start < C ? (unsigned long long)M - start : C);
	if (cap == 0)
		cap = 1;
	if (kfull > cap)
		kfull = cap;
	float *x = malloc(cap * d * sizeof *x), *px = malloc(kfull * d * sizeof *px);
	uint64_t *ids = malloc(cap * sizeof *ids), *pid = malloc(kfull * sizeof *pid);
	double *w = weighted ? malloc(cap * sizeof *w) : NULL;
	double *l = weighted ? malloc(cap * sizeof *l) : NULL;
	double *pw = malloc(kfull * sizeof *pw), *pl = malloc(kfull * sizeof *pl);
	if (!x || !px || !ids || !pid || (weighted && (!w || !l)) || !pw || !pl)
		vt_cli_fail(VT_ENOMEM, "a chunk of %zu rows of dimension %zu does not fit in memory",
		            cap, d);

	vt_coreset_params par;
	vt_coreset_params_default(&par);
	par.threads = c.threads;
	par.iters = o.iters;
	char err[512];
	double t0 = vt_now(), wsum = 0, lsum = 0;
	unsigned long long rows = 0, points = 0, chunk = (unsigned long long)o.first, done = 0;
	vt_progress pg;
	vt_progress_start(&pg, &c, "rows");
	for (;; chunk++) {
		long got = vt_input_read(in, cap, x, ids, w, l, err, sizeof err);
		if (got < 0)
			vt_cli_fail((int)got, "%s", err);
		if (got == 0)
			break;
		size_t r = (size_t)got;
		if (start + rows + r > (unsigned long long)M)
			vt_cli_fail(VT_EFORMAT, "%s: more than the %lld rows announced by %s; the "
			            "coreset would exceed its budget (give --total-rows)",
			            vt_input_path(in), M, from);
		size_t bad = vt_first_nonfinite_row(x, r, d);
		if (bad < r)
			vt_cli_fail(VT_EDATA, "%s: row %llu has a NaN or infinite value (filter with "
			            "vsample)", vt_input_path(in), rows + bad);
		if (!has_ids)
			for (size_t i = 0; i < r; i++)
				ids[i] += start;
		unsigned long long kl = r == C ? kfull
		                                : vt_coreset_chunk_points(budget, r, (unsigned long long)M);
		if (kl < 1)
			kl = 1;
		if (kl > r)
			kl = r;
		vt_rng rng;
		vt_rng_init(&rng, c.seed, chunk);
		par.seed = vt_rng_u64(&rng);
		double t1 = vt_now();
		size_t m;
		rc = vt_coreset_reduce(x, r, d, w, l, ids, (size_t)kl, &par, px, pw, pl, pid, &m);
		if (rc == VT_EDATA)
			vt_cli_fail(rc, "%s: a negative or non-finite weight or loss in chunk %llu",
			            vt_input_path(in), chunk);
		if (rc < 0)
			vt_cli_fail(rc, "chunk %llu: %s", chunk, vt_strerror(rc));
		double cl = 0, cw = 0;
		for (size_t p = 0; p < m; p++)
			cw += pw[p], cl += pl[p];
		vt_cli_check_output(&c, vt_writer_put(wr, m, pid, pw, pl, px));
		vt_cli_verbose(&c, "chunk %llu rows=%zu points=%zu weight=%.17g loss=%.10g time=%.2fs",
		               chunk, r, m, cw, cl, vt_now() - t1);
		rows += r, points += m, wsum += cw, lsum += cl, done++;
		vt_progress_update(&pg, rows, (uint64_t)M - start);
		if (r < cap)
			break;
	}
	vt_progress_end(&pg);
	vt_cli_check_output(&c, vt_writer_finish(wr));
	vt_cli_commit_output(&c, &out);
	if (!c.quiet)
		vt_cli_msg("chunks=%llu rows=%llu points=%llu budget=%llu weight=%.17g loss=%.10g "
		           "time=%.2fs", done, rows, points, budget, wsum, lsum, vt_now() - t0);
	vt_writer_free(wr);
	vt_input_free(in);
	free(x), free(px), free(ids), free(pid), free(w), free(l), free(pw), free(pl);
	return 0;
}
