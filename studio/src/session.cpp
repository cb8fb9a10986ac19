#include "gatetwin/studio/session.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <opencv2/imgproc.hpp>
#include <unistd.h>

#include "gatetwin/sim/report.hpp"
#include "gatetwin/sim/scenario_loader.hpp"

namespace gatetwin::studio {

namespace {

struct Abandoned {};  // an edit outdated the run in progress

std::string read_text(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error) *error = path + ": cannot open: " + std::error_code(errno, std::generic_category()).message();
    return {};
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> overrides_of(const std::map<std::string, std::string>& edits) {
  std::vector<std::string> v;
  for (const auto& [path, value] : edits) v.push_back(path + "=" + value);
  return v;
}

double day_fraction(const sim::Scenario& s, sim::SimTime now) {
  const double span = sim::to_seconds(s.day_end - s.day_start);
  return span > 0 ? std::clamp(sim::to_seconds(now - s.day_start) / span, 0.0, 1.0) : 0.0;
}

// The live view's sink: called from the simulation's thread and, in HIL, the cameras' threads. Keeps the
// view under its own lock and hands a copy to `publish` at most ~15 times a second (and at the end).
class StudioLiveSink final : public sim::LiveSink {
 public:
  using PublishFn = std::function<void(std::shared_ptr<const LiveView>)>;
  StudioLiveSink(const sim::Scenario& s, PublishFn publish) : publish_(std::move(publish)) {
    view_.fidelity = s.fidelity;
    view_.running = true;
    for (const auto& g : s.gates)
      for (int l = 1; l <= g.lanes; ++l) {
        LiveLane lane;
        lane.name = g.name + "/" + std::to_string(l);
        view_.lanes.push_back(std::move(lane));
      }
  }

  void frame(const sim::LiveFrame& f) override {
    if (f.image.empty()) return;
    const double scale = std::min(1.0, 480.0 / f.image.cols);
    cv::Mat small, rgb;
    if (scale < 1.0) cv::resize(f.image, small, cv::Size(), scale, scale, cv::INTER_AREA);
    else small = f.image;
    cv::cvtColor(small, rgb, cv::COLOR_BGR2RGB);
    std::unique_lock lock(mu_);
    LiveLane* lane = find(f.lane);
    if (!lane) return;
    lane->image = rgb;
    lane->scale = static_cast<float>(scale);
    lane->faces.clear();
    for (auto face : f.faces) {
      face.box = cv::Rect2f(face.box.x * lane->scale, face.box.y * lane->scale, face.box.width * lane->scale, face.box.height * lane->scale);
      lane->faces.push_back(face);
    }
    lane->caption = f.caption;
    ++lane->frames;
    if (f.t) {
      view_.sim_time = sim::format_clock(*f.t).substr(0, 8);
      // gatectl's box belongs to the moment of its event: gone once the resident has moved on.
      if (lane->gatectl_box && *f.t - lane->gatectl_box_at > std::chrono::milliseconds(1500)) lane->gatectl_box.reset();
    }
    maybe_publish(lock);
  }

  void event(const sim::LiveEvent& e) override {
    std::unique_lock lock(mu_);
    view_.events.push_back(e);
    if (view_.events.size() > LiveView::kMaxEvents) view_.events.erase(view_.events.begin());
    ++(e.from_gatectl ? view_.gatectl_events : view_.decisions);
    view_.sim_time = sim::format_clock(e.t).substr(0, 8);
    if (LiveLane* lane = find(e.lane); lane && e.from_gatectl) {
      lane->gatectl_said = e.credential + " " + e.decision + " " + e.reason + (e.person.empty() ? "" : " (" + e.person + ")");
      if (e.face_box) {
        const auto& b = *e.face_box;
        lane->gatectl_box = cv::Rect2f(b.x * lane->scale, b.y * lane->scale, b.width * lane->scale, b.height * lane->scale);
        lane->gatectl_box_at = e.t;
        ++lane->gatectl_boxes;
      }
    }
    maybe_publish(lock);
  }

  void door(const std::string& lane_name, bool open, sim::SimTime) override {
    std::unique_lock lock(mu_);
    if (LiveLane* lane = find(lane_name)) lane->door_open = open;
    maybe_publish(lock, true);
  }

