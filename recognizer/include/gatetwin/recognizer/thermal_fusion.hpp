#pragma once
// Thermal fusion: associates a thermal sensor's reading with the face the terminal is serving, before
// the reading is handed to the policy engine (GateTransaction::on_temperature). Pure logic: no I/O, no
// clock reads, no OpenCV. Data from the field (readings, frames, faces) never throws and never crashes:
// every malformed value yields a status. Only bad configuration or calibration throws
// std::invalid_argument.
//
// Two kinds of sensor are supported:
//   - a spot/area IR thermometer with a measuring region in the camera image and a valid distance
//     range (one object temperature per reading), and
//   - a low-resolution thermal array registered to the visible image by a 2x3 affine.
//
// The face that decides is the closest one: the largest inter-ocular distance in pixels (the terminal
// serves the person in front of it). Only an `ok` association may be fed to the policy engine, which
// then adds its compensation offset and applies its fever threshold (see feed_temperature()).
//
// Rules, defaults and units: docs/recognizer-thermal.md.
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gatetwin/recognizer/policy.hpp"

namespace gatetwin::recognizer {

// Timestamps: integer microseconds on the terminal's clock (the same representation as the simulator's
// time). Readings and frames are associated by the difference of their timestamps only.
using Micros = std::chrono::duration<std::int64_t, std::micro>;

// Image coordinates in pixels, OpenCV convention: pixel (col, row) is centred on (x = col, y = row).
struct Point {
  double x = 0.0;
  double y = 0.0;
};

// An axis-aligned rectangle: top-left corner and size, in pixels.
struct Box {
  double x = 0.0;
  double y = 0.0;
  double w = 0.0;
  double h = 0.0;
};

// A face the visible pipeline detected in the frame. A face with a non-finite field, a non-positive box
// size or a non-positive inter-ocular distance is invalid: it is ignored as if it were not there.
struct FaceObservation {
  Box box;                                  // detector box, visible px
  double interocular_px = 0.0;              // distance between the eye centres, visible px
  std::optional<Point> forehead;            // forehead centre, if the landmark model gives it
  std::optional<Point> inner_canthus_left;  // inner eye corners; used only when both are given
  std::optional<Point> inner_canthus_right;
};

// What a sensor says about its own state alongside a value.
enum class SensorStatus { ok, warming_up, out_of_range, fault };
std::string_view to_string(SensorStatus);

// ---- Spot / area IR thermometer -----------------------------------------------------------------------

// From the installation calibration: where the thermometer's measuring spot falls in the camera image,
// and the distance range over which its reading is valid.
struct SpotSensorCalibration {
  Box region;                   // measuring region, visible px; must have positive size
  double min_distance_m = 0.3;  // valid object distance, metres (typical terminal datasheet: 0.3-1.0 m)
  double max_distance_m = 1.0;
};

struct SpotReading {
  double object_c = std::numeric_limits<double>::quiet_NaN();  // object (skin) temperature, °C
  Micros time{0};
  SensorStatus status = SensorStatus::ok;
};

// ---- Thermal array ------------------------------------------------------------------------------------

// Maps a visible pixel (x, y) to a thermal pixel (u, v):
//   u = m[0]*x + m[1]*y + m[2]
//   v = m[3]*x + m[4]*y + m[5]
struct Affine2x3 {
  std::array<double, 6> m{1.0, 0.0, 0.0, 0.0, 1.0, 0.0};

