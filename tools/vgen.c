/* vgen: deterministic synthetic Gaussian-mixture vectors. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vtrain.h"
#include "train/gen.h"

static const char usage[] =
"Usage: vgen -n N -d D [OPTIONS]\n"
"Write N synthetic D-dimensional vectors drawn from a mixture of Gaussians:\n"
"M means with coordinates ~ N(0, spread^2); each row is a mean (uniform, or\n"
"Zipf-skewed) plus N(0, sigma^2) noise.  Row i depends only on (seed, i).\n"
"With --top T, multi-scale: T top means ~ N(0, spread^2), and mean j is top\n"
"mean (j mod T) plus N(0, sub-spread^2): clusters of clusters.\n"
"\n"
"  -n N                  rows to write (required)\n"
"  -d D                  dimension (required)\n"
"      --means M         number of mixture means (default 100)\n"
"      --spread S        standard deviation of the means' coordinates (default 10)\n"
"      --sigma S         standard deviation around a mean (default 1)\n"
"      --skew Z          Zipf exponent of cluster sizes (default 0: uniform)\n"
"      --top T           multi-scale: T top means, 1 <= T <= M (default 0: off)\n"
"      --sub-spread S    with --top: standard deviation of a mean around its top\n"
"                        mean (default spread / 5)\n"
"      --first A         start at global row A (default 0): the rows of a shard\n"
"      --ids             attach global row ids\n"
"      --to FORMAT       vt, npy, fvecs, fbin or raw (default: the format\n"
"                        -o's extension names, else vt)\n"
"      --seed N          random seed (default 1)\n"
"  -j, --threads N       threads (default: all cores)\n"
"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
"  -z, --compress=CODEC  none (default), lz4, lz4-shuffle (-z)\n"
"  -q, --quiet           no progress line\n"
"  -v, --verbose         more detail\n"
"  -h, --help            this help\n"
"      --version         version\n"
"\n"
"Memory: M x D x 4 bytes for the means (+ T x D x 8 while they are drawn), one block of max(4 MiB, 4 D) bytes,\n"
"and the writer's frames (1 MiB, or 3 MiB with compression).\n"
"Exit status: 0 ok, 1 failure, 2 usage.\n"
"See vgen(1), vcat(1).\n";

enum { OPT_MEANS = 0x2000, OPT_SPREAD, OPT_SIGMA, OPT_SKEW, OPT_FIRST, OPT_IDS, OPT_TO,
       OPT_TOP, OPT_SUB };

typedef struct {
	long long n, first;
	uint32_t dim, means, top;
	double spread, sigma, skew, sub_spread;
	int ids;
	vt_format to;
} opts;

static int on_opt(int c, const char *arg, void *ctx)
{
	opts *o = ctx;
	switch (c) {
	case 'n': o->n = vt_cli_int("-n", arg, 0, 1LL << 48); return 0;
	case 'd': o->dim = (uint32_t)vt_cli_int("-d", arg, 1, VT_MAX_DIM); return 0;
	case OPT_MEANS: o->means = (uint32_t)vt_cli_int("--means", arg, 1, 1 << 24); return 0;
	case OPT_SPREAD: o->spread = vt_cli_double("--spread", arg, 0, 1e15); return 0;
	case OPT_SIGMA: o->sigma = vt_cli_double("--sigma", arg, 0, 1e15); return 0;
	case OPT_SKEW: o->skew = vt_cli_double("--skew", arg, 0, 100); return 0;
	case OPT_TOP: o->top = (uint32_t)vt_cli_int("--top", arg, 1, 1 << 24); return 0;
	case OPT_SUB: o->sub_spread = vt_cli_double("--sub-spread", arg, 0, 1e15); return 0;
	case OPT_FIRST: o->first = vt_cli_int("--first", arg, 0, 1LL << 48); return 0;
	case OPT_IDS: o->ids = 1; return 0;
	case OPT_TO:
		if (vt_format_parse(arg, &o->to) < 0 ||
		    !(o->to == VT_FMT_VT || o->to == VT_FMT_NPY || o->to == VT_FMT_FVECS ||
		      o->to == VT_FMT_FBIN || o->to == VT_FMT_RAW))
			vt_cli_usage_error("--to: '%s' is not vt, npy, fvecs, fbin or raw", arg);
		return 0;
	}
	return -1;
}

static const struct option longopts[] = {
	{"means", required_argument, NULL, OPT_MEANS},
	{"spread", required_argument, NULL, OPT_SPREAD},
	{"sigma", required_argument, NULL, OPT_SIGMA},
	{"skew", required_argument, NULL, OPT_SKEW},
	{"top", required_argument, NULL, OPT_TOP},
	{"sub-spread", required_argument, NULL, OPT_SUB},
	{"first", required_argument, NULL, OPT_FIRST},
	{"ids", no_argument, NULL, OPT_IDS},
	{"to", required_argument, NULL, OPT_TO},
	{0},
};

int main(int argc, char **argv)
{
	vt_cli_init("vgen");
	opts o = {.n = -1, .means = 100, .spread = 10, .sigma = 1, .sub_spread = -1,
	          .to = VT_FMT_AUTO};
	vt_cli_spec spec = {
		.name = "vgen",
		.usage = usage,
		.shared = VT_CLI_OUTPUT | VT_CLI_SEED | VT_CLI_THREADS | VT_CLI_COMPRESS,
		.shortopts = "n:d:",
		.longopts = longopts,
		.opt = on_opt,
		.ctx = &o,
	};
	vt_cli c;
	vt_cli_parse(argc, argv, &spec, &c);
	if (o.n < 0 || o.dim == 0)
		vt_cli_usage_error("-n and -d are required");
	if (c.nargs)
		vt_cli_usage_error("unexpected operand '%s'", c.args[0]);
	o.to = vt_cli_output_to(&c, o.to);
	if (o.ids && o.to != VT_FMT_VT)
		vt_cli_usage_error("--ids needs --to vt");
	if (o.top > o.means)
		vt_cli_usage_error("--top %u exceeds --means %u", o.top, o.means);
	if (o.sub_spread >= 0 && !o.top)
		vt_cli_usage_error("--sub-spread needs --top");
	if (o.sub_spread < 0)
		o.sub_spread = o.spread / 5;
	if (!c.seed_given)
		c.seed = 1;
	vt_cli_no_tty(c.output);

	vt_out out;
	vt_cli_open_output(&c, &out);
	vt_gen_params gp = {c.seed, o.dim, o.means, o.spread, o.sigma, o.skew, o.top, o.sub_spread};
	vt_gen *g;
	int rc = vt_gen_new(&g, &gp);
	if (rc < 0)
		vt_cli_fail(rc, "cannot create the generator: %s", vt_strerror(rc));

	vt_writer *w = NULL;
	vt_vecwriter *vw = NULL;
	char err[512];
	if (o.to == VT_FMT_VT) {
		vt_header h;
		vt_header_init(&h, VT_KIND_VECTORS, VT_ELEM_F32, o.ids ? VT_COL_IDS : 0, o.dim);
		vt_header_put(&h, &rc, "made_by", "%s", "vgen " VT_VERSION_STRING);
		vt_header_put(&h, &rc, "rows", "%lld", o.n);   /* known before the first row */
		vt_header_put(&h, &rc, "vgen.seed", "%llu", (unsigned long long)c.seed);
		vt_header_put(&h, &rc, "vgen.means", "%u", o.means);
		vt_header_put(&h, &rc, "vgen.spread", "%.17g", o.spread);
		vt_header_put(&h, &rc, "vgen.sigma", "%.17g", o.sigma);
		vt_header_put(&h, &rc, "vgen.skew", "%.17g", o.skew);
		vt_header_put(&h, &rc, "vgen.first", "%lld", o.first);
		if (o.top) {
			vt_header_put(&h, &rc, "vgen.top", "%u", o.top);
			vt_header_put(&h, &rc, "vgen.sub_spread", "%.17g", o.sub_spread);
		}
		vt_cli_check_meta(&c, rc);
		vt_cli_check_output(&c, vt_writer_open(&w, &out, &h, c.codec, 0));
		vt_header_free(&h);
	} else {
		rc = vt_vecwriter_open(&vw, &out, o.to, o.dim, o.n, err, sizeof err);
		if (rc < 0)
			vt_cli_fail(rc, "%s: %s", vt_cli_output_name(&c), err);
	}

	size_t block = (4u << 20) / ((size_t)o.dim * 4);
	if (block < 1)
		block = 1;
	float *x = vt_cli_xmalloc(block * o.dim * sizeof *x);
	uint64_t *ids = o.ids ? vt_cli_xmalloc(block * sizeof *ids) : NULL;
	vt_progress pg;
	vt_progress_start(&pg, &c, "rows");
	for (long long done = 0; done < o.n && rc == 0;) {
		size_t m = (size_t)(o.n - done) < block ? (size_t)(o.n - done) : block;
		uint64_t first = (uint64_t)(o.first + done);
		vt_gen_rows(g, first, m, x, NULL, c.threads);
		if (w) {
			if (ids)
				for (size_t i = 0; i < m; i++)
					ids[i] = first + i;
			rc = vt_writer_put(w, m, ids, NULL, NULL, x);
		} else {
			rc = vt_vecwriter_write(vw, x, m, err, sizeof err);
			if (rc < 0)
				vt_cli_fail(rc, "%s: %s", vt_cli_output_name(&c), err);
		}
		done += (long long)m;
		vt_progress_update(&pg, (uint64_t)done, (uint64_t)o.n);
	}
	vt_progress_end(&pg);
	if (rc == 0 && w)
		rc = vt_writer_finish(w);
	if (rc == 0 && vw && (rc = vt_vecwriter_finish(vw, err, sizeof err)) < 0)
		vt_cli_fail(rc, "%s: %s", vt_cli_output_name(&c), err);
	vt_cli_check_output(&c, rc);
	uint64_t bytes = out.written;
	vt_cli_commit_output(&c, &out);
	if (c.verbose) {
		double secs = vt_now() - pg.t0;
		vt_cli_verbose(&c, "rows %lld..%lld of d=%u: seed=%llu means=%u spread=%g sigma=%g "
		               "skew=%g top=%u; %llu bytes to %s in %.2fs (%.3g rows/s)", o.first,
		               o.first + o.n, o.dim, (unsigned long long)c.seed, o.means, o.spread,
		               o.sigma, o.skew, o.top, (unsigned long long)bytes,
		               vt_cli_output_name(&c), secs, secs > 0 ? (double)o.n / secs : 0.0);
	}
	vt_writer_free(w);
	vt_vecwriter_free(vw);
	vt_gen_free(g);
	free(x);
	free(ids);
	return 0;
}
