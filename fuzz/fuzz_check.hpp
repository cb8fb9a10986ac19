#pragma once
// A property check for libFuzzer targets: on failure, say which property broke and abort, which libFuzzer
// reports as a crash and saves the input (an assert() would vanish under NDEBUG).
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                   \
  do {                                                                                          \
    if (!(condition)) {                                                                         \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition);   \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)
