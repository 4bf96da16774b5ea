/* NumPy .npy reading and writing.
 *
 * Format reference: numpy/lib/format.py. A file is the magic "\x93NUMPY",
 * a two-byte version, a little-endian header length (2 bytes in 1.0, 4 in
 * 2.0 and 3.0), a Python dict literal describing the array, then the raw
 * array data. The header is parsed by a small strict parser for exactly the
 * dict NumPy writes rather than anything resembling a Python evaluator.
 *
 * Values are decoded from explicit little-endian byte loads, so this file
 * never casts pointers into a byte buffer and works on any host byte order
 * and any alignment. */
#include "tensorquant/npy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/bytes.h"
#include "core/dtype_internal.h"
#include "core/error.h"
#include "core/tensor_internal.h"
#include "io/npy_internal.h"

/* ---- shapes ---------------------------------------------------------------*/

/* Like NumPy, a shape whose non-zero dims overflow counts as overflowing
 * even when another dim is 0: code that computes strides or row sizes from
 * such a shape would overflow although the element count is 0. */
size_t tq_shape_numel(const tq_shape *shape, int *overflow) {
  if (overflow) *overflow = 0;
  if (!shape || shape->ndim < 0 || shape->ndim > TQ_MAX_DIMS) {
    if (overflow) *overflow = 1;
    return 0;
  }
  size_t product = 1;
  int has_zero = 0;
  for (int i = 0; i < shape->ndim; i++) {
    int64_t d = shape->dims[i];
    if (d < 0 || (uint64_t)d > SIZE_MAX) {
      if (overflow) *overflow = 1;
      return 0;
    }
    if (d == 0) {
      has_zero = 1;
      continue;
    }
    if (product > SIZE_MAX / (size_t)d) {
      if (overflow) *overflow = 1;
      return 0;
    }
    product *= (size_t)d;
  }
  return has_zero ? 0 : product;
}

void tq_npy_format_shape(const tq_shape *shape, char *buf, size_t cap) {
  size_t used = 0;
  buf[used++] = '(';
  for (int i = 0; i < shape->ndim && used < cap; i++) {
    int k = snprintf(buf + used, cap - used, i ? ", %lld" : "%lld",
                     (long long)shape->dims[i]);
    used += k > 0 ? (size_t)k : 0;
  }
  if (used < cap)
    snprintf(buf + used, cap - used, shape->ndim == 1 ? ",)" : ")");
}

/* ---- dtypes ---------------------------------------------------------------*/

typedef enum npy_type {
  NPY_F2,
  NPY_F4,
  NPY_F8,
  NPY_I1,
  NPY_I2,
  NPY_I4,
  NPY_I8,
  NPY_U1,
  NPY_U2,
  NPY_U4,
  NPY_U8,
  NPY_B1,
  NPY_V2 /* bfloat16 as ml_dtypes saves it: NumPy knows it as 2-byte void */
} npy_type;

/* A file dtype, and the tensor dtype tq_npy_read_tensor gives it: its own
 * where the runtime has it; int16, uint16 and uint32 widened to int64
 * (exact), uint64 read as int64 (values above 2^63 - 1 are an error). */
typedef struct npy_dtype {
  npy_type type;
  char kind;
  size_t size;
  tq_dtype dtype;
} npy_dtype;

static const npy_dtype npy_dtypes[] = {
    {NPY_F2, 'f', 2, TQ_DTYPE_FLOAT16},  {NPY_F4, 'f', 4, TQ_DTYPE_FLOAT32},
    {NPY_F8, 'f', 8, TQ_DTYPE_FLOAT64},  {NPY_I1, 'i', 1, TQ_DTYPE_INT8},
    {NPY_I2, 'i', 2, TQ_DTYPE_INT64},    {NPY_I4, 'i', 4, TQ_DTYPE_INT32},
    {NPY_I8, 'i', 8, TQ_DTYPE_INT64},    {NPY_U1, 'u', 1, TQ_DTYPE_UINT8},
    {NPY_U2, 'u', 2, TQ_DTYPE_INT64},    {NPY_U4, 'u', 4, TQ_DTYPE_INT64},
    {NPY_U8, 'u', 8, TQ_DTYPE_INT64},    {NPY_B1, 'b', 1, TQ_DTYPE_BOOL},
    {NPY_V2, 'V', 2, TQ_DTYPE_BFLOAT16},
};

#define SUPPORTED_DTYPES                                               \
  "'<f2' '<f4' '<f8' '|i1' '<i2' '<i4' '<i8' '|u1' '<u2' '<u4' '<u8' " \
  "'|b1' and '<V2' (bfloat16, as ml_dtypes saves it)"

/* uint64 to float, rounded to nearest even in integer arithmetic. A plain
 * cast is correct on real hardware, but compilers lower it differently per
 * target (for u64 on x86-64: halve, convert, double) and emulators such as
 * Valgrind round those sequences twice; doing it here gives the same bits
 * everywhere. */
