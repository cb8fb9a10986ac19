// The gate lane as the camera sees it: actors' motion (walk, brake, dwell; tailgater and neighbour), head
// pose wander, per-frame captures and the painter's-order drawing through the renderer's public API. The
// thermal view is in gate_scene_thermal.cpp.
#include "gatetwin/sim/gate_scene.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include <opencv2/imgproc.hpp>

#include "gatetwin/sim/random.hpp"

namespace gatetwin::sim::scene {
namespace {

constexpr double kPi = 3.14159265358979323846;
double deg(double rad) { return rad * 180.0 / kPi; }
double smoothstep(double e0, double e1, double x) {
  const double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}

// The face and shoulders of a head with inter-ocular `iod` px centred at `c`, generously (IOD units from
// the eye midpoint: skull top -2.2, shoulders ±3.2, down to the frame's bottom).
cv::Rect2d body_extent(cv::Point2d c, double iod, int frame_h) {
  const double top = c.y - 2.3 * iod;
  return {c.x - 3.3 * iod, top, 6.6 * iod, std::max(0.0, frame_h - top)};
}

double visible_share(const cv::Rect2d& box, cv::Size frame) {
  if (box.area() <= 0) return 0;
  return (box & cv::Rect2d(0, 0, frame.width, frame.height)).area() / box.area();
}

}  // namespace

std::string_view to_string(Role role) {
  switch (role) {
    case Role::subject: return "subject";
    case Role::behind: return "behind";
    case Role::adjacent: return "adjacent";
  }
  return "?";
}

Actor make_actor(const LaneSpec& spec, std::uint32_t person, Role role) {
  RandomStream r(spec.seed, "scene.actor", (static_cast<std::uint64_t>(person) << 2) | static_cast<std::uint64_t>(role));
  Actor a;
  a.person = person;
  a.role = role;
  a.identity = render::sample_identity(spec.seed, person, spec.demographics);
  // Adult eye heights (standing): women a little lower than men.
  a.eye_height_m = std::clamp(r.normal(a.identity.feminine ? 1.50 : 1.60, 0.06), 1.35, 1.80);
  a.iod_m = std::clamp(r.normal(a.identity.feminine ? 0.0617 : 0.064, 0.0035), 0.054, 0.074);
  a.skin_c = std::clamp(r.normal(36.3, 0.25), 35.3, 37.2);
  a.look.expression = r.bernoulli(0.25) ? r.uniform(0.2, 0.8) : 0.0;
  a.look.mask_colour = static_cast<int>(r.below(4));
  const double side = r.bernoulli(0.5) ? 1.0 : -1.0;
  switch (role) {
    case Role::subject: a.lateral_m = r.uniform(-0.06, 0.06); break;
    case Role::behind:
      a.gap_m = r.uniform(0.7, 1.1);
      a.lateral_m = side * r.uniform(0.12, 0.28);
      break;
    case Role::adjacent:
      a.gap_m = r.uniform(0.3, 1.0);
      a.lateral_m = side * spec.lane_width_m + r.uniform(-0.08, 0.08);
      a.speed_factor = r.uniform(0.8, 1.15);
      break;
  }
  return a;
}

Approach::Approach(const LaneSpec& spec, std::vector<Actor> actors) : spec_(spec), actors_(std::move(actors)) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("gate scene: " + what); };
  if (!(spec_.camera.fps > 0) || spec_.camera.frame.width <= 0 || spec_.camera.frame.height <= 0)
    bad("camera fps and frame size must be positive");
  if (!(spec_.start_distance_m > 0.2) || !(spec_.stop_distance_m > 0.2)) bad("distances must exceed 0.2 m");
  if (!(spec_.walk_speed_mps > 0.05) || !(spec_.brake_m >= 0) || !(spec_.dwell_s >= 0) || !(spec_.exposure_s >= 0))
    bad("walk speed must exceed 0.05 m/s; brake, dwell and exposure must not be negative");
  for (std::size_t i = 0; i < actors_.size(); ++i)
    if (actors_[i].role == Role::subject && subject_ < 0) subject_ = static_cast<int>(i);

  passage_seed_ = RandomStream(spec_.seed, "scene.passage", spec_.passage).next_u64();
  RandomStream light(passage_seed_, "scene.light");
  base_ = render::sample_capture(light.next_u64(), 0, 0, spec_.nuisance);
  background_seed_ = light.next_u64();

  for (std::size_t i = 0; i < actors_.size(); ++i) {
    RandomStream r(passage_seed_, "scene.wander", (static_cast<std::uint64_t>(actors_[i].person) << 8) | i);
    const double n = std::clamp(spec_.nuisance, 0.0, 2.0);
    Wander w{};
    for (int k = 0; k < 2; ++k) {
      w.yaw_amp[k] = n * (k == 0 ? r.uniform(6, 20) : r.uniform(1, 5));
      w.yaw_hz[k] = k == 0 ? r.uniform(0.12, 0.35) : r.uniform(0.6, 1.2);
      w.yaw_phase[k] = r.uniform(0, 2 * kPi);
    }
    w.pitch_amp = n * r.uniform(2, 7);
    w.pitch_hz = r.uniform(0.15, 0.5);
    w.pitch_phase = r.uniform(0, 2 * kPi);
    w.pitch_bias = -n * r.uniform(0, 10);  // walking people look a little down
    w.roll_amp = n * r.uniform(0, 4);
    w.roll_hz = r.uniform(0.2, 0.6);
    w.roll_phase = r.uniform(0, 2 * kPi);
    w.bob_phase = r.uniform(0, 2 * kPi);
    w.attention_far_m = spec_.stop_distance_m + r.uniform(0.6, 1.6);  // starts looking at the screen
    w.clothing_seed = r.next_u64();
    wander_.push_back(w);
  }

  const double walk = std::max(0.0, spec_.start_distance_m - spec_.stop_distance_m);
  const double b = std::min(spec_.brake_m, walk);
  const double total_s = (walk - b) / spec_.walk_speed_mps + 2 * b / spec_.walk_speed_mps + spec_.dwell_s;
  frames_ = static_cast<int>(std::floor(total_s * spec_.camera.fps + 1e-9)) + 1;
}

