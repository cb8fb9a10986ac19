// The bare head painted frontally: face outline and proportions from the identity, the height map
// (skull, face dome, bumps for brows, eye sockets, nose, cheeks, lips, chin), skin with an identity-fixed
// texture, eyes, brows, nose, lips, ears, wrinkles, beard. Hair and wearables are in face_render_wear.cpp.
#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "face_render_internal.hpp"
#include "gatetwin/sim/random.hpp"

namespace gatetwin::sim::render::detail {

double Geometry::half_width(double y) const {
  double best = 0;
  const std::size_t n = outline.size();
  for (std::size_t i = 0; i < n; ++i) {
    const cv::Point2d& a = outline[i];
    const cv::Point2d& b = outline[(i + 1) % n];
    if ((a.y <= y && b.y > y) || (b.y <= y && a.y > y)) {
      const double x = a.x + (b.x - a.x) * (y - a.y) / (b.y - a.y);
      best = std::max(best, std::abs(x));
    }
  }
  return best;
}

Geometry make_geometry(const FaceIdentity& id, const Capture& c) {
  Geometry g;
  const double smile = clamp01(c.expression);
  const double fem = id.feminine ? 1.0 : 0.0;
  g.eye_half_w = lerp(0.17, 0.31, id.eye_size);
  g.eye_up = g.eye_half_w * lerp(0.36, 0.5, id.eye_size);
  g.eye_down = g.eye_up * 0.72;
  g.eye_tilt = lerp(-0.12, 0.25, id.eye_tilt);
  g.iris_r = lerp(0.085, 0.097, id.eye_size);
  g.eye_open = clamp01(1 - c.eyes_closed) * (1 - 0.2 * smile);

  const double brow = -lerp(0.2, 0.4, id.brow_height);
  g.brow_y = {brow - 0.035 * id.asymmetry, brow + 0.035 * id.asymmetry};
  g.brow_thick = lerp(0.03, 0.11, id.brow_thickness) * (1 - 0.3 * fem);
  g.brow_arch = lerp(0.0, 0.13, id.brow_arch);
  g.brow_in = lerp(0.08, 0.2, id.eye_tilt * 0.5 + id.brow_arch * 0.5);
  g.brow_out = lerp(0.76, 0.88, id.face_width > 2.1 ? 1.0 : 0.5);

  g.nose_x = 0.025 * id.asymmetry;
  g.nose_tip_y = lerp(0.48, 0.97, id.nose_length);
  g.nose_half_w = lerp(0.16, 0.36, id.nose_width);
  g.nose_tip_z = lerp(0.26, 0.6, id.nose_bridge) + 0.12 * id.nose_length;
  g.nose_bridge_z = lerp(0.02, 0.2, id.nose_bridge);

  g.mouth_x = 0.02 * id.asymmetry;
  g.mouth_y = g.nose_tip_y + lerp(0.24, 0.5, id.mouth_height);
  g.mouth_half_w = lerp(0.26, 0.48, id.mouth_width) * (1 + 0.14 * smile);
  g.upper_lip = lerp(0.03, 0.1, id.lip_thickness) * (1 - 0.25 * smile);
  g.lower_lip = lerp(0.05, 0.14, id.lip_thickness);
  g.corner_lift = 0.09 * smile;
  g.mouth_open = smile > 0.45 ? (smile - 0.45) * 0.16 : 0.0;

  const double hw = id.face_width / 2;
  g.chin_y = std::max(g.mouth_y + g.lower_lip + 0.3, lerp(1.5, 1.95, clamp01((id.face_length - 2.3) / 0.7)));
  g.temple_half_w = hw * 0.92;
  g.cheek_half_w = hw * lerp(0.93, 1.08, id.cheekbone);
  g.cheek_y = lerp(0.12, 0.35, id.cheekbone);
  g.jaw_half_w = hw * lerp(0.68, 0.95, id.jaw_squareness) * (1 - 0.04 * fem);
  g.jaw_y = lerp(g.chin_y - 0.72, g.chin_y - 0.42, id.jaw_squareness);
  g.chin_half_w = lerp(0.12, 0.38, id.chin_width) * lerp(0.85, 1.15, id.jaw_squareness);
  g.hairline_y = -lerp(0.85, 1.2, id.forehead) - lerp(-0.06, 0.06, id.eye_height);
  g.brow_top = std::min(g.brow_y[0], g.brow_y[1]) - g.brow_arch - g.brow_thick - 0.02;

  g.skull_a = std::max(g.temple_half_w, g.cheek_half_w) * 1.07;
  g.skull_cy = g.hairline_y + 0.5;
  g.skull_b = g.skull_cy - (g.hairline_y - 0.88);
  g.ear_w = lerp(0.17, 0.27, id.ear_size);
  g.ear_top = std::max(g.brow_y[0], g.brow_y[1]) + 0.02;
  g.ear_bottom = g.nose_tip_y + lerp(-0.1, 0.08, id.ear_size);

  RandomStream d(id.texture_seed, "face.shape");
  g.lid_peak = d.uniform(0.5, 1.2);
  g.lid_low = d.uniform(0.9, 1.8);
  g.crease = d.uniform();
  g.lip_bow = d.uniform(0.1, 0.6);
  g.nostril = d.uniform(0.6, 1.5);
  g.tip_round = d.uniform(0.7, 1.4);

  // Right half of the outline, top to chin; the left half mirrors it.
  const double sq = id.jaw_squareness;
  Poly right{{0.0, g.hairline_y - 0.12},
             {g.temple_half_w * 0.72, g.hairline_y - 0.02},
             {g.temple_half_w, -0.55},
             {g.cheek_half_w, g.cheek_y},
             {lerp(g.cheek_half_w, g.jaw_half_w, 0.45 - 0.15 * sq), lerp(g.cheek_y, g.jaw_y, 0.55)},
             {g.jaw_half_w, g.jaw_y},
             {lerp(g.jaw_half_w, g.chin_half_w, 0.5 + 0.15 * (1 - sq)), lerp(g.jaw_y, g.chin_y, 0.62 + 0.1 * sq)},
             {g.chin_half_w, g.chin_y - 0.05}};
  Poly loop = right;
  loop.push_back({0.0, g.chin_y});
  for (auto it = right.rbegin(); it != right.rend() - 1; ++it) loop.emplace_back(-it->x, it->y);
  g.outline = smooth_closed(loop, 12);
  return g;
}

namespace {

cv::Vec3d scaled(const cv::Vec3d& c, double k) { return c * k; }

// Height profile of the bare face along y (forehead slopes back, lower face recedes to the chin).
double face_profile(double y, const Geometry& g) {
  if (y < -0.45) {
    const double t = (-0.45 - y) / 1.0;
    return -0.6 * t * t;
  }
  if (y > g.mouth_y) {
    const double t = (y - g.mouth_y) / (g.chin_y - g.mouth_y + 0.2);
    return -0.08 - 0.25 * t * t;
  }
  return -0.08 * smoothstep(0.2, g.mouth_y, y);
}

// The eye: almond of lids, sclera, iris, pupil, catchlight, lashes, crease; or a closed lid.
void paint_eye(HeadCanvas& hc, const FaceIdentity& id, const Capture& c, const Geometry& g, int side) {
  const double sx = side == 0 ? -1.0 : 1.0;
  const cv::Point2d ctr(0.5 * sx, 0.0);
  const double theta = -sx * g.eye_tilt * 0.5;
  const double ca = std::cos(theta), sa = std::sin(theta);
  auto at = [&](double t, double dy) {  // t: 0 inner corner .. 1 outer corner
    const double dx = sx * (-g.eye_half_w + 2 * g.eye_half_w * t);
    return cv::Point2d(ctr.x + ca * dx - sa * dy, ctr.y + sa * dx + ca * dy);
  };
  auto upper = [&](double t) { return -g.eye_up * std::pow(std::sin(kPi * std::pow(t, g.lid_peak)), 0.85); };
  auto lower = [&](double t) { return g.eye_down * std::pow(std::sin(kPi * std::pow(t, g.lid_low)), 1.1); };
  const double open = g.eye_open;
  const int n = 16;
  Poly top, bottom, almond, closed_line;
  for (int i = 0; i <= n; ++i) {
    const double t = static_cast<double>(i) / n;
    const double lo = lower(t);
    top.push_back(at(t, lerp(lo * 0.4, upper(t), open)));
    bottom.push_back(at(t, lo));
    closed_line.push_back(at(t, lo * 0.4));
  }
  almond = top;
  for (int i = n - 1; i > 0; --i) almond.push_back(bottom[static_cast<std::size_t>(i)]);

  const cv::Vec3d skin = id.skin_bgr;
  // Darker skin around the eye and a lid crease above it.
  paint(hc, {ellipse_poly(ctr + cv::Point2d(0, -0.03), g.eye_half_w * 1.35, g.eye_up * 2.2, theta)},
        scaled(skin, 0.82), 0.22, 0.06);
  Poly crease;
  const double crease_h = lerp(0.03, 0.1, g.crease);
  for (int i = 1; i < n; ++i) {
    const double t = static_cast<double>(i) / n;
    crease.push_back(at(t * 0.95 + 0.04, upper(t) - crease_h));
  }
  stroke(hc, crease, scaled(skin, 0.7), 0.02, lerp(0.1, 0.6, g.crease), 0.012);
  // Eyeball under the lids, socket around it.
  bump(hc.z, hc, ctr + cv::Point2d(0, -0.02), 0.3, 0.22, -0.11);
  bump(hc.z, hc, ctr, g.eye_half_w * 0.75, g.eye_up * 1.2, 0.05);

  if (open > 0.12) {
    cv::Mat1b am;
    const cv::Rect roi = coverage(hc, {almond}, 0.0, am);
    if (roi.empty()) return;
    const cv::Vec3d sclera = mix(cv::Vec3d(222, 230, 238), skin, 0.18);
    blend(hc, roi, am, sclera, 1.0, false);
    // The iris and the rest are clipped to the almond.
    auto clipped = [&](const Poly& shape, const cv::Vec3d& col, double op, double soft) {
      cv::Mat1b m(roi.size(), std::uint8_t{0});
      std::vector<std::vector<cv::Point>> pts(1);
      for (const auto& p : shape) {
        const cv::Point2d q = hc.px(p) - cv::Point2d(roi.x, roi.y);
        pts[0].emplace_back(iround(q.x * 16), iround(q.y * 16));
      }
      cv::fillPoly(m, pts, cv::Scalar(255), cv::LINE_AA, 4);
      if (soft > 0) cv::GaussianBlur(m, m, {0, 0}, soft * hc.scale);
      cv::Mat1b both;
      cv::multiply(m, am, both, 1.0 / 255);
      blend(hc, roi, both, col, op, false);
    };
    const cv::Point2d iris = ctr + cv::Point2d(std::clamp(c.gaze_x, -1.0, 1.0) * g.iris_r * 0.7,
                                               std::clamp(c.gaze_y, -1.0, 1.0) * g.iris_r * 0.35 - 0.01);
    const cv::Vec3d ic = id.iris_bgr;
    clipped(ellipse_poly(iris, g.iris_r, g.iris_r, 0, 28), scaled(ic, 0.55), 1.0, 0);
    clipped(ellipse_poly(iris, g.iris_r * 0.86, g.iris_r * 0.86, 0, 28), ic, 1.0, 0.008);
    clipped(ellipse_poly(iris, g.iris_r * 0.55, g.iris_r * 0.55, 0, 24), scaled(ic, 1.25), 0.5, 0.01);
    clipped(ellipse_poly(iris, g.iris_r * 0.38, g.iris_r * 0.38, 0, 20), cv::Vec3d(18, 16, 16), 1.0, 0);
    clipped(ellipse_poly(iris + cv::Point2d(-0.03, -0.035), 0.022, 0.022, 0, 12), cv::Vec3d(250, 250, 250), 0.9,
            0);
    // Shadow of the upper lid on the eyeball: a shadow darkens what it falls on by a factor, whatever the
    // skin's colour (blending toward the skin's own colour would dim dark-skinned people's eyes).
    Poly shade = top;
    for (int i = n; i >= 0; --i) {
      const double t = static_cast<double>(i) / n;
      shade.push_back(at(t, lerp(lower(t) * 0.4, upper(t), open) + g.eye_up * 0.45));
    }
    clipped(shade, cv::Vec3d(0, 0, 0), 0.2, 0.015);
    cv::Mat1b gl = am.clone();
    for (int y = 0; y < roi.height; ++y)
      for (int x = 0; x < roi.width; ++x) {
        std::uint8_t& d = hc.gloss(roi.y + y, roi.x + x);
        d = std::max(d, static_cast<std::uint8_t>(gl(y, x) * 0.7));
      }
    // Lashes along the upper lid (a wing for some), a fine lower lid line.
    const double lash = lerp(0.022, 0.036, id.brow_thickness) * (id.feminine ? 1.3 : 1.0);
    Poly lash_line = top;
    if (id.feminine) lash_line.push_back(at(1.06, upper(1.0) - 0.015));
    stroke(hc, lash_line, cv::Vec3d(28, 24, 24), lash, 0.92, 0.004);
    stroke(hc, bottom, scaled(skin, 0.6), 0.012, 0.55, 0.006);
  } else {
    paint(hc, {almond}, scaled(skin, 0.93), 1.0, 0.01);
    stroke(hc, closed_line, cv::Vec3d(30, 26, 26), 0.03, 0.9, 0.004);
  }
}

void paint_brow(HeadCanvas& hc, const FaceIdentity& id, const Geometry& g, int side) {
  const double sx = side == 0 ? -1.0 : 1.0;
  const double base = g.brow_y[static_cast<std::size_t>(side)];
  Poly topl, botl;
  const int n = 12;
  for (int i = 0; i <= n; ++i) {
    const double t = static_cast<double>(i) / n;
    const double x = sx * lerp(g.brow_in, g.brow_out, t);
    const double yc = base - g.brow_arch * std::sin(kPi * std::pow(t, 0.75)) + 0.03 * t * t;
    const double th = g.brow_thick * lerp(1.15, 0.35, std::pow(t, 1.4));
    topl.emplace_back(x, yc - th * 0.55);
    botl.emplace_back(x, yc + th * 0.45);
  }
  Poly poly = topl;
  for (auto it = botl.rbegin(); it != botl.rend(); ++it) poly.push_back(*it);
  // Brows take the hair's colour, sparser or denser (light brows on light skin barely show, which sets
  // people apart).
  const cv::Vec3d col = mix(id.hair_bgr, id.skin_bgr, lerp(0.05, 0.5, id.brow_sparse));
  paint(hc, {poly}, col, 0.55, 0.022);
  paint(hc, {poly}, scaled(col, 0.85), 0.5, 0.006);
  // The brow ridge under it.
  bump(hc.z, hc, {sx * 0.45, base + 0.02}, 0.28, 0.09, 0.07);
}

// Nose: ridge from the bridge to the tip, tip, wings; nostrils and creases in the albedo.
void paint_nose(HeadCanvas& hc, const FaceIdentity& id, const Geometry& g) {
  const double y0 = 0.0, y1 = g.nose_tip_y;
  const cv::Point2d c0 = hc.px({g.nose_x, y0 - 0.1});
  const int v0 = std::max(0, static_cast<int>(c0.y));
  const int v1 = std::min(hc.z.rows - 1, static_cast<int>(hc.px({0, y1 + 0.25}).y));
  const int u0 = std::max(0, static_cast<int>(hc.px({g.nose_x - 0.5, 0}).x));
  const int u1 = std::min(hc.z.cols - 1, static_cast<int>(hc.px({g.nose_x + 0.5, 0}).x));
  for (int v = v0; v <= v1; ++v) {
    float* row = hc.z.ptr<float>(v);
    const double y = hc.head(0, v).y;
    const double t = clamp01((y - y0) / (y1 - y0));
    const double amp = lerp(g.nose_bridge_z, g.nose_tip_z * 0.82, std::pow(t, 1.3));
    const double w = lerp(0.09, g.nose_half_w * 0.5, t * t);
    const double fall = y > y1 ? std::exp(-0.5 * std::pow((y - y1) / 0.055, 2)) : 1.0;
    const double rise = y < y0 ? std::exp(-0.5 * std::pow((y - y0) / 0.08, 2)) : 1.0;
    for (int u = u0; u <= u1; ++u) {
      const double x = hc.head(u, v).x - g.nose_x;
      row[u] += static_cast<float>(amp * fall * rise * bell(x * x / (w * w)));
    }
  }
  const cv::Point2d tip(g.nose_x, g.nose_tip_y);
  bump(hc.z, hc, tip + cv::Point2d(0, -0.04), 0.085 * g.tip_round, 0.08 * g.tip_round, g.nose_tip_z * 0.22);
  for (double sx : {-1.0, 1.0}) bump(hc.z, hc, tip + cv::Point2d(sx * g.nose_half_w * 0.62, 0.0), 0.07, 0.06, 0.11);

  const cv::Vec3d skin = id.skin_bgr;
  for (double sx : {-1.0, 1.0}) {
    paint(hc, {ellipse_poly(tip + cv::Point2d(sx * g.nose_half_w * 0.4, 0.04), 0.05 * g.nostril, 0.026 * g.nostril,
                            sx * 0.35, 16)},
          scaled(skin, 0.35), 0.9, 0.01);
    Poly ala;
    for (int i = 0; i <= 8; ++i) {
      const double a = lerp(-2.2, 0.7, i / 8.0);
      ala.push_back(tip + cv::Point2d(sx * (g.nose_half_w * 0.62 + 0.07 * std::cos(a)), 0.07 * std::sin(a)));
    }
    stroke(hc, ala, scaled(skin, 0.65), 0.018, 0.4, 0.01);
    stroke(hc, {{g.nose_x + sx * 0.11, 0.08}, {g.nose_x + sx * 0.13, g.nose_tip_y * 0.7}}, scaled(skin, 0.85),
           0.06, 0.2, 0.04);
  }
  paint(hc, {ellipse_poly(tip + cv::Point2d(0, 0.11), g.nose_half_w * 0.6, 0.04)}, scaled(skin, 0.78), 0.35, 0.03);
}

void paint_mouth(HeadCanvas& hc, const FaceIdentity& id, const Geometry& g) {
  const double hw = g.mouth_half_w, lift = g.corner_lift, cx = g.mouth_x, my = g.mouth_y;
  const double gap = g.mouth_open;
  auto line_y = [&](double x) {  // the line between the lips
    const double t = (x - cx) / hw;
    return my - lift * t * t * t * t + lift * 0.25 * (1 - t * t);
  };
  const int n = 14;
  Poly upper_top, upper_bot, lower_top, lower_bot;
  for (int i = 0; i <= n; ++i) {
    const double t = -1 + 2.0 * i / n, x = cx + t * hw, ly = line_y(x);
    const double bow = 1 - g.lip_bow * std::exp(-t * t / 0.012) + 0.12 * std::exp(-std::pow(std::abs(t) - 0.3, 2) / 0.02);
    const double edge = std::pow(1 - t * t, 0.6);
    upper_top.emplace_back(x, ly - gap * 0.5 * edge - g.upper_lip * bow * edge);
    upper_bot.emplace_back(x, ly - gap * 0.5 * edge);
    lower_top.emplace_back(x, ly + gap * 0.5 * edge);
    lower_bot.emplace_back(x, ly + gap * 0.5 * edge + g.lower_lip * std::pow(1 - t * t, 0.75));
  }
  auto band = [](const Poly& a, const Poly& b) {
    Poly p = a;
    for (auto it = b.rbegin(); it != b.rend(); ++it) p.push_back(*it);
    return p;
  };
  const cv::Vec3d lip = id.lip_bgr;
  if (gap > 0.005) {
    paint(hc, {band(upper_bot, lower_top)}, cv::Vec3d(40, 35, 60), 1.0, 0.004);
    Poly teeth;
    for (const auto& p : upper_bot) teeth.push_back(p);
    for (auto it = upper_bot.rbegin(); it != upper_bot.rend(); ++it) teeth.emplace_back(it->x, it->y + gap * 0.7);
    paint(hc, {teeth}, cv::Vec3d(205, 220, 228), 0.95, 0.005);
  }
  paint(hc, {band(upper_top, upper_bot)}, scaled(lip, 0.9), 0.95, 0.008);
  paint(hc, {band(lower_top, lower_bot)}, lip, 0.95, 0.008);
  stroke(hc, gap > 0.005 ? lower_top : upper_bot, scaled(lip, 0.45), 0.016, 0.75, 0.005);
  // Philtrum and the shadow under the lower lip.
  paint(hc, {ellipse_poly({cx, my + g.lower_lip + 0.07}, hw * 0.45, 0.035)}, scaled(id.skin_bgr, 0.8), 0.3, 0.03);
  stroke(hc, {{cx - 0.05, g.nose_tip_y + 0.1}, {cx - 0.05, my - g.upper_lip - 0.01}}, scaled(id.skin_bgr, 0.85),
         0.015, 0.3, 0.012);
  stroke(hc, {{cx + 0.05, g.nose_tip_y + 0.1}, {cx + 0.05, my - g.upper_lip - 0.01}}, scaled(id.skin_bgr, 0.85),
         0.015, 0.3, 0.012);
  bump(hc.z, hc, {cx, my - g.upper_lip * 0.5}, hw * 0.75, 0.06, 0.05);
  bump(hc.z, hc, {cx, my + g.lower_lip * 0.55}, hw * 0.65, 0.065, 0.06);
  bump(hc.z, hc, {cx, g.chin_y - 0.22}, 0.2, 0.14, 0.08);
}

void paint_ears(HeadCanvas& hc, const FaceIdentity& id, const Geometry& g) {
  const double mid = 0.5 * (g.ear_top + g.ear_bottom), half = 0.5 * (g.ear_bottom - g.ear_top);
  const double root = g.half_width(mid) - 0.06;
  for (double sx : {-1.0, 1.0}) {
    const cv::Point2d c(sx * (root + g.ear_w * 0.55), mid);
    const Poly ear = ellipse_poly(c, g.ear_w * 0.62, half, sx * 0.12, 28);
    cv::Mat1b m;
    const cv::Rect roi = coverage(hc, {ear}, 0.006, m);
    if (roi.empty()) continue;
    blend(hc, roi, m, mix(id.skin_bgr, cv::Vec3d(110, 110, 200), 0.08), 1.0, true);
    // The ear stands at the side of the head, well behind the face.
    for (int y = 0; y < roi.height; ++y)
      for (int x = 0; x < roi.width; ++x)
        if (m(y, x) > 0) {
          const double dx = (hc.head(roi.x + x, 0).x - c.x) / (g.ear_w * 0.62);
          float& z = hc.z(roi.y + y, roi.x + x);
          z = std::max(z, static_cast<float>(-1.2 + 0.06 * (1 - dx * dx)));
        }
    Poly helix;
    for (int i = 0; i <= 10; ++i) {
      const double a = lerp(-2.6, 1.3, i / 10.0);
      helix.emplace_back(c.x + sx * g.ear_w * 0.38 * std::cos(a), c.y + half * 0.72 * std::sin(a));
    }
    stroke(hc, helix, scaled(id.skin_bgr, 0.6), 0.025, 0.5, 0.012);
    dot(hc, c + cv::Point2d(-sx * 0.03, 0.05), 0.04, scaled(id.skin_bgr, 0.55), 0.5, 0.015);
  }
}

void paint_wrinkles(HeadCanvas& hc, const FaceIdentity& id, const Capture& c, const Geometry& g) {
  const cv::Vec3d dark = scaled(id.skin_bgr, 0.7);
  const double smile = clamp01(c.expression);
  // Folds from the nose wings to the mouth corners: deeper with age and with a smile.
  for (double sx : {-1.0, 1.0}) {
    Poly fold{{g.nose_x + sx * (g.nose_half_w * 0.75 + 0.04), g.nose_tip_y - 0.02},
              {g.nose_x + sx * (g.nose_half_w * 0.85 + 0.12), lerp(g.nose_tip_y, g.mouth_y, 0.55)},
              {g.mouth_x + sx * (g.mouth_half_w + 0.08), g.mouth_y + 0.08}};
    stroke(hc, smooth_open(fold, 5), dark, 0.025, 0.12 + 0.3 * id.age + 0.3 * smile, 0.02);
  }
  const double a = clamp01((id.age - 0.4) / 0.6);
  if (a <= 0) return;
  for (int k = 0; k < 3; ++k) {
    const double y = g.brow_top - 0.12 - 0.12 * k;
    Poly line;
    for (int i = 0; i <= 8; ++i) {
      const double x = lerp(-0.5, 0.5, i / 8.0);
      line.emplace_back(x, y + 0.03 * std::cos(x * 3.5) + 0.01 * k);
    }
    stroke(hc, line, dark, 0.014, 0.45 * a, 0.006);
  }
  for (double sx : {-1.0, 1.0}) {
    for (int k = -1; k <= 1; ++k)
      stroke(hc, {{sx * (0.5 + g.eye_half_w + 0.04), 0.01 * k}, {sx * (0.5 + g.eye_half_w + 0.16), 0.06 * k}}, dark,
             0.012, 0.45 * a, 0.005);
    Poly bag;
    for (int i = 0; i <= 6; ++i) {
      const double t = i / 6.0;
      bag.emplace_back(sx * (0.5 + lerp(-0.7, 0.8, t) * g.eye_half_w), g.eye_down + 0.07 + 0.03 * std::sin(kPi * t));
    }
    stroke(hc, bag, dark, 0.016, 0.5 * a, 0.008);
  }
}

void paint_facial_hair(HeadCanvas& hc, const FaceIdentity& id, const Geometry& g, RandomStream& r) {
  const cv::Vec3d col = mix(id.hair_bgr, id.skin_bgr, 0.15);
  if (id.beard) {
    // The outline is clockwise from the top: below `side_y` it runs down the right side, round the chin
    // and up the left side. Close it with an inner edge round the mouth from left to right.
    const double side_y = g.ear_bottom - 0.15;
    Poly p;
    for (const auto& q : g.outline)
      if (q.y >= side_y) p.push_back(q);
    const double hw_side = g.half_width(side_y);
    const Poly inner{{-hw_side + 0.22, side_y},
                     {-g.mouth_half_w - 0.1, g.mouth_y - 0.05},
                     {g.mouth_x - 0.2, g.mouth_y + g.lower_lip + 0.08},
                     {g.mouth_x + 0.2, g.mouth_y + g.lower_lip + 0.08},
                     {g.mouth_half_w + 0.1, g.mouth_y - 0.05},
                     {hw_side - 0.22, side_y}};
    for (const auto& q : smooth_open(inner, 4)) p.push_back(q);
    paint(hc, {p}, col, lerp(0.35, 0.85, r.uniform()), 0.03);
  }
  if (id.moustache || id.beard) {
    Poly m{{g.mouth_x - g.mouth_half_w - 0.04, g.mouth_y + 0.02},
           {g.mouth_x - 0.2, g.nose_tip_y + 0.1},
           {g.mouth_x + 0.2, g.nose_tip_y + 0.1},
           {g.mouth_x + g.mouth_half_w + 0.04, g.mouth_y + 0.02},
           {g.mouth_x, g.mouth_y - g.upper_lip - 0.005}};
    paint(hc, {smooth_closed(m, 4)}, col, lerp(0.5, 0.9, r.uniform()), 0.02);
  }
}

}  // namespace

HeadCanvas paint_head(const FaceIdentity& id, const Capture& c, const Geometry& g, double scale) {
  HeadCanvas hc;
  hc.scale = scale;
  const int w = static_cast<int>(std::ceil(2 * kCanvasLeft * scale));
  const int h = static_cast<int>(std::ceil((kCanvasTop + kCanvasBottom) * scale));
  hc.origin = {kCanvasLeft * scale, kCanvasTop * scale};
  const cv::Vec3b skin8(static_cast<std::uint8_t>(id.skin_bgr[0]), static_cast<std::uint8_t>(id.skin_bgr[1]),
                        static_cast<std::uint8_t>(id.skin_bgr[2]));
  hc.albedo = cv::Mat3b(h, w, skin8);
  hc.z = cv::Mat1f(h, w, -1.35f);
  hc.alpha = cv::Mat1b(h, w, std::uint8_t{0});
  hc.gloss = cv::Mat1b(h, w, std::uint8_t{0});
  hc.face = cv::Mat1b(h, w, std::uint8_t{0});
  hc.hair = cv::Mat1b(h, w, std::uint8_t{0});
  RandomStream r(id.texture_seed, "face.details");

  paint_hair(hc, id, g, true);
  paint_ears(hc, id, g);

  // Skull: an ellipsoid behind the face. `skin` collects the coverage of skull and face.
  cv::Mat1b skin = cv::Mat1b(h, w, std::uint8_t{0});
  const double zc = -1.45, rz = 1.42;
  for (int v = 0; v < h; ++v) {
    const double y = (v - hc.origin.y) / scale;
    const double qy = (y - g.skull_cy) / g.skull_b;
    if (qy * qy >= 1) continue;
    float* zr = hc.z.ptr<float>(v);
    std::uint8_t* kr = skin.ptr<std::uint8_t>(v);
    const int u0 = std::max(0, static_cast<int>(hc.origin.x - g.skull_a * scale) - 1);
    const int u1 = std::min(w, static_cast<int>(hc.origin.x + g.skull_a * scale) + 2);
    for (int u = u0; u < u1; ++u) {
      const double x = (u - hc.origin.x) / scale;
      const double q = (x / g.skull_a) * (x / g.skull_a) + qy * qy;
      if (q >= 1) continue;
      zr[u] = static_cast<float>(zc + rz * dome(q));
      const double edge = (1 - std::sqrt(q)) * std::min(g.skull_a, g.skull_b) * scale;  // ~pixels inside
      kr[u] = static_cast<std::uint8_t>(std::min(255.0, edge * 255.0));
    }
  }

  // Face: a dome over the outline with rounded edges.
  cv::Mat1b hard = cv::Mat1b(h, w, std::uint8_t{0});
  std::vector<std::vector<cv::Point>> opts(1);
  for (const auto& p : g.outline) {
    const cv::Point2d q = hc.px(p);
    opts[0].emplace_back(iround(q.x * 16), iround(q.y * 16));
  }
  cv::fillPoly(hard, opts, cv::Scalar(255), cv::LINE_8, 4);
  cv::Mat1b soft = cv::Mat1b(h, w, std::uint8_t{0});
  cv::fillPoly(soft, opts, cv::Scalar(255), cv::LINE_AA, 4);
  const cv::Rect fbox = (cv::boundingRect(soft) + cv::Size(4, 4) - cv::Point(2, 2)) & cv::Rect(0, 0, w, h);
  cv::Mat1f dist(h, w, 0.0f);
  cv::distanceTransform(hard(fbox), dist(fbox), cv::DIST_L2, cv::DIST_MASK_PRECISE);
  // The outline is a polygon rasterised to pixels: smooth its distance field, or every vertex and pixel
  // step shows as a band in the shading.
  cv::GaussianBlur(dist(fbox), dist(fbox), {0, 0}, std::max(1.0, 0.04 * scale));
  const cv::Mat1f texture = value_noise(id.texture_seed, 14, 20, {w, h}, true);
  const cv::Mat1f redness = value_noise(id.texture_seed ^ 0x5bd1e995ULL, 9, 12, {w, h}, true);
  const double rho = 0.55;
  for (int v = fbox.y; v < fbox.y + fbox.height; ++v) {
    const std::uint8_t* sr = soft.ptr<std::uint8_t>(v);
    const float* dr = dist.ptr<float>(v);
    float* zr = hc.z.ptr<float>(v);
    std::uint8_t* kr = skin.ptr<std::uint8_t>(v);
    const double y = (v - hc.origin.y) / scale;
    const double prof = face_profile(y, g);
    for (int u = fbox.x; u < fbox.x + fbox.width; ++u) {
      if (sr[u] == 0) continue;
      const double x = (u - hc.origin.x) / scale;
      const double e = 1 - std::min(rho, dr[u] / scale) / rho;  // 1 at the outline, 0 inside
      const double zf = prof - 0.3 * x * x - 0.6 * e * e;
      zr[u] = std::max(zr[u], static_cast<float>(zf));
      kr[u] = std::max(kr[u], sr[u]);
    }
  }
  // Skin colour with the identity's texture over skull and face (in front of any back hair).
  const cv::Vec3d base = id.skin_bgr;
  const cv::Rect sbox = cv::boundingRect(skin);
  for (int v = sbox.y; v < sbox.y + sbox.height; ++v) {
    const float* tr = texture.ptr<float>(v);
    const float* rr = redness.ptr<float>(v);
    cv::Vec3b* pr = hc.albedo.ptr<cv::Vec3b>(v);
    std::uint8_t* gr = hc.gloss.ptr<std::uint8_t>(v);
    std::uint8_t* ar = hc.alpha.ptr<std::uint8_t>(v);
    const std::uint8_t* kr = skin.ptr<std::uint8_t>(v);
    for (int u = sbox.x; u < sbox.x + sbox.width; ++u) {
      if (kr[u] == 0) continue;
      const double k = 1 + 0.045 * tr[u];
      const double red = 0.04 * rr[u];
      const cv::Vec3d col(base[0] * k * (1 - red), base[1] * k * (1 - 0.5 * red), base[2] * k * (1 + 0.5 * red));
      const double a = kr[u] / 255.0;
      for (int ch = 0; ch < 3; ++ch) pr[u][ch] = cv::saturate_cast<std::uint8_t>(lerp(pr[u][ch], col[ch], a));
      gr[u] = static_cast<std::uint8_t>(lerp(gr[u], 45, a));
      ar[u] = std::max(ar[u], kr[u]);
    }
  }
  // Cheeks: fuller with a smile, a little blush.
  const double smile = clamp01(c.expression);
  for (double sx : {-1.0, 1.0}) {
    bump(hc.z, hc, {sx * 0.58, 0.42 - 0.08 * smile}, 0.3, 0.26, 0.05 + 0.05 * id.cheekbone + 0.05 * smile);
    paint(hc, {ellipse_poly({sx * 0.6, 0.5}, 0.25, 0.18)}, mix(base, cv::Vec3d(90, 90, 210), 0.25),
          id.feminine ? 0.3 : 0.15, 0.08);
  }
  // Moles and freckles, fixed per identity.
  RandomStream marks(id.marks_seed ? id.marks_seed : id.texture_seed, "face.marks");
  const int moles = static_cast<int>(marks.below(4));
  for (int i = 0; i < moles; ++i) {
    const cv::Point2d p(marks.uniform(-0.9, 0.9), marks.uniform(-0.7, 1.5));
    if (std::abs(p.y) < 0.15 && std::abs(std::abs(p.x) - 0.5) < 0.3) continue;
    dot(hc, p, marks.uniform(0.012, 0.024), cv::Vec3d(40, 55, 80), 0.75, 0.004);
  }
  if (id.skin_tone <= 1 && marks.bernoulli(0.35)) {
    for (int i = 0; i < 45; ++i) {
      const cv::Point2d p(marks.uniform(-0.8, 0.8), marks.uniform(0.1, 0.75));
      dot(hc, p, 0.009, scaled(base, 0.75), 0.35, 0.003);
    }
  }

  paint_nose(hc, id, g);
  paint_eye(hc, id, c, g, 0);
  paint_eye(hc, id, c, g, 1);
  paint_brow(hc, id, g, 0);
  paint_brow(hc, id, g, 1);
  paint_mouth(hc, id, g);
  paint_wrinkles(hc, id, c, g);
  paint_facial_hair(hc, id, g, r);

  // The face box region: inside the outline, from the brows' top down.
  hc.face = hard;
  const int top = std::clamp(static_cast<int>(std::ceil(hc.px({0, g.brow_top}).y)), 0, h);
  hc.face.rowRange(0, top).setTo(0);
  hc.z_face = hc.z.clone();

  paint_hair(hc, id, g, false);
  if (id.glasses) paint_glasses(hc, id, g);
  if (c.mask != MaskKind::none && c.wear != MaskWear::none) paint_mask(hc, c, g);
  if (c.hat) paint_hat(hc, c, g);
  return hc;
}

namespace {

float sample(const cv::Mat1f& m, cv::Point2d px) {
  const double x = std::clamp(px.x, 0.0, m.cols - 1.001), y = std::clamp(px.y, 0.0, m.rows - 1.001);
  const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  const float fx = static_cast<float>(x - x0), fy = static_cast<float>(y - y0);
  return (m(y0, x0) * (1 - fx) + m(y0, x0 + 1) * fx) * (1 - fy) + (m(y0 + 1, x0) * (1 - fx) + m(y0 + 1, x0 + 1) * fx) * fy;
}

// The fields are kept at a quarter of the canvas's resolution (they are smooth): canvas pixel -> field.
constexpr double kWarpSubsample = 4;
cv::Point2d field_px(const HeadCanvas& hc, cv::Point2d head) {
  return (hc.px(head) + cv::Point2d(0.5, 0.5)) * (1 / kWarpSubsample) - cv::Point2d(0.5, 0.5);
}

}  // namespace

cv::Point2d ShapeWarp::moved(const HeadCanvas& hc, cv::Point2d head) const {
  if (dx.empty()) return head;
  const cv::Point2d f = field_px(hc, head);
  return head + cv::Point2d(sample(dx, f), sample(dy, f));
}

ShapeWarp shape_warp(const HeadCanvas& hc, const FaceIdentity& id) {
  ShapeWarp w;
  if (std::all_of(id.shape_warp.begin(), id.shape_warp.end(), [](float v) { return v == 0; })) return w;
  constexpr int cols = FaceIdentity::kWarpCols, rows = FaceIdentity::kWarpRows;
  cv::Mat1f gx(rows, cols), gy(rows, cols);
  for (int i = 0; i < rows * cols; ++i) {
    gx(i / cols, i % cols) = id.shape_warp[static_cast<std::size_t>(2 * i)];
    gy(i / cols, i % cols) = id.shape_warp[static_cast<std::size_t>(2 * i + 1)];
  }
  const cv::Size size(std::max(2, static_cast<int>(std::lround(hc.albedo.cols / kWarpSubsample))),
                      std::max(2, static_cast<int>(std::lround(hc.albedo.rows / kWarpSubsample))));
  cv::resize(gx, w.dx, size, 0, 0, cv::INTER_CUBIC);
  cv::resize(gy, w.dy, size, 0, 0, cv::INTER_CUBIC);
  // Hold the eye centres where they are (the capture sets the eyes' distance and place): subtract the
  // field that is linear across the head and equals the displacement at both eyes.
  const cv::Point2d le = field_px(hc, {-0.5, 0}), re = field_px(hc, {0.5, 0});
  const float lx = sample(w.dx, le), rx = sample(w.dx, re), ly = sample(w.dy, le), ry = sample(w.dy, re);
  for (int v = 0; v < size.height; ++v) {
    float* xr = w.dx.ptr<float>(v);
    float* yr = w.dy.ptr<float>(v);
    for (int u = 0; u < size.width; ++u) {
      const double canvas_u = (u + 0.5) * kWarpSubsample - 0.5;
      const auto t = static_cast<float>(hc.head(canvas_u, 0).x + 0.5);  // 0 at the left eye, 1 at the right one
      xr[u] -= lx + t * (rx - lx);
      yr[u] -= ly + t * (ry - ly);
    }
  }
  return w;
}

}  // namespace gatetwin::sim::render::detail
