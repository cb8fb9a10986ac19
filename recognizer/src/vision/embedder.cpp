#include <cmath>

#include <opencv2/core.hpp>

#include "gatetwin/recognizer/vision/stages.hpp"

namespace gatetwin::recognizer::vision {

Embedder::Embedder(const EmbedderSpec& spec, const std::string& fetch_command)
    : spec_(spec), net_(load_net(spec.model, fetch_command)) {}

std::vector<float> Embedder::embed(const cv::Mat& aligned_bgr) {
  // The crop and its mirror image in one batch; their embeddings are summed (flip test-time augmentation,
  // as ArcFace-style evaluations do): it evens out lighting from one side and small alignment errors.
  cv::Mat mirrored;
  cv::flip(aligned_bgr, mirrored, 1);
  const cv::Mat a = to_blob(aligned_bgr, spec_.model.input), b = to_blob(mirrored, spec_.model.input);
  cv::Mat batch;
  cv::vconcat(a.reshape(1, 1), b.reshape(1, 1), batch);
  const int shape[] = {2, a.size[1], a.size[2], a.size[3]};
  net_.setInput(batch.reshape(1, 4, shape));
  const cv::Mat out = net_.forward();
  if (static_cast<int>(out.total()) != 2 * spec_.dim)
    throw ModelError("embedder " + spec_.model.path.string() + ": output has " + std::to_string(out.total() / 2) +
                     " values, the manifest says " + std::to_string(spec_.dim));
  const float* p = out.ptr<float>();
  std::vector<float> v(static_cast<std::size_t>(spec_.dim));
  double norm = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = p[i] + p[i + v.size()];
    norm += static_cast<double>(v[i]) * v[i];
  }
  norm = std::sqrt(norm);
  if (norm > 0)
    for (float& x : v) x = static_cast<float>(x / norm);
  return v;
}

}  // namespace gatetwin::recognizer::vision
