// The procedural face renderer without any model: renders are pure functions of their inputs, the truth
// it reports is where things were drawn, masks cover what they should and nothing else, and identities
// and captures are spread the way the quotas and nuisance ranges say.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>

#include <opencv2/core.hpp>

#include "gatetwin/sim/face_render.hpp"

namespace render = gatetwin::sim::render;

namespace {

constexpr std::uint64_t kSeed = 20200616;

bool identical(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b, const cv::Rect& roi) {
  cv::Mat d;
  cv::absdiff(a(roi), b(roi), d);
  const cv::Scalar m = cv::mean(d);
  return (m[0] + m[1] + m[2]) / 3;
}

cv::Rect around(cv::Point2d p, double half, const cv::Mat& img) {
  const int h = static_cast<int>(half);
  return cv::Rect(static_cast<int>(p.x) - h, static_cast<int>(p.y) - h, 2 * h + 1, 2 * h + 1) &
         cv::Rect(0, 0, img.cols, img.rows);
}

bool inside(const cv::Rect2d& box, cv::Point2d p) {
  return p.x >= box.x && p.x <= box.x + box.width && p.y >= box.y && p.y <= box.y + box.height;
}

}  // namespace

TEST(FaceRender, SameInputsGiveIdenticalBytes) {
  for (std::uint32_t person : {0u, 7u}) {
    const auto id = render::sample_identity(kSeed, person);
    auto c = render::sample_capture(kSeed, person, 3, 1.0);
    c.mask = render::MaskKind::surgical;
    c.wear = render::MaskWear::proper;
    const auto a = render::render_face(id, c);
    auto again = render::sample_capture(kSeed, person, 3, 1.0);
    again.mask = render::MaskKind::surgical;
    again.wear = render::MaskWear::proper;
    const auto b = render::render_face(render::sample_identity(kSeed, person), again);
    EXPECT_TRUE(identical(a.image, b.image)) << "person " << person;
    EXPECT_EQ(a.truth.face_box, b.truth.face_box);
    for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(a.truth.five[i], b.truth.five[i]);
  }
}

TEST(FaceRender, SamplingIsAPureFunctionOfSeedPersonAndCapture) {
  const auto a = render::sample_identity(kSeed, 12), b = render::sample_identity(kSeed, 12);
  EXPECT_EQ(a.texture_seed, b.texture_seed);
  EXPECT_EQ(a.nose_length, b.nose_length);
  EXPECT_EQ(a.skin_bgr, b.skin_bgr);
  EXPECT_NE(a.texture_seed, render::sample_identity(kSeed + 1, 12).texture_seed);
  const auto c = render::sample_capture(kSeed, 12, 1), d = render::sample_capture(kSeed, 12, 1);
  EXPECT_EQ(c.yaw_deg, d.yaw_deg);
  EXPECT_EQ(c.background_seed, d.background_seed);
  EXPECT_NE(c.yaw_deg, render::sample_capture(kSeed, 12, 2).yaw_deg);
}

TEST(FaceRender, DifferentPersonsLookDifferent) {
  const auto c = render::sample_capture(kSeed, 1, 0, 0.0);
  const auto a = render::render_face(render::sample_identity(kSeed, 1), c);
  const auto b = render::render_face(render::sample_identity(kSeed, 2), c);
  const cv::Rect face = cv::Rect(a.truth.face_box) | cv::Rect(b.truth.face_box);
  EXPECT_GT(mean_abs_diff(a.image, b.image, face), 8.0);
}

TEST(FaceRender, ImageHasTheRequestedSizeAndType) {
  const auto id = render::sample_identity(kSeed, 3);
  auto c = render::sample_capture(kSeed, 3, 0, 0.0);
  EXPECT_EQ(render::render_face(id, c).image.size(), cv::Size(640, 480));
  c.face_centre = {160, 110};
  c.interocular_px = 30;
  const auto small = render::render_face(id, c, {320, 240});
  EXPECT_EQ(small.image.size(), cv::Size(320, 240));
  EXPECT_EQ(small.image.type(), CV_8UC3);
  EXPECT_EQ(render::draw_background(5, {200, 100}).size(), cv::Size(200, 100));
}

