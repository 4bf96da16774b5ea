#include "core/threads.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int tq_threads_available(void) {
#ifdef _OPENMP
  int n = omp_get_max_threads();
  return n > 0 ? n : 1;
#else
  return 1;
#endif
}