static float u64_to_float(uint64_t u) {
  if (u < (1u << 24)) return (float)u; /* exact */
  int bits = 0;
  for (uint64_t t = u; t; t >>= 1) bits++;
  int drop = bits - 24;
  uint64_t kept = u >> drop;
  uint64_t rem = u & ((UINT64_C(1) << drop) - 1);
  uint64_t half = UINT64_C(1) << (drop - 1);
  if (rem > half || (rem == half && (kept & 1))) kept++;
  if (kept == (UINT64_C(1) << 24)) { /* rounding carried into a new bit */
    kept >>= 1;
    drop++;
  }
  /* kept is in [2^23, 2^24): exponent 23 + drop, implicit bit dropped. */
  return float_from_bits((uint32_t)(127 + 23 + drop) << 23 |
                         ((uint32_t)kept & 0x7fffffu));
}

/* Converts n elements. The C casts round to nearest even for f8, i4 and
 * u4 (IEEE default rounding); 64-bit integers use u64_to_float. */
static void convert(npy_type type, const unsigned char *src, size_t n,
                    float *dst) {
  switch (type) {
    case NPY_F2:
      for (size_t i = 0; i < n; i++)
        dst[i] = half_to_float(load_le16(src + 2 * i));
      break;
    case NPY_F4:
      for (size_t i = 0; i < n; i++)
        dst[i] = float_from_bits(load_le32(src + 4 * i));
      break;
    case NPY_F8:
      for (size_t i = 0; i < n; i++) {
        uint64_t u = load_le64(src + 8 * i);
        double d;
        memcpy(&d, &u, sizeof d);
        dst[i] = (float)d;
      }
      break;
    case NPY_I1:
      for (size_t i = 0; i < n; i++)
        dst[i] = (float)(src[i] >= 0x80 ? (int)src[i] - 0x100 : (int)src[i]);
      break;
    case NPY_I2:
      for (size_t i = 0; i < n; i++) {
        uint16_t u = load_le16(src + 2 * i);
        dst[i] = (float)(u >= 0x8000u ? (int32_t)u - 0x10000 : (int32_t)u);
      }
      break;
    case NPY_I4:
      for (size_t i = 0; i < n; i++) {
        uint32_t u = load_le32(src + 4 * i);
        dst[i] =
            (float)(u >= 0x80000000u ? (int64_t)u - 0x100000000ll : (int64_t)u);
      }
      break;
    case NPY_I8:
      for (size_t i = 0; i < n; i++) {
        uint64_t u = load_le64(src + 8 * i);
        /* Round the magnitude: nearest-even is symmetric. 0 - u is the
         * magnitude of a negative two's-complement value, 2^63 included. */
        int negative = (u >> 63) != 0;
        float f = u64_to_float(negative ? 0 - u : u);
        dst[i] = negative ? -f : f;
      }
      break;
    case NPY_U1:
      for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
      break;
    case NPY_U2:
      for (size_t i = 0; i < n; i++) dst[i] = (float)load_le16(src + 2 * i);
      break;
    case NPY_U4:
      for (size_t i = 0; i < n; i++) dst[i] = (float)load_le32(src + 4 * i);
      break;
    case NPY_U8:
      for (size_t i = 0; i < n; i++)
        dst[i] = u64_to_float(load_le64(src + 8 * i));
      break;
    case NPY_B1:
      /* NumPy treats any non-zero byte as True. */
      for (size_t i = 0; i < n; i++) dst[i] = src[i] ? 1.0f : 0.0f;
      break;
    case NPY_V2:
      for (size_t i = 0; i < n; i++)
        dst[i] = tq_bf16_to_float(load_le16(src + 2 * i));
      break;
  }
}

/* Decodes n elements into dst (dtype t->dtype) from element `at` on, as
 * typed values. Returns 0, or 1 + the index among the n of a uint64 value
 * above 2^63 - 1 (*bad receives it). */
static size_t decode(const npy_dtype *t, const unsigned char *src, size_t n,
                     void *dst, size_t at, uint64_t *bad) {
  for (size_t i = 0; i < n; i++) {
    const unsigned char *e = src + i * t->size;
    const size_t k = at + i;
    switch (t->type) {
      case NPY_B1: ((uint8_t *)dst)[k] = e[0] != 0; break;
      case NPY_U1: ((uint8_t *)dst)[k] = e[0]; break;
      case NPY_I1:
        ((int8_t *)dst)[k] = (int8_t)signed_from_bits(e[0], 8);
        break;
      case NPY_F2:
      case NPY_V2: ((uint16_t *)dst)[k] = load_le16(e); break;
      case NPY_F4: ((float *)dst)[k] = float_from_bits(load_le32(e)); break;
      case NPY_F8: {
        const uint64_t u = load_le64(e);
        double d;
        memcpy(&d, &u, sizeof d);
        ((double *)dst)[k] = d;
        break;
      }
      case NPY_I4:
        ((int32_t *)dst)[k] = (int32_t)signed_from_bits(load_le32(e), 32);
        break;
      case NPY_I8:
        ((int64_t *)dst)[k] = signed_from_bits(load_le64(e), 64);
        break;
      case NPY_I2:
        ((int64_t *)dst)[k] = signed_from_bits(load_le16(e), 16);
        break;
      case NPY_U2: ((int64_t *)dst)[k] = load_le16(e); break;
      case NPY_U4: ((int64_t *)dst)[k] = load_le32(e); break;
      case NPY_U8: {
        const uint64_t u = load_le64(e);
        if (u > (uint64_t)INT64_MAX) {
          *bad = u;
          return i + 1;
        }
        ((int64_t *)dst)[k] = (int64_t)u;
        break;
      }
    }
  }
  return 0;
}