// The named proportions without the shape warp (which reshapes the face around the eyes; its own test is
// ShapeWarpReshapesTheFaceButHoldsTheEyes): proportions and the box's tightness have fixed bounds.
render::FaceIdentity unwarped(std::uint32_t person) {
  auto id = render::sample_identity(kSeed, person);
  id.shape_warp.fill(0);
  return id;
}

TEST(FaceRender, FrontalTruthPutsTheEyesWhereTheCaptureSays) {
  for (std::uint32_t person = 0; person < 6; ++person) {
    const auto c = render::sample_capture(kSeed, person, 0, 0.0);
    const auto r = render::render_face(unwarped(person), c);
    const auto& f = r.truth.five;
    const double iod = c.interocular_px;
    EXPECT_NEAR(f[0].x, c.face_centre.x - iod / 2, 0.5);
    EXPECT_NEAR(f[1].x, c.face_centre.x + iod / 2, 0.5);
    EXPECT_NEAR(f[0].y, c.face_centre.y, 0.5);
    EXPECT_NEAR(f[1].y, c.face_centre.y, 0.5);
    EXPECT_NEAR(r.truth.interocular_px, cv::norm(f[1] - f[0]), 1e-9);
    EXPECT_NEAR(r.truth.interocular_px, iod, 1e-6 * iod);
    // Nose below the eyes, mouth below the nose, mouth corners either side of the nose.
    EXPECT_GT(f[2].y, c.face_centre.y + 0.4 * iod);
    EXPECT_GT(f[3].y, f[2].y + 0.15 * iod);
    EXPECT_LT(f[3].x, f[2].x);
    EXPECT_GT(f[4].x, f[2].x);
    // The box is tight: about two inter-ocular distances wide, brows' top to chin.
    const auto& box = r.truth.face_box;
    for (const auto& p : f) EXPECT_TRUE(inside(box, p)) << "person " << person;
    EXPECT_GT(box.width, 1.6 * iod);
    EXPECT_LT(box.width, 2.8 * iod);
    EXPECT_LT(box.y, c.face_centre.y - 0.2 * iod);
    EXPECT_GT(box.y, c.face_centre.y - 0.75 * iod);
    EXPECT_GT(box.y + box.height, f[3].y + 0.3 * iod);
  }
}

TEST(FaceRender, TruthFollowsThePose) {
  const auto id = render::sample_identity(kSeed, 4);
  auto c = render::sample_capture(kSeed, 4, 0, 0.0);
  const auto front = render::render_face(id, c);
  c.yaw_deg = 20;
  const auto turned = render::render_face(id, c);
  // Turning compresses the eye distance and brings the nose tip toward the image's right.
  EXPECT_LT(turned.truth.interocular_px, 0.97 * front.truth.interocular_px);
  EXPECT_GT(turned.truth.interocular_px, 0.85 * front.truth.interocular_px);
  const double mid_front = (front.truth.five[0].x + front.truth.five[1].x) / 2;
  const double mid_turned = (turned.truth.five[0].x + turned.truth.five[1].x) / 2;
  EXPECT_GT(turned.truth.five[2].x - mid_turned, front.truth.five[2].x - mid_front + 0.1 * c.interocular_px);
  EXPECT_GT(mean_abs_diff(front.image, turned.image, cv::Rect(front.truth.face_box)), 5.0);
  c.yaw_deg = 0;
  c.roll_deg = 10;
  const auto rolled = render::render_face(id, c);
  const cv::Point2d d = rolled.truth.five[1] - rolled.truth.five[0];
  EXPECT_NEAR(std::atan2(d.y, d.x) * 180 / 3.14159265358979, 10.0, 0.5);
  // Under every gate pose the landmarks stay inside the face box.
  for (std::uint32_t k = 0; k < 8; ++k) {
    const auto r = render::render_face(id, render::sample_capture(kSeed, 4, k, 1.0));
    for (const auto& p : r.truth.five) EXPECT_TRUE(inside(r.truth.face_box, p)) << "capture " << k;
    EXPECT_GT(r.truth.face_box.area(), 0);
  }
}

