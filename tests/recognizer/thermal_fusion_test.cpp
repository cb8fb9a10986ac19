// Thermal fusion: a sensor's reading is associated with the face in front of the terminal before the
// policy engine sees it. Geometry in these tests: a 640x480 visible image; the default focal length
// (1000 px) puts a face with an inter-ocular distance of 126 px at 0.5 m; the thermal array is 32x24
// with 20 visible px per thermal px unless a test says otherwise.
#include "gatetwin/recognizer/thermal_fusion.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gatetwin/recognizer/policy.hpp"

namespace gatetwin::recognizer {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr Micros kFrameTime{5'000'000};  // the visible frame's timestamp

FaceObservation face_at(double x, double y, double w, double h, double iod) {
  FaceObservation f;
  f.box = {x, y, w, h};
  f.interocular_px = iod;
  return f;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// ---- Spot thermometer -----------------------------------------------------------------------------------

// Measuring region 100x100 at (270, 150); a face at 0.5 m whose box covers it entirely.
class SpotTest : public ::testing::Test {
 protected:
  SpotTest() { calibration.region = {270.0, 150.0, 100.0, 100.0}; }

  static FaceObservation front_face() { return face_at(220.0, 100.0, 200.0, 240.0, 126.0); }
  static SpotReading reading(double c, Micros time = kFrameTime, SensorStatus status = SensorStatus::ok) {
    return SpotReading{c, time, status};
  }
  ThermalAssociation run(const SpotReading& r, const std::vector<FaceObservation>& faces) const {
    return associate_spot(config, calibration, r, faces, kFrameTime);
  }

  ThermalFusionConfig config;
  SpotSensorCalibration calibration;
};

TEST_F(SpotTest, OkReadingIsPassedThroughForTheFaceInFront) {
  const auto a = run(reading(36.6), {front_face()});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_DOUBLE_EQ(a.skin_c, 36.6);
  EXPECT_EQ(a.face_index, 0);
  EXPECT_TRUE(contains(a.detail, "0.50 m")) << a.detail;
}

TEST_F(SpotTest, SensorStatusesMapToTheirResults) {
  const auto warming = run(reading(36.6, kFrameTime, SensorStatus::warming_up), {front_face()});
  EXPECT_EQ(warming.status, ThermalStatus::sensor_not_ready);
  EXPECT_TRUE(std::isnan(warming.skin_c));
  EXPECT_EQ(warming.face_index, -1);
  EXPECT_EQ(run(reading(36.6, kFrameTime, SensorStatus::fault), {front_face()}).status, ThermalStatus::sensor_fault);
  EXPECT_EQ(run(reading(36.6, kFrameTime, SensorStatus::out_of_range), {front_face()}).status,
            ThermalStatus::out_of_range);
  // A status value no enumerator names (a corrupted field) is a fault, not a crash.
  EXPECT_EQ(run(reading(36.6, kFrameTime, static_cast<SensorStatus>(42)), {front_face()}).status,
            ThermalStatus::sensor_fault);
}

TEST_F(SpotTest, NoFaceWhenNothingValidIsInView) {
  EXPECT_EQ(run(reading(36.6), {}).status, ThermalStatus::no_face);
  FaceObservation nan_box = front_face();
  nan_box.box.x = kNaN;
  FaceObservation negative = front_face();
  negative.box.w = -200.0;
  FaceObservation zero_iod = front_face();
  zero_iod.interocular_px = 0.0;
  FaceObservation inf_iod = front_face();
  inf_iod.interocular_px = kInf;
  FaceObservation nan_point = front_face();
  nan_point.forehead = Point{kNaN, 100.0};
  const auto a = run(reading(36.6), {nan_box, negative, zero_iod, inf_iod, nan_point});
  EXPECT_EQ(a.status, ThermalStatus::no_face);
  EXPECT_EQ(a.face_index, -1);
  EXPECT_TRUE(contains(a.detail, "among 5")) << a.detail;
}

TEST_F(SpotTest, InvalidFacesAreIgnoredEvenWithAHugeInterocularDistance) {
  FaceObservation garbage = front_face();
  garbage.box.h = kNaN;
  garbage.interocular_px = 1e6;
  const auto a = run(reading(36.6), {garbage, front_face()});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_EQ(a.face_index, 1);
}

TEST_F(SpotTest, StaleWhenReadingAndFrameAreMoreThanMaxSkewApart) {
  EXPECT_EQ(run(reading(36.6, kFrameTime + Micros{200'000}), {front_face()}).status, ThermalStatus::ok);
  EXPECT_EQ(run(reading(36.6, kFrameTime - Micros{200'000}), {front_face()}).status, ThermalStatus::ok);
  const auto late = run(reading(36.6, kFrameTime + Micros{200'001}), {front_face()});
  EXPECT_EQ(late.status, ThermalStatus::stale);
  EXPECT_TRUE(contains(late.detail, "200001 us")) << late.detail;
  EXPECT_EQ(run(reading(36.6, kFrameTime - Micros{200'001}), {front_face()}).status, ThermalStatus::stale);

  config.max_skew = Micros{50'000};
  EXPECT_EQ(run(reading(36.6, kFrameTime + Micros{60'000}), {front_face()}).status, ThermalStatus::stale);
  config.max_skew = Micros{0};
  EXPECT_EQ(run(reading(36.6, kFrameTime), {front_face()}).status, ThermalStatus::ok);
}

TEST_F(SpotTest, ExtremeTimestampsAreStaleWithoutOverflow) {
  const std::vector<FaceObservation> faces{front_face()};
  const SpotReading early = reading(36.6, Micros{INT64_MIN});
  const SpotReading late = reading(36.6, Micros{INT64_MAX});
  EXPECT_EQ(associate_spot(config, calibration, early, faces, Micros{INT64_MAX}).status, ThermalStatus::stale);
  EXPECT_EQ(associate_spot(config, calibration, late, faces, Micros{INT64_MIN}).status, ThermalStatus::stale);
  EXPECT_EQ(associate_spot(config, calibration, late, faces, Micros{INT64_MAX}).status, ThermalStatus::ok);
}

TEST_F(SpotTest, ClosestFaceDecidesAmongSeveral) {
  // Two people further back, outside the region; the largest inter-ocular distance is in front.
  const FaceObservation far_left = face_at(10.0, 50.0, 100.0, 120.0, 70.0);
  const FaceObservation far_right = face_at(500.0, 60.0, 110.0, 130.0, 80.0);
  const auto a = run(reading(36.4), {far_left, front_face(), far_right});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_EQ(a.face_index, 1);
  EXPECT_EQ(deciding_face(std::vector<FaceObservation>{far_left, far_right, front_face()}), 2);
  EXPECT_EQ(deciding_face(std::vector<FaceObservation>{}), -1);
  // A tie goes to the first.
  EXPECT_EQ(deciding_face(std::vector<FaceObservation>{far_left, front_face(), front_face()}), 1);
}

TEST_F(SpotTest, ClosestFaceOutsideTheRegionIsOutOfRegionEvenIfAFartherFaceIsInIt) {
  const FaceObservation close_but_aside = face_at(420.0, 100.0, 200.0, 240.0, 126.0);
  const FaceObservation farther_in_region = face_at(280.0, 160.0, 80.0, 80.0, 70.0);
  const auto a = run(reading(36.4), {farther_in_region, close_but_aside});
  EXPECT_EQ(a.status, ThermalStatus::out_of_region);
  EXPECT_EQ(a.face_index, 1);
}

TEST_F(SpotTest, RegionCoverageBoundary) {
  // The face's box covers the right half of the region exactly: coverage 0.5, the default minimum.
  const FaceObservation half = face_at(320.0, 100.0, 300.0, 240.0, 126.0);
  EXPECT_DOUBLE_EQ(region_coverage(half.box, calibration.region), 0.5);
  EXPECT_EQ(run(reading(36.6), {half}).status, ThermalStatus::ok);
  const FaceObservation just_under = face_at(321.0, 100.0, 300.0, 240.0, 126.0);
  EXPECT_DOUBLE_EQ(region_coverage(just_under.box, calibration.region), 0.49);
  const auto a = run(reading(36.6), {just_under});
  EXPECT_EQ(a.status, ThermalStatus::out_of_region);
  EXPECT_EQ(a.face_index, 0);
  EXPECT_TRUE(contains(a.detail, "0.490")) << a.detail;

  config.min_region_coverage = 0.8;
  EXPECT_EQ(run(reading(36.6), {half}).status, ThermalStatus::out_of_region);
  EXPECT_EQ(run(reading(36.6), {front_face()}).status, ThermalStatus::ok);
}

TEST_F(SpotTest, RegionCoverageIsAShareOfTheRegion) {
  const Box region{0.0, 0.0, 10.0, 10.0};
  EXPECT_DOUBLE_EQ(region_coverage({-5.0, -5.0, 100.0, 100.0}, region), 1.0);  // face larger than the region
  EXPECT_DOUBLE_EQ(region_coverage({0.0, 0.0, 5.0, 2.0}, region), 0.1);
  EXPECT_DOUBLE_EQ(region_coverage({10.0, 0.0, 5.0, 5.0}, region), 0.0);       // touching edges
  EXPECT_DOUBLE_EQ(region_coverage({kNaN, 0.0, 5.0, 5.0}, region), 0.0);
  EXPECT_DOUBLE_EQ(region_coverage({0.0, 0.0, -5.0, 5.0}, region), 0.0);
  EXPECT_DOUBLE_EQ(region_coverage({-1e308, -1e308, kInf, 1e308}, region), 0.0);
}

TEST_F(SpotTest, TwoFacesInTheRegionAreAmbiguous) {
  // A second person beside the first, their box covering the region's left quarter (0.25).
  const FaceObservation neighbour = face_at(170.0, 120.0, 125.0, 200.0, 110.0);
  const FaceObservation in_front = face_at(290.0, 100.0, 200.0, 240.0, 126.0);  // covers 0.8
  EXPECT_DOUBLE_EQ(region_coverage(neighbour.box, calibration.region), 0.25);
  const auto a = run(reading(36.6), {neighbour, in_front});
  EXPECT_EQ(a.status, ThermalStatus::ambiguous);
  EXPECT_EQ(a.face_index, 1);
  EXPECT_TRUE(contains(a.detail, "2 faces")) << a.detail;

  // Just under a quarter: not substantial, the person in front is measured.
  const FaceObservation edge = face_at(170.0, 120.0, 124.0, 200.0, 110.0);
  EXPECT_EQ(run(reading(36.6), {edge, in_front}).status, ThermalStatus::ok);

  config.ambiguity_coverage = 0.1;
  EXPECT_EQ(run(reading(36.6), {edge, in_front}).status, ThermalStatus::ambiguous);
}

TEST_F(SpotTest, DistanceFromInterocularPixels) {
  EXPECT_NEAR(estimate_distance_m(config, 126.0), 0.5, 1e-12);
  EXPECT_NEAR(estimate_distance_m(config, 63.0), 1.0, 1e-12);
  config.focal_length_px = 2000.0;
  EXPECT_NEAR(estimate_distance_m(config, 126.0), 1.0, 1e-12);
  EXPECT_TRUE(std::isnan(estimate_distance_m(config, 0.0)));
  EXPECT_TRUE(std::isnan(estimate_distance_m(config, -3.0)));
  EXPECT_TRUE(std::isnan(estimate_distance_m(config, kNaN)));
}

TEST_F(SpotTest, DistanceMustBeInTheSensorsValidRange) {
  auto with_iod = [](double iod) { return face_at(220.0, 100.0, 200.0, 240.0, iod); };
  // Default range 0.3..1.0 m: iod 210 px is 0.3 m, 63 px is 1.0 m.
  const auto too_close = run(reading(36.6), {with_iod(215.0)});  // 0.293 m
  EXPECT_EQ(too_close.status, ThermalStatus::out_of_range);
  EXPECT_EQ(too_close.face_index, 0);
  EXPECT_TRUE(contains(too_close.detail, "too close")) << too_close.detail;
  EXPECT_EQ(run(reading(36.6), {with_iod(205.0)}).status, ThermalStatus::ok);  // 0.307 m
  EXPECT_EQ(run(reading(36.6), {with_iod(64.0)}).status, ThermalStatus::ok);   // 0.984 m
  const auto too_far = run(reading(36.6), {with_iod(62.0)});                   // 1.016 m
  EXPECT_EQ(too_far.status, ThermalStatus::out_of_range);
  EXPECT_TRUE(contains(too_far.detail, "too far")) << too_far.detail;

  calibration.max_distance_m = 1.2;
  EXPECT_EQ(run(reading(36.6), {with_iod(62.0)}).status, ThermalStatus::ok);
}

TEST_F(SpotTest, ImplausibleValuesAreRejected) {
  EXPECT_EQ(run(reading(kNaN), {front_face()}).status, ThermalStatus::implausible);
  EXPECT_EQ(run(reading(kInf), {front_face()}).status, ThermalStatus::implausible);
  EXPECT_EQ(run(reading(24.9), {front_face()}).status, ThermalStatus::implausible);
  EXPECT_EQ(run(reading(45.1), {front_face()}).status, ThermalStatus::implausible);
  EXPECT_EQ(run(reading(25.0), {front_face()}).status, ThermalStatus::ok);
  EXPECT_EQ(run(reading(45.0), {front_face()}).status, ThermalStatus::ok);
  const auto a = run(reading(-273.0), {front_face()});
  EXPECT_EQ(a.face_index, 0);
  EXPECT_TRUE(std::isnan(a.skin_c));
}

TEST_F(SpotTest, ChecksRunInTheDocumentedOrder) {
  // Fault before stale, stale before no face, no face before the value.
  EXPECT_EQ(run(reading(kNaN, Micros{0}, SensorStatus::fault), {}).status, ThermalStatus::sensor_fault);
  EXPECT_EQ(run(reading(kNaN, Micros{0}), {}).status, ThermalStatus::stale);
  EXPECT_EQ(run(reading(kNaN), {}).status, ThermalStatus::no_face);
  // Ambiguity before coverage, coverage before distance, distance before the value.
  const FaceObservation far_half = face_at(320.0, 100.0, 300.0, 240.0, 20.0);
  const FaceObservation other = face_at(170.0, 120.0, 150.0, 200.0, 10.0);
  EXPECT_EQ(run(reading(kNaN), {far_half, other}).status, ThermalStatus::ambiguous);
  EXPECT_EQ(run(reading(kNaN), {face_at(330.0, 100.0, 300.0, 240.0, 20.0)}).status, ThermalStatus::out_of_region);
  EXPECT_EQ(run(reading(kNaN), {far_half}).status, ThermalStatus::out_of_range);
}

// ---- Thermal array --------------------------------------------------------------------------------------

constexpr double kRoom = 22.0;
constexpr double kSkin = 34.0;

// The front face: box (400, 200, 200, 240), iod 100. Its default forehead region is x 450..550,
// y 212..272 in visible px; at 20 visible px per thermal px that is u 22.5..27.5, v 10.6..13.6:
// thermal columns 23..27 and rows 11..13, 15 pixels.
class ArrayTest : public ::testing::Test {
 protected:
  ArrayTest() { calibration.visible_to_thermal = Affine2x3::scale_offset(0.05, 0.05, 0.0, 0.0); }

  static FaceObservation front_face() { return face_at(400.0, 200.0, 200.0, 240.0, 100.0); }

  ThermalFrame frame(double fill = kRoom) const {
    ThermalFrame f;
    f.width = calibration.width;
    f.height = calibration.height;
    f.celsius.assign(static_cast<std::size_t>(f.width * f.height), fill);
    f.time = kFrameTime;
    return f;
  }
  static double& at(ThermalFrame& f, int col, int row) {
    return f.celsius[static_cast<std::size_t>(row * f.width + col)];
  }
  // Fills thermal columns c0..c1 and rows r0..r1 (inclusive) with `value`.
  static void fill(ThermalFrame& f, int c0, int c1, int r0, int r1, double value) {
    for (int r = r0; r <= r1; ++r) {
      for (int c = c0; c <= c1; ++c) at(f, c, r) = value;
    }
  }
  // A face-shaped warm patch around the front face's forehead, larger than its region.
  ThermalFrame face_frame() const {
    ThermalFrame f = frame();
    fill(f, 20, 29, 9, 20, kSkin);
    return f;
  }
  ThermalAssociation run(const ThermalFrame& f, const std::vector<FaceObservation>& faces) const {
    return associate_array(config, calibration, f, faces, kFrameTime);
  }

  ThermalFusionConfig config;
  ArraySensorCalibration calibration;  // 32x24
};

TEST_F(ArrayTest, ForeheadRegionFromTheFaceBox) {
  const Box roi = forehead_roi(config, front_face());
  EXPECT_DOUBLE_EQ(roi.x, 450.0);
  EXPECT_DOUBLE_EQ(roi.y, 212.0);
  EXPECT_DOUBLE_EQ(roi.w, 100.0);
  EXPECT_DOUBLE_EQ(roi.h, 60.0);
}

TEST_F(ArrayTest, MaximumOverTheForeheadFindsTheHotSpot) {
  ThermalFrame f = face_frame();
  at(f, 25, 12) = 36.6;
  const auto a = run(f, {front_face()});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_DOUBLE_EQ(a.skin_c, 36.6);
  EXPECT_EQ(a.face_index, 0);
  EXPECT_TRUE(contains(a.detail, "15 pixels")) << a.detail;
}

TEST_F(ArrayTest, HotSpotOutsideTheForeheadRegionIsNotSeen) {
  ThermalFrame f = face_frame();
  at(f, 25, 16) = 37.5;  // below the region (a warm neck or scarf)
  at(f, 22, 12) = 37.5;  // just left of it
  at(f, 28, 12) = 37.5;  // just right of it
  at(f, 25, 10) = 37.5;  // just above it
  const auto a = run(f, {front_face()});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_DOUBLE_EQ(a.skin_c, kSkin);
}

TEST_F(ArrayTest, PercentileIgnoresASingleHotPixel) {
  ThermalFrame f = frame();
  // The 15 region pixels hold 33.0, 33.1, ..., 34.4; one of them is replaced by a 44 °C defect.
  int i = 0;
  for (int r = 11; r <= 13; ++r) {
    for (int c = 23; c <= 27; ++c) at(f, c, r) = 33.0 + 0.1 * i++;
  }
  at(f, 27, 13) = 44.0;  // was 34.4, the largest
  EXPECT_DOUBLE_EQ(run(f, {front_face()}).skin_c, 44.0);
  config.array_percentile = 90.0;  // nearest rank: ceil(0.9 * 15) = 14th smallest = 34.3
  EXPECT_NEAR(run(f, {front_face()}).skin_c, 34.3, 1e-12);
  config.array_percentile = 50.0;  // 8th smallest = 33.7
  EXPECT_NEAR(run(f, {front_face()}).skin_c, 33.7, 1e-12);
  config.array_percentile = 20.0;  // 0.2 * 15 = 3 (3.0000000000000004 in floating point): 3rd = 33.2
  EXPECT_NEAR(run(f, {front_face()}).skin_c, 33.2, 1e-12);
  config.array_percentile = 1.0;   // 1st = the minimum
  EXPECT_NEAR(run(f, {front_face()}).skin_c, 33.0, 1e-12);
}

TEST_F(ArrayTest, OffsetRegistrationMovesTheRegion) {
  // The thermal array sits so that visible (x, y) maps to (x/20 + 3, y/20 - 2): the forehead is at
  // u 25.5..30.5, v 8.6..11.6, columns 26..30, rows 9..11.
  calibration.visible_to_thermal = Affine2x3::scale_offset(0.05, 0.05, 3.0, -2.0);
  ThermalFrame f = frame();
  fill(f, 26, 30, 9, 11, kSkin);
  at(f, 25, 12) = 39.0;  // where the unregistered region would be
  at(f, 28, 10) = 36.6;
  const auto a = run(f, {front_face()});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_DOUBLE_EQ(a.skin_c, 36.6);
}

TEST_F(ArrayTest, ScaledRegistrationOfAnEightyBySixtyArray) {
  // 80x60 over a 640x480 image: 8 visible px per thermal px. The region is u 56.25..68.75,
  // v 26.5..34: columns 57..68, rows 27..34, 96 pixels.
  calibration.width = 80;
  calibration.height = 60;
  calibration.visible_to_thermal = Affine2x3::scale_offset(0.125, 0.125, 0.0, 0.0);
  ThermalFrame f = frame();
  fill(f, 57, 68, 27, 34, kSkin);
  at(f, 60, 30) = 36.2;
  at(f, 69, 30) = 38.0;  // one column right of the region
  const auto a = run(f, {front_face()});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_DOUBLE_EQ(a.skin_c, 36.2);
  EXPECT_TRUE(contains(a.detail, "96 pixels")) << a.detail;
}

TEST_F(ArrayTest, RotatedRegistrationUsesTheFullAffine) {
  // A sensor mounted a quarter turn: u = y/20, v = x/20 (a portrait 24x32 array). The region maps to
  // u 10.6..13.6, v 22.5..27.5: columns 11..13, rows 23..27.
  calibration.width = 24;
  calibration.height = 32;
  calibration.visible_to_thermal.m = {0.0, 0.05, 0.0, 0.05, 0.0, 0.0};
  ThermalFrame f = frame();
  fill(f, 11, 13, 23, 27, kSkin);
  at(f, 12, 26) = 36.7;
  at(f, 12, 20) = 39.0;  // the same column, outside the region
  const auto a = run(f, {front_face()});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_DOUBLE_EQ(a.skin_c, 36.7);
}

TEST_F(ArrayTest, InnerCanthiTakePrecedenceOverTheBox) {
  // Canthi at (480, 300) and (540, 300), iod 100, margin 0.15 iod = 15 px: x 465..555, y 285..315,
  // u 23.25..27.75, v 14.25..15.75: columns 24..27 of row 15, 4 pixels.
  FaceObservation fc = front_face();
  fc.inner_canthus_left = Point{480.0, 300.0};
  fc.inner_canthus_right = Point{540.0, 300.0};
  const Box roi = forehead_roi(config, fc);
  EXPECT_DOUBLE_EQ(roi.x, 465.0);
  EXPECT_DOUBLE_EQ(roi.y, 285.0);
  EXPECT_DOUBLE_EQ(roi.w, 90.0);
  EXPECT_DOUBLE_EQ(roi.h, 30.0);

  ThermalFrame f = face_frame();
  at(f, 25, 12) = 38.0;  // in the box's forehead band, not at the canthi
  at(f, 26, 15) = 36.9;
  const auto a = run(f, {fc});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_DOUBLE_EQ(a.skin_c, 36.9);

  // Only one canthus given: the box is used.
  FaceObservation one = front_face();
  one.inner_canthus_left = Point{480.0, 300.0};
  EXPECT_DOUBLE_EQ(run(f, {one}).skin_c, 38.0);
}

TEST_F(ArrayTest, ForeheadPointGivesARegionAroundIt) {
  // Point (505, 245), 0.8 x 0.4 iod = 80 x 40 px: x 465..545, y 225..265, u 23.25..27.25,
  // v 11.25..13.25: columns 24..27, rows 12..13.
  FaceObservation fp = front_face();
  fp.forehead = Point{505.0, 245.0};
  ThermalFrame f = face_frame();
  at(f, 23, 12) = 38.0;  // in the box band but left of the point's region
  at(f, 27, 13) = 36.5;
  const auto a = run(f, {fp});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_DOUBLE_EQ(a.skin_c, 36.5);
  EXPECT_TRUE(contains(a.detail, "8 pixels")) << a.detail;
}

TEST_F(ArrayTest, NanPixelsAreIgnored) {
  ThermalFrame f = face_frame();
  at(f, 24, 12) = kNaN;
  at(f, 25, 12) = kInf;
  at(f, 26, 12) = 36.1;
  const auto a = run(f, {front_face()});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_DOUBLE_EQ(a.skin_c, 36.1);
  EXPECT_TRUE(contains(a.detail, "13 pixels (15 covering)")) << a.detail;
}

TEST_F(ArrayTest, TooFewFinitePixelsIsImplausible) {
  ThermalFrame f = face_frame();
  fill(f, 23, 27, 11, 13, kNaN);
  at(f, 23, 11) = 36.0;
  at(f, 24, 11) = 36.0;
  at(f, 25, 11) = 36.0;  // 3 finite of 15, default minimum 4
  EXPECT_EQ(run(f, {front_face()}).status, ThermalStatus::implausible);
  at(f, 26, 11) = 36.0;
  EXPECT_EQ(run(f, {front_face()}).status, ThermalStatus::ok);
  fill(f, 23, 27, 11, 13, kNaN);
  EXPECT_EQ(run(f, {front_face()}).status, ThermalStatus::implausible);
}

TEST_F(ArrayTest, OutOfPhysiologicalRangeIsImplausible) {
  ThermalFrame f = face_frame();
  at(f, 25, 12) = 46.0;  // a hot drink held up to the forehead
  const auto hot = run(f, {front_face()});
  EXPECT_EQ(hot.status, ThermalStatus::implausible);
  EXPECT_EQ(hot.face_index, 0);
  EXPECT_TRUE(std::isnan(hot.skin_c));
  EXPECT_EQ(run(frame(), {front_face()}).status, ThermalStatus::implausible);  // 22 °C: nobody's skin
  EXPECT_EQ(run(frame(24.9), {front_face()}).status, ThermalStatus::implausible);
  EXPECT_EQ(run(frame(25.0), {front_face()}).status, ThermalStatus::ok);
}

TEST_F(ArrayTest, TooFewThermalPixelsIsTooFar) {
  // A face 3 m away: box 40x48, iod 21; its forehead region is 20x12 visible px, at most one thermal
  // pixel centre.
  const FaceObservation far = face_at(400.0, 200.0, 40.0, 48.0, 21.0);
  ThermalFrame f = frame(kSkin);
  const auto a = run(f, {far});
  EXPECT_EQ(a.status, ThermalStatus::too_far);
  EXPECT_EQ(a.face_index, 0);

  // The front face's 15 pixels against the minimum.
  config.min_roi_pixels = 15;
  EXPECT_EQ(run(f, {front_face()}).status, ThermalStatus::ok);
  config.min_roi_pixels = 16;
  const auto b = run(f, {front_face()});
  EXPECT_EQ(b.status, ThermalStatus::too_far);
  EXPECT_TRUE(contains(b.detail, "15 thermal pixels")) << b.detail;
}

TEST_F(ArrayTest, ForeheadOutsideTheArrayIsOutOfRegion) {
  // The box's forehead at x 670..770 maps to u 33.5..38.5, beyond the 32 columns.
  const auto a = run(face_frame(), {face_at(620.0, 200.0, 200.0, 240.0, 100.0)});
  EXPECT_EQ(a.status, ThermalStatus::out_of_region);
  EXPECT_EQ(a.face_index, 0);
  // Partly outside (u 29.5..34.5) is out of region too: the hot spot may be the part not seen.
  EXPECT_EQ(run(face_frame(), {face_at(540.0, 200.0, 200.0, 240.0, 100.0)}).status, ThermalStatus::out_of_region);
  // Huge but finite coordinates overflow to infinity in the mapping: still just out of region.
  EXPECT_EQ(run(face_frame(), {face_at(-1e308, -1e308, 1e308, 1e308, 100.0)}).status, ThermalStatus::out_of_region);
}

TEST_F(ArrayTest, ClosestFaceDecides) {
  ThermalFrame f = face_frame();
  at(f, 25, 12) = 36.6;
  // A person behind, to the left, with a warmer forehead: box (40, 40, 120, 144), iod 60; forehead
  // x 70..130, y 47.2..83.2, u 3.5..6.5, v 2.36..4.16: columns 4..6, rows 3..4.
  const FaceObservation behind = face_at(40.0, 40.0, 120.0, 144.0, 60.0);
  fill(f, 4, 6, 3, 4, 37.8);
  const auto a = run(f, {behind, front_face()});
  EXPECT_EQ(a.status, ThermalStatus::ok);
  EXPECT_EQ(a.face_index, 1);
  EXPECT_DOUBLE_EQ(a.skin_c, 36.6);
  // Alone, the person behind is measured on their own forehead.
  const auto b = run(f, {behind});
  EXPECT_EQ(b.status, ThermalStatus::ok);
  EXPECT_DOUBLE_EQ(b.skin_c, 37.8);
}

TEST_F(ArrayTest, MalformedFramesAreSensorFaults) {
  ThermalFrame short_frame = face_frame();
  short_frame.celsius.resize(100);
  EXPECT_EQ(run(short_frame, {front_face()}).status, ThermalStatus::sensor_fault);
  ThermalFrame long_frame = face_frame();
  long_frame.celsius.push_back(36.0);
  EXPECT_EQ(run(long_frame, {front_face()}).status, ThermalStatus::sensor_fault);
  ThermalFrame empty;
  empty.time = kFrameTime;
  const auto e = run(empty, {front_face()});
  EXPECT_EQ(e.status, ThermalStatus::sensor_fault);
  EXPECT_TRUE(contains(e.detail, "0x0")) << e.detail;
  ThermalFrame wrong_dims = face_frame();
  wrong_dims.width = 24;  // same value count, wrong shape
  wrong_dims.height = 32;
  EXPECT_EQ(run(wrong_dims, {front_face()}).status, ThermalStatus::sensor_fault);
  ThermalFrame negative = face_frame();
  negative.width = -32;
  negative.height = -24;
  EXPECT_EQ(run(negative, {front_face()}).status, ThermalStatus::sensor_fault);
}

TEST_F(ArrayTest, StatusStaleAndNoFace) {
  ThermalFrame f = face_frame();
  f.status = SensorStatus::warming_up;
  EXPECT_EQ(run(f, {front_face()}).status, ThermalStatus::sensor_not_ready);
  f.status = SensorStatus::fault;
  EXPECT_EQ(run(f, {front_face()}).status, ThermalStatus::sensor_fault);
  f.status = SensorStatus::ok;
  f.time = kFrameTime - Micros{250'000};
  EXPECT_EQ(run(f, {front_face()}).status, ThermalStatus::stale);
  f.time = kFrameTime + Micros{150'000};
  EXPECT_EQ(run(f, {front_face()}).status, ThermalStatus::ok);
  EXPECT_EQ(run(f, {}).status, ThermalStatus::no_face);
}

// ---- Configuration and robustness -----------------------------------------------------------------------

TEST(ThermalFusionConfigTest, DefaultsAreValidAndDocumented) {
  const ThermalFusionConfig c;
  EXPECT_NO_THROW(validate(c));
  EXPECT_EQ(c.max_skew, Micros{200'000});
  EXPECT_DOUBLE_EQ(c.mean_interocular_m, 0.063);
  EXPECT_DOUBLE_EQ(c.min_region_coverage, 0.5);
  EXPECT_DOUBLE_EQ(c.array_percentile, 100.0);
  EXPECT_DOUBLE_EQ(c.min_skin_c, 25.0);
  EXPECT_DOUBLE_EQ(c.max_skin_c, 45.0);
  EXPECT_EQ(c.stuck_readings, 20);
  EXPECT_EQ(c.max_failed_associations, 3);
  EXPECT_THROW(validate(SpotSensorCalibration{}), std::invalid_argument);  // the region must be set
  EXPECT_NO_THROW(validate(ArraySensorCalibration{}));
}

TEST(ThermalFusionConfigTest, BadConfigurationThrows) {
  auto throws = [](auto mutate) {
    ThermalFusionConfig c;
    mutate(c);
    try {
      validate(c);
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.max_skew = Micros{-1}; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.focal_length_px = 0.0; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.focal_length_px = kNaN; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.mean_interocular_m = -0.063; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.min_region_coverage = 0.0; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.min_region_coverage = 1.5; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.ambiguity_coverage = kNaN; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.roi.box_top = 0.4; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.roi.box_right = 1.2; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.roi.canthus_margin_iod = -0.1; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.roi.point_width_iod = 0.0; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.array_percentile = 0.0; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.array_percentile = 101.0; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.min_roi_pixels = 0; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.min_skin_c = 46.0; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.stuck_readings = 1; }));
  EXPECT_TRUE(throws([](ThermalFusionConfig& c) { c.max_failed_associations = 0; }));
  EXPECT_FALSE(throws([](ThermalFusionConfig& c) { c.max_skew = Micros{0}; }));

  SpotSensorCalibration spot;
  spot.region = {0.0, 0.0, 10.0, 10.0};
  EXPECT_NO_THROW(validate(spot));
  spot.min_distance_m = 1.0;
  EXPECT_THROW(validate(spot), std::invalid_argument);
  spot.min_distance_m = 0.3;
  spot.region.h = kNaN;
  EXPECT_THROW(validate(spot), std::invalid_argument);
  spot.region.h = 10.0;

  ArraySensorCalibration array;
  array.width = 0;
  EXPECT_THROW(validate(array), std::invalid_argument);
  array.width = 32;
  array.visible_to_thermal.m = {1.0, 2.0, 0.0, 2.0, 4.0, 0.0};  // singular
  EXPECT_THROW(validate(array), std::invalid_argument);
  array.visible_to_thermal.m = {1.0, 0.0, kInf, 0.0, 1.0, 0.0};
  EXPECT_THROW(validate(array), std::invalid_argument);

  ThermalFusionConfig bad;
  bad.stuck_readings = 0;
  EXPECT_NO_THROW((SpotThermalFusion{ThermalFusionConfig{}, spot}));
  EXPECT_THROW((SpotThermalFusion{bad, spot}), std::invalid_argument);
  EXPECT_THROW((ArrayThermalFusion{bad, ArraySensorCalibration{}}), std::invalid_argument);
  EXPECT_THROW((ArrayThermalFusion{ThermalFusionConfig{}, array}), std::invalid_argument);
  EXPECT_THROW(StuckDetector(1), std::invalid_argument);
}

TEST(ThermalFusionRobustnessTest, FieldDataNeverThrows) {
  // Every combination of awkward values in the reading, the frame and the faces gets a status.
  const std::vector<double> odd{kNaN, kInf, -kInf, -1.0, 0.0, 1e-300, 36.6, 1e300};
  ThermalFusionConfig config;
  SpotSensorCalibration spot;
  spot.region = {270.0, 150.0, 100.0, 100.0};
  ArraySensorCalibration array;
  array.visible_to_thermal = Affine2x3::scale_offset(0.05, 0.05, 0.0, 0.0);
  int results = 0;
  for (double a : odd) {
    for (double b : odd) {
      FaceObservation f = face_at(a, 200.0, b, 240.0, a);
      FaceObservation g = face_at(400.0, b, 200.0, a, 100.0);
      g.forehead = Point{a, b};
      FaceObservation h = face_at(400.0, 200.0, 200.0, 240.0, b);
      h.inner_canthus_left = Point{a, 300.0};
      h.inner_canthus_right = Point{540.0, b};
      const std::vector<FaceObservation> faces{f, g, h};
      ThermalFrame frame;
      frame.width = 32;
      frame.height = 24;
      frame.celsius.assign(32 * 24, a);
      frame.celsius[300] = b;
      frame.time = kFrameTime;
      EXPECT_NO_THROW({
        const auto s = associate_spot(config, spot, SpotReading{a, kFrameTime, SensorStatus::ok}, faces, kFrameTime);
        const auto t = associate_array(config, array, frame, faces, kFrameTime);
        EXPECT_EQ(s.status == ThermalStatus::ok, std::isfinite(s.skin_c));
        EXPECT_EQ(t.status == ThermalStatus::ok, std::isfinite(t.skin_c));
        EXPECT_FALSE(s.detail.empty());
        EXPECT_FALSE(t.detail.empty());
        results += 2;
      });
    }
  }
  EXPECT_EQ(results, 2 * 8 * 8);
}

TEST(ThermalFusionNamesTest, EveryStatusHasAName) {
  EXPECT_EQ(to_string(ThermalStatus::ok), "ok");
  EXPECT_EQ(to_string(ThermalStatus::no_face), "no_face");
  EXPECT_EQ(to_string(ThermalStatus::stale), "stale");
  EXPECT_EQ(to_string(ThermalStatus::ambiguous), "ambiguous");
  EXPECT_EQ(to_string(ThermalStatus::out_of_region), "out_of_region");
  EXPECT_EQ(to_string(ThermalStatus::out_of_range), "out_of_range");
  EXPECT_EQ(to_string(ThermalStatus::too_far), "too_far");
  EXPECT_EQ(to_string(ThermalStatus::implausible), "implausible");
  EXPECT_EQ(to_string(ThermalStatus::sensor_not_ready), "sensor_not_ready");
  EXPECT_EQ(to_string(ThermalStatus::sensor_fault), "sensor_fault");
  EXPECT_EQ(to_string(ThermalStatus::suspect_stuck), "suspect_stuck");
  EXPECT_EQ(to_string(SensorStatus::warming_up), "warming_up");
  EXPECT_EQ(to_string(FeedAction::staff_referral), "staff_referral");
  EXPECT_EQ(to_string(FeedAction::not_measuring), "not_measuring");
}

// ---- Stuck-sensor hint ------------------------------------------------------------------------------------

TEST(StuckDetectorTest, SameValueForDifferentSubjects) {
  StuckDetector d(20);
  for (std::uint64_t subject = 1; subject <= 19; ++subject) EXPECT_FALSE(d.observe(36.5, subject)) << subject;
  EXPECT_EQ(d.streak(), 19);
  EXPECT_TRUE(d.observe(36.5, 20));
  EXPECT_TRUE(d.suspect());
  EXPECT_TRUE(d.observe(36.5, 21));  // stays suspect while the value does not move
  EXPECT_FALSE(d.observe(36.6, 22)); // a different value restarts the streak
  EXPECT_EQ(d.streak(), 1);
}

TEST(StuckDetectorTest, RepeatsFromTheSameSubjectCountOnce) {
  StuckDetector d(3);
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(d.observe(36.5, 7));  // one person re-measured
  EXPECT_EQ(d.streak(), 1);
  EXPECT_FALSE(d.observe(36.5, 8));
  EXPECT_FALSE(d.observe(36.5, 8));
  EXPECT_TRUE(d.observe(36.5, 9));
  d.reset();
  EXPECT_EQ(d.streak(), 0);
  EXPECT_FALSE(d.suspect());
}

TEST(StuckDetectorTest, NearlyEqualValuesAreNotStuck) {
  StuckDetector d(3);
  EXPECT_FALSE(d.observe(36.5, 1));
  EXPECT_FALSE(d.observe(36.5, 2));
  EXPECT_FALSE(d.observe(std::nextafter(36.5, 40.0), 3));
}

TEST(StuckDetectorTest, SpotFusionReportsAStuckSensorAcrossPassages) {
  SpotSensorCalibration calibration;
  calibration.region = {270.0, 150.0, 100.0, 100.0};
  SpotThermalFusion fusion(ThermalFusionConfig{}, calibration);
  const std::vector<FaceObservation> faces{face_at(220.0, 100.0, 200.0, 240.0, 126.0)};
  const SpotReading frozen{36.3, kFrameTime, SensorStatus::ok};
  for (std::uint64_t passage = 1; passage <= 19; ++passage) {
    const auto a = fusion.associate(frozen, faces, kFrameTime, passage);
    EXPECT_EQ(a.status, ThermalStatus::ok) << passage;
    // A non-ok association between passages neither counts nor breaks the streak.
    EXPECT_EQ(fusion.associate(frozen, {}, kFrameTime, passage).status, ThermalStatus::no_face);
  }
  const auto stuck = fusion.associate(frozen, faces, kFrameTime, 20);
  EXPECT_EQ(stuck.status, ThermalStatus::suspect_stuck);
  EXPECT_TRUE(std::isnan(stuck.skin_c));
  EXPECT_EQ(stuck.face_index, 0);
  EXPECT_TRUE(contains(stuck.detail, "20 consecutive")) << stuck.detail;
  EXPECT_EQ(fusion.stuck_detector().streak(), 20);
  // The sensor recovers.
  EXPECT_EQ(fusion.associate(SpotReading{36.4, kFrameTime, SensorStatus::ok}, faces, kFrameTime, 21).status,
            ThermalStatus::ok);
}

TEST(StuckDetectorTest, ArrayFusionReportsAFrozenFrame) {
  ThermalFusionConfig config;
  config.stuck_readings = 5;
  ArraySensorCalibration calibration;
  calibration.visible_to_thermal = Affine2x3::scale_offset(0.05, 0.05, 0.0, 0.0);
  ArrayThermalFusion fusion(config, calibration);
  ThermalFrame frame;
  frame.width = 32;
  frame.height = 24;
  frame.celsius.assign(32 * 24, 35.9);
  frame.time = kFrameTime;
  const std::vector<FaceObservation> faces{face_at(400.0, 200.0, 200.0, 240.0, 100.0)};
  for (std::uint64_t passage = 1; passage <= 4; ++passage) {
    EXPECT_EQ(fusion.associate(frame, faces, kFrameTime, passage).status, ThermalStatus::ok);
  }
  EXPECT_EQ(fusion.associate(frame, faces, kFrameTime, 5).status, ThermalStatus::suspect_stuck);
}

// ---- Driving the policy engine ------------------------------------------------------------------------------

constexpr std::uint32_t kAlice = 1;

class OneResident final : public RightsDirectory {
 public:
  std::optional<Rights> rights(std::uint32_t id) const override {
    if (id != kAlice) return std::nullopt;
    Rights r;
    r.has_face_template = true;
    return r;
  }
};

FaceEvidence alice_masked() {
  FaceEvidence f;
  f.acquired = true;
  f.mask = MaskState::worn;
  f.best_id = kAlice;
  f.score = 0.80;
  return f;
}

ThermalAssociation ok_association(double skin_c) {
  ThermalAssociation a;
  a.status = ThermalStatus::ok;
  a.skin_c = skin_c;
  a.face_index = 0;
  return a;
}
ThermalAssociation failed_association(ThermalStatus status) {
  ThermalAssociation a;
  a.status = status;
  return a;
}

class FeedTest : public ::testing::Test {
 protected:
  Policy policy;  // defaults: threshold 37.3, compensation 0.5, re-measure, staff secondary check
  OneResident directory;
  ThermalFusionConfig config;
};

TEST_F(FeedTest, OkAssociationIsFed) {
  GateTransaction tx(policy, directory, Presentation{});
  ASSERT_EQ(tx.next(), Step::measure_temperature);
  const FeedResult r = feed_temperature(tx, ok_association(35.8), 0, config);
  EXPECT_TRUE(r.fed);
  EXPECT_EQ(r.action, FeedAction::fed);
  EXPECT_EQ(r.failed_associations, 0);
  EXPECT_EQ(tx.next(), Step::capture_face);
  EXPECT_DOUBLE_EQ(*tx.outcome().temperature_c, 36.3);
}

TEST_F(FeedTest, FailedAssociationsRemeasureThenReferToStaff) {
  GateTransaction tx(policy, directory, Presentation{});
  FeedResult r = feed_temperature(tx, failed_association(ThermalStatus::ambiguous), 0, config);
  EXPECT_FALSE(r.fed);
  EXPECT_EQ(r.action, FeedAction::remeasure);
  EXPECT_EQ(r.failed_associations, 1);
  r = feed_temperature(tx, failed_association(ThermalStatus::stale), r.failed_associations, config);
  EXPECT_EQ(r.action, FeedAction::remeasure);
  EXPECT_EQ(r.failed_associations, 2);
  r = feed_temperature(tx, failed_association(ThermalStatus::too_far), r.failed_associations, config);
  EXPECT_FALSE(r.fed);
  EXPECT_EQ(r.action, FeedAction::staff_referral);
  EXPECT_EQ(r.failed_associations, 3);
  r = feed_temperature(tx, failed_association(ThermalStatus::too_far), r.failed_associations, config);
  EXPECT_EQ(r.action, FeedAction::staff_referral);
  EXPECT_EQ(r.failed_associations, 3);
  // The policy engine was never touched.
  EXPECT_EQ(tx.next(), Step::measure_temperature);
  EXPECT_EQ(tx.outcome().temperature_measurements, 0);
  EXPECT_FALSE(tx.outcome().temperature_c.has_value());
}

TEST_F(FeedTest, OkAfterFailuresResetsTheCount) {
  GateTransaction tx(policy, directory, Presentation{});
  FeedResult r = feed_temperature(tx, failed_association(ThermalStatus::no_face), 0, config);
  r = feed_temperature(tx, failed_association(ThermalStatus::no_face), r.failed_associations, config);
  EXPECT_EQ(r.failed_associations, 2);
  r = feed_temperature(tx, ok_association(35.8), r.failed_associations, config);
  EXPECT_TRUE(r.fed);
  EXPECT_EQ(r.failed_associations, 0);
}

TEST_F(FeedTest, MaxFailedAssociationsIsConfigurable) {
  config.max_failed_associations = 1;
  GateTransaction tx(policy, directory, Presentation{});
  EXPECT_EQ(feed_temperature(tx, failed_association(ThermalStatus::stale), 0, config).action,
            FeedAction::staff_referral);
  // A nonsense count from the caller is treated as zero.
  config.max_failed_associations = 2;
  EXPECT_EQ(feed_temperature(tx, failed_association(ThermalStatus::stale), -5, config).failed_associations, 1);
}

TEST_F(FeedTest, OkWithANonFiniteValueIsNotFed) {
  GateTransaction tx(policy, directory, Presentation{});
  const FeedResult r = feed_temperature(tx, ok_association(kNaN), 0, config);
  EXPECT_FALSE(r.fed);
  EXPECT_EQ(r.action, FeedAction::remeasure);
  EXPECT_EQ(tx.outcome().temperature_measurements, 0);
}

TEST_F(FeedTest, NothingIsFedWhenTheTransactionIsNotMeasuring) {
  policy.temperature_mode = TemperatureMode::after_identity;
  GateTransaction tx(policy, directory, Presentation{});
  ASSERT_EQ(tx.next(), Step::capture_face);
  const FeedResult r = feed_temperature(tx, ok_association(35.8), 2, config);
  EXPECT_FALSE(r.fed);
  EXPECT_EQ(r.action, FeedAction::not_measuring);
  EXPECT_EQ(r.failed_associations, 2);
  EXPECT_EQ(tx.outcome().temperature_measurements, 0);
}

// ---- End to end: sensor -> fusion -> the real policy engine ---------------------------------------------

class EndToEndTest : public FeedTest {
 protected:
  EndToEndTest() : fusion(ThermalFusionConfig{}, calibration()) {}
  static SpotSensorCalibration calibration() {
    SpotSensorCalibration c;
    c.region = {270.0, 150.0, 100.0, 100.0};
    return c;
  }
  ThermalAssociation measure(double skin_c, std::uint64_t passage) {
    return fusion.associate(SpotReading{skin_c, kFrameTime + Micros{40'000}, SensorStatus::ok}, faces, kFrameTime,
                            passage);
  }

  SpotThermalFusion fusion;
  // A neighbour in the next lane at the image edge, and the resident in front at 0.5 m.
  std::vector<FaceObservation> faces{face_at(560.0, 80.0, 70.0, 90.0, 40.0),
                                     face_at(220.0, 100.0, 200.0, 240.0, 126.0)};
};

TEST_F(EndToEndTest, NormalSkinTemperatureEnters) {
  GateTransaction tx(policy, directory, Presentation{});
  const auto a = measure(36.6, 1);
  ASSERT_EQ(a.status, ThermalStatus::ok) << a.detail;
  EXPECT_EQ(a.face_index, 1);
  const FeedResult r = feed_temperature(tx, a, 0, fusion.config());
  ASSERT_TRUE(r.fed);
  // 36.6 + 0.5 compensation = 37.1, below the 37.3 threshold.
  EXPECT_EQ(tx.next(), Step::capture_face);
  tx.on_face(alice_masked());
  ASSERT_TRUE(tx.done());
  const Outcome& o = tx.outcome();
  EXPECT_EQ(o.verdict, Verdict::grant);
  EXPECT_EQ(o.reason, Reason::recognised);
  EXPECT_EQ(o.person_id, kAlice);
  EXPECT_DOUBLE_EQ(*o.temperature_c, 37.1);
  EXPECT_FALSE(o.temperature_alarm);
  EXPECT_EQ(o.temperature_measurements, 1);
  EXPECT_FALSE(o.referred_to_staff);
  EXPECT_EQ(o.announcement, "体温正常，37.1度，识别成功");
}

TEST_F(EndToEndTest, FeverIsRemeasuredThenReferredToStaff) {
  GateTransaction tx(policy, directory, Presentation{});
  // 37.0 + 0.5 = 37.5 >= 37.3: the policy asks for one re-measurement first.
  ASSERT_TRUE(feed_temperature(tx, measure(37.0, 1), 0, fusion.config()).fed);
  EXPECT_EQ(tx.next(), Step::measure_temperature);
  EXPECT_EQ(tx.outcome().temperature_measurements, 1);
  EXPECT_FALSE(tx.outcome().temperature_alarm);
  // The re-measurement confirms it: alarm, door closed, referred to the staff's hand-held check.
  ASSERT_TRUE(feed_temperature(tx, measure(37.0, 1), 0, fusion.config()).fed);
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_TRUE(tx.outcome().temperature_alarm);
  EXPECT_TRUE(tx.outcome().referred_to_staff);
  EXPECT_EQ(tx.outcome().temperature_measurements, 2);
  EXPECT_DOUBLE_EQ(*tx.outcome().temperature_c, 37.5);
  // Staff confirm the fever: denied.
  tx.on_staff(StaffEvidence{false, 37.6});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::fever);
  EXPECT_EQ(tx.outcome().announcement, "体温异常，37.5度，人工复测37.6度，请联系工作人员复测");
}

TEST_F(EndToEndTest, FeverWithoutStaffCheckIsDenied) {
  policy.staff_secondary_check = false;
  GateTransaction tx(policy, directory, Presentation{});
  feed_temperature(tx, measure(37.0, 1), 0, fusion.config());
  feed_temperature(tx, measure(37.0, 1), 0, fusion.config());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::fever);
  EXPECT_FALSE(tx.outcome().referred_to_staff);
}

TEST_F(EndToEndTest, UnassociatedReadingsNeverReachThePolicy) {
  GateTransaction tx(policy, directory, Presentation{});
  // Three attempts: a stale reading, two people in the region, the resident too far from the sensor.
  const auto stale = fusion.associate(SpotReading{36.6, kFrameTime + Micros{500'000}, SensorStatus::ok}, faces,
                                      kFrameTime, 1);
  std::vector<FaceObservation> crowd = faces;
  crowd.push_back(face_at(170.0, 120.0, 150.0, 200.0, 110.0));
  const auto ambiguous = fusion.associate(SpotReading{36.6, kFrameTime, SensorStatus::ok}, crowd, kFrameTime, 1);
  const auto far = fusion.associate(SpotReading{36.6, kFrameTime, SensorStatus::ok},
                                    std::vector<FaceObservation>{face_at(220.0, 100.0, 200.0, 240.0, 50.0)},
                                    kFrameTime, 1);
  EXPECT_EQ(stale.status, ThermalStatus::stale);
  EXPECT_EQ(ambiguous.status, ThermalStatus::ambiguous);
  EXPECT_EQ(far.status, ThermalStatus::out_of_range);
  FeedResult r = feed_temperature(tx, stale, 0, fusion.config());
  r = feed_temperature(tx, ambiguous, r.failed_associations, fusion.config());
  EXPECT_EQ(r.action, FeedAction::remeasure);
  r = feed_temperature(tx, far, r.failed_associations, fusion.config());
  EXPECT_EQ(r.action, FeedAction::staff_referral);
  EXPECT_EQ(tx.outcome().temperature_measurements, 0);
  // The caller takes the person to staff; the staff check is not this module's business.
  EXPECT_EQ(tx.next(), Step::measure_temperature);
}

TEST_F(EndToEndTest, ArraySensorToPolicy) {
  ArraySensorCalibration calibration;
  calibration.visible_to_thermal = Affine2x3::scale_offset(0.05, 0.05, 0.0, 0.0);
  ArrayThermalFusion array(ThermalFusionConfig{}, calibration);
  ThermalFrame frame;
  frame.width = 32;
  frame.height = 24;
  frame.celsius.assign(32 * 24, kRoom);
  for (int r = 9; r <= 20; ++r) {
    for (int c = 20; c <= 29; ++c) frame.celsius[static_cast<std::size_t>(r * 32 + c)] = kSkin;
  }
  frame.celsius[12 * 32 + 25] = 36.6;
  frame.time = kFrameTime;
  const std::vector<FaceObservation> in_view{face_at(400.0, 200.0, 200.0, 240.0, 100.0)};
  GateTransaction tx(policy, directory, Presentation{});
  const auto a = array.associate(frame, in_view, kFrameTime, 1);
  ASSERT_EQ(a.status, ThermalStatus::ok) << a.detail;
  ASSERT_TRUE(feed_temperature(tx, a, 0, array.config()).fed);
  tx.on_face(alice_masked());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().announcement, "体温正常，37.1度，识别成功");
}

}  // namespace
}  // namespace gatetwin::recognizer
