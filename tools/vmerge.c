/* vmerge: merge streams of one kind into one whose bytes do not depend on
 * the order of the arguments: the union of vectors or weighted points in
 * global id order (optionally reduced to a budget), or the sum of Lloyd
 * accumulators, or the merge of SQ statistics. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vtrain.h"
#include "bridge/accumio.h"
#include "bridge/merge.h"
#include "bridge/sqio.h"
#include "stream/rows.h"
#include "train/coreset.h"

static const char usage[] =
"Usage: vmerge [OPTIONS] FILE...\n"
"Merge streams of one kind into one, whatever the order of the FILEs:\n"
"  vectors, weighted points  the union of the rows in global id order (each\n"
"                            input must carry ids and be sorted by them, as\n"
"                            vsample and vcoreset write them); --budget N\n"
"                            reduces weighted points to at most N by weighted\n"
"                            k-means, carrying weights and losses exactly\n"
"  labels                    the rows of every shard in id order (all made with\n"
"                            the same centroids, codebook and top; an id may\n"
"                            appear only once)\n"
"  accumulators              the sum (all computed against the same centroids)\n"
"  SQ statistics             min of mins and max of maxes, exact sums of\n"
"                            meanstd, the union of quantile sketches (all of\n"
"                            one mode, metric and dimension); vsqbounds then\n"
"                            turns merged statistics into bounds\n"
"Every input is read to its end and verified; a truncated or corrupt one fails\n"
"the merge.  The output has the metadata of the input that comes first (the\n"
"smallest first id; for accumulators, the smallest content hash).\n"
"\n"
"      --budget N        reduce weighted points to at most N points\n"
"      --iters N         Lloyd iterations of the reduction (default 10)\n"
"      --seed N          seed of the reduction (default 1)\n"
"  -j, --threads N       threads of the reduction (default: all cores)\n"
"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
"  -z, --compress=CODEC  none (default), lz4, lz4-shuffle (-z)\n"
"  -q, --quiet           no summary on stderr\n"
"  -v, --verbose         more detail\n"
"  -h, --help            this help\n"
"      --version         version\n"
"\n"
"Memory: inputs x (1 MiB + a frame) for a union; with --budget, all the\n"
"points (n x (4d + 28) bytes) and the k-means over them; k x d x 16 bytes per\n"
"accumulator input (see vmerge(1)).\n"
"Exit status: 0 ok, 1 failure, 2 usage.  See vmerge(1), vcoreset(1), vloss(1).\n";

enum { OPT_BUDGET = 0x2000, OPT_ITERS };

typedef struct {
	long long budget;
	int iters;
} opts;

static int on_opt(int c, const char *arg, void *ctx)
{
	opts *o = ctx;
	switch (c) {
	case OPT_BUDGET: o->budget = vt_cli_int("--budget", arg, 1, 1LL << 31); return 0;
	case OPT_ITERS: o->iters = (int)vt_cli_int("--iters", arg, 0, 1000000); return 0;
	}
	return -1;
}

static const struct option longopts[] = {
	{"budget", required_argument, NULL, OPT_BUDGET},
	{"iters", required_argument, NULL, OPT_ITERS},
	{0},
};

/* ---- the union in id order ---------------------------------------- */

