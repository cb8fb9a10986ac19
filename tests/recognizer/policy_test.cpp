// The gate's policy engine, driven step by step the way the simulator and the field daemon drive it.
// Every test states the evidence a person offers and pins the decision, the reason and, where an operator
// hears it, the announcement.
#include "gatetwin/recognizer/policy.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace gatetwin::recognizer {
namespace {

// ---- The people the back office knows ---------------------------------------------------------------

constexpr std::uint32_t kAlice = 1;     // resident, no restrictions
constexpr std::uint32_t kBob = 2;       // resident in home quarantine until t = 1000
constexpr std::uint32_t kCarol = 3;     // access valid only for 100 <= t < 200
constexpr std::uint32_t kDave = 4;      // yellow health code
constexpr std::uint32_t kErin = 5;      // red health code
constexpr std::uint32_t kFrank = 6;     // resident who refused face enrolment: card only, no template
constexpr std::uint32_t kStranger = 99; // in the face gallery / card system, but unknown to the directory

constexpr std::int64_t kQuarantineUntil = 1000;
constexpr std::int64_t kValidFrom = 100;
constexpr std::int64_t kValidUntil = 200;

class FakeDirectory final : public RightsDirectory {
 public:
  FakeDirectory() {
    Rights alice;
    alice.has_face_template = true;
    people[kAlice] = alice;
    Rights bob;
    bob.has_face_template = true;
    bob.quarantine_until_s = kQuarantineUntil;
    people[kBob] = bob;
    Rights carol;
    carol.valid_from_s = kValidFrom;
    carol.valid_until_s = kValidUntil;
    carol.has_face_template = true;
    people[kCarol] = carol;
    Rights dave;
    dave.health = HealthCode::yellow;
    dave.has_face_template = true;
    people[kDave] = dave;
    Rights erin;
    erin.health = HealthCode::red;
    erin.has_face_template = true;
    people[kErin] = erin;
    people[kFrank] = Rights{};  // has_face_template stays false
  }
  std::optional<Rights> rights(std::uint32_t person_id) const override {
    const auto it = people.find(person_id);
    if (it == people.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::uint32_t, Rights> people;
};

// ---- Evidence, as the devices report it ------------------------------------------------------------

struct Temp {
  double sensor_c;  // raw sensor reading, before compensation
};

FaceEvidence face(std::uint32_t id, double score, MaskState mask = MaskState::none) {
  FaceEvidence f;
  f.acquired = true;
  f.mask = mask;
  f.best_id = id;
  f.score = score;
  return f;
}
FaceEvidence no_face() { return FaceEvidence{}; }  // failure to acquire
FaceEvidence face_without_match() {                 // acquired, but the gallery offered no candidate
  FaceEvidence f;
  f.acquired = true;
  return f;
}

CardEvidence card(std::uint32_t holder, CardStatus status = CardStatus::valid,
                  std::optional<double> face_verify = std::nullopt, MaskState mask = MaskState::none) {
  CardEvidence c;
  c.status = status;
  c.holder_id = holder;
  c.face_verify_score = face_verify;
  c.mask = mask;
  return c;
}
CardEvidence misread() { return CardEvidence{}; }

StaffEvidence approve(std::optional<double> handheld = std::nullopt) { return StaffEvidence{true, handheld}; }
StaffEvidence refuse(std::optional<double> handheld = std::nullopt) { return StaffEvidence{false, handheld}; }

// Scores relative to the default thresholds (unmasked 0.62, masked 0.55).
constexpr double kHigh = 0.80;       // accepted masked or not
constexpr double kMaskedOnly = 0.58; // accepted only for a masked probe
constexpr double kLow = 0.30;        // never accepted

// Sensor readings with the default compensation (+0.5) and fever threshold (37.3).
constexpr double kNormal = 35.8;   // displayed 36.3
constexpr double kFever = 37.0;    // displayed 37.5

using Event = std::variant<Temp, FaceEvidence, CardEvidence, StaffEvidence>;

void feed(GateTransaction& tx, const Event& event) {
  std::visit(
      [&tx](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Temp>) {
          tx.on_temperature(e.sensor_c);
        } else if constexpr (std::is_same_v<T, FaceEvidence>) {
          tx.on_face(e);
        } else if constexpr (std::is_same_v<T, CardEvidence>) {
          tx.on_card(e);
        } else {
          tx.on_staff(e);
        }
      },
      event);
}

GateTransaction drive(const Policy& policy, const RightsDirectory& directory, Presentation presentation,
                      const std::vector<Event>& events) {
  GateTransaction tx(policy, directory, presentation);
  for (const auto& e : events) feed(tx, e);
  return tx;
}

Presentation entering(std::int64_t now = 0) { return Presentation{.direction = Direction::entry, .now_s = now}; }
Presentation exiting(std::int64_t now = 0) { return Presentation{.direction = Direction::exit, .now_s = now}; }
Presentation with_card() { return Presentation{.has_card = true}; }
Presentation card_only() { return Presentation{.offers_face = false, .has_card = true}; }
Presentation nothing_offered() { return Presentation{.offers_face = false, .has_card = false}; }
Presentation visitor() { return Presentation{.is_visitor = true}; }

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }
bool ends_with(const std::string& text, std::string_view part) { return std::string_view(text).ends_with(part); }

class PolicyTest : public ::testing::Test {
 protected:
  GateTransaction start(Presentation presentation = {}) { return GateTransaction(policy, directory, presentation); }
  GateTransaction run(const std::vector<Event>& events, Presentation presentation = {}) {
    return drive(policy, directory, presentation, events);
  }

  Policy policy;  // the defaults, unless a test says otherwise
  FakeDirectory directory;
};

// ---- Temperature before identity: the common deployment --------------------------------------------

TEST_F(PolicyTest, NormalTemperatureThenRecognisedFaceGrants) {
  policy.mask = MaskPolicy::off;
  auto tx = start();
  EXPECT_EQ(tx.next(), Step::measure_temperature);
  tx.on_temperature(kNormal);
  EXPECT_EQ(tx.next(), Step::capture_face);
  EXPECT_EQ(tx.outcome().verdict, Verdict::pending);
  tx.on_face(face(kAlice, 0.70));

  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.next(), Step::done);
  const Outcome& o = tx.outcome();
  EXPECT_EQ(o.verdict, Verdict::grant);
  EXPECT_EQ(o.reason, Reason::recognised);
  EXPECT_EQ(o.credential, Credential::face);
  EXPECT_EQ(o.identified_by, Credential::face);
  EXPECT_EQ(o.person_id, kAlice);
  ASSERT_TRUE(o.temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*o.temperature_c, 36.3);
  EXPECT_FALSE(o.temperature_alarm);
  EXPECT_EQ(o.temperature_measurements, 1);
  EXPECT_EQ(o.face_attempts, 1);
  EXPECT_FALSE(o.mask_reminder);
  EXPECT_FALSE(o.referred_to_staff);
  EXPECT_EQ(o.announcement, "体温正常，36.3度，识别成功");
}

