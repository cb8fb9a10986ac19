#pragma once
// Passage-by-passage comparison of two runs of the same scenario and seed under different policies (or
// gatectl builds). Common random numbers make passage N the same person arriving at the same moment in
// both runs, so a difference in outcome is caused by the change (in a HIL run, also by wall-clock timing:
// see docs/hil.md, "Replay").
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace gatetwin::sim {

struct PassageChange {
  std::uint64_t passage = 0;
  std::string person, arrived, gate;
  std::string decision_a, decision_b, reason_a, reason_b, credential_a, credential_b, announcement_a, announcement_b;
  std::string gatectl_a, gatectl_b;  // HIL runs: gatectl's access events for the passage, "face deny not_recognised; card grant ..."
  bool passed_a = false, passed_b = false;  // the resident went through the door (or through staff)
};

struct RunComparison {
  std::uint64_t passages_a = 0, passages_b = 0, matched = 0;
  std::uint64_t only_in_a = 0, only_in_b = 0, person_mismatch = 0;  // should be 0 when the arrivals match
  std::uint64_t granted_a = 0, granted_b = 0;        // over matched passages
  std::map<std::string, std::uint64_t> transitions;  // "grant/recognised -> deny/fever" -> count
  std::vector<PassageChange> changes;                // every passage whose decision or reason changed
  bool same_arrivals() const { return only_in_a == 0 && only_in_b == 0 && person_mismatch == 0; }
};

// Reads two events.jsonl files. Throws std::runtime_error naming the file and line on malformed input.
RunComparison compare_event_logs(const std::string& events_a, const std::string& events_b);
// The same for two events.jsonl texts in memory (errors name "A" or "B" and the line).
RunComparison compare_event_text(const std::string& text_a, const std::string& text_b);
std::string comparison_text(const RunComparison& c, std::size_t max_listed);
nlohmann::json comparison_json(const RunComparison& c);

// What the devices were shown in two HIL runs (their hil/io.jsonl): the camera frames' hashes and the
// card frames per lane. A replay whose residents saw the same frames tested the change on the same input.
struct InputComparison {
  std::uint64_t frames_a = 0, frames_b = 0, frames_common = 0;  // distinct (lane, frame hash)
  std::uint64_t cards_a = 0, cards_b = 0, cards_common = 0;     // distinct (lane, card frame bits and value)
  std::uint64_t modbus_a = 0, modbus_b = 0;                     // transactions recorded
};
InputComparison compare_device_io(const std::string& io_a, const std::string& io_b);

}  // namespace gatetwin::sim
