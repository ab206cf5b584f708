#include "train/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/rng.h"

/* The split draws must round alike on every host: no fused multiply-add
 * (GCC contracts only with -ffp-contract=fast, which -std=c11 turns off;
 * clang contracts within an expression unless told). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define WORDS (VT_SAMPLE_LEAF / 64)
/* A descent pushes two children per level and pops one: depth + 2 entries
 * (the depth is at most log2(VT_SAMPLE_MAX_N / VT_SAMPLE_LEAF) = 46). */
#define STACK 64

typedef struct {
	uint64_t lo, hi, c, id;
} node;

struct vt_sampler {
	uint64_t n, m, seed;
	uint64_t pos;              /* next row that may be returned */
	uint64_t leaf_lo, leaf_hi; /* the leaf in bits; empty when equal */
	int sp;
	node stack[STACK];
	uint64_t bits[WORDS];
};

static int ctz64(uint64_t x)
{
#if defined(__GNUC__)
	return __builtin_ctzll(x);
#else
	int i = 0;
	while (!(x & 1))
		x >>= 1, i++;
	return i;
#endif
}

static int popcount64(uint64_t x)
{
#if defined(__GNUC__)
	return __builtin_popcountll(x);
#else
	int i = 0;
	for (; x; x &= x - 1)
		i++;
	return i;
#endif
}

