/* Spec strings: `name,positional...[,key=value...]` <-> tq_quant_params.
 *
 * The generic part: fields, options, suggestions and the listing. Each
 * kind's entry (kind_*.c) brings its spec names (rows), its positional
 * arguments and its canonical form; the parser, the canonical formatter
 * and `tq formats` all read them from the trait table. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/spec_internal.h"

/* ---- the rows of every kind ----------------------------------------------*/

/* Kinds in listing order (`tq formats`, suggestions): the identity last. */
static const tq_kind_traits *listed_kind(size_t i) {
  return tq_kind_traits_get((tq_quant_kind)((i + 1) % TQ_QUANT_KIND_COUNT));
}

size_t tq_format_count(void) {
  size_t n = 0;
  for (size_t k = 0; k < TQ_QUANT_KIND_COUNT; k++)
    n += listed_kind(k)->row_count;
  return n;
}

static const tq_spec_row *row_get(size_t i) {
  for (size_t k = 0; k < TQ_QUANT_KIND_COUNT; k++) {
    const tq_kind_traits *tr = listed_kind(k);
    if (i < tr->row_count) return &tr->rows[i];
    i -= tr->row_count;
  }
  return NULL;
}

const tq_format_info *tq_format_get(size_t i) {
  const tq_spec_row *row = row_get(i);
  return row ? &row->info : NULL;
}

/* Most spec names the suggestions consider. */
enum { SPEC_ROWS_MAX = 128 };

static const char *const round_names[] = {
    [TQ_ROUND_NEAREST] = "nearest",
    [TQ_ROUND_EVEN] = "even",
    [TQ_ROUND_HALF_UP] = "half_up",
    [TQ_ROUND_HALF_DOWN] = "half_down",
    [TQ_ROUND_HALF_ZERO] = "half_zero",
    [TQ_ROUND_DOWN] = "down",
    [TQ_ROUND_UP] = "up",
    [TQ_ROUND_ZERO] = "zero",
    [TQ_ROUND_AWAY] = "away",
    [TQ_ROUND_STOCHASTIC] = "stochastic",
};
_Static_assert(sizeof round_names / sizeof round_names[0] == TQ_ROUND_COUNT,
               "every rounding mode needs a name");

static const char *const overflow_names[] = {
    [TQ_OVERFLOW_SAT] = "sat",
    [TQ_OVERFLOW_SAT_SYM] = "sat_sym",
    [TQ_OVERFLOW_WRAP] = "wrap",
};
_Static_assert(sizeof overflow_names / sizeof overflow_names[0] ==
                   TQ_OVERFLOW_COUNT,
               "every overflow mode needs a name");

const char *tq_round_name(tq_round r) {
  return (unsigned)r < TQ_ROUND_COUNT ? round_names[r] : "?";
}
const char *tq_overflow_name(tq_overflow o) {
  return (unsigned)o < TQ_OVERFLOW_COUNT ? overflow_names[o] : "?";
}

/* ---- suggestions ---------------------------------------------------------*/

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return 64;
  size_t row[64];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost =
          tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1])
              ? 0
              : 1;
      size_t best = diag + cost;
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* The candidate closest to word, or NULL if none is plausibly meant. */
static const char *nearest_of(const char *word, const char *const *cands,
                              size_t n) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    size_t d = edit_distance(word, cands[i]);
    if (d < best_d) best_d = d, best = cands[i];
  }
  size_t len = strlen(word);
  return best_d <= (len < 4 ? 1 : len / 2) ? best : NULL;
}

/* ---- tokens --------------------------------------------------------------*/

#define MAX_TOKENS 16

struct tq_spec_parser {
  tq_context *ctx;
  const char *spec;
  tq_spec_token tok[MAX_TOKENS];
  int count;
};
typedef tq_spec_parser parser;
typedef tq_spec_token token;