TEST(FaceRender, MasksChangeTheLowerFaceButNotTheEyes) {
  const auto id = unwarped(9);
  const auto bare_c = render::sample_capture(kSeed, 9, 0, 0.0);
  const auto bare = render::render_face(id, bare_c);
  EXPECT_EQ(bare.truth.mask, render::MaskKind::none);
  EXPECT_EQ(bare.truth.wear, render::MaskWear::none);
  const double iod = bare.truth.interocular_px;
  const cv::Point2d mouth = (bare.truth.five[3] + bare.truth.five[4]) / 2;
  for (auto kind : {render::MaskKind::surgical, render::MaskKind::cloth, render::MaskKind::n95, render::MaskKind::black}) {
    for (auto wear : {render::MaskWear::proper, render::MaskWear::below_nose, render::MaskWear::on_chin}) {
      auto c = bare_c;
      c.mask = kind;
      c.wear = wear;
      const auto m = render::render_face(id, c);
      const std::string what = "kind " + std::to_string(static_cast<int>(kind)) + " wear " +
                               std::to_string(static_cast<int>(wear));
      EXPECT_EQ(m.truth.mask, kind);
      EXPECT_EQ(m.truth.wear, wear);
      // The same face box (a mask standing off the chin moves its edge by a pixel or two in perspective).
      EXPECT_NEAR(m.truth.face_box.x, bare.truth.face_box.x, 1.0) << what;
      EXPECT_NEAR(m.truth.face_box.y, bare.truth.face_box.y, 1.0) << what;
      EXPECT_NEAR(m.truth.face_box.br().x, bare.truth.face_box.br().x, 1.0) << what;
      EXPECT_NEAR(m.truth.face_box.br().y, bare.truth.face_box.br().y, 2.5) << what;
      // The eyes are untouched (a mask near them only shades them a little: less ambient light).
      for (int e = 0; e < 2; ++e)
        EXPECT_LT(mean_abs_diff(bare.image, m.image, around(bare.truth.five[static_cast<std::size_t>(e)], 0.15 * iod, m.image)),
                  2.0)
            << what << " eye " << e;
      const double at_mouth = mean_abs_diff(bare.image, m.image, around(mouth, 0.1 * iod, m.image));
      const double at_nose = mean_abs_diff(bare.image, m.image, around(bare.truth.five[2], 0.06 * iod, m.image));
      const cv::Point2d chin = mouth + cv::Point2d(0, 0.45 * iod);
      const double at_chin = mean_abs_diff(bare.image, m.image, around(chin, 0.08 * iod, m.image));
      EXPECT_GT(at_chin, 8.0) << what;
      if (wear == render::MaskWear::on_chin) {
        EXPECT_LT(at_mouth, 1.0) << what;
        EXPECT_LT(at_nose, 0.5) << what;
      } else {
        EXPECT_GT(at_mouth, 8.0) << what;
      }
      if (wear == render::MaskWear::proper) {
        EXPECT_GT(at_nose, 8.0) << what;
      }
      if (wear == render::MaskWear::below_nose) {
        EXPECT_LT(at_nose, 1.0) << what;
      }
    }
  }
}

TEST(FaceRender, EveryWearableAndOddInputRenders) {
  auto id = render::sample_identity(kSeed, 20);
  auto c = render::sample_capture(kSeed, 20, 0, 0.5);
  for (int style = 0; style < 4; ++style) {
    id.glasses = true;
    id.glasses_style = style;
    c.hat = true;
    c.hat_style = style % 3;
    c.hat_colour = -style;  // any index wraps into the palette
    c.mask = render::MaskKind::n95;
    c.wear = render::MaskWear::proper;
    c.mask_colour = 1000 + style;
    for (int hair = 0; hair < 6; ++hair) {
      id.hair_style = hair;
      const auto r = render::render_face(id, c);
      EXPECT_GT(r.truth.face_box.area(), 0) << "glasses " << style << " hair " << hair;
    }
  }
  // Tiny, huge and partly outside the frame.
  c.interocular_px = 12;
  EXPECT_GT(render::render_face(id, c).truth.interocular_px, 5);
  c.interocular_px = 260;
  EXPECT_EQ(render::render_face(id, c).image.size(), cv::Size(640, 480));
  c.interocular_px = 60;
  c.face_centre = {5, 470};
  const auto edge = render::render_face(id, c);
  EXPECT_GE(edge.truth.face_box.x, 0);
  EXPECT_LE(edge.truth.face_box.y + edge.truth.face_box.height, 480);
}

