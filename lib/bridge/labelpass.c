#define _POSIX_C_SOURCE 200809L
#include "bridge/labelpass.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/accumio.h"
#include "error.h"
#include "train/pq.h"
#include "train/sqcode.h"
#include "train/vecops.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int vt_assign_header(vt_header *h, const vt_labels_shape *s, const float *c, size_t d,
                     const float *codebook, const float *sq_bounds, const char *metric,
                     const char *made_by)
{
	int rc = vt_labels_header_init(h, s);
	char id[17];
	vt_header_put(h, &rc, "made_by", "%s", made_by);
	vt_header_put(h, &rc, "metric", "%s", metric);
	vt_header_put(h, &rc, "d", "%zu", d);
	vt_centroids_id_hex(c, s->k, d, id);
	vt_header_put(h, &rc, "centroids_id", "%s", id);
	if (s->sq && sq_bounds) {
		vt_centroids_id_hex(sq_bounds, 2, d, id);
		vt_header_put(h, &rc, "sq_id", "%s", id);
	} else if (codebook && s->m) {
		vt_centroids_id_hex(codebook, s->m << s->nbits, d / s->m, id);
		vt_header_put(h, &rc, "pq_id", "%s", id);
	}
	if (rc < 0)
		vt_header_free(h);
	return rc;
}

/* The buffers of one batch. */
typedef struct {
	float *x;
	uint64_t *ids;
	int32_t *part;
	double *dd;
	float *dist;
	uint8_t *codes;
	void *words;
} batch_bufs;

static void bufs_free(batch_bufs *b)
{
	free(b->x), free(b->ids), free(b->part), free(b->dd), free(b->dist), free(b->codes);
	free(b->words);
}

static int bufs_alloc(batch_bufs *b, size_t n, size_t d, const vt_labels_shape *s)
{
	memset(b, 0, sizeof *b);
	if (n > SIZE_MAX / 8 / (d + s->top + s->words + 1))
		return VT_ENOMEM;
	b->x = malloc(n * d * sizeof *b->x);
	b->ids = malloc(n * sizeof *b->ids);
	b->part = malloc(n * s->top * sizeof *b->part);
	b->dd = malloc(n * s->top * sizeof *b->dd);
	b->dist = malloc(n * s->top * sizeof *b->dist);
	b->codes = s->m ? malloc(n * s->m) : NULL;
	b->words = malloc(n * s->words * 4);
	if (!b->x || !b->ids || !b->part || !b->dd || !b->dist || (s->m && !b->codes) ||
	    !b->words) {
		bufs_free(b);
		return VT_ENOMEM;
	}
	return 0;
}

