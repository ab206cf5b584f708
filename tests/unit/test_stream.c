/* Unit tests of the stream wing: header, codecs, writer, reader, input,
 * atomic output. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "stream/labels.h"
#include "vtrain.h"

static char dir[256];

static char *tpath(const char *name)
{
	static char buf[8][512];
	static int i;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
	return buf[i];
}

/* Write a stream of `rows` rows of kind/cols to path; row r's data are
 * r*dim + j, ids 1000 + r, weight r + 0.5, loss r * 2. */
static int write_stream(const char *path, int kind, int elem, int cols, uint32_t dim,
                        size_t rows, int codec, size_t frame_bytes)
{
	vt_out o;
	vt_header h;
	vt_writer *w;
	if (vt_out_open(&o, path) < 0)
		return -1;
	vt_header_init(&h, kind, elem, cols, dim);
	vt_header_set(&h, "made_by", "test");
	vt_header_setf(&h, "rows", "%zu", rows);
	if (kind == VT_KIND_PQ) { /* a codebook's shape: rows = m 2^nbits, d = m dim */
		unsigned nbits = 0;
		while (nbits < 16 && rows % ((size_t)2 << nbits) == 0)
			nbits++;
		vt_header_setf(&h, "m", "%zu", rows >> nbits);
		vt_header_setf(&h, "nbits", "%u", nbits);
		vt_header_setf(&h, "d", "%zu", (rows >> nbits) * dim);
	}
	int rc = vt_writer_open(&w, &o, &h, codec, frame_bytes);
	vt_header_free(&h);
	if (rc < 0) {
		vt_out_abort(&o);
		return rc;
	}
	size_t es = vt_elem_size(elem);
	unsigned char *data = xmalloc(dim * es);
	for (size_t r = 0; r < rows && rc == 0; r++) {
		for (uint32_t j = 0; j < dim; j++) {
			double v = (double)(r * dim + j);
			if (elem == VT_ELEM_F32)
				((float *)data)[j] = (float)v;
			else
				((double *)data)[j] = v;
		}
		uint64_t id = 1000 + r;
		double wt = r + 0.5, ls = r * 2.0;
		rc = vt_writer_put(w, 1, (cols & VT_COL_IDS) ? &id : NULL,
		                   (cols & VT_COL_WEIGHT) ? &wt : NULL,
		                   (cols & VT_COL_LOSS) ? &ls : NULL, data);
	}
	free(data);
	if (rc == 0)
		rc = vt_writer_finish(w);
	vt_writer_free(w);
	if (rc == 0)
		rc = vt_out_commit(&o);
	else
		vt_out_abort(&o);
	return rc;
}

/* Read path fully and check every row's content.  Returns rows read, or
 * a negative code (message in err). */
static long read_check(const char *path, size_t *bad, char *err, size_t errlen)
{
	const char *paths[] = {path};
	vt_input *in;
	*bad = 0;
	int rc = vt_input_open(&in, paths, 1, NULL, err, errlen);
	if (rc < 0)
		return rc;
	const vt_header *h = vt_input_header(in);
	vt_block b;
	long n, total = 0;
	while ((n = vt_input_next(in, &b, err, errlen)) > 0) {
		for (size_t i = 0; i < b.rows; i++) {
			uint64_t r = b.first_row + i;
			double v0 = h->elem == VT_ELEM_F32 ? ((const float *)b.data)[i * h->dim]
			                                   : ((const double *)b.data)[i * h->dim];
			if (v0 != (double)(r * h->dim) && r * h->dim < (1u << 24))
				(*bad)++;
			if (b.ids && b.ids[i] != 1000 + r)
				(*bad)++;
			if (b.weight && b.weight[i] != r + 0.5)
				(*bad)++;
			if (b.loss && b.loss[i] != r * 2.0)
				(*bad)++;
		}
		total += (long)b.rows;
	}
	vt_input_free(in);
	return n < 0 ? n : total;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	fwrite(b, 1, n, f);
	fclose(f);
}

