/* Screening of "re:" map keys before glibc's regcomp sees them.
 *
 * regcomp has no resource limits, and some short patterns make it take
 * exponential time or huge memory (all measured with glibc 2.36):
 *  - it copies a group once per repetition count and needs memory
 *    quadratic in the result ("(a?){5000}" takes 200 MB);
 *  - it recurses once per nesting level;
 *  - its epsilon closure multiplies through loops over things that can
 *    match the empty string, worse when an anchor or a GNU word-boundary
 *    escape is near: "^" and 20 copies of "(a?)*" take 1.2 s, 20 copies of
 *    "^()+" 7 s, 60 copies of "\ba?" 4 s, "^L" and 70 stars minutes;
 *  - empty groups and branches do the same without any repetition: 60
 *    copies of "(()|^)" take 4 s;
 *  - and so do many anchors: 16 copies of "(^|$)" and 420 of "a?" take
 *    1.3 s, 8 copies 0.2 s;
 *  - stacked repetitions grow the same way ("a*?+" 20 times: 1.8 s).
 * The rules below refuse those shapes, which never occur in real
 * layer-name patterns, and remove the one harmless redundancy people do
 * write: a "?" on something that already matches the empty string (".*?",
 * a Perl habit) changes nothing in what matches, so it is dropped. Real
 * patterns stay far below every limit. */
#include <ctype.h>
#include <string.h>

#include "qmap/qmap_internal.h"

enum {
  REGEX_MAX_LEN = TQ_QMAP_REGEX_MAX_LEN,
  REGEX_MAX_DEPTH = 32,
  REGEX_MAX_SIZE = 1000, /* pattern elements after expanding repetitions */
  REGEX_MAX_STACK = 2,   /* repetitions applying to one item */
  REGEX_MAX_ANCHORS = 8  /* ^ and $ */
};

/* How an item relates to the empty string, as a bit set: EMPTY when it
 * always matches it ("a*", "(a|b*)"), THIN when it may match it, perhaps
 * only at some positions ("^", "(^|a)"). Every EMPTY item is THIN, so a
 * sequence's set is the AND of its items' and an alternation's the OR. */
enum { THIN = 1, EMPTY = 2 | THIN };

/* One group being scanned (the whole pattern is the outermost). */
typedef struct regex_frame {
  size_t total;        /* elements so far, repetitions expanded */
  size_t last;         /* elements of the last item */
  unsigned height;     /* repetitions applying to the last item */
  unsigned max_height; /* largest height of any item in the group */
  int has_operand;     /* a repetition here would apply to the last item */
  int branch_items;    /* the current branch (after any '|') has items */
  int branches;        /* '|' seen in this group */
  unsigned last_null;  /* EMPTY/THIN of the last item */
  unsigned head_null;  /* of all items before the last in this branch */
  unsigned alt_null;   /* of the finished branches (before a '|') */
} regex_frame;

static const regex_frame new_frame = {.head_null = EMPTY, .last_null = EMPTY};

static size_t sat_add(size_t a, size_t b) {
  return a > REGEX_MAX_SIZE || b > REGEX_MAX_SIZE - a ? REGEX_MAX_SIZE + 1
                                                      : a + b;
}

static size_t sat_mul(size_t a, size_t b) {
  if (a == 0 || b == 0) return 0;
  return a > REGEX_MAX_SIZE / b ? REGEX_MAX_SIZE + 1 : a * b;
}

/* EMPTY/THIN of the group scanned so far. */
static unsigned group_null(const regex_frame *f) {
  return f->alt_null | (f->head_null & f->last_null);
}

static void add_item(regex_frame *f, size_t size, unsigned height,
                     unsigned null) {
  f->head_null &= f->last_null;
  f->last_null = null;
  f->total = sat_add(f->total, size);
  f->last = size;
  f->height = height;
  if (height > f->max_height) f->max_height = height;
  f->has_operand = 1;
  f->branch_items = 1;
}

/* Parses "{m}", "{m,}", "{m,n}", "{,n}" or "{,}" (glibc's {0,n}, {0,}) at p;
 * returns the characters consumed (0 if it is not a bound), the number of
 * copies regcomp makes, the minimum count and whether the maximum is exactly 1
 * ("{1}", "{0,1}", "{,1}", "{1,1}": like "?", or no repetition at all). */
