// The face-template gallery: 1:N and 1:1 cosine search against a double-precision brute-force
// reference, input validation, removal, concurrent searches, and the SQLite store (round trip, reopen,
// removal that persists and leaves no bytes behind, and clear errors for damaged or foreign files).
#include "gatetwin/recognizer/gallery.hpp"
#include "gatetwin/recognizer/gallery_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <numbers>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace gatetwin::recognizer {
namespace {

namespace fs = std::filesystem;
using Vec = std::vector<float>;

constexpr float kEps = 1e-5f;  // float rounding of a 512-term dot product of unit vectors is ~1e-7

// ---- Seeded data ------------------------------------------------------------------------------------

// xorshift64*: small, fast, and the same sequence everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed ? seed : 1) {}
  std::uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 2685821657736338717ULL;
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double normal() {  // Box-Muller, one value per call
    return std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * std::numbers::pi * uniform());
  }

 private:
  std::uint64_t s_;
};

Vec random_vec(Rng& rng, std::size_t dim) {
  Vec v(dim);
  for (auto& x : v) x = static_cast<float>(rng.normal());
  return v;
}

// A probe of the same face: the template plus noise, cosine around 0.7 with it.
Vec noisy(Rng& rng, const Vec& v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  const double sd = std::sqrt(norm / static_cast<double>(v.size()));
  Vec out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] + sd * rng.normal());
  return out;
}

double cosine(const Vec& a, const Vec& b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

struct Enrolled {
  std::uint32_t person;
  Vec v;
  TemplateKind kind;
};

struct RefMatch {
  std::uint32_t person;
  double score;
};

// Brute force in double precision: every person's best cosine, best first, ties by lower person id.
std::vector<RefMatch> reference(const std::vector<Enrolled>& all, const Vec& probe) {
  std::map<std::uint32_t, double> best;
  for (const auto& e : all) {
    const double s = cosine(e.v, probe);
    auto [it, fresh] = best.try_emplace(e.person, s);
    if (!fresh) it->second = std::max(it->second, s);
  }
  std::vector<RefMatch> out;
  for (const auto& [p, s] : best) out.push_back({p, s});
  std::stable_sort(out.begin(), out.end(), [](const RefMatch& a, const RefMatch& b) { return a.score > b.score; });
  return out;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// ---- Gallery: validation ----------------------------------------------------------------------------

TEST(Gallery, ZeroDimensionIsRefused) { EXPECT_THROW(Gallery(0), std::invalid_argument); }

TEST(Gallery, RejectsBadTemplatesNamingTheProblem) {
  Gallery g(4);
  const Vec short_v{1, 2, 3};
  EXPECT_THROW(g.add(1, short_v, TemplateKind::unmasked), std::invalid_argument);
  const std::string wrong_dim = message_of([&] { g.add(1, short_v, TemplateKind::unmasked); });
  EXPECT_NE(wrong_dim.find("3 values"), std::string::npos) << wrong_dim;
  EXPECT_NE(wrong_dim.find("dimension is 4"), std::string::npos) << wrong_dim;

  const Vec nan_v{1, std::numeric_limits<float>::quiet_NaN(), 0, 0};
  const std::string nan = message_of([&] { g.add(1, nan_v, TemplateKind::unmasked); });
  EXPECT_NE(nan.find("value 1 is NaN"), std::string::npos) << nan;

  const Vec inf_v{1, 0, 0, -std::numeric_limits<float>::infinity()};
  const std::string inf = message_of([&] { g.add(1, inf_v, TemplateKind::masked); });
  EXPECT_NE(inf.find("value 3 is infinite"), std::string::npos) << inf;

  const Vec zero_v{0, 0, 0, 0};
  const std::string zero = message_of([&] { g.add(1, zero_v, TemplateKind::unmasked); });
  EXPECT_NE(zero.find("zero vector"), std::string::npos) << zero;

  EXPECT_EQ(g.size(), 0u);  // nothing half-added
  EXPECT_EQ(g.persons(), 0u);
  EXPECT_FALSE(g.contains(1));
}

TEST(Gallery, RejectsBadProbes) {
  Gallery g(4);
  g.add(1, Vec{1, 0, 0, 0}, TemplateKind::unmasked);
  const Vec nan_v{std::numeric_limits<float>::quiet_NaN(), 0, 0, 0};
  EXPECT_THROW((void)g.search(nan_v, 1), std::invalid_argument);
  EXPECT_THROW((void)g.verify(1, nan_v), std::invalid_argument);
  EXPECT_THROW((void)g.search(Vec{0, 0, 0, 0}, 1), std::invalid_argument);
  EXPECT_THROW((void)g.search(Vec{1, 0, 0, 0, 0}, 1), std::invalid_argument);
  const std::string m = message_of([&] { (void)g.search(Vec{1, 0}, 1); });
  EXPECT_NE(m.find("probe has 2 values"), std::string::npos) << m;
}

// ---- Gallery: search semantics ----------------------------------------------------------------------

TEST(Gallery, NormalisesTemplatesAndProbes) {
  Gallery g(4);
  g.add(9, Vec{30, 40, 0, 0}, TemplateKind::unmasked);  // |v| = 50
  EXPECT_NEAR(*g.verify(9, Vec{3, 4, 0, 0}), 1.0f, kEps);
  EXPECT_NEAR(*g.verify(9, Vec{0.001f, 0, 0, 0}), 0.6f, kEps);
  EXPECT_NEAR(*g.verify(9, Vec{0, 0, 5, 0}), 0.0f, kEps);
  EXPECT_NEAR(*g.verify(9, Vec{-3, -4, 0, 0}), -1.0f, kEps);
  const auto m = g.search(Vec{0, 1e6f, 0, 0}, 1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_NEAR(m[0].score, 0.8f, kEps);
}

TEST(Gallery, SearchReturnsTheBestPersonsInOrder) {
  Gallery g(3);
  g.add(10, Vec{1, 0, 0}, TemplateKind::unmasked);
  g.add(20, Vec{1, 1, 0}, TemplateKind::unmasked);
  g.add(30, Vec{0, 1, 0}, TemplateKind::masked);
  g.add(40, Vec{0, 0, 1}, TemplateKind::unmasked);
  const Vec probe{1, 0.2f, 0};
  const auto top1 = g.search(probe, 1);
  ASSERT_EQ(top1.size(), 1u);
  EXPECT_EQ(top1[0].person, 10u);

  const auto all = g.search(probe, 10);  // k above the number of persons
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].person, 10u);
  EXPECT_EQ(all[1].person, 20u);
  EXPECT_EQ(all[2].person, 30u);
  EXPECT_EQ(all[3].person, 40u);
  EXPECT_EQ(all[2].kind, TemplateKind::masked);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].score, all[i].score);
  EXPECT_NEAR(all[1].score, static_cast<float>(1.2 / std::sqrt(2.0 * 1.04)), kEps);

  EXPECT_TRUE(g.search(probe, 0).empty());
  EXPECT_TRUE(Gallery(3).search(probe, 5).empty());
}

