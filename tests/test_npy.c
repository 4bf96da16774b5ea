/* Tests for .npy reading and writing: files produced by numpy.save, every
 * dtype and header variant, every error with its message, and atomic
 * writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define BYTES(s) s, sizeof(s) - 1

/* ---- helpers --------------------------------------------------------------*/

static tq_context *new_ctx(void) {
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  return ctx;
}

/* An .npy file with the given version and header dict, padded with just a
 * newline (the reader must not require NumPy's 64-byte alignment). */
static unsigned char *build_npy(int major, const char *dict, const void *data,
                                size_t data_len, size_t *len) {
  size_t prefix = major == 1 ? 10 : 12;
  size_t hlen = strlen(dict) + 1;
  *len = prefix + hlen + data_len;
  unsigned char *b = malloc(*len ? *len : 1);
  assert_non_null(b);
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (unsigned char)major;
  b[7] = 0;
  for (size_t i = 0; i < prefix - 8; i++)
    b[8 + i] = (unsigned char)((hlen >> (8 * i)) & 0xff);
  memcpy(b + prefix, dict, hlen - 1);
  b[prefix + hlen - 1] = '\n';
  if (data_len) memcpy(b + prefix + hlen, data, data_len);
  return b;
}

static void write_file(const char *path, const void *bytes, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(bytes, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  size_t cap = 1 << 20;
  unsigned char *b = malloc(cap);
  assert_non_null(b);
  *len = fread(b, 1, cap, fp);
  assert_true(*len < cap);
  fclose(fp);
  return b;
}

static void expect_message(const tq_context *ctx, const char *phrase) {
  const char *msg = tq_context_last_error(ctx);
  if (!phrase || strstr(msg, phrase)) return;
  fail_msg("message \"%s\" lacks \"%s\"", msg, phrase);
}

/* Number of entries in dir whose name starts with prefix. */
static int count_entries(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  closedir(d);
  return n;
}

static void store_le64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void store_f64(unsigned char *p, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  store_le64(p, u);
}

/* Parses bytes and checks the shape and the exact float bits. */
static void expect_values(const unsigned char *bytes, size_t len, int ndim,
                          const int64_t *dims, const uint32_t *bits) {
  tq_context *ctx = new_ctx();
  float *data = NULL;
  tq_shape shape;
  tq_status st = tq_npy_parse(ctx, bytes, len, "mem.npy", &data, &shape);
  if (st != TQ_OK) fail_msg("%s", tq_context_last_error(ctx));
  assert_int_equal(shape.ndim, ndim);
  for (int i = 0; i < ndim; i++) assert_int_equal(shape.dims[i], dims[i]);
  assert_non_null(data);
  size_t n = tq_shape_numel(&shape, NULL);
  for (size_t i = 0; i < n; i++)
    if (tq_test_bits(data[i]) != bits[i])
      fail_msg("element %zu: got 0x%08x, expected 0x%08x", i,
               tq_test_bits(data[i]), bits[i]);
  tq_free(data);
  tq_context_destroy(ctx);
}

/* ---- files written by numpy.save ------------------------------------------*/

/* Generated with NumPy 1.24 (numpy.save, or numpy.lib.format.write_array
 * for other versions): the prefix, the header dict, the number of spaces
 * NumPy padded it with before the final '\n', and the data. bits are
 * arr.astype('<f4').view('<u4'). */
typedef struct numpy_file {
  const char *what;
  const char *prefix;
  size_t prefix_len;
  const char *dict;
  size_t pad;
  const char *data;
  size_t data_len;
  int ndim;
  int64_t dims[TQ_MAX_DIMS];
  uint32_t bits[24];
} numpy_file;

static const numpy_file numpy_files[] = {
    {"np.array(1.5, dtype='<f4')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
     62,
     BYTES("\x00\x00\xc0\x3f"),
     0,
     {0},
     {0x3fc00000}},
    {"np.arange(3, dtype='<f4')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
     60,
     BYTES("\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00\x40"),
     1,
     {3},
     {0x00000000, 0x3f800000, 0x40000000}},
    {"np.arange(24, dtype='<f4').reshape(2, 3, 4) * 0.5 - 3",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }",
     55,
     BYTES("\x00\x00\x40\xc0\x00\x00\x20\xc0\x00\x00\x00\xc0\x00\x00\xc0\xbf"
           "\x00\x00\x80\xbf\x00\x00\x00\xbf\x00\x00\x00\x00\x00\x00\x00\x3f"
           "\x00\x00\x80\x3f\x00\x00\xc0\x3f\x00\x00\x00\x40\x00\x00\x20\x40"
           "\x00\x00\x40\x40\x00\x00\x60\x40\x00\x00\x80\x40\x00\x00\x90\x40"
           "\x00\x00\xa0\x40\x00\x00\xb0\x40\x00\x00\xc0\x40\x00\x00\xd0\x40"
           "\x00\x00\xe0\x40\x00\x00\xf0\x40\x00\x00\x00\x41\x00\x00\x08\x41"),
     3,
     {2, 3, 4},
     {0xc0400000, 0xc0200000, 0xc0000000, 0xbfc00000, 0xbf800000, 0xbf000000,
      0x00000000, 0x3f000000, 0x3f800000, 0x3fc00000, 0x40000000, 0x40200000,
      0x40400000, 0x40600000, 0x40800000, 0x40900000, 0x40a00000, 0x40b00000,
      0x40c00000, 0x40d00000, 0x40e00000, 0x40f00000, 0x41000000, 0x41080000}},
    {"np.zeros((0,), dtype='<f4')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }",
     60,
     BYTES(""),
     1,
     {0},
     {0}},
    {"np.array([1, -2.5, 65504, 2**-24, 2**-14, inf, -inf, nan], dtype='<f2')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<f2', 'fortran_order': False, 'shape': (8,), }",
     60,
     BYTES("\x00\x3c\x00\xc1\xff\x7b\x01\x00\x00\x04\x00\x7c\x00\xfc\x00\x7e"),
     1,
     {8},
     {0x3f800000, 0xc0200000, 0x477fe000, 0x33800000, 0x38800000, 0x7f800000,
      0xff800000, 0x7fc00000}},
    {"np.array([1, -0.1, 1e300, 2**-1074], dtype='<f8')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
     60,
     BYTES("\x00\x00\x00\x00\x00\x00\xf0\x3f\x9a\x99\x99\x99\x99\x99\xb9\xbf"
           "\x9c\x75\x00\x88\x3c\xe4\x37\x7e\x01\x00\x00\x00\x00\x00\x00\x00"),
     1,
     {4},
     {0x3f800000, 0xbdcccccd, 0x7f800000, 0x00000000}},
    {"np.array([-128, -1, 0, 127], dtype='i1')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '|i1', 'fortran_order': False, 'shape': (4,), }",
     60,
     BYTES("\x80\xff\x00\x7f"),
     1,
     {4},
     {0xc3000000, 0xbf800000, 0x00000000, 0x42fe0000}},
    {"np.array([0, 1, 255], dtype='u1')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
     60,
     BYTES("\x00\x01\xff"),
     1,
     {3},
     {0x00000000, 0x3f800000, 0x437f0000}},
    {"np.array([-32768, -1, 32767], dtype='<i2')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }",
     60,
     BYTES("\x00\x80\xff\xff\xff\x7f"),
     1,
     {3},
     {0xc7000000, 0xbf800000, 0x46fffe00}},
    {"np.array([0, 65535], dtype='<u2')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }",
     60,
     BYTES("\x00\x00\xff\xff"),
     1,
     {2},
     {0x00000000, 0x477fff00}},
    {"np.array([-2**31, 2**24 + 1, 2**31 - 1], dtype='<i4')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
     60,
     BYTES("\x00\x00\x00\x80\x01\x00\x00\x01\xff\xff\xff\x7f"),
     1,
     {3},
     {0xcf000000, 0x4b800000, 0x4f000000}},
    {"np.array([0, 2**32 - 1], dtype='<u4')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }",
     60,
     BYTES("\x00\x00\x00\x00\xff\xff\xff\xff"),
     1,
     {2},
     {0x00000000, 0x4f800000}},
    {"np.array([-2**63, 2**63 - 1, -5], dtype='<i8')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
     60,
     BYTES("\x00\x00\x00\x00\x00\x00\x00\x80\xff\xff\xff\xff\xff\xff\xff\x7f"
           "\xfb\xff\xff\xff\xff\xff\xff\xff"),
     1,
     {3},
     {0xdf000000, 0x5f000000, 0xc0a00000}},
    {"np.array([2**64 - 1, 3], dtype='<u8')",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }",
     60,
     BYTES("\xff\xff\xff\xff\xff\xff\xff\xff\x03\x00\x00\x00\x00\x00\x00\x00"),
     1,
     {2},
     {0x5f800000, 0x40400000}},
    {"np.array([[True, False], [False, True]])",
     BYTES("\x93NUMPY\x01\x00\x76\x00"),
     "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }",
     58,
     BYTES("\x01\x00\x00\x01"),
     2,
     {2, 2},
     {0x3f800000, 0x00000000, 0x00000000, 0x3f800000}},
    {"np.array([[1, 2], [3, 4]], dtype='<f4'), version=(2, 0)",
     BYTES("\x93NUMPY\x02\x00\x74\x00\x00\x00"),
     "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
     56,
     BYTES("\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40"),
     2,
     {2, 2},
     {0x3f800000, 0x40000000, 0x40400000, 0x40800000}},
    {"np.array([7], dtype='<i2'), version=(3, 0)",
     BYTES("\x93NUMPY\x03\x00\x74\x00\x00\x00"),
     "{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }",
     58,
     BYTES("\x07\x00"),
     1,
     {1},
     {0x40e00000}},
};

