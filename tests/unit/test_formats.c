/* Unit tests for lib/stream/formats.c: readers, writers, detection.
 *
 * Also lib/stream/hdf5.c, on files that libhdf5 writes here.
 *
 * Usage: test_formats [FIXTURE_DIR]   (default $VT_FORMATS_FIXTURES, else
 * $VT_FIXTURES/formats as ctest sets it, else tests/fixtures/formats; the
 * npy fixture tests are skipped when the directory is missing).  Prints
 * TAP-like "ok N - name" lines; exits 1 if any test failed.  Inputs other
 * than the numpy-made fixtures are generated into a temporary directory
 * that is removed at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "error.h"
#include "stream/fdio.h"
#include "stream/formats.h"
#include "stream/output.h"

#include <hdf5.h>

static char tmpdir[64];
static const char *fixdir = "tests/fixtures/formats";
static char made[512][96];
static int nmade;

static const char *tpath(const char *name)
{
	static char buf[8][160];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, 160, "%s/%s", tmpdir, name);
	return p;
}

static const char *fpath(const char *name)
{
	static char buf[4][512];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, 512, "%s/%s", fixdir, name);
	return p;
}

static void remember(const char *path)
{
	for (int i = 0; i < nmade; i++)
		if (strcmp(made[i], path) == 0)
			return;
	if (nmade < 512)
		snprintf(made[nmade++], sizeof made[0], "%s", path);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
	remember(path);
}

/* A growable byte buffer for making inputs. */
typedef struct {
	unsigned char *p;
	size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}
static void put32(bytes *b, uint32_t v)
{
	unsigned char c[4];
	vt_put32(c, v);
	put(b, c, 4);
}
static void put32be(bytes *b, uint32_t v)
{
	unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};
	put(b, c, 4);
}
static void putf(bytes *b, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	put32(b, u);
}

static float sval(size_t i)
{
	return (float)((long)((i * 7) % 23) - 11);
}
static double uval(size_t i, double mod)
{
	return fmod((double)i * 37.0, mod);
}

/* Read everything from rd as fmt, chunk rows at a time into a buffer of
 * exactly chunk x dim floats (so ASan sees any overrun).  Returns 0 or the
 * error; *out (malloc'd, caller frees) holds *rows x *dim floats. */
static int read_rd(vt_rd *rd, vt_format fmt, uint32_t raw_dim, size_t chunk,
                   uint32_t *dim, int64_t *hdr_rows, float **out,
                   size_t *rows, char *err, size_t errlen)
{
	vt_vecreader *r;
	*out = NULL;
	*rows = 0;
	int rc = vt_vecreader_open(&r, rd, fmt, raw_dim, err, errlen);
	if (rc < 0)
		return rc;
	*dim = vt_vecreader_dim(r);
	*hdr_rows = vt_vecreader_rows(r);
	size_t d = *dim;
	float *blk = xmalloc(chunk * d * sizeof(float));
	size_t cap = 0;
	for (;;) {
		int64_t n = vt_vecreader_read(r, blk, chunk, err, errlen);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		if ((size_t)n > chunk) {
			snprintf(err, errlen, "read returned %lld > %zu",
			         (long long)n, chunk);
			rc = -999;
			break;
		}
		if (*rows + (size_t)n > cap) {
			cap = (*rows + (size_t)n) * 2;
			*out = xrealloc(*out, cap * d * sizeof(float));
		}
		memcpy(*out + *rows * d, blk, (size_t)n * d * sizeof(float));
		*rows += (size_t)n;
	}
	free(blk);
	vt_vecreader_free(r);
	return rc;
}

static int read_path(const char *path, vt_format fmt, uint32_t raw_dim,
                     size_t chunk, uint32_t *dim, int64_t *hdr_rows,
                     float **out, size_t *rows, char *err, size_t errlen)
{
	vt_rd rd;
	if (vt_rd_open(&rd, path) < 0) {
		snprintf(err, errlen, "cannot open %s", path);
		*out = NULL;
		return -998;
	}
	int rc = read_rd(&rd, fmt, raw_dim, chunk, dim, hdr_rows, out, rows, err,
	                 errlen);
	vt_rd_close(&rd);
	return rc;
}

/* Expect an error code whose message contains want (NULL: any). */
static void expect_err(const char *name, const char *path, vt_format fmt,
                       uint32_t raw_dim, int code, const char *want)
{
	uint32_t dim;
	int64_t hr;
	float *out;
	size_t rows;
	char err[256] = "";
	int rc = read_path(path, fmt, raw_dim, 5, &dim, &hr, &out, &rows, err,
	                   sizeof err);
	free(out);
	int good = rc == code && (!want || strstr(err, want)) && err[0];
	CHECK(good, "%s: %s (%d: %s)", name, vt_strerror(code), rc, err);
}

static int same_bits(const float *a, const float *b, size_t n)
{
	return memcmp(a, b, n * sizeof(float)) == 0;
}

/* ------------------------------------------------------------------ */

static void test_names(void)
{
	static const char *names[] = {"vt", "npy", "fvecs", "bvecs", "ivecs",
	                              "fbin", "u8bin", "i8bin", "idx", "raw",
	                              "text"};
	int good = 1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		vt_format f;
		if (vt_format_parse(names[i], &f) != 0 ||
		    strcmp(vt_format_name(f), names[i]) != 0)
			good = 0;
	}
	CHECK(good, "format names parse and print back");
	vt_format f = VT_FMT_AUTO;
	CHECK(vt_format_parse("stream", &f) == 0 && f == VT_FMT_VT,
	      "\"stream\" parses as vt");
	CHECK(vt_format_parse("csv", &f) == VT_EINVAL &&
	      vt_format_parse("", &f) == VT_EINVAL &&
	      vt_format_parse("NPY", &f) == VT_EINVAL,
	      "unknown format names are VT_EINVAL");
}

static void test_detect(void)
{
	static const unsigned char vt[] = "VTS\x1a\x01\x00\x00\x00";
	static const unsigned char npy[] = "\x93NUMPY\x01\x00";
	static const unsigned char idx3[] = {0, 0, 8, 3, 0, 0, 0, 1};
	static const unsigned char idx5[] = {0, 0, 8, 5, 0, 0, 0, 1};
	static const unsigned char fv[] = {128, 0, 0, 0, 0, 0, 0, 0};
	static const unsigned char gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0};
	vt_format f;
#define DET(h, n, p, want) (vt_format_detect(h, n, p, &f) == 0 && f == (want))
	CHECK(DET(vt, 8, NULL, VT_FMT_VT), "detect vtrain magic");
	CHECK(DET(vt, 8, "x.fvecs", VT_FMT_VT), "vtrain magic beats extension");
	CHECK(DET(npy, 8, NULL, VT_FMT_NPY), "detect npy magic");
	CHECK(DET(npy, 8, "a.fbin", VT_FMT_NPY), "npy magic beats extension");
	CHECK(DET(idx3, 8, NULL, VT_FMT_IDX), "detect idx magic (pipe)");
	CHECK(DET(idx3, 8, "a.FBIN", VT_FMT_FBIN),
	      "extension beats the weak idx magic");
	CHECK(vt_format_detect(idx5, 8, NULL, &f) == VT_EMAGIC,
	      "idx magic with 5 dimensions is not idx");
	CHECK(DET(fv, 8, "dir.npy/base.fvecs", VT_FMT_FVECS),
	      "extension .fvecs (directory name ignored)");
	CHECK(DET(fv, 8, "B.BVECS", VT_FMT_BVECS) &&
	      DET(fv, 8, "b.IVecs", VT_FMT_IVECS) &&
	      DET(fv, 8, "b.u8bin", VT_FMT_U8BIN) &&
	      DET(fv, 8, "b.i8bin", VT_FMT_I8BIN) &&
	      DET(fv, 8, "b.fbin", VT_FMT_FBIN) &&
	      DET(fv, 8, "b.Npy", VT_FMT_NPY) &&
	      DET(fv, 8, "b.idx", VT_FMT_IDX) &&
	      DET(fv, 8, "b.raw", VT_FMT_RAW) && DET(fv, 8, "b.F32", VT_FMT_RAW),
	      "every extension, case-insensitive");
	CHECK(DET(fv, 8, "mnist/train-images-idx3-ubyte", VT_FMT_IDX) &&
	      DET(fv, 8, "T10K-LABELS.IDX1-UBYTE", VT_FMT_IDX),
	      "MNIST names are idx");
	CHECK(vt_format_detect(fv, 8, "a.fvecs.gz", &f) == VT_EMAGIC &&
	      vt_format_detect(gz, 8, "a.npy.gz", &f) == VT_EMAGIC,
	      ".gz is not supported: VT_EMAGIC");
	CHECK(vt_format_detect(fv, 8, "a.txt", &f) == VT_EMAGIC &&
	      vt_format_detect(fv, 8, NULL, &f) == VT_EMAGIC &&
	      vt_format_detect(fv, 8, "fvecs", &f) == VT_EMAGIC &&
	      vt_format_detect(NULL, 0, NULL, &f) == VT_EMAGIC,
	      "unknown extension / no magic: VT_EMAGIC");
	CHECK(vt_format_detect(npy, 3, NULL, &f) == VT_EMAGIC &&
	      vt_format_detect(vt, 3, NULL, &f) == VT_EMAGIC,
	      "short head is not a magic match");
