#include "rng.h"

#include <math.h>

uint64_t vt_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void vt_rng_init(vt_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ vt_splitmix64(&(uint64_t){stream * 0xd1b54a32d192ed03ULL + 1});
	for (int i = 0; i < 4; i++)
		r->s[i] = vt_splitmix64(&x);
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t vt_rng_u64(vt_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint64_t vt_rng_below(vt_rng *r, uint64_t n)
{
	unsigned __int128 m = (unsigned __int128)vt_rng_u64(r) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		uint64_t t = -n % n;
		while (lo < t) {
			m = (unsigned __int128)vt_rng_u64(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double vt_rng_uniform(vt_rng *r)
{
	return (double)(vt_rng_u64(r) >> 11) * 0x1.0p-53;
}

double vt_rng_normal(vt_rng *r)
{
	double u, v, s;
	do {
		u = 2.0 * vt_rng_uniform(r) - 1.0;
		v = 2.0 * vt_rng_uniform(r) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	return u * sqrt(-2.0 * log(s) / s);
}