#define NUMPY_FILE_COUNT (sizeof numpy_files / sizeof numpy_files[0])

/* The complete file NumPy wrote. */
static unsigned char *numpy_bytes(const numpy_file *f, size_t *len) {
  size_t dlen = strlen(f->dict);
  *len = f->prefix_len + dlen + f->pad + 1 + f->data_len;
  unsigned char *b = malloc(*len);
  assert_non_null(b);
  unsigned char *p = b;
  memcpy(p, f->prefix, f->prefix_len), p += f->prefix_len;
  memcpy(p, f->dict, dlen), p += dlen;
  memset(p, ' ', f->pad), p += f->pad;
  *p++ = '\n';
  memcpy(p, f->data, f->data_len);
  return b;
}

static void test_numpy_files_parse(void **state) {
  (void)state;
  for (size_t i = 0; i < NUMPY_FILE_COUNT; i++) {
    const numpy_file *f = &numpy_files[i];
    size_t len;
    unsigned char *b = numpy_bytes(f, &len);
    print_message("  %s\n", f->what);
    expect_values(b, len, f->ndim, f->dims, f->bits);
    free(b);
  }
}

static void test_numpy_files_read(void **state) {
  (void)state;
  char *path = tq_test_tmp_path("npy_numpy_read.npy");
  assert_non_null(path);
  tq_context *ctx = new_ctx();
  for (size_t i = 0; i < NUMPY_FILE_COUNT; i++) {
    const numpy_file *f = &numpy_files[i];
    size_t len;
    unsigned char *b = numpy_bytes(f, &len);
    write_file(path, b, len);
    free(b);
    float *data = NULL;
    tq_shape shape;
    if (tq_npy_read(ctx, path, &data, &shape) != TQ_OK)
      fail_msg("%s: %s", f->what, tq_context_last_error(ctx));
    assert_int_equal(shape.ndim, f->ndim);
    size_t n = tq_shape_numel(&shape, NULL);
    for (size_t k = 0; k < n; k++)
      assert_int_equal(tq_test_bits(data[k]), f->bits[k]);
    tq_free(data);
  }
  unlink(path);
  free(path);
  tq_context_destroy(ctx);
}

/* tq_npy_write must produce exactly what numpy.save writes for float32. */
static void test_write_matches_numpy(void **state) {
  (void)state;
  char *path = tq_test_tmp_path("npy_numpy_write.npy");
  assert_non_null(path);
  tq_context *ctx = new_ctx();
  int checked = 0;
  for (size_t i = 0; i < NUMPY_FILE_COUNT; i++) {
    const numpy_file *f = &numpy_files[i];
    if (strstr(f->dict, "'<f4'") == NULL || f->prefix[6] != 1) continue;
    tq_shape shape = {.ndim = f->ndim};
    memcpy(shape.dims, f->dims, sizeof shape.dims);
    float values[24];
    for (int k = 0; k < 24; k++) values[k] = tq_test_float(f->bits[k]);
    if (tq_npy_write(ctx, path, values, &shape) != TQ_OK)
      fail_msg("%s: %s", f->what, tq_context_last_error(ctx));
    size_t want_len, got_len;
    unsigned char *want = numpy_bytes(f, &want_len);
    unsigned char *got = slurp(path, &got_len);
    print_message("  %s\n", f->what);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(want);
    free(got);
    checked++;
  }
  assert_int_equal(checked, 4); /* (), (3,), (2, 3, 4), (0,) */
  unlink(path);
  free(path);
  tq_context_destroy(ctx);
}

/* ---- round trips ----------------------------------------------------------*/

static void round_trip(int ndim, const int64_t *dims, uint64_t seed) {
  tq_shape shape = {.ndim = ndim};
  for (int i = 0; i < ndim; i++) shape.dims[i] = dims[i];
  int overflow;
  size_t n = tq_shape_numel(&shape, &overflow);
  assert_false(overflow);
  float *values = malloc((n ? n : 1) * sizeof *values);
  assert_non_null(values);
  /* Random bit patterns: NaN payloads, infinities, -0 and subnormals must
   * all survive unchanged. */
  for (size_t i = 0; i < n; i++)
    values[i] = tq_test_float((uint32_t)tq_test_rand(&seed));
  if (n > 3) {
    values[0] = -0.0f;
    values[1] = tq_test_float(0x7fa00001); /* signaling NaN */
    values[2] = tq_test_float(0x00000001);
    values[3] = -INFINITY;
  }
  char *path = tq_test_tmp_path("npy_round_trip.npy");
  assert_non_null(path);
  tq_context *ctx = new_ctx();
  if (tq_npy_write(ctx, path, values, &shape) != TQ_OK)
    fail_msg("%s", tq_context_last_error(ctx));
  size_t len;
  unsigned char *b = slurp(path, &len);
  assert_int_equal((len - n * 4) % 64, 0); /* data aligned like NumPy */
  assert_int_equal(b[len - n * 4 - 1], '\n');
  free(b);
  float *back = NULL;
  tq_shape got;
  if (tq_npy_read(ctx, path, &back, &got) != TQ_OK)
    fail_msg("%s", tq_context_last_error(ctx));
  assert_non_null(back); /* also for zero-size arrays */
  assert_int_equal(got.ndim, ndim);
  for (int i = 0; i < ndim; i++) assert_int_equal(got.dims[i], dims[i]);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(tq_test_bits(back[i]), tq_test_bits(values[i]));
  tq_free(back);
  free(values);
  unlink(path);
  free(path);
  tq_context_destroy(ctx);
}

/* ---- files in their own dtype ---------------------------------------------*/

/* Generated with NumPy 1.24 and ml_dtypes 0.5 (numpy.save; bfloat16 from an
 * ml_dtypes.bfloat16 array, which NumPy saves as '<V2'): prefix, header
 * dict, padding and data as numpy_files, the dtype tq_npy_read_tensor must
 * give, whether that widens the file's type (then the file is not written
 * back byte for byte), and the values as float64 (arr.astype(np.float64)). */
typedef struct typed_file {
  const char *what;
  tq_dtype dtype;
  int widened;
  const char *prefix;
  size_t prefix_len;
  const char *dict;
  size_t pad;
  const char *data;
  size_t data_len;
  int ndim;
  int64_t dims[TQ_MAX_DIMS];
  double values[8];
} typed_file;

