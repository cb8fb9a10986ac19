#pragma once
// Internals of the procedural face renderer, shared by sim/src/face_render*.cpp. Not part of the API.
//
// How a face is made: the head is painted frontally in its own coordinates (HeadCanvas: colour, a height
// map, coverage and gloss), lit there with the light turned into head coordinates, and then projected into
// the frame through a triangle mesh over the height map with a depth buffer (so a turned face compresses,
// the nose covers the far cheek and the near ear shows). Neck and shoulders are drawn in the frame first.
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "gatetwin/sim/face_render.hpp"

namespace gatetwin::sim::render::detail {

constexpr double kPi = 3.14159265358979323846;

inline double clamp01(double v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }
inline double lerp(double a, double b, double t) { return a + (b - a) * t; }
inline double smoothstep(double e0, double e1, double x) {
  const double t = clamp01((x - e0) / (e1 - e0));
  return t * t * (3 - 2 * t);
}
inline cv::Vec3d mix(const cv::Vec3d& a, const cv::Vec3d& b, double t) { return a + (b - a) * t; }
inline int iround(double v) { return static_cast<int>(std::lround(v)); }
// A bell close to exp(-r2 / 2) with compact support, (1 - r2 / 16)^8, cut at r2 = 9 (where it is 0.001).
inline double bell(double r2) {
  if (r2 >= 9) return 0;
  double b = 1 - r2 * (1.0 / 16);
  b *= b, b *= b, b *= b;
  return b;
}

// Height profile of the skull and hair shell over q = (x/a)^2 + (y/b)^2 < 1: an ellipsoid whose rim stops
// short of vertical, so that the mesh does not fold where the surface turns away.
inline double dome(double q) { return std::sqrt(std::max(0.0, 1 - 0.9 * q)); }

using Poly = std::vector<cv::Point2d>;

// Where the parts of one face are, for one identity with one capture's expression. Head coordinates:
// units of the inter-ocular distance (IOD), origin midway between the eye centres, x to the image's right,
// y down, z toward the camera. The eye centres are always (-0.5, 0) and (0.5, 0).
struct Geometry {
  double eye_half_w = 0.25, eye_up = 0.1, eye_down = 0.07, eye_tilt = 0, iris_r = 0.1, eye_open = 1;
  std::array<double, 2> brow_y{-0.3, -0.3};  // left, right (lower edge at the brow's middle)
  double brow_thick = 0.07, brow_arch = 0.05, brow_in = 0.1, brow_out = 0.78;
  double nose_x = 0, nose_tip_y = 0.72, nose_half_w = 0.24, nose_tip_z = 0.5, nose_bridge_z = 0.12;
  double mouth_x = 0, mouth_y = 1.12, mouth_half_w = 0.4, upper_lip = 0.07, lower_lip = 0.1;
  double corner_lift = 0, mouth_open = 0;
  // Small shape details fixed per identity (from its texture seed).
  double lid_peak = 0.8, lid_low = 1.2, crease = 0.5, lip_bow = 0.35, nostril = 1, tip_round = 1;
  double temple_half_w = 0.95, cheek_y = 0.25, cheek_half_w = 1.02, jaw_y = 1.25, jaw_half_w = 0.8;
  double chin_y = 1.8, chin_half_w = 0.25;
  double hairline_y = -1.05, brow_top = -0.4;
  double skull_cy = -0.55, skull_a = 1.12, skull_b = 1.5;  // skull ellipse centre height and half-axes
  double ear_top = -0.2, ear_bottom = 0.65, ear_w = 0.24;
  Poly outline;  // closed outline of the face's skin, clockwise from the top centre

  double half_width(double y) const;  // half-width of the outline at height y (0 above or below it)
};
Geometry make_geometry(const FaceIdentity& id, const Capture& c);

// The head painted frontally before the pose. Pixel (u, v) shows head point origin + (u, v) / scale.
struct HeadCanvas {
  double scale = 64;      // pixels per IOD
  cv::Point2d origin;     // pixel position of the head origin
  cv::Mat3b albedo;       // colour before lighting
  cv::Mat1f z;            // height in IOD
  cv::Mat1f z_face;       // height of the bare face (before hair, mask and hat), for the landmarks
  cv::Mat1b alpha;        // coverage
  cv::Mat1b gloss;        // specular strength (skin a little, lenses and eyes a lot)
  cv::Mat1b face;         // 255 where the face box counts: inside the outline, brows' top to chin
  cv::Mat1b hair;         // hair coverage (for the hat and masks to sit on)