TEST_F(PolicyTest, DefaultRemindPolicyRemindsAnUnmaskedButRecognisedPerson) {
  auto tx = run({Temp{kNormal}, face(kAlice, 0.70)});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_TRUE(tx.outcome().mask_reminder);
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，请佩戴口罩，识别成功");
}

TEST_F(PolicyTest, DisplayedTemperatureIsCompensatedAndRoundedToOneDecimal) {
  policy.compensation_c = 0.4;
  auto tx = run({Temp{36.12}});  // 36.52 -> 36.5
  ASSERT_TRUE(tx.outcome().temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*tx.outcome().temperature_c, 36.5);
  tx.on_face(face(kAlice, kHigh, MaskState::worn));
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.5度，识别成功");
}

// ---- Fever threshold and re-measurement -------------------------------------------------------------

TEST_F(PolicyTest, DisplayedTemperatureEqualToThresholdIsAbnormal) {
  policy.remeasure_on_alarm = false;
  auto tx = run({Temp{36.8}});  // 36.8 + 0.5 = 37.3 == threshold
  EXPECT_TRUE(tx.outcome().temperature_alarm);
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_TRUE(tx.outcome().referred_to_staff);
  tx.on_staff(refuse());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::fever);
  EXPECT_EQ(tx.outcome().announcement, "体温异常，37.3度，请联系工作人员复测");
}

TEST_F(PolicyTest, ThresholdComparesTheDisplayedValueNotTheRawSum) {
  policy.remeasure_on_alarm = false;
  // 36.74 + 0.5 = 37.24, shown 37.2: normal.
  auto below = run({Temp{36.74}});
  EXPECT_FALSE(below.outcome().temperature_alarm);
  EXPECT_EQ(below.next(), Step::capture_face);
  // 36.76 + 0.5 = 37.26, shown 37.3: abnormal although the unrounded value is below 37.3.
  auto above = run({Temp{36.76}});
  EXPECT_TRUE(above.outcome().temperature_alarm);
  EXPECT_EQ(above.next(), Step::staff_check);
}

TEST_F(PolicyTest, AbnormalReadingIsRemeasuredExactlyOnce) {
  auto tx = run({Temp{kFever}});
  EXPECT_EQ(tx.next(), Step::measure_temperature);
  EXPECT_EQ(tx.outcome().temperature_measurements, 1);
  EXPECT_FALSE(tx.outcome().temperature_alarm);
  EXPECT_FALSE(tx.outcome().referred_to_staff);

  tx.on_temperature(kFever);
  EXPECT_EQ(tx.outcome().temperature_measurements, 2);
  EXPECT_TRUE(tx.outcome().temperature_alarm);
  EXPECT_EQ(tx.next(), Step::staff_check);

  tx.on_temperature(kNormal);  // a third reading is not asked for and is ignored
  EXPECT_EQ(tx.outcome().temperature_measurements, 2);
  EXPECT_DOUBLE_EQ(*tx.outcome().temperature_c, 37.5);
  EXPECT_EQ(tx.next(), Step::staff_check);
}

TEST_F(PolicyTest, NormalRemeasurementProceedsToIdentity) {
  policy.mask = MaskPolicy::off;
  auto tx = run({Temp{kFever}, Temp{kNormal}});
  EXPECT_EQ(tx.next(), Step::capture_face);
  EXPECT_FALSE(tx.outcome().temperature_alarm);
  EXPECT_DOUBLE_EQ(*tx.outcome().temperature_c, 36.3);
  tx.on_face(face(kAlice, kHigh));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
  EXPECT_EQ(tx.outcome().temperature_measurements, 2);
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，识别成功");
}

TEST_F(PolicyTest, WithoutRemeasureTheFirstAbnormalReadingRaisesTheAlarm) {
  policy.remeasure_on_alarm = false;
  auto tx = run({Temp{kFever}});
  EXPECT_EQ(tx.outcome().temperature_measurements, 1);
  EXPECT_TRUE(tx.outcome().temperature_alarm);
  EXPECT_EQ(tx.next(), Step::staff_check);
}

TEST_F(PolicyTest, AbnormalTwiceIsReferredToStaffAndDoorStaysClosedOnRefusal) {
  auto tx = run({Temp{kFever}, Temp{kFever}});
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_TRUE(tx.outcome().referred_to_staff);
  EXPECT_EQ(tx.outcome().verdict, Verdict::pending);
  tx.on_face(face(kAlice, kHigh, MaskState::worn));  // a face does not bypass the fever check
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_EQ(tx.outcome().face_attempts, 0);
  tx.on_staff(refuse());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::fever);
}

TEST_F(PolicyTest, AbnormalTwiceWithoutSecondaryCheckIsDenied) {
  policy.staff_secondary_check = false;
  auto tx = run({Temp{kFever}, Temp{kFever}});
  ASSERT_TRUE(tx.done());
  const Outcome& o = tx.outcome();
  EXPECT_EQ(o.verdict, Verdict::deny);
  EXPECT_EQ(o.reason, Reason::fever);
  EXPECT_TRUE(o.temperature_alarm);
  EXPECT_FALSE(o.referred_to_staff);
  EXPECT_EQ(o.credential, Credential::none);
  EXPECT_FALSE(o.person_id.has_value());
  EXPECT_EQ(o.face_attempts, 0);
  EXPECT_EQ(o.announcement, "体温异常，37.5度，请联系工作人员复测");
}

TEST_F(PolicyTest, OpenOnAbnormalTemperatureStillIdentifiesThenOpens) {
  policy.open_on_abnormal_temperature = true;
  policy.mask = MaskPolicy::off;
  auto tx = run({Temp{kFever}});
  EXPECT_EQ(tx.next(), Step::measure_temperature);  // the re-measurement still happens
  tx.on_temperature(kFever);
  EXPECT_TRUE(tx.outcome().temperature_alarm);
  EXPECT_EQ(tx.next(), Step::capture_face);
  tx.on_face(face(kAlice, kHigh));
  ASSERT_TRUE(tx.done());
  const Outcome& o = tx.outcome();
  EXPECT_EQ(o.verdict, Verdict::grant);
  EXPECT_EQ(o.reason, Reason::fever_opened);
  EXPECT_EQ(o.credential, Credential::face);
  EXPECT_EQ(o.person_id, kAlice);
  EXPECT_FALSE(o.referred_to_staff);
  EXPECT_EQ(o.announcement, "体温异常，37.5度，请通行");
}

TEST_F(PolicyTest, OpenOnAbnormalTemperatureDoesNotOpenForAnUnidentifiedPerson) {
  policy.open_on_abnormal_temperature = true;
  policy.max_face_attempts = 1;
  auto tx = run({Temp{kFever}, Temp{kFever}, face(kAlice, kLow)});
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_staff(refuse());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::not_recognised);
}

