#include "scene_commands.hpp"

namespace gatetwin::app {

void add_scene_commands(CLI::App& /*app*/, int* /*exit_code*/) {}

}  // namespace gatetwin::app
