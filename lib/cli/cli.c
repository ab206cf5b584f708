#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "stream/format.h"
#include "stream/formats.h"
#include "stream/input.h"
#include "stream/output.h"

static const char *prog = "vtrain";

const char *vt_cli_name(void)
{
	return prog;
}

static void on_signal(int sig)
{
	vt_out_cleanup_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

void vt_cli_init(const char *name)
{
	prog = name;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void vmsg(const char *fmt, va_list ap)
{
	char buf[2048];
	vsnprintf(buf, sizeof buf, fmt, ap);
	fprintf(stderr, "%s: %s\n", prog, buf);
}

void vt_cli_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void vt_cli_verbose(const vt_cli *c, const char *fmt, ...)
{
	if (!c->verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

_Noreturn void vt_cli_usage_error(const char *fmt, ...)
{
	vt_out_cleanup_all();
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help'.\n", prog);
	exit(2);
}

_Noreturn void vt_cli_fail(int rc, const char *fmt, ...)
{
	vt_out_cleanup_all();
	if (rc == VT_EPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
		exit(1);
	}
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(1);
}

void *vt_cli_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		vt_cli_fail(VT_ENOMEM, "%s", vt_strerror(VT_ENOMEM));
	return p;
}

const char *vt_cli_output_name(const vt_cli *c)
{
	return c->output ? c->output : "(stdout)";
}

vt_format vt_cli_output_format(const vt_cli *c)
{
	vt_format f;
	if (!c->output || strcmp(c->output, "-") == 0 ||
	    vt_format_detect(NULL, 0, c->output, &f) < 0 || f == VT_FMT_AUTO)
		return VT_FMT_VT;
	return f;
}

vt_format vt_cli_output_to(vt_cli *c, vt_format to)
{
	vt_format named = vt_cli_output_format(c);
	c->foreign_output = 1;
	if (to != VT_FMT_AUTO) {
		if (named != VT_FMT_VT && named != to)
			vt_cli_usage_error("-o %s names %s, but --to %s was given", c->output,
			                   vt_format_name(named), vt_format_name(to));
		return to;
	}
	if (named != VT_FMT_VT && named != VT_FMT_NPY && named != VT_FMT_FVECS &&
	    named != VT_FMT_FBIN && named != VT_FMT_RAW)
		vt_cli_usage_error("-o %s names %s, which %s does not write: give --to", c->output,
		                   vt_format_name(named), prog);
	return named;
}

void vt_cli_open_output(const vt_cli *c, vt_out *o)
{
	vt_format named = vt_cli_output_format(c);
	if (named != VT_FMT_VT && !c->foreign_output) {
		/* the name without its extension, for the recipe */
		const char *dot = strrchr(c->output, '.');
		int stem = dot ? (int)(dot - c->output) : (int)strlen(c->output);
		vt_cli_usage_error("-o %s: %s writes a vtrain stream, not %s; write %.*s.vt, then "
		                   "convert it: vcat --to %s -o %s %.*s.vt", c->output, prog,
		                   vt_format_name(named), stem, c->output, vt_format_name(named),
		                   c->output, stem, c->output);
	}
	int rc = vt_out_open(o, c->output);
	if (rc < 0)
		vt_cli_fail(rc, "%s: %s", vt_cli_output_name(c),
		            rc == VT_EIO ? strerror(errno) : vt_strerror(rc));
}

_Noreturn void vt_cli_output_failed(const vt_cli *c, int rc)
{
	vt_cli_fail(rc, "%s: %s", vt_cli_output_name(c),
	            rc == VT_EIO ? strerror(errno) : vt_strerror(rc));
}

void vt_cli_check_output(const vt_cli *c, int rc)
{
	if (rc < 0)
		vt_cli_output_failed(c, rc);
}

void vt_cli_commit_output(const vt_cli *c, vt_out *o)
{
	vt_cli_check_output(c, vt_out_commit(o));
}

void vt_cli_check_meta(const vt_cli *c, int rc)
{
	if (rc < 0)
		vt_cli_fail(rc, "%s: metadata: %s", vt_cli_output_name(c), vt_strerror(rc));
}

long long vt_cli_int(const char *opt, const char *arg, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		vt_cli_usage_error("%s: '%s' is not a whole number from %lld to %lld", opt, arg, min, max);
	return v;
}

double vt_cli_double(const char *opt, const char *arg, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < min || v > max)
		vt_cli_usage_error("%s: '%s' is not a number from %g to %g", opt, arg, min, max);
	return v;
}

unsigned long long vt_cli_size(const char *opt, const char *arg)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	double mult = 1;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': mult = 1024.0; break;
		case 'm': case 'M': mult = 1024.0 * 1024; break;
		case 'g': case 'G': mult = 1024.0 * 1024 * 1024; break;
		case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; break;
		default: mult = -1;
		}
		if (mult > 0 && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
			mult = -1;
	}
	if (errno || end == arg || mult < 0 || !(v >= 1) || v * mult > 1e18)
		vt_cli_usage_error("%s: '%s' is not a size (bytes, or a number with K, M, G or T)",
		                   opt, arg);
	return (unsigned long long)(v * mult);
}

