#include "gatetwin/recognizer/gallery.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GATETWIN_GALLERY_X86 1
#endif

namespace gatetwin::recognizer {

std::string_view to_string(TemplateKind k) {
  switch (k) {
    case TemplateKind::unmasked: return "unmasked";
    case TemplateKind::masked: return "masked";
  }
  return "?";
}

std::optional<TemplateKind> parse_template_kind(std::string_view s) {
  if (s == "unmasked") return TemplateKind::unmasked;
  if (s == "masked") return TemplateKind::masked;
  return std::nullopt;
}

namespace detail {

// 16 lanes per row, summed lane-wise (no reassociation needed, so GCC vectorises it at -O2 without
// -ffast-math), then folded in a fixed order.
void scores_portable(const float* __restrict rows, std::size_t n_rows, std::size_t stride,
                     const float* __restrict probe, float* __restrict out) {
  for (std::size_t r = 0; r < n_rows; ++r) {
    const float* __restrict a = rows + r * stride;
    float acc[16] = {};
    for (std::size_t i = 0; i < stride; i += 16) {
#pragma GCC unroll 16
      for (std::size_t j = 0; j < 16; ++j) acc[j] += a[i + j] * probe[i + j];
    }
    for (std::size_t j = 0; j < 8; ++j) acc[j] += acc[j + 8];
    for (std::size_t j = 0; j < 4; ++j) acc[j] += acc[j + 4];
    out[r] = (acc[0] + acc[2]) + (acc[1] + acc[3]);
  }
}

#ifdef GATETWIN_GALLERY_X86
namespace {

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Four rows per pass: each 16-float slice of the probe is loaded once and used by four rows, with two
// accumulators per row (eight independent FMA chains hide the FMA latency). A lone row (the tail) is
// summed in exactly the same order, so a row's score does not depend on its position.
__attribute__((target("avx2,fma"))) void scores_avx2_impl(const float* rows, std::size_t n_rows, std::size_t stride,
                                                          const float* probe, float* out) {
  std::size_t r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const float* a0 = rows + r * stride;
    const float* a1 = a0 + stride;
    const float* a2 = a1 + stride;
    const float* a3 = a2 + stride;
    __m256 s0 = _mm256_setzero_ps(), t0 = _mm256_setzero_ps();
    __m256 s1 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), t2 = _mm256_setzero_ps();
    __m256 s3 = _mm256_setzero_ps(), t3 = _mm256_setzero_ps();
    for (std::size_t i = 0; i < stride; i += 16) {
      const __m256 p = _mm256_load_ps(probe + i);
      const __m256 q = _mm256_load_ps(probe + i + 8);
      s0 = _mm256_fmadd_ps(_mm256_load_ps(a0 + i), p, s0);
      t0 = _mm256_fmadd_ps(_mm256_load_ps(a0 + i + 8), q, t0);
      s1 = _mm256_fmadd_ps(_mm256_load_ps(a1 + i), p, s1);
      t1 = _mm256_fmadd_ps(_mm256_load_ps(a1 + i + 8), q, t1);
      s2 = _mm256_fmadd_ps(_mm256_load_ps(a2 + i), p, s2);
      t2 = _mm256_fmadd_ps(_mm256_load_ps(a2 + i + 8), q, t2);
      s3 = _mm256_fmadd_ps(_mm256_load_ps(a3 + i), p, s3);
      t3 = _mm256_fmadd_ps(_mm256_load_ps(a3 + i + 8), q, t3);
    }
    out[r] = hsum(_mm256_add_ps(s0, t0));
    out[r + 1] = hsum(_mm256_add_ps(s1, t1));
    out[r + 2] = hsum(_mm256_add_ps(s2, t2));
    out[r + 3] = hsum(_mm256_add_ps(s3, t3));
  }
  for (; r < n_rows; ++r) {
    const float* a = rows + r * stride;
    __m256 s = _mm256_setzero_ps(), t = _mm256_setzero_ps();
    for (std::size_t i = 0; i < stride; i += 16) {
      s = _mm256_fmadd_ps(_mm256_load_ps(a + i), _mm256_load_ps(probe + i), s);
      t = _mm256_fmadd_ps(_mm256_load_ps(a + i + 8), _mm256_load_ps(probe + i + 8), t);
    }
    out[r] = hsum(_mm256_add_ps(s, t));
  }
}

}  // namespace

