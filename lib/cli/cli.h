/* vtrain: the command line shared by every program.
 *
 * One parser for the options of DESIGN.md, one way to print messages
 * ("prog: message" on stderr), usage errors (exit 2), failures (exit 1),
 * the quiet end on a closed pipe, removal of half-written outputs on
 * SIGINT/SIGTERM, and a progress line on stderr when it is a terminal.
 * This module (and only this one) prints and exits.
 */
#ifndef VT_CLI_H
#define VT_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/assign.h"
#include "bridge/metric.h"
#include "stream/formats.h"
#include "stream/input.h"
#include "stream/output.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VT_VERSION_STRING
#define VT_VERSION_STRING "0.1.0"
#endif

/* Which shared options a program accepts (help, version, -q, -v are always
 * accepted). */
enum {
	VT_CLI_OUTPUT = 1 << 0,    /* -o FILE */
	VT_CLI_K = 1 << 1,         /* -k N */
	VT_CLI_CENTROIDS = 1 << 2, /* -c FILE, --centroids FILE */
	VT_CLI_SEED = 1 << 3,      /* --seed N */
	VT_CLI_THREADS = 1 << 4,   /* -j N, --threads N */
	VT_CLI_COMPRESS = 1 << 5,  /* -z, --compress=none|lz4|lz4-shuffle */
	VT_CLI_METRIC = 1 << 6,    /* --metric=l2|cosine|dot */
	VT_CLI_PARTIAL = 1 << 7,   /* --partial */
};

/* The parsed shared options and the operands. */
typedef struct {
	const char *output;       /* NULL: stdout */
	long long k;              /* 0: not given */
	const char *centroids;
	uint64_t seed;
	int seed_given;
	int threads;              /* default: online cores */
	int codec;                /* VT_CODEC_*; default none */
	int metric;               /* VT_METRIC_* (bridge/metric.h); default l2 */
	int metric_given;         /* --metric was given */
	int partial;
	int quiet;
	int verbose;
	int foreign_output;       /* -o may name a foreign format (vt_cli_output_to) */
	char **args;              /* operands (files) */
	int nargs;
} vt_cli;

/* A program's own options. */
typedef struct {
	const char *name;         /* program name for messages */
	const char *usage;        /* full --help text (starts with "Usage: ") */
	unsigned shared;          /* VT_CLI_* mask */
	const char *shortopts;    /* the program's own short options, getopt style */
	const struct option *longopts; /* the program's own, ending in {0} ; may be NULL */
	/* Called for each option that is the program's own.  Return 0, or call
	 * vt_cli_usage_error (which exits). */
	int (*opt)(int c, const char *arg, void *ctx);
	void *ctx;
} vt_cli_spec;

/* Set the program name, ignore SIGPIPE (writes then fail with EPIPE and
 * vt_cli_fail ends quietly), and remove temporary outputs on SIGINT,
 * SIGTERM and SIGHUP before dying of the signal. */
void vt_cli_init(const char *name);

/* Parse argv.  Handles --help (usage to stdout, exit 0), --version, the
 * shared options of spec->shared, "--", and usage errors (exit 2). */
void vt_cli_parse(int argc, char **argv, const vt_cli_spec *spec, vt_cli *c);

