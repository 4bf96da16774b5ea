/* IDX files (the format of MNIST and Fashion-MNIST), gzipped or not.
 *
 * An IDX file is a 4-byte magic 00 00 <type> <ndim>, ndim big-endian 32-bit
 * dimensions, then the elements in C order, big-endian. Files are often
 * distributed gzipped; gzip input is recognised by its magic 1f 8b and
 * inflated with zlib as it is read (concatenated gzip members are accepted,
 * as gunzip does).
 *
 * Memory is never allocated on the word of a header alone: uncompressed
 * input of known size is checked against the header before the data is
 * allocated, and compressed (or unsized) input grows its buffer only as
 * data actually arrives, so a tiny file claiming gigabytes fails cheaply.
 * Values are decoded from explicit byte loads (any host byte order and
 * alignment). */
#define ZLIB_CONST
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/error.h"
#include "core/tensor_internal.h"
#include "io/idx_internal.h"

/* ---- element types --------------------------------------------------------*/

static size_t type_size(int type) {
  switch (type) {
    case TQ_IDX_UBYTE:
    case TQ_IDX_SBYTE: return 1;
    case TQ_IDX_SHORT: return 2;
    case TQ_IDX_INT:
    case TQ_IDX_FLOAT: return 4;
    case TQ_IDX_DOUBLE: return 8;
    default: return 0;
  }
}

const char *tq_idx_type_name(int type) {
  switch (type) {
    case TQ_IDX_UBYTE: return "ubyte";
    case TQ_IDX_SBYTE: return "sbyte";
    case TQ_IDX_SHORT: return "short";
    case TQ_IDX_INT: return "int";
    case TQ_IDX_FLOAT: return "float";
    case TQ_IDX_DOUBLE: return "double";
    default: return "unknown";
  }
}

#define KNOWN_TYPES \
  "0x08 ubyte, 0x09 sbyte, 0x0B short, 0x0C int, 0x0D float, 0x0E double"