#undef DET
}

/* ------------------------------------------------------------------ */
/* writer -> reader round trips */

static float *test_data(size_t n, size_t d)
{
	float *x = xmalloc(n * d * sizeof(float));
	uint32_t s = 12345;
	for (size_t i = 0; i < n * d; i++) {
		s = s * 1103515245u + 12345u;
		x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 1000.0f;
	}
	if (n * d < 5)
		return x;
	x[0] = -0.0f;
	x[1] = NAN;
	x[2] = INFINITY;
	x[3] = 1e-42f;   /* subnormal */
	x[4] = 3.4028235e38f;
	return x;
}

/* Write n rows of x to path as fmt, piece rows per call.  One call in 8
 * goes through vt_out_open/commit (the atomic path, which fsyncs); the rest
 * through a plain seekable fd, to keep the test fast. */
static int write_path(const char *path, vt_format fmt, uint32_t d,
                      int64_t hint, const float *x, size_t n, size_t piece,
                      char *err, size_t errlen)
{
	vt_out o;
	vt_vecwriter *w;
	static int calls;
	int atomic = calls++ % 8 == 0;
	int rc = 0;
	if (atomic) {
		rc = vt_out_open(&o, path);
	} else {
		memset(&o, 0, sizeof o);
		o.slot = -1;
		o.is_stdout = 1;   /* commit/abort leave the fd alone */
		o.seekable = 1;
		o.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (o.fd < 0)
			rc = VT_EIO;
	}
	if (rc < 0)
		return rc;
	remember(path);
	rc = vt_vecwriter_open(&w, &o, fmt, d, hint, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i += piece) {
		size_t m = n - i < piece ? n - i : piece;
		rc = vt_vecwriter_write(w, x + i * d, m, err, errlen);
	}
	if (rc == 0)
		rc = vt_vecwriter_finish(w, err, errlen);
	vt_vecwriter_free(w);
	if (!atomic) {
		if (close(o.fd) != 0 && rc == 0)
			rc = VT_EIO;
		return rc;
	}
	if (rc == 0)
		rc = vt_out_commit(&o);
	else
		vt_out_abort(&o);
	return rc;
}

static void test_roundtrips(void)
{
	static const vt_format fmts[] = {VT_FMT_NPY, VT_FMT_FVECS, VT_FMT_FBIN,
	                                 VT_FMT_RAW};
	static const uint32_t dims[] = {1, 13, 128, 3000};
	static const size_t ns[] = {0, 1, 257};
	static const size_t chunks[] = {1, 2, 7, 100, 1000};
	for (size_t fi = 0; fi < 4; fi++)
	for (size_t di = 0; di < 4; di++)
	for (size_t ni = 0; ni < 3; ni++)
	for (int known = 0; known < 2; known++) {
		vt_format fmt = fmts[fi];
		uint32_t d = dims[di];
		size_t n = ns[ni];
		if (n == 0 && fmt == VT_FMT_FVECS)
			continue;   /* no dimension without a record */
		float *x = test_data(n ? n : 1, d);
		char name[64], err[256] = "";
		snprintf(name, sizeof name, "rt_%zu_%u_%zu_%d.%s", fi, d, n,
		         known, vt_format_name(fmt));
		const char *p = tpath(name);
		int rc = write_path(p, fmt, d, known ? (int64_t)n : -1, x, n,
		                    n > 10 ? 10 : 1, err, sizeof err);
		int good = rc == 0;
		for (size_t ci = 0; good && ci < 5; ci++) {
			uint32_t rdim = 0;
			int64_t hr;
			float *out;
			size_t rows;
			rc = read_path(p, fmt, d, chunks[ci], &rdim, &hr, &out,
			               &rows, err, sizeof err);
			int64_t want_hr = fmt == VT_FMT_NPY || fmt == VT_FMT_FBIN
			                  ? (int64_t)n : -1;
			good = rc == 0 && rdim == d && rows == n && hr == want_hr &&
			       (n == 0 || same_bits(out, x, n * d));
			free(out);
		}
		CHECK(good, "round trip %s d=%u n=%zu rows %s (%s)",
		      vt_format_name(fmt), d, n, known ? "known" : "patched",
		      err);
		free(x);
	}
	/* npy header: a multiple of 64 bytes ending in '\n', in both forms */
	for (int known = 0; known < 2; known++) {
		char name[32];
		snprintf(name, sizeof name, "rt_0_13_257_%d.npy", known);
		size_t len;
		unsigned char *b = check_slurp(tpath(name), &len);
		size_t h = b && len >= 10 ? 10u + vt_le16(b + 8) : 0;
		CHECK(b && h % 64 == 0 && b[h - 1] == '\n' && b[6] == 1 &&
		      b[7] == 0 && len == h + 257 * 13 * 4,
		      "npy header (%s count) is %zu bytes, 64-aligned, ends in "
		      "newline", known ? "known" : "patched", h);
		free(b);
	}
}

static void test_text(void)
{
	static const float v[] = {0.0f, -0.0f, 1.0f, -1.0f, 255.0f, 1e9f,
	                          0.1f, 1.5e-40f, NAN, INFINITY, -INFINITY,
	                          123456789.0f, 3.4028235e38f, -2.5f,
	                          16777217.0f, 999999936.0f, -1e9f, 1234567.125f};
	size_t n = sizeof v / sizeof v[0];
	char err[256] = "";
	const char *p = tpath("t.txt");
	/* 3 rows of 6 */
	int rc = write_path(p, VT_FMT_TEXT, 6, 3, v, 3, 2, err, sizeof err);
	char want[1024];
	size_t wl = 0;
	for (size_t i = 0; i < n; i++)
		wl += (size_t)snprintf(want + wl, sizeof want - wl, "%.9g%s",
		                       (double)v[i], i % 6 == 5 ? "\n" : " ");
	size_t len;
	char *got = (char *)check_slurp(p, &len);
	CHECK(rc == 0 && got && len == wl && memcmp(got, want, wl) == 0,
	      "text writer matches %%.9g, one row per line");
	if (got && (len != wl || memcmp(got, want, wl) != 0))
		fprintf(stderr, "got:\n%.*s\nwant:\n%s", (int)len, got, want);
	free(got);

	/* several MiB of text: the staging buffer is flushed many times */
	size_t n2 = 30000, d2 = 13;
	float *x = test_data(n2, d2);
	for (size_t i = 0; i < n2 * d2; i += 3)
		x[i] = (float)(int)(x[i] * 10);   /* mix in integers */
	p = tpath("big.txt");
	rc = write_path(p, VT_FMT_TEXT, (uint32_t)d2, -1, x, n2, 999, err,
	                sizeof err);
	got = (char *)check_slurp(p, &len);
	int good = rc == 0 && got != NULL;
	size_t at = 0;
	for (size_t i = 0; good && i < n2 * d2; i++) {
		char one[40];
		int m = snprintf(one, sizeof one, "%.9g%c", (double)x[i],
		                 i % d2 == d2 - 1 ? '\n' : ' ');
		good = at + (size_t)m <= len && memcmp(got + at, one, (size_t)m) == 0;
		if (!good)
			fprintf(stderr, "text value %zu: want %s", i, one);
		at += (size_t)m;
	}
	CHECK(good && at == len, "text writer: %zu rows, %zu bytes (%s)", n2, len,
	      err);
	free(got);
	free(x);

	/* every exponent: random bit patterns, then decimal edges */
	n2 = 10000;
	d2 = 100;
	x = xmalloc(n2 * d2 * sizeof(float));
	uint32_t st = 777;
	for (size_t i = 0; i < n2 * d2; i++) {
		st = st * 1103515245u + 12345u;
		uint32_t hi = st >> 16;
		st = st * 1103515245u + 12345u;
		uint32_t u = hi << 16 | st >> 16;
		memcpy(&x[i], &u, 4);
	}
	static const float edge[] = {1e-5f, 9.99999975e-5f, 1e-4f, 0.000123456789f,
	                             999999999.0f, 1e9f, 1e10f, 123456789.5f,
	                             0.5f, 1.17549435e-38f, 1.4e-45f, 3.4e38f,
	                             99999.9999f, 9.999999e8f, 1234567.125f,
	                             0.1f, 0.2f, 0.3f, 1.0f / 3.0f, 2.0f / 3.0f};
	for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
		x[2 * i] = edge[i];
		x[2 * i + 1] = -edge[i];
	}
	for (size_t i = 0; i < 100000; i++) {   /* near powers of ten */
		float base = powf(10.0f, (float)((int)(i % 80) - 42));
		uint32_t u;
		memcpy(&u, &base, 4);
		u += (uint32_t)(i / 80 % 64) - 32;
		memcpy(&x[1000 + i], &u, 4);
	}
	p = tpath("bits.txt");
	rc = write_path(p, VT_FMT_TEXT, (uint32_t)d2, (int64_t)n2, x, n2, 77,
	                err, sizeof err);
	got = (char *)check_slurp(p, &len);
	good = rc == 0 && got != NULL;
	at = 0;
	size_t nbad = 0;
	for (size_t i = 0; good && i < n2 * d2; i++) {
		char one[40];
		int m = snprintf(one, sizeof one, "%.9g%c", (double)x[i],
		                 i % d2 == d2 - 1 ? '\n' : ' ');
		if (at + (size_t)m > len ||
		    memcmp(got + at, one, (size_t)m) != 0) {
			if (nbad++ < 5)
				fprintf(stderr, "text value %zu (%a): want %s got "
				        "%.20s\n", i, (double)x[i], one, got + at);
			good = 0;
		}
		at += (size_t)m;
	}
	CHECK(good && at == len, "text writer: 1M values of every exponent "
	      "match snprintf %%.9g (%s)", err);
	free(got);
	free(x);
}

