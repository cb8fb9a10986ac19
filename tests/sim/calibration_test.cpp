// The calibration fit (pixel measurements -> statistical face model) on samples with known parameters, and
// the statistical model's person effects: marginal rates kept, failures clustered on persons.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "gatetwin/sim/calibration.hpp"
#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/random.hpp"
#include "gatetwin/sim/report.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/world.hpp"

namespace gs = gatetwin::sim;

namespace {

gs::Scenario base() {
  const auto r = gs::load_scenario_text("name: cal\nseed: 3\n", "cal.yaml");
  EXPECT_TRUE(r.errors.empty());
  return *r.scenario;
}

// Pixel measurements drawn from known distributions: 200 persons x 4 attempts, unmasked, with a person effect
// holding `share` of the genuine variance; impostor maxima of n = 80 comparisons of N(0.30, 0.10).
gs::RunOutput synthetic(double share) {
  gs::RunOutput out;
  auto& m = out.pixel;
  m.active = true;
  gs::RandomStream r(11, "test");
  for (std::uint32_t person = 0; person < 200; ++person) {
    const double own = r.normal(0.0, 0.08 * std::sqrt(share));
    for (int k = 0; k < 4; ++k) {
      const double g = 0.75 + own + r.normal(0.0, 0.08 * std::sqrt(1.0 - share));
      m.genuine_attempts.push_back({person, 0, static_cast<std::uint8_t>(k), true, g});
      double best = -2.0;
      for (int c = 0; c < 80; ++c) {
        const double x = r.normal(0.30, 0.10);
        best = std::max(best, x);
        m.impostor_sum[0] += x;
        ++m.impostor_n[0];
      }
      m.best_impostor[0].push_back({best, 80, person});
      ++out.attempts.face_attempts[0];
    }
  }
  return out;
}

}  // namespace

TEST(Calibration, GenuineFitRecoversTheDistribution) {
  const auto cal = gs::fit_calibration(base(), synthetic(0.0));
  EXPECT_NEAR(cal.face.genuine_unmasked.mean, 0.75, 0.01);
  EXPECT_NEAR(cal.face.genuine_unmasked.sd, 0.08, 0.012);
}

TEST(Calibration, ImpostorFitReproducesTheOneToManyMaxima) {
  const auto cal = gs::fit_calibration(base(), synthetic(0.0));
  EXPECT_NEAR(cal.face.impostor.mean, 0.30, 0.04);
  EXPECT_NEAR(cal.face.impostor.sd, 0.10, 0.02);
  EXPECT_LT(cal.face.impostor_between_person, 0.1);  // maxima drawn independently
}

TEST(Calibration, BetweenPersonShareIsEstimated) {
  EXPECT_LT(gs::fit_calibration(base(), synthetic(0.0)).face.genuine_between_person, 0.1);
  EXPECT_NEAR(gs::fit_calibration(base(), synthetic(0.5)).face.genuine_between_person, 0.5, 0.12);
}

TEST(Calibration, TooFewSamplesKeepTheScenarioValuesAndSaySo) {
  gs::RunOutput out;
  out.pixel.active = true;
  const gs::Scenario s = base();
  const auto cal = gs::fit_calibration(s, out);
  EXPECT_EQ(cal.face.genuine_masked.mean, s.face.genuine_masked.mean);
  EXPECT_EQ(cal.face.impostor.sd, s.face.impostor.sd);
  EXPECT_FALSE(cal.notes.empty());
  const std::string text = gs::calibration_yaml(s, cal);
  EXPECT_NE(text.find("# not measured: face.genuine_masked"), std::string::npos);
  EXPECT_NE(text.find("measured:"), std::string::npos);
}

TEST(Calibration, WrittenFileLoadsAsTheScenarioFaceModel) {
  const auto cal = gs::fit_calibration(base(), synthetic(0.3));
  const std::string path = ::testing::TempDir() + "gatetwin_cal_test.yaml";
  gs::write_file_atomic(path, gs::calibration_yaml(base(), cal));
  const auto r = gs::load_scenario_text("name: x\nface:\n  calibration: " + path + "\n", "x.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors.front().str();
  EXPECT_NEAR(r.scenario->face.genuine_unmasked.mean, cal.face.genuine_unmasked.mean, 1e-4);
  EXPECT_NEAR(r.scenario->face.genuine_between_person, cal.face.genuine_between_person, 1e-3);
}

// Person effects keep the per-person failure-to-acquire rate but cluster failures on persons: far more
// passages exhaust every face attempt without one acquisition (and fall back to card or staff).
TEST(StatisticalPersonEffects, FtaCorrelationClustersFailuresOnPersons) {
  const std::string yaml =
      "name: p\nseed: 5\npopulation: {households: 300}\npolicy: {max_face_attempts: 3}\n"
      "face: {fta_unmasked: 0.25, fta_masked: 0.25}\n";
  const auto a = gs::load_scenario_text(yaml, "p.yaml");
  const auto b = gs::load_scenario_text(yaml, "p.yaml", {"face.fta_between_person=0.9"});
  ASSERT_TRUE(a.errors.empty() && b.errors.empty());
  const auto ra = gs::run_world(*a.scenario), rb = gs::run_world(*b.scenario);
  auto exhausted = [](const gs::RunOutput& r) {
    std::size_t n = 0, tried = 0;
    for (const auto& p : r.passages) {
      if (p.outcome.face_attempts == 0) continue;
      ++tried;
      n += p.outcome.match_attempts == 0 && p.outcome.face_attempts == 3;
    }
    return static_cast<double>(n) / static_cast<double>(tried);
  };
  ASSERT_GT(ra.passages.size(), 1000u);
  // Independent attempts: 0.25^3 = 1.6% of passages; one latent per person (rho 0.9): about 12%.
  EXPECT_NEAR(exhausted(ra), 0.0156, 0.01);
  EXPECT_GT(exhausted(rb), 4.0 * exhausted(ra));
  // Each attempt still fails with probability 0.25, so all three failing can never be likelier than that.
  EXPECT_LT(exhausted(rb), 0.25);
}
