// Privacy in the simulation: withdrawal, purpose change and consent events in the day, card access, the
// compliance checks of report.json, the counterfactual of the queue effect, and the loader's errors for the
// privacy section.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/privacy.hpp"
#include "gatetwin/sim/report.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/world.hpp"

namespace gs = gatetwin::sim;
using gatetwin::recognizer::Credential;

namespace {

gs::Scenario load(const std::vector<std::string>& sets = {}) {
  auto r = gs::load_scenario_file("scenarios/jiaochangkou.yaml", sets);
  for (const auto& e : r.errors) ADD_FAILURE() << e.str();
  if (!r.ok()) throw std::runtime_error("cannot load jiaochangkou");
  return *r.scenario;
}

const gs::ComplianceCheck& check(const gs::Metrics& m, const std::string& id) {
  const auto it = std::find_if(m.compliance.checks.begin(), m.compliance.checks.end(), [&](const auto& c) { return c.id == id; });
  if (it == m.compliance.checks.end()) throw std::runtime_error("no check " + id);
  return *it;
}

std::size_t card_passages(const gs::RunOutput& out, gs::SimTime from, gs::SimTime to) {
  return static_cast<std::size_t>(std::count_if(out.passages.begin(), out.passages.end(), [&](const gs::PassageRecord& r) {
    return r.service_start >= from && r.service_start < to && r.passed && r.outcome.credential == Credential::card;
  }));
}

// What a passage was and how it ended, for comparing runs passage by passage.
using Seen = std::tuple<std::uint32_t, gs::SimTime, gs::SimTime, int, int>;
std::map<std::uint64_t, Seen> by_passage(const gs::RunOutput& out) {
  std::map<std::uint64_t, Seen> m;
  for (const auto& r : out.passages)
    m[r.passage] = {r.person, r.arrived, r.decided, static_cast<int>(r.outcome.credential), static_cast<int>(r.outcome.reason)};
  return m;
}

const gs::SimTime kNoon = std::chrono::hours(12);
const gs::SimTime kTwo = std::chrono::hours(14);

}  // namespace

TEST(Privacy, DefaultsPassEveryCheckAndRefusersUseCards) {
  const auto s = load();
  const auto out = gs::run_world(s);
  const auto m = gs::compute_metrics(s, out);
  EXPECT_EQ(m.compliance.total, 5);
  EXPECT_EQ(m.compliance.passed, 5);
  for (const auto& c : m.compliance.checks) EXPECT_TRUE(c.passed) << c.id << ": " << c.reason;
  // refuse_face_share 0.04 of the residents, as an exact count.
  EXPECT_EQ(m.compliance.not_using_face[0], static_cast<std::uint32_t>(std::llround(0.04 * out.residents)));
  EXPECT_EQ(m.compliance.not_using_face[1], 0u);
  ASSERT_GT(m.compliance.passages_without_face, 50u);
  for (const auto& r : out.passages) {
    if (r.face_off == gs::FaceOff::none) continue;
    EXPECT_EQ(r.outcome.face_attempts, 0) << "passage " << r.passage;
  }
  EXPECT_GT(m.compliance.passages_without_face_by_card, m.compliance.passages_without_face * 8 / 10);
}

TEST(Privacy, WithdrawalRaisesCardEntriesAfterItsTimeAndNotBefore) {
  const auto base = load();
  const auto withdrawal = load({"privacy.events[0].at=12:00", "privacy.events[0].kind=withdrawal", "privacy.events[0].share=0.3"});
  const auto a = gs::run_world(base), b = gs::run_world(withdrawal);
  // Common random numbers: the same passages; those decided before noon are identical in every respect.
  const auto pa = by_passage(a), pb = by_passage(b);
  ASSERT_EQ(pa.size(), pb.size());
  std::size_t before = 0;
  for (const auto& [id, seen] : pa) {
    ASSERT_TRUE(pb.count(id));
    EXPECT_EQ(std::get<0>(seen), std::get<0>(pb.at(id)));
    EXPECT_EQ(std::get<1>(seen), std::get<1>(pb.at(id)));
    if (std::get<2>(seen) < kNoon) {
      EXPECT_EQ(seen, pb.at(id)) << "passage " << id << " decided before the withdrawal";
      ++before;
    }
  }
  EXPECT_GT(before, 300u);
  EXPECT_EQ(card_passages(a, std::chrono::hours(0), kNoon), card_passages(b, std::chrono::hours(0), kNoon));
  EXPECT_GT(card_passages(b, kNoon, std::chrono::hours(48)), card_passages(a, kNoon, std::chrono::hours(48)) + 100);
  // 30% of the residents using face at noon, exactly; nobody withdrawn is seen at a terminal before noon.
  ASSERT_EQ(b.privacy.events.size(), 1u);
  EXPECT_EQ(b.privacy.events[0].affected, static_cast<std::uint32_t>(std::llround(0.3 * b.privacy.events[0].eligible)));
  EXPECT_EQ(b.privacy.withdrawn, b.privacy.events[0].affected);
  for (const auto& r : b.passages) {
    if (r.face_off != gs::FaceOff::withdrawn) continue;
    EXPECT_GE(r.service_start, kNoon);
    EXPECT_EQ(r.outcome.face_attempts, 0);
  }
}

