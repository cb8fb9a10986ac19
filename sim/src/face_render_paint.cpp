// Painting primitives of the face renderer: anti-aliased coverage of polygons and strokes in a region of
// interest, blended into the head canvas; Gaussian bumps on the height map; smooth curves; value noise.
#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "face_render_internal.hpp"
#include "gatetwin/sim/random.hpp"

namespace gatetwin::sim::render::detail {
namespace {

constexpr int kShift = 4;  // sub-pixel bits for OpenCV's drawing functions
constexpr double kOne = 1 << kShift;

cv::Point fixed(cv::Point2d p) { return {iround(p.x * kOne), iround(p.y * kOne)}; }

// Bounding box (pixels) of head-coordinate points, padded.
cv::Rect pixel_bounds(const HeadCanvas& hc, const std::vector<Poly>& polys, double pad_px) {
  double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
  for (const auto& poly : polys)
    for (const auto& p : poly) {
      const cv::Point2d q = hc.px(p);
      x0 = std::min(x0, q.x), y0 = std::min(y0, q.y), x1 = std::max(x1, q.x), y1 = std::max(y1, q.y);
    }
  if (x0 > x1) return {};
  const cv::Rect r(static_cast<int>(std::floor(x0 - pad_px)), static_cast<int>(std::floor(y0 - pad_px)),
                   static_cast<int>(std::ceil(x1 - x0 + 2 * pad_px)) + 2,
                   static_cast<int>(std::ceil(y1 - y0 + 2 * pad_px)) + 2);
  return r & cv::Rect(0, 0, hc.albedo.cols, hc.albedo.rows);
}

void soften(cv::Mat1b& m, double soft_px) {
  if (soft_px < 0.35) return;
  const int k = 2 * static_cast<int>(std::ceil(2.5 * soft_px)) + 1;
  cv::GaussianBlur(m, m, {k, k}, soft_px, soft_px, cv::BORDER_CONSTANT);
}

}  // namespace

double HeadCanvas::z_at(const cv::Mat1f& m, cv::Point2d h) const {
  const cv::Point2d p = px(h);
  const int x = std::clamp(static_cast<int>(std::floor(p.x)), 0, m.cols - 2);
  const int y = std::clamp(static_cast<int>(std::floor(p.y)), 0, m.rows - 2);
  const double fx = clamp01(p.x - x), fy = clamp01(p.y - y);
  return (1 - fy) * ((1 - fx) * m(y, x) + fx * m(y, x + 1)) + fy * ((1 - fx) * m(y + 1, x) + fx * m(y + 1, x + 1));
}

cv::Rect coverage(const HeadCanvas& hc, const std::vector<Poly>& polys, double soft, cv::Mat1b& out) {
  const double soft_px = soft * hc.scale;
  const cv::Rect roi = pixel_bounds(hc, polys, 3 * soft_px + 2);
  if (roi.empty()) return roi;
  out.create(roi.size());
  out.setTo(0);
  std::vector<std::vector<cv::Point>> pts;
  for (const auto& poly : polys) {
    std::vector<cv::Point> q;
    q.reserve(poly.size());
    for (const auto& p : poly) q.push_back(fixed(hc.px(p) - cv::Point2d(roi.x, roi.y)));
    pts.push_back(std::move(q));
  }
  cv::fillPoly(out, pts, cv::Scalar(255), cv::LINE_AA, kShift);
  soften(out, soft_px);
  return roi;
}

void blend(HeadCanvas& hc, const cv::Rect& roi, const cv::Mat1b& m, const cv::Vec3d& bgr, double opacity, bool cover) {
  const int k = iround(std::clamp(opacity, 0.0, 1.0) * 256);
  const int c0 = std::clamp(iround(bgr[0]), 0, 255), c1 = std::clamp(iround(bgr[1]), 0, 255),
            c2 = std::clamp(iround(bgr[2]), 0, 255);
  for (int y = 0; y < roi.height; ++y) {
    const std::uint8_t* mr = m.ptr<std::uint8_t>(y);
    cv::Vec3b* ar = hc.albedo.ptr<cv::Vec3b>(roi.y + y) + roi.x;
    std::uint8_t* al = hc.alpha.ptr<std::uint8_t>(roi.y + y) + roi.x;
    for (int x = 0; x < roi.width; ++x) {
      const int a = (mr[x] * k) >> 8;  // 0..255
      if (a == 0) continue;
      cv::Vec3b& d = ar[x];
      d[0] = static_cast<std::uint8_t>(d[0] + (((c0 - d[0]) * a) / 255));
      d[1] = static_cast<std::uint8_t>(d[1] + (((c1 - d[1]) * a) / 255));
      d[2] = static_cast<std::uint8_t>(d[2] + (((c2 - d[2]) * a) / 255));
      if (cover && a > al[x]) al[x] = static_cast<std::uint8_t>(a);
    }
  }
}

void paint(HeadCanvas& hc, const std::vector<Poly>& polys, const cv::Vec3d& bgr, double opacity, double soft,
           bool cover) {
  cv::Mat1b m;
  const cv::Rect roi = coverage(hc, polys, soft, m);
  if (!roi.empty()) blend(hc, roi, m, bgr, opacity, cover);
}

void stroke(HeadCanvas& hc, const Poly& line, const cv::Vec3d& bgr, double width, double opacity, double soft,
            bool closed) {
  if (line.size() < 2) return;
  const double soft_px = soft * hc.scale;
  const double w_px = std::max(width * hc.scale, 0.6);
  const cv::Rect roi = pixel_bounds(hc, {line}, 3 * soft_px + w_px + 2);
  if (roi.empty()) return;
  cv::Mat1b m(roi.size(), std::uint8_t{0});
  std::vector<cv::Point> q;
  for (const auto& p : line) q.push_back(fixed(hc.px(p) - cv::Point2d(roi.x, roi.y)));
  // Thin strokes fade instead of vanishing: a one-pixel line at reduced opacity.
  const int thick = std::max(1, iround(w_px));
  const double fade = std::min(1.0, w_px / thick);
  cv::polylines(m, std::vector<std::vector<cv::Point>>{q}, closed, cv::Scalar(255), thick, cv::LINE_AA, kShift);
  soften(m, soft_px);
  blend(hc, roi, m, bgr, opacity * fade, false);
}

void dot(HeadCanvas& hc, cv::Point2d centre, double radius, const cv::Vec3d& bgr, double opacity, double soft) {
  const int n = std::clamp(iround(radius * hc.scale * 2), 8, 32);
  paint(hc, {ellipse_poly(centre, radius, radius, 0, n)}, bgr, opacity, soft);
}

void bump(cv::Mat1f& z, const HeadCanvas& hc, cv::Point2d centre, double sx, double sy, double amp, double angle) {
  const double reach = 3.0 * std::max(sx, sy);
  const cv::Point2d c = hc.px(centre);
  const int x0 = std::max(0, static_cast<int>(std::floor(c.x - reach * hc.scale)));
  const int x1 = std::min(z.cols - 1, static_cast<int>(std::ceil(c.x + reach * hc.scale)));
  const int y0 = std::max(0, static_cast<int>(std::floor(c.y - reach * hc.scale)));
  const int y1 = std::min(z.rows - 1, static_cast<int>(std::ceil(c.y + reach * hc.scale)));
  const double ca = std::cos(angle), sa = std::sin(angle);
  const double ix = 1.0 / (sx * hc.scale), iy = 1.0 / (sy * hc.scale);
  for (int y = y0; y <= y1; ++y) {
    float* row = z.ptr<float>(y);
    const double dy = y - c.y;
    for (int x = x0; x <= x1; ++x) {
      const double dx = x - c.x;
      const double u = (ca * dx + sa * dy) * ix, v = (-sa * dx + ca * dy) * iy;
      const double r2 = u * u + v * v;
      if (r2 < 9.0) row[x] += static_cast<float>(amp * bell(r2));
    }
  }
}

Poly ellipse_poly(cv::Point2d centre, double ax, double ay, double angle, int n) {
  Poly p;
  p.reserve(static_cast<std::size_t>(n));
  const double ca = std::cos(angle), sa = std::sin(angle);
  for (int i = 0; i < n; ++i) {
    const double t = 2 * kPi * i / n;
    const double x = ax * std::cos(t), y = ay * std::sin(t);
    p.emplace_back(centre.x + ca * x - sa * y, centre.y + sa * x + ca * y);
  }
  return p;
}

namespace {
cv::Point2d catmull(const cv::Point2d& p0, const cv::Point2d& p1, const cv::Point2d& p2, const cv::Point2d& p3,
                    double t) {
  const double t2 = t * t, t3 = t2 * t;
  return 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3);
}
}  // namespace

