/* Map keys: substring and regular-expression matching, name suggestions. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "qmap/qmap_internal.h"

#define REGEX_PREFIX "re:"
#define REGEX_PREFIX_LEN 3

/* Limits on "re:" keys. glibc's regcomp recurses once per nesting level,
 * copies a group once per repetition count and needs memory quadratic in
 * the resulting size ("(a?){5000}" takes 200 MB), so a short hostile key
 * such as "((a{999}){999}){999}" could exhaust the stack or memory.
 * Repetition operators stacked on one item cost time instead: regcomp's
 * epsilon-closure is exponential in the number of "(a*)*?" units and
 * polynomial of high degree in the number of stars in "a*****", while two
 * levels ("a*?", "(a*)+") stay linear (measured: 20 units of "(a*)*?" take
 * 0.4 s, 330 units of ".*?" take 2 ms). Real layer-name patterns are far
 * below these limits. */
enum {
  REGEX_MAX_LEN = 1000,
  REGEX_MAX_DEPTH = 32,
  REGEX_MAX_SIZE = 1000, /* pattern elements after expanding repetitions */
  REGEX_MAX_STACK = 2    /* repetition operators applying to one item */
};

typedef struct regex_frame {
  size_t total;    /* size of the group so far */
  size_t last;     /* size of its last item, which a repetition multiplies */
  unsigned height; /* repetitions applying to the last item, inner ones
                      included */
  unsigned max_height; /* largest height of any item in the group */
} regex_frame;

static size_t sat_add(size_t a, size_t b) {
  return a > REGEX_MAX_SIZE || b > REGEX_MAX_SIZE - a ? REGEX_MAX_SIZE + 1
                                                      : a + b;
}

static size_t sat_mul(size_t a, size_t b) {
  if (a == 0 || b == 0) return 0;
  return a > REGEX_MAX_SIZE / b ? REGEX_MAX_SIZE + 1 : a * b;
}

static void add_item(regex_frame *f, size_t size, unsigned height) {
  f->total = sat_add(f->total, size);
  f->last = size;
  f->height = height;
  if (height > f->max_height) f->max_height = height;
}

/* Applies a repetition that makes count copies of the last item; returns
 * 0 when that stacks too many repetitions on it. */
static int repeat_last(regex_frame *f, size_t count) {
  if (++f->height > REGEX_MAX_STACK) return 0;
  if (f->height > f->max_height) f->max_height = f->height;
  if (count < 2) return 1;
  f->total = sat_add(f->total, sat_mul(f->last, count - 1));
  f->last = sat_mul(f->last, count);
  return 1;
}

/* Parses "{m}", "{m,}", "{m,n}" or "{,n}" (glibc's {0,n}) at p; returns
 * the characters consumed (0 if it is not a bound) and the number of
 * copies regcomp makes. */
static size_t parse_bound(const char *p, size_t *copies) {
  size_t i = 1, m = 0, n = 0;
  int comma = 0, have_n = 0;
  if (!isdigit((unsigned char)p[i]) &&
      !(p[i] == ',' && isdigit((unsigned char)p[i + 1])))
    return 0;
  while (isdigit((unsigned char)p[i])) {
    if (m <= REGEX_MAX_SIZE) m = m * 10 + (size_t)(p[i] - '0');
    i++;
  }
  if (p[i] == ',') {
    comma = 1;
    i++;
    while (isdigit((unsigned char)p[i])) {
      if (n <= REGEX_MAX_SIZE) n = n * 10 + (size_t)(p[i] - '0');
      have_n = 1;
      i++;
    }
  }
  if (p[i] != '}') return 0;
  *copies = have_n ? (n > m ? n : m) : comma ? m + 1 : m;
  return i + 1;
}

/* Skips a bracket expression starting at p[0] == '['; returns its length
 * (up to the end of the string when it is unterminated: regcomp reports
 * that). */