static void test_header(void)
{
	vt_header h;
	vt_header_init(&h, VT_KIND_VECTORS, VT_ELEM_F32, 0, 8);
	CHECK(vt_header_set(&h, "k", "16") == 0, "set a key");
	CHECK(vt_header_set(&h, "k", "32") == 0 && strcmp(vt_header_get(&h, "k"), "32") == 0,
	      "setting a key again replaces it");
	CHECK(vt_header_set(&h, "bad key", "x") == VT_EINVAL, "a key with a space is refused");
	CHECK(vt_header_set(&h, "", "x") == VT_EINVAL, "an empty key is refused");
	CHECK(vt_header_set(&h, "v", "a\nb") == VT_EINVAL, "a value with a newline is refused");
	CHECK(vt_header_get(&h, "missing") == NULL, "a missing key is NULL");
	char err[256];
	CHECK(vt_header_validate(&h, err, sizeof err) == 0, "a vectors header validates");
	h.cols = VT_COL_WEIGHT;
	CHECK(vt_header_validate(&h, err, sizeof err) == VT_EFORMAT, "vectors with weights do not");
	h.cols = 0;
	h.dim = VT_MAX_DIM + 1;
	CHECK(vt_header_validate(&h, err, sizeof err) == VT_ELIMIT, "dim over the limit");
	h.dim = 8;
	h.kind = 99;
	CHECK(vt_header_validate(&h, err, sizeof err) == VT_EKIND, "unknown kind");
	vt_header_free(&h);
	CHECK(vt_kind_parse("centroids") == VT_KIND_CENTROIDS &&
	      strcmp(vt_kind_name(VT_KIND_ACCUM), "accum") == 0, "kind names");
	CHECK(vt_codec_parse("lz4-shuffle") == VT_CODEC_LZ4_SHUFFLE && vt_codec_parse("zip") < 0,
	      "codec names");
}

static void test_shuffle(void)
{
	unsigned char a[8 * 37], s[8 * 37], u[8 * 37];
	for (size_t i = 0; i < sizeof a; i++)
		a[i] = (unsigned char)(i * 7 + 3);
	int ok = 1;
	for (size_t size = 1; size <= 8; size *= 2) {
		size_t n = sizeof a / size;
		vt_shuffle(a, s, n, size);
		vt_unshuffle(s, u, n, size);
		ok &= memcmp(a, u, n * size) == 0;
		ok &= size == 1 || s[n] == a[1];
	}
	CHECK(ok, "shuffle and unshuffle are inverse, byte b of element i goes to b*n+i");

	/* The vectorised paths against the definition, for lengths around the
	 * vector width and unaligned buffers. */
	enum { MAXN = 133 };
	unsigned char src[8 * MAXN + 1], got[8 * MAXN + 1], ref[8 * MAXN];
	for (size_t i = 0; i < sizeof src; i++)
		src[i] = (unsigned char)(i * 131 + 17);
	int same = 1;
	for (size_t size = 4; size <= 8; size += 4) {
		for (size_t n = 0; n <= MAXN; n++) {
			for (size_t b = 0; b < size; b++)
				for (size_t i = 0; i < n; i++)
					ref[b * n + i] = src[1 + i * size + b];
			vt_shuffle(src + 1, got + 1, n, size);
			same &= memcmp(got + 1, ref, n * size) == 0;
			vt_unshuffle(ref, got + 1, n, size);
			same &= memcmp(got + 1, src + 1, n * size) == 0;
		}
	}
	CHECK(same, "shuffle of 4- and 8-byte elements matches the definition for n = 0..%d", MAXN);
}

