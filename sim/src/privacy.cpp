#include "gatetwin/sim/privacy.hpp"

#include <algorithm>
#include <cstdio>

#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/world.hpp"

namespace gatetwin::sim {

std::string_view to_string(FaceOff f) {
  switch (f) {
    case FaceOff::none: return "none";
    case FaceOff::refused: return "refused";
    case FaceOff::withdrawn: return "withdrawn";
    case FaceOff::no_reconsent: return "no_reconsent";
  }
  return "?";
}

Scenario counterfactual_of(const Scenario& s) {
  Scenario c = s;
  c.fidelity = "statistical";
  c.privacy.everyone_uses_face = true;
  c.faults.clear();  // device faults exist only in HIL
  return c;
}

namespace {

std::string clock_hm(SimTime t) {
  const auto total = t.count() / 60'000'000;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld", static_cast<long long>(total / 60), static_cast<long long>(total % 60));
  return buf;
}

ComplianceCheck check(std::string id, bool passed, std::string reason) { return ComplianceCheck{std::move(id), passed, std::move(reason)}; }

}  // namespace

Compliance assess_compliance(const Scenario& s, const RunOutput& out) {
  Compliance c;
  const PrivacySpec& p = s.privacy;
  const auto& po = out.privacy;

  // Face must not be the only way in (the lawyers in FACTS.md): a card for those who do not use face.
  if (!s.policy.card_allowed)
    c.checks.push_back(check("face_not_only_way_in", false, "policy.card_allowed is false: the readers take no cards, face is the only automated way in"));
  else if (!p.card_access)
    c.checks.push_back(check("face_not_only_way_in", false, "privacy.card_access is false: residents who do not use face get no card and must queue for a manual check"));
  else
    c.checks.push_back(check("face_not_only_way_in", true, "residents who do not use face are given a card the readers accept"));
  c.checks.push_back(p.retention_days > 0
                         ? check("retention_set", true, "face data is kept for " + std::to_string(p.retention_days) + " days")
                         : check("retention_set", false, "no retention period is set for face data (privacy.retention_days: 0)"));
  c.checks.push_back(p.consent_separate
                         ? check("consent_separate", true, "biometric consent is asked separately, with purpose, method, scope and retention")
                         : check("consent_separate", false, "consent is only a blanket privacy notice, not a separate biometric consent (GB/T 35273)"));
  c.checks.push_back(p.raw_images_kept ? check("raw_images_not_kept", false, "captured face images are stored beyond the access decision")
                                       : check("raw_images_not_kept", true, "captured face images are discarded after the decision"));
  if (!p.reconsent_on_purpose_change) {
    std::string why = "purpose changes do not ask for consent again";
    if (!po.purpose_changes_without_consent.empty()) {
      why = "the purpose changed at";
      for (std::size_t k = 0; k < po.events.size(); ++k)
        if (po.events[k].kind == "purpose_change" && std::count(po.purpose_changes_without_consent.begin(), po.purpose_changes_without_consent.end(), po.events[k].at))
          why += " " + clock_hm(po.events[k].at) + " (" + po.events[k].purpose + ")";
      why += " without asking for consent again";
    }
    c.checks.push_back(check("reconsent_on_purpose_change", false, why));
  } else {
    std::uint32_t asked = 0;
    for (const auto& e : po.events) asked += e.kind == "purpose_change" ? e.eligible : 0;
    c.checks.push_back(check("reconsent_on_purpose_change", true,
                             asked ? "a purpose change asked " + std::to_string(asked) + " residents using face to consent again"
                                   : "a purpose change would ask every resident using face to consent again"));
  }
  c.total = static_cast<int>(c.checks.size());
  c.passed = static_cast<int>(std::count_if(c.checks.begin(), c.checks.end(), [](const ComplianceCheck& k) { return k.passed; }));

  c.not_using_face[0] = po.refused;
  c.not_using_face[1] = po.withdrawn;
  c.not_using_face[2] = po.no_reconsent;
  std::uint64_t granted = 0, by_card = 0;
  for (const auto& r : out.passages) {
    if (r.face_off != FaceOff::none) {
      ++c.passages_without_face;
      c.passages_without_face_by_card += r.outcome.credential == recognizer::Credential::card && r.passed;
      c.passages_without_face_by_staff += r.outcome.referred_to_staff;
    }
    if (r.passed && !r.tailgated) {
      ++granted;
      by_card += r.outcome.credential == recognizer::Credential::card;
    }
  }
  c.card_share = granted ? static_cast<double>(by_card) / static_cast<double>(granted) : 0.0;
  return c;
}

QueueFigures queue_figures(const Metrics& m, const std::string& gate) {
  QueueFigures q;
  q.wait_s_mean = m.wait_s.mean;
  q.wait_s_p95 = m.wait_s.p95;
  q.transaction_s_mean = m.transaction_s.mean;
  q.staff_interventions = m.staff_interventions;
  q.card_share = m.compliance.card_share;
  bool first = true;
  for (const auto& g : m.gates) {
    if (gate.empty() ? first || g.peak_hour_wait_s.p95 > q.peak_hour_wait_s_p95 : g.name == gate) {
      q.peak_hour_wait_s_p95 = g.peak_hour_wait_s.p95;
      q.peak_hour_wait_s_mean = g.peak_hour_wait_s.mean;
      q.peak_gate = g.name;
      first = false;
    }
  }
  return q;
}

void add_queue_effect(const Scenario& s, Metrics& m) {
  QueueEffect e;
  const Compliance& c = m.compliance;
  e.residents_moved_to_face = c.not_using_face[0] + c.not_using_face[1] + c.not_using_face[2];
  const bool statistical = s.fidelity == "statistical";
  e.basis = statistical ? "this run" : "statistical pair";
  if (e.residents_moved_to_face == 0 && c.passages_without_face == 0) {
    // Nobody to move to face: the counterfactual is this run (in statistical fidelity).
    e.counterfactual_run = false;
    e.actual = e.counterfactual = statistical ? queue_figures(m) : [&] {
      Scenario stat = s;
      stat.fidelity = "statistical";
      stat.faults.clear();
      return queue_figures(compute_metrics(stat, run_world(stat)));
    }();
    m.compliance.queue_effect = e;
    return;
  }
  if (statistical) {
    e.actual = queue_figures(m);
  } else {
    Scenario stat = s;
    stat.fidelity = "statistical";
    stat.faults.clear();
    e.actual = queue_figures(compute_metrics(stat, run_world(stat)));
  }
  const Scenario cf = counterfactual_of(s);
  e.counterfactual = queue_figures(compute_metrics(cf, run_world(cf)), e.actual.peak_gate);  // the same gate's peak
  m.compliance.queue_effect = e;
}

}  // namespace gatetwin::sim