static tq_status fail(parser *ps, tq_status st, long column, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static tq_status fail(parser *ps, tq_status st, long column, const char *fmt,
                      ...) {
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return tq_error(ps->ctx, st, ps->spec, 1, column,
                  "invalid quantizer spec '%s': %s", ps->spec, detail);
}

/* Splits the spec at commas; trims blanks around each field. */
static tq_status tokenize(parser *ps) {
  const char *s = ps->spec;
  size_t len = strlen(s);
  size_t start = 0;
  ps->count = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && s[i] != ',') continue;
    size_t a = start, b = i;
    while (a < b && isspace((unsigned char)s[a])) a++;
    while (b > a && isspace((unsigned char)s[b - 1])) b--;
    long column = (long)a + 1;
    if (a == b)
      return fail(ps, TQ_ERR_PARSE, column,
                  i == len && ps->count > 0
                      ? "empty field at position %ld (trailing comma?)"
                      : "empty field at position %ld",
                  column);
    if (ps->count == MAX_TOKENS)
      return fail(ps, TQ_ERR_PARSE, column,
                  "too many fields (at most %d) at position %ld", MAX_TOKENS,
                  column);
    token *t = &ps->tok[ps->count++];
    size_t n = b - a;
    t->too_long = n >= sizeof t->text;
    if (t->too_long) n = sizeof t->text - 1;
    memcpy(t->text, s + a, n);
    t->text[n] = '\0';
    t->column = column;
    for (size_t k = a; k < b; k++)
      if (isspace((unsigned char)s[k]) || !isprint((unsigned char)s[k]))
        return fail(ps, TQ_ERR_PARSE, (long)k + 1,
                    "unexpected character at position %ld in field '%.*s'",
                    (long)k + 1, (int)(b - a), s + a);
    start = i + 1;
  }
  return TQ_OK;
}

static int parse_long_text(const char *text, long *out) {
  if (!*text) return 0;
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || *end) return 0;
  *out = v;
  return 1;
}

tq_status tq_spec_int(parser *ps, const token *t, const char *what, long lo,
                      long hi, int *out) {
  long v;
  if (t->too_long || !parse_long_text(t->text, &v))
    return fail(ps, TQ_ERR_PARSE, t->column,
                "%s must be an integer, got '%s' at position %ld", what,
                t->text, t->column);
  if (v < lo || v > hi)
    return fail(ps, TQ_ERR_RANGE, t->column,
                "%s must be between %ld and %ld, got %ld at position %ld", what,
                lo, hi, v, t->column);
  *out = (int)v;
  return TQ_OK;
}

tq_status tq_spec_real(parser *ps, const token *t, const char *what,
                       double *out) {
  char *end;
  errno = 0;
  double v = t->too_long ? 0 : strtod(t->text, &end);
  if (t->too_long || errno || *end || !isfinite(v) ||
      !(isdigit((unsigned char)t->text[0]) || t->text[0] == '.' ||
        t->text[0] == '-' || t->text[0] == '+'))
    return fail(ps, TQ_ERR_PARSE, t->column,
                "%s must be a finite number, got '%s' at position %ld", what,
                t->text, t->column);
  *out = v;
  return TQ_OK;
}

static int parse_bool_text(const char *v, int *out) {
  if (!strcmp(v, "true") || !strcmp(v, "1")) return *out = 1, 1;
  if (!strcmp(v, "false") || !strcmp(v, "0")) return *out = 0, 1;
  return 0;
}

static tq_status parse_enum(parser *ps, const token *t, const char *key,
                            const char *value, const char *const *names,
                            size_t n, int *out) {
  for (size_t i = 0; i < n; i++)
    if (names[i] && !strcmp(value, names[i])) {
      *out = (int)i;
      return TQ_OK;
    }
  const char *hint = nearest_of(value, names, n);
  char list[256] = "";
  for (size_t i = 0; i < n; i++)
    if (names[i]) {
      strncat(list, names[i], sizeof list - strlen(list) - 1);
      if (i + 1 < n) strncat(list, "|", sizeof list - strlen(list) - 1);
    }
  return fail(ps, TQ_ERR_PARSE, t->column,
              "unknown %s '%s' at position %ld (expected %s)%s%s%s", key, value,
              t->column, list, hint ? "; did you mean '" : "", hint ? hint : "",
              hint ? "'?" : "");
}

static const char *const ste_names[] = {
    [TQ_STE_IDENTITY] = "identity", [TQ_STE_CLIPPED] = "clipped"};
static const char *const scale_names[] = {
    [TQ_SCALE_FP32] = "fp32", [TQ_SCALE_BF16] = "bf16",
    [TQ_SCALE_FP16] = "fp16", [TQ_SCALE_FP8E4M3] = "fp8e4m3",
    [TQ_SCALE_E8M0] = "e8m0", [TQ_SCALE_PO2] = "po2"};
