#define _POSIX_C_SOURCE 200809L
#include "bridge/shuffle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "stream/fdio.h"

/* A record of the run buffer and of the runs' file:
 *   id (u64, native order) | the label words (4 W bytes, as packed) | the
 *   input row (4 d bytes, native floats; keep_rows only).
 * The partition is the first label word, little-endian. */

typedef struct {
	size_t k, d, W;
	size_t rec;           /* bytes of a record */
	size_t wofs, xofs;    /* offsets of the words and the row in a record */
	int keep;
	size_t cap;           /* most rows of a run (the budget) */
	size_t budget;
	const char *tmpdir;

	unsigned char *buf;   /* the run: n records in input order */
	size_t n, alloc;
	uint32_t *perm, *tmp; /* sort order of the run, merge-sort scratch */
	size_t palloc;
	size_t *cnt;          /* k + 1 counts of the counting sort */
	uint64_t *counts;     /* rows per partition, over the whole input */

	float *stage;         /* the batch's input rows (keep_rows) */
	size_t stage_rows;

	int fd;               /* the runs' file, unlinked; -1 before the first spill */
	uint64_t fbytes;      /* bytes in it */
	uint64_t *run_off;    /* start of every run; run_off[runs] = fbytes */
	size_t runs, run_alloc;

	unsigned char *wbuf;  /* spill and emit gather buffer */
	size_t wcap;          /* records it holds */

	vt_sort_stats st;
	char err[512];
} shuffle;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int vt_sort_mark(vt_header *h)
{
	return vt_header_set(h, VT_LABELS_ORDER_KEY, VT_LABELS_ORDER_PARTITION);
}

int vt_sort_vectors_header(vt_header *h, const vt_header *lh, size_t d)
{
	vt_header_init(h, VT_KIND_VECTORS, VT_ELEM_F32, VT_COL_IDS, (uint32_t)d);
	static const char *const keys[] = {"made_by", "k", "centroids_id", VT_LABELS_ORDER_KEY,
	                                   NULL};
	int rc = 0;
	for (size_t i = 0; keys[i] && rc == 0; i++) {
		const char *v = vt_header_get(lh, keys[i]);
		if (v)
			rc = vt_header_set(h, keys[i], v);
	}
	if (rc < 0)
		vt_header_free(h);
	return rc;
}

static uint32_t rec_part(const shuffle *s, const unsigned char *r)
{
	return vt_le32(r + s->wofs);
}

static uint64_t rec_id(const unsigned char *r)
{
	uint64_t id;
	memcpy(&id, r, 8);
	return id;
}

static int sys_fail(shuffle *s, const char *what)
{
	int e = errno;
	snprintf(s->err, sizeof s->err, "%s: %s: %s", s->tmpdir, what, strerror(e));
	return e == ENOSPC ? VT_ENOSPC : VT_EIO;
}

/* ---- sorting a run -------------------------------------------------- */

/* Stable merge sort of idx[0..n) by the records' ids (tmp: n scratch). */
static void sort_by_id(const shuffle *s, uint32_t *idx, uint32_t *tmp, size_t n)
{
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, o = lo;
			while (i < mid && j < hi) {
				/* the right one goes first only when strictly smaller: stable */
				if (rec_id(s->buf + (size_t)idx[j] * s->rec) <
				    rec_id(s->buf + (size_t)idx[i] * s->rec))
					tmp[o++] = idx[j++];
				else
					tmp[o++] = idx[i++];
			}
			while (i < mid)
				tmp[o++] = idx[i++];
			while (j < hi)
				tmp[o++] = idx[j++];
		}
		memcpy(idx, tmp, n * sizeof *idx);
	}
}

/* perm = the run's rows in (partition, id, input) order. */
static int sort_run(shuffle *s)
{
	double t0 = now();
	if (s->palloc < s->n) {
		free(s->perm), free(s->tmp);
		s->perm = malloc(s->n * sizeof *s->perm);
		s->tmp = malloc(s->n * sizeof *s->tmp);
		s->palloc = s->perm && s->tmp ? s->n : 0;
		if (!s->palloc)
			return VT_ENOMEM;
	}
	memset(s->cnt, 0, (s->k + 1) * sizeof *s->cnt);
	for (size_t i = 0; i < s->n; i++)
		s->cnt[rec_part(s, s->buf + i * s->rec) + 1]++;
	for (size_t p = 0; p < s->k; p++)
		s->cnt[p + 1] += s->cnt[p];
	for (size_t i = 0; i < s->n; i++)
		s->perm[s->cnt[rec_part(s, s->buf + i * s->rec)]++] = (uint32_t)i;
	/* cnt[p] is now the end of partition p */
	size_t lo = 0;
	for (size_t p = 0; p < s->k; p++) {
		size_t hi = s->cnt[p];
		for (size_t i = lo + 1; i < hi; i++) {
			if (rec_id(s->buf + (size_t)s->perm[i] * s->rec) <
			    rec_id(s->buf + (size_t)s->perm[i - 1] * s->rec)) {
				sort_by_id(s, s->perm + lo, s->tmp, hi - lo);
				break;
			}
		}
		lo = hi;
	}
	s->st.t_sort += now() - t0;
	return 0;
}

