#pragma once
// The face side of a terminal, as the world sees it: a capture request in, the core's evidence out.
// Two implementations share this interface and the attempt counting, so their metrics are comparable:
//   statistical: scores sampled from the calibrated distributions of the scenario's face.* settings;
//   pixel: the resident's face is rendered over the frames of the attempt and the real core decides.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gatetwin/recognizer/policy.hpp"
#include "gatetwin/sim/live.hpp"
#include "gatetwin/sim/population.hpp"
#include "gatetwin/sim/random.hpp"
#include "gatetwin/sim/scenario.hpp"
#include "gatetwin/sim/world.hpp"

namespace gatetwin::sim {

// One face capture at a terminal.
struct FaceRequest {
  const Person* person = nullptr;
  recognizer::MaskState truth = recognizer::MaskState::none;  // as worn
  std::uint16_t gate = 0;
  std::int16_t lane = 0;
  std::uint64_t passage = 0;
  std::uint32_t attempt = 0;                                    // 0: the first capture of the passage
  const std::vector<std::uint32_t>* gallery = nullptr;          // enrolled residents the terminal searches
  std::uint16_t compound = 0;
  std::optional<std::uint32_t> behind;                          // a person walking in close behind (tailgating)
};

// Counts one face attempt into the algorithm-level tallies (ISO/IEC 19795). `genuine` is the score against
// the person's own template (enrolled persons; nullopt when they have none, e.g. a failure to enrol, which
// counts as a non-match), `best_other` the best score against anyone else in the gallery.
struct AttemptTally {
  bool acquired = false;
  bool enrolled = false;
  std::optional<double> genuine;
  std::optional<double> best_other;
};
void count_face_attempt(AttemptCounts& counts, recognizer::MaskState truth, const AttemptTally& tally, double threshold);

class FaceSensor {
 public:
  virtual ~FaceSensor() = default;
  // One capture at the terminal: the evidence the policy engine gets. Updates `counts`.
  virtual recognizer::FaceEvidence capture(const FaceRequest& request, RandomStream& rng, AttemptCounts& counts) = 0;
  // Card + face: the 1:1 score of the presenter's face against the card holder's template; nullopt when no
  // face was compared (the holder has no template, or no face was acquired).
  virtual std::optional<double> verify(const FaceRequest& request, std::uint32_t holder, RandomStream& rng) = 0;
  // Called once at the end of the run to add what the sensor measured (pixel mode) to the output.
  virtual void finish(RunOutput& /*out*/) {}
  // Pixel mode shows every analysed frame, with the faces the core found, to a live view.
  virtual void set_live(LiveSink* /*sink*/) {}
};

// The statistical model: scores from the scenario's face.* distributions.
std::unique_ptr<FaceSensor> make_statistical_face_sensor(const Scenario& scenario);
// Pixel fidelity (pixel_sensor.cpp): renders every attempt and runs the real core in-process. Loads the
// models and enrols the population's galleries; throws PixelSetupError naming what is missing.
std::unique_ptr<FaceSensor> make_pixel_face_sensor(const Scenario& scenario, const Population& population);
// The sensor for the scenario's fidelity.
std::unique_ptr<FaceSensor> make_face_sensor(const Scenario& scenario, const Population& population);

}  // namespace gatetwin::sim
