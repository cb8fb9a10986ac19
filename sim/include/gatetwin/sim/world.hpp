#pragma once
// The world of one run: arrivals, gates, lanes, queues, staff, and the statistical sensor models, all on
// one Simulation. `run_world` is a pure function of the scenario (which includes its seed).
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gatetwin/recognizer/policy.hpp"
#include "gatetwin/sim/hil_gates.hpp"
#include "gatetwin/sim/live.hpp"
#include "gatetwin/sim/pacing.hpp"
#include "gatetwin/sim/population.hpp"
#include "gatetwin/sim/privacy.hpp"
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
  FaceOff face_off = FaceOff::none;  // a resident who did not use face for a privacy reason (at the terminal)
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

// What pixel mode measured with the real core (empty in statistical runs): the raw material of
// `gatetwin calibrate`. Indexed by true mask state (0 none, 1 worn, 2 below nose) where an array.
struct PixelMeasurements {
  static constexpr int kBins = 400;                 // score histograms over [-1, 1), 0.005 wide
  bool active = false;
  std::uint64_t enrolled = 0, failed_to_enrol = 0;  // enrolment photos turned into templates / refused by the core
  std::uint64_t attempts = 0, frames_rendered = 0, frames_analysed = 0;
  std::uint64_t decided_on_other = 0;               // attempts the core decided on someone other than the subject
  std::array<std::array<std::uint64_t, kBins>, 3> impostor_hist{};  // every other gallery template, per acquired attempt
  std::array<double, 3> impostor_sum{};
  std::array<std::uint64_t, 3> impostor_n{};
  // Per acquired attempt: the best impostor score and over how many gallery persons it was the best (the
  // 1:N maximum the statistical model draws with max_of_normals).
  struct BestImpostor {
    double score;
    std::uint32_t compared;    // impostor comparisons it is the best of
    std::uint32_t person;      // the probe's person
  };
  std::array<std::vector<BestImpostor>, 3> best_impostor;
  std::vector<double> lookalike;                    // look-alikes against the resident they resemble
  // Every face attempt of an enrolled resident: the genuine scores by mask state, and the between-person share of the variation (a resident
  // whose face the core finds hard fails again on the retry: Doddington's "goats").
  struct GenuineAttempt {
    std::uint32_t person;
    std::uint8_t truth;        // mask state index
    std::uint8_t attempt;      // 0: the approach; 1+: retries standing at the terminal
    bool acquired;
    double score;              // against their own template; NaN when not acquired or not in the gallery
  };
  std::vector<GenuineAttempt> genuine_attempts;
  std::array<std::array<std::uint64_t, 3>, 3> mask_confusion{};  // [true][classified], acquired attempts
  std::vector<std::pair<std::string, std::uint64_t>> failure_reasons;  // attempts that acquired no face, by the last frame's reason
  // Milliseconds summed over analysed frames, per stage: detect, landmarks, align, quality, mask, embed, total.
  std::array<double, 7> stage_ms_sum{};
  std::uint64_t attempt_frames = 0;                 // frames analysed by capture attempts (not card checks)
  double attempt_core_ms = 0;                       // core time over those frames
  double render_ms_sum = 0;
  static constexpr const char* kStages[7] = {"detect", "landmarks", "align", "quality", "mask", "embed", "total"};
};

// What a hardware-in-the-loop run measured about itself (empty in the other fidelities).
struct HilMeasurements {
  bool active = false;
  double speed = 1.0;
  PacingStats pacing;                    // how far behind the wall clock events started
  HilStats gates;                        // gatectl, devices, recorded I/O
  std::filesystem::path workdir;         // gatectl's files and the I/O log; the run directory keeps it as hil/
  std::uint64_t face_timeouts = 0;       // residents who waited hil.face_timeout at the terminal in vain
  std::uint64_t card_timeouts = 0;
  std::uint64_t unoffered_face_grants = 0;  // residents without a template let in by face as someone else
  std::vector<double> open_after_s;      // per opened passage: simulated s from stepping up to the relay
  std::vector<std::uint32_t> open_lane;  // ... and its lane (timeline column)
  std::vector<double> gatectl_door_ms;   // gatectl's own frame (or swipe) to relay-reply times
  std::map<std::uint64_t, std::vector<GateDecision>> heard;  // per passage id: gatectl's access events, in order
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
  PixelMeasurements pixel;                 // fidelity: pixel only
  HilMeasurements hil;                     // fidelity: hil only
  PrivacyOutcome privacy;                  // who does not use face and why; the day's privacy events
  bool person_febrile(std::uint32_t id) const { return febrile[id]; }
};

// Progress: called about once per simulated hour with (now, day_end).
using ProgressFn = std::function<void(SimTime now, SimTime day_end)>;

RunOutput run_world(const Scenario& scenario, const ProgressFn& progress = {});
// fidelity hil keeps gatectl's files and the device I/O log in `hil_workdir` (created; a temporary
// directory when empty). Throws HilSetupError when HIL cannot start, PacingError when hil.strict is set
// and the run fell behind the wall clock.
RunOutput run_world(const Scenario& scenario, const ProgressFn& progress, const std::filesystem::path& hil_workdir);
// With a live view: decisions, pixel mode's analysed frames, HIL's camera frames, door and gatectl events go
// to `live` as they happen, and `progress` is called every simulated minute (not hour).
RunOutput run_world(const Scenario& scenario, const ProgressFn& progress, const std::filesystem::path& hil_workdir, LiveSink* live);

}  // namespace gatetwin::sim
