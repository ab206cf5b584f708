/* vcat: convert, concatenate, inspect and count vtrain streams and vector files. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vtrain.h"
#include "stream/dump.h"
#include "stream/labels.h"

static const char usage[] =
"Usage: vcat [OPTIONS] [FILE...]\n"
"Read vtrain streams and vector files (.npy .fvecs .bvecs .ivecs .fbin .u8bin\n"
".i8bin, idx, .hdf5 .h5, raw float32), concatenate them, and write one stream\n"
"or file.  FILE.hdf5 reads its dataset train, FILE.hdf5:NAME the dataset NAME.\n"
"With no FILE, or when FILE is -, read standard input.  Labels (from vassign)\n"
"go --to npy as one file per array: -o NAME.npy writes NAME.ids.npy (int64),\n"
"NAME.partitions.npy (int32), NAME.distances.npy (float32) and, with codes,\n"
"NAME.codes.npy (uint8); --to text prints id, partitions, distances, codes.\n"
"\n"
"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
"      --to FORMAT       vt, npy, fvecs, fbin, raw or text (default: the\n"
"                        format -o's extension names, else vt)\n"
"      --from FORMAT     read every input as FORMAT instead of detecting it\n"
"                        (vt npy fvecs bvecs ivecs fbin u8bin i8bin idx hdf5\n"
"                        raw)\n"
"      --dim D           dimension of raw float32 input\n"
"      --ids             attach global row ids (0, 1, ...) to vectors without them\n"
"  -z, --compress=CODEC  frame compression of a stream: none (default), lz4,\n"
"                        lz4-shuffle (-z)\n"
"      --frame-bytes N   target raw bytes per frame (default 1M)\n"
"      --rows A:B        only rows A to B-1 of the input (from 0; B may be\n"
"                        left out: to the end); reading stops after row B-1\n"
"      --info            print each input's header, metadata, frames, rows and\n"
"                        compression ratio, verifying every checksum\n"
"      --count           print the total row count (verifying checksums)\n"
"  -q, --quiet           no progress line\n"
"  -v, --verbose         more detail\n"
"  -h, --help            this help\n"
"      --version         version\n"
"\n"
"Exit status: 0 ok, 1 failure (bad or truncated input, I/O error), 2 usage.\n"
"See vcat(1), vgen(1), docs/FORMAT.md.\n";

enum { OPT_TO = 0x2000, OPT_FROM, OPT_DIM, OPT_IDS, OPT_INFO, OPT_COUNT, OPT_FRAME, OPT_ROWS };

typedef struct {
	vt_format to, from;
	uint32_t dim;
	int ids, info, count;
	size_t frame_bytes;
	int range;                /* --rows given */
	uint64_t row_lo, row_hi;  /* --rows A:B, half-open */
} opts;

static int on_opt(int c, const char *arg, void *ctx)
{
	opts *o = ctx;
	switch (c) {
	case OPT_TO:
		if (vt_format_parse(arg, &o->to) < 0 ||
		    !(o->to == VT_FMT_VT || o->to == VT_FMT_NPY || o->to == VT_FMT_FVECS ||
		      o->to == VT_FMT_FBIN || o->to == VT_FMT_RAW || o->to == VT_FMT_TEXT))
			vt_cli_usage_error("--to: '%s' is not vt, npy, fvecs, fbin, raw or text", arg);
		return 0;
	case OPT_FROM:
		if (vt_format_parse(arg, &o->from) < 0 || o->from == VT_FMT_TEXT)
			vt_cli_usage_error("--from: unknown input format '%s'", arg);
		return 0;
	case OPT_DIM: o->dim = (uint32_t)vt_cli_int("--dim", arg, 1, VT_MAX_DIM); return 0;
	case OPT_IDS: o->ids = 1; return 0;
	case OPT_INFO: o->info = 1; return 0;
	case OPT_COUNT: o->count = 1; return 0;
	case OPT_ROWS: {
		char *end;
		errno = 0;
		unsigned long long lo = strtoull(arg, &end, 10), hi = UINT64_MAX;
		if (end == arg || *end != ':' || arg[0] == '-')
			vt_cli_usage_error("--rows: '%s' is not A:B or A: (row numbers from 0)", arg);
		if (end[1]) {
			char *e2;
			hi = strtoull(end + 1, &e2, 10);
			if (*e2 || end[1] == '-' || hi < lo)
				vt_cli_usage_error("--rows: '%s' is not A:B with A <= B", arg);
		}
		if (errno)
			vt_cli_usage_error("--rows: '%s' is out of range", arg);
		o->range = 1, o->row_lo = lo, o->row_hi = hi;
		return 0;
	}
	case OPT_FRAME:
		o->frame_bytes = vt_cli_size("--frame-bytes", arg);
		if (o->frame_bytes > VT_MAX_FRAME_RAW)
			vt_cli_usage_error("--frame-bytes: at most %u", VT_MAX_FRAME_RAW);
		return 0;
	}
	return -1;
}