void vt_cli_no_tty_input(const vt_cli *c)
{
	int stdin_used = c->nargs == 0;
	for (int i = 0; i < c->nargs; i++)
		stdin_used |= strcmp(c->args[i], "-") == 0;
	if (stdin_used && isatty(0))
		vt_cli_usage_error("refusing to read binary input from a terminal (give a FILE, or "
		                   "a pipe)");
}

vt_input *vt_cli_open_input(const vt_cli *c, const vt_input_opts *opts)
{
	char err[512];
	vt_cli_no_tty_input(c);
	vt_input *in;
	int rc = vt_input_open(&in, (const char *const *)c->args, (size_t)c->nargs, opts, err,
	                       sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	return in;
}

int vt_cli_input_metric(const vt_cli *c, vt_input *in, char *from, size_t len)
{
	char err[512], given[64] = "";
	const vt_header *h = vt_input_header(in);
	if (c->metric_given)
		snprintf(given, sizeof given, "--metric=%s was given", vt_metric_name(c->metric));
	int m = vt_metric_settle(h, vt_input_path(in), c->metric, c->metric_given ? given : NULL,
	                         err, sizeof err);
	if (m < 0)
		vt_cli_fail(m, "%s", err);
	const char *key;
	if (vt_metric_recorded(h, &key) >= 0)
		snprintf(from, len, "%s was made with metric=%s%s%s%s", vt_input_path(in),
		         vt_metric_name(m), strcmp(key, "metric") ? " (" : "",
		         strcmp(key, "metric") ? key : "", strcmp(key, "metric") ? ")" : "");
	else
		snprintf(from, len, "%s", given);
	return m;
}

long long vt_cli_input_k(const vt_cli *c, vt_input *in, int required)
{
	const vt_header *h = vt_input_header(in);
	const char *key = "k", *v = vt_header_get(h, key);
	if (!v)
		v = vt_header_get(h, key = "vsample.k");
	if (!v) {
		if (c->k < 1 && required)
			vt_cli_usage_error("give -k (the number of centroids): %s records none",
			                   vt_input_path(in));
		return c->k;
	}
	char *end;
	errno = 0;
	long long k = strtoll(v, &end, 10);
	if (errno || end == v || *end || k < 1 || k > (1LL << 31))
		vt_cli_fail(VT_EFORMAT, "%s: metadata %s '%s' is not a number of centroids",
		            vt_input_path(in), key, v);
	if (c->k >= 1 && c->k != k)
		vt_cli_fail(VT_EINVAL, "%s: made for k=%lld (%s), but -k %lld was given",
		            vt_input_path(in), k, key, c->k);
	return k;
}

void vt_cli_no_tty(const char *output)
{
	if ((!output || strcmp(output, "-") == 0) && isatty(1))
		vt_cli_usage_error("refusing to write binary output to a terminal (use -o FILE or a pipe)");
}

enum {
	OPT_HELP = 0x1000,
	OPT_VERSION,
	OPT_SEED,
	OPT_COMPRESS,
	OPT_METRIC,
	OPT_PARTIAL,
	OPT_THREADS,
	OPT_CENTROIDS,
};

static const struct {
	unsigned mask;
	struct option o;
	const char *shortopt;
} shared_opts[] = {
	{0, {"help", no_argument, NULL, 'h'}, "h"},
	{0, {"version", no_argument, NULL, OPT_VERSION}, NULL},
	{0, {"quiet", no_argument, NULL, 'q'}, "q"},
	{0, {"verbose", no_argument, NULL, 'v'}, "v"},
	{VT_CLI_OUTPUT, {"output", required_argument, NULL, 'o'}, "o:"},
	{VT_CLI_K, {"k", required_argument, NULL, 'k'}, "k:"},
	{VT_CLI_CENTROIDS, {"centroids", required_argument, NULL, 'c'}, "c:"},
	{VT_CLI_SEED, {"seed", required_argument, NULL, OPT_SEED}, NULL},
	{VT_CLI_THREADS, {"threads", required_argument, NULL, 'j'}, "j:"},
	{VT_CLI_COMPRESS, {"compress", required_argument, NULL, OPT_COMPRESS}, "z"},
	{VT_CLI_METRIC, {"metric", required_argument, NULL, OPT_METRIC}, NULL},
	{VT_CLI_PARTIAL, {"partial", no_argument, NULL, OPT_PARTIAL}, NULL},
};
#define NSHARED (sizeof shared_opts / sizeof shared_opts[0])

/* A long option that getopt refused, named as typed: unknown, ambiguous
 * (the possibilities listed), or given an argument it does not take. */
static _Noreturn void bad_long_option(const char *typed, const struct option *lo)
{
	const char *name = typed + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct option *hit = NULL;
	char poss[512] = "";
	int matches = 0;
	for (const struct option *o = lo; o->name; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (strlen(o->name) == len) {   /* exact */
			hit = o;
			matches = 1;
			break;
		}
		hit = o;
		matches++;
		size_t used = strlen(poss);
		snprintf(poss + used, sizeof poss - used, " '--%s'", o->name);
	}
	if (matches > 1)
		vt_cli_usage_error("option '--%.*s' is ambiguous; possibilities:%s", (int)len, name,
		                   poss);
	if (hit && eq && hit->has_arg == no_argument)
		vt_cli_usage_error("option '--%s' doesn't allow an argument", hit->name);
	vt_cli_usage_error("unknown option '--%.*s'", (int)len, name);
}

void vt_cli_parse(int argc, char **argv, const vt_cli_spec *spec, vt_cli *c)
{
	memset(c, 0, sizeof *c);
	long nc = sysconf(_SC_NPROCESSORS_ONLN);
	c->threads = nc > 0 ? (int)(nc > 256 ? 256 : nc) : 1;

	struct option lo[128];
	char so[256] = "";   /* short options; GNU getopt permutes operands */
	size_t nlo = 0;
	for (size_t i = 0; i < NSHARED; i++) {
		if (shared_opts[i].mask && !(spec->shared & shared_opts[i].mask))
			continue;
		lo[nlo++] = shared_opts[i].o;
		if (shared_opts[i].shortopt)
			strcat(so, shared_opts[i].shortopt);
	}
	if (spec->shortopts)
		strcat(so, spec->shortopts);
	for (const struct option *o = spec->longopts; o && o->name; o++)
		if (nlo < 127)
			lo[nlo++] = *o;
	memset(&lo[nlo], 0, sizeof lo[nlo]);
	char shortspec[300];
	snprintf(shortspec, sizeof shortspec, ":%s", so);   /* ':' reports missing args */

	opterr = 0;
	int ch, idx;
	unsigned long long kmax = (1ULL << 31) - 2;   /* labels are int32, below k */
	while ((ch = getopt_long(argc, argv, shortspec, lo, &idx)) != -1) {
		switch (ch) {
		case 'h':
			fputs(spec->usage, stdout);
			exit(0);
		case OPT_VERSION:
			printf("%s (vtrain) %s\n", prog, VT_VERSION_STRING);
			exit(0);
		case 'q': c->quiet = 1; c->verbose = 0; break;
		case 'v': c->verbose = 1; c->quiet = 0; break;
		case 'o': c->output = optarg; break;
		case 'k': c->k = vt_cli_int("-k", optarg, 1, (long long)kmax); break;
		case 'c': c->centroids = optarg; break;
		case OPT_SEED:
			c->seed = (uint64_t)vt_cli_int("--seed", optarg, 0, INT64_MAX);
			c->seed_given = 1;
			break;
		case 'j': c->threads = (int)vt_cli_int("-j", optarg, 1, 256); break;
		case 'z': c->codec = VT_CODEC_LZ4_SHUFFLE; break;
		case OPT_COMPRESS:
			c->codec = vt_codec_parse(optarg);
			if (c->codec < 0)
				vt_cli_usage_error("--compress: '%s' is not none, lz4 or lz4-shuffle", optarg);
			break;
		case OPT_METRIC:
			if ((c->metric = vt_metric_parse(optarg)) < 0)
				vt_cli_usage_error("--metric: '%s' is not " VT_METRIC_NAMES, optarg);
			c->metric_given = 1;
			break;
		case OPT_PARTIAL: c->partial = 1; break;
		case ':':
			vt_cli_usage_error("option '%s' needs an argument", argv[optind - 1]);
		case '?':
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				bad_long_option(argv[optind - 1], lo);
			if (optopt > 0 && optopt < 128)
				vt_cli_usage_error("unknown option '-%c'", optopt);
			vt_cli_usage_error("unknown option '%s'", argv[optind - 1]);
		default:
			if (!spec->opt || spec->opt(ch, optarg, spec->ctx) != 0)
				vt_cli_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	c->args = argv + optind;
	c->nargs = argc - optind;
}

int vt_cli_nearest_mode(void)
{
	const char *v = getenv("VT_NEAREST");
	if (!v || !*v)
		return VT_NEAREST_AUTO;
	int m = vt_assign_mode_of(v);
	if (m < 0)
		vt_cli_usage_error("VT_NEAREST=%s: expected auto, search or brute", v);
	return m;
}

void vt_cli_nearest_report(const vt_cli *c, const char *what, const vt_assign_report *r)
{
	if (!c->verbose)
		return;
	const vt_nearest_stats *s = &r->st;
	double n = s->rows > 0 ? s->rows : 1;
	vt_cli_msg("%s: nearest: mode=%s k=%zu d=%zu groups=%zu supers=%.0f index_bytes=%zu "
	           "build=%.3fs%s rows=%.0f certified=%.2f%% round1=%.2f%% round2=%.2f%% "
	           "costly=%.2f%% overflow=%.2f%% brute=%.2f%% special=%.2f%% super=%.2f%% "
	           "wide=%.2f%% evals_per_row=%.1f time: centres=%.3fs visit=%.3fs brute=%.3fs other=%.3fs",
	           what, vt_assign_mode_name(r->mode), r->k, r->d, r->groups, s->supers, r->bytes,
	           r->t_build, r->scan ? " scan=yes" : "", s->rows,
	           100 * (s->rows_round1 + s->rows_round2) / n, 100 * s->rows_round1 / n,
	           100 * s->rows_round2 / n, 100 * s->rows_costly / n, 100 * s->rows_overflow / n,
	           100 * s->rows_brute / n, 100 * s->rows_special / n, 100 * s->rows_super / n,
	           100 * s->rows_wide / n, s->evals / n, s->t_centres, s->t_visit, s->t_brute, s->t_other);
}

double vt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void vt_progress_start(vt_progress *p, const vt_cli *c, const char *what)
{
	p->on = !c->quiet && isatty(2);
	p->t0 = p->last = vt_now();
	p->what = what;
	p->total = 0;
	p->every = 0.2;
	const char *e = getenv("VT_PROGRESS_SECONDS");
	if (e && *e) {
		char *end;
		double v = strtod(e, &end);
		if (!*end && v >= 0 && v <= 3600)
			p->every = v;
	}
}

void vt_progress_input(vt_progress *p, const vt_input *in)
{
	int64_t rows = -1;
	char err[256];
	if (p->on && vt_input_count_rows(in, &rows, err, sizeof err) == 0 && rows > 0)
		p->total = (uint64_t)rows;
}

void vt_progress_update(vt_progress *p, uint64_t done, uint64_t total)
{
	if (!p->on)
		return;
	double t = vt_now();
	if (t - p->last < p->every)
		return;
	p->last = t;
	if (!total)
		total = p->total;
	double rate = done / (t - p->t0 > 1e-9 ? t - p->t0 : 1e-9);
	if (total && done <= total && rate > 0)
		fprintf(stderr, "\r%s: %llu/%llu %s (%.0f%%), %.3g/s, ETA %.0fs   ", prog,
		        (unsigned long long)done, (unsigned long long)total, p->what,
		        100.0 * done / total, rate, (double)(total - done) / rate);
	else if (total)
		fprintf(stderr, "\r%s: %llu/%llu %s (%.0f%%), %.3g/s   ", prog,
		        (unsigned long long)done, (unsigned long long)total, p->what,
		        100.0 * done / total, rate);
	else
		fprintf(stderr, "\r%s: %llu %s, %.3g/s   ", prog, (unsigned long long)done, p->what,
		        rate);
}

void vt_progress_say(vt_progress *p, const char *fmt, ...)
{
	if (!p->on)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "\r\033[K%s: ", prog);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	p->last = vt_now();
	if (p->last == p->t0)
		p->t0 -= 1e-9; /* so that the end clears the line */
}

void vt_progress_end(vt_progress *p)
{
	if (p->on && p->last > p->t0)
		fputs("\r\033[K", stderr);
	p->on = 0;
}