// ---- Temperature modes ------------------------------------------------------------------------------

TEST_F(PolicyTest, AfterIdentityMeasuresOnceThePersonIsKnown) {
  policy.temperature_mode = TemperatureMode::after_identity;
  policy.mask = MaskPolicy::off;
  auto tx = start();
  EXPECT_EQ(tx.next(), Step::capture_face);
  tx.on_temperature(kNormal);  // not asked for yet: ignored
  EXPECT_EQ(tx.outcome().temperature_measurements, 0);
  tx.on_face(face(kAlice, kHigh));
  EXPECT_EQ(tx.next(), Step::measure_temperature);
  EXPECT_EQ(tx.outcome().verdict, Verdict::pending);
  EXPECT_EQ(tx.outcome().person_id, kAlice);
  tx.on_temperature(kNormal);
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
  EXPECT_EQ(tx.outcome().credential, Credential::face);
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，识别成功");
}

TEST_F(PolicyTest, AfterIdentityWithCardIsCardAccepted) {
  policy.temperature_mode = TemperatureMode::after_identity;
  auto tx = run({card(kAlice), Temp{kNormal}}, card_only());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::card_accepted);
  EXPECT_EQ(tx.outcome().credential, Credential::card);
}

TEST_F(PolicyTest, AfterIdentityFeverKeepsDoorClosed) {
  policy.temperature_mode = TemperatureMode::after_identity;
  auto tx = run({face(kAlice, kHigh, MaskState::worn), Temp{kFever}, Temp{kFever}});
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_staff(refuse());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::fever);
  EXPECT_EQ(tx.outcome().person_id, kAlice);
}

TEST_F(PolicyTest, AfterIdentityFeverOpenedWhenPolicySaysSo) {
  policy.temperature_mode = TemperatureMode::after_identity;
  policy.open_on_abnormal_temperature = true;
  auto tx = run({face(kAlice, kHigh, MaskState::worn), Temp{kFever}, Temp{kFever}});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::fever_opened);
  EXPECT_EQ(tx.outcome().credential, Credential::face);
}

TEST_F(PolicyTest, AfterIdentityDeniedPersonIsNeverMeasured) {
  policy.temperature_mode = TemperatureMode::after_identity;
  auto tx = run({face(kBob, kHigh, MaskState::worn)}, exiting(500));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().reason, Reason::quarantined);
  EXPECT_EQ(tx.outcome().temperature_measurements, 0);
  EXPECT_EQ(tx.outcome().announcement, "隔离期内禁止外出");
}

TEST_F(PolicyTest, TemperatureOnlyGrantsOnNormalReadingWithoutIdentity) {
  policy.temperature_mode = TemperatureMode::only;
  auto tx = start();
  EXPECT_EQ(tx.next(), Step::measure_temperature);
  tx.on_face(face(kAlice, kHigh));  // never asked for
  tx.on_temperature(kNormal);
  ASSERT_TRUE(tx.done());
  const Outcome& o = tx.outcome();
  EXPECT_EQ(o.verdict, Verdict::grant);
  EXPECT_EQ(o.reason, Reason::temperature_only);
  EXPECT_EQ(o.credential, Credential::none);
  EXPECT_EQ(o.identified_by, Credential::none);
  EXPECT_FALSE(o.person_id.has_value());
  EXPECT_EQ(o.face_attempts, 0);
  EXPECT_EQ(o.announcement, "体温正常，36.3度，请通行");
}

TEST_F(PolicyTest, TemperatureOnlyFeverIsReferredNotOpened) {
  policy.temperature_mode = TemperatureMode::only;
  auto tx = run({Temp{kFever}, Temp{kFever}});
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_staff(refuse());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::fever);
}

TEST_F(PolicyTest, TemperatureOnlyFeverOpenedWhenPolicySaysSo) {
  policy.temperature_mode = TemperatureMode::only;
  policy.open_on_abnormal_temperature = true;
  auto tx = run({Temp{kFever}, Temp{kFever}});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::fever_opened);
  EXPECT_EQ(tx.outcome().announcement, "体温异常，37.5度，请通行");
}

TEST_F(PolicyTest, TemperatureOffNeverMeasures) {
  policy.temperature_mode = TemperatureMode::off;
  auto tx = start();
  EXPECT_EQ(tx.next(), Step::capture_face);
  tx.on_temperature(kFever);
  tx.on_temperature(kFever);
  EXPECT_EQ(tx.outcome().temperature_measurements, 0);
  EXPECT_FALSE(tx.outcome().temperature_c.has_value());
  tx.on_face(face(kAlice, kHigh, MaskState::worn));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
  EXPECT_FALSE(tx.outcome().temperature_alarm);
  EXPECT_EQ(tx.outcome().announcement, "识别成功");
}

// ---- Masks and thresholds ---------------------------------------------------------------------------

TEST_F(PolicyTest, MaskedProbeUsesTheMaskedThreshold) {
  policy.temperature_mode = TemperatureMode::off;
  policy.mask = MaskPolicy::off;
  auto masked = run({face(kAlice, kMaskedOnly, MaskState::worn)});
  ASSERT_TRUE(masked.done());
  EXPECT_EQ(masked.outcome().reason, Reason::recognised);

  auto unmasked = run({face(kAlice, kMaskedOnly, MaskState::none)});
  EXPECT_EQ(unmasked.next(), Step::capture_face);  // not accepted; another attempt
  EXPECT_EQ(unmasked.outcome().face_attempts, 1);

  auto too_low = run({face(kAlice, 0.54, MaskState::worn)});
  EXPECT_EQ(too_low.next(), Step::capture_face);
}

TEST_F(PolicyTest, MaskBelowNoseCountsAsMaskedForTheThreshold) {
  policy.temperature_mode = TemperatureMode::off;
  auto tx = run({face(kAlice, kMaskedOnly, MaskState::below_nose)});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
  EXPECT_TRUE(tx.outcome().mask_reminder);  // but it is not worn properly: remind
}

TEST_F(PolicyTest, ScoreEqualToThresholdIsAccepted) {
  policy.temperature_mode = TemperatureMode::off;
  policy.mask = MaskPolicy::off;
  auto tx = run({face(kAlice, policy.threshold_unmasked)});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
}

TEST_F(PolicyTest, RequireRefusesUnmaskedFaceUntilAMaskIsWorn) {
  policy.mask = MaskPolicy::require;
  auto tx = run({Temp{kNormal}, face(kAlice, 0.99), face(kAlice, 0.99)});
  EXPECT_EQ(tx.next(), Step::capture_face);
  EXPECT_EQ(tx.outcome().verdict, Verdict::pending);
  EXPECT_EQ(tx.outcome().face_attempts, 2);
  tx.on_face(face(kAlice, kHigh, MaskState::worn));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
  EXPECT_FALSE(tx.outcome().mask_reminder);
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，识别成功");
}

