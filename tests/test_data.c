/* Tests for the dataset module: IDX files (plain and gzipped) with every
 * header, size and gzip error; IDX directories and NPY pairs as datasets
 * with their validation errors; gather with scaling and normalization;
 * shuffles and train/validation splits; Fashion-MNIST when installed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "testutil.h"

/* ---- helpers --------------------------------------------------------------*/

static tq_context *new_ctx(void) {
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  return ctx;
}

static void expect_message(const tq_context *ctx, const char *phrase) {
  const char *msg = tq_context_last_error(ctx);
  if (strstr(msg, phrase)) return;
  fail_msg("message \"%s\" lacks \"%s\"", msg, phrase);
}

/* A growable byte buffer. */
typedef struct buf {
  unsigned char *p;
  size_t len, cap;
} buf;

static void put(buf *b, const void *bytes, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  if (n) memcpy(b->p + b->len, bytes, n);
  b->len += n;
}

static void put_be32(buf *b, uint32_t v) {
  unsigned char q[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 8), (unsigned char)v};
  put(b, q, 4);
}

/* An IDX file: magic 00 00 type ndim, big-endian dims, then data (already
 * big-endian) of data_len bytes. */
static buf idx_bytes(int type, int ndim, const uint32_t *dims, const void *data,
                     size_t data_len) {
  buf b = {0};
  unsigned char magic[4] = {0, 0, (unsigned char)type, (unsigned char)ndim};
  put(&b, magic, 4);
  for (int i = 0; i < ndim; i++) put_be32(&b, dims[i]);
  put(&b, data, data_len);
  return b;
}

/* gzip (one member) of n bytes. */
static buf gzip_bytes(const void *in, size_t n) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  assert_int_equal(
      deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  buf b = {0};
  b.cap = deflateBound(&zs, (uLong)n) + 64;
  b.p = malloc(b.cap);
  assert_non_null(b.p);
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)n;
  zs.next_out = b.p;
  zs.avail_out = (uInt)b.cap;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  b.len = b.cap - zs.avail_out;
  deflateEnd(&zs);
  return b;
}

static void write_file(const char *path, const void *bytes, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  if (len) assert_int_equal(fwrite(bytes, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static char *tmp(const char *name) {
  char *p = tq_test_tmp_path(name);
  assert_non_null(p);
  return p;
}

static void make_dir(const char *path) {
  if (mkdir(path, 0755) != 0 && errno != EEXIST)
    fail_msg("mkdir %s: %s", path, strerror(errno));
}

/* Writes dir/name. */
static void write_in(const char *dir, const char *name, const buf *b) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  assert_non_null(p);
  snprintf(p, n, "%s/%s", dir, name);
  write_file(p, b->p, b->len);
  free(p);
}

static void remove_in(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  assert_non_null(p);
  snprintf(p, n, "%s/%s", dir, name);
  remove(p);
  free(p);
}

/* An .npy file (format 1.0) with the given descr and shape text. */
static void write_npy(const char *path, const char *descr, const char *shape,
                      const void *data, size_t data_len) {
  char dict[256];
  snprintf(dict, sizeof dict,
           "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
           shape);
  size_t hlen = strlen(dict) + 1;
  buf b = {0};
  put(&b, "\x93NUMPY\x01\x00", 8);
  unsigned char hl[2] = {(unsigned char)(hlen & 0xff),
                         (unsigned char)(hlen >> 8)};
  put(&b, hl, 2);
  put(&b, dict, strlen(dict));
  put(&b, "\n", 1);
  put(&b, data, data_len);
  write_file(path, b.p, b.len);
  free(b.p);
}

static tq_status read_mem(tq_context *ctx, const buf *b, tq_dtype want,
                          tq_tensor **t) {
  tq_status st = tq_idx_read_memory(ctx, b->p, b->len, "mem.idx", want, t);
  if (st != TQ_OK) {
    assert_null(*t);
    expect_message(ctx, "mem.idx");
  }
  return st;
}

/* ---- IDX: values of every type --------------------------------------------*/

static void idx_ubyte_values(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  unsigned char px[12];
  for (int i = 0; i < 12; i++) px[i] = (unsigned char)(i * 20 + 15);
  uint32_t dims[3] = {2, 2, 3};
  buf b = idx_bytes(0x08, 3, dims, px, sizeof px);
  tq_tensor *t = NULL;
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_FLOAT32, &t), TQ_OK);
  const tq_shape *s = tq_tensor_shape(t);
  assert_int_equal(s->ndim, 3);
  assert_int_equal(s->dims[0], 2);
  assert_int_equal(s->dims[1], 2);
  assert_int_equal(s->dims[2], 3);
  const float *f = tq_tensor_cdata(t);
  for (int i = 0; i < 12; i++) assert_true(f[i] == (float)px[i]);
  tq_tensor_destroy(t);
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_INT64, &t), TQ_OK);
  assert_int_equal(tq_tensor_dtype(t), TQ_DTYPE_INT64);
  const int64_t *q = tq_tensor_cdata(t);
  for (int i = 0; i < 12; i++) assert_int_equal(q[i], px[i]);
  tq_tensor_destroy(t);
  free(b.p);
  tq_context_destroy(ctx);
}

static void idx_signed_types(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_tensor *t = NULL;
  uint32_t d3[1] = {3};
  /* sbyte -1, 127, -128 */
  unsigned char sb[3] = {0xff, 0x7f, 0x80};
  buf b = idx_bytes(0x09, 1, d3, sb, 3);
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_INT64, &t), TQ_OK);
  const int64_t *q = tq_tensor_cdata(t);
  assert_int_equal(q[0], -1);
  assert_int_equal(q[1], 127);
  assert_int_equal(q[2], -128);
  tq_tensor_destroy(t);
  free(b.p);
  /* short -2, 1000, -32768 */
  unsigned char sh[6] = {0xff, 0xfe, 0x03, 0xe8, 0x80, 0x00};
  b = idx_bytes(0x0B, 1, d3, sh, 6);
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_FLOAT32, &t), TQ_OK);
  const float *f = tq_tensor_cdata(t);
  assert_true(f[0] == -2.0f && f[1] == 1000.0f && f[2] == -32768.0f);
  tq_tensor_destroy(t);
  free(b.p);
  /* int -100000, 2^31-1, -2^31: exact as int64, rounded as float */
  unsigned char in[12] = {0xff, 0xfe, 0x79, 0x60, 0x7f, 0xff,
                          0xff, 0xff, 0x80, 0x00, 0x00, 0x00};
  b = idx_bytes(0x0C, 1, d3, in, 12);
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_INT64, &t), TQ_OK);
  q = tq_tensor_cdata(t);
  assert_int_equal(q[0], -100000);
  assert_int_equal(q[1], 2147483647);
  assert_int_equal(q[2], -2147483647 - 1);
  tq_tensor_destroy(t);
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_FLOAT32, &t), TQ_OK);
  f = tq_tensor_cdata(t);
  assert_true(f[0] == -100000.0f && f[1] == 2147483648.0f &&
              f[2] == -2147483648.0f);
  tq_tensor_destroy(t);
  free(b.p);
  tq_context_destroy(ctx);
}

static void idx_float_types(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_tensor *t = NULL;
  uint32_t d2[2] = {1, 2};
  /* float 1.5 (3fc00000), -0.25 (be800000) */
  unsigned char fl[8] = {0x3f, 0xc0, 0, 0, 0xbe, 0x80, 0, 0};
  buf b = idx_bytes(0x0D, 2, d2, fl, 8);
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_FLOAT32, &t), TQ_OK);
  const float *f = tq_tensor_cdata(t);
  assert_true(f[0] == 1.5f && f[1] == -0.25f);
  tq_tensor_destroy(t);
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_INT64, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "holds float data, but int64 was requested");
  free(b.p);
  /* double 0.1 (3fb999999999999a), -3 */
  unsigned char db[16] = {0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a,
                          0xc0, 0x08, 0,    0,    0,    0,    0,    0};
  b = idx_bytes(0x0E, 2, d2, db, 16);
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_FLOAT32, &t), TQ_OK);
  f = tq_tensor_cdata(t);
  assert_true(f[0] == (float)0.1 && f[1] == -3.0f);
  tq_tensor_destroy(t);
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_INT64, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "double");
  /* Neither float32 nor int64 */
  assert_int_equal(read_mem(ctx, &b, TQ_DTYPE_COUNT, &t),
                   TQ_ERR_INVALID_ARGUMENT);
  free(b.p);
  tq_context_destroy(ctx);
}