_Static_assert(sizeof scale_names / sizeof scale_names[0] ==
                   TQ_SCALE_FORMAT_COUNT,
               "every scale format needs a name");
static const char *const scale_round_names[] = {
    [TQ_SCALE_ROUND_FLOOR] = "floor", [TQ_SCALE_ROUND_CEIL] = "ceil"};
static const char *const int_mode_names[] = {[TQ_INT_SYM] = "sym",
                                             [TQ_INT_ASYM] = "asym",
                                             [TQ_INT_UNSIGNED] = "unsigned"};

const char *tq_scale_format_name(tq_scale_format f) {
  return (unsigned)f < TQ_SCALE_FORMAT_COUNT ? scale_names[f] : "?";
}
const char *tq_scale_round_name(tq_scale_round r) {
  return (unsigned)r < TQ_SCALE_ROUND_COUNT ? scale_round_names[r] : "?";
}
const char *tq_int_mode_name(tq_int_mode m) {
  return (unsigned)m < TQ_INT_MODE_COUNT ? int_mode_names[m] : "?";
}

/* How an option's field is written: a bare flag that also takes
 * =true/false (sat), a bare word only (sym), or key=value. */
typedef enum { OPT_FLAG, OPT_WORD, OPT_VALUE } option_form;

static const struct option_def {
  const char *key;
  unsigned cls;
  option_form form;
} options[] = {
    {"overflow", TQ_OPT_OVERFLOW, OPT_VALUE},
    {"signed", TQ_OPT_SIGNED, OPT_VALUE},
    {"seed", TQ_OPT_SEED, OPT_VALUE},
    {"round", TQ_OPT_ROUND, OPT_VALUE},
    {"sat", TQ_OPT_FLOATFLAGS, OPT_FLAG},
    {"fn", TQ_OPT_FLOATFLAGS, OPT_FLAG},
    {"finite", TQ_OPT_FLOATFLAGS, OPT_FLAG},
    {"subnormals", TQ_OPT_FLOATFLAGS, OPT_VALUE},
    {"ste", TQ_OPT_STE, OPT_VALUE},
    {"sym", TQ_OPT_INTMODE, OPT_WORD},
    {"asym", TQ_OPT_INTMODE, OPT_WORD},
    {"unsigned", TQ_OPT_INTMODE, OPT_WORD},
    {"narrow", TQ_OPT_INTMODE, OPT_FLAG},
    {"axis", TQ_OPT_GROUPS, OPT_VALUE},
    {"group", TQ_OPT_GROUPS, OPT_VALUE},
    {"scale", TQ_OPT_SCALE, OPT_VALUE},
    {"scale_round", TQ_OPT_SCALE_ROUND, OPT_VALUE},
    {"scaled", TQ_OPT_SCALED, OPT_FLAG},
    {"static", TQ_OPT_STATIC, OPT_FLAG},
};
enum { OPTION_COUNT = sizeof options / sizeof options[0], MAX_CANDS = 24 };
_Static_assert(OPTION_COUNT <= 32, "seen is a 32-bit mask");

/* axis=K (an integer, negative from the end) or, where the row allows
 * per-channel scales, axis=channel. */
static tq_status parse_axis(parser *ps, const token *t, const tq_spec_row *sn,
                            const char *value, tq_quant_params *p) {
  long v;
  if ((sn->options & TQ_OPT_CHANNEL) && !strcmp(value, "channel")) {
    p->axis_mode = TQ_AXIS_CHANNEL;
    return TQ_OK;
  }
  if (!parse_long_text(value, &v))
    return fail(ps, TQ_ERR_PARSE, t->column,
                "axis must be an integer%s, got '%s' at position %ld",
                sn->options & TQ_OPT_CHANNEL ? " or 'channel'" : "", value,
                t->column);
  if (v < -64 || v > 63)
    return fail(ps, TQ_ERR_RANGE, t->column,
                "axis must be between -64 and 63, got %ld at position %ld", v,
                t->column);
  p->axis_mode = TQ_AXIS_INDEX;
  p->axis = (int)v;
  return TQ_OK;
}

