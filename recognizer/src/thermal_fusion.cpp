#include "gatetwin/recognizer/thermal_fusion.hpp"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace gatetwin::recognizer {

std::string_view to_string(SensorStatus v) {
  switch (v) {
    case SensorStatus::ok: return "ok";
    case SensorStatus::warming_up: return "warming_up";
    case SensorStatus::out_of_range: return "out_of_range";
    case SensorStatus::fault: return "fault";
  }
  return "?";
}

std::string_view to_string(ThermalStatus v) {
  switch (v) {
    case ThermalStatus::ok: return "ok";
    case ThermalStatus::no_face: return "no_face";
    case ThermalStatus::stale: return "stale";
    case ThermalStatus::ambiguous: return "ambiguous";
    case ThermalStatus::out_of_region: return "out_of_region";
    case ThermalStatus::out_of_range: return "out_of_range";
    case ThermalStatus::too_far: return "too_far";
    case ThermalStatus::implausible: return "implausible";
    case ThermalStatus::sensor_not_ready: return "sensor_not_ready";
    case ThermalStatus::sensor_fault: return "sensor_fault";
    case ThermalStatus::suspect_stuck: return "suspect_stuck";
  }
  return "?";
}

std::string_view to_string(FeedAction v) {
  switch (v) {
    case FeedAction::fed: return "fed";
    case FeedAction::remeasure: return "remeasure";
    case FeedAction::staff_referral: return "staff_referral";
    case FeedAction::not_measuring: return "not_measuring";
  }
  return "?";
}

