// Pixel fidelity's cost: passages per second when every face attempt is rendered and decided by the real
// core (OpenCV on 2 threads), beside the same scenario in statistical mode, measured in the same run.
// Needs the models and a trained mask classifier (scripts/fetch-models.sh; gatetwin train-mask).
#include <benchmark/benchmark.h>

#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/world.hpp"

namespace gs = gatetwin::sim;

namespace {

gs::Scenario scenario(const char* fidelity) {
  // A dozen households for half an hour of the calibration scenario.
  const auto r = gs::load_scenario_file(GATETWIN_SOURCE_DIR "/scenarios/pixel/calibration-small.yaml",
                                        {"population.households=8", "day.end=07:45", std::string("fidelity=") + fidelity,
                                         "pixel.threads=2"});
  if (!r.errors.empty()) throw std::runtime_error(r.errors.front().str());
  return *r.scenario;
}

void run(benchmark::State& state, const char* fidelity) {
  const gs::Scenario s = scenario(fidelity);
  std::size_t passages = 0, attempts = 0, frames = 0;
  for (auto _ : state) {
    const gs::RunOutput out = gs::run_world(s);
    passages += out.passages.size();
    attempts += out.attempts.face_attempts[0] + out.attempts.face_attempts[1] + out.attempts.face_attempts[2];
    frames += out.pixel.frames_analysed;
    benchmark::DoNotOptimize(out.events);
  }
  state.counters["passages/s"] = benchmark::Counter(static_cast<double>(passages), benchmark::Counter::kIsRate);
  state.counters["face_attempts/s"] = benchmark::Counter(static_cast<double>(attempts), benchmark::Counter::kIsRate);
  if (frames > 0) state.counters["frames/s"] = benchmark::Counter(static_cast<double>(frames), benchmark::Counter::kIsRate);
}

// Baseline: the same passages with sampled face outcomes.
void BM_Statistical(benchmark::State& state) { run(state, "statistical"); }
// Every attempt rendered over the approach frames and analysed by the core; enrolment of the gallery included.
void BM_Pixel(benchmark::State& state) { run(state, "pixel"); }

}  // namespace

BENCHMARK(BM_Statistical)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Pixel)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK_MAIN();