static tq_status parse_group(parser *ps, const token *t, const char *value,
                             tq_quant_params *p) {
  long v;
  if (!parse_long_text(value, &v))
    return fail(ps, TQ_ERR_PARSE, t->column,
                "group must be a positive integer, got '%s' at position %ld",
                value, t->column);
  if (v < 1 || v > (1L << 30))
    return fail(ps, TQ_ERR_RANGE, t->column,
                "group must be between 1 and %ld elements, got %ld at "
                "position %ld",
                1L << 30, v, t->column);
  p->group = v;
  return TQ_OK;
}

static tq_status parse_option(parser *ps, const token *t, const tq_spec_row *sn,
                              tq_quant_params *p, unsigned *seen) {
  char key[64];
  const char *eq = strchr(t->text, '=');
  size_t klen = eq ? (size_t)(eq - t->text) : strlen(t->text);
  memcpy(key, t->text, klen);
  key[klen] = '\0';
  const char *value = eq ? eq + 1 : NULL;
  unsigned allowed = sn->options | TQ_OPT_STE;
  int known = -1;
  for (int i = 0; i < OPTION_COUNT; i++)
    if (!strcmp(key, options[i].key)) known = i;
  if (known < 0) {
    if (!sn->options)
      return fail(ps, TQ_ERR_PARSE, t->column,
                  "unexpected field '%s' at position %ld: '%s' takes %s",
                  t->text, t->column, sn->info.name,
                  sn->max_args ? "only numeric arguments" : "no arguments");
    const char *cands[MAX_CANDS];
    size_t nc = 0;
    for (int i = 0; i < OPTION_COUNT; i++)
      if (allowed & options[i].cls) cands[nc++] = options[i].key;
    const char *hint = nearest_of(key, cands, nc);
    return fail(ps, TQ_ERR_PARSE, t->column,
                "unknown option '%s' at position %ld (usage: %s)%s%s%s", key,
                t->column, sn->info.usage, hint ? "; did you mean '" : "",
                hint ? hint : "", hint ? "'?" : "");
  }
  const struct option_def *od = &options[known];
  if (!(allowed & od->cls))
    return fail(ps, TQ_ERR_PARSE, t->column,
                "option '%s' at position %ld does not apply to '%s' (usage: "
                "%s)",
                key, t->column, sn->info.name, sn->info.usage);
  if (*seen & (1u << known))
    return fail(ps, TQ_ERR_PARSE, t->column,
                "option '%s' given twice (again at position %ld)", key,
                t->column);
  *seen |= 1u << known;
  if (!value && od->form == OPT_VALUE)
    return fail(ps, TQ_ERR_PARSE, t->column,
                "option '%s' at position %ld needs a value (%s=...)", key,
                t->column, key);
  if (value && od->form == OPT_WORD)
    return fail(ps, TQ_ERR_PARSE, t->column,
                "option '%s' at position %ld takes no value", key, t->column);
  int b = 1;
  if (value && !parse_bool_text(value, &b) &&
      (od->form == OPT_FLAG || !strcmp(key, "signed") ||
       !strcmp(key, "subnormals")))
    return fail(ps, TQ_ERR_PARSE, t->column,
                "option '%s' expects true or false, got '%s' at position %ld",
                key, value, t->column);
  int v = 0;
  tq_status st = TQ_OK;
  if (od->cls == TQ_OPT_INTMODE && strcmp(key, "narrow")) {
    /* sym, asym and unsigned name one setting: at most one of them. */
    for (int i = 0; i < OPTION_COUNT; i++)
      if (i != known && (*seen & (1u << i)) &&
          options[i].cls == TQ_OPT_INTMODE && strcmp(options[i].key, "narrow"))
        return fail(ps, TQ_ERR_PARSE, t->column,
                    "options '%s' and '%s' exclude each other (position %ld)",
                    options[i].key, key, t->column);
  }
  switch (known) {
    case 0:
      st = parse_enum(ps, t, "overflow mode", value, overflow_names,
                      TQ_OVERFLOW_COUNT, &v);
      p->overflow = (tq_overflow)v;
      break;
    case 1: p->is_signed = b; break;
    case 2: {
      char *end;
      errno = 0;
      unsigned long long s = strtoull(value, &end, 0);
      if (errno || !*value || *end || value[0] == '-')
        return fail(ps, TQ_ERR_PARSE, t->column,
                    "seed must be a non-negative 64-bit integer, got '%s' at "
                    "position %ld",
                    value, t->column);
      p->seed = s;
      p->has_seed = 1;
      break;
    }
    case 3:
      st = parse_enum(ps, t, "rounding mode", value, round_names,
                      TQ_ROUND_COUNT, &v);
      p->round = (tq_round)v;
      break;
    case 4: p->saturate = b; break;
    case 5: p->finite_nan = b; break;
    case 6: p->finite_only = b; break;
    case 7: p->subnormals = b; break;
    case 8:
      st = parse_enum(ps, t, "straight-through estimator", value, ste_names,
                      TQ_STE_COUNT, &v);
      p->ste = (tq_ste)v;
      break;
    case 9: p->int_mode = TQ_INT_SYM; break;
    case 10: p->int_mode = TQ_INT_ASYM; break;
    case 11: p->int_mode = TQ_INT_UNSIGNED; break;
    case 12: p->narrow = b; break;
    case 13: st = parse_axis(ps, t, sn, value, p); break;
    case 14: st = parse_group(ps, t, value, p); break;
    case 15:
      st = parse_enum(ps, t, "scale format", value, scale_names,
                      TQ_SCALE_FORMAT_COUNT, &v);
      p->scale = (tq_scale_format)v;
      break;
    case 16:
      st = parse_enum(ps, t, "scale rounding", value, scale_round_names,
                      TQ_SCALE_ROUND_COUNT, &v);
      p->scale_round = (tq_scale_round)v;
      break;
    case 17: p->scaled = b; break;
    case 18: p->is_static = b; break;
  }
  return st;
}

