#define _POSIX_C_SOURCE 200809L
#include "bridge/accumio.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "bridge/model.h"

void vt_centroids_id_hex(const float *c, size_t k, size_t d, char buf[17])
{
	snprintf(buf, 17, "%016" PRIx64, vt_centroids_id(c, k, d));
}

int vt_accum_write(vt_out *o, const vt_accum *a, const char *centroids_id,
                   const char *metric, const char *made_by)
{
	vt_header h;
	vt_header_init(&h, VT_KIND_ACCUM, VT_ELEM_F64, VT_COL_WEIGHT | VT_COL_LOSS, (uint32_t)a->d);
	int rc = vt_header_set(&h, "made_by", made_by);
	if (rc == 0)
		rc = vt_header_setf(&h, "k", "%zu", a->k);
	if (rc == 0)
		rc = vt_header_set(&h, "centroids_id", centroids_id);
	if (rc == 0)
		rc = vt_header_set(&h, "metric", metric);
	if (rc == 0)
		rc = vt_model_write(o, &h, a->k, a->sum, NULL, a->weight, a->loss);
	vt_header_free(&h);
	return rc;
}

/* Grow a to nk rows (nk > a->k), zeroing the new ones. */
static int grow_rows(vt_accum *a, size_t nk)
{
	double *s = realloc(a->sum, nk * a->d * sizeof *s);
	if (!s)
		return VT_ENOMEM;
	a->sum = s;
	double *w = realloc(a->weight, nk * sizeof *w);
	if (!w)
		return VT_ENOMEM;
	a->weight = w;
	double *l = realloc(a->loss, nk * sizeof *l);
	if (!l)
		return VT_ENOMEM;
	a->loss = l;
	memset(s + a->k * a->d, 0, (nk - a->k) * a->d * sizeof *s);
	memset(w + a->k, 0, (nk - a->k) * sizeof *w);
	memset(l + a->k, 0, (nk - a->k) * sizeof *l);
	a->k = nk;
	return 0;
}

int vt_accum_read(vt_input *in, vt_accum **out, char id[17], char *err, size_t errlen)
{
	*out = NULL;
	const vt_header *h = vt_input_header(in);
	if (h->kind != VT_KIND_ACCUM) {
		snprintf(err, errlen, "%s: is a %s stream, not accumulators", vt_input_path(in),
		         vt_kind_name(h->kind));
		return VT_EKIND;
	}
	const char *kstr = vt_header_get(h, "k"), *cid = vt_header_get(h, "centroids_id");
	char *end = NULL;
	unsigned long long k = kstr ? strtoull(kstr, &end, 10) : 0;
	if (k < 1 || k > (1u << 31) || *end || !cid || strlen(cid) != 16) {
		snprintf(err, errlen, "%s: accumulators without valid k and centroids_id metadata",
		         vt_input_path(in));
		return VT_EFORMAT;
	}
	memcpy(id, cid, 17);
	/* The rows held grow with the rows read (up to k), so that a k in the
	 * metadata is never allocated before the data shows it. */
	vt_accum *a;
	if (vt_accum_new(&a, k < 1024 ? (size_t)k : 1024, h->dim) < 0) {
		snprintf(err, errlen, "%s: out of memory", vt_input_path(in));
		return VT_ENOMEM;
	}
	size_t d = h->dim;
	uint64_t r = 0;
	vt_block b;
	long n;
	/* Segments are summed in input order, row r into centroid r mod k. */
	while ((n = vt_input_next(in, &b, err, errlen)) > 0) {
		for (size_t i = 0; i < b.rows; i++, r++) {
			size_t j = r % k;
			if (j >= a->k && grow_rows(a, a->k * 2 < k ? a->k * 2 : (size_t)k) < 0) {
				snprintf(err, errlen, "%s: out of memory", vt_input_path(in));
				vt_accum_free(a);
				return VT_ENOMEM;
			}
			const double *s = (const double *)b.data + i * d;
			for (size_t t = 0; t < d; t++)
				a->sum[j * d + t] += s[t];
			a->weight[j] += b.weight[i];
			a->loss[j] += b.loss[i];
		}
	}
	if (n == 0 && (r % k || r == 0)) {
		snprintf(err, errlen, "%s: %llu accumulator rows is not a positive multiple of k=%llu",
		         vt_input_path(in), (unsigned long long)r, k);
		n = VT_EFORMAT;
	}
	if (n < 0) {
		vt_accum_free(a);
		return (int)n;
	}
	for (size_t j = 0; j < k; j++) {
		a->total_weight += a->weight[j];
		a->total_loss += a->loss[j];
	}
	*out = a;
	return 0;
}