static void test_roundtrips(void)
{
	static const struct {
		int kind, elem, cols;
	} kinds[] = {
		{VT_KIND_VECTORS, VT_ELEM_F32, 0},
		{VT_KIND_VECTORS, VT_ELEM_F32, VT_COL_IDS},
		{VT_KIND_POINTS, VT_ELEM_F32, VT_COL_ALL},
		{VT_KIND_POINTS, VT_ELEM_F32, VT_COL_WEIGHT | VT_COL_LOSS},
		{VT_KIND_CENTROIDS, VT_ELEM_F32, VT_COL_WEIGHT | VT_COL_LOSS},
		{VT_KIND_PQ, VT_ELEM_F32, 0},
		{VT_KIND_SQ, VT_ELEM_F64, 0},
		{VT_KIND_ACCUM, VT_ELEM_F64, VT_COL_WEIGHT | VT_COL_LOSS},
	};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		for (int codec = 0; codec <= 2; codec++) {
			char err[512] = "";
			size_t bad = 0;
			const char *p = tpath("rt.vt");
			int rc = write_stream(p, kinds[k].kind, kinds[k].elem, kinds[k].cols, 5, 1000,
			                      codec, 1000);
			long n = rc < 0 ? rc : read_check(p, &bad, err, sizeof err);
			CHECK(n == 1000 && bad == 0, "round trip kind %s cols %d codec %s (%ld rows, %zu bad) %s",
			      vt_kind_name(kinds[k].kind), kinds[k].cols, vt_codec_name(codec), n, bad, err);
		}
	}
	char err[512] = "";
	size_t bad = 0;
	CHECK(write_stream(tpath("empty.vt"), VT_KIND_VECTORS, VT_ELEM_F32, 0, 3, 0, 0, 0) == 0 &&
	      read_check(tpath("empty.vt"), &bad, err, sizeof err) == 0,
	      "a stream of zero rows is valid and empty %s", err);
	CHECK(write_stream(tpath("wide.vt"), VT_KIND_VECTORS, VT_ELEM_F32, 0, 70000, 3, 2, 1000) == 0 &&
	      read_check(tpath("wide.vt"), &bad, err, sizeof err) == 3 && bad == 0,
	      "rows larger than the frame target get one frame each %s", err);
}

static void test_compression_pays(void)
{
	/* A smooth signal compresses; lz4-shuffle should beat plain lz4. */
	size_t sz_none, sz_lz4, sz_shuf;
	write_stream(tpath("c0.vt"), VT_KIND_VECTORS, VT_ELEM_F32, 0, 16, 20000, 0, 0);
	write_stream(tpath("c1.vt"), VT_KIND_VECTORS, VT_ELEM_F32, 0, 16, 20000, 1, 0);
	write_stream(tpath("c2.vt"), VT_KIND_VECTORS, VT_ELEM_F32, 0, 16, 20000, 2, 0);
	free(check_slurp(tpath("c0.vt"), &sz_none));
	free(check_slurp(tpath("c1.vt"), &sz_lz4));
	free(check_slurp(tpath("c2.vt"), &sz_shuf));
	CHECK(sz_lz4 <= sz_none && sz_shuf < sz_lz4 / 4, "compressed sizes none %zu >= lz4 %zu > 4 x lz4-shuffle %zu",
	      sz_none, sz_lz4, sz_shuf);
}

/* Cutting a stream anywhere before its end is an error, never a short read. */
static void test_truncation(void)
{
	const char *p = tpath("t.vt"), *q = tpath("tcut.vt");
	write_stream(p, VT_KIND_POINTS, VT_ELEM_F32, VT_COL_ALL, 3, 50, 2, 256);
	size_t n;
	unsigned char *b = check_slurp(p, &n);
	int all_fail = 1, all_named = 1;
	for (size_t cut = 0; cut < n; cut++) {
		spit(q, b, cut);
		char err[512] = "";
		size_t bad;
		long r = read_check(q, &bad, err, sizeof err);
		if (r >= 0) {
			all_fail = 0;
			printf("# cut at %zu of %zu read %ld rows\n", cut, n, r);
		}
		if (!strstr(err, "tcut.vt"))
			all_named = 0;
	}
	CHECK(all_fail, "every truncation of a %zu-byte stream is an error", n);
	CHECK(all_named, "every truncation error names the file");
	free(b);
}

/* Flipping any byte is an error (checksum, magic, or a format check). */
static void test_flips(void)
{
	const char *p = tpath("f.vt"), *q = tpath("fflip.vt");
	write_stream(p, VT_KIND_VECTORS, VT_ELEM_F32, VT_COL_IDS, 4, 40, 0, 200);
	size_t n;
	unsigned char *b = check_slurp(p, &n);
	int all_fail = 1, frame_named = 1;
	size_t hdr_end = VT_HEADER_FIXED + vt_le32(b + 20) + 8;
	for (size_t i = 0; i < n; i++) {
		b[i] ^= 0x10;
		spit(q, b, n);
		b[i] ^= 0x10;
		char err[512] = "";
		size_t bad;
		long r = read_check(q, &bad, err, sizeof err);
		if (r >= 0) {
			all_fail = 0;
			printf("# flip at %zu of %zu read %ld rows\n", i, n, r);
		}
		if (i >= hdr_end && i < n - VT_END_MARKER && !strstr(err, "frame ")) {
			frame_named = 0;
			printf("# flip at %zu: %s\n", i, err);
		}
	}
	CHECK(all_fail, "every flipped bit in a %zu-byte stream is detected", n);
	CHECK(frame_named, "errors inside frames name the frame");
	free(b);
}

