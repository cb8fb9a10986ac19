// Per-frame latency of the face pipeline at 640x480 (detect + landmarks + align + quality + mask + embed),
// on 1 and 2 OpenCV threads, beside its baseline measured in the same run: the bare cv::dnn forward passes
// of the three models on ready-made input blobs. The ratio shows what the pipeline adds around the
// networks. Goal: <= 60 ms per frame on one core.
//
//   ./build/bench/vision_bench                 # needs the models: scripts/fetch-models.sh
#include <benchmark/benchmark.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include <opencv2/core/utility.hpp>

#include "gatetwin/recognizer/vision/pipeline.hpp"
#include "gatetwin/sim/face_render.hpp"

namespace rv = gatetwin::recognizer::vision;
namespace render = gatetwin::sim::render;

namespace {

struct Fixture {
  rv::Manifest manifest;
  std::unique_ptr<rv::FacePipeline> pipeline;
  cv::Mat frame;
  // Baseline: the same three networks, fed blobs prepared once.
  cv::dnn::Net detect, landmark, embed;
  cv::Mat detect_blob, landmark_blob, embed_blob;
  std::vector<cv::String> detect_outputs;
};

Fixture& fixture() {
  static Fixture* f = [] {
    auto* x = new Fixture;
    x->manifest = rv::load_manifest(GATETWIN_DEFAULT_MANIFEST);
    x->pipeline = std::make_unique<rv::FacePipeline>(x->manifest, rv::PipelineOptions{}, rv::MaskClassifier{});
    render::Capture c = render::sample_capture(1, 0, 0, 0.3);
    c.interocular_px = 70;
    x->frame = render::render_face(render::sample_identity(1, 0), c, {640, 480}).image;
    const auto a = x->pipeline->analyse(x->frame);
    if (!a.usable()) {
      std::fprintf(stderr, "vision_bench: the benchmark frame has no usable face (%s)\n",
                   std::string(rv::to_string(a.failure)).c_str());
      std::exit(2);
    }
    x->detect = rv::load_net(x->manifest.detector.model, "");
    x->landmark = rv::load_net(x->manifest.landmarks.model, "");
    x->embed = rv::load_net(x->manifest.embedder.model, "");
    x->detect_blob = rv::to_blob(x->frame, x->manifest.detector.model.input);
    const auto& face = a.faces[static_cast<std::size_t>(a.deciding)];
    x->landmark_blob = rv::to_blob(x->frame(rv::crop_rect(face.detection.square, 1.0, x->frame.size())),
                                   x->manifest.landmarks.model.input);
    x->embed_blob = rv::to_blob(a.aligned, x->manifest.embedder.model.input);
    x->detect_outputs = {x->manifest.detector.scores_output, x->manifest.detector.boxes_output};
    return x;
  }();
  return *f;
}

void BM_Pipeline(benchmark::State& state) {
  auto& f = fixture();
  cv::setNumThreads(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto a = f.pipeline->analyse(f.frame);
    benchmark::DoNotOptimize(a.embedding.data());
  }
}

void BM_BareForwardPasses(benchmark::State& state) {
  auto& f = fixture();
  cv::setNumThreads(static_cast<int>(state.range(0)));
  std::vector<cv::Mat> outs;
  for (auto _ : state) {
    f.detect.setInput(f.detect_blob);
    f.detect.forward(outs, f.detect_outputs);
    f.landmark.setInput(f.landmark_blob);
    cv::Mat l = f.landmark.forward();
    f.embed.setInput(f.embed_blob);
    cv::Mat e = f.embed.forward();
    benchmark::DoNotOptimize(e.data);
  }
}

BENCHMARK(BM_BareForwardPasses)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_Pipeline)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

// Collects real time per benchmark name for the ratio lines.
class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs)
      if (r.run_type == Run::RT_Iteration) ms[r.benchmark_name()] = r.GetAdjustedRealTime();
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> ms;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  Collector c;
  benchmark::RunSpecifiedBenchmarks(&c);
  for (int t : {1, 2}) {
    const std::string suffix = "/" + std::to_string(t) + "/min_time:1.000/real_time";
    const auto p = c.ms.find("BM_Pipeline" + suffix), b = c.ms.find("BM_BareForwardPasses" + suffix);
    if (p == c.ms.end() || b == c.ms.end()) continue;
    std::printf("threads %d: pipeline %.1f ms/frame, bare forward passes %.1f ms, pipeline/bare = %.2f (goal: <= 60 ms on one core)\n",
                t, p->second, b->second, p->second / b->second);
  }
  return 0;
}
