#pragma once
// gatetwin's commands for pixel fidelity's calibration: run the real core on rendered passages and write the statistical mode's calibration file.
#include <CLI/CLI.hpp>

namespace gatetwin::app {

// Registers `calibrate`. When one of them was selected and has run, `*exit_code` holds its exit status
// (0 ok, 1 a measured goal missed, 2 bad input or model error, 3 I/O error).
void add_pixel_commands(CLI::App& app, int* exit_code);

}  // namespace gatetwin::app
