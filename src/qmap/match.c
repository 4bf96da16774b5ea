/* Map keys: substring and regular-expression matching, name suggestions. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "qmap/qmap_internal.h"

#define REGEX_PREFIX "re:"
#define REGEX_PREFIX_LEN 3
/* "=" rather than a "/Conv2/" form: slashes already mean themselves in
 * substring keys ("layer1/"), "=" occurs in no exporter's names. */
#define SEGMENTS_PREFIX '='

tq_status tq_qmap_key_init(tq_context *ctx, const tq_qmap_origin *origin,
                           const char *text, tq_qmap_key *key) {
  memset(key, 0, sizeof *key);
  size_t len = strlen(text);
  char *copy = malloc(len + 1);
  if (!copy) return tq_error_nomem(ctx);
  memcpy(copy, text, len + 1);
  key->body = copy;
  if (text[0] == SEGMENTS_PREFIX) {
    if (!text[1]) {
      free(copy);
      return tq_qmap_key_error(
          ctx, origin, TQ_ERR_PARSE, text,
          "an exact-segment key needs a name after '=' (\"=Conv2\")");
    }
    key->form = TQ_KEY_SEGMENTS;
    key->body = copy + 1;
  }
  if (strncmp(text, REGEX_PREFIX, REGEX_PREFIX_LEN) == 0) {
    const char *pattern = text + REGEX_PREFIX_LEN;
    char prepared[TQ_QMAP_REGEX_MAX_LEN + 1];
    const char *why = tq_qmap_regex_prepare(pattern, prepared);
    if (why) {
      free(copy);
      return tq_qmap_key_error(ctx, origin, TQ_ERR_PARSE, text,
                               "regular expression not accepted: %s", why);
    }
    int rc = regcomp(&key->re, prepared, REG_EXTENDED | REG_NOSUB);
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
    key->form = TQ_KEY_REGEX;
    key->body = copy + REGEX_PREFIX_LEN;
  }
  key->text = copy;
  return TQ_OK;
}

void tq_qmap_key_free(tq_qmap_key *key) {
  if (!key) return;
  if (key->form == TQ_KEY_REGEX) regfree(&key->re);
  free(key->text);
  memset(key, 0, sizeof *key);
}

static int is_segment_separator(char c) {
  return c == '/' || c == '.' || c == ':';
}

static int segments_match(const char *body, const char *name) {
  const size_t len = strlen(body);
  for (const char *at = strstr(name, body); at; at = strstr(at + 1, body)) {
    const int starts = at == name || is_segment_separator(at[-1]);
    const int ends = !at[len] || is_segment_separator(at[len]);
    if (starts && ends) return 1;
  }
  return 0;
}

int tq_qmap_key_matches(const tq_qmap_key *key, const char *name) {
  switch (key->form) {
    case TQ_KEY_REGEX: return regexec(&key->re, name, 0, NULL, 0) == 0;
    case TQ_KEY_SEGMENTS: return segments_match(key->body, name);
    case TQ_KEY_SUBSTRING: break;
  }
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