ScoreKernel scores_avx2() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported ? &scores_avx2_impl : nullptr;
}
#else
ScoreKernel scores_avx2() { return nullptr; }
#endif

ScoreKernel active_kernel() {
  static const ScoreKernel kernel = scores_avx2() ? scores_avx2() : &scores_portable;
  return kernel;
}

std::string_view active_kernel_name() { return active_kernel() == &scores_portable ? "portable" : "avx2+fma"; }

}  // namespace detail

namespace {

constexpr std::size_t kChunk = 256;  // rows scored per kernel call (scores stay in L1)

// Total order of candidates: higher score first, then lower person id, then unmasked before masked.
bool better(const Match& a, const Match& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.person != b.person) return a.person < b.person;
  return a.kind < b.kind;
}

// The k best persons so far as a heap whose front is the worst of them (the one to evict). A person is
// in it at most once, with their best template.
class TopK {
 public:
  explicit TopK(std::size_t k) : k_(k) { heap_.reserve(k); }

  // Scores below this cannot enter (only a lower bound of the real test, which is `better`).
  float floor() const { return heap_.size() == k_ ? heap_.front().score : -std::numeric_limits<float>::infinity(); }

  void offer(const Match& m) {
    for (auto& e : heap_) {
      if (e.person != m.person) continue;
      if (better(m, e)) {
        e = m;  // the person got better: restore the heap property
        std::make_heap(heap_.begin(), heap_.end(), better);
      }
      return;
    }
    if (heap_.size() < k_) {
      heap_.push_back(m);
      std::push_heap(heap_.begin(), heap_.end(), better);
    } else if (better(m, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = m;
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
  }

  std::vector<Match> sorted() && {
    std::sort_heap(heap_.begin(), heap_.end(), better);  // ascending in `better`: best first
    return std::move(heap_);
  }

 private:
  std::size_t k_;
  std::vector<Match> heap_;
};

}  // namespace

Gallery::Gallery(std::size_t dim) : dim_(dim), stride_((dim + 15) / 16 * 16) {
  if (dim == 0) throw std::invalid_argument("gallery: template dimension must be positive");
}

void Gallery::normalise_into(std::span<const float> v, float* out, const char* what) const {
  if (v.size() != dim_) {
    throw std::invalid_argument(std::string("gallery: ") + what + " has " + std::to_string(v.size()) +
                                " values, the gallery's dimension is " + std::to_string(dim_));
  }
  double ss = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      throw std::invalid_argument(std::string("gallery: ") + what + " value " + std::to_string(i) + " is " +
                                  (std::isnan(v[i]) ? "NaN" : "infinite"));
    }
    ss += static_cast<double>(v[i]) * static_cast<double>(v[i]);
  }
  if (ss == 0) throw std::invalid_argument(std::string("gallery: ") + what + " is a zero vector (no direction)");
  const double inv = 1.0 / std::sqrt(ss);
  for (std::size_t i = 0; i < dim_; ++i) out[i] = static_cast<float>(static_cast<double>(v[i]) * inv);
  std::fill(out + dim_, out + stride_, 0.0f);
}

