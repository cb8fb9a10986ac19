// The gate scene without any model: frames are pure functions of (spec, actors), the subject grows as it
// approaches at the camera's frame rate, every drawn actor's truth box is where something was drawn, the
// neighbour is offset and the tailgater smaller, frames are rendered only when asked for, and the thermal
// array's view feeds the real core's fusion (associate_array) with the expected outcomes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "gatetwin/recognizer/thermal_fusion.hpp"
#include "gatetwin/sim/gate_scene.hpp"

namespace scene = gatetwin::sim::scene;
namespace render = gatetwin::sim::render;
namespace rec = gatetwin::recognizer;

namespace {

constexpr std::uint64_t kSeed = 20200616;

scene::LaneSpec lane(std::uint64_t passage = 3) {
  scene::LaneSpec s;
  s.seed = kSeed;
  s.passage = passage;
  return s;
}

std::vector<scene::Actor> cast(const scene::LaneSpec& s, bool behind, bool adjacent) {
  std::vector<scene::Actor> a{scene::make_actor(s, 7, scene::Role::subject)};
  if (behind) a.push_back(scene::make_actor(s, 8, scene::Role::behind));
  if (adjacent) a.push_back(scene::make_actor(s, 9, scene::Role::adjacent));
  return a;
}

std::vector<scene::SceneFrame> all_frames(scene::Approach& ap) {
  std::vector<scene::SceneFrame> out;
  scene::SceneFrame f;
  while (ap.next(f)) out.push_back(f);
  return out;
}

double thermal_at(const rec::ThermalFrame& t, int u, int v) {
  return t.celsius[static_cast<std::size_t>(v * t.width + u)];
}

rec::ThermalFusionConfig fusion_config(const scene::LaneSpec& s) {
  rec::ThermalFusionConfig c;
  c.focal_length_px = s.camera.focal_px();
  return c;
}

}  // namespace

TEST(GateScene, SameInputsGiveIdenticalPixels) {
  const auto s = lane();
  scene::Approach a(s, cast(s, true, true)), b(s, cast(s, true, true));
  scene::SceneFrame fa, fb;
  int n = 0;
  while (a.next(fa)) {
    ASSERT_TRUE(b.next(fb));
    ASSERT_EQ(fa.image.size(), fb.image.size());
    EXPECT_EQ(cv::norm(fa.image, fb.image, cv::NORM_INF), 0) << "frame " << fa.index;
    ++n;
  }
  EXPECT_FALSE(b.next(fb));
  EXPECT_EQ(n, a.frames());
  // Another passage is another scene.
  scene::Approach c(lane(4), cast(s, true, true));
  scene::SceneFrame f0a, f0c;
  scene::Approach a2(s, cast(s, true, true));
  ASSERT_TRUE(a2.next(f0a));
  ASSERT_TRUE(c.next(f0c));
  EXPECT_GT(cv::norm(f0a.image, f0c.image, cv::NORM_L1), 0);
}

