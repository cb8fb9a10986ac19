// A sweep's outputs from its rows: results.csv, summary.json, summary.csv and the capacity plot.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <cmath>
#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "gatetwin/sim/sweep.hpp"

namespace gatetwin::sim {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

// The shortest text that reads back as the same double: identical rows give identical files.
std::string num(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// To a temporary name of this process (two Slurm tasks finishing at once write the same files), synced,
// then renamed over the file: a reader sees the old file or the new one, never part of one.
void write_atomically(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(tmp.string() + ": cannot create: " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error(tmp.string() + ": cannot write: " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  if (::close(fd) != 0 || !synced) {
    ::unlink(tmp.c_str());
    throw std::runtime_error(tmp.string() + ": cannot sync: " + std::strerror(synced ? errno : err));
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(file.string() + ": cannot rename into place: " + std::strerror(e));
  }
}

// A metric's column in a row (names from sweep_metric_names(); the loader accepts no other).
std::size_t metric_index(const std::string& name) {
  const auto& names = sweep_metric_names();
  return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

struct Stat {
  std::size_t n = 0;
  double mean = 0, sd = 0, lo = 0, hi = 0, min = 0, max = 0;
};

Stat stat_of(const std::vector<double>& v) {
  Stat s;
  s.n = v.size();
  if (v.empty()) return s;
  double sum = 0;
  for (const double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  double ss = 0;
  for (const double x : v) ss += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
  const double half = v.size() > 1 ? t95(v.size() - 1) * s.sd / std::sqrt(static_cast<double>(v.size())) : 0.0;
  s.lo = s.mean - half;
  s.hi = s.mean + half;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

Json stat_json(const Stat& s) {
  if (s.n == 0) return nullptr;
  Json j = {{"mean", s.mean}, {"sd", s.sd}};
  j["ci95"] = s.n > 1 ? Json::array({s.lo, s.hi}) : Json(nullptr);
  j["min"] = s.min;
  j["max"] = s.max;
  return j;
}

// One configuration: a block of consecutive jobs that differ only in their seed.
struct Config {
  std::size_t first_job = 0;
  const SweepJob* job = nullptr;
  std::vector<const SweepRow*> ok;
  std::vector<const SweepRow*> failed;
  std::vector<Stat> stats;          // per metric
  std::vector<Stat> gate_p95;       // per gate
  bool feasible = false;
};

std::string scenario_name(const SweepPlan& plan, std::size_t sc) { return plan.spec.scenarios[sc].stem().string(); }

// ---- the capacity plot ---------------------------------------------------------------------------------

struct Panel {
  std::string title;
  CapacityResult result;
};

constexpr std::size_t kMaxPanels = 24;  // a bigger sweep's curves are all in summary.json

cv::Mat plot_capacity(const std::vector<Panel>& all, bool upper) {
  const std::vector<Panel> panels(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), kMaxPanels)));
  const int cols = panels.size() > 1 ? 2 : 1;
  const int rows = static_cast<int>((panels.size() + cols - 1) / cols);
  const int pw = 660, ph = 400;
  cv::Mat img(rows * ph, cols * pw, CV_8UC3, cv::Scalar(255, 255, 255));
  static const cv::Scalar colours[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44}, {40, 39, 214},
                                        {189, 103, 148}, {75, 86, 140}, {194, 119, 227}, {127, 127, 127}};
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const Panel& p = panels[i];
    const CapacityQuery& q = p.result.query;
    const cv::Point origin(static_cast<int>(i % cols) * pw, static_cast<int>(i / cols) * ph);
    const int left = origin.x + 60, right = origin.x + pw - 170, top = origin.y + 46, bottom = origin.y + ph - 50;
    // y: 0 .. about 3 x the target in round steps; overloaded points are drawn at the top edge.
    double step = std::pow(10.0, std::floor(std::log10(3 * q.target_p95_wait_s / 5)));
    for (const double m : {1.0, 2.0, 5.0, 10.0})
      if (3 * q.target_p95_wait_s / (m * step) <= 6) {
        step *= m;
        break;
      }
    const int ticks = static_cast<int>(std::ceil(3 * q.target_p95_wait_s / step));
    const double ymax = ticks * step;
    auto X = [&](double lanes) {
      return q.max_lanes > 1 ? left + static_cast<int>(std::lround((lanes - 1) / (q.max_lanes - 1) * (right - left)))
                             : (left + right) / 2;
    };
    auto Y = [&](double w) { return bottom - static_cast<int>(std::lround(std::min(w, ymax) / ymax * (bottom - top))); };
    cv::putText(img, p.title, {origin.x + 12, origin.y + 18}, font, 0.5, {0, 0, 0}, 1, cv::LINE_AA);
    cv::rectangle(img, {left, top}, {right, bottom}, {160, 160, 160}, 1);
    for (int k = 0; k <= ticks; ++k) {
      const double w = step * k;
      cv::line(img, {left - 4, Y(w)}, {left, Y(w)}, {0, 0, 0}, 1);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", w);
      cv::putText(img, buf, {left - 48, Y(w) + 5}, font, 0.42, {0, 0, 0}, 1, cv::LINE_AA);
    }
    for (int l = 1; l <= q.max_lanes; ++l) {
      cv::line(img, {X(l), bottom}, {X(l), bottom + 4}, {0, 0, 0}, 1);
      cv::putText(img, std::to_string(l), {X(l) - 5, bottom + 20}, font, 0.45, {0, 0, 0}, 1, cv::LINE_AA);
    }
    cv::putText(img, "lanes per gate", {(left + right) / 2 - 55, bottom + 42}, font, 0.45, {0, 0, 0}, 1, cv::LINE_AA);
    cv::putText(img, upper ? "peak-hour P95 wait, s (worst gate, top of the 95% CI over seeds)"
                           : "peak-hour P95 wait, s (worst gate, mean over seeds)",
                {left, top - 6}, font, 0.4, {90, 90, 90}, 1, cv::LINE_AA);
    // The target, dashed.
    for (int x = left; x < right; x += 12) cv::line(img, {x, Y(q.target_p95_wait_s)}, {std::min(x + 6, right), Y(q.target_p95_wait_s)}, {0, 0, 200}, 1);
    char tbuf[48];
    std::snprintf(tbuf, sizeof tbuf, "target %.0f s", q.target_p95_wait_s);
    cv::putText(img, tbuf, {right + 8, Y(q.target_p95_wait_s) + 5}, font, 0.42, {0, 0, 200}, 1, cv::LINE_AA);
    for (int staff = 1; staff <= q.max_staff; ++staff) {
      const cv::Scalar c = colours[(staff - 1) % 8];
      std::optional<cv::Point> prev;
      for (int lanes = 1; lanes <= q.max_lanes; ++lanes) {
        const CapacityPoint* pt = p.result.at(lanes, staff);
        if (!pt) continue;
        const bool over = pt->unfinished > 0 || pt->peak_p95_wait_s > ymax;
        const cv::Point at(X(lanes), over ? top : Y(pt->peak_p95_wait_s));
        if (prev) cv::line(img, *prev, at, c, 2, cv::LINE_AA);
        if (over) cv::drawMarker(img, at, c, cv::MARKER_TRIANGLE_UP, 10, 2);
        else cv::circle(img, at, 4, c, cv::FILLED, cv::LINE_AA);
        prev = at;
      }
      if (staff <= 12) {  // the legend has room for 12 lines
        cv::line(img, {right + 8, top + 30 + 20 * staff}, {right + 28, top + 30 + 20 * staff}, c, 2);
        cv::putText(img, std::to_string(staff) + " staff" + (staff == 12 && q.max_staff > 12 ? " ..." : ""),
                    {right + 34, top + 35 + 20 * staff}, font, 0.42, {0, 0, 0}, 1, cv::LINE_AA);
      }
    }
    if (const auto& s = p.result.smallest) {
      const cv::Point at(X(s->lanes), Y(s->peak_p95_wait_s));
      cv::circle(img, at, 10, {0, 0, 0}, 2, cv::LINE_AA);
      char buf[64];
      std::snprintf(buf, sizeof buf, "answer: %d lane%s, %d staff", s->lanes, s->lanes == 1 ? "" : "s", s->staff);
      cv::putText(img, buf, {right + 8, top + 14}, font, 0.42, {0, 0, 0}, 1, cv::LINE_AA);
    } else {
      cv::putText(img, "none on the grid", {right + 8, top + 14}, font, 0.42, {0, 0, 200}, 1, cv::LINE_AA);
    }
  }
  if (all.size() > panels.size()) {
    const std::string note = "the first " + std::to_string(panels.size()) + " of " + std::to_string(all.size()) +
                             " curves; all are in summary.json";
    cv::putText(img, note, {12, img.rows - 8}, font, 0.45, {0, 0, 200}, 1, cv::LINE_AA);
  }
  return img;
}

}  // namespace

std::size_t write_sweep_outputs(const SweepPlan& plan, const std::map<std::size_t, SweepRow>& rows, const fs::path& dir) {
  const SweepSpec& spec = plan.spec;
  const auto& names = sweep_metric_names();
  const std::size_t objective = metric_index(spec.objective);
  const bool capacity = spec.capacity.has_value();

  // results.csv: one row per job, in job order.
  std::string csv = "job,scenario,variant";
  for (const auto& a : spec.axes) csv += "," + csv_field(a.path);
  if (capacity) csv += ",lanes,staff";
  csv += ",seed,status,attempts";
  for (const auto& n : names) csv += "," + n;
  csv += ",gate_peak_p95_s,error\n";
  std::size_t failed = 0;
  for (const auto& j : plan.jobs) {
    const SweepRow& r = rows.at(j.index);
    csv += std::to_string(j.index) + "," + csv_field(scenario_name(plan, j.scenario)) + "," + csv_field(spec.variants[j.variant].name);
    for (const auto& v : plan.points[j.point]) csv += "," + csv_field(v);
    if (capacity) csv += "," + std::to_string(j.lanes) + "," + std::to_string(j.staff);
    csv += "," + std::to_string(j.seed) + "," + (r.ok ? "ok" : "failed") + "," + std::to_string(r.attempts);
    for (std::size_t m = 0; m < names.size(); ++m) csv += "," + (r.ok ? num(r.metrics[m]) : "");
    std::string gates;
    if (r.ok)
      for (std::size_t g = 0; g < r.gate_peak_p95_s.size() && g < plan.gates[j.scenario].size(); ++g)
        gates += (gates.empty() ? "" : ";") + plan.gates[j.scenario][g] + "=" + num(r.gate_peak_p95_s[g]);
    csv += "," + csv_field(gates) + "," + csv_field(r.ok ? "" : r.error) + "\n";
    failed += r.ok ? 0 : 1;
  }

  // Configurations: blocks of seeds.size() jobs.
  const std::size_t per = spec.seeds.size();
  std::vector<Config> configs;
  for (std::size_t first = 0; first < plan.jobs.size(); first += per) {
    Config c;
    c.first_job = first;
    c.job = &plan.jobs[first];
    for (std::size_t k = first; k < first + per; ++k) {
      const SweepRow& r = rows.at(k);
      (r.ok ? c.ok : c.failed).push_back(&r);
    }
    for (std::size_t m = 0; m < names.size(); ++m) {
      std::vector<double> v;
      for (const auto* r : c.ok) v.push_back(r->metrics[m]);
      c.stats.push_back(stat_of(v));
    }
    for (std::size_t g = 0; g < plan.gates[c.job->scenario].size(); ++g) {
      std::vector<double> v;
      for (const auto* r : c.ok)
        if (g < r->gate_peak_p95_s.size()) v.push_back(r->gate_peak_p95_s[g]);
      c.gate_p95.push_back(stat_of(v));
    }
    c.feasible = !c.ok.empty();
    for (const auto& k : spec.constraints) {
      const std::size_t m = metric_index(k.metric);
      const double mean = c.stats[m].mean;
      if (c.ok.empty() || (k.at_most ? mean > k.limit : mean < k.limit)) c.feasible = false;
    }
    configs.push_back(std::move(c));
  }

  Json summary = {{"sweep", spec.name}, {"file", spec.file.filename().string()}, {"plan", plan.key}};
  summary["scenarios"] = Json::array();
  for (std::size_t sc = 0; sc < spec.scenarios.size(); ++sc)
    summary["scenarios"].push_back({{"name", scenario_name(plan, sc)}, {"file", spec.scenarios[sc].filename().string()},
                                    {"gates", plan.gates[sc]}});
  summary["variants"] = Json::array();
  for (const auto& v : spec.variants) summary["variants"].push_back({{"name", v.name}, {"set", v.sets}});
  summary["vary"] = Json::array();
  for (const auto& a : spec.axes) summary["vary"].push_back({{"path", a.path}, {"values", a.values}});
  summary["seeds"] = spec.seeds;
  summary["objective"] = {{spec.minimise ? "minimise" : "maximise", spec.objective}};
  summary["constraints"] = Json::array();
  for (const auto& k : spec.constraints) summary["constraints"].push_back(k.text());
  summary["jobs"] = {{"total", plan.jobs.size()}, {"ok", plan.jobs.size() - failed}, {"failed", failed},
                     {"retried", std::count_if(rows.begin(), rows.end(), [](const auto& kv) { return kv.second.attempts > 1; })}};
  summary["configurations"] = Json::array();
  std::string scsv = "configuration,scenario,variant";
  for (const auto& a : spec.axes) scsv += "," + csv_field(a.path);
  if (capacity) scsv += ",lanes,staff";
  scsv += ",seeds_ok,seeds_failed,feasible";
  for (const auto& n : names) scsv += "," + n + "_mean," + n + "_ci95_low," + n + "_ci95_high";
  scsv += "\n";
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const Config& c = configs[i];
    Json j = {{"configuration", i}, {"scenario", scenario_name(plan, c.job->scenario)}, {"variant", spec.variants[c.job->variant].name}};
    Json vary = Json::object();
    for (std::size_t a = 0; a < spec.axes.size(); ++a) vary[spec.axes[a].path] = plan.points[c.job->point][a];
    j["vary"] = vary;
    if (capacity) {
      j["lanes"] = c.job->lanes;
      j["staff"] = c.job->staff;
    }
    j["seeds_ok"] = c.ok.size();
    Json failed_seeds = Json::array();
    for (const auto* r : c.failed) failed_seeds.push_back({{"seed", plan.jobs[r->job].seed}, {"job", r->job}, {"error", r->error}});
    j["failed"] = failed_seeds;
    j["objective"] = c.ok.empty() ? Json(nullptr) : Json(c.stats[objective].mean);
    j["feasible"] = c.feasible;
    Json metrics = Json::object();
    for (std::size_t m = 0; m < names.size(); ++m) metrics[names[m]] = stat_json(c.stats[m]);
    j["metrics"] = metrics;
    Json gates = Json::object();
    for (std::size_t g = 0; g < c.gate_p95.size(); ++g) gates[plan.gates[c.job->scenario][g]] = stat_json(c.gate_p95[g]);
    j["gate_peak_p95_s"] = gates;
    summary["configurations"].push_back(std::move(j));

    scsv += std::to_string(i) + "," + csv_field(scenario_name(plan, c.job->scenario)) + "," + csv_field(spec.variants[c.job->variant].name);
    for (std::size_t a = 0; a < spec.axes.size(); ++a) scsv += "," + csv_field(plan.points[c.job->point][a]);
    if (capacity) scsv += "," + std::to_string(c.job->lanes) + "," + std::to_string(c.job->staff);
    scsv += "," + std::to_string(c.ok.size()) + "," + std::to_string(c.failed.size()) + "," + (c.feasible ? "true" : "false");
    for (std::size_t m = 0; m < names.size(); ++m) {
      const Stat& s = c.stats[m];
      scsv += s.n ? "," + num(s.mean) + "," + (s.n > 1 ? num(s.lo) : "") + "," + (s.n > 1 ? num(s.hi) : "") : ",,,";
    }
    scsv += "\n";
  }

