#include "gatetwin/sim/calibration.hpp"

#include "gatetwin/sim/random.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <map>
#include <optional>
#include <sstream>

namespace gatetwin::sim {
namespace {

constexpr const char* kMaskNames[3] = {"none", "worn", "below_nose"};
constexpr std::size_t kMinSamples = 20;

std::string fmt(double v, int digits = 4) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto i = static_cast<std::size_t>(pos);
  const double f = pos - static_cast<double>(i);
  return i + 1 < sorted.size() ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

// A normal through the sample's median and its q-quantile (q != 0.5).
ScoreDist quantile_fit(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  ScoreDist d;
  d.mean = quantile(v, 0.5);
  d.sd = std::max(0.005, (quantile(v, q) - d.mean) / inverse_normal_cdf(q));
  return d;
}

// ICC(1) of (group, value) pairs: one-way random-effects ANOVA over groups with at least two values;
// nullopt with fewer than 10 such groups.
std::optional<double> icc1(const std::vector<std::pair<std::uint32_t, double>>& values) {
  std::map<std::uint32_t, std::vector<double>> by;
  for (const auto& [g, v] : values) by[g].push_back(v);
  double n_total = 0, sum_sq_n = 0, grand = 0, groups = 0;
  for (auto it = by.begin(); it != by.end();) {
    if (it->second.size() < 2) {
      it = by.erase(it);
      continue;
    }
    const double n = static_cast<double>(it->second.size());
    n_total += n, sum_sq_n += n * n, groups += 1;
    for (double v : it->second) grand += v;
    ++it;
  }
  if (groups < 10) return std::nullopt;
  grand /= n_total;
  double ssb = 0, ssw = 0;
  for (const auto& [g, v] : by) {
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    ssb += static_cast<double>(v.size()) * (mean - grand) * (mean - grand);
    for (double x : v) ssw += (x - mean) * (x - mean);
  }
  const double msb = ssb / (groups - 1), msw = ssw / std::max(1.0, n_total - groups);
  const double k0 = (n_total - sum_sq_n / n_total) / (groups - 1);
  if (msb + (k0 - 1) * msw <= 0) return 0.0;
  return std::clamp((msb - msw) / (msb + (k0 - 1) * msw), 0.0, 1.0);
}

// One-way random-effects ANOVA: the share of the genuine-score variance that lies between persons
// (intraclass correlation ICC(1)), over persons with at least two acquired, scored attempts; pooled over
// mask states after removing each state's mean. Returns nullopt with fewer than 10 such persons.
std::optional<double> between_person_share(const PixelMeasurements& m) {
  double state_sum[3] = {}, state_n[3] = {};
  for (const auto& g : m.genuine_attempts)
    if (g.acquired && !std::isnan(g.score)) state_sum[g.truth] += g.score, state_n[g.truth] += 1;
  std::vector<std::pair<std::uint32_t, double>> v;
  for (const auto& g : m.genuine_attempts)
    if (g.acquired && !std::isnan(g.score)) v.emplace_back(g.person, g.score - state_sum[g.truth] / state_n[g.truth]);
  return icc1(v);
}

// Failure to acquire again on the same person's next attempt, against the overall rate.
std::pair<double, double> fta_repeat(const PixelMeasurements& m) {
  std::map<std::uint32_t, std::vector<bool>> by_person;
  for (const auto& g : m.genuine_attempts) by_person[g.person].push_back(!g.acquired);
  double after_fail = 0, after_fail_n = 0, fails = 0, n = 0;
  for (const auto& [person, v] : by_person)
    for (std::size_t i = 0; i < v.size(); ++i) {
      fails += v[i], n += 1;
      if (i > 0 && v[i - 1]) after_fail += v[i], after_fail_n += 1;
    }
  return {n > 0 ? fails / n : 0.0, after_fail_n > 0 ? after_fail / after_fail_n : 0.0};
}

// The latent correlation rho for which two attempts by one person both fail with probability `both`, when
// each fails with probability p: P = integral phi(z) Phi((t - sqrt(rho) z) / sqrt(1 - rho))^2 dz, t = Phi^-1(p).
double latent_correlation(double p, double both) {
  if (p <= 0.0 || p >= 1.0 || both <= p * p) return 0.0;
  const double t = inverse_normal_cdf(p);
  auto joint = [&](double rho) {
    double sum = 0;
    const double h = 0.02;
    for (double z = -8; z <= 8; z += h) {
      const double c = normal_cdf((t - std::sqrt(rho) * z) / std::sqrt(1.0 - rho));
      sum += std::exp(-0.5 * z * z) * c * c * h;
    }
    return sum / std::sqrt(2.0 * 3.14159265358979323846);
  };
  double lo = 0.0, hi = 0.99;
  if (joint(hi) <= both) return hi;
  for (int i = 0; i < 40; ++i) {
    const double mid = 0.5 * (lo + hi);
    (joint(mid) < both ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// Scores of acquired attempts against the person's own template, by true mask state.
std::array<std::vector<double>, 3> genuine_scores(const PixelMeasurements& m) {
  std::array<std::vector<double>, 3> out;
  for (const auto& g : m.genuine_attempts)
    if (g.acquired && !std::isnan(g.score)) out[g.truth].push_back(g.score);
  return out;
}

// Quantile of a histogram over [-1, 1) (linear inside the bin).
double hist_quantile(const std::array<std::uint64_t, PixelMeasurements::kBins>& h, std::uint64_t n, double q) {
  const double target = q * static_cast<double>(n);
  double cum = 0;
  const double width = 2.0 / PixelMeasurements::kBins;
  for (int b = 0; b < PixelMeasurements::kBins; ++b) {
    const double c = static_cast<double>(h[static_cast<std::size_t>(b)]);
    if (cum + c >= target && c > 0) return -1.0 + width * (b + (target - cum) / c);
    cum += c;
  }
  return 1.0;
}

}  // namespace

Calibration fit_calibration(const Scenario& s, const RunOutput& out) {
  Calibration cal;
  cal.face = s.face;
  cal.face.calibration.clear();
  const PixelMeasurements& m = out.pixel;
  const AttemptCounts& a = out.attempts;
  // Genuine scores: a normal through the median and the 10th percentile, because false non-matches live in
  // the lower tail and pixel-mode genuine scores have a long one (poor frames).
  const auto own = genuine_scores(m);
  ScoreDist* genuine[3] = {&cal.face.genuine_unmasked, &cal.face.genuine_masked, &cal.face.genuine_below_nose};
  for (int k = 0; k < 3; ++k) {
    if (own[k].size() >= kMinSamples) *genuine[k] = quantile_fit(own[k], 0.10);
    else cal.notes.push_back(std::string("face.genuine_") + (k == 0 ? "unmasked" : k == 1 ? "masked" : "below_nose") + ": " +
                             std::to_string(own[k].size()) + " genuine scores, kept the scenario's value");
  }
  // Look-alikes: through the median and the 90th percentile (false accepts live in the upper tail).
  if (m.lookalike.size() >= kMinSamples) cal.face.lookalike = quantile_fit(m.lookalike, 0.90);
  else cal.notes.push_back("face.lookalike: " + std::to_string(m.lookalike.size()) + " look-alike scores, kept the scenario's value");

  // Impostors: the statistical model draws the best of n iid normal comparisons. The per-comparison mean is
  // the measured one; the sd is chosen so that the best of n reproduces the median of the observed 1:N
  // maxima. That carries the correlation between one probe's comparisons, which an iid fit to single
  // scores misses, while extrapolating to other gallery sizes from a distribution centred where the
  // comparisons really are (a two-quantile fit of the maxima alone can put the mean anywhere).
  auto fit_impostor = [&](std::initializer_list<int> states, ScoreDist& into, const char* key) {
    std::vector<double> best;
    std::vector<double> n;
    for (int k : states)
      for (const auto& b : m.best_impostor[static_cast<std::size_t>(k)]) {
        best.push_back(b.score);
        n.push_back(b.compared);
      }
    double sum = 0, count = 0;
    for (int k : states) sum += m.impostor_sum[static_cast<std::size_t>(k)], count += static_cast<double>(m.impostor_n[static_cast<std::size_t>(k)]);
    if (best.size() < kMinSamples || count < 1) {
      cal.notes.push_back(std::string(key) + ": " + std::to_string(best.size()) + " 1:N searches, kept the scenario's value");
      return;
    }
    std::sort(best.begin(), best.end());
    std::nth_element(n.begin(), n.begin() + static_cast<std::ptrdiff_t>(n.size() / 2), n.end());
    const double gallery = std::max(1.0, n[n.size() / 2]);
    const double m50 = quantile(best, 0.5);
    const double z50 = inverse_normal_cdf(std::pow(0.5, 1.0 / gallery));
    into.mean = sum / count;
    into.sd = std::max(0.005, (m50 - into.mean) / std::max(0.1, z50));
  };
  fit_impostor({0}, cal.face.impostor, "face.impostor");
  fit_impostor({1, 2}, cal.face.impostor_masked, "face.impostor_masked");
  // Person effect of the maxima: each maximum mapped to the normal score of its fitted distribution,
  // z = Phi^-1(Phi((x - mean) / sd)^n), then the between-person share of z's variance (ICC(1)).
  {
    std::vector<std::pair<std::uint32_t, double>> z;
    for (int k = 0; k < 3; ++k) {
      const ScoreDist& d = k == 0 ? cal.face.impostor : cal.face.impostor_masked;
      for (const auto& b : m.best_impostor[static_cast<std::size_t>(k)]) {
        const double c = std::pow(normal_cdf((b.score - d.mean) / d.sd), static_cast<double>(b.compared));
        z.emplace_back(b.person, inverse_normal_cdf(std::clamp(c, 1e-12, 1.0 - 1e-12)));
      }
    }
    if (const auto icc = icc1(z)) cal.face.impostor_between_person = *icc;
  }

  // Person effects: the between-person share of genuine-score variance, and the latent correlation of one
  // person's failures to acquire (from how often a failure follows a failure by the same person).
  if (const auto icc = between_person_share(m)) cal.face.genuine_between_person = *icc;
  else cal.notes.push_back("face.genuine_between_person: fewer than 10 residents with two scored attempts, kept the scenario's value");
  {
    const auto [p_fail, p_again] = fta_repeat(m);
    cal.face.fta_between_person = latent_correlation(p_fail, p_fail * p_again);
  }

  const std::uint64_t att_u = a.face_attempts[0], att_m = a.face_attempts[1] + a.face_attempts[2];
  if (att_u > 0) cal.face.fta_unmasked = static_cast<double>(a.fta[0]) / static_cast<double>(att_u);
  else cal.notes.push_back("face.fta_unmasked: no unmasked attempts, kept the scenario's value");
  if (att_m > 0) cal.face.fta_masked = static_cast<double>(a.fta[1] + a.fta[2]) / static_cast<double>(att_m);
  else cal.notes.push_back("face.fta_masked: no masked attempts, kept the scenario's value");
  std::uint64_t right = 0, all = 0;
  for (int t = 0; t < 3; ++t)
    for (int c = 0; c < 3; ++c) {
      all += m.mask_confusion[t][c];
      if (t == c) right += m.mask_confusion[t][c];
    }
  if (all > 0) cal.face.mask_classifier_accuracy = static_cast<double>(right) / static_cast<double>(all);

  std::ostringstream y;
  y << "measured:\n";
  y << "  scenario: \"" << s.name << "\"\n  seed: " << s.seed << "\n  fidelity: pixel\n";
  y << "  passages: " << out.passages.size() << "\n  enrolled: " << m.enrolled << "\n  failed_to_enrol: " << m.failed_to_enrol << "\n";
  y << "  attempts: " << m.attempts << "\n  frames_analysed: " << m.frames_analysed << "\n";
  y << "  decided_on_other_person: " << m.decided_on_other << "\n";
  y << "  by_mask:\n";
  for (int k = 0; k < 3; ++k) {
    y << "    " << kMaskNames[k] << ": {attempts: " << a.face_attempts[k] << ", fta: " << a.fta[k] << ", genuine_scores: " << own[k].size()
      << ", impostor_comparisons: " << m.impostor_n[k];
    if (m.impostor_n[k] > 0) {
      const double mean = m.impostor_sum[k] / static_cast<double>(m.impostor_n[k]);
      y << ", impostor_mean: " << fmt(mean) << ", impostor_p999: " << fmt(hist_quantile(m.impostor_hist[k], m.impostor_n[k], 0.999));
    }
    y << "}\n";
  }
  if (const auto icc = between_person_share(m)) y << "  genuine_between_person_share: " << fmt(*icc, 3) << "\n";
  const auto [fta_all, fta_again] = fta_repeat(m);
  y << "  fta_enrolled: " << fmt(fta_all, 4) << "\n  fta_after_fta_same_person: " << fmt(fta_again, 4) << "\n";
  y << "  by_attempt:  # enrolled residents: first attempt (the approach) and retries (standing at the terminal)\n";
  for (int first = 1; first >= 0; --first)
    for (int k = 0; k < 2; ++k) {
      std::vector<double> scores;
      double n = 0, fails = 0;
      for (const auto& g : m.genuine_attempts) {
        if ((g.attempt == 0) != static_cast<bool>(first) || (k == 0) != (g.truth == 0)) continue;
        n += 1;
        if (!g.acquired) fails += 1;
        else if (!std::isnan(g.score)) scores.push_back(g.score);
      }
      if (n == 0) continue;
      std::sort(scores.begin(), scores.end());
      y << "    " << (first ? "first" : "retry") << "_" << (k == 0 ? "unmasked" : "masked") << ": {attempts: " << n << ", fta: " << fmt(fails / n, 3);
      if (!scores.empty()) y << ", genuine_median: " << fmt(quantile(scores, 0.5), 3) << ", genuine_p10: " << fmt(quantile(scores, 0.1), 3);
      y << "}\n";
    }
  y << "  lookalike_scores: " << m.lookalike.size() << "\n";
  y << "  mask_confusion:  # rows: true none/worn/below_nose; columns: classified\n";
  for (int t = 0; t < 3; ++t) y << "    - [" << m.mask_confusion[t][0] << ", " << m.mask_confusion[t][1] << ", " << m.mask_confusion[t][2] << "]\n";
  if (!m.failure_reasons.empty()) {
    y << "  failures_to_acquire:\n";
    for (const auto& [reason, count] : m.failure_reasons) y << "    " << reason << ": " << count << "\n";
  }
  const double frames = std::max<double>(1.0, static_cast<double>(m.frames_analysed));
  y << "  latency_ms_per_frame:  # the real core on this machine, mean over analysed frames\n";
  for (int i = 0; i < 7; ++i) y << "    " << PixelMeasurements::kStages[i] << ": " << fmt(m.stage_ms_sum[static_cast<std::size_t>(i)] / frames, 2) << "\n";
  y << "  render_ms_per_frame: " << fmt(m.render_ms_sum / std::max<double>(1.0, static_cast<double>(m.frames_rendered)), 2) << "\n";
  if (m.attempts > 0) {
    y << "  frames_per_attempt: " << fmt(static_cast<double>(m.attempt_frames) / static_cast<double>(m.attempts), 2) << "\n";
    y << "  core_ms_per_attempt: " << fmt(m.attempt_core_ms / static_cast<double>(m.attempts), 1) << "\n";
  }
  cal.measured_yaml = y.str();
  return cal;
}

std::string calibration_yaml(const Scenario& s, const Calibration& cal) {
  std::ostringstream y;
  const FaceModelSpec& f = cal.face;
  y << "# GateTwin face calibration: the statistical face model fitted to what the real recognition core did\n"
    << "# on rendered passages of scenario \"" << s.name << "\" (seed " << s.seed << ", fidelity: pixel).\n"
    << "# Written by `gatetwin calibrate`; load it with `face.calibration: <this file>` (docs/calibration.md).\n";
  for (const auto& note : cal.notes) y << "# not measured: " << note << "\n";
  auto dist = [&](const char* key, const ScoreDist& d) { y << key << ": {mean: " << fmt(d.mean) << ", sd: " << fmt(d.sd) << "}\n"; };
  dist("genuine_unmasked", f.genuine_unmasked);
  dist("genuine_masked", f.genuine_masked);
  dist("genuine_below_nose", f.genuine_below_nose);
  dist("impostor", f.impostor);
  dist("impostor_masked", f.impostor_masked);
  dist("lookalike", f.lookalike);
  y << "genuine_between_person: " << fmt(f.genuine_between_person, 3) << "\n";
  y << "fta_between_person: " << fmt(f.fta_between_person, 3) << "\n";
  y << "impostor_between_person: " << fmt(f.impostor_between_person, 3) << "\n";
  y << "fta_unmasked: " << fmt(f.fta_unmasked, 5) << "\n";
  y << "fta_masked: " << fmt(f.fta_masked, 5) << "\n";
  y << "mask_classifier_accuracy: " << fmt(f.mask_classifier_accuracy, 5) << "\n";
  y << cal.measured_yaml;
  return y.str();
}

}  // namespace gatetwin::sim
