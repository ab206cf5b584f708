/* vmerge: merge streams of one kind into one whose bytes do not depend on
 * the order of the arguments: the union of vectors or weighted points in
 * global id order (optionally reduced to a budget), or the sum of Lloyd
 * accumulators, or the merge of SQ statistics. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vtrain.h"
#include "bridge/accumio.h"
#include "bridge/sqio.h"
#include "train/coreset.h"
#include "train/vecops.h"

static const char usage[] =
"Usage: vmerge [OPTIONS] FILE...\n"
"Merge streams of one kind into one, whatever the order of the FILEs:\n"
"  vectors, weighted points  the union of the rows in global id order (each\n"
"                            input must carry ids and be sorted by them, as\n"
"                            vsample and vcoreset write them); --budget N\n"
"                            reduces weighted points to at most N by weighted\n"
"                            k-means, carrying weights and losses exactly\n"
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

static const char *oname;

static _Noreturn void write_failed(int rc)
{
	vt_cli_fail(rc, "%s: %s", oname, rc == VT_EIO ? strerror(errno) : vt_strerror(rc));
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		vt_cli_fail(VT_ENOMEM, "%s", vt_strerror(VT_ENOMEM));
	return p;
}

/* ---- the union in id order ---------------------------------------- */

/* One input of a k-way merge, read a batch of rows at a time. */
typedef struct {
	vt_input *in;
	const char *path;
	size_t n, pos;        /* rows in the batch, next row */
	float *x;
	uint64_t *ids;
	double *w, *l;        /* NULL for vectors */
	uint64_t rows;        /* rows read so far */
	uint64_t last;        /* id of the last row taken */
	int done;
	uint64_t hhash;       /* hash of the header, to order inputs for metadata */
} src;

static size_t g_d, g_batch;

/* Fill s's batch; check the ids are sorted. */
static void refill(src *s)
{
	char err[512];
	long got = vt_input_read(s->in, g_batch, s->x, s->ids, s->w, s->l, err, sizeof err);
	if (got < 0)
		vt_cli_fail((int)got, "%s", err);
	s->n = (size_t)got;
	s->pos = 0;
	if (got == 0) {
		s->done = 1;
		return;
	}
	size_t bad = vt_first_nonfinite_row(s->x, s->n, g_d);
	if (bad < s->n)
		vt_cli_fail(VT_EDATA, "%s: row %" PRIu64 " has a NaN or infinite value", s->path,
		            s->rows + bad);
	for (size_t i = 0; i < s->n; i++) {
		uint64_t prev = i ? s->ids[i - 1] : s->last;
		if ((s->rows > 0 || i > 0) && s->ids[i] < prev)
			vt_cli_fail(VT_EFORMAT, "%s: not sorted by id (row %" PRIu64 " has id %" PRIu64
			            " after %" PRIu64 "); vmerge merges id-sorted streams, as vsample "
			            "and vcoreset write them", s->path, s->rows + i, s->ids[i], prev);
	}
	s->rows += s->n;
}

/* Order of the current rows of two inputs: id, then the row's bytes (so
 * that equal ids come out in an order that does not depend on the
 * arguments), then the header. */
static int row_cmp(const src *a, const src *b)
{
	uint64_t ia = a->ids[a->pos], ib = b->ids[b->pos];
	if (ia != ib)
		return ia < ib ? -1 : 1;
	int r;
	if (a->w && (r = memcmp(a->w + a->pos, b->w + b->pos, sizeof(double))))
		return r;
	if (a->l && (r = memcmp(a->l + a->pos, b->l + b->pos, sizeof(double))))
		return r;
	if ((r = memcmp(a->x + a->pos * g_d, b->x + b->pos * g_d, g_d * sizeof(float))))
		return r;
	return a->hhash < b->hhash ? -1 : a->hhash > b->hhash;
}

/* A binary min-heap of the inputs that have rows left. */
static void sift_down(src **h, size_t n, size_t i)
{
	for (;;) {
		size_t m = i, a = 2 * i + 1, b = a + 1;
		if (a < n && row_cmp(h[a], h[m]) < 0)
			m = a;
		if (b < n && row_cmp(h[b], h[m]) < 0)
			m = b;
		if (m == i)
			return;
		src *t = h[i];
		h[i] = h[m], h[m] = t;
		i = m;
	}
}

/* Rows gathered for the output: a batch for the writer, or (with a
 * budget) every row. */
