// How fast gatetwin-studio follows an edit: from Session::set() until the snapshot holds the edited day's
// results (what the Day tab draws), against the baseline of the same day run bare in the same process
// (run_world + compute_metrics). The difference is the session's own cost: re-validating the scenario,
// the plot series, publishing, and abandoning the capacity sizing the previous edit had started.
//   ./build/bench/studio_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <thread>

#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/world.hpp"
#include "gatetwin/studio/session.hpp"

namespace {

const char* scenario_path(int which) {
  return which == 0 ? GATETWIN_SOURCE_DIR "/scenarios/jiaochangkou.yaml" : GATETWIN_SOURCE_DIR "/scenarios/gucheng.yaml";
}

void BM_BareDay(benchmark::State& state) {
  auto r = gatetwin::sim::load_scenario_file(scenario_path(static_cast<int>(state.range(0))));
  if (!r.ok()) {
    state.SkipWithError("scenario does not load");
    return;
  }
  for (auto _ : state) {
    const auto out = gatetwin::sim::run_world(*r.scenario);
    benchmark::DoNotOptimize(gatetwin::sim::compute_metrics(*r.scenario, out));
  }
}

void BM_EditToPlots(benchmark::State& state) {
  gatetwin::studio::Session session;
  std::string error;
  if (!session.open(scenario_path(static_cast<int>(state.range(0))), &error) || !session.wait_idle(600)) {
    state.SkipWithError("open failed");
    return;
  }
  int lanes = 1;
  for (auto _ : state) {
    lanes = lanes == 1 ? 2 : 1;
    session.set("gates[0].lanes", std::to_string(lanes));
    for (;;) {  // until the Day tab has the edited day
      const auto snap = session.snapshot();
      if (!snap->stale && snap->run_a && snap->run_a->scenario.gates[0].lanes == lanes) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
}

}  // namespace

BENCHMARK(BM_BareDay)->Arg(0)->Arg(1)->ArgName("scenario")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EditToPlots)->Arg(0)->Arg(1)->ArgName("scenario")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
