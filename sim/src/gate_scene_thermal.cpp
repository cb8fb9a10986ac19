// The thermal array's view of a gate scene. The temperature of what each visible pixel sees is painted at
// `oversample` times the array's resolution, far to near, from the frame's truth (eye centres, size, pose,
// mask, hat, glasses), then each thermal pixel is the area average of its footprint plus sensor noise. The
// head model is in units of the inter-ocular distance (IOD) from the point between the eyes, x along the eye
// line, y down; its proportions follow the renderer's nominal head (hairline -1.05, brows -0.4, nose tip
// 0.72, mouth 1.12, chin 1.8, shoulders ±2.6 below chin + 0.7).
#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "gatetwin/sim/gate_scene.hpp"
#include "gatetwin/sim/random.hpp"

namespace gatetwin::sim::scene {
namespace {

constexpr double kPi = 3.14159265358979323846;
using Poly = std::vector<cv::Point2d>;

Poly ellipse(double cx, double cy, double ax, double ay, int n = 28) {
  Poly p;
  for (int i = 0; i < n; ++i) {
    const double a = 2 * kPi * i / n;
    p.emplace_back(cx + ax * std::cos(a), cy + ay * std::sin(a));
  }
  return p;
}
Poly rect(double x0, double y0, double x1, double y1) { return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}; }

// Face-local (IOD units) to oversampled thermal pixels.
struct Frame2 {
  cv::Point2d mid, ex, ey;  // eye midpoint (visible px) and the local axes scaled to px
  double k = 1;             // visible px -> oversampled thermal px
  cv::Point2d to_px(cv::Point2d q) const {
    const cv::Point2d v = mid + q.x * ex + q.y * ey;
    return {(v.x + 0.5) * k - 0.5, (v.y + 0.5) * k - 0.5};
  }
};

void paint(cv::Mat1f& img, const Frame2& f, const Poly& poly, double value) {
  constexpr int shift = 4;
  std::vector<std::vector<cv::Point>> q(1);
  for (const auto& p : poly) {
    const cv::Point2d px = f.to_px(p);
    q[0].emplace_back(static_cast<int>(std::lround(px.x * (1 << shift))), static_cast<int>(std::lround(px.y * (1 << shift))));
  }
  cv::fillPoly(img, q, cv::Scalar(value), cv::LINE_8, shift);
}

}  // namespace

recognizer::ArraySensorCalibration thermal_calibration(const CameraModel& camera, const ThermalSpec& spec) {
  recognizer::ArraySensorCalibration c;
  c.width = spec.width;
  c.height = spec.height;
  const double sx = static_cast<double>(spec.width) / camera.frame.width;
  const double sy = static_cast<double>(spec.height) / camera.frame.height;
  c.visible_to_thermal = recognizer::Affine2x3::scale_offset(sx, sy, 0.5 * sx - 0.5, 0.5 * sy - 0.5);
  return c;
}