typedef struct {
	size_t n, cap;
	float *x;
	uint64_t *ids;
	double *w, *l;
} rows;

static void rows_push(rows *r, const src *s, int weighted)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 4096;
		float *x = realloc(r->x, cap * g_d * sizeof *x);
		uint64_t *ids = realloc(r->ids, cap * sizeof *ids);
		double *w = weighted ? realloc(r->w, cap * sizeof *w) : NULL;
		double *l = weighted ? realloc(r->l, cap * sizeof *l) : NULL;
		if (x)
			r->x = x;
		if (ids)
			r->ids = ids;
		if (w)
			r->w = w;
		if (l)
			r->l = l;
		if (!x || !ids || (weighted && (!w || !l)))
			vt_cli_fail(VT_ENOMEM, "%zu merged rows do not fit in memory", cap);
		r->cap = cap;
	}
	size_t i = s->pos;
	memcpy(r->x + r->n * g_d, s->x + i * g_d, g_d * sizeof *r->x);
	r->ids[r->n] = s->ids[i];
	if (weighted)
		r->w[r->n] = s->w[i], r->l[r->n] = s->l[i];
	r->n++;
}

static void rows_free(rows *r)
{
	free(r->x), free(r->ids), free(r->w), free(r->l);
}

static uint64_t header_hash(const vt_header *h)
{
	unsigned char *buf;
	size_t len;
	if (vt_header_encode(h, &buf, &len) < 0)
		vt_cli_fail(VT_ENOMEM, "%s", vt_strerror(VT_ENOMEM));
	uint64_t v = vt_hash64(buf, len, 0);
	free(buf);
	return v;
}