TEST_F(PolicyTest, RequireTreatsMaskBelowNoseAsNotWorn) {
  policy.mask = MaskPolicy::require;
  policy.max_face_attempts = 1;
  auto tx = run({Temp{kNormal}, face(kAlice, 0.99, MaskState::below_nose)});
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_staff(refuse());
  EXPECT_EQ(tx.outcome().reason, Reason::mask_required);
}

TEST_F(PolicyTest, RequireUnmaskedOnEveryAttemptIsReferredToStaff) {
  policy.mask = MaskPolicy::require;
  auto tx = run({Temp{kNormal}, face(kAlice, 0.99), face(kAlice, 0.99), face(kAlice, 0.99)});
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_TRUE(tx.outcome().referred_to_staff);
  EXPECT_EQ(tx.outcome().face_attempts, 3);
  tx.on_staff(refuse());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::mask_required);
  EXPECT_FALSE(tx.outcome().person_id.has_value());
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，请佩戴口罩");
}

TEST_F(PolicyTest, RequireUnmaskedFallsBackToCardWhenThePersonHasOne) {
  policy.mask = MaskPolicy::require;
  auto tx = run({Temp{kNormal}, face(kAlice, 0.99), face(kAlice, 0.99), face(kAlice, 0.99)}, with_card());
  EXPECT_EQ(tx.next(), Step::read_card);
  tx.on_card(card(kAlice));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::card_accepted);
  EXPECT_EQ(tx.outcome().credential, Credential::card);
}

TEST_F(PolicyTest, RequireUnmaskedWithCardsDisallowedGoesToStaff) {
  policy.mask = MaskPolicy::require;
  policy.card_allowed = false;
  auto tx = run({Temp{kNormal}, face(kAlice, 0.99), face(kAlice, 0.99), face(kAlice, 0.99)}, with_card());
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_card(card(kAlice));  // ignored
  tx.on_staff(refuse());
  EXPECT_EQ(tx.outcome().reason, Reason::mask_required);
}

TEST_F(PolicyTest, RemindSetsReminderAndAnnouncesIt) {
  policy.mask = MaskPolicy::remind;
  auto tx = run({Temp{kNormal}, face(kAlice, kHigh)});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_TRUE(tx.outcome().mask_reminder);
  EXPECT_TRUE(contains(tx.outcome().announcement, "请佩戴口罩"));

  auto masked = run({Temp{kNormal}, face(kAlice, kHigh, MaskState::worn)});
  EXPECT_FALSE(masked.outcome().mask_reminder);
  EXPECT_FALSE(contains(masked.outcome().announcement, "请佩戴口罩"));
}

TEST_F(PolicyTest, MaskPolicyOffNeverReminds) {
  policy.mask = MaskPolicy::off;
  auto tx = run({Temp{kNormal}, face(kAlice, kHigh)});
  EXPECT_FALSE(tx.outcome().mask_reminder);
  EXPECT_FALSE(contains(tx.outcome().announcement, "请佩戴口罩"));
}

// ---- Face failures and the attempt budget -----------------------------------------------------------

TEST_F(PolicyTest, FailureToAcquireOnEveryAttempt) {
  auto tx = run({Temp{kNormal}, no_face(), no_face(), no_face()});
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_EQ(tx.outcome().face_attempts, 3);
  tx.on_staff(refuse());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::failure_to_acquire);
  EXPECT_FALSE(tx.outcome().mask_reminder);
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，识别失败");
}

TEST_F(PolicyTest, MixingFailureToAcquireAndLowScoresIsNotRecognised) {
  policy.mask = MaskPolicy::off;
  auto tx = run({Temp{kNormal}, no_face(), face(kAlice, kLow), no_face(), StaffEvidence{}});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().reason, Reason::not_recognised);
}

TEST_F(PolicyTest, AcquiredFaceWithoutGalleryCandidateIsNotRecognised) {
  policy.max_face_attempts = 1;
  auto tx = run({Temp{kNormal}, face_without_match(), refuse()});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().reason, Reason::not_recognised);
}

TEST_F(PolicyTest, MaxFaceAttemptsIsRespectedExactly) {
  policy.max_face_attempts = 5;
  auto tx = run({Temp{kNormal}});
  for (int i = 1; i <= 4; ++i) {
    tx.on_face(face(kAlice, kLow));
    EXPECT_EQ(tx.next(), Step::capture_face) << "after attempt " << i;
    EXPECT_EQ(tx.outcome().face_attempts, i);
  }
  tx.on_face(face(kAlice, kLow));
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_EQ(tx.outcome().face_attempts, 5);
  tx.on_face(face(kAlice, kHigh, MaskState::worn));  // too late: ignored
  EXPECT_EQ(tx.outcome().face_attempts, 5);
  EXPECT_EQ(tx.next(), Step::staff_check);
}

TEST_F(PolicyTest, SingleFaceAttempt) {
  policy.max_face_attempts = 1;
  auto tx = run({Temp{kNormal}, face(kAlice, kLow)});
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_EQ(tx.outcome().face_attempts, 1);
}

TEST_F(PolicyTest, LaterAttemptCanSucceed) {
  auto tx = run({Temp{kNormal}, no_face(), face(kAlice, kLow), face(kAlice, kHigh, MaskState::worn)});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().face_attempts, 3);
  EXPECT_FALSE(tx.outcome().referred_to_staff);
}

TEST_F(PolicyTest, MatchAttemptsCountOnlyFacesThatReachedMatching) {
  policy.mask = MaskPolicy::remind;
  auto tx = run({Temp{kNormal}, no_face(), face(kAlice, kLow), face_without_match()});
  EXPECT_EQ(tx.outcome().face_attempts, 3);
  EXPECT_EQ(tx.outcome().match_attempts, 2);  // the failure to acquire did not reach matching

  auto all_fta = run({Temp{kNormal}, no_face(), no_face(), no_face()});
  EXPECT_EQ(all_fta.outcome().match_attempts, 0);
}

TEST_F(PolicyTest, MatchAttemptsExcludeFacesRefusedForTheMask) {
  policy.mask = MaskPolicy::require;
  auto tx = run({Temp{kNormal}, face(kAlice, 0.99), face(kAlice, kHigh, MaskState::worn)});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().face_attempts, 2);
  EXPECT_EQ(tx.outcome().match_attempts, 1);
}

// ---- Cards: face is never the only way in -----------------------------------------------------------

TEST_F(PolicyTest, ResidentWithoutFaceUsesCard) {
  auto tx = run({Temp{kNormal}}, card_only());
  EXPECT_EQ(tx.next(), Step::read_card);
  tx.on_face(face(kAlice, kHigh));  // not asked for
  EXPECT_EQ(tx.outcome().face_attempts, 0);
  tx.on_card(card(kAlice));
  ASSERT_TRUE(tx.done());
  const Outcome& o = tx.outcome();
  EXPECT_EQ(o.verdict, Verdict::grant);
  EXPECT_EQ(o.reason, Reason::card_accepted);
  EXPECT_EQ(o.credential, Credential::card);
  EXPECT_EQ(o.identified_by, Credential::card);
  EXPECT_EQ(o.person_id, kAlice);
  EXPECT_EQ(o.announcement, "体温正常，36.3度，刷卡成功");
}