/* ------------------------------------------------------------------ */
/* formats that we only read: generated here */

static void test_vecs(void)
{
	/* bvecs: large enough to take several scratch pieces */
	size_t n = 20000, d = 128;
	bytes b = {0};
	for (size_t i = 0; i < n; i++) {
		put32(&b, (uint32_t)d);
		for (size_t j = 0; j < d; j++) {
			unsigned char c = (unsigned char)uval(i * d + j, 256);
			put(&b, &c, 1);
		}
	}
	write_file(tpath("a.bvecs"), b.p, b.n);
	static const size_t chunks[] = {1, 3, 4096, 30000};
	for (size_t ci = 0; ci < 4; ci++) {
		uint32_t dim;
		int64_t hr;
		float *out;
		size_t rows;
		char err[256] = "";
		int rc = read_path(tpath("a.bvecs"), VT_FMT_BVECS, 0, chunks[ci],
		                   &dim, &hr, &out, &rows, err, sizeof err);
		int good = rc == 0 && dim == d && rows == n && hr == -1;
		for (size_t i = 0; good && i < n * d; i++)
			good = out[i] == (float)uval(i, 256);
		free(out);
		CHECK(good, "bvecs %zux%zu, chunk %zu (%s)", n, d, chunks[ci],
		      err);
	}
	/* truncated and mismatched bvecs */
	write_file(tpath("t.bvecs"), b.p, 3 * (4 + d) + 50);
	expect_err("bvecs cut inside record 3", tpath("t.bvecs"), VT_FMT_BVECS,
	           0, VT_ETRUNC, "record 3");
	vt_put32(b.p + 7 * (4 + d), 64);
	write_file(tpath("m.bvecs"), b.p, 10 * (4 + d));
	expect_err("bvecs record 7 has another dimension", tpath("m.bvecs"),
	           VT_FMT_BVECS, 0, VT_EFORMAT, "record 7");
	free(b.p);

	/* ivecs: negative values, exact conversion */
	b = (bytes){0};
	n = 100;
	d = 5;
	for (size_t i = 0; i < n; i++) {
		put32(&b, (uint32_t)d);
		for (size_t j = 0; j < d; j++)
			put32(&b, (uint32_t)(int32_t)(sval(i * d + j) * 1000));
	}
	write_file(tpath("a.ivecs"), b.p, b.n);
	for (size_t chunk = 1; chunk <= 128; chunk *= 8) {
		uint32_t dim;
		int64_t hr;
		float *out;
		size_t rows;
		char err[256] = "";
		int rc = read_path(tpath("a.ivecs"), VT_FMT_IVECS, 0, chunk, &dim,
		                   &hr, &out, &rows, err, sizeof err);
		int good = rc == 0 && dim == d && rows == n;
		for (size_t i = 0; good && i < n * d; i++)
			good = out[i] == sval(i) * 1000;
		free(out);
		CHECK(good, "ivecs, chunk %zu (%s)", chunk, err);
	}
	free(b.p);

	/* fvecs errors: a mismatch caught on both read paths */
	b = (bytes){0};
	d = 4;
	for (size_t i = 0; i < 50; i++) {
		put32(&b, i == 33 ? 5 : (uint32_t)d);
		for (size_t j = 0; j < d; j++)
			putf(&b, sval(i * d + j));
	}
	write_file(tpath("m.fvecs"), b.p, b.n);
	for (size_t chunk = 1; chunk <= 1000; chunk *= 10) {
		uint32_t dim;
		int64_t hr;
		float *out;
		size_t rows;
		char err[256] = "";
		int rc = read_path(tpath("m.fvecs"), VT_FMT_FVECS, 0, chunk, &dim,
		                   &hr, &out, &rows, err, sizeof err);
		free(out);
		CHECK(rc == VT_EFORMAT && strstr(err, "record 33") &&
		      strstr(err, "dimension 5, expected 4") &&
		      strstr(err, "byte offset 660"),
		      "fvecs dimension mismatch, chunk %zu (%s)", chunk, err);
	}
	write_file(tpath("t.fvecs"), b.p, 20 * 20 + 9);
	expect_err("fvecs cut inside record 20", tpath("t.fvecs"), VT_FMT_FVECS,
	           0, VT_ETRUNC, "record 20");
	write_file(tpath("t2.fvecs"), b.p, 2);
	expect_err("fvecs of 2 bytes", tpath("t2.fvecs"), VT_FMT_FVECS, 0,
	           VT_ETRUNC, "record 0");
	write_file(tpath("e.fvecs"), b.p, 0);
	expect_err("empty fvecs", tpath("e.fvecs"), VT_FMT_FVECS, 0, VT_ETRUNC,
	           "empty");
	vt_put32(b.p, 0xffffffffu);
	write_file(tpath("neg.fvecs"), b.p, b.n);
	expect_err("fvecs dimension -1", tpath("neg.fvecs"), VT_FMT_FVECS, 0,
	           VT_ELIMIT, "dimension -1");
	vt_put32(b.p, 0x80000000u);
	write_file(tpath("big.fvecs"), b.p, b.n);
	expect_err("fvecs dimension 2^31", tpath("big.fvecs"), VT_FMT_FVECS, 0,
	           VT_ELIMIT, "out of range");
	vt_put32(b.p, 0);
	write_file(tpath("zero.fvecs"), b.p, b.n);
	expect_err("fvecs dimension 0", tpath("zero.fvecs"), VT_FMT_FVECS, 0,
	           VT_ELIMIT, "dimension 0");
	vt_put32(b.p, VT_FMT_MAX_DIM);
	write_file(tpath("max.fvecs"), b.p, b.n);
	expect_err("fvecs dimension 2^20, file too short", tpath("max.fvecs"),
	           VT_FMT_FVECS, 0, VT_ETRUNC, "record 0");
	free(b.p);
}

static void make_bin(const char *name, uint32_t n, uint32_t d, size_t es,
                     size_t rows_present, size_t extra)
{
	bytes b = {0};
	put32(&b, n);
	put32(&b, d);
	for (size_t i = 0; i < rows_present * d; i++) {
		if (es == 4) {
			putf(&b, sval(i) * 0.5f);
		} else {
			unsigned char c = (unsigned char)(int)sval(i);
			put(&b, &c, 1);
		}
	}
	for (size_t i = 0; i < extra; i++)
		put(&b, "x", 1);
	write_file(tpath(name), b.p, b.n);
	free(b.p);
}