Poly smooth_closed(const Poly& pts, int per) {
  Poly out;
  const std::size_t n = pts.size();
  for (std::size_t i = 0; i < n; ++i)
    for (int k = 0; k < per; ++k)
      out.push_back(catmull(pts[(i + n - 1) % n], pts[i], pts[(i + 1) % n], pts[(i + 2) % n],
                            static_cast<double>(k) / per));
  return out;
}

Poly smooth_open(const Poly& pts, int per) {
  Poly out;
  const std::size_t n = pts.size();
  if (n < 2) return pts;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const cv::Point2d p0 = i == 0 ? 2 * pts[0] - pts[1] : pts[i - 1];
    const cv::Point2d p3 = i + 2 < n ? pts[i + 2] : 2 * pts[n - 1] - pts[n - 2];
    for (int k = 0; k < per; ++k) out.push_back(catmull(p0, pts[i], pts[i + 1], p3, static_cast<double>(k) / per));
  }
  out.push_back(pts.back());
  return out;
}

Poly mirror_x(const Poly& p) {
  Poly out;
  out.reserve(p.size());
  for (auto it = p.rbegin(); it != p.rend(); ++it) out.emplace_back(-it->x, it->y);
  return out;
}

cv::Mat1f value_noise(std::uint64_t seed, int cols, int rows, cv::Size size, bool smooth) {
  RandomStream r(seed, "face.noise");
  cv::Mat1f grid(rows, cols);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) grid(y, x) = static_cast<float>(r.uniform(-1, 1));
  cv::Mat1f out;
  cv::resize(grid, out, size, 0, 0, smooth ? cv::INTER_CUBIC : cv::INTER_LINEAR);
  return out;
}

}  // namespace gatetwin::sim::render::detail
