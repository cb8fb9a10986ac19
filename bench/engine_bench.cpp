// The event engine on the classic "hold model" event-set benchmark: a steady population of P pending
// events; each executed event schedules one new event at now + an exponential delay. The delays come from
// a table generated once, so the random number generator is outside the comparison, and every variant
// consumes the same delays in the same order (hence executes the same events in the same order).
//
// Compared: gatetwin::sim::Simulation against a naive baseline, a std::priority_queue of
// {time, seq, std::function} ordered by (time, seq) (the top element's action is moved out before pop,
// which is the best such a queue allows). The "Cancel" variants cancel 10% of the scheduled events
// (a timeout that is cancelled before it fires; the baseline marks cancelled sequence numbers in a hash set
// and skips them when they surface). items_per_second is executed events per second; the ratios
// engine/baseline are printed at the end.
//
//   build/bench/engine_bench [--benchmark_*]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <queue>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "gatetwin/sim/random.hpp"
#include "gatetwin/sim/simulation.hpp"

namespace gs = gatetwin::sim;

namespace {

constexpr std::int64_t kMeanDelayUs = 1'000'000;       // 1 s
constexpr std::int64_t kTimeoutUs = 2 * kMeanDelayUs;  // cancelled timeouts are due 2 s + a delay later
constexpr std::uint64_t kBatch = 10'000;               // events per benchmark iteration
constexpr std::size_t kTableSize = 1 << 16;
constexpr std::uint64_t kCancelEvery = 9;  // 9 replacements + 1 timeout per 9 events: 10% cancelled

const std::vector<std::int64_t>& delay_table() {
  static const std::vector<std::int64_t> table = [] {
    gs::RandomStream r(20240501, "bench.hold.delays");
    std::vector<std::int64_t> t(kTableSize);
    for (auto& d : t) d = std::max<std::int64_t>(1, std::llround(r.exponential(static_cast<double>(kMeanDelayUs))));
    return t;
  }();
  return table;
}

class Delays {
 public:
  std::int64_t next() { return table_[i_++ & (kTableSize - 1)]; }

 private:
  const std::int64_t* table_ = delay_table().data();
  std::size_t i_ = 0;
};

// ---------------------------------------------------------------- the engine

class EngineHold {
 public:
  EngineHold(std::int64_t population, bool cancel) : cancel_(cancel) {
    for (std::int64_t k = 0; k < population; ++k) sim_.schedule_in(gs::Duration(delays_.next()), [this] { fire(); });
  }
  // Runs the next `n` events.
  void run(std::uint64_t n) {
    stop_at_ += n;
    sim_.run_until(gs::SimTime::max());
  }
  std::uint64_t executed() const { return sim_.events_executed(); }
  std::size_t pending() const { return sim_.pending(); }

 private:
  void fire() {
    sim_.schedule_in(gs::Duration(delays_.next()), [this] { fire(); });
    if (cancel_ && ++since_timeout_ == kCancelEvery) {
      since_timeout_ = 0;
      sim_.cancel(timeout_);  // the previous timeout, still pending
      timeout_ = sim_.schedule_in(gs::Duration(kTimeoutUs + delays_.next()), [this] { fire(); });
    }
    if (++count_ == stop_at_) sim_.stop();
  }
  gs::Simulation sim_{1};
  Delays delays_;
  bool cancel_;
  gs::EventId timeout_;
  std::uint64_t since_timeout_ = 0, count_ = 0, stop_at_ = 0;
};

// ---------------------------------------------------------------- the naive baseline

class BaselineHold {
 public:
  BaselineHold(std::int64_t population, bool cancel) : cancel_(cancel) {
    for (std::int64_t k = 0; k < population; ++k) schedule_at(now_ + delays_.next(), [this] { fire(); });
  }
  void run(std::uint64_t n) {
    for (std::uint64_t k = 0; k < n;) {
      Event e = std::move(const_cast<Event&>(queue_.top()));
      queue_.pop();
      if (cancel_ && !cancelled_.empty() && cancelled_.erase(e.seq)) continue;
      now_ = e.time;
      ++executed_;
      ++k;
      e.action();
    }
  }
  std::uint64_t executed() const { return executed_; }
  std::size_t pending() const { return queue_.size() - cancelled_.size(); }