static size_t skip_bracket(const char *p) {
  size_t i = 1;
  if (p[i] == '^') i++;
  if (p[i] == ']') i++;
  while (p[i] && p[i] != ']') {
    if (p[i] == '[' &&
        (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
      char close = p[i + 1];
      i += 2;
      while (p[i] && !(p[i] == close && p[i + 1] == ']')) i++;
      if (p[i]) i += 2;
    } else {
      i++;
    }
  }
  return p[i] ? i + 1 : i;
}

static const char stacked_msg[] =
    "more than 2 repetition operators (*, +, ?, {m,n}) apply to one item, "
    "counting those on enclosing groups, as in \"(a*)*?\" or \"a***\"; "
    "regcomp takes exponential time on such patterns";

/* Rejects patterns that are too big for regcomp to handle safely, or that
 * use back-references (not POSIX extended syntax; exponential to match).
 * Returns NULL if the pattern is acceptable, else the reason. */
static const char *regex_unsafe(const char *p) {
  if (strlen(p) > REGEX_MAX_LEN) return "longer than 1000 characters";
  regex_frame stack[REGEX_MAX_DEPTH + 1] = {{0, 0, 0, 0}};
  size_t depth = 0;
  for (size_t i = 0; p[i];) {
    regex_frame *f = &stack[depth];
    size_t copies = 0, len = 1;
    switch (p[i]) {
      case '\\':
        if (p[i + 1] >= '1' && p[i + 1] <= '9')
          return "back-references (\\1 to \\9) are not POSIX extended "
                 "regular expressions";
        add_item(f, 1, 0);
        len = p[i + 1] ? 2 : 1;
        break;
      case '[':
        add_item(f, 1, 0);
        len = skip_bracket(p + i);
        break;
      case '(':
        if (depth == REGEX_MAX_DEPTH) return "groups nested more than 32 deep";
        stack[++depth] = (regex_frame){0, 0, 0, 0};
        break;
      case ')':
        if (depth > 0) {
          const regex_frame *inner = &stack[depth--];
          add_item(&stack[depth], inner->total ? inner->total : 1,
                   inner->max_height);
        } else {
          add_item(f, 1, 0);
        }
        break;
      case '{':
        len = parse_bound(p + i, &copies);
        if (len == 0) { /* not a bound: regcomp decides */
          len = 1;
          break;
        }
        if (!repeat_last(f, copies)) return stacked_msg;
        break;
      case '+': /* regcomp expands x+ to xx* */
        if (!repeat_last(f, 2)) return stacked_msg;
        break;
      case '*':
      case '?':
        if (!repeat_last(f, 1)) return stacked_msg;
        break;
      case '|':
        f->last = 0;
        f->height = 0;
        break;
      case '^':
      case '$': break;
      default: add_item(f, 1, 0); break;
    }
    i += len;
  }
  size_t total = 0;
  for (size_t d = 0; d <= depth; d++) total = sat_add(total, stack[d].total);
  if (total > REGEX_MAX_SIZE)
    return "too large once its repetitions are expanded (limit 1000 "
           "elements)";
  return NULL;
}

tq_status tq_qmap_key_init(tq_context *ctx, const tq_qmap_origin *origin,
                           const char *text, tq_qmap_key *key) {
  memset(key, 0, sizeof *key);
  size_t len = strlen(text);
  char *copy = malloc(len + 1);
  if (!copy) return tq_error_nomem(ctx);
  memcpy(copy, text, len + 1);
  if (strncmp(text, REGEX_PREFIX, REGEX_PREFIX_LEN) == 0) {
    const char *pattern = text + REGEX_PREFIX_LEN;
    const char *why = regex_unsafe(pattern);
    if (why) {
      free(copy);
      return tq_qmap_key_error(ctx, origin, TQ_ERR_PARSE, text,
                               "regular expression not accepted: %s", why);
    }
    int rc = regcomp(&key->re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char msg[256];
      regerror(rc, &key->re, msg, sizeof msg);
      free(copy);
      if (rc == REG_ESPACE) return tq_error_nomem(ctx);
      return tq_qmap_key_error(
          ctx, origin, TQ_ERR_PARSE, text,
          "invalid regular expression '%.200s': %s (keys starting with "
          "\"re:\" are POSIX extended regular expressions)",
          pattern, msg);
    }
    key->is_regex = 1;
  }
  key->text = copy;
  return TQ_OK;
}

void tq_qmap_key_free(tq_qmap_key *key) {
  if (!key) return;
  if (key->is_regex) regfree(&key->re);
  free(key->text);
  memset(key, 0, sizeof *key);
}

int tq_qmap_key_matches(const tq_qmap_key *key, const char *name) {
  if (key->is_regex) return regexec(&key->re, name, 0, NULL, 0) == 0;
  return strstr(name, key->text) != NULL;
}

/* Optimal string alignment distance, ignoring case; both strings at most
 * MAX_WORD characters. */
enum { MAX_WORD = 64 };

static size_t edit_distance(const char *a, size_t la, const char *b,
                            size_t lb) {
  size_t rows[3][MAX_WORD + 1];
  size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
  for (size_t j = 0; j <= lb; j++) prev[j] = j;
  for (size_t i = 1; i <= la; i++) {
    int ca = tolower((unsigned char)a[i - 1]);
    cur[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      int cb = tolower((unsigned char)b[j - 1]);
      size_t best = prev[j - 1] + (ca != cb);
      if (prev[j] + 1 < best) best = prev[j] + 1;
      if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
      if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best)
        best = prev2[j - 2] + 1;
      cur[j] = best;
    }
    size_t *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[lb];
}

const char *tq_qmap_nearest(const char *word, const char *const *candidates,
                            size_t n, size_t max_distance) {
  size_t lw = strlen(word);
  if (lw > MAX_WORD) return NULL;
  const char *best = NULL;
  size_t best_d = max_distance + 1;
  for (size_t i = 0; i < n; i++) {
    size_t lc = strlen(candidates[i]);
    if (lc > MAX_WORD) continue;
    size_t d = edit_distance(word, lw, candidates[i], lc);
    if (d < best_d) {
      best = candidates[i];
      best_d = d;
    }
  }
  return best;
}
