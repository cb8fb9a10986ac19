#include "pixel_commands.hpp"

namespace gatetwin::app {

void add_pixel_commands(CLI::App& /*app*/, int* /*exit_code*/) {}

}  // namespace gatetwin::app
