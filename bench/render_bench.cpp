// Where pixel-mode time goes, on ONE core (cv::setNumThreads(1)), all in the same run:
//   - one synthetic face rendered at 640x480 (background + face + camera effects), goal >= 50 renders/s;
//   - one approach-scene frame with 3 people (subject, tailgater, neighbour), painter's order and blur;
//   - the thermal array's frame for it (32x24 and 80x60);
//   - the baseline: one recognition of a render by the real core (FacePipeline::analyse, 1 thread).
// Figures are items/s counters over thread CPU time: everything runs on one thread, and on a machine shared with
// other work CPU time is the work done, where wall time would count the waits for a core. The summary line
// gives renders per recognition.
//
//   ./build/bench/render_bench                 # the recognition baseline needs the models: scripts/fetch-models.sh
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include <opencv2/core/utility.hpp>

#include "gatetwin/recognizer/vision/pipeline.hpp"
#include "gatetwin/sim/face_render.hpp"
#include "gatetwin/sim/gate_scene.hpp"

namespace rv = gatetwin::recognizer::vision;
namespace render = gatetwin::sim::render;
namespace scene = gatetwin::sim::scene;

namespace {

constexpr std::uint64_t kSeed = 20200616;

void BM_RenderFace(benchmark::State& state) {
  cv::setNumThreads(1);
  std::uint32_t i = 0;
  for (auto _ : state) {
    const std::uint32_t person = i % 64;
    const auto id = render::sample_identity(kSeed, person);
    const auto c = render::sample_capture(kSeed, person, i++, 1.0);
    auto r = render::render_face(id, c, {640, 480});
    benchmark::DoNotOptimize(r.image.data);
  }
  state.counters["renders/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

scene::LaneSpec bench_lane() {
  scene::LaneSpec s;
  s.seed = kSeed;
  return s;
}

std::vector<scene::Actor> bench_cast(const scene::LaneSpec& s) {
  return {scene::make_actor(s, 1, scene::Role::subject), scene::make_actor(s, 2, scene::Role::behind),
          scene::make_actor(s, 3, scene::Role::adjacent)};
}

// A whole approach frame by frame (frames differ: far, near, blurred, three people early on, two later).
void BM_SceneFrame(benchmark::State& state) {
  cv::setNumThreads(1);
  const auto s = bench_lane();
  const auto actors = bench_cast(s);
  std::uint64_t passage = 0;
  auto ap = std::make_unique<scene::Approach>(s, actors);
  scene::SceneFrame f;
  for (auto _ : state) {
    if (!ap->next(f)) {
      state.PauseTiming();
      auto spec = s;
      spec.passage = ++passage;
      ap = std::make_unique<scene::Approach>(spec, actors);
      state.ResumeTiming();
      ap->next(f);
    }
    benchmark::DoNotOptimize(f.image.data);
  }
  state.counters["frames/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_ThermalFrame(benchmark::State& state) {
  cv::setNumThreads(1);
  const auto s = bench_lane();
  const auto actors = bench_cast(s);
  scene::Approach ap(s, actors);
  std::vector<scene::SceneFrame> frames;
  scene::SceneFrame f;
  while (ap.next(f)) frames.push_back(f);
  scene::ThermalSpec ts;
  ts.width = static_cast<int>(state.range(0));
  ts.height = ts.width * 3 / 4;
  std::size_t i = 0;
  for (auto _ : state) {
    auto t = scene::thermal_frame(s, actors, frames[i++ % frames.size()], ts);
    benchmark::DoNotOptimize(t.celsius.data());
  }
  state.counters["frames/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

struct Recognition {
  std::unique_ptr<rv::FacePipeline> pipeline;
  cv::Mat frame;
  std::string error;
};

Recognition& recognition() {
  static Recognition* r = [] {
    auto* x = new Recognition;
    try {
      const rv::Manifest m = rv::load_manifest(GATETWIN_DEFAULT_MANIFEST);
      x->pipeline = std::make_unique<rv::FacePipeline>(m, rv::PipelineOptions{}, rv::MaskClassifier{});
      render::Capture c = render::sample_capture(kSeed, 0, 0, 0.3);
      c.interocular_px = 70;
      x->frame = render::render_face(render::sample_identity(kSeed, 0), c, {640, 480}).image;
    } catch (const std::exception& e) {
      x->error = e.what();
      x->pipeline.reset();
    }
    return x;
  }();
  return *r;
}

void BM_Recognition(benchmark::State& state) {
  cv::setNumThreads(1);
  auto& r = recognition();
  if (!r.pipeline) {
    state.SkipWithError(("models not available: " + r.error).c_str());
    for (auto _ : state) {
    }
    return;
  }
  for (auto _ : state) {
    auto a = r.pipeline->analyse(r.frame);
    benchmark::DoNotOptimize(a.embedding.data());
  }
  state.counters["recognitions/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_RenderFace)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_SceneFrame)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_ThermalFrame)->Arg(32)->Arg(80)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_Recognition)->Unit(benchmark::kMillisecond)->MinTime(2.0);

class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs)
      if (r.run_type == Run::RT_Iteration && !r.error_occurred && !r.counters.empty())
        ms[r.run_name.function_name] = 1000.0 / r.counters.begin()->second.value;  // from the items/s counter
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> ms;  // the last run of each function (CPU ms per item)
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  Collector c;
  benchmark::RunSpecifiedBenchmarks(&c);
  auto get = [&](const char* name) {
    const auto it = c.ms.find(name);
    return it == c.ms.end() ? 0.0 : it->second;
  };
  const double face = get("BM_RenderFace"), frame = get("BM_SceneFrame"), rec = get("BM_Recognition");
  if (face > 0) std::printf("one core: %.1f face renders/s (goal >= 50)\n", 1000.0 / face);
  if (frame > 0) std::printf("one core: %.1f approach frames/s (3 people)\n", 1000.0 / frame);
  if (face > 0 && rec > 0)
    std::printf("one recognition = %.1f ms = %.1f face renders; a pixel-mode frame (scene + recognition) is %.0f%% rendering\n",
                rec, rec / face, frame > 0 ? 100.0 * frame / (frame + rec) : 0.0);
  return 0;
}
