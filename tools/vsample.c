/* vsample: the deterministic fixed-index sample of a data set, or of the
 * shard of it that the input holds, with global row ids. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "vtrain.h"
#include "train/reservoir.h"
#include "train/sample.h"
#include "train/vecops.h"

static const char usage[] =
"Usage: vsample (-k K | -m M | --for ivf,pq,sq) [OPTIONS] [FILE...]\n"
"Write a uniform random sample of M of the N rows of a data set, chosen from\n"
"(N, M, seed) alone and written in row order with their global row ids.  With\n"
"--offset A --total N the input holds rows A.. of the data set (a shard), and\n"
"only the sampled rows in its range are written: the shards' outputs put end\n"
"to end are the one-machine sample.  Rows with a NaN or an infinity are\n"
"dropped and counted (they still take their place in the sample).\n"
"\n"
"  -k N                  IVF partitions: sample N x --sample-rate rows\n"
"      --sample-rate R   rows per partition (default 256)\n"
"  -m M                  sample M rows\n"
"      --for LIST        the largest need of the models in LIST, of: ivf\n"
"                        (K x rate, needs -k), pq (256 x 2^nbits), sq (65536)\n"
"      --nbits B         PQ bits per code for --for pq (default 8)\n"
"                        (the size is at most N in every case)\n"
"      --total N         rows of the whole data set (needed for a shard; else the\n"
"                        input tells: one .npy/.fbin/.hdf5 file, a header's\n"
"                        announced rows, regular files read twice; a pipe that\n"
"                        tells nothing gets a seeded reservoir sample, said on\n"
"                        stderr)\n"
"      --offset A        the input starts at global row A (default 0)\n"
"      --metric=METRIC   l2 (default), cosine (normalise the rows written;\n"
"                        rows of norm 0 are dropped and counted) or dot (rows\n"
"                        as they are); recorded for the programs that follow\n"
"      --from FORMAT     read every input as FORMAT instead of detecting it\n"
"      --dim D           dimension of --from raw input\n"
"      --seed N          random seed (default 1)\n"
"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
"  -z, --compress=CODEC  none (default), lz4, lz4-shuffle (-z)\n"
"  -q, --quiet           no progress line, no count of dropped rows\n"
"  -v, --verbose         more detail\n"
"  -h, --help            this help\n"
"      --version         version\n"
"\n"
"Memory: one input frame (1 MiB, at most 64 MiB), the writer's frames (1 MiB,\n"
"3 MiB with compression), and about 12 KiB: nothing grows with N or M (the\n"
"reservoir sample adds M x (4d + 24) bytes).\n"
"Exit status: 0 ok, 1 failure, 2 usage.  See vsample(1), vcat(1).\n";

enum { FOR_IVF = 1, FOR_PQ = 2, FOR_SQ = 4 };

enum { OPT_RATE = 0x2000, OPT_FOR, OPT_NBITS, OPT_TOTAL, OPT_OFFSET, OPT_FROM, OPT_DIM };

typedef struct {
	long long m, rate, nbits, total, offset;
	int m_given, rate_given, nbits_given, total_given, offset_given;
	unsigned want;           /* FOR_* of --for; 0: not given */
	vt_format from;
	uint32_t dim;
} opts;

static unsigned parse_for(const char *arg)
{
	unsigned want = 0;
	const char *p = arg;
	for (;;) {
		size_t len = strcspn(p, ",");
		if (len == 3 && strncmp(p, "ivf", 3) == 0)
			want |= FOR_IVF;
		else if (len == 2 && strncmp(p, "pq", 2) == 0)
			want |= FOR_PQ;
		else if (len == 2 && strncmp(p, "sq", 2) == 0)
			want |= FOR_SQ;
		else
			vt_cli_usage_error("--for: '%.*s' is not ivf, pq or sq", (int)len, p);
		if (!p[len])
			return want;
		p += len + 1;
	}
}

