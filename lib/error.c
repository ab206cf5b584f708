#include "error.h"

const char *vt_strerror(int code)
{
	switch (code) {
	case VT_OK: return "success";
	case VT_EIO: return "input/output error";
	case VT_ENOMEM: return "out of memory";
	case VT_ETRUNC: return "truncated stream";
	case VT_ECHECKSUM: return "checksum mismatch";
	case VT_EMAGIC: return "bad magic (not a recognised format)";
	case VT_EVERSION: return "unsupported format version";
	case VT_EKIND: return "wrong stream kind";
	case VT_EDIM: return "dimension mismatch";
	case VT_ELIMIT: return "size exceeds limit";
	case VT_EFORMAT: return "malformed input";
	case VT_EINVAL: return "invalid argument";
	case VT_EPIPE: return "broken pipe";
	case VT_ENOSPC: return "no space left on device";
	case VT_EDATA: return "bad values in data";
	case VT_EUNSUP: return "unsupported";
	case VT_EINTR: return "interrupted";
	default: return "unknown error";
	}
}
