#pragma once
// gatetwin's commands for the vision side: render a labelled synthetic face set, train the mask-state
// classifier, and evaluate the real recognition core (FMR/FNMR, DET, EER, FTA, mask accuracy).
#include <CLI/CLI.hpp>

namespace gatetwin::app {

// Registers `faces`, `train-mask` and `eval`. When one of them was selected and has run, `*exit_code` holds its
// exit status (0 ok, 1 a measured goal missed, 2 bad input or model error).
void add_face_commands(CLI::App& app, int* exit_code);

}  // namespace gatetwin::app
