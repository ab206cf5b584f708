/* Fuzz the HDF5 input (lib/stream/hdf5.c over libhdf5): the file opened,
 * its dataset "train" (and "test", by the FILE:NAME suffix) checked and
 * read in blocks of 3 rows and of the tools' default size.  libhdf5 itself
 * is not instrumented, so the fuzzer steers by vtrain's code only; what it
 * finds inside libhdf5 shows as a crash or a sanitizer report all the
 * same (docs/BAD-INPUT.md says what vtrain checks before libhdf5 reads). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_file(data, size);
	fz_read_format(path, VT_FMT_HDF5, 3);
	fz_read_format(path, VT_FMT_AUTO, 0);
	char named[96];
	snprintf(named, sizeof named, "%s:test", path);
	fz_read_format(named, VT_FMT_HDF5, 0);
	return 0;
}
