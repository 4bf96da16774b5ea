#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context_internal.h"
#include "core/error.h"
#include "core/threads.h"

struct tq_context {
  int threads;
  tq_conv_pref conv_pref; /* tq_context_set_conv_impls */
  tq_error_info last;
  int isa_cap_plus1; /* tq_context_set_isa_cap; 0: no cap */
};

static const char *const status_names[] = {
    [TQ_OK] = "ok",
    [TQ_ERR_INVALID_ARGUMENT] = "invalid argument",
    [TQ_ERR_PARSE] = "parse error",
    [TQ_ERR_RANGE] = "value out of range",
    [TQ_ERR_IO] = "input/output error",
    [TQ_ERR_FORMAT] = "malformed file",
    [TQ_ERR_UNSUPPORTED] = "unsupported",
    [TQ_ERR_NO_MEMORY] = "out of memory",
    [TQ_ERR_SHAPE] = "shape mismatch",
    [TQ_ERR_NOT_FOUND] = "not found",
    [TQ_ERR_INTERNAL] = "internal error",
    [TQ_ERR_NUMERIC] = "numeric error",
    [TQ_ERR_INTERRUPTED] = "interrupted",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == TQ_STATUS_COUNT,
               "every status needs a name");

const char *tq_status_str(tq_status status) {
  if ((unsigned)status >= TQ_STATUS_COUNT) return "unknown status";
  return status_names[status];
}

tq_status tq_context_create(tq_context **out) {
  if (!out) return TQ_ERR_INVALID_ARGUMENT;
  *out = calloc(1, sizeof **out);
  if (!*out) return TQ_ERR_NO_MEMORY;
  (*out)->threads = tq_threads_available();
  return TQ_OK;
}

void tq_context_destroy(tq_context *ctx) {
  free(ctx);
}

tq_status tq_context_set_threads(tq_context *ctx, int threads) {
  if (!ctx) return TQ_ERR_INVALID_ARGUMENT;
  if (threads < 1 || threads > 4096)
    return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                    "threads must be between 1 and 4096, got %d", threads);
  ctx->threads = threads;
  return TQ_OK;
}

int tq_context_threads(const tq_context *ctx) {
  return ctx ? ctx->threads : tq_threads_available();
}

void tq_context_set_conv_pref(tq_context *ctx, const tq_conv_pref *pref) {
  if (ctx) ctx->conv_pref = *pref;
}

tq_conv_pref tq_context_conv_pref(const tq_context *ctx) {
  if (ctx) return ctx->conv_pref;
  const tq_conv_pref dflt = {0};
  return dflt;
}

const char *tq_context_last_error(const tq_context *ctx) {
  return ctx ? ctx->last.message : "";
}

const tq_error_info *tq_context_error_info(const tq_context *ctx) {
  return ctx ? &ctx->last : NULL;
}

void tq_context_clear_error(tq_context *ctx) {
  if (ctx) memset(&ctx->last, 0, sizeof ctx->last);
}

void tq_context_set_isa_cap(tq_context *ctx, int isa) {
  if (ctx) ctx->isa_cap_plus1 = isa < 0 ? 0 : isa + 1;
}

int tq_context_isa_cap(const tq_context *ctx) {
  return ctx ? ctx->isa_cap_plus1 - 1 : -1;
}

void tq_free(void *ptr) {
  free(ptr);
}

tq_status tq_error(tq_context *ctx, tq_status status, const char *source,
                   long line, long column, const char *fmt, ...) {
  if (!ctx) return status;
  tq_error_info *e = &ctx->last;
  e->status = status;
  snprintf(e->source, sizeof e->source, "%s", source ? source : "");
  e->line = line;
  e->column = column;
  size_t used = 0;
  if (source && *source) {
    int k;
    if (line > 0 && column > 0)
      k = snprintf(e->message, sizeof e->message, "%s:%ld:%ld: ", source, line,
                   column);
    else if (line > 0)
      k = snprintf(e->message, sizeof e->message, "%s:%ld: ", source, line);
    else
      k = snprintf(e->message, sizeof e->message, "%s: ", source);
    used = k > 0 ? (size_t)k : 0;
    if (used >= sizeof e->message) used = sizeof e->message - 1;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message + used, sizeof e->message - used, fmt, ap);
  va_end(ap);
  return status;
}

tq_status tq_error_nomem(tq_context *ctx) {
  return tq_error(ctx, TQ_ERR_NO_MEMORY, NULL, 0, 0, "out of memory");
}
