#pragma once
// `gatetwin replay RUN_DIR`: re-runs a recorded run with a changed policy or gatectl and writes the
// decision-difference report (diff.txt, diff.json) beside the new run.
#include <CLI/CLI.hpp>

namespace gatetwin::app {

// Registers `replay`. When it was selected and has run, `*exit_code` holds its exit status (0 ok; 1 the
// replay's expectations failed, or --fail-on-change and a passage changed; 2 bad input; 3 run or I/O error).
void add_replay_commands(CLI::App& app, int* exit_code);

}  // namespace gatetwin::app