static const typed_file typed_files[] = {
    {"float64",
     TQ_DTYPE_FLOAT64,
     0,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
     60,
     BYTES("\x9a\x99\x99\x99\x99\x99\xb9\x3f\x00\x00\x00\x00\x00\x00\x00\x80"
           "\x00\x00\x00\x00\x00\x00\xf0\x7f\x9c\x75\x00\x88\x3c\xe4\x37\x7e"),
     1,
     {4},
     {0.1, -0.0, INFINITY, 1e+300}},
    {"float16",
     TQ_DTYPE_FLOAT16,
     0,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }",
     60,
     BYTES("\x00\x3c\x00\xc0\x01\x00\xff\x7b\x00\x7c"),
     1,
     {5},
     {1.0, -2.0, 5.960464477539063e-08, 65504.0, INFINITY}},
    {"bfloat16 (ml_dtypes)",
     TQ_DTYPE_BFLOAT16,
     0,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '<V2', 'fortran_order': False, 'shape': (4,), }",
     60,
     BYTES("\xc0\x3f\x00\xc0\x62\x7f\x0b\x80"),
     1,
     {4},
     {1.5, -2.0, 3.00405527047391e+38, -1.0101904577379033e-39}},
    {"int64",
     TQ_DTYPE_INT64,
     0,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }",
     58,
     BYTES("\xfb\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x40"
           "\x00\x00\x00\x00\x00\x00\x00\x80\x07\x00\x00\x00\x00\x00\x00\x00"),
     2,
     {2, 2},
     {-5.0, 4.611686018427388e+18, -9.223372036854776e+18, 7.0}},
    {"int32",
     TQ_DTYPE_INT32,
     0,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
     60,
     BYTES("\xf9\xff\xff\xff\xff\xff\xff\x7f\x00\x00\x00\x80"),
     1,
     {3},
     {-7.0, 2147483647.0, -2147483648.0}},
    {"int8",
     TQ_DTYPE_INT8,
     0,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }",
     60,
     BYTES("\x80\x7f\xff"),
     1,
     {3},
     {-128.0, 127.0, -1.0}},
    {"uint8",
     TQ_DTYPE_UINT8,
     0,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
     60,
     BYTES("\x00\xff\x80"),
     1,
     {3},
     {0.0, 255.0, 128.0}},
    {"bool",
     TQ_DTYPE_BOOL,
     0,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
     60,
     BYTES("\x01\x00\x01"),
     1,
     {3},
     {1.0, 0.0, 1.0}},
    {"int16 (widened)",
     TQ_DTYPE_INT64,
     1,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }",
     60,
     BYTES("\x00\x80\x05\x00"),
     1,
     {2},
     {-32768.0, 5.0}},
    {"uint16 (widened)",
     TQ_DTYPE_INT64,
     1,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }",
     60,
     BYTES("\xff\xff\x01\x00"),
     1,
     {2},
     {65535.0, 1.0}},
    {"uint32 (widened)",
     TQ_DTYPE_INT64,
     1,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '<u4', 'fortran_order': False, 'shape': (1,), }",
     60,
     BYTES("\xff\xff\xff\xff"),
     1,
     {1},
     {4294967295.0}},
    {"uint64 (as int64)",
     TQ_DTYPE_INT64,
     1,
     BYTES("\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00"),
     "{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }",
     60,
     BYTES("\xff\xff\xff\xff\xff\xff\xff\x7f\x03\x00\x00\x00\x00\x00\x00\x00"),
     1,
     {2},
     {9.223372036854776e+18, 3.0}},
};

#define TYPED_FILE_COUNT (sizeof typed_files / sizeof typed_files[0])

static unsigned char *typed_bytes(const typed_file *f, size_t *len) {
  const numpy_file nf = {f->what, f->prefix,   f->prefix_len, f->dict, f->pad,
                         f->data, f->data_len, f->ndim,       {0},     {0}};
  return numpy_bytes(&nf, len);
}

/* Element i of t as a double (the tensor's own representation). */
static double typed_value(const tq_tensor *t, size_t i) {
  const void *d = tq_tensor_cdata(t);
  switch (tq_tensor_dtype(t)) {
    case TQ_DTYPE_FLOAT32: return ((const float *)d)[i];
    case TQ_DTYPE_FLOAT64: return ((const double *)d)[i];
    case TQ_DTYPE_INT64: return (double)((const int64_t *)d)[i];
    case TQ_DTYPE_INT32: return ((const int32_t *)d)[i];
    case TQ_DTYPE_INT8: return ((const int8_t *)d)[i];
    case TQ_DTYPE_UINT8:
    case TQ_DTYPE_BOOL: return ((const uint8_t *)d)[i];
    case TQ_DTYPE_FLOAT16: {
      tq_tensor *f = NULL;
      tq_context *ctx = new_ctx();
      assert_int_equal(tq_tensor_cast(ctx, t, TQ_DTYPE_FLOAT64, &f), TQ_OK);
      const double v = ((const double *)tq_tensor_cdata(f))[i];
      tq_tensor_destroy(f);
      tq_context_destroy(ctx);
      return v;
    }
    case TQ_DTYPE_BFLOAT16: {
      uint32_t u = (uint32_t)((const uint16_t *)d)[i] << 16;
      return tq_test_float(u);
    }
    default: fail_msg("unexpected dtype"); return 0;
  }
}

/* Every dtype: read in its own dtype (from memory and from a file), the
 * values exact; read as float32 (the values rounded to float32); written
 * back byte for byte what numpy.save wrote. */
static void test_typed_files(void **state) {
  (void)state;
  char *path = tq_test_tmp_path("npy_typed.npy");
  char *back = tq_test_tmp_path("npy_typed_back.npy");
  assert_non_null(path);
  assert_non_null(back);
  tq_context *ctx = new_ctx();
  for (size_t i = 0; i < TYPED_FILE_COUNT; i++) {
    const typed_file *f = &typed_files[i];
    print_message("  %s\n", f->what);
    size_t len;
    unsigned char *b = typed_bytes(f, &len);
    write_file(path, b, len);
    tq_tensor *t = NULL, *m = NULL;
    if (tq_npy_read_tensor(ctx, path, &t) != TQ_OK ||
        tq_npy_parse_tensor(ctx, b, len, "mem.npy", &m) != TQ_OK)
      fail_msg("%s: %s", f->what, tq_context_last_error(ctx));
    assert_int_equal(tq_tensor_dtype(t), f->dtype);
    assert_int_equal(tq_tensor_dtype(m), f->dtype);
    const tq_shape *sh = tq_tensor_shape(t);
    assert_int_equal(sh->ndim, f->ndim);
    for (int d = 0; d < f->ndim; d++) assert_int_equal(sh->dims[d], f->dims[d]);
    const size_t n = tq_tensor_numel(t);
    assert_memory_equal(tq_tensor_cdata(t), tq_tensor_cdata(m),
                        n * tq_dtype_size(f->dtype));
    float *fl = NULL;
    tq_shape fs;
    if (tq_npy_read(ctx, path, &fl, &fs) != TQ_OK)
      fail_msg("%s: %s", f->what, tq_context_last_error(ctx));
    for (size_t k = 0; k < n; k++) {
      const double got = typed_value(t, k), want = f->values[k];
      if (!(got == want && signbit(got) == signbit(want)))
        fail_msg("%s: element %zu is %.17g, expected %.17g", f->what, k, got,
                 want);
      if (tq_test_bits(fl[k]) != tq_test_bits((float)want))
        fail_msg("%s: element %zu read as float32 is %.9g, expected %.9g",
                 f->what, k, (double)fl[k], (double)(float)want);
    }
    tq_free(fl);
    if (!f->widened) {
      if (tq_npy_write_tensor(ctx, back, t) != TQ_OK)
        fail_msg("%s: %s", f->what, tq_context_last_error(ctx));
      size_t got_len;
      unsigned char *got = slurp(back, &got_len);
      assert_int_equal(got_len, len);
      assert_memory_equal(got, b, len);
      free(got);
    }
    tq_tensor_destroy(t);
    tq_tensor_destroy(m);
    free(b);
  }
  unlink(path);
  unlink(back);
  free(path);
  free(back);
  tq_context_destroy(ctx);
}

/* What the typed reader refuses: uint64 beyond int64 (naming the element),
 * more dimensions than a tensor has, big-endian bfloat16; '|V2' (a loaded
 * bfloat16 array saved again) is read as bfloat16. */
