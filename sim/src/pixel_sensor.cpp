// Pixel fidelity: (being written)
#include <stdexcept>
#include "gatetwin/sim/face_sensor.hpp"
namespace gatetwin::sim {
std::unique_ptr<FaceSensor> make_pixel_face_sensor(const Scenario&, const Population&) { throw std::runtime_error("pixel fidelity: not yet"); }
}
