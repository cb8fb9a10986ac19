# Runs one libFuzzer target as a bounded test (cmake -P; called by the fuzz_<name> tests):
#   FUZZER       the fuzzer executable
#   CORPUS       its checked-in seed corpus (read only: never written to)
#   WORK         a directory in the build tree: emptied, filled with a copy of CORPUS, grown by the run
#   RUNS         inputs to run after the corpus, from a fixed seed (the same inputs every time)
#   MAX_SECONDS  a wall-time cap, for slow machines
# Crash inputs are written to WORK/crashes/; the test fails with the fuzzer's report.
foreach(var FUZZER CORPUS WORK RUNS MAX_SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: ${var} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/crashes)
file(GLOB seeds ${CORPUS}/*)
if(NOT seeds)
  message(FATAL_ERROR "no seed corpus in ${CORPUS}")
endif()
file(COPY ${seeds} DESTINATION ${WORK}/corpus)
execute_process(
  COMMAND ${FUZZER} -seed=1 -runs=${RUNS} -max_total_time=${MAX_SECONDS} -timeout=10 -rss_limit_mb=1024
          -print_final_stats=1 -artifact_prefix=${WORK}/crashes/ ${WORK}/corpus
  RESULT_VARIABLE result
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)
# The fuzzer's last lines: the final coverage line and the stats.
string(REGEX MATCHALL "[^\n]*(DONE|stat::)[^\n]*" summary "${out}")
string(REPLACE ";" "\n" summary "${summary}")
message("${summary}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (exit ${result}); crash inputs in ${WORK}/crashes/\n${out}")
endif()
