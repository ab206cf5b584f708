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
	uint64_t *tag;       /* alloc, or NULL: untagged */
	int tagged;
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
	free(r->tag);
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
	if (r->tagged) {
		uint64_t *nt = realloc(r->tag, na * sizeof *nt);
		if (!nt)
			return VT_ENOMEM;
		r->tag = nt;
	}
	r->alloc = na;
	return 0;
}

int vt_reservoir_add(vt_reservoir *r, const float *x, size_t n)
{
	return vt_reservoir_add_tagged(r, x, NULL, n);
}

int vt_reservoir_add_tagged(vt_reservoir *r, const float *x, const uint64_t *tags, size_t n)
{
	if (r->finished || (n && r->seen && !tags != !r->tagged))
		return VT_EINVAL;
	if (tags && !r->tagged) {
		r->tagged = 1;
		if (r->alloc && !(r->tag = malloc(r->alloc * sizeof *r->tag)))
			return VT_ENOMEM;
	}
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
			if (tags)
				r->tag[r->kept] = tags[i];
			r->idx[r->kept++] = r->seen;
			continue;
		}
		uint64_t j = vt_rng_below(&r->rng, r->seen + 1);
		if (j < r->cap) {
			memcpy(r->x + j * d, row, d * sizeof *row);
			r->idx[j] = r->seen;
			if (tags)
				r->tag[j] = tags[i];
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
		uint64_t *nt = r->tagged ? malloc(n * sizeof *nt) : NULL;
		if (!p || !tmp || (r->tagged && !nt)) {
			free(p);
			free(tmp);
			free(nt);
			return VT_ENOMEM;
		}
		for (size_t i = 0; i < n; i++)
			p[i].idx = r->idx[i], p[i].at = i;
		qsort(p, n, sizeof *p, by_idx);
		for (size_t i = 0; i < n && nt; i++)
			nt[i] = r->tag[p[i].at];
		if (nt) {
			free(r->tag);
			r->tag = nt;
		}
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
const uint64_t *vt_reservoir_tags(const vt_reservoir *r) { return r->tagged ? r->tag : NULL; }
size_t vt_reservoir_count(const vt_reservoir *r) { return r->kept; }
uint64_t vt_reservoir_seen(const vt_reservoir *r) { return r->seen; }
size_t vt_reservoir_cap(const vt_reservoir *r) { return r->cap; }