namespace {

// Geometric comparisons tolerate rounding of this much (pixels, or shares of an area).
constexpr double kEps = 1e-9;

__attribute__((format(printf, 1, 2))) std::string format(const char* fmt, ...) {
  char buf[160];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

[[noreturn]] void bad(const char* what) { throw std::invalid_argument(std::string("thermal fusion: ") + what); }

bool finite(double v) { return std::isfinite(v); }
bool finite(Point p) { return finite(p.x) && finite(p.y); }
bool finite(const Box& b) { return finite(b.x) && finite(b.y) && finite(b.w) && finite(b.h); }
bool positive_box(const Box& b) { return finite(b) && b.w > 0.0 && b.h > 0.0; }

bool valid_face(const FaceObservation& f) {
  if (!positive_box(f.box) || !finite(f.interocular_px) || f.interocular_px <= 0.0) return false;
  if (f.forehead && !finite(*f.forehead)) return false;
  if (f.inner_canthus_left && !finite(*f.inner_canthus_left)) return false;
  if (f.inner_canthus_right && !finite(*f.inner_canthus_right)) return false;
  return true;
}

ThermalAssociation result(ThermalStatus status, int face_index, std::string detail) {
  ThermalAssociation a;
  a.status = status;
  a.face_index = face_index;
  a.detail = std::move(detail);
  return a;
}

ThermalAssociation ok_result(double skin_c, int face_index, std::string detail) {
  ThermalAssociation a = result(ThermalStatus::ok, face_index, std::move(detail));
  a.skin_c = skin_c;
  return a;
}

// Shared by both sensors: the sensor's own status.
std::optional<ThermalAssociation> sensor_status_result(SensorStatus status) {
  switch (status) {
    case SensorStatus::ok: return std::nullopt;
    case SensorStatus::warming_up: return result(ThermalStatus::sensor_not_ready, -1, "sensor warming up");
    case SensorStatus::out_of_range: return result(ThermalStatus::out_of_range, -1, "sensor reports object out of range");
    case SensorStatus::fault: return result(ThermalStatus::sensor_fault, -1, "sensor reports a fault");
  }
  return result(ThermalStatus::sensor_fault, -1, "unknown sensor status");
}

// |a - b| in microseconds without overflow, for any pair of int64 timestamps.
std::uint64_t abs_difference(Micros a, Micros b) {
  const auto ua = static_cast<std::uint64_t>(a.count());
  const auto ub = static_cast<std::uint64_t>(b.count());
  return a >= b ? ua - ub : ub - ua;
}

std::optional<ThermalAssociation> stale_result(const ThermalFusionConfig& config, Micros reading, Micros frame) {
  const std::uint64_t skew = abs_difference(reading, frame);
  if (skew <= static_cast<std::uint64_t>(config.max_skew.count())) return std::nullopt;
  return result(ThermalStatus::stale, -1,
                format("reading %llu us from the frame (max %lld us)", static_cast<unsigned long long>(skew),
                       static_cast<long long>(config.max_skew.count())));
}

std::optional<ThermalAssociation> plausibility_result(const ThermalFusionConfig& config, double value, int face) {
  if (!finite(value)) return result(ThermalStatus::implausible, face, "value is not a number");
  if (value < config.min_skin_c || value > config.max_skin_c) {
    return result(ThermalStatus::implausible, face,
                  format("%.2f C outside %.1f..%.1f C", value, config.min_skin_c, config.max_skin_c));
  }
  return std::nullopt;
}

}  // namespace

void validate(const ThermalFusionConfig& c) {
  if (c.max_skew.count() < 0) bad("max_skew must not be negative");
  if (!finite(c.focal_length_px) || c.focal_length_px <= 0.0) bad("focal_length_px must be positive");
  if (!finite(c.mean_interocular_m) || c.mean_interocular_m <= 0.0) bad("mean_interocular_m must be positive");
  if (!(c.min_region_coverage > 0.0 && c.min_region_coverage <= 1.0)) bad("min_region_coverage must be in (0, 1]");
  if (!(c.ambiguity_coverage > 0.0 && c.ambiguity_coverage <= 1.0)) bad("ambiguity_coverage must be in (0, 1]");
  const ForeheadRoi& r = c.roi;
  if (!finite(r.canthus_margin_iod) || r.canthus_margin_iod < 0.0) bad("roi.canthus_margin_iod must be >= 0");
  if (!finite(r.point_width_iod) || r.point_width_iod <= 0.0) bad("roi.point_width_iod must be positive");
  if (!finite(r.point_height_iod) || r.point_height_iod <= 0.0) bad("roi.point_height_iod must be positive");
  if (!(r.box_left >= 0.0 && r.box_left < r.box_right && r.box_right <= 1.0)) {
    bad("roi.box_left/box_right must satisfy 0 <= left < right <= 1");
  }
  if (!(r.box_top >= 0.0 && r.box_top < r.box_bottom && r.box_bottom <= 1.0)) {
    bad("roi.box_top/box_bottom must satisfy 0 <= top < bottom <= 1");
  }
  if (!(c.array_percentile > 0.0 && c.array_percentile <= 100.0)) bad("array_percentile must be in (0, 100]");
  if (c.min_roi_pixels < 1) bad("min_roi_pixels must be at least 1");
  if (!finite(c.min_skin_c) || !finite(c.max_skin_c) || c.min_skin_c >= c.max_skin_c) {
    bad("min_skin_c must be below max_skin_c");
  }
  if (c.stuck_readings < 2) bad("stuck_readings must be at least 2");
  if (c.max_failed_associations < 1) bad("max_failed_associations must be at least 1");
}

void validate(const SpotSensorCalibration& c) {
  if (!positive_box(c.region)) bad("spot region must be finite with positive size");
  if (!finite(c.min_distance_m) || !finite(c.max_distance_m) || c.min_distance_m <= 0.0 ||
      c.min_distance_m >= c.max_distance_m) {
    bad("spot distance range must satisfy 0 < min < max");
  }
}

void validate(const ArraySensorCalibration& c) {
  if (c.width < 1 || c.height < 1) bad("array width and height must be at least 1");
  for (double v : c.visible_to_thermal.m) {
    if (!finite(v)) bad("visible_to_thermal must be finite");
  }
  const auto& m = c.visible_to_thermal.m;
  const double det = m[0] * m[4] - m[1] * m[3];
  if (!finite(det) || std::fabs(det) < 1e-12) bad("visible_to_thermal must be invertible");
}

double estimate_distance_m(const ThermalFusionConfig& config, double interocular_px) {
  if (!finite(interocular_px) || interocular_px <= 0.0) return std::numeric_limits<double>::quiet_NaN();
  return config.focal_length_px * config.mean_interocular_m / interocular_px;
}

int deciding_face(std::span<const FaceObservation> faces) {
  int best = -1;
  double best_iod = 0.0;
  for (std::size_t i = 0; i < faces.size(); ++i) {
    if (!valid_face(faces[i])) continue;
    if (best < 0 || faces[i].interocular_px > best_iod) {
      best = static_cast<int>(i);
      best_iod = faces[i].interocular_px;
    }
  }
  return best;
}

double region_coverage(const Box& face, const Box& region) {
  if (!positive_box(face) || !positive_box(region)) return 0.0;
  const double x0 = std::max(face.x, region.x);
  const double y0 = std::max(face.y, region.y);
  const double x1 = std::min(face.x + face.w, region.x + region.w);
  const double y1 = std::min(face.y + face.h, region.y + region.h);
  if (!(x1 > x0 && y1 > y0)) return 0.0;
  const double share = ((x1 - x0) * (y1 - y0)) / (region.w * region.h);
  return finite(share) ? std::clamp(share, 0.0, 1.0) : 0.0;
}

Box forehead_roi(const ThermalFusionConfig& config, const FaceObservation& face) {
  const ForeheadRoi& r = config.roi;
  const double iod = face.interocular_px;
  if (face.inner_canthus_left && face.inner_canthus_right) {
    const Point a = *face.inner_canthus_left;
    const Point b = *face.inner_canthus_right;
    const double margin = r.canthus_margin_iod * iod;
    const double x0 = std::min(a.x, b.x) - margin;
    const double y0 = std::min(a.y, b.y) - margin;
    return {x0, y0, std::fabs(a.x - b.x) + 2.0 * margin, std::fabs(a.y - b.y) + 2.0 * margin};
  }
  if (face.forehead) {
    const double w = r.point_width_iod * iod;
    const double h = r.point_height_iod * iod;
    return {face.forehead->x - w / 2.0, face.forehead->y - h / 2.0, w, h};
  }
  const Box& b = face.box;
  return {b.x + r.box_left * b.w, b.y + r.box_top * b.h, (r.box_right - r.box_left) * b.w,
          (r.box_bottom - r.box_top) * b.h};
}

ThermalAssociation associate_spot(const ThermalFusionConfig& config, const SpotSensorCalibration& calibration,
                                  const SpotReading& reading, std::span<const FaceObservation> faces,
                                  Micros frame_time) {
  validate(config);
  validate(calibration);
  if (auto r = sensor_status_result(reading.status)) return std::move(*r);
  if (auto r = stale_result(config, reading.time, frame_time)) return std::move(*r);

  const int decider = deciding_face(faces);
  if (decider < 0) return result(ThermalStatus::no_face, -1, format("no valid face among %zu", faces.size()));

  int in_region = 0;
  for (const auto& f : faces) {
    if (valid_face(f) && region_coverage(f.box, calibration.region) + kEps >= config.ambiguity_coverage) ++in_region;
  }
  if (in_region >= 2) {
    return result(ThermalStatus::ambiguous, decider, format("%d faces in the measuring region", in_region));
  }

  const FaceObservation& face = faces[static_cast<std::size_t>(decider)];
  const double coverage = region_coverage(face.box, calibration.region);
  if (coverage + kEps < config.min_region_coverage) {
    return result(ThermalStatus::out_of_region, decider,
                  format("face covers %.3f of the region (min %.3f)", coverage, config.min_region_coverage));
  }

  const double distance = estimate_distance_m(config, face.interocular_px);
  if (!(distance >= calibration.min_distance_m && distance <= calibration.max_distance_m)) {
    return result(ThermalStatus::out_of_range, decider,
                  format("%s: %.2f m outside %.2f..%.2f m", distance < calibration.min_distance_m ? "too close" : "too far",
                         distance, calibration.min_distance_m, calibration.max_distance_m));
  }

  if (auto r = plausibility_result(config, reading.object_c, decider)) return std::move(*r);
  return ok_result(reading.object_c, decider, format("%.2f C at %.2f m, coverage %.3f", reading.object_c, distance, coverage));
}

ThermalAssociation associate_array(const ThermalFusionConfig& config, const ArraySensorCalibration& calibration,
                                   const ThermalFrame& frame, std::span<const FaceObservation> faces,
                                   Micros frame_time) {
  validate(config);
  validate(calibration);
  if (auto r = sensor_status_result(frame.status)) return std::move(*r);
  if (frame.width != calibration.width || frame.height != calibration.height) {
    return result(ThermalStatus::sensor_fault, -1,
                  format("frame is %dx%d, calibrated for %dx%d", frame.width, frame.height, calibration.width,
                         calibration.height));
  }
  const auto w = static_cast<std::size_t>(frame.width);
  const auto h = static_cast<std::size_t>(frame.height);
  if (frame.celsius.size() != w * h) {
    return result(ThermalStatus::sensor_fault, -1,
                  format("frame holds %zu values, %dx%d expected", frame.celsius.size(), frame.width, frame.height));
  }
  if (auto r = stale_result(config, frame.time, frame_time)) return std::move(*r);

  const int decider = deciding_face(faces);
  if (decider < 0) return result(ThermalStatus::no_face, -1, format("no valid face among %zu", faces.size()));
  const FaceObservation& face = faces[static_cast<std::size_t>(decider)];

  // The forehead region in visible px, and its corners in thermal px. It must lie inside the array's
  // extent (pixel centres 0..width-1, each pixel half a pixel either side).
  const Box roi = forehead_roi(config, face);
  const Affine2x3& t = calibration.visible_to_thermal;
  const Point corners[4] = {t.apply({roi.x, roi.y}), t.apply({roi.x + roi.w, roi.y}), t.apply({roi.x, roi.y + roi.h}),
                            t.apply({roi.x + roi.w, roi.y + roi.h})};
  const double u_max_extent = static_cast<double>(frame.width) - 0.5;
  const double v_max_extent = static_cast<double>(frame.height) - 0.5;
  double u_lo = corners[0].x, u_hi = corners[0].x, v_lo = corners[0].y, v_hi = corners[0].y;
  for (const Point& c : corners) {
    const bool inside = c.x >= -0.5 - kEps && c.x <= u_max_extent + kEps && c.y >= -0.5 - kEps && c.y <= v_max_extent + kEps;
    if (!inside) {  // also catches NaN from overflowing coordinates
      return result(ThermalStatus::out_of_region, decider,
                    format("forehead maps to (%.1f, %.1f), outside the %dx%d array", c.x, c.y, frame.width,
                           frame.height));
    }
    u_lo = std::min(u_lo, c.x);
    u_hi = std::max(u_hi, c.x);
    v_lo = std::min(v_lo, c.y);
    v_hi = std::max(v_hi, c.y);
  }

  // Thermal pixels whose centre, mapped back into the visible image, lies inside the region.
  const auto& m = t.m;
  const double det = m[0] * m[4] - m[1] * m[3];
  const int col0 = std::max(0, static_cast<int>(std::ceil(u_lo - kEps)));
  const int col1 = std::min(frame.width - 1, static_cast<int>(std::floor(u_hi + kEps)));
  const int row0 = std::max(0, static_cast<int>(std::ceil(v_lo - kEps)));
  const int row1 = std::min(frame.height - 1, static_cast<int>(std::floor(v_hi + kEps)));
  int covering = 0;
  std::vector<double> values;
  for (int row = row0; row <= row1; ++row) {
    for (int col = col0; col <= col1; ++col) {
      const double du = static_cast<double>(col) - m[2];
      const double dv = static_cast<double>(row) - m[5];
      const double x = (m[4] * du - m[1] * dv) / det;
      const double y = (-m[3] * du + m[0] * dv) / det;
      if (x < roi.x - kEps || x > roi.x + roi.w + kEps || y < roi.y - kEps || y > roi.y + roi.h + kEps) continue;
      ++covering;
      const double v = frame.celsius[static_cast<std::size_t>(row) * w + static_cast<std::size_t>(col)];
      if (finite(v)) values.push_back(v);
    }
  }
  if (covering < config.min_roi_pixels) {
    return result(ThermalStatus::too_far, decider,
                  format("%d thermal pixels on the forehead (min %d)", covering, config.min_roi_pixels));
  }
  if (std::cmp_less(values.size(), config.min_roi_pixels)) {
    return result(ThermalStatus::implausible, decider,
                  format("%zu finite pixels of %d on the forehead (min %d)", values.size(), covering,
                         config.min_roi_pixels));
  }

  // Nearest-rank percentile: the k-th smallest value, k = ceil(p/100 * n), 1 <= k <= n.
  const double n = static_cast<double>(values.size());
  const auto k = static_cast<std::size_t>(std::clamp(std::ceil(config.array_percentile / 100.0 * n - kEps), 1.0, n));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k - 1), values.end());
  const double skin = values[k - 1];
  if (auto r = plausibility_result(config, skin, decider)) return std::move(*r);
  return ok_result(skin, decider,
                   format("%.2f C, P%.0f of %zu pixels (%d covering)", skin, config.array_percentile, values.size(),
                          covering));
}