/* ---- IDX: files and gzip --------------------------------------------------*/

static void idx_files_plain_and_gz(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  unsigned char px[2 * 5 * 7];
  for (size_t i = 0; i < sizeof px; i++) px[i] = (unsigned char)(i * 37);
  uint32_t dims[3] = {2, 5, 7};
  buf b = idx_bytes(0x08, 3, dims, px, sizeof px);
  buf z = gzip_bytes(b.p, b.len);
  char *plain = tmp("data_plain.idx"), *gz = tmp("data_file.idx.gz");
  char *noext = tmp("data_gz_without_suffix");
  write_file(plain, b.p, b.len);
  write_file(gz, z.p, z.len);
  write_file(noext, z.p, z.len);
  const char *paths[3] = {plain, gz, noext};
  for (int k = 0; k < 3; k++) {
    tq_tensor *t = NULL;
    assert_int_equal(tq_idx_read(ctx, paths[k], TQ_DTYPE_FLOAT32, &t), TQ_OK);
    assert_int_equal(tq_tensor_numel(t), sizeof px);
    const float *f = tq_tensor_cdata(t);
    for (size_t i = 0; i < sizeof px; i++) assert_true(f[i] == px[i]);
    tq_tensor_destroy(t);
  }
  /* The same from memory, gzipped. */
  tq_tensor *t = NULL;
  assert_int_equal(read_mem(ctx, &z, TQ_DTYPE_INT64, &t), TQ_OK);
  assert_int_equal(((const int64_t *)tq_tensor_cdata(t))[69], px[69]);
  tq_tensor_destroy(t);
  /* Two concatenated gzip members decompress as one stream (gunzip). */
  buf z1 = gzip_bytes(b.p, 10), z2 = gzip_bytes(b.p + 10, b.len - 10);
  buf cat = {0};
  put(&cat, z1.p, z1.len);
  put(&cat, z2.p, z2.len);
  assert_int_equal(read_mem(ctx, &cat, TQ_DTYPE_FLOAT32, &t), TQ_OK);
  assert_true(((const float *)tq_tensor_cdata(t))[69] == px[69]);
  tq_tensor_destroy(t);
  /* Missing files and directories. */
  char *missing = tmp("data_no_such_file.idx");
  assert_int_equal(tq_idx_read(ctx, missing, TQ_DTYPE_FLOAT32, &t), TQ_ERR_IO);
  assert_null(t);
  expect_message(ctx, missing);
  assert_int_equal(tq_idx_read(ctx, TQ_TEST_TMP_DIR, TQ_DTYPE_FLOAT32, &t),
                   TQ_ERR_IO);
  expect_message(ctx, "is a directory");
  remove(plain);
  remove(gz);
  remove(noext);
  free(plain);
  free(gz);
  free(noext);
  free(missing);
  free(b.p);
  free(z.p);
  free(z1.p);
  free(z2.p);
  free(cat.p);
  tq_context_destroy(ctx);
}

/* ---- IDX: header errors ---------------------------------------------------*/

typedef struct header_case {
  const char *bytes;
  size_t len;
  tq_status status;
  const char *phrase1, *phrase2;
} header_case;

#define B(s) s, sizeof(s) - 1

static void idx_header_errors(void **state) {
  (void)state;
  static const header_case cases[] = {
      {"", 0, TQ_ERR_FORMAT, "not an IDX file", "is empty"},
      {B("\x01\x00\x08\x01\x00\x00\x00\x01\x05"), TQ_ERR_FORMAT,
       "expected the magic 00 00 <type> <ndim>", "found 01 00 08 01"},
      {B("\x93NUMPY\x01\x00"), TQ_ERR_FORMAT, "not an IDX file",
       "looks like an .npy file"},
      {B("\x00\x00"), TQ_ERR_FORMAT, "truncated header", "ends after 2 bytes"},
      {B("\x00\x00\x0a\x01\x00\x00\x00\x01\x05"), TQ_ERR_FORMAT,
       "unknown IDX data type 0x0a", "0x08 ubyte"},
      {B("\x00\x00\x08\x00"), TQ_ERR_FORMAT, "ndim (byte 3 of the magic) is 0",
       "1 to 6"},
      {B("\x00\x00\x08\x07\x00\x00\x00\x01"), TQ_ERR_UNSUPPORTED,
       "ndim (byte 3 of the magic) is 7", "at most 6"},
      {B("\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00"), TQ_ERR_FORMAT,
       "declares 3 dimensions", "header is 16 bytes"},
      {B("\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01"),
       TQ_ERR_FORMAT, "dimension 2 of 3 is 0", "[2, 0, 1]"},
      {B("\x00\x00\x0e\x03\xff\xff\xff\xff\xff\xff\xff\xff\x00\x01\x00\x00"),
       TQ_ERR_RANGE, "[4294967295, 4294967295, 65536]", "too large"},
  };
  tq_context *ctx = new_ctx();
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const header_case *c = &cases[k];
    buf b = {0};
    put(&b, c->bytes, c->len);
    tq_tensor *t = NULL;
    tq_status st = read_mem(ctx, &b, TQ_DTYPE_FLOAT32, &t);
    if (st != c->status)
      fail_msg("case %zu: status %s, expected %s (%s)", k, tq_status_str(st),
               tq_status_str(c->status), tq_context_last_error(ctx));
    expect_message(ctx, c->phrase1);
    expect_message(ctx, c->phrase2);
    /* The same errors through gzip, which says "decompressed data". */
    buf z = gzip_bytes(b.p, b.len);
    assert_int_equal(read_mem(ctx, &z, TQ_DTYPE_FLOAT32, &t), c->status);
    expect_message(ctx, c->phrase1);
    free(z.p);
    free(b.p);
  }
  tq_context_destroy(ctx);
}

/* ---- IDX: sizes -----------------------------------------------------------*/