static void merge_rows(vt_input **ins, const char **paths, size_t nin, const opts *o,
                       const vt_cli *c)
{
	const vt_header *h0 = vt_input_header(ins[0]);
	const int weighted = h0->kind == VT_KIND_POINTS;
	g_d = h0->dim;
	size_t rb = g_d * 4 + 24;
	g_batch = (1u << 20) / rb;
	g_batch = g_batch < 16 ? 16 : g_batch > 65536 ? 65536 : g_batch;
	src *S = xmalloc(nin * sizeof *S);
	src **heap = xmalloc(nin * sizeof *heap);
	size_t nh = 0;
	for (size_t i = 0; i < nin; i++) {
		src *s = &S[i];
		memset(s, 0, sizeof *s);
		s->in = ins[i];
		s->path = paths[i];
		s->hhash = header_hash(vt_input_header(s->in));
		s->x = xmalloc(g_batch * g_d * sizeof *s->x);
		s->ids = xmalloc(g_batch * sizeof *s->ids);
		s->w = weighted ? xmalloc(g_batch * sizeof *s->w) : NULL;
		s->l = weighted ? xmalloc(g_batch * sizeof *s->l) : NULL;
		refill(s);
		if (!s->done)
			heap[nh++] = s;
	}
	for (size_t i = nh; i-- > 0;)
		sift_down(heap, nh, i);
	/* the metadata of the input that comes first: the smallest first row,
	 * or, when all are empty, the smallest header hash */
	const src *first = nh ? heap[0] : &S[0];
	for (size_t i = 1; !nh && i < nin; i++)
		if (S[i].hhash < first->hhash)
			first = &S[i];
	vt_header h;
	if (vt_header_copy(&h, vt_input_header(first->in)) < 0)
		vt_cli_fail(VT_ENOMEM, "%s", vt_strerror(VT_ENOMEM));
	vt_header_set(&h, "made_by", "vmerge " VT_VERSION_STRING);
	if (o->budget) {
		vt_header_setf(&h, "vmerge.budget", "%lld", o->budget);
		vt_header_setf(&h, "vmerge.seed", "%" PRIu64, c->seed);
		vt_header_setf(&h, "vmerge.iters", "%d", o->iters);
	}

	vt_out out;
	int rc = vt_out_open(&out, c->output);
	if (rc < 0)
		vt_cli_fail(rc, "%s: %s", oname, strerror(errno));
	vt_writer *wr = NULL;
	if (!o->budget && (rc = vt_writer_open(&wr, &out, &h, c->codec, 0)) < 0)
		write_failed(rc);
	rows r = {0};
	uint64_t total = 0;
	double wsum = 0, lsum = 0;
	while (nh) {
		src *s = heap[0];
		rows_push(&r, s, weighted);
		total++;
		if (weighted)
			wsum += s->w[s->pos], lsum += s->l[s->pos];
		s->last = s->ids[s->pos];
		if (++s->pos == s->n)
			refill(s);
		if (s->done)
			heap[0] = heap[--nh];
		sift_down(heap, nh, 0);
		if (wr && r.n == g_batch) {
			if ((rc = vt_writer_put(wr, r.n, r.ids, r.w, r.l, r.x)) < 0)
				write_failed(rc);
			r.n = 0;
		}
	}
	size_t m = r.n;
	double rw = wsum, rl = lsum;
	if (wr) {
		if (r.n && (rc = vt_writer_put(wr, r.n, r.ids, r.w, r.l, r.x)) < 0)
			write_failed(rc);
		if ((rc = vt_writer_finish(wr)) < 0)
			write_failed(rc);
	} else {
		/* reduce to the budget: the union is in id order, so the result
		 * does not depend on the order of the inputs */
		size_t nb = (size_t)o->budget;
		float *px = xmalloc(nb * g_d * sizeof *px);
		uint64_t *pid = xmalloc(nb * sizeof *pid);
		double *pw = xmalloc(nb * sizeof *pw), *pl = xmalloc(nb * sizeof *pl);
		m = 0;
		if (r.n) {
			vt_coreset_params par;
			vt_coreset_params_default(&par);
			par.seed = c->seed;
			par.threads = c->threads;
			par.iters = o->iters;
			rc = vt_coreset_reduce(r.x, r.n, g_d, r.w, r.l, r.ids, nb, &par, px, pw, pl, pid,
			                       &m);
			if (rc == VT_EDATA)
				vt_cli_fail(rc, "a negative or non-finite weight or loss in the inputs");
			if (rc < 0)
				vt_cli_fail(rc, "reducing %zu points to %zu: %s", r.n, nb, vt_strerror(rc));
		}
		rw = rl = 0;
		for (size_t p = 0; p < m; p++)
			rw += pw[p], rl += pl[p];
		rc = vt_model_write(&out, &h, m, px, pid, pw, pl);
		if (rc < 0)
			write_failed(rc);
		free(px), free(pid), free(pw), free(pl);
	}
	if ((rc = vt_out_commit(&out)) < 0)
		write_failed(rc);
	if (!c->quiet) {
		if (o->budget)
			vt_cli_msg("inputs=%zu points=%" PRIu64 " reduced=%zu budget=%lld weight=%.17g "
			           "loss=%.10g (inputs' loss %.10g)", nin, total, m, o->budget, rw, rl,
			           lsum);
		else if (weighted)
			vt_cli_msg("inputs=%zu points=%" PRIu64 " weight=%.17g loss=%.10g", nin, total,
			           rw, rl);
		else
			vt_cli_msg("inputs=%zu rows=%" PRIu64, nin, total);
	}
	vt_writer_free(wr);
	vt_header_free(&h);
	rows_free(&r);
	for (size_t i = 0; i < nin; i++)
		free(S[i].x), free(S[i].ids), free(S[i].w), free(S[i].l);
	free(S);
	free(heap);
}

/* ---- the sum of accumulators ----------------------------------------- */

typedef struct {
	vt_accum *a;
	uint64_t hash;
	size_t at;
} part;

static int part_cmp(const void *pa, const void *pb)
{
	const part *a = pa, *b = pb;
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return a->at < b->at ? -1 : a->at > b->at;
}

static uint64_t accum_hash(const vt_accum *a)
{
	uint64_t h = vt_hash64(a->sum, a->k * a->d * sizeof *a->sum, 0);
	h = vt_hash64(a->weight, a->k * sizeof *a->weight, h);
	return vt_hash64(a->loss, a->k * sizeof *a->loss, h);
}