/* ---- writing rows out ---------------------------------------------- */

typedef struct {
	shuffle *s;
	vt_writer *w, *wv;
	uint64_t *ids;
	unsigned char *words;
	float *x;
	size_t n, cap;
	int failed;           /* 1: w, 2: wv */
} emitter;

static int emit_flush(emitter *e)
{
	if (!e->n)
		return 0;
	int rc = vt_writer_put(e->w, e->n, e->ids, NULL, NULL, e->words);
	if (rc < 0) {
		e->failed = 1;
		return rc;
	}
	if (e->wv && (rc = vt_writer_put(e->wv, e->n, e->ids, NULL, NULL, e->x)) < 0) {
		e->failed = 2;
		return rc;
	}
	e->n = 0;
	return 0;
}

static int emit(emitter *e, const unsigned char *r)
{
	const shuffle *s = e->s;
	e->ids[e->n] = rec_id(r);
	memcpy(e->words + e->n * s->W * 4, r + s->wofs, s->W * 4);
	if (e->wv)
		memcpy(e->x + e->n * s->d, r + s->xofs, s->d * 4);
	if (++e->n == e->cap)
		return emit_flush(e);
	return 0;
}

/* ---- runs on disk ---------------------------------------------------- */

static int open_file(shuffle *s)
{
	size_t len = strlen(s->tmpdir) + 32;
	char *path = malloc(len);
	if (!path)
		return VT_ENOMEM;
	snprintf(path, len, "%s/vassign-runs.XXXXXX", s->tmpdir);
	s->fd = mkstemp(path);
	if (s->fd < 0) {
		free(path);
		return sys_fail(s, "cannot make a temporary file for the sorted runs");
	}
	/* gone from the directory at once: nothing is left on error or signal */
	int rc = unlink(path) < 0 ? sys_fail(s, "cannot unlink the runs' temporary file") : 0;
	free(path);
	return rc;
}

/* Sort the run buffer and append it to the runs' file. */
static int spill(shuffle *s)
{
	int rc;
	if (s->fd < 0 && (rc = open_file(s)) < 0)
		return rc;
	if ((rc = sort_run(s)) < 0)
		return rc;
	if (s->runs + 2 > s->run_alloc) {
		size_t na = s->run_alloc ? 2 * s->run_alloc : 16;
		uint64_t *p = realloc(s->run_off, na * sizeof *p);
		if (!p)
			return VT_ENOMEM;
		s->run_off = p, s->run_alloc = na;
	}
	s->run_off[s->runs] = s->fbytes;
	for (size_t i = 0; i < s->n;) {
		size_t m = s->n - i < s->wcap ? s->n - i : s->wcap;
		for (size_t j = 0; j < m; j++)
			memcpy(s->wbuf + j * s->rec, s->buf + (size_t)s->perm[i + j] * s->rec, s->rec);
		if ((rc = vt_write_full(s->fd, s->wbuf, m * s->rec)) < 0)
			return sys_fail(s, "cannot write the sorted runs");
		i += m;
	}
	s->fbytes += (uint64_t)s->n * s->rec;
	s->run_off[++s->runs] = s->fbytes;
	if (s->n > s->st.run_rows)
		s->st.run_rows = s->n;
	s->n = 0;
	return 0;
}

/* ---- the sink of the labelling pass -------------------------------- */

static int on_rows(void *ctx, size_t n, const uint64_t *ids, const float *x)
{
	(void)ids;
	shuffle *s = ctx;
	if (s->stage_rows < n) {
		free(s->stage);
		s->stage = malloc(n * s->d * sizeof *s->stage);
		s->stage_rows = s->stage ? n : 0;
		if (!s->stage)
			return VT_ENOMEM;
	}
	memcpy(s->stage, x, n * s->d * sizeof *x);
	return 0;
}

