// A full simulated day of a scenario (default: Gucheng, 14 compounds, 6,507 households) in statistical
// mode: wall time per day and passages per second. Baseline in the same run: the same population and
// arrivals with the theory-mode service model (one exponential draw per transaction, no policy engine,
// no sensors), i.e. the cost of the engine, arrivals and queues alone. Goal: a full day <= 0.5 s.
//
//   build/bench/day_bench [--scenario=PATH] [--benchmark_*]
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/world.hpp"

namespace gs = gatetwin::sim;

namespace {
std::string g_scenario = "scenarios/gucheng.yaml";

gs::Scenario load(bool theory) {
  std::vector<std::string> sets;
  if (theory) sets = {"service.exponential=true", "service.exponential_mean=2.3"};
  auto r = gs::load_scenario_file(g_scenario, sets);
  if (!r.ok()) {
    for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.str().c_str());
    std::exit(2);
  }
  return *r.scenario;
}

void run_day(benchmark::State& state, bool theory) {
  const gs::Scenario s = load(theory);
  std::size_t passages = 0;
  for (auto _ : state) {
    const auto out = gs::run_world(s);
    passages = out.passages.size();
    benchmark::DoNotOptimize(out.passages.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * passages));
  state.counters["passages_per_day"] = static_cast<double>(passages);
}

void BM_FullDay(benchmark::State& state) { run_day(state, false); }
void BM_FullDayWithMetrics(benchmark::State& state) {
  const gs::Scenario s = load(false);
  for (auto _ : state) {
    const auto out = gs::run_world(s);
    const auto m = gs::compute_metrics(s, out);
    benchmark::DoNotOptimize(m.passages);
  }
}
void BM_BaselineTheoryModeDay(benchmark::State& state) { run_day(state, true); }

BENCHMARK(BM_BaselineTheoryModeDay)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_FullDay)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_FullDayWithMetrics)->Unit(benchmark::kMillisecond)->MinTime(1.0);

// Keeps each benchmark's wall time per iteration (ms) for the summary line.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  SummaryReporter() : ConsoleReporter(isatty(fileno(stdout)) ? OO_Defaults : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type == Run::RT_Iteration && !r.error_occurred) {
        ms[r.run_name.function_name] = r.GetAdjustedRealTime();  // in the benchmark's unit (ms)
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> ms;
};
}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--scenario=", 11) == 0) {
      g_scenario = argv[i] + 11;
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      --i;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("scenario: %s\n", g_scenario.c_str());
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  const auto full = reporter.ms.find("BM_FullDay"), base = reporter.ms.find("BM_BaselineTheoryModeDay");
  if (full != reporter.ms.end() && base != reporter.ms.end() && base->second > 0) {
    std::printf("\nfull day %.1f ms wall (goal <= 500 ms: %s); theory-mode baseline %.1f ms; full / baseline %.2fx\n",
                full->second, full->second <= 500.0 ? "met" : "MISSED", base->second, full->second / base->second);
  }
  return 0;
}
