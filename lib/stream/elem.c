/* vtrain: element types of the foreign formats: byte order and conversion
 * to float32 (see formats_priv.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "stream/formats_priv.h"

#include <stdint.h>
#include <string.h>

/* Reverse the bytes of n elements of size es (2, 4 or 8) in place. */
void vt_el_swap(unsigned char *p, size_t n, size_t es)
{
	for (size_t i = 0; i < n; i++, p += es) {
		for (size_t a = 0, b = es - 1; a < b; a++, b--) {
			unsigned char t = p[a];
			p[a] = p[b];
			p[b] = t;
		}
	}
}

/* IEEE half to single: exact for every value, subnormals, infinities and
 * NaNs (the payload is kept).  Branch-free, so that the loop vectorizes. */
static inline float half_to_float(uint16_t h)
{
	uint32_t em = h & 0x7fffu;
	uint32_t e = em & 0x7c00u;
	uint32_t normal = (em << 13) + (112u << 23);   /* rebias 15 -> 127 */
	uint32_t special = (em << 13) + (224u << 23);  /* inf, nan: exp 255 */
	float sub = (float)(int32_t)em * 5.9604644775390625e-8f; /* m 2^-24 */
	uint32_t subbits;
	memcpy(&subbits, &sub, 4);
	uint32_t is_special = 0u - (uint32_t)(e == 0x7c00u);   /* all ones */
	uint32_t is_sub = 0u - (uint32_t)(e == 0);
	uint32_t bits = (normal & ~is_special) | (special & is_special);
	bits = (bits & ~is_sub) | (subbits & is_sub);
	bits |= (uint32_t)(h & 0x8000u) << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

/* One switch, then a plain loop per type (see formats_priv.h). */
#if defined(__GNUC__) && !defined(__clang__)
/* GCC vectorizes these loops only at -O3 or with the dynamic cost model. */
__attribute__((optimize("tree-loop-vectorize", "vect-cost-model=dynamic")))
#endif
void vt_el_convert(vt_el_type t, int swap, unsigned char *src, float *dst, size_t n)
{
	size_t es = vt_el_size(t);
	if (es > 1 && (swap || !vt_host_le()))
		vt_el_swap(src, n, es);
	/* From here src is in host order. */
	switch (t) {
	case VT_EL_F32:
		if ((void *)src != (void *)dst)
			memcpy(dst, src, n * 4);
		break;
	case VT_EL_U8:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)src[i];
		break;
	case VT_EL_I8:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)(int8_t)src[i];
		break;
	case VT_EL_F16:
		for (size_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, src + 2 * i, 2);
			dst[i] = half_to_float(h);
		}
		break;
	case VT_EL_U16:
		for (size_t i = 0; i < n; i++) {
			uint16_t v;
			memcpy(&v, src + 2 * i, 2);
			dst[i] = (float)v;
		}
		break;
	case VT_EL_I16:
		for (size_t i = 0; i < n; i++) {
			int16_t v;
			memcpy(&v, src + 2 * i, 2);
			dst[i] = (float)v;
		}
		break;
	case VT_EL_U32:
		for (size_t i = 0; i < n; i++) {
			uint32_t v;
			memcpy(&v, src + 4 * i, 4);
			dst[i] = (float)v;
		}
		break;
	case VT_EL_I32:
		/* may be in place: each element is read before it is written */
		for (size_t i = 0; i < n; i++) {
			int32_t v;
			memcpy(&v, src + 4 * i, 4);
			float f = (float)v;
			memcpy((unsigned char *)dst + 4 * i, &f, 4);
		}
		break;
	case VT_EL_U64:
		for (size_t i = 0; i < n; i++) {
			uint64_t v;
			memcpy(&v, src + 8 * i, 8);
			dst[i] = (float)v;
		}
		break;
	case VT_EL_I64:
		for (size_t i = 0; i < n; i++) {
			int64_t v;
			memcpy(&v, src + 8 * i, 8);
			dst[i] = (float)v;
		}
		break;
	case VT_EL_F64:
		for (size_t i = 0; i < n; i++) {
			double v;
			memcpy(&v, src + 8 * i, 8);
			dst[i] = (float)v;
		}
		break;
	}
}
