#include <algorithm>
#include <cmath>
#include <vector>

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
  cv::Matx23d m = similarity_transform(five, spec.template_points);
  const cv::Size size(spec.model.input.width, spec.model.input.height);
  const double scale = std::hypot(m(0, 0), m(1, 0));
  cv::Mat src = bgr;
  if (scale < 0.8 && !bgr.empty()) {
    // Shrinking a large face by point sampling aliases (hair and skin texture turn into moire that changes
    // with every pose): area-average the face's region down to about the crop's scale first, then warp.
    cv::Matx23d inv;
    cv::invertAffineTransform(m, inv);
    std::vector<cv::Point2f> corners;
    for (const auto& c : {cv::Point2d(0, 0), cv::Point2d(size.width, 0), cv::Point2d(0, size.height), cv::Point2d(size.width, size.height)})
      corners.emplace_back(static_cast<float>(inv(0, 0) * c.x + inv(0, 1) * c.y + inv(0, 2)),
                           static_cast<float>(inv(1, 0) * c.x + inv(1, 1) * c.y + inv(1, 2)));
    const cv::Rect roi = (cv::boundingRect(corners) + cv::Size(2, 2)) & cv::Rect(0, 0, bgr.cols, bgr.rows);
    if (roi.width > 1 && roi.height > 1) {
      const cv::Size small(std::max(1, static_cast<int>(std::lround(roi.width * scale))),
                           std::max(1, static_cast<int>(std::lround(roi.height * scale))));
      cv::resize(bgr(roi), src, small, 0, 0, cv::INTER_AREA);
      // Pixel q of the shrunk region averages the frame around p = roi.tl + (q + 0.5) / k - 0.5 (pixel
      // centres): fold that into the transform.
      const double kx = static_cast<double>(small.width) / roi.width, ky = static_cast<double>(small.height) / roi.height;
      const double ox = roi.x + 0.5 / kx - 0.5, oy = roi.y + 0.5 / ky - 0.5;
      const cv::Matx23d n(m(0, 0) / kx, m(0, 1) / ky, m(0, 0) * ox + m(0, 1) * oy + m(0, 2),
                          m(1, 0) / kx, m(1, 1) / ky, m(1, 0) * ox + m(1, 1) * oy + m(1, 2));
      m = n;
    }
  }
  cv::Mat out;
  cv::warpAffine(src, out, cv::Mat(m), size, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

}  // namespace gatetwin::recognizer::vision