TEST(FaceRender, TwoFacesInOneFrame) {
  cv::Mat frame = render::draw_background(kSeed, {640, 480});
  auto far = render::sample_capture(kSeed, 1, 0, 0.0);
  far.interocular_px = 38;
  far.face_centre = {140, 170};
  auto near = render::sample_capture(kSeed, 2, 0, 0.0);
  near.interocular_px = 80;
  near.face_centre = {420, 230};
  const auto t1 = render::draw_face(frame, render::sample_identity(kSeed, 1), far);
  const auto t2 = render::draw_face(frame, render::sample_identity(kSeed, 2), near);
  EXPECT_TRUE((t1.face_box & t2.face_box).empty());
  EXPECT_NEAR(t1.interocular_px, 38, 1e-6 * 38);  // relative, as in FrontalTruthPutsTheEyesWhereTheCaptureSays
  EXPECT_NEAR(t2.interocular_px, 80, 1e-6 * 80);
}

TEST(FaceRender, IdentityQuotasAreBalanced) {
  std::array<int, 6> tones{}, styles{};
  int glasses = 0, feminine = 0, beards = 0;
  double nose_lo = 1, nose_hi = 0;
  for (std::uint32_t p = 0; p < 120; ++p) {
    const auto id = render::sample_identity(kSeed, p);
    ASSERT_GE(id.skin_tone, 0);
    ASSERT_LT(id.skin_tone, 6);
    ASSERT_GE(id.hair_style, 0);
    ASSERT_LT(id.hair_style, 6);
    ++tones[static_cast<std::size_t>(id.skin_tone)];
    ++styles[static_cast<std::size_t>(id.hair_style)];
    glasses += id.glasses;
    feminine += id.feminine;
    beards += id.beard;
    EXPECT_FALSE(id.feminine && id.beard);
    nose_lo = std::min(nose_lo, id.nose_length);
    nose_hi = std::max(nose_hi, id.nose_length);
  }
  // Blocks of six (skin, hair style) and ten (glasses: three in each) are exact.
  for (int n : tones) EXPECT_EQ(n, 20);
  for (int n : styles) EXPECT_EQ(n, 20);
  EXPECT_EQ(glasses, 36);
  EXPECT_GT(feminine, 40);
  EXPECT_LT(feminine, 80);
  EXPECT_GT(beards, 5);
  // Continuous features cover their range (Latin hypercube within blocks of eight).
  EXPECT_LT(nose_lo, 0.05);
  EXPECT_GT(nose_hi, 0.95);
  // The first persons of a population are balanced too, not only the whole.
  std::array<int, 6> first{};
  for (std::uint32_t p = 0; p < 12; ++p) ++first[static_cast<std::size_t>(render::sample_identity(kSeed, p).skin_tone)];
  for (int n : first) EXPECT_EQ(n, 2);
}

TEST(FaceRender, NuisanceZeroIsAFrontalStudioCapture) {
  for (std::uint32_t k = 0; k < 10; ++k) {
    const auto c = render::sample_capture(kSeed, 3, k, 0.0);
    EXPECT_EQ(c.yaw_deg, 0);
    EXPECT_EQ(c.pitch_deg, 0);
    EXPECT_EQ(c.roll_deg, 0);
    EXPECT_EQ(c.light_azimuth_deg, 0);
    EXPECT_EQ(c.expression, 0);
    EXPECT_EQ(c.eyes_closed, 0);
    EXPECT_EQ(c.motion_blur_px, 0);
    EXPECT_EQ(c.defocus_px, 0);
    EXPECT_EQ(c.jpeg_quality, 0);
    EXPECT_EQ(c.interocular_px, 64);
    EXPECT_EQ(c.colour_cast, cv::Vec3d(1, 1, 1));
    EXPECT_EQ(c.mask, render::MaskKind::none);
    EXPECT_FALSE(c.hat);
  }
}

TEST(FaceRender, NuisanceOneStaysInTheGateRanges) {
  double max_yaw = 0;
  for (std::uint32_t k = 0; k < 300; ++k) {
    const auto c = render::sample_capture(kSeed, k % 7, k, 1.0);
    EXPECT_LE(std::abs(c.yaw_deg), 20.0);
    EXPECT_LE(std::abs(c.pitch_deg), 12.0);
    EXPECT_LE(std::abs(c.roll_deg), 8.0);
    EXPECT_GE(c.interocular_px, 45.0);
    EXPECT_LE(c.interocular_px, 90.0);
    EXPECT_GE(c.jpeg_quality, 70);
    EXPECT_LE(c.jpeg_quality, 95);
    EXPECT_EQ(c.mask, render::MaskKind::none);
    max_yaw = std::max(max_yaw, std::abs(c.yaw_deg));
  }
  EXPECT_GT(max_yaw, 15.0);
}