static void merge_rows(vt_input **ins, const char **paths, size_t nin, const opts *o,
                       const vt_cli *c, vt_out *out)
{
	char err[512];
	vt_merge *mg;
	int rc = vt_merge_open(&mg, ins, paths, nin, err, sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	const vt_header *h0 = vt_merge_first_header(mg);
	const int weighted = h0->kind == VT_KIND_POINTS;
	const size_t d = h0->dim, batch = vt_merge_batch(mg);
	vt_header h;
	if (vt_header_copy(&h, h0) < 0)
		vt_cli_fail(VT_ENOMEM, "%s", vt_strerror(VT_ENOMEM));
	vt_header_unset(&h, "rows");   /* the first input's count, not the merge's */
	/* Labels are vassign's, cut into shards and put back together: they keep
	 * its made_by, so that the merge of the shards' labels is one run's bytes. */
	if (h0->kind != VT_KIND_LABELS)
		vt_header_put(&h, &rc, "made_by", "%s", "vmerge " VT_VERSION_STRING);
	if (o->budget) {
		vt_header_put(&h, &rc, "vmerge.budget", "%lld", o->budget);
		vt_header_put(&h, &rc, "vmerge.seed", "%" PRIu64, c->seed);
		vt_header_put(&h, &rc, "vmerge.iters", "%d", o->iters);
	}
	vt_cli_check_meta(c, rc);

	/* rows gathered for the output: a batch for the writer, or (with a
	 * budget) every row */
	vt_rows r;
	vt_rows_init(&r, (uint32_t)d, VT_COL_IDS | (weighted ? VT_COL_WEIGHT | VT_COL_LOSS : 0));
	vt_writer *wr = NULL;
	if (!o->budget) {
		vt_cli_check_output(c, vt_writer_open(&wr, out, &h, c->codec, 0));
		if (vt_rows_reserve(&r, batch) < 0)
			vt_cli_fail(VT_ENOMEM, "%s", vt_strerror(VT_ENOMEM));
	}
	uint64_t total = 0, known = 0;
	double wsum = 0, lsum = 0, t0 = vt_now();
	vt_progress pg;
	vt_progress_start(&pg, c, o->budget ? "points read" : "rows");
	for (size_t i = 0; i < nin && pg.on; i++) {
		vt_progress_input(&pg, ins[i]);
		if (!pg.total) {
			known = 0;
			break;
		}
		known += pg.total;
	}
	pg.total = known;
	long got;
	do {
		if (o->budget && r.cap - r.n < batch &&
		    vt_rows_reserve(&r, r.cap + (r.cap > batch ? r.cap : batch)) < 0)
			vt_cli_fail(VT_ENOMEM, "%zu merged rows do not fit in memory", r.n + batch);
		got = vt_merge_read(mg, batch, r.x + r.n * d, r.ids + r.n,
		                    weighted ? r.weight + r.n : NULL, weighted ? r.loss + r.n : NULL,
		                    err, sizeof err);
		if (got < 0)
			vt_cli_fail((int)got, "%s", err);
		for (size_t i = r.n; weighted && i < r.n + (size_t)got; i++)
			wsum += r.weight[i], lsum += r.loss[i];
		total += (uint64_t)got;
		vt_progress_update(&pg, total, 0);
		r.n += (size_t)got;
		if (wr && r.n) {
			vt_cli_check_output(c, vt_writer_put(wr, r.n, r.ids, r.weight, r.loss, r.x));
			r.n = 0;
		}
	} while ((size_t)got == batch);
	size_t m = r.n;
	double rw = wsum, rl = lsum, t1 = vt_now();
	vt_cli_verbose(c, "merged %" PRIu64 " %s of %zu input%s in id order in %.2fs", total,
	               h0->kind == VT_KIND_LABELS ? "labels" : weighted ? "points" : "rows", nin,
	               nin == 1 ? "" : "s", t1 - t0);
	if (wr) {
		vt_cli_check_output(c, vt_writer_finish(wr));
	} else {
		/* reduce to the budget: the union is in id order, so the result
		 * does not depend on the order of the inputs */
		size_t nb = (size_t)o->budget;
		float *px = vt_cli_xmalloc(nb * d * sizeof *px);
		uint64_t *pid = vt_cli_xmalloc(nb * sizeof *pid);
		double *pw = vt_cli_xmalloc(nb * sizeof *pw), *pl = vt_cli_xmalloc(nb * sizeof *pl);
		m = 0;
		if (r.n > nb)
			vt_progress_say(&pg, "reducing %zu points to %zu by weighted k-means...", r.n, nb);
		if (r.n) {
			vt_coreset_params par;
			vt_coreset_params_default(&par);
			par.seed = c->seed;
			par.threads = c->threads;
			par.iters = o->iters;
			rc = vt_coreset_reduce(r.x, r.n, d, r.weight, r.loss, r.ids, nb, &par, px, pw, pl,
			                       pid, &m);
			if (rc == VT_EDATA)
				vt_cli_fail(rc, "a negative or non-finite weight or loss in the inputs");
			if (rc < 0)
				vt_cli_fail(rc, "reducing %zu points to %zu: %s", r.n, nb, vt_strerror(rc));
		}
		vt_progress_end(&pg);
		vt_cli_verbose(c, "reduced %zu points to %zu in %.2fs (%d Lloyd iterations at most, "
		               "seed %" PRIu64 ")", r.n, m, vt_now() - t1, o->iters, c->seed);
		rw = rl = 0;
		for (size_t p = 0; p < m; p++)
			rw += pw[p], rl += pl[p];
		vt_cli_check_output(c, vt_model_write(out, &h, m, px, pid, pw, pl));
		free(px), free(pid), free(pw), free(pl);
	}
	vt_progress_end(&pg);
	vt_cli_commit_output(c, out);
	if (!c->quiet) {
		if (o->budget)
			vt_cli_msg("inputs=%zu points=%" PRIu64 " reduced=%zu budget=%lld weight=%.17g "
			           "loss=%.10g (inputs' loss %.10g)", nin, total, m, o->budget, rw, rl,
			           lsum);
		else if (weighted)
			vt_cli_msg("inputs=%zu points=%" PRIu64 " weight=%.17g loss=%.10g", nin, total,
			           rw, rl);
		else if (h0->kind == VT_KIND_LABELS)
			vt_cli_msg("inputs=%zu labels=%" PRIu64, nin, total);
		else
			vt_cli_msg("inputs=%zu rows=%" PRIu64, nin, total);
	}
	vt_writer_free(wr);
	vt_header_free(&h);
	vt_rows_free(&r);
	vt_merge_free(mg);
}

/* ---- the sum of accumulators ----------------------------------------- */

static void merge_accum(vt_input **ins, const char **paths, size_t nin, const vt_cli *c,
                        vt_out *out)
{
	char err[512], id[17];
	vt_accum *sum;
	size_t first;
	int rc = vt_accum_read_merged(ins, paths, nin, &sum, id, &first, err, sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	const char *metric = vt_header_get(vt_input_header(ins[first]), "metric");
	vt_cli_check_output(c, vt_accum_write(out, sum, id, metric ? metric : "l2",
	                                      "vmerge " VT_VERSION_STRING));
	vt_cli_commit_output(c, out);
	if (!c->quiet) {
		double tw = 0, tl = 0;
		for (size_t j = 0; j < sum->k; j++)
			tw += sum->weight[j], tl += sum->loss[j];
		vt_cli_msg("inputs=%zu k=%zu weight=%.17g loss=%.10g", nin, sum->k, tw, tl);
	}
	vt_accum_free(sum);
}

/* ---- SQ statistics -------------------------------------------------- */

/* min of mins, max of maxes, exact sums, or one union of all the sketches
 * (lib/bridge/sqio.c); the header is rebuilt, so no input's own keys leak. */
static void merge_sq(vt_input **ins, size_t nin, const vt_cli *c, vt_out *out)
{
	char err[512];
	vt_sq *s;
	int rc = vt_sq_read_merged(ins, nin, &s, err, sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	const vt_header *h0 = vt_input_header(ins[0]);
	const char *metric = vt_header_get(h0, "metric"), *cid = vt_header_get(h0, "centroids_id");
	vt_header h;
	if ((rc = vt_sq_header(&h, s, 0)) < 0)
		vt_cli_fail(rc, "%s", vt_strerror(rc));
	vt_header_put(&h, &rc, "made_by", "%s", "vmerge " VT_VERSION_STRING);
	if (metric)
		vt_header_put(&h, &rc, "metric", "%s", metric);
	if (cid)
		vt_header_put(&h, &rc, "centroids_id", "%s", cid);
	vt_cli_check_meta(c, rc);
	vt_cli_check_output(c, vt_sq_write(out, &h, s, 0, 0));
	vt_cli_commit_output(c, out);
	if (!c->quiet)
		vt_cli_msg("inputs=%zu mode=%s values=%" PRIu64 " d=%zu", nin,
		           vt_sq_mode_name(vt_sq_mode(s)), vt_sq_count(s), vt_sq_dim(s));
	vt_header_free(&h);
	vt_sq_free(s);
}

int main(int argc, char **argv)
{
	vt_cli_init("vmerge");
	opts o = {.iters = 10};
	vt_cli_spec spec = {
		.name = "vmerge",
		.usage = usage,
		.shared = VT_CLI_OUTPUT | VT_CLI_SEED | VT_CLI_THREADS | VT_CLI_COMPRESS,
		.longopts = longopts,
		.opt = on_opt,
		.ctx = &o,
	};
	vt_cli c;
	vt_cli_parse(argc, argv, &spec, &c);
	if (!c.seed_given)
		c.seed = 1;
	vt_cli_no_tty(c.output);
	static const char *dash[] = {"-"};
	size_t nin = c.nargs ? (size_t)c.nargs : 1;
	const char **args = c.nargs ? (const char **)c.args : dash;
	int stdin_seen = 0;
	for (size_t i = 0; i < nin; i++)
		if (strcmp(args[i], "-") == 0 && stdin_seen++)
			vt_cli_usage_error("standard input (-) can be merged only once");

	vt_cli_no_tty_input(&c);
	vt_out out;
	vt_cli_open_output(&c, &out);
	/* every input on its own, so that each is verified and named */
	char err[512];
	vt_input **ins = vt_cli_xmalloc(nin * sizeof *ins);
	const char **paths = vt_cli_xmalloc(nin * sizeof *paths);
	for (size_t i = 0; i < nin; i++) {
		int rc = vt_input_open(&ins[i], &args[i], 1, NULL, err, sizeof err);
		if (rc < 0)
			vt_cli_fail(rc, "%s", err);
		paths[i] = strcmp(args[i], "-") == 0 ? "(stdin)" : args[i];
	}
	const vt_header *h0 = vt_input_header(ins[0]);
	int kind = h0->kind;
	for (size_t i = 0; i < nin; i++) {
		const vt_header *hi = vt_input_header(ins[i]);
		if ((hi->kind == VT_KIND_VECTORS || hi->kind == VT_KIND_POINTS) &&
		    (kind == VT_KIND_VECTORS || kind == VT_KIND_POINTS) && !(hi->cols & VT_COL_IDS))
			vt_cli_fail(VT_EFORMAT, "%s: %s without ids: vmerge orders rows by their global "
			            "id (vsample and vcoreset write them)", paths[i], vt_kind_name(hi->kind));
		if (i == 0)
			continue;
		if (kind == VT_KIND_ACCUM && hi->kind == VT_KIND_ACCUM)
			continue; /* centroids_id and k are compared once read, naming the file */
		if (vt_header_compatible(h0, hi, err, sizeof err) < 0)
			vt_cli_fail(VT_EKIND, "%s: cannot be merged with %s: %s", paths[i], paths[0], err);
	}
	switch (kind) {
	case VT_KIND_VECTORS:
	case VT_KIND_POINTS:
		if (o.budget && kind != VT_KIND_POINTS)
			vt_cli_usage_error("--budget reduces weighted points, and %s holds vectors "
			                   "(make a coreset of them with vcoreset)", paths[0]);
		merge_rows(ins, paths, nin, &o, &c, &out);
		break;
	case VT_KIND_LABELS:
		if (o.budget)
			vt_cli_usage_error("--budget reduces weighted points, and %s holds labels",
			                   paths[0]);
		merge_rows(ins, paths, nin, &o, &c, &out);
		break;
	case VT_KIND_ACCUM:
		if (o.budget)
			vt_cli_usage_error("--budget reduces weighted points, and %s holds accumulators",
			                   paths[0]);
		merge_accum(ins, paths, nin, &c, &out);
		break;
	case VT_KIND_SQ:
		if (o.budget)
			vt_cli_usage_error("--budget reduces weighted points, and %s holds SQ statistics",
			                   paths[0]);
		merge_sq(ins, nin, &c, &out);
		break;
	default:
		vt_cli_fail(VT_EKIND, "%s: is a %s stream; vmerge merges vectors, weighted points, "
		            "labels, accumulators and SQ statistics", paths[0], vt_kind_name(kind));
	}
	for (size_t i = 0; i < nin; i++)
		vt_input_free(ins[i]);
	free(ins);
	free(paths);
	return 0;
}
