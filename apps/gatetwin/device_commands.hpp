#pragma once
// `gatetwin devices SCENARIO`: serves the emulated hardware of every lane on loopback and prints the URLs.
#include <CLI/CLI.hpp>

namespace gatetwin::app {

// Registers `devices`. When it ran, `*exit_code` holds its status (0 ok, 2 bad input, 3 a port could not be bound).
void add_device_commands(CLI::App& app, int* exit_code);

}  // namespace gatetwin::app
