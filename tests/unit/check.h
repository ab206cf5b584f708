/* vtrain unit tests: a minimal TAP-style harness. */
#ifndef VT_CHECK_H
#define VT_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_failures, check_count;

#define CHECK(cond, ...)                                                        \
	do {                                                                        \
		check_count++;                                                          \
		if (cond) {                                                             \
			printf("ok %d - ", check_count);                                    \
		} else {                                                                \
			check_failures++;                                                   \
			printf("not ok %d - %s:%d: ", check_count, __FILE__, __LINE__);     \
		}                                                                       \
		printf(__VA_ARGS__);                                                    \
		printf("\n");                                                           \
	} while (0)

static inline int check_done(void)
{
	printf("1..%d\n%d passed, %d failed\n", check_count, check_count - check_failures,
	       check_failures);
	return check_failures ? 1 : 0;
}

/* malloc that bails out of the test run (TAP "Bail out!") when it fails;
 * a size of 0 gets 1 byte. */
static inline void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	return p;
}

#endif