  void finish(const std::string& error) {
    std::unique_lock lock(mu_);
    view_.running = false;
    view_.error = error;
    for (auto& lane : view_.lanes) lane.door_open = false;
    maybe_publish(lock, true);
  }

 private:
  LiveLane* find(const std::string& name) {
    for (auto& lane : view_.lanes)
      if (lane.name == name) return &lane;
    return nullptr;
  }
  void maybe_publish(std::unique_lock<std::mutex>& lock, bool now = false) {
    const auto t = std::chrono::steady_clock::now();
    if (!now && t - last_ < std::chrono::milliseconds(66)) return;
    last_ = t;
    auto copy = std::make_shared<const LiveView>(view_);
    lock.unlock();  // the session's lock is taken by publish_: never both at once
    publish_(std::move(copy));
  }

  PublishFn publish_;
  std::mutex mu_;
  LiveView view_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

const char* to_string(Job j) {
  switch (j) {
    case Job::idle: return "idle";
    case Job::run_a: return "running A";
    case Job::run_b: return "running B";
    case Job::capacity: return "sizing capacity";
    case Job::live: return "running live";
  }
  return "?";
}

std::vector<Delta> key_deltas(const sim::Metrics& a, const sim::Metrics& b) {
  const auto pct = [](const sim::Rate& r) { return 100.0 * r.value(); };
  const auto share = [](const sim::Metrics& m, const char* credential) {
    for (const auto& [k, v] : m.credential_mix)
      if (k == credential) return 100.0 * v;
    return 0.0;
  };
  const auto peak_p95 = [](const sim::Metrics& m) {
    double v = 0;
    for (const auto& g : m.gates) v = std::max(v, g.peak_hour_wait_s.p95);
    return v;
  };
  return {
      {"passages", "", static_cast<double>(a.passages), static_cast<double>(b.passages)},
      {"granted", "", static_cast<double>(a.granted), static_cast<double>(b.granted)},
      {"mean wait", "s", a.wait_s.mean, b.wait_s.mean},
      {"P95 wait", "s", a.wait_s.p95, b.wait_s.p95},
      {"peak-hour P95 wait (worst gate)", "s", peak_p95(a), peak_p95(b)},
      {"longest queue", "", static_cast<double>(a.max_queue), static_cast<double>(b.max_queue)},
      {"FAR", "%", pct(a.far), pct(b.far)},
      {"FRR", "%", pct(a.frr), pct(b.frr)},
      {"FTA", "%", pct(a.fta), pct(b.fta)},
      {"fever sensitivity", "%", pct(a.fever_sensitivity), pct(b.fever_sensitivity)},
      {"fever false alarms", "%", pct(a.fever_false_alarm), pct(b.fever_false_alarm)},
      {"staff interventions", "", static_cast<double>(a.staff_interventions), static_cast<double>(b.staff_interventions)},
      {"staff interventions per gate-hour", "/h", a.staff_interventions_per_hour, b.staff_interventions_per_hour},
      {"unauthorised entries", "", static_cast<double>(a.unauthorised_entries), static_cast<double>(b.unauthorised_entries)},
      {"through by face", "%", share(a, "face"), share(b, "face")},
      {"through by card", "%", share(a, "card"), share(b, "card")},
  };
}

RunView make_view(const sim::Scenario& s, sim::RunOutput out, double wall_ms) {
  RunView v;
  v.scenario = s;
  v.metrics = sim::compute_metrics(s, out);
  v.wall_ms = wall_ms;
  v.lane_names = out.lane_names;
  v.lane_queue.assign(out.lane_names.size(), {});
  for (const auto& row : out.timeline) {
    v.minute_h.push_back(static_cast<float>(sim::to_seconds(row.t) / 3600.0));
    for (std::size_t l = 0; l < v.lane_queue.size(); ++l)
      v.lane_queue[l].push_back(l < row.lane_queue.size() ? static_cast<float>(row.lane_queue[l]) : 0.0f);
  }
  double longest = 0;
  for (const auto& p : out.passages)
    if (!p.tailgated) longest = std::max(longest, sim::to_seconds(p.wait()));
  v.wait_bin_s = static_cast<float>(std::max(1.0, std::ceil(longest / 40.0)));
  v.wait_hist.assign(static_cast<std::size_t>(longest / v.wait_bin_s) + 1, 0.0f);
  for (const auto& p : out.passages) {
    const int hour = std::clamp(static_cast<int>(sim::to_seconds(p.decided) / 3600.0), 0, 23);
    v.throughput_per_hour[hour] += 1;
    if (p.outcome.temperature_alarm) v.fever_alarms_per_hour[hour] += 1;
    if (p.outcome.referred_to_staff) v.staff_per_hour[hour] += 1;
    if (p.tailgated) continue;
    const auto bin = static_cast<std::size_t>(sim::to_seconds(p.wait()) / v.wait_bin_s);
    v.wait_hist[std::min(bin, v.wait_hist.size() - 1)] += 1;
  }
  v.output = std::make_shared<const sim::RunOutput>(std::move(out));
  return v;
}

Session::Session() : snap_(std::make_shared<Snapshot>()) { thread_ = std::thread([this] { worker(); }); }

Session::~Session() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    ++generation_;
    live_generation_ = generation_;
  }
  cv_.notify_all();
  thread_.join();
}

std::shared_ptr<const Snapshot> Session::snapshot() const {
  std::lock_guard lock(mu_);
  return snap_;
}

void Session::publish(const std::function<void(Snapshot&)>& change) {
  // Called with mu_ held.
  auto next = std::make_shared<Snapshot>(*snap_);
  change(*next);
  ++next->version;
  snap_ = std::move(next);
}

std::optional<sim::Scenario> Session::resolve(const std::map<std::string, std::string>& edits,
                                              std::vector<std::string>* errors) const {
  auto r = sim::load_scenario_text(text_, file_, overrides_of(edits));
  if (!r.ok()) {
    for (const auto& e : r.errors) errors->push_back(e.str());
    return std::nullopt;
  }
  return r.scenario;
}

bool Session::open(const std::string& path, std::string* error) {
  std::string read_error;
  std::string text = read_text(path, &read_error);
  if (!read_error.empty()) {
    if (error) *error = read_error;
    return false;
  }
  auto r = sim::load_scenario_text(text, path);
  if (!r.ok()) {
    if (error) {
      error->clear();
      for (const auto& e : r.errors) *error += e.str() + "\n";
    }
    return false;
  }
  {
    std::lock_guard lock(mu_);
    text_ = std::move(text);
    file_ = path;
    ++generation_;
    live_generation_ = generation_;
    publish([&](Snapshot& s) {
      const auto version = s.version;
      s = Snapshot{};
      s.version = version;
      s.capacity_query = query_;
      s.file = path;
      s.a = r.scenario;
      if (b_enabled_) s.b = r.scenario;
      s.stale = true;
    });
    work_pending_ = true;
  }
  cv_.notify_all();
  return true;
}

bool Session::apply(bool config_b, const std::map<std::string, std::string>& edits) {
  // Called with mu_ held. B is A's file with A's edits and then B's own.
  std::vector<std::string> errors;
  std::map<std::string, std::string> ea = config_b ? snap_->edits_a : edits;
  std::map<std::string, std::string> eb = config_b ? edits : snap_->edits_b;
  auto a = resolve(ea, &errors);
  std::optional<sim::Scenario> b;
  if (a && b_enabled_) {
    std::map<std::string, std::string> both = ea;
    for (const auto& [k, v] : eb) both[k] = v;
    b = resolve(both, &errors);
  }
  if (!errors.empty()) {
    publish([&](Snapshot& s) { s.errors = errors; });
    return false;
  }
  ++generation_;
  live_generation_ = generation_;
  publish([&](Snapshot& s) {
    s.errors.clear();
    s.edits_a = ea;
    s.edits_b = eb;
    s.a = a;
    s.b = b;
    s.dirty = true;
    s.stale = true;
  });
  work_pending_ = true;
  cv_.notify_all();
  return true;
}

bool Session::set(const std::string& path, const std::string& value, bool config_b) {
  std::lock_guard lock(mu_);
  if (file_.empty()) return false;
  auto edits = config_b ? snap_->edits_b : snap_->edits_a;
  edits[path] = value;
  return apply(config_b, edits);
}

bool Session::unset(const std::string& path, bool config_b) {
  std::lock_guard lock(mu_);
  if (file_.empty()) return false;
  auto edits = config_b ? snap_->edits_b : snap_->edits_a;
  edits.erase(path);
  return apply(config_b, edits);
}

void Session::enable_b(bool on) {
  std::lock_guard lock(mu_);
  if (b_enabled_ == on) return;
  b_enabled_ = on;
  if (file_.empty()) return;
  if (!on) {
    publish([](Snapshot& s) {
      s.b.reset();
      s.run_b.reset();
      s.deltas.clear();
      s.passages.reset();
    });
    return;
  }
  apply(false, snap_->edits_a);
}

void Session::set_capacity_query(const sim::CapacityQuery& q) {
  std::lock_guard lock(mu_);
  query_ = q;
  if (file_.empty()) {
    publish([&](Snapshot& s) { s.capacity_query = q; });
    return;
  }
  ++generation_;
  live_generation_ = generation_;
  publish([&](Snapshot& s) {
    s.capacity_query = q;
    s.stale = true;
  });
  work_pending_ = true;
  cv_.notify_all();
}

bool Session::run_live(std::string* error) {
  std::lock_guard lock(mu_);
  if (!snap_->a) {
    if (error) *error = "no scenario is open";
    return false;
  }
  if (snap_->a->fidelity != "pixel" && snap_->a->fidelity != "hil") {
    if (error) *error = "a live run needs fidelity pixel or hil (this scenario is " + snap_->a->fidelity + ")";
    return false;
  }
  ++generation_;
  live_generation_ = generation_;
  live_pending_ = true;
  work_pending_ = true;
  publish([](Snapshot& s) { s.stale = true; });
  cv_.notify_all();
  return true;
}

bool Session::save(const std::string& path, std::string* error) {
  std::optional<sim::Scenario> a;
  {
    std::lock_guard lock(mu_);
    a = snap_->a;
  }
  if (!a) {
    if (error) *error = "no scenario is open";
    return false;
  }
  const std::string text = sim::to_yaml(*a);
  // Loaded back before it replaces anything: what is saved must validate and give the same scenario.
  auto back = sim::load_scenario_text(text, path);
  if (!back.ok() || sim::to_yaml(*back.scenario) != text) {
    if (error) {
      *error = path + ": the scenario does not round-trip through YAML";
      for (const auto& e : back.errors) *error += "\n" + e.str();
    }
    return false;
  }
  try {
    sim::write_file_atomic(path, text);
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return false;
  }
  std::lock_guard lock(mu_);
  publish([](Snapshot& s) { s.dirty = false; });
  return true;
}

bool Session::export_report(const std::string& dir, std::string* error) {
  std::shared_ptr<const RunView> run;
  {
    std::lock_guard lock(mu_);
    run = snap_->run_a;
  }
  if (!run) {
    if (error) *error = "no results to export yet";
    return false;
  }
  try {
    sim::write_run_directory(dir, run->scenario, run->metrics, *run->output, run->wall_ms / 1000.0);
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return false;
  }
  return true;
}

bool Session::wait_idle(double timeout_s) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return !work_pending_ && !working_; });
}

