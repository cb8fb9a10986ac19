#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "gatetwin/recognizer/vision/stages.hpp"

namespace gatetwin::recognizer::vision {

FivePoints Landmarks::five() const {
  auto mean = [&](std::initializer_list<int> idx) {
    cv::Point2f s(0, 0);
    for (int i : idx) s += points[static_cast<std::size_t>(i)];
    return s * (1.0f / static_cast<float>(idx.size()));
  };
  // iBUG: 36-41 and 42-47 are the eye contours, 30 the nose tip, 48/54 the outer and 60/64 the inner
  // mouth corners.
  return {mean({36, 37, 38, 39, 40, 41}), mean({42, 43, 44, 45, 46, 47}), points[30], mean({48, 60}), mean({54, 64})};
}

float Landmarks::interocular() const {
  const auto f = five();
  return static_cast<float>(cv::norm(f[1] - f[0]));
}

cv::Rect crop_rect(const cv::Rect2f& box, double scale, cv::Size frame) {
  const double w = std::min<double>(box.width * scale, frame.width);
  const double h = std::min<double>(box.height * scale, frame.height);
  double x = box.x + box.width / 2.0 - w / 2.0, y = box.y + box.height / 2.0 - h / 2.0;
  x = std::clamp(x, 0.0, frame.width - w);
  y = std::clamp(y, 0.0, frame.height - h);
  cv::Rect r(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y)), std::max(1, static_cast<int>(std::lround(w))),
             std::max(1, static_cast<int>(std::lround(h))));
  return r & cv::Rect(0, 0, frame.width, frame.height);
}

LandmarkModel::LandmarkModel(const LandmarkSpec& spec, const std::string& fetch_command)
    : spec_(spec), net_(load_net(spec.model, fetch_command)) {}

Landmarks LandmarkModel::predict(const cv::Mat& bgr, const Detection& face) {
  Landmarks lm;
  const cv::Rect crop = crop_rect(face.square, spec_.crop_scale, bgr.size());
  if (crop.area() <= 0) return lm;
  net_.setInput(to_blob(bgr(crop), spec_.model.input));
  const cv::Mat out = net_.forward();
  if (out.total() < 2 * lm.points.size())
    throw ModelError("landmark model " + spec_.model.path.string() + ": expected 136 outputs");
  const float* p = out.ptr<float>();
  for (std::size_t i = 0; i < lm.points.size(); ++i)
    lm.points[i] = cv::Point2f(static_cast<float>(crop.x) + p[2 * i] * static_cast<float>(crop.width),
                               static_cast<float>(crop.y) + p[2 * i + 1] * static_cast<float>(crop.height));
  return lm;
}

}  // namespace gatetwin::recognizer::vision
