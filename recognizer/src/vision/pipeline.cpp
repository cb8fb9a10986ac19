#include "gatetwin/recognizer/vision/pipeline.hpp"

#include <chrono>

namespace gatetwin::recognizer::vision {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Manifest verified(const Manifest& m) {
  verify_models(m);
  return m;
}

// A face box cut by the frame edge by more than `margin` of its size cannot be aligned reliably.
bool at_edge(const cv::Rect2f& box, cv::Size frame, double margin) {
  const double mx = margin * box.width, my = margin * box.height;
  return box.x < -mx || box.y < -my || box.x + box.width > frame.width + mx || box.y + box.height > frame.height + my;
}

}  // namespace

FacePipeline::FacePipeline(const Manifest& manifest, PipelineOptions options, std::optional<MaskClassifier> mask)
    : manifest_(verified(manifest)),
      options_(options),
      detector_(manifest_.detector, manifest_.fetch_command),
      landmarks_(manifest_.landmarks, manifest_.fetch_command),
      embedder_(manifest_.embedder, manifest_.fetch_command),
      mask_(mask ? *mask : MaskClassifier::load(manifest_.mask_classifier)) {
  // OpenCV builds its colour-conversion tables on first use (~200 ms for Lab): do it now, not on the
  // first resident's frame.
  (void)MaskClassifier::features(cv::Mat(manifest_.embedder.model.input.height, manifest_.embedder.model.input.width,
                                         CV_8UC3, cv::Scalar(128, 128, 128)));
  if (options_.liveness) {
    if (!manifest_.liveness) throw ModelError(manifest_.source.string() + ": liveness: requested but the manifest has none");
    liveness_.emplace(*manifest_.liveness, manifest_.fetch_command);
  }
}

FrameAnalysis FacePipeline::analyse(const cv::Mat& bgr) {
  FrameAnalysis a;
  const auto t_start = Clock::now();
  if (bgr.empty() || bgr.type() != CV_8UC3 || bgr.cols < 16 || bgr.rows < 16) {
    a.failure = AcquireFailure::no_face;
    return a;
  }
  auto t = Clock::now();
  std::vector<Detection> found = detector_.detect(bgr);
  const TensorInput& din = manifest_.detector.model.input;
  if (found.empty() && bgr.cols >= 2 * din.width && bgr.rows >= 2 * din.height) {
    // The detector sees the frame shrunk to its input size, where a face far from the terminal is small:
    // look again at the frame's middle (where a person facing the screen stands) at full resolution.
    const cv::Rect mid(bgr.cols / 4, bgr.rows / 4, bgr.cols / 2, bgr.rows / 2);
    const cv::Point2f shift(static_cast<float>(mid.x), static_cast<float>(mid.y));
    for (Detection d : detector_.detect(bgr(mid))) {
      d.box += shift;
      d.square += shift;
      found.push_back(d);
    }
  }
  for (auto& d : found) a.faces.push_back(FaceFound{d, std::nullopt, std::nullopt, AcquireFailure::none});
  a.timings.detect = ms_since(t);
  if (a.faces.empty()) {
    a.timings.total = ms_since(t_start);
    return a;
  }

  // Landmarks: the deciding face is the closest one, i.e. the largest inter-ocular distance; the detector's
  // box size picks the candidates' order, landmarks confirm it.
  t = Clock::now();
  int deciding = 0;
  float best_iod = -1;
  for (std::size_t i = 0; i < a.faces.size(); ++i) {
    const bool need = options_.landmarks_all || i == 0 || a.faces[i].detection.box.height > 0.8f * a.faces[0].detection.box.height;
    if (!need) continue;
    a.faces[i].landmarks = landmarks_.predict(bgr, a.faces[i].detection);
    const float iod = a.faces[i].landmarks->interocular();
    if (iod > best_iod) best_iod = iod, deciding = static_cast<int>(i);
  }
  a.deciding = deciding;
  a.timings.landmarks = ms_since(t);
  FaceFound& face = a.faces[static_cast<std::size_t>(deciding)];

  t = Clock::now();
  a.aligned = align_face(bgr, face.landmarks->five(), manifest_.embedder);
  a.timings.align = ms_since(t);

  t = Clock::now();
  face.quality = assess_quality(*face.landmarks, a.aligned);
  face.failure = check_quality(*face.quality, options_.quality);
  if (face.failure == AcquireFailure::none && at_edge(face.detection.box, bgr.size(), options_.quality.edge_margin))
    face.failure = AcquireFailure::at_edge;
  a.failure = face.failure;
  a.timings.quality = ms_since(t);

  if (a.failure == AcquireFailure::none) {
    t = Clock::now();
    a.mask = mask_.classify(a.aligned);
    a.timings.mask = ms_since(t);
    t = Clock::now();
    a.embedding = embedder_.embed(a.aligned, options_.flip_embedding);
    a.timings.embed = ms_since(t);
    if (liveness_) {
      t = Clock::now();
      a.liveness = liveness_->live_score(bgr, face.detection);
      a.timings.liveness = ms_since(t);
    }
  }
  a.timings.total = ms_since(t_start);
  return a;
}

Identification identify(const FrameAnalysis& analysis, const Gallery& gallery, std::size_t k) {
  Identification id;
  id.evidence.acquired = analysis.usable();
  id.evidence.mask = analysis.mask.state;
  if (!id.evidence.acquired || gallery.size() == 0) return id;
  id.top = gallery.search(analysis.embedding, k);
  if (!id.top.empty()) {
    id.evidence.best_id = id.top.front().person;
    id.evidence.score = id.top.front().score;
  }
  return id;
}

TemplateKind template_kind(MaskState state) {
  return state == MaskState::none ? TemplateKind::unmasked : TemplateKind::masked;
}

}  // namespace gatetwin::recognizer::vision
