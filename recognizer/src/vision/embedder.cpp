#include <cmath>

#include "gatetwin/recognizer/vision/stages.hpp"

namespace gatetwin::recognizer::vision {

Embedder::Embedder(const EmbedderSpec& spec, const std::string& fetch_command)
    : spec_(spec), net_(load_net(spec.model, fetch_command)) {}

std::vector<float> Embedder::embed(const cv::Mat& aligned_bgr) {
  net_.setInput(to_blob(aligned_bgr, spec_.model.input));
  const cv::Mat out = net_.forward();
  if (static_cast<int>(out.total()) != spec_.dim)
    throw ModelError("embedder " + spec_.model.path.string() + ": output has " + std::to_string(out.total()) +
                     " values, the manifest says " + std::to_string(spec_.dim));
  const float* p = out.ptr<float>();
  std::vector<float> v(p, p + spec_.dim);
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (norm > 0)
    for (float& x : v) x = static_cast<float>(x / norm);
  return v;
}

}  // namespace gatetwin::recognizer::vision