static void test_typed_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_tensor *t = NULL;
  size_t len;
  unsigned char big[24] = {0};
  store_le64(big + 16, UINT64_C(0x8000000000000000));
  unsigned char *b =
      build_npy(1, "{'descr': '<u8', 'fortran_order': False, 'shape': (3,), }",
                big, sizeof big, &len);
  assert_int_equal(tq_npy_parse_tensor(ctx, b, len, "big.npy", &t),
                   TQ_ERR_RANGE);
  assert_null(t);
  expect_message(ctx, "big.npy");
  expect_message(ctx, "element 2 is 9223372036854775808");
  free(b);
  unsigned char one = 1;
  b = build_npy(1,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (1, 1, 1, "
                "1, 1, 1, 1), }",
                &one, 1, &len);
  assert_int_equal(tq_npy_parse_tensor(ctx, b, len, "deep.npy", &t),
                   TQ_ERR_UNSUPPORTED);
  expect_message(ctx, "7 dimensions");
  free(b);
  const unsigned char bf[2] = {0xc0, 0x3f};
  b = build_npy(1, "{'descr': '>V2', 'fortran_order': False, 'shape': (1,), }",
                bf, 2, &len);
  assert_int_equal(tq_npy_parse_tensor(ctx, b, len, "be.npy", &t),
                   TQ_ERR_UNSUPPORTED);
  expect_message(ctx, "big-endian");
  free(b);
  b = build_npy(1, "{'descr': '|V2', 'fortran_order': False, 'shape': (1,), }",
                bf, 2, &len);
  assert_int_equal(tq_npy_parse_tensor(ctx, b, len, "void.npy", &t), TQ_OK);
  assert_int_equal(tq_tensor_dtype(t), TQ_DTYPE_BFLOAT16);
  tq_tensor_destroy(t);
  free(b);
  b = build_npy(1, "{'descr': '|V4', 'fortran_order': False, 'shape': (1,), }",
                bf, 2, &len);
  assert_int_equal(tq_npy_parse_tensor(ctx, b, len, "v4.npy", &t),
                   TQ_ERR_UNSUPPORTED);
  expect_message(ctx, "'<V2' (bfloat16");
  free(b);
  assert_int_equal(tq_npy_read_tensor(ctx, NULL, &t), TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_npy_write_tensor(ctx, "x.npy", NULL),
                   TQ_ERR_INVALID_ARGUMENT);
  tq_context_destroy(ctx);
}

static void test_round_trip(void **state) {
  (void)state;
  const int64_t d1[] = {7};
  const int64_t d4[] = {2, 3, 1, 5};
  const int64_t dz[] = {3, 0, 2};
  const int64_t dbig[] = {3, 40001}; /* spans several I/O chunks */
  const int64_t d8[] = {1, 2, 1, 3, 1, 2, 1, 2};
  round_trip(0, NULL, 1);
  round_trip(1, d1, 2);
  round_trip(4, d4, 3);
  round_trip(3, dz, 4);
  round_trip(2, dbig, 5);
  round_trip(8, d8, 6);
}

/* ---- conversions ----------------------------------------------------------*/

static void test_half(void **state) {
  (void)state;
  const uint16_t h[] = {0x0001, 0x03ff, 0x0200, 0x8001, 0x8000, 0x0400, 0x7bff,
                        0x7c00, 0xfc00, 0x7e00, 0x7d00, 0xfe00, 0x3c00, 0x3555};
  const uint32_t want[] = {0x33800000, /* smallest subnormal, 2^-24 */
                           0x387fc000, /* largest subnormal */
                           0x38000000, /* 2^-15 */
                           0xb3800000, /* -2^-24 */
                           0x80000000, /* -0 */
                           0x38800000, /* smallest normal, 2^-14 */
                           0x477fe000, /* 65504 */
                           0x7f800000, 0xff800000, 0x7fc00000, /* quiet NaN */
                           0x7fa00000, /* signaling NaN: payload kept */
                           0xffc00000, /* negative NaN */
                           0x3f800000, 0x3eaaa000};
  const size_t n = sizeof h / sizeof h[0];
  unsigned char data[2 * sizeof h / sizeof h[0]];
  for (size_t i = 0; i < n; i++) {
    data[2 * i] = (unsigned char)(h[i] & 0xff);
    data[2 * i + 1] = (unsigned char)(h[i] >> 8);
  }
  char dict[128];
  snprintf(dict, sizeof dict,
           "{'descr': '<f2', 'fortran_order': False, 'shape': (%zu,), }", n);
  size_t len;
  unsigned char *b = build_npy(1, dict, data, sizeof data, &len);
  const int64_t dims[] = {(int64_t)n};
  expect_values(b, len, 1, dims, want);
  free(b);
}

#ifdef __FLT16_MAX__
/* Every binary16 value against the compiler's own conversion. */
static void test_half_exhaustive(void **state) {
  (void)state;
  unsigned char *data = malloc(2 * 65536);
  assert_non_null(data);
  for (unsigned i = 0; i < 65536; i++) {
    data[2 * i] = (unsigned char)(i & 0xff);
    data[2 * i + 1] = (unsigned char)(i >> 8);
  }
  size_t len;
  unsigned char *b = build_npy(
      1, "{'descr': '<f2', 'fortran_order': False, 'shape': (65536,), }", data,
      2 * 65536, &len);
  tq_context *ctx = new_ctx();
  float *out = NULL;
  tq_shape shape;
  assert_int_equal(tq_npy_parse(ctx, b, len, "f2.npy", &out, &shape), TQ_OK);
  for (unsigned i = 0; i < 65536; i++) {
    uint16_t u = (uint16_t)i;
    _Float16 hv;
    memcpy(&hv, &u, 2);
    float ref = (float)hv;
    if (isnan(ref)) {
      assert_true(isnan(out[i]));
      assert_int_equal(signbit(out[i]) != 0, signbit(ref) != 0);
    } else {
      assert_int_equal(tq_test_bits(out[i]), tq_test_bits(ref));
    }
  }
  tq_free(out);
  tq_context_destroy(ctx);
  free(b);
  free(data);
}
#else
static void test_half_exhaustive(void **state) {
  (void)state;
  skip();
}
#endif

static void test_f8_rounding(void **state) {
  (void)state;
  const double v[] = {0x1.000001p0,        /* tie: rounds to even, 1 */
                      0x1.000003p0,        /* tie: rounds to even, 1 + 2^-22 */
                      0x1.0000010000001p0, /* just above a tie: up */
                      0x1.0000008p0,       /* below half an ulp: down */
                      -0x1.000003p0,       /* ties are symmetric */
                      0x1.ffffffp127, /* tie above FLT_MAX: overflows to inf */
                      0x1.fffffefffffffp127, /* just below that tie: FLT_MAX */
                      0x1p-150,   /* tie between 0 and the smallest subnormal */
                      0x1.8p-150, /* above it: smallest subnormal */
                      1e300,
                      -1e300,
                      -0.0,
                      INFINITY,
                      NAN,
                      0.1};
  const uint32_t want[] = {0x3f800000, 0x3f800002, 0x3f800001, 0x3f800000,
                           0xbf800002, 0x7f800000, 0x7f7fffff, 0x00000000,
                           0x00000001, 0x7f800000, 0xff800000, 0x80000000,
                           0x7f800000, 0x7fc00000, 0x3dcccccd};
  const size_t n = sizeof v / sizeof v[0];
  unsigned char data[8 * sizeof v / sizeof v[0]];
  for (size_t i = 0; i < n; i++) store_f64(data + 8 * i, v[i]);
  char dict[128];
  snprintf(dict, sizeof dict,
           "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", n);
  size_t len;
  unsigned char *b = build_npy(1, dict, data, sizeof data, &len);
  const int64_t dims[] = {(int64_t)n};
  expect_values(b, len, 1, dims, want);
  free(b);
}

