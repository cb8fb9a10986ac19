#include "gatetwin/sim/random.hpp"

#include <cmath>
#include <limits>

namespace gatetwin::sim {
namespace {
__extension__ using u128 = unsigned __int128;  // GCC/Clang extension; -Wpedantic is told it is intended
constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
constexpr double kPi = 3.14159265358979323846;
}  // namespace

RandomStream::RandomStream(std::uint64_t seed, std::string_view component) {
  seed_from(seed ^ fnv1a(component));
}

RandomStream::RandomStream(std::uint64_t seed, std::string_view component, std::uint64_t index) {
  std::uint64_t k = fnv1a(component) ^ (index * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
  seed_from(seed ^ splitmix64(k));
}

void RandomStream::seed_from(std::uint64_t key) {
  for (auto& s : s_) s = splitmix64(key);
}

std::uint64_t RandomStream::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double RandomStream::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
double RandomStream::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

std::uint64_t RandomStream::below(std::uint64_t n) {
  // Lemire's nearly divisionless method with rejection, so every value is equally likely.
  u128 m = static_cast<u128>(next_u64()) * n;
  auto low = static_cast<std::uint64_t>(m);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<u128>(next_u64()) * n;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

bool RandomStream::bernoulli(double p) { return p > 0.0 && uniform() < p; }

double RandomStream::exponential(double mean) {
  // 1 - u is in (0, 1], so the log is finite.
  return -mean * std::log(1.0 - uniform());
}

double RandomStream::normal(double mean, double sd) {
  if (has_spare_) {
    has_spare_ = false;
    return mean + sd * spare_normal_;
  }
  const double u1 = 1.0 - uniform();  // (0, 1]
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_normal_ = r * std::sin(2.0 * kPi * u2);
  has_spare_ = true;
  return mean + sd * r * std::cos(2.0 * kPi * u2);
}

double RandomStream::lognormal_mean_sd(double mean, double sd) {
  if (sd <= 0.0) return mean;
  const double s2 = std::log(1.0 + (sd * sd) / (mean * mean));
  const double mu = std::log(mean) - 0.5 * s2;
  return std::exp(normal(mu, std::sqrt(s2)));
}

std::uint32_t RandomStream::poisson(double mean) {
  if (mean <= 0.0) return 0;
  if (mean > 60.0) {
    const double x = std::floor(normal(mean, std::sqrt(mean)) + 0.5);
    return x < 0.0 ? 0u : static_cast<std::uint32_t>(x);
  }
  const double limit = std::exp(-mean);
  std::uint32_t k = 0;
  double p = uniform();
  while (p > limit) {
    ++k;
    p *= uniform();
  }
  return k;
}

double RandomStream::max_of_normals(double mean, double sd, std::uint64_t n) {
  if (n == 0) return -std::numeric_limits<double>::infinity();
  // P(max <= x) = Phi(z)^n, so z = Phi^-1(u^(1/n)).
  double u = uniform();
  if (u <= 0.0) u = 0x1.0p-53;
  const double p = std::pow(u, 1.0 / static_cast<double>(n));
  return mean + sd * inverse_normal_cdf(p);
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double inverse_normal_cdf(double p) {
  if (p <= 0.0) return -std::numeric_limits<double>::infinity();
  if (p >= 1.0) return std::numeric_limits<double>::infinity();
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01,  -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  constexpr double plow = 0.02425;
  double x;
  if (p < plow) {
    const double q = std::sqrt(-2.0 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  } else if (p <= 1.0 - plow) {
    const double q = p - 0.5;
    const double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  } else {
    const double q = std::sqrt(-2.0 * std::log(1.0 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  }
  // One Halley refinement step brings the error to ~1e-15.
  const double e = normal_cdf(x) - p;
  const double u = e * std::sqrt(2.0 * kPi) * std::exp(x * x / 2.0);
  return x - u / (1.0 + x * u / 2.0);
}

}  // namespace gatetwin::sim
