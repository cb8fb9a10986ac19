#pragma once
// The face pipeline of one lane: a frame in, every face found, and for the face that decides (the
// closest one, largest inter-ocular distance) its quality verdict, mask state, embedding and liveness,
// with per-stage timings. Identification against the gallery and the evidence handed to the policy
// engine are separate steps, so the same analysis serves 1:N, 1:1 (card + face) and enrolment.
#include <memory>
#include <optional>
#include <vector>

#include "gatetwin/recognizer/gallery.hpp"
#include "gatetwin/recognizer/vision/stages.hpp"

namespace gatetwin::recognizer::vision {

struct PipelineOptions {
  QualityGate quality;
  bool liveness = false;        // run the optional liveness model (adds ~7 ms)
  bool landmarks_all = false;   // landmarks for every face, not only the deciding one
  // Embed the mirror image too and sum (flip test-time augmentation): on renders the EER fell from 5.4% to
  // 5.1% (300 identities), but the embedder runs twice: about 88 ms instead of 55 ms per frame on one core,
  // past the 60 ms goal. Off by default.
  bool flip_embedding = false;
};

struct FaceFound {
  Detection detection;
  std::optional<Landmarks> landmarks;  // the deciding face always; others with landmarks_all
  std::optional<Quality> quality;
  AcquireFailure failure = AcquireFailure::none;
};

struct StageTimings {  // milliseconds of wall time per stage for this frame
  double detect = 0, landmarks = 0, align = 0, quality = 0, mask = 0, embed = 0, liveness = 0, total = 0;
};

struct FrameAnalysis {
  std::vector<FaceFound> faces;        // best detector score first
  int deciding = -1;                   // index into faces, -1 when there is none
  AcquireFailure failure = AcquireFailure::no_face;  // none: the deciding face is usable
  MaskResult mask;
  std::vector<float> embedding;        // empty unless usable
  std::optional<float> liveness;
  cv::Mat aligned;                     // the deciding face's aligned crop (kept in memory only)
  StageTimings timings;

  bool usable() const { return failure == AcquireFailure::none && !embedding.empty(); }
};

class FacePipeline {
 public:
  // Verifies the models' SHA-256 and loads them; throws ModelError naming the file and the fixing command.
  // The mask classifier is loaded from the manifest's path unless one is given.
  explicit FacePipeline(const Manifest& manifest, PipelineOptions options = {},
                        std::optional<MaskClassifier> mask = std::nullopt);
  FrameAnalysis analyse(const cv::Mat& bgr);
  const Manifest& manifest() const { return manifest_; }
  const PipelineOptions& options() const { return options_; }
  const MaskClassifier& mask_classifier() const { return mask_; }

 private:
  Manifest manifest_;
  PipelineOptions options_;
  FaceDetector detector_;
  LandmarkModel landmarks_;
  Embedder embedder_;
  std::optional<LivenessModel> liveness_;
  MaskClassifier mask_;
};

// 1:N against the gallery: the evidence for the policy engine and the best k matches for the record.
struct Identification {
  FaceEvidence evidence;
  std::vector<Match> top;
};
Identification identify(const FrameAnalysis& analysis, const Gallery& gallery, std::size_t k = 5);

// Which gallery template kind to store for an enrolment photo, from the classified mask state.
TemplateKind template_kind(MaskState state);

}  // namespace gatetwin::recognizer::vision
