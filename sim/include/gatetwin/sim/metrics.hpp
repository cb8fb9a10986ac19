#pragma once
// Metrics of a run, in ISO/IEC 19795 vocabulary; every definition is in docs/metrics.md.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gatetwin/sim/privacy.hpp"
#include "gatetwin/sim/scenario.hpp"
#include "gatetwin/sim/world.hpp"

namespace gatetwin::sim {

struct Summary {  // of a sample, in seconds
  std::uint64_t n = 0;
  double mean = 0, p50 = 0, p95 = 0, p99 = 0, max = 0;
};
Summary summarise(std::vector<double> values);  // nearest-rank percentiles

struct Rate {  // a proportion with its counts
  std::uint64_t hits = 0, trials = 0;
  double value() const { return trials ? static_cast<double>(hits) / static_cast<double>(trials) : 0.0; }
};

struct GateMetrics {
  std::string name;
  int lanes = 0;
  std::uint64_t transactions = 0;
  int peak_hour = 0;                       // hour with the most lane transactions started
  double peak_per_lane_per_min = 0;        // transactions in the peak hour / lanes / 60
  double capacity_per_lane_per_min = 0;    // 60 / mean transaction time
  Summary wait_s;
  Summary peak_hour_wait_s;                // passages that arrived in the peak hour
  std::uint32_t max_queue = 0;
  std::uint64_t staff_interventions = 0;
  double staff_interventions_per_hour = 0;
};

struct ExpectationResult {
  std::string name;     // e.g. "far_max"
  double limit = 0;
  double actual = 0;
  bool passed = true;
  std::string message;
};

struct Metrics {
  std::uint64_t passages = 0, granted = 0, denied = 0, tailgated = 0;
  std::uint64_t unfinished = 0;  // still queued a week after day.end: not in any other figure
  std::uint32_t residents = 0, enrolled = 0;
  Rate far;                 // decision level: not-entitled transactions granted by face or card
  Rate frr;                 // decision level: entitled face transactions not accepted by face (FTA included)
  Rate fta;                 // per face attempt
  Rate fmr[3], fnmr[3], fta_by_mask[3];  // algorithm level by true mask state: none, worn, below_nose
  std::uint64_t misidentified = 0;
  Rate fever_sensitivity;   // febrile passages measured that raised an alarm
  Rate fever_false_alarm;   // afebrile passages measured that raised an alarm
  std::uint64_t unauthorised_entries = 0;
  std::vector<std::pair<std::string, std::uint64_t>> unauthorised_by;  // face, card, staff, tailgate, other
  Summary wait_s, transaction_s, staff_wait_s;
  std::uint32_t max_queue = 0;
  double capacity_per_lane_per_min = 0;  // the lowest over gates
  std::uint64_t staff_interventions = 0;
  double staff_interventions_per_hour = 0;  // per gate, over the open hours
  std::uint64_t staff_unavailable = 0;
  std::vector<std::pair<std::string, double>> credential_mix;  // share of passages that got through, by credential
  std::vector<std::pair<std::string, std::uint64_t>> denials_by_reason;
  std::uint64_t mask_reminders = 0;
  std::vector<GateMetrics> gates;
  std::vector<ExpectationResult> expectations;
  Compliance compliance;   // privacy checks and who uses a card instead of face (privacy.hpp)
  bool expectations_met() const;
};

Metrics compute_metrics(const Scenario& scenario, const RunOutput& out);

// The queue effect of the residents who do not use face for a privacy reason: runs the counterfactual
// (counterfactual_of: statistical, same seed, they use face) and, for pixel and HIL runs, this scenario in
// statistical fidelity as well, so that both arms differ only in the privacy choices. Fills
// m.compliance.queue_effect. Without such residents nothing is run and the two arms are this run.
void add_queue_effect(const Scenario& scenario, Metrics& m);
// Figures of one arm; the peak-hour figures at `gate`, or (empty) at the gate with the highest peak-hour P95.
QueueFigures queue_figures(const Metrics& m, const std::string& gate = "");

}  // namespace gatetwin::sim