TEST(Privacy, PurposeChangeWithoutReconsentFailsTheCheckAndChangesNothingAtTheGate) {
  const auto base = load();
  const auto silent = load({"privacy.reconsent_on_purpose_change=false", "privacy.events[0].at=14:00",
                            "privacy.events[0].kind=purpose_change", "privacy.events[0].purpose=movement_tracking"});
  const auto a = gs::run_world(base), b = gs::run_world(silent);
  EXPECT_EQ(gs::events_jsonl(base, a), gs::events_jsonl(silent, b));
  const auto ma = gs::compute_metrics(base, a), mb = gs::compute_metrics(silent, b);
  EXPECT_TRUE(check(ma, "reconsent_on_purpose_change").passed);
  const auto& c = check(mb, "reconsent_on_purpose_change");
  EXPECT_FALSE(c.passed);
  EXPECT_NE(c.reason.find("14:00 (movement_tracking)"), std::string::npos) << c.reason;
  EXPECT_EQ(mb.compliance.passed, 4);
  EXPECT_EQ(b.privacy.purposes, (std::vector<std::string>{"access", "movement_tracking"}));
}

TEST(Privacy, PurposeChangeWithReconsentMovesTheOthersToCardsUntilTheyConsent) {
  const auto s = load({"privacy.events[0].at=14:00", "privacy.events[0].kind=purpose_change", "privacy.events[0].purpose=police_linkage",
                       "privacy.events[0].reconsent_share=0.6", "privacy.events[1].at=18:00", "privacy.events[1].kind=consent",
                       "privacy.events[1].share=0.5"});
  const auto out = gs::run_world(s);
  const auto m = gs::compute_metrics(s, out);
  EXPECT_TRUE(check(m, "reconsent_on_purpose_change").passed);
  ASSERT_EQ(out.privacy.events.size(), 2u);
  const auto& change = out.privacy.events[0];
  const auto refusing = change.eligible - static_cast<std::uint32_t>(std::llround(0.6 * change.eligible));
  EXPECT_EQ(change.affected, refusing);
  EXPECT_GT(refusing, 300u);
  EXPECT_EQ(out.privacy.events[1].eligible, refusing);
  EXPECT_EQ(out.privacy.events[1].affected, static_cast<std::uint32_t>(std::llround(0.5 * refusing)));
  EXPECT_EQ(out.privacy.no_reconsent, refusing - out.privacy.events[1].affected);
  std::size_t moved = 0, in_evening = 0;
  for (const auto& r : out.passages) {
    if (r.face_off != gs::FaceOff::no_reconsent) continue;
    ++moved;
    EXPECT_GE(r.service_start, kTwo);
    EXPECT_EQ(r.outcome.face_attempts, 0);
    EXPECT_TRUE(r.outcome.credential == Credential::card || r.outcome.referred_to_staff) << "passage " << r.passage;
    in_evening += r.service_start >= std::chrono::hours(18);
  }
  EXPECT_GT(moved, 200u);
  EXPECT_GT(in_evening, 0u);  // those who did not consent at 18:00 still use cards
}

TEST(Privacy, CardAccessOffFailsTheCheckAndSendsResidentsWithoutFaceToStaff) {
  const auto s = load({"privacy.card_access=false"});
  const auto out = gs::run_world(s);
  const auto m = gs::compute_metrics(s, out);
  const auto& c = check(m, "face_not_only_way_in");
  EXPECT_FALSE(c.passed);
  EXPECT_NE(c.reason.find("privacy.card_access"), std::string::npos);
  ASSERT_GT(m.compliance.passages_without_face, 50u);
  EXPECT_EQ(m.compliance.passages_without_face_by_card, 0u);
  EXPECT_EQ(m.compliance.passages_without_face_by_staff, m.compliance.passages_without_face);
  for (const auto& r : out.passages) {
    if (r.face_off == gs::FaceOff::none || r.tailgated) continue;
    EXPECT_TRUE(r.outcome.referred_to_staff) << "passage " << r.passage;
    EXPECT_NE(r.outcome.credential, Credential::card) << "passage " << r.passage;
  }
  // policy.card_allowed: false fails the same check, for another reason.
  const auto no_readers = load({"policy.card_allowed=false"});
  const auto m2 = gs::compute_metrics(no_readers, gs::run_world(no_readers));
  EXPECT_NE(check(m2, "face_not_only_way_in").reason.find("policy.card_allowed"), std::string::npos);
}