static tq_status parse_params(parser *ps, tq_quant_params *p) {
  const token *name = &ps->tok[0];
  const tq_spec_row *sn = NULL;
  const char *cands[SPEC_ROWS_MAX];
  size_t rows = tq_format_count();
  for (size_t i = 0; i < rows; i++) {
    const tq_spec_row *row = row_get(i);
    if (!strcmp(name->text, row->info.name)) sn = row;
    if (i < SPEC_ROWS_MAX) cands[i] = row->info.name;
  }
  if (!sn) {
    const char *hint = nearest_of(name->text, cands,
                                  rows < SPEC_ROWS_MAX ? rows : SPEC_ROWS_MAX);
    return fail(ps, TQ_ERR_PARSE, name->column,
                "unknown quantizer '%s' at position %ld%s%s%s (tq formats "
                "lists them all)",
                name->text, name->column, hint ? "; did you mean '" : "",
                hint ? hint : "", hint ? "'?" : "");
  }
  memset(p, 0, sizeof *p);
  p->struct_size = sizeof *p;
  p->kind = sn->kind;
  p->round = sn->round;
  p->is_signed = 1;
  p->subnormals = 1;
  p->exp_bits = sn->exp_bits;
  p->man_bits = sn->man_bits;
  p->finite_nan = sn->finite_nan;
  p->finite_only = sn->finite_only;
  p->magnitude = 1.0;
  p->width = sn->width;
  p->int_mode = sn->int_mode;

  int nargs = 0;
  while (1 + nargs < ps->count && !strchr(ps->tok[1 + nargs].text, '=') &&
         isalpha((unsigned char)ps->tok[1 + nargs].text[0]) == 0)
    nargs++;
  if (nargs < sn->min_args || nargs > sn->max_args) {
    long col = 1 + nargs < ps->count ? ps->tok[1 + nargs].column
                                     : (long)strlen(ps->spec) + 1;
    if (nargs > sn->max_args) col = ps->tok[1 + sn->max_args].column;
    if (sn->min_args == sn->max_args)
      return fail(ps, TQ_ERR_PARSE, col,
                  "'%s' takes %d numeric argument%s, got %d at position %ld "
                  "(usage: %s)",
                  sn->info.name, sn->min_args, sn->min_args == 1 ? "" : "s",
                  nargs, col, sn->info.usage);
    return fail(ps, TQ_ERR_PARSE, col,
                "'%s' takes %d to %d numeric arguments, got %d at position "
                "%ld (usage: %s)",
                sn->info.name, sn->min_args, sn->max_args, nargs, col,
                sn->info.usage);
  }
  const tq_kind_traits *tr = tq_kind_traits_get(sn->kind);
  tq_status st = TQ_OK;
  if (nargs > 0) st = tr->parse_args(ps, &ps->tok[1], nargs, p);
  if (st != TQ_OK) return st;
  unsigned seen = 0;
  for (int i = 1 + nargs; i < ps->count; i++) {
    const token *t = &ps->tok[i];
    if (!strchr(t->text, '=') && !isalpha((unsigned char)t->text[0]))
      return fail(ps, TQ_ERR_PARSE, t->column,
                  "unexpected numeric field '%s' at position %ld after the "
                  "options (usage: %s)",
                  t->text, t->column, sn->info.usage);
    st = parse_option(ps, t, sn, p, &seen);
    if (st != TQ_OK) return st;
  }
  return TQ_OK;
}