TEST_F(PolicyTest, FaceFailureFallsBackToCard) {
  auto tx = run({Temp{kNormal}, face(kAlice, kLow), face(kAlice, kLow), face(kAlice, kLow)}, with_card());
  EXPECT_EQ(tx.next(), Step::read_card);
  EXPECT_FALSE(tx.outcome().referred_to_staff);
  tx.on_card(card(kAlice));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().reason, Reason::card_accepted);
  EXPECT_EQ(tx.outcome().credential, Credential::card);
}

TEST_F(PolicyTest, CardMisreadIsRetriedOnceThenStaff) {
  auto tx = run({Temp{kNormal}, misread()}, card_only());
  EXPECT_EQ(tx.next(), Step::read_card);
  tx.on_card(misread());
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_card(card(kAlice));  // a third swipe is not asked for
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_staff(refuse());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::card_misread);
  EXPECT_TRUE(ends_with(tx.outcome().announcement, "读卡失败"));
}

TEST_F(PolicyTest, CardMisreadThenGoodReadGrants) {
  auto tx = run({Temp{kNormal}, misread(), card(kAlice)}, card_only());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::card_accepted);
}

TEST_F(PolicyTest, RevokedCardIsReferredToStaff) {
  auto tx = run({Temp{kNormal}, card(kAlice, CardStatus::revoked)}, card_only());
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_TRUE(tx.outcome().referred_to_staff);
  tx.on_staff(refuse());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::card_revoked);
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，卡已失效");
}

TEST_F(PolicyTest, UnknownCardIsReferredToStaff) {
  auto tx = run({Temp{kNormal}, card(0, CardStatus::unknown), refuse()}, card_only());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().reason, Reason::card_unknown);
  EXPECT_TRUE(ends_with(tx.outcome().announcement, "无效卡"));
}

TEST_F(PolicyTest, CardRequiresFaceLowVerifyScoreIsMismatch) {
  policy.card_requires_face = true;
  auto tx = run({Temp{kNormal}, card(kAlice, CardStatus::valid, kLow)}, card_only());
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_staff(refuse());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::card_face_mismatch);
  EXPECT_TRUE(ends_with(tx.outcome().announcement, "人卡不符"));
}

TEST_F(PolicyTest, CardRequiresFaceWithoutVerifyScoreIsMismatch) {
  policy.card_requires_face = true;
  auto tx = run({Temp{kNormal}, card(kAlice), refuse()}, card_only());
  EXPECT_EQ(tx.outcome().reason, Reason::card_face_mismatch);
}

TEST_F(PolicyTest, CardRequiresFaceGoodVerifyScoreGrants) {
  policy.card_requires_face = true;
  auto unmasked = run({Temp{kNormal}, card(kAlice, CardStatus::valid, kHigh)}, card_only());
  ASSERT_TRUE(unmasked.done());
  EXPECT_EQ(unmasked.outcome().reason, Reason::card_accepted);
  // The 1:1 verification follows the same masked threshold as 1:N.
  auto masked = run({Temp{kNormal}, card(kAlice, CardStatus::valid, kMaskedOnly, MaskState::worn)}, card_only());
  ASSERT_TRUE(masked.done());
  EXPECT_EQ(masked.outcome().reason, Reason::card_accepted);
  auto masked_score_unmasked = run({Temp{kNormal}, card(kAlice, CardStatus::valid, kMaskedOnly)}, card_only());
  EXPECT_EQ(masked_score_unmasked.next(), Step::staff_check);
}

TEST_F(PolicyTest, CardRequiresFaceOnlyForHoldersWithATemplate) {
  policy.card_requires_face = true;
  // Frank never enrolled a face: plain card access, no 1:1 score needed or consulted.
  auto no_score = run({Temp{kNormal}, card(kFrank)}, card_only());
  ASSERT_TRUE(no_score.done());
  EXPECT_EQ(no_score.outcome().verdict, Verdict::grant);
  EXPECT_EQ(no_score.outcome().reason, Reason::card_accepted);
  EXPECT_EQ(no_score.outcome().person_id, kFrank);
  auto low_score = run({Temp{kNormal}, card(kFrank, CardStatus::valid, kLow)}, card_only());
  EXPECT_EQ(low_score.outcome().reason, Reason::card_accepted);
}

TEST_F(PolicyTest, CardRequiresFaceHolderUnknownToTheDirectoryGoesToStaff) {
  policy.card_requires_face = true;
  auto tx = run({Temp{kNormal}, card(kStranger, CardStatus::valid, kHigh), refuse()}, card_only());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::card_unknown);
}

TEST_F(PolicyTest, FaceMatchingAnIdTheBackOfficeNoLongerKnowsIsNoMatch) {
  // The first capture matches a deleted record: the gate tries the face again instead of giving up.
  auto tx = run({Temp{kNormal}, face(kStranger, kHigh)}, with_card());
  EXPECT_EQ(tx.next(), Step::capture_face);
  tx.on_face(face(kAlice, kHigh));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
  EXPECT_EQ(tx.outcome().person_id, kAlice);
}

TEST_F(PolicyTest, FaceMatchingAnIdTheBackOfficeNoLongerKnowsFallsBackToTheCard) {
  auto tx = run({Temp{kNormal}, face(kStranger, kHigh), face(kStranger, kHigh), face(kStranger, kHigh)}, with_card());
  EXPECT_EQ(tx.next(), Step::read_card);
  tx.on_card(card(kAlice));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::card_accepted);
}

TEST_F(PolicyTest, CardsDisallowedSendsCardHolderToStaff) {
  policy.card_allowed = false;
  auto tx = run({Temp{kNormal}}, card_only());
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_card(card(kAlice));  // ignored
  tx.on_staff(refuse());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::no_credential);
}

TEST_F(PolicyTest, CardsDisallowedFaceFailureGoesStraightToStaff) {
  policy.card_allowed = false;
  policy.max_face_attempts = 1;
  auto tx = run({Temp{kNormal}, face(kAlice, kLow)}, with_card());
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_staff(refuse());
  EXPECT_EQ(tx.outcome().reason, Reason::not_recognised);
}

TEST_F(PolicyTest, NeitherFaceNorCardIsAManualCheck) {
  auto tx = run({Temp{kNormal}}, nothing_offered());
  EXPECT_EQ(tx.next(), Step::staff_check);
  tx.on_staff(refuse());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::no_credential);
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，禁止通行");
}

// ---- Rights -----------------------------------------------------------------------------------------