TEST(FaceRender, LookalikesRangeFromTwinToStrangerDeterministically) {
  const auto base = render::sample_identity(kSeed, 31);
  const auto twin = render::lookalike_of(base, 1.0, 77);
  const auto again = render::lookalike_of(base, 1.0, 77);
  EXPECT_EQ(twin.nose_length, again.nose_length);
  EXPECT_EQ(twin.skin_bgr, again.skin_bgr);
  EXPECT_EQ(twin.marks_seed, again.marks_seed);
  // An identical twin: every discrete attribute and the fine details shared, proportions a little off,
  // moles and freckles their own.
  EXPECT_EQ(twin.hair_style, base.hair_style);
  EXPECT_EQ(twin.glasses, base.glasses);
  EXPECT_EQ(twin.feminine, base.feminine);
  EXPECT_EQ(twin.skin_tone, base.skin_tone);
  EXPECT_EQ(twin.texture_seed, base.texture_seed);
  EXPECT_NE(twin.marks_seed, base.marks_seed);
  EXPECT_NEAR(twin.nose_length, base.nose_length, 0.15);
  EXPECT_NEAR(twin.face_width, base.face_width, 0.1);
  EXPECT_NE(twin.nose_length, base.nose_length);
  // Lower resemblance moves the proportions further from the base, on average over many look-alikes.
  auto spread = [&](double rho) {
    double d = 0;
    for (std::uint64_t s = 0; s < 60; ++s) {
      const auto t = render::lookalike_of(base, rho, 1000 + s);
      d += std::abs(t.nose_length - base.nose_length) + std::abs(t.eye_size - base.eye_size) +
           std::abs(t.jaw_squareness - base.jaw_squareness);
    }
    return d / 60;
  };
  const double d1 = spread(1.0), d75 = spread(0.75), d0 = spread(0.0);
  EXPECT_LT(d1, d75);
  EXPECT_LT(d75, d0);
  EXPECT_GT(d0, 0.5);  // three unrelated features, each ~1/3 apart on average
  // Renders: the twin is closer to the base than a stranger, in the face.
  const auto c = render::sample_capture(kSeed, 31, 0, 0.0);
  const auto a = render::render_face(base, c);
  const cv::Rect face(a.truth.face_box);
  const double to_twin = mean_abs_diff(a.image, render::render_face(twin, c).image, face);
  const double to_stranger = mean_abs_diff(a.image, render::render_face(render::lookalike_of(base, 0.0, 78), c).image, face);
  EXPECT_GT(to_twin, 0.0);
  EXPECT_LT(to_twin, to_stranger);
}

TEST(FaceRender, EveryCaptureHasTheTerminalsFillLight) {
  for (std::uint32_t k = 0; k < 50; ++k) {
    const auto c = render::sample_capture(kSeed, 5, k, 1.0);
    const double total = c.ambient + 0.9 * c.light_strength + c.fill_light;
    EXPECT_GE(c.fill_light / total, 0.15 / 1.4 - 1e-9);
    EXPECT_LE(c.fill_light / total, 0.4 / 0.95 + 1e-9);
  }
}