static const struct option longopts[] = {
	{"to", required_argument, NULL, OPT_TO},
	{"from", required_argument, NULL, OPT_FROM},
	{"dim", required_argument, NULL, OPT_DIM},
	{"ids", no_argument, NULL, OPT_IDS},
	{"info", no_argument, NULL, OPT_INFO},
	{"count", no_argument, NULL, OPT_COUNT},
	{"frame-bytes", required_argument, NULL, OPT_FRAME},
	{"rows", required_argument, NULL, OPT_ROWS},
	{0},
};

static vt_input *open_input(const vt_cli *c, const opts *o, const char *const *paths,
                            size_t n)
{
	vt_input_opts io = {.from = o->from, .raw_dim = o->dim};
	vt_input *in;
	char err[512];
	int rc = vt_input_open(&in, paths, n, &io, err, sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s", err);
	return in;
}

/* Cut block b down to the global rows [lo, hi).  Returns -1 when the block
 * starts at or after hi (nothing more to read), else 0 (b.rows may be 0). */
static int slice(vt_block *b, const vt_header *h, uint64_t lo, uint64_t hi)
{
	uint64_t first = b->first_row, end = first + b->rows;
	if (first >= hi)
		return -1;
	uint64_t a = lo > first ? lo - first : 0;
	uint64_t z = (hi < end ? hi : end) - first;
	if (a >= z) {
		b->rows = 0;
		return 0;
	}
	size_t rb = (size_t)h->dim * vt_elem_size(h->elem);
	b->ids = b->ids ? b->ids + a : NULL;
	b->weight = b->weight ? b->weight + a : NULL;
	b->loss = b->loss ? b->loss + a : NULL;
	b->data = (const char *)b->data + a * rb;
	b->first_row += a;
	b->rows = (size_t)(z - a);
	return 0;
}

/* Flush a printed report; a write error is a failure with a message. */
static int finish_stdout(const vt_cli *c)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		vt_cli_output_failed(c, errno == EPIPE ? VT_EPIPE : VT_EIO);
	return 0;
}

/* The shape and metadata lines of --info. */
static void print_header(const vt_header *h)
{
	printf("kind: %s\nelement: %s\ndim: %u\n", vt_kind_name(h->kind), vt_elem_name(h->elem),
	       h->dim);
	printf("columns:%s%s%s%s\n", h->cols & VT_COL_IDS ? " ids" : "",
	       h->cols & VT_COL_WEIGHT ? " weight" : "", h->cols & VT_COL_LOSS ? " loss" : "",
	       h->cols ? "" : " none");
	for (size_t i = 0; i < h->nmeta; i++)
		printf("meta.%s: %s\n", h->meta[i].key, h->meta[i].value);
	fflush(stdout);
}

/* --info: one paragraph per input file. */
static void info_one(const vt_cli *c, const opts *o, const char *path)
{
	vt_input *in = open_input(c, o, &path, 1);
	const vt_header *h = vt_input_header(in);
	vt_format fmt = vt_input_format(in);
	printf("file: %s\n", vt_input_path(in));
	if (fmt == VT_FMT_VT)
		printf("format: vtrain stream version %u\n", h->version);
	else
		printf("format: %s\n", vt_format_name(fmt));
	print_header(h);
	vt_block b;
	long n;
	char err[512];
	while ((n = vt_input_next(in, &b, err, sizeof err)) > 0)
		;
	if (n < 0)
		vt_cli_fail((int)n, "%s", err);
	printf("rows: %llu\n", (unsigned long long)vt_input_rows(in));
	vt_input_free(in);
}

