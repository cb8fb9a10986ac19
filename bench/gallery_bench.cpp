// 1:N top-1 search latency of gatetwin::recognizer::Gallery against FAISS's exhaustive inner-product
// index (faiss::IndexFlatIP), one query at a time, which is what a gate does: 10^3, 10^4 and 10^5
// random unit templates of dimension 512 (fixed seed). FAISS runs once with one OpenMP thread (the fair
// single-core comparison) and once with its default thread count. A third line, stream_floor, only
// reads the same number of bytes (an AVX2 sum): no exact float32 scan can beat it, and from 10^4
// templates (20 MB, beyond the last-level cache) the gallery runs at that floor, i.e. at the machine's
// single-core memory bandwidth. (Debian's libfaiss is a generic build whose inner product is a scalar
// loop, which is why it is several times slower; a FAISS built for AVX2 would meet the same floor at
// 10^4 and up.)
//
// Before timing, the top-1 person of 200 queries per size (half genuine: a noisy copy of a template;
// half impostors) must agree with FAISS; a disagreement aborts unless the two candidates' scores are
// equal within float rounding (1e-5). After the runs the program prints the gallery/FAISS time ratio
// per size (medians of the repetitions; below 1 means the gallery is faster) and the memory per template
// at 10^5.
//
//   build/bench/gallery_bench [--benchmark_*]
#include <benchmark/benchmark.h>
#include <faiss/IndexFlat.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "gatetwin/recognizer/gallery.hpp"

namespace gr = gatetwin::recognizer;

namespace {

constexpr std::size_t kDim = 512;
constexpr std::size_t kQueries = 256;  // the timed loop cycles through these
constexpr std::size_t kChecked = 200;  // queries whose top-1 must agree with FAISS
constexpr int kRepetitions = 5;

class Rng {  // xorshift64*
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 2685821657736338717ULL;
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  void normals(float* out, std::size_t n) {  // Box-Muller, two values per pair of uniforms
    for (std::size_t i = 0; i < n; i += 2) {
      const double r = std::sqrt(-2.0 * std::log(uniform()));
      const double t = 2.0 * std::numbers::pi * uniform();
      out[i] = static_cast<float>(r * std::cos(t));
      if (i + 1 < n) out[i + 1] = static_cast<float>(r * std::sin(t));
    }
  }

 private:
  std::uint64_t s_;
};

void normalise(float* v, std::size_t n) {
  double ss = 0;
  for (std::size_t i = 0; i < n; ++i) ss += static_cast<double>(v[i]) * v[i];
  const double inv = 1.0 / std::sqrt(ss);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(v[i] * inv);
}

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

struct Fixture {
  std::size_t n;
  gr::Gallery gallery{kDim};
  faiss::IndexFlatIP faiss{static_cast<faiss::Index::idx_t>(kDim)};
  std::vector<float> queries;  // kQueries x kDim, normalised
  gr::detail::AlignedFloats stream;  // as many bytes as the gallery's rows, for the memory-read floor
  std::size_t gallery_rss = 0, faiss_rss = 0;
};

// Template i belongs to person i. Queries alternate impostor (a fresh random vector) and genuine (a
// template plus noise of the same size: cosine ~0.7 with it).
std::unique_ptr<Fixture> make_fixture(std::size_t n) {
  auto f = std::make_unique<Fixture>();
  f->n = n;
  Rng rng(0x6a7e7417 + n);
  std::vector<float> data(n * kDim);
  rng.normals(data.data(), data.size());
  for (std::size_t i = 0; i < n; ++i) normalise(data.data() + i * kDim, kDim);

  std::size_t before = rss_bytes();
  f->gallery.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    f->gallery.add(static_cast<std::uint32_t>(i), std::span<const float>(data.data() + i * kDim, kDim),
                   gr::TemplateKind::unmasked);
  }
  f->gallery_rss = rss_bytes() - before;
  before = rss_bytes();
  f->faiss.add(static_cast<faiss::Index::idx_t>(n), data.data());
  f->faiss_rss = rss_bytes() - before;