double Approach::subject_distance_m(double t) const {
  const double v = spec_.walk_speed_mps;
  const double walk = std::max(0.0, spec_.start_distance_m - spec_.stop_distance_m);
  const double b = std::min(spec_.brake_m, walk);
  const double t_cruise = (walk - b) / v;
  if (t <= t_cruise) return spec_.start_distance_m - v * std::max(0.0, t);
  if (b <= 0) return spec_.stop_distance_m;
  const double a = v * v / (2 * b), s = std::min(t - t_cruise, v / a);
  return spec_.stop_distance_m + b - (v * s - 0.5 * a * s * s);
}

Approach::Place Approach::place(std::size_t i, double t) const {
  const Actor& a = actors_[i];
  const double zs = subject_distance_m(t);
  const double walk = std::max(1e-9, spec_.start_distance_m - spec_.stop_distance_m);
  const double progress = std::clamp((spec_.start_distance_m - zs) / walk, 0.0, 1.0);
  double z = zs;
  bool walking = t < (walk / spec_.walk_speed_mps);
  switch (a.role) {
    case Role::subject: break;
    case Role::behind: z = zs + a.gap_m * (1 - 0.4 * progress); break;  // closes in as the subject stops
    case Role::adjacent: {
      const double v = spec_.walk_speed_mps * a.speed_factor;
      z = std::max(spec_.stop_distance_m, spec_.start_distance_m + a.gap_m - v * t);
      walking = z > spec_.stop_distance_m;
      break;
    }
  }
  // A walking head bobs about 2 cm twice a stride (about 1.8 steps per second).
  const double bob = walking ? 0.02 * std::sin(2 * kPi * 1.8 * t + wander_[i].bob_phase) : 0.0;
  return {a.lateral_m, a.eye_height_m + bob, z};
}

render::Capture Approach::capture_at(std::size_t i, double t) const {
  const Actor& a = actors_[i];
  const Wander& w = wander_[i];
  const Place p = place(i, t);
  render::Capture c = base_;
  // What the person wears and how they look comes from the actor.
  c.mask = a.look.mask;
  c.wear = a.look.wear;
  c.mask_colour = a.look.mask_colour;
  c.hat = a.look.hat;
  c.hat_style = a.look.hat_style;
  c.hat_colour = a.look.hat_colour;
  c.expression = a.look.expression;
  c.eyes_closed = a.look.eyes_closed;
  c.background_seed = w.clothing_seed;  // the renderer takes the clothing from it; the scene draws the background
  c.motion_blur_px = 0;                  // applied per actor by the scene
  c.interocular_px = spec_.camera.interocular_px(p.z, a.iod_m);
  c.face_centre = spec_.camera.project(p.x, p.y, p.z);
  // Apparent pose: a head facing down the lane is seen turned by the viewing angle; one looking at the
  // screen is frontal. Attention to the screen grows as the subject nears the terminal; others look around.
  const double view_yaw = deg(std::atan2(p.x, p.z));
  const double view_pitch = deg(std::atan2(p.y - spec_.camera.height_m, p.z));
  const double att = a.role == Role::subject ? smoothstep(w.attention_far_m, spec_.stop_distance_m + 0.25, p.z) : 0.0;
  double yaw = view_yaw, pitch = view_pitch + w.pitch_bias, roll = 0;
  for (int k = 0; k < 2; ++k) yaw += w.yaw_amp[k] * std::sin(2 * kPi * w.yaw_hz[k] * t + w.yaw_phase[k]);
  pitch += w.pitch_amp * std::sin(2 * kPi * w.pitch_hz * t + w.pitch_phase);
  roll += w.roll_amp * std::sin(2 * kPi * w.roll_hz * t + w.roll_phase);
  const double settle = 0.15;  // residual head motion while looking at the screen
  c.yaw_deg = std::clamp((1 - att) * yaw + att * settle * (yaw - view_yaw), -60.0, 60.0);
  c.pitch_deg = std::clamp((1 - att) * pitch + att * settle * (pitch - view_pitch - w.pitch_bias), -35.0, 35.0);
  c.roll_deg = std::clamp((1 - 0.6 * att) * roll, -15.0, 15.0);
  c.gaze_x = att > 0.5 ? 0.0 : a.look.gaze_x;
  c.gaze_y = att > 0.5 ? 0.0 : a.look.gaze_y;
  // Motion blur: how far the face's outline moves in the image during the exposure.
  if (spec_.exposure_s > 0) {
    const Place q = place(i, t + spec_.exposure_s);
    const cv::Point2d c1 = spec_.camera.project(q.x, q.y, q.z);
    const double iod1 = spec_.camera.interocular_px(q.z, a.iod_m);
    c.motion_blur_px = cv::norm(c1 - c.face_centre) + 1.5 * std::abs(iod1 - c.interocular_px);
  }
  return c;
}