static void test_int_rounding(void **state) {
  (void)state;
  /* int64, round to nearest even at 24 significant bits. */
  const int64_t s[] = {(1 << 24) + 1, /* tie: down to even */
                       (1 << 24) + 3, /* tie: up to even */
                       -((1 << 24) + 1),
                       (1 << 25) + 3, /* above half an ulp: up */
                       (1 << 25) + 5, /* below half an ulp: down */
                       INT64_MAX,     /* rounds up into 2^63 */
                       INT64_MIN,
                       (1ll << 53) + 1,
                       -((1ll << 40) + (1ll << 16)), /* tie: down to even */
                       0,
                       -1,
                       16777215};
  const uint32_t ws[] = {0x4b800000, 0x4b800002, 0xcb800000, 0x4c000001,
                         0x4c000001, 0x5f000000, 0xdf000000, 0x5a000000,
                         0xd3800000, 0x00000000, 0xbf800000, 0x4b7fffff};
  enum { NS = sizeof s / sizeof s[0] };
  unsigned char data[8 * NS];
  for (size_t i = 0; i < NS; i++) store_le64(data + 8 * i, (uint64_t)s[i]);
  size_t len;
  unsigned char *b =
      build_npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (12,)}",
                data, sizeof data, &len);
  const int64_t dims[] = {NS};
  expect_values(b, len, 1, dims, ws);
  free(b);

  /* uint64: 2^63 + 2^39 is a tie at float precision (ulp 2^40). */
  const uint64_t u[] = {UINT64_MAX, (1ull << 63) + (1ull << 39),
                        (1ull << 63) + (1ull << 39) + 1, (1ull << 24) + 1};
  const uint32_t wu[] = {0x5f800000, 0x5f000000, 0x5f000001, 0x4b800000};
  for (size_t i = 0; i < 4; i++) store_le64(data + 8 * i, u[i]);
  b = build_npy(1, "{'descr': '<u8', 'fortran_order': False, 'shape': (4,)}",
                data, 32, &len);
  const int64_t dims4[] = {4};
  expect_values(b, len, 1, dims4, wu);
  free(b);

  /* int32 and uint32 round too. */
  const unsigned char i4[] = {0x01, 0x00, 0x00, 0x01,  /* 2^24 + 1 */
                              0xff, 0xff, 0xff, 0x7f,  /* 2^31 - 1 */
                              0xff, 0xff, 0xff, 0xff}; /* -1 */
  const uint32_t wi4[] = {0x4b800000, 0x4f000000, 0xbf800000};
  b = build_npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,)}",
                i4, sizeof i4, &len);
  const int64_t dims3[] = {3};
  expect_values(b, len, 1, dims3, wi4);
  free(b);
  const uint32_t wu4[] = {0x4b800000, 0x4f000000, 0x4f800000};
  b = build_npy(1, "{'descr': '<u4', 'fortran_order': False, 'shape': (3,)}",
                i4, sizeof i4, &len);
  expect_values(b, len, 1, dims3, wu4);
  free(b);
}

static void test_bool_and_bytes(void **state) {
  (void)state;
  const unsigned char data[] = {0, 1, 2, 255};
  const int64_t dims[] = {2, 2};
  size_t len;
  /* Any non-zero byte is True, as in NumPy. */
  const uint32_t wb[] = {0x00000000, 0x3f800000, 0x3f800000, 0x3f800000};
  unsigned char *b = build_npy(
      1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }", data, 4,
      &len);
  expect_values(b, len, 2, dims, wb);
  free(b);
  /* Byte order is meaningless for one byte: every marker is accepted. */
  const uint32_t wi[] = {0x00000000, 0x3f800000, 0x40000000, 0xbf800000};
  const char *const i1[] = {"'|i1'", "'<i1'", "'=i1'", "'i1'"};
  for (int k = 0; k < 4; k++) {
    char dict[128];
    snprintf(dict, sizeof dict,
             "{'descr': %s, 'fortran_order': False, 'shape': (2, 2), }", i1[k]);
    b = build_npy(1, dict, data, 4, &len);
    expect_values(b, len, 2, dims, wi);
    free(b);
  }
  const uint32_t wu[] = {0x00000000, 0x3f800000, 0x40000000, 0x437f0000};
  b = build_npy(1, "{'descr': '=u1', 'fortran_order': False, 'shape': (2, 2)}",
                data, 4, &len);
  expect_values(b, len, 2, dims, wu);
  free(b);
}

/* Headers NumPy does not write but a Python dict literal allows. */
static void test_header_variants(void **state) {
  (void)state;
  const char *const dicts[] = {
      "{'shape': (2, 2), 'descr': '<f4', 'fortran_order': False}",
      "{'fortran_order': False, 'shape': (2, 2), 'descr': '<f4', }",
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 2)}",
      "{'descr': \"<f4\", \"fortran_order\":False,'shape':(2,2,)}",
      ("  {\n 'descr' :\t'<f4' ,\r\n 'fortran_order' : False ,"
       " 'shape' : ( 2 , 2 , ) , }  \n  "),
  };
  const unsigned char data[] = {0, 0, 0x80, 0x3f, 0, 0, 0,    0x40,
                                0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40};
  const uint32_t want[] = {0x3f800000, 0x40000000, 0x40400000, 0x40800000};
  const int64_t dims[] = {2, 2};
  for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++) {
    for (int major = 1; major <= 3; major++) {
      size_t len;
      unsigned char *b = build_npy(major, dicts[i], data, sizeof data, &len);
      expect_values(b, len, 2, dims, want);
      free(b);
    }
  }
  /* Python 2 longs, which NumPy accepts before version 3.0. */
  const char py2[] =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L), }";
  for (int major = 1; major <= 2; major++) {
    size_t len;
    unsigned char *b = build_npy(major, py2, data, sizeof data, &len);
    expect_values(b, len, 2, dims, want);
    free(b);
  }

  /* No padding and no trailing newline at all. */
  const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': ()}";
  unsigned char b[10 + sizeof dict - 1 + 4];
  memcpy(b, "\x93NUMPY\x01\x00", 8);
  b[8] = sizeof dict - 1;
  b[9] = 0;
  memcpy(b + 10, dict, sizeof dict - 1);
  memcpy(b + 10 + sizeof dict - 1, data, 4);
  expect_values(b, sizeof b, 0, NULL, want);
}

/* ---- errors ---------------------------------------------------------------*/

typedef struct error_case {
  const char *name;
  int major;        /* 0: bytes are given whole in raw */
  const char *dict; /* header dict, for major 1..3 */
  size_t data_len;  /* zero bytes of data after the header */
  const char *raw;  /* whole file, for major 0 */
  size_t raw_len;
  tq_status status;
  const char *phrase1;
  const char *phrase2;
} error_case;

#define F4(shape) "{'descr': '<f4', 'fortran_order': False, 'shape': " shape "}"
#define DT(d) "{'descr': " d ", 'fortran_order': False, 'shape': (2,)}"

