#pragma once
// `gatetwin run`'s work on a loaded scenario, shared with `gatetwin replay`.
#include <string>

#include "gatetwin/sim/scenario_loader.hpp"

namespace gatetwin::app {

// Prints every load error with file:line:column; false when there was any.
bool print_load_errors(const sim::LoadResult& r);

struct RunOptions {
  std::string out_dir;  // the run directory (replaced whole on success)
  std::string junit;    // also write JUnit XML here (empty: no)
  bool quiet = false;
};

// Runs the scenario and writes its run directory. Exit status: 0 ok; 1 an expectation failed (or a
// strict HIL run fell behind); 2 bad input (models missing); 3 HIL start-up or I/O error.
int run_scenario(const sim::Scenario& s, const RunOptions& o);

}  // namespace gatetwin::app
