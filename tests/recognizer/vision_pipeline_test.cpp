// The real pipeline (the registry models on cv::dnn) on synthetic renders with known answers: a face
// drawn at a known box is found there, an enrolled identity is top-1 on another render of it, the
// closest of several faces decides, tiny faces are failures to acquire, and every policy branch of a
// single attempt ends as the policy engine says. Needs the models (scripts/fetch-models.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>

#include <unistd.h>

#include <opencv2/imgproc.hpp>

#include "gatetwin/recognizer/gallery_store.hpp"
#include "gatetwin/recognizer/vision/attempt.hpp"
#include "gatetwin/sim/face_eval.hpp"
#include "gatetwin/sim/face_render.hpp"

namespace rv = gatetwin::recognizer::vision;
namespace gr = gatetwin::recognizer;
namespace render = gatetwin::sim::render;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kSeed = 20200616;  // the day Beijing went back to level 2

rv::FacePipeline& pipeline() {
  static auto p = std::make_unique<rv::FacePipeline>(rv::load_manifest(GATETWIN_DEFAULT_MANIFEST), rv::PipelineOptions{},
                                                     rv::MaskClassifier{});
  return *p;
}

render::Rendered face(std::uint32_t person, std::uint32_t capture, double nuisance,
                      render::MaskWear wear = render::MaskWear::none) {
  render::Capture c = render::sample_capture(kSeed, person, capture, nuisance);
  if (wear != render::MaskWear::none) {
    c.mask = render::MaskKind::surgical;
    c.wear = wear;
  }
  return render::render_face(render::sample_identity(kSeed, person), c);
}

class Residents : public gr::RightsDirectory {
 public:
  std::optional<gr::Rights> rights(std::uint32_t id) const override {
    if (id >= 1000) return std::nullopt;
    gr::Rights r;
    r.has_face_template = true;
    if (id == quarantined) r.quarantine_until_s = 1'000'000;
    return r;
  }
  std::uint32_t quarantined = 999;
};

}  // namespace

TEST(VisionPipeline, FaceRenderedAtAKnownBoxIsFoundThere) {
  int found = 0, total = 0;
  double eye_error = 0;
  for (std::uint32_t p = 0; p < 8; ++p)
    for (auto wear : {render::MaskWear::none, render::MaskWear::proper}) {
      const auto r = face(p, 1, 0.5, wear);
      const auto a = pipeline().analyse(r.image);
      ++total;
      ASSERT_GE(a.deciding, 0) << "person " << p << " wear " << static_cast<int>(wear);
      const auto& d = a.faces[static_cast<std::size_t>(a.deciding)];
      const double overlap = rv::iou(d.detection.box, cv::Rect2f(r.truth.face_box));
      found += overlap >= 0.4;
      if (wear == render::MaskWear::none) {
        const auto five = d.landmarks->five();
        eye_error += (cv::norm(cv::Point2d(five[0]) - r.truth.five[0]) + cv::norm(cv::Point2d(five[1]) - r.truth.five[1])) /
                     (2 * r.truth.interocular_px);
      }
    }
  EXPECT_EQ(found, total);
  EXPECT_LT(eye_error / 8, 0.15) << "mean eye-centre error as a share of the inter-ocular distance";
}

TEST(VisionPipeline, EnrolledIdentityIsTopOneOnASecondRender) {
  constexpr std::uint32_t n = 12;
  gr::Gallery gallery(512);
  for (std::uint32_t p = 0; p < n; ++p) {
    const auto a = pipeline().analyse(face(p, 0, 0.2).image);
    ASSERT_TRUE(a.usable()) << "enrolment of " << p << ": " << rv::to_string(a.failure);
    gallery.add(p, a.embedding, gr::TemplateKind::unmasked);
  }
  int top1 = 0;
  for (std::uint32_t p = 0; p < n; ++p) {
    const auto a = pipeline().analyse(face(p, 1, 0.5).image);
    ASSERT_TRUE(a.usable());
    const auto id = rv::identify(a, gallery);
    ASSERT_TRUE(id.evidence.best_id.has_value());
    top1 += *id.evidence.best_id == p;
    ASSERT_GE(id.top.size(), 2u);
    EXPECT_GE(id.top[0].score, id.top[1].score);
  }
  EXPECT_GE(top1, static_cast<int>(n) - 1) << "top-1 identifications out of " << n;
}

