/* The context's convolution preference (tq_context_set_conv_impls and the
 * fast-convolution shorthand): names to table indices and back. The
 * context stores only the indices (core/context_internal.h); their
 * meaning is the table of conv_impl.c. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "ops/conv_impl_internal.h"

/* The default: every entry but the opt-in ones, in table order. */
static int default_pref(unsigned char *impl) {
  int n = 0;
  for (size_t i = 0; i < tq_conv_impl_count(); i++)
    if (!(tq_conv_impl_at(i)->flags & TQ_CONV_IMPL_OPT_IN))
      impl[n++] = (unsigned char)i;
  return n;
}

int tq_conv_impl_pref(const tq_context *ctx, unsigned char *impl) {
  const tq_conv_pref p = tq_context_conv_pref(ctx);
  if (p.n == 0) return default_pref(impl);
  memcpy(impl, p.impl, (size_t)p.n);
  return p.n;
}

static int holds(const tq_conv_pref *p, size_t index) {
  for (int k = 0; k < p->n; k++)
    if (p->impl[k] == index) return 1;
  return 0;
}

/* Appends every entry called name[0, len) (one per operator may share a
 * name); 0 when there is none. */
static int add_name(tq_conv_pref *p, const char *name, size_t len) {
  int found = 0;
  for (size_t i = 0; i < tq_conv_impl_count(); i++) {
    const char *n = tq_conv_impl_at(i)->name;
    if (strlen(n) != len || strncmp(n, name, len)) continue;
    found = 1;
    if (!holds(p, i)) p->impl[p->n++] = (unsigned char)i;
  }
  return found;
}

/* Whether entry i's name was already written by an earlier one of
 * impl[0, k) (entries of several operators may share a name). */
static int name_seen(const unsigned char *impl, int k, size_t i) {
  for (int j = 0; j < k; j++)
    if (!strcmp(tq_conv_impl_at(impl[j])->name, tq_conv_impl_at(i)->name))
      return 1;
  return 0;
}

/* The names of impl[0, n) into buf, comma-separated; snprintf-like. */
static size_t format_names(const unsigned char *impl, int n, char *buf,
                           size_t size) {
  size_t len = 0;
  for (int k = 0; k < n; k++) {
    if (name_seen(impl, k, impl[k])) continue;
    const int w = snprintf(buf ? buf + (len < size ? len : size) : NULL,
                           len < size ? size - len : 0, "%s%s", len ? "," : "",
                           tq_conv_impl_at(impl[k])->name);
    if (w > 0) len += (size_t)w;
  }
  if (size && !len) buf[0] = '\0';
  return len;
}

static tq_status unknown_name(tq_context *ctx, const char *name, size_t len) {
  unsigned char all[TQ_CONV_PREF_MAX];
  int n = 0;
  for (size_t i = 0; i < tq_conv_impl_count(); i++) all[n++] = (unsigned char)i;
  char names[256];
  format_names(all, n, names, sizeof names);
  return tq_error(ctx, TQ_ERR_PARSE, NULL, 0, 0,
                  "unknown convolution implementation '%.*s': expected a "
                  "comma-separated list of %s, or default",
                  (int)len, name, names);
}

tq_status tq_context_set_conv_impls(tq_context *ctx, const char *list) {
  tq_conv_pref p = {0};
  if (list && strcmp(list, "default")) {
    const char *s = list;
    for (;;) {
      while (isspace((unsigned char)*s)) s++;
      const char *end = s + strcspn(s, ",");
      size_t len = (size_t)(end - s);
      while (len && isspace((unsigned char)s[len - 1])) len--;
      if (!len)
        return tq_error(ctx, TQ_ERR_PARSE, NULL, 0, 0,
                        "empty name in the convolution implementation list "
                        "'%s'",
                        list);
      if (!add_name(&p, s, len)) return unknown_name(ctx, s, len);
      if (!*end) break;
      s = end + 1;
    }
  }
  tq_context_set_conv_pref(ctx, &p);
  return TQ_OK;
}

size_t tq_context_conv_impls(const tq_context *ctx, char *buf, size_t size) {
  unsigned char impl[TQ_CONV_PREF_MAX];
  const int n = tq_conv_impl_pref(ctx, impl);
  return format_names(impl, n, buf, size);
}

/* Where winograd4 is in ctx's preference p (after filling p), or -1. */
static int find_winograd4(const tq_context *ctx, tq_conv_pref *p) {
  p->n = tq_conv_impl_pref(ctx, p->impl);
  for (int k = 0; k < p->n; k++)
    if (tq_conv_impl_at(p->impl[k]) == &tq_conv_impl_winograd4) return k;
  return -1;
}

void tq_context_set_fast_conv(tq_context *ctx, int enable) {
  if (!ctx) return;
  tq_conv_pref p;
  const int at = find_winograd4(ctx, &p);
  if (enable && at < 0) {
    size_t w4 = 0;
    while (tq_conv_impl_at(w4) != &tq_conv_impl_winograd4) w4++;
    memmove(p.impl + 1, p.impl, (size_t)p.n);
    p.impl[0] = (unsigned char)w4;
    p.n++;
  } else if (!enable && at >= 0) {
    memmove(p.impl + at, p.impl + at + 1, (size_t)(p.n - at - 1));
    p.n--;
  } else {
    return;
  }
  /* "winograd4" alone: what is left is the fallbacks, not the default
   * (which n == 0 would mean) */
  const int empty = p.n == 0;
  for (size_t i = 0; empty && i < tq_conv_impl_count(); i++)
    if (tq_conv_impl_at(i)->flags & TQ_CONV_IMPL_FALLBACK)
      p.impl[p.n++] = (unsigned char)i;
  tq_context_set_conv_pref(ctx, &p);
}

int tq_context_fast_conv(const tq_context *ctx) {
  tq_conv_pref p;
  return find_winograd4(ctx, &p) >= 0;
}