static void idx_size_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_tensor *t = NULL;
  unsigned char data[13] = {0};
  uint32_t dims[2] = {3, 4}; /* 12 data bytes after an 12-byte header */
  buf shorter = idx_bytes(0x08, 2, dims, data, 11);
  buf longer = idx_bytes(0x08, 2, dims, data, 13);
  assert_int_equal(read_mem(ctx, &shorter, TQ_DTYPE_FLOAT32, &t),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "the file is shorter than its header says");
  expect_message(ctx, "need 24 bytes (12 header + 12 data), found 23");
  expect_message(ctx, "[3, 4] of type ubyte");
  assert_int_equal(read_mem(ctx, &longer, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "the file is longer than its header says");
  expect_message(ctx, "found 25 (1 extra)");
  /* From files: the message names the file. */
  char *path = tmp("data_short.idx");
  write_file(path, shorter.p, shorter.len);
  assert_int_equal(tq_idx_read(ctx, path, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, path);
  expect_message(ctx, "found 23 (1 missing)");
  write_file(path, longer.p, longer.len);
  assert_int_equal(tq_idx_read(ctx, path, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "found 25 (1 extra)");
  /* Gzipped: the decompressed sizes. */
  buf zs = gzip_bytes(shorter.p, shorter.len);
  buf zl = gzip_bytes(longer.p, longer.len);
  assert_int_equal(read_mem(ctx, &zs, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "the decompressed data is shorter than its header says");
  expect_message(ctx, "found 23");
  write_file(path, zl.p, zl.len);
  assert_int_equal(tq_idx_read(ctx, path, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "the decompressed data is longer than its header says");
  expect_message(ctx, "found 25 (1 extra)");
  /* A small file whose header claims gigabytes fails as too short, without
   * trying to allocate them. */
  uint32_t big[3] = {60000, 1000, 1000};
  buf liar = idx_bytes(0x08, 3, big, data, 13);
  buf zliar = gzip_bytes(liar.p, liar.len);
  assert_int_equal(read_mem(ctx, &liar, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "need 60000000016 bytes");
  assert_int_equal(read_mem(ctx, &zliar, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "found 29 (59999999987 missing)");
  remove(path);
  free(path);
  free(shorter.p);
  free(longer.p);
  free(zs.p);
  free(zl.p);
  free(liar.p);
  free(zliar.p);
  tq_context_destroy(ctx);
}

static void idx_gzip_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_tensor *t = NULL;
  unsigned char px[200];
  for (int i = 0; i < 200; i++) px[i] = (unsigned char)(i * i);
  uint32_t dims[2] = {10, 20};
  buf b = idx_bytes(0x08, 2, dims, px, sizeof px);
  buf z = gzip_bytes(b.p, b.len);
  /* Truncated: the last bytes (trailer, end of the stream) missing. */
  for (size_t cut = 1; cut < z.len - 2; cut += 7) {
    buf part = {0};
    put(&part, z.p, z.len - cut);
    assert_int_equal(read_mem(ctx, &part, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
    if (!strstr(tq_context_last_error(ctx), "truncated gzip data") &&
        !strstr(tq_context_last_error(ctx), "corrupt gzip data"))
      fail_msg("cut %zu: %s", cut, tq_context_last_error(ctx));
    free(part.p);
  }
  buf part = {0};
  put(&part, z.p, z.len - 4); /* only the length of the trailer lost */
  assert_int_equal(read_mem(ctx, &part, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "truncated gzip data: the compressed stream ends after");
  free(part.p);
  /* A wrong CRC-32 in the trailer. */
  buf bad = {0};
  put(&bad, z.p, z.len);
  bad.p[bad.len - 8] ^= 0x55;
  assert_int_equal(read_mem(ctx, &bad, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "corrupt gzip data");
  expect_message(ctx, "incorrect data check");
  /* A wrong length in the trailer. */
  bad.p[bad.len - 8] ^= 0x55;
  bad.p[bad.len - 4] ^= 0x01;
  assert_int_equal(read_mem(ctx, &bad, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "incorrect length check");
  bad.p[bad.len - 4] ^= 0x01;
  /* A corrupt deflate block type (the byte after the 10-byte header). */
  bad.p[10] |= 0x06;
  assert_int_equal(read_mem(ctx, &bad, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "corrupt gzip data near compressed offset");
  expect_message(ctx, "invalid block type");
  free(bad.p);
  /* A bad gzip header flag byte. */
  buf hdr = {0};
  put(&hdr, z.p, z.len);
  hdr.p[2] = 7; /* compression method: only 8 (deflate) exists */
  assert_int_equal(read_mem(ctx, &hdr, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "corrupt gzip data");
  free(hdr.p);
  /* Trailing garbage after the gzip stream. */
  buf tail = {0};
  put(&tail, z.p, z.len);
  put(&tail, "junk", 4);
  assert_int_equal(read_mem(ctx, &tail, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "unexpected bytes after the end of the gzip data");
  /* The same through a file. */
  char *path = tmp("data_tail.idx.gz");
  write_file(path, tail.p, tail.len);
  assert_int_equal(tq_idx_read(ctx, path, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, path);
  expect_message(ctx, "unexpected bytes after the end of the gzip data");
  write_file(path, z.p, z.len - 3);
  assert_int_equal(tq_idx_read(ctx, path, TQ_DTYPE_FLOAT32, &t), TQ_ERR_FORMAT);
  expect_message(ctx, "truncated gzip data");
  remove(path);
  free(path);
  free(tail.p);
  free(b.p);
  free(z.p);
  tq_context_destroy(ctx);
}

/* ---- datasets from IDX directories ----------------------------------------*/

/* Writes a small MNIST-like directory: train 3 images of 2x2 with labels
 * {0, 2, 1}, t10k 2 images with labels {1, 1}; gzipped when gz. */
static char *make_idx_dir(const char *name, int gz) {
  char *dir = tmp(name);
  make_dir(dir);
  static const unsigned char train_px[12] = {0, 255, 51, 102, 1,  2,
                                             3, 4,   10, 20,  30, 40};
  static const unsigned char train_y[3] = {0, 2, 1};
  static const unsigned char test_px[8] = {255, 255, 0, 0, 5, 6, 7, 8};
  static const unsigned char test_y[2] = {1, 1};
  uint32_t d_train[3] = {3, 2, 2}, d_test[3] = {2, 2, 2};
  uint32_t l_train[1] = {3}, l_test[1] = {2};
  buf f[4] = {idx_bytes(0x08, 3, d_train, train_px, 12),
              idx_bytes(0x08, 1, l_train, train_y, 3),
              idx_bytes(0x08, 3, d_test, test_px, 8),
              idx_bytes(0x08, 1, l_test, test_y, 2)};
  static const char *names[4] = {
      "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
      "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  for (int i = 0; i < 4; i++) {
    char file[64];
    snprintf(file, sizeof file, "%s%s", names[i], gz ? ".gz" : "");
    if (gz) {
      buf z = gzip_bytes(f[i].p, f[i].len);
      write_in(dir, file, &z);
      free(z.p);
    } else {
      write_in(dir, file, &f[i]);
    }
    free(f[i].p);
  }
  return dir;
}

static void dataset_idx_dir(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  for (int gz = 0; gz < 2; gz++) {
    char *dir = make_idx_dir(gz ? "data_dir_gz" : "data_dir_plain", gz);
    tq_dataset *ds = NULL;
    assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds), TQ_OK);
    assert_int_equal(tq_dataset_size(ds), 3);
    const tq_shape *s = tq_dataset_sample_shape(ds);
    assert_int_equal(s->ndim, 3);
    assert_int_equal(s->dims[0], 1);
    assert_int_equal(s->dims[1], 2);
    assert_int_equal(s->dims[2], 2);
    assert_int_equal(tq_dataset_sample_numel(ds), 4);
    assert_int_equal(tq_dataset_classes(ds), 3);
    assert_string_equal(tq_dataset_name(ds), dir);
    assert_int_equal(tq_dataset_split(ds), TQ_SPLIT_TRAIN);
    const int64_t *y = tq_dataset_labels(ds);
    assert_int_equal(y[0], 0);
    assert_int_equal(y[1], 2);
    assert_int_equal(y[2], 1);
    /* ubyte images come out as pixel / 255. */
    size_t idx[3] = {1, 0, 1};
    float x[12];
    int64_t lab[3];
    assert_int_equal(tq_dataset_gather(ctx, ds, idx, 3, x, lab), TQ_OK);
    assert_true(x[0] == 1.0f / 255.0f && x[1] == 2.0f / 255.0f &&
                x[2] == 3.0f / 255.0f && x[3] == 4.0f / 255.0f);
    assert_true(x[4] == 0.0f && x[5] == 1.0f && x[6] == 0.2f && x[7] == 0.4f);
    assert_memory_equal(x + 8, x, 4 * sizeof(float));
    assert_int_equal(lab[0], 2);
    assert_int_equal(lab[1], 0);
    assert_int_equal(lab[2], 2);
    /* Labels may be NULL; n = 0 does nothing. */
    assert_int_equal(tq_dataset_gather(ctx, ds, idx, 1, x, NULL), TQ_OK);
    assert_int_equal(tq_dataset_gather(ctx, ds, NULL, 0, NULL, NULL), TQ_OK);
    /* Out of range. */
    size_t bad[2] = {2, 3};
    assert_int_equal(tq_dataset_gather(ctx, ds, bad, 2, x, lab), TQ_ERR_RANGE);
    expect_message(ctx, "index 3 at position 1 is out of range");
    expect_message(ctx, "3 samples");
    assert_int_equal(tq_dataset_gather(ctx, ds, idx, 1, NULL, lab),
                     TQ_ERR_INVALID_ARGUMENT);
    tq_dataset_destroy(ds);

    assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TEST, &ds), TQ_OK);
    assert_int_equal(tq_dataset_size(ds), 2);
    assert_int_equal(tq_dataset_classes(ds), 2);
    assert_int_equal(tq_dataset_split(ds), TQ_SPLIT_TEST);
    size_t one = 1;
    assert_int_equal(tq_dataset_gather(ctx, ds, &one, 1, x, lab), TQ_OK);
    assert_true(x[0] == 5.0f / 255.0f && x[3] == 8.0f / 255.0f);
    assert_int_equal(lab[0], 1);
    tq_dataset_destroy(ds);
    free(dir);
  }
  tq_context_destroy(ctx);
}

/* A directory whose train files are written by the caller. */
static char *fresh_dir(const char *name) {
  char *dir = tmp(name);
  make_dir(dir);
  remove_in(dir, "train-images-idx3-ubyte");
  remove_in(dir, "train-labels-idx1-ubyte");
  remove_in(dir, "train-images-idx3-ubyte.gz");
  remove_in(dir, "train-labels-idx1-ubyte.gz");
  return dir;
}

static void write_train(const char *dir, const buf *images, const buf *labels) {
  write_in(dir, "train-images-idx3-ubyte", images);
  if (labels) write_in(dir, "train-labels-idx1-ubyte", labels);
}

static void dataset_idx_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_dataset *ds = NULL;
  char *dir = fresh_dir("data_dir_errors");
  unsigned char px[12] = {0};
  uint32_t d3[3] = {3, 2, 2}, d1[1] = {3}, d2[1] = {2};
  buf images = idx_bytes(0x08, 3, d3, px, 12);

  /* Missing label file. */
  write_train(dir, &images, NULL);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_NOT_FOUND);
  assert_null(ds);
  expect_message(ctx,
                 "neither train-labels-idx1-ubyte nor "
                 "train-labels-idx1-ubyte.gz");
  expect_message(ctx, dir);

  /* Count mismatch: both counts, both files. */
  unsigned char y2[2] = {0, 1};
  buf labels = idx_bytes(0x08, 1, d2, y2, 2);
  write_train(dir, &images, &labels);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "3 samples in ");
  expect_message(ctx, "train-images-idx3-ubyte but 2 labels in ");
  expect_message(ctx, "train-labels-idx1-ubyte");
  free(labels.p);

  /* Negative labels (sbyte). */
  unsigned char yneg[3] = {0, 0xff, 1};
  labels = idx_bytes(0x09, 1, d1, yneg, 3);
  write_train(dir, &images, &labels);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "the label of sample 1 is negative (-1)");
  expect_message(ctx, "train-labels-idx1-ubyte");
  free(labels.p);

  /* Labels too large for the class count (int 2^31 - 1). */
  unsigned char ybig[12] = {0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 2};
  labels = idx_bytes(0x0C, 1, d1, ybig, 12);
  write_train(dir, &images, &labels);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "the label of sample 1 is 2147483647");
  free(labels.p);

  /* Float labels must be integral. */
  unsigned char yf[12] = {0x3f, 0x80, 0, 0, 0x3f, 0xc0, 0, 0, 0, 0, 0, 0};
  labels = idx_bytes(0x0D, 1, d1, yf, 12);
  write_train(dir, &images, &labels);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "the label of sample 1 is 1.5: labels must be integers");
  /* ... and are fine when they are (1, 1, 0 -> 2 classes). */
  yf[4] = 0x3f;
  yf[5] = 0x80;
  free(labels.p);
  labels = idx_bytes(0x0D, 1, d1, yf, 12);
  write_train(dir, &images, &labels);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds), TQ_OK);
  assert_int_equal(tq_dataset_classes(ds), 2);
  tq_dataset_destroy(ds);
  ds = NULL;

  /* 2-d labels. */
  uint32_t d31[2] = {3, 1};
  unsigned char y3[3] = {0, 1, 0};
  buf labels2 = idx_bytes(0x08, 2, d31, y3, 3);
  write_train(dir, &images, &labels2);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "labels must be a 1-d array, found 2 dimensions");
  free(labels2.p);

  /* Float images: NaN and inf are named by sample. */
  uint32_t d4[4] = {3, 1, 1, 2};
  unsigned char fimg[24] = {0};
  fimg[16] = 0x7f; /* sample 2, element 0: NaN 7fc00000 */
  fimg[17] = 0xc0;
  buf fimages = idx_bytes(0x0D, 4, d4, fimg, 24);
  write_train(dir, &fimages, &labels);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "sample 2 holds NaN (element 0 of the sample");
  expect_message(ctx, "train-images-idx3-ubyte");
  free(fimages.p);
  fimg[16] = 0xff; /* -inf ff800000 at sample 2 */
  fimg[17] = 0x80;
  fimages = idx_bytes(0x0D, 4, d4, fimg, 24);
  write_train(dir, &fimages, &labels);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "sample 2 holds -inf");
  free(fimages.p);
  /* Finite float images of [N,C,H,W] keep their channels, unscaled. */
  fimg[16] = 0x40; /* 2.0 */
  fimg[17] = 0x00;
  fimages = idx_bytes(0x0D, 4, d4, fimg, 24);
  write_train(dir, &fimages, &labels);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds), TQ_OK);
  assert_int_equal(tq_dataset_sample_shape(ds)->ndim, 3);
  assert_int_equal(tq_dataset_sample_shape(ds)->dims[0], 1);
  assert_int_equal(tq_dataset_sample_shape(ds)->dims[2], 2);
  size_t i2 = 2;
  float x[2];
  assert_int_equal(tq_dataset_gather(ctx, ds, &i2, 1, x, NULL), TQ_OK);
  assert_true(x[0] == 2.0f && x[1] == 0.0f);
  tq_dataset_destroy(ds);
  ds = NULL;
  free(fimages.p);

  /* 1-d images are not samples. */
  unsigned char px3[3] = {0};
  buf flat = idx_bytes(0x08, 1, d1, px3, 3);
  write_train(dir, &flat, &labels);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "the samples array has 1 dimension");
  free(flat.p);

  /* A corrupt image file reports the IDX error with its path. */
  buf trunc = {0};
  put(&trunc, images.p, images.len - 1);
  write_train(dir, &trunc, &labels);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "train-images-idx3-ubyte: the file is shorter");
  free(trunc.p);

  free(labels.p);
  free(images.p);
  free(dir);
  tq_context_destroy(ctx);
}