TEST(VisionPipeline, EmbeddingIsUnitLengthAndDeterministic) {
  const auto img = face(3, 2, 0.5).image;
  const auto a = pipeline().analyse(img);
  const auto b = pipeline().analyse(img);
  ASSERT_TRUE(a.usable());
  ASSERT_EQ(a.embedding.size(), 512u);
  double norm = 0;
  for (float v : a.embedding) norm += static_cast<double>(v) * v;
  EXPECT_NEAR(norm, 1.0, 1e-4);
  EXPECT_EQ(a.embedding, b.embedding);
  EXPECT_GT(a.timings.total, 0.0);
  EXPECT_GE(a.timings.total, a.timings.detect + a.timings.embed);
}

TEST(VisionPipeline, TheClosestOfSeveralFacesDecidesAndTheOthersAreReported) {
  cv::Mat frame = render::draw_background(kSeed, {640, 480});
  render::Capture far = render::sample_capture(kSeed, 1, 0, 0.0);
  far.interocular_px = 38;
  far.face_centre = {140, 170};
  render::Capture near = render::sample_capture(kSeed, 2, 0, 0.0);
  near.interocular_px = 80;
  near.face_centre = {420, 230};
  render::draw_face(frame, render::sample_identity(kSeed, 1), far);
  const auto truth = render::draw_face(frame, render::sample_identity(kSeed, 2), near);
  const auto a = pipeline().analyse(frame);
  ASSERT_GE(a.faces.size(), 2u);
  ASSERT_GE(a.deciding, 0);
  const auto& d = a.faces[static_cast<std::size_t>(a.deciding)].detection.box;
  EXPECT_GE(rv::iou(d, cv::Rect2f(truth.face_box)), 0.4);
  EXPECT_TRUE(a.usable());
}

TEST(VisionPipeline, TinyFacesAndEmptyFramesAreFailuresToAcquireNotRejects) {
  render::Capture c = render::sample_capture(kSeed, 4, 0, 0.0);
  c.interocular_px = 16;
  const auto tiny = pipeline().analyse(render::render_face(render::sample_identity(kSeed, 4), c).image);
  EXPECT_FALSE(tiny.usable());
  EXPECT_TRUE(tiny.failure == rv::AcquireFailure::too_small || tiny.failure == rv::AcquireFailure::no_face)
      << rv::to_string(tiny.failure);

  EXPECT_EQ(pipeline().analyse(cv::Mat()).failure, rv::AcquireFailure::no_face);
  EXPECT_EQ(pipeline().analyse(cv::Mat(480, 640, CV_8UC3, cv::Scalar(128, 128, 128))).failure, rv::AcquireFailure::no_face);
  EXPECT_EQ(pipeline().analyse(cv::Mat(4, 4, CV_8UC3, cv::Scalar(0, 0, 0))).failure, rv::AcquireFailure::no_face);
  EXPECT_EQ(pipeline().analyse(cv::Mat(480, 640, CV_8UC1, cv::Scalar(0))).failure, rv::AcquireFailure::no_face);

  // The policy engine sees "not acquired": with one attempt and no card, staff take over with that reason.
  gr::Policy policy;
  policy.temperature_mode = gr::TemperatureMode::off;
  policy.max_face_attempts = 1;
  Residents residents;
  gr::Gallery gallery(512);
  const auto r = rv::decide_attempt(policy, residents, gallery, tiny, {});
  EXPECT_EQ(r.event.reason, gr::Reason::failure_to_acquire);
  EXPECT_EQ(r.event.next, gr::Step::staff_check);
  EXPECT_TRUE(r.outcome.referred_to_staff);
}