static uint16_t load_be16(const unsigned char *p) {
  return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static uint32_t load_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static uint64_t load_be64(const unsigned char *p) {
  return (uint64_t)load_be32(p) << 32 | (uint64_t)load_be32(p + 4);
}

static int32_t to_i32(uint32_t u) {
  return u >= 0x80000000u ? (int32_t)(u - 0x80000000u) - INT32_MAX - 1
                          : (int32_t)u;
}

static float bits_to_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static double bits_to_double(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

double tq_idx_raw_value(const tq_idx_raw *raw, size_t i) {
  const unsigned char *p = raw->data + i * raw->elem_size;
  switch (raw->type) {
    case TQ_IDX_UBYTE: return p[0];
    case TQ_IDX_SBYTE: return p[0] >= 0x80 ? (int)p[0] - 0x100 : (int)p[0];
    case TQ_IDX_SHORT: {
      uint16_t u = load_be16(p);
      return u >= 0x8000u ? (int32_t)u - 0x10000 : (int32_t)u;
    }
    case TQ_IDX_INT: return to_i32(load_be32(p));
    case TQ_IDX_FLOAT: return bits_to_float(load_be32(p));
    case TQ_IDX_DOUBLE: return bits_to_double(load_be64(p));
    default: return 0.0;
  }
}

void tq_idx_raw_to_floats(const tq_idx_raw *raw, size_t first, size_t n,
                          float *dst) {
  const unsigned char *p = raw->data + first * raw->elem_size;
  switch (raw->type) {
    case TQ_IDX_UBYTE:
      for (size_t i = 0; i < n; i++) dst[i] = (float)p[i];
      break;
    case TQ_IDX_FLOAT:
      for (size_t i = 0; i < n; i++)
        dst[i] = bits_to_float(load_be32(p + 4 * i));
      break;
    default:
      /* Every other type is exact in double; the cast to float then rounds
       * once, to nearest even. */
      for (size_t i = 0; i < n; i++)
        dst[i] = (float)tq_idx_raw_value(raw, first + i);
      break;
  }
}

void tq_idx_raw_free(tq_idx_raw *raw) {
  if (!raw) return;
  free(raw->data);
  memset(raw, 0, sizeof *raw);
}

/* ---- input: plain or gzip, from a file or from memory ---------------------*/

#define IN_CHUNK ((size_t)1 << 16)
/* Largest piece handed to zlib at once (its counters are unsigned int). */
#define Z_PIECE ((size_t)1 << 30)

typedef struct idx_src {
  tq_context *ctx;
  const char *name;
  FILE *fp; /* file input, or NULL for memory input */
  const unsigned char *mem;
  size_t mem_len, mem_pos;
  unsigned char *inbuf;  /* file input: the first chunk, then zlib's input */
  size_t in_pos, in_len; /* plain file input: unread part of inbuf */
  uint64_t raw_in;       /* input bytes taken so far */
  int known_size;        /* plain input of known total size */
  uint64_t total;        /* that size */
  int gz;
  int z_ready; /* inflateInit2 succeeded */
  int z_end;   /* the last gzip member ended and no input follows */
  z_stream zs;
  uint64_t out; /* bytes src_read delivered so far */
} idx_src;

/* The noun for messages: what the sizes refer to. */
static const char *what(const idx_src *s) {
  return s->gz ? "the decompressed data" : "the file";
}

static tq_status io_error(idx_src *s) {
  return tq_error(s->ctx, TQ_ERR_IO, s->name, 0, 0, "cannot read: %s",
                  strerror(errno));
}

/* Up to n input bytes (compressed ones when gz); *got < n only at the end
 * of the input. */
static tq_status raw_read(idx_src *s, unsigned char *buf, size_t n,
                          size_t *got) {
  *got = 0;
  if (!s->fp) {
    size_t left = s->mem_len - s->mem_pos;
    size_t k = n < left ? n : left;
    if (k) memcpy(buf, s->mem + s->mem_pos, k);
    s->mem_pos += k;
    s->raw_in += k;
    *got = k;
    return TQ_OK;
  }
  if (s->in_pos < s->in_len) {
    size_t k = s->in_len - s->in_pos;
    if (k > n) k = n;
    memcpy(buf, s->inbuf + s->in_pos, k);
    s->in_pos += k;
    *got = k;
  }
  if (*got < n) {
    size_t k = fread(buf + *got, 1, n - *got, s->fp);
    if (k < n - *got && ferror(s->fp)) return io_error(s);
    s->raw_in += k;
    *got += k;
  }
  return TQ_OK;
}

/* Refills zlib's input when it is empty; avail_in stays 0 at the end. */
static tq_status gz_fill(idx_src *s) {
  if (s->zs.avail_in) return TQ_OK;
  if (s->fp) {
    size_t k = fread(s->inbuf, 1, IN_CHUNK, s->fp);
    if (k < IN_CHUNK && ferror(s->fp)) return io_error(s);
    s->raw_in += k;
    s->zs.next_in = s->inbuf;
    s->zs.avail_in = (uInt)k;
  } else {
    size_t left = s->mem_len - s->mem_pos;
    size_t k = left < Z_PIECE ? left : Z_PIECE;
    s->zs.next_in = s->mem + s->mem_pos;
    s->zs.avail_in = (uInt)k;
    s->mem_pos += k;
    s->raw_in += k;
  }
  return TQ_OK;
}

/* Offset in the compressed input of the next byte zlib will look at. */
static unsigned long long gz_offset(const idx_src *s) {
  return (unsigned long long)(s->raw_in - s->zs.avail_in);
}

static tq_status gz_read(idx_src *s, unsigned char *buf, size_t n,
                         size_t *got) {
  tq_status st;
  while (*got < n && !s->z_end) {
    if ((st = gz_fill(s)) != TQ_OK) return st;
    if (s->zs.avail_in == 0)
      return tq_error(s->ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                      "truncated gzip data: the compressed stream ends "
                      "after %llu bytes, before its end marker (%llu bytes "
                      "decompressed)",
                      (unsigned long long)s->raw_in,
                      (unsigned long long)(s->out + *got));
    size_t want = n - *got < Z_PIECE ? n - *got : Z_PIECE;
    s->zs.next_out = buf + *got;
    s->zs.avail_out = (uInt)want;
    int ret = inflate(&s->zs, Z_NO_FLUSH);
    *got += want - s->zs.avail_out;
    if (ret == Z_OK) continue;
    if (ret == Z_STREAM_END) {
      /* The end of one gzip member: another may follow (as gunzip
       * accepts), anything else is an error. */
      if ((st = gz_fill(s)) != TQ_OK) return st;
      if (s->zs.avail_in == 0) {
        s->z_end = 1;
        break;
      }
      if (s->zs.next_in[0] != 0x1f)
        return tq_error(s->ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                        "unexpected bytes after the end of the gzip data, "
                        "at compressed offset %llu",
                        gz_offset(s));
      if (inflateReset(&s->zs) != Z_OK)
        return tq_error(s->ctx, TQ_ERR_INTERNAL, s->name, 0, 0,
                        "zlib: inflateReset failed");
      continue;
    }
    if (ret == Z_MEM_ERROR) return tq_error_nomem(s->ctx);
    /* Z_DATA_ERROR (bad header, block, distance or check value),
     * Z_NEED_DICT, Z_BUF_ERROR (no progress with input and output room). */
    return tq_error(s->ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                    "corrupt gzip data near compressed offset %llu (%llu "
                    "bytes decompressed): %s",
                    gz_offset(s), (unsigned long long)(s->out + *got),
                    s->zs.msg            ? s->zs.msg
                    : ret == Z_NEED_DICT ? "a preset dictionary "
                                           "is required"
                                         : "invalid data");
  }
  return TQ_OK;
}

/* Up to n bytes of IDX content; *got < n only at the end of it. */
static tq_status src_read(idx_src *s, unsigned char *buf, size_t n,
                          size_t *got) {
  *got = 0;
  tq_status st = s->gz ? gz_read(s, buf, n, got) : raw_read(s, buf, n, got);
  s->out += *got;
  return st;
}

/* ---- the header -----------------------------------------------------------*/

static void format_dims(const int64_t *dims, int ndim, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < ndim && used + 1 < cap; i++) {
    int k = snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "[",
                     (long long)dims[i]);
    used += k > 0 ? (size_t)k : 0;
  }
  if (used + 1 < cap) snprintf(buf + used, cap - used, "]");
}