static void test_concat(void)
{
	const char *a = tpath("ca.vt"), *b = tpath("cb.vt"), *ab = tpath("cab.vt");
	write_stream(a, VT_KIND_VECTORS, VT_ELEM_F32, 0, 4, 30, 1, 100);
	write_stream(b, VT_KIND_VECTORS, VT_ELEM_F32, 0, 4, 20, 0, 100);
	size_t na, nb;
	unsigned char *ba = check_slurp(a, &na), *bb = check_slurp(b, &nb);
	unsigned char *cat = xmalloc(na + nb);
	memcpy(cat, ba, na);
	memcpy(cat + na, bb, nb);
	spit(ab, cat, na + nb);
	const char *one[] = {ab};
	const char *two[] = {a, b};
	char err[512];
	vt_input *in;
	vt_block blk;
	long n = 0, total = 0;
	int ok = vt_input_open(&in, one, 1, NULL, err, sizeof err) == 0;
	while (ok && (n = vt_input_next(in, &blk, err, sizeof err)) > 0)
		total += n;
	CHECK(ok && total == 50, "concatenated streams read as one (%ld rows)", total);
	vt_input_free(in);
	total = 0;
	ok = vt_input_open(&in, two, 2, NULL, err, sizeof err) == 0;
	while (ok && (n = vt_input_next(in, &blk, err, sizeof err)) > 0)
		total += n;
	CHECK(ok && total == 50, "two input files read as one (%ld rows)", total);
	vt_input_free(in);

	const char *c = tpath("cc.vt");
	write_stream(c, VT_KIND_VECTORS, VT_ELEM_F32, 0, 5, 10, 0, 0);
	const char *mixed[] = {a, c};
	ok = vt_input_open(&in, mixed, 2, NULL, err, sizeof err) == 0;
	while (ok && (n = vt_input_next(in, &blk, err, sizeof err)) > 0)
		;
	CHECK(ok && n == VT_EDIM && strstr(err, "cc.vt"), "a dimension mismatch names the file: %s", err);
	vt_input_free(in);

	const char *d = tpath("cd.vt");
	write_stream(d, VT_KIND_POINTS, VT_ELEM_F32, VT_COL_WEIGHT | VT_COL_LOSS, 4, 10, 0, 0);
	size_t nd;
	unsigned char *bd = check_slurp(d, &nd);
	cat = xrealloc(cat, na + nd);
	memcpy(cat + na, bd, nd);
	spit(ab, cat, na + nd);
	ok = vt_input_open(&in, one, 1, NULL, err, sizeof err) == 0;
	while (ok && (n = vt_input_next(in, &blk, err, sizeof err)) > 0)
		;
	CHECK(ok && n == VT_EKIND, "a concatenated stream of another kind is refused: %s", err);
	vt_input_free(in);
	free(ba);
	free(bb);
	free(bd);
	free(cat);
}