void Session::run_live_job(const sim::Scenario& a, std::uint64_t gen, const sim::ProgressFn& progress) {
  StudioLiveSink sink(a, [this, gen](std::shared_ptr<const LiveView> view) {
    std::lock_guard lock(mu_);
    if (live_generation_.load() == gen) publish([&](Snapshot& snap) { snap.live = std::move(view); });
  });
  const auto hil_dir = std::filesystem::temp_directory_path() / ("gatetwin-studio-hil-" + std::to_string(::getpid()));
  const auto t0 = std::chrono::steady_clock::now();
  sim::RunOutput out;
  try {
    out = sim::run_world(a, progress, hil_dir, &sink);
  } catch (const Abandoned&) {
    sink.finish("abandoned: the configuration changed");
    std::error_code ec;
    std::filesystem::remove_all(hil_dir, ec);
    throw;
  } catch (const std::exception& e) {
    sink.finish(e.what());
    std::error_code ec;
    std::filesystem::remove_all(hil_dir, ec);
    throw;
  }
  std::error_code ec;
  std::filesystem::remove_all(hil_dir, ec);
  sink.finish("");
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  auto ra = std::make_shared<const RunView>(make_view(a, std::move(out), ms));
  std::lock_guard lock(mu_);
  if (live_generation_.load() != gen) return;
  publish([&](Snapshot& snap) {
    snap.run_a = ra;
    snap.stale = false;
    ++snap.runs_done;
  });
}

