// Procedural synthetic faces: sampling identities and captures, and the public entry points. The drawing
// is in face_render_head.cpp (bare head), face_render_wear.cpp (hair, glasses, masks, hats),
// face_render_pose.cpp (lighting, projection, compositing) and face_render_camera.cpp (background, camera).
#include "gatetwin/sim/face_render.hpp"

#include <algorithm>
#include <array>
#include <numeric>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>

#include "face_render_internal.hpp"
#include "gatetwin/sim/random.hpp"

namespace gatetwin::sim::render {
namespace {

using detail::clamp01;
using detail::lerp;
using detail::mix;

// Quotas: persons come in blocks of k; within a block each of the k strata is used exactly once, in an
// order shuffled per block. Any k consecutive persons from a block boundary are exactly balanced, so a
// selection of the first n persons never piles up in one stratum.
int stratum(std::uint64_t seed, std::string_view attribute, std::uint32_t person, int k) {
  RandomStream r(seed, attribute, person / static_cast<std::uint32_t>(k));
  std::array<int, 32> perm{};
  std::iota(perm.begin(), perm.begin() + k, 0);
  for (int i = k - 1; i > 0; --i) std::swap(perm[static_cast<std::size_t>(i)], perm[r.below(static_cast<std::uint64_t>(i) + 1)]);
  return perm[person % static_cast<std::uint32_t>(k)];
}

bool equal_shares(const std::array<double, 6>& w) {
  return std::all_of(w.begin(), w.end(), [&](double v) { return v == w[0]; });
}

// Quotas by shares: blocks of 100 persons hold each stratum round(share * 100) times (largest remainders
// fill the block), in an order shuffled per block.
int weighted_stratum(std::uint64_t seed, std::string_view attribute, std::uint32_t person, const std::array<double, 6>& w) {
  constexpr int block = 100;
  double total = 0;
  for (double v : w) total += std::max(0.0, v);
  if (!(total > 0)) return 0;
  std::array<int, 6> count{};
  std::array<std::pair<double, int>, 6> rest{};
  int used = 0;
  for (int i = 0; i < 6; ++i) {
    const double exact = block * std::max(0.0, w[static_cast<std::size_t>(i)]) / total;
    count[static_cast<std::size_t>(i)] = static_cast<int>(exact);
    used += count[static_cast<std::size_t>(i)];
    rest[static_cast<std::size_t>(i)] = {-(exact - count[static_cast<std::size_t>(i)]), i};
  }
  std::sort(rest.begin(), rest.end());
  for (int k = 0; used < block; ++k, ++used) ++count[static_cast<std::size_t>(rest[static_cast<std::size_t>(k % 6)].second)];
  std::array<int, block> labels{};
  for (int i = 0, at = 0; i < 6; ++i)
    for (int c = 0; c < count[static_cast<std::size_t>(i)]; ++c) labels[static_cast<std::size_t>(at++)] = i;
  RandomStream r(seed, attribute, person / static_cast<std::uint32_t>(block));
  for (int i = block - 1; i > 0; --i) std::swap(labels[static_cast<std::size_t>(i)], labels[r.below(static_cast<std::uint64_t>(i) + 1)]);
  return labels[person % static_cast<std::uint32_t>(block)];
}

// A Latin-hypercube draw in [0, 1): the block's strata are shared out as above, the position within the
// stratum comes from the person's own stream.
double spread(std::uint64_t seed, std::string_view attribute, std::uint32_t person, RandomStream& own) {
  constexpr int k = 8;
  return (stratum(seed, attribute, person, k) + own.uniform()) / k;
}

// Spread of the shape warp's control points, IOD: its mirror-symmetric part across and down the face (less
// down: the named proportions already vary the heights of brows, eyes, nose and mouth, and a 2-D pose
// estimate reads an extreme nose-to-mouth ratio as a tilted head), and its asymmetric part.
constexpr double kWarpSymSd = 0.08, kWarpSymSdY = 0.05, kWarpAsymSd = 0.03, kWarpSd = 0.085;

cv::Vec3d jittered(const cv::Vec3d& c, RandomStream& r, double amount) {
  const double k = r.uniform(1 - amount, 1 + amount);
  return {std::clamp(c[0] * k * r.uniform(0.97, 1.03), 0.0, 255.0), std::clamp(c[1] * k, 0.0, 255.0),
          std::clamp(c[2] * k * r.uniform(0.97, 1.03), 0.0, 255.0)};
}

}  // namespace

Demographics Demographics::named(std::string_view name) {
  Demographics d;
  if (name == "balanced") return d;
  if (name == "beijing") {
    d.skin_tone = {0.14, 0.34, 0.32, 0.18, 0.01, 0.01};
    d.hair_colour = {0.72, 0.24, 0.03, 0.0, 0.005, 0.005};
    d.iris_colour = {0.78, 0.2, 0.01, 0.0, 0.005, 0.005};
    return d;
  }
  throw std::invalid_argument("unknown demographics '" + std::string(name) + "' (known: " + kNames + ")");
}

FaceIdentity sample_identity(std::uint64_t seed, std::uint32_t person, const Demographics& demographics) {
  RandomStream r(seed, "face.identity", person);
  FaceIdentity id;
  id.texture_seed = r.next_u64();
  auto s = [&](std::string_view attribute) { return spread(seed, attribute, person, r); };

  id.hair_style = stratum(seed, "face.quota.hair_style", person, 6);
  id.feminine = stratum(seed, "face.quota.sex", person, 2) == 1;
  if (id.hair_style == 3) id.feminine = false;  // bald
  if (id.hair_style == 4) id.feminine = true;   // bun
  id.skin_tone = equal_shares(demographics.skin_tone) ? stratum(seed, "face.quota.skin", person, 6)
                                                       : weighted_stratum(seed, "face.quota.skin", person, demographics.skin_tone);
  id.glasses = stratum(seed, "face.quota.glasses", person, 10) < 3;
  id.glasses_style = stratum(seed, "face.quota.glasses_style", person, 4);

  const double fem = id.feminine ? 1.0 : 0.0;
  id.face_width = lerp(1.8, 2.6, s("face.face_width")) - 0.06 * fem;
  id.face_length = lerp(2.2, 3.15, s("face.face_length"));
  id.jaw_squareness = s("face.jaw") * (1 - 0.35 * fem);
  id.chin_width = s("face.chin");
  id.cheekbone = s("face.cheekbone");
  id.eye_size = s("face.eye_size");
  id.eye_height = s("face.eye_height");
  id.eye_tilt = s("face.eye_tilt");
  id.brow_thickness = s("face.brow_thickness");
  id.brow_height = s("face.brow_height");
  id.brow_arch = s("face.brow_arch");
  id.nose_length = s("face.nose_length");
  id.nose_width = s("face.nose_width") * (1 - 0.2 * fem);
  id.nose_bridge = s("face.nose_bridge");
  id.mouth_width = s("face.mouth_width");
  id.lip_thickness = s("face.lip_thickness");
  id.mouth_height = s("face.mouth_height");
  id.ear_size = s("face.ear_size");
  id.forehead = s("face.forehead");
  id.asymmetry = 2 * s("face.asymmetry") - 1;
  id.age = s("face.age");
  if (id.hair_style == 3) id.age = std::max(id.age, 0.4);

  const std::array<cv::Vec3d, 6> skins{{{190, 210, 240}, {160, 190, 232}, {138, 172, 218},
                                                   {108, 143, 196}, {78, 108, 158}, {52, 72, 112}}};
  // Tone from the quota, then lightness and an undertone (olive/yellow .. pink) of the person's own.
  id.skin_bgr = jittered(skins[static_cast<std::size_t>(id.skin_tone)], r, 0.09);
  const double under = r.uniform(-1, 1);
  id.skin_bgr[0] = std::clamp(id.skin_bgr[0] * (1 - 0.07 * under), 0.0, 255.0);
  id.skin_bgr[2] = std::clamp(id.skin_bgr[2] * (1 + 0.04 * under), 0.0, 255.0);

  const std::array<cv::Vec3d, 6> hairs{{{20, 20, 24}, {28, 38, 56}, {42, 64, 98},
                                                   {35, 62, 140}, {95, 160, 205}, {62, 96, 140}}};
  const int hair_colour = equal_shares(demographics.hair_colour)
                              ? stratum(seed, "face.quota.hair_colour", person, 6)
                              : weighted_stratum(seed, "face.quota.hair_colour", person, demographics.hair_colour);
  cv::Vec3d hair = jittered(hairs[static_cast<std::size_t>(hair_colour)], r, 0.15);
  hair = mix(hair, {172, 174, 178}, clamp01((id.age - 0.55) / 0.4));  // greying
  id.hair_bgr = hair;

  const std::array<cv::Vec3d, 6> irises{{{30, 45, 70}, {35, 70, 110}, {50, 105, 120},
                                                    {80, 130, 80}, {170, 125, 75}, {140, 140, 130}}};
  const auto iris_draw = static_cast<int>(r.below(6));  // drawn either way: the draws after it stay in step
  const int iris = equal_shares(demographics.iris_colour)
                       ? iris_draw
                       : weighted_stratum(seed, "face.quota.iris", person, demographics.iris_colour);
  id.iris_bgr = jittered(irises[static_cast<std::size_t>(iris)], r, 0.1);
  id.lip_bgr = mix(id.skin_bgr, {95, 90, 195}, lerp(0.3, 0.45, r.uniform())) * 0.88;
  if (id.feminine && r.bernoulli(0.4)) id.lip_bgr = mix(id.lip_bgr, {70, 50, 185}, r.uniform(0.3, 0.7));

  id.beard = !id.feminine && r.bernoulli(0.35);
  id.moustache = !id.feminine && (id.beard || r.bernoulli(0.2));
  id.brow_sparse = s("face.brow_sparse");
  // Its own stream, so that the named parameters above do not depend on it.
  // Faces are nearly symmetric: the warp is a mirror-symmetric part plus a smaller asymmetric one.
  RandomStream w(seed, "face.identity.warp", person);
  constexpr int cols = FaceIdentity::kWarpCols, rows = FaceIdentity::kWarpRows;
  std::array<double, 2 * cols * rows> raw{};
  for (double& v : raw) v = std::clamp(w.normal(0, 1), -2.5, 2.5);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      const auto i = static_cast<std::size_t>(2 * (y * cols + x)), m = static_cast<std::size_t>(2 * (y * cols + cols - 1 - x));
      // Mirror: dx changes sign, dy keeps it. Each part has unit variance per control point.
      const double sym_x = (raw[i] - raw[m]) / 2, sym_y = (raw[i + 1] + raw[m + 1]) / 2;
      const double asym_x = (raw[i] + raw[m]) / 2, asym_y = (raw[i + 1] - raw[m + 1]) / 2;
      const double k_sym = x == cols / 2 ? 0.0 : std::sqrt(2.0);  // the middle column cannot move sideways symmetrically
      id.shape_warp[i] = static_cast<float>(kWarpSymSd * k_sym * sym_x + kWarpAsymSd * std::sqrt(2.0) * asym_x);
      id.shape_warp[i + 1] = static_cast<float>(kWarpSymSdY * std::sqrt(2.0) * sym_y + kWarpAsymSd * std::sqrt(2.0) * asym_y);
    }
  return id;
}