  cv::Point2d px(cv::Point2d head) const { return origin + head * scale; }
  cv::Point2d head(double u, double v) const { return {(u - origin.x) / scale, (v - origin.y) / scale}; }
  double z_at(const cv::Mat1f& m, cv::Point2d head) const;  // bilinear
};

// Extent of every head canvas, in IOD around the head origin.
constexpr double kCanvasLeft = 1.85, kCanvasTop = 2.55, kCanvasBottom = 2.5;

// Painting primitives (face_render_paint.cpp). Coordinates are head coordinates; widths are in IOD.
// `soft` blurs the coverage over that many IOD; `cover` also adds the coverage to the canvas alpha.
void paint(HeadCanvas& hc, const std::vector<Poly>& polys, const cv::Vec3d& bgr, double opacity, double soft = 0,
           bool cover = false);
void stroke(HeadCanvas& hc, const Poly& line, const cv::Vec3d& bgr, double width, double opacity, double soft = 0,
            bool closed = false);
void dot(HeadCanvas& hc, cv::Point2d centre, double radius, const cv::Vec3d& bgr, double opacity, double soft = 0);
// Coverage of polygons in a region of interest (8-bit, anti-aliased, optionally blurred).
cv::Rect coverage(const HeadCanvas& hc, const std::vector<Poly>& polys, double soft, cv::Mat1b& out);
// Colour `bgr` into the albedo through the coverage `m` placed at `roi`.
void blend(HeadCanvas& hc, const cv::Rect& roi, const cv::Mat1b& m, const cv::Vec3d& bgr, double opacity, bool cover);
// Adds amp * exp(-r^2/2) to the height, r measured in (sx, sy) after turning by `angle` (radians).
void bump(cv::Mat1f& z, const HeadCanvas& hc, cv::Point2d centre, double sx, double sy, double amp, double angle = 0);
// Points of an ellipse (head coordinates).
Poly ellipse_poly(cv::Point2d centre, double ax, double ay, double angle = 0, int n = 32);
// A closed Catmull-Rom curve through `pts`, `per` points per segment.
Poly smooth_closed(const Poly& pts, int per);
Poly smooth_open(const Poly& pts, int per);
Poly mirror_x(const Poly& p);
// Identity-fixed low-frequency noise in [-1, 1], resolution independent: a cols x rows grid of values
// spread over the canvas, interpolated to the canvas size (bicubic when `smooth`, else bilinear).
cv::Mat1f value_noise(std::uint64_t seed, int cols, int rows, cv::Size size, bool smooth);

// The identity's shape warp (FaceIdentity::shape_warp): where each point of the painted head moves to,
// with the eye centres held in place. The canvas is not resampled: composite() moves the mesh's vertices,
// so the warp costs next to nothing. `moved` maps a head point of the canvas to where it lands.
struct ShapeWarp {
  cv::Mat1f dx, dy;       // displacement in IOD over the canvas, at a quarter of its resolution; empty: none
  cv::Point2d moved(const HeadCanvas& hc, cv::Point2d head) const;
};
ShapeWarp shape_warp(const HeadCanvas& hc, const FaceIdentity& id);

// The head (face_render_head.cpp): skin, features, hair; then the wearables (face_render_wear.cpp).
HeadCanvas paint_head(const FaceIdentity& id, const Capture& c, const Geometry& g, double scale);
void paint_hair(HeadCanvas& hc, const FaceIdentity& id, const Geometry& g, bool back_layer);
void paint_glasses(HeadCanvas& hc, const FaceIdentity& id, const Geometry& g);
void paint_mask(HeadCanvas& hc, const Capture& c, const Geometry& g);
void paint_hat(HeadCanvas& hc, const Capture& c, const Geometry& g);

// Pose (face_render_pose.cpp): head coordinates to frame pixels with mild perspective.
struct Pose {
  cv::Matx33d rot;             // head -> camera
  cv::Point3d pivot;           // the head point that lands on `centre`: between the eyes, at their depth
  cv::Point2d centre;          // frame position of the pivot
  double scale = 64;           // pixels per IOD at the pivot's depth
  double camera_distance = 14; // IOD
  cv::Point2d project(const cv::Point3d& head, double* depth = nullptr) const;
};
Pose make_pose(const Capture& c);
// Draws neck and shoulders behind the head.
void draw_body(cv::Mat& frame, const Geometry& g, const Pose& pose, const Capture& c, const FaceIdentity& id);
// Lights the canvas, projects it through the pose (each mesh vertex moved by the shape warp first) and
// blends it over the frame. Returns the face box.
cv::Rect2d composite(cv::Mat& frame, const HeadCanvas& hc, const Pose& pose, const Capture& c, const ShapeWarp& warp);

}  // namespace gatetwin::sim::render::detail