static void dataset_spec_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_dataset *ds = (tq_dataset *)&ds;
  assert_int_equal(tq_dataset_open(ctx, "", TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_null(ds);
  assert_int_equal(tq_dataset_open(ctx, NULL, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_dataset_open(ctx, "fashion-mnist", TQ_SPLIT_TRAIN, NULL),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_dataset_open(ctx, "fashion-mnist", (tq_data_split)7, &ds),
                   TQ_ERR_INVALID_ARGUMENT);
  expect_message(ctx, "unknown split 7");
  assert_int_equal(tq_dataset_open(ctx, "no-such-dataset", TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_NOT_FOUND);
  expect_message(ctx, "no-such-dataset: no such dataset or directory");
  expect_message(ctx, "\"fashion-mnist\"");
  /* A plain file is not a dataset. */
  char *file = tmp("data_not_a_dir.npy");
  write_file(file, "x", 1);
  assert_int_equal(tq_dataset_open(ctx, file, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_INVALID_ARGUMENT);
  expect_message(ctx, "not a directory");
  expect_message(ctx, "separated by a comma");
  remove(file);
  free(file);
  /* Bad NPY specs: three bare files are two inputs and labels (this one's
   * files do not exist); names given twice; no labels. */
  assert_int_equal(
      tq_dataset_open(ctx, "a.npy,b.npy,c.npy", TQ_SPLIT_TRAIN, &ds),
      TQ_ERR_IO);
  expect_message(ctx, "a.npy: cannot open for reading");
  assert_int_equal(tq_dataset_open(ctx, "x=a.npy, x=b.npy, labels=c.npy",
                                   TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_INVALID_ARGUMENT);
  expect_message(ctx, "input 'x' is given twice");
  assert_int_equal(
      tq_dataset_open(ctx, "labels=a.npy,labels=b.npy", TQ_SPLIT_TRAIN, &ds),
      TQ_ERR_INVALID_ARGUMENT);
  expect_message(ctx, "labels= is given twice");
  assert_int_equal(
      tq_dataset_open(ctx, "ids=a.npy,mask=b.npy", TQ_SPLIT_TRAIN, &ds),
      TQ_ERR_INVALID_ARGUMENT);
  expect_message(ctx, "needs labels: a last bare file or labels=y.npy");
  assert_int_equal(tq_dataset_open(ctx, " ,b.npy", TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_INVALID_ARGUMENT);
  expect_message(ctx, "the samples (first) path is empty");
  assert_int_equal(tq_dataset_open(ctx, "a.npy,", TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_INVALID_ARGUMENT);
  expect_message(ctx, "the labels (second) path is empty");
  tq_context_destroy(ctx);
}

/* ---- datasets from NPY pairs ----------------------------------------------*/

static void little_endian_i64(const int64_t *v, size_t n, unsigned char *out) {
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < 8; k++)
      out[8 * i + k] = (unsigned char)((uint64_t)v[i] >> (8 * k));
}

/* "X,y" for two paths, in a static buffer. */
static const char *pair(const char *x, const char *sep, const char *y) {
  static char spec[1024];
  snprintf(spec, sizeof spec, "%s%s%s", x, sep, y);
  return spec;
}

static void dataset_npy_pair(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char *xp = tmp("data_X.npy"), *yp = tmp("data_y.npy");
  /* X float32 [3,2,2] (gets a channel dim), y float with integral values. */
  float xv[12] = {0.5f, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 300};
  float yv[3] = {4, 0, 1};
  assert_int_equal(tq_npy_write(ctx, xp, xv, &(tq_shape){3, {3, 2, 2}}), TQ_OK);
  assert_int_equal(tq_npy_write(ctx, yp, yv, &(tq_shape){1, {3}}), TQ_OK);
  tq_dataset *ds = NULL;
  const char *spec = pair(xp, " , ", yp);
  assert_int_equal(tq_dataset_open(ctx, spec, TQ_SPLIT_TRAIN, &ds), TQ_OK);
  assert_string_equal(tq_dataset_name(ds), spec);
  assert_int_equal(tq_dataset_size(ds), 3);
  assert_int_equal(tq_dataset_classes(ds), 5);
  const tq_shape *s = tq_dataset_sample_shape(ds);
  assert_int_equal(s->ndim, 3);
  assert_int_equal(s->dims[0], 1);
  assert_int_equal(s->dims[1], 2);
  size_t idx[2] = {2, 0};
  float x[8];
  int64_t lab[2];
  assert_int_equal(tq_dataset_gather(ctx, ds, idx, 2, x, lab), TQ_OK);
  assert_memory_equal(x, xv + 8, 4 * sizeof(float)); /* not rescaled */
  assert_memory_equal(x + 4, xv, 4 * sizeof(float));
  assert_int_equal(lab[0], 1);
  assert_int_equal(lab[1], 4);
  tq_dataset_destroy(ds);
  /* The test split is the same data. */
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TEST, &ds),
                   TQ_OK);
  assert_int_equal(tq_dataset_size(ds), 3);
  tq_dataset_destroy(ds);

  /* uint8 X is converted as stored, not divided by 255; int64 labels. */
  unsigned char u8[6] = {0, 200, 255, 1, 2, 3};
  write_npy(xp, "|u1", "(2, 3)", u8, 6);
  int64_t yi[2] = {1, 0};
  unsigned char yb[16];
  little_endian_i64(yi, 2, yb);
  write_npy(yp, "<i8", "(2,)", yb, 16);
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_OK);
  assert_int_equal(tq_dataset_sample_shape(ds)->ndim, 1);
  assert_int_equal(tq_dataset_sample_shape(ds)->dims[0], 3);
  size_t zero = 0;
  assert_int_equal(tq_dataset_gather(ctx, ds, &zero, 1, x, lab), TQ_OK);
  assert_true(x[0] == 0.0f && x[1] == 200.0f && x[2] == 255.0f);
  assert_int_equal(lab[0], 1);
  tq_dataset_destroy(ds);

  /* Errors. Count mismatch: both counts and both files. */
  int64_t y3[3] = {0, 1, 2};
  unsigned char y3b[24];
  little_endian_i64(y3, 3, y3b);
  write_npy(yp, "<i8", "(3,)", y3b, 24);
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  assert_null(ds);
  expect_message(ctx, "2 samples in ");
  expect_message(ctx, "data_X.npy but 3 labels in ");
  expect_message(ctx, "data_y.npy");
  /* Non-integral, negative, huge labels. */
  float bad_y[2][2] = {{0, 2.5f}, {-3, 0}};
  const char *bad_msg[2] = {"the label of sample 1 is 2.5",
                            "the label of sample 0 is negative (-3)"};
  for (int k = 0; k < 2; k++) {
    assert_int_equal(tq_npy_write(ctx, yp, bad_y[k], &(tq_shape){1, {2}}),
                     TQ_OK);
    assert_int_equal(
        tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
        TQ_ERR_FORMAT);
    expect_message(ctx, bad_msg[k]);
    expect_message(ctx, "data_y.npy");
  }
  int64_t huge[2][2] = {{0, INT64_C(3000000000)}, {20000001, 0}};
  const char *huge_msg[2] = {"below 2^31 - 1", "exact only up to 2^24"};
  for (int k = 0; k < 2; k++) {
    little_endian_i64(huge[k], 2, yb);
    write_npy(yp, "<i8", "(2,)", yb, 16);
    assert_int_equal(
        tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
        TQ_ERR_FORMAT);
    expect_message(ctx, huge_msg[k]);
  }
  /* NaN labels. */
  float nan_y[2] = {0, NAN};
  assert_int_equal(tq_npy_write(ctx, yp, nan_y, &(tq_shape){1, {2}}), TQ_OK);
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "the label of sample 1 is nan");
  /* 2-d labels. */
  assert_int_equal(tq_npy_write(ctx, yp, yv, &(tq_shape){2, {1, 2}}), TQ_OK);
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "labels must be a 1-d array, found shape [1, 2]");
  /* NaN / inf in X, named by sample. */
  float good_y[2] = {0, 1};
  assert_int_equal(tq_npy_write(ctx, yp, good_y, &(tq_shape){1, {2}}), TQ_OK);
  float xn[6] = {0, 1, 2, 3, INFINITY, 5};
  assert_int_equal(tq_npy_write(ctx, xp, xn, &(tq_shape){2, {2, 3}}), TQ_OK);
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "sample 1 holds +inf (element 1 of the sample");
  expect_message(ctx, "data_X.npy");
  /* float64 beyond float32 range becomes inf and is caught as well. */
  unsigned char f8[16] = {0};
  f8[7] = 0x7f; /* 0x7fe0000000000000: 2^1023 */
  f8[6] = 0xe0;
  write_npy(xp, "<f8", "(2, 1)", f8, 16);
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "sample 0 holds +inf");
  /* Empty datasets. */
  write_npy(xp, "<f4", "(0, 3)", NULL, 0);
  write_npy(yp, "<f4", "(0,)", NULL, 0);
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "empty dataset: there are no samples");
  write_npy(xp, "<f4", "(2, 0)", NULL, 0);
  assert_int_equal(tq_npy_write(ctx, yp, good_y, &(tq_shape){1, {2}}), TQ_OK);
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "the samples have no elements");
  /* 1-d X, and a missing file. */
  assert_int_equal(tq_npy_write(ctx, xp, good_y, &(tq_shape){1, {2}}), TQ_OK);
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "the samples array has 1 dimension");
  char *missing = tmp("data_missing_y.npy");
  assert_int_equal(
      tq_dataset_open(ctx, pair(xp, ",", missing), TQ_SPLIT_TRAIN, &ds),
      TQ_ERR_IO);
  expect_message(ctx, "data_missing_y.npy");
  /* Too many dimensions: a 7-d X. */
  write_npy(xp, "<f4", "(2, 1, 1, 1, 1, 1, 1)", xv, 8);
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_UNSUPPORTED);
  expect_message(ctx, "at most 6");
  remove(xp);
  remove(yp);
  free(missing);
  free(xp);
  free(yp);
  tq_context_destroy(ctx);
}

