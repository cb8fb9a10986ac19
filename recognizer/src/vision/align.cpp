#include <cmath>

#include <opencv2/imgproc.hpp>

#include "gatetwin/recognizer/vision/stages.hpp"

namespace gatetwin::recognizer::vision {

cv::Matx23d similarity_transform(const FivePoints& from, const std::array<std::array<double, 2>, 5>& to) {
  // Umeyama (1991) for 2-D: centre both point sets, the rotation and scale come from the cross terms.
  double mx = 0, my = 0, ux = 0, uy = 0;
  for (std::size_t i = 0; i < 5; ++i) {
    mx += from[i].x, my += from[i].y;
    ux += to[i][0], uy += to[i][1];
  }
  mx /= 5, my /= 5, ux /= 5, uy /= 5;
  double a = 0, b = 0, var = 0;
  for (std::size_t i = 0; i < 5; ++i) {
    const double x = from[i].x - mx, y = from[i].y - my;
    const double u = to[i][0] - ux, v = to[i][1] - uy;
    a += x * u + y * v;
    b += x * v - y * u;
    var += x * x + y * y;
  }
  if (var <= 1e-12) return cv::Matx23d(1, 0, ux - mx, 0, 1, uy - my);
  const double c = a / var, s = b / var;  // scale * cos, scale * sin
  return cv::Matx23d(c, -s, ux - (c * mx - s * my), s, c, uy - (s * mx + c * my));
}

cv::Mat align_face(const cv::Mat& bgr, const FivePoints& five, const EmbedderSpec& spec) {
  const cv::Matx23d m = similarity_transform(five, spec.template_points);
  cv::Mat out;
  cv::warpAffine(bgr, out, cv::Mat(m), cv::Size(spec.model.input.width, spec.model.input.height), cv::INTER_LINEAR,
                 cv::BORDER_REPLICATE);
  return out;
}

}  // namespace gatetwin::recognizer::vision
