#pragma once
// gatetwin-studio's model: the planner's session over the simulation library, with no GUI in it (the
// window in apps/gatetwin-studio draws from snapshots and sends commands; a test drives it headless).
//
// A session holds an opened scenario file and the planner's edits to it as "path=value" overrides (the
// same paths as `gatetwin run --set`), for configuration A and, for an A/B comparison, configuration B
// (A plus its own edits). Every command returns at once; one worker thread re-runs what an edit made
// stale, newest edit first: a run in progress that an edit outdates is abandoned at the next simulated
// hour. Results are published as immutable snapshots.
#include <atomic>
#include <array>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>

#include "gatetwin/sim/capacity.hpp"
#include "gatetwin/sim/compare.hpp"
#include "gatetwin/sim/live.hpp"
#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/scenario.hpp"
#include "gatetwin/sim/world.hpp"

namespace gatetwin::studio {

// One configuration's run, ready to draw.
struct RunView {
  sim::Scenario scenario;
  sim::Metrics metrics;
  std::shared_ptr<const sim::RunOutput> output;  // kept for export and passage comparison
  std::vector<std::string> lane_names;           // "gate/lane"
  std::vector<float> minute_h;                   // timeline rows: hour of day (7.5 = 07:30)
  std::vector<std::vector<float>> lane_queue;    // [lane][row]: longest queue in that minute
  float wait_bin_s = 1.0f;                       // waiting-time histogram: bin width
  std::vector<float> wait_hist;                  // passages per bin, from 0 s
  std::array<float, 24> throughput_per_hour{};   // passages decided per hour of day (all gates)
  std::array<float, 24> fever_alarms_per_hour{};
  std::array<float, 24> staff_per_hour{};        // passages referred to staff
  double wall_ms = 0;                            // how long the run took
};

// What changed from A to B.
struct Delta {
  std::string name, unit;
  double a = 0, b = 0;
};

enum class Job { idle, run_a, run_b, capacity, live };

// What a live run (A at its own fidelity: pixel or hil) shows while it runs.
struct LiveLane {
  std::string name;              // "gate/lane"
  cv::Mat image;                 // RGB, at most 480 px wide; empty before the first frame
  float scale = 1.0f;            // image pixels per camera pixel
  std::vector<sim::LiveFace> faces;  // in image pixels
  std::string caption;
  std::uint64_t frames = 0;      // frames shown on this lane so far
  bool door_open = false;
  std::optional<cv::Rect2f> gatectl_box;  // HIL: the face of gatectl's latest face event, image pixels (for 1.5 s)
  sim::SimTime gatectl_box_at{0};
  std::uint64_t gatectl_boxes = 0;  // gatectl face events with a face box shown on this lane
  std::string gatectl_said;      // ... and what it decided
};
struct LiveView {
  std::string fidelity;
  bool running = false;
  std::string error;             // the live run failed (models missing, gatectl did not start, ...)
  std::vector<LiveLane> lanes;
  std::vector<sim::LiveEvent> events;  // newest last, at most kMaxEvents
  std::uint64_t decisions = 0, gatectl_events = 0;
  std::string sim_time;          // "07:30:12"
  static constexpr std::size_t kMaxEvents = 200;
};
const char* to_string(Job j);

struct Snapshot {
  std::uint64_t version = 0;          // increases with every published change
  std::string file;                   // the opened scenario ("" before open)
  std::optional<sim::Scenario> a, b;  // the configurations as edited (b: A/B enabled); a is the last valid one
  std::map<std::string, std::string> edits_a, edits_b;
  std::vector<std::string> errors;    // the last edit's load errors ("file:line:col: field: message")
  bool dirty = false;                 // edits not saved
  // Progress of the worker.
  Job job = Job::idle;
  double progress = 0;                // of the current job, 0..1
  bool stale = false;                 // results below are of an earlier edit; a newer run is pending
  // Results (of the configurations above once `stale` is false).
  std::shared_ptr<const RunView> run_a, run_b;
  std::vector<Delta> deltas;          // B - A (A/B enabled)
  std::shared_ptr<const sim::RunComparison> passages;  // passage by passage, common random numbers
  sim::CapacityQuery capacity_query;  // what the capacity view sizes for (its result: `capacity`)
  std::shared_ptr<const sim::CapacityResult> capacity;
  std::shared_ptr<const LiveView> live;  // the latest live run's view (kept after it ends)
  std::uint64_t runs_done = 0;        // simulations the worker completed this session
};

// The key figures side by side (used for the A/B table and its deltas).
std::vector<Delta> key_deltas(const sim::Metrics& a, const sim::Metrics& b);
// Builds the drawable series from a run.
RunView make_view(const sim::Scenario& s, sim::RunOutput out, double wall_ms);

class Session {
 public:
  Session();
  ~Session();  // stops the worker (an unfinished run is abandoned)
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Opens a scenario file; the edits are cleared. False with `error` (every load error, one per line) and
  // the session unchanged when the file does not load.
  bool open(const std::string& path, std::string* error);
  // An edit of configuration A (or B), e.g. set("gates[0].lanes", "3"). The configuration is re-validated;
  // an invalid edit is kept out (its errors are in the snapshot) and the previous value stays.
  bool set(const std::string& path, const std::string& value, bool config_b = false);
  bool unset(const std::string& path, bool config_b = false);
  void enable_b(bool on);
  void set_capacity_query(const sim::CapacityQuery& q);
  // Runs A at its own fidelity (pixel: every attempt rendered and decided by the core; hil: gatectl and the
  // emulated devices in real time) and shows it as it runs in the snapshot's `live`; its results then
  // replace A's. An edit abandons it at the next simulated minute. False when A is statistical.
  bool run_live(std::string* error);
  // Writes configuration A, every default filled in, atomically; checks that the written file loads back
  // to the same scenario. False with `error` otherwise (nothing is left half-written).
  bool save(const std::string& path, std::string* error);
  // Writes the run directory of A's latest results (report.json, events.jsonl, timeline.csv, ...).
  bool export_report(const std::string& dir, std::string* error);

  std::shared_ptr<const Snapshot> snapshot() const;
  // Blocks until the worker has nothing left to do (for scripts and tests); false on timeout.
  bool wait_idle(double timeout_s) const;

 private:
  struct Request;
  bool apply(bool config_b, const std::map<std::string, std::string>& edits);
  void publish(const std::function<void(Snapshot&)>& change);
  void worker();
  void run_live_job(const sim::Scenario& a, std::uint64_t gen, const sim::ProgressFn& progress);
  std::optional<sim::Scenario> resolve(const std::map<std::string, std::string>& edits, std::vector<std::string>* errors) const;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::shared_ptr<const Snapshot> snap_;
  std::string text_, file_;                 // the opened file
  std::uint64_t generation_ = 0;            // bumped by every edit; a run of an older generation is abandoned
  std::atomic<std::uint64_t> live_generation_{0};
  sim::CapacityQuery query_;
  bool b_enabled_ = false;
  bool stop_ = false;
  bool work_pending_ = false;
  bool live_pending_ = false;
  bool working_ = false;
  std::thread thread_;
};

}  // namespace gatetwin::studio