FaceIdentity lookalike_of(const FaceIdentity& base, double resemblance, std::uint64_t seed, const Demographics& demographics) {
  const double rho = clamp01(resemblance);
  RandomStream r(seed, "face.lookalike");
  // The unrelated end: someone from the population (any person index will do).
  const FaceIdentity other = sample_identity(r.next_u64(), static_cast<std::uint32_t>(r.below(1u << 30)), demographics);
  FaceIdentity t = base;
  const double twin = 0.025;  // identical twins still differ a little in every proportion
  auto unit = [&](double b, double o) { return clamp01(lerp(o, b, rho) + twin * r.normal(0, 1)); };
  auto span = [&](double b, double o, double range) { return lerp(o, b, rho) + twin * range * r.normal(0, 1); };
  auto keep = [&] { return r.uniform() < rho; };
  t.face_width = span(base.face_width, other.face_width, 0.65);
  t.face_length = span(base.face_length, other.face_length, 0.8);
  for (auto [b, o, out] : {std::tuple{base.jaw_squareness, other.jaw_squareness, &t.jaw_squareness},
                           std::tuple{base.chin_width, other.chin_width, &t.chin_width},
                           std::tuple{base.cheekbone, other.cheekbone, &t.cheekbone},
                           std::tuple{base.eye_size, other.eye_size, &t.eye_size},
                           std::tuple{base.eye_height, other.eye_height, &t.eye_height},
                           std::tuple{base.eye_tilt, other.eye_tilt, &t.eye_tilt},
                           std::tuple{base.brow_thickness, other.brow_thickness, &t.brow_thickness},
                           std::tuple{base.brow_height, other.brow_height, &t.brow_height},
                           std::tuple{base.brow_arch, other.brow_arch, &t.brow_arch},
                           std::tuple{base.nose_length, other.nose_length, &t.nose_length},
                           std::tuple{base.nose_width, other.nose_width, &t.nose_width},
                           std::tuple{base.mouth_width, other.mouth_width, &t.mouth_width},
                           std::tuple{base.lip_thickness, other.lip_thickness, &t.lip_thickness},
                           std::tuple{base.mouth_height, other.mouth_height, &t.mouth_height},
                           std::tuple{base.ear_size, other.ear_size, &t.ear_size},
                           std::tuple{base.age, other.age, &t.age},
                           std::tuple{base.nose_bridge, other.nose_bridge, &t.nose_bridge},
                           std::tuple{base.forehead, other.forehead, &t.forehead}})
    *out = unit(b, o);
  t.brow_sparse = unit(base.brow_sparse, other.brow_sparse);
  for (std::size_t i = 0; i < t.shape_warp.size(); ++i)
    t.shape_warp[i] = static_cast<float>(span(base.shape_warp[i], other.shape_warp[i], 2 * kWarpSd));
  t.asymmetry = std::clamp(span(base.asymmetry, other.asymmetry, 2.0), -1.0, 1.0);
  auto colour = [&](const cv::Vec3d& b, const cv::Vec3d& o) {
    const cv::Vec3d c = mix(o, b, rho);
    const double k = 1 + 0.02 * r.normal(0, 1);
    return cv::Vec3d(std::clamp(c[0] * k, 0.0, 255.0), std::clamp(c[1] * k, 0.0, 255.0), std::clamp(c[2] * k, 0.0, 255.0));
  };
  t.skin_bgr = colour(base.skin_bgr, other.skin_bgr);
  t.iris_bgr = colour(base.iris_bgr, other.iris_bgr);
  t.hair_bgr = colour(base.hair_bgr, other.hair_bgr);
  t.lip_bgr = colour(base.lip_bgr, other.lip_bgr);
  t.skin_tone = keep() ? base.skin_tone : other.skin_tone;
  t.feminine = keep() ? base.feminine : other.feminine;
  t.hair_style = keep() ? base.hair_style : other.hair_style;
  if (t.hair_style == 3) t.feminine = false;
  if (t.hair_style == 4) t.feminine = true;
  if (keep()) {
    t.glasses = base.glasses, t.glasses_style = base.glasses_style;
  } else {
    t.glasses = other.glasses, t.glasses_style = other.glasses_style;
  }
  t.beard = !t.feminine && (keep() ? base.beard : other.beard);
  t.moustache = !t.feminine && (t.beard || (keep() ? base.moustache : other.moustache));
  // Fine shape details and skin texture are shared as a whole or not at all; moles and freckles never.
  t.texture_seed = keep() ? base.texture_seed : other.texture_seed;
  t.marks_seed = r.next_u64() | 1;
  return t;
}

