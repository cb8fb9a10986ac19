#include "gatetwin/sim/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace gatetwin::sim {

using recognizer::Credential;
using recognizer::Reason;
using recognizer::Verdict;

Summary summarise(std::vector<double> v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  auto rank = [&](double p) {
    const auto k = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
  };
  s.p50 = rank(0.50);
  s.p95 = rank(0.95);
  s.p99 = rank(0.99);
  s.max = v.back();
  return s;
}

bool Metrics::expectations_met() const {
  return std::all_of(expectations.begin(), expectations.end(), [](const ExpectationResult& e) { return e.passed; });
}

namespace {
void expect_max(Metrics& m, const std::string& name, const std::optional<double>& limit, double actual) {
  if (!limit) return;
  m.expectations.push_back({name, *limit, actual, actual <= *limit + 1e-12, ""});
}
void expect_min(Metrics& m, const std::string& name, const std::optional<double>& limit, double actual) {
  if (!limit) return;
  m.expectations.push_back({name, *limit, actual, actual + 1e-12 >= *limit, ""});
}
}  // namespace

Metrics compute_metrics(const Scenario& s, const RunOutput& out) {
  Metrics m;
  m.residents = out.residents;
  m.enrolled = out.enrolled;
  const double open_hours = to_seconds(s.day_end - s.day_start) / 3600.0;

  std::vector<double> waits, transactions, staff_waits;
  std::vector<std::vector<double>> gate_waits(s.gates.size());
  std::vector<std::array<std::uint64_t, 24>> gate_hourly(s.gates.size(), std::array<std::uint64_t, 24>{});
  std::vector<double> gate_busy(s.gates.size(), 0.0);
  // Waits by gate and by the hour of arrival (drain periods after midnight count in hour 23).
  std::vector<std::array<std::vector<double>, 24>> arrival_hour_waits(s.gates.size());
  const auto hour_of = [](SimTime t) { return static_cast<std::size_t>(std::min<std::int64_t>(23, t.count() / 3'600'000'000LL)); };
  std::vector<std::uint64_t> gate_staff(s.gates.size(), 0);
  std::map<std::string, std::uint64_t> mix, denials, unauthorised;

  for (const auto& r : out.passages) {
    ++m.passages;
    const auto& o = r.outcome;
    if (r.tailgated) {
      ++m.tailgated;
      ++mix["tailgate"];
      if (!r.entitled) ++m.unauthorised_entries, ++unauthorised["tailgate"];
      continue;
    }
    if (r.passed) ++m.granted, ++mix[std::string(to_string(o.credential))];
    else ++m.denied, ++denials[std::string(to_string(o.reason))];
    if (r.passed && !r.entitled) {
      ++m.unauthorised_entries;
      ++unauthorised[std::string(to_string(o.credential))];
    }
    // Decision-level FAR: every transaction by someone not entitled to pass.
    if (!r.entitled) {
      ++m.far.trials;
      if (r.passed && (o.credential == Credential::face || o.credential == Credential::card)) ++m.far.hits;
    }
    // Decision-level FRR (face): an entitled, enrolled person tried the face and the face did not let them
    // in. Transactions stopped by the mask policy before matching are not biometric rejects.
    if (r.entitled && o.match_attempts > 0) {
      ++m.frr.trials;
      if (o.identified_by != Credential::face) ++m.frr.hits;
    }
    if (o.temperature_measurements > 0) {
      Rate& rate = out.person_febrile(r.person) ? m.fever_sensitivity : m.fever_false_alarm;
      ++rate.trials;
      if (o.temperature_alarm) ++rate.hits;
    }
    if (o.mask_reminder) ++m.mask_reminders;
    if (o.referred_to_staff) {
      ++m.staff_interventions;
      ++gate_staff[r.gate];
      if (!r.staff_unavailable) staff_waits.push_back(to_seconds(r.staff_wait));
    }
    if (r.staff_unavailable) ++m.staff_unavailable;
    if (r.lane >= 0) {
      const double w = to_seconds(r.wait());
      waits.push_back(w);
      gate_waits[r.gate].push_back(w);
      transactions.push_back(to_seconds(r.transaction()));
      gate_busy[r.gate] += to_seconds(r.transaction());
      ++gate_hourly[r.gate][hour_of(r.service_start)];
      arrival_hour_waits[r.gate][hour_of(r.arrived)].push_back(w);
    }
  }
  const auto& a = out.attempts;
  for (int k = 0; k < 3; ++k) {
    m.fmr[k] = {a.impostor_match[k], a.impostor[k]};
    m.fnmr[k] = {a.genuine_nonmatch[k], a.genuine[k]};
    m.fta_by_mask[k] = {a.fta[k], a.face_attempts[k]};
    m.fta.hits += a.fta[k];
    m.fta.trials += a.face_attempts[k];
  }
  m.misidentified = a.misidentified;
  m.wait_s = summarise(waits);
  m.transaction_s = summarise(transactions);
  m.staff_wait_s = summarise(staff_waits);
  m.staff_interventions_per_hour = open_hours > 0 ? static_cast<double>(m.staff_interventions) / open_hours / static_cast<double>(s.gates.size()) : 0;

  std::size_t column = 0;
  m.capacity_per_lane_per_min = 0;
  bool first = true;
  for (std::size_t g = 0; g < s.gates.size(); ++g) {
    GateMetrics gm;
    gm.name = s.gates[g].name;
    gm.lanes = s.gates[g].lanes;
    // The peak is where demand peaks: the hour in which the most passages arrived. (The hour with the most
    // transactions started says nothing under overload, when a saturated lane starts as many every hour
    // and the queue runs on past the last arrival.)
    for (int h = 0; h < 24; ++h) {
      gm.transactions += gate_hourly[g][h];
      if (arrival_hour_waits[g][h].size() > arrival_hour_waits[g][gm.peak_hour].size()) gm.peak_hour = h;
    }
    gm.peak_per_lane_per_min = static_cast<double>(gate_hourly[g][gm.peak_hour]) / gm.lanes / 60.0;
    gm.capacity_per_lane_per_min = gm.transactions ? 60.0 / (gate_busy[g] / static_cast<double>(gm.transactions)) : 0.0;
    gm.wait_s = summarise(gate_waits[g]);
    gm.peak_hour_wait_s = summarise(std::move(arrival_hour_waits[g][gm.peak_hour]));
    for (int l = 0; l < gm.lanes; ++l) gm.max_queue = std::max(gm.max_queue, out.max_queue[column + static_cast<std::size_t>(l)]);
    column += static_cast<std::size_t>(gm.lanes);
    m.max_queue = std::max(m.max_queue, gm.max_queue);
    gm.staff_interventions = gate_staff[g];
    gm.staff_interventions_per_hour = open_hours > 0 ? static_cast<double>(gate_staff[g]) / open_hours : 0;
    if (gm.transactions && (first || gm.capacity_per_lane_per_min < m.capacity_per_lane_per_min)) {
      m.capacity_per_lane_per_min = gm.capacity_per_lane_per_min;
      first = false;
    }
    m.gates.push_back(std::move(gm));
  }
  const double passed_total = static_cast<double>(m.granted + m.tailgated);
  for (const char* c : {"face", "card", "staff", "none", "tailgate"}) {
    m.credential_mix.emplace_back(c, passed_total > 0 ? static_cast<double>(mix[c]) / passed_total : 0.0);
  }
  m.denials_by_reason.assign(denials.begin(), denials.end());
  m.unauthorised_by.assign(unauthorised.begin(), unauthorised.end());

  m.unfinished = out.unfinished;
  if (m.unfinished > 0) {
    // An overloaded gate that never empties its queue must not pass any wait expectation by omission.
    m.expectations.push_back({"all_passages_finished", 0.0, static_cast<double>(m.unfinished), false,
                              "people still queued a week after day.end"});
  }
  const auto& e = s.expect;
  expect_max(m, "far_max", e.far_max, m.far.value());
  expect_max(m, "frr_max", e.frr_max, m.frr.value());
  expect_max(m, "fta_max", e.fta_max, m.fta.value());
  expect_max(m, "p95_wait_s_max", e.p95_wait_s_max, m.wait_s.p95);
  expect_max(m, "mean_wait_s_max", e.mean_wait_s_max, m.wait_s.mean);
  expect_max(m, "max_wait_s_max", e.max_wait_s_max, m.wait_s.max);
  expect_min(m, "throughput_min", e.throughput_min, m.capacity_per_lane_per_min);
  expect_min(m, "fever_sensitivity_min", e.fever_sensitivity_min, m.fever_sensitivity.value());
  expect_max(m, "fever_false_alarm_max", e.fever_false_alarm_max, m.fever_false_alarm.value());
  expect_max(m, "unauthorised_entries_max", e.unauthorised_entries_max, static_cast<double>(m.unauthorised_entries));
  expect_max(m, "staff_interventions_per_hour_max", e.staff_interventions_per_hour_max, m.staff_interventions_per_hour);
  expect_min(m, "passages_min", e.passages_min, static_cast<double>(m.passages));
  m.compliance = assess_compliance(s, out);
  return m;
}

}  // namespace gatetwin::sim