/* ---- messages -------------------------------------------------------------*/

/* Renders untrusted bytes for a message: printable ASCII as is, \n and \t
 * as such, anything else as \xNN, cut with "..." when longer than the buffer
 * allows. */
static void quote_bytes(const unsigned char *s, size_t n, char *out,
                        size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char tmp[5];
    unsigned c = s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      tmp[0] = (char)c;
      tmp[1] = '\0';
    } else if (c == '\n') {
      memcpy(tmp, "\\n", 3);
    } else if (c == '\t') {
      memcpy(tmp, "\\t", 3);
    } else {
      snprintf(tmp, sizeof tmp, "\\x%02x", c);
    }
    size_t k = strlen(tmp);
    if (o + k + 4 > cap) {
      if (o + 4 <= cap) memcpy(out + o, "...", 3), o += 3;
      break;
    }
    memcpy(out + o, tmp, k);
    o += k;
  }
  if (cap) out[o < cap ? o : cap - 1] = '\0';
}

/* ---- the prefix: magic, version, header length ----------------------------*/

const unsigned char tq_npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

typedef struct npy_prefix {
  unsigned major;
  size_t prefix_len; /* 10 for version 1.0, 12 otherwise */
  size_t header_len;
} npy_prefix;

/* b holds the first avail = min(total, 12) bytes of a file of total bytes. */
static tq_status decode_prefix(tq_context *ctx, const char *src,
                               const unsigned char *b, size_t avail,
                               uint64_t total, npy_prefix *p) {
  size_t m = avail < 6 ? avail : 6;
  if (total == 0)
    return tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                    "not an .npy file: the file is empty");
  if (avail >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
    return tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                    "not an .npy file: this is a zip archive (an .npz "
                    "file?); load it with numpy.load and save each array "
                    "with numpy.save");
  if (memcmp(b, tq_npy_magic, m) != 0) {
    char found[64];
    quote_bytes(b, m, found, sizeof found);
    return tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                    "not an .npy file: expected the magic string "
                    "\"\\x93NUMPY\" at the start, found \"%s\"",
                    found);
  }
  if (avail < 8)
    return tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                    "truncated header: the file ends after %zu bytes, "
                    "before the format version",
                    avail);
  unsigned major = b[6], minor = b[7];
  if (minor != 0 || major < 1 || major > 3)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, src, 0, 0,
                    ".npy format version %u.%u is not supported "
                    "(versions 1.0, 2.0 and 3.0 are)",
                    major, minor);
  p->major = major;
  p->prefix_len = major == 1 ? 10 : 12;
  if (avail < p->prefix_len)
    return tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                    "truncated header: the file ends after %zu bytes, "
                    "inside the header length field",
                    avail);
  uint64_t hlen = major == 1 ? load_le16(b + 8) : load_le32(b + 8);
  uint64_t after = total - p->prefix_len;
  if (hlen > after)
    return tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                    "header length %llu goes beyond the end of the file: "
                    "only %llu bytes follow the %zu-byte prefix "
                    "(truncated file?)",
                    (unsigned long long)hlen, (unsigned long long)after,
                    p->prefix_len);
  p->header_len = (size_t)hlen;
  return TQ_OK;
}

/* ---- the header dict ------------------------------------------------------*/

typedef struct hdr_parser {
  tq_context *ctx;
  const char *src;
  const unsigned char *begin, *p, *end;
  size_t base;     /* file offset of begin, for messages */
  int long_suffix; /* accept Python 2's "3L" in shapes, as NumPy does */
} hdr_parser;

/* Longest string value (key or descr) kept; longer ones are reported. */
#define HDR_STRING_MAX 64

typedef struct npy_header {
  char descr[HDR_STRING_MAX];
  int fortran_order;
  tq_shape shape;
  long long ndim_found; /* may exceed TQ_MAX_DIMS; dims beyond are dropped */
} npy_header;