/* Hex dump of up to 4 bytes for messages: "1f 8b 08 00". */
static void hex_bytes(const unsigned char *b, size_t n, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used + 4 <= cap; i++)
    used +=
        (size_t)snprintf(buf + used, cap - used, i ? " %02x" : "%02x", b[i]);
}

/* The most elements a tensor may hold (tq_shape_check's limit). */
#define MAX_ELEMENTS ((uint64_t)1 << 40)

static tq_status read_header(idx_src *s, tq_idx_raw *raw, size_t *hdr_len) {
  tq_context *ctx = s->ctx;
  unsigned char m[4];
  size_t got;
  tq_status st = src_read(s, m, 4, &got);
  if (st != TQ_OK) return st;
  if (got == 0)
    return tq_error(ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                    "not an IDX file: %s is empty", what(s));
  char found[16];
  hex_bytes(m, got, found, sizeof found);
  if (m[0] != 0 || (got > 1 && m[1] != 0)) {
    const char *hint = "";
    if (got >= 2 && m[0] == 0x93 && m[1] == 'N')
      hint = " (this looks like an .npy file)";
    else if (got >= 2 && m[0] == 'P' && m[1] == 'K')
      hint = " (this looks like a zip archive)";
    return tq_error(ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                    "not an IDX file: expected the magic 00 00 <type> <ndim> "
                    "at the start of %s, found %s%s",
                    what(s), found, hint);
  }
  if (got < 4)
    return tq_error(ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                    "truncated header: %s ends after %zu bytes, inside the "
                    "4-byte magic 00 00 <type> <ndim> (found %s)",
                    what(s), got, found);
  int type = m[2], ndim = m[3];
  size_t esz = type_size(type);
  if (esz == 0)
    return tq_error(ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                    "unknown IDX data type 0x%02x (byte 2 of the magic); "
                    "known types: " KNOWN_TYPES,
                    (unsigned)type);
  if (ndim == 0)
    return tq_error(ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                    "ndim (byte 3 of the magic) is 0: an IDX file has 1 to "
                    "%d dimensions here",
                    TQ_TENSOR_MAX_DIMS);
  if (ndim > TQ_TENSOR_MAX_DIMS)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, s->name, 0, 0,
                    "ndim (byte 3 of the magic) is %d: at most %d dimensions "
                    "are supported",
                    ndim, TQ_TENSOR_MAX_DIMS);
  unsigned char d[4 * TQ_TENSOR_MAX_DIMS];
  size_t need = 4 * (size_t)ndim;
  if ((st = src_read(s, d, need, &got)) != TQ_OK) return st;
  if (got < need)
    return tq_error(ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                    "truncated header: the magic declares %d dimensions, so "
                    "the header is %zu bytes, but %s ends after %zu bytes",
                    ndim, 4 + need, what(s), 4 + got);
  raw->type = type;
  raw->ndim = ndim;
  raw->elem_size = esz;
  for (int i = 0; i < ndim; i++) raw->dims[i] = load_be32(d + 4 * i);
  char dims[160];
  format_dims(raw->dims, ndim, dims, sizeof dims);
  for (int i = 0; i < ndim; i++)
    if (raw->dims[i] == 0)
      return tq_error(ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                      "dimension %d of %d is 0 (dims %s): IDX dimensions "
                      "must be at least 1",
                      i + 1, ndim, dims);
  uint64_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    uint64_t v = (uint64_t)raw->dims[i];
    if (numel > MAX_ELEMENTS / v)
      return tq_error(ctx, TQ_ERR_RANGE, s->name, 0, 0,
                      "dims %s are too large: more than 2^40 elements (the "
                      "size overflows what a tensor can hold)",
                      dims);
    numel *= v;
  }
  if (numel > SIZE_MAX / esz)
    return tq_error(ctx, TQ_ERR_RANGE, s->name, 0, 0,
                    "dims %s of type %s are too large to address in memory",
                    dims, tq_idx_type_name(type));
  raw->numel = (size_t)numel;
  *hdr_len = 4 + need;
  return TQ_OK;
}

