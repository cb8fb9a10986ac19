#include "gatetwin/sim/compare.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace gatetwin::sim {
namespace {

struct Line {
  std::string person, decision, reason, announcement;
};

std::map<std::uint64_t, Line> read_events(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::map<std::uint64_t, Line> out;
  std::string text;
  int line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.empty()) continue;
    try {
      const auto j = nlohmann::json::parse(text);
      Line l{j.at("person").get<std::string>(), j.at("decision").get<std::string>(), j.at("reason").get<std::string>(),
             j.value("announcement", "")};
      if (!out.emplace(j.at("passage").get<std::uint64_t>(), std::move(l)).second) {
        throw std::runtime_error("passage " + std::to_string(j.at("passage").get<std::uint64_t>()) + " appears twice");
      }
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": " + e.what());
    }
  }
  return out;
}

}  // namespace

RunComparison compare_event_logs(const std::string& events_a, const std::string& events_b) {
  const auto a = read_events(events_a);
  const auto b = read_events(events_b);
  RunComparison c;
  c.passages_a = a.size();
  c.passages_b = b.size();
  for (const auto& [id, la] : a) {
    const auto it = b.find(id);
    if (it == b.end()) {
      ++c.only_in_a;
      continue;
    }
    const Line& lb = it->second;
    if (la.person != lb.person) {
      ++c.person_mismatch;
      continue;
    }
    ++c.matched;
    if (la.decision != lb.decision || la.reason != lb.reason) {
      ++c.transitions[la.decision + "/" + la.reason + " -> " + lb.decision + "/" + lb.reason];
      c.changes.push_back({id, la.person, la.decision, lb.decision, la.reason, lb.reason, la.announcement, lb.announcement});
    }
  }
  for (const auto& [id, lb] : b) c.only_in_b += a.count(id) ? 0 : 1;
  return c;
}

std::string comparison_text(const RunComparison& c, std::size_t max_listed) {
  std::ostringstream os;
  os << "passages: " << c.passages_a << " vs " << c.passages_b << ", matched " << c.matched << "; changed outcome: " << c.changes.size()
     << "\n";
  if (!c.same_arrivals()) {
    os << "WARNING: the runs do not share their arrivals (only in A " << c.only_in_a << ", only in B " << c.only_in_b
       << ", different person " << c.person_mismatch << "): compare runs of the same scenario and seed\n";
  }
  for (const auto& [t, n] : c.transitions) os << "  " << n << "  " << t << "\n";
  std::size_t shown = 0;
  for (const auto& ch : c.changes) {
    if (shown++ >= max_listed) {
      os << "  ... " << c.changes.size() - max_listed << " more\n";
      break;
    }
    os << "  passage " << ch.passage << " " << ch.person << ": " << ch.reason_a << " (" << ch.announcement_a << ") -> " << ch.reason_b
       << " (" << ch.announcement_b << ")\n";
  }
  return os.str();
}

}  // namespace gatetwin::sim
