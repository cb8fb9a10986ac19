#pragma once
// The gate camera as a pinhole: how big a face of a given size appears at a given distance. Shared by the
// face renderer's evaluation sets, the gate scene and pixel mode so that "0.5–1.5 m" means the same
// everywhere.
#include <cmath>
#include <opencv2/core.hpp>

namespace gatetwin::sim {

struct CameraModel {
  cv::Size frame{640, 480};
  double hfov_deg = 40.0;          // horizontal field of view (a face terminal's narrow lens)
  double height_m = 1.55;          // lens height above the floor
  double fps = 10.0;               // frames delivered per second

  // Focal length in pixels (square pixels).
  double focal_px() const {
    constexpr double kPi = 3.14159265358979323846;
    return 0.5 * frame.width / std::tan(0.5 * hfov_deg * kPi / 180.0);
  }
  // Image size in pixels of a length `size_m` seen face-on at `distance_m` (distance along the optical axis).
  double pixels_at(double size_m, double distance_m) const { return focal_px() * size_m / distance_m; }
  // Inter-ocular distance in pixels of eyes `iod_m` apart (adult mean 0.063 m) at `distance_m`.
  double interocular_px(double distance_m, double iod_m = 0.063) const { return pixels_at(iod_m, distance_m); }
  // Projects a point (x right, y up from the floor, z forward from the lens, metres) to pixels.
  cv::Point2d project(double x_m, double y_m, double z_m) const {
    const double f = focal_px();
    return {0.5 * frame.width + f * x_m / z_m, 0.5 * frame.height - f * (y_m - height_m) / z_m};
  }
};

}  // namespace gatetwin::sim