static const error_case error_cases[] = {
    {"empty file", 0, NULL, 0, "", 0, TQ_ERR_FORMAT, "not an .npy file",
     "empty"},
    {"bad magic", 0, NULL, 0, BYTES("\x93NUMPZ\x01\x00\x10\x00{}"),
     TQ_ERR_FORMAT, "not an .npy file", "magic"},
    {"text file", 0, NULL, 0, BYTES("hello, world\n"), TQ_ERR_FORMAT,
     "found \"hello,\"", "\\x93NUMPY"},
    {"npz archive", 0, NULL, 0, BYTES("PK\x03\x04\x14\x00\x00\x00"),
     TQ_ERR_FORMAT, "not an .npy file", "zip archive (an .npz file?)"},
    {"truncated magic", 0, NULL, 0, BYTES("\x93NUM"), TQ_ERR_FORMAT,
     "truncated header", "after 4 bytes"},
    {"truncated length", 0, NULL, 0, BYTES("\x93NUMPY\x01\x00\x10"),
     TQ_ERR_FORMAT, "truncated header", "after 9 bytes"},
    {"truncated v2 length", 0, NULL, 0, BYTES("\x93NUMPY\x02\x00\x10\x00"),
     TQ_ERR_FORMAT, "truncated header", "header length"},
    {"version 4.0", 0, NULL, 0, BYTES("\x93NUMPY\x04\x00\x10\x00{}"),
     TQ_ERR_UNSUPPORTED, "version 4.0", "1.0, 2.0 and 3.0"},
    {"version 1.1", 0, NULL, 0, BYTES("\x93NUMPY\x01\x01\x10\x00{}"),
     TQ_ERR_UNSUPPORTED, "version 1.1", NULL},
    {"header beyond file", 0, NULL, 0,
     BYTES("\x93NUMPY\x01\x00\xff\x00{'descr': '<f4'}"), TQ_ERR_FORMAT,
     "header length 255 goes beyond the end of the file", "only 16 bytes"},
    {"v2 header beyond file", 0, NULL, 0,
     BYTES("\x93NUMPY\x02\x00\x00\x00\x00\x80{}"), TQ_ERR_FORMAT,
     "header length 2147483648", "beyond the end"},
    {"truncated data", 1, F4("(2, 3)"), 20, NULL, 0, TQ_ERR_FORMAT,
     "truncated data", "needs 24 bytes after the header, found 20"},
    {"truncated scalar", 1, F4("()"), 0, NULL, 0, TQ_ERR_FORMAT,
     "truncated data", "shape () of dtype '<f4' needs 4 bytes"},
    {"extra data", 1, F4("(2, 3)"), 28, NULL, 0, TQ_ERR_FORMAT,
     "unexpected data after the array", "found 28 (4 extra)"},
    {"extra data after empty", 1, F4("(0,)"), 1, NULL, 0, TQ_ERR_FORMAT,
     "unexpected data", "(1 extra)"},
    {"big-endian", 1, DT("'>f4'"), 8, NULL, 0, TQ_ERR_UNSUPPORTED,
     "big-endian dtype '>f4'", "arr.astype('<f4')"},
    {"big-endian i8", 1, DT("'>i8'"), 16, NULL, 0, TQ_ERR_UNSUPPORTED,
     "big-endian", "arr.astype('<i8')"},
    {"native order", 1, DT("'=f4'"), 8, NULL, 0, TQ_ERR_UNSUPPORTED,
     "byte order", "'<f4'"},
    {"no order", 1, DT("'f8'"), 16, NULL, 0, TQ_ERR_UNSUPPORTED, "byte order",
     "'<f8'"},
    {"fortran order", 1,
     "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", 16, NULL, 0,
     TQ_ERR_UNSUPPORTED, "Fortran-order", "np.ascontiguousarray"},
    {"complex", 1, DT("'<c8'"), 16, NULL, 0, TQ_ERR_UNSUPPORTED,
     "unsupported dtype '<c8'", "complex"},
    {"unicode", 1, DT("'<U5'"), 40, NULL, 0, TQ_ERR_UNSUPPORTED, "'<U5'",
     "unicode string"},
    {"bytes", 1, DT("'|S3'"), 6, NULL, 0, TQ_ERR_UNSUPPORTED, "'|S3'",
     "byte string"},
    {"object", 1, DT("'|O'"), 16, NULL, 0, TQ_ERR_UNSUPPORTED, "'|O'",
     "Python object"},
    {"datetime", 1, DT("'<M8[ns]'"), 16, NULL, 0, TQ_ERR_UNSUPPORTED,
     "'<M8[ns]'", "datetime"},
    {"timedelta", 1, DT("'<m8[s]'"), 16, NULL, 0, TQ_ERR_UNSUPPORTED,
     "'<m8[s]'", "timedelta"},
    {"void", 1, DT("'|V4'"), 8, NULL, 0, TQ_ERR_UNSUPPORTED, "'|V4'", "void"},
    {"descr too long", 1,
     DT("'<f4xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxx'"),
     8, NULL, 0, TQ_ERR_PARSE, "the value of 'descr' '<f4xxx",
     "...' is too long"},
    {"long double", 1, DT("'<f16'"), 32, NULL, 0, TQ_ERR_UNSUPPORTED,
     "unsupported dtype '<f16'", "'<f4'"},
    {"unknown dtype", 1, DT("'xyz'"), 0, NULL, 0, TQ_ERR_UNSUPPORTED,
     "unknown dtype 'xyz'", "'<f2' '<f4'"},
    {"structured", 1,
     "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", 8,
     NULL, 0, TQ_ERR_UNSUPPORTED, "structured", "descr"},
    {"missing shape", 1, "{'descr': '<f4', 'fortran_order': False}", 4, NULL, 0,
     TQ_ERR_PARSE, "the key 'shape' is missing", NULL},
    {"missing descr", 1, "{'fortran_order': False, 'shape': (1,), }", 4, NULL,
     0, TQ_ERR_PARSE, "the key 'descr' is missing", NULL},
    {"empty dict", 1, "{}", 0, NULL, 0, TQ_ERR_PARSE, "'descr' is missing",
     NULL},
    {"duplicate key", 1,
     "{'descr': '<f4', 'shape': (1,), 'fortran_order': False, 'descr': "
     "'<f4'}",
     4, NULL, 0, TQ_ERR_PARSE, "duplicate key 'descr'", "at byte 66"},
    {"unknown key", 1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'foo': 1}", 4,
     NULL, 0, TQ_ERR_PARSE, "unknown key 'foo'", "'fortran_order'"},
    {"unquoted key", 1, "{descr: '<f4'}", 0, NULL, 0, TQ_ERR_PARSE,
     "expected a key", "found \"descr: '<f4'"},
    {"missing colon", 1, "{'descr' '<f4'}", 0, NULL, 0, TQ_ERR_PARSE,
     "expected ':' after key 'descr'", NULL},
    {"missing comma", 1,
     "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", 4, NULL, 0,
     TQ_ERR_PARSE, "expected ',' or '}' after the value of 'descr'", NULL},
    {"double comma", 1,
     "{'descr': '<f4',, 'fortran_order': False, 'shape': (1,)}", 4, NULL, 0,
     TQ_ERR_PARSE, "expected a key", "found \", '"},
    {"no dict", 1, "['descr', '<f4']", 0, NULL, 0, TQ_ERR_PARSE,
     "expected a dict starting with '{'", NULL},
    {"unterminated dict", 1, "{'descr': '<f4', 'fortran_order': False", 0, NULL,
     0, TQ_ERR_PARSE, "found the end of the header", NULL},
    {"junk after dict", 1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x\ty", 4, NULL, 0,
     TQ_ERR_PARSE, "after the closing '}'", "found \"x\\ty\\n\""},
    {"NUL padding", 0, NULL, 0,
     BYTES("\x93NUMPY\x01\x00\x3a\x00"
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\0\0\n"
           "\0\0\0\0"),
     TQ_ERR_PARSE, "after the closing '}'", "found \"\\x00\\x00"},
    {"unterminated string", 1, "{'descr': '<f4}", 0, NULL, 0, TQ_ERR_PARSE,
     "unterminated string", NULL},
    {"mismatched quotes", 1,
     "{'descr\": '<f4', 'fortran_order': False, 'shape': (1,)}", 4, NULL, 0,
     TQ_ERR_PARSE, "unknown key", NULL},
    {"escape", 1, "{'descr': '<f\\x34', 'fortran_order': False}", 0, NULL, 0,
     TQ_ERR_PARSE, "escape sequences", NULL},
    {"non-ASCII", 1,
     "{'descr': '<f4\xc3\xa9', 'fortran_order': False, 'shape': (1,)}", 4, NULL,
     0, TQ_ERR_UNSUPPORTED, "'<f4\\xc3\\xa9'", NULL},
    {"bad bool", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4,
     NULL, 0, TQ_ERR_PARSE, "expected True or False for 'fortran_order'",
     "found \"0,"},
    {"lowercase bool", 1,
     "{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", 4, NULL, 0,
     TQ_ERR_PARSE, "True or False", NULL},
    {"bool prefix", 1,
     "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (1,)}", 4, NULL, 0,
     TQ_ERR_PARSE, "True or False", NULL},
    {"shape not a tuple", 1, F4("(3)"), 12, NULL, 0, TQ_ERR_PARSE,
     "'shape' (3) is not a tuple", "(3,)"},
    {"shape list", 1, F4("[3]"), 12, NULL, 0, TQ_ERR_PARSE, "expected a tuple",
     "found \"[3]}"},
    {"shape int", 1, F4("3"), 12, NULL, 0, TQ_ERR_PARSE, "expected a tuple",
     NULL},
    {"shape empty slot", 1, F4("(3,,)"), 12, NULL, 0, TQ_ERR_PARSE,
     "expected a non-negative integer in 'shape'", "found \",)}"},
    {"shape lone comma", 1, F4("(,)"), 0, NULL, 0, TQ_ERR_PARSE,
     "expected a non-negative integer", NULL},
    {"shape float", 1, F4("(1.5,)"), 4, NULL, 0, TQ_ERR_PARSE,
     "expected ',' or ')' in 'shape'", "found \".5,)}"},
    {"shape missing comma", 1, F4("(3 4)"), 48, NULL, 0, TQ_ERR_PARSE,
     "expected ',' or ')'", NULL},
    {"shape unterminated", 1, F4("(3, 4"), 48, NULL, 0, TQ_ERR_PARSE,
     "expected ',' or ')'", NULL},
    {"shape leading zero", 1, F4("(03,)"), 12, NULL, 0, TQ_ERR_PARSE,
     "dimension 03", "leading zero"},
    {"long suffix in 3.0", 3, F4("(3L,)"), 12, NULL, 0, TQ_ERR_PARSE,
     "expected ',' or ')' in 'shape'", "found \"L,)}"},
    {"long suffix twice", 1, F4("(3LL,)"), 12, NULL, 0, TQ_ERR_PARSE,
     "expected ',' or ')' in 'shape'", NULL},
    {"shape hex", 1, F4("(0x3,)"), 12, NULL, 0, TQ_ERR_PARSE,
     "expected ',' or ')'", NULL},
    {"negative dim", 1, F4("(2, -3)"), 0, NULL, 0, TQ_ERR_RANGE,
     "negative dimension -3", "'shape'"},
    {"too many dims", 1, F4("(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 4, NULL, 0,
     TQ_ERR_UNSUPPORTED, "9 dimensions", "at most 8"},
    {"dim beyond int64", 1, F4("(99999999999999999999,)"), 0, NULL, 0,
     TQ_ERR_RANGE, "dimension 99999999999999999999", "too large"},
    {"overflowing dims", 1, F4("(4611686018427387904, 4611686018427387904)"), 0,
     NULL, 0, TQ_ERR_RANGE, "too large",
     "(4611686018427387904, 4611686018427387904)"},
    {"overflowing bytes", 1,
     "{'descr': '<f8', 'fortran_order': False, 'shape': "
     "(4611686018427387904,)}",
     0, NULL, 0, TQ_ERR_RANGE, "too large", "'<f8'"},
    {"overflow hidden by zero", 1,
     F4("(0, 4611686018427387904, 4611686018427387904)"), 0, NULL, 0,
     TQ_ERR_RANGE, "too large", NULL},
    {"huge but truncated", 1, F4("(1000000000000,)"), 8, NULL, 0, TQ_ERR_FORMAT,
     "needs 4000000000000 bytes", "found 8"},
};

