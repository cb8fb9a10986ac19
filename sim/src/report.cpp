#include "gatetwin/sim/report.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "gatetwin/sim/scenario_loader.hpp"

namespace gatetwin::sim {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {
json summary_json(const Summary& s) {
  return json{{"n", s.n}, {"mean", s.mean}, {"p50", s.p50}, {"p95", s.p95}, {"p99", s.p99}, {"max", s.max}};
}
json rate_json(const Rate& r) { return json{{"value", r.value()}, {"hits", r.hits}, {"trials", r.trials}}; }
const char* kMaskNames[3] = {"unmasked", "masked", "below_nose"};

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}
json queue_json(const QueueFigures& q) {
  return json{{"wait_s_mean", q.wait_s_mean},
              {"wait_s_p95", q.wait_s_p95},
              {"peak_hour_wait_s_mean", q.peak_hour_wait_s_mean},
              {"peak_hour_wait_s_p95", q.peak_hour_wait_s_p95},
              {"transaction_s_mean", q.transaction_s_mean},
              {"staff_interventions", q.staff_interventions},
              {"card_share", q.card_share}};
}

json compliance_json(const Metrics& m, const RunOutput& out) {
  const Compliance& c = m.compliance;
  json checks = json::array();
  for (const auto& k : c.checks) checks.push_back({{"id", k.id}, {"passed", k.passed}, {"reason", k.reason}});
  json events = json::array();
  for (const auto& e : out.privacy.events) {
    json j = {{"at", format_clock(e.at).substr(0, 5)}, {"kind", e.kind}};
    if (e.kind == "purpose_change") j["purpose"] = e.purpose;
    j["eligible"] = e.eligible;
    j["affected"] = e.affected;
    events.push_back(std::move(j));
  }
  json j;
  j["score"] = {{"passed", c.passed}, {"total", c.total}};
  j["checks"] = checks;
  j["purposes"] = out.privacy.purposes;
  j["residents_not_using_face"] = {{"refused", c.not_using_face[0]}, {"withdrawn", c.not_using_face[1]},
                                   {"no_reconsent", c.not_using_face[2]}, {"withdrawn_before_day", out.privacy.withdrawn_before_day}};
  j["passages_without_face"] = {{"total", c.passages_without_face}, {"by_card", c.passages_without_face_by_card},
                                {"referred_to_staff", c.passages_without_face_by_staff}};
  j["card_share"] = c.card_share;
  j["events"] = events;
  if (const auto& q = c.queue_effect) {
    json d = {{"wait_s_mean", q->actual.wait_s_mean - q->counterfactual.wait_s_mean},
              {"wait_s_p95", q->actual.wait_s_p95 - q->counterfactual.wait_s_p95},
              {"peak_hour_wait_s_mean", q->actual.peak_hour_wait_s_mean - q->counterfactual.peak_hour_wait_s_mean},
              {"peak_hour_wait_s_p95", q->actual.peak_hour_wait_s_p95 - q->counterfactual.peak_hour_wait_s_p95},
              {"transaction_s_mean", q->actual.transaction_s_mean - q->counterfactual.transaction_s_mean},
              {"staff_interventions", static_cast<std::int64_t>(q->actual.staff_interventions) - static_cast<std::int64_t>(q->counterfactual.staff_interventions)},
              {"card_share", q->actual.card_share - q->counterfactual.card_share}};
    j["queue_effect"] = {{"basis", q->basis},
                         {"fidelity", "statistical"},
                         {"counterfactual", "the same scenario and seed in which the residents who do not use face for a privacy reason use it"},
                         {"counterfactual_run", q->counterfactual_run},
                         {"residents_moved_to_face", q->residents_moved_to_face},
                         {"peak_gate", q->actual.peak_gate},
                         {"actual", queue_json(q->actual)},
                         {"counterfactual_figures", queue_json(q->counterfactual)},
                         {"difference", d}};
  } else {
    j["queue_effect"] = nullptr;
  }
  return j;
}
}  // namespace

