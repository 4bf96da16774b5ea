/* Internal: a growing text buffer for the CSV writers (statistics and
 * result documents). */
#ifndef TQ_ANALYSIS_CSV_H
#define TQ_ANALYSIS_CSV_H

#include <stddef.h>

/* Zero-initialise. Appends after an allocation failure are ignored and
 * oom stays set, so a writer checks once at the end; p is NUL-terminated
 * (or NULL while empty) and the caller frees it. */
typedef struct tq_csv {
  char *p;
  size_t len, cap;
  int oom;
} tq_csv;

void tq_csv_add(tq_csv *b, const char *s, size_t n);
void tq_csv_str(tq_csv *b, const char *s);
/* A field, quoted when it holds a comma, quote or line break (RFC 4180). */
void tq_csv_field(tq_csv *b, const char *s);
/* A field always quoted, quotes doubled. */
void tq_csv_quoted(tq_csv *b, const char *s);

#endif