/* A uniform double in [0, 1) with 53 bits, by exact arithmetic only. */
static double uniform53(vt_rng *r)
{
	return (double)(vt_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* The number of c chosen rows, of a node of N rows, that fall in its first
 * L rows: a hypergeometric draw (see sample.h), from the generator
 * (seed, 2 id). */
static uint64_t split_left(uint64_t seed, uint64_t id, uint64_t N, uint64_t L, uint64_t c)
{
	uint64_t R = N - L;
	uint64_t xmin = c > R ? c - R : 0, xmax = c < L ? c : L;
	if (xmin == xmax)
		return xmin;
	vt_rng r;
	vt_rng_init(&r, seed, 2 * id);
	/* Draw t = min(c, N - c) rows; when t counts the unchosen rows, the
	 * chosen ones to the left are L minus the unchosen ones there. */
	int flip = N - c < c;
	uint64_t t = flip ? N - c : c, x;
	if (t <= VT_SAMPLE_EXACT) {
		uint64_t left = L, rest = N;
		x = 0;
		for (uint64_t i = 0; i < t; i++, rest--)
			if (vt_rng_below(&r, rest) < left)
				x++, left--;
	} else {
		double p = (double)L / (double)N, dt = (double)t;
		double mu = dt * p;
		double var = dt * p * (1.0 - p) * ((double)(N - t) / (double)(N - 1));
		double z = -6.0;
		for (int i = 0; i < 12; i++)
			z += uniform53(&r);
		double dev = sqrt(var) * z;
		double v = floor(mu + dev + 0.5);
		x = v <= 0 ? 0 : v >= (double)t ? t : (uint64_t)v;
	}
	if (flip)
		x = L - (x < L ? x : L);
	return x < xmin ? xmin : x > xmax ? xmax : x;
}

/* Fill bits with a uniform c-subset of [0, N), N <= VT_SAMPLE_LEAF, by
 * Floyd's algorithm from the generator (seed, 2 id + 1). */
static void fill_leaf(uint64_t *bits, uint64_t seed, uint64_t id, uint64_t N, uint64_t c)
{
	size_t nw = (size_t)((N + 63) / 64);
	memset(bits, 0, nw * sizeof *bits);
	vt_rng r;
	vt_rng_init(&r, seed, 2 * id + 1);
	int flip = c > N / 2;
	uint64_t t = flip ? N - c : c;
	for (uint64_t j = N - t; j < N; j++) {
		uint64_t v = vt_rng_below(&r, j + 1);
		if (bits[v >> 6] >> (v & 63) & 1)
			v = j;
		bits[v >> 6] |= 1ULL << (v & 63);
	}
	if (flip) {
		for (size_t w = 0; w < nw; w++)
			bits[w] = ~bits[w];
		if (N & 63)
			bits[nw - 1] &= (1ULL << (N & 63)) - 1;
	}
}

int vt_sampler_new(vt_sampler **out, uint64_t n, uint64_t m, uint64_t seed)
{
	*out = NULL;
	if (m > n || n > VT_SAMPLE_MAX_N)
		return VT_EINVAL;
	vt_sampler *s = calloc(1, sizeof *s);
	if (!s)
		return VT_ENOMEM;
	s->n = n;
	s->m = m;
	s->seed = seed;
	vt_sampler_seek(s, 0);
	*out = s;
	return 0;
}

void vt_sampler_free(vt_sampler *s)
{
	free(s);
}

void vt_sampler_seek(vt_sampler *s, uint64_t first)
{
	s->pos = first;
	s->leaf_lo = s->leaf_hi = 0;
	s->sp = 0;
	s->stack[s->sp++] = (node){0, s->n, s->m, 1};
}

int vt_sampler_next(vt_sampler *s, uint64_t *idx)
{
	for (;;) {
		if (s->pos < s->leaf_hi) {
			uint64_t off = s->pos - s->leaf_lo;
			size_t w = (size_t)(off >> 6), nw = (size_t)((s->leaf_hi - s->leaf_lo + 63) / 64);
			uint64_t word = s->bits[w] & (~0ULL << (off & 63));
			while (!word && ++w < nw)
				word = s->bits[w];
			if (word) {
				uint64_t row = s->leaf_lo + (uint64_t)w * 64 + (uint64_t)ctz64(word);
				s->pos = row + 1;
				*idx = row;
				return 1;
			}
			s->pos = s->leaf_hi;
		}
		if (s->sp == 0)
			return 0;
		node e = s->stack[--s->sp];
		if (e.c == 0 || e.hi <= s->pos)
			continue;
		if (e.hi - e.lo <= VT_SAMPLE_LEAF) {
			fill_leaf(s->bits, s->seed, e.id, e.hi - e.lo, e.c);
			s->leaf_lo = e.lo;
			s->leaf_hi = e.hi;
			if (s->pos < e.lo)
				s->pos = e.lo;
			continue;
		}
		uint64_t mid = e.lo + (e.hi - e.lo) / 2;
		uint64_t x = split_left(s->seed, e.id, e.hi - e.lo, mid - e.lo, e.c);
		s->stack[s->sp++] = (node){mid, e.hi, e.c - x, 2 * e.id + 1};
		s->stack[s->sp++] = (node){e.lo, mid, x, 2 * e.id};
	}
}

static uint64_t count_node(const vt_sampler *s, node e, uint64_t a, uint64_t b, uint64_t *bits)
{
	if (e.c == 0 || e.hi <= a || e.lo >= b)
		return 0;
	if (a <= e.lo && e.hi <= b)
		return e.c;
	if (e.hi - e.lo <= VT_SAMPLE_LEAF) {
		fill_leaf(bits, s->seed, e.id, e.hi - e.lo, e.c);
		uint64_t from = (a > e.lo ? a : e.lo) - e.lo, to = (b < e.hi ? b : e.hi) - e.lo;
		uint64_t k = 0;
		for (uint64_t i = from; i < to;) {
			uint64_t w = bits[i >> 6] >> (i & 63);
			uint64_t span = 64 - (i & 63);
			if (span > to - i) {
				span = to - i;
				w &= (1ULL << span) - 1;
			}
			k += (uint64_t)popcount64(w);
			i += span;
		}
		return k;
	}
	uint64_t mid = e.lo + (e.hi - e.lo) / 2;
	uint64_t x = split_left(s->seed, e.id, e.hi - e.lo, mid - e.lo, e.c);
	return count_node(s, (node){e.lo, mid, x, 2 * e.id}, a, b, bits) +
	       count_node(s, (node){mid, e.hi, e.c - x, 2 * e.id + 1}, a, b, bits);
}

uint64_t vt_sampler_count(const vt_sampler *s, uint64_t a, uint64_t b)
{
	uint64_t bits[WORDS];
	if (a >= b)
		return 0;
	return count_node(s, (node){0, s->n, s->m, 1}, a, b, bits);
}

uint64_t vt_sampler_n(const vt_sampler *s)
{
	return s->n;
}

uint64_t vt_sampler_m(const vt_sampler *s)
{
	return s->m;
}

uint64_t vt_sampler_seed(const vt_sampler *s)
{
	return s->seed;
}