std::string report_json(const Scenario& s, const Metrics& m, const RunOutput& out) {
  json j;
  j["scenario"] = s.name;
  j["source"] = s.source_file;
  j["seed"] = s.seed;
  j["fidelity"] = s.fidelity;
  j["day"] = {{"start", format_clock(s.day_start)}, {"end", format_clock(s.day_end)}, {"last_event", format_clock(out.end_time)}};
  j["population"] = {{"residents", m.residents}, {"enrolled", m.enrolled}};
  j["passages"] = {{"total", m.passages}, {"granted", m.granted}, {"denied", m.denied}, {"tailgated", m.tailgated},
                   {"unfinished", m.unfinished}};
  j["decision"] = {{"far", rate_json(m.far)}, {"frr", rate_json(m.frr)}, {"fta", rate_json(m.fta)}};
  json alg;
  for (int k = 0; k < 3; ++k) {
    alg[kMaskNames[k]] = {{"fmr", rate_json(m.fmr[k])}, {"fnmr", rate_json(m.fnmr[k])}, {"fta", rate_json(m.fta_by_mask[k])}};
  }
  alg["misidentified_attempts"] = m.misidentified;
  j["algorithm"] = alg;
  j["fever"] = {{"sensitivity", rate_json(m.fever_sensitivity)}, {"false_alarm_rate", rate_json(m.fever_false_alarm)}};
  json ua = json::object();
  for (const auto& [k, v] : m.unauthorised_by) ua[k] = v;
  j["unauthorised_entries"] = {{"total", m.unauthorised_entries}, {"by", ua}};
  j["wait_s"] = summary_json(m.wait_s);
  j["transaction_s"] = summary_json(m.transaction_s);
  j["queue_length_max"] = m.max_queue;
  j["capacity_per_lane_per_min"] = m.capacity_per_lane_per_min;
  j["staff"] = {{"interventions", m.staff_interventions},
                {"interventions_per_hour_per_gate", m.staff_interventions_per_hour},
                {"wait_s", summary_json(m.staff_wait_s)},
                {"unavailable", m.staff_unavailable}};
  json mix = json::object();
  for (const auto& [k, v] : m.credential_mix) mix[k] = v;
  j["credential_mix"] = mix;
  json den = json::object();
  for (const auto& [k, v] : m.denials_by_reason) den[k] = v;
  j["denials_by_reason"] = den;
  j["mask_reminders"] = m.mask_reminders;
  json gates = json::array();
  for (const auto& g : m.gates) {
    gates.push_back({{"name", g.name},
                     {"lanes", g.lanes},
                     {"transactions", g.transactions},
                     {"peak_hour", g.peak_hour},
                     {"peak_throughput_per_lane_per_min", g.peak_per_lane_per_min},
                     {"capacity_per_lane_per_min", g.capacity_per_lane_per_min},
                     {"wait_s", summary_json(g.wait_s)},
                     {"peak_hour_wait_s", summary_json(g.peak_hour_wait_s)},
                     {"queue_length_max", g.max_queue},
                     {"staff_interventions", g.staff_interventions},
                     {"staff_interventions_per_hour", g.staff_interventions_per_hour}});
  }
  j["gates"] = gates;
  json ex = json::array();
  for (const auto& e : m.expectations) ex.push_back({{"name", e.name}, {"limit", e.limit}, {"actual", e.actual}, {"passed", e.passed}});
  j["expectations"] = ex;
  j["events_executed"] = out.events;
  j["compliance"] = compliance_json(m, out);
  if (out.pixel.active) {  // counts only: wall-clock latencies would break byte-identical reruns (see calibrate)
    const auto& px = out.pixel;
    json conf = json::array();
    for (const auto& row : px.mask_confusion) conf.push_back({row[0], row[1], row[2]});
    json reasons = json::object();
    for (const auto& [reason, n] : px.failure_reasons) reasons[reason] = n;
    j["pixel"] = {{"enrolled", px.enrolled}, {"failed_to_enrol", px.failed_to_enrol}, {"face_attempts", px.attempts},
                  {"frames_rendered", px.frames_rendered}, {"frames_analysed", px.frames_analysed},
                  {"decided_on_other_person", px.decided_on_other}, {"mask_confusion_true_by_classified", conf},
                  {"failures_to_acquire", reasons}};
  }
  if (out.hil.active) {  // wall-clock figures: a HIL run is paced by the wall clock and never byte-identical
    const auto& h = out.hil;
    const auto pct = [](std::vector<double> v, double q) {
      if (v.empty()) return json(nullptr);
      std::sort(v.begin(), v.end());
      return json(v[static_cast<std::size_t>(std::min<double>(static_cast<double>(v.size() - 1), std::floor(q * static_cast<double>(v.size()))))]);
    };
    json events = json::object();
    for (const auto& [k, n] : h.gates.events) events[k] = n;
    j["hil"] = {
        {"speed", h.speed},
        {"startup_s", h.gates.startup_s},
        {"pacing", {{"paced_events", h.pacing.paced_events}, {"late_events", h.pacing.late_events},
                    {"tolerance_s", s.hil.tolerance_s}, {"max_lateness_s", to_seconds(h.pacing.max_lateness)},
                    {"mean_lateness_s", h.pacing.paced_events ? to_seconds(h.pacing.total_lateness) / static_cast<double>(h.pacing.paced_events) : 0.0}}},
        {"gatectl_exit", h.gates.gatectl_exit},
        {"gatectl_events", events},
        {"face_timeouts", h.face_timeouts},
        {"card_timeouts", h.card_timeouts},
        {"stray_opens", h.gates.stray_opens},
        {"unoffered_face_grants", h.unoffered_face_grants},
        {"step_up_to_relay_s", [&] {
           json by_lane = json::object();
           for (std::size_t c = 0; c < out.lane_names.size(); ++c) {
             std::vector<double> v;
             for (std::size_t i = 0; i < h.open_after_s.size(); ++i)
               if (h.open_lane[i] == c) v.push_back(h.open_after_s[i]);
             by_lane[out.lane_names[c]] = {{"n", v.size()}, {"p50", pct(v, 0.5)}, {"p95", pct(v, 0.95)}};
           }
           return json{{"n", h.open_after_s.size()}, {"p50", pct(h.open_after_s, 0.5)}, {"p95", pct(h.open_after_s, 0.95)}, {"by_lane", by_lane}};
         }()},
        {"gatectl_frame_to_relay_ms", {{"n", h.gatectl_door_ms.size()}, {"p50", pct(h.gatectl_door_ms, 0.5)}, {"p95", pct(h.gatectl_door_ms, 0.95)}}},
        {"recorded", {{"modbus_transactions", h.gates.modbus_transactions}, {"card_frames", h.gates.card_frames},
                      {"frame_hashes", h.gates.frames_hashed}, {"frames_rendered", h.gates.frames_rendered}}},
        {"files", "hil/"}};
  }
  return j.dump(2) + "\n";
}

