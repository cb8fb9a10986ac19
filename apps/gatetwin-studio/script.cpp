#include "script.hpp"

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "gatetwin/sim/report.hpp"

namespace gatetwin::studio_ui {

namespace {

// Command -> (min, max) argument count.
const std::map<std::string, std::pair<int, int>> kCommands = {
    {"open", {1, 1}},   {"set", {2, 2}},  {"set-b", {2, 2}},      {"unset", {1, 1}}, {"ab", {1, 1}},
    {"capacity", {3, 3}}, {"tab", {1, 1}}, {"wait", {0, 1}},     {"screenshot", {1, 1}}, {"save", {1, 1}},
    {"export", {1, 1}}, {"dump", {1, 1}}, {"quit", {0, 0}}, {"live", {0, 0}}, {"pause", {1, 1}},
};

nlohmann::json dump_json(const studio::Snapshot& s) {
  nlohmann::json j;
  j["file"] = s.file;
  j["edits_a"] = s.edits_a;
  j["edits_b"] = s.edits_b;
  j["errors"] = s.errors;
  j["runs_done"] = s.runs_done;
  const auto figures = [](const studio::RunView& r) {
    nlohmann::json f;
    for (const auto& d : studio::key_deltas(r.metrics, r.metrics)) f[d.name] = d.a;
    f["lanes"] = nlohmann::json::array();
    for (const auto& g : r.scenario.gates) f["lanes"].push_back(g.lanes);
    f["timeline_rows"] = r.minute_h.size();
    return f;
  };
  if (s.run_a) j["a"] = figures(*s.run_a);
  if (s.run_b) j["b"] = figures(*s.run_b);
  if (s.passages) j["changed_passages"] = s.passages->changes.size();
  if (s.live) {
    const auto& v = *s.live;
    nlohmann::json lanes = nlohmann::json::array();
    for (const auto& l : v.lanes)
      lanes.push_back({{"name", l.name}, {"frames", l.frames}, {"faces", l.faces.size()}, {"gatectl_boxes", l.gatectl_boxes}});
    j["live"] = {{"fidelity", v.fidelity}, {"running", v.running}, {"error", v.error}, {"decisions", v.decisions},
                 {"gatectl_events", v.gatectl_events}, {"events", v.events.size()}, {"lanes", lanes}};
  }
  if (s.capacity) {
    const auto& c = *s.capacity;
    nlohmann::json cap;
    cap["target_p95_wait_s"] = c.query.target_p95_wait_s;
    cap["curve"] = nlohmann::json::array();
    for (const auto& p : c.curve)
      cap["curve"].push_back({{"lanes", p.lanes}, {"staff", p.staff}, {"peak_p95_wait_s", p.peak_p95_wait_s}, {"unfinished", p.unfinished}});
    cap["smallest"] = c.smallest ? nlohmann::json{{"lanes", c.smallest->lanes}, {"staff", c.smallest->staff},
                                                  {"peak_p95_wait_s", c.smallest->peak_p95_wait_s}}
                                 : nlohmann::json(nullptr);
    j["capacity"] = cap;
  }
  return j;
}

}  // namespace

std::vector<ScriptLine> parse_script(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open the script");
  std::vector<ScriptLine> lines;
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (const auto hash = text.find('#'); hash != std::string::npos) text.erase(hash);
    std::istringstream words(text);
    ScriptLine line{n, {}};
    for (std::string w; words >> w;) line.words.push_back(w);
    if (line.words.empty()) continue;
    const auto it = kCommands.find(line.words[0]);
    if (it == kCommands.end()) throw std::runtime_error(path + ":" + std::to_string(n) + ": unknown command '" + line.words[0] + "'");
    const int args = static_cast<int>(line.words.size()) - 1;
    if (args < it->second.first || args > it->second.second)
      throw std::runtime_error(path + ":" + std::to_string(n) + ": " + line.words[0] + " takes " +
                               std::to_string(it->second.first) +
                               (it->second.first == it->second.second ? "" : "-" + std::to_string(it->second.second)) +
                               " argument(s), got " + std::to_string(args));
    // Numbers are checked here, so a typo stops the script before anything runs.
    const auto number = [&](std::size_t k, bool integer) {
      std::size_t used = 0;
      try {
        if (integer) (void)std::stoi(line.words[k], &used);
        else (void)std::stod(line.words[k], &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != line.words[k].size())
        throw std::runtime_error(path + ":" + std::to_string(n) + ": " + line.words[0] + ": '" + line.words[k] + "' is not " +
                                 (integer ? "an integer" : "a number"));
    };
    if ((line.words[0] == "wait" || line.words[0] == "pause") && args == 1) number(1, false);
    if (line.words[0] == "capacity") {
      number(1, false);
      number(2, true);
      number(3, true);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

bool ScriptRunner::fail(int code, const std::string& message) {
  exit_code_ = code;
  error_ = file_ + ":" + std::to_string(lines_[next_].number) + ": " + message;
  done_ = true;
  return false;
}

bool ScriptRunner::step(double now_s) {
  if (done_) return false;
  if (frames_to_screenshot_ >= 0) return true;  // drawing frames for the pending screenshot
  while (next_ < lines_.size()) {
    const auto& w = lines_[next_].words;
    const std::string& cmd = w[0];
    std::string error;
    if (cmd == "wait") {
      const auto snap = session_.snapshot();
      const bool idle = snap->job == studio::Job::idle && !snap->stale;
      if (wait_until_ < 0) wait_until_ = now_s + (w.size() > 1 ? std::stod(w[1]) : 300.0);
      if (snap->job == studio::Job::idle && !snap->errors.empty()) return fail(2, "wait: " + snap->errors.front());
      if (!idle) {
        if (now_s > wait_until_) return fail(3, "wait: the session was still busy at the timeout");
        return true;  // draw another frame
      }
      wait_until_ = -1;
      if (!snap->errors.empty()) return fail(2, "wait: " + snap->errors.front());
    } else if (cmd == "pause") {  // keep drawing for a while (a screenshot in the middle of a live run)
      if (wait_until_ < 0) wait_until_ = now_s + std::stod(w[1]);
      if (now_s < wait_until_) return true;
      wait_until_ = -1;
    } else if (cmd == "open") {
      if (!session_.open(w[1], &error)) return fail(2, error);
    } else if (cmd == "set" || cmd == "set-b") {
      if (!session_.set(w[1], w[2], cmd == "set-b")) {
        const auto snap = session_.snapshot();
        return fail(2, "set " + w[1] + " " + w[2] + ": " + (snap->errors.empty() ? "no scenario open" : snap->errors.front()));
      }
    } else if (cmd == "unset") {
      session_.unset(w[1]);
    } else if (cmd == "live") {
      if (!session_.run_live(&error)) return fail(2, "live: " + error);
    } else if (cmd == "ab") {
      if (w[1] != "on" && w[1] != "off") return fail(2, "ab: expected on or off, got '" + w[1] + "'");
      session_.enable_b(w[1] == "on");
    } else if (cmd == "capacity") {
      try {
        session_.set_capacity_query({.target_p95_wait_s = std::stod(w[1]), .max_lanes = std::stoi(w[2]), .max_staff = std::stoi(w[3])});
      } catch (const std::exception&) {
        return fail(2, "capacity: expected TARGET_S MAX_LANES MAX_STAFF as numbers");
      }
    } else if (cmd == "tab") {
      bool found = false;
      for (Tab t : {Tab::day, Tab::capacity, Tab::ab, Tab::figures, Tab::live})
        if (w[1] == to_string(t)) {
          window_.select_tab(t);
          found = true;
        }
      if (!found) return fail(2, "tab: no tab '" + w[1] + "' (Day, Capacity, A/B, Figures, Live)");
      ++next_;
      return true;  // let the window switch before anything else
    } else if (cmd == "screenshot") {
      screenshot_ = w[1];
      frames_to_screenshot_ = 3;  // layout settles over a couple of frames
      ++next_;
      return true;
    } else if (cmd == "save") {
      if (!session_.save(w[1], &error)) return fail(2, error);
    } else if (cmd == "export") {
      if (!session_.export_report(w[1], &error)) return fail(2, error);
    } else if (cmd == "dump") {
      try {
        sim::write_file_atomic(w[1], dump_json(*session_.snapshot()).dump(2) + "\n");
      } catch (const std::exception& e) {
        return fail(2, e.what());
      }
    } else if (cmd == "quit") {
      done_ = true;
      return false;
    }
    ++next_;
  }
  done_ = true;
  return false;
}

void ScriptRunner::after_render(const std::function<bool(const std::string&, std::string*)>& save_png) {
  if (frames_to_screenshot_ < 0) return;
  if (frames_to_screenshot_-- > 0) return;
  std::string error;
  if (!save_png(screenshot_, &error)) {
    --next_;  // report against the screenshot's line
    fail(2, "screenshot: " + error);
  }
  frames_to_screenshot_ = -1;
}

}  // namespace gatetwin::studio_ui
