/* Fuzz the .npy parser (header dictionary, dtypes, shapes, versions 1-3,
 * byte order, fortran_order) and its row reader, through vt_input. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_file(data, size);
	fz_read_format(path, VT_FMT_NPY, 3);
	fz_read_format(path, VT_FMT_NPY, 0);
	return 0;
}