/* One input's sum, ordered by its content. */
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

/* The metric an accumulator records ("l2" when it records none). */
static const char *accum_metric(vt_input *in)
{
	const char *m = vt_header_get(vt_input_header(in), "metric");
	return m ? m : "l2";
}

int vt_accum_read_merged(vt_input *const *ins, const char *const *paths, size_t nin,
                         vt_accum **out, char id[17], size_t *first, char *err, size_t errlen)
{
	*out = NULL;
	part *P = calloc(nin ? nin : 1, sizeof *P);
	if (!P) {
		snprintf(err, errlen, "%s", vt_strerror(VT_ENOMEM));
		return VT_ENOMEM;
	}
	char idi[17];
	int rc = nin ? 0 : VT_EINVAL;
	if (rc < 0)
		snprintf(err, errlen, "no accumulators to merge");
	for (size_t i = 0; rc == 0 && i < nin; i++) {
		if ((rc = vt_accum_read(ins[i], &P[i].a, i ? idi : id, err, errlen)) < 0)
			break;
		if (i && strcmp(idi, id) != 0) {
			snprintf(err, errlen, "%s: accumulators were computed against other centroids "
			         "(centroids_id %s, %s has %s)", paths[i], idi, paths[0], id);
			rc = VT_EFORMAT;
		} else if (i && strcmp(accum_metric(ins[i]), accum_metric(ins[0])) != 0) {
			snprintf(err, errlen, "%s: accumulators made with metric=%s, %s with metric=%s",
			         paths[i], accum_metric(ins[i]), paths[0], accum_metric(ins[0]));
			rc = VT_EFORMAT;
		} else if (i && P[i].a->k != P[0].a->k) {
			snprintf(err, errlen, "%s: accumulators for k=%zu, %s has k=%zu", paths[i],
			         P[i].a->k, paths[0], P[0].a->k);
			rc = VT_EFORMAT;
		}
		P[i].hash = accum_hash(P[i].a);
		P[i].at = i;
	}
	if (rc == 0) {
		/* sum in the order of the contents, not of the arguments */
		qsort(P, nin, sizeof *P, part_cmp);
		for (size_t i = 1; rc == 0 && i < nin; i++)
			if ((rc = vt_accum_merge(P[0].a, P[i].a)) < 0)
				snprintf(err, errlen, "%s: accumulators of dimension %zu, %s has %zu",
				         paths[P[i].at], P[i].a->d, paths[P[0].at], P[0].a->d);
	}
	if (rc == 0) {
		*out = P[0].a;
		*first = P[0].at;
		P[0].a = NULL;
	}
	for (size_t i = 0; i < nin; i++)
		vt_accum_free(P[i].a);
	free(P);
	return rc;
}

int vt_accum_read_against(vt_input *in, const float *c, size_t k, size_t d, vt_accum **out,
                          char *err, size_t errlen)
{
	char id[17], mine[17];
	vt_accum *a;
	int rc = vt_accum_read(in, &a, id, err, errlen);
	if (rc < 0)
		return rc;
	vt_centroids_id_hex(c, k, d, mine);
	if (strcmp(mine, id) != 0) {
		snprintf(err, errlen, "%s: accumulators were computed against other centroids "
		         "(centroids_id %s, -c has %s)", vt_input_path(in), id, mine);
		rc = VT_EFORMAT;
	} else if (a->k != k || a->d != d) {
		snprintf(err, errlen, "%s: accumulators of k=%zu d=%zu, but -c has k=%zu d=%zu",
		         vt_input_path(in), a->k, a->d, k, d);
		rc = VT_EDIM;
	}
	if (rc < 0) {
		vt_accum_free(a);
		return rc;
	}
	*out = a;
	return 0;
}