static int on_opt(int c, const char *arg, void *ctx)
{
	opts *o = ctx;
	switch (c) {
	case 'm': o->m = vt_cli_int("-m", arg, 0, (long long)VT_SAMPLE_MAX_N); o->m_given = 1; return 0;
	case OPT_RATE:
		o->rate = vt_cli_int("--sample-rate", arg, 1, 1 << 24);
		o->rate_given = 1;
		return 0;
	case OPT_FOR: o->want = parse_for(arg); return 0;
	case OPT_NBITS: o->nbits = vt_cli_int("--nbits", arg, 1, 16); o->nbits_given = 1; return 0;
	case OPT_TOTAL:
		o->total = vt_cli_int("--total", arg, 0, (long long)VT_SAMPLE_MAX_N);
		o->total_given = 1;
		return 0;
	case OPT_OFFSET:
		o->offset = vt_cli_int("--offset", arg, 0, (long long)VT_SAMPLE_MAX_N);
		o->offset_given = 1;
		return 0;
	case OPT_FROM:
		if (vt_format_parse(arg, &o->from) < 0 || o->from == VT_FMT_TEXT)
			vt_cli_usage_error("--from: unknown input format '%s'", arg);
		return 0;
	case OPT_DIM: o->dim = (uint32_t)vt_cli_int("--dim", arg, 1, VT_MAX_DIM); return 0;
	}
	return -1;
}

static const struct option longopts[] = {
	{"sample-rate", required_argument, NULL, OPT_RATE},
	{"for", required_argument, NULL, OPT_FOR},
	{"nbits", required_argument, NULL, OPT_NBITS},
	{"total", required_argument, NULL, OPT_TOTAL},
	{"offset", required_argument, NULL, OPT_OFFSET},
	{"from", required_argument, NULL, OPT_FROM},
	{"dim", required_argument, NULL, OPT_DIM},
	{0},
};

/* Check that the options name one sample size; without --for, -k means
 * --for ivf. */
static void check_size_options(opts *o, const vt_cli *c)
{
	if (o->m_given && (c->k || o->want || o->rate_given || o->nbits_given))
		vt_cli_usage_error("-m gives the sample size; -k, --for, --sample-rate and --nbits "
		                   "compute it: give one or the other");
	if (o->m_given)
		return;
	if (!o->want && !c->k)
		vt_cli_usage_error("give the sample size: -k K (K x --sample-rate rows), -m M, "
		                   "or --for ivf,pq,sq");
	if (!o->want)
		o->want = FOR_IVF;
	if ((o->want & FOR_IVF) && !c->k)
		vt_cli_usage_error("--for ivf needs -k (the number of IVF partitions)");
	if (!(o->want & FOR_IVF) && (c->k || o->rate_given))
		vt_cli_usage_error("-k and --sample-rate size an IVF sample; add ivf to --for");
	if (!(o->want & FOR_PQ) && o->nbits_given)
		vt_cli_usage_error("--nbits sizes a PQ sample; add pq to --for");
}

/* The sample size the options ask for, before it is capped at n. */
static uint64_t wanted_size(const opts *o, const vt_cli *c)
{
	if (o->m_given)
		return (uint64_t)o->m;
	uint64_t r = 0;
	if (o->want & FOR_IVF)
		r = (uint64_t)c->k * (uint64_t)o->rate;
	if ((o->want & FOR_PQ) && (256ULL << o->nbits) > r)
		r = 256ULL << o->nbits;
	if ((o->want & FOR_SQ) && 65536 > r)
		r = 65536;
	return r;
}

/* The rows of the inputs, by a first reading of them, when they are all
 * regular files (so they can be read again); -1 when one is not.  Frames of
 * vtrain streams are verified, not decoded. */
static int64_t count_rows(const vt_cli *c, const vt_input_opts *io)
{
	if (c->nargs == 0)
		return -1;
	for (int i = 0; i < c->nargs; i++) {
		struct stat st;
		if (strcmp(c->args[i], "-") == 0 || stat(c->args[i], &st) != 0 || !S_ISREG(st.st_mode))
			return -1;
	}
	vt_input *in = vt_cli_open_input(c, io);
	char err[512];
	long r;
	for (;;) {
		int codec;
		const unsigned char *stored;
		size_t stored_len, raw_len;
		uint64_t check;
		r = vt_input_next_stored(in, &codec, &stored, &stored_len, &raw_len, &check, err,
		                         sizeof err);
		if (r == VT_EUNSUP) {
			vt_block b;
			r = vt_input_next(in, &b, err, sizeof err);
		}
		if (r <= 0)
			break;
	}
	if (r < 0)
		vt_cli_fail((int)r, "%s", err);
	int64_t n = (int64_t)vt_input_rows(in);
	vt_input_free(in);
	return n;
}