TEST(Privacy, CounterfactualHasNobodyWithoutFaceAndTheSameArrivals) {
  const auto s = load({"population.withdrawn_share=0.1", "privacy.events[0].at=14:00", "privacy.events[0].kind=purpose_change",
                       "privacy.events[0].reconsent_share=0.5"});
  const auto actual = gs::run_world(s);
  const auto cf_scenario = gs::counterfactual_of(s);
  const auto cf = gs::run_world(cf_scenario);
  const auto m = gs::compute_metrics(cf_scenario, cf);
  EXPECT_EQ(m.compliance.not_using_face[0] + m.compliance.not_using_face[1] + m.compliance.not_using_face[2], 0u);
  EXPECT_EQ(m.compliance.passages_without_face, 0u);
  EXPECT_TRUE(cf.privacy.events.empty());
  EXPECT_EQ(cf.enrolled, static_cast<std::uint32_t>(std::llround(0.9 * cf.residents) + std::llround(0.04 * cf.residents)));
  // Who arrives when does not depend on the privacy choices.
  const auto pa = by_passage(actual), pc = by_passage(cf);
  ASSERT_EQ(pa.size(), pc.size());
  for (const auto& [id, seen] : pa) {
    EXPECT_EQ(std::get<0>(seen), std::get<0>(pc.at(id)));
    EXPECT_EQ(std::get<1>(seen), std::get<1>(pc.at(id)));
  }
  // The actual run has withdrawn residents and residents without re-consent, all on cards.
  const double enrolled_before = static_cast<double>(std::llround(0.9 * actual.residents));
  EXPECT_EQ(actual.privacy.withdrawn, static_cast<std::uint32_t>(std::llround(0.1 * enrolled_before)));
  EXPECT_GT(actual.privacy.no_reconsent, 100u);
}

TEST(Privacy, QueueEffectComparesWithTheCounterfactualAndIsDeterministic) {
  // One lane in the evening peak: half the residents on cards (2.5 s) instead of face (~2.3 s) and more
  // staff referrals lengthen the transaction.
  const auto s = load({"privacy.events[0].at=14:00", "privacy.events[0].kind=purpose_change", "privacy.events[0].reconsent_share=0.3"});
  auto report = [&] {
    const auto out = gs::run_world(s);
    auto m = gs::compute_metrics(s, out);
    gs::add_queue_effect(s, m);
    return std::make_pair(m, gs::report_json(s, m, out));
  };
  const auto [m, json_a] = report();
  const auto json_b = report().second;
  EXPECT_EQ(json_a, json_b);
  ASSERT_TRUE(m.compliance.queue_effect.has_value());
  const auto& q = *m.compliance.queue_effect;
  EXPECT_TRUE(q.counterfactual_run);
  EXPECT_EQ(q.basis, "this run");
  EXPECT_GT(q.actual.card_share, q.counterfactual.card_share + 0.1);
  EXPECT_GT(q.actual.transaction_s_mean, q.counterfactual.transaction_s_mean);
  EXPECT_EQ(q.actual.wait_s_mean, m.wait_s.mean);
  const auto j = nlohmann::json::parse(json_a);
  const auto& c = j.at("compliance");
  EXPECT_EQ(c.at("score").at("passed"), 5);
  EXPECT_EQ(c.at("checks").size(), 5u);
  EXPECT_EQ(c.at("residents_not_using_face").at("no_reconsent"), m.compliance.not_using_face[2]);
  EXPECT_DOUBLE_EQ(c.at("queue_effect").at("difference").at("transaction_s_mean").get<double>(),
                   q.actual.transaction_s_mean - q.counterfactual.transaction_s_mean);
}