static int on_labels(void *ctx, size_t n, const uint64_t *ids, const void *words)
{
	shuffle *s = ctx;
	int rc;
	for (size_t i = 0; i < n; i++) {
		if (s->n == s->cap && (rc = spill(s)) < 0)
			return rc;
		if (s->n == s->alloc) {
			size_t na = s->alloc ? 2 * s->alloc : 4096;
			if (na > s->cap)
				na = s->cap;
			unsigned char *p = realloc(s->buf, na * s->rec);
			if (!p)
				return VT_ENOMEM;
			s->buf = p, s->alloc = na;
		}
		unsigned char *r = s->buf + s->n * s->rec;
		memcpy(r, &ids[i], 8);
		memcpy(r + s->wofs, (const unsigned char *)words + i * s->W * 4, s->W * 4);
		if (s->keep)
			memcpy(r + s->xofs, s->stage + i * s->d, s->d * 4);
		s->counts[rec_part(s, r)]++;
		s->n++;
	}
	return 0;
}

/* ---- the merge of the runs ------------------------------------------ */

typedef struct {
	uint64_t pos, end;    /* the unread part of the run in the file */
	unsigned char *buf;
	size_t len, at;       /* bytes in buf, next record */
} run;

typedef struct {
	uint32_t part;
	uint32_t run;
	uint64_t id;
} hkey;

static int hless(const hkey *a, const hkey *b)
{
	if (a->part != b->part)
		return a->part < b->part;
	if (a->id != b->id)
		return a->id < b->id;
	return a->run < b->run;
}

static void sift_down(hkey *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && hless(&h[l], &h[m]))
			m = l;
		if (l + 1 < n && hless(&h[l + 1], &h[m]))
			m = l + 1;
		if (m == i)
			return;
		hkey t = h[i];
		h[i] = h[m], h[m] = t;
		i = m;
	}
}

