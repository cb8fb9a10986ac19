#include <cmath>

#include <opencv2/imgproc.hpp>

#include "gatetwin/recognizer/vision/stages.hpp"

namespace gatetwin::recognizer::vision {

std::string_view to_string(AcquireFailure f) {
  switch (f) {
    case AcquireFailure::none: return "none";
    case AcquireFailure::no_face: return "no_face";
    case AcquireFailure::too_small: return "too_small";
    case AcquireFailure::pose: return "pose";
    case AcquireFailure::blur: return "blur";
    case AcquireFailure::too_dark: return "too_dark";
    case AcquireFailure::too_bright: return "too_bright";
    case AcquireFailure::at_edge: return "at_edge";
  }
  return "?";
}

Quality assess_quality(const Landmarks& lm, const cv::Mat& aligned_bgr) {
  Quality q;
  const FivePoints f = lm.five();
  const cv::Point2f eyes = (f[0] + f[1]) * 0.5f;
  const cv::Point2f mouth = (f[3] + f[4]) * 0.5f;
  const cv::Point2f eye_vec = f[1] - f[0];
  const double iod = std::hypot(eye_vec.x, eye_vec.y);
  q.interocular_px = iod;
  q.roll_deg = std::atan2(eye_vec.y, eye_vec.x) * 180.0 / CV_PI;
  if (iod > 1e-3) {
    // Express the nose tip in the face's own frame (x along the eye line, y towards the mouth).
    const cv::Point2d ex(eye_vec.x / iod, eye_vec.y / iod), ey(-ex.y, ex.x);
    const cv::Point2d n(f[2].x - eyes.x, f[2].y - eyes.y), m(mouth.x - eyes.x, mouth.y - eyes.y);
    const double nx = n.x * ex.x + n.y * ex.y;
    // A frontal face has its nose tip midway between the eyes; turned by yaw it shifts by about
    // sin(yaw) times the nose's depth (~0.6 iod).
    q.yaw_deg = std::asin(std::clamp(nx / (0.6 * iod), -1.0, 1.0)) * 180.0 / CV_PI;
    const double ny = n.x * ey.x + n.y * ey.y, my = m.x * ey.x + m.y * ey.y;
    // Frontal: the nose tip sits ~0.55 of the way from the eye line to the mouth.
    if (my > 1e-3) q.pitch_deg = std::asin(std::clamp((ny / my - 0.55) / 0.45, -1.0, 1.0)) * 180.0 / CV_PI;
  }
  if (!aligned_bgr.empty()) {
    cv::Mat grey, lap;
    cv::cvtColor(aligned_bgr, grey, cv::COLOR_BGR2GRAY);
    cv::Laplacian(grey, lap, CV_32F);
    cv::Scalar mu, sd;
    cv::meanStdDev(lap, mu, sd);
    q.sharpness = sd[0] * sd[0];
    q.brightness = cv::mean(grey)[0];
  }
  return q;
}

AcquireFailure check_quality(const Quality& q, const QualityGate& g) {
  if (q.interocular_px < g.min_interocular_px) return AcquireFailure::too_small;
  if (std::abs(q.yaw_deg) > g.max_yaw_deg || std::abs(q.pitch_deg) > g.max_pitch_deg) return AcquireFailure::pose;
  if (q.brightness < g.min_brightness) return AcquireFailure::too_dark;
  if (q.brightness > g.max_brightness) return AcquireFailure::too_bright;
  if (q.sharpness < g.min_sharpness) return AcquireFailure::blur;
  return AcquireFailure::none;
}

}  // namespace gatetwin::recognizer::vision
