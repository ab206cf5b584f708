/* coretype_probe: the OpenBLAS kernel that runs (OPENBLAS_CORETYPE picks
 * it) and a hash of the raw float products it computes, for
 * tests/coretype.bats.  Prints one line, "CORENAME HASH": the kernel's
 * name as OpenBLAS reports it, and the FNV-1a hash (16 hex digits) of the
 * bytes of X C^T, X 256 x 784 and C 300 x 784, normal values drawn with
 * vt_rng (seeds 1 and 2).  Different kernels block and fuse the sums
 * differently, so the hashes differ: the programs' outputs must not. */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "train/rng.h"

enum { N = 256, K = 300, D = 784 };

static void fill(float *a, size_t n, uint64_t seed)
{
	vt_rng r;
	vt_rng_init(&r, seed, 0);
	for (size_t i = 0; i < n; i++)
		a[i] = (float)vt_rng_normal(&r);
}

int main(void)
{
	float *x = malloc(sizeof(float) * N * D), *c = malloc(sizeof(float) * K * D);
	float *p = malloc(sizeof(float) * N * K);
	if (!x || !c || !p) {
		fprintf(stderr, "coretype_probe: out of memory\n");
		return 1;
	}
	fill(x, (size_t)N * D, 1);
	fill(c, (size_t)K * D, 2);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, K, D, -2.0f, x, D, c, D, 0.0f, p,
	            K);
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *b = (const unsigned char *)p;
	for (size_t i = 0; i < sizeof(float) * N * K; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	printf("%s %016llx\n", openblas_get_corename(), (unsigned long long)h);
	free(x);
	free(c);
	free(p);
	return 0;
}
