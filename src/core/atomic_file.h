/* Internal: writing output files atomically (docs/design.md §6: a failed run
 * leaves no half files).
 *
 * The contents go to a temporary file in the same directory (so that the
 * final rename stays within one file system), which is flushed and fsynced
 * before it is renamed over the destination. Readers see either the old
 * file or the complete new one; on any failure the temporary file is
 * removed and the destination is untouched. */
#ifndef TQ_CORE_ATOMIC_FILE_H
#define TQ_CORE_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "tensorquant/status.h"

/* Writes the whole contents to fp. Returns 0, or an errno value (EIO when
 * the cause is unknown) to abandon the file. */
typedef int (*tq_atomic_writer)(FILE *fp, void *user);

/* Creates path atomically with what fn writes (mode 0644 minus the umask).
 * Errors name path and the failing step. */
tq_status tq_atomic_write_file(tq_context *ctx, const char *path,
                               tq_atomic_writer fn, void *user);

/* Same for a buffer held in memory. */
tq_status tq_atomic_write_bytes(tq_context *ctx, const char *path,
                                const void *bytes, size_t len);

#endif
