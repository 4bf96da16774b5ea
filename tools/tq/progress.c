/* Progress lines for long commands, and clean interruption (SIGINT). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tq.h"

double tq_cli_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void tq_progress_start(tq_progress *p, int enabled) {
  p->enabled = enabled && tq_cli_stderr_is_tty();
  p->start = tq_cli_now();
  p->last_draw = 0.0;
}

void tq_progress_update(tq_progress *p, const char *label, size_t done,
                        size_t total, const char *extra) {
  if (!p->enabled) return;
  const double now = tq_cli_now();
  /* at most 10 redraws a second, but always the last one */
  if (done < total && now - p->last_draw < 0.1) return;
  p->last_draw = now;
  enum { WIDTH = 24 };
  char bar[WIDTH + 1];
  const size_t filled = total ? done * WIDTH / total : WIDTH;
  for (size_t i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
  bar[WIDTH] = '\0';
  const double el = now - p->start;
  const double eta = done ? el * (double)(total - done) / (double)done : 0.0;
  fprintf(stderr, "\r\033[K%s [%s] %zu/%zu  %s  ETA %.0fs", label, bar, done,
          total, extra ? extra : "", eta);
  fflush(stderr);
}

void tq_progress_end(tq_progress *p) {
  if (!p->enabled) return;
  fprintf(stderr, "\r\033[K");
  fflush(stderr);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

void tq_cli_catch_sigint(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int tq_cli_interrupted(void) {
  return interrupted != 0;
}