Capture sample_capture(std::uint64_t seed, std::uint32_t person, std::uint32_t capture, double nuisance) {
  RandomStream r(seed, "face.capture", (static_cast<std::uint64_t>(person) << 20) | capture);
  const double n = std::clamp(nuisance, 0.0, 2.0);
  Capture c;
  c.yaw_deg = n * std::clamp(r.normal(0, 10), -20.0, 20.0);
  c.pitch_deg = n * std::clamp(r.normal(0, 6), -12.0, 12.0);
  c.roll_deg = n * std::clamp(r.normal(0, 4), -8.0, 8.0);
  c.interocular_px = 64 + n * (r.uniform(45, 90) - 64);
  c.face_centre = {320 + n * r.uniform(-80, 80), 225 + n * r.uniform(-35, 35)};
  c.light_azimuth_deg = n * r.uniform(-70, 70);
  c.light_elevation_deg = 30 + n * r.uniform(-20, 30);
  c.light_strength = 0.5 + n * r.uniform(-0.2, 0.25);
  c.ambient = 0.55 + n * r.uniform(-0.15, 0.1);
  for (int ch = 0; ch < 3; ++ch) c.colour_cast[ch] = 1 + n * r.uniform(-0.08, 0.08);
  c.expression = r.bernoulli(0.35 * std::min(1.0, n)) ? r.uniform(0.2, 1.0) : 0.0;
  c.eyes_closed = r.bernoulli(0.02 * std::min(1.0, n)) ? 1.0 : 0.0;
  c.gaze_x = n * r.uniform(-0.5, 0.5);
  c.gaze_y = n * r.uniform(-0.3, 0.3);
  const double m = r.uniform(), f = r.uniform();
  c.motion_blur_px = n * 3 * m * m;  // mostly still, sometimes moving
  c.defocus_px = n * 1.2 * f * f;
  c.noise_sigma = 1 + n * r.uniform(0, 4);
  c.jpeg_quality = n > 0 ? static_cast<int>(std::lround(95 - n * r.uniform(0, 25))) : 0;
  c.hat = r.bernoulli(0.06 * std::min(1.0, n));
  c.hat_style = static_cast<int>(r.below(3));
  c.hat_colour = static_cast<int>(r.below(8));
  c.background_seed = r.next_u64();
  // The terminal's fill light, and auto-exposure bringing the face back to about the same brightness.
  const double fill = r.uniform(0.15, 0.4);
  const double scene = c.ambient + 0.9 * c.light_strength;
  const double exposure = scene / (scene + fill);
  c.ambient *= exposure, c.light_strength *= exposure;
  c.fill_light = fill * exposure;
  return c;
}

