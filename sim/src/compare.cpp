#include "gatetwin/sim/compare.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

namespace gatetwin::sim {
namespace {

struct Line {
  std::string person, arrived, gate, decision, reason, credential, announcement, gatectl;
  bool passed = false;
};

// "face deny not_recognised; card grant card_accepted (R-00012)"
std::string gatectl_summary(const nlohmann::json& heard) {
  std::string s;
  for (const auto& e : heard) {
    if (!s.empty()) s += "; ";
    s += e.value("source", "?") + " " + e.value("decision", "?") + " " + e.value("reason", "?");
    if (e.contains("next")) s += " -> " + e["next"].get<std::string>();
    if (e.contains("person")) s += " (" + (e["person"].is_string() ? e["person"].get<std::string>() : e["person"].dump()) + ")";
  }
  return s;
}

template <typename Fn>
void for_each_json_line(std::istream& in, const std::string& name, Fn fn) {
  std::string text;
  int line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.empty()) continue;
    try {
      fn(nlohmann::json::parse(text));
    } catch (const std::exception& e) {
      throw std::runtime_error(name + ":" + std::to_string(line_no) + ": " + e.what());
    }
  }
}

template <typename Fn>
void for_each_json_line(const std::string& path, Fn fn) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  for_each_json_line(in, path, fn);
}

std::map<std::uint64_t, Line> read_events(std::istream& in, const std::string& name) {
  std::map<std::uint64_t, Line> out;
  for_each_json_line(in, name, [&](const nlohmann::json& j) {
    Line l{j.at("person").get<std::string>(), j.value("arrived", ""), j.value("gate", ""), j.at("decision").get<std::string>(),
           j.at("reason").get<std::string>(), j.value("credential", ""), j.value("announcement", ""),
           j.contains("gatectl") ? gatectl_summary(j["gatectl"]) : std::string()};
    l.passed = l.decision == "grant" || l.reason == "tailgated";
    const auto id = j.at("passage").get<std::uint64_t>();
    if (!out.emplace(id, std::move(l)).second) throw std::runtime_error("passage " + std::to_string(id) + " appears twice");
  });
  return out;
}

std::map<std::uint64_t, Line> read_events(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  return read_events(in, path);
}

RunComparison compare(const std::map<std::uint64_t, Line>& a, const std::map<std::uint64_t, Line>& b) {
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
    c.granted_a += la.passed ? 1 : 0;
    c.granted_b += lb.passed ? 1 : 0;
    if (la.decision != lb.decision || la.reason != lb.reason) {
      ++c.transitions[la.decision + "/" + la.reason + " -> " + lb.decision + "/" + lb.reason];
      c.changes.push_back({id, la.person, la.arrived, la.gate, la.decision, lb.decision, la.reason, lb.reason, la.credential,
                           lb.credential, la.announcement, lb.announcement, la.gatectl, lb.gatectl, la.passed, lb.passed});
    }
  }
  for (const auto& [id, lb] : b) c.only_in_b += a.count(id) ? 0 : 1;
  return c;
}

}  // namespace

RunComparison compare_event_logs(const std::string& events_a, const std::string& events_b) {
  return compare(read_events(events_a), read_events(events_b));
}

RunComparison compare_event_text(const std::string& text_a, const std::string& text_b) {
  std::istringstream a(text_a), b(text_b);
  return compare(read_events(a, "A"), read_events(b, "B"));
}

std::string comparison_text(const RunComparison& c, std::size_t max_listed) {
  std::ostringstream os;
  os << "passages: " << c.passages_a << " vs " << c.passages_b << ", matched " << c.matched << "; granted " << c.granted_a << " -> "
     << c.granted_b << "; changed outcome: " << c.changes.size() << "\n";
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
    os << "  passage " << ch.passage << " " << ch.person;
    if (!ch.arrived.empty()) os << " at " << ch.gate << " " << ch.arrived.substr(0, 8);
    os << ": " << ch.decision_a << "/" << ch.reason_a << " by " << ch.credential_a << " -> " << ch.decision_b << "/" << ch.reason_b << " by "
       << ch.credential_b << "\n";
    if (!ch.gatectl_a.empty() || !ch.gatectl_b.empty()) {
      os << "      gatectl A: " << (ch.gatectl_a.empty() ? "(no access event)" : ch.gatectl_a) << "\n"
         << "      gatectl B: " << (ch.gatectl_b.empty() ? "(no access event)" : ch.gatectl_b) << "\n";
    } else {
      os << "      A: " << ch.announcement_a << "\n      B: " << ch.announcement_b << "\n";
    }
  }
  return os.str();
}

nlohmann::json comparison_json(const RunComparison& c) {
  nlohmann::json t = nlohmann::json::object();
  for (const auto& [k, n] : c.transitions) t[k] = n;
  nlohmann::json ch = nlohmann::json::array();
  for (const auto& x : c.changes) {
    ch.push_back({{"passage", x.passage}, {"person", x.person}, {"arrived", x.arrived}, {"gate", x.gate},
                  {"a", {{"decision", x.decision_a}, {"reason", x.reason_a}, {"credential", x.credential_a}, {"passed", x.passed_a},
                         {"announcement", x.announcement_a}, {"gatectl", x.gatectl_a}}},
                  {"b", {{"decision", x.decision_b}, {"reason", x.reason_b}, {"credential", x.credential_b}, {"passed", x.passed_b},
                         {"announcement", x.announcement_b}, {"gatectl", x.gatectl_b}}}});
  }
  return {{"passages_a", c.passages_a}, {"passages_b", c.passages_b}, {"matched", c.matched},
          {"same_arrivals", c.same_arrivals()}, {"only_in_a", c.only_in_a}, {"only_in_b", c.only_in_b},
          {"person_mismatch", c.person_mismatch}, {"granted_a", c.granted_a}, {"granted_b", c.granted_b},
          {"changed", c.changes.size()}, {"transitions", t}, {"changes", ch}};
}

InputComparison compare_device_io(const std::string& io_a, const std::string& io_b) {
  struct Seen {
    std::set<std::string> frames, cards;
    std::uint64_t modbus = 0;
  };
  auto read = [](const std::string& path) {
    Seen s;
    for_each_json_line(path, [&](const nlohmann::json& j) {
      const std::string dev = j.at("device").get<std::string>();
      const std::string lane = j.at("lane").get<std::string>();
      if (dev == "camera") s.frames.insert(lane + " " + j.at("hash").get<std::string>());
      else if (dev == "reader") s.cards.insert(lane + " " + std::to_string(j.at("bits").get<int>()) + ":" + j.at("value").get<std::string>());
      else ++s.modbus;
    });
    return s;
  };
  const Seen a = read(io_a), b = read(io_b);
  InputComparison c;
  c.frames_a = a.frames.size();
  c.frames_b = b.frames.size();
  c.cards_a = a.cards.size();
  c.cards_b = b.cards.size();
  c.modbus_a = a.modbus;
  c.modbus_b = b.modbus;
  for (const auto& f : a.frames) c.frames_common += b.frames.count(f);
  for (const auto& f : a.cards) c.cards_common += b.cards.count(f);
  return c;
}

}  // namespace gatetwin::sim