/* ---- the data -------------------------------------------------------------*/

static tq_status size_error(idx_src *s, const tq_idx_raw *raw, size_t hdr_len,
                            uint64_t found) {
  char dims[160];
  format_dims(raw->dims, raw->ndim, dims, sizeof dims);
  size_t data = raw->numel * raw->elem_size;
  unsigned long long expected = (unsigned long long)hdr_len + data;
  if (found < expected)
    return tq_error(s->ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                    "%s is shorter than its header says (truncated?): dims "
                    "%s of type %s need %llu bytes (%zu header + %zu data), "
                    "found %llu (%llu missing)",
                    what(s), dims, tq_idx_type_name(raw->type), expected,
                    hdr_len, data, (unsigned long long)found,
                    expected - (unsigned long long)found);
  return tq_error(s->ctx, TQ_ERR_FORMAT, s->name, 0, 0,
                  "%s is longer than its header says: dims %s of type %s "
                  "need %llu bytes (%zu header + %zu data), found %llu "
                  "(%llu extra)",
                  what(s), dims, tq_idx_type_name(raw->type), expected, hdr_len,
                  data, (unsigned long long)found,
                  (unsigned long long)found - expected);
}

/* Reads the data that follows the header, and checks that nothing else
 * does (which also makes zlib verify the gzip checksums). */