static unsigned char *error_case_bytes(const error_case *c, size_t *len) {
  if (c->major == 0) {
    *len = c->raw_len;
    unsigned char *b = malloc(c->raw_len ? c->raw_len : 1);
    assert_non_null(b);
    memcpy(b, c->raw, c->raw_len);
    return b;
  }
  unsigned char *zeros = calloc(c->data_len ? c->data_len : 1, 1);
  assert_non_null(zeros);
  unsigned char *b = build_npy(c->major, c->dict, zeros, c->data_len, len);
  free(zeros);
  return b;
}

static void check_error(const tq_context *ctx, tq_status st,
                        const error_case *c, const char *source) {
  if (st != c->status)
    fail_msg("%s: status %s, expected %s (%s)", c->name, tq_status_str(st),
             tq_status_str(c->status), tq_context_last_error(ctx));
  const char *msg = tq_context_last_error(ctx);
  char prefix[512];
  snprintf(prefix, sizeof prefix, "%s: ", source);
  if (strncmp(msg, prefix, strlen(prefix)) != 0)
    fail_msg("%s: message \"%s\" does not start with the source", c->name, msg);
  expect_message(ctx, c->phrase1);
  expect_message(ctx, c->phrase2);
  assert_int_equal(tq_context_error_info(ctx)->status, c->status);
}

/* Every case from memory, and the same bytes from a file through the
 * streaming reader, which must give the same status and message. */
static void test_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char *path = tq_test_tmp_path("npy_error_case.npy");
  assert_non_null(path);
  for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
    const error_case *c = &error_cases[i];
    size_t len;
    unsigned char *b = error_case_bytes(c, &len);
    float *data = (float *)b; /* must be reset to NULL on failure */
    tq_shape shape;
    tq_status st = tq_npy_parse(ctx, b, len, "case.npy", &data, &shape);
    check_error(ctx, st, c, "case.npy");
    assert_null(data);
    print_message("  %-24s %s\n", c->name, tq_context_last_error(ctx));
    char from_memory[1024];
    snprintf(from_memory, sizeof from_memory, "%s",
             tq_context_last_error(ctx) + strlen("case.npy"));

    write_file(path, b, len);
    free(b);
    st = tq_npy_read(ctx, path, &data, &shape);
    check_error(ctx, st, c, path);
    assert_null(data);
    assert_string_equal(tq_context_last_error(ctx) + strlen(path), from_memory);
  }
  unlink(path);
  free(path);
  tq_context_destroy(ctx);
}

static void test_read_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  float *data = NULL;
  tq_shape shape;
  char *missing = tq_test_tmp_path("npy_no_such_file.npy");
  assert_non_null(missing);
  assert_int_equal(tq_npy_read(ctx, missing, &data, &shape), TQ_ERR_IO);
  expect_message(ctx, missing);
  expect_message(ctx, "cannot open for reading");
  expect_message(ctx, strerror(ENOENT));
  free(missing);

  assert_int_equal(tq_npy_read(ctx, TQ_TEST_TMP_DIR, &data, &shape), TQ_ERR_IO);
  expect_message(ctx, TQ_TEST_TMP_DIR);
  expect_message(ctx, "is a directory");

  char *locked = tq_test_tmp_path("npy_unreadable.npy");
  assert_non_null(locked);
  write_file(locked, "\x93NUMPY", 6);
  assert_int_equal(chmod(locked, 0), 0);
  if (geteuid() != 0) { /* root reads anything */
    assert_int_equal(tq_npy_read(ctx, locked, &data, &shape), TQ_ERR_IO);
    expect_message(ctx, strerror(EACCES));
  }
  unlink(locked);
  free(locked);

  assert_int_equal(tq_npy_read(ctx, NULL, &data, &shape),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_npy_parse(ctx, "", 0, "x", NULL, &shape),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_npy_parse(ctx, NULL, 5, "x", &data, &shape),
                   TQ_ERR_INVALID_ARGUMENT);
  /* A NULL source still gives a message with a name in it. */
  assert_int_equal(tq_npy_parse(ctx, "abc", 3, NULL, &data, &shape),
                   TQ_ERR_FORMAT);
  expect_message(ctx, "<memory>");
  /* A NULL context is allowed: only the status comes back. */
  assert_int_equal(tq_npy_parse(NULL, "abc", 3, "x", &data, &shape),
                   TQ_ERR_FORMAT);
  tq_context_destroy(ctx);
}

/* Pipes have no size: the reader takes them whole (Linux /proc only). */
static void test_read_pipe(void **state) {
  (void)state;
  if (access("/proc/self/fd", F_OK) != 0) skip();
  const numpy_file *f = &numpy_files[2];
  size_t len;
  unsigned char *b = numpy_bytes(f, &len);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(write(fds[1], b, len), (ssize_t)len);
  close(fds[1]);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fds[0]);
  tq_context *ctx = new_ctx();
  float *data = NULL;
  tq_shape shape;
  if (tq_npy_read(ctx, path, &data, &shape) != TQ_OK)
    fail_msg("%s", tq_context_last_error(ctx));
  assert_int_equal(shape.ndim, 3);
  for (int i = 0; i < 24; i++)
    assert_int_equal(tq_test_bits(data[i]), f->bits[i]);
  tq_free(data);
  close(fds[0]);

  /* And a truncated one, for the same message as a regular file. */
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(write(fds[1], b, len - 1), (ssize_t)(len - 1));
  close(fds[1]);
  snprintf(path, sizeof path, "/proc/self/fd/%d", fds[0]);
  assert_int_equal(tq_npy_read(ctx, path, &data, &shape), TQ_ERR_FORMAT);
  expect_message(ctx, "needs 96 bytes after the header, found 95");
  close(fds[0]);
  free(b);

  /* Larger than a pipe's buffer, from another process. */
  enum { BIG = 100000 };
  tq_shape big = {.ndim = 1, .dims = {BIG}};
  float *values = malloc(BIG * sizeof *values);
  assert_non_null(values);
  for (int i = 0; i < BIG; i++) values[i] = (float)i * 0.25f;
  char *tmp = tq_test_tmp_path("npy_pipe_big.npy");
  assert_non_null(tmp);
  assert_int_equal(tq_npy_write(ctx, tmp, values, &big), TQ_OK);
  b = slurp(tmp, &len);
  unlink(tmp);
  free(tmp);
  assert_int_equal(pipe(fds), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    close(fds[0]);
    int ok = 1;
    for (size_t off = 0; ok && off < len;) {
      ssize_t k = write(fds[1], b + off, len - off);
      ok = k > 0;
      off += ok ? (size_t)k : 0;
    }
    /* Freed so that leak checkers see a clean child too. */
    free(b);
    free(values);
    tq_context_destroy(ctx);
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  snprintf(path, sizeof path, "/proc/self/fd/%d", fds[0]);
  tq_status st = tq_npy_read(ctx, path, &data, &shape);
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  if (st != TQ_OK) fail_msg("%s", tq_context_last_error(ctx));
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(shape.dims[0], BIG);
  assert_memory_equal(data, values, BIG * sizeof *values);
  tq_free(data);
  free(values);
  free(b);
  tq_context_destroy(ctx);
}

