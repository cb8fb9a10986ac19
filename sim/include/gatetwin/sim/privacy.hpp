#pragma once
// Privacy in the simulation: why a resident does not use their face at the gate (refused enrolment,
// withdrew consent, did not consent again after a purpose change), what the day's privacy events did, and
// the compliance assessment of report.json (docs/metrics.md, "Compliance"): the configuration's checks,
// who uses a card instead of face, and the queue effect against a counterfactual run of the same scenario
// and seed in which those residents use face (common random numbers make the difference passage-exact).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gatetwin/sim/scenario.hpp"
#include "gatetwin/sim/time.hpp"

namespace gatetwin::sim {

// Why a resident who could use face entry does not. `none`: uses face (or was never enrolled, which is not
// a privacy choice).
enum class FaceOff : std::uint8_t { none, refused, withdrawn, no_reconsent };
std::string_view to_string(FaceOff f);

// What one privacy event of the day did.
struct PrivacyEventResult {
  SimTime at{0};
  std::string kind;
  std::string purpose;          // purpose_change
  std::uint32_t eligible = 0;   // residents it could affect
  std::uint32_t affected = 0;   // withdrew / consented again / lost face entry
};

// The privacy side of a run (RunOutput::privacy).
struct PrivacyOutcome {
  std::uint32_t refused = 0, withdrawn = 0, no_reconsent = 0;  // residents, at the end of the day
  std::uint32_t withdrawn_before_day = 0;                      // population.withdrawn_share
  std::vector<PrivacyEventResult> events;
  std::vector<std::string> purposes;                           // in force at the end of the day
  std::vector<SimTime> purpose_changes_without_consent;        // purpose changes with re-consent not asked
};

struct ComplianceCheck {
  std::string id;      // face_not_only_way_in, retention_set, consent_separate, raw_images_not_kept, reconsent_on_purpose_change
  bool passed = true;
  std::string reason;  // one line
};

// Waits of one run, as the queue effect compares them.
struct QueueFigures {
  double wait_s_mean = 0, wait_s_p95 = 0;
  double peak_hour_wait_s_mean = 0, peak_hour_wait_s_p95 = 0;  // at the gate with the highest peak-hour P95
  std::string peak_gate;
  double transaction_s_mean = 0;
  std::uint64_t staff_interventions = 0;
  double card_share = 0;   // of the passages that got through
};

struct QueueEffect {
  std::string basis;       // "this run" or "statistical pair" (pixel and HIL runs)
  bool counterfactual_run = true;  // false: nobody to move to face, the counterfactual is the run itself
  std::uint32_t residents_moved_to_face = 0;
  QueueFigures actual, counterfactual;
};

struct Compliance {
  std::vector<ComplianceCheck> checks;
  int passed = 0, total = 0;
  std::uint32_t not_using_face[3] = {};  // residents: refused, withdrawn, no_reconsent
  std::uint64_t passages_without_face = 0;      // passages by those residents (at the time of the passage)
  std::uint64_t passages_without_face_by_card = 0, passages_without_face_by_staff = 0;
  double card_share = 0;                        // granted passages let through by card
  std::optional<QueueEffect> queue_effect;      // filled by add_queue_effect
};

struct RunOutput;

// The scenario of the counterfactual: the same scenario and seed, statistical, everyone uses face.
Scenario counterfactual_of(const Scenario& s);
// The checks, the counts and the card share of a run (compute_metrics calls it; no queue effect yet).
Compliance assess_compliance(const Scenario& s, const RunOutput& out);

}  // namespace gatetwin::sim
