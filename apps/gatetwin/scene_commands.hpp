#pragma once
// gatetwin's commands for gate scenes as the camera sees them: the approach over several frames, neighbours, the thermal view; the contact sheet of sample residents.
#include <CLI/CLI.hpp>

namespace gatetwin::app {

// Registers `scene` and `contact-sheet`. When one of them was selected and has run, `*exit_code` holds its exit status
// (0 ok, 1 a measured goal missed, 2 bad input or model error, 3 I/O error).
void add_scene_commands(CLI::App& app, int* exit_code);

}  // namespace gatetwin::app
