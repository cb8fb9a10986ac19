#pragma once
// The face pipeline's stages, each with a small interface so it can be tested, timed and replaced on its
// own: detection -> landmarks -> alignment -> quality gate -> mask state -> embedding (-> liveness).
// Each model-backed stage owns its cv::dnn::Net: one instance per lane worker (Nets are not re-entrant).
#include <array>
#include <optional>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "gatetwin/recognizer/policy.hpp"
#include "gatetwin/recognizer/vision/manifest.hpp"

namespace gatetwin::recognizer::vision {

struct Detection {
  cv::Rect2f box;      // as the detector drew it, frame pixels
  cv::Rect2f square;   // squared to the box's height about its centre (the crop the landmark model expects)
  float score = 0;
};

// Points in frame pixels. The five alignment points: left eye centre, right eye centre, nose tip, left and
// right mouth corners ("left" = on the image's left).
using FivePoints = std::array<cv::Point2f, 5>;

struct Landmarks {
  std::array<cv::Point2f, 68> points{};  // iBUG 68-point scheme
  FivePoints five() const;
  float interocular() const;             // distance between the eye centres, px
};

// Loads an ONNX model after checking it exists (the error names the fixing command).
cv::dnn::Net load_net(const ModelFile& model, const std::string& fetch_command);
// Turns a crop into the model's input tensor as the manifest describes (size, colour order, mean, scale).
cv::Mat to_blob(const cv::Mat& bgr, const TensorInput& input);

class FaceDetector {
 public:
  FaceDetector(const DetectorSpec& spec, const std::string& fetch_command);
  // All faces above the score threshold after non-maximum suppression, best score first.
  std::vector<Detection> detect(const cv::Mat& bgr);

 private:
  DetectorSpec spec_;
  cv::dnn::Net net_;
  std::vector<cv::String> outputs_;
};

// Greedy IoU non-maximum suppression over boxes sorted by score (exposed for tests).
std::vector<Detection> non_maximum_suppression(std::vector<Detection> candidates, double iou_threshold, int top_k);
double iou(const cv::Rect2f& a, const cv::Rect2f& b);

class LandmarkModel {
 public:
  LandmarkModel(const LandmarkSpec& spec, const std::string& fetch_command);
  Landmarks predict(const cv::Mat& bgr, const Detection& face);

 private:
  LandmarkSpec spec_;
  cv::dnn::Net net_;
};

// Least-squares similarity transform (rotation, uniform scale, translation) taking `from` onto `to`
// (Umeyama's method). Returns the 2x3 matrix.
cv::Matx23d similarity_transform(const FivePoints& from, const std::array<std::array<double, 2>, 5>& to);
// Warps the face so its five points land on the embedder's template points; output is the embedder's
// input size (112x112 for the shipped model).
cv::Mat align_face(const cv::Mat& bgr, const FivePoints& five, const EmbedderSpec& spec);

struct Quality {
  double interocular_px = 0;
  double yaw_deg = 0;        // estimated from the nose tip's offset between the eyes
  double pitch_deg = 0;      // estimated from the nose tip's height between the eye line and the mouth
  double roll_deg = 0;       // eye line angle
  double sharpness = 0;      // variance of the Laplacian of the aligned grey crop
  double brightness = 0;     // mean grey level of the aligned crop
};

// Why a face cannot be used: a failure to acquire, never a reject.
enum class AcquireFailure { none, no_face, too_small, pose, blur, too_dark, too_bright, at_edge };
std::string_view to_string(AcquireFailure);

struct QualityGate {
  double min_interocular_px = 32;   // below this the embedder is unreliable (ISO/IEC 19794-5 asks 60+ for enrolment)
  double max_yaw_deg = 35;
  double max_pitch_deg = 40;       // pitch from 2-D landmarks also reflects nose length and masks: wide
  double min_sharpness = 12;
  double min_brightness = 35;
  double max_brightness = 235;
  double edge_margin = 0.02;        // the face box may not be cut by the frame edge by more than this share
};

Quality assess_quality(const Landmarks& lm, const cv::Mat& aligned_bgr);
AcquireFailure check_quality(const Quality& q, const QualityGate& gate);

// Mask state from the aligned face: colour and texture features of the nose, mouth and chin regions
// against the face's own skin above the mask line, scored by a multinomial logistic model trained on
// labelled synthetic renders (`gatetwin train-mask`).
struct MaskResult {
  MaskState state = MaskState::none;
  std::array<float, 3> probability{};   // none, worn, below_nose
};

class MaskClassifier {
 public:
  static constexpr int kFeatures = 32;
  using Features = std::array<float, kFeatures>;
  struct Model {
    std::array<float, kFeatures> mean{}, stdev{};      // feature standardisation
    std::array<std::array<float, kFeatures + 1>, 3> weights{};  // per class; last = bias
  };

  MaskClassifier() = default;
  explicit MaskClassifier(Model model) : model_(model), trained_(true) {}
  // Loads a classifier written by save(); throws ModelError naming the file and the command that makes it.
  static MaskClassifier load(const std::filesystem::path& file);
  void save(const std::filesystem::path& file, const std::string& provenance) const;

  static Features features(const cv::Mat& aligned_bgr);
  MaskResult classify(const Features& f) const;
  MaskResult classify(const cv::Mat& aligned_bgr) const { return classify(features(aligned_bgr)); }
  bool trained() const { return trained_; }
  const Model& model() const { return model_; }

  // Fits the model by full-batch gradient descent on the cross-entropy with L2 regularisation.
  // labels: 0 none, 1 worn, 2 below_nose. Deterministic.
  static MaskClassifier train(const std::vector<Features>& x, const std::vector<int>& labels, double l2 = 1e-3,
                              int iterations = 3000);

 private:
  Model model_;
  bool trained_ = false;
};

class Embedder {
 public:
  Embedder(const EmbedderSpec& spec, const std::string& fetch_command);
  // L2-normalised embedding of an aligned face crop; with `flip`, the sum of the crop's and its mirror
  // image's embeddings (one batch of two).
  std::vector<float> embed(const cv::Mat& aligned_bgr, bool flip = false);
  int dim() const { return spec_.dim; }

 private:
  EmbedderSpec spec_;
  cv::dnn::Net net_;
};

class LivenessModel {
 public:
  LivenessModel(const LivenessSpec& spec, const std::string& fetch_command);
  // Softmax probability of the manifest's "live" class for the face's enlarged crop.
  float live_score(const cv::Mat& bgr, const Detection& face);

 private:
  LivenessSpec spec_;
  cv::dnn::Net net_;
};

// A crop of `box` scaled by `scale` about its centre, shifted to stay inside the frame (and clipped if
// larger than the frame). Exposed for tests.
cv::Rect crop_rect(const cv::Rect2f& box, double scale, cv::Size frame);

}  // namespace gatetwin::recognizer::vision
