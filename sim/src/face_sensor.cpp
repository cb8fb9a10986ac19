// The statistical face sensor (scores sampled from the scenario's face.* distributions) and the attempt
// counting shared with pixel mode. The order of random draws is part of the golden event logs: keep it.
#include "gatetwin/sim/face_sensor.hpp"

#include <algorithm>
#include <cmath>

namespace gatetwin::sim {

using recognizer::FaceEvidence;
using recognizer::MaskState;

void count_face_attempt(AttemptCounts& c, MaskState truth, const AttemptTally& t, double threshold) {
  const int m = static_cast<int>(truth);
  ++c.face_attempts[m];
  if (!t.acquired) {
    ++c.fta[m];
    return;
  }
  if (!t.genuine && !t.best_other) return;  // nothing enrolled to compare with
  if (t.enrolled) {
    ++c.genuine[m];
    const double genuine = t.genuine.value_or(-2.0);  // no own template: a non-match
    if (genuine < threshold) ++c.genuine_nonmatch[m];
    if (t.best_other && *t.best_other > genuine && *t.best_other >= threshold) ++c.misidentified;
    return;
  }
  ++c.impostor[m];
  if (t.best_other && *t.best_other >= threshold) ++c.impostor_match[m];
}

namespace {

class StatisticalFaceSensor final : public FaceSensor {
 public:
  explicit StatisticalFaceSensor(const Scenario& s) : s_(s) {}

  FaceEvidence capture(const FaceRequest& q, RandomStream& r, AttemptCounts& counts) override {
    const Person& p = *q.person;
    const std::vector<std::uint32_t>& ids = *q.gallery;
    const int m = static_cast<int>(q.truth);
    FaceEvidence e;
    AttemptTally t;
    t.enrolled = p.enrolled;
    const double fta = q.truth == MaskState::none ? s_.face.fta_unmasked : s_.face.fta_masked;
    if (fails_to_acquire(p, fta, r)) {
      count_face_attempt(counts, q.truth, t, 0.0);
      return e;
    }
    e.acquired = t.acquired = true;
    e.mask = q.truth;
    if (!r.bernoulli(s_.face.mask_classifier_accuracy)) {
      const int shift = 1 + static_cast<int>(r.below(2));
      e.mask = static_cast<MaskState>((m + shift) % 3);
    }
    const double thr = recognizer::threshold_for(s_.policy, e.mask);
    const std::uint64_t gallery = ids.size();
    if (gallery == 0) {
      count_face_attempt(counts, q.truth, t, thr);
      return e;
    }
    if (p.enrolled) {
      const double genuine = genuine_score(p, q.truth, r);
      t.genuine = genuine;
      const ScoreDist& imp = impostor_dist(q.truth);
      const double other = gallery > 1 ? impostor_max(p, imp, gallery - 1, r) : -1.0;
      if (gallery > 1) t.best_other = other;
      if (other > genuine) {
        e.best_id = other_enrolled(ids, p.id, r);
        e.score = other;
      } else {
        e.best_id = p.id;
        e.score = genuine;
      }
      count_face_attempt(counts, q.truth, t, thr);
      return e;
    }
    // Not enrolled: every gallery comparison is an impostor comparison; a look-alike scores high against
    // the resident they resemble.
    const ScoreDist& imp = impostor_dist(q.truth);
    double best = impostor_max(p, imp, p.kind == PersonKind::lookalike ? gallery - 1 : gallery, r);
    e.best_id = p.kind == PersonKind::lookalike ? other_enrolled(ids, p.impersonates, r) : ids[r.below(gallery)];
    if (p.kind == PersonKind::lookalike) {
      const double rho = s_.face.impostor_between_person;
      const double victim = rho <= 0.0 ? r.normal(s_.face.lookalike.mean, s_.face.lookalike.sd)
                                       : r.normal(s_.face.lookalike.mean + s_.face.lookalike.sd * std::sqrt(rho) * person_latent(p)[3],
                                                  s_.face.lookalike.sd * std::sqrt(1.0 - rho));
      if (victim >= best) {
        best = victim;
        e.best_id = p.impersonates;
      }
    }
    e.score = best;
    t.best_other = best;
    count_face_attempt(counts, q.truth, t, thr);
    return e;
  }