static tq_status hdr_fail(const hdr_parser *hp, tq_status status,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static tq_status hdr_fail(const hdr_parser *hp, tq_status status,
                          const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tq_error(hp->ctx, status, hp->src, 0, 0,
                  "invalid .npy header at byte %zu: %s",
                  hp->base + (size_t)(hp->p - hp->begin), msg);
}

/* What the parser is looking at, for "found ..." in messages. */
static void hdr_here(const hdr_parser *hp, char *buf, size_t cap) {
  if (hp->p >= hp->end) {
    snprintf(buf, cap, "the end of the header");
    return;
  }
  size_t n = (size_t)(hp->end - hp->p);
  char q[48];
  quote_bytes(hp->p, n < 12 ? n : 12, q, sizeof q);
  snprintf(buf, cap, "\"%s\"", q);
}

static int is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void hdr_skip_ws(hdr_parser *hp) {
  while (hp->p < hp->end && is_ws(*hp->p)) hp->p++;
}

static int hdr_peek(const hdr_parser *hp) {
  return hp->p < hp->end ? *hp->p : -1;
}

/* A Python string literal in single or double quotes, without escapes
 * (NumPy never writes any). what names it for messages. */
static tq_status hdr_string(hdr_parser *hp, const char *what, char *out) {
  char here[64];
  int q = hdr_peek(hp);
  if (q != '\'' && q != '"') {
    hdr_here(hp, here, sizeof here);
    return hdr_fail(hp, TQ_ERR_PARSE, "expected %s in quotes, found %s", what,
                    here);
  }
  const unsigned char *start = ++hp->p;
  while (hp->p < hp->end && *hp->p != q) {
    if (*hp->p == '\\')
      return hdr_fail(hp, TQ_ERR_PARSE,
                      "escape sequences are not supported in %s", what);
    if (*hp->p == '\n')
      return hdr_fail(hp, TQ_ERR_PARSE, "unterminated string in %s", what);
    hp->p++;
  }
  if (hp->p >= hp->end)
    return hdr_fail(hp, TQ_ERR_PARSE,
                    "unterminated string in %s: the header ends first", what);
  size_t n = (size_t)(hp->p - start);
  if (n >= HDR_STRING_MAX) {
    char q2[80];
    quote_bytes(start, n, q2, sizeof q2);
    hp->p = start;
    return hdr_fail(hp, TQ_ERR_PARSE, "%s '%s' is too long", what, q2);
  }
  memcpy(out, start, n);
  out[n] = '\0';
  hp->p++; /* closing quote */
  return TQ_OK;
}

static int is_ident(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

static tq_status hdr_bool(hdr_parser *hp, int *out) {
  size_t n = (size_t)(hp->end - hp->p);
  if (n >= 4 && memcmp(hp->p, "True", 4) == 0 &&
      (n == 4 || !is_ident(hp->p[4]))) {
    hp->p += 4;
    *out = 1;
    return TQ_OK;
  }
  if (n >= 5 && memcmp(hp->p, "False", 5) == 0 &&
      (n == 5 || !is_ident(hp->p[5]))) {
    hp->p += 5;
    *out = 0;
    return TQ_OK;
  }
  char here[64];
  hdr_here(hp, here, sizeof here);
  return hdr_fail(hp, TQ_ERR_PARSE,
                  "expected True or False for 'fortran_order', found %s", here);
}

/* One dimension: a non-negative decimal integer as Python writes it. */
static tq_status hdr_dim(hdr_parser *hp, int64_t *out) {
  char here[64];
  int negative = hdr_peek(hp) == '-';
  const unsigned char *start = hp->p;
  if (negative) hp->p++;
  const unsigned char *digits = hp->p;
  while (hp->p < hp->end && *hp->p >= '0' && *hp->p <= '9') hp->p++;
  size_t n = (size_t)(hp->p - digits);
  if (n == 0) {
    hp->p = start;
    hdr_here(hp, here, sizeof here);
    return hdr_fail(hp, TQ_ERR_PARSE,
                    "expected a non-negative integer in 'shape', found %s",
                    here);
  }
  char text[48];
  quote_bytes(start, (size_t)(hp->p - start), text, sizeof text);
  if (negative) {
    hp->p = start;
    return hdr_fail(hp, TQ_ERR_RANGE, "negative dimension %s in 'shape'", text);
  }
  if (n > 1 && digits[0] == '0') {
    hp->p = start;
    return hdr_fail(hp, TQ_ERR_PARSE,
                    "dimension %s in 'shape' has a leading zero", text);
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(digits[i] - '0');
    if (v > ((uint64_t)INT64_MAX - d) / 10) {
      hp->p = start;
      return hdr_fail(hp, TQ_ERR_RANGE,
                      "dimension %s in 'shape' is too large (at most %lld)",
                      text, (long long)INT64_MAX);
    }
    v = v * 10 + d;
  }
  if (hp->long_suffix && hdr_peek(hp) == 'L') hp->p++;
  *out = (int64_t)v;
  return TQ_OK;
}

static tq_status hdr_shape(hdr_parser *hp, npy_header *h) {
  char here[64];
  tq_status st;
  if (hdr_peek(hp) != '(') {
    hdr_here(hp, here, sizeof here);
    return hdr_fail(hp, TQ_ERR_PARSE,
                    "expected a tuple such as () or (3,) or (2, 3) for "
                    "'shape', found %s",
                    here);
  }
  hp->p++;
  hdr_skip_ws(hp);
  h->ndim_found = 0;
  if (hdr_peek(hp) == ')') {
    hp->p++;
    return TQ_OK;
  }
  for (;;) {
    int64_t d = 0;
    if ((st = hdr_dim(hp, &d)) != TQ_OK) return st;
    if (h->ndim_found < TQ_MAX_DIMS) h->shape.dims[h->ndim_found] = d;
    h->ndim_found++;
    hdr_skip_ws(hp);
    int c = hdr_peek(hp);
    if (c == ',') {
      hp->p++;
      hdr_skip_ws(hp);
      if (hdr_peek(hp) == ')') break;
    } else if (c == ')') {
      /* Python reads "(3)" as the number 3, and NumPy rejects it. */
      if (h->ndim_found == 1)
        return hdr_fail(hp, TQ_ERR_PARSE,
                        "'shape' (%lld) is not a tuple; a 1-d shape is "
                        "written (%lld,)",
                        (long long)h->shape.dims[0],
                        (long long)h->shape.dims[0]);
      break;
    } else {
      hdr_here(hp, here, sizeof here);
      return hdr_fail(hp, TQ_ERR_PARSE,
                      "expected ',' or ')' in 'shape', found %s", here);
    }
  }
  hp->p++; /* ')' */
  h->shape.ndim =
      h->ndim_found > TQ_MAX_DIMS ? TQ_MAX_DIMS : (int)h->ndim_found;
  return TQ_OK;
}

enum { KEY_DESCR, KEY_FORTRAN, KEY_SHAPE, KEY_COUNT };
static const char *const hdr_keys[KEY_COUNT] = {"descr", "fortran_order",
                                                "shape"};

static tq_status hdr_dict(hdr_parser *hp, npy_header *h) {
  char here[64];
  tq_status st;
  int seen[KEY_COUNT] = {0};
  hdr_skip_ws(hp);
  if (hdr_peek(hp) != '{') {
    hdr_here(hp, here, sizeof here);
    return hdr_fail(hp, TQ_ERR_PARSE,
                    "expected a dict starting with '{', found %s", here);
  }
  hp->p++;
  hdr_skip_ws(hp);
  while (hdr_peek(hp) != '}') {
    char key[HDR_STRING_MAX];
    const unsigned char *key_at = hp->p;
    if ((st = hdr_string(hp, "a key ('descr', 'fortran_order' or 'shape')",
                         key)) != TQ_OK)
      return st;
    int k = 0;
    while (k < KEY_COUNT && strcmp(key, hdr_keys[k]) != 0) k++;
    if (k == KEY_COUNT) {
      char q[80];
      quote_bytes((const unsigned char *)key, strlen(key), q, sizeof q);
      hp->p = key_at;
      return hdr_fail(hp, TQ_ERR_PARSE,
                      "unknown key '%s'; an .npy header has exactly the keys "
                      "'descr', 'fortran_order' and 'shape'",
                      q);
    }
    if (seen[k]) {
      hp->p = key_at;
      return hdr_fail(hp, TQ_ERR_PARSE, "duplicate key '%s'", hdr_keys[k]);
    }
    seen[k] = 1;
    hdr_skip_ws(hp);
    if (hdr_peek(hp) != ':') {
      hdr_here(hp, here, sizeof here);
      return hdr_fail(hp, TQ_ERR_PARSE, "expected ':' after key '%s', found %s",
                      hdr_keys[k], here);
    }
    hp->p++;
    hdr_skip_ws(hp);
    switch (k) {
      case KEY_DESCR:
        if (hdr_peek(hp) == '[')
          return tq_error(hp->ctx, TQ_ERR_UNSUPPORTED, hp->src, 0, 0,
                          "structured dtypes (a list of fields in 'descr') "
                          "are not supported; save a plain numeric array");
        st = hdr_string(hp, "the value of 'descr'", h->descr);
        break;
      case KEY_FORTRAN: st = hdr_bool(hp, &h->fortran_order); break;
      default: st = hdr_shape(hp, h); break;
    }
    if (st != TQ_OK) return st;
    hdr_skip_ws(hp);
    if (hdr_peek(hp) == ',') {
      hp->p++;
      hdr_skip_ws(hp);
    } else if (hdr_peek(hp) != '}') {
      hdr_here(hp, here, sizeof here);
      return hdr_fail(hp, TQ_ERR_PARSE,
                      "expected ',' or '}' after the value of '%s', found %s",
                      hdr_keys[k], here);
    }
  }
  hp->p++; /* '}' */
  hdr_skip_ws(hp);
  if (hp->p < hp->end) {
    hdr_here(hp, here, sizeof here);
    return hdr_fail(hp, TQ_ERR_PARSE,
                    "expected only spaces and a newline after the closing "
                    "'}', found %s",
                    here);
  }
  for (int k = 0; k < KEY_COUNT; k++)
    if (!seen[k])
      return tq_error(hp->ctx, TQ_ERR_PARSE, hp->src, 0, 0,
                      "invalid .npy header: the key '%s' is missing "
                      "(an .npy header has 'descr', 'fortran_order' and "
                      "'shape')",
                      hdr_keys[k]);
  return TQ_OK;
}

static const char *kind_name(char kind) {
  switch (kind) {
    case 'c': return "complex";
    case 'U': return "unicode string";
    case 'S':
    case 'a': return "byte string";
    case 'O': return "Python object";
    case 'M': return "datetime";
    case 'm': return "timedelta";
    case 'V': return "void (raw or structured)";
    case 'f': return "floating-point";
    case 'i': return "signed integer";
    case 'u': return "unsigned integer";
    case 'b': return "bool";
    default: return NULL;
  }
}

static tq_status decode_descr(tq_context *ctx, const char *src,
                              const char *descr, const npy_dtype **out) {
  char q[80];
  quote_bytes((const unsigned char *)descr, strlen(descr), q, sizeof q);
  char order = 0;
  const char *s = descr;
  if (*s == '<' || *s == '>' || *s == '|' || *s == '=') order = *s++;
  char kind = *s;
  const char *name = kind ? kind_name(kind) : NULL;
  size_t size = 0;
  int size_ok = kind && s[1] != '\0';
  for (const char *d = kind ? s + 1 : s; size_ok && *d; d++) {
    if (*d < '0' || *d > '9' || size > 1000)
      size_ok = 0;
    else
      size = size * 10 + (size_t)(*d - '0');
  }
  const npy_dtype *dt = NULL;
  for (size_t i = 0; size_ok && i < sizeof npy_dtypes / sizeof *npy_dtypes; i++)
    if (npy_dtypes[i].kind == kind && npy_dtypes[i].size == size)
      dt = &npy_dtypes[i];
  if (!dt) {
    if (name)
      return tq_error(ctx, TQ_ERR_UNSUPPORTED, src, 0, 0,
                      "unsupported dtype '%s' (%s); TensorQuant reads bool, "
                      "integer and float arrays: " SUPPORTED_DTYPES,
                      q, name);
    return tq_error(
        ctx, TQ_ERR_UNSUPPORTED, src, 0, 0,
        "unknown dtype '%s' in 'descr'; expected one of " SUPPORTED_DTYPES, q);
  }
  /* A void has no byte order for NumPy: re-saving a loaded bfloat16 array
   * writes '|V2' where ml_dtypes wrote '<V2'. */
  if (dt->size > 1 && !(dt->type == NPY_V2 && order == '|')) {
    if (order == '>')
      return tq_error(ctx, TQ_ERR_UNSUPPORTED, src, 0, 0,
                      "big-endian dtype '%s' is not supported; convert the "
                      "array with arr.astype('<%c%zu') before saving",
                      q, dt->kind, dt->size);
    /* A multi-byte value in a file must say its byte order: '=' and '|'
     * would mean "whatever the writing machine used". */
    if (order != '<')
      return tq_error(ctx, TQ_ERR_UNSUPPORTED, src, 0, 0,
                      "dtype '%s' does not give a byte order; expected "
                      "'<%c%zu' (little-endian)",
                      q, dt->kind, dt->size);
  }
  *out = dt;
  return TQ_OK;
}

/* Everything known about the array once the header is validated. */
typedef struct npy_layout {
  const npy_dtype *dtype;
  tq_shape shape;
  size_t numel;
  size_t data_offset;
  size_t data_bytes;
} npy_layout;

/* Parses and validates the header bytes and checks that the file, total
 * bytes long, holds exactly the data the header describes. */
static tq_status decode_header(tq_context *ctx, const char *src,
                               const unsigned char *hdr, const npy_prefix *p,
                               uint64_t total, npy_layout *out) {
  npy_header h;
  memset(&h, 0, sizeof h);
  /* NumPy drops the L of Python 2 longs from version 1.0 and 2.0 headers
   * (3.0 came after Python 2). */
  hdr_parser hp = {.ctx = ctx,
                   .src = src,
                   .begin = hdr,
                   .p = hdr,
                   .end = hdr + p->header_len,
                   .base = p->prefix_len,
                   .long_suffix = p->major < 3};
  tq_status st = hdr_dict(&hp, &h);
  if (st != TQ_OK) return st;
  if ((st = decode_descr(ctx, src, h.descr, &out->dtype)) != TQ_OK) return st;
  if (h.fortran_order)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, src, 0, 0,
                    "Fortran-order (column-major) arrays are not supported; "
                    "save np.ascontiguousarray(arr) instead");
  if (h.ndim_found > TQ_MAX_DIMS)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, src, 0, 0,
                    "the array has %lld dimensions; at most %d are supported",
                    h.ndim_found, TQ_MAX_DIMS);
  char shape_text[TQ_NPY_SHAPE_TEXT_MAX];
  tq_npy_format_shape(&h.shape, shape_text, sizeof shape_text);
  int overflow;
  size_t numel = tq_shape_numel(&h.shape, &overflow);
  size_t itemsize = out->dtype->size;
  if (overflow || numel > SIZE_MAX / itemsize ||
      numel > SIZE_MAX / sizeof(float))
    return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                    "shape %s of dtype '%s' is too large to address in "
                    "memory",
                    shape_text, h.descr);
  size_t need = numel * itemsize;
  size_t offset = p->prefix_len + p->header_len;
  uint64_t found = total - offset;
  if (found < need)
    return tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                    "truncated data: shape %s of dtype '%s' needs %zu bytes "
                    "after the header, found %llu",
                    shape_text, h.descr, need, (unsigned long long)found);
  if (found > need)
    return tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                    "unexpected data after the array: shape %s of dtype '%s' "
                    "needs %zu bytes after the header, found %llu (%llu extra)",
                    shape_text, h.descr, need, (unsigned long long)found,
                    (unsigned long long)(found - need));
  out->shape = h.shape;
  out->numel = numel;
  out->data_offset = offset;
  out->data_bytes = need;
  return TQ_OK;
}

