#include <cmath>

#include <opencv2/core.hpp>

#include "gatetwin/recognizer/vision/stages.hpp"

namespace gatetwin::recognizer::vision {

Embedder::Embedder(const EmbedderSpec& spec, const std::string& fetch_command)
    : spec_(spec), net_(load_net(spec.model, fetch_command)) {}

std::vector<float> Embedder::embed(const cv::Mat& aligned_bgr, bool flip) {
  // With `flip`, the crop and its mirror image go in one batch and their embeddings are summed (flip
  // test-time augmentation, as ArcFace-style evaluations do): it evens out lighting from one side and small
  // alignment errors, at the cost of a second pass through the network.
  const cv::Mat a = to_blob(aligned_bgr, spec_.model.input);
  const int n = flip ? 2 : 1;
  if (flip) {
    cv::Mat mirrored;
    cv::flip(aligned_bgr, mirrored, 1);
    const cv::Mat b = to_blob(mirrored, spec_.model.input);
    cv::Mat batch;
    cv::vconcat(a.reshape(1, 1), b.reshape(1, 1), batch);
    const int shape[] = {2, a.size[1], a.size[2], a.size[3]};
    net_.setInput(batch.reshape(1, 4, shape));
  } else {
    net_.setInput(a);
  }
  const cv::Mat out = net_.forward();
  if (static_cast<int>(out.total()) != n * spec_.dim)
    throw ModelError("embedder " + spec_.model.path.string() + ": output has " + std::to_string(out.total() / static_cast<std::size_t>(n)) +
                     " values, the manifest says " + std::to_string(spec_.dim));
  const float* p = out.ptr<float>();
  std::vector<float> v(static_cast<std::size_t>(spec_.dim));
  double norm = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = flip ? p[i] + p[i + v.size()] : p[i];
    norm += static_cast<double>(v[i]) * v[i];
  }
  norm = std::sqrt(norm);
  if (norm > 0)
    for (float& x : v) x = static_cast<float>(x / norm);
  return v;
}

}  // namespace gatetwin::recognizer::vision