static int run_fill(shuffle *s, run *r, size_t bufsize)
{
	uint64_t left = r->end - r->pos;
	size_t want = left < bufsize ? (size_t)left : bufsize;
	size_t got = 0;
	while (got < want) {
		ssize_t k = pread(s->fd, r->buf + got, want - got, (off_t)(r->pos + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return sys_fail(s, "cannot read the sorted runs back");
		}
		got += (size_t)k;
	}
	r->pos += got;
	r->len = got;
	r->at = 0;
	return 0;
}

static int merge_runs(shuffle *s, emitter *e)
{
	double t0 = now();
	const size_t R = s->runs;
	size_t per = s->budget / R / s->rec;
	if (per < 1)
		per = 1;
	const size_t bufsize = per * s->rec;
	run *rs = calloc(R, sizeof *rs);
	hkey *h = malloc(R * sizeof *h);
	int rc = rs && h ? 0 : VT_ENOMEM;
	size_t nh = 0;
	for (size_t i = 0; rc == 0 && i < R; i++) {
		rs[i].pos = s->run_off[i];
		rs[i].end = s->run_off[i + 1];
		uint64_t len = rs[i].end - rs[i].pos;
		rs[i].buf = malloc(len < bufsize ? (size_t)len : bufsize);
		if (!rs[i].buf) {
			rc = VT_ENOMEM;
			break;
		}
		if ((rc = run_fill(s, &rs[i], bufsize)) < 0)
			break;
		h[nh].part = rec_part(s, rs[i].buf);
		h[nh].id = rec_id(rs[i].buf);
		h[nh].run = (uint32_t)i;
		nh++;
	}
	for (size_t i = nh / 2; rc == 0 && i-- > 0;)
		sift_down(h, nh, i);
	while (rc == 0 && nh) {
		run *r = &rs[h[0].run];
		if ((rc = emit(e, r->buf + r->at)) < 0)
			break;
		r->at += s->rec;
		if (r->at == r->len) {
			if (r->pos == r->end) {
				h[0] = h[--nh];
				sift_down(h, nh, 0);
				continue;
			}
			if ((rc = run_fill(s, r, bufsize)) < 0)
				break;
		}
		h[0].part = rec_part(s, r->buf + r->at);
		h[0].id = rec_id(r->buf + r->at);
		sift_down(h, nh, 0);
	}
	for (size_t i = 0; rs && i < R; i++)
		free(rs[i].buf);
	free(rs);
	free(h);
	s->st.t_merge += now() - t0;
	return rc;
}

/* ---- the whole ----------------------------------------------------- */

static void shuffle_free(shuffle *s)
{
	free(s->buf), free(s->perm), free(s->tmp), free(s->cnt), free(s->stage);
	free(s->run_off), free(s->wbuf);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

int vt_assign_sorted(vt_input *in, vt_pool *pool, const float *c, size_t k, size_t d,
                     const vt_assign_opts *ao, const vt_sort_opts *so, vt_writer *w,
                     vt_writer *wv, uint64_t *counts, vt_assign_stats *astats,
                     vt_sort_stats *sstats, char *err, size_t errlen)
{
	vt_assign_stats ast = {0};
	if (astats)
		*astats = ast;
	if (sstats)
		memset(sstats, 0, sizeof *sstats);
	size_t top = ao->top ? ao->top : 1;
	/* the shape of the pass's rows, as vt_assign_input makes it */
	const int sq = !ao->codebook && ao->sq_vmin && ao->sq_vdiff;
	vt_labels_shape shp;
	if (ao->sink || !so->tmpdir || (wv && !so->keep_rows) ||
	    vt_labels_shape_make(&shp, k, top > k ? k : top, ao->codebook ? ao->pq_m : sq ? d : 0,
	                         sq ? 8 : ao->pq_nbits) < 0) {
		snprintf(err, errlen, "%s", vt_strerror(VT_EINVAL));
		return VT_EINVAL;
	}
	shuffle s = {.k = k, .d = d, .W = shp.words, .keep = so->keep_rows, .tmpdir = so->tmpdir,
	             .fd = -1};
	s.budget = so->budget ? so->budget : VT_SORT_DEFAULT_BUDGET;
	s.wofs = 8;
	s.xofs = 8 + 4 * s.W;
	s.rec = s.xofs + (s.keep ? 4 * d : 0);
	/* a record and its two sort indices count against the budget */
	s.cap = s.budget / (s.rec + 2 * sizeof(uint32_t));
	if (s.cap < 1)
		s.cap = 1;
	if (s.cap > UINT32_MAX)
		s.cap = UINT32_MAX;
	s.wcap = ((size_t)1 << 20) / s.rec;
	if (s.wcap < 1)
		s.wcap = 1;
	s.cnt = malloc((k + 1) * sizeof *s.cnt);
	s.counts = counts ? counts : calloc(k, sizeof *s.counts);
	s.wbuf = malloc(s.wcap * s.rec);
	emitter e = {.s = &s, .w = w, .wv = wv, .cap = s.wcap};
	e.ids = malloc(e.cap * sizeof *e.ids);
	e.words = malloc(e.cap * s.W * 4);
	e.x = wv ? malloc(e.cap * d * sizeof *e.x) : NULL;
	int rc = 0;
	if (!s.cnt || !s.counts || !s.wbuf || !e.ids || !e.words || (wv && !e.x)) {
		rc = VT_ENOMEM;
		snprintf(err, errlen, "%s", vt_strerror(rc));
		goto end;
	}
	if (counts)
		memset(counts, 0, k * sizeof *counts);
	vt_assign_sink sink = {.rows = s.keep ? on_rows : NULL, .labels = on_labels, .ctx = &s};
	vt_assign_opts o = *ao;
	o.sink = &sink;
	rc = vt_assign_input(in, pool, c, k, d, &o, NULL, &ast, err, errlen);
	if (rc < 0) {
		if (ast.write_failed || s.err[0]) {
			/* the sink's own error: the runs' file or memory */
			ast.write_failed = 0;
			if (s.err[0])
				snprintf(err, errlen, "%s", s.err);
		}
		goto end;
	}
	if (s.runs == 0) {
		/* everything fits in one run: no temporary file */
		if ((rc = sort_run(&s)) == 0) {
			s.st.run_rows = s.n;
			for (size_t i = 0; i < s.n && rc == 0; i++)
				rc = emit(&e, s.buf + (size_t)s.perm[i] * s.rec);
		}
		s.st.runs = s.n ? 1 : 0;
	} else {
		if (s.n)
			rc = spill(&s);
		free(s.buf), free(s.perm), free(s.tmp);
		s.buf = NULL, s.perm = s.tmp = NULL;
		s.st.spilled = s.fbytes;
		s.st.runs = s.runs;
		if (rc == 0)
			rc = merge_runs(&s, &e);
	}
	if (rc == 0)
		rc = emit_flush(&e);
	if (rc < 0) {
		ast.write_failed = e.failed;
		snprintf(err, errlen, "%s", s.err[0] && !e.failed ? s.err : vt_strerror(rc));
	}
end:
	if (astats)
		*astats = ast;
	if (sstats)
		*sstats = s.st;
	free(e.ids), free(e.words), free(e.x);
	if (!counts)
		free(s.counts);
	shuffle_free(&s);
	return rc;
}