std::string events_jsonl(const Scenario& s, const RunOutput& out) {
  std::string text;
  text.reserve(out.passages.size() * 420);
  for (const auto& r : out.passages) {
    const auto& o = r.outcome;
    json j;
    j["passage"] = r.passage;
    j["arrived"] = format_clock(r.arrived);
    j["decided"] = format_clock(r.decided);
    j["gate"] = s.gates[r.gate].name;
    j["lane"] = r.lane >= 0 ? json(r.lane + 1) : json(nullptr);
    j["person"] = out.person_labels[r.person];
    j["direction"] = to_string(r.direction);
    j["truth"] = {{"entitled", r.entitled}, {"febrile", out.person_febrile(r.person)}, {"mask", to_string(r.mask_truth)}};
    j["credential"] = r.tailgated ? "tailgate" : std::string(to_string(o.credential));
    j["decision"] = r.tailgated ? "none" : std::string(to_string(o.verdict));
    j["reason"] = r.tailgated ? "tailgated" : std::string(to_string(o.reason));
    j["temperature_c"] = o.temperature_c ? json(*o.temperature_c) : json(nullptr);
    j["temperature_alarm"] = o.temperature_alarm;
    j["face_attempts"] = o.face_attempts;
    j["referred_to_staff"] = o.referred_to_staff;
    j["wait_s"] = to_seconds(r.wait());
    j["transaction_s"] = to_seconds(r.transaction());
    j["staff_wait_s"] = to_seconds(r.staff_wait);
    j["announcement"] = o.announcement;
    if (out.hil.active) {  // the terminal's reasons, as gatectl logged them for this passage
      json heard = json::array();
      if (const auto it = out.hil.heard.find(r.passage); it != out.hil.heard.end()) {
        for (const auto& d : it->second) {
          json e = {{"source", d.source}, {"decision", d.decision}, {"reason", d.reason}};
          if (!d.next.empty()) e["next"] = d.next;
          if (d.person) e["person"] = *d.person < out.person_labels.size() ? json(out.person_labels[*d.person]) : json(*d.person);
          if (d.temperature_c) e["temperature_c"] = *d.temperature_c;
          if (!d.door.empty()) e["door"] = d.door;
          heard.push_back(std::move(e));
        }
      }
      j["gatectl"] = std::move(heard);
    }
    text += j.dump();
    text += '\n';
  }
  return text;
}

std::string timeline_csv(const RunOutput& out) {
  std::ostringstream os;
  os << "time";
  for (const auto& n : out.lane_names) os << ",queue:" << n;
  if (!out.timeline.empty()) {
    for (std::size_t g = 0; g < out.timeline.front().staff_queue.size(); ++g) os << ",staff_queue:" << g + 1;
  }
  os << "\n";
  for (const auto& smp : out.timeline) {
    os << format_clock(smp.t).substr(0, 5);
    for (auto q : smp.lane_queue) os << ',' << q;
    for (auto q : smp.staff_queue) os << ',' << q;
    os << "\n";
  }
  return os.str();
}