  std::optional<double> verify(const FaceRequest& q, std::uint32_t holder, RandomStream& r) override {
    const Person& p = *q.person;
    if (p.kind == PersonKind::resident && p.id == holder) {
      if (!p.enrolled) return std::nullopt;
      return genuine_score(p, q.truth, r);
    }
    return r.normal(impostor_dist(q.truth).mean, impostor_dist(q.truth).sd);
  }

 private:
  // The person's own latent values for the day (standard normal): [0] genuine score, [1] acquisition,
  // [2] best impostor score, [3] a look-alike's score against their victim.
  std::array<double, 4> person_latent(const Person& p) const {
    RandomStream own(s_.seed, "face.person", p.id);
    std::array<double, 4> z{};
    for (double& v : z) v = own.normal(0.0, 1.0);
    return z;
  }
  // The best of n impostor comparisons, by inversion; with a person effect the uniform comes from a
  // Gaussian copula that shares the person's latent value across their attempts.
  double impostor_max(const Person& p, const ScoreDist& d, std::uint64_t n, RandomStream& r) const {
    const double rho = s_.face.impostor_between_person;
    if (rho <= 0.0) return r.max_of_normals(d.mean, d.sd, n);  // the draw the golden logs were made with
    const double e = inverse_normal_cdf(std::clamp(r.uniform(), 1e-12, 1.0 - 1e-12));
    const double u = std::clamp(normal_cdf(std::sqrt(rho) * person_latent(p)[2] + std::sqrt(1.0 - rho) * e), 1e-300, 1.0 - 1e-16);
    return d.mean + d.sd * inverse_normal_cdf(std::pow(u, 1.0 / static_cast<double>(n)));
  }
  double genuine_score(const Person& p, MaskState truth, RandomStream& r) const {
    const ScoreDist& d = genuine_dist(truth);
    const double share = s_.face.genuine_between_person;
    if (share <= 0.0) return r.normal(d.mean, d.sd);  // the draw the golden logs were made with
    return r.normal(d.mean + d.sd * std::sqrt(share) * person_latent(p)[0], d.sd * std::sqrt(1.0 - share));
  }
  // Fails when sqrt(rho) z_person + sqrt(1 - rho) e < Phi^-1(fta), so the marginal rate stays `fta`.
  bool fails_to_acquire(const Person& p, double fta, RandomStream& r) const {
    const double rho = s_.face.fta_between_person;
    if (rho <= 0.0 || fta <= 0.0 || fta >= 1.0) return r.bernoulli(fta);
    const double u = std::clamp(r.uniform(), 1e-12, 1.0 - 1e-12);
    return std::sqrt(rho) * person_latent(p)[1] + std::sqrt(1.0 - rho) * inverse_normal_cdf(u) < inverse_normal_cdf(fta);
  }
  const ScoreDist& genuine_dist(MaskState m) const {
    return m == MaskState::none ? s_.face.genuine_unmasked : m == MaskState::worn ? s_.face.genuine_masked : s_.face.genuine_below_nose;
  }
  const ScoreDist& impostor_dist(MaskState m) const { return m == MaskState::none ? s_.face.impostor : s_.face.impostor_masked; }
  static std::uint32_t other_enrolled(const std::vector<std::uint32_t>& ids, std::uint32_t self, RandomStream& r) {
    const std::size_t k = r.below(ids.size());
    return ids[k] != self ? ids[k] : ids[(k + 1) % ids.size()];
  }

  const Scenario& s_;
};

}  // namespace

std::unique_ptr<FaceSensor> make_statistical_face_sensor(const Scenario& scenario) {
  return std::make_unique<StatisticalFaceSensor>(scenario);
}

std::unique_ptr<FaceSensor> make_face_sensor(const Scenario& scenario, const Population& population) {
  if (scenario.fidelity == "pixel") return make_pixel_face_sensor(scenario, population);
  return make_statistical_face_sensor(scenario);
}

}  // namespace gatetwin::sim