/* Several named inputs of their own dtypes: token ids and a mask. */
static void dataset_npy_inputs(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char *ip = tmp("data_ids.npy"), *mp = tmp("data_mask.npy"),
       *yp = tmp("data_lab.npy"), *bp = tmp("data_bad.npy");
  int64_t ids[6] = {5, -1, 7, 0, 2, 3};
  unsigned char idb[48];
  little_endian_i64(ids, 6, idb);
  write_npy(ip, "<i8", "(3, 2)", idb, 48);
  unsigned char mask[6] = {1, 1, 1, 0, 1, 0};
  write_npy(mp, "|b1", "(3, 2)", mask, 6);
  float yv[3] = {2, 0, 1};
  assert_int_equal(tq_npy_write(ctx, yp, yv, &(tq_shape){1, {3}}), TQ_OK);
  char spec[1024];
  /* Named, in another order than the model's; the labels first. */
  snprintf(spec, sizeof spec, "labels=%s, attention_mask=%s, input_ids=%s", yp,
           mp, ip);
  tq_dataset *ds = NULL;
  if (tq_dataset_open(ctx, spec, TQ_SPLIT_TEST, &ds) != TQ_OK)
    fail_msg("%s", tq_context_last_error(ctx));
  assert_int_equal(tq_dataset_size(ds), 3);
  assert_int_equal(tq_dataset_classes(ds), 3);
  assert_int_equal(tq_dataset_input_count(ds), 2);
  assert_string_equal(tq_dataset_input_name(ds, 0), "attention_mask");
  assert_string_equal(tq_dataset_input_name(ds, 1), "input_ids");
  assert_null(tq_dataset_input_name(ds, 2));
  assert_int_equal(tq_dataset_input_dtype(ds, 0), TQ_DTYPE_BOOL);
  assert_int_equal(tq_dataset_input_dtype(ds, 1), TQ_DTYPE_INT64);
  /* No channel dimension: [N, S] samples are [S]. */
  const tq_shape *s = tq_dataset_input_shape(ds, 1);
  assert_int_equal(s->ndim, 1);
  assert_int_equal(s->dims[0], 2);
  size_t idx[2] = {2, 0};
  int64_t got[4], lab[2];
  assert_int_equal(
      tq_dataset_gather_input(ctx, ds, 1, idx, 2, TQ_DTYPE_INT64, got, lab),
      TQ_OK);
  assert_true(got[0] == 2 && got[1] == 3 && got[2] == 5 && got[3] == -1);
  assert_true(lab[0] == 1 && lab[1] == 2);
  /* In another dtype, converted as Cast does. */
  float gf[4];
  assert_int_equal(
      tq_dataset_gather_input(ctx, ds, 0, idx, 2, TQ_DTYPE_FLOAT32, gf, NULL),
      TQ_OK);
  assert_true(gf[0] == 1 && gf[1] == 0 && gf[2] == 1 && gf[3] == 1);
  assert_int_equal(
      tq_dataset_gather_input(ctx, ds, 2, idx, 2, TQ_DTYPE_INT64, got, NULL),
      TQ_ERR_INVALID_ARGUMENT);
  tq_dataset_destroy(ds);
  /* Bare files: the inputs in order, the last one the labels. */
  snprintf(spec, sizeof spec, "%s,%s,%s", ip, mp, yp);
  assert_int_equal(tq_dataset_open(ctx, spec, TQ_SPLIT_TRAIN, &ds), TQ_OK);
  assert_int_equal(tq_dataset_input_count(ds), 2);
  assert_string_equal(tq_dataset_input_name(ds, 0), "");
  assert_int_equal(tq_dataset_input_dtype(ds, 0), TQ_DTYPE_INT64);
  tq_dataset_destroy(ds);
  /* Inputs of different sample counts. */
  write_npy(bp, "|b1", "(2, 3)", mask, 6);
  snprintf(spec, sizeof spec, "ids=%s,mask=%s,labels=%s", ip, bp, yp);
  assert_int_equal(tq_dataset_open(ctx, spec, TQ_SPLIT_TRAIN, &ds),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "3 samples in ");
  expect_message(ctx, "data_bad.npy: every input needs one per sample");
  char *all[] = {ip, mp, yp, bp};
  for (size_t k = 0; k < 4; k++) {
    remove(all[k]);
    free(all[k]);
  }
  tq_context_destroy(ctx);
}