// One enrolled resident and the frames the policy branches need.
class Decisions : public ::testing::Test {
 protected:
  // A failed ASSERT in SetUpTestSuite would only mark the tests skipped (and CTest counts a skip as a
  // pass): the suite's setup records what went wrong and every test fails on it.
  static void SetUpTestSuite() {
    gallery_ = std::make_unique<gr::Gallery>(512);
    for (std::uint32_t p : {7u, 999u}) {
      const auto a = pipeline().analyse(face(p, 0, 0.2).image);
      if (!a.usable()) setup_error_ += "enrolment photo of " + std::to_string(p) + ": " + std::string(rv::to_string(a.failure)) + "; ";
      else gallery_->add(p, a.embedding, gr::TemplateKind::unmasked);
    }
    resident_ = pipeline().analyse(face(7, 1, 0.4).image);
    if (!resident_.usable()) setup_error_ += "gate frame of 7: " + std::string(rv::to_string(resident_.failure));
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }
  static gr::Policy face_only() {
    gr::Policy p;
    p.temperature_mode = gr::TemperatureMode::off;
    p.max_face_attempts = 1;
    p.threshold_unmasked = 0.3;
    p.threshold_masked = 0.3;
    return p;
  }
  static gr::ThermalAssociation skin(double c) {
    gr::ThermalAssociation t;
    t.status = gr::ThermalStatus::ok;
    t.skin_c = c;
    t.face_index = 0;
    return t;
  }
  static inline std::unique_ptr<gr::Gallery> gallery_;
  static inline rv::FrameAnalysis resident_;
  static inline std::string setup_error_;
  Residents residents_;
};

TEST_F(Decisions, RecognisedResidentIsGrantedWithTheAnnouncement) {
  rv::AttemptInput in;
  in.time_us = 123;
  in.lane = "east-1";
  const auto r = rv::decide_attempt(face_only(), residents_, *gallery_, resident_, in);
  EXPECT_EQ(r.event.decision, gr::Verdict::grant);
  EXPECT_EQ(r.event.reason, gr::Reason::recognised);
  ASSERT_TRUE(r.event.person.has_value());
  EXPECT_EQ(*r.event.person, 7u);
  EXPECT_EQ(r.event.verify_mode, "face");
  EXPECT_NE(r.event.announcement.find("识别成功"), std::string::npos) << r.event.announcement;
  const std::string json = rv::to_json(r.event);
  EXPECT_NE(json.find("\"lane\":\"east-1\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"decision\":\"grant\""), std::string::npos) << json;
}

TEST_F(Decisions, NormalTemperatureIsAnnouncedWithTheCompensatedValue) {
  gr::Policy p = face_only();
  p.temperature_mode = gr::TemperatureMode::before_identity;
  rv::AttemptInput in;
  in.thermal = skin(36.4);  // + 0.5 compensation = 36.9
  const auto r = rv::decide_attempt(p, residents_, *gallery_, resident_, in);
  EXPECT_EQ(r.event.decision, gr::Verdict::grant);
  ASSERT_TRUE(r.event.temperature_c.has_value());
  EXPECT_NEAR(*r.event.temperature_c, 36.9, 1e-9);
  EXPECT_FALSE(r.event.abnormal_temperature);
  // The default mask policy is "remind" and this face is unmasked: the reminder is part of the announcement.
  EXPECT_EQ(r.event.announcement, "体温正常，36.9度，请佩戴口罩，识别成功");
}

TEST_F(Decisions, AbnormalTemperatureAsksForAReMeasurementFirst) {
  gr::Policy p = face_only();
  p.temperature_mode = gr::TemperatureMode::before_identity;
  rv::AttemptInput in;
  in.thermal = skin(37.2);  // 37.7 displayed
  const auto r = rv::decide_attempt(p, residents_, *gallery_, resident_, in);
  EXPECT_EQ(r.event.decision, gr::Verdict::pending);
  EXPECT_EQ(r.event.next, gr::Step::measure_temperature);
  EXPECT_EQ(r.event.announcement, "请重新测温");
  // Without a usable thermal association the terminal cannot measure: it stays at the measuring step.
  in.thermal->status = gr::ThermalStatus::ambiguous;
  const auto amb = rv::decide_attempt(p, residents_, *gallery_, resident_, in);
  EXPECT_EQ(amb.event.next, gr::Step::measure_temperature);
  EXPECT_EQ(amb.event.thermal, "ambiguous");
}