static void fail_too_long(const vt_input *in, const opts *o)
{
	if (!o->total_given)   /* n came from the stream's header (metadata rows) */
		vt_cli_fail(VT_EFORMAT, "%s: the input holds more rows than its first header "
		            "announced (%llu; several streams one after another?): give --total",
		            vt_input_path(in), (unsigned long long)o->total);
	if (o->offset)
		vt_cli_fail(VT_EINVAL, "%s: the input holds more than the %llu rows from --offset %llu "
		            "to --total %llu", vt_input_path(in),
		            (unsigned long long)(o->total - o->offset), (unsigned long long)o->offset,
		            (unsigned long long)o->total);
	vt_cli_fail(VT_EINVAL, "%s: the input holds more than --total %llu rows", vt_input_path(in),
	            (unsigned long long)o->total);
}

/* The vsample metadata of a sample of m of n rows. */
static void sample_meta(vt_header *h, const vt_cli *c, const opts *o, uint64_t n, uint64_t m,
                        uint64_t first, int keep_ids, const char *method)
{
	int rc = 0;
	vt_header_put(h, &rc, "made_by", "%s", "vsample " VT_VERSION_STRING);
	vt_header_put(h, &rc, "vsample.n", "%llu", (unsigned long long)n);
	vt_header_put(h, &rc, "vsample.m", "%llu", (unsigned long long)m);
	vt_header_put(h, &rc, "vsample.seed", "%llu", (unsigned long long)c->seed);
	vt_header_put(h, &rc, "vsample.offset", "%llu", (unsigned long long)first);
	vt_header_put(h, &rc, "vsample.metric", "%s", vt_metric_name(c->metric));
	vt_header_put(h, &rc, "vsample.ids", "%s", keep_ids ? "input" : "position");
	if (method)
		vt_header_put(h, &rc, "vsample.method", "%s", method);
	if (o->want & FOR_IVF) {
		vt_header_put(h, &rc, "vsample.k", "%lld", c->k);
		vt_header_put(h, &rc, "vsample.sample_rate", "%lld", o->rate);
	}
	if (o->want & FOR_PQ)
		vt_header_put(h, &rc, "vsample.nbits", "%lld", o->nbits);
	vt_cli_check_meta(c, rc);
}

/* No row count at all (a pipe without one, no --total): a seeded reservoir
 * sample (train/reservoir.h) of M rows, written in input order at the end.
 * Deterministic, but not the fixed-index sample, so not shard-equal. */
static int reservoir_sample(const vt_cli *c, const opts *o, vt_input *in, vt_out *out)
{
	const vt_header *ih = vt_input_header(in);
	const size_t d = ih->dim;
	const int keep_ids = (ih->cols & VT_COL_IDS) != 0;
	uint64_t m = wanted_size(o, c);
	if (!c->quiet)
		vt_cli_msg("note: the number of rows of %s is not known before it is read (no --total, "
		           "no count in its header): a seeded reservoir sample of %llu rows, the same "
		           "for the same rows and seed, but not the fixed-index sample of --total, so "
		           "it does not equal the sample of shards", vt_input_path(in),
		           (unsigned long long)m);
	if (m > SIZE_MAX / 2 / (4 * d + 16))
		vt_cli_fail(VT_ENOMEM, "a reservoir of %llu rows of d=%zu does not fit in memory",
		            (unsigned long long)m, d);
	vt_reservoir *res;
	int rc = vt_reservoir_new(&res, m ? (size_t)m : 1, d, c->seed);
	if (rc < 0)
		vt_cli_fail(rc, "%s", vt_strerror(rc));
	char err[512];
	vt_progress pg;
	vt_progress_start(&pg, c, "rows");
	vt_block b;
	long r;
	/* every row is read (and verified), also when M is 0; an input with
	 * ids tags its rows with them, else a row's id is its index */
	while ((r = vt_input_next(in, &b, err, sizeof err)) > 0) {
		if (m && (rc = vt_reservoir_add_tagged(res, b.data, keep_ids ? b.ids : NULL,
		                                       (size_t)r)) < 0)
			vt_cli_fail(rc, "%s", vt_strerror(rc));
		vt_progress_update(&pg, vt_input_rows(in), 0);
	}
	vt_progress_end(&pg);
	if (r < 0)
		vt_cli_fail((int)r, "%s", err);
	if ((rc = vt_reservoir_finish(res)) < 0)
		vt_cli_fail(rc, "%s", vt_strerror(rc));
	const size_t kept = m ? vt_reservoir_count(res) : 0;
	float *x = vt_reservoir_rows(res);
	const uint64_t *ids = keep_ids ? vt_reservoir_tags(res) : vt_reservoir_index(res);
	/* as the fixed-index sample: drop non-finite rows, normalise under
	 * cosine; the rows and ids kept move down in order */
	uint64_t nonfinite = 0, zero = 0;
	uint64_t *wid = vt_cli_xmalloc((kept ? kept : 1) * sizeof *wid);
	size_t w = 0;
	for (size_t i = 0; i < kept; i++) {
		float *row = x + i * d;
		if (vt_drop_nonfinite_rows(row, 1, d, NULL, NULL, NULL, NULL) == 0) {
			nonfinite++;
			continue;
		}
		if (c->metric == VT_METRIC_COSINE && vt_normalize_rows(row, 1, d)) {
			zero++;
			continue;
		}
		if (w != i)
			memmove(x + w * d, row, d * sizeof *row);
		wid[w++] = ids[i];
	}
	vt_header h;
	vt_header_init(&h, VT_KIND_VECTORS, VT_ELEM_F32, VT_COL_IDS, (uint32_t)d);
	sample_meta(&h, c, o, vt_input_rows(in), w, 0, keep_ids, "reservoir");
	vt_writer *wr;
	vt_cli_check_output(c, vt_writer_open(&wr, out, &h, c->codec, 0));
	vt_header_free(&h);
	vt_cli_check_output(c, vt_writer_put(wr, w, wid, NULL, NULL, x));
	vt_cli_check_output(c, vt_writer_finish(wr));
	vt_cli_commit_output(c, out);
	if (!c->quiet && nonfinite)
		vt_cli_msg("dropped %llu rows with NaN or infinite values", (unsigned long long)nonfinite);
	if (!c->quiet && zero)
		vt_cli_msg("dropped %llu rows of norm 0, which cosine cannot normalise",
		           (unsigned long long)zero);
	vt_cli_verbose(c, "read %llu rows: a reservoir of %llu, %zu written",
	               (unsigned long long)vt_input_rows(in), (unsigned long long)m, w);
	vt_writer_free(wr);
	vt_reservoir_free(res);
	vt_input_free(in);
	free(wid);
	return 0;
}