static void test_bin(void)
{
	make_bin("a.u8bin", 40, 9, 1, 40, 0);
	make_bin("a.i8bin", 40, 9, 1, 40, 0);
	for (int k = 0; k < 2; k++) {
		uint32_t dim;
		int64_t hr;
		float *out;
		size_t rows;
		char err[256] = "";
		vt_format f = k ? VT_FMT_I8BIN : VT_FMT_U8BIN;
		int rc = read_path(tpath(k ? "a.i8bin" : "a.u8bin"), f, 0, 7,
		                   &dim, &hr, &out, &rows, err, sizeof err);
		int good = rc == 0 && dim == 9 && rows == 40 && hr == 40;
		for (size_t i = 0; good && i < 360; i++) {
			unsigned char c = (unsigned char)(int)sval(i);
			good = out[i] == (k ? (float)(int8_t)c : (float)c);
		}
		free(out);
		CHECK(good, "%s reads (%s)", vt_format_name(f), err);
	}
	make_bin("t.fbin", 40, 9, 4, 39, 7);
	expect_err("fbin with fewer rows than its header", tpath("t.fbin"),
	           VT_FMT_FBIN, 0, VT_ETRUNC, "row 39 of 40");
	make_bin("t.u8bin", 40, 9, 1, 12, 0);
	expect_err("u8bin with fewer rows than its header", tpath("t.u8bin"),
	           VT_FMT_U8BIN, 0, VT_ETRUNC, "row 12 of 40");
	make_bin("x.fbin", 4, 9, 4, 4, 1);
	expect_err("fbin with trailing data", tpath("x.fbin"), VT_FMT_FBIN, 0,
	           VT_EFORMAT, "trailing data");
	make_bin("d0.fbin", 4, 0, 4, 0, 0);
	expect_err("fbin dimension 0", tpath("d0.fbin"), VT_FMT_FBIN, 0,
	           VT_ELIMIT, "dimension 0");
	make_bin("d31.fbin", 4, 0x80000000u, 4, 0, 0);
	expect_err("fbin dimension 2^31", tpath("d31.fbin"), VT_FMT_FBIN, 0,
	           VT_ELIMIT, "2147483648");
	make_bin("huge.fbin", 0xffffffffu, VT_FMT_MAX_DIM, 4, 0, 0);
	expect_err("fbin of 2^32-1 rows x 2^20 dims, no data", tpath("huge.fbin"),
	           VT_FMT_FBIN, 0, VT_ETRUNC, "row 0 of 4294967295");
	write_file(tpath("h.fbin"), "\x01\x00\x00\x00\x02", 5);
	expect_err("fbin header cut short", tpath("h.fbin"), VT_FMT_FBIN, 0,
	           VT_ETRUNC, "header");
	make_bin("z.fbin", 0, 9, 4, 0, 0);
	uint32_t dim;
	int64_t hr;
	float *out;
	size_t rows;
	char err[256] = "";
	int rc = read_path(tpath("z.fbin"), VT_FMT_FBIN, 0, 3, &dim, &hr, &out,
	                   &rows, err, sizeof err);
	free(out);
	CHECK(rc == 0 && dim == 9 && hr == 0 && rows == 0,
	      "fbin of 0 rows (%s)", err);

	/* raw */
	float x[10];
	for (int i = 0; i < 10; i++)
		x[i] = sval((size_t)i);
	write_file(tpath("a.raw"), x, sizeof x);
	rc = read_path(tpath("a.raw"), VT_FMT_RAW, 5, 1, &dim, &hr, &out, &rows,
	               err, sizeof err);
	CHECK(rc == 0 && dim == 5 && hr == -1 && rows == 2 &&
	      same_bits(out, x, 10), "raw with a given dimension (%s)", err);
	free(out);
	expect_err("raw with a partial last row", tpath("a.raw"), VT_FMT_RAW, 3,
	           VT_ETRUNC, "row 3");
	expect_err("raw needs a dimension", tpath("a.raw"), VT_FMT_RAW, 0,
	           VT_EINVAL, "dimension");
	expect_err("raw dimension over the limit", tpath("a.raw"), VT_FMT_RAW,
	           VT_FMT_MAX_DIM + 1, VT_ELIMIT, "out of range");
	expect_err("text cannot be read", tpath("a.raw"), VT_FMT_TEXT, 0,
	           VT_EINVAL, "text");
}

static void test_idx(void)
{
	bytes b = {0};
	static const unsigned char m3[] = {0, 0, 8, 3};
	put(&b, m3, 4);
	put32be(&b, 3);
	put32be(&b, 4);
	put32be(&b, 5);
	for (size_t i = 0; i < 60; i++) {
		unsigned char c = (unsigned char)uval(i, 256);
		put(&b, &c, 1);
	}
	write_file(tpath("train-images-idx3-ubyte"), b.p, b.n);
	uint32_t dim;
	int64_t hr;
	float *out;
	size_t rows;
	char err[256] = "";
	int rc = read_path(tpath("train-images-idx3-ubyte"), VT_FMT_IDX, 0, 2,
	                   &dim, &hr, &out, &rows, err, sizeof err);
	int good = rc == 0 && dim == 20 && hr == 3 && rows == 3;
	for (size_t i = 0; good && i < 60; i++)
		good = out[i] == (float)uval(i, 256);
	free(out);
	CHECK(good, "idx3 images: 3 rows of 4x5 (%s)", err);
	write_file(tpath("t-idx3-ubyte"), b.p, b.n - 1);
	expect_err("idx cut short", tpath("t-idx3-ubyte"), VT_FMT_IDX, 0,
	           VT_ETRUNC, "row 2 of 3");
	b.p[2] = 0x0d;
	write_file(tpath("f-idx3"), b.p, b.n);
	expect_err("idx float type is unsupported", tpath("f-idx3"), VT_FMT_IDX,
	           0, VT_EUNSUP, "0x0d");
	b.p[2] = 8;
	b.p[3] = 0;
	write_file(tpath("n0-idx"), b.p, b.n);
	expect_err("idx with 0 dimensions", tpath("n0-idx"), VT_FMT_IDX, 0,
	           VT_EFORMAT, "0 dimensions");
	b.p[3] = 3;
	b.p[8] = 0x7f;   /* rows = 0x7f000004 x cols = huge */
	write_file(tpath("big-idx"), b.p, b.n);
	expect_err("idx with a huge row size", tpath("big-idx"), VT_FMT_IDX, 0,
	           VT_ELIMIT, "out of range");
	b.p[8] = 0;
	b.p[11] = 0;   /* 4 x 0 */
	write_file(tpath("zero-idx"), b.p, b.n);
	expect_err("idx with a 0 extent", tpath("zero-idx"), VT_FMT_IDX, 0,
	           VT_ELIMIT, "out of range");
	free(b.p);

	b = (bytes){0};
	static const unsigned char m1[] = {0, 0, 8, 1};
	put(&b, m1, 4);
	put32be(&b, 10);
	for (unsigned char c = 0; c < 10; c++)
		put(&b, &c, 1);
	write_file(tpath("labels-idx1-ubyte"), b.p, b.n);
	rc = read_path(tpath("labels-idx1-ubyte"), VT_FMT_IDX, 0, 4, &dim, &hr,
	               &out, &rows, err, sizeof err);
	good = rc == 0 && dim == 1 && rows == 10;
	for (size_t i = 0; good && i < 10; i++)
		good = out[i] == (float)i;
	free(out);
	CHECK(good, "idx1 labels: 10 rows of dim 1 (%s)", err);
	free(b.p);
}

/* ------------------------------------------------------------------ */
/* npy */

static void npy_fixture(const char *file, uint32_t want_dim, size_t want_rows,
                        int kind, double param)
{
	/* kind 0: sval * param; kind 1: uval mod param */
	uint32_t dim = 0;
	int64_t hr = 0;
	float *out = NULL;
	size_t rows = 0;
	char err[256] = "";
	int rc = read_path(fpath(file), VT_FMT_NPY, 0, 2, &dim, &hr, &out, &rows,
	                   err, sizeof err);
	int good = rc == 0 && dim == want_dim && rows == want_rows &&
	           hr == (int64_t)want_rows;
	for (size_t i = 0; good && i < rows * dim; i++) {
		double v = kind ? uval(i, param) : sval(i) * param;
		good = out[i] == (float)v;
	}
	free(out);
	CHECK(good, "npy fixture %s: %zu x %u (%s)", file, want_rows, want_dim,
	      err);
}

