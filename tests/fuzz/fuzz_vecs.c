/* Fuzz the .fvecs / .bvecs / .ivecs parsers: the same bytes are read as
 * each of the three, in blocks of 3 rows and of the tools' default size. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_file(data, size);
	static const vt_format f[] = {VT_FMT_FVECS, VT_FMT_BVECS, VT_FMT_IVECS};
	for (int i = 0; i < 3; i++) {
		fz_read_format(path, f[i], 3);
		if (i == 0)
			fz_read_format(path, f[i], 0);
	}
	return 0;
}