int vt_assign_input(vt_input *in, vt_pool *pool, const float *c, size_t k, size_t d,
                    const vt_assign_opts *opts, vt_writer *w, vt_assign_stats *stats,
                    char *err, size_t errlen)
{
	vt_assign_stats st = {0};
	if (stats)
		*stats = st;
	const vt_header *ih = vt_input_header(in);
	if (ih->kind != VT_KIND_VECTORS) {
		snprintf(err, errlen, "%s: is a %s stream; labels are made of vectors",
		         vt_input_path(in), vt_kind_name(ih->kind));
		return VT_EKIND;
	}
	if (ih->dim != d) {
		snprintf(err, errlen, "%s: has dimension %u, but the centroids have %zu",
		         vt_input_path(in), ih->dim, d);
		return VT_EDIM;
	}
	size_t top = opts->top ? opts->top : 1;
	const int sq = !opts->codebook && opts->sq_vmin && opts->sq_vdiff;
	vt_labels_shape s;
	if (top > VT_NEAREST_MAX_TOP || top > k ||
	    vt_labels_shape_make(&s, k, top, opts->codebook ? opts->pq_m : sq ? d : 0,
	                         sq ? 8 : opts->pq_nbits) < 0 ||
	    (opts->codebook && (opts->pq_m == 0 || d % opts->pq_m != 0))) {
		snprintf(err, errlen, "%s", vt_strerror(VT_EINVAL));
		return VT_EINVAL;
	}
	s.sq = sq;
	size_t batch = opts->batch_rows;
	if (batch == 0)
		batch = ((16u << 20) / (d * 4) + 255) / 256 * 256;

	batch_bufs b;
	vt_nearest *ix = NULL;
	int rc = bufs_alloc(&b, batch, d, &s);
	if (rc == 0)
		rc = vt_nearest_new(&ix, pool, c, k, d, NULL, 0, 1);
	if (rc < 0) {
		snprintf(err, errlen, "%s", rc == VT_EDATA ? "the centroids are too large for the "
		         "search (a squared norm of 1e36 or more)" : vt_strerror(rc));
		goto end;
	}
	st.index_bytes = vt_nearest_bytes(ix);
	const int has_ids = (ih->cols & VT_COL_IDS) != 0;
	long n;
	while ((n = vt_input_read(in, batch, b.x, b.ids, NULL, NULL, err, errlen)) > 0) {
		uint64_t first = vt_input_rows(in) - (uint64_t)n;
		size_t bad = vt_first_nonfinite_row(b.x, (size_t)n, d);
		if (bad < (size_t)n) {
			snprintf(err, errlen, "%s: row %llu has a NaN or infinite value",
			         vt_input_path(in), (unsigned long long)(first + bad));
			rc = VT_EDATA;
			goto end;
		}
		for (size_t i = 0; !has_ids && i < (size_t)n; i++)
			b.ids[i] += opts->offset;
		if (opts->sink && opts->sink->rows &&
		    (rc = opts->sink->rows(opts->sink->ctx, (size_t)n, b.ids, b.x)) < 0) {
			snprintf(err, errlen, "%s", vt_strerror(rc));
			goto end;
		}
		if (opts->cosine)
			st.zero_norm += vt_normalize_rows(b.x, (size_t)n, d);
		double t0 = now();
		rc = vt_nearest_query(ix, pool, b.x, (size_t)n, top, b.part, b.dd);
		double t1 = now();
		st.t_nearest += t1 - t0;
		if (rc == 0 && s.m) {
			/* the residual to the nearest partition, in float */
			for (size_t i = 0; i < (size_t)n; i++) {
				const float *cp = c + (size_t)b.part[i * top] * d;
				float *xr = b.x + i * d;
				for (size_t t = 0; t < d; t++)
					xr[t] -= cp[t];
			}
			if (sq)
				vt_sq8_encode(opts->sq_vmin, opts->sq_vdiff, d, b.x, (size_t)n, b.codes);
			else
				rc = vt_pq_encode_exact(pool, opts->codebook, s.m, s.nbits, b.x,
				                        (size_t)n, d, b.codes);
			st.t_pq += now() - t1;
		}
		if (rc < 0) {
			snprintf(err, errlen, "%s", vt_strerror(rc));
			goto end;
		}
		for (size_t i = 0; i < (size_t)n * top; i++)
			b.dist[i] = (float)b.dd[i];
		vt_labels_pack(&s, (size_t)n, b.part, b.dist, b.codes, b.words);
		rc = opts->sink ? opts->sink->labels(opts->sink->ctx, (size_t)n, b.ids, b.words)
		                : vt_writer_put(w, (size_t)n, b.ids, NULL, NULL, b.words);
		if (rc < 0) {
			snprintf(err, errlen, "%s", vt_strerror(rc));
			st.write_failed = 1;
			goto end;
		}
		st.rows += (uint64_t)n;
		if (opts->progress && opts->progress(opts->progress_ctx, vt_input_rows(in))) {
			snprintf(err, errlen, "%s", vt_strerror(VT_EINTR));
			rc = VT_EINTR;
			goto end;
		}
	}
	if (n < 0)
		rc = (int)n;
end:
	if (ix)
		st.nearest = *vt_nearest_get_stats(ix);
	if (stats)
		*stats = st;
	vt_nearest_free(ix);
	bufs_free(&b);
	return rc;
}