TEST(GateScene, SubjectGrowsAndTimeFollowsFps) {
  auto s = lane();
  s.camera.fps = 10;
  scene::Approach ap(s, cast(s, false, false));
  // 1.5 m cruise + 0.4 m braking at 1 m/s (0.8 s) + 1 s dwell = 3.3 s -> 34 frames at 10 fps.
  EXPECT_EQ(ap.frames(), 34);
  const auto frames = all_frames(ap);
  ASSERT_EQ(static_cast<int>(frames.size()), ap.frames());
  double last_iod = 0, last_z = 1e9;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& f = frames[i];
    EXPECT_EQ(f.index, static_cast<int>(i));
    EXPECT_EQ(f.t_us, static_cast<std::int64_t>(i) * 100'000);
    const auto& subj = f.actors.at(0);
    ASSERT_TRUE(subj.in_view) << "frame " << i;
    EXPECT_LE(subj.distance_m, last_z + 1e-12);
    EXPECT_GE(subj.face.interocular_px, 0.7 * last_iod) << "frame " << i;  // pose may foreshorten a little
    EXPECT_NEAR(subj.capture.interocular_px, s.camera.interocular_px(subj.distance_m, ap.actors()[0].iod_m), 1e-9);
    last_iod = subj.capture.interocular_px;
    last_z = subj.distance_m;
  }
  EXPECT_NEAR(frames.front().actors[0].distance_m, 2.5, 1e-9);
  EXPECT_NEAR(frames.back().actors[0].distance_m, 0.6, 1e-9);
  EXPECT_GT(frames.back().actors[0].face.interocular_px, 3 * frames.front().actors[0].face.interocular_px);
  // 30 fps gives three times the frames, 33333 us apart (rounded).
  s.camera.fps = 30;
  scene::Approach fast(s, cast(s, false, false));
  EXPECT_EQ(fast.frames(), 100);
  scene::SceneFrame f;
  ASSERT_TRUE(fast.next_truth_only(f));
  ASSERT_TRUE(fast.next_truth_only(f));
  EXPECT_EQ(f.t_us, 33'333);
}

TEST(GateScene, TruthBoxesAreWhereFacesWereDrawn) {
  const auto s = lane();
  // The same passage without people: the same background, lighting and camera noise stream.
  scene::Approach ap(s, cast(s, true, true)), empty(s, {});
  scene::SceneFrame f, e;
  int checked = 0, behind = 0, adjacent = 0, clear_tops = 0;
  while (ap.next(f)) {
    ASSERT_TRUE(empty.next(e));
    for (const auto& a : f.actors) {
      if (!a.in_view) continue;
      const cv::Rect box = cv::Rect(a.face.face_box) & cv::Rect(0, 0, f.image.cols, f.image.rows);
      ASSERT_FALSE(box.empty());
      // Where the truth says a face is, the frame differs from the empty lane; the tailgater may be partly
      // hidden behind the subject, so it only needs to differ somewhere in its box.
      cv::Mat d;
      cv::absdiff(f.image(box), e.image(box), d);
      const cv::Scalar m = cv::mean(d);
      const double mean = (m[0] + m[1] + m[2]) / 3;
      EXPECT_GT(mean, a.role == scene::Role::behind ? 3.0 : 8.0) << to_string(a.role) << " frame " << f.index;
      ++checked;
      behind += a.role == scene::Role::behind;
      adjacent += a.role == scene::Role::adjacent;
    }
    // Above everyone's head (the top 16 rows: one JPEG block row) the frame is exactly the empty lane; near
    // the terminal a tall subject's head leaves the frame at the top, so only while all heads are lower.
    bool heads_low = true;
    for (const auto& a : f.actors)
      if (a.drawn) heads_low = heads_low && a.capture.face_centre.y - 2.4 * a.capture.interocular_px > 24;
    const cv::Rect top(0, 0, f.image.cols, 16);
    if (heads_low) {
      EXPECT_EQ(cv::norm(f.image(top), e.image(top), cv::NORM_INF), 0) << "frame " << f.index;
      ++clear_tops;
    }
  }
  EXPECT_GT(checked, 30);
  EXPECT_GT(behind, 5);
  EXPECT_GT(adjacent, 0);
  EXPECT_GT(clear_tops, 5);
}

TEST(GateScene, AdjacentIsOffsetAndBehindIsSmaller) {
  const auto s = lane();
  auto actors = cast(s, true, true);
  ASSERT_NEAR(std::abs(actors[2].lateral_m), 0.9, 0.1);
  scene::Approach ap(s, actors);
  scene::SceneFrame f;
  ASSERT_TRUE(ap.next(f));
  const auto& subj = f.actors[0];
  const auto& behind = f.actors[1];
  const auto& adj = f.actors[2];
  EXPECT_EQ(behind.role, scene::Role::behind);
  EXPECT_GT(behind.distance_m, subj.distance_m);
  EXPECT_LT(behind.capture.interocular_px, subj.capture.interocular_px);
  ASSERT_TRUE(adj.drawn);
  // 0.9 m to the side at about 3 m: far from the image centre, on its own side.
  const double dx = adj.capture.face_centre.x - subj.capture.face_centre.x;
  EXPECT_GT(std::abs(dx), 200.0);
  EXPECT_EQ(dx > 0, adj.lateral_m > 0);
  // Later, the neighbour is beside the lens and out of the picture; the tailgater stays behind.
  scene::SceneFrame last;
  while (ap.next(f)) last = f;
  EXPECT_FALSE(last.actors[2].in_view);
  EXPECT_GT(last.actors[1].distance_m, last.actors[0].distance_m + 0.3);
  EXPECT_LT(last.actors[1].capture.interocular_px, last.actors[0].capture.interocular_px);
}

TEST(GateScene, StoppingEarlyRendersNothingAhead) {
  const auto s = lane();
  scene::Approach ap(s, cast(s, true, false));
  EXPECT_EQ(ap.rendered(), 0);  // construction draws nothing
  scene::SceneFrame f;
  ASSERT_TRUE(ap.next(f));
  ASSERT_TRUE(ap.next(f));
  EXPECT_EQ(ap.rendered(), 2);
  EXPECT_EQ(ap.position(), 2);
  ASSERT_TRUE(ap.next_truth_only(f));
  EXPECT_TRUE(f.image.empty());
  EXPECT_EQ(ap.rendered(), 2);
  EXPECT_GT(ap.frames(), 10);
}

TEST(GateScene, ThermalMapHasAmbientWallsAndWarmFaces) {
  const auto s = lane();
  auto actors = cast(s, false, false);
  scene::Approach ap(s, actors);
  const auto frames = all_frames(ap);
  const auto& last = frames.back();
  scene::ThermalSpec ts;
  const auto t = scene::thermal_frame(s, actors, last, ts);
  ASSERT_EQ(t.width, 32);
  ASSERT_EQ(t.height, 24);
  ASSERT_EQ(t.celsius.size(), 32u * 24u);
  EXPECT_EQ(t.time.count(), last.t_us);
  // Corners see the wall.
  EXPECT_NEAR(thermal_at(t, 0, 0), s.ambient_c, 0.4);
  EXPECT_NEAR(thermal_at(t, 31, 0), s.ambient_c, 0.4);
  // The hottest pixel is the forehead, at about the actor's skin temperature, never above it by more than noise.
  const double hottest = *std::max_element(t.celsius.begin(), t.celsius.end());
  EXPECT_NEAR(hottest, actors[0].skin_c, 0.35);
  // Deterministic, and noise differs from frame to frame.
  const auto t2 = scene::thermal_frame(s, actors, last, ts);
  EXPECT_EQ(t.celsius, t2.celsius);
  const auto t3 = scene::thermal_frame(s, actors, frames[frames.size() - 2], ts);
  EXPECT_NE(t.celsius, t3.celsius);
  // The registration maps the frame's corners onto the array's corners (pixel centres).
  const auto cal = scene::thermal_calibration(s.camera, ts);
  EXPECT_NO_THROW(rec::validate(cal));
  const auto p = cal.visible_to_thermal.apply({639.5, 479.5});
  EXPECT_NEAR(p.x, 31.5, 1e-9);
  EXPECT_NEAR(p.y, 23.5, 1e-9);
  // A mask properly worn is cooler than skin but warmer than the wall.
  actors[0].look.mask = render::MaskKind::surgical;
  actors[0].look.wear = render::MaskWear::proper;
  scene::Approach masked(s, actors);
  const auto mf = all_frames(masked).back();
  const auto mt = scene::thermal_frame(s, actors, mf, ts);
  const auto& mface = mf.actors[0].face;
  const auto mcal = scene::thermal_calibration(s.camera, ts);
  const cv::Point2d mouth = 0.5 * (mface.five[3] + mface.five[4]);
  const auto q = mcal.visible_to_thermal.apply({mouth.x, mouth.y});
  const double at_mouth = thermal_at(mt, static_cast<int>(std::lround(q.x)), static_cast<int>(std::lround(q.y)));
  EXPECT_GT(at_mouth, s.ambient_c + 3);
  EXPECT_LT(at_mouth, actors[0].skin_c - 2);
}

TEST(GateScene, FusionReadsTheSubjectAtTheTerminal) {
  const auto s = lane();
  for (const int w : {32, 80}) {
    auto actors = cast(s, false, false);
    scene::Approach ap(s, actors);
    const auto frames = all_frames(ap);
    scene::ThermalSpec ts;
    ts.width = w;
    ts.height = w * 3 / 4;
    const auto cal = scene::thermal_calibration(s.camera, ts);
    const auto config = fusion_config(s);
    const auto& last = frames.back();
    const auto t = scene::thermal_frame(s, actors, last, ts);
    const std::vector<rec::FaceObservation> faces{scene::observe(last.actors[0].face)};
    const auto r = rec::associate_array(config, cal, t, faces, rec::Micros{last.t_us});
    ASSERT_EQ(r.status, rec::ThermalStatus::ok) << w << ": " << r.detail;
    EXPECT_NEAR(r.skin_c, actors[0].skin_c, 0.3) << w;
    EXPECT_EQ(r.face_index, 0);
  }
}

TEST(GateScene, FusionCannotReadAFarFace) {
  const auto s = lane();
  auto actors = cast(s, false, false);
  scene::Approach ap(s, actors);
  scene::SceneFrame first;
  ASSERT_TRUE(ap.next(first));  // 2.5 m away
  const scene::ThermalSpec ts;
  const auto t = scene::thermal_frame(s, actors, first, ts);
  const std::vector<rec::FaceObservation> faces{scene::observe(first.actors[0].face)};
  const auto r = rec::associate_array(fusion_config(s), scene::thermal_calibration(s.camera, ts), t, faces,
                                      rec::Micros{first.t_us});
  EXPECT_TRUE(r.status == rec::ThermalStatus::too_far || r.status == rec::ThermalStatus::implausible)
      << rec::to_string(r.status) << " " << r.skin_c;
  // Even read at face value, the far face's hottest pixel is well below the skin: it blurs into the wall.
  const auto cal = scene::thermal_calibration(s.camera, ts);
  const auto& fc = first.actors[0].face;
  const auto mid = cal.visible_to_thermal.apply({0.5 * (fc.five[0].x + fc.five[1].x), 0.5 * (fc.five[0].y + fc.five[1].y)});
  double best = -1e9;
  for (int dv = -1; dv <= 1; ++dv)
    for (int du = -1; du <= 1; ++du)
      best = std::max(best, thermal_at(t, static_cast<int>(std::lround(mid.x)) + du, static_cast<int>(std::lround(mid.y)) + dv));
  EXPECT_LT(best, actors[0].skin_c - 1.0);
}

TEST(GateScene, FusionWithTwoFacesAtTheTerminalTakesTheClosest) {
  // Tailgater close behind: both faces in the frame at the terminal; the array fusion decides on the
  // closest (largest inter-ocular) face and reads its forehead, not the other's.
  const auto s = lane(5);
  auto actors = cast(s, true, false);
  actors[1].gap_m = 0.5;
  actors[1].skin_c = 38.5;  // a feverish tailgater must not be reported for the subject, nor hide them
  actors[1].lateral_m = 0.3;
  scene::Approach ap(s, actors);
  const auto frames = all_frames(ap);
  const auto& last = frames.back();
  ASSERT_TRUE(last.actors[0].in_view);
  ASSERT_TRUE(last.actors[1].drawn);
  const scene::ThermalSpec ts;
  const auto t = scene::thermal_frame(s, actors, last, ts);
  const std::vector<rec::FaceObservation> faces{scene::observe(last.actors[1].face), scene::observe(last.actors[0].face)};
  const auto r = rec::associate_array(fusion_config(s), scene::thermal_calibration(s.camera, ts), t, faces,
                                      rec::Micros{last.t_us});
  ASSERT_EQ(r.status, rec::ThermalStatus::ok) << r.detail;
  EXPECT_EQ(r.face_index, 1);
  EXPECT_NEAR(r.skin_c, actors[0].skin_c, 0.3);
}

TEST(GateScene, BadSpecThrows) {
  auto s = lane();
  s.walk_speed_mps = 0;
  EXPECT_THROW(scene::Approach(s, {}), std::invalid_argument);
  s = lane();
  s.camera.fps = 0;
  EXPECT_THROW(scene::Approach(s, {}), std::invalid_argument);
}