static void merge_accum(vt_input **ins, const char **paths, size_t nin, const vt_cli *c)
{
	char err[512], id0[17], id[17];
	part *P = xmalloc(nin * sizeof *P);
	for (size_t i = 0; i < nin; i++) {
		int rc = vt_accum_read(ins[i], &P[i].a, i ? id : id0, err, sizeof err);
		if (rc < 0)
			vt_cli_fail(rc, "%s", err);
		if (i && strcmp(id, id0) != 0)
			vt_cli_fail(VT_EFORMAT, "%s: accumulators were computed against other centroids "
			            "(centroids_id %s, %s has %s)", paths[i], id, paths[0], id0);
		if (i && P[i].a->k != P[0].a->k)
			vt_cli_fail(VT_EFORMAT, "%s: accumulators for k=%zu, %s has k=%zu", paths[i],
			            P[i].a->k, paths[0], P[0].a->k);
		P[i].hash = accum_hash(P[i].a);
		P[i].at = i;
	}
	/* sum in the order of the contents, not of the arguments */
	qsort(P, nin, sizeof *P, part_cmp);
	vt_accum *sum = P[0].a;
	for (size_t i = 1; i < nin; i++)
		vt_accum_merge(sum, P[i].a);
	const char *metric = vt_header_get(vt_input_header(ins[P[0].at]), "metric");
	vt_out out;
	int rc = vt_out_open(&out, c->output);
	if (rc < 0)
		vt_cli_fail(rc, "%s: %s", oname, strerror(errno));
	rc = vt_accum_write(&out, sum, id0, metric ? metric : "l2", "vmerge " VT_VERSION_STRING);
	if (rc == 0)
		rc = vt_out_commit(&out);
	if (rc < 0)
		write_failed(rc);
	if (!c->quiet) {
		double tw = 0, tl = 0;
		for (size_t j = 0; j < sum->k; j++)
			tw += sum->weight[j], tl += sum->loss[j];
		vt_cli_msg("inputs=%zu k=%zu weight=%.17g loss=%.10g", nin, sum->k, tw, tl);
	}
	for (size_t i = 0; i < nin; i++)
		vt_accum_free(P[i].a);
	free(P);
}

/* ---- SQ statistics -------------------------------------------------- */

/* min of mins, max of maxes, exact sums, or one union of all the sketches
 * (lib/bridge/sqio.c); the header is rebuilt, so no input's own keys leak. */
static void merge_sq(vt_input **ins, size_t nin, const vt_cli *c)
{
	char err[512];
	vt_sq *s;
	int rc = vt_sq_read_merged(ins, nin, &s, err, sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	const vt_header *h0 = vt_input_header(ins[0]);
	const char *metric = vt_header_get(h0, "metric"), *cid = vt_header_get(h0, "centroids_id");
	vt_header h;
	if ((rc = vt_sq_header(&h, s, 0)) == 0 && (rc = vt_header_set(&h, "made_by",
	                                                              "vmerge " VT_VERSION_STRING)) == 0 &&
	    (!metric || (rc = vt_header_set(&h, "metric", metric)) == 0) && cid)
		rc = vt_header_set(&h, "centroids_id", cid);
	if (rc < 0)
		vt_cli_fail(rc, "%s", vt_strerror(rc));
	vt_out out;
	if ((rc = vt_out_open(&out, c->output)) < 0)
		vt_cli_fail(rc, "%s: %s", oname, strerror(errno));
	if ((rc = vt_sq_write(&out, &h, s, 0, 0)) < 0 || (rc = vt_out_commit(&out)) < 0)
		write_failed(rc);
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
	oname = c.output ? c.output : "(stdout)";
	static const char *dash[] = {"-"};
	size_t nin = c.nargs ? (size_t)c.nargs : 1;
	const char **args = c.nargs ? (const char **)c.args : dash;
	int stdin_seen = 0;
	for (size_t i = 0; i < nin; i++)
		if (strcmp(args[i], "-") == 0 && stdin_seen++)
			vt_cli_usage_error("standard input (-) can be merged only once");

	/* every input on its own, so that each is verified and named */
	char err[512];
	vt_input **ins = xmalloc(nin * sizeof *ins);
	const char **paths = xmalloc(nin * sizeof *paths);
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
		merge_rows(ins, paths, nin, &o, &c);
		break;
	case VT_KIND_ACCUM:
		if (o.budget)
			vt_cli_usage_error("--budget reduces weighted points, and %s holds accumulators",
			                   paths[0]);
		merge_accum(ins, paths, nin, &c);
		break;
	case VT_KIND_SQ:
		if (o.budget)
			vt_cli_usage_error("--budget reduces weighted points, and %s holds SQ statistics",
			                   paths[0]);
		merge_sq(ins, nin, &c);
		break;
	default:
		vt_cli_fail(VT_EKIND, "%s: is a %s stream; vmerge merges vectors, weighted points, "
		            "accumulators and SQ statistics", paths[0], vt_kind_name(kind));
	}
	for (size_t i = 0; i < nin; i++)
		vt_input_free(ins[i]);
	free(ins);
	free(paths);
	return 0;
}
