// From head canvas to frame: the pose (yaw, pitch, roll, mild perspective), lighting in head coordinates
// (Lambert with wrap, ambient occlusion from the height map, specular), a depth-buffered triangle mesh over
// the height map that gives every frame pixel its canvas position, and alpha blending. Also the neck and
// shoulders, drawn in the frame behind the head.
#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "face_render_internal.hpp"
#include "gatetwin/sim/random.hpp"

namespace gatetwin::sim::render::detail {

cv::Point2d Pose::project(const cv::Point3d& head, double* depth) const {
  const cv::Point3d q = rot * (head - pivot);
  const double k = camera_distance / (camera_distance - q.z);
  if (depth) *depth = q.z;
  return centre + scale * k * cv::Point2d(q.x, q.y);
}

Pose make_pose(const Capture& c) {
  const double a = c.yaw_deg * kPi / 180, b = c.pitch_deg * kPi / 180, r = c.roll_deg * kPi / 180;
  // Yaw turns the nose toward the image's right, pitch lifts it, roll turns the face clockwise.
  const cv::Matx33d ry(std::cos(a), 0, std::sin(a), 0, 1, 0, -std::sin(a), 0, std::cos(a));
  const cv::Matx33d rx(1, 0, 0, 0, std::cos(b), -std::sin(b), 0, std::sin(b), std::cos(b));
  const cv::Matx33d rz(std::cos(r), -std::sin(r), 0, std::sin(r), std::cos(r), 0, 0, 0, 1);
  Pose p;
  p.rot = rz * rx * ry;
  p.centre = c.face_centre;
  p.scale = std::max(1.0, c.interocular_px);
  return p;
}

namespace {

cv::Point fx(cv::Point2d p) { return {iround(p.x * 16), iround(p.y * 16)}; }

void fill(cv::Mat& frame, const std::vector<cv::Point2d>& pts, const cv::Vec3d& bgr) {
  std::vector<std::vector<cv::Point>> q(1);
  for (const auto& p : pts) q[0].push_back(fx(p));
  cv::fillPoly(frame, q, cv::Scalar(bgr[0], bgr[1], bgr[2]), cv::LINE_AA, 4);
}

// Lit colour of the canvas, premultiplied by coverage (BGRA).
cv::Mat4b shade(const HeadCanvas& hc, const Pose& pose, const Capture& c) {
  cv::Mat4b out(hc.albedo.size(), cv::Vec4b(0, 0, 0, 0));
  const cv::Rect box = cv::boundingRect(hc.alpha);
  if (box.empty()) return out;
  const int w = box.width, h = box.height;
  const cv::Mat1f z = hc.z(box);
  cv::Mat1f gx, gy, zs;
  cv::GaussianBlur(z, zs, {5, 5}, std::max(0.5, 0.012 * hc.scale), 0, cv::BORDER_REPLICATE);
  cv::Sobel(zs, gx, CV_32F, 1, 0, 3, 1, 0, cv::BORDER_REPLICATE);
  cv::Sobel(zs, gy, CV_32F, 0, 1, 3, 1, 0, cv::BORDER_REPLICATE);
  // Ambient occlusion: creases lower than their surroundings get less light (computed at a quarter size).
  cv::Mat1f small, blurred;
  cv::resize(z, small, {std::max(1, w / 4), std::max(1, h / 4)}, 0, 0, cv::INTER_AREA);
  cv::GaussianBlur(small, small, {0, 0}, std::max(0.5, 0.12 * hc.scale / 4), 0, cv::BORDER_REPLICATE);
  cv::resize(small, blurred, z.size(), 0, 0, cv::INTER_LINEAR);

  const double az = c.light_azimuth_deg * kPi / 180, el = c.light_elevation_deg * kPi / 180;
  const cv::Vec3d lc(std::sin(az) * std::cos(el), -std::sin(el), std::cos(az) * std::cos(el));
  const cv::Matx33d rt = pose.rot.t();
  const cv::Vec3d l = rt * lc, v = rt * cv::Vec3d(0, 0, 1);
  cv::Vec3d hv = l + v;
  hv /= std::max(1e-9, cv::norm(hv));
  const double amb = std::max(0.0, c.ambient), str = std::max(0.0, c.light_strength), front = std::max(0.0, c.fill_light);
  const double slope = hc.scale / 8.0;  // Sobel gives 8x the per-pixel difference
  const double wrap = 0.25;
  for (int y = 0; y < h; ++y) {
    const float* gxr = gx.ptr<float>(y);
    const float* gyr = gy.ptr<float>(y);
    const float* zr = z.ptr<float>(y);
    const float* br = blurred.ptr<float>(y);
    const cv::Vec3b* ar = hc.albedo.ptr<cv::Vec3b>(box.y + y) + box.x;
    const std::uint8_t* alr = hc.alpha.ptr<std::uint8_t>(box.y + y) + box.x;
    const std::uint8_t* glr = hc.gloss.ptr<std::uint8_t>(box.y + y) + box.x;
    cv::Vec4b* o = out.ptr<cv::Vec4b>(box.y + y) + box.x;
    for (int x = 0; x < w; ++x) {
      const int a = alr[x];
      if (a == 0) continue;
      double nx = -gxr[x] * slope, ny = -gyr[x] * slope;
      const double inv = 1.0 / std::sqrt(nx * nx + ny * ny + 1.0);
      nx *= inv, ny *= inv;
      const double nz = inv;
      const double ndl = nx * l[0] + ny * l[1] + nz * l[2];
      const double diffuse = std::max(0.0, (ndl + wrap) / (1 + wrap));
      const double ao = std::clamp(1.0 - 2.2 * std::max(0.0, static_cast<double>(br[x] - zr[x])), 0.55, 1.0);
      double sp = std::max(0.0, nx * hv[0] + ny * hv[1] + nz * hv[2]);
      sp *= sp, sp *= sp, sp *= sp, sp *= sp, sp *= sp;  // ^32
      const double ndv = nx * v[0] + ny * v[1] + nz * v[2];  // the fill light comes from the camera
      const double light = (amb + str * 1.1 * diffuse + front * std::max(0.0, (ndv + wrap) / (1 + wrap))) * ao;
      const double spec = glr[x] / 255.0 * str * sp * 170.0 * (ndl > 0 ? 1.0 : 0.0);
      const double k = a / 255.0;
      for (int ch = 0; ch < 3; ++ch)
        o[x][ch] = cv::saturate_cast<std::uint8_t>((ar[x][ch] * light + spec) * k);
      o[x][3] = static_cast<std::uint8_t>(a);
    }
  }
  return out;
}

struct Node {
  float x, y, z, u, v;
};

// Rasterises one triangle into the depth buffer and the canvas-position maps (patch coordinates).
void raster(const Node& a, const Node& b, const Node& c, cv::Mat1f& zbuf, cv::Mat1f& mu, cv::Mat1f& mv) {
  const float area = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
  if (std::abs(area) < 1e-6f) return;
  const float inv = 1.0f / area;
  const int x0 = std::max(0, static_cast<int>(std::ceil(std::min({a.x, b.x, c.x}))));
  const int x1 = std::min(zbuf.cols - 1, static_cast<int>(std::floor(std::max({a.x, b.x, c.x}))));
  const int y0 = std::max(0, static_cast<int>(std::ceil(std::min({a.y, b.y, c.y}))));
  const int y1 = std::min(zbuf.rows - 1, static_cast<int>(std::floor(std::max({a.y, b.y, c.y}))));
  constexpr float eps = -1e-4f;
  for (int y = y0; y <= y1; ++y) {
    float* zr = zbuf.ptr<float>(y);
    float* ur = mu.ptr<float>(y);
    float* vr = mv.ptr<float>(y);
    const auto py = static_cast<float>(y);
    for (int x = x0; x <= x1; ++x) {
      const auto px = static_cast<float>(x);
      const float w0 = ((b.x - px) * (c.y - py) - (b.y - py) * (c.x - px)) * inv;
      const float w1 = ((c.x - px) * (a.y - py) - (c.y - py) * (a.x - px)) * inv;
      const float w2 = 1.0f - w0 - w1;
      if (w0 < eps || w1 < eps || w2 < eps) continue;
      const float z = w0 * a.z + w1 * b.z + w2 * c.z;
      if (z <= zr[x]) continue;
      zr[x] = z;
      ur[x] = w0 * a.u + w1 * b.u + w2 * c.u;
      vr[x] = w0 * a.v + w1 * b.v + w2 * c.v;
    }
  }
}

}  // namespace

void draw_body(cv::Mat& frame, const Geometry& g, const Pose& pose, const Capture& c, const FaceIdentity& id) {
  // The torso turns a third as much as the head and does not pitch.
  Capture body_c = c;
  body_c.yaw_deg = c.yaw_deg / 3, body_c.pitch_deg = 0, body_c.roll_deg = c.roll_deg / 3;
  Pose body = make_pose(body_c);
  // The neck hangs from the head; the shoulders sit below it in the body's frame.
  const double neck_w = 0.5 + 0.08 * id.face_width - (id.feminine ? 0.06 : 0.0);
  const double base_y = g.chin_y + 0.7;
  const cv::Point3d pivot(0, g.chin_y - 0.6, -1.3);  // where the head turns on the neck
  body.centre += pose.project(pivot) - body.project(pivot);
  std::vector<cv::Point2d> neck{pose.project({-neck_w, g.chin_y - 0.5, -0.9}),
                                pose.project({neck_w, g.chin_y - 0.5, -0.9}),
                                body.project({neck_w * 1.05, base_y + 0.2, -0.9}),
                                body.project({-neck_w * 1.05, base_y + 0.2, -0.9})};
  const cv::Vec3d skin = id.skin_bgr;
  // The neck is a shaded cylinder: darker at its sides and in the jaw's shadow at the top.
  {
    std::vector<std::vector<cv::Point>> q(1);
    for (const auto& p : neck) q[0].push_back(fx(p));
    std::vector<cv::Point2f> nf(neck.begin(), neck.end());
    const cv::Rect roi = (cv::boundingRect(nf) + cv::Size(2, 2)) & cv::Rect(0, 0, frame.cols, frame.rows);
    if (!roi.empty()) {
      cv::Mat1b m(roi.size(), std::uint8_t{0});
      for (auto& p : q[0]) p -= cv::Point(roi.x * 16, roi.y * 16);
      cv::fillPoly(m, q, cv::Scalar(255), cv::LINE_AA, 4);
      const double top = pose.project({0, g.chin_y, -0.9}).y - roi.y;
      for (int y = 0; y < roi.height; ++y) {
        const std::uint8_t* mr = m.ptr<std::uint8_t>(y);
        int x0 = -1, x1 = -1;
        for (int x = 0; x < roi.width; ++x)
          if (mr[x] > 127) {
            if (x0 < 0) x0 = x;
            x1 = x;
          }
        if (x0 < 0) continue;
        const double cx = 0.5 * (x0 + x1), hw = std::max(1.0, 0.5 * (x1 - x0));
        const double shadow = 1 - 0.3 * std::exp(-std::max(0.0, y - top) / (0.25 * pose.scale));
        cv::Vec3b* d = frame.ptr<cv::Vec3b>(roi.y + y) + roi.x;
        for (int x = 0; x < roi.width; ++x) {
          if (mr[x] == 0) continue;
          const double t = std::min(1.0, std::abs(x - cx) / hw);
          const double k = (0.58 + 0.27 * std::sqrt(1 - t * t)) * shadow;
          const double a = mr[x] / 255.0;
          for (int ch = 0; ch < 3; ++ch) d[x][ch] = cv::saturate_cast<std::uint8_t>(lerp(d[x][ch], skin[ch] * k, a));
        }
      }
    }
  }

  RandomStream r(c.background_seed, "face.clothing");
  const cv::Vec3d palette[] = {{40, 40, 40},   {110, 70, 40},  {200, 200, 200}, {60, 60, 140}, {60, 110, 60},
                               {150, 150, 150}, {170, 130, 90}, {70, 140, 190},  {120, 60, 110}, {30, 50, 90}};
  const cv::Vec3d cloth = palette[r.below(10)];
  const double sh = r.uniform(2.3, 2.9);
  std::vector<cv::Point2d> torso;
  for (int i = 0; i <= 12; ++i) {  // shoulder line: a rounded arch
    const double t = -1 + 2.0 * i / 12;
    const double x = t * sh;
    const double y = base_y + 0.1 + 0.35 * std::pow(std::abs(t), 2.0) + (std::abs(t) > 0.85 ? (std::abs(t) - 0.85) * 2.5 : 0);
    torso.push_back(body.project({x, y, -1.2}));
  }
  torso.push_back(body.project({sh * 1.15, base_y + 12, -1.2}));
  torso.push_back(body.project({-sh * 1.15, base_y + 12, -1.2}));
  std::rotate(torso.begin(), torso.end() - 2, torso.end());
  fill(frame, torso, cloth);
  // Collar: round or V neckline showing skin, a darker fold line at the arm.
  const bool vneck = r.bernoulli(0.4);
  std::vector<cv::Point2d> collar{body.project({-neck_w * 1.25, base_y + 0.05, -1.0}),
                                  body.project({0, base_y + (vneck ? 0.9 : 0.45), -1.0}),
                                  body.project({neck_w * 1.25, base_y + 0.05, -1.0})};
  fill(frame, collar, skin * 0.72);
  for (double sx : {-1.0, 1.0}) {
    std::vector<cv::Point2d> fold{body.project({sx * sh * 0.78, base_y + 0.75, -1.2}),
                                  body.project({sx * sh * 0.83, base_y + 3.0, -1.2})};
    cv::line(frame, fx(fold[0]), fx(fold[1]), cv::Scalar(cloth[0] * 0.7, cloth[1] * 0.7, cloth[2] * 0.7),
             std::max(1, iround(0.04 * pose.scale)), cv::LINE_AA, 4);
  }
}

cv::Rect2d composite(cv::Mat& frame, const HeadCanvas& hc, const Pose& pose, const Capture& c, const ShapeWarp& warp) {
  const cv::Mat4b lit = shade(hc, pose, c);
  const int w = hc.albedo.cols, h = hc.albedo.rows;
  const int step = std::max(1, iround(hc.scale * 0.055));
  const int nx = (w - 1) / step + 1, ny = (h - 1) / step + 1;  // cells
  // Nodes at the cell corners, projected.
  std::vector<Node> nodes(static_cast<std::size_t>((nx + 1) * (ny + 1)));
  double bx0 = 1e9, by0 = 1e9, bx1 = -1e9, by1 = -1e9;
  std::vector<std::uint8_t> used(static_cast<std::size_t>(nx * ny), 0);
  for (int v = 0; v < h; ++v) {
    const std::uint8_t* ar = hc.alpha.ptr<std::uint8_t>(v);
    for (int u = 0; u < w; ++u)
      if (ar[u]) used[static_cast<std::size_t>((v / step) * nx + u / step)] = 1;
  }
  // Node heights; a node outside the coverage takes the height its covered neighbours suggest, so the
  // cells along a silhouette stay rigid instead of stretching toward the empty canvas behind.
  cv::Mat1f nz(ny + 1, nx + 1), nz_ext;
  cv::Mat1b covered(ny + 1, nx + 1);
  for (int j = 0; j <= ny; ++j)
    for (int i = 0; i <= nx; ++i) {
      const int u = std::min(i * step, w - 1), v = std::min(j * step, h - 1);
      nz(j, i) = hc.z(v, u);
      covered(j, i) = hc.alpha(v, u) >= 128 ? 255 : 0;
    }
  // Normalised convolution: the local average height of the covered nodes, smooth along the silhouette.
  cv::Mat1f cov, num, den;
  covered.convertTo(cov, CV_32F, 1.0 / 255);
  cv::GaussianBlur(nz.mul(cov), num, {7, 7}, 1.5, 1.5, cv::BORDER_REPLICATE);
  cv::GaussianBlur(cov, den, {7, 7}, 1.5, 1.5, cv::BORDER_REPLICATE);
  nz_ext = nz.clone();
  for (int j = 0; j <= ny; ++j)
    for (int i = 0; i <= nx; ++i)
      if (!covered(j, i) && den(j, i) > 1e-3f) nz_ext(j, i) = num(j, i) / den(j, i);
  for (int j = 0; j <= ny; ++j)
    for (int i = 0; i <= nx; ++i) {
      const cv::Point2d hp = warp.moved(hc, hc.head(i * step, j * step));
      double depth = 0;
      const cv::Point2d p = pose.project({hp.x, hp.y, nz_ext(j, i)}, &depth);
      nodes[static_cast<std::size_t>(j * (nx + 1) + i)] = {static_cast<float>(p.x), static_cast<float>(p.y),
                                                           static_cast<float>(depth), static_cast<float>(i * step),
                                                           static_cast<float>(j * step)};
    }
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      if (!used[static_cast<std::size_t>(j * nx + i)]) continue;
      for (int dj = 0; dj <= 1; ++dj)
        for (int di = 0; di <= 1; ++di) {
          const Node& n = nodes[static_cast<std::size_t>((j + dj) * (nx + 1) + i + di)];
          bx0 = std::min(bx0, static_cast<double>(n.x)), by0 = std::min(by0, static_cast<double>(n.y));
          bx1 = std::max(bx1, static_cast<double>(n.x)), by1 = std::max(by1, static_cast<double>(n.y));
        }
    }
  const cv::Rect patch = cv::Rect(cv::Point(static_cast<int>(std::floor(bx0)) - 1, static_cast<int>(std::floor(by0)) - 1),
                                  cv::Point(static_cast<int>(std::ceil(bx1)) + 2, static_cast<int>(std::ceil(by1)) + 2)) &
                         cv::Rect(0, 0, frame.cols, frame.rows);
  if (patch.empty()) return {};
  cv::Mat1f zbuf(patch.size(), -1e9f), mu(patch.size(), -10.0f), mv(patch.size(), -10.0f);
  const auto ox = static_cast<float>(patch.x), oy = static_cast<float>(patch.y);
  auto at = [&](int i, int j) {
    Node n = nodes[static_cast<std::size_t>(j * (nx + 1) + i)];
    n.x -= ox, n.y -= oy;
    return n;
  };
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      if (!used[static_cast<std::size_t>(j * nx + i)]) continue;
      const Node a = at(i, j), b = at(i + 1, j), cc = at(i + 1, j + 1), d = at(i, j + 1);
      raster(a, b, cc, zbuf, mu, mv);
      raster(a, cc, d, zbuf, mu, mv);
    }
  cv::Mat4b warped;
  cv::remap(lit, warped, mu, mv, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0, 0));
  cv::Mat1b label;
  cv::remap(hc.face, label, mu, mv, cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::Mat roi = frame(patch);
  for (int y = 0; y < patch.height; ++y) {
    const cv::Vec4b* s = warped.ptr<cv::Vec4b>(y);
    cv::Vec3b* d = roi.ptr<cv::Vec3b>(y);
    for (int x = 0; x < patch.width; ++x) {
      const int a = s[x][3];
      if (a == 0) continue;
      for (int ch = 0; ch < 3; ++ch) d[x][ch] = cv::saturate_cast<std::uint8_t>(d[x][ch] * (255 - a) / 255 + s[x][ch]);
    }
  }
  const cv::Rect box = cv::boundingRect(label);
  if (box.empty()) return {};
  return {static_cast<double>(box.x + patch.x), static_cast<double>(box.y + patch.y), static_cast<double>(box.width),
          static_cast<double>(box.height)};
}

}  // namespace gatetwin::sim::render::detail