static void test_npy_fixtures(void)
{
	struct stat st;
	if (stat(fpath("f4_v1.npy"), &st) != 0) {
		check_skip("npy fixtures not found in %s", fixdir);
		return;
	}
	npy_fixture("f4_v1.npy", 3, 5, 0, 0.5);
	npy_fixture("f4_v2.npy", 3, 5, 0, 0.5);
	npy_fixture("f4_v3.npy", 3, 5, 0, 0.5);
	npy_fixture("f2_v1.npy", 3, 5, 0, 0.5);
	npy_fixture("f8_v1.npy", 3, 5, 0, 0.5);
	npy_fixture("i1_v1.npy", 3, 5, 0, 1);
	npy_fixture("i2_v2.npy", 3, 5, 0, 1);
	npy_fixture("i4_v3.npy", 3, 5, 0, 1);
	npy_fixture("u1_v1.npy", 3, 5, 1, 256);
	npy_fixture("u2_v1.npy", 3, 5, 1, 65536);
	npy_fixture("u4_v1.npy", 3, 5, 1, 4294967296.0);
	npy_fixture("be_f4.npy", 3, 5, 0, 0.5);
	npy_fixture("be_f2.npy", 3, 5, 0, 0.5);
	npy_fixture("be_i4.npy", 3, 5, 0, 1);
	npy_fixture("oned.npy", 1, 7, 0, 0.5);
	npy_fixture("threed.npy", 12, 2, 1, 256);
	npy_fixture("empty.npy", 4, 0, 0, 1);

	uint32_t dim;
	int64_t hr;
	float *out;
	size_t rows;
	char err[256] = "";
	int rc = read_path(fpath("f2_special.npy"), VT_FMT_NPY, 0, 1, &dim, &hr,
	                   &out, &rows, err, sizeof err);
	int good = rc == 0 && dim == 6 && rows == 2;
	if (good) {
		static const float want[] = {0.0f, -0.0f, 5.9604645e-08f,
		                             -5.9604645e-08f, 6.0975552e-05f,
		                             6.1035156e-05f, 65504.0f, -65504.0f};
		good = same_bits(out, want, 8) && isinf(out[8]) && out[8] > 0 &&
		       isinf(out[9]) && out[9] < 0 && isnan(out[10]) &&
		       out[11] == 0.333251953125f;
	}
	free(out);
	CHECK(good, "npy <f2 specials: signed zeros, subnormals, max, inf, nan "
	      "(%s)", err);

	expect_err("npy fortran_order", fpath("fortran.npy"), VT_FMT_NPY, 0,
	           VT_EUNSUP,
	           "fortran_order arrays are not supported; save with C order");
	expect_err("npy complex dtype", fpath("c8.npy"), VT_FMT_NPY, 0,
	           VT_EUNSUP, "'<c8'");
	expect_err("npy bool dtype", fpath("b1.npy"), VT_FMT_NPY, 0, VT_EUNSUP,
	           "'|b1'");
	expect_err("npy structured dtype", fpath("struct.npy"), VT_FMT_NPY, 0,
	           VT_EUNSUP, "structured");
	expect_err("npy 0-d array", fpath("zerod.npy"), VT_FMT_NPY, 0,
	           VT_EUNSUP, "0-d");
}

/* An npy file with header text h (padded to 64) and nbytes of data. */
static void make_npy(const char *name, int major, const char *h,
                     size_t nbytes)
{
	bytes b = {0};
	size_t pre = major == 1 ? 10 : 12;
	size_t hl = strlen(h);
	size_t total = (pre + hl + 1 + 63) / 64 * 64;
	put(&b, "\x93NUMPY", 6);
	unsigned char v[2] = {(unsigned char)major, 0};
	put(&b, v, 2);
	if (major == 1) {
		unsigned char l[2];
		vt_put16(l, (uint16_t)(total - pre));
		put(&b, l, 2);
	} else {
		put32(&b, (uint32_t)(total - pre));
	}
	put(&b, h, hl);
	while (b.n < total - 1)
		put(&b, " ", 1);
	put(&b, "\n", 1);
	for (size_t i = 0; i < nbytes / 4; i++)
		putf(&b, sval(i) * 0.5f);
	for (size_t i = 0; i < nbytes % 4; i++)
		put(&b, "", 1);
	write_file(tpath(name), b.p, b.n);
	free(b.p);
}

static void test_npy_headers(void)
{
	static const char *okh[] = {
		"{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }",
		"{'shape': (5, 3), 'fortran_order': False, 'descr': '<f4'}",
		"{\"fortran_order\":False,\"shape\":(5,3),\"descr\":\"<f4\"}",
		"  {  'descr' :  '<f4' ,\n 'shape' : ( 5 , 3 , ) , "
		"'fortran_order' : False , }  ",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (5L, 3L), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), "
		"'extra': [1, (2, 'x'), {'a': None}], }",
		"{'descr': '<f4', 'fortran_order': True, 'shape': (15, 1), }",
		"{'descr': '<f4', 'fortran_order': False, "
		"'shape': (5                   , 3), }",
	};
	for (size_t i = 0; i < sizeof okh / sizeof okh[0]; i++) {
		for (int major = 1; major <= 3; major++) {
			make_npy("h.npy", major, okh[i], 60);
			uint32_t dim;
			int64_t hr;
			float *out;
			size_t rows;
			char err[256] = "";
			int rc = read_path(tpath("h.npy"), VT_FMT_NPY, 0, 4, &dim, &hr,
			                   &out, &rows, err, sizeof err);
			uint32_t wd = i == 6 ? 1 : 3;
			int good = rc == 0 && dim == wd && hr == 15 / wd &&
			           rows == 15 / wd;
			for (size_t j = 0; good && j < 15; j++)
				good = out[j] == sval(j) * 0.5f;
			free(out);
			CHECK(good, "npy v%d header spelling %zu (%s)", major, i, err);
		}
	}
	static const struct {
		const char *h;
		int code;
		const char *msg;
	} bad[] = {
		{"{'descr': '<f4', 'fortran_order': False}", VT_EFORMAT, "shape"},
		{"{'descr': '<f4', 'shape': (5, 3)}", VT_EFORMAT, "fortran_order"},
		{"{'fortran_order': False, 'shape': (5, 3)}", VT_EFORMAT, "descr"},
		{"['descr', '<f4']", VT_EFORMAT, "dictionary"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (5)}",
		 VT_EFORMAT, "shape"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (5, -3)}",
		 VT_EFORMAT, "shape"},
		{"{'descr': '<f4', 'fortran_order': maybe, 'shape': (5, 3)}",
		 VT_EFORMAT, "fortran_order"},
		{"{'descr': '<f4, 'fortran_order': False, 'shape': (5, 3)}",
		 VT_EFORMAT, NULL},
		{"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
		 "'shape': (5, 3)}", VT_EFORMAT, "twice"},
		{"{'descr': '<f4' 'fortran_order': False, 'shape': (5, 3)}",
		 VT_EFORMAT, "expected"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3)} x",
		 VT_EFORMAT, "after"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3)",
		 VT_EFORMAT, NULL},
		{"{'descr': '<c16', 'fortran_order': False, 'shape': (5, 3)}",
		 VT_EUNSUP, "'<c16'"},
		{"{'descr': '|f4', 'fortran_order': False, 'shape': (5, 3)}",
		 VT_EUNSUP, "'|f4'"},
		{"{'descr': 'f4', 'fortran_order': False, 'shape': (5, 3)}",
		 VT_EUNSUP, "'f4'"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (5, 0)}",
		 VT_ELIMIT, "dimension 0"},
		{"{'descr': '<f4', 'fortran_order': False, "
		 "'shape': (5, 2147483648)}", VT_ELIMIT, "2147483648"},
		{"{'descr': '<f4', 'fortran_order': False, "
		 "'shape': (5, 1024, 2048)}", VT_ELIMIT, "2097152"},
		{"{'descr': '<f4', 'fortran_order': False, "
		 "'shape': (1152921504606846976, 128)}", VT_ELIMIT, "too large"},
		{"{'descr': '<f4', 'fortran_order': False, "
		 "'shape': (99999999999999999999999, 3)}", VT_ELIMIT, "too large"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': ()}",
		 VT_EUNSUP, "0-d"},
		{"{'descr': '<f4', 'fortran_order': True, 'shape': (5, 3)}",
		 VT_EUNSUP, "save with C order"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char name[48];
		make_npy("bad.npy", 1, bad[i].h, 60);
		snprintf(name, sizeof name, "npy bad header %zu", i);
		expect_err(name, tpath("bad.npy"), VT_FMT_NPY, 0, bad[i].code,
		           bad[i].msg);
	}
	const char *h53 =
		"{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }";
	make_npy("t.npy", 2, h53, 59);
	expect_err("npy data cut short", tpath("t.npy"), VT_FMT_NPY, 0,
	           VT_ETRUNC, "row 4 of 5");
	make_npy("x.npy", 1, h53, 64);
	expect_err("npy trailing data", tpath("x.npy"), VT_FMT_NPY, 0,
	           VT_EFORMAT, "trailing data after the 5 rows");

	/* header sizes and versions, written by hand */
	unsigned char b[16] = "\x93NUMPY\x02\x00";
	vt_put32(b + 8, 0x7fffffffu);
	write_file(tpath("hl.npy"), b, 12);
	expect_err("npy header length 2^31-1", tpath("hl.npy"), VT_FMT_NPY, 0,
	           VT_ELIMIT, "2147483647");
	vt_put32(b + 8, (1u << 20) + 1);
	write_file(tpath("hl.npy"), b, 12);
	expect_err("npy header just over 1 MiB", tpath("hl.npy"), VT_FMT_NPY, 0,
	           VT_ELIMIT, "limit");
	vt_put32(b + 8, 1000);
	write_file(tpath("hl.npy"), b, 12);
	expect_err("npy header cut short", tpath("hl.npy"), VT_FMT_NPY, 0,
	           VT_ETRUNC, "header");
	b[6] = 4;
	write_file(tpath("v4.npy"), b, 16);
	expect_err("npy version 4.0", tpath("v4.npy"), VT_FMT_NPY, 0,
	           VT_EVERSION, "4.0");
	write_file(tpath("m.npy"), "\x93NUMPX\x01\x00\x10\x00", 10);
	expect_err("npy bad magic", tpath("m.npy"), VT_FMT_NPY, 0, VT_EMAGIC,
	           "magic");
	write_file(tpath("s.npy"), "\x93NUM", 4);
	expect_err("npy of 4 bytes", tpath("s.npy"), VT_FMT_NPY, 0, VT_ETRUNC,
	           "header");
	char nul[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3)}";
	nul[3] = 0;
	bytes bb = {0};
	put(&bb, "\x93NUMPY\x01\x00\x40\x00", 10);
	put(&bb, nul, sizeof nul - 1);
	while (bb.n < 74)
		put(&bb, " ", 1);
	write_file(tpath("nul.npy"), bb.p, bb.n);
	free(bb.p);
	expect_err("npy header with a NUL byte", tpath("nul.npy"), VT_FMT_NPY, 0,
	           VT_EFORMAT, "NUL");
}