TEST_F(PolicyTest, QuarantinedResidentMayNotExitDuringTheWindow) {
  policy.temperature_mode = TemperatureMode::off;
  auto tx = run({face(kBob, kHigh, MaskState::worn)}, exiting(kQuarantineUntil - 1));
  ASSERT_TRUE(tx.done());
  const Outcome& o = tx.outcome();
  EXPECT_EQ(o.verdict, Verdict::deny);
  EXPECT_EQ(o.reason, Reason::quarantined);
  EXPECT_EQ(o.person_id, kBob);
  EXPECT_EQ(o.identified_by, Credential::face);
  EXPECT_FALSE(o.referred_to_staff);
  EXPECT_EQ(o.announcement, "隔离期内禁止外出");
}

TEST_F(PolicyTest, QuarantinedResidentMayEnter) {
  policy.temperature_mode = TemperatureMode::off;
  auto tx = run({face(kBob, kHigh, MaskState::worn)}, entering(kQuarantineUntil - 1));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
}

TEST_F(PolicyTest, QuarantineEndsAtQuarantineUntil) {
  policy.temperature_mode = TemperatureMode::off;
  auto tx = run({face(kBob, kHigh, MaskState::worn)}, exiting(kQuarantineUntil));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
}

TEST_F(PolicyTest, QuarantineExitAllowedWhenPolicyDoesNotDenyIt) {
  policy.temperature_mode = TemperatureMode::off;
  policy.quarantine_exit_denied = false;
  auto tx = run({face(kBob, kHigh, MaskState::worn)}, exiting(kQuarantineUntil - 1));
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
}

TEST_F(PolicyTest, QuarantineAppliesToTheCardPathToo) {
  policy.temperature_mode = TemperatureMode::off;
  Presentation p = exiting(kQuarantineUntil - 1);
  p.offers_face = false;
  p.has_card = true;
  auto tx = run({card(kBob)}, p);
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::quarantined);
  EXPECT_EQ(tx.outcome().identified_by, Credential::card);
}

TEST_F(PolicyTest, ValidityWindowIsHalfOpen) {
  policy.temperature_mode = TemperatureMode::off;
  struct Case {
    std::int64_t now;
    Verdict verdict;
    Reason reason;
  };
  const std::vector<Case> cases = {
      {kValidFrom - 1, Verdict::deny, Reason::outside_validity},
      {kValidFrom, Verdict::grant, Reason::recognised},
      {kValidUntil - 1, Verdict::grant, Reason::recognised},
      {kValidUntil, Verdict::deny, Reason::outside_validity},
  };
  for (const auto& c : cases) {
    auto tx = run({face(kCarol, kHigh, MaskState::worn)}, entering(c.now));
    ASSERT_TRUE(tx.done()) << "now=" << c.now;
    EXPECT_EQ(tx.outcome().verdict, c.verdict) << "now=" << c.now;
    EXPECT_EQ(tx.outcome().reason, c.reason) << "now=" << c.now;
    EXPECT_FALSE(tx.outcome().referred_to_staff) << "now=" << c.now;
  }
  auto late = run({face(kCarol, kHigh, MaskState::worn)}, entering(kValidUntil));
  EXPECT_EQ(late.outcome().announcement, "不在有效期内");
}

TEST_F(PolicyTest, HealthCodeCheckRefersYellowAndRedToStaff) {
  policy.health_code_check = true;
  for (std::uint32_t id : {kDave, kErin}) {
    auto tx = run({Temp{kNormal}, face(id, kHigh, MaskState::worn)});
    EXPECT_EQ(tx.next(), Step::staff_check) << id;
    EXPECT_TRUE(tx.outcome().referred_to_staff) << id;
    EXPECT_EQ(tx.outcome().person_id, id);
    tx.on_staff(refuse());
    EXPECT_EQ(tx.outcome().verdict, Verdict::deny) << id;
    EXPECT_EQ(tx.outcome().reason, Reason::health_code) << id;
    EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，健康码异常") << id;
  }
  auto green = run({Temp{kNormal}, face(kAlice, kHigh, MaskState::worn)});
  EXPECT_EQ(green.outcome().verdict, Verdict::grant);
}

TEST_F(PolicyTest, HealthCodeApprovedByStaffKeepsTheIdentity) {
  policy.health_code_check = true;
  auto tx = run({Temp{kNormal}, face(kDave, kHigh, MaskState::worn), approve()});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::staff_approved);
  EXPECT_EQ(tx.outcome().credential, Credential::staff);
  EXPECT_EQ(tx.outcome().identified_by, Credential::face);
  EXPECT_EQ(tx.outcome().person_id, kDave);
}

TEST_F(PolicyTest, HealthCodeIgnoredWhenCheckIsOff) {
  policy.health_code_check = false;
  auto tx = run({Temp{kNormal}, face(kErin, kHigh, MaskState::worn)});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
}

TEST_F(PolicyTest, FaceMatchingAnIdUnknownToTheDirectoryGoesToStaff) {
  // Every attempt matches a record the back office deleted; with no card, staff decide.
  const auto ghost = face(kStranger, 0.99, MaskState::worn);
  auto tx = run({Temp{kNormal}, ghost, ghost, ghost});
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_FALSE(tx.outcome().person_id.has_value());
  EXPECT_EQ(tx.outcome().credential, Credential::none);
  tx.on_staff(refuse());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::not_recognised);
}

TEST_F(PolicyTest, CardHolderUnknownToTheDirectoryGoesToStaff) {
  auto tx = run({Temp{kNormal}, card(kStranger)}, card_only());
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_FALSE(tx.outcome().person_id.has_value());
}

// ---- Visitors ---------------------------------------------------------------------------------------

TEST_F(PolicyTest, VisitorIsReferredForRegistration) {
  auto tx = run({Temp{kNormal}}, visitor());
  EXPECT_EQ(tx.next(), Step::staff_check);
  EXPECT_TRUE(tx.outcome().referred_to_staff);
  EXPECT_EQ(tx.outcome().face_attempts, 0);
  tx.on_staff(approve());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::staff_approved);
  EXPECT_EQ(tx.outcome().credential, Credential::staff);
  EXPECT_EQ(tx.outcome().identified_by, Credential::none);
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，人工核验通过");
}

TEST_F(PolicyTest, VisitorRefusedAtRegistration) {
  auto tx = run({Temp{kNormal}, refuse()}, visitor());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::visitor);
  EXPECT_EQ(tx.outcome().announcement, "体温正常，36.3度，访客请登记");
}

TEST_F(PolicyTest, VisitorsDeniedByPolicy) {
  policy.visitors = VisitorHandling::deny;
  auto tx = run({Temp{kNormal}}, visitor());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::visitor_denied);
  EXPECT_FALSE(tx.outcome().referred_to_staff);
}