/* Where the values go: float32 (tq_npy_read) or a tensor of the file's
 * dtype (tq_npy_read_tensor). */
typedef struct npy_target {
  int typed;
  float *f32;
  tq_tensor *t;
} npy_target;

/* Allocates the target for lay. For zero-size arrays the float result is
 * a valid, non-NULL allocation of one float that holds no element, so
 * callers can treat NULL as "no result" without special-casing empty
 * tensors. */
static tq_status target_alloc(tq_context *ctx, const char *src,
                              const npy_layout *lay, npy_target *tg) {
  if (!tg->typed) {
    tg->f32 = malloc((lay->numel ? lay->numel : 1) * sizeof(float));
    return tg->f32 ? TQ_OK : tq_error_nomem(ctx);
  }
  if (lay->shape.ndim > TQ_TENSOR_MAX_DIMS)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, src, 0, 0,
                    "the array has %d dimensions; a tensor has at most %d",
                    lay->shape.ndim, TQ_TENSOR_MAX_DIMS);
  return tq_tensor_create(ctx, lay->dtype->dtype, &lay->shape, &tg->t);
}

/* Converts n elements of the file's data (element `at` on). */
static tq_status target_decode(tq_context *ctx, const char *src,
                               const npy_layout *lay, npy_target *tg,
                               const unsigned char *bytes, size_t n,
                               size_t at) {
  if (!tg->typed) {
    convert(lay->dtype->type, bytes, n, tg->f32 + at);
    return TQ_OK;
  }
  uint64_t bad = 0;
  const size_t k = decode(lay->dtype, bytes, n, tg->t->data, at, &bad);
  if (!k) return TQ_OK;
  return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                  "element %zu is %llu: uint64 data is read as int64, which "
                  "holds at most 2^63 - 1",
                  at + k - 1, (unsigned long long)bad);
}