/* ------------------------------------------------------------------ */
/* pipes: detection by peeking, reading and writing without seeking */

static pid_t feed_pipe(const char *path, int *rfd)
{
	int fds[2];
	if (pipe(fds) != 0)
		exit(2);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		size_t n;
		unsigned char *b = check_slurp(path, &n);
		/* dribble it out in odd pieces */
		size_t off = 0, step = 1;
		while (b && off < n) {
			size_t m = n - off < step ? n - off : step;
			if (write(fds[1], b + off, m) < 0)
				_exit(1);
			off += m;
			step = step * 3 + 1;
		}
		_exit(0);
	}
	close(fds[1]);
	*rfd = fds[0];
	return pid;
}

static void pipe_case(const char *path, const char *name_hint,
                      vt_format want, size_t chunk)
{
	float *ref;
	size_t ref_rows;
	uint32_t ref_dim, dim = 0;
	int64_t hr;
	char err[256] = "";
	int rc = read_path(path, want, 0, 1000, &ref_dim, &hr, &ref, &ref_rows,
	                   err, sizeof err);
	int rfd;
	pid_t pid = feed_pipe(path, &rfd);
	vt_rd rd;
	vt_rd_from_fd(&rd, rfd, "(pipe)");
	const unsigned char *h;
	ssize_t hn = vt_rd_peek(&rd, 16, &h);
	vt_format f = VT_FMT_AUTO;
	int drc = hn >= 0 ? vt_format_detect(h, (size_t)hn, name_hint, &f) : -1;
	float *out = NULL;
	size_t rows = 0;
	int rc2 = -1;
	if (drc == 0 && f == want)
		rc2 = read_rd(&rd, f, 0, chunk, &dim, &hr, &out, &rows, err,
		              sizeof err);
	vt_rd_close(&rd);
	close(rfd);
	int status;
	waitpid(pid, &status, 0);
	CHECK(rc == 0 && drc == 0 && f == want && rc2 == 0 && dim == ref_dim &&
	      rows == ref_rows && same_bits(out, ref, rows * dim),
	      "through a pipe: detect %s by %s and read %zu rows (%s)",
	      vt_format_name(want), name_hint ? "name" : "magic", rows, err);
	free(out);
	free(ref);
}

static void test_pipes(void)
{
	pipe_case(tpath("rt_0_128_257_1.npy"), NULL, VT_FMT_NPY, 3);
	pipe_case(tpath("rt_1_13_257_0.fvecs"), "x.fvecs", VT_FMT_FVECS, 50);
	pipe_case(tpath("a.bvecs"), "-.bvecs", VT_FMT_BVECS, 999);
	pipe_case(tpath("train-images-idx3-ubyte"), NULL, VT_FMT_IDX, 2);
	pipe_case(tpath("rt_2_3000_257_0.fbin"), "y.fbin", VT_FMT_FBIN, 64);

	/* npy/fbin to a pipe without a row count: held, then header and rows */
	float x[12];
	for (int i = 0; i < 12; i++)
		x[i] = sval((size_t)i);
	int fds[2];
	if (pipe(fds) != 0)
		exit(2);
	vt_out o;
	memset(&o, 0, sizeof o);
	o.fd = fds[1];
	o.is_stdout = 1;
	o.slot = -1;
	vt_vecwriter *w = NULL;
	char err[256] = "";
	int rc = vt_vecwriter_open(&w, &o, VT_FMT_FBIN, 4, -1, err, sizeof err);
	if (rc == 0)
		rc = vt_vecwriter_write(w, x, 3, err, sizeof err);
	uint64_t before = o.written;
	if (rc == 0)
		rc = vt_vecwriter_finish(w, err, sizeof err);
	vt_vecwriter_free(w);
	unsigned char got[56];
	CHECK(rc == 0 && before == 0 && o.written == 56 && read(fds[0], got, 56) == 56 &&
	      vt_le32(got) == 3 && vt_le32(got + 4) == 4 && memcmp(got + 8, x, 48) == 0,
	      "fbin of no row count to a pipe: held, then the header and the rows (%s)", err);
	close(fds[0]);
	close(fds[1]);
	if (pipe(fds) != 0)
		exit(2);
	memset(&o, 0, sizeof o);
	o.fd = fds[1];
	o.is_stdout = 1;
	o.slot = -1;
	w = NULL;
	rc = vt_vecwriter_open(&w, &o, VT_FMT_NPY, 4, 3, err, sizeof err);
	if (rc == 0)
		rc = vt_vecwriter_write(w, x, 3, err, sizeof err);
	if (rc == 0)
		rc = vt_vecwriter_finish(w, err, sizeof err);
	vt_vecwriter_free(w);
	close(fds[1]);
	vt_rd rd;
	vt_rd_from_fd(&rd, fds[0], "(pipe)");
	uint32_t dim = 0;
	int64_t hr;
	float *out = NULL;
	size_t rows = 0;
	if (rc == 0)
		rc = read_rd(&rd, VT_FMT_NPY, 0, 2, &dim, &hr, &out, &rows, err,
		             sizeof err);
	vt_rd_close(&rd);
	close(fds[0]);
	CHECK(rc == 0 && dim == 4 && rows == 3 && same_bits(out, x, 12),
	      "npy with a known row count through a pipe (%s)", err);
	free(out);
}

static void test_writer_errors(void)
{
	vt_out o;
	vt_vecwriter *w = NULL;
	char err[256] = "";
	float x[8] = {0};
	const char *p = tpath("w.npy");
	remember(p);
	vt_out_open(&o, p);
	int rc = vt_vecwriter_open(&w, &o, VT_FMT_BVECS, 4, -1, err, sizeof err);
	CHECK(rc == VT_EUNSUP && !w, "bvecs cannot be written (%s)", err);
	rc = vt_vecwriter_open(&w, &o, VT_FMT_NPY, 0, -1, err, sizeof err);
	CHECK(rc == VT_EINVAL && !w, "dimension 0 is refused (%s)", err);
	rc = vt_vecwriter_open(&w, &o, VT_FMT_FBIN, 4, (int64_t)1 << 32, err,
	                       sizeof err);
	CHECK(rc == VT_ELIMIT && !w, "fbin of 2^32 rows is refused (%s)", err);
	rc = vt_vecwriter_open(&w, &o, VT_FMT_NPY, 4, 1, err, sizeof err);
	int rc2 = rc ? rc : vt_vecwriter_write(w, x, 2, err, sizeof err);
	CHECK(rc == 0 && rc2 == VT_EINVAL, "more rows than announced (%s)", err);
	rc = vt_vecwriter_finish(w, err, sizeof err);
	CHECK(rc == VT_ETRUNC && strstr(err, "0 rows of the 1"),
	      "fewer rows than announced (%s)", err);
	vt_vecwriter_free(w);
	vt_vecwriter_free(NULL);
	vt_vecreader_free(NULL);
	vt_out_abort(&o);
}

static int have_numpy(void)
{
	return access("/usr/bin/python3", X_OK) == 0 &&
	       system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0;
}

