# The `sanitize` test: a second build tree, ${CMAKE_BINARY_DIR}/asan, configured with GATETWIN_SANITIZE=ON
# (AddressSanitizer + UndefinedBehaviorSanitizer, cmake/GatetwinOptions.cmake) and the same generator,
# compiler and build type as this one; it builds the test executables in GATETWIN_SANITIZE_TESTS and runs
# them, failing on any sanitizer report (leaks included). It runs at test time, after this tree is built.
# Only unit-test executables that need no model files, network or devices belong in the list. Kept lean (the
# cold build is part of every CI run): the scenario loader runs under ASan/UBSan in fuzz_scenario instead of
# through sim_scenario_tests, which would compile all of gatetwin::sim a second time.
# By hand: ctest --test-dir build -L sanitize --output-on-failure (docs/fuzzing.md).
set(GATETWIN_SANITIZE_TESTS devices_tests gallery_tests recognizer_tests recognizer_privacy_tests
    CACHE STRING "Test executables (targets under tests/) the sanitize test builds with ASan/UBSan and runs")
set(GATETWIN_SANITIZE_JOBS 2 CACHE STRING "Parallel compile jobs of the sanitize test's build")

# Not inside a sanitized build (it is one already), and only if the compiler can link a sanitized program
# (GCC needs libasan and libubsan: Debian's gcc-12 brings libasan8 and libubsan1).
if(GATETWIN_SANITIZE OR NOT GATETWIN_SANITIZE_TESTS)
  return()
endif()
include(CheckCXXSourceCompiles)
set(CMAKE_REQUIRED_FLAGS -fsanitize=address,undefined)
set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=address,undefined)
check_cxx_source_compiles("int main() { return 0; }" GATETWIN_HAVE_ASAN_UBSAN)
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_LINK_OPTIONS)
if(NOT GATETWIN_HAVE_ASAN_UBSAN)
  message(STATUS "Sanitize test skipped: ${CMAKE_CXX_COMPILER} cannot link -fsanitize=address,undefined")
  return()
endif()

add_test(NAME sanitize
  COMMAND ${CMAKE_COMMAND}
          -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DBINARY_DIR=${CMAKE_BINARY_DIR}/asan
          "-DGENERATOR=${CMAKE_GENERATOR}" -DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}
          -DCXX_COMPILER=${CMAKE_CXX_COMPILER} -DBUILD_TYPE=${CMAKE_BUILD_TYPE} -DWERROR=${GATETWIN_WERROR}
          "-DTESTS=${GATETWIN_SANITIZE_TESTS}" -DJOBS=${GATETWIN_SANITIZE_JOBS}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/run_sanitize.cmake)
# PROCESSORS: its build uses the cores, so ctest -j2 runs nothing else beside it.
set_tests_properties(sanitize PROPERTIES LABELS sanitize TIMEOUT 1800 PROCESSORS ${GATETWIN_SANITIZE_JOBS})
