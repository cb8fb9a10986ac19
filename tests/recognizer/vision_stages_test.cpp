// Pipeline pieces that need no model weights: the manifest, NMS, crops, alignment geometry, quality gate
// and the mask classifier's training on known features.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <opencv2/imgproc.hpp>

#include "gatetwin/recognizer/vision/attempt.hpp"
#include "gatetwin/recognizer/vision/manifest.hpp"
#include "gatetwin/recognizer/vision/stages.hpp"

namespace rv = gatetwin::recognizer::vision;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("gatetwin-vision-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

const std::string kShipped = "models/faceplugin-0.0.1.yaml";

}  // namespace

TEST(Manifest, ShippedManifestLoads) {
  const auto m = rv::load_manifest(kShipped, "/models-root");
  EXPECT_EQ(m.id, "faceplugin-0.0.1");
  EXPECT_EQ(m.model_dir, fs::path("/models-root/faceplugin-0.0.1"));
  EXPECT_EQ(m.detector.model.input.width, 320);
  EXPECT_EQ(m.detector.model.input.height, 240);
  EXPECT_EQ(m.detector.model.input.colour, rv::ColourOrder::rgb);
  EXPECT_DOUBLE_EQ(m.detector.model.input.scale, 1.0 / 128);
  EXPECT_EQ(m.landmarks.model.input.colour, rv::ColourOrder::grey);
  EXPECT_EQ(m.embedder.dim, 512);
  EXPECT_NEAR(m.embedder.template_points[0][0], 38.2946, 1e-9);
  ASSERT_TRUE(m.liveness.has_value());
  EXPECT_EQ(m.mask_classifier, fs::path("/models-root/faceplugin-0.0.1/gatetwin-mask-v1.yaml"));
  EXPECT_EQ(m.embedder_id(), "faceplugin-0.0.1/fr_feature.onnx");
}

TEST(Manifest, EveryErrorIsReportedWithLineAndField) {
  TempDir d;
  std::ifstream in(kShipped);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  // Three problems: an unknown key, a malformed hash, a bad colour.
  text.replace(text.find("score_threshold: 0.65"), 21, "score_treshold: 0.65");
  text.replace(text.find("sha256: 87aacdfe"), 16, "sha256: XYZ");
  text.replace(text.find("colour: grey"), 12, "colour: gray");
  const auto file = d.write("bad.yaml", text);
  try {
    rv::load_manifest(file);
    FAIL() << "expected a ModelError";
  } catch (const rv::ModelError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.yaml:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("detector.score_treshold: unknown key"), std::string::npos) << msg;
    EXPECT_NE(msg.find("embedder.sha256: must be 64 lower-case hex digits"), std::string::npos) << msg;
    EXPECT_NE(msg.find("landmarks.input.colour: must be rgb, bgr or grey, got 'gray'"), std::string::npos) << msg;
    // Line numbers point at the offending key (the detector block starts on line 7).
    EXPECT_NE(msg.find(":15:"), std::string::npos) << msg;
  }
}

TEST(Manifest, UnreadableAndMalformedFiles) {
  TempDir d;
  EXPECT_THROW(rv::load_manifest(d.path() / "absent.yaml"), rv::ModelError);
  const auto broken = d.write("broken.yaml", "id: [unclosed\n");
  try {
    rv::load_manifest(broken);
    FAIL();
  } catch (const rv::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.yaml:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(rv::load_manifest(d.write("list.yaml", "- a\n- b\n")), rv::ModelError);
}

TEST(Manifest, MissingOrAlteredModelNamesTheFixingCommand) {
  TempDir d;
  const auto m = rv::load_manifest(kShipped, d.path());
  try {
    rv::verify_models(m);
    FAIL();
  } catch (const rv::ModelError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("missing: " + (d.path() / "faceplugin-0.0.1" / "fr_detect.onnx").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("fix with: scripts/fetch-models.sh"), std::string::npos) << msg;
  }
  fs::create_directories(m.model_dir);
  for (const auto* f : {&m.detector.model, &m.landmarks.model, &m.embedder.model, &m.liveness->model})
    std::ofstream(f->path) << "not the model";
  try {
    rv::verify_models(m);
    FAIL();
  } catch (const rv::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("altered: "), std::string::npos) << e.what();
  }
}