static void test_numpy_reads_ours(void)
{
	if (!have_numpy()) {
		check_skip("numpy reads our npy: /usr/bin/python3 with numpy not "
		     "available");
		return;
	}
	size_t n = 300, d = 7;
	float *x = xmalloc(n * d * sizeof(float));
	for (size_t i = 0; i < n * d; i++)
		x[i] = sval(i) * 0.5f;
	for (int known = 0; known < 2; known++) {
		char err[256] = "", cmd[1024];
		const char *p = tpath(known ? "np1.npy" : "np0.npy");
		int rc = write_path(p, VT_FMT_NPY, (uint32_t)d,
		                    known ? (int64_t)n : -1, x, n, 17, err,
		                    sizeof err);
		snprintf(cmd, sizeof cmd,
		         "/usr/bin/python3 -c \"import numpy as np, sys\n"
		         "a = np.load(sys.argv[1])\n"
		         "i = np.arange(%zu * %zu)\n"
		         "e = (((i * 7) %% 23 - 11) * 0.5).astype('<f4')"
		         ".reshape(%zu, %zu)\n"
		         "sys.exit(0 if a.dtype == np.dtype('<f4') and "
		         "a.shape == e.shape and (a == e).all() and "
		         "a.flags.c_contiguous else 1)\" %s",
		         n, d, n, d, p);
		int st = rc == 0 ? system(cmd) : -1;
		CHECK(st == 0, "numpy reads our npy (%s row count)",
		      known ? "known" : "patched");
	}
	/* fbin read with numpy as raw u32 header + f32 */
	char err[256] = "", cmd[1024];
	const char *p = tpath("np.fbin");
	int rc = write_path(p, VT_FMT_FBIN, (uint32_t)d, -1, x, n, 50, err,
	                    sizeof err);
	snprintf(cmd, sizeof cmd,
	         "/usr/bin/python3 -c \"import numpy as np, sys\n"
	         "h = np.fromfile(sys.argv[1], dtype='<u4', count=2)\n"
	         "a = np.fromfile(sys.argv[1], dtype='<f4', offset=8)\n"
	         "i = np.arange(%zu * %zu)\n"
	         "e = (((i * 7) %% 23 - 11) * 0.5).astype('<f4')\n"
	         "sys.exit(0 if list(h) == [%zu, %zu] and (a == e).all() "
	         "else 1)\" %s", n, d, n, d, p);
	CHECK(rc == 0 && system(cmd) == 0, "numpy reads our patched fbin");
	free(x);
}

/* Truncations and corruptions of valid files: never a crash, always a
 * clean status.  Truncating a file with a row count must be an error. */
static void test_fuzz(void)
{
	static const struct {
		const char *file;
		vt_format f;
		int counted;
	} in[] = {
		{"rt_0_13_257_1.npy", VT_FMT_NPY, 1},
		{"rt_2_13_257_0.fbin", VT_FMT_FBIN, 1},
		{"rt_1_13_257_1.fvecs", VT_FMT_FVECS, 0},
		{"a.ivecs", VT_FMT_IVECS, 0},
		{"train-images-idx3-ubyte", VT_FMT_IDX, 1},
		{"a.u8bin", VT_FMT_U8BIN, 1},
	};
	uint32_t s = 99;
	for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
		size_t n;
		unsigned char *b = check_slurp(tpath(in[k].file), &n);
		if (!b) {
			CHECK(0, "fuzz %s: missing input", in[k].file);
			continue;
		}
		int bad = 0, errs = 0;
		size_t step = n > 4000 ? 37 : n > 1000 ? 5 : 1;
		for (size_t len = 0; len < n; len += step) {
			write_file(tpath("fz"), b, len);
			uint32_t dim;
			int64_t hr;
			float *out;
			size_t rows;
			char err[256] = "";
			int rc = read_path(tpath("fz"), in[k].f, 0, 3, &dim, &hr,
			                   &out, &rows, err, sizeof err);
			free(out);
			if (rc < -16 || (rc < 0 && !err[0]) ||
			    (in[k].counted && rc == 0))
				bad++;
			errs += rc < 0;
		}
		unsigned char *c = xmalloc(n);
		for (int it = 0; it < 400; it++) {
			memcpy(c, b, n);
			int flips = 1 + (int)(s % 4);
			for (int j = 0; j < flips; j++) {
				s = s * 1103515245u + 12345u;
				size_t at = (s >> 8) % (n < 140 ? n : 140);
				s = s * 1103515245u + 12345u;
				c[at] = (unsigned char)(s >> 16);
			}
			write_file(tpath("fz"), c, n);
			uint32_t dim;
			int64_t hr;
			float *out;
			size_t rows;
			char err[256] = "";
			int rc = read_path(tpath("fz"), in[k].f, 7, 5, &dim, &hr,
			                   &out, &rows, err, sizeof err);
			free(out);
			if (rc < -16 || (rc < 0 && !err[0]))
				bad++;
		}
		free(c);
		free(b);
		CHECK(bad == 0, "fuzz %s: %d truncations failed cleanly, 400 "
		      "corruptions handled", in[k].file, errs);
	}
}

/* Every half value, against a reference built with ldexp. */
static void test_half_exhaustive(void)
{
	bytes b = {0};
	const char *h =
		"{'descr': '<f2', 'fortran_order': False, 'shape': (65536,), }";
	size_t pre = 10, hl = strlen(h), total = (pre + hl + 1 + 63) / 64 * 64;
	put(&b, "\x93NUMPY\x01\x00", 8);
	unsigned char l[2];
	vt_put16(l, (uint16_t)(total - pre));
	put(&b, l, 2);
	put(&b, h, hl);
	while (b.n < total - 1)
		put(&b, " ", 1);
	put(&b, "\n", 1);
	for (uint32_t v = 0; v < 65536; v++) {
		unsigned char c[2];
		vt_put16(c, (uint16_t)v);
		put(&b, c, 2);
	}
	write_file(tpath("allhalf.npy"), b.p, b.n);
	free(b.p);
	uint32_t dim;
	int64_t hr;
	float *out;
	size_t rows;
	char err[256] = "";
	int rc = read_path(tpath("allhalf.npy"), VT_FMT_NPY, 0, 10000, &dim, &hr,
	                   &out, &rows, err, sizeof err);
	int bad = rc != 0 || rows != 65536 || dim != 1;
	for (uint32_t v = 0; !bad && v < 65536; v++) {
		uint32_t e = (v >> 10) & 31, m = v & 1023;
		float want;
		if (e == 0)
			want = ldexpf((float)m, -24);
		else if (e < 31)
			want = ldexpf((float)(m | 1024), (int)e - 25);
		else
			want = m ? NAN : INFINITY;
		if (v & 0x8000)
			want = -want;
		float g = out[v];
		if (e == 31 && m) {
			uint32_t gb;
			memcpy(&gb, &g, 4);
			bad = !isnan(g) || ((gb >> 13) & 1023) != m ||
			      (gb >> 31) != (v >> 15);
		} else {
			bad = memcmp(&g, &want, 4) != 0;
		}
		if (bad)
			fprintf(stderr, "half 0x%04x: got %a want %a\n", v,
			        (double)g, (double)want);
	}
	free(out);
	CHECK(!bad, "npy <f2: all 65536 half values convert exactly (%s)", err);
}

/* Reads into destination buffers at every alignment mod the page, so both
 * the direct read and the read through the scratch block are taken. */
static void test_alignment(void)
{
	size_t n = 300, d = 1000;
	float *x = test_data(n, d);
	char err[256] = "";
	static const vt_format fm[] = {VT_FMT_FBIN, VT_FMT_FVECS, VT_FMT_RAW};
	for (int k = 0; k < 3; k++) {
		char name[32];
		snprintf(name, sizeof name, "al.%s", vt_format_name(fm[k]));
		int rc = write_path(tpath(name), fm[k], (uint32_t)d, -1, x, n, 64,
		                    err, sizeof err);
		int good = rc == 0;
		unsigned char *mem = xmalloc(n * d * 4 + 8192);
		for (size_t off = 0; good && off < 4096 + 64; off += 4) {
			if (off > 128 && off < 4096 - 128 && off % 512)
				continue;
			float *dst = (float *)(void *)(mem + off);
			vt_rd rd;
			vt_vecreader *r;
			vt_rd_open(&rd, tpath(name));
			rc = vt_vecreader_open(&r, &rd, fm[k], (uint32_t)d, err,
			                       sizeof err);
			size_t got = 0;
			while (rc == 0 && got < n) {
				int64_t m = vt_vecreader_read(r, dst + got * d,
				                              n - got, err, sizeof err);
				if (m <= 0) {
					rc = m < 0 ? (int)m : -1;
					break;
				}
				got += (size_t)m;
			}
			good = rc == 0 && got == n && same_bits(dst, x, n * d) &&
			       vt_vecreader_read(r, dst, n, err, sizeof err) == 0;
			vt_vecreader_free(r);
			vt_rd_close(&rd);
		}
		free(mem);
		CHECK(good, "%s read into buffers at every page alignment (%s)",
		      vt_format_name(fm[k]), err);
	}
	free(x);
}

static void cleanup(void)
{
	for (int i = 0; i < nmade; i++)
		unlink(made[i]);
	rmdir(tmpdir);
}

/* ---- HDF5 (lib/stream/hdf5.c), with files written by libhdf5 itself ---- */

/* Write dataset name (rank dims, stored as type t, data in memory as type
 * mt) into the HDF5 file path (created when create), chunked by chunk when
 * it is not NULL. */
