#include <algorithm>
#include <cmath>

#include "gatetwin/recognizer/vision/stages.hpp"

namespace gatetwin::recognizer::vision {

LivenessModel::LivenessModel(const LivenessSpec& spec, const std::string& fetch_command)
    : spec_(spec), net_(load_net(spec.model, fetch_command)) {}

float LivenessModel::live_score(const cv::Mat& bgr, const Detection& face) {
  const cv::Rect crop = crop_rect(face.box, spec_.crop_scale, bgr.size());
  if (crop.area() <= 0) return 0.0f;
  net_.setInput(to_blob(bgr(crop), spec_.model.input));
  const cv::Mat out = net_.forward();
  const int n = static_cast<int>(out.total());
  if (spec_.live_class >= n) throw ModelError("liveness model " + spec_.model.path.string() + ": too few outputs");
  const float* p = out.ptr<float>();
  float mx = p[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, p[i]);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(p[i] - mx));
  return static_cast<float>(std::exp(static_cast<double>(p[spec_.live_class] - mx)) / sum);
}

}  // namespace gatetwin::recognizer::vision