static size_t parse_bound(const char *p, size_t *copies, size_t *min,
                          int *max_one) {
  size_t i = 1, m = 0, n = 0;
  int have_m = 0, comma = 0, have_n = 0;
  while (isdigit((unsigned char)p[i])) {
    if (m <= REGEX_MAX_SIZE) m = m * 10 + (size_t)(p[i] - '0');
    have_m = 1;
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
  /* "{,}" is glibc's {0,}; "{}" and other forms are regcomp's errors */
  if (p[i] != '}' || (!have_m && !comma)) return 0;
  *copies = have_n ? (n > m ? n : m) : comma ? m + 1 : m;
  *min = m;
  *max_one = comma ? have_n && n == 1 : m == 1;
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

/* Applies a repetition to the last item of f. optional: its maximum count
 * is 1 ("?", "{0,1}", "{1}"). Sets *drop when it changes nothing ("{1}",
 * or "?" on an item that always matches the empty string) and should not
 * reach regcomp; returns the reason for refusing, or NULL. */
static const char *repeat_last(regex_frame *f, size_t copies, size_t min,
                               int optional, int *drop) {
  *drop = 0;
  if (!f->has_operand) return NULL; /* regcomp reports it */
  if (optional && (min == 1 || f->last_null == EMPTY)) {
    *drop = 1;
    return NULL;
  }
  if (f->last_null)
    return "a repetition applies to something that can already match the "
           "empty string, as in \"(a?)*\", \"a**\" or \"(^|/)?\"; drop the "
           "inner repetition (\"(a)*\", \"a*\")";
  if (++f->height > REGEX_MAX_STACK)
    return "more than 2 repetitions (*, +, ?, {m,n}) apply to one item, "
           "counting those on enclosing groups, as in \"((a+)b)+?\"";
  if (f->height > f->max_height) f->max_height = f->height;
  if (min == 0) f->last_null = EMPTY;
  if (copies >= 2) {
    f->total = sat_add(f->total, sat_mul(f->last, copies - 1));
    f->last = sat_mul(f->last, copies);
  }
  return NULL;
}

static const char empty_msg[] =
    "empty groups and empty alternatives (\"()\", \"(a|)\", \"a||b\") are "
    "undefined in POSIX extended regular expressions; write \"(a)?\" for "
    "\"(a|)\"";

const char *tq_qmap_regex_prepare(const char *pattern, char *out) {
  if (strlen(pattern) > REGEX_MAX_LEN) return "longer than 1000 characters";
  regex_frame stack[REGEX_MAX_DEPTH + 1];
  stack[0] = new_frame;
  size_t depth = 0, o = 0, anchors = 0;
  const char *p = pattern;
  for (size_t i = 0; p[i];) {
    regex_frame *f = &stack[depth];
    size_t copies = 1, min = 1, len = 1;
    int optional = 0, repetition = 0, drop = 0;
    switch (p[i]) {
      case '\\':
        if (p[i + 1] >= '1' && p[i + 1] <= '9')
          return "back-references (\\1 to \\9) are not POSIX extended "
                 "regular expressions";
        if (p[i + 1] && strchr("bB<>`'", p[i + 1]))
          return "word and buffer anchors (\\b \\B \\< \\> \\` \\') are "
                 "GNU extensions, not POSIX extended regular expressions";
        add_item(f, 1, 0, 0);
        len = p[i + 1] ? 2 : 1;
        break;
      case '[':
        add_item(f, 1, 0, 0);
        len = skip_bracket(p + i);
        break;
      case '(':
        if (depth == REGEX_MAX_DEPTH) return "groups nested more than 32 deep";
        stack[++depth] = new_frame;
        break;
      case ')':
        if (depth > 0) {
          if (!f->branch_items) return empty_msg;
          const regex_frame *inner = &stack[depth--];
          add_item(&stack[depth], inner->total ? inner->total : 1,
                   inner->max_height, group_null(inner));
        } else {
          add_item(f, 1, 0, 0);
        }
        break;
      case '^':
      case '$': /* zero-width; a repetition right after one is an error */
        if (++anchors > REGEX_MAX_ANCHORS)
          return "more than 8 anchors (^ and $); write \"^(a|b|c)$\" rather "
                 "than \"^a$|^b$|^c$\"";
        add_item(f, 1, 0, THIN);
        f->has_operand = 0;
        break;
      case '|':
        if (!f->branch_items) return empty_msg;
        f->branches = 1;
        f->branch_items = 0;
        f->alt_null = group_null(f);
        f->head_null = f->last_null = EMPTY;
        f->last = 0;
        f->height = 0;
        f->has_operand = 0;
        break;
      case '{':
        len = parse_bound(p + i, &copies, &min, &optional);
        if (len == 0) { /* not a bound: regcomp decides */
          len = 1;
          break;
        }
        repetition = 1;
        break;
      case '+': /* regcomp expands x+ to xx* */
        copies = 2;
        repetition = 1;
        break;
      case '*': min = 0, repetition = 1; break;
      case '?': min = 0, optional = 1, repetition = 1; break;
      default: add_item(f, 1, 0, 0); break;
    }
    if (repetition) {
      const char *why = repeat_last(f, copies, min, optional, &drop);
      if (why) return why;
    }
    if (!drop) memcpy(out + o, p + i, len), o += len;
    i += len;
  }
  if (depth == 0 && stack[0].branches && !stack[0].branch_items)
    return empty_msg;
  out[o] = '\0';
  size_t total = 0;
  for (size_t d = 0; d <= depth; d++) total = sat_add(total, stack[d].total);
  if (total > REGEX_MAX_SIZE)
    return "too large once its repetitions are expanded (limit 1000 "
           "elements)";
  return NULL;
}