  // The best feasible configuration per scenario and variant (ties: the first).
  summary["best"] = Json::array();
  for (std::size_t sc = 0; sc < spec.scenarios.size(); ++sc)
    for (std::size_t v = 0; v < spec.variants.size(); ++v) {
      std::optional<std::size_t> best;
      bool any_ok = false;
      for (const Config& c : configs)
        if (c.job->scenario == sc && c.job->variant == v && !c.ok.empty()) any_ok = true;
      for (std::size_t i = 0; i < configs.size(); ++i) {
        const Config& c = configs[i];
        if (c.job->scenario != sc || c.job->variant != v || !c.feasible) continue;
        const double o = c.stats[objective].mean;
        if (!best || (spec.minimise ? o < configs[*best].stats[objective].mean : o > configs[*best].stats[objective].mean)) best = i;
      }
      summary["best"].push_back({{"scenario", scenario_name(plan, sc)}, {"variant", spec.variants[v].name},
                                 {"configuration", best ? Json(*best) : Json(nullptr)},
                                 {"objective", best ? Json(configs[*best].stats[objective].mean) : Json(nullptr)},
                                 {"why_none", best ? Json(nullptr)
                                              : Json(any_ok ? "no configuration meets the constraints" : "every job failed")}});
    }

  // Capacity: per scenario, variant and grid point, the curve averaged over seeds and its answer.
  std::vector<Panel> panels;
  if (capacity) {
    summary["capacity"] = Json::array();
    const std::size_t peak = metric_index("peak_p95_wait_s"), unfinished = metric_index("unfinished"),
                      wait_mean = metric_index("wait_mean_s");
    const std::size_t grid = static_cast<std::size_t>(spec.capacity->max_lanes * spec.capacity->max_staff);
    for (std::size_t first = 0; first < configs.size(); first += grid) {
      const SweepJob& j0 = *configs[first].job;
      Panel panel;
      CapacityResult& r = panel.result;
      r.query = *spec.capacity;
      r.gates = plan.gates[j0.scenario];
      Json curve = Json::array();
      bool complete = true;
      for (std::size_t i = first; i < first + grid; ++i) {
        const Config& c = configs[i];
        if (c.ok.empty()) {
          complete = false;
          continue;
        }
        CapacityPoint p;
        p.lanes = c.job->lanes;
        p.staff = c.job->staff;
        // The worst gate's peak-hour P95 of each seed, averaged (the figure with a confidence interval); each
        // gate's own average sizes that gate alone.
        // With capacity.meet: ci95_upper the top of the interval stands for the figure (one seed: the mean).
        const auto figure = [&](const Stat& st) { return spec.capacity_upper && st.n > 1 ? st.hi : st.mean; };
        for (const Stat& g : c.gate_p95) p.gate_peak_p95_s.push_back(figure(g));
        p.peak_p95_wait_s = figure(c.stats[peak]);
        p.mean_wait_s = c.stats[wait_mean].mean;
        p.unfinished = static_cast<std::uint64_t>(std::ceil(c.stats[unfinished].max));
        r.curve.push_back(p);
        curve.push_back({{"lanes", p.lanes}, {"staff", p.staff}, {"peak_p95_wait_s", p.peak_p95_wait_s},
                         {"worst_gate_p95_s", stat_json(c.stats[peak])}, {"unfinished_max", p.unfinished},
                         {"configuration", i}});
      }
      choose_capacity(r);
      std::string point;
      for (std::size_t a = 0; a < spec.axes.size(); ++a)
        point += (point.empty() ? "" : ", ") + spec.axes[a].path + "=" + plan.points[j0.point][a];
      Json entry = {{"scenario", scenario_name(plan, j0.scenario)}, {"variant", spec.variants[j0.variant].name}};
      Json vary = Json::object();
      for (std::size_t a = 0; a < spec.axes.size(); ++a) vary[spec.axes[a].path] = plan.points[j0.point][a];
      entry["vary"] = vary;
      entry["target_p95_wait_s"] = r.query.target_p95_wait_s;
      entry["meet"] = spec.capacity_upper ? "ci95_upper" : "mean";
      entry["complete"] = complete;
      if (r.smallest) {
        const Config* at = nullptr;
        for (std::size_t i = first; i < first + grid; ++i)
          if (configs[i].job->lanes == r.smallest->lanes && configs[i].job->staff == r.smallest->staff) at = &configs[i];
        entry["answer"] = {{"lanes", r.smallest->lanes}, {"staff", r.smallest->staff},
                           {"peak_p95_wait_s", r.smallest->peak_p95_wait_s},
                           {"worst_gate_p95_s", at ? stat_json(at->stats[peak]) : Json(nullptr)}};
      } else {
        entry["answer"] = nullptr;
      }
      Json gate_lanes = Json::object();
      for (std::size_t g = 0; g < r.gates.size(); ++g)
        gate_lanes[r.gates[g]] = r.gate_lanes[g] ? Json(*r.gate_lanes[g]) : Json(nullptr);
      entry["gate_lanes"] = gate_lanes;
      // Per compound (its gates are sized alone: a compound's residents use only its gates).
      Json compounds = Json::object();
      for (std::size_t g = 0; g < r.gates.size(); ++g) {
        const std::string c = plan.compounds[j0.scenario][g].empty() ? scenario_name(plan, j0.scenario) : plan.compounds[j0.scenario][g];
        compounds[c][r.gates[g]] = r.gate_lanes[g] ? Json(*r.gate_lanes[g]) : Json(nullptr);
      }
      entry["by_compound"] = compounds;
      entry["curve"] = curve;
      summary["capacity"].push_back(std::move(entry));
      panel.title = scenario_name(plan, j0.scenario) + " / " + spec.variants[j0.variant].name + (point.empty() ? "" : " / " + point) +
                    " (" + std::to_string(spec.seeds.size()) + " seeds)";
      panels.push_back(std::move(panel));
    }
  }

  std::error_code ec;
  fs::create_directories(dir, ec);
  write_atomically(dir / "results.csv", csv);
  write_atomically(dir / "summary.csv", scsv);
  write_atomically(dir / "summary.json", summary.dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
  if (!panels.empty()) {
    std::vector<unsigned char> png;
    if (!cv::imencode(".png", plot_capacity(panels, spec.capacity_upper), png)) throw std::runtime_error("cannot encode the capacity plot");
    write_atomically(dir / "capacity.png", std::string(png.begin(), png.end()));
  }
  return failed;
}

}  // namespace gatetwin::sim