FaceTruth draw_face(cv::Mat& frame, const FaceIdentity& identity, const Capture& capture) {
  CV_Assert(frame.type() == CV_8UC3);
  const detail::Geometry g = detail::make_geometry(identity, capture);
  detail::Pose pose = detail::make_pose(capture);
  // The canvas is painted at about the frame's resolution (bounded for very small or very large faces).
  const double scale = std::clamp(pose.scale, 12.0, 48.0);
  const detail::HeadCanvas hc = detail::paint_head(identity, capture, g, scale);
  const detail::ShapeWarp warp = detail::shape_warp(hc, identity);
  pose.pivot = {0, 0, 0.5 * (hc.z_at(hc.z_face, {-0.5, 0}) + hc.z_at(hc.z_face, {0.5, 0}))};
  detail::draw_body(frame, g, pose, capture, identity);
  FaceTruth t;
  t.face_box = detail::composite(frame, hc, pose, capture, warp);
  auto at = [&](cv::Point2d painted) {  // where the painted point lands after the warp, at its painted height
    const cv::Point2d p = warp.moved(hc, painted);
    return pose.project({p.x, p.y, hc.z_at(hc.z_face, painted)});
  };
  t.five = {at({-0.5, 0}), at({0.5, 0}), at({g.nose_x, g.nose_tip_y}),
            at({g.mouth_x - g.mouth_half_w, g.mouth_y - g.corner_lift}),
            at({g.mouth_x + g.mouth_half_w, g.mouth_y - g.corner_lift})};
  t.interocular_px = cv::norm(t.five[1] - t.five[0]);
  t.mask = capture.wear == MaskWear::none ? MaskKind::none : capture.mask;
  t.wear = capture.mask == MaskKind::none ? MaskWear::none : capture.wear;
  return t;
}

Rendered render_face(const FaceIdentity& identity, const Capture& capture, cv::Size frame) {
  Rendered out;
  out.image = draw_background(capture.background_seed, frame);
  out.truth = draw_face(out.image, identity, capture);
  apply_camera(out.image, capture, capture.background_seed ^ 0xa0761d6478bd642fULL);
  return out;
}

}  // namespace gatetwin::sim::render