/* ---- normalization --------------------------------------------------------*/

static void dataset_normalization(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char *xp = tmp("data_norm_X.npy"), *yp = tmp("data_norm_y.npy");
  /* 2 samples of [2,1,2]: channels {a, b}, {c, d}. */
  float xv[8] = {1, 3, 10, 18, 5, 7, 2, 6};
  float yv[2] = {0, 1};
  assert_int_equal(tq_npy_write(ctx, xp, xv, &(tq_shape){4, {2, 2, 1, 2}}),
                   TQ_OK);
  assert_int_equal(tq_npy_write(ctx, yp, yv, &(tq_shape){1, {2}}), TQ_OK);
  tq_dataset *ds = NULL;
  assert_int_equal(tq_dataset_open(ctx, pair(xp, ",", yp), TQ_SPLIT_TRAIN, &ds),
                   TQ_OK);
  assert_int_equal(tq_dataset_sample_shape(ds)->ndim, 3);
  assert_int_equal(tq_dataset_sample_shape(ds)->dims[0], 2);
  float mean[2] = {1, 2}, sd[2] = {2, 4};
  assert_int_equal(tq_dataset_set_normalization(ctx, ds, mean, sd, 2), TQ_OK);
  size_t idx[2] = {0, 1};
  float x[8];
  assert_int_equal(tq_dataset_gather(ctx, ds, idx, 2, x, NULL), TQ_OK);
  const float want[8] = {0, 1, 2, 4, 2, 3, 0, 1};
  for (int i = 0; i < 8; i++)
    if (x[i] != want[i]) fail_msg("x[%d] = %g, want %g", i, x[i], want[i]);
  /* One mean/std for all channels. */
  float m1 = 1, s1 = 0.5f;
  assert_int_equal(tq_dataset_set_normalization(ctx, ds, &m1, &s1, 1), TQ_OK);
  assert_int_equal(tq_dataset_gather(ctx, ds, idx, 1, x, NULL), TQ_OK);
  assert_true(x[0] == 0 && x[1] == 4 && x[2] == 18 && x[3] == 34);
  /* Errors keep the previous setting. */
  float m3[3] = {0, 0, 0}, s3[3] = {1, 1, 1};
  assert_int_equal(tq_dataset_set_normalization(ctx, ds, m3, s3, 3),
                   TQ_ERR_SHAPE);
  expect_message(ctx, "normalization for 3 channels");
  expect_message(ctx, "have 2 (dim 0)");
  float zero_sd[2] = {1, 0};
  assert_int_equal(tq_dataset_set_normalization(ctx, ds, mean, zero_sd, 2),
                   TQ_ERR_RANGE);
  expect_message(ctx, "channel 1");
  float nan_mean[2] = {NAN, 0};
  assert_int_equal(tq_dataset_set_normalization(ctx, ds, nan_mean, sd, 2),
                   TQ_ERR_RANGE);
  assert_int_equal(tq_dataset_set_normalization(ctx, ds, mean, NULL, 2),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_dataset_gather(ctx, ds, idx, 1, x, NULL), TQ_OK);
  assert_true(x[0] == 0 && x[3] == 34);
  /* Removing it restores the raw values. */
  assert_int_equal(tq_dataset_set_normalization(ctx, ds, NULL, NULL, 0), TQ_OK);
  assert_int_equal(tq_dataset_gather(ctx, ds, idx, 2, x, NULL), TQ_OK);
  assert_memory_equal(x, xv, sizeof xv);
  tq_dataset_destroy(ds);
  /* On ubyte IDX images normalization follows the /255 scaling. */
  char *dir = make_idx_dir("data_dir_norm", 0);
  assert_int_equal(tq_dataset_open(ctx, dir, TQ_SPLIT_TRAIN, &ds), TQ_OK);
  float m = 0.5f, s = 0.25f;
  assert_int_equal(tq_dataset_set_normalization(ctx, ds, &m, &s, 1), TQ_OK);
  size_t first = 0;
  assert_int_equal(tq_dataset_gather(ctx, ds, &first, 1, x, NULL), TQ_OK);
  assert_true(x[0] == -2.0f && x[1] == 2.0f);
  assert_true(x[2] == (0.2f - 0.5f) / 0.25f);
  tq_dataset_destroy(ds);
  remove(xp);
  remove(yp);
  free(dir);
  free(xp);
  free(yp);
  tq_context_destroy(ctx);
}