TEST_F(Decisions, UnknownFaceGoesToStaffAsNotRecognised) {
  const auto stranger = pipeline().analyse(face(500, 1, 0.4).image);
  ASSERT_TRUE(stranger.usable());
  gr::Policy p = face_only();
  p.threshold_unmasked = 0.95;  // nobody passes at this threshold
  const auto r = rv::decide_attempt(p, residents_, *gallery_, stranger, {});
  EXPECT_EQ(r.event.reason, gr::Reason::not_recognised);
  EXPECT_EQ(r.event.next, gr::Step::staff_check);
  EXPECT_EQ(r.event.verify_mode, "staff");
  // With a card in hand the terminal asks for it instead.
  rv::AttemptInput in;
  in.presentation.has_card = true;
  const auto c = rv::decide_attempt(p, residents_, *gallery_, stranger, in);
  EXPECT_EQ(c.event.next, gr::Step::read_card);
  EXPECT_EQ(c.event.announcement, "请刷卡");
}

TEST_F(Decisions, MaskRequiredRefusesAnUnmaskedFace) {
  gr::Policy p = face_only();
  p.mask = gr::MaskPolicy::require;
  ASSERT_EQ(resident_.mask.state, gr::MaskState::none);  // untrained classifier in this suite: "none"
  const auto r = rv::decide_attempt(p, residents_, *gallery_, resident_, {});
  EXPECT_EQ(r.event.reason, gr::Reason::mask_required);
}

TEST_F(Decisions, QuarantinedResidentMayNotExit) {
  // The first of the resident's gate frames the quality gate accepts (the renderer decides their poses).
  rv::FrameAnalysis q;
  for (std::uint32_t capture = 1; capture < 6 && !q.usable(); ++capture) q = pipeline().analyse(face(999, capture, 0.4).image);
  ASSERT_TRUE(q.usable());
  rv::AttemptInput in;
  in.presentation.direction = gr::Direction::exit;
  in.presentation.now_s = 10;
  const auto r = rv::decide_attempt(face_only(), residents_, *gallery_, q, in);
  ASSERT_TRUE(r.event.person.has_value());
  EXPECT_EQ(*r.event.person, 999u);
  EXPECT_EQ(r.event.decision, gr::Verdict::deny);
  EXPECT_EQ(r.event.reason, gr::Reason::quarantined);
}

TEST_F(Decisions, CardPlusFaceVerifiesOneToOne) {
  const auto own = gallery_->verify(7, resident_.embedding);
  const auto other = gallery_->verify(999, resident_.embedding);
  ASSERT_TRUE(own && other);
  EXPECT_GT(*own, *other);
  EXPECT_FALSE(gallery_->verify(12345, resident_.embedding).has_value());
}