std::string junit_xml(const Scenario& s, const Metrics& m, double wall_seconds) {
  std::size_t failures = 0;
  for (const auto& e : m.expectations) failures += e.passed ? 0 : 1;
  std::ostringstream os;
  const std::string suite = "gatetwin." + xml_escape(s.name);
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  os << "<testsuites tests=\"" << m.expectations.size() + 1 << "\" failures=\"" << failures << "\">\n";
  os << "  <testsuite name=\"" << suite << "\" tests=\"" << m.expectations.size() + 1 << "\" failures=\"" << failures
     << "\" time=\"" << fixed(wall_seconds, 3) << "\">\n";
  os << "    <testcase classname=\"" << suite << "\" name=\"run_completes\"/>\n";
  for (const auto& e : m.expectations) {
    os << "    <testcase classname=\"" << suite << "\" name=\"" << e.name << "\"";
    if (e.passed) {
      os << "/>\n";
    } else {
      os << ">\n      <failure message=\"" << e.name << ": actual " << e.actual << ", limit " << e.limit << "\"/>\n    </testcase>\n";
    }
  }
  os << "  </testsuite>\n</testsuites>\n";
  return os.str();
}

std::string summary_text(const Scenario& s, const Metrics& m, const RunOutput& out) {
  std::ostringstream os;
  auto pct = [](const Rate& r) { return fixed(100.0 * r.value(), 2) + "% (" + std::to_string(r.hits) + "/" + std::to_string(r.trials) + ")"; };
  os << "GateTwin — " << s.name << " (seed " << s.seed << ", " << s.fidelity << ")\n";
  os << "  residents " << m.residents << ", enrolled " << m.enrolled << "; passages " << m.passages << " (granted " << m.granted
     << ", denied " << m.denied << ", tailgated " << m.tailgated << "); last event " << format_clock(out.end_time) << "\n";
  if (m.unfinished > 0) {
    os << "  WARNING: " << m.unfinished << " people were still queued a week after day.end: the gates cannot carry this load\n";
  }
  os << "  decision FAR " << pct(m.far) << "   FRR " << pct(m.frr) << "   FTA " << pct(m.fta) << "\n";
  os << "  fever sensitivity " << pct(m.fever_sensitivity) << "   false alarms " << pct(m.fever_false_alarm) << "\n";
  os << "  unauthorised entries " << m.unauthorised_entries << "\n";
  os << "  wait s: mean " << fixed(m.wait_s.mean, 1) << "  P50 " << fixed(m.wait_s.p50, 1) << "  P95 " << fixed(m.wait_s.p95, 1)
     << "  P99 " << fixed(m.wait_s.p99, 1) << "  max " << fixed(m.wait_s.max, 1) << "; longest queue " << m.max_queue << "\n";
  os << "  transaction s: mean " << fixed(m.transaction_s.mean, 2) << "  P95 " << fixed(m.transaction_s.p95, 2) << "\n";
  os << "  staff interventions " << m.staff_interventions << " (" << fixed(m.staff_interventions_per_hour, 1) << "/h per gate)\n";
  os << "  credential mix:";
  for (const auto& [k, v] : m.credential_mix) os << " " << k << " " << fixed(100.0 * v, 1) << "%";
  os << "\n  gates:\n";
  for (const auto& g : m.gates) {
    os << "    " << g.name << ": " << g.lanes << " lane(s), peak " << g.peak_hour << ":00 " << fixed(g.peak_per_lane_per_min, 1)
       << "/min/lane, capacity " << fixed(g.capacity_per_lane_per_min, 1) << "/min/lane, peak-hour P95 wait "
       << fixed(g.peak_hour_wait_s.p95, 1) << " s, longest queue " << g.max_queue << "\n";
  }
  if (out.hil.active) {
    const auto& h = out.hil;
    os << "  hil: speed " << fixed(h.speed, 2) << ", gatectl up in " << fixed(h.gates.startup_s, 1) << " s; pacing: "
       << h.pacing.late_events << " of " << h.pacing.paced_events << " events late (> " << fixed(s.hil.tolerance_s, 3)
       << " s), worst " << fixed(to_seconds(h.pacing.max_lateness), 3) << " s; face timeouts " << h.face_timeouts
       << ", card timeouts " << h.card_timeouts << "; recorded " << h.gates.modbus_transactions << " Modbus transactions, "
       << h.gates.card_frames << " card frames, " << h.gates.frames_hashed << " frame hashes\n";
  }
  {
    const Compliance& c = m.compliance;
    os << "  compliance " << c.passed << "/" << c.total << ":";
    for (const auto& k : c.checks)
      if (!k.passed) os << " FAIL " << k.id;
    os << "\n";
    for (const auto& k : c.checks)
      if (!k.passed) os << "    " << k.id << ": " << k.reason << "\n";
    os << "    not using face: refused " << c.not_using_face[0] << ", withdrawn " << c.not_using_face[1] << ", no re-consent "
       << c.not_using_face[2] << "; their passages " << c.passages_without_face << " (card " << c.passages_without_face_by_card
       << ", staff " << c.passages_without_face_by_staff << "); card share " << fixed(100.0 * c.card_share, 1) << "%\n";
    if (const auto& q = c.queue_effect) {
      os << "    queue effect (" << q->basis << ", statistical): peak-hour P95 wait " << fixed(q->actual.peak_hour_wait_s_p95, 1)
         << " s vs " << fixed(q->counterfactual.peak_hour_wait_s_p95, 1) << " s if they used face; mean wait "
         << fixed(q->actual.wait_s_mean, 1) << " vs " << fixed(q->counterfactual.wait_s_mean, 1) << " s; transaction "
         << fixed(q->actual.transaction_s_mean, 2) << " vs " << fixed(q->counterfactual.transaction_s_mean, 2) << " s\n";
    }
  }
  if (!m.expectations.empty()) {
    os << "  expectations:\n";
    for (const auto& e : m.expectations) {
      os << "    " << (e.passed ? "PASS " : "FAIL ") << e.name << ": actual " << e.actual << ", limit " << e.limit << "\n";
    }
  }
  return os.str();
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(tmp + ": cannot create file");
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    f.flush();
    if (!f) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw std::runtime_error(tmp + ": write failed (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw std::runtime_error(path + ": cannot rename into place: " + ec.message());
  }
}