static tq_status read_data(idx_src *s, tq_idx_raw *raw, size_t hdr_len) {
  size_t need = raw->numel * raw->elem_size;
  if (s->known_size && s->total != (uint64_t)hdr_len + need)
    return size_error(s, raw, hdr_len, s->total);
  /* Unsized input grows its buffer as data arrives. */
  size_t cap =
      s->known_size || need < ((size_t)1 << 20) ? need : (size_t)1 << 20;
  unsigned char *buf = malloc(cap);
  if (!buf) return tq_error_nomem(s->ctx);
  size_t have = 0;
  tq_status st = TQ_OK;
  while (have < need) {
    if (have == cap) {
      size_t grown = cap <= need / 2 ? cap * 2 : need;
      unsigned char *p = realloc(buf, grown);
      if (!p) {
        st = tq_error_nomem(s->ctx);
        break;
      }
      buf = p;
      cap = grown;
    }
    size_t got;
    if ((st = src_read(s, buf + have, cap - have, &got)) != TQ_OK) break;
    have += got;
    if (have < cap) break; /* the end of the input */
  }
  if (st == TQ_OK) {
    unsigned char scratch[4096];
    uint64_t extra = 0;
    for (;;) {
      size_t got;
      if ((st = src_read(s, scratch, sizeof scratch, &got)) != TQ_OK) break;
      extra += got;
      if (got < sizeof scratch) break;
    }
    if (st == TQ_OK && (have < need || extra))
      st = size_error(s, raw, hdr_len, (uint64_t)hdr_len + have + extra);
  }
  if (st != TQ_OK) {
    free(buf);
    return st;
  }
  raw->data = buf;
  return TQ_OK;
}

/* ---- entry points ---------------------------------------------------------*/

/* s has its input set up (and, for files, inbuf primed with the first
 * chunk); detects gzip and reads everything into raw. */
static tq_status load(idx_src *s, tq_idx_raw *raw) {
  const unsigned char *first = s->fp ? s->inbuf : s->mem;
  size_t first_len = s->fp ? s->in_len : s->mem_len;
  if (first_len >= 2 && first[0] == 0x1f && first[1] == 0x8b) {
    s->gz = 1;
    s->known_size = 0;
    memset(&s->zs, 0, sizeof s->zs);
    /* 16 + MAX_WBITS: gzip framing only, with its CRC-32 and size. */
    int ret = inflateInit2(&s->zs, 16 + MAX_WBITS);
    if (ret != Z_OK)
      return ret == Z_MEM_ERROR ? tq_error_nomem(s->ctx)
                                : tq_error(s->ctx, TQ_ERR_INTERNAL, s->name, 0,
                                           0, "zlib: inflateInit2 failed");
    s->z_ready = 1;
    if (s->fp) {
      s->zs.next_in = s->inbuf;
      s->zs.avail_in = (uInt)s->in_len;
      s->in_len = 0;
    }
  }
  size_t hdr_len = 0;
  tq_status st = read_header(s, raw, &hdr_len);
  if (st == TQ_OK) st = read_data(s, raw, hdr_len);
  if (s->z_ready) inflateEnd(&s->zs);
  if (st != TQ_OK) tq_idx_raw_free(raw);
  return st;
}

tq_status tq_idx_parse_raw(tq_context *ctx, const void *bytes, size_t size,
                           const char *name, tq_idx_raw *raw) {
  if (!raw)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "idx: raw must not be NULL");
  memset(raw, 0, sizeof *raw);
  const char *src = name ? name : "<memory>";
  if (!bytes && size)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "idx: data is NULL but size is %zu", size);
  idx_src s = {0};
  s.ctx = ctx;
  s.name = src;
  s.mem = bytes;
  s.mem_len = size;
  s.known_size = 1;
  s.total = size;
  return load(&s, raw);
}