/* --info on a vtrain stream also reports frames and compression; it uses the
 * reader directly to get its counters. */
static void info_stream(const vt_cli *c, const opts *o, const char *path)
{
	vt_rd rd;
	char err[512];
	const char *name = strcmp(path, "-") ? path : "(stdin)";
	int rc = vt_rd_open(&rd, path);
	if (rc < 0) {
		/* FILE:NAME of an HDF5 file, or an error that the input reports */
		info_one(c, o, path);
		return;
	}
	const unsigned char *head;
	ssize_t np = vt_rd_peek(&rd, 4, &head);
	int is_vt = o->from == VT_FMT_VT ||
	            (o->from == VT_FMT_AUTO && np >= 4 && memcmp(head, VT_MAGIC, 4) == 0);
	if (!is_vt) {
		vt_rd_close(&rd);
		info_one(c, o, path);
		return;
	}
	vt_reader *r;
	rc = vt_reader_open(&r, &rd, err, sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s: %s", name, err);
	const vt_header *h = vt_reader_header(r);
	printf("file: %s\nformat: vtrain stream version %u\n", name, h->version);
	print_header(h);
	vt_block b;
	long n;
	while ((n = vt_reader_next(r, &b, err, sizeof err)) > 0)
		;
	if (n < 0)
		vt_cli_fail((int)n, "%s: %s", name, err);
	const vt_reader_stats *st = vt_reader_stats_get(r);
	printf("segments: %llu\nframes: %llu\nrows: %llu\n", (unsigned long long)st->segments,
	       (unsigned long long)st->frames, (unsigned long long)st->rows);
	printf("codecs: none=%llu lz4=%llu lz4-shuffle=%llu\n",
	       (unsigned long long)st->codec_frames[0], (unsigned long long)st->codec_frames[1],
	       (unsigned long long)st->codec_frames[2]);
	printf("raw_bytes: %llu\nstored_bytes: %llu\nratio: %.3f\nchecksums: ok\n",
	       (unsigned long long)st->raw_bytes, (unsigned long long)st->stored_bytes,
	       st->stored_bytes ? (double)st->raw_bytes / (double)st->stored_bytes : 1.0);
	vt_reader_free(r);
	vt_rd_close(&rd);
}

static int do_info(const vt_cli *c, const opts *o)
{
	static char *dash[] = {"-"};
	char **paths = c->nargs ? c->args : dash;
	int n = c->nargs ? c->nargs : 1;
	for (int i = 0; i < n; i++) {
		if (i)
			putchar('\n');
		info_stream(c, o, paths[i]);
	}
	return finish_stdout(c);
}

static int do_count(const vt_cli *c, const opts *o)
{
	vt_input *in = open_input(c, o, (const char *const *)c->args, (size_t)c->nargs);
	char err[512];
	long n;
	int codec;
	const unsigned char *stored;
	size_t sl, rl;
	uint64_t ck;
	vt_block b;
	for (;;) {
		n = vt_input_next_stored(in, &codec, &stored, &sl, &rl, &ck, err, sizeof err);
		if (n == VT_EUNSUP)
			n = vt_input_next(in, &b, err, sizeof err);
		if (n <= 0)
			break;
	}
	if (n < 0)
		vt_cli_fail((int)n, "%s", err);
	printf("%llu\n", (unsigned long long)vt_input_rows(in));
	vt_input_free(in);
	return finish_stdout(c);
}

/* Labels to .npy: one file per array, -o NAME.npy giving NAME.ids.npy,
 * NAME.partitions.npy, NAME.distances.npy and (with codes) NAME.codes.npy. */
static int labels_npy(const vt_cli *c, const opts *o, vt_input *in)
{
	char err[512];
	const vt_header *ih = vt_input_header(in);
	vt_labels_shape s;
	int rc = vt_labels_shape_get(ih, &s, err, sizeof err);
	if (rc < 0)
		vt_cli_fail(rc, "%s: %s", vt_input_path(in), err);
	if (!c->output || strcmp(c->output, "-") == 0)
		vt_cli_usage_error("labels go to .npy as one file per array; give -o NAME.npy (it "
		                   "writes NAME.ids.npy, NAME.partitions.npy, NAME.distances.npy and "
		                   "NAME.codes.npy)");
	size_t bl = strlen(c->output);
	if (bl > 4 && strcmp(c->output + bl - 4, ".npy") == 0)
		bl -= 4;
	vt_out outs[VT_LABELS_NPY_ARRAYS];
	vt_out *po[VT_LABELS_NPY_ARRAYS] = {0};
	char *names[VT_LABELS_NPY_ARRAYS] = {0};
	for (int a = 0; a < VT_LABELS_NPY_ARRAYS; a++) {
		if (a == VT_LABELS_NPY_CODES && !s.m)
			continue;
		const char *nm = vt_labels_npy_name(a);
		names[a] = vt_cli_xmalloc(bl + strlen(nm) + 6);
		sprintf(names[a], "%.*s.%s.npy", (int)bl, c->output, nm);
		if (vt_out_open(&outs[a], names[a]) < 0)
			vt_cli_fail(VT_EIO, "%s: %s", names[a], strerror(errno));
		po[a] = &outs[a];
	}
	vt_labels_npy *w;
	if ((rc = vt_labels_npy_open(&w, po, &s)) < 0)
		vt_cli_fail(rc, "%s: %s", names[VT_LABELS_NPY_IDS],
		            rc == VT_EUNSUP ? "npy output needs a regular file" : vt_strerror(rc));
	vt_progress pg;
	vt_progress_start(&pg, c, "rows");
	vt_progress_input(&pg, in);
	vt_block b;
	long n;
	while ((n = vt_input_next(in, &b, err, sizeof err)) > 0) {
		if (o->range && slice(&b, ih, o->row_lo, o->row_hi) < 0)
			break;
		if (b.rows && (rc = vt_labels_npy_write(w, b.rows, b.ids, b.data)) < 0)
			break;
		vt_progress_update(&pg, vt_input_rows(in), 0);
	}
	vt_progress_end(&pg);
	if (n < 0)
		vt_cli_fail((int)n, "%s", err);
	if (rc == 0)
		rc = vt_labels_npy_finish(w);
	if (rc < 0)
		vt_cli_fail(rc, "%s: %s", c->output, rc == VT_EIO ? strerror(errno) : vt_strerror(rc));
	for (int a = 0; a < VT_LABELS_NPY_ARRAYS; a++) {
		if (po[a] && (rc = vt_out_commit(po[a])) < 0)
			vt_cli_fail(rc, "%s: %s", names[a], rc == VT_EIO ? strerror(errno) : vt_strerror(rc));
		free(names[a]);
	}
	vt_labels_npy_free(w);
	vt_input_free(in);
	return 0;
}

static int do_convert(const vt_cli *c, const opts *o)
{
	if (o->to != VT_FMT_TEXT)
		vt_cli_no_tty(c->output);
	vt_out out;
	vt_cli_open_output(c, &out);
	vt_input *in = open_input(c, o, (const char *const *)c->args, (size_t)c->nargs);
	const vt_header *ih = vt_input_header(in);
	char err[512];
	int rc = 0;
	const char *oname = vt_cli_output_name(c);
	if (ih->kind == VT_KIND_LABELS && o->to != VT_FMT_VT && o->to != VT_FMT_TEXT) {
		if (o->to != VT_FMT_NPY)
			vt_cli_usage_error("%s: labels are exported --to npy or text, not %s",
			                   vt_input_path(in), vt_format_name(o->to));
		vt_out_abort(&out);
		return labels_npy(c, o, in);
	}

	vt_writer *w = NULL;
	vt_vecwriter *vw = NULL;
	vt_header oh;
	int add_ids = o->ids && ih->kind == VT_KIND_VECTORS && !(ih->cols & VT_COL_IDS);
	int text_plain = o->to == VT_FMT_TEXT && !ih->cols && ih->elem == VT_ELEM_F32;
	if (o->to == VT_FMT_VT) {
		rc = vt_header_copy(&oh, ih);
		if (rc == 0 && add_ids)
			oh.cols |= VT_COL_IDS;
		/* "rows" announces the count: only where it is known to be exact,
		 * one input (not a cut of it) that is a counted foreign file or a
		 * regular vtrain file (its end markers, every segment) */
		int64_t known = -1;
		if (rc == 0 && c->nargs == 1 && !o->range &&
		    (rc = vt_input_count_rows(in, &known, err, sizeof err)) < 0)
			vt_cli_fail(rc, "%s", err);
		/* kept (in place) or added where exact; a stream that announced none
		 * passes through as it is */
		if (rc == 0 && known >= 0 && (vt_header_rows(ih) >= 0 || vt_input_rows_hint(in) >= 0))
			rc = vt_header_setf(&oh, "rows", "%lld", (long long)known);
		else
			vt_header_unset(&oh, "rows");
		if (rc == 0)
			rc = vt_writer_open(&w, &out, &oh, c->codec, o->frame_bytes);
		vt_header_free(&oh);
		vt_cli_check_output(c, rc);
	} else if (o->to != VT_FMT_TEXT || text_plain) {
		/* a PQ codebook goes to .npy as (M, 2^nbits, d/M) */
		uint32_t group = 1;
		const char *nb = vt_header_get(ih, "nbits");
		if (o->to == VT_FMT_NPY && ih->kind == VT_KIND_PQ && nb) {
			long bits = strtol(nb, NULL, 10);
			if (bits < 1 || bits > 16)
				vt_cli_fail(VT_EFORMAT, "%s: PQ metadata nbits=%s is not 1..16",
				            vt_input_path(in), nb);
			group = 1u << bits;
		}
		/* The row count, so that npy and fbin can go to a pipe: a foreign
		 * header's, one vtrain file's end markers, or the count a piped
		 * stream's header announces (the writer checks it was met). */
		int64_t count = -1;
		if (c->nargs <= 1) {
			if ((rc = vt_input_count_rows(in, &count, err, sizeof err)) < 0)
				vt_cli_fail(rc, "%s", err);
			/* a piped stream's announced rows count its first segment only:
			 * taken only where the output cannot be patched at the end, for
			 * the formats that need the count first */
			if (count < 0 && !o->range && !out.seekable &&
			    (o->to == VT_FMT_NPY || o->to == VT_FMT_FBIN))
				count = vt_header_rows(ih);
		} else {
			count = vt_input_rows_hint(in);
		}
		if (count >= 0 && o->range) {
			uint64_t hi = o->row_hi < (uint64_t)count ? o->row_hi : (uint64_t)count;
			count = hi > o->row_lo ? (int64_t)(hi - o->row_lo) : 0;
		}
		rc = vt_vecwriter_open_grouped(&vw, &out, o->to, group, ih->dim, count, err,
		                               sizeof err);
		if (rc < 0)
			vt_cli_fail(rc, "%s: %s", oname, err);
	}

	vt_progress pg;
	vt_progress_start(&pg, c, "rows");
	vt_progress_input(&pg, in);
	float *conv = NULL;
	uint64_t *idbuf = NULL;
	size_t conv_cap = 0, id_cap = 0;
	vt_block b;
	long n;
	for (;;) {
		if (w && !add_ids && !o->frame_bytes && !o->range) {
			/* Same codec in and out: copy verified frames without decoding. */
			int codec;
			const unsigned char *stored;
			size_t sl, rl;
			uint64_t ck;
			n = vt_input_next_stored(in, &codec, &stored, &sl, &rl, &ck, err, sizeof err);
			if (n > 0 && codec == c->codec) {
				rc = vt_writer_put_frame(w, codec, (size_t)n, stored, sl, rl, ck);
				if (rc < 0)
					break;
				vt_progress_update(&pg, vt_input_rows(in), 0);
				continue;
			}
			if (n > 0)   /* another codec: decode, then re-encode below */
				n = vt_input_decode_stored(in, &b, err, sizeof err);
			else if (n == VT_EUNSUP)
				n = vt_input_next(in, &b, err, sizeof err);
		} else {
			n = vt_input_next(in, &b, err, sizeof err);
		}
		if (n <= 0)
			break;
		if (o->range && slice(&b, ih, o->row_lo, o->row_hi) < 0)
			break;   /* past the range: stop reading */
		if (b.rows == 0)
			continue;
		if (w) {
			const uint64_t *ids = b.ids;
			if (add_ids) {
				if (id_cap < b.rows) {
					free(idbuf);
					idbuf = vt_cli_xmalloc(b.rows * sizeof *idbuf);
					id_cap = b.rows;
				}
				for (size_t i = 0; i < b.rows; i++)
					idbuf[i] = b.first_row + i;
				ids = idbuf;
			}
			rc = vt_writer_put(w, b.rows, ids, b.weight, b.loss, b.data);
		} else if (vw) {
			const float *x = b.data;
			if (ih->elem != VT_ELEM_F32) {
				size_t need = b.rows * ih->dim;
				if (conv_cap < need) {
					free(conv);
					conv = vt_cli_xmalloc(need * sizeof *conv);
					conv_cap = need;
				}
				vt_to_float(b.data, ih->elem, need, conv);
				x = conv;
			}
			rc = vt_vecwriter_write(vw, x, b.rows, err, sizeof err);
			if (rc < 0)
				vt_cli_fail(rc, "%s: %s", oname, err);
		} else {
			rc = vt_dump_text(&out, ih, &b);
		}
		if (rc < 0)
			break;
		vt_progress_update(&pg, vt_input_rows(in), 0);
	}
	vt_progress_end(&pg);
	if (n < 0)
		vt_cli_fail((int)n, "%s", err);
	if (rc == 0 && w)
		rc = vt_writer_finish(w);
	if (rc == 0 && vw) {
		rc = vt_vecwriter_finish(vw, err, sizeof err);
		if (rc < 0)
			vt_cli_fail(rc, "%s: %s", oname, err);
	}
	vt_cli_check_output(c, rc);
	uint64_t bytes = out.written;
	vt_cli_commit_output(c, &out);
	if (c->verbose) {
		double secs = vt_now() - pg.t0;
		vt_cli_verbose(c, "%llu rows of d=%u (%s) from %d input%s; %llu bytes written as %s "
		               "to %s in %.2fs (%.3g MB/s)",
		               (unsigned long long)vt_input_rows(in), ih->dim, vt_kind_name(ih->kind),
		               c->nargs ? c->nargs : 1, c->nargs > 1 ? "s" : "",
		               (unsigned long long)bytes, vt_format_name(o->to),
		               c->output ? c->output : "standard output", secs,
		               secs > 0 ? bytes / secs / 1e6 : 0.0);
	}
	vt_writer_free(w);
	vt_vecwriter_free(vw);
	vt_input_free(in);
	free(conv);
	free(idbuf);
	return 0;
}

int main(int argc, char **argv)
{
	vt_cli_init("vcat");
	opts o = {.to = VT_FMT_AUTO, .from = VT_FMT_AUTO};
	vt_cli_spec spec = {
		.name = "vcat",
		.usage = usage,
		.shared = VT_CLI_OUTPUT | VT_CLI_COMPRESS,
		.longopts = longopts,
		.opt = on_opt,
		.ctx = &o,
	};
	vt_cli c;
	vt_cli_parse(argc, argv, &spec, &c);
	if (o.info + o.count > 1 || ((o.info || o.count) && c.output))
		vt_cli_usage_error("--info and --count print a report; they take no -o and not each other");
	if (o.from == VT_FMT_RAW && !o.dim)
		vt_cli_usage_error("--from raw needs --dim");
	vt_cli_no_tty_input(&c);
	if (o.info)
		return do_info(&c, &o);
	if (o.count)
		return do_count(&c, &o);
	o.to = vt_cli_output_to(&c, o.to);
	return do_convert(&c, &o);
}
