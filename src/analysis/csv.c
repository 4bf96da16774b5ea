/* The CSV text buffer (csv.h). */
#include "analysis/csv.h"

#include <stdlib.h>
#include <string.h>

void tq_csv_add(tq_csv *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void tq_csv_str(tq_csv *b, const char *s) {
  tq_csv_add(b, s, strlen(s));
}

void tq_csv_quoted(tq_csv *b, const char *s) {
  tq_csv_add(b, "\"", 1);
  for (const char *c = s; *c; c++) {
    if (*c == '"')
      tq_csv_add(b, "\"\"", 2);
    else
      tq_csv_add(b, c, 1);
  }
  tq_csv_add(b, "\"", 1);
}

void tq_csv_field(tq_csv *b, const char *s) {
  if (strpbrk(s, ",\"\r\n"))
    tq_csv_quoted(b, s);
  else
    tq_csv_str(b, s);
}