/* ---- shuffles and splits --------------------------------------------------*/

static void assert_permutation(const size_t *idx, size_t n) {
  unsigned char *seen = calloc(n ? n : 1, 1);
  assert_non_null(seen);
  for (size_t i = 0; i < n; i++) {
    assert_true(idx[i] < n);
    assert_false(seen[idx[i]]);
    seen[idx[i]] = 1;
  }
  free(seen);
}

static void shuffle_properties(void **state) {
  (void)state;
  enum { N = 1000 };
  size_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  assert_non_null(a);
  assert_non_null(b);
  tq_shuffle_indices(42, 0, a, N);
  assert_permutation(a, N);
  /* Deterministic, whatever the buffer held before. */
  for (size_t i = 0; i < N; i++) b[i] = 12345;
  tq_shuffle_indices(42, 0, b, N);
  assert_memory_equal(a, b, N * sizeof *a);
  /* Not the identity, and different for other epochs and seeds. */
  size_t fixed = 0;
  for (size_t i = 0; i < N; i++) fixed += a[i] == i;
  assert_true(fixed < 10);
  tq_shuffle_indices(42, 1, b, N);
  assert_permutation(b, N);
  assert_true(memcmp(a, b, N * sizeof *a) != 0);
  tq_shuffle_indices(43, 0, b, N);
  assert_true(memcmp(a, b, N * sizeof *a) != 0);
  /* The same on every machine: a golden permutation, computed by an
   * independent Python implementation of Philox4x32-10 (checked against
   * Random123's known-answer vector) and the documented Fisher-Yates with
   * rejection sampling. */
  size_t g[10];
  tq_shuffle_indices(1, 0, g, 10);
  assert_permutation(g, 10);
  static const size_t golden[10] = {7, 2, 5, 4, 1, 6, 9, 3, 0, 8};
  for (int i = 0; i < 10; i++)
    if (g[i] != golden[i])
      fail_msg("g[%d] = %zu, want %zu", i, g[i], golden[i]);
  /* Degenerate sizes. */
  size_t one = 7;
  tq_shuffle_indices(1, 2, &one, 1);
  assert_int_equal(one, 0);
  tq_shuffle_indices(1, 2, NULL, 0);
  /* Uniform: each of the 6 permutations of 3 in about 1/6 of 6000 epochs
   * (the bounds are > 6 standard deviations). */
  int counts[6] = {0};
  for (uint64_t e = 0; e < 6000; e++) {
    size_t p[3];
    tq_shuffle_indices(9, e, p, 3);
    assert_permutation(p, 3);
    counts[p[0] * 2 + (p[1] > p[2])]++;
  }
  for (int k = 0; k < 6; k++)
    if (counts[k] < 820 || counts[k] > 1180)
      fail_msg("permutation %d appeared %d times in 6000", k, counts[k]);
  free(a);
  free(b);
}

static void split_properties(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  size_t *tr = NULL, *va = NULL, nt = 0, nv = 0;
  assert_int_equal(
      tq_dataset_split_indices(ctx, 10, 0.25, 5, &tr, &nt, &va, &nv), TQ_OK);
  assert_int_equal(nv, 3); /* round(2.5) = 3 */
  assert_int_equal(nt, 7);
  unsigned char seen[10] = {0};
  for (size_t i = 0; i < nt; i++) {
    assert_true(tr[i] < 10 && !seen[tr[i]]);
    seen[tr[i]] = 1;
    if (i) assert_true(tr[i - 1] < tr[i]);
  }
  for (size_t i = 0; i < nv; i++) {
    assert_true(va[i] < 10 && !seen[va[i]]);
    seen[va[i]] = 1;
    if (i) assert_true(va[i - 1] < va[i]);
  }
  /* The golden split (same independent computation as the shuffle). */
  assert_int_equal(va[0], 0);
  assert_int_equal(va[1], 4);
  assert_int_equal(va[2], 9);
  /* Deterministic. */
  size_t *tr2, *va2, nt2, nv2;
  assert_int_equal(
      tq_dataset_split_indices(ctx, 10, 0.25, 5, &tr2, &nt2, &va2, &nv2),
      TQ_OK);
  assert_int_equal(nv2, nv);
  assert_memory_equal(va, va2, nv * sizeof *va);
  assert_memory_equal(tr, tr2, nt * sizeof *tr);
  free(tr);
  free(va);
  free(tr2);
  free(va2);
  /* Seeds matter (on 1000 samples a collision would be astronomically
   * unlikely). */
  assert_int_equal(
      tq_dataset_split_indices(ctx, 1000, 0.1, 1, &tr, &nt, &va, &nv), TQ_OK);
  assert_int_equal(
      tq_dataset_split_indices(ctx, 1000, 0.1, 2, &tr2, &nt2, &va2, &nv2),
      TQ_OK);
  assert_int_equal(nv, 100);
  assert_int_equal(nt, 900);
  assert_true(memcmp(va, va2, nv * sizeof *va) != 0);
  free(tr);
  free(va);
  free(tr2);
  free(va2);
  /* No validation set. */
  assert_int_equal(tq_dataset_split_indices(ctx, 5, 0.0, 1, &tr, &nt, &va, &nv),
                   TQ_OK);
  assert_int_equal(nv, 0);
  assert_non_null(va);
  assert_int_equal(nt, 5);
  for (size_t i = 0; i < 5; i++) assert_int_equal(tr[i], i);
  free(tr);
  free(va);
  /* Errors. */
  double bad[4] = {1.0, -0.1, NAN, 2.0};
  for (int k = 0; k < 4; k++) {
    assert_int_equal(
        tq_dataset_split_indices(ctx, 10, bad[k], 1, &tr, &nt, &va, &nv),
        TQ_ERR_RANGE);
    assert_null(tr);
    assert_null(va);
    expect_message(ctx, "must be in [0, 1)");
  }
  assert_int_equal(tq_dataset_split_indices(ctx, 1, 0.5, 1, &tr, &nt, &va, &nv),
                   TQ_ERR_RANGE);
  expect_message(ctx, "leaves no training samples");
  assert_int_equal(tq_dataset_split_indices(ctx, 0, 0.0, 1, &tr, &nt, &va, &nv),
                   TQ_ERR_RANGE);
  assert_int_equal(
      tq_dataset_split_indices(ctx, 10, 0.5, 1, NULL, &nt, &va, &nv),
      TQ_ERR_INVALID_ARGUMENT);
  tq_context_destroy(ctx);
}

