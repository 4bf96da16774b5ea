/* Spec lists with ranges ("nearest,{4..16},{auto}"), `auto` fractional
 * bits, and the word width of a spec (analysis.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tensorquant/analysis.h"
#include "tensorquant/quantizer.h"
#include "tensorquant/stats.h"

enum { MAX_EXPANSIONS = 100000, MAX_SPEC_LEN = 512 };

typedef struct spec_vec {
  char **items;
  size_t n, cap;
} spec_vec;

static int push(spec_vec *v, const char *text, size_t len) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? 2 * v->cap : 16;
    char **p = realloc(v->items, cap * sizeof *p);
    if (!p) return 0;
    v->items = p;
    v->cap = cap;
  }
  char *s = malloc(len + 1);
  if (!s) return 0;
  memcpy(s, text, len);
  s[len] = 0;
  v->items[v->n++] = s;
  return 1;
}

void tq_spec_list_free(char **specs, size_t count) {
  for (size_t i = 0; specs && i < count; i++) free(specs[i]);
  free(specs);
}

/* Parses a whole decimal integer in [a, a+len), optionally signed. */
static int parse_long(const char *a, size_t len, long *out) {
  char buf[32];
  if (len == 0 || len >= sizeof buf) return 0;
  memcpy(buf, a, len);
  buf[len] = 0;
  char *end;
  errno = 0;
  long v = strtol(buf, &end, 10);
  if (errno || *end || end == buf) return 0;
  *out = v;
  return 1;
}

/* The alternatives of the brace group body [a, a+len): "4..16",
 * "4..16..2", "16..4" or "x,y,z". */
static tq_status group_items(tq_context *ctx, const char *list, const char *a,
                             size_t len, spec_vec *out) {
  const char *dots = NULL;
  for (size_t i = 0; i + 1 < len; i++)
    if (a[i] == '.' && a[i + 1] == '.') {
      dots = a + i;
      break;
    }
  const size_t col = (size_t)(a - list); /* 1-based column of the { */
  if (dots) {
    long lo, hi, step = 1;
    const char *rest = dots + 2, *end = a + len;
    const char *dots2 = NULL;
    for (const char *p = rest; p + 1 < end; p++)
      if (p[0] == '.' && p[1] == '.') {
        dots2 = p;
        break;
      }
    if (!parse_long(a, (size_t)(dots - a), &lo) ||
        !parse_long(rest, (size_t)((dots2 ? dots2 : end) - rest), &hi) ||
        (dots2 && (!parse_long(dots2 + 2, (size_t)(end - dots2 - 2), &step) ||
                   step <= 0)))
      return tq_error(ctx, TQ_ERR_PARSE, "spec list", 1, (int)col,
                      "'{%.*s}' in '%s': a range is {FIRST..LAST} or "
                      "{FIRST..LAST..STEP} with whole numbers and STEP > 0",
                      (int)len, a, list);
    const long dir = lo <= hi ? 1 : -1;
    for (long x = lo;;) {
      if (out->n >= MAX_EXPANSIONS)
        return tq_error(ctx, TQ_ERR_RANGE, "spec list", 1, (int)col,
                        "'{%.*s}' in '%s' expands to too many values", (int)len,
                        a, list);
      char buf[32];
      int n = snprintf(buf, sizeof buf, "%ld", x);
      if (!push(out, buf, (size_t)n)) return tq_error_nomem(ctx);
      /* the distance left, in unsigned arithmetic: no signed overflow at
       * the ends of long's range */
      const unsigned long left = dir > 0 ? (unsigned long)hi - (unsigned long)x
                                         : (unsigned long)x - (unsigned long)hi;
      if (left < (unsigned long)step) break;
      x = dir > 0 ? (long)((unsigned long)x + (unsigned long)step)
                  : (long)((unsigned long)x - (unsigned long)step);
    }
    return TQ_OK;
  }
  const char *p = a, *end = a + len;
  for (;;) {
    const char *c = memchr(p, ',', (size_t)(end - p));
    const char *stop = c ? c : end;
    const char *s = p, *e = stop;
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) e--;
    if (s == e)
      return tq_error(ctx, TQ_ERR_PARSE, "spec list", 1, (int)(p - list) + 1,
                      "empty alternative in '{%.*s}' of '%s'", (int)len, a,
                      list);
    if (!push(out, s, (size_t)(e - s))) return tq_error_nomem(ctx);
    if (!c) break;
    p = c + 1;
  }
  return TQ_OK;
}