TEST_F(PolicyTest, VisitorsDeniedImmediatelyWhenTemperatureIsOff) {
  policy.visitors = VisitorHandling::deny;
  policy.temperature_mode = TemperatureMode::off;
  auto tx = start(visitor());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().reason, Reason::visitor_denied);
  EXPECT_EQ(tx.outcome().announcement, "访客请登记");
}

TEST_F(PolicyTest, FeverVisitorIsStoppedBeforeRegistration) {
  auto tx = run({Temp{kFever}, Temp{kFever}, refuse()}, visitor());
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().reason, Reason::fever);
}

// ---- Staff ------------------------------------------------------------------------------------------

TEST_F(PolicyTest, StaffApprovalAfterFeverReferralGrantsWithStaffCredential) {
  auto tx = run({Temp{kFever}, Temp{kFever}, approve()});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::grant);
  EXPECT_EQ(tx.outcome().reason, Reason::staff_approved);
  EXPECT_EQ(tx.outcome().credential, Credential::staff);
  EXPECT_TRUE(ends_with(tx.outcome().announcement, "人工核验通过"));
}

TEST_F(PolicyTest, StaffDenialAfterFeverReferralKeepsReasonFever) {
  auto tx = run({Temp{kFever}, Temp{kFever}, refuse(38.1)});
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
  EXPECT_EQ(tx.outcome().reason, Reason::fever);
  EXPECT_EQ(tx.outcome().credential, Credential::none);
  EXPECT_EQ(tx.outcome().announcement, "体温异常，37.5度，人工复测38.1度，请联系工作人员复测");
}

TEST_F(PolicyTest, HandheldTemperatureIsRecordedBesideTheTerminalReading) {
  auto tx = run({Temp{kFever}, Temp{kFever}});
  EXPECT_FALSE(tx.outcome().staff_temperature_c.has_value());
  tx.on_staff(approve(36.6));
  ASSERT_TRUE(tx.done());
  const Outcome& o = tx.outcome();
  ASSERT_TRUE(o.temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*o.temperature_c, 37.5);  // the terminal's reading is kept
  ASSERT_TRUE(o.staff_temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*o.staff_temperature_c, 36.6);
  EXPECT_TRUE(o.temperature_alarm);
  EXPECT_EQ(o.announcement, "体温异常，37.5度，人工复测36.6度，人工核验通过");
}

TEST_F(PolicyTest, HandheldTemperatureWhenTheGateDidNotMeasure) {
  policy.temperature_mode = TemperatureMode::off;
  auto none = run({StaffEvidence{}}, nothing_offered());  // refused, no hand-held reading
  EXPECT_FALSE(none.outcome().temperature_c.has_value());
  EXPECT_FALSE(none.outcome().staff_temperature_c.has_value());
  EXPECT_EQ(none.outcome().announcement, "禁止通行");

  auto measured = run({approve(36.4)}, nothing_offered());
  EXPECT_FALSE(measured.outcome().temperature_c.has_value());
  ASSERT_TRUE(measured.outcome().staff_temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*measured.outcome().staff_temperature_c, 36.4);
  EXPECT_EQ(measured.outcome().announcement, "人工复测36.4度，人工核验通过");
}

// ---- Calls for the wrong step -----------------------------------------------------------------------

void expect_same(const Outcome& a, const Outcome& b) {
  EXPECT_EQ(a.verdict, b.verdict);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.credential, b.credential);
  EXPECT_EQ(a.identified_by, b.identified_by);
  EXPECT_EQ(a.person_id, b.person_id);
  EXPECT_EQ(a.temperature_c, b.temperature_c);
  EXPECT_EQ(a.staff_temperature_c, b.staff_temperature_c);
  EXPECT_EQ(a.match_attempts, b.match_attempts);
  EXPECT_EQ(a.temperature_alarm, b.temperature_alarm);
  EXPECT_EQ(a.face_attempts, b.face_attempts);
  EXPECT_EQ(a.temperature_measurements, b.temperature_measurements);
  EXPECT_EQ(a.mask_reminder, b.mask_reminder);
  EXPECT_EQ(a.referred_to_staff, b.referred_to_staff);
  EXPECT_EQ(a.announcement, b.announcement);
}

TEST_F(PolicyTest, CallsForTheWrongStepAreIgnored) {
  policy.mask = MaskPolicy::off;
  auto tx = start(with_card());
  // Waiting for a temperature.
  Outcome before = tx.outcome();
  tx.on_face(face(kAlice, kHigh));
  tx.on_card(card(kAlice));
  tx.on_staff(approve());
  EXPECT_EQ(tx.next(), Step::measure_temperature);
  expect_same(tx.outcome(), before);

  // Waiting for a face.
  tx.on_temperature(kNormal);
  before = tx.outcome();
  tx.on_temperature(kFever);
  tx.on_card(card(kAlice));
  tx.on_staff(approve());
  EXPECT_EQ(tx.next(), Step::capture_face);
  expect_same(tx.outcome(), before);

  tx.on_face(face(kAlice, kHigh));
  ASSERT_TRUE(tx.done());
  EXPECT_EQ(tx.outcome().reason, Reason::recognised);
}

TEST_F(PolicyTest, CallsWhileWaitingForACardAreIgnored) {
  auto tx = run({Temp{kNormal}}, card_only());
  const Outcome before = tx.outcome();
  tx.on_temperature(kFever);
  tx.on_face(face(kAlice, kHigh, MaskState::worn));
  tx.on_staff(approve());
  EXPECT_EQ(tx.next(), Step::read_card);
  expect_same(tx.outcome(), before);
}

TEST_F(PolicyTest, CallsWhileWaitingForStaffAreIgnored) {
  auto tx = run({Temp{kNormal}}, nothing_offered());
  const Outcome before = tx.outcome();
  tx.on_temperature(kFever);
  tx.on_face(face(kAlice, kHigh, MaskState::worn));
  tx.on_card(card(kAlice));
  EXPECT_EQ(tx.next(), Step::staff_check);
  expect_same(tx.outcome(), before);
}

TEST_F(PolicyTest, NothingChangesOnceDone) {
  auto tx = run({Temp{kNormal}, face(kBob, kHigh, MaskState::worn)}, exiting(0));
  ASSERT_TRUE(tx.done());
  const Outcome before = tx.outcome();
  tx.on_temperature(kFever);
  tx.on_face(face(kAlice, kHigh, MaskState::worn));
  tx.on_card(card(kAlice));
  tx.on_staff(approve(36.5));
  EXPECT_TRUE(tx.done());
  expect_same(tx.outcome(), before);
  EXPECT_EQ(tx.outcome().verdict, Verdict::deny);
}

// ---- Names and announcements for everything ---------------------------------------------------------