TEST_F(Decisions, CardPlusFaceGrantsTheHolderAndStopsABorrowedCard) {
  gr::Policy p = face_only();
  p.card_requires_face = true;
  rv::AttemptInput in;
  in.presentation.offers_face = false;  // swipes first; the camera still sees the face for the 1:1 check
  in.presentation.has_card = true;
  in.card = gr::CardEvidence{gr::CardStatus::valid, 7, std::nullopt, gr::MaskState::none};
  const auto own = rv::decide_attempt(p, residents_, *gallery_, resident_, in);
  EXPECT_EQ(own.event.decision, gr::Verdict::grant);
  EXPECT_EQ(own.event.reason, gr::Reason::card_accepted);
  EXPECT_EQ(own.event.verify_mode, "card+face");
  ASSERT_TRUE(own.event.score.has_value());
  EXPECT_NEAR(*own.event.score, *gallery_->verify(7, resident_.embedding), 1e-6);
  // Resident 7's face with resident 999's card: the 1:1 check fails, staff take over.
  gr::Policy strict = p;
  strict.threshold_unmasked = strict.threshold_masked = (*gallery_->verify(7, resident_.embedding) +
                                                         *gallery_->verify(999, resident_.embedding)) / 2;
  in.card->holder_id = 999;
  const auto borrowed = rv::decide_attempt(strict, residents_, *gallery_, resident_, in);
  EXPECT_EQ(borrowed.event.reason, gr::Reason::card_face_mismatch);
  EXPECT_EQ(borrowed.event.next, gr::Step::staff_check);
  // A revoked card is refused whatever the face.
  in.card = gr::CardEvidence{gr::CardStatus::revoked, 7, std::nullopt, gr::MaskState::none};
  EXPECT_EQ(rv::decide_attempt(p, residents_, *gallery_, resident_, in).event.reason, gr::Reason::card_revoked);
}

