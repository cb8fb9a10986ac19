// Random streams: reproducibility, independence between components, and the distributions' moments,
// all with fixed seeds (a failure here is a real change in behaviour, not bad luck: bounds are >= 4 SE).
#include "gatetwin/sim/random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gatetwin/sim/simulation.hpp"

namespace gatetwin::sim {
namespace {

constexpr int kSamples = 200'000;

std::vector<std::uint64_t> draw(RandomStream r, int n) {
  std::vector<std::uint64_t> v;
  for (int i = 0; i < n; ++i) v.push_back(r.next_u64());
  return v;
}

struct Moments {
  double n = 0, mean = 0, m2 = 0, m4 = 0;
  double var() const { return m2; }
  double sd() const { return std::sqrt(m2); }
  double kurtosis() const { return m4 / (m2 * m2); }
  double se_mean() const { return sd() / std::sqrt(n); }
  // Standard error of the sample sd, from the sample kurtosis (delta method).
  double se_sd() const { return sd() * std::sqrt((kurtosis() - 1.0) / (4.0 * n)); }
};

template <class F>
Moments moments(int n, F&& f) {
  std::vector<double> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = f();
  Moments m;
  m.n = n;
  for (double v : x) m.mean += v;
  m.mean /= n;
  for (double v : x) {
    const double d = (v - m.mean) * (v - m.mean);
    m.m2 += d;
    m.m4 += d * d;
  }
  m.m2 /= n;
  m.m4 /= n;
  return m;
}

void expect_moments(const Moments& m, double mean, double sd, const std::string& what) {
  EXPECT_NEAR(m.mean, mean, 4.0 * m.se_mean()) << what << ": mean";
  EXPECT_NEAR(m.sd(), sd, 4.0 * m.se_sd()) << what << ": sd";
}

// ---------------------------------------------------------------- streams

TEST(RandomStream, Fnv1aMatchesPublishedVectors) {
  EXPECT_EQ(fnv1a(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a("foobar"), 0x85944171f73967e8ULL);
  static_assert(fnv1a("a") == 0xaf63dc4c8601ec8cULL, "usable at compile time");
}

// The reference algorithms as published (splitmix64, xoshiro256**), written out independently.
std::uint64_t ref_splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

TEST(RandomStream, IsXoshiro256StarStarSeededBySplitmix64) {
  std::uint64_t key = 12345 ^ fnv1a("arrivals");
  std::uint64_t st[4];
  for (auto& v : st) v = ref_splitmix(key);
  RandomStream r(12345, "arrivals");
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t expected = rotl(st[1] * 5, 7) * 9;
    const std::uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl(st[3], 45);
    ASSERT_EQ(r.next_u64(), expected) << "draw " << i;
  }
}

TEST(RandomStream, SameSeedAndComponentGiveTheSameSequence) {
  EXPECT_EQ(draw(RandomStream(42, "arrivals"), 1000), draw(RandomStream(42, "arrivals"), 1000));
  EXPECT_EQ(draw(RandomStream(42, "face", 7), 1000), draw(RandomStream(42, "face", 7), 1000));
  // The same through a Simulation, and across two simulations with the same seed.
  Simulation a(42), b(42);
  EXPECT_EQ(draw(a.stream("arrivals"), 100), draw(RandomStream(42, "arrivals"), 100));
  EXPECT_EQ(draw(a.stream("face", 7), 100), draw(b.stream("face", 7), 100));
  // Distributions too (the normal's cached second value included).
  RandomStream x(5, "mix"), y(5, "mix");
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(x.normal(1, 2), y.normal(1, 2));
    ASSERT_EQ(x.exponential(3), y.exponential(3));
    ASSERT_EQ(x.poisson(4), y.poisson(4));
    ASSERT_EQ(x.below(17), y.below(17));
  }
}

std::size_t count_equal(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) n += a[i] == b[i] ? 1 : 0;
  return n;
}