/* Expands the template [a, a+len) (one spec with brace groups) into out. */
static tq_status expand_one(tq_context *ctx, const char *list, const char *a,
                            size_t len, spec_vec *out) {
  const char *open = memchr(a, '{', len);
  const char *close_early = memchr(a, '}', open ? (size_t)(open - a) : len);
  if (close_early)
    return tq_error(ctx, TQ_ERR_PARSE, "spec list", 1,
                    (int)(close_early - list) + 1, "'}' without '{' in '%s'",
                    list);
  if (!open) {
    if (len >= MAX_SPEC_LEN)
      return tq_error(ctx, TQ_ERR_RANGE, "spec list", 1, (int)(a - list) + 1,
                      "a spec in '%s' is longer than %d characters", list,
                      MAX_SPEC_LEN);
    return push(out, a, len) ? TQ_OK : tq_error_nomem(ctx);
  }
  const char *close = memchr(open, '}', len - (size_t)(open - a));
  if (!close)
    return tq_error(ctx, TQ_ERR_PARSE, "spec list", 1, (int)(open - list) + 1,
                    "'{' without '}' in '%s'", list);
  const char *nested = memchr(open + 1, '{', (size_t)(close - open - 1));
  if (nested)
    return tq_error(ctx, TQ_ERR_PARSE, "spec list", 1, (int)(nested - list) + 1,
                    "nested '{' in '%s' (groups cannot nest)", list);
  spec_vec alts = {0};
  tq_status st =
      group_items(ctx, list, open + 1, (size_t)(close - open - 1), &alts);
  const size_t head = (size_t)(open - a);
  const char *tail = close + 1;
  const size_t tail_len = len - (size_t)(tail - a);
  for (size_t i = 0; i < alts.n && st == TQ_OK; i++) {
    /* head + alternative + tail, then expand the tail's groups */
    size_t alen = strlen(alts.items[i]);
    char *buf = malloc(head + alen + tail_len + 1);
    if (!buf) {
      st = tq_error_nomem(ctx);
      break;
    }
    memcpy(buf, a, head);
    memcpy(buf + head, alts.items[i], alen);
    memcpy(buf + head + alen, tail, tail_len);
    buf[head + alen + tail_len] = 0;
    /* Positions in errors refer to `list`: report the tail against it. */
    spec_vec sub = {0};
    if (memchr(tail, '{', tail_len) || memchr(tail, '}', tail_len)) {
      st = expand_one(ctx, list, tail, tail_len, &sub);
      for (size_t k = 0; k < sub.n && st == TQ_OK; k++) {
        size_t slen = strlen(sub.items[k]);
        if (out->n >= MAX_EXPANSIONS)
          st = tq_error(ctx, TQ_ERR_RANGE, "spec list", 1, 1,
                        "'%s' expands to more than %d specs", list,
                        MAX_EXPANSIONS);
        else if (head + alen + slen >= MAX_SPEC_LEN)
          st = tq_error(ctx, TQ_ERR_RANGE, "spec list", 1, 1,
                        "a spec of '%s' is longer than %d characters", list,
                        MAX_SPEC_LEN);
        else {
          char joined[MAX_SPEC_LEN];
          memcpy(joined, buf, head + alen);
          memcpy(joined + head + alen, sub.items[k], slen);
          if (!push(out, joined, head + alen + slen)) st = tq_error_nomem(ctx);
        }
      }
      tq_spec_list_free(sub.items, sub.n);
    } else if (out->n >= MAX_EXPANSIONS) {
      st = tq_error(ctx, TQ_ERR_RANGE, "spec list", 1, 1,
                    "'%s' expands to more than %d specs", list, MAX_EXPANSIONS);
    } else if (head + alen + tail_len >= MAX_SPEC_LEN) {
      st = tq_error(ctx, TQ_ERR_RANGE, "spec list", 1, 1,
                    "a spec of '%s' is longer than %d characters", list,
                    MAX_SPEC_LEN);
    } else if (!push(out, buf, head + alen + tail_len)) {
      st = tq_error_nomem(ctx);
    }
    free(buf);
  }
  tq_spec_list_free(alts.items, alts.n);
  return st;
}

tq_status tq_spec_list_expand(tq_context *ctx, const char *list, char ***specs,
                              size_t *count) {
  if (!list || !specs || !count)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_spec_list_expand: NULL argument");
  *specs = NULL;
  *count = 0;
  spec_vec out = {0};
  tq_status st = TQ_OK;
  const char *p = list;
  for (;;) {
    const char *semi = strchr(p, ';');
    const char *end = semi ? semi : p + strlen(p);
    const char *s = p, *e = end;
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) e--;
    if (s < e) st = expand_one(ctx, list, s, (size_t)(e - s), &out);
    if (st != TQ_OK || !semi) break;
    p = semi + 1;
  }
  if (st == TQ_OK && out.n == 0)
    st = tq_error(ctx, TQ_ERR_PARSE, "spec list", 1, 1,
                  "the spec list '%s' is empty: give specs separated by ';' "
                  "(e.g. 'nearest,{4..8},{auto};fp8e4m3')",
                  list);
  if (st != TQ_OK) {
    tq_spec_list_free(out.items, out.n);
    return st;
  }
  *specs = out.items;
  *count = out.n;
  return TQ_OK;
}