StuckDetector::StuckDetector(int readings) : readings_(readings) {
  if (readings < 2) bad("stuck_readings must be at least 2");
}

bool StuckDetector::observe(double value_c, std::uint64_t subject) {
  if (streak_ == 0 || value_c != last_value_) {
    last_value_ = value_c;
    last_subject_ = subject;
    streak_ = 1;
  } else if (subject != last_subject_) {
    last_subject_ = subject;
    ++streak_;
  }
  return suspect();
}

namespace {
ThermalAssociation check_stuck(ThermalAssociation a, StuckDetector& stuck, std::uint64_t subject) {
  if (a.status != ThermalStatus::ok) return a;
  if (!stuck.observe(a.skin_c, subject)) return a;
  ThermalAssociation s = result(ThermalStatus::suspect_stuck, a.face_index,
                                format("%.2f C for %d consecutive subjects", a.skin_c, stuck.streak()));
  return s;
}
}  // namespace

SpotThermalFusion::SpotThermalFusion(ThermalFusionConfig config, SpotSensorCalibration calibration)
    : config_(config), calibration_(calibration), stuck_((validate(config), config.stuck_readings)) {
  validate(calibration_);
}

ThermalAssociation SpotThermalFusion::associate(const SpotReading& reading, std::span<const FaceObservation> faces,
                                                Micros frame_time, std::uint64_t subject) {
  return check_stuck(associate_spot(config_, calibration_, reading, faces, frame_time), stuck_, subject);
}

ArrayThermalFusion::ArrayThermalFusion(ThermalFusionConfig config, ArraySensorCalibration calibration)
    : config_(config), calibration_(calibration), stuck_((validate(config), config.stuck_readings)) {
  validate(calibration_);
}

ThermalAssociation ArrayThermalFusion::associate(const ThermalFrame& frame, std::span<const FaceObservation> faces,
                                                 Micros frame_time, std::uint64_t subject) {
  return check_stuck(associate_array(config_, calibration_, frame, faces, frame_time), stuck_, subject);
}

FeedResult feed_temperature(GateTransaction& tx, const ThermalAssociation& association, int failed_before,
                            const ThermalFusionConfig& config) {
  validate(config);
  const int before = std::max(0, failed_before);
  if (tx.next() != Step::measure_temperature) return {false, FeedAction::not_measuring, before};
  if (association.status == ThermalStatus::ok && finite(association.skin_c)) {
    tx.on_temperature(association.skin_c);
    return {true, FeedAction::fed, 0};
  }
  const int failed = before >= config.max_failed_associations ? before : before + 1;
  return {false, failed >= config.max_failed_associations ? FeedAction::staff_referral : FeedAction::remeasure, failed};
}

}  // namespace gatetwin::recognizer