static void test_limits(void)
{
	/* A header claiming dim 2^31 with a valid checksum is refused. */
	vt_header h;
	vt_header_init(&h, VT_KIND_VECTORS, VT_ELEM_F32, 0, 4);
	unsigned char *b;
	size_t n;
	vt_header_encode(&h, &b, &n);
	vt_header_free(&h);
	vt_put32(b + 12, 1u << 31);
	vt_put64(b + n - 8, vt_hash64(b, n - 8, 0));
	spit(tpath("dim.vt"), b, n);
	char err[512] = "";
	size_t bad = 0;
	CHECK(read_check(tpath("dim.vt"), &bad, err, sizeof err) == VT_ELIMIT,
	      "dim 2^31 is refused: %s", err);
	vt_put16(b + 4, 2);
	vt_put32(b + 12, 4);
	vt_put64(b + n - 8, vt_hash64(b, n - 8, 0));
	spit(tpath("ver.vt"), b, n);
	CHECK(read_check(tpath("ver.vt"), &bad, err, sizeof err) == VT_EVERSION &&
	      strstr(err, "version 2"), "version 2 is refused: %s", err);
	vt_put16(b + 4, 1);
	vt_put32(b + 16, 100000);
	vt_put64(b + n - 8, vt_hash64(b, n - 8, 0));
	spit(tpath("meta.vt"), b, n);
	CHECK(read_check(tpath("meta.vt"), &bad, err, sizeof err) == VT_ELIMIT,
	      "100000 metadata entries are refused before reading: %s", err);
	free(b);

	/* A frame header claiming 2^31 rows, with a valid header check. */
	write_stream(tpath("fr.vt"), VT_KIND_VECTORS, VT_ELEM_F32, 0, 4, 10, 0, 0);
	b = check_slurp(tpath("fr.vt"), &n);
	size_t fo = VT_HEADER_FIXED + vt_le32(b + 20) + 8;
	vt_put32(b + fo + 8, 1u << 31);
	vt_put32(b + fo + 20, (uint32_t)vt_hash64(b + fo, 20, 0));
	spit(tpath("fr2.vt"), b, n);
	CHECK(read_check(tpath("fr2.vt"), &bad, err, sizeof err) == VT_ELIMIT &&
	      strstr(err, "frame 1"), "a frame of 2^31 rows is refused: %s", err);
	free(b);

	/* An LZ4 frame whose stored payload is empty (fuzz: crash-lz4-empty-payload),
	 * with right checks and checksums: refused by its sizes. */
	write_stream(tpath("z0.vt"), VT_KIND_VECTORS, VT_ELEM_F32, 0, 4, 10, 0, 0);
	b = check_slurp(tpath("z0.vt"), &n);
	fo = VT_HEADER_FIXED + vt_le32(b + 20) + 8;
	b[fo + 4] = VT_CODEC_LZ4;
	vt_put32(b + fo + 16, 0);
	vt_put32(b + fo + 20, (uint32_t)vt_hash64(b + fo, 20, 0));
	uint64_t ck = vt_hash64(b, 0, 0);
	vt_put64(b + fo + 24, ck);
	size_t stored = vt_le32(b + fo + 12), m = n - stored;
	memmove(b + fo + 32, b + fo + 32 + stored, n - fo - 32 - stored);
	unsigned char c8[8];
	vt_put64(c8, ck);
	vt_put64(b + m - 16, vt_hash64(c8, 8, 0));
	vt_put64(b + m - 8, vt_hash64(b + m - 40, 32, 0));
	spit(tpath("z0b.vt"), b, m);
	CHECK(read_check(tpath("z0b.vt"), &bad, err, sizeof err) == VT_ELIMIT &&
	      strstr(err, "frame 1: bad sizes"), "an empty LZ4 payload is refused: %s", err);
	free(b);
	CHECK(read_check(tpath("nonexistent.vt"), &bad, err, sizeof err) == VT_EIO &&
	      strstr(err, "nonexistent.vt"), "a missing file names the file: %s", err);
}

static void test_output(void)
{
	const char *p = tpath("atomic.out");
	vt_out o;
	CHECK(vt_out_open(&o, p) == 0, "open an atomic output");
	vt_out_write(&o, "abc", 3);
	struct stat st;
	CHECK(stat(p, &st) != 0, "the final path does not exist before commit");
	vt_out_abort(&o);
	CHECK(stat(p, &st) != 0, "abort leaves nothing");
	vt_out_open(&o, p);
	vt_out_write(&o, "abcdef", 6);
	vt_out_pwrite(&o, "X", 1, 0);
	CHECK(vt_out_commit(&o) == 0 && stat(p, &st) == 0 && st.st_size == 6, "commit renames");
	size_t n;
	unsigned char *b = check_slurp(p, &n);
	CHECK(b && memcmp(b, "Xbcdef", 6) == 0, "pwrite patches in place");
	free(b);
	CHECK(vt_out_open(&o, "/nonexistent-dir/x") == VT_EIO, "a missing directory fails at open");
}

