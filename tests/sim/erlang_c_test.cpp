// Correctness against queueing theory: with Poisson arrivals, exponential service, c lanes fed by one
// shared queue and no retries, the simulated mean wait must match the Erlang-C formula.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/world.hpp"

namespace gs = gatetwin::sim;

namespace {

// Erlang C: probability that an arrival waits, for offered load a = lambda/mu on c servers.
double erlang_c(int c, double a) {
  double term = 1.0, sum = 0.0;  // a^k / k!
  for (int k = 0; k < c; ++k) {
    sum += term;
    term *= a / (k + 1);
  }
  const double top = term * c / (c - a);
  return top / (sum + top);
}

struct Replication {
  double mean_wait;
  double share_waiting;
};

Replication replicate(int lanes, double mean_service_s, double arrivals_per_day, std::uint64_t seed) {
  gs::Scenario s;
  s.seed = seed;
  s.day_start = gs::hours(0);
  s.day_end = gs::hours(24);
  s.population.households = static_cast<int>(arrivals_per_day / 2.0);  // 2 passages per resident per day
  s.population.persons_per_household = 1.0;
  s.arrivals.trips_per_resident = 2.0;
  s.arrivals.group_size_mean = 1.0;
  s.arrivals.tailgating_share = 0.0;
  s.arrivals.profile = "flat";
  gs::fill_profile("flat", s.arrivals.entry_profile, s.arrivals.exit_profile);
  s.service.exponential = true;
  s.service.exponential_mean_s = mean_service_s;
  s.gates.push_back(gs::GateSpec{"theory", lanes, gs::QueueMode::shared, 0, 1.0, gs::GateDirection::both, ""});
  const auto out = gs::run_world(s);
  const auto m = gs::compute_metrics(s, out);
  std::size_t waited = 0;
  for (const auto& r : out.passages) waited += r.wait().count() > 0;
  return {m.wait_s.mean, static_cast<double>(waited) / static_cast<double>(out.passages.size())};
}

// Mean of independent replications and the half-width of its two-sided confidence interval, for the
// given Student t quantile.
std::pair<double, double> mean_and_half_width(const std::vector<double>& v, double t_quantile) {
  double m = 0, ss = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) ss += (x - m) * (x - m);
  const double sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  return {m, t_quantile * sd / std::sqrt(static_cast<double>(v.size()))};
}

}  // namespace

TEST(ErlangC, FormulaMatchesKnownValues) {
  // Textbook values: c = 1 reduces to rho; c = 2, a = 1.5 gives 0.642857...
  EXPECT_NEAR(erlang_c(1, 0.6), 0.6, 1e-12);
  EXPECT_NEAR(erlang_c(2, 1.5), 9.0 / 14.0, 1e-12);
}

TEST(ErlangC, SimulatedMeanWaitMatchesTheoryForTwoLanes) {
  // Two lanes, mean service 20 s (mu = 0.05/s), 6,480 passages a day (lambda = 0.075/s): rho = 0.75,
  // a = 1.5, P(wait) = 9/14, Wq = P(wait) / (c mu - lambda) = 25.714 s.
  const int c = 2;
  const double mu = 1.0 / 20.0, per_day = 6480.0, lambda = per_day / 86400.0;
  const double p_wait = erlang_c(c, lambda / mu);
  const double wq = p_wait / (c * mu - lambda);
  ASSERT_NEAR(wq, 25.714, 0.001);

  // Independent replications (one simulated day each, different seeds) give independent estimates;
  // the day starts empty, a small bias that the interval must absorb.
  const int n = 40;
  std::vector<double> waits, shares;
  for (int k = 0; k < n; ++k) {
    const auto r = replicate(c, 20.0, per_day, 1000 + static_cast<std::uint64_t>(k));
    waits.push_back(r.mean_wait);
    shares.push_back(r.share_waiting);
  }
  const double t99 = 2.708;  // Student t, 39 degrees of freedom, two-sided 99%
  const auto [w_mean, w_half] = mean_and_half_width(waits, t99);
  const auto [p_mean, p_half] = mean_and_half_width(shares, t99);
  std::printf("  Erlang C: Wq theory %.3f s, simulated %.3f ± %.3f s (99%% CI, %d days); P(wait) theory %.4f, simulated %.4f ± %.4f\n",
              wq, w_mean, w_half, n, p_wait, p_mean, p_half);
  EXPECT_NEAR(w_mean, wq, w_half);
  EXPECT_NEAR(p_mean, p_wait, p_half);
  // The interval must be tight enough to mean something: within 10% of the theoretical value.
  EXPECT_LT(w_half, 0.10 * wq);
}

TEST(ErlangC, SingleLaneMatchesMM1) {
  // M/M/1 with rho = 0.6: Wq = rho / (mu - lambda) = 0.6 / (0.1 - 0.06) = 15 s.
  const double mu = 0.1, lambda = 0.06;
  const double wq = (lambda / mu) / (mu - lambda);
  const int n = 30;
  std::vector<double> w;
  for (int k = 0; k < n; ++k) w.push_back(replicate(1, 10.0, lambda * 86400.0, 2000 + static_cast<std::uint64_t>(k)).mean_wait);
  const auto [m, half] = mean_and_half_width(w, 2.756);  // t(0.995, 29)
  std::printf("  M/M/1: Wq theory %.3f s, simulated %.3f ± %.3f s\n", wq, m, half);
  EXPECT_NEAR(m, wq, half);
  EXPECT_LT(half, 0.10 * wq);
}