/* "prog: message" on stderr. */
void vt_cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Message at -v only. */
void vt_cli_verbose(const vt_cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "prog: message", then "Try 'prog --help'.", exit 2 (as coreutils do).
 * Temporary outputs are removed first. */
_Noreturn void vt_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Message, exit 1.  If rc is VT_EPIPE, die quietly of SIGPIPE instead.
 * Temporary outputs are removed first. */
_Noreturn void vt_cli_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* malloc(n) (n = 0: 1 byte) that fails with "out of memory" (exit 1)
 * instead of returning NULL. */
void *vt_cli_xmalloc(size_t n);

/* Number parsers for option arguments: a usage error names the option. */
long long vt_cli_int(const char *opt, const char *arg, long long min, long long max);
double vt_cli_double(const char *opt, const char *arg, double min, double max);
/* A byte size with an optional K, M, G or T suffix (powers of 1024). */
unsigned long long vt_cli_size(const char *opt, const char *arg);

/* Usage error if binary output would go to a terminal (output NULL or "-"
 * and stdout is a tty). */
void vt_cli_no_tty(const char *output);

/* Usage error if the input would be a terminal: no operands, or "-", while
 * stdin is a tty (as lz4 and zstd refuse it). */
void vt_cli_no_tty_input(const vt_cli *c);

/* Open the operands c->args (stdin when there are none) as one input with
 * vt_input_open and the given options (NULL for the defaults); on failure,
 * print the message naming the file and exit 1.  Standard input that is a
 * terminal is a usage error (as lz4 and zstd refuse it). */
vt_input *vt_cli_open_input(const vt_cli *c, const vt_input_opts *opts);

/* The metric of the run over the input in: its recorded metric ("metric",
 * or a sample's "vsample.metric"), else --metric, else l2; a --metric
 * that disagrees with the record fails naming both.  When either fixed
 * the metric, from (len bytes) receives what did, for
 * vt_centroids_opts.metric_from ("--metric=cosine was given", or "PATH was
 * made with metric=cosine"); otherwise from is "".  */
int vt_cli_input_metric(const vt_cli *c, vt_input *in, char *from, size_t len);

/* K of the run over the input in: its recorded "k" (or a sample's
 * "vsample.k"), which a -k must equal (else it fails naming both), else
 * -k; with neither, a usage error when required, else 0.  A recorded
 * value that is not a number from 1 to 2^31 fails naming the input. */
long long vt_cli_input_k(const vt_cli *c, vt_input *in, int required);

/* The name of the output in messages: the -o path, or "(stdout)". */
const char *vt_cli_output_name(const vt_cli *c);

/* The format that -o's extension names (.npy .fvecs .bvecs .ivecs .fbin
 * .u8bin .i8bin .raw .f32 .idx), or VT_FMT_VT for any other name and for
 * stdout. */
vt_format vt_cli_output_format(const vt_cli *c);

/* For a program that writes foreign files (vcat, vgen): the format to
 * write, given --to as `to` (VT_FMT_AUTO when not given): --to, which must
 * agree with a foreign extension of -o; else the format -o's extension
 * names; else vt.  A named format that the program cannot write (npy,
 * fvecs, fbin and raw are written) is a usage error.  Lets
 * vt_cli_open_output open such a name. */
vt_format vt_cli_output_to(vt_cli *c, vt_format to);

/* Open the output (-o, or stdout) into o, before any work, so that a path
 * that cannot be written fails at once; on failure print "NAME: reason"
 * and exit 1.  A -o that names a foreign format (x.npy) is a usage error,
 * with the vcat command that converts, unless vt_cli_output_to chose that
 * format: a vtrain stream is never written under a foreign name.  The temporary file is removed by vt_cli_fail and
 * vt_cli_usage_error, and on SIGINT/SIGTERM/SIGHUP. */
void vt_cli_open_output(const vt_cli *c, vt_out *o);

/* A write to the output failed with rc: print "NAME: reason" (strerror(errno)
 * for VT_EIO, else vt_strerror(rc)) and exit 1, through vt_cli_fail (so a
 * closed pipe ends quietly). */
_Noreturn void vt_cli_output_failed(const vt_cli *c, int rc);

/* vt_cli_output_failed(c, rc) when rc < 0; else nothing. */
void vt_cli_check_output(const vt_cli *c, int rc);

/* Commit o (vt_out_commit); a failure as vt_cli_output_failed. */
void vt_cli_commit_output(const vt_cli *c, vt_out *o);

/* Metadata of the output could not be set (rc < 0; else nothing): print
 * "NAME: metadata: reason" and exit 1. */
void vt_cli_check_meta(const vt_cli *c, int rc);

/* The nearest-centroid search of this run (bridge/assign.h), from the
 * environment variable VT_NEAREST: "auto" (also when unset or empty: the
 * measured choice between the search and brute force), "search" or
 * "brute".  Any other value is a usage error (exit 2).  The one place that
 * reads it; the mode changes only the speed, never a result. */
int vt_cli_nearest_mode(void);

/* At -v only: one line on what the nearest-centroid search did,
 *   "WHAT: nearest: mode=M k=K d=D groups=G supers=S index_bytes=B build=Ts
 *    rows=N certified=P% round1=P% round2=P% costly=P% overflow=P% brute=P%
 *    special=P% super=P% wide=P% evals_per_row=E time: centres=Ts visit=Ts
 *    brute=Ts other=Ts"
 * certified: the share of rows that the search answered without a
 * fallback (round1 + round2); costly, overflow: rows sent to brute force
 * one by one (by the cost model, or a full candidate list); brute: rows
 * answered by brute force as whole chunks (all of them in brute mode);
 * special: rows not finite or too large for float; supers: the index's
 * second level (0: none); super: rows whose centre step went through it,
 * wide: of those, rows it could not narrow (round 2 scored all groups);
 * evals_per_row: row-centroid (and row-centre) distances computed per row,
 * the work measure that does not depend on the machine's load.  A run whose
 * centroids are too large for float says scan=yes. */
void vt_cli_nearest_report(const vt_cli *c, const char *what, const vt_assign_report *r);

/* Progress on stderr when it is a terminal and not -q: one line, redrawn
 * at most every VT_PROGRESS_SECONDS seconds (default 0.2), with the total,
 * the percentage and an ETA when the total is known. */
typedef struct {
	int on;
	double t0, last, every;
	const char *what;
	uint64_t total;   /* used when an update gives none; 0: unknown */
} vt_progress;

void vt_progress_start(vt_progress *p, const vt_cli *c, const char *what);
/* The total of an input's rows, when it can be known before reading it
 * (vt_input_count_rows); counted only when the line is shown.  A damaged
 * file is left to the reading to report. */
void vt_progress_input(vt_progress *p, const vt_input *in);
/* done of total units (total 0: the one set by vt_progress_input, if any);
 * throttled as above. */
void vt_progress_update(vt_progress *p, uint64_t done, uint64_t total);
/* A phase without a count ("reducing 2000000 points to 65536"), shown at
 * once, until the next update or the end. */
void vt_progress_say(vt_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vt_progress_end(vt_progress *p);

/* Monotonic seconds. */
double vt_now(void);

/* The program name set by vt_cli_init. */
const char *vt_cli_name(void);

#ifdef __cplusplus
}
#endif
#endif