TEST(Manifest, Sha256OfKnownInput) {
  TempDir d;
  // FIPS 180-2 example: SHA-256("abc").
  EXPECT_EQ(rv::sha256_file(d.write("abc", "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Detection, NonMaximumSuppressionKeepsTheBestOfEachCluster) {
  std::vector<rv::Detection> c;
  auto det = [](float x, float y, float s, float score) {
    rv::Detection d;
    d.box = cv::Rect2f(x, y, s, s);
    d.score = score;
    return d;
  };
  c.push_back(det(10, 10, 100, 0.80f));
  c.push_back(det(12, 11, 100, 0.95f));  // same face, better score
  c.push_back(det(300, 50, 80, 0.70f));  // another face
  c.push_back(det(305, 52, 80, 0.90f));
  c.push_back(det(600, 400, 20, 0.66f)); // small, far away
  const auto kept = rv::non_maximum_suppression(c, 0.4, 750);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.95f);
  EXPECT_FLOAT_EQ(kept[1].score, 0.90f);
  EXPECT_FLOAT_EQ(kept[2].score, 0.66f);
  EXPECT_EQ(rv::non_maximum_suppression(c, 0.4, 1).size(), 1u);
  EXPECT_TRUE(rv::non_maximum_suppression({}, 0.4, 10).empty());
}

TEST(Detection, IouOfKnownBoxes) {
  EXPECT_DOUBLE_EQ(rv::iou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.0);
  EXPECT_DOUBLE_EQ(rv::iou({0, 0, 10, 10}, {20, 20, 5, 5}), 0.0);
  EXPECT_NEAR(rv::iou({0, 0, 10, 10}, {5, 0, 10, 10}), 50.0 / 150.0, 1e-9);
}

TEST(Crop, StaysInsideTheFrame) {
  const cv::Size frame(640, 480);
  EXPECT_EQ(rv::crop_rect({100, 100, 50, 50}, 1.0, frame), cv::Rect(100, 100, 50, 50));
  EXPECT_EQ(rv::crop_rect({100, 100, 50, 50}, 2.0, frame), cv::Rect(75, 75, 100, 100));
  // Near the edge the crop shifts inwards rather than shrinking.
  EXPECT_EQ(rv::crop_rect({-10, 450, 50, 50}, 1.0, frame), cv::Rect(0, 430, 50, 50));
  // Larger than the frame: clipped to it.
  EXPECT_EQ(rv::crop_rect({0, 0, 600, 600}, 2.7, frame), cv::Rect(0, 0, 640, 480));
}

TEST(Alignment, SimilarityTransformRecoversAKnownOne) {
  const std::array<std::array<double, 2>, 5> tpl{{{38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366},
                                                  {41.5493, 92.3655}, {70.7299, 92.2041}}};
  // Place the template in a frame by a known similarity: scale 2.5, rotation 12 degrees, shift (200, 90).
  const double s = 2.5, a = 12 * CV_PI / 180, tx = 200, ty = 90;
  rv::FivePoints frame_pts;
  for (std::size_t i = 0; i < 5; ++i) {
    const double x = tpl[i][0], y = tpl[i][1];
    frame_pts[i] = cv::Point2f(static_cast<float>(s * (std::cos(a) * x - std::sin(a) * y) + tx),
                               static_cast<float>(s * (std::sin(a) * x + std::cos(a) * y) + ty));
  }
  const cv::Matx23d m = rv::similarity_transform(frame_pts, tpl);
  for (std::size_t i = 0; i < 5; ++i) {
    const double u = m(0, 0) * frame_pts[i].x + m(0, 1) * frame_pts[i].y + m(0, 2);
    const double v = m(1, 0) * frame_pts[i].x + m(1, 1) * frame_pts[i].y + m(1, 2);
    EXPECT_NEAR(u, tpl[i][0], 1e-3);
    EXPECT_NEAR(v, tpl[i][1], 1e-3);
  }
  EXPECT_NEAR(std::hypot(m(0, 0), m(1, 0)), 1 / s, 1e-6);  // the inverse scale
  // Degenerate input (all points equal) does not divide by zero.
  rv::FivePoints same;
  same.fill(cv::Point2f(5, 5));
  const cv::Matx23d d = rv::similarity_transform(same, tpl);
  EXPECT_TRUE(std::isfinite(d(0, 2)) && std::isfinite(d(1, 2)));
}

TEST(Alignment, ALargeFaceIsAreaAveragedNotPointSampled) {
  // A fine texture (1-2 px detail) with the template's five points at three times the crop's scale,
  // and the same scene shrunk to the crop's scale by area averaging: both must align to about the same
  // crop. Point sampling the large one would alias the texture into a different pattern.
  rv::EmbedderSpec spec;
  spec.model.input.width = spec.model.input.height = 112;
  spec.template_points = {{{38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}}};
  cv::Mat big(600, 600, CV_8UC3);
  cv::RNG rng(7);
  rng.fill(big, cv::RNG::UNIFORM, 0, 255);
  const double k = 3.0, off = 60;
  rv::FivePoints big_pts, small_pts;
  for (std::size_t i = 0; i < 5; ++i) {
    big_pts[i] = cv::Point2f(static_cast<float>(off + k * spec.template_points[i][0]), static_cast<float>(off + k * spec.template_points[i][1]));
    small_pts[i] = cv::Point2f(static_cast<float>((off + k * spec.template_points[i][0]) / k - 0.5 + 0.5 / k),
                               static_cast<float>((off + k * spec.template_points[i][1]) / k - 0.5 + 0.5 / k));
  }
  cv::Mat small;
  cv::resize(big, small, {200, 200}, 0, 0, cv::INTER_AREA);
  const cv::Mat a = rv::align_face(big, big_pts, spec), b = rv::align_face(small, small_pts, spec);
  ASSERT_EQ(a.size(), cv::Size(112, 112));
  cv::Mat point_sampled;
  cv::warpAffine(big, point_sampled, cv::Mat(rv::similarity_transform(big_pts, spec.template_points)), {112, 112});
  auto mad = [](const cv::Mat& x, const cv::Mat& y) {
    cv::Mat d;
    cv::absdiff(x(cv::Rect(8, 8, 96, 96)), y(cv::Rect(8, 8, 96, 96)), d);
    const cv::Scalar m = cv::mean(d);
    return (m[0] + m[1] + m[2]) / 3;
  };
  EXPECT_LT(mad(a, b), 8.0);
  EXPECT_GT(mad(point_sampled, b), 3 * mad(a, b));
  // At the crop's own scale nothing is averaged: the plain warp.
  cv::Mat plain;
  cv::warpAffine(small, plain, cv::Mat(rv::similarity_transform(small_pts, spec.template_points)), {112, 112},
                 cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  EXPECT_EQ(cv::norm(b, plain, cv::NORM_INF), 0);
}

TEST(Quality, GateTurnsSmallTurnedBlurredFacesIntoFailuresToAcquire) {
  const rv::QualityGate gate;
  rv::Quality q;
  q.interocular_px = 60;
  q.sharpness = 100;
  q.brightness = 120;
  EXPECT_EQ(rv::check_quality(q, gate), rv::AcquireFailure::none);
  auto with = [&](auto f) {
    rv::Quality c = q;
    f(c);
    return rv::check_quality(c, gate);
  };
  EXPECT_EQ(with([](rv::Quality& c) { c.interocular_px = 20; }), rv::AcquireFailure::too_small);
  EXPECT_EQ(with([](rv::Quality& c) { c.yaw_deg = 50; }), rv::AcquireFailure::pose);
  EXPECT_EQ(with([](rv::Quality& c) { c.pitch_deg = -45; }), rv::AcquireFailure::pose);
  EXPECT_EQ(with([](rv::Quality& c) { c.sharpness = 2; }), rv::AcquireFailure::blur);
  EXPECT_EQ(with([](rv::Quality& c) { c.brightness = 10; }), rv::AcquireFailure::too_dark);
  EXPECT_EQ(with([](rv::Quality& c) { c.brightness = 250; }), rv::AcquireFailure::too_bright);
}

TEST(Quality, PoseFromLandmarks) {
  rv::Landmarks lm;
  // Frontal: eyes level 60 px apart, nose tip midway, 55% of the way to the mouth.
  auto set_five = [&](cv::Point2f le, cv::Point2f re, cv::Point2f nose, cv::Point2f ml, cv::Point2f mr) {
    for (int i = 36; i <= 41; ++i) lm.points[static_cast<std::size_t>(i)] = le;
    for (int i = 42; i <= 47; ++i) lm.points[static_cast<std::size_t>(i)] = re;
    lm.points[30] = nose;
    lm.points[48] = lm.points[60] = ml;
    lm.points[54] = lm.points[64] = mr;
  };
  set_five({100, 100}, {160, 100}, {130, 133}, {110, 160}, {150, 160});
  auto q = rv::assess_quality(lm, {});
  EXPECT_NEAR(q.interocular_px, 60, 1e-6);
  EXPECT_NEAR(q.yaw_deg, 0, 1e-6);
  EXPECT_NEAR(q.pitch_deg, 0, 1.0);
  EXPECT_NEAR(q.roll_deg, 0, 1e-6);
  set_five({100, 100}, {160, 100}, {148, 133}, {118, 160}, {158, 160});  // nose 18 px right: turned
  q = rv::assess_quality(lm, {});
  EXPECT_GT(q.yaw_deg, 25);
  set_five({100, 100}, {160, 110}, {128, 138}, {105, 165}, {145, 172});  // head tilted
  q = rv::assess_quality(lm, {});
  EXPECT_NEAR(q.roll_deg, std::atan2(10.0, 60.0) * 180 / CV_PI, 1e-6);
}

TEST(MaskClassifier, LearnsSeparableClassesAndRoundTrips) {
  // Three clusters in feature space; the classifier must separate them and survive save/load.
  std::vector<rv::MaskClassifier::Features> x;
  std::vector<int> y;
  std::uint64_t s = 42;
  auto u = [&] {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return static_cast<float>(static_cast<double>(s >> 11) * (1.0 / 9007199254740992.0));
  };
  for (int i = 0; i < 300; ++i) {
    const int label = i % 3;
    rv::MaskClassifier::Features f{};
    for (auto& v : f) v = u();
    f[0] += 3.0f * static_cast<float>(label == 1);  // "nose differs from skin" for worn
    f[4] += 3.0f * static_cast<float>(label != 0);  // "mouth differs" for worn and below the nose
    x.push_back(f);
    y.push_back(label);
  }
  const auto c = rv::MaskClassifier::train(x, y, 1e-3, 500);
  int ok = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const auto r = c.classify(x[i]);
    const int got = r.state == gatetwin::recognizer::MaskState::none ? 0 : r.state == gatetwin::recognizer::MaskState::worn ? 1 : 2;
    ok += got == y[i];
    EXPECT_NEAR(r.probability[0] + r.probability[1] + r.probability[2], 1.0f, 1e-5f);
  }
  EXPECT_GE(ok, 297);
  TempDir d;
  c.save(d.path() / "m.yaml", "test");
  const auto back = rv::MaskClassifier::load(d.path() / "m.yaml");
  for (std::size_t i = 0; i < 30; ++i) EXPECT_EQ(back.classify(x[i]).state, c.classify(x[i]).state);
  // An untrained classifier says "none" and a missing file names the command that makes it.
  EXPECT_EQ(rv::MaskClassifier{}.classify(x[1]).state, gatetwin::recognizer::MaskState::none);
  try {
    rv::MaskClassifier::load(d.path() / "absent.yaml");
    FAIL();
  } catch (const rv::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("gatetwin train-mask"), std::string::npos);
  }
  d.write("bad.yaml", "format: gatetwin-mask-v1\nmean: [1, 2]\nstdev: [1]\nweights: []\n");
  EXPECT_THROW(rv::MaskClassifier::load(d.path() / "bad.yaml"), rv::ModelError);
  EXPECT_THROW(rv::MaskClassifier::train({}, {}), std::invalid_argument);
}

TEST(MaskClassifier, FeaturesOfUniformSkinAndOfAMask) {
  // A crop of uniform skin: every region matches the reference. Paint a blue "mask" over nose and mouth:
  // the nose and mouth features move, the skin shares drop.
  cv::Mat skin(112, 112, CV_8UC3, cv::Scalar(120, 150, 200));
  const auto f0 = rv::MaskClassifier::features(skin);
  EXPECT_NEAR(f0[2], 1.0f, 1e-6f);   // skin share of the band at the nose tip
  EXPECT_NEAR(f0[10], 0.0f, 1e-3f);  // its colour distance from the forehead
  EXPECT_NEAR(f0[20], 0.0f, 1e-3f);  // nose region colour distance
  EXPECT_NEAR(f0[21], 1.0f, 1e-6f);  // nose region skin share
  cv::Mat masked = skin.clone();
  cv::rectangle(masked, cv::Point(10, 63), cv::Point(102, 111), cv::Scalar(200, 160, 90), cv::FILLED);
  const auto f1 = rv::MaskClassifier::features(masked);
  EXPECT_LT(f1[2], 0.05f);
  EXPECT_GT(f1[10], 20.0f);
  EXPECT_GT(f1[20], 20.0f);
  EXPECT_LT(f1[21], 0.1f);   // one row of the nose region is above the mask
  EXPECT_GT(f1[22], 20.0f);  // mouth
  // Forehead and the band under the eyes stay skin.
  EXPECT_NEAR(f1[0], 1.0f, 1e-6f);
  // Not a colour image: zeros, no crash.
  const auto fz = rv::MaskClassifier::features(cv::Mat(112, 112, CV_8UC1, cv::Scalar(0)));
  EXPECT_EQ(fz[0], 0.0f);
}