void Gallery::add(std::uint32_t person, std::span<const float> embedding, TemplateKind kind) {
  if (ids_.size() >= kEnd) throw std::length_error("gallery: too many templates");
  const std::size_t n = ids_.size();
  data_.resize((n + 1) * stride_);
  std::unordered_map<std::uint32_t, std::uint32_t>::iterator it;
  try {
    normalise_into(embedding, data_.data() + n * stride_, "template");
    // Everything that can throw happens before the visible state changes (strong guarantee).
    ids_.reserve(n + 1);
    kinds_.reserve(n + 1);
    next_.reserve(n + 1);
    it = head_.try_emplace(person, kEnd).first;
  } catch (...) {
    data_.resize(n * stride_);
    throw;
  }
  ids_.push_back(person);
  kinds_.push_back(kind);
  next_.push_back(it->second);
  it->second = static_cast<std::uint32_t>(n);
}

std::size_t Gallery::remove(std::uint32_t person) {
  if (!head_.contains(person)) return 0;
  std::size_t w = 0;
  const std::size_t n = ids_.size();
  for (std::size_t r = 0; r < n; ++r) {
    if (ids_[r] == person) continue;
    if (w != r) {
      std::copy_n(data_.data() + r * stride_, stride_, data_.data() + w * stride_);
      ids_[w] = ids_[r];
      kinds_[w] = kinds_[r];
    }
    ++w;
  }
  data_.resize(w * stride_);
  ids_.resize(w);
  kinds_.resize(w);
  rebuild_index();
  return n - w;
}

void Gallery::clear() {
  data_.clear();
  ids_.clear();
  kinds_.clear();
  next_.clear();
  head_.clear();
}

void Gallery::reserve(std::size_t templates) {
  data_.reserve(templates * stride_);
  ids_.reserve(templates);
  kinds_.reserve(templates);
  next_.reserve(templates);
}

void Gallery::rebuild_index() {
  head_.clear();
  next_.assign(ids_.size(), kEnd);
  for (std::size_t r = 0; r < ids_.size(); ++r) {
    const auto it = head_.try_emplace(ids_[r], kEnd).first;
    next_[r] = it->second;
    it->second = static_cast<std::uint32_t>(r);
  }
}

std::vector<Match> Gallery::search(std::span<const float> probe, std::size_t k) const {
  detail::AlignedFloats q(stride_);
  normalise_into(probe, q.data(), "probe");
  if (k == 0 || ids_.empty()) return {};
  TopK top(std::min(k, head_.size()));
  const detail::ScoreKernel kernel = detail::active_kernel();
  alignas(64) float scores[kChunk];
  float floor = top.floor();
  for (std::size_t base = 0; base < ids_.size(); base += kChunk) {
    const std::size_t m = std::min(kChunk, ids_.size() - base);
    kernel(row(base), m, stride_, q.data(), scores);
    for (std::size_t j = 0; j < m; ++j) {
      if (scores[j] < floor) continue;
      top.offer(Match{ids_[base + j], scores[j], kinds_[base + j]});
      floor = top.floor();
    }
  }
  return std::move(top).sorted();
}

std::optional<float> Gallery::verify(std::uint32_t person, std::span<const float> probe) const {
  detail::AlignedFloats q(stride_);
  normalise_into(probe, q.data(), "probe");
  const auto it = head_.find(person);
  if (it == head_.end()) return std::nullopt;
  const detail::ScoreKernel kernel = detail::active_kernel();
  float best = -std::numeric_limits<float>::infinity();
  for (std::uint32_t r = it->second; r != kEnd; r = next_[r]) {
    float s = 0;
    kernel(row(r), 1, stride_, q.data(), &s);
    best = std::max(best, s);
  }
  return best;
}

std::size_t Gallery::memory_bytes() const {
  // Buckets plus one node (key, value, next pointer, cached hash) per person, as libstdc++ lays it out.
  const std::size_t index = head_.bucket_count() * sizeof(void*) +
                            head_.size() * (sizeof(void*) + sizeof(std::pair<const std::uint32_t, std::uint32_t>) +
                                            sizeof(std::size_t));
  return data_.capacity() * sizeof(float) + ids_.capacity() * sizeof(std::uint32_t) +
         kinds_.capacity() * sizeof(TemplateKind) + next_.capacity() * sizeof(std::uint32_t) + index;
}

}  // namespace gatetwin::recognizer