static void target_free(npy_target *tg) {
  free(tg->f32);
  tq_tensor_destroy(tg->t);
  tg->f32 = NULL;
  tg->t = NULL;
}

static tq_status parse_into(tq_context *ctx, const void *bytes, size_t len,
                            const char *source, npy_target *tg,
                            tq_shape *shape) {
  const char *src = source ? source : "<memory>";
  if (!bytes && len)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "npy: bytes is NULL but len is %zu", len);
  const unsigned char *b = bytes;
  npy_prefix p = {0};
  npy_layout lay = {0};
  tq_status st;
  if ((st = decode_prefix(ctx, src, b, len < 12 ? len : 12, len, &p)) != TQ_OK)
    return st;
  if ((st = decode_header(ctx, src, b + p.prefix_len, &p, len, &lay)) != TQ_OK)
    return st;
  if ((st = target_alloc(ctx, src, &lay, tg)) != TQ_OK) return st;
  st = target_decode(ctx, src, &lay, tg, b + lay.data_offset, lay.numel, 0);
  if (st != TQ_OK) {
    target_free(tg);
    return st;
  }
  *shape = lay.shape;
  return TQ_OK;
}

/* ---- reading files --------------------------------------------------------*/

/* Reads exactly n bytes or reports why not. */
static tq_status read_exact(tq_context *ctx, const char *path, FILE *fp,
                            void *buf, size_t n) {
  size_t got = fread(buf, 1, n, fp);
  if (got == n) return TQ_OK;
  if (ferror(fp))
    return tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot read: %s",
                    strerror(errno));
  return tq_error(ctx, TQ_ERR_FORMAT, path, 0, 0,
                  "the file ended early (it shrank while being read?)");
}