TEST(Gallery, EqualScoresAreOrderedByPersonIdWhateverTheEnrolmentOrder) {
  const Vec v{0.5f, 0.5f, 0.5f, 0.5f};
  for (const std::array<std::uint32_t, 4> order :
       {std::array<std::uint32_t, 4>{7, 3, 5, 1}, std::array<std::uint32_t, 4>{1, 3, 5, 7},
        std::array<std::uint32_t, 4>{5, 7, 1, 3}}) {
    Gallery g(4);
    for (auto p : order) g.add(p, v, TemplateKind::unmasked);
    g.add(100, Vec{1, 0, 0, 0}, TemplateKind::unmasked);  // lower score, must come last
    const auto m = g.search(v, 3);
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0].person, 1u);
    EXPECT_EQ(m[1].person, 3u);
    EXPECT_EQ(m[2].person, 5u);
    EXPECT_EQ(m[0].score, m[2].score);
    const auto all = g.search(v, 5);
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all[3].person, 7u);
    EXPECT_EQ(all[4].person, 100u);
  }
}

TEST(Gallery, APersonIsScoredByTheirBestTemplateAndListedOnce) {
  Gallery g(3);
  g.add(1, Vec{0, 0, 1}, TemplateKind::unmasked);  // far from the probe
  g.add(2, Vec{1, 0.5f, 0}, TemplateKind::unmasked);
  g.add(1, Vec{1, 0.1f, 0}, TemplateKind::masked);  // near the probe
  g.add(1, Vec{0, 1, 0}, TemplateKind::unmasked);
  EXPECT_EQ(g.size(), 4u);
  EXPECT_EQ(g.persons(), 2u);
  const Vec probe{1, 0, 0};
  const auto m = g.search(probe, 5);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].person, 1u);
  EXPECT_EQ(m[0].kind, TemplateKind::masked);
  EXPECT_NEAR(m[0].score, static_cast<float>(1 / std::sqrt(1.01)), kEps);
  EXPECT_EQ(m[1].person, 2u);
  EXPECT_NEAR(*g.verify(1, probe), m[0].score, 0.0f);
}

