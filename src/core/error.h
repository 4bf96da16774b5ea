/* Internal: recording errors on a context. */
#ifndef TQ_CORE_ERROR_H
#define TQ_CORE_ERROR_H

#include "tensorquant/status.h"

/* Records an error on ctx (ctx may be NULL) and returns status, so callers
 * can write `return tq_error(ctx, TQ_ERR_PARSE, src, line, col, "...", ...)`.
 * source may be NULL; line/column 0 when not applicable. The message is
 * prefixed with "source:line:column: " as available. */
tq_status tq_error(tq_context *ctx, tq_status status, const char *source,
                   long line, long column, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Records an out-of-memory error. */
tq_status tq_error_nomem(tq_context *ctx);

#endif
