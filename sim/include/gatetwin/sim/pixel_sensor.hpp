#pragma once
// Pixel fidelity's set-up errors and defaults (the sensor itself is made by make_pixel_face_sensor in
// face_sensor.hpp), and what pixel and hil fidelity share: the same residents' faces, the same lane as
// pixel.* describes it, the same enrolment photos.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "gatetwin/recognizer/policy.hpp"
#include "gatetwin/recognizer/vision/pipeline.hpp"
#include "gatetwin/sim/gate_scene.hpp"
#include "gatetwin/sim/population.hpp"
#include "gatetwin/sim/scenario.hpp"

namespace gatetwin::sim {

// The models or the mask classifier pixel mode needs are missing or altered; the message says how to fix it.
class PixelSetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The shipped model manifest (models/faceplugin-0.0.1.yaml in the source tree).
std::filesystem::path default_manifest_path();
// The manifest pixel.manifest names (or the shipped one).
std::filesystem::path pixel_manifest_path(const Scenario& s);

// The core's face pipeline with the scenario's models; throws PixelSetupError naming what is missing.
std::unique_ptr<recognizer::vision::FacePipeline> load_pixel_pipeline(const Scenario& s);

// The seed of the residents' faces: pixel and hil runs of one scenario render the same people.
std::uint64_t face_seed(const Scenario& s);
// The gate lane as pixel.* describes it (camera, approach, nuisance), seeded with face_seed(s).
scene::LaneSpec pixel_lane(const Scenario& s);

// The person as the gate sees them: their own face (a look-alike: a near-copy of the resident they pass
// themselves off as), and their usual mask when `truth` says one is worn.
scene::Actor gate_subject(const Scenario& s, const scene::LaneSpec& lane, const Person& p, recognizer::MaskState truth);

// Each resident's enrolment photo (frontal, evenly lit, close, no mask; up to three takes when the core
// refuses one), analysed by `pipeline`; `add` gets every usable embedding. Returns how many were refused.
std::uint64_t enrol_photos(recognizer::vision::FacePipeline& pipeline, const Scenario& s, const std::vector<std::uint32_t>& ids,
                           const std::function<void(std::uint32_t person, const std::vector<float>& embedding)>& add);

}  // namespace gatetwin::sim