TEST(Gallery, EqualTemplatesOfOnePersonReportTheUnmaskedOne) {
  for (bool masked_first : {true, false}) {
    Gallery g(2);
    g.add(4, Vec{1, 1}, masked_first ? TemplateKind::masked : TemplateKind::unmasked);
    g.add(4, Vec{2, 2}, masked_first ? TemplateKind::unmasked : TemplateKind::masked);
    const auto m = g.search(Vec{1, 0}, 1);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].kind, TemplateKind::unmasked);
  }
}

TEST(Gallery, RemoveDropsEveryTemplateOfThePersonOnly) {
  Rng rng(11);
  Gallery g(16);
  std::vector<Vec> v;
  for (std::uint32_t i = 0; i < 9; ++i) v.push_back(random_vec(rng, 16));
  const std::uint32_t persons[9] = {1, 2, 3, 2, 4, 2, 5, 3, 6};
  for (std::size_t i = 0; i < 9; ++i) g.add(persons[i], v[i], i % 2 ? TemplateKind::masked : TemplateKind::unmasked);
  const float before_3 = *g.verify(3, v[7]);
  const float before_6 = *g.verify(6, v[8]);

  EXPECT_EQ(g.remove(2), 3u);
  EXPECT_EQ(g.size(), 6u);
  EXPECT_EQ(g.persons(), 5u);
  EXPECT_FALSE(g.contains(2));
  EXPECT_FALSE(g.verify(2, v[1]).has_value());
  for (const auto& m : g.search(v[1], 10)) EXPECT_NE(m.person, 2u);
  EXPECT_EQ(g.search(v[1], 10).size(), 5u);
  EXPECT_EQ(g.remove(2), 0u);
  EXPECT_EQ(g.remove(77), 0u);

  // The others are intact (rows moved, index rebuilt).
  EXPECT_EQ(*g.verify(3, v[7]), before_3);
  EXPECT_EQ(*g.verify(6, v[8]), before_6);
  EXPECT_NEAR(*g.verify(3, v[7]), 1.0f, kEps);
  EXPECT_EQ(g.search(v[4], 1).at(0).person, 4u);

  g.add(2, v[3], TemplateKind::unmasked);  // re-enrolment after withdrawal
  EXPECT_EQ(g.search(v[3], 1).at(0).person, 2u);
  g.clear();
  EXPECT_EQ(g.size(), 0u);
  EXPECT_EQ(g.persons(), 0u);
}

TEST(Gallery, VerifyIsTheBestOverThePersonsTemplates) {
  Gallery g(3);
  g.add(5, Vec{1, 0, 0}, TemplateKind::unmasked);
  g.add(5, Vec{0, 1, 0}, TemplateKind::masked);
  g.add(6, Vec{0, 0, 1}, TemplateKind::unmasked);
  EXPECT_NEAR(*g.verify(5, Vec{0.2f, 1, 0}), static_cast<float>(1 / std::sqrt(1.04)), kEps);
  EXPECT_NEAR(*g.verify(6, Vec{0.2f, 1, 0}), 0.0f, kEps);
  EXPECT_FALSE(g.verify(7, Vec{0.2f, 1, 0}).has_value());
  EXPECT_TRUE(g.contains(5));
  EXPECT_FALSE(g.contains(7));
}

// ---- Gallery: numerics against the reference --------------------------------------------------------

