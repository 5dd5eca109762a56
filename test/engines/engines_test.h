/* What the C programs of test/engines share: the check macros (a failed CHECK is
 * counted and the run goes on; a failed REQUIRE ends it) and the room scenario's
 * entry point (rooms.c), which the smoke test's main runs for `smoke rooms ...`. */
#ifndef ENGINES_TEST_H
#define ENGINES_TEST_H
#include <stdio.h>
#include <stdlib.h>

extern int failures;
#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
      ++failures;                                                         \
    }                                                                     \
  } while (0)
#define REQUIRE(cond)                                                     \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "FATAL %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
      exit(1);                                                            \
    }                                                                     \
  } while (0)

/* rooms <tcp|udp> <manual|auto> <host> <port> <sid> <key> <iv> <mac> (twice: two clients) */
int rooms_main(int argc, char** argv);

#endif
