#pragma once
// The enrolled face templates of one compound and the 1:N / 1:1 cosine search the gate runs on them.
//
// A template is an L2-normalised float vector of a fixed dimension (512 for the shipped embedder),
// stored with the person it belongs to and its kind: a person may have several templates, e.g. an
// unmasked enrolment photo and a masked one. The score of a probe against a person is the best cosine
// over that person's templates.
//
// Templates are stored row-major in one contiguous, 64-byte aligned block (rows padded to a multiple of
// 16 floats with zeros), so a search is one sequential pass over memory; the dot products run four rows
// at a time with AVX2+FMA when the CPU has it, and otherwise in a portable loop the compiler vectorises.
// Const methods do not mutate anything: any number of threads may search one gallery at once, as long
// as nobody adds or removes at the same time.
//
// The gallery holds person ids only; names and other identity data live elsewhere (see the privacy
// notes in the design brief). Persistence: gallery_store.hpp.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gatetwin::recognizer {

enum class TemplateKind : std::uint8_t { unmasked, masked };

std::string_view to_string(TemplateKind);
std::optional<TemplateKind> parse_template_kind(std::string_view);

// One candidate of a 1:N search: a person, the best cosine over their templates, and the kind of the
// template that scored it.
struct Match {
  std::uint32_t person = 0;
  float score = 0;
  TemplateKind kind = TemplateKind::unmasked;
  friend bool operator==(const Match&, const Match&) = default;
};

namespace detail {

// Minimal allocator returning 64-byte aligned storage (a cache line; what aligned AVX loads want).
template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(::operator new(n * sizeof(T), kAlign));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlign); }
  template <class U>
  friend bool operator==(const AlignedAllocator&, const AlignedAllocator<U>&) noexcept {
    return true;
  }
};

using AlignedFloats = std::vector<float, AlignedAllocator<float>>;

// Dot products of one probe with `rows` consecutive rows of `stride` floats (stride a multiple of 16,
// rows and probe 64-byte aligned): out[r] = <rows[r], probe>. Exposed so tests can check that the
// kernels agree with each other and with a double-precision reference.
using ScoreKernel = void (*)(const float* rows, std::size_t n_rows, std::size_t stride, const float* probe,
                             float* out);
void scores_portable(const float* rows, std::size_t n_rows, std::size_t stride, const float* probe, float* out);
// The AVX2+FMA kernel, or nullptr when this build or this CPU has none.
ScoreKernel scores_avx2();
// The kernel searches use: AVX2+FMA if the CPU supports it, else the portable one. Decided once.
ScoreKernel active_kernel();
std::string_view active_kernel_name();

}  // namespace detail

class Gallery {
 public:
  static constexpr std::size_t kShippedDim = 512;  // the shipped embedder's template dimension

  // dim: the template dimension (> 0); every template and probe must have exactly this many values.
  explicit Gallery(std::size_t dim);

  // Adds a template of `person`: a normalised copy of `embedding`. Throws std::invalid_argument (the
  // message names the problem) for a wrong dimension, a NaN or infinite value, or a zero vector.
  void add(std::uint32_t person, std::span<const float> embedding, TemplateKind kind);
  // Removes every template of `person`; returns how many there were (0 if not enrolled).
  std::size_t remove(std::uint32_t person);
  void clear();
  void reserve(std::size_t templates);

  // 1:N: the best `k` persons (each scored by their best template), best first; equal scores in
  // ascending person id (and for one person, an unmasked template before a masked one), so results do
  // not depend on enrolment order. Fewer than k if fewer persons are enrolled. The probe need not be
  // normalised; it is validated like a template (std::invalid_argument).
  std::vector<Match> search(std::span<const float> probe, std::size_t k) const;
  // 1:1: the best cosine of the probe over `person`'s templates; nullopt if the person is not enrolled.
  std::optional<float> verify(std::uint32_t person, std::span<const float> probe) const;

  std::size_t size() const { return ids_.size(); }  // templates
  std::size_t persons() const { return head_.size(); }
  std::size_t dim() const { return dim_; }
  bool contains(std::uint32_t person) const { return head_.contains(person); }
  // Heap bytes held (template rows, ids, kinds, per-person index), for capacity planning.
  std::size_t memory_bytes() const;

 private:
  static constexpr std::uint32_t kEnd = std::numeric_limits<std::uint32_t>::max();

  // Validates `v` (dimension, finite, non-zero) and writes it normalised into `out` (stride_ floats,
  // zero padded). `what` names the vector in error messages ("template", "probe").
  void normalise_into(std::span<const float> v, float* out, const char* what) const;
  void rebuild_index();
  const float* row(std::size_t i) const { return data_.data() + i * stride_; }

  std::size_t dim_;
  std::size_t stride_;                      // dim_ rounded up to a multiple of 16 floats
  detail::AlignedFloats data_;              // size() rows of stride_ floats
  std::vector<std::uint32_t> ids_;          // person of each row
  std::vector<TemplateKind> kinds_;         // kind of each row
  std::vector<std::uint32_t> next_;         // next row of the same person, or kEnd
  std::unordered_map<std::uint32_t, std::uint32_t> head_;  // person -> their most recent row
};

}  // namespace gatetwin::recognizer