  Point apply(Point p) const { return {m[0] * p.x + m[1] * p.y + m[2], m[3] * p.x + m[4] * p.y + m[5]}; }
  // u = sx*x + tx, v = sy*y + ty: the usual registration of a thermal array mounted beside the camera.
  static Affine2x3 scale_offset(double sx, double sy, double tx, double ty) { return {{sx, 0.0, tx, 0.0, sy, ty}}; }
};

struct ArraySensorCalibration {
  int width = 32;                   // thermal pixels per row
  int height = 24;                  // rows
  Affine2x3 visible_to_thermal;     // must be finite and invertible
};

// One thermal frame: row-major values in °C, celsius[row * width + col]. NaN marks a dead pixel.
struct ThermalFrame {
  int width = 0;
  int height = 0;
  std::vector<double> celsius;
  Micros time{0};
  SensorStatus status = SensorStatus::ok;  // arrays without a status report ok
};

// ---- Configuration ------------------------------------------------------------------------------------

// Where the skin temperature is read on a face (array sensor). The first that applies is used:
// both inner canthi given -> around them; a forehead point given -> around it; else part of the box.
struct ForeheadRoi {
  // Around the inner canthi: the box spanning both points, widened on every side by this many
  // inter-ocular distances.
  double canthus_margin_iod = 0.15;
  // Around a forehead point: a rectangle centred on it, sized in inter-ocular distances.
  double point_width_iod = 0.8;
  double point_height_iod = 0.4;
  // From the face box, as fractions of its width and height measured from its top-left corner: the band
  // between the hairline and the eyes (detectors put the eyes at about 40% of the box height).
  double box_left = 0.25;
  double box_right = 0.75;
  double box_top = 0.05;
  double box_bottom = 0.30;
};

struct ThermalFusionConfig {
  Micros max_skew{200'000};          // |reading time - frame time| above this: stale (200 ms)
  double focal_length_px = 1000.0;   // visible camera focal length, px (about 1280x720 at 65° horizontal FOV)
  double mean_interocular_m = 0.063; // adult mean inter-pupillary distance, metres
  // Spot sensor: the deciding face's box must cover at least this share of the measuring region's area
  // (the sensor averages over its region, so this is the share of the reading that comes from the face).
  double min_region_coverage = 0.5;
  // Spot sensor: two or more faces each covering at least this share of the region: ambiguous.
  double ambiguity_coverage = 0.25;
  ForeheadRoi roi;
  // Array sensor: the statistic over the valid pixels of the forehead region, as a nearest-rank
  // percentile in (0, 100]; 100 is the maximum.
  double array_percentile = 100.0;
  // Array sensor: fewer thermal pixels (centres) inside the forehead region than this: too_far.
  int min_roi_pixels = 4;
  // Physiologically plausible skin temperature, °C; outside (or NaN): implausible.
  double min_skin_c = 25.0;
  double max_skin_c = 45.0;
  // Stuck-sensor hint: the same exact value for this many consecutive readings of different subjects.
  int stuck_readings = 20;
  // Failed associations (since the last reading fed to the policy) after which the terminal stops
  // re-measuring and refers the person to staff.
  int max_failed_associations = 3;
};

// Throw std::invalid_argument naming the first bad field.
void validate(const ThermalFusionConfig& config);
void validate(const SpotSensorCalibration& calibration);
void validate(const ArraySensorCalibration& calibration);

// ---- Results ------------------------------------------------------------------------------------------

enum class ThermalStatus {
  ok,
  no_face,           // no valid face in view
  stale,             // reading and frame more than max_skew apart
  ambiguous,         // spot sensor: two or more faces in the measuring region (one person at a time)
  out_of_region,     // spot: deciding face does not cover the region; array: forehead outside the array
  out_of_range,      // spot: estimated distance outside the valid range, or the sensor says so
  too_far,           // array: too few thermal pixels on the forehead (insufficient resolution)
  implausible,       // value NaN or outside the physiological skin range; array: too few finite pixels
  sensor_not_ready,  // sensor warming up
  sensor_fault,      // sensor reports a fault, or the frame is malformed (size, dimensions)
  suspect_stuck,     // the same exact value for stuck_readings consecutive subjects
};
std::string_view to_string(ThermalStatus);

struct ThermalAssociation {
  using Status = ThermalStatus;
  Status status = Status::no_face;
  double skin_c = std::numeric_limits<double>::quiet_NaN();  // skin temperature, °C; set only when ok
  int face_index = -1;  // index in the faces given of the deciding face, -1 when none was chosen
  std::string detail;   // human-readable reason, for logs
};

// ---- Stateless association (pure functions) -----------------------------------------------------------

// Estimated distance to a face from its inter-ocular distance in pixels:
//   d = focal_length_px * mean_interocular_m / interocular_px   (metres)
// NaN when interocular_px is not a positive finite number.
double estimate_distance_m(const ThermalFusionConfig& config, double interocular_px);

// Index of the deciding face: the valid face with the largest inter-ocular distance (the first on a
// tie); -1 when there is none.
int deciding_face(std::span<const FaceObservation> faces);

// Share of `region`'s area covered by `face` (0..1); 0 when either is degenerate or not finite.
double region_coverage(const Box& face, const Box& region);

// The forehead region of a (valid) face in visible px, per config.roi.
Box forehead_roi(const ThermalFusionConfig& config, const FaceObservation& face);

// Checks in order: sensor status, stale, no face, ambiguous, out of region, distance, plausibility.
ThermalAssociation associate_spot(const ThermalFusionConfig& config, const SpotSensorCalibration& calibration,
                                  const SpotReading& reading, std::span<const FaceObservation> faces,
                                  Micros frame_time);

// Checks in order: sensor status, frame shape, stale, no face, forehead inside the array, pixel count,
// finite pixels, plausibility of the percentile.
ThermalAssociation associate_array(const ThermalFusionConfig& config, const ArraySensorCalibration& calibration,
                                   const ThermalFrame& frame, std::span<const FaceObservation> faces,
                                   Micros frame_time);

// ---- Stuck-sensor hint --------------------------------------------------------------------------------

// Counts consecutive readings with exactly the same value, each subject once. `subject` is the caller's
// key for the person in front (passage or tracker number): one person re-measured may legitimately read
// the same value, so repeats from the same subject neither extend nor break the streak; a different
// value from anyone restarts it.
class StuckDetector {
 public:
  explicit StuckDetector(int readings = 20);  // throws std::invalid_argument if readings < 2

