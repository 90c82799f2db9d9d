// Internal invariant checks. A failed check is a bug in qopt (or in a pass),
// never a property of the input model: bad input is reported with a Status.
#pragma once

#include <cstdio>
#include <cstdlib>

#define QOPT_CHECK(cond, msg)                                                            \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "qopt internal error at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   (msg), #cond);                                                        \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