TEST(Gallery, KernelsAgreeWithADoublePrecisionReference) {
  Rng rng(3);
  for (std::size_t stride : {16u, 512u, 528u}) {
    const std::size_t n = 11;  // two blocks of four and a tail of three
    detail::AlignedFloats rows(n * stride), probe(stride);
    for (auto& x : rows) x = static_cast<float>(rng.normal() / std::sqrt(static_cast<double>(stride)));
    for (auto& x : probe) x = static_cast<float>(rng.normal() / std::sqrt(static_cast<double>(stride)));
    std::vector<float> portable(n), avx(n);
    detail::scores_portable(rows.data(), n, stride, probe.data(), portable.data());
    for (std::size_t r = 0; r < n; ++r) {
      double ref = 0;
      for (std::size_t i = 0; i < stride; ++i) ref += static_cast<double>(rows[r * stride + i]) * probe[i];
      EXPECT_NEAR(portable[r], ref, 1e-5) << "stride " << stride << " row " << r;
    }
    if (const auto k = detail::scores_avx2()) {
      k(rows.data(), n, stride, probe.data(), avx.data());
      for (std::size_t r = 0; r < n; ++r) EXPECT_NEAR(avx[r], portable[r], 1e-6) << "stride " << stride << " row " << r;
      // A row scores the same inside a block of four as alone.
      for (std::size_t r = 0; r < n; ++r) {
        float alone = 0;
        k(rows.data() + r * stride, 1, stride, probe.data(), &alone);
        EXPECT_EQ(alone, avx[r]) << "row " << r;
      }
    }
  }
  EXPECT_FALSE(detail::active_kernel_name().empty());
}

// Random templates (some persons with two or three), half the probes genuine (a noisy copy of a
// template), half impostors. The dimensions include one that is not a multiple of 16 (padded rows),
// and the template counts are not multiples of the block or chunk sizes.
class GalleryReference : public ::testing::TestWithParam<std::size_t> {};

TEST_P(GalleryReference, SearchAndVerifyEqualTheBruteForceReference) {
  const std::size_t dim = GetParam();
  Rng rng(20200616 + dim);
  std::vector<Enrolled> all;
  for (std::uint32_t p = 0; p < 700; ++p) {
    const std::uint32_t person = 1000 + (p * 7919u) % 100000u;  // scattered ids
    const int n = p % 5 == 0 ? 3 : (p % 3 == 0 ? 2 : 1);
    for (int t = 0; t < n; ++t) all.push_back({person, random_vec(rng, dim), t ? TemplateKind::masked : TemplateKind::unmasked});
  }
  Gallery g(dim);
  for (const auto& e : all) g.add(e.person, e.v, e.kind);
  ASSERT_EQ(g.size(), all.size());

  int checked_top1 = 0;
  for (int q = 0; q < 60; ++q) {
    const Vec probe = q % 2 ? noisy(rng, all[rng.next() % all.size()].v) : random_vec(rng, dim);
    const auto ref = reference(all, probe);
    const std::size_t k = 10;
    const auto got = g.search(probe, k);
    ASSERT_EQ(got.size(), k);
    std::map<std::uint32_t, double> ref_score;
    for (const auto& r : ref) ref_score[r.person] = r.score;
    for (std::size_t i = 0; i < k; ++i) {
      EXPECT_NEAR(got[i].score, ref[i].score, kEps) << "probe " << q << " rank " << i;
      EXPECT_NEAR(got[i].score, ref_score.at(got[i].person), kEps) << "probe " << q << " rank " << i;
      if (i > 0) {
        EXPECT_TRUE(got[i - 1].score > got[i].score ||
                    (got[i - 1].score == got[i].score && got[i - 1].person < got[i].person));
      }
      EXPECT_NEAR(*g.verify(got[i].person, probe), got[i].score, 0.0f);
    }
    // Top-1 must be the reference's whenever the reference is not a tie within float rounding.
    if (ref[0].score - ref[1].score > 1e-5) {
      EXPECT_EQ(got[0].person, ref[0].person) << "probe " << q;
      ++checked_top1;
    }
    const auto one = g.search(probe, 1);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0], got[0]);
  }
  EXPECT_GE(checked_top1, 55);
}

INSTANTIATE_TEST_SUITE_P(Dims, GalleryReference, ::testing::Values(std::size_t{512}, std::size_t{100}, std::size_t{7}));

