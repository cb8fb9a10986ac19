#pragma once
// Passage-by-passage comparison of two runs of the same scenario and seed under different policies.
// Common random numbers make passage N the same person arriving at the same moment in both runs, so
// every difference in outcome is caused by the policy change.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gatetwin::sim {

struct PassageChange {
  std::uint64_t passage = 0;
  std::string person, decision_a, decision_b, reason_a, reason_b, announcement_a, announcement_b;
};

struct RunComparison {
  std::uint64_t passages_a = 0, passages_b = 0, matched = 0;
  std::uint64_t only_in_a = 0, only_in_b = 0, person_mismatch = 0;  // should be 0 when the arrivals match
  std::map<std::string, std::uint64_t> transitions;  // "grant/recognised -> deny/fever" -> count
  std::vector<PassageChange> changes;                // every passage whose decision or reason changed
  bool same_arrivals() const { return only_in_a == 0 && only_in_b == 0 && person_mismatch == 0; }
};

// Reads two events.jsonl files. Throws std::runtime_error naming the file and line on malformed input.
RunComparison compare_event_logs(const std::string& events_a, const std::string& events_b);
std::string comparison_text(const RunComparison& c, std::size_t max_listed);

}  // namespace gatetwin::sim
