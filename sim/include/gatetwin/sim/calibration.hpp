#pragma once
// From pixel mode's measurements to the statistical mode's face model: `gatetwin calibrate` runs a scenario
// with fidelity: pixel, fits the face.* distributions to what the real core did, and writes them as a
// calibration file that a statistical scenario loads with face.calibration.
#include <string>

#include "gatetwin/sim/scenario.hpp"
#include "gatetwin/sim/world.hpp"

namespace gatetwin::sim {

struct Calibration {
  FaceModelSpec face;          // the fitted settings (unmeasured ones keep the scenario's values)
  std::string measured_yaml;   // the `measured:` block: sample sizes, counts, latencies per stage
  std::vector<std::string> notes;  // settings that could not be measured (too few samples) and kept their value
};

// Fits: genuine scores per mask state by their median and 10th percentile (the lower tail decides false
// non-matches); look-alike scores by their median and 90th percentile; the impostor distributions (unmasked,
// masked) so that the best of n comparisons reproduces the observed 1:N maxima; failure to acquire per
// attempt, unmasked and masked; the mask classifier's accuracy.
Calibration fit_calibration(const Scenario& scenario, const RunOutput& pixel_run);

// The calibration file's text (YAML): the face.* settings, then the measured block.
std::string calibration_yaml(const Scenario& scenario, const Calibration& calibration);

}  // namespace gatetwin::sim
