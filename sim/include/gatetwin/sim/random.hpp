#pragma once
// Seeded random streams, one per component (population, arrivals, each gate's sensors...).
// A stream is derived from (scenario seed, component name), so adding a component or changing a policy
// never shifts another component's numbers: two policies see the same residents arriving at the same
// times (common random numbers). Distributions are implemented here, not taken from <random>, whose
// distribution algorithms differ between standard libraries; the results are identical everywhere.
#include <cstdint>
#include <string_view>

namespace gatetwin::sim {

// 64-bit FNV-1a, used to turn component names into stream keys.
constexpr std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// xoshiro256** seeded through splitmix64 (Blackman and Vigna).
class RandomStream {
 public:
  RandomStream(std::uint64_t seed, std::string_view component);
  RandomStream(std::uint64_t seed, std::string_view component, std::uint64_t index);

  std::uint64_t next_u64();
  double uniform();                                 // [0, 1)
  double uniform(double lo, double hi);             // [lo, hi)
  std::uint64_t below(std::uint64_t n);             // [0, n), unbiased; n > 0
  bool bernoulli(double p);
  double exponential(double mean);
  double normal(double mean, double sd);            // Box-Muller with a cached second value
  double lognormal_mean_sd(double mean, double sd); // lognormal with the given arithmetic mean and sd
  std::uint32_t poisson(double mean);               // Knuth for small means, normal approx above 60
  double max_of_normals(double mean, double sd, std::uint64_t n);  // max of n iid N(mean, sd), by inversion

 private:
  void seed_from(std::uint64_t key);
  std::uint64_t s_[4]{};
  double spare_normal_ = 0.0;
  bool has_spare_ = false;
};

// Inverse of the standard normal CDF (Acklam's rational approximation, refined by one Halley step).
double inverse_normal_cdf(double p);
double normal_cdf(double x);

}  // namespace gatetwin::sim