tq_status tq_idx_load_raw(tq_context *ctx, const char *path, tq_idx_raw *raw) {
  if (!raw)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "idx: raw must not be NULL");
  memset(raw, 0, sizeof *raw);
  if (!path || !*path)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "idx: path must be a non-empty string");
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot open for reading: %s",
                    strerror(errno));
  idx_src s = {0};
  s.ctx = ctx;
  s.name = path;
  s.fp = fp;
  tq_status st = TQ_OK;
  struct stat sb;
  if (fstat(fileno(fp), &sb) != 0) {
    st = tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot stat: %s",
                  strerror(errno));
  } else if (S_ISDIR(sb.st_mode)) {
    st =
        tq_error(ctx, TQ_ERR_IO, path, 0, 0, "is a directory, not an IDX file");
  } else if (!(s.inbuf = malloc(IN_CHUNK))) {
    st = tq_error_nomem(ctx);
  } else {
    /* Files in /proc and pipes report size 0: read them unsized. */
    s.known_size = S_ISREG(sb.st_mode) && sb.st_size > 0;
    s.total = s.known_size ? (uint64_t)sb.st_size : 0;
    size_t k = fread(s.inbuf, 1, IN_CHUNK, fp);
    if (k < IN_CHUNK && ferror(fp)) {
      st = io_error(&s);
    } else {
      s.in_len = k;
      s.raw_in = k;
      st = load(&s, raw);
    }
  }
  free(s.inbuf);
  fclose(fp); /* read-only: a failing fclose loses nothing */
  return st;
}

static tq_status to_tensor(tq_context *ctx, const char *name,
                           const tq_idx_raw *raw, tq_dtype want,
                           tq_tensor **out) {
  if (want == TQ_DTYPE_INT64 &&
      (raw->type == TQ_IDX_FLOAT || raw->type == TQ_IDX_DOUBLE))
    return tq_error(ctx, TQ_ERR_FORMAT, name, 0, 0,
                    "holds %s data, but int64 was requested: only the "
                    "integer IDX types (ubyte, sbyte, short, int) convert to "
                    "int64",
                    tq_idx_type_name(raw->type));
  tq_shape shape = {0};
  shape.ndim = raw->ndim;
  for (int i = 0; i < raw->ndim; i++) shape.dims[i] = raw->dims[i];
  tq_tensor *t = NULL;
  tq_status st = tq_tensor_create(ctx, want, &shape, &t);
  if (st != TQ_OK) return st;
  if (want == TQ_DTYPE_FLOAT32) {
    tq_idx_raw_to_floats(raw, 0, raw->numel, tq_f32(t));
  } else {
    int64_t *dst = tq_i64(t);
    for (size_t i = 0; i < raw->numel; i++)
      dst[i] = (int64_t)tq_idx_raw_value(raw, i);
  }
  *out = t;
  return TQ_OK;
}

static tq_status check_want(tq_context *ctx, const char *name, tq_dtype want,
                            tq_tensor **out) {
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, name, 0, 0,
                    "idx: out must not be NULL");
  *out = NULL;
  if (want != TQ_DTYPE_FLOAT32 && want != TQ_DTYPE_INT64)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, name, 0, 0,
                    "idx: dtype %d requested; IDX files are read as float32 "
                    "or int64",
                    (int)want);
  return TQ_OK;
}

tq_status tq_idx_read(tq_context *ctx, const char *path, tq_dtype want,
                      tq_tensor **out) {
  tq_status st = check_want(ctx, path, want, out);
  if (st != TQ_OK) return st;
  tq_idx_raw raw;
  if ((st = tq_idx_load_raw(ctx, path, &raw)) != TQ_OK) return st;
  st = to_tensor(ctx, path, &raw, want, out);
  tq_idx_raw_free(&raw);
  return st;
}

tq_status tq_idx_read_memory(tq_context *ctx, const void *data, size_t size,
                             const char *name_for_errors, tq_dtype want,
                             tq_tensor **out) {
  const char *name = name_for_errors ? name_for_errors : "<memory>";
  tq_status st = check_want(ctx, name, want, out);
  if (st != TQ_OK) return st;
  tq_idx_raw raw;
  if ((st = tq_idx_parse_raw(ctx, data, size, name, &raw)) != TQ_OK) return st;
  st = to_tensor(ctx, name, &raw, want, out);
  tq_idx_raw_free(&raw);
  return st;
}