tq_status tq_quantizer_parse(tq_context *ctx, const char *spec,
                             tq_quantizer **out) {
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantizer_parse: out is NULL");
  *out = NULL;
  if (!spec)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantizer_parse: spec is NULL");
  parser ps = {.ctx = ctx, .spec = spec};
  if (strlen(spec) > 1024)
    return tq_error(ctx, TQ_ERR_PARSE, NULL, 0, 0,
                    "invalid quantizer spec: longer than 1024 characters");
  tq_status st = tokenize(&ps);
  if (st != TQ_OK) return st;
  if (ps.count == 0)
    return fail(&ps, TQ_ERR_PARSE, 1, "empty spec (tq formats lists them)");
  tq_quant_params p;
  st = parse_params(&ps, &p);
  if (st != TQ_OK) return st;
  tq_quantizer *q = malloc(sizeof *q);
  if (!q) return tq_error_nomem(ctx);
  st = tq_quantizer_init(ctx, &p, spec, q);
  if (st != TQ_OK) {
    /* Validation messages lack the "invalid quantizer spec" lead-in. */
    if (ctx) {
      char msg[sizeof(((tq_error_info *)0)->message)];
      snprintf(msg, sizeof msg, "%s", tq_context_last_error(ctx));
      const char *detail = strstr(msg, ": ");
      tq_error(ctx, st, spec, 1, 1, "invalid quantizer spec '%s': %s", spec,
               detail ? detail + 2 : msg);
    }
    free(q);
    return st;
  }
  *out = q;
  return TQ_OK;
}

/* ---- canonical form ------------------------------------------------------*/

void tq_spec_append(char *buf, size_t size, const char *fmt, ...) {
  size_t used = strlen(buf);
  if (used + 1 >= size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + used, size - used, fmt, ap);
  va_end(ap);
}

void tq_spec_append_real(char *buf, size_t size, double v) {
  char text[32];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(text, sizeof text, "%.*g", prec, v);
    if (strtod(text, NULL) == v) break;
  }
  tq_spec_append(buf, size, "%s", text);
}

void tq_spec_append_seed(const tq_quant_params *p, char *buf, size_t size) {
  if (p->has_seed)
    tq_spec_append(buf, size, ",seed=%llu", (unsigned long long)p->seed);
}

void tq_spec_append_groups(const tq_quant_params *p, int64_t default_group,
                           char *buf, size_t size) {
  if (p->axis_mode == TQ_AXIS_INDEX)
    tq_spec_append(buf, size, ",axis=%d", p->axis);
  else if (p->axis_mode == TQ_AXIS_CHANNEL)
    tq_spec_append(buf, size, ",axis=channel");
  if (p->group && p->group != default_group)
    tq_spec_append(buf, size, ",group=%lld", (long long)p->group);
}

void tq_spec_append_scaled_tail(const tq_quant_params *p, char *buf,
                                size_t size) {
  if (p->scale != TQ_SCALE_FP32)
    tq_spec_append(buf, size, ",scale=%s", tq_scale_format_name(p->scale));
  if (p->is_static) tq_spec_append(buf, size, ",static");
}

void tq_spec_format(const tq_quant_params *p, char *buf, size_t size) {
  buf[0] = '\0';
  const tq_kind_traits *tr = tq_kind_traits_get(p->kind);
  if (!tr) return;
  tr->format(p, buf, size);
  if (p->ste != TQ_STE_IDENTITY)
    tq_spec_append(buf, size, ",ste=%s", ste_names[p->ste]);
}
