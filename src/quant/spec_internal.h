/* Internal: what a kind's entry (kind_*.c) needs from the spec parser and
 * formatter (spec.c): its rows, its positional arguments, its canonical
 * form. */
#ifndef TQ_QUANT_SPEC_INTERNAL_H
#define TQ_QUANT_SPEC_INTERNAL_H

#include <stddef.h>

#include "quant/quant_internal.h"

/* Options a spec name accepts (ste= is accepted by every one). */
enum {
  TQ_OPT_OVERFLOW = 1,
  TQ_OPT_SIGNED = 2,
  TQ_OPT_SEED = 4,
  TQ_OPT_ROUND = 8,
  TQ_OPT_FLOATFLAGS = 16, /* sat, fn, finite, subnormals= */
  TQ_OPT_STE =
      32, /* every spec: the training-time gradient (docs/design.md §3) */
  TQ_OPT_INTMODE = 64,       /* sym, asym, unsigned, narrow */
  TQ_OPT_GROUPS = 128,       /* axis=, group= */
  TQ_OPT_CHANNEL = 256,      /* axis=channel accepted (per-channel scales) */
  TQ_OPT_SCALE = 512,        /* scale= */
  TQ_OPT_SCALE_ROUND = 1024, /* scale_round= */
  TQ_OPT_SCALED = 2048,      /* scaled */
  TQ_OPT_STATIC = 4096       /* static */
};

/* One spec name: what `tq formats` prints, how many positional arguments it
 * takes, which options, and the defaults it gives the parameters. */
typedef struct tq_spec_row {
  tq_format_info info;
  tq_quant_kind kind;
  int min_args, max_args;
  unsigned options;
  tq_round round;
  int exp_bits, man_bits, finite_nan, finite_only; /* named float formats */
  int width; /* element bits of named scaled formats (MXINT8, q8_0) */
  tq_int_mode int_mode; /* llama.cpp: sym (q*_0) or asym (q*_1) */
} tq_spec_row;

/* One comma-separated field of a spec. */
typedef struct tq_spec_token {
  char text[64];
  long column; /* 1-based position in the spec */
  int too_long;
} tq_spec_token;

typedef struct tq_spec_parser tq_spec_parser;

/* A positional integer in [lo, hi] / a finite real; errors name the spec,
 * the field and its position. */
tq_status tq_spec_int(tq_spec_parser *ps, const tq_spec_token *t,
                      const char *what, long lo, long hi, int *out);
tq_status tq_spec_real(tq_spec_parser *ps, const tq_spec_token *t,
                       const char *what, double *out);

/* printf-appends to the canonical spec in buf (truncates at size). */
void tq_spec_append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends the shortest decimal that reads back as v. */
void tq_spec_append_real(char *buf, size_t size, double v);

/* Appends ",seed=N" where the spec fixes the seed. */
void tq_spec_append_seed(const tq_quant_params *p, char *buf, size_t size);

/* Appends ",axis=.." and ",group=G" (unless G is default_group). */
void tq_spec_append_groups(const tq_quant_params *p, int64_t default_group,
                           char *buf, size_t size);

/* Appends ",scale=F" (unless fp32) and ",static". */
void tq_spec_append_scaled_tail(const tq_quant_params *p, char *buf,
                                size_t size);

/* Names of scale formats, MX scale rounding and integer modes. */
const char *tq_scale_format_name(tq_scale_format f);
const char *tq_scale_round_name(tq_scale_round r);
const char *tq_int_mode_name(tq_int_mode m);

#endif