  f->stream.assign(data.begin(), data.end());
  f->queries.resize(kQueries * kDim);
  for (std::size_t q = 0; q < kQueries; ++q) {
    float* v = f->queries.data() + q * kDim;
    rng.normals(v, kDim);
    if (q % 2 == 1) {
      const float* t = data.data() + (rng.next() % n) * kDim;
      normalise(v, kDim);
      for (std::size_t i = 0; i < kDim; ++i) v[i] += t[i];
    }
    normalise(v, kDim);
  }
  return f;
}

// Aborts unless the gallery's top-1 person equals FAISS's on kChecked queries (or the two candidates
// score the same within float rounding). Returns the number of such ties.
int check_agreement(const Fixture& f) {
  int ties = 0;
  for (std::size_t q = 0; q < kChecked; ++q) {
    const std::span<const float> probe(f.queries.data() + q * kDim, kDim);
    const auto ours = f.gallery.search(probe, 1);
    float distance = 0;
    faiss::Index::idx_t label = -1;
    f.faiss.search(1, probe.data(), 1, &distance, &label);
    if (ours.empty() || label < 0) {
      std::fprintf(stderr, "gallery_bench: N=%zu query %zu: empty result\n", f.n, q);
      std::exit(1);
    }
    if (ours[0].person == static_cast<std::uint32_t>(label)) continue;
    const float other = f.gallery.verify(static_cast<std::uint32_t>(label), probe).value_or(-2.0f);
    if (std::fabs(other - ours[0].score) > 1e-5f) {
      std::fprintf(stderr,
                   "gallery_bench: N=%zu query %zu: top-1 disagrees with FAISS: gallery person %u (score %.7f), "
                   "FAISS %lld (score %.7f, gallery's score for it %.7f)\n",
                   f.n, q, ours[0].person, static_cast<double>(ours[0].score), static_cast<long long>(label),
                   static_cast<double>(distance), static_cast<double>(other));
      std::exit(1);
    }
    ++ties;
  }
  return ties;
}

