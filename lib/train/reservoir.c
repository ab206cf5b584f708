#include "train/reservoir.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/rng.h"

#define FIRST_ROWS 1024

struct vt_reservoir {
	size_t cap, d;
	size_t kept, alloc;  /* rows stored, rows allocated (<= cap) */
	uint64_t seen;
	int finished;
	vt_rng rng;
	float *x;            /* alloc x d */
	uint64_t *idx;       /* alloc */
};

int vt_reservoir_new(vt_reservoir **out, size_t cap, size_t d, uint64_t seed)
{
	*out = NULL;
	if (cap == 0 || d == 0 || cap > SIZE_MAX / sizeof(float) / d)
		return VT_EINVAL;
	vt_reservoir *r = calloc(1, sizeof *r);
	if (!r)
		return VT_ENOMEM;
	r->cap = cap;
	r->d = d;
	vt_rng_init(&r->rng, seed, VT_RESERVOIR_STREAM);
	*out = r;
	return 0;
}

void vt_reservoir_free(vt_reservoir *r)
{
	if (!r)
		return;
	free(r->x);
	free(r->idx);
	free(r);
}

static int grow(vt_reservoir *r)
{
	size_t na = r->alloc ? 2 * r->alloc : FIRST_ROWS;
	if (na > r->cap || na < r->alloc)
		na = r->cap;
	float *nx = realloc(r->x, na * r->d * sizeof *nx);
	if (!nx)
		return VT_ENOMEM;
	r->x = nx;
	uint64_t *ni = realloc(r->idx, na * sizeof *ni);
	if (!ni)
		return VT_ENOMEM;
	r->idx = ni;
	r->alloc = na;
	return 0;
}

int vt_reservoir_add(vt_reservoir *r, const float *x, size_t n)
{
	if (r->finished)
		return VT_EINVAL;
	const size_t d = r->d;
	for (size_t i = 0; i < n; i++, r->seen++) {
		const float *row = x + i * d;
		if (r->kept < r->cap) {
			if (r->kept == r->alloc) {
				int rc = grow(r);
				if (rc)
					return rc;
			}
			memcpy(r->x + r->kept * d, row, d * sizeof *row);
			r->idx[r->kept++] = r->seen;
			continue;
		}
		uint64_t j = vt_rng_below(&r->rng, r->seen + 1);
		if (j < r->cap) {
			memcpy(r->x + j * d, row, d * sizeof *row);
			r->idx[j] = r->seen;
		}
	}
	return 0;
}

struct pos {
	uint64_t idx;
	size_t at;
};

static int by_idx(const void *a, const void *b)
{
	uint64_t x = ((const struct pos *)a)->idx, y = ((const struct pos *)b)->idx;
	return (x > y) - (x < y);
}

int vt_reservoir_finish(vt_reservoir *r)
{
	if (r->finished)
		return 0;
	const size_t n = r->kept, d = r->d;
	/* Only rows that replaced others can be out of order. */
	int sorted = 1;
	for (size_t i = 1; i < n && sorted; i++)
		sorted = r->idx[i - 1] < r->idx[i];
	if (!sorted) {
		struct pos *p = malloc(n * sizeof *p);
		float *tmp = malloc(d * sizeof *tmp);
		if (!p || !tmp) {
			free(p);
			free(tmp);
			return VT_ENOMEM;
		}
		for (size_t i = 0; i < n; i++)
			p[i].idx = r->idx[i], p[i].at = i;
		qsort(p, n, sizeof *p, by_idx);
		/* Row s of the result is old row p[s].at: follow each cycle of the
		 * permutation once, marking the places filled with at = s. */
		for (size_t s = 0; s < n; s++) {
			if (p[s].at == s)
				continue;
			memcpy(tmp, r->x + s * d, d * sizeof *tmp);
			size_t j = s;
			for (;;) {
				size_t k = p[j].at;
				p[j].at = j;
				if (k == s) {
					memcpy(r->x + j * d, tmp, d * sizeof *tmp);
					break;
				}
				memcpy(r->x + j * d, r->x + k * d, d * sizeof *tmp);
				j = k;
			}
		}
		for (size_t i = 0; i < n; i++)
			r->idx[i] = p[i].idx;
		free(p);
		free(tmp);
	}
	r->finished = 1;
	return 0;
}

float *vt_reservoir_rows(const vt_reservoir *r) { return r->x; }
const uint64_t *vt_reservoir_index(const vt_reservoir *r) { return r->idx; }
size_t vt_reservoir_count(const vt_reservoir *r) { return r->kept; }
uint64_t vt_reservoir_seen(const vt_reservoir *r) { return r->seen; }
size_t vt_reservoir_cap(const vt_reservoir *r) { return r->cap; }