TEST_F(Decisions, GalleryPersistsRealTemplatesAndIdentifiesTheSameAfterReload) {
  const fs::path dir = fs::temp_directory_path() / ("gatetwin-gallery-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto& m = pipeline().manifest();
  {
    gr::GalleryStore store(dir / "g.db", m.embedder_id(), 512);
    const auto a = pipeline().analyse(face(7, 0, 0.2).image);
    store.add(7, a.embedding, gr::TemplateKind::unmasked, {});
  }
  gr::GalleryStore reopened(dir / "g.db", m.embedder_id(), 512);
  gr::Gallery g(512);
  reopened.load_into(g);
  const auto id = rv::identify(resident_, g);
  ASSERT_TRUE(id.evidence.best_id.has_value());
  EXPECT_EQ(*id.evidence.best_id, 7u);
  EXPECT_NEAR(id.evidence.score, *gallery_->verify(7, resident_.embedding), 1e-5);
  fs::remove_all(dir);
}

TEST(MaskState, ClassifierTrainedOnRendersIsAccurateOnHeldOutIdentities) {
  const auto t = gatetwin::sim::train_mask_classifier(pipeline(), 11, 40, 16);
  std::cout << t.provenance << t.heldout_confusion[0][0] << " " << t.heldout_confusion[0][1] << " " << t.heldout_confusion[0][2] << " / " << t.heldout_confusion[1][0] << " " << t.heldout_confusion[1][1] << " " << t.heldout_confusion[1][2] << " / " << t.heldout_confusion[2][0] << " " << t.heldout_confusion[2][1] << " " << t.heldout_confusion[2][2] << "\n";
  EXPECT_GT(t.train_images, 150u);
  EXPECT_GT(t.heldout_images, 60u);
  EXPECT_GE(t.heldout_accuracy, 0.80) << t.provenance;  // 0.87 with 100/40 identities
  // Each class is recognised, not swallowed by another. "Below the nose" is the hard one: the landmarks
  // are least sure there (about 50-75% recall on renders; see docs/recognizer.md).
  const std::array<double, 3> min_recall{0.75, 0.75, 0.4};
  for (std::size_t k = 0; k < 3; ++k) {
    std::size_t row = 0;
    for (auto v : t.heldout_confusion[k]) row += v;
    ASSERT_GT(row, 0u);
    EXPECT_GE(static_cast<double>(t.heldout_confusion[k][k]) / static_cast<double>(row), min_recall[k]) << "class " << k;
  }
}

TEST(VisionPipeline, OptionalLivenessGivesAProbabilityForTheDecidingFace) {
  rv::PipelineOptions opt;
  opt.liveness = true;
  rv::FacePipeline with_liveness(rv::load_manifest(GATETWIN_DEFAULT_MANIFEST), opt, rv::MaskClassifier{});
  const auto a = with_liveness.analyse(face(5, 1, 0.3).image);
  ASSERT_TRUE(a.usable());
  ASSERT_TRUE(a.liveness.has_value());
  EXPECT_GE(*a.liveness, 0.0f);
  EXPECT_LE(*a.liveness, 1.0f);
  EXPECT_GT(a.timings.liveness, 0.0);
  // Off by default: no score, no time spent.
  const auto b = pipeline().analyse(face(5, 1, 0.3).image);
  EXPECT_FALSE(b.liveness.has_value());
  EXPECT_EQ(b.timings.liveness, 0.0);
}

TEST(Evaluation, ErrorRatesOfKnownScoreLists) {
  using gatetwin::sim::score_protocol;
  const auto separated = score_protocol("s", {0.8, 0.9, 0.95}, {0.1, 0.2, 0.3});
  EXPECT_NEAR(separated.eer, 0.0, 1e-9);
  EXPECT_GT(separated.eer_threshold, 0.3);
  EXPECT_LE(separated.eer_threshold, 0.8);
  const auto same = score_protocol("x", {0.5, 0.5}, {0.5, 0.5});
  EXPECT_NEAR(same.eer, 0.5, 1e-9);
  // A score exactly on the threshold is a match: FMR counts it, FNMR does not.
  const auto overlap = score_protocol("o", {0.4, 0.6, 0.7, 0.9}, {0.1, 0.3, 0.5, 0.6});
  EXPECT_DOUBLE_EQ(overlap.fmr_at(0.6), 0.25);
  EXPECT_DOUBLE_EQ(overlap.fnmr_at(0.6), 0.25);
  EXPECT_NEAR(overlap.eer, 0.25, 1e-9);
  // No comparisons: no EER (not a perfect 0%).
  EXPECT_TRUE(std::isnan(score_protocol("e", {}, {0.1}).eer));
}

TEST(Evaluation, FaceSetWithATrailingSlashAppearsWholeBesideNoStaging) {
  const fs::path base = fs::temp_directory_path() / ("gatetwin-set-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base);
  gatetwin::sim::FaceSetSpec spec;
  spec.identities = 2;
  spec.unmasked = 1;
  spec.masked = 0;
  spec.below_nose = 0;
  const auto labels = gatetwin::sim::render_face_set(spec, (base / "set").string() + "/");
  EXPECT_EQ(labels.size(), 2u);
  EXPECT_TRUE(fs::exists(base / "set" / "labels.csv"));
  EXPECT_FALSE(fs::exists(base / "set.partial"));
  EXPECT_EQ(gatetwin::sim::load_labels(base / "set").size(), 2u);
  // A second render into the now non-empty directory is refused and leaves it as it was.
  EXPECT_THROW(gatetwin::sim::render_face_set(spec, base / "set"), std::runtime_error);
  EXPECT_FALSE(fs::exists(base / "set.partial"));
  fs::remove_all(base);
}

TEST(Evaluation, SetsHaveEnrolmentPhotosGateProbesAtADistanceAndLookalikes) {
  gatetwin::sim::FaceSetSpec spec;
  spec.seed = 5;
  spec.identities = 3;
  spec.unmasked = 2;
  spec.masked = 2;
  spec.below_nose = 0;
  spec.lookalikes = 1;
  spec.resemblance = {1.0, 0.5};
  const auto set = gatetwin::sim::render_face_captures(spec);
  ASSERT_EQ(set.size(), 3u * 4 + 2 * 2);
  std::size_t enrol = 0, probes = 0, lookalikes = 0;
  for (const auto& rc : set) {
    const auto& l = rc.label;
    if (l.role == "enrol") {
      ++enrol;
      EXPECT_EQ(l.distance_m, 0.0);
      EXPECT_GT(l.box.width, 1.6 * 70);  // inter-ocular 70-100 px: a large, central face
    } else {
      EXPECT_GE(l.distance_m, 0.5);
      EXPECT_LT(l.distance_m, 1.5);
      // Face size from the camera model: cheek to cheek ~2 inter-ocular distances of ~63 mm.
      const double iod = spec.camera.interocular_px(l.distance_m);
      EXPECT_GT(l.box.width, 1.3 * iod) << l.file;
      EXPECT_LT(l.box.width, 3.0 * iod) << l.file;
      if (l.role == "probe") ++probes;
      if (l.role == "lookalike") {
        ++lookalikes;
        EXPECT_EQ(l.person, 0u);
        EXPECT_TRUE(l.resemblance == 1.0 || l.resemblance == 0.5);
      }
    }
  }
  EXPECT_EQ(enrol, 6u);
  EXPECT_EQ(probes, 6u);
  EXPECT_EQ(lookalikes, 4u);
}

TEST(Evaluation, EnrolmentsComeFromTheEnrolmentPhotosAndLookalikesAreScoredAgainstTheirBase) {
  gatetwin::sim::FaceSetSpec spec;
  spec.seed = 9;
  spec.identities = 4;
  spec.unmasked = 2;
  spec.masked = 0;
  spec.below_nose = 0;
  spec.lookalikes = 2;
  spec.resemblance = {1.0};
  const auto r = gatetwin::sim::evaluate(pipeline(), gatetwin::sim::render_face_captures(spec), gr::Policy{});
  EXPECT_EQ(r.enrolments, 4u);
  const auto* uu = r.protocol("unmasked/unmasked");
  ASSERT_NE(uu, nullptr);
  // Every acquired probe against every acquired enrolment; at most one genuine comparison per probe.
  const std::size_t enrolled = 4u - r.enrol_failures;
  ASSERT_GT(enrolled, 0u);
  EXPECT_EQ((uu->genuine.size() + uu->impostor.size()) % enrolled, 0u);
  EXPECT_LE(uu->genuine.size(), 4u);
  EXPECT_GE(uu->genuine.size(), 2u);
  ASSERT_EQ(r.lookalikes.size(), 1u);
  EXPECT_EQ(r.lookalikes[0].resemblance, 1.0);
  EXPECT_LE(r.lookalikes[0].unmasked.size(), 2u);
  EXPECT_LE(r.lookalikes[0].masked.size(), 2u);
  EXPECT_FALSE(r.probes_by_distance.empty());
  EXPECT_EQ(r.probes_by_mask.count("none"), 1u);
  const double t = gatetwin::sim::threshold_at_fmr(*uu, 0.5);
  EXPECT_LE(uu->fmr_at(t), 0.5);
  // One record per image, in order; probes carry their genuine score and their best other person, the
  // look-alikes their score against the person they resemble; the nuisance they were drawn with is kept.
  ASSERT_EQ(r.records.size(), r.images);
  std::size_t scored = 0;
  for (const auto& rec : r.records) {
    EXPECT_TRUE(rec.drawn.has_value());
    if (rec.label.role == "probe" && rec.failure == "none") {
      ++scored;
      EXPECT_FALSE(std::isnan(rec.genuine)) << rec.label.file;
      EXPECT_NE(rec.best_impostor_person, rec.label.person) << rec.label.file;
      EXPECT_GT(rec.interocular_px, 0);
    }
    if (rec.label.role == "lookalike" && rec.failure == "none") {
      EXPECT_TRUE(std::isnan(rec.genuine));
      EXPECT_EQ(rec.best_impostor_person, rec.label.person);
    }
    if (rec.failure != "none") {
      EXPECT_TRUE(std::isnan(rec.genuine) && rec.classified_mask.empty());
    }
  }
  EXPECT_EQ(scored, uu->genuine.size());
  const fs::path dir = fs::temp_directory_path() / ("gatetwin_eval_records_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  gatetwin::sim::write_eval_report(r, dir);
  std::ifstream csv(dir / "images.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("file,person,role,mask,distance_m", 0), 0u);
  const auto columns = std::count(header.begin(), header.end(), ',');
  std::size_t rows = 0;
  while (std::getline(csv, line)) {
    ++rows;
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), columns) << line;
  }
  EXPECT_EQ(rows, r.images);
  fs::remove_all(dir);
}