/* vt_stream_count_rows: the rows from the end markers, for one segment,
 * several (cat), compressed frames and an empty stream; a damaged file gives
 * the reader's own message. */
static void test_count_rows(void)
{
	char err[512], err2[512];
	uint64_t n = 0;
	CHECK(write_stream(tpath("c1.vt"), VT_KIND_VECTORS, VT_ELEM_F32, VT_COL_IDS, 5, 1234, 2,
	                   4096) == 0, "write c1.vt");
	CHECK(vt_stream_count_rows(tpath("c1.vt"), &n, err, sizeof err) == 0 && n == 1234,
	      "one segment of many lz4 frames: 1234 rows (got %llu: %s)", (unsigned long long)n, err);
	CHECK(write_stream(tpath("c2.vt"), VT_KIND_VECTORS, VT_ELEM_F32, VT_COL_IDS, 5, 77, 0, 0) == 0 &&
	      write_stream(tpath("c0.vt"), VT_KIND_VECTORS, VT_ELEM_F32, VT_COL_IDS, 5, 0, 0, 0) == 0,
	      "write c2.vt and the empty c0.vt");
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cat '%s' '%s' '%s' >'%s'", tpath("c1.vt"), tpath("c0.vt"),
	         tpath("c2.vt"), tpath("cat.vt"));
	CHECK(system(cmd) == 0, "cat three segments");
	n = 0;
	CHECK(vt_stream_count_rows(tpath("cat.vt"), &n, err, sizeof err) == 0 && n == 1311,
	      "three segments: 1234 + 0 + 77 rows (got %llu)", (unsigned long long)n);
	CHECK(vt_stream_count_rows(tpath("c0.vt"), &n, err, sizeof err) == 0 && n == 0,
	      "an empty stream has 0 rows");
	/* cut in the middle, and a flipped byte in the end marker: the same
	 * message as reading the file */
	const char *cases[][2] = {{"head -c 3000", "cut.vt"}, {"head -c -5", "noend.vt"}};
	for (int c = 0; c < 2; c++) {
		snprintf(cmd, sizeof cmd, "%s '%s' >'%s'", cases[c][0], tpath("c1.vt"),
		         tpath(cases[c][1]));
		CHECK(system(cmd) == 0, "make %s", cases[c][1]);
		int rc = vt_stream_count_rows(tpath(cases[c][1]), &n, err, sizeof err);
		size_t bad;
		long rr = read_check(tpath(cases[c][1]), &bad, err2, sizeof err2);
		CHECK(rc == VT_ETRUNC && rr == VT_ETRUNC && strcmp(err, err2) == 0,
		      "%s: counting fails as reading does (%d '%s' / %ld '%s')", cases[c][1], rc, err,
		      rr, err2);
	}
	CHECK(vt_stream_count_rows(tpath("missing.vt"), &n, err, sizeof err) < 0 &&
	      strstr(err, "missing.vt") != NULL, "a missing file names itself: %s", err);
}

/* Labels: the shape from a header, pack and unpack, the value checks, and
 * a round trip through the writer and reader with each codec. */