int main(int argc, char **argv)
{
	vt_cli_init("vsample");
	opts o = {.rate = 256, .nbits = 8, .from = VT_FMT_AUTO};
	vt_cli_spec spec = {
		.name = "vsample",
		.usage = usage,
		.shared = VT_CLI_OUTPUT | VT_CLI_K | VT_CLI_SEED | VT_CLI_COMPRESS | VT_CLI_METRIC,
		.shortopts = "m:",
		.longopts = longopts,
		.opt = &on_opt,
		.ctx = &o,
	};
	vt_cli c;
	vt_cli_parse(argc, argv, &spec, &c);
	check_size_options(&o, &c);
	if (o.offset_given && !o.total_given)
		vt_cli_usage_error("--offset needs --total (the rows of the whole data set)");
	if (o.offset > o.total && o.total_given)
		vt_cli_usage_error("--offset %lld is past --total %lld", o.offset, o.total);
	if (o.from == VT_FMT_RAW && !o.dim)
		vt_cli_usage_error("--from raw needs --dim");
	if (!c.seed_given)
		c.seed = 1;
	vt_cli_no_tty(c.output);

	/* Open the input, and find the rows n of the whole data set. */
	char err[512];
	int rc;
	vt_input_opts io = {.from = o.from, .raw_dim = o.dim};
	vt_out out;
	vt_cli_open_output(&c, &out);
	vt_input *in = vt_cli_open_input(&c, &io);
	const vt_header *ih = vt_input_header(in);
	if (ih->kind != VT_KIND_VECTORS)
		vt_cli_fail(VT_EKIND, "%s: is a %s stream; vsample reads vectors", vt_input_path(in),
		            vt_kind_name(ih->kind));
	size_t d = ih->dim;
	int64_t hint = vt_input_rows_hint(in);
	uint64_t n;
	if (o.total_given) {
		n = (uint64_t)o.total;
		if (hint >= 0 && (uint64_t)hint > n - (uint64_t)o.offset)
			fail_too_long(in, &o);
	} else if (hint >= 0) {
		n = (uint64_t)hint;
	} else {
		/* one regular vtrain file: its end markers; a pipe: the count its
		 * header announces (vgen, vcat); regular files: a first reading */
		int64_t counted = -1;
		char cerr[512];
		int crc = vt_input_count_rows(in, &counted, cerr, sizeof cerr);
		if (crc < 0)
			vt_cli_fail(crc, "%s", cerr);
		if (counted < 0 && c.nargs <= 1 && (counted = vt_header_rows(ih)) >= 0) {
			o.total = counted;   /* for the message if more rows come */
			vt_cli_verbose(&c, "%s announces %lld rows (metadata rows)", vt_input_path(in),
			               (long long)counted);
		}
		if (counted < 0) {
			counted = count_rows(&c, &io);
			if (counted >= 0)
				vt_cli_verbose(&c, "counted %lld rows in a first reading (--total skips it)",
				               (long long)counted);
		}
		if (counted < 0)
			return reservoir_sample(&c, &o, in, &out);
		n = (uint64_t)counted;
	}
	uint64_t first = (uint64_t)o.offset, limit = n - first;
	uint64_t m = wanted_size(&o, &c);
	if (m > n)
		m = n;
	int keep_ids = (ih->cols & VT_COL_IDS) != 0;

	vt_sampler *smp;
	if ((rc = vt_sampler_new(&smp, n, m, c.seed)) < 0)
		vt_cli_fail(rc, "%s", vt_strerror(rc));
	vt_cli_verbose(&c, "n=%llu m=%llu seed=%llu offset=%llu d=%zu ids=%s",
	               (unsigned long long)n, (unsigned long long)m, (unsigned long long)c.seed,
	               (unsigned long long)first, d, keep_ids ? "input" : "position");

	vt_header h;
	vt_header_init(&h, VT_KIND_VECTORS, VT_ELEM_F32, VT_COL_IDS, (uint32_t)d);
	rc = 0;
	sample_meta(&h, &c, &o, n, m, first, keep_ids, NULL);
	vt_writer *w;
	vt_cli_check_output(&c, vt_writer_open(&w, &out, &h, c.codec, 0));
	vt_header_free(&h);

	/* Stream: copy each sampled row of each block, check it, write it. */
	float *row = vt_cli_xmalloc(d * sizeof *row);
	uint64_t next, sampled = 0, nonfinite = 0, zero = 0;
	vt_sampler_seek(smp, first);
	int have = vt_sampler_next(smp, &next);
	uint64_t expect = !o.total_given ? n : hint > 0 ? (uint64_t)hint : 0;
	vt_progress pg;
	vt_progress_start(&pg, &c, "rows");
	vt_block b;
	long r;
	while ((r = vt_input_next(in, &b, err, sizeof err)) > 0) {
		if (b.first_row + (uint64_t)r > limit)
			fail_too_long(in, &o);
		uint64_t base = first + b.first_row, end = base + (uint64_t)r;
		for (; have && next < end; have = vt_sampler_next(smp, &next)) {
			size_t i = (size_t)(next - base);
			memcpy(row, (const float *)b.data + i * d, d * sizeof *row);
			uint64_t id = b.ids ? b.ids[i] : next;
			sampled++;
			if (vt_drop_nonfinite_rows(row, 1, d, NULL, NULL, NULL, NULL) == 0) {
				nonfinite++;
				continue;
			}
			if (c.metric == VT_METRIC_COSINE && vt_normalize_rows(row, 1, d)) {
				zero++;
				continue;
			}
			vt_cli_check_output(&c, vt_writer_put(w, 1, &id, NULL, NULL, row));
		}
		vt_progress_update(&pg, vt_input_rows(in), expect);
	}
	vt_progress_end(&pg);
	if (r < 0)
		vt_cli_fail((int)r, "%s", err);
	uint64_t rows = vt_input_rows(in);
	if (!o.total_given && rows != n)
		vt_cli_fail(VT_EFORMAT, "%s: the input changed while it was read (%llu rows, then %llu)",
		            vt_input_path(in), (unsigned long long)n, (unsigned long long)rows);

	vt_cli_check_output(&c, vt_writer_finish(w));
	vt_cli_commit_output(&c, &out);
	if (!c.quiet && nonfinite)
		vt_cli_msg("dropped %llu rows with NaN or infinite values", (unsigned long long)nonfinite);
	if (!c.quiet && zero)
		vt_cli_msg("dropped %llu rows of norm 0, which cosine cannot normalise",
		           (unsigned long long)zero);
	vt_cli_verbose(&c, "read rows %llu..%llu of %llu: %llu sampled, %llu written",
	               (unsigned long long)first, (unsigned long long)(first + rows),
	               (unsigned long long)n, (unsigned long long)sampled,
	               (unsigned long long)vt_writer_rows(w));
	vt_writer_free(w);
	vt_sampler_free(smp);
	vt_input_free(in);
	free(row);
	return 0;
}