void Session::worker() {
  for (;;) {
    std::uint64_t gen = 0;
    bool live = false;
    std::optional<sim::Scenario> a, b;
    sim::CapacityQuery query;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || work_pending_; });
      if (stop_) return;
      work_pending_ = false;
      working_ = true;
      gen = generation_;
      a = snap_->a;
      b = snap_->b;
      query = query_;
      live = live_pending_;
      live_pending_ = false;
    }
    const auto current = [&] { return live_generation_.load() == gen; };
    // Called by the simulation once per simulated hour: progress, and the point where an outdated run stops.
    const auto progress_of = [this, &current](Job job, const sim::Scenario* s) {
      return [this, &current, job, s](sim::SimTime now, sim::SimTime) {
        if (!current()) throw Abandoned{};
        std::lock_guard lock(mu_);
        publish([&](Snapshot& snap) {
          snap.job = job;
          snap.progress = day_fraction(*s, now);
        });
      };
    };
    const auto run = [&](Job job, sim::Scenario s) {
      // The window follows edits within a second only in the statistical model; a pixel or HIL scenario
      // is run as its statistical counterpart (its file keeps its fidelity when saved).
      s.fidelity = "statistical";
      s.faults.clear();
      const auto t0 = std::chrono::steady_clock::now();
      sim::RunOutput out = sim::run_world(s, progress_of(job, &s));
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      return std::make_shared<const RunView>(make_view(s, std::move(out), ms));
    };
    try {
      if (a && live) {
        run_live_job(*a, gen, progress_of(Job::live, &*a));
      } else if (a) {
        auto ra = run(Job::run_a, *a);
        std::shared_ptr<const RunView> rb;
        std::vector<Delta> deltas;
        std::shared_ptr<const sim::RunComparison> passages;
        if (b) {
          rb = run(Job::run_b, *b);
          deltas = key_deltas(ra->metrics, rb->metrics);
          passages = std::make_shared<const sim::RunComparison>(
              sim::compare_event_text(sim::events_jsonl(*a, *ra->output), sim::events_jsonl(*b, *rb->output)));
        }
        {
          std::lock_guard lock(mu_);
          if (!current()) throw Abandoned{};
          publish([&](Snapshot& snap) {
            snap.run_a = ra;
            snap.run_b = rb;
            snap.deltas = deltas;
            snap.passages = passages;
            snap.stale = false;
            snap.runs_done += b ? 2 : 1;
            snap.job = Job::capacity;
            snap.progress = 0;
          });
        }
        auto capacity = std::make_shared<const sim::CapacityResult>(sim::size_capacity(*a, query, [&](int done, int total) {
          if (!current()) return false;
          std::lock_guard lock(mu_);
          publish([&](Snapshot& snap) { snap.progress = static_cast<double>(done) / total; });
          return true;
        }));
        std::lock_guard lock(mu_);
        if (current())
          publish([&](Snapshot& snap) {
            snap.capacity = capacity;
            snap.runs_done += static_cast<std::uint64_t>(capacity->curve.size());
          });
      }
    } catch (const Abandoned&) {
    } catch (const sim::CapacityCancelled&) {
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      if (current()) publish([&](Snapshot& snap) { snap.errors = {std::string("run failed: ") + e.what()}; });
    }
    std::lock_guard lock(mu_);
    working_ = false;
    publish([](Snapshot& snap) {
      snap.job = Job::idle;
      snap.progress = 0;
    });
    cv_.notify_all();
  }
}

}  // namespace gatetwin::studio
