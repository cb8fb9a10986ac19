// What covers the head: hair (six styles), glasses (four frames), face masks (surgical, cloth, N95/KN95,
// black; worn properly, below the nose or on the chin) with their loops or straps, and hats.
#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "face_render_internal.hpp"
#include "gatetwin/sim/random.hpp"

namespace gatetwin::sim::render::detail {
namespace {

cv::Vec3d scaled(const cv::Vec3d& c, double k) { return c * k; }

struct HairShape {
  double thick = 0.08;      // volume over the skull
  double side_bottom = 0;   // how far down the hair falls at the sides
  double overlap = 0;       // how far it covers the face's edge
  double flare = 0.05;      // widening below the skull's middle
  bool back = false;        // hair hanging behind the head and neck
};

HairShape hair_shape(const FaceIdentity& id, const Geometry& g) {
  HairShape s;
  switch (id.hair_style) {
    case 0: s = {0.07, g.ear_top + 0.05, 0.0, 0.0, false}; break;            // short
    case 1: s = {0.13, g.jaw_y - 0.05, 0.07, 0.06, true}; break;              // medium
    case 2: s = {0.15, 2.25, 0.1, 0.1, true}; break;                          // long
    case 3: s = {0.0, g.ear_top, 0.0, 0.0, false}; break;                      // bald
    case 4: s = {0.08, g.ear_top + 0.02, 0.0, 0.0, false}; break;            // bun
    default: s = {0.12, g.mouth_y + 0.12, 0.08, 0.04, true}; break;           // fringe (a bob)
  }
  return s;
}

struct Hairline {
  double part = 0;      // x of the parting (a dip of the hairline there and hair swept away from it)
  double peak = 0;      // widow's peak depth
  double round = 0.18;  // how much the hairline curves up at the temples
  double fringe = 0;    // fringe length variation
};

Hairline hairline_of(const FaceIdentity& id) {
  RandomStream r(id.texture_seed, "face.hairline");
  Hairline h;
  h.part = r.bernoulli(0.6) ? r.uniform(-0.45, 0.45) : 0.0;
  h.peak = r.bernoulli(0.3) ? r.uniform(0.03, 0.1) : 0.0;
  h.round = r.uniform(0.05, 0.35);
  h.fringe = r.uniform(-0.08, 0.1);
  return h;
}

// Hairline height at x: a curve over the forehead, receding at the temples for some older men, or a
// fringe down to the brows.
double hairline(const FaceIdentity& id, const Hairline& hl, const Geometry& g, double x) {
  if (id.hair_style == 5)
    return g.brow_top - 0.07 + hl.fringe + 0.12 * x * x + 0.08 * hl.part * x + 0.015 * std::sin(x * 40);
  const double recede = id.feminine ? 0.0 : std::max(0.0, id.age - 0.45) * 0.7;
  const double t = x / g.temple_half_w;
  return g.hairline_y + hl.round * t * t + recede * std::exp(-std::pow((std::abs(x) - 0.5) / 0.22, 2)) +
         hl.peak * std::exp(-x * x / 0.01) - 0.06 * std::exp(-std::pow((x - hl.part) / 0.06, 2)) * (hl.part != 0);
}

}  // namespace

void paint_hair(HeadCanvas& hc, const FaceIdentity& id, const Geometry& g, bool back_layer) {
  const HairShape s = hair_shape(id, g);
  if (back_layer && !s.back) return;
  const Hairline hl = hairline_of(id);
  const int w = hc.albedo.cols, h = hc.albedo.rows;
  const double a = g.skull_a + s.thick, b = g.skull_b + s.thick;
  const double cy = g.skull_cy - 0.3 * s.thick;
  const double scale = hc.scale;
  const double neck = 0.55;
  const bool bald = id.hair_style == 3;
  // Strands: streaks along y, with a little low-frequency variation; fixed per identity.
  const cv::Mat1f streak = value_noise(id.texture_seed ^ 0x9e3779b9ULL, 70, 9, {w, h}, false);
  const cv::Mat1f lowf = value_noise(id.texture_seed ^ 0x7f4a7c15ULL, 7, 9, {w, h}, false);
  const cv::Vec3d col = id.hair_bgr;
  std::vector<double> face_hw(static_cast<std::size_t>(h));
  for (int v = 0; v < h; ++v) face_hw[static_cast<std::size_t>(v)] = g.half_width((v - hc.origin.y) / scale);
  const double zc = -1.45, rz = 1.42 + s.thick;
  // Only the rows and columns the hair can reach.
  const double reach_x = a * (1 + s.flare * std::max(0.0, s.side_bottom - cy)) + 0.05;
  const int u_lo = std::max(0, static_cast<int>(hc.origin.x - reach_x * scale));
  const int u_hi = std::min(w, static_cast<int>(hc.origin.x + reach_x * scale) + 1);
  const int v_lo = std::max(0, static_cast<int>(hc.origin.y + (cy - b - 0.05) * scale));
  const int v_hi = std::min(h, static_cast<int>(hc.origin.y + (s.side_bottom + 0.1) * scale) + 1);
  for (int v = v_lo; v < v_hi; ++v) {
    const double y = (v - hc.origin.y) / scale;
    const double hw = face_hw[static_cast<std::size_t>(v)];
    float* zr = hc.z.ptr<float>(v);
    std::uint8_t* ar = hc.alpha.ptr<std::uint8_t>(v);
    std::uint8_t* hr = hc.hair.ptr<std::uint8_t>(v);
    std::uint8_t* gr = hc.gloss.ptr<std::uint8_t>(v);
    cv::Vec3b* pr = hc.albedo.ptr<cv::Vec3b>(v);
    const float* st = streak.ptr<float>(v);
    const float* lf = lowf.ptr<float>(v);
    const double bottom = (s.side_bottom - y) * scale;  // pixels above the hair's lower end
    for (int u = u_lo; u < u_hi; ++u) {
      const double x = (u - hc.origin.x) / scale, ax = std::abs(x);
      // Outer boundary: the enlarged skull above its middle, then hanging sides that flare a little.
      double outer;
      if (y < cy) {
        const double q = (x / a) * (x / a) + ((y - cy) / b) * ((y - cy) / b);
        outer = (1 - std::sqrt(q)) * std::min(a, b) * scale;
      } else {
        outer = (a * (1 + s.flare * (y - cy)) - ax) * scale;
      }
      double cover;
      double z_hair;
      if (back_layer) {
        if (y < cy) continue;
        cover = std::min({outer, bottom * 0.6, y > g.jaw_y ? (ax - neck) * scale : 1e9});
        z_hair = -1.4;
      } else {
        const double line = (hairline(id, hl, g, x) - y) * scale * 0.7;  // soft hairline
        const double side = std::min((ax - (hw - s.overlap)) * scale, bottom);
        cover = std::min(outer, std::max(line, side));
        if (bald) cover = std::min(cover, std::min((ax - g.skull_a * 0.72) * scale, (y - (cy - 0.2)) * scale));
        if (hw == 0 && y > cy && !s.back) cover = std::min(cover, bottom);
        const double q = (x / a) * (x / a) + ((y - cy) / b) * ((y - cy) / b);
        const double shell = q < 1 ? zc + rz * dome(q) : -1.2;
        z_hair = std::max(static_cast<double>(zr[u]) + 0.05, shell);
      }
      const double cov = clamp01(0.5 + cover);
      if (cov <= 0) continue;
      const double k = (back_layer ? 0.75 : 1.0) * (1 + 0.22 * st[u] + 0.1 * lf[u]);
      const double op = bald ? cov * 0.55 : cov;
      for (int ch = 0; ch < 3; ++ch) pr[u][ch] = cv::saturate_cast<std::uint8_t>(lerp(pr[u][ch], col[ch] * k, op));
      zr[u] = static_cast<float>(z_hair);  // no ramp to the empty canvas: silhouettes stay put
      const auto c8 = static_cast<std::uint8_t>(op * 255);
      ar[u] = std::max(ar[u], static_cast<std::uint8_t>(cov * 255));
      gr[u] = static_cast<std::uint8_t>(lerp(gr[u], 70, op));
      if (!back_layer) hr[u] = std::max(hr[u], c8);
    }
  }
  if (!back_layer && id.hair_style == 4) {  // the bun on top
    const cv::Point2d c(0, g.skull_cy - g.skull_b - 0.12);
    cv::Mat1b m;
    const cv::Rect roi = coverage(hc, {ellipse_poly(c, 0.36, 0.3, 0, 28)}, 0.01, m);
    blend(hc, roi, m, scaled(col, 1.05), 1.0, true);
    bump(hc.z, hc, c, 0.25, 0.2, 0.3);
    stroke(hc, {c + cv::Point2d(-0.3, 0.2), c + cv::Point2d(0, 0.27), c + cv::Point2d(0.3, 0.2)}, scaled(col, 0.6),
           0.03, 0.6, 0.01);
  }
}

void paint_glasses(HeadCanvas& hc, const FaceIdentity& id, const Geometry& g) {
  RandomStream r(id.texture_seed, "face.glasses");
  const int style = std::clamp(id.glasses_style, 0, 3);
  const double lw = r.uniform(0.27, 0.33), lh = style == 0 ? r.uniform(0.22, 0.27) : r.uniform(0.17, 0.22);
  const double p = style == 0 ? 2.0 : r.uniform(3.0, 5.0);
  const cv::Vec3d palette[] = {{40, 40, 40}, {30, 50, 80}, {150, 150, 150}, {60, 120, 170}, {90, 40, 30},
                               {30, 30, 120}};
  cv::Vec3d frame = palette[r.below(6)];
  if (style == 0) frame = r.bernoulli(0.5) ? cv::Vec3d(120, 160, 190) : cv::Vec3d(170, 170, 170);
  const double width = style == 0 ? 0.018 : style == 1 ? r.uniform(0.04, 0.06) : style == 2 ? 0.008 : 0.014;
  const double cy = 0.03;
  Poly lens[2];
  for (int side = 0; side < 2; ++side) {
    const double sx = side == 0 ? -1.0 : 1.0;
    for (int i = 0; i < 40; ++i) {
      const double t = 2 * kPi * i / 40;
      const double c = std::cos(t), s = std::sin(t);
      double x = lw * std::copysign(std::pow(std::abs(c), 2 / p), c);
      double y = lh * std::copysign(std::pow(std::abs(s), 2 / p), s);
      if (y > 0) x *= 1 - 0.15 * y / lh * (sx * x > 0 ? 1 : 0.3);  // lenses narrow toward the cheek
      lens[side].emplace_back(sx * 0.5 + x, cy + y);
    }
    // Tint and gloss of the lens.
    cv::Mat1b m;
    const cv::Rect roi = coverage(hc, {lens[side]}, 0.0, m);
    blend(hc, roi, m, cv::Vec3d(205, 200, 190), 0.1, false);
    for (int y = 0; y < roi.height; ++y)
      for (int x = 0; x < roi.width; ++x) {
        std::uint8_t& d = hc.gloss(roi.y + y, roi.x + x);
        d = std::max(d, static_cast<std::uint8_t>(m(y, x) * 0.5));
      }
    stroke(hc, {{sx * 0.5 - 0.15, cy - lh * 0.5}, {sx * 0.5 + 0.05, cy + lh * 0.6}}, cv::Vec3d(250, 250, 250), 0.05,
           0.12, 0.03);
    if (style == 3) {
      Poly top;
      for (const auto& q : lens[side])
        if (q.y < cy - lh * 0.3) top.push_back(q);
      std::sort(top.begin(), top.end(), [](const cv::Point2d& u, const cv::Point2d& v) { return u.x < v.x; });
      stroke(hc, top, frame, 0.05, 0.95, 0.004);
      stroke(hc, lens[side], cv::Vec3d(170, 170, 170), width, 0.7, 0.003, true);
    } else {
      stroke(hc, lens[side], frame, width, style == 2 ? 0.35 : 0.95, 0.003, true);
    }
    // Temple arm to the ear.
    const double ear_x = g.half_width(0.0) + 0.05;
    stroke(hc, {{sx * (0.5 + lw), cy - lh * 0.4}, {sx * ear_x, -0.05}}, frame, std::max(width, 0.02), 0.9, 0.003);
  }
  Poly bridge{{-0.5 + lw - 0.01, cy - lh * 0.3}, {0, cy - lh * 0.45}, {0.5 - lw + 0.01, cy - lh * 0.3}};
  stroke(hc, smooth_open(bridge, 4), frame, std::max(width * 0.8, 0.018), 0.95, 0.003);
}

namespace {

struct MaskStyle {
  cv::Vec3d colour;
  cv::Vec3d loops;
};

MaskStyle mask_style(MaskKind k, int index) {
  const auto pick = [&](std::initializer_list<cv::Vec3d> list) {
    const auto n = static_cast<int>(list.size());
    return *(list.begin() + ((index % n) + n) % n);
  };
  switch (k) {
    case MaskKind::surgical: {
      const cv::Vec3d c = pick({{228, 196, 140}, {236, 236, 234}, {205, 180, 238}, {196, 204, 150},
                                {215, 170, 110}, {230, 200, 215}});
      return {c, {238, 238, 238}};
    }
    case MaskKind::cloth: {
      const cv::Vec3d c = pick({{95, 55, 35}, {135, 135, 135}, {165, 190, 210}, {60, 60, 170}, {140, 105, 65},
                                {90, 130, 90}, {150, 110, 170}});
      return {c, scaled(c, 0.8)};
    }
    case MaskKind::n95: {
      const cv::Vec3d c = pick({{226, 229, 232}, {205, 215, 222}, {185, 185, 185}, {215, 175, 120}, {52, 52, 52}});
      return {c, {225, 225, 225}};
    }
    case MaskKind::black:
    default: {
      const cv::Vec3d c = pick({{42, 42, 45}, {60, 58, 60}, {62, 45, 36}, {48, 48, 56}});
      return {c, scaled(c, 1.2)};
    }
  }
}

}  // namespace

void paint_mask(HeadCanvas& hc, const Capture& c, const Geometry& g) {
  const MaskStyle st = mask_style(c.mask, c.mask_colour);
  const bool n95 = c.mask == MaskKind::n95;
  const bool kn95 = n95 && (c.mask_colour % 2 == 1);
  double top_c = 0, top_s = 0, bottom = g.chin_y + 0.12;
  switch (c.wear) {
    case MaskWear::proper: top_c = n95 ? 0.16 : 0.2; top_s = 0.42; break;
    case MaskWear::below_nose: top_c = g.nose_tip_y + 0.1; top_s = g.nose_tip_y + 0.08; break;
    case MaskWear::on_chin:
    default:
      top_c = g.mouth_y + g.lower_lip + 0.09; top_s = g.mouth_y + 0.2; bottom = g.chin_y + 0.38; break;
  }
  // Masks stop short of the face's edge (cheeks show at the sides); a cup N95 is narrower still.
  const double inset = n95 && !kn95 ? 0.2 : 0.1;
  const double xs = std::max(0.3, g.half_width(top_s) - inset);
  Poly top_edge, poly;
  const int n = 16;
  for (int i = 0; i <= n; ++i) {
    const double t = -1 + 2.0 * i / n;
    // Worn properly a mask rises to a point over the nose (a cloth one more roundly); lower down it hangs
    // in an arc.
    const double shape = c.wear != MaskWear::proper ? 1 - t * t
                         : c.mask == MaskKind::cloth ? std::pow(1 - std::abs(t), 1.2)
                                                     : std::pow(1 - std::abs(t), 1.6);
    top_edge.emplace_back(t * xs, lerp(top_s, top_c, shape));
  }
  poly = top_edge;
  // Down the right side following the face's edge, under the chin, up the left side.
  const double side_end = std::min(bottom, g.chin_y) - 0.2;
  Poly right;
  for (int i = 1; i <= 8; ++i) {
    const double y = lerp(top_s, side_end, i / 8.0);
    right.emplace_back(std::max(g.half_width(y) - inset * lerp(1.0, 0.4, i / 8.0), 0.25), y);
  }
  for (const auto& q : right) poly.push_back(q);
  const double low_w = c.wear == MaskWear::on_chin ? 0.45 : std::max(0.3, g.chin_half_w + 0.18);
  poly.emplace_back(low_w, bottom - 0.05);
  poly.emplace_back(0.0, bottom);
  poly.emplace_back(-low_w, bottom - 0.05);
  for (auto it = right.rbegin(); it != right.rend(); ++it) poly.emplace_back(-it->x, it->y);

  cv::Mat1b m;
  const cv::Rect roi = coverage(hc, {poly}, 0.004, m);
  if (roi.empty()) return;
  // The mask's surface: smoothed face plus a bulge (a cup for N95), never below the face.
  cv::Mat1f zr = hc.z(roi).clone(), small, smooth;
  cv::resize(zr, small, {}, 0.25, 0.25, cv::INTER_AREA);
  const double sig = std::max(0.6, 0.16 * hc.scale * 0.25);
  cv::GaussianBlur(small, small, {0, 0}, sig);
  cv::resize(small, smooth, zr.size(), 0, 0, cv::INTER_LINEAR);
  const double bulge = n95 ? 0.24 : c.mask == MaskKind::surgical ? 0.06 : 0.09;
  const double mid_y = 0.5 * (top_c + bottom);
  const double half_h = 0.5 * (bottom - top_c);
  RandomStream r(c.background_seed, "face.mask");
  const double pattern = c.mask == MaskKind::cloth ? static_cast<double>(r.below(3)) : 0;
  const double phase = r.uniform(0, 6.28);
  for (int y = 0; y < roi.height; ++y)
    for (int x = 0; x < roi.width; ++x) {
      const int cov = m(y, x);
      if (cov == 0) continue;
      const cv::Point2d p = hc.head(roi.x + x, roi.y + y);
      const double dx = p.x / (xs + 0.05), dy = (p.y - mid_y) / (half_h + 0.05);
      const double dome = std::max(0.0, 1 - dx * dx - dy * dy);
      double target = smooth(y, x) + 0.05 + bulge * dome;
      if (c.mask == MaskKind::surgical) target += 0.012 * std::sin((p.y - top_c) / (bottom - top_c) * 4 * kPi);
      target = std::max(target, static_cast<double>(zr(y, x)) + 0.03);
      float& zd = hc.z(roi.y + y, roi.x + x);
      zd = static_cast<float>(lerp(zd, target, cov / 255.0));
      // Fabric: weave shading, cloth patterns.
      cv::Vec3d col = st.colour;
      // Woven patterns stay subtle: strong small stripes or dots hide a face from detectors.
      if (pattern == 1 && std::sin(p.y * 40 + phase) > 0.3) col = scaled(col, 0.88);
      if (pattern == 2 && std::sin(p.x * 30 + phase) * std::sin(p.y * 30) > 0.7) col = mix(col, {235, 235, 235}, 0.3);
      const double weave = 1 + 0.03 * std::sin(p.x * 300) * std::sin(p.y * 300);
      cv::Vec3b& d = hc.albedo(roi.y + y, roi.x + x);
      for (int ch = 0; ch < 3; ++ch) d[ch] = cv::saturate_cast<std::uint8_t>(lerp(d[ch], col[ch] * weave, cov / 255.0));
      std::uint8_t& al = hc.alpha(roi.y + y, roi.x + x);
      al = std::max(al, static_cast<std::uint8_t>(cov));
      std::uint8_t& gl = hc.gloss(roi.y + y, roi.x + x);
      gl = static_cast<std::uint8_t>(lerp(gl, n95 ? 25 : c.mask == MaskKind::black ? 40 : 12, cov / 255.0));
    }
  // A faint shadow along the top edge on the skin.
  Poly shadow = top_edge;
  for (auto& q : shadow) q.y -= 0.015;
  stroke(hc, shadow, {20, 20, 30}, 0.02, 0.2, 0.015);

  const cv::Vec3d edge = scaled(st.colour, 0.85);
  if (c.mask == MaskKind::surgical) {
    for (int k = 1; k <= 3; ++k) {
      Poly pleat;
      const double f = k / 4.0;
      for (int i = 0; i <= n; ++i) {
        const double t = -1 + 2.0 * i / n;
        const double y0 = top_edge[static_cast<std::size_t>(i)].y;
        pleat.emplace_back(t * (xs - 0.02), lerp(y0, bottom - 0.12 * (1 - t * t), f));
      }
      stroke(hc, pleat, scaled(st.colour, 0.72), 0.022, 0.55, 0.006);
    }
    stroke(hc, top_edge, edge, 0.04, 0.7, 0.004);
    if (c.wear == MaskWear::proper) stroke(hc, {{-0.2, top_c + 0.03}, {0.2, top_c + 0.03}}, scaled(st.colour, 0.7), 0.02,
                                           0.5, 0.004);
  } else if (c.mask == MaskKind::cloth || c.mask == MaskKind::black) {
    stroke(hc, {{0, top_c + 0.02}, {0, 0.5 * (top_c + bottom)}, {0, bottom - 0.02}}, scaled(st.colour, 0.7), 0.015,
           0.6, 0.005);
    stroke(hc, poly, edge, 0.03, 0.5, 0.005, true);
  } else {
    stroke(hc, poly, scaled(st.colour, 0.88), 0.05, 0.7, 0.008, true);
    if (kn95) stroke(hc, {{0, top_c + 0.02}, {0, bottom - 0.03}}, scaled(st.colour, 0.75), 0.018, 0.7, 0.006);
  }

  // Loops to the ears (or straps round the head for a cup N95), hidden where hair covers the ears.
  const double root = g.half_width(0.5 * (g.ear_top + g.ear_bottom)) + 0.02;
  const double low_y = std::min(side_end, g.jaw_y);
  std::vector<Poly> loops;
  if (n95 && !kn95) {
    loops.push_back({{-xs, top_s + 0.05}, {-kCanvasLeft, top_s - 0.25}});
    loops.push_back({{xs, top_s + 0.05}, {kCanvasLeft, top_s - 0.25}});
    loops.push_back({{-g.half_width(low_y) + 0.03, low_y}, {-kCanvasLeft, low_y + 0.1}});
    loops.push_back({{g.half_width(low_y) - 0.03, low_y}, {kCanvasLeft, low_y + 0.1}});
  } else {
    for (double sx : {-1.0, 1.0}) {
      loops.push_back({{sx * xs, top_s + 0.03}, {sx * root, g.ear_top + 0.12}});
      loops.push_back({{sx * (g.half_width(low_y) - 0.04), low_y}, {sx * (root - 0.02), g.ear_bottom - 0.05}});
    }
  }
  const double lw = n95 && !kn95 ? 0.03 : 0.018;
  for (const auto& l : loops) {
    const double w_px = std::max(1.0, lw * hc.scale);
    const cv::Point2d p0 = hc.px(l[0]), p1 = hc.px(l[1]);
    const int pad = iround(w_px) + 2;
    const cv::Rect lr = cv::Rect(cv::Point(iround(std::min(p0.x, p1.x)) - pad, iround(std::min(p0.y, p1.y)) - pad),
                                 cv::Point(iround(std::max(p0.x, p1.x)) + pad, iround(std::max(p0.y, p1.y)) + pad)) &
                        cv::Rect(0, 0, hc.albedo.cols, hc.albedo.rows);
    if (lr.empty()) continue;
    cv::Mat1b lm(lr.size(), std::uint8_t{0});
    const cv::Point2d a0 = p0 - cv::Point2d(lr.x, lr.y), a1 = p1 - cv::Point2d(lr.x, lr.y);
    cv::line(lm, {iround(a0.x * 16), iround(a0.y * 16)}, {iround(a1.x * 16), iround(a1.y * 16)}, cv::Scalar(255),
             iround(w_px), cv::LINE_AA, 4);
    for (int y = 0; y < lr.height; ++y)
      for (int x = 0; x < lr.width; ++x) {
        const int under = hc.hair(lr.y + y, lr.x + x);
        const int al = hc.alpha(lr.y + y, lr.x + x);
        lm(y, x) = static_cast<std::uint8_t>(lm(y, x) * (255 - under) / 255 * al / 255);
      }
    blend(hc, lr, lm, st.loops, 0.95, false);
  }
}

void paint_hat(HeadCanvas& hc, const Capture& c, const Geometry& g) {
  const cv::Vec3d palette[] = {{80, 40, 25}, {30, 30, 30}, {40, 40, 170}, {120, 170, 195},
                               {230, 230, 230}, {120, 120, 120}, {60, 110, 60}, {170, 140, 220}};
  const cv::Vec3d col = palette[((c.hat_colour % 8) + 8) % 8];
  const double a = g.skull_a + 0.16, b = g.skull_b + 0.16, cy = g.skull_cy - 0.05;
  const double brim_y = g.hairline_y + (c.hat_style == 1 ? 0.12 : 0.05);
  Poly crown;
  for (int i = 0; i <= 32; ++i) {
    const double t = kPi + kPi * i / 32.0;
    crown.emplace_back(a * std::cos(t), cy + b * std::sin(t));
  }
  crown.emplace_back(a * 0.98, brim_y);
  crown.emplace_back(-a * 0.98, brim_y);
  // Shadow on the forehead under the hat.
  paint(hc, {ellipse_poly({0, brim_y + 0.06}, a * 0.8, 0.14)}, {25, 25, 35}, 0.35, 0.06);
  cv::Mat1b m;
  const cv::Rect roi = coverage(hc, {crown}, 0.004, m);
  if (roi.empty()) return;
  blend(hc, roi, m, col, 1.0, true);
  for (int y = 0; y < roi.height; ++y)
    for (int x = 0; x < roi.width; ++x)
      if (m(y, x) > 0) {
        float& z = hc.z(roi.y + y, roi.x + x);
        z = std::max(z + 0.1f, -0.2f);
        hc.gloss(roi.y + y, roi.x + x) = 20;
      }
  if (c.hat_style == 0) {  // baseball cap: seams and a visor
    stroke(hc, {{0, cy - b}, {0, brim_y}}, scaled(col, 0.75), 0.02, 0.6, 0.005);
    const Poly visor = ellipse_poly({0, brim_y + 0.02}, a * 0.8, 0.13, 0, 32);
    paint(hc, {visor}, scaled(col, 0.82), 1.0, 0.004, true);
    bump(hc.z, hc, {0, brim_y + 0.02}, 0.5, 0.08, 0.3);
  } else if (c.hat_style == 1) {  // beanie: ribbed fold
    const Poly band{{-a, brim_y - 0.28}, {a, brim_y - 0.28}, {a * 0.98, brim_y}, {-a * 0.98, brim_y}};
    paint(hc, {band}, scaled(col, 0.88), 1.0, 0.004);
    for (int i = -10; i <= 10; ++i)
      stroke(hc, {{i * a / 10.5, brim_y - 0.27}, {i * a / 10.5, brim_y - 0.01}}, scaled(col, 0.7), 0.012, 0.5, 0.003);
  } else {  // bucket hat: a wide drooping brim
    const Poly brim = ellipse_poly({0, brim_y + 0.02}, a * 1.3, 0.2, 0, 40);
    paint(hc, {brim}, scaled(col, 0.9), 1.0, 0.004, true);
    stroke(hc, ellipse_poly({0, brim_y - 0.03}, a * 0.99, 0.1, 0, 40), scaled(col, 0.7), 0.02, 0.6, 0.004, true);
  }
}

}  // namespace gatetwin::sim::render::detail
