# Configures, builds and runs the sanitized test executables (cmake -P; called by the `sanitize` test):
#   SOURCE_DIR    the repository
#   BINARY_DIR    the sanitized build tree (created on the first run, rebuilt incrementally after)
#   GENERATOR, MAKE_PROGRAM, CXX_COMPILER, BUILD_TYPE, WERROR   the outer build's settings
#   TESTS         test executables (targets under tests/), a ;-list
#   JOBS          parallel compile jobs
# Every executable runs all its tests from SOURCE_DIR (where the test data paths start). A sanitizer
# report (ASan, LSan or UBSan) aborts it; the test fails and prints its output.
foreach(var SOURCE_DIR BINARY_DIR GENERATOR CXX_COMPILER TESTS JOBS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_sanitize.cmake: ${var} is not set")
  endif()
endforeach()

string(TIMESTAMP start "%s")
set(configure ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR} -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DGATETWIN_SANITIZE=ON -DGATETWIN_BUILD_TESTS=ON -DGATETWIN_BUILD_BENCH=OFF)
if(MAKE_PROGRAM)
  list(APPEND configure -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(BUILD_TYPE)
  list(APPEND configure -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
if(WERROR)
  list(APPEND configure -DGATETWIN_WERROR=ON)
endif()
execute_process(COMMAND ${configure} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "configuring the sanitized build failed:\n${out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --parallel ${JOBS} --target ${TESTS}
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "building the sanitized tests failed:\n${out}")
endif()
string(TIMESTAMP built "%s")
math(EXPR seconds "${built} - ${start}")
message("configure + build: ${seconds} s")

# halt/abort on the first report; leaks checked at exit.
set(ENV{ASAN_OPTIONS} "detect_leaks=1:abort_on_error=1")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")
set(failed)
foreach(test IN LISTS TESTS)
  set(exe ${BINARY_DIR}/tests/${test})
  if(NOT EXISTS ${exe})
    message(FATAL_ERROR "${exe} was not built (GATETWIN_SANITIZE_TESTS names targets under tests/)")
  endif()
  string(TIMESTAMP t0 "%s")
  execute_process(COMMAND ${exe} --gtest_brief=1 WORKING_DIRECTORY ${SOURCE_DIR}
                  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(TIMESTAMP t1 "%s")
  math(EXPR seconds "${t1} - ${t0}")
  # A report that did not stop the program (a recoverable check) still fails the test.
  if(NOT result EQUAL 0 OR out MATCHES "ERROR: (Address|Leak)Sanitizer|runtime error:")
    message("${test}: FAILED (exit ${result}, ${seconds} s)\n${out}")
    list(APPEND failed ${test})
  else()
    string(REGEX MATCH "\\[  PASSED  \\][^\n]*" passed "${out}")
    message("${test}: ok, ${passed} (${seconds} s)")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "sanitizer reports or failures in: ${failed}")
endif()