/* Pipes and character devices have no size up front (nor do some regular
 * files in /proc): read them whole and parse from memory. */
static tq_status read_stream(tq_context *ctx, const char *path, FILE *fp,
                             npy_target *tg, tq_shape *shape) {
  size_t cap = 1 << 16, len = 0;
  unsigned char *buf = malloc(cap);
  if (!buf) return tq_error_nomem(ctx);
  for (;;) {
    if (len == cap) {
      unsigned char *grown = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
      if (!grown) {
        free(buf);
        return tq_error_nomem(ctx);
      }
      buf = grown;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, fp);
    len += got;
    if (got == 0) break;
  }
  tq_status st;
  if (ferror(fp))
    st = tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot read: %s",
                  strerror(errno));
  else
    st = parse_into(ctx, buf, len, path, tg, shape);
  free(buf);
  return st;
}

/* Regular files: validate the header against the file size before
 * allocating anything for the data, then convert in chunks so that memory
 * use is the output tensor plus a small buffer. */
static tq_status read_regular(tq_context *ctx, const char *path, FILE *fp,
                              uint64_t total, npy_target *tg, tq_shape *shape) {
  unsigned char prefix[12];
  size_t avail = total < sizeof prefix ? (size_t)total : sizeof prefix;
  tq_status st = read_exact(ctx, path, fp, prefix, avail);
  if (st != TQ_OK) return st;
  npy_prefix p = {0};
  if ((st = decode_prefix(ctx, path, prefix, avail, total, &p)) != TQ_OK)
    return st;
  unsigned char *hdr = malloc(p.header_len ? p.header_len : 1);
  if (!hdr) return tq_error_nomem(ctx);
  /* The prefix buffer may already hold the first header bytes. */
  size_t have = avail - p.prefix_len;
  if (have > p.header_len) have = p.header_len;
  memcpy(hdr, prefix + p.prefix_len, have);
  npy_layout lay = {0};
  st = read_exact(ctx, path, fp, hdr + have, p.header_len - have);
  if (st == TQ_OK) st = decode_header(ctx, path, hdr, &p, total, &lay);
  free(hdr);
  if (st == TQ_OK) st = target_alloc(ctx, path, &lay, tg);
  if (st != TQ_OK) return st;
  /* A valid header is far longer than the two header bytes the prefix
   * read may have taken, so the data starts at the file position. */
  enum { CHUNK = 1 << 14 }; /* a multiple of every item size */
  unsigned char chunk[CHUNK];
  size_t per = CHUNK / lay.dtype->size;
  for (size_t done = 0; st == TQ_OK && done < lay.numel; done += per) {
    size_t n = lay.numel - done < per ? lay.numel - done : per;
    st = read_exact(ctx, path, fp, chunk, n * lay.dtype->size);
    if (st == TQ_OK) st = target_decode(ctx, path, &lay, tg, chunk, n, done);
  }
  if (st == TQ_OK && fgetc(fp) != EOF)
    st = tq_error(ctx, TQ_ERR_FORMAT, path, 0, 0,
                  "unexpected data after the array (the file grew while "
                  "being read?)");
  if (st != TQ_OK) {
    target_free(tg);
    return st;
  }
  *shape = lay.shape;
  return TQ_OK;
}