TEST(RandomStream, DifferentComponentsSeedsAndIndicesDiffer) {
  const auto base = draw(RandomStream(42, "arrivals"), 1000);
  EXPECT_EQ(count_equal(base, draw(RandomStream(42, "arrival"), 1000)), 0u);
  EXPECT_EQ(count_equal(base, draw(RandomStream(42, "population"), 1000)), 0u);
  EXPECT_EQ(count_equal(base, draw(RandomStream(43, "arrivals"), 1000)), 0u);
  EXPECT_EQ(count_equal(base, draw(RandomStream(42, "arrivals", 0), 1000)), 0u);
  EXPECT_EQ(count_equal(draw(RandomStream(42, "face", 1), 1000), draw(RandomStream(42, "face", 2), 1000)), 0u);
  EXPECT_EQ(count_equal(draw(RandomStream(42, "face", 1), 1000), draw(RandomStream(43, "face", 1), 1000)), 0u);
  // Indexed streams of one component are pairwise distinct (first values of 10k indices).
  std::vector<std::uint64_t> firsts;
  for (std::uint64_t i = 0; i < 10000; ++i) firsts.push_back(RandomStream(1, "trip", i).next_u64());
  std::sort(firsts.begin(), firsts.end());
  EXPECT_EQ(std::adjacent_find(firsts.begin(), firsts.end()), firsts.end());
}

TEST(RandomStream, AStreamIsUnaffectedByCreatingAndUsingAnother) {
  const auto expected = draw(RandomStream(9, "A"), 200);
  RandomStream a(9, "A");
  std::vector<std::uint64_t> got;
  for (int i = 0; i < 100; ++i) got.push_back(a.next_u64());
  {
    RandomStream b(9, "B");
    for (int i = 0; i < 10000; ++i) (void)b.normal(0, 1);
    RandomStream a_again(9, "A");  // another stream of the same component is a separate copy
    for (int i = 0; i < 50; ++i) (void)a_again.next_u64();
  }
  for (int i = 0; i < 100; ++i) got.push_back(a.next_u64());
  EXPECT_EQ(got, expected);

  // Through a Simulation: streams are derived from (seed, component) only, never from shared state.
  Simulation sim(9);
  RandomStream sa = sim.stream("A");
  const std::uint64_t first = sa.next_u64();
  RandomStream sb = sim.stream("B");
  for (int i = 0; i < 1000; ++i) (void)sb.uniform();
  EXPECT_EQ(first, expected[0]);
  EXPECT_EQ(sa.next_u64(), expected[1]);
  EXPECT_EQ(sim.stream("A").next_u64(), expected[0]);
}

// ---------------------------------------------------------------- uniform and below

TEST(RandomStream, UniformIsInTheUnitIntervalAndUniform) {
  RandomStream r(1, "test.uniform");
  double lo = 1, hi = 0;
  int bins[10] = {};
  const auto m = moments(kSamples, [&] {
    const double u = r.uniform();
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    ++bins[static_cast<int>(u * 10)];
    return u;
  });
  EXPECT_GE(lo, 0.0);
  EXPECT_LT(hi, 1.0);
  expect_moments(m, 0.5, std::sqrt(1.0 / 12.0), "uniform");
  double chi2 = 0;
  for (int b : bins) chi2 += (b - kSamples / 10.0) * (b - kSamples / 10.0) / (kSamples / 10.0);
  EXPECT_LT(chi2, 40.0);  // 9 degrees of freedom: P(chi2 > 40) < 1e-5

  RandomStream q(2, "test.uniform.range");
  for (int i = 0; i < 10000; ++i) {
    const double u = q.uniform(-3.0, 5.0);
    ASSERT_GE(u, -3.0);
    ASSERT_LT(u, 5.0);
  }
}