TEST(Gallery, ConcurrentSearchesGiveTheSameAnswers) {
  Rng rng(5);
  Gallery g(512);
  std::vector<Vec> probes;
  for (std::uint32_t p = 0; p < 2000; ++p) g.add(p, random_vec(rng, 512), TemplateKind::unmasked);
  for (int q = 0; q < 100; ++q) probes.push_back(random_vec(rng, 512));
  std::vector<std::vector<Match>> expected;
  for (const auto& p : probes) expected.push_back(g.search(p, 5));

  std::vector<int> mismatches(2, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < probes.size(); ++i) {
          const std::size_t q = t ? probes.size() - 1 - i : i;  // the two threads walk in opposite orders
          if (g.search(probes[q], 5) != expected[q]) ++mismatches[static_cast<std::size_t>(t)];
          if (g.verify(static_cast<std::uint32_t>(q), probes[q]) != g.verify(static_cast<std::uint32_t>(q), probes[q])) {
            ++mismatches[static_cast<std::size_t>(t)];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches[0], 0);
  EXPECT_EQ(mismatches[1], 0);
}

TEST(Gallery, MemoryIsAboutOneRowPerTemplate) {
  Gallery g(512);
  g.reserve(1000);
  Rng rng(8);
  for (std::uint32_t p = 0; p < 1000; ++p) g.add(p, random_vec(rng, 512), TemplateKind::unmasked);
  const double per = static_cast<double>(g.memory_bytes()) / 1000.0;
  EXPECT_GE(per, 2048.0);
  EXPECT_LT(per, 2048.0 + 128.0);
}

// ---- GalleryStore -----------------------------------------------------------------------------------

constexpr const char* kModel = "faceplugin-0.0.1/fr_feature";
constexpr std::size_t kDim = 512;

// A fresh directory per test under the system temp dir, removed afterwards.
class GalleryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "gatetwin-gallery-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    file_ = dir_ / "gallery.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Raw SQL on the file, for damaging it the ways the store must detect.
  void raw_sql(const std::string& sql) const {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << msg;
  }

  std::string bytes_of_dir() const {
    std::string all;
    for (const auto& e : fs::directory_iterator(dir_)) {
      std::ifstream in(e.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
  }

  std::string open_error(const std::string& model = kModel, std::size_t dim = kDim) const {
    try {
      GalleryStore s(file_, model, dim);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "(opened)";
  }

  fs::path dir_;
  fs::path file_;
};

StoreTime at(std::int64_t us) { return StoreTime(std::chrono::microseconds(us)); }

TEST_F(GalleryStoreTest, RoundTripIntoAGalleryAndAfterReopening) {
  Rng rng(42);
  std::vector<Enrolled> all;
  for (std::uint32_t p = 0; p < 40; ++p) {
    all.push_back({p * 3 + 1, random_vec(rng, kDim), TemplateKind::unmasked});
    if (p % 4 == 0) all.push_back({p * 3 + 1, random_vec(rng, kDim), TemplateKind::masked});
  }
  all.push_back({std::numeric_limits<std::uint32_t>::max(), random_vec(rng, kDim), TemplateKind::masked});
  Gallery direct(kDim);
  for (const auto& e : all) direct.add(e.person, e.v, e.kind);

  {
    GalleryStore store(file_, kModel, kDim);
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.add(all[0].person, all[0].v, all[0].kind, at(1'600'000'000'000'000)), 1);
    std::vector<NewTemplate> batch;
    for (std::size_t i = 1; i < all.size(); ++i) {
      batch.push_back({all[i].person, all[i].kind, all[i].v, at(1'600'000'000'000'000 + static_cast<std::int64_t>(i))});
    }
    const auto ids = store.add(batch);
    ASSERT_EQ(ids.size(), batch.size());
    EXPECT_EQ(ids.front(), 2);
    EXPECT_EQ(store.size(), all.size());
  }
  GalleryStore store(file_, kModel, kDim);
  const auto listed = store.list();
  ASSERT_EQ(listed.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(listed[i].id, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(listed[i].person, all[i].person);
    EXPECT_EQ(listed[i].kind, all[i].kind);
    EXPECT_EQ(listed[i].model, kModel);
    EXPECT_EQ(listed[i].dim, kDim);
    EXPECT_EQ(listed[i].created, at(1'600'000'000'000'000 + static_cast<std::int64_t>(i)));
  }

  Gallery loaded(kDim);
  EXPECT_EQ(store.load_into(loaded), all.size());
  EXPECT_EQ(loaded.size(), direct.size());
  EXPECT_EQ(loaded.persons(), direct.persons());
  for (int q = 0; q < 20; ++q) {
    const Vec probe = q % 2 ? noisy(rng, all[static_cast<std::size_t>(q)].v) : random_vec(rng, kDim);
    EXPECT_EQ(loaded.search(probe, 5), direct.search(probe, 5));  // bit-identical floats
  }
  EXPECT_TRUE(loaded.contains(std::numeric_limits<std::uint32_t>::max()));

  Gallery other_dim(128);
  EXPECT_THROW(store.load_into(other_dim), std::invalid_argument);
}

TEST_F(GalleryStoreTest, RemovePersists) {
  Rng rng(1);
  {
    GalleryStore store(file_, kModel, kDim);
    store.add(1, random_vec(rng, kDim), TemplateKind::unmasked, at(1));
    store.add(2, random_vec(rng, kDim), TemplateKind::unmasked, at(2));
    store.add(2, random_vec(rng, kDim), TemplateKind::masked, at(3));
    store.add(3, random_vec(rng, kDim), TemplateKind::unmasked, at(4));
    EXPECT_EQ(store.remove(2), 2u);
    EXPECT_EQ(store.remove(2), 0u);
    EXPECT_EQ(store.remove(99), 0u);
  }
  GalleryStore store(file_, kModel, kDim);
  const auto listed = store.list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].person, 1u);
  EXPECT_EQ(listed[1].person, 3u);
  Gallery g(kDim);
  EXPECT_EQ(store.load_into(g), 2u);
  EXPECT_FALSE(g.contains(2));
  EXPECT_TRUE(g.contains(1));
  EXPECT_TRUE(g.contains(3));
}

TEST_F(GalleryStoreTest, ARemovedTemplateLeavesNoBytesInTheFiles) {
  Rng rng(2);
  Vec secret(kDim);
  for (std::size_t i = 0; i < kDim; ++i) secret[i] = 1.0f + static_cast<float>(i) * 0.0009765625f;  // distinctive
  std::string pattern(64, '\0');
  std::memcpy(pattern.data(), secret.data() + 100, 64);  // little-endian float32, as stored
  static_assert(std::endian::native == std::endian::little, "the pattern assumes a little-endian host");

  GalleryStore store(file_, kModel, kDim);
  for (std::uint32_t p = 0; p < 20; ++p) store.add(p, random_vec(rng, kDim), TemplateKind::unmasked, at(p));
  store.add(777, secret, TemplateKind::unmasked, at(99));
  for (std::uint32_t p = 20; p < 40; ++p) store.add(p, random_vec(rng, kDim), TemplateKind::unmasked, at(p));
  ASSERT_NE(bytes_of_dir().find(pattern), std::string::npos) << "the pattern must be findable before removal";
  EXPECT_EQ(store.remove(777), 1u);
  EXPECT_EQ(bytes_of_dir().find(pattern), std::string::npos) << "template bytes left in the database or its WAL";
  EXPECT_EQ(store.size(), 40u);
}

TEST_F(GalleryStoreTest, RejectsInvalidTemplatesAndStoresNoneOfABadBatch) {
  GalleryStore store(file_, kModel, kDim);
  Rng rng(3);
  Vec good = random_vec(rng, kDim);
  Vec bad = good;
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(store.add(1, bad, TemplateKind::unmasked, at(0)), std::invalid_argument);
  EXPECT_THROW(store.add(1, Vec(kDim, 0.0f), TemplateKind::unmasked, at(0)), std::invalid_argument);
  EXPECT_THROW(store.add(1, Vec(3, 1.0f), TemplateKind::unmasked, at(0)), std::invalid_argument);
  const std::vector<NewTemplate> batch{{1, TemplateKind::unmasked, good, at(0)}, {2, TemplateKind::unmasked, bad, at(0)}};
  EXPECT_THROW(store.add(batch), std::invalid_argument);
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(GalleryStoreTest, AFileThatIsNotADatabaseIsAClearError) {
  std::ofstream(file_) << "resident,name\n1,nobody\n" << std::string(5000, 'x');
  const std::string e = open_error();
  EXPECT_NE(e.find(file_.string()), std::string::npos) << e;
  EXPECT_NE(e.find("not a database"), std::string::npos) << e;
}

TEST_F(GalleryStoreTest, ADamagedDatabaseIsAClearError) {
  Rng rng(4);
  {
    GalleryStore store(file_, kModel, kDim);
    std::vector<Vec> vs;
    for (int i = 0; i < 50; ++i) vs.push_back(random_vec(rng, kDim));
    std::vector<NewTemplate> batch;
    for (std::uint32_t i = 0; i < 50; ++i) batch.push_back({i, TemplateKind::unmasked, vs[i], at(i)});
    store.add(batch);
  }
  // Overwrite the start of the templates table's root page (page 2) with garbage.
  {
    std::fstream f(file_, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekp(4096);
    const std::string junk(64, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const std::string e = open_error();
  EXPECT_NE(e.find(file_.string()), std::string::npos) << e;
  EXPECT_TRUE(e.find("corrupt") != std::string::npos || e.find("malformed") != std::string::npos) << e;
}

TEST_F(GalleryStoreTest, AnotherModelsTemplatesAreRefused) {
  { GalleryStore(file_, kModel, kDim).add(1, Vec(kDim, 1.0f), TemplateKind::unmasked, at(0)); }
  const std::string e = open_error("other-vendor/arcface-r100");
  EXPECT_NE(e.find(file_.string()), std::string::npos) << e;
  EXPECT_NE(e.find(std::string("'") + kModel + "'"), std::string::npos) << e;
  EXPECT_NE(e.find("'other-vendor/arcface-r100'"), std::string::npos) << e;
  EXPECT_EQ(open_error(), "(opened)");
}

TEST_F(GalleryStoreTest, AnotherDimensionIsRefused) {
  { GalleryStore(file_, kModel, kDim).add(1, Vec(kDim, 1.0f), TemplateKind::unmasked, at(0)); }
  const std::string e = open_error(kModel, 256);
  EXPECT_NE(e.find("dimension 512, expected 256"), std::string::npos) << e;
}

TEST_F(GalleryStoreTest, ATruncatedBlobIsAClearError) {
  {
    GalleryStore store(file_, kModel, kDim);
    store.add(1, Vec(kDim, 1.0f), TemplateKind::unmasked, at(0));
    store.add(2, Vec(kDim, 2.0f), TemplateKind::unmasked, at(0));
  }
  // The schema's CHECK refuses such a row; a damaged or hand-edited file can still hold one.
  raw_sql("PRAGMA ignore_check_constraints=ON; UPDATE templates SET embedding = substr(embedding, 1, 1000) WHERE person = 2;");
  const std::string e = open_error();
  EXPECT_NE(e.find(file_.string()), std::string::npos) << e;
  EXPECT_NE(e.find("template id 2 (person 2)"), std::string::npos) << e;
  EXPECT_NE(e.find("1000 bytes, expected 2048"), std::string::npos) << e;
}

TEST_F(GalleryStoreTest, AnotherSchemaVersionIsRefused) {
  { GalleryStore store(file_, kModel, kDim); }
  raw_sql("PRAGMA user_version=2;");
  const std::string e = open_error();
  EXPECT_NE(e.find(file_.string()), std::string::npos) << e;
  EXPECT_NE(e.find("schema version 2"), std::string::npos) << e;
}

TEST_F(GalleryStoreTest, AForeignDatabaseIsRefused) {
  raw_sql("CREATE TABLE residents (id INTEGER, name TEXT);");
  const std::string e = open_error();
  EXPECT_NE(e.find("not a GateTwin gallery store"), std::string::npos) << e;
}

TEST_F(GalleryStoreTest, AnUnopenablePathIsAClearError) {
  file_ = dir_ / "no-such-dir" / "gallery.db";
  const std::string e = open_error();
  EXPECT_NE(e.find(file_.string()), std::string::npos) << e;
  EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
}

TEST_F(GalleryStoreTest, UsesWalAndTheCurrentSchemaVersion) {
  { GalleryStore store(file_, kModel, kDim); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file_.c_str(), &db), SQLITE_OK);
  auto one = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(s), SQLITE_ROW);
    std::string v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  };
  EXPECT_EQ(one("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(one("PRAGMA user_version"), std::to_string(GalleryStore::kSchemaVersion));
  sqlite3_close(db);
}

}  // namespace
}  // namespace gatetwin::recognizer