TEST(Privacy, NobodyWithoutFaceMeansNoCounterfactualRun) {
  const auto s = load({"population.refuse_face_share=0"});
  const auto out = gs::run_world(s);
  auto m = gs::compute_metrics(s, out);
  gs::add_queue_effect(s, m);
  ASSERT_TRUE(m.compliance.queue_effect.has_value());
  EXPECT_FALSE(m.compliance.queue_effect->counterfactual_run);
  EXPECT_EQ(m.compliance.queue_effect->actual.wait_s_p95, m.compliance.queue_effect->counterfactual.wait_s_p95);
}

// ---------------------------------------------------------------------------------------------------
// The loader: every bad value names file:line:column and the field

namespace {
std::vector<std::string> errors_of(const std::string& yaml) {
  const auto r = gs::load_scenario_text(yaml, "p.yaml");
  EXPECT_FALSE(r.ok());
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.str());
  return out;
}
}  // namespace

TEST(PrivacyLoader, BadValuesAreErrorsWithTheirPlace) {
  const auto e = errors_of(
      "privacy:\n"
      "  retention_days: -3\n"
      "  purposes: [access, tracking]\n"
      "  events:\n"
      "    - {at: \"05:00\", kind: withdrawal, share: 0.1}\n"
      "    - {at: \"12:00\", kind: withdraw, share: 0.1}\n"
      "    - {at: \"13:00\", kind: purpose_change, share: 0.5}\n"
      "    - {at: \"14:00\", kind: consent, share: 1.5}\n"
      "    - {at: \"15:00\", kind: purpose_change, purpose: access}\n");
  ASSERT_EQ(e.size(), 7u) << ::testing::PrintToString(e);
  EXPECT_EQ(e[0], "p.yaml:2:19: privacy.retention_days: must be between 0 and 36500 (days), got -3");
  EXPECT_EQ(e[1], "p.yaml:3:22: privacy.purposes[1]: unknown value 'tracking' (expected one of: access, movement_tracking, "
                  "police_linkage, health_monitoring)");
  EXPECT_EQ(e[2], "p.yaml:5:12: privacy.events[0].at: must be between day.start and day.end");
  EXPECT_EQ(e[3].rfind("p.yaml:6:27: privacy.events[1].kind: unknown value 'withdraw'", 0), 0u) << e[3];
  EXPECT_EQ(e[4], "p.yaml:7:50: privacy.events[2].share: not used by purpose_change (reconsent_share is)");
  EXPECT_EQ(e[5].rfind("p.yaml:8:43: privacy.events[3].share: must be between 0 and 1", 0), 0u) << e[5];
  EXPECT_EQ(e[6], "p.yaml:9:52: privacy.events[4].purpose: access is the gate's own purpose: name the new one");
}

TEST(PrivacyLoader, PurposesMustBeAListWithoutRepeats) {
  auto e = errors_of("privacy:\n  purposes: access\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "p.yaml:2:13: privacy.purposes: expected a list, e.g. [access]");
  e = errors_of("privacy:\n  purposes: [access, access]\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "p.yaml:2:22: privacy.purposes[1]: 'access' is listed twice");
  e = errors_of("privacy:\n  events:\n    - {kind: withdrawal, share: 0.1}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("privacy.events[0].kind: give the event's time"), std::string::npos) << e[0];
}

TEST(PrivacyLoader, EventsRoundTripThroughTheResolvedYaml) {
  const auto s = load({"privacy.purposes=[access, police_linkage]", "privacy.events[0].at=14:00", "privacy.events[0].kind=purpose_change",
                       "privacy.events[0].reconsent_share=0.6", "privacy.events[1].at=18:30", "privacy.events[1].kind=consent",
                       "privacy.events[1].share=0.5", "population.withdrawn_share=0.02"});
  const std::string y = gs::to_yaml(s);
  const auto r = gs::load_scenario_text(y, "resolved.yaml");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].str()) << "\n" << y;
  EXPECT_EQ(gs::to_yaml(*r.scenario), y);
  const auto& p = r.scenario->privacy;
  EXPECT_EQ(p.purposes, (std::vector<std::string>{"access", "police_linkage"}));
  ASSERT_EQ(p.events.size(), 2u);
  EXPECT_EQ(p.events[0].kind, "purpose_change");
  EXPECT_EQ(p.events[0].purpose, "movement_tracking");
  EXPECT_DOUBLE_EQ(p.events[0].reconsent_share, 0.6);
  EXPECT_EQ(p.events[1].at, std::chrono::hours(18) + std::chrono::minutes(30));
  EXPECT_DOUBLE_EQ(p.events[1].share, 0.5);
  EXPECT_DOUBLE_EQ(r.scenario->population.withdrawn_share, 0.02);
}