recognizer::ThermalFrame thermal_frame(const LaneSpec& lane, std::span<const Actor> actors, const SceneFrame& frame,
                                       const ThermalSpec& spec) {
  recognizer::ThermalFrame out;
  out.width = spec.width;
  out.height = spec.height;
  out.time = recognizer::Micros{frame.t_us};
  const int os = std::max(1, spec.oversample);
  const double amb = lane.ambient_c;
  cv::Mat1f img(spec.height * os, spec.width * os, static_cast<float>(amb));
  const double k = static_cast<double>(spec.width * os) / lane.camera.frame.width;

  std::vector<const ActorInFrame*> order;
  for (const auto& a : frame.actors)
    if (a.drawn && a.actor < actors.size()) order.push_back(&a);
  std::stable_sort(order.begin(), order.end(), [](auto* l, auto* r) { return l->distance_m > r->distance_m; });

  for (const ActorInFrame* a : order) {
    const Actor& actor = actors[a->actor];
    const render::FaceTruth& t = a->face;
    const render::Capture& c = a->capture;
    const double skin = actor.skin_c;
    auto rise = [&](double share) { return amb + share * (skin - amb); };
    Frame2 f;
    f.k = k;
    f.mid = 0.5 * (t.five[0] + t.five[1]);
    cv::Point2d eye = t.five[1] - t.five[0];
    const double iod_seen = cv::norm(eye);
    const double iod = std::max(1.0, c.interocular_px);
    eye = iod_seen > 1e-6 ? eye / iod_seen : cv::Point2d(1, 0);
    f.ex = eye * std::max(iod_seen, 0.3 * iod);  // foreshortened by yaw
    f.ey = cv::Point2d(-eye.y, eye.x) * iod;
    // Shoulders and torso (clothing), neck, then the head: skull (hair), face, warm and cool zones.
    Poly torso;
    for (int i = 0; i <= 12; ++i) {
      const double s = -1 + 2.0 * i / 12;
      torso.emplace_back(2.6 * s, 2.6 + 0.35 * s * s + (std::abs(s) > 0.85 ? (std::abs(s) - 0.85) * 2.5 : 0));
    }
    torso.emplace_back(3.0, 14.0);
    torso.emplace_back(-3.0, 14.0);
    paint(img, f, torso, rise(spec.clothing_rise));
    paint(img, f, rect(-0.62, 1.2, 0.62, 2.9), skin - 1.2);  // neck
    const bool bald = actor.identity.hair_style == 3;
    paint(img, f, ellipse(0, -0.55, 1.12, 1.5), bald ? skin - 0.8 : rise(spec.hair_rise));
    Poly face = ellipse(0, 0.35, 1.0, 1.45);  // brow ridge to chin, cheek to cheek
    paint(img, f, face, skin - 1.1);           // cheeks, jaw
    paint(img, f, rect(-0.85, bald ? -1.6 : -1.0, 0.85, -0.15), skin);  // forehead
    paint(img, f, rect(-0.32, -0.4, 0.32, 0.3), skin);   // glabella, inner canthi, top of the nasal bridge
    paint(img, f, ellipse(-0.55, 0.0, 0.2, 0.09), skin - 0.6);  // eyes (the lateral parts are cooler)
    paint(img, f, ellipse(0.55, 0.0, 0.2, 0.09), skin - 0.6);
    // The nose tip (from the landmark, so yaw moves it) and the mouth and chin.
    const cv::Point2d nose_local = [&] {
      const cv::Point2d d = t.five[2] - f.mid;
      return cv::Point2d(d.dot(f.ex) / std::max(1e-9, f.ex.dot(f.ex)), d.dot(f.ey) / std::max(1e-9, f.ey.dot(f.ey)));
    }();
    paint(img, f, ellipse(0, 1.2, 0.55, 0.45), skin - 0.9);
    paint(img, f, ellipse(nose_local.x, nose_local.y - 0.05, 0.2, 0.2), skin - 2.0);
    if (actor.identity.hair_style == 5) paint(img, f, rect(-0.9, -1.1, 0.9, -0.55), rise(spec.hair_rise));  // fringe
    if (actor.identity.glasses) {
      const double g = rise(0.2);  // glass is opaque in the long-wave infrared: the lenses show a cool reflection
      paint(img, f, ellipse(-0.52, 0.02, 0.32, 0.22), g);
      paint(img, f, ellipse(0.52, 0.02, 0.32, 0.22), g);
    }
    if (t.mask != render::MaskKind::none) {
      const double top = t.wear == render::MaskWear::proper ? 0.3 : t.wear == render::MaskWear::below_nose ? 0.85 : 1.4;
      const double share = t.mask == render::MaskKind::n95 ? spec.mask_rise - 0.1 : spec.mask_rise;
      Poly m{{-1.05, top}, {1.05, top}, {0.95, 1.6}, {0.45, 2.0}, {-0.45, 2.0}, {-0.95, 1.6}};
      paint(img, f, m, rise(share));
    }
    if (c.hat) paint(img, f, rect(-1.25, -2.3, 1.25, -0.95), rise(spec.hat_rise));
  }

  cv::Mat1f small;
  cv::resize(img, small, {spec.width, spec.height}, 0, 0, cv::INTER_AREA);
  RandomStream noise(RandomStream(lane.seed, "scene.passage", lane.passage).next_u64(), "scene.thermal",
                     static_cast<std::uint64_t>(frame.index));
  out.celsius.resize(static_cast<std::size_t>(spec.width) * static_cast<std::size_t>(spec.height));
  for (int v = 0; v < spec.height; ++v)
    for (int u = 0; u < spec.width; ++u)
      out.celsius[static_cast<std::size_t>(v * spec.width + u)] =
          small(v, u) + (spec.noise_c > 0 ? noise.normal(0, spec.noise_c) : 0.0);
  return out;
}

cv::Mat thermal_false_colour(const recognizer::ThermalFrame& frame, int scale, double lo_c, double hi_c) {
  if (frame.width <= 0 || frame.height <= 0 ||
      frame.celsius.size() != static_cast<std::size_t>(frame.width) * static_cast<std::size_t>(frame.height))
    return {};
  cv::Mat1b grey(frame.height, frame.width);
  cv::Mat1b dead(frame.height, frame.width, std::uint8_t{0});
  for (int v = 0; v < frame.height; ++v)
    for (int u = 0; u < frame.width; ++u) {
      const double c = frame.celsius[static_cast<std::size_t>(v * frame.width + u)];
      if (!std::isfinite(c)) dead(v, u) = 255;
      grey(v, u) = cv::saturate_cast<std::uint8_t>(255.0 * (c - lo_c) / std::max(1e-6, hi_c - lo_c));
    }
  cv::Mat colour;
  cv::applyColorMap(grey, colour, cv::COLORMAP_INFERNO);
  colour.setTo(cv::Scalar(255, 255, 0), dead);
  cv::Mat big;
  cv::resize(colour, big, {}, std::max(1, scale), std::max(1, scale), cv::INTER_NEAREST);
  return big;
}

recognizer::FaceObservation observe(const render::FaceTruth& face) {
  recognizer::FaceObservation o;
  o.box = {face.face_box.x, face.face_box.y, face.face_box.width, face.face_box.height};
  o.interocular_px = face.interocular_px;
  const cv::Point2d d = face.five[1] - face.five[0];
  const cv::Point2d l = face.five[0] + 0.2 * d, r = face.five[1] - 0.2 * d;
  o.inner_canthus_left = recognizer::Point{l.x, l.y};
  o.inner_canthus_right = recognizer::Point{r.x, r.y};
  return o;
}

}  // namespace gatetwin::sim::scene