static void test_shape_numel(void **state) {
  (void)state;
  int overflow = -1;
  tq_shape s = {0};
  assert_int_equal(tq_shape_numel(&s, &overflow), 1);
  assert_int_equal(overflow, 0);
  s = (tq_shape){.ndim = 3, .dims = {2, 3, 4}};
  assert_int_equal(tq_shape_numel(&s, NULL), 24);
  s = (tq_shape){.ndim = 2, .dims = {5, 0}};
  assert_int_equal(tq_shape_numel(&s, &overflow), 0);
  assert_int_equal(overflow, 0);
  s = (tq_shape){.ndim = 2, .dims = {INT64_MAX, 3}};
  assert_int_equal(tq_shape_numel(&s, &overflow), 0);
  assert_int_equal(overflow, 1);
  /* Overflow is reported even next to a zero, as NumPy does. */
  s = (tq_shape){.ndim = 3, .dims = {0, INT64_MAX, INT64_MAX}};
  assert_int_equal(tq_shape_numel(&s, &overflow), 0);
  assert_int_equal(overflow, 1);
  s = (tq_shape){.ndim = 1, .dims = {-1}};
  assert_int_equal(tq_shape_numel(&s, &overflow), 0);
  assert_int_equal(overflow, 1);
  s = (tq_shape){.ndim = TQ_MAX_DIMS + 1};
  assert_int_equal(tq_shape_numel(&s, &overflow), 0);
  assert_int_equal(overflow, 1);
  assert_int_equal(tq_shape_numel(NULL, &overflow), 0);
  assert_int_equal(overflow, 1);
}

/* ---- atomic writes --------------------------------------------------------*/

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (unlink(p) != 0) remove_tree(p);
  }
  closedir(d);
  rmdir(dir);
}

static char *fresh_dir(const char *name) {
  char *dir = tq_test_tmp_path(name);
  assert_non_null(dir);
  chmod(dir, 0755);
  remove_tree(dir);
  assert_int_equal(mkdir(dir, 0755), 0);
  return dir;
}

static void test_write_overwrites(void **state) {
  (void)state;
  char *dir = fresh_dir("npy_write_dir");
  char path[1024];
  snprintf(path, sizeof path, "%s/out.npy", dir);
  tq_context *ctx = new_ctx();
  const float a[] = {1, 2, 3}, b[] = {4, 5};
  tq_shape sa = {.ndim = 1, .dims = {3}}, sb = {.ndim = 1, .dims = {2}};
  assert_int_equal(tq_npy_write(ctx, path, a, &sa), TQ_OK);
  assert_int_equal(tq_npy_write(ctx, path, b, &sb), TQ_OK);
  float *data = NULL;
  tq_shape got;
  assert_int_equal(tq_npy_read(ctx, path, &data, &got), TQ_OK);
  assert_int_equal(got.dims[0], 2);
  assert_true(data[0] == 4 && data[1] == 5);
  tq_free(data);
  assert_int_equal(count_entries(dir, "out.npy"), 1); /* no temp left */

  /* The mode follows the umask like any new file's, not mkstemp's 0600. */
  struct stat st;
  mode_t old = umask(022);
  assert_int_equal(tq_npy_write(ctx, path, b, &sb), TQ_OK);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  umask(027);
  assert_int_equal(tq_npy_write(ctx, path, b, &sb), TQ_OK);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0640);
  umask(old);

  tq_context_destroy(ctx);
  remove_tree(dir);
  free(dir);
}

static void expect_untouched(const char *path, const unsigned char *old,
                             size_t old_len) {
  size_t len;
  unsigned char *now = slurp(path, &len);
  assert_int_equal(len, old_len);
  assert_memory_equal(now, old, len);
  free(now);
}

static void test_write_failures(void **state) {
  (void)state;
  char *dir = fresh_dir("npy_fail_dir");
  tq_context *ctx = new_ctx();
  const float v[] = {1, 2, 3};
  tq_shape s = {.ndim = 1, .dims = {3}};
  char path[1024];

  /* Into a directory that does not exist: fails, creates nothing. */
  snprintf(path, sizeof path, "%s/missing/out.npy", dir);
  assert_int_equal(tq_npy_write(ctx, path, v, &s), TQ_ERR_IO);
  expect_message(ctx, path);
  expect_message(ctx, strerror(ENOENT));
  assert_int_equal(count_entries(dir, ""), 2); /* "." and ".." */

  /* Over a non-empty directory: the rename fails, the temp goes away and
   * the directory keeps its content. */
  snprintf(path, sizeof path, "%s/sub", dir);
  assert_int_equal(mkdir(path, 0755), 0);
  char inner[1100];
  snprintf(inner, sizeof inner, "%s/keep", path);
  write_file(inner, "keep", 4);
  assert_int_equal(tq_npy_write(ctx, path, v, &s), TQ_ERR_IO);
  expect_message(ctx, path);
  expect_message(ctx, "cannot replace");
  assert_int_equal(count_entries(dir, "sub"), 1);
  expect_untouched(inner, (const unsigned char *)"keep", 4);

  /* Bad arguments leave an existing file alone. */
  snprintf(path, sizeof path, "%s/old.npy", dir);
  write_file(path, "old", 3);
  assert_int_equal(tq_npy_write(ctx, path, NULL, &s), TQ_ERR_INVALID_ARGUMENT);
  tq_shape bad = {.ndim = 1, .dims = {-2}};
  assert_int_equal(tq_npy_write(ctx, path, v, &bad), TQ_ERR_INVALID_ARGUMENT);
  expect_message(ctx, "negative");
  bad = (tq_shape){.ndim = TQ_MAX_DIMS + 1};
  assert_int_equal(tq_npy_write(ctx, path, v, &bad), TQ_ERR_INVALID_ARGUMENT);
  bad = (tq_shape){.ndim = 2, .dims = {INT64_MAX, INT64_MAX}};
  assert_int_equal(tq_npy_write(ctx, path, v, &bad), TQ_ERR_RANGE);
  assert_int_equal(tq_npy_write(ctx, path, v, NULL), TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_npy_write(ctx, "", v, &s), TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_npy_write(ctx, NULL, v, &s), TQ_ERR_INVALID_ARGUMENT);
  expect_untouched(path, (const unsigned char *)"old", 3);

  /* Zero-size arrays need no data. */
  tq_shape empty = {.ndim = 2, .dims = {0, 3}};
  char epath[1100];
  snprintf(epath, sizeof epath, "%s/empty.npy", dir);
  assert_int_equal(tq_npy_write(ctx, epath, NULL, &empty), TQ_OK);

  /* In a read-only directory: fails, old file intact (not as root, who may
   * write anywhere). */
  if (geteuid() != 0) {
    assert_int_equal(chmod(dir, 0555), 0);
    assert_int_equal(tq_npy_write(ctx, path, v, &s), TQ_ERR_IO);
    expect_message(ctx, strerror(EACCES));
    expect_untouched(path, (const unsigned char *)"old", 3);
    assert_int_equal(count_entries(dir, "old.npy"), 1);
    assert_int_equal(chmod(dir, 0755), 0);
  }

  tq_context_destroy(ctx);
  remove_tree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numpy_files_parse),
      cmocka_unit_test(test_numpy_files_read),
      cmocka_unit_test(test_write_matches_numpy),
      cmocka_unit_test(test_typed_files),
      cmocka_unit_test(test_typed_errors),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_half),
      cmocka_unit_test(test_half_exhaustive),
      cmocka_unit_test(test_f8_rounding),
      cmocka_unit_test(test_int_rounding),
      cmocka_unit_test(test_bool_and_bytes),
      cmocka_unit_test(test_header_variants),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_read_errors),
      cmocka_unit_test(test_read_pipe),
      cmocka_unit_test(test_shape_numel),
      cmocka_unit_test(test_write_overwrites),
      cmocka_unit_test(test_write_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