 private:
  struct Event {
    std::int64_t time;
    std::uint64_t seq;
    std::function<void()> action;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const { return a.time != b.time ? a.time > b.time : a.seq > b.seq; }
  };
  std::uint64_t schedule_at(std::int64_t t, std::function<void()> action) {
    queue_.push(Event{t, seq_, std::move(action)});
    return seq_++;
  }
  void fire() {
    schedule_at(now_ + delays_.next(), [this] { fire(); });
    if (cancel_ && ++since_timeout_ == kCancelEvery) {
      since_timeout_ = 0;
      if (has_timeout_) cancelled_.insert(timeout_);
      timeout_ = schedule_at(now_ + kTimeoutUs + delays_.next(), [this] { fire(); });
      has_timeout_ = true;
    }
  }
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::unordered_set<std::uint64_t> cancelled_;
  std::int64_t now_ = 0;
  std::uint64_t seq_ = 0, executed_ = 0;
  Delays delays_;
  bool cancel_;
  bool has_timeout_ = false;
  std::uint64_t timeout_ = 0, since_timeout_ = 0;
};

template <class Hold>
void hold(benchmark::State& state, bool cancel) {
  (void)delay_table();  // outside the timing
  Hold h(state.range(0), cancel);
  for (auto _ : state) h.run(kBatch);
  state.SetItemsProcessed(static_cast<std::int64_t>(h.executed()));
  state.counters["pending"] = static_cast<double>(h.pending());
}

void BM_Hold_Engine(benchmark::State& state) { hold<EngineHold>(state, false); }
void BM_Hold_Baseline(benchmark::State& state) { hold<BaselineHold>(state, false); }
void BM_HoldCancel_Engine(benchmark::State& state) { hold<EngineHold>(state, true); }
void BM_HoldCancel_Baseline(benchmark::State& state) { hold<BaselineHold>(state, true); }

BENCHMARK(BM_Hold_Engine)->Arg(1000)->Arg(100000)->MinTime(0.5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Hold_Baseline)->Arg(1000)->Arg(100000)->MinTime(0.5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_HoldCancel_Engine)->Arg(1000)->Arg(100000)->MinTime(0.5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_HoldCancel_Baseline)->Arg(1000)->Arg(100000)->MinTime(0.5)->Unit(benchmark::kMillisecond);

// Both implementations must do the same work: same events, in the same order, at the same times.
bool same_workload() {
  for (bool cancel : {false, true}) {
    EngineHold e(1000, cancel);
    BaselineHold b(1000, cancel);
    e.run(50'000);
    b.run(50'000);
    if (e.executed() != b.executed() || e.pending() != b.pending()) {
      std::fprintf(stderr, "workload mismatch (cancel=%d): executed %llu vs %llu, pending %zu vs %zu\n", cancel,
                   static_cast<unsigned long long>(e.executed()), static_cast<unsigned long long>(b.executed()), e.pending(),
                   b.pending());
      return false;
    }
  }
  return true;
}

// Keeps items_per_second of every run so the ratios can be printed at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  explicit RatioReporter(OutputOptions options) : ConsoleReporter(options) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      const auto it = r.counters.find("items_per_second");
      if (it != r.counters.end()) rates.emplace_back(r.benchmark_name(), it->second.value);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::vector<std::pair<std::string, double>> rates;  // in the order run
};

// "BM_Hold_Engine/1000/min_time:0.500" -> {"Hold", "Engine", "1000"}
struct Name {
  std::string workload, impl, arg;
};
Name parse(const std::string& full) {
  Name n;
  const auto slash = full.find('/');
  std::string family = full.substr(0, slash);
  if (slash != std::string::npos) n.arg = full.substr(slash + 1, full.find('/', slash + 1) - slash - 1);
  if (family.rfind("BM_", 0) == 0) family.erase(0, 3);
  const auto us = family.rfind('_');
  n.workload = family.substr(0, us);
  n.impl = us == std::string::npos ? "" : family.substr(us + 1);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!same_workload()) return 1;
  RatioReporter reporter(isatty(fileno(stdout)) ? benchmark::ConsoleReporter::OO_Defaults
                                                : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  bool header = false;
  for (const auto& [name, rate] : reporter.rates) {
    const Name n = parse(name);
    if (n.impl != "Engine") continue;
    for (const auto& [other, base] : reporter.rates) {
      const Name b = parse(other);
      if (b.impl != "Baseline" || b.workload != n.workload || b.arg != n.arg || base <= 0) continue;
      if (!header) std::printf("\nengine / baseline, events per second:\n");
      header = true;
      std::printf("  %-12s P=%-7s %5.2fx  (engine %.3g/s, baseline %.3g/s)\n", n.workload.c_str(), n.arg.c_str(), rate / base,
                  rate, base);
    }
  }
  return 0;
}