static tq_status read_into(tq_context *ctx, const char *path, npy_target *tg,
                           tq_shape *shape) {
  if (!path)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "npy: path must not be NULL");
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot open for reading: %s",
                    strerror(errno));
  struct stat sb;
  tq_status st;
  if (fstat(fileno(fp), &sb) != 0)
    st = tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot stat: %s",
                  strerror(errno));
  else if (S_ISDIR(sb.st_mode))
    st = tq_error(ctx, TQ_ERR_IO, path, 0, 0,
                  "is a directory, not an .npy file");
  else if (S_ISREG(sb.st_mode) && sb.st_size > 0)
    st = read_regular(ctx, path, fp, (uint64_t)sb.st_size, tg, shape);
  else
    st = read_stream(ctx, path, fp, tg, shape);
  /* Read-only stream: a failing fclose loses nothing. */
  fclose(fp);
  return st;
}

/* ---- the API --------------------------------------------------------------*/

static tq_status check_out_args(tq_context *ctx, float **data,
                                tq_shape *shape) {
  if (!data || !shape)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "npy: data and shape must not be NULL");
  *data = NULL;
  memset(shape, 0, sizeof *shape);
  return TQ_OK;
}

tq_status tq_npy_parse(tq_context *ctx, const void *bytes, size_t len,
                       const char *source, float **data, tq_shape *shape) {
  tq_status st = check_out_args(ctx, data, shape);
  npy_target tg = {0};
  if (st == TQ_OK) st = parse_into(ctx, bytes, len, source, &tg, shape);
  if (st == TQ_OK) *data = tg.f32;
  return st;
}

tq_status tq_npy_read(tq_context *ctx, const char *path, float **data,
                      tq_shape *shape) {
  tq_status st = check_out_args(ctx, data, shape);
  npy_target tg = {0};
  if (st == TQ_OK) st = read_into(ctx, path, &tg, shape);
  if (st == TQ_OK) *data = tg.f32;
  return st;
}

static tq_status check_out_tensor(tq_context *ctx, tq_tensor **out) {
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "npy: out must not be NULL");
  *out = NULL;
  return TQ_OK;
}

tq_status tq_npy_parse_tensor(tq_context *ctx, const void *bytes, size_t len,
                              const char *source, tq_tensor **out) {
  tq_status st = check_out_tensor(ctx, out);
  npy_target tg = {.typed = 1};
  tq_shape shape;
  if (st == TQ_OK) st = parse_into(ctx, bytes, len, source, &tg, &shape);
  if (st == TQ_OK) *out = tg.t;
  return st;
}

tq_status tq_npy_read_tensor(tq_context *ctx, const char *path,
                             tq_tensor **out) {
  tq_status st = check_out_tensor(ctx, out);
  npy_target tg = {.typed = 1};
  tq_shape shape;
  if (st == TQ_OK) st = read_into(ctx, path, &tg, &shape);
  if (st == TQ_OK) *out = tg.t;
  return st;
}