TEST(RandomStream, BelowNeverReachesNAndIsRoughlyUniform) {
  RandomStream r(3, "test.below");
  for (std::uint64_t n : {1ULL, 2ULL, 3ULL, 7ULL, 1000ULL, (1ULL << 32) + 1, ~0ULL}) {
    for (int i = 0; i < 20000; ++i) ASSERT_LT(r.below(n), n) << "n = " << n;
  }
  for (int i = 0; i < 100; ++i) ASSERT_EQ(r.below(1), 0u);

  // Chi-square over 10 and 37 buckets.
  for (std::uint64_t n : {10ULL, 37ULL}) {
    std::vector<double> count(n, 0.0);
    for (int i = 0; i < kSamples; ++i) ++count[r.below(n)];
    const double expected = static_cast<double>(kSamples) / static_cast<double>(n);
    double chi2 = 0;
    for (double c : count) chi2 += (c - expected) * (c - expected) / expected;
    const double dof = static_cast<double>(n - 1);
    // Generous: mean dof, sd sqrt(2 dof); 6 sd above the mean.
    EXPECT_LT(chi2, dof + 6.0 * std::sqrt(2.0 * dof)) << "n = " << n;
  }

  // n = 3 * 2^62: 2^64 raw values do not divide evenly into n outputs. A modulo reduction would give
  // [0, 2^62) probability 1/2 instead of 1/3; a multiply-shift without rejection would give the multiples
  // of 3 probability 1/2 instead of 1/3. The unbiased method (which rejects a quarter of the raw draws
  // here) gives 1/3 to both.
  const std::uint64_t n = 3ULL << 62;
  int low = 0, multiple_of_3 = 0;
  constexpr int kDraws = 100'000;
  for (int i = 0; i < kDraws; ++i) {
    const std::uint64_t x = r.below(n);
    ASSERT_LT(x, n);
    low += x < (1ULL << 62) ? 1 : 0;
    multiple_of_3 += x % 3 == 0 ? 1 : 0;
  }
  const double third = 1.0 / 3.0, se = std::sqrt(third * (1 - third) / kDraws);
  EXPECT_NEAR(low / static_cast<double>(kDraws), third, 4.0 * se);
  EXPECT_NEAR(multiple_of_3 / static_cast<double>(kDraws), third, 4.0 * se);
}

TEST(RandomStream, Bernoulli) {
  RandomStream r(4, "test.bernoulli");
  int hits = 0;
  for (int i = 0; i < kSamples; ++i) hits += r.bernoulli(0.3) ? 1 : 0;
  EXPECT_NEAR(hits / static_cast<double>(kSamples), 0.3, 4.0 * std::sqrt(0.3 * 0.7 / kSamples));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(r.bernoulli(0.0));
    ASSERT_FALSE(r.bernoulli(-1.0));
    ASSERT_TRUE(r.bernoulli(1.0));
  }
}

// ---------------------------------------------------------------- continuous and discrete distributions

TEST(RandomStream, ExponentialMoments) {
  RandomStream r(5, "test.exponential");
  bool positive = true;
  const auto m = moments(kSamples, [&] {
    const double x = r.exponential(2.5);
    positive = positive && x >= 0.0 && std::isfinite(x);
    return x;
  });
  EXPECT_TRUE(positive);
  expect_moments(m, 2.5, 2.5, "exponential(2.5)");
  // Shape: P(X > mean) = e^-1.
  RandomStream q(6, "test.exponential.tail");
  int above = 0;
  for (int i = 0; i < kSamples; ++i) above += q.exponential(2.5) > 2.5 ? 1 : 0;
  const double p = std::exp(-1.0);
  EXPECT_NEAR(above / static_cast<double>(kSamples), p, 4.0 * std::sqrt(p * (1 - p) / kSamples));
}

TEST(RandomStream, NormalMomentsShapeAndPairIndependence) {
  RandomStream r(7, "test.normal");
  expect_moments(moments(kSamples, [&] { return r.normal(10.0, 3.0); }), 10.0, 3.0, "normal(10, 3)");

  // Consecutive draws (the two halves of a Box-Muller pair) are uncorrelated, and ~95% fall in +-1.96.
  RandomStream q(8, "test.normal.pairs");
  double sxy = 0;
  int inside = 0;
  for (int i = 0; i < kSamples / 2; ++i) {
    const double a = q.normal(0, 1), b = q.normal(0, 1);
    sxy += a * b;
    inside += (std::abs(a) < 1.959963984540054 ? 1 : 0) + (std::abs(b) < 1.959963984540054 ? 1 : 0);
  }
  EXPECT_NEAR(sxy / (kSamples / 2), 0.0, 4.0 / std::sqrt(kSamples / 2));
  EXPECT_NEAR(inside / static_cast<double>(kSamples), 0.95, 4.0 * std::sqrt(0.95 * 0.05 / kSamples));

  // Mixed parameters in one stream: the cached value is scaled by the parameters of the call that uses it.
  RandomStream m1(9, "test.normal.mixed");
  const auto m = moments(kSamples, [&] {
    (void)m1.normal(100.0, 50.0);
    return m1.normal(-2.0, 0.5);
  });
  expect_moments(m, -2.0, 0.5, "normal(-2, 0.5) interleaved with normal(100, 50)");
}

