#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "gatetwin/recognizer/vision/stages.hpp"

namespace gatetwin::recognizer::vision {

cv::dnn::Net load_net(const ModelFile& model, const std::string& fetch_command) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model.path, ec))
    throw ModelError("model file " + model.path.string() + " is missing; fix with: " + fetch_command);
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(model.path.string());
  } catch (const cv::Exception& e) {
    throw ModelError("model file " + model.path.string() + " cannot be loaded (" + e.err + "); fix with: " + fetch_command);
  }
  if (net.empty()) throw ModelError("model file " + model.path.string() + " is empty; fix with: " + fetch_command);
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

cv::Mat to_blob(const cv::Mat& bgr, const TensorInput& input) {
  CV_Assert(bgr.type() == CV_8UC3);
  const cv::Size size(input.width, input.height);
  if (input.colour == ColourOrder::grey) {
    cv::Mat grey, resized;
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    cv::resize(grey, resized, size, 0, 0, cv::INTER_LINEAR);
    return cv::dnn::blobFromImage(resized, input.scale, size, cv::Scalar(input.mean), false, false);
  }
  return cv::dnn::blobFromImage(bgr, input.scale, size, cv::Scalar(input.mean, input.mean, input.mean),
                                input.colour == ColourOrder::rgb, false);
}

double iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const double inter = (a & b).area();
  const double uni = static_cast<double>(a.area()) + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0;
}

std::vector<Detection> non_maximum_suppression(std::vector<Detection> c, double iou_threshold, int top_k) {
  std::stable_sort(c.begin(), c.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
  if (static_cast<int>(c.size()) > top_k) c.resize(static_cast<std::size_t>(top_k));
  std::vector<Detection> kept;
  std::vector<bool> gone(c.size(), false);
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (gone[i]) continue;
    kept.push_back(c[i]);
    for (std::size_t j = i + 1; j < c.size(); ++j)
      if (!gone[j] && iou(c[i].box, c[j].box) > iou_threshold) gone[j] = true;
  }
  return kept;
}

FaceDetector::FaceDetector(const DetectorSpec& spec, const std::string& fetch_command)
    : spec_(spec), net_(load_net(spec.model, fetch_command)), outputs_{spec.scores_output, spec.boxes_output} {}

std::vector<Detection> FaceDetector::detect(const cv::Mat& bgr) {
  if (bgr.empty()) return {};
  net_.setInput(to_blob(bgr, spec_.model.input));
  std::vector<cv::Mat> out;
  net_.forward(out, outputs_);
  const cv::Mat& scores = out[0];
  const cv::Mat& boxes = out[1];
  // Both are 1 x N x C; read them as N rows.
  const int n = static_cast<int>(scores.total() / 2);
  if (n <= 0 || static_cast<int>(boxes.total()) != n * 4)
    throw ModelError("detector " + spec_.model.path.string() + ": unexpected output shapes");
  const float* s = scores.ptr<float>();
  const float* b = boxes.ptr<float>();
  const float w = static_cast<float>(bgr.cols), h = static_cast<float>(bgr.rows);
  const float threshold = static_cast<float>(spec_.score_threshold);
  std::vector<Detection> candidates;
  for (int i = 0; i < n; ++i) {
    const float score = s[2 * i + spec_.face_class];
    if (!(score >= threshold)) continue;
    const float x1 = std::clamp(b[4 * i + 0], -0.5f, 1.5f) * w, y1 = std::clamp(b[4 * i + 1], -0.5f, 1.5f) * h;
    const float x2 = std::clamp(b[4 * i + 2], -0.5f, 1.5f) * w, y2 = std::clamp(b[4 * i + 3], -0.5f, 1.5f) * h;
    if (!(x2 > x1 && y2 > y1)) continue;
    Detection d;
    d.box = cv::Rect2f(x1, y1, x2 - x1, y2 - y1);
    d.score = score;
    candidates.push_back(d);
  }
  auto kept = non_maximum_suppression(std::move(candidates), spec_.nms_iou, spec_.top_k);
  for (auto& d : kept) {
    const float side = d.box.height;
    const float cx = d.box.x + d.box.width / 2;
    d.square = cv::Rect2f(cx - side / 2, d.box.y, side, side);
  }
  return kept;
}

}  // namespace gatetwin::recognizer::vision