// Reads n floats and adds them up, as fast as the machine streams memory: a lower bound for any exact
// float32 scan of the same templates (the gallery does 1 FMA per float on top of this).
#if defined(__x86_64__)
__attribute__((target("avx2"))) float stream_sum_avx2(const float* a, std::size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (std::size_t i = 0; i + 32 <= n; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_load_ps(a + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(a + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(a + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(a + i + 24));
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  alignas(32) float t[8];
  _mm256_store_ps(t, s);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
bool have_stream_floor() { return __builtin_cpu_supports("avx2"); }
#else
float stream_sum_avx2(const float*, std::size_t) { return 0; }
bool have_stream_floor() { return false; }
#endif

void bm_stream_floor(benchmark::State& state, const Fixture* f) {
  for (auto _ : state) {
    float s = stream_sum_avx2(f->stream.data(), f->stream.size());
    benchmark::DoNotOptimize(s);
  }
  state.counters["templates/s"] =
      benchmark::Counter(static_cast<double>(f->n), benchmark::Counter::kIsIterationInvariantRate);
}

void bm_gallery(benchmark::State& state, const Fixture* f) {
  std::size_t q = 0;
  for (auto _ : state) {
    auto m = f->gallery.search(std::span<const float>(f->queries.data() + q * kDim, kDim), 1);
    benchmark::DoNotOptimize(m.data());
    q = (q + 1) % kQueries;
  }
  state.counters["templates/s"] =
      benchmark::Counter(static_cast<double>(f->n), benchmark::Counter::kIsIterationInvariantRate);
}

void bm_faiss(benchmark::State& state, const Fixture* f, int threads) {
  omp_set_num_threads(threads);
  std::size_t q = 0;
  float distance = 0;
  faiss::Index::idx_t label = -1;
  for (auto _ : state) {
    f->faiss.search(1, f->queries.data() + q * kDim, 1, &distance, &label);
    benchmark::DoNotOptimize(label);
    q = (q + 1) % kQueries;
  }
  state.counters["templates/s"] =
      benchmark::Counter(static_cast<double>(f->n), benchmark::Counter::kIsIterationInvariantRate);
}

// Console output as usual, plus each benchmark's median real time (ns) by name.
class MedianReporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") {
        median_ns[r.run_name.function_name] = r.GetAdjustedRealTime() * scale(r.time_unit);
      }
    }
  }
  std::map<std::string, double> median_ns;

 private:
  static double scale(benchmark::TimeUnit u) {
    switch (u) {
      case benchmark::kNanosecond: return 1;
      case benchmark::kMicrosecond: return 1e3;
      case benchmark::kMillisecond: return 1e6;
      case benchmark::kSecond: return 1e9;
    }
    return 1;
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const int default_threads = omp_get_max_threads();
  std::printf("gallery kernel: %s; FAISS default OpenMP threads: %d\n",
              std::string(gr::detail::active_kernel_name()).c_str(), default_threads);

  const std::size_t sizes[] = {1'000, 10'000, 100'000};
  std::vector<std::unique_ptr<Fixture>> fixtures;
  for (std::size_t n : sizes) {
    fixtures.push_back(make_fixture(n));
    const int ties = check_agreement(*fixtures.back());
    std::printf("N=%zu: top-1 person agrees with FAISS on %zu queries (%d equal-score ties)\n", n, kChecked, ties);
  }
  std::fflush(stdout);

  for (const auto& f : fixtures) {
    const Fixture* p = f.get();
    const std::string n = std::to_string(p->n);
    std::vector<benchmark::internal::Benchmark*> runs{
        benchmark::RegisterBenchmark(("gallery/N=" + n).c_str(), bm_gallery, p),
        benchmark::RegisterBenchmark(("faiss_1thread/N=" + n).c_str(), bm_faiss, p, 1),
        benchmark::RegisterBenchmark(("faiss_default/N=" + n).c_str(), bm_faiss, p, default_threads)};
    if (have_stream_floor()) runs.push_back(benchmark::RegisterBenchmark(("stream_floor/N=" + n).c_str(), bm_stream_floor, p));
    for (auto* b : runs) {
      // The machine may be shared: medians of several repetitions, wall-clock time (FAISS may use threads).
      b->Repetitions(kRepetitions)->ReportAggregatesOnly(true)->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
  }
  MedianReporter reporter(isatty(fileno(stdout)) ? benchmark::ConsoleReporter::OO_Defaults
                                                 : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  std::printf("\n");
  for (const auto& f : fixtures) {
    const std::string n = std::to_string(f->n);
    const auto g = reporter.median_ns.find("gallery/N=" + n);
    const auto f1 = reporter.median_ns.find("faiss_1thread/N=" + n);
    const auto fd = reporter.median_ns.find("faiss_default/N=" + n);
    if (g == reporter.median_ns.end() || f1 == reporter.median_ns.end() || fd == reporter.median_ns.end()) continue;
    std::printf("gallery/faiss time ratio at N=%zu: %.2f (1 thread), %.2f (default %d threads)  "
                "[gallery %.1f us, faiss %.1f us / %.1f us]",
                f->n, g->second / f1->second, g->second / fd->second, default_threads, g->second / 1e3,
                f1->second / 1e3, fd->second / 1e3);
    const auto floor = reporter.median_ns.find("stream_floor/N=" + n);
    if (floor != reporter.median_ns.end()) {
      std::printf("; gallery/memory-read floor %.2f [floor %.1f us]", g->second / floor->second, floor->second / 1e3);
    }
    std::printf("\n");
  }
  const Fixture& big = *fixtures.back();
  std::printf("memory at N=%zu: gallery %.1f bytes/template (RSS growth %.1f), faiss %.1f bytes/template "
              "(RSS growth %.1f)\n",
              big.n, static_cast<double>(big.gallery.memory_bytes()) / static_cast<double>(big.n),
              static_cast<double>(big.gallery_rss) / static_cast<double>(big.n),
              static_cast<double>(big.faiss.codes.capacity()) / static_cast<double>(big.n),
              static_cast<double>(big.faiss_rss) / static_cast<double>(big.n));
  return 0;
}