void write_run_directory(const std::string& dir, const Scenario& s, const Metrics& m, const RunOutput& out, double wall_seconds) {
  const fs::path target = fs::absolute(dir).lexically_normal();
  const fs::path parent = target.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw std::runtime_error(parent.string() + ": cannot create directory: " + ec.message());
  const fs::path staging = parent / ("." + target.filename().string() + ".staging." + std::to_string(::getpid()));
  fs::remove_all(staging, ec);
  fs::create_directory(staging, ec);
  if (ec) throw std::runtime_error(staging.string() + ": cannot create directory: " + ec.message());
  try {
    write_file_atomic((staging / "scenario.yaml").string(), to_yaml(s));
    write_file_atomic((staging / "events.jsonl").string(), events_jsonl(s, out));
    write_file_atomic((staging / "timeline.csv").string(), timeline_csv(out));
    write_file_atomic((staging / "junit.xml").string(), junit_xml(s, m, wall_seconds));
    write_file_atomic((staging / "report.json").string(), report_json(s, m, out));
    if (out.hil.active && !out.hil.workdir.empty() && fs::exists(out.hil.workdir)) {
      // gatectl's files and the device I/O log move in as hil/ (copied when on another file system).
      std::error_code mv;
      fs::rename(out.hil.workdir, staging / "hil", mv);
      if (mv) {
        fs::copy(out.hil.workdir, staging / "hil", fs::copy_options::recursive);
        fs::remove_all(out.hil.workdir, mv);
      }
    }
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
  // Swap the finished directory into place; an older run directory is removed only afterwards.
  const fs::path old = parent / ("." + target.filename().string() + ".old." + std::to_string(::getpid()));
  const bool had_old = fs::exists(target);
  if (had_old && (!fs::is_directory(target) || (!fs::is_empty(target) && !fs::exists(target / "report.json")))) {
    // Only an earlier run directory (or an empty one) is ever replaced: `-o ~` must not wipe a home.
    fs::remove_all(staging, ec);
    throw std::runtime_error(target.string() + ": exists and is not a GateTwin run directory (no report.json); refusing to replace it");
  }
  if (had_old) {
    fs::rename(target, old, ec);
    if (ec) {
      fs::remove_all(staging);
      throw std::runtime_error(target.string() + ": cannot replace the existing run directory: " + ec.message());
    }
  }
  fs::rename(staging, target, ec);
  if (ec) {
    if (had_old) fs::rename(old, target);
    fs::remove_all(staging);
    throw std::runtime_error(target.string() + ": cannot move the run directory into place: " + ec.message());
  }
  if (had_old) fs::remove_all(old, ec);
}

}  // namespace gatetwin::sim