TEST(FaceRender, ShapeWarpReshapesTheFaceButHoldsTheEyes) {
  auto id = render::sample_identity(kSeed, 8);
  ASSERT_TRUE(std::any_of(id.shape_warp.begin(), id.shape_warp.end(), [](float v) { return v != 0; }));
  auto flat = id;
  flat.shape_warp.fill(0);
  const auto c = render::sample_capture(kSeed, 8, 0, 0.0);
  const auto warped = render::render_face(id, c), plain = render::render_face(flat, c);
  // The eye centres stay where the capture puts them (they set the face's size and place) ...
  for (int e = 0; e < 2; ++e) {
    EXPECT_NEAR(warped.truth.five[static_cast<std::size_t>(e)].x, plain.truth.five[static_cast<std::size_t>(e)].x, 0.05);
    EXPECT_NEAR(warped.truth.five[static_cast<std::size_t>(e)].y, plain.truth.five[static_cast<std::size_t>(e)].y, 0.05);
  }
  // ... while the face around them is redrawn and the nose and mouth move with it.
  EXPECT_GT(mean_abs_diff(warped.image, plain.image, cv::Rect(plain.truth.face_box)), 2.0);
  double moved = 0;
  for (std::size_t i = 2; i < 5; ++i) moved = std::max(moved, cv::norm(warped.truth.five[i] - plain.truth.five[i]));
  EXPECT_GT(moved, 0.01 * c.interocular_px);
  EXPECT_LT(moved, 0.4 * c.interocular_px);
  // Over many people the warped faces stay faces: the landmarks inside the box, the box face-sized.
  for (std::uint32_t p = 0; p < 40; ++p) {
    const auto cp = render::sample_capture(kSeed, p, 0, 0.0);
    const auto r = render::render_face(render::sample_identity(kSeed, p), cp);
    for (const auto& q : r.truth.five) EXPECT_TRUE(inside(r.truth.face_box, q)) << "person " << p;
    EXPECT_GT(r.truth.face_box.width, 1.5 * cp.interocular_px) << "person " << p;
    EXPECT_LT(r.truth.face_box.width, 3.2 * cp.interocular_px) << "person " << p;
    EXPECT_GT(r.truth.five[2].y, cp.face_centre.y + 0.3 * cp.interocular_px) << "person " << p;  // nose below the eyes
    EXPECT_GT(r.truth.five[3].y, r.truth.five[2].y) << "person " << p;                         // mouth below the nose
  }
  // Every person's warp is their own, and a twin's is close to the base's.
  const auto other = render::sample_identity(kSeed, 9);
  const auto twin = render::lookalike_of(id, 1.0, 5);
  double to_other = 0, to_twin = 0;
  for (std::size_t i = 0; i < id.shape_warp.size(); ++i) {
    to_other += std::abs(id.shape_warp[i] - other.shape_warp[i]);
    to_twin += std::abs(id.shape_warp[i] - twin.shape_warp[i]);
  }
  EXPECT_LT(to_twin, 0.2 * to_other);
}

TEST(FaceRender, DemographicsDealPersonsByTheirShares) {
  const auto beijing = render::Demographics::named("beijing");
  // Every block of 100 persons holds each skin tone as many times as its share says.
  for (std::uint32_t block = 0; block < 3; ++block) {
    std::array<int, 6> tones{};
    int dark_hair = 0, young = 0, brown_eyes = 0;
    for (std::uint32_t p = 100 * block; p < 100 * (block + 1); ++p) {
      const auto id = render::sample_identity(kSeed, p, beijing);
      ++tones[static_cast<std::size_t>(id.skin_tone)];
      if (id.age < 0.5) {  // before greying
        ++young;
        dark_hair += id.hair_bgr[0] + id.hair_bgr[1] + id.hair_bgr[2] < 160 ? 1 : 0;
      }
      brown_eyes += id.iris_bgr[2] > id.iris_bgr[0] ? 1 : 0;  // more red than blue
    }
    EXPECT_EQ(tones, (std::array<int, 6>{14, 34, 32, 18, 1, 1})) << "block " << block;
    EXPECT_GE(dark_hair, young * 9 / 10) << "block " << block;
    EXPECT_GE(brown_eyes, 95) << "block " << block;
  }
  // Balanced is the default and keeps the original quota (each tone once in every block of 6).
  const auto balanced = render::Demographics::named("balanced");
  for (std::uint32_t p = 0; p < 12; ++p) {
    const auto a = render::sample_identity(kSeed, p), b = render::sample_identity(kSeed, p, balanced);
    EXPECT_EQ(a.skin_tone, b.skin_tone);
    EXPECT_EQ(a.hair_bgr, b.hair_bgr);
    EXPECT_EQ(a.iris_bgr, b.iris_bgr);
    EXPECT_EQ(a.nose_length, b.nose_length);
  }
  // Only the population's colours change with it: the same person keeps their proportions.
  EXPECT_EQ(render::sample_identity(kSeed, 5, beijing).nose_length, render::sample_identity(kSeed, 5).nose_length);
  EXPECT_EQ(render::sample_identity(kSeed, 5, beijing).shape_warp, render::sample_identity(kSeed, 5).shape_warp);
  EXPECT_THROW(render::Demographics::named("paris"), std::invalid_argument);
}