TEST(RandomStream, LognormalMeanSdMoments) {
  RandomStream r(10, "test.lognormal");
  bool positive = true;
  const auto m = moments(kSamples, [&] {
    const double x = r.lognormal_mean_sd(3.0, 1.5);
    positive = positive && x > 0.0;
    return x;
  });
  EXPECT_TRUE(positive);
  expect_moments(m, 3.0, 1.5, "lognormal_mean_sd(3, 1.5)");

  RandomStream q(11, "test.lognormal.wide");
  expect_moments(moments(kSamples, [&] { return q.lognormal_mean_sd(8.0, 2.0); }), 8.0, 2.0, "lognormal_mean_sd(8, 2)");

  RandomStream z(12, "test.lognormal.degenerate");
  for (int i = 0; i < 100; ++i) ASSERT_EQ(z.lognormal_mean_sd(4.0, 0.0), 4.0);
}

TEST(RandomStream, PoissonMoments) {
  // Knuth's method below 60, normal approximation above (rounding adds 1/12 to the variance).
  struct Case {
    double mean, sd;
    std::uint64_t seed;
  };
  for (const Case c : {Case{0.3, std::sqrt(0.3), 13}, Case{3.0, std::sqrt(3.0), 14}, Case{45.0, std::sqrt(45.0), 15},
                       Case{100.0, std::sqrt(100.0 + 1.0 / 12.0), 16}}) {
    RandomStream r(c.seed, "test.poisson");
    expect_moments(moments(kSamples, [&] { return static_cast<double>(r.poisson(c.mean)); }), c.mean, c.sd,
                   "poisson(" + std::to_string(c.mean) + ")");
  }
  // P(0) for mean 3 is e^-3.
  RandomStream r(17, "test.poisson.zero");
  int zeros = 0;
  for (int i = 0; i < kSamples; ++i) zeros += r.poisson(3.0) == 0 ? 1 : 0;
  const double p0 = std::exp(-3.0);
  EXPECT_NEAR(zeros / static_cast<double>(kSamples), p0, 4.0 * std::sqrt(p0 * (1 - p0) / kSamples));
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(r.poisson(0.0), 0u);
    ASSERT_EQ(r.poisson(-1.0), 0u);
  }
}

// ---------------------------------------------------------------- normal CDF and its inverse

