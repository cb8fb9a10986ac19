#pragma once
// Pixel fidelity's set-up errors and defaults (the sensor itself is made by make_pixel_face_sensor in
// face_sensor.hpp).
#include <filesystem>
#include <stdexcept>

namespace gatetwin::sim {

// The models or the mask classifier pixel mode needs are missing or altered; the message says how to fix it.
class PixelSetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The shipped model manifest (models/faceplugin-0.0.1.yaml in the source tree).
std::filesystem::path default_manifest_path();

}  // namespace gatetwin::sim