static int h5_put(const char *path, int create, const char *name, int rank,
                  const hsize_t *dims, const hsize_t *chunk, hid_t t, hid_t mt,
                  const void *data)
{
	hid_t f = create ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
	                 : H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	if (f < 0)
		return -1;
	hid_t s = H5Screate_simple(rank, dims, NULL);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (chunk)
		H5Pset_chunk(dcpl, rank, chunk);
	hid_t d = H5Dcreate2(f, name, t, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	herr_t rc = d >= 0 && data ? H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
	if (d >= 0)
		H5Dclose(d);
	H5Pclose(dcpl);
	H5Sclose(s);
	H5Fclose(f);
	remember(path);
	return d < 0 || rc < 0 ? -1 : 0;
}

/* Read all rows of path's dataset (NULL: the default) in blocks of block
 * rows into out (cap floats); returns the rows, or the error code. */
static int64_t h5_read_all(const char *path, const char *dataset, size_t block, float *out,
                           size_t cap, uint32_t *dim, int64_t *rows, char *err, size_t errlen)
{
	vt_vecreader *r;
	int rc = vt_vecreader_open_hdf5(&r, path, dataset, err, errlen);
	if (rc < 0)
		return rc;
	*dim = vt_vecreader_dim(r);
	*rows = vt_vecreader_rows(r);
	int64_t got = 0, n = 0;
	while (((size_t)got + block) * *dim <= cap &&
	       (n = vt_vecreader_read(r, out + got * *dim, block, err, errlen)) > 0)
		got += n;
	vt_vecreader_free(r);
	return n < 0 ? n : got;
}

static void test_hdf5(void)
{
	vt_format f;
#define DET(h, n, p, want) (vt_format_detect(h, n, p, &f) == 0 && f == (want))
	static const unsigned char sig[] = "\x89HDF\r\n\x1a\n";
	static const unsigned char fv[] = {128, 0, 0, 0, 0, 0, 0, 0};
	CHECK(vt_format_parse("hdf5", &f) == 0 && f == VT_FMT_HDF5 &&
	      strcmp(vt_format_name(VT_FMT_HDF5), "hdf5") == 0, "hdf5 parses and prints back");
	CHECK(DET(sig, 8, NULL, VT_FMT_HDF5) && DET(sig, 8, "x.fvecs", VT_FMT_HDF5),
	      "detect the HDF5 signature, before an extension");
	CHECK(DET(fv, 8, "a.hdf5", VT_FMT_HDF5) && DET(fv, 8, "A.H5", VT_FMT_HDF5) &&
	      vt_format_detect(fv, 8, "a.hdf", &f) == VT_EMAGIC, "extensions .hdf5 and .h5");
#undef DET

	/* FILE:NAME */
	const char *ex = tpath("exists.bin");
	char arg[256];
	FILE *fp = fopen(ex, "w");
	if (fp)
		fclose(fp);
	remember(ex);
	snprintf(arg, sizeof arg, "%s:train", ex);
	CHECK(vt_hdf5_split("a.hdf5:test") == 6 && vt_hdf5_split("d/a.H5:/g/x:y") == 6 &&
	      vt_hdf5_split("a.hdf5") == 6 && vt_hdf5_split("a.hdf5:") == 7 &&
	      vt_hdf5_split("nosuch.npy:x") == 12 && vt_hdf5_split(arg) == strlen(ex),
	      "FILE:NAME splits after .hdf5/.h5 or an existing file, else not");
	const char *colon = tpath("a:b.hdf5");
	fp = fopen(colon, "w");
	if (fp)
		fclose(fp);
	remember(colon);
	CHECK(vt_hdf5_split(colon) == strlen(colon), "an existing file with a colon is whole");

	/* float64, contiguous; int64 chunked across columns; uint8 */
	enum { N = 7, D = 3 };
	double f8[N][D];
	int64_t i8[N][D];
	uint8_t u1[N][D];
	for (int i = 0; i < N; i++)
		for (int j = 0; j < D; j++) {
			f8[i][j] = (i * 10 + j) * 0.1 - 1.5;
			i8[i][j] = (int64_t)(i * D + j) * 123456789012345LL - 3;
			u1[i][j] = (uint8_t)(i * 40 + j);
		}
	i8[0][0] = INT64_MIN;
	i8[0][1] = INT64_MAX;
	i8[0][2] = (1LL << 53) + 1;
	f8[1][0] = 1e300;
	hsize_t dims[3] = {N, D, 2}, ch[2] = {3, 2};
	const char *p = tpath("t.hdf5");
	int ok = h5_put(p, 1, "train", 2, dims, NULL, H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, f8) == 0 &&
	         h5_put(p, 0, "ints", 2, dims, ch, H5T_STD_I64LE, H5T_NATIVE_INT64, i8) == 0 &&
	         h5_put(p, 0, "bytes", 2, dims, NULL, H5T_STD_U8LE, H5T_NATIVE_UINT8, u1) == 0 &&
	         h5_put(p, 0, "cube", 3, dims, NULL, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, NULL) == 0;
	CHECK(ok, "libhdf5 writes the test file");
	float out[64];
	uint32_t dim = 0;
	int64_t rows = 0;
	char err[512];
	int64_t n = h5_read_all(p, NULL, 2, out, 64, &dim, &rows, err, sizeof err);
	int same = n == N && dim == D && rows == N;
	for (int i = 0; same && i < N * D; i++) {
		float want = (float)f8[i / D][i % D];
		same = i == D ? isinf(out[i]) && out[i] > 0 : out[i] == want;
	}
	CHECK(same, "big-endian float64 'train' (the default) reads in blocks of 2 rows, "
	      "1e300 as +inf (%lld rows: %s)", (long long)n, n < 0 ? err : "");
	n = h5_read_all(p, "ints", 3, out, 64, &dim, &rows, err, sizeof err);
	same = n == N && dim == D;
	for (int i = 0; same && i < N * D; i++)
		same = out[i] == (float)i8[i / D][i % D];
	CHECK(same, "int64, chunks of 3 x 2, rounds as (float) (%s)", n < 0 ? err : "ok");
	n = h5_read_all(p, "/bytes", 5, out, 64, &dim, &rows, err, sizeof err);
	same = n == N;
	for (int i = 0; same && i < N * D; i++)
		same = out[i] == (float)u1[i / D][i % D];
	CHECK(same, "uint8 by a path name (%s)", n < 0 ? err : "ok");

	/* errors */
	n = h5_read_all(p, "nope", 2, out, 64, &dim, &rows, err, sizeof err);
	CHECK(n == VT_EINVAL && strstr(err, "no dataset 'nope'") && strstr(err, "ints"),
	      "a missing dataset is VT_EINVAL, naming the file's datasets: %s", err);
	n = h5_read_all(p, "cube", 2, out, 64, &dim, &rows, err, sizeof err);
	CHECK(n == VT_EUNSUP && strstr(err, "(7, 3, 2)"), "a 3-D dataset is VT_EUNSUP: %s", err);
	n = h5_read_all(ex, NULL, 2, out, 64, &dim, &rows, err, sizeof err);
	CHECK(n == VT_EMAGIC && strstr(err, "not an HDF5 file"), "not HDF5: VT_EMAGIC: %s", err);
	const char *cut = tpath("cut.hdf5");
	size_t len = 0;
	unsigned char *all = NULL;
	fp = fopen(p, "rb");
	if (fp) {
		all = xmalloc(1 << 20);
		len = fread(all, 1, 1 << 20, fp);
		fclose(fp);
	}
	fp = fopen(cut, "wb");
	if (fp && all) {
		fwrite(all, 1, len / 2, fp);
		fclose(fp);
	}
	free(all);
	remember(cut);
	n = h5_read_all(cut, NULL, 2, out, 64, &dim, &rows, err, sizeof err);
	CHECK(n == VT_ETRUNC && strstr(err, "truncated"), "cut in half: VT_ETRUNC: %s", err);
}

int main(int argc, char **argv)
{
	static char fixbuf[512];
	if (argc > 1) {
		fixdir = argv[1];
	} else if (getenv("VT_FORMATS_FIXTURES")) {
		fixdir = getenv("VT_FORMATS_FIXTURES");
	} else if (getenv("VT_FIXTURES")) {   /* set by ctest: tests/fixtures */
		snprintf(fixbuf, sizeof fixbuf, "%s/formats", getenv("VT_FIXTURES"));
		fixdir = fixbuf;
	}
	snprintf(tmpdir, sizeof tmpdir, "/tmp/vt_formats.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_names();
	test_detect();
	test_roundtrips();
	test_text();
	test_vecs();
	test_bin();
	test_idx();
	test_npy_fixtures();
	test_npy_headers();
	test_half_exhaustive();
	test_alignment();
	test_pipes();
	test_writer_errors();
	test_numpy_reads_ours();
	test_fuzz();
	test_hdf5();
	cleanup();
	return check_done();
}