/* ---- Fashion-MNIST --------------------------------------------------------*/

/* The directory "fashion-mnist" names comes from the caller (the tq tool
 * passes $TQ_FASHION_MNIST_DIR); the library reads no environment. */
static void fashion_mnist_dirs(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char *dir = make_idx_dir("data_dir_fm", 1);
  tq_dataset_dirs dirs = {.fashion_mnist = dir,
                          .fashion_mnist_from = "TQ_FASHION_MNIST_DIR"};
  tq_dataset *ds = NULL;
  assert_int_equal(
      tq_dataset_open_in(ctx, "fashion-mnist", TQ_SPLIT_TEST, &dirs, &ds),
      TQ_OK);
  assert_string_equal(tq_dataset_name(ds), "fashion-mnist");
  assert_int_equal(tq_dataset_size(ds), 2);
  tq_dataset_destroy(ds);
  char *none = tmp("data_no_such_dir");
  dirs.fashion_mnist = none;
  assert_int_equal(
      tq_dataset_open_in(ctx, "fashion-mnist", TQ_SPLIT_TRAIN, &dirs, &ds),
      TQ_ERR_NOT_FOUND);
  assert_null(ds);
  expect_message(ctx, "fashion-mnist: no Fashion-MNIST directory");
  expect_message(ctx, "data_no_such_dir (TQ_FASHION_MNIST_DIR)");
  expect_message(ctx, "dataset-fashion-mnist package");
  dirs.fashion_mnist_from = NULL;
  assert_int_equal(
      tq_dataset_open_in(ctx, "fashion-mnist", TQ_SPLIT_TRAIN, &dirs, &ds),
      TQ_ERR_NOT_FOUND);
  expect_message(ctx, "data_no_such_dir (the directory given)");
  /* No dirs, or an empty directory: the default location, whatever the
   * environment says (the 2-sample directory is not it). */
  const char *old = getenv("TQ_FASHION_MNIST_DIR");
  char *saved = old ? strcpy(malloc(strlen(old) + 1), old) : NULL;
  assert_int_equal(setenv("TQ_FASHION_MNIST_DIR", dir, 1), 0);
  const tq_dataset_dirs empty = {.fashion_mnist = ""};
  const tq_dataset_dirs *const defaults[] = {NULL, &empty};
  for (int i = 0; i < 2; i++) {
    const tq_status st = tq_dataset_open_in(ctx, "fashion-mnist", TQ_SPLIT_TEST,
                                            defaults[i], &ds);
    if (st == TQ_OK)
      assert_int_equal(tq_dataset_size(ds), 10000);
    else
      expect_message(ctx,
                     TQ_FASHION_MNIST_DEFAULT_DIR " (the default location)");
    tq_dataset_destroy(ds);
    ds = NULL;
  }
  if (saved) {
    setenv("TQ_FASHION_MNIST_DIR", saved, 1);
    free(saved);
  } else {
    unsetenv("TQ_FASHION_MNIST_DIR");
  }
  free(none);
  free(dir);
  tq_context_destroy(ctx);
}

/* Checks a real Fashion-MNIST split: size, shape, classes, exact label
 * counts, known first labels and first-image pixel sum, range [0,1]. */
static void check_fashion(tq_context *ctx, const tq_dataset_dirs *dirs,
                          tq_data_split split, size_t n, int per_class,
                          const int64_t *first, double first_sum) {
  tq_dataset *ds = NULL;
  tq_status st = tq_dataset_open_in(ctx, "fashion-mnist", split, dirs, &ds);
  if (st != TQ_OK) fail_msg("%s", tq_context_last_error(ctx));
  assert_int_equal(tq_dataset_size(ds), n);
  const tq_shape *s = tq_dataset_sample_shape(ds);
  assert_int_equal(s->ndim, 3);
  assert_true(s->dims[0] == 1 && s->dims[1] == 28 && s->dims[2] == 28);
  assert_int_equal(tq_dataset_classes(ds), 10);
  assert_string_equal(tq_dataset_name(ds), "fashion-mnist");
  const int64_t *y = tq_dataset_labels(ds);
  int counts[10] = {0};
  for (size_t i = 0; i < n; i++) {
    assert_true(y[i] >= 0 && y[i] < 10);
    counts[y[i]]++;
  }
  for (int c = 0; c < 10; c++) assert_int_equal(counts[c], per_class);
  for (int i = 0; i < 10; i++) assert_int_equal(y[i], first[i]);
  enum { CHUNK = 1000 };
  float *x = malloc(CHUNK * 784 * sizeof *x);
  size_t idx[CHUNK];
  assert_non_null(x);
  float lo = 1, hi = 0;
  for (size_t start = 0; start < n; start += CHUNK) {
    for (size_t i = 0; i < CHUNK; i++) idx[i] = start + i;
    assert_int_equal(tq_dataset_gather(ctx, ds, idx, CHUNK, x, NULL), TQ_OK);
    if (start == 0) {
      double sum = 0;
      for (int k = 0; k < 784; k++) sum += x[k] * 255.0;
      assert_true(fabs(sum - first_sum) < 0.01);
    }
    for (size_t k = 0; k < (size_t)CHUNK * 784; k++) {
      if (x[k] < lo) lo = x[k];
      if (x[k] > hi) hi = x[k];
    }
  }
  assert_true(lo == 0.0f && hi == 1.0f);
  free(x);
  tq_dataset_destroy(ds);
}

static void fashion_mnist_real(void **state) {
  (void)state;
  const char *env = getenv("TQ_FASHION_MNIST_DIR");
  const char *dir = env && *env ? env : TQ_FASHION_MNIST_DEFAULT_DIR;
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    print_message("fashion-mnist not installed at %s: skipped\n", dir);
    skip();
  }
  tq_context *ctx = new_ctx();
  const tq_dataset_dirs dirs = {.fashion_mnist = dir};
  static const int64_t train_first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  static const int64_t test_first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  check_fashion(ctx, &dirs, TQ_SPLIT_TRAIN, 60000, 6000, train_first, 76247);
  check_fashion(ctx, &dirs, TQ_SPLIT_TEST, 10000, 1000, test_first, 33456);
  tq_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(idx_ubyte_values),
      cmocka_unit_test(idx_signed_types),
      cmocka_unit_test(idx_float_types),
      cmocka_unit_test(idx_files_plain_and_gz),
      cmocka_unit_test(idx_header_errors),
      cmocka_unit_test(idx_size_errors),
      cmocka_unit_test(idx_gzip_errors),
      cmocka_unit_test(dataset_idx_dir),
      cmocka_unit_test(dataset_idx_errors),
      cmocka_unit_test(dataset_spec_errors),
      cmocka_unit_test(dataset_npy_pair),
      cmocka_unit_test(dataset_npy_inputs),
      cmocka_unit_test(dataset_normalization),
      cmocka_unit_test(shuffle_properties),
      cmocka_unit_test(split_properties),
      cmocka_unit_test(fashion_mnist_dirs),
      cmocka_unit_test(fashion_mnist_real),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