TEST(NormalCdf, InverseMatchesKnownQuantiles) {
  EXPECT_NEAR(inverse_normal_cdf(0.975), 1.959963984540054, 1e-9);
  EXPECT_NEAR(inverse_normal_cdf(0.025), -1.959963984540054, 1e-9);
  EXPECT_NEAR(inverse_normal_cdf(0.5), 0.0, 1e-12);
  EXPECT_NEAR(inverse_normal_cdf(1e-10), -6.361340902404056, 1e-9);
  EXPECT_NEAR(inverse_normal_cdf(0.001), -3.090232306167813, 1e-9);
  EXPECT_NEAR(inverse_normal_cdf(0.999), 3.090232306167813, 1e-9);
  EXPECT_NEAR(inverse_normal_cdf(0.8413447460685429), 0.9999999999999998, 1e-9);
  EXPECT_NEAR(inverse_normal_cdf(0.02425), -1.972961051311885, 1e-9);  // the boundary between the two branches
  EXPECT_NEAR(inverse_normal_cdf(1e-300), -37.04709629936120, 1e-9);
  EXPECT_EQ(inverse_normal_cdf(0.0), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(inverse_normal_cdf(1.0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(inverse_normal_cdf(-0.5), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(inverse_normal_cdf(1.5), std::numeric_limits<double>::infinity());
}

TEST(NormalCdf, KnownValues) {
  EXPECT_DOUBLE_EQ(normal_cdf(0.0), 0.5);
  EXPECT_NEAR(normal_cdf(1.959963984540054), 0.975, 1e-15);
  EXPECT_NEAR(normal_cdf(-1.0), 0.15865525393145707, 1e-15);
  EXPECT_NEAR(normal_cdf(-6.361340902404056) / 1e-10, 1.0, 1e-12);
}

TEST(NormalCdf, RoundTrip) {
  // normal_cdf(inverse(p)) == p up to rounding, across the whole range, both tails included.
  std::vector<double> ps;
  for (double p = 1e-300; p < 0.01; p *= 3.7) ps.push_back(p);
  for (int i = 1; i < 1000; ++i) ps.push_back(i / 1000.0);
  for (double q = 1e-15; q < 0.01; q *= 3.7) ps.push_back(1.0 - q);
  ps.push_back(0.02425);
  ps.push_back(1.0 - 0.02425);
  for (double p : ps) {
    const double x = inverse_normal_cdf(p);
    ASSERT_TRUE(std::isfinite(x)) << p;
    const double back = normal_cdf(x);
    if (p <= 0.5) {
      ASSERT_NEAR(back / p, 1.0, 1e-12) << "p = " << p;  // relative in the lower tail
    } else {
      ASSERT_NEAR(back, p, 2e-16) << "p = " << p;          // p near 1 is only known to an ulp of 1
    }
  }
  // Monotone.
  double last = -std::numeric_limits<double>::infinity();
  for (int i = 1; i < 100000; ++i) {
    const double x = inverse_normal_cdf(i / 100000.0);
    ASSERT_GT(x, last) << i;
    last = x;
  }
  // Symmetric.
  // (1 - p is exact enough only for p not too small.)
  for (double p : {1e-6, 0.01, 0.1, 0.3, 0.49}) EXPECT_NEAR(inverse_normal_cdf(p), -inverse_normal_cdf(1.0 - p), 1e-9) << p;
}

// ---------------------------------------------------------------- max of normals

TEST(RandomStream, MaxOfNormalsMatchesTheEmpiricalMaximum) {
  constexpr int kDraws = 20'000;
  const double mean = 0.15, sd = 0.1;
  for (std::uint64_t n : {1ULL, 10ULL, 1000ULL}) {
    RandomStream fast(20 + n, "test.max_of_normals");
    RandomStream slow(30 + n, "test.max_of_normals.empirical");
    const auto by_inversion = moments(kDraws, [&] { return fast.max_of_normals(mean, sd, n); });
    const auto empirical = moments(kDraws, [&] {
      double best = -std::numeric_limits<double>::infinity();
      for (std::uint64_t k = 0; k < n; ++k) best = std::max(best, slow.normal(mean, sd));
      return best;
    });
    const double se = std::sqrt(by_inversion.se_mean() * by_inversion.se_mean() + empirical.se_mean() * empirical.se_mean());
    EXPECT_NEAR(by_inversion.mean, empirical.mean, 4.0 * se) << "n = " << n;
    const double se_sd = std::sqrt(by_inversion.se_sd() * by_inversion.se_sd() + empirical.se_sd() * empirical.se_sd());
    EXPECT_NEAR(by_inversion.sd(), empirical.sd(), 4.0 * se_sd) << "n = " << n;
  }
  // Known expectation of the maximum of 10 standard normals: 1.538752...
  RandomStream r(40, "test.max_of_normals.known");
  const auto m = moments(kSamples, [&] { return r.max_of_normals(0.0, 1.0, 10); });
  EXPECT_NEAR(m.mean, 1.5387527308351728, 4.0 * m.se_mean());
  RandomStream z(41, "test.max_of_normals.zero");
  EXPECT_EQ(z.max_of_normals(0.0, 1.0, 0), -std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace gatetwin::sim
