#pragma once
// The world of one run: arrivals, gates, lanes, queues, staff, and the statistical sensor models, all on
// one Simulation. `run_world` is a pure function of the scenario (which includes its seed).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gatetwin/recognizer/policy.hpp"
#include "gatetwin/sim/population.hpp"
#include "gatetwin/sim/scenario.hpp"
#include "gatetwin/sim/time.hpp"

namespace gatetwin::sim {

// One person's passage through a gate: one line of events.jsonl.
struct PassageRecord {
  std::uint64_t passage = 0;      // arrival order; identical across policies for the same scenario and seed
  std::uint32_t person = 0;
  recognizer::Direction direction = recognizer::Direction::entry;
  std::uint16_t gate = 0;
  std::int16_t lane = -1;         // -1: did not use a lane (shared-queue gates record the lane that served)
  SimTime arrived{0};             // joined the queue
  SimTime service_start{0};       // reached the terminal
  SimTime lane_end{0};            // left the terminal
  SimTime decided{0};             // final decision (after a staff check, if any)
  bool tailgated = false;         // walked through behind someone else without a check
  // Ground truth
  bool entitled = false;          // may pass this way today
  recognizer::MaskState mask_truth = recognizer::MaskState::none;
  // What the gate did
  recognizer::Outcome outcome;
  bool passed = false;
  Duration staff_wait{0};
  Duration staff_time{0};
  bool staff_unavailable = false;  // referred, but no staff on duty at this gate
  Duration wait() const { return service_start - arrived; }
  Duration transaction() const { return lane_end - service_start; }
};

// Attempt-level counts for the algorithm metrics (ISO/IEC 19795: FMR, FNMR, FTA).
struct AttemptCounts {
  // Index by true mask state: 0 none, 1 worn, 2 below nose.
  std::uint64_t face_attempts[3] = {};
  std::uint64_t fta[3] = {};
  std::uint64_t genuine[3] = {};        // acquired attempts by an enrolled person
  std::uint64_t genuine_nonmatch[3] = {};
  std::uint64_t impostor[3] = {};       // acquired attempts by a person not enrolled
  std::uint64_t impostor_match[3] = {};
  std::uint64_t misidentified = 0;      // genuine attempt accepted as a different enrolled person
  std::uint64_t card_swipes = 0;
  std::uint64_t card_misreads = 0;
  std::uint64_t temperature_measurements = 0;
};

// The longest queues seen during the minute that starts at `t`.
struct TimelineSample {
  SimTime t;
  std::vector<std::uint32_t> lane_queue;   // per lane, all gates in order (a shared queue is reported on its gate's first lane)
  std::vector<std::uint32_t> staff_queue;  // per gate
};

struct RunOutput {
  std::vector<PassageRecord> passages;   // in order of final decision
  AttemptCounts attempts;
  std::vector<TimelineSample> timeline;  // one row per simulated minute
  std::vector<std::string> lane_names;   // "north/1" ...
  std::vector<std::uint32_t> max_queue;  // per lane column
  std::uint64_t events = 0;
  std::uint32_t residents = 0;
  std::uint32_t enrolled = 0;
  SimTime end_time{0};                   // the last decision
  std::uint64_t unfinished = 0;          // still waiting a week after day.end (a hopelessly overloaded gate)
  std::vector<std::string> person_labels;  // by person id
  std::vector<bool> febrile;               // ground truth by person id
  bool person_febrile(std::uint32_t id) const { return febrile[id]; }
};

// Progress: called about once per simulated hour with (now, day_end).
using ProgressFn = std::function<void(SimTime now, SimTime day_end)>;

RunOutput run_world(const Scenario& scenario, const ProgressFn& progress = {});

}  // namespace gatetwin::sim
