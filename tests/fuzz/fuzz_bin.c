/* Fuzz the .fbin / .u8bin / .i8bin parsers (and idx, the other format
 * with a fixed-size header): the same bytes are read as each, in blocks
 * of 3 rows and of the tools' default size. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_file(data, size);
	static const vt_format f[] = {VT_FMT_FBIN, VT_FMT_U8BIN, VT_FMT_I8BIN, VT_FMT_IDX};
	for (int i = 0; i < 4; i++) {
		fz_read_format(path, f[i], 3);
		if (i == 0)
			fz_read_format(path, f[i], 0);
	}
	return 0;
}