static void test_labels(void)
{
	vt_labels_shape s;
	CHECK(vt_labels_shape_make(&s, 10, 3, 5, 4) == 0 && s.words == 8,
	      "top 3 and 5 codes make 2 x 3 + 2 words");
	CHECK(vt_labels_shape_make(&s, 2, 3, 0, 0) == VT_EINVAL &&
	      vt_labels_shape_make(&s, 10, 1, 4, 9) == VT_EINVAL, "top > k and nbits 9 are refused");
	vt_labels_shape_make(&s, 10, 3, 5, 4);
	vt_header h;
	char err[512] = "";
	vt_labels_shape g;
	int rc = vt_labels_header_init(&h, &s);
	CHECK(rc == 0 && vt_labels_shape_get(&h, &g, err, sizeof err) == 0 && g.words == 8 &&
	      g.k == 10 && g.top == 3 && g.m == 5 && g.nbits == 4, "a header gives its shape %s", err);
	vt_header_set(&h, "top", "2");
	CHECK(vt_labels_shape_get(&h, &g, err, sizeof err) == VT_EFORMAT &&
	      strstr(err, "dimension 8 is not"), "a dim that does not fit top is refused: %s", err);
	vt_header_set(&h, "top", "3");

	enum { R = 300 };
	int32_t part[R * 3], p2[R * 3];
	float dist[R * 3], d2[R * 3];
	uint8_t codes[R * 5], c2[R * 5];
	uint64_t ids[R];
	for (size_t i = 0; i < R; i++) {
		ids[i] = 5000 + i;
		for (size_t j = 0; j < 3; j++)
			part[i * 3 + j] = (int32_t)((i + 3 * j) % 10), dist[i * 3 + j] = (float)(i + j) * 0.5f;
		for (size_t m = 0; m < 5; m++)
			codes[i * 5 + m] = (uint8_t)((i * 7 + m) % 16);
	}
	uint32_t words[R * 8];
	char why[200];
	vt_labels_pack(&s, R, part, dist, codes, words);
	vt_labels_unpack(&s, words, R, p2, d2, c2);
	CHECK(memcmp(part, p2, sizeof part) == 0 && memcmp(dist, d2, sizeof dist) == 0 &&
	      memcmp(codes, c2, sizeof codes) == 0 && vt_labels_first_bad(&s, words, R, why,
	      sizeof why) == R, "pack, unpack and check round trip");
	words[7 * 8 + 1] = 10;
	CHECK(vt_labels_first_bad(&s, words, R, why, sizeof why) == 7 && strstr(why, "partition 10"),
	      "a partition of k is out of range: %s", why);
	vt_labels_pack(&s, R, part, dist, codes, words);
	((unsigned char *)words)[(9 * 8 + 6) * 4 + 1] = 16;
	CHECK(vt_labels_first_bad(&s, words, R, why, sizeof why) == 9 && strstr(why, "code 16"),
	      "a code of 2^nbits is refused: %s", why);
	vt_labels_pack(&s, R, part, dist, codes, words);
	((unsigned char *)words)[(11 * 8 + 7) * 4 + 2] = 1;
	CHECK(vt_labels_first_bad(&s, words, R, why, sizeof why) == 11 && strstr(why, "padding"),
	      "a padding byte is refused: %s", why);
	vt_labels_pack(&s, R, part, dist, codes, words);
	float neg = -1;
	memcpy(&words[12 * 8 + 3], &neg, 4);
	CHECK(vt_labels_first_bad(&s, words, R, why, sizeof why) == 12 && strstr(why, "negative"),
	      "a negative distance is refused: %s", why);

	vt_labels_pack(&s, R, part, dist, codes, words);
	for (int codec = 0; codec <= 2; codec++) {
		const char *p = tpath("labels.vt");
		vt_out o;
		vt_writer *w = NULL;
		rc = vt_out_open(&o, p);
		if (rc == 0)
			rc = vt_writer_open(&w, &o, &h, codec, 4000);
		if (rc == 0)
			rc = vt_writer_put(w, R, ids, NULL, NULL, words);
		if (rc == 0)
			rc = vt_writer_finish(w);
		if (rc == 0)
			rc = vt_out_commit(&o);
		vt_writer_free(w);
		vt_rd rd;
		vt_reader *r = NULL;
		size_t got = 0, same = 1;
		if (rc == 0 && (rc = vt_rd_open(&rd, p)) == 0) {
			rc = vt_reader_open(&r, &rd, err, sizeof err);
			vt_block b;
			long n;
			while (rc == 0 && (n = vt_reader_next(r, &b, err, sizeof err)) > 0) {
				same &= memcmp(b.data, words + got * 8, (size_t)n * 32) == 0 &&
				        b.ids[0] == ids[got];
				got += (size_t)n;
			}
			vt_reader_free(r);
			vt_rd_close(&rd);
		}
		CHECK(rc == 0 && got == R && same, "labels round trip with codec %s %s",
		      vt_codec_name(codec), err);
	}
	vt_header_free(&h);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/vt-unit-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_header();
	test_shuffle();
	test_roundtrips();
	test_compression_pays();
	test_truncation();
	test_flips();
	test_concat();
	test_limits();
	test_output();
	test_count_rows();
	test_labels();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return check_done();
}