void Approach::fill_truth(int index, SceneFrame& out) const {
  const double t = index / spec_.camera.fps;
  out.index = index;
  out.t_us = std::llround(index * 1e6 / spec_.camera.fps);
  out.actors.clear();
  for (std::size_t i = 0; i < actors_.size(); ++i) {
    ActorInFrame f;
    f.actor = i;
    f.person = actors_[i].person;
    f.role = actors_[i].role;
    const Place p = place(i, t);
    f.distance_m = p.z;
    f.lateral_m = p.x;
    f.capture = capture_at(i, t);
    out.actors.push_back(f);
  }
}

bool Approach::next_truth_only(SceneFrame& out) {
  if (next_index_ >= frames_) return false;
  fill_truth(next_index_++, out);
  out.image.release();
  return true;
}

bool Approach::next(SceneFrame& out) {
  if (next_index_ >= frames_) return false;
  const int index = next_index_++;
  fill_truth(index, out);
  const cv::Size size = spec_.camera.frame;
  if (background_.empty()) background_ = render::draw_background(background_seed_, size);
  out.image = background_.clone();
  // Painter's order: the farthest first.
  std::vector<std::size_t> order(out.actors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t l, std::size_t r) { return out.actors[l].distance_m > out.actors[r].distance_m; });
  const cv::Rect frame_rect(0, 0, size.width, size.height);
  for (const std::size_t k : order) {
    ActorInFrame& f = out.actors[k];
    const render::Capture& c = f.capture;
    const cv::Rect2d extent = body_extent(c.face_centre, c.interocular_px, size.height);
    const cv::Rect roi = cv::Rect(cv::Point(static_cast<int>(std::floor(extent.x)), static_cast<int>(std::floor(extent.y))),
                                  cv::Point(static_cast<int>(std::ceil(extent.br().x)), static_cast<int>(std::ceil(extent.br().y)))) &
                         frame_rect;
    if (roi.empty() || f.distance_m <= 0.05) continue;
    const bool blur = c.motion_blur_px > 0.6;
    cv::Mat before;
    if (blur) before = out.image(roi).clone();
    f.face = render::draw_face(out.image, actors_[f.actor].identity, c);
    f.drawn = true;
    f.in_view = visible_share(f.face.face_box, size) >= 0.5;
    if (blur) {
      // Blur the actor only (the camera and the walls stand still): box-blur the region and keep the result
      // where the actor changed pixels, widened by the kernel so the smeared edge shows.
      cv::Mat region = out.image(roi), blurred, diff, mask;
      const int len = std::max(1, static_cast<int>(std::lround(c.motion_blur_px)));
      cv::blur(region, blurred, {len, len}, {-1, -1}, cv::BORDER_REFLECT);
      cv::absdiff(before, region, diff);
      cv::cvtColor(diff, mask, cv::COLOR_BGR2GRAY);
      cv::threshold(mask, mask, 0, 255, cv::THRESH_BINARY);
      cv::dilate(mask, mask, cv::getStructuringElement(cv::MORPH_RECT, {len, len}));
      blurred.copyTo(region, mask);
    }
  }
  render::Capture cam = base_;
  cam.motion_blur_px = 0;
  render::apply_camera(out.image, cam, passage_seed_ ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(index + 1)));
  ++rendered_;
  return true;
}

}  // namespace gatetwin::sim::scene
