/* Atomic file writes: temporary file next to the destination, fsync,
 * rename. The approach of tq_npy_write, shared. */
#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

/* Creates "<path>.tmp.XXXXXX" exclusively. Not mkstemp: that creates mode
 * 0600, and learning the umask to fix it needs umask(), which changes
 * process-wide state under other threads. open() with 0644 applies the
 * umask by itself. The name only has to be unlikely to collide; O_EXCL
 * makes a collision a retry, not a clobber. */
static int create_temp(char *tmp, size_t suffix_at) {
  static const char chars[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  struct timespec ts;
  uint64_t seed = 0;
  if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
    seed = (uint64_t)ts.tv_sec * 1000000007u + (uint64_t)ts.tv_nsec;
  seed ^= (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&ts;
  for (int attempt = 0; attempt < 100; attempt++) {
    uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (int i = 0; i < 6; i++, z /= 62) tmp[suffix_at + i] = chars[z % 62];
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

static tq_status write_fail(tq_context *ctx, const char *path, const char *what,
                            int err) {
  return tq_error(ctx, TQ_ERR_IO, path, 0, 0, "%s failed: %s", what,
                  strerror(err));
}

/* Makes the rename itself durable. Best effort: some file systems refuse
 * to open or fsync directories, and the file's contents are already safe. */
static void sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = NULL;
  if (!slash) {
    dir = strdup(".");
  } else {
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    dir = malloc(n + 1);
    if (dir) {
      memcpy(dir, path, n);
      dir[n] = '\0';
    }
  }
  if (!dir) return;
  int fd = open(dir, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

tq_status tq_atomic_write_file(tq_context *ctx, const char *path,
                               tq_atomic_writer fn, void *user) {
  if (!path || !*path)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "the output path must be a non-empty string");
  if (!fn)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                    "no writer function given");
  size_t plen = strlen(path);
  static const char suffix[] = ".tmp.XXXXXX";
  char *tmp = malloc(plen + sizeof suffix);
  if (!tmp) return tq_error_nomem(ctx);
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, suffix, sizeof suffix);
  int fd = create_temp(tmp, plen + sizeof suffix - 7);
  if (fd < 0) {
    int err = errno;
    free(tmp);
    return tq_error(ctx, TQ_ERR_IO, path, 0, 0,
                    "cannot create a temporary file next to it: %s",
                    strerror(err));
  }
  tq_status st = TQ_OK;
  FILE *fp = fdopen(fd, "wb");
  if (!fp) {
    st = write_fail(ctx, path, "opening the temporary file", errno);
    close(fd);
  } else {
    errno = 0;
    int err = fn(fp, user);
    if (!err && fflush(fp) != 0) err = errno ? errno : EIO;
    if (!err && fsync(fileno(fp)) != 0) err = errno ? errno : EIO;
    if (err) st = write_fail(ctx, path, "writing the temporary file", err);
    errno = 0;
    if (fclose(fp) != 0 && st == TQ_OK)
      st = write_fail(ctx, path, "closing the temporary file",
                      errno ? errno : EIO);
  }
  if (st == TQ_OK && rename(tmp, path) != 0)
    st = tq_error(ctx, TQ_ERR_IO, path, 0, 0,
                  "cannot replace it with the new file: %s", strerror(errno));
  if (st != TQ_OK)
    unlink(tmp);
  else
    sync_parent_dir(path);
  free(tmp);
  return st;
}

typedef struct bytes_job {
  const void *bytes;
  size_t len;
} bytes_job;

static int write_bytes(FILE *fp, void *user) {
  const bytes_job *job = user;
  if (job->len && fwrite(job->bytes, 1, job->len, fp) != job->len)
    return errno ? errno : EIO;
  return 0;
}

tq_status tq_atomic_write_bytes(tq_context *ctx, const char *path,
                                const void *bytes, size_t len) {
  if (!bytes && len)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                    "no data given for %zu bytes", len);
  bytes_job job = {bytes, len};
  return tq_atomic_write_file(ctx, path, write_bytes, &job);
}
