/*
 * check.h - the C tests' one assertion: CHECK(cond, fmt, ...) counts a check, and on failure a
 * failure with the file, line and message on stderr. Each test prints "N checks, M failures" at the
 * end (what test/unit/native-c.test.ts matches).
 */
#ifndef TSN_TEST_CHECK_H
#define TSN_TEST_CHECK_H
#include <stdio.h>

static int failures, checks;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    checks++;                                              \
    if (!(cond)) {                                         \
      failures++;                                          \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
    }                                                      \
  } while (0)

#endif
