#pragma once
// One attempt at the gate from one analysed frame: identification (1:N, or 1:1 for card + face), the
// thermal reading associated with the deciding face, the policy engine's decision, and the access event
// the terminal records, with its announcement. Field names follow the event feeds of real access
// terminals (time, lane, verify mode, person, decision, reason, temperature, abnormal flag, mask).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gatetwin/recognizer/thermal_fusion.hpp"
#include "gatetwin/recognizer/vision/pipeline.hpp"

namespace gatetwin::recognizer::vision {

struct AccessEvent {
  std::int64_t time_us = 0;               // terminal clock
  std::string lane;
  std::string verify_mode;                // face, card, card+face, staff, temperature
  std::optional<std::uint32_t> person;
  Verdict decision = Verdict::pending;    // pending: the attempt needs a next step (see `next`)
  Reason reason = Reason::none;
  Step next = Step::done;                 // what the terminal asks for next when pending
  std::optional<double> temperature_c;    // displayed (compensated) temperature
  bool abnormal_temperature = false;
  MaskState mask = MaskState::none;
  bool mask_reminder = false;
  std::optional<double> score;            // best 1:N (or 1:1) score
  std::string thermal;                    // thermal association status (ok, stale, ambiguous, ...)
  std::string announcement;
};

// The faces of an analysis as the thermal fusion sees them (boxes, inter-ocular distances, forehead).
std::vector<FaceObservation> observations(const FrameAnalysis& analysis);

struct AttemptInput {
  Presentation presentation;
  std::string lane = "lane-1";
  std::size_t top_k = 5;  // best matches kept in the result's identification
  std::int64_t time_us = 0;
  // The thermal association for this frame (from SpotThermalFusion / ArrayThermalFusion), if a sensor is present.
  std::optional<ThermalAssociation> thermal;
  // A card read in this attempt (status and the holder the card number belongs to). When the policy asks
  // for card + face, the frame's face is verified 1:1 against the holder's templates.
  std::optional<CardEvidence> card;
};

struct AttemptResult {
  Identification identification;
  Outcome outcome;
  AccessEvent event;
};

// Runs one attempt: feeds the thermal reading (if the policy asks for it and the association is ok) and
// the face evidence to a GateTransaction built from `policy`, stopping at the first step this frame
// cannot answer (another face capture, a re-measurement, a card, a staff check).
AttemptResult decide_attempt(const Policy& policy, const RightsDirectory& directory, const Gallery& gallery,
                             const FrameAnalysis& analysis, const AttemptInput& input);

// The access event as one JSON object (no newline).
std::string to_json(const AccessEvent& event);

}  // namespace gatetwin::recognizer::vision