TEST(PolicyNames, EveryReasonHasADistinctNameAndAnAnnouncement) {
  std::set<std::string_view> names;
  const int last = static_cast<int>(Reason::no_credential);
  for (int i = 0; i <= last; ++i) {
    const auto r = static_cast<Reason>(i);
    const std::string_view name = to_string(r);
    EXPECT_FALSE(name.empty()) << i;
    EXPECT_NE(name, "?") << i;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    if (r == Reason::none) continue;
    Outcome o;
    o.reason = r;
    EXPECT_FALSE(announcement_for(o).empty()) << name;
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(last + 1));
}

TEST(PolicyNames, StepsVerdictsAndCredentialsHaveNames) {
  for (Step s : {Step::measure_temperature, Step::capture_face, Step::read_card, Step::staff_check, Step::done}) {
    EXPECT_FALSE(to_string(s).empty());
    EXPECT_NE(to_string(s), "?");
  }
  for (Verdict v : {Verdict::pending, Verdict::grant, Verdict::deny}) EXPECT_NE(to_string(v), "?");
  for (Credential c : {Credential::none, Credential::face, Credential::card, Credential::staff}) {
    EXPECT_NE(to_string(c), "?");
  }
  for (MaskState m : {MaskState::none, MaskState::worn, MaskState::below_nose}) EXPECT_NE(to_string(m), "?");
  for (HealthCode h : {HealthCode::green, HealthCode::yellow, HealthCode::red}) EXPECT_NE(to_string(h), "?");
  EXPECT_EQ(to_string(Direction::entry), "entry");
  EXPECT_EQ(to_string(Direction::exit), "exit");
}

TEST(PolicyNames, ConfigurationNamesRoundTrip) {
  for (MaskPolicy m : {MaskPolicy::off, MaskPolicy::remind, MaskPolicy::require}) {
    EXPECT_EQ(parse_mask_policy(to_string(m)), m);
  }
  for (TemperatureMode t : {TemperatureMode::before_identity, TemperatureMode::after_identity,
                            TemperatureMode::only, TemperatureMode::off}) {
    EXPECT_EQ(parse_temperature_mode(to_string(t)), t);
  }
  for (VisitorHandling v : {VisitorHandling::staff_registration, VisitorHandling::deny}) {
    EXPECT_EQ(parse_visitor_handling(to_string(v)), v);
  }
  EXPECT_FALSE(parse_mask_policy("always").has_value());
  EXPECT_FALSE(parse_temperature_mode("before_identity").has_value());
  EXPECT_FALSE(parse_visitor_handling("").has_value());
}

struct Scenario {
  std::string name;
  std::function<void(Policy&)> configure;
  Presentation presentation;
  std::vector<Event> events;
};

TEST(PolicyTable, EveryTerminalOutcomeHasAnAnnouncement) {
  const auto keep = [](Policy&) {};
  const std::vector<Scenario> scenarios = {
      {"recognised", keep, {}, {Temp{kNormal}, face(kAlice, kHigh)}},
      {"card", keep, card_only(), {Temp{kNormal}, card(kAlice)}},
      {"staff approved", keep, nothing_offered(), {Temp{kNormal}, approve()}},
      {"no credential", keep, nothing_offered(), {Temp{kNormal}, refuse()}},
      {"temperature only", [](Policy& p) { p.temperature_mode = TemperatureMode::only; }, {}, {Temp{kNormal}}},
      {"fever denied", [](Policy& p) { p.staff_secondary_check = false; }, {}, {Temp{kFever}, Temp{kFever}}},
      {"fever refused by staff", keep, {}, {Temp{kFever}, Temp{kFever}, refuse()}},
      {"fever opened", [](Policy& p) { p.open_on_abnormal_temperature = true; }, {},
       {Temp{kFever}, Temp{kFever}, face(kAlice, kHigh)}},
      {"mask required", [](Policy& p) { p.mask = MaskPolicy::require; p.max_face_attempts = 1; }, {},
       {Temp{kNormal}, face(kAlice, kHigh), refuse()}},
      {"not recognised", keep, {}, {Temp{kNormal}, face(kAlice, kLow), face(kAlice, kLow), face(kAlice, kLow), refuse()}},
      {"failure to acquire", keep, {}, {Temp{kNormal}, no_face(), no_face(), no_face(), refuse()}},
      {"card revoked", keep, card_only(), {Temp{kNormal}, card(kAlice, CardStatus::revoked), refuse()}},
      {"card unknown", keep, card_only(), {Temp{kNormal}, card(0, CardStatus::unknown), refuse()}},
      {"card misread", keep, card_only(), {Temp{kNormal}, misread(), misread(), refuse()}},
      {"card face mismatch", [](Policy& p) { p.card_requires_face = true; }, card_only(),
       {Temp{kNormal}, card(kAlice, CardStatus::valid, kLow), refuse()}},
      {"quarantined", keep, exiting(0), {Temp{kNormal}, face(kBob, kHigh)}},
      {"outside validity", keep, entering(kValidUntil), {Temp{kNormal}, face(kCarol, kHigh)}},
      {"health code", [](Policy& p) { p.health_code_check = true; }, {},
       {Temp{kNormal}, face(kDave, kHigh), refuse()}},
      {"visitor", keep, visitor(), {Temp{kNormal}, refuse()}},
      {"visitor denied", [](Policy& p) { p.visitors = VisitorHandling::deny; }, visitor(), {Temp{kNormal}}},
      {"temperature off", [](Policy& p) { p.temperature_mode = TemperatureMode::off; }, {},
       {face(kAlice, kHigh, MaskState::worn)}},
      {"after identity", [](Policy& p) { p.temperature_mode = TemperatureMode::after_identity; }, {},
       {face(kAlice, kHigh), Temp{kNormal}}},
  };
  std::set<Reason> reasons_seen;
  const FakeDirectory directory;
  for (const auto& s : scenarios) {
    Policy policy;
    s.configure(policy);
    const auto tx = drive(policy, directory, s.presentation, s.events);
    ASSERT_TRUE(tx.done()) << s.name << ": stuck at " << to_string(tx.next());
    const Outcome& o = tx.outcome();
    EXPECT_NE(o.verdict, Verdict::pending) << s.name;
    EXPECT_NE(o.reason, Reason::none) << s.name;
    EXPECT_FALSE(o.announcement.empty()) << s.name;
    EXPECT_EQ(o.announcement, announcement_for(o)) << s.name;
    // The door opens only with a positive reason.
    const bool opening_reason = o.reason == Reason::recognised || o.reason == Reason::card_accepted ||
                                o.reason == Reason::staff_approved || o.reason == Reason::temperature_only ||
                                o.reason == Reason::fever_opened;
    EXPECT_EQ(o.verdict == Verdict::grant, opening_reason) << s.name << ": " << to_string(o.reason);
    reasons_seen.insert(o.reason);
  }
  // Every reason the engine can reach is covered (staff_denied and none are never a final reason).
  EXPECT_EQ(reasons_seen.size(), static_cast<std::size_t>(static_cast<int>(Reason::no_credential) + 1 - 2));
}

}  // namespace
}  // namespace gatetwin::recognizer