enum { MAX_FIELDS = 64 };

/* Splits spec into comma fields (trimmed) in buf; returns how many there
 * are, which may exceed MAX_FIELDS (only that many are stored). */
static size_t split_fields(char *buf, char **fields) {
  size_t n = 0;
  char *p = buf;
  for (;;) {
    char *c = strchr(p, ',');
    if (c) *c = 0;
    while (isspace((unsigned char)*p)) p++;
    char *e = p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1])) *--e = 0;
    if (n < MAX_FIELDS) fields[n] = p;
    n++;
    if (!c) break;
    p = c + 1;
  }
  return n;
}

int tq_spec_has_auto(const char *spec) {
  char buf[MAX_SPEC_LEN], *f[MAX_FIELDS];
  if (!spec || strlen(spec) >= sizeof buf) return 0;
  strcpy(buf, spec);
  size_t n = split_fields(buf, f);
  if (n > MAX_FIELDS) n = MAX_FIELDS;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(f[i], "auto")) return 1;
  return 0;
}

tq_status tq_spec_resolve_auto(tq_context *ctx, const char *spec,
                               double max_abs, char *out, size_t cap) {
  char buf[MAX_SPEC_LEN], *f[MAX_FIELDS];
  if (!spec || !out || strlen(spec) >= sizeof buf)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_spec_resolve_auto: NULL or overlong spec");
  strcpy(buf, spec);
  size_t n = split_fields(buf, f);
  if (n > MAX_FIELDS)
    return tq_error(ctx, TQ_ERR_PARSE, spec, 1, 1,
                    "a spec has at most %d comma-separated fields, this one "
                    "%zu",
                    MAX_FIELDS, n);
  int at = -1;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(f[i], "auto")) {
      if (i != 2 || at >= 0)
        return tq_error(ctx, TQ_ERR_PARSE, spec, 1, 1,
                        "'auto' stands for the fractional bits: it is the "
                        "third field of a fixed-point spec (name,W,auto)");
      at = (int)i;
    }
  if (at < 0) {
    if (strlen(spec) >= cap)
      return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0, "spec too long");
    strcpy(out, spec);
    return TQ_OK;
  }
  /* Validate the rest with a stand-in fraction, and learn the width. */
  char probe[MAX_SPEC_LEN + 8];
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(probe + len, sizeof probe - len, "%s%s",
                            i ? "," : "", i == 2 ? "0" : f[i]);
  tq_quantizer *q = NULL;
  tq_status st = tq_quantizer_parse(ctx, probe, &q);
  if (st != TQ_OK) {
    char why[400];
    snprintf(why, sizeof why, "%s", tq_context_last_error(ctx));
    return tq_error(ctx, st, spec, 1, 1,
                    "'auto' fractional bits need a fixed-point spec such as "
                    "nearest,8,auto; with 0 for auto this reads: %s",
                    why);
  }
  const tq_quant_params *p = tq_quantizer_params(q);
  const int is_fixed = p->kind == TQ_QUANT_FIXED;
  const int width = p->width, is_signed = p->is_signed;
  tq_quantizer_destroy(q);
  if (!is_fixed)
    return tq_error(ctx, TQ_ERR_PARSE, spec, 1, 1,
                    "'auto' fractional bits need a fixed-point spec "
                    "(nearest,W,auto ...), not '%s'",
                    f[0]);
  /* An unsigned w-bit word reaches 2^w - 1 steps, as a signed w+1-bit. */
  int frac = tq_fixed_frac_bits(max_abs, is_signed ? width : width + 1);
  if (frac == TQ_FRAC_BITS_INVALID)
    return tq_error(ctx, TQ_ERR_RANGE, spec, 1, 1,
                    "'auto' needs a word width of 2 to 53 bits (signed) or "
                    "1 to 52 (unsigned), not %d",
                    width);
  if (frac > 64) frac = 64;
  if (frac < -64) frac = -64;
  len = 0;
  for (size_t i = 0; i < n && len < cap; i++) {
    if (i == 2)
      len += (size_t)snprintf(out + len, cap - len, ",%d", frac);
    else
      len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", f[i]);
  }
  if (len >= cap)
    return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0, "spec too long");
  return TQ_OK;
}

int tq_spec_bits(const tq_quantizer *q) {
  return (int)tq_quantizer_bits(q);
}