  // Records a reading; true when the streak has reached `readings`.
  bool observe(double value_c, std::uint64_t subject);
  int streak() const { return streak_; }
  bool suspect() const { return streak_ >= readings_; }
  void reset() { streak_ = 0; }

 private:
  int readings_;
  int streak_ = 0;
  double last_value_ = 0.0;
  std::uint64_t last_subject_ = 0;
};

// A terminal's fusion for one sensor: the pure association plus the stuck detector over the values of
// associations that were otherwise ok. Constructors validate and throw std::invalid_argument.
class SpotThermalFusion {
 public:
  SpotThermalFusion(ThermalFusionConfig config, SpotSensorCalibration calibration);
  ThermalAssociation associate(const SpotReading& reading, std::span<const FaceObservation> faces, Micros frame_time,
                               std::uint64_t subject);
  const ThermalFusionConfig& config() const { return config_; }
  const StuckDetector& stuck_detector() const { return stuck_; }

 private:
  ThermalFusionConfig config_;
  SpotSensorCalibration calibration_;
  StuckDetector stuck_;
};

class ArrayThermalFusion {
 public:
  ArrayThermalFusion(ThermalFusionConfig config, ArraySensorCalibration calibration);
  ThermalAssociation associate(const ThermalFrame& frame, std::span<const FaceObservation> faces, Micros frame_time,
                               std::uint64_t subject);
  const ThermalFusionConfig& config() const { return config_; }
  const StuckDetector& stuck_detector() const { return stuck_; }

 private:
  ThermalFusionConfig config_;
  ArraySensorCalibration calibration_;
  StuckDetector stuck_;
};

// ---- Driving the policy engine ------------------------------------------------------------------------

enum class FeedAction {
  fed,             // the association was ok: tx.on_temperature(skin_c) was called
  remeasure,       // not ok: the terminal measures again
  staff_referral,  // not ok max_failed_associations times in a row: the person goes to staff
  not_measuring,   // the transaction is not at Step::measure_temperature; nothing was done
};
std::string_view to_string(FeedAction);

struct FeedResult {
  bool fed = false;
  FeedAction action = FeedAction::not_measuring;
  int failed_associations = 0;  // failed associations since the last fed reading, this one included
};

// Feeds an ok association to a transaction waiting at Step::measure_temperature. `failed_before` is the
// previous result's failed_associations (0 at the start of a transaction); an ok association resets it.
// The policy engine itself is unchanged: on staff_referral the caller sends the person to staff.
FeedResult feed_temperature(GateTransaction& tx, const ThermalAssociation& association, int failed_before,
                            const ThermalFusionConfig& config);

}  // namespace gatetwin::recognizer
