#pragma once
// The gate's policy engine: who may pass, when, with which credential. It is pure (no I/O, no clock
// reads, no randomness): the simulator in all three fidelity levels and the field daemon drive the
// same code, so a policy change is always tested on the real thing.
//
// A GateTransaction is one person's attempt to pass one lane. The gate asks for evidence step by step
// (`next()`), the caller supplies it (`on_temperature`, `on_face`, `on_card`, `on_staff`), and the
// transaction ends in a decision with a reason and the announcement the terminal speaks.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gatetwin::recognizer {

enum class MaskPolicy { off, remind, require };
enum class TemperatureMode { before_identity, after_identity, only, off };
enum class VisitorHandling { staff_registration, deny };
enum class Direction { entry, exit };
enum class MaskState { none, worn, below_nose };
enum class HealthCode { green, yellow, red };
enum class Credential { none, face, card, staff };

std::string_view to_string(MaskPolicy);
std::string_view to_string(TemperatureMode);
std::string_view to_string(VisitorHandling);
std::string_view to_string(Direction);
std::string_view to_string(MaskState);
std::string_view to_string(HealthCode);
std::string_view to_string(Credential);
std::optional<MaskPolicy> parse_mask_policy(std::string_view);
std::optional<TemperatureMode> parse_temperature_mode(std::string_view);
std::optional<VisitorHandling> parse_visitor_handling(std::string_view);

struct Policy {
  double threshold_unmasked = 0.62;       // cosine score to accept an unmasked probe
  double threshold_masked = 0.55;         // ... a masked probe (mask worn or below the nose)
  MaskPolicy mask = MaskPolicy::remind;
  double fever_threshold_c = 37.3;        // displayed temperature at or above this is abnormal
  double compensation_c = 0.5;            // added to the sensor reading to estimate body temperature
  TemperatureMode temperature_mode = TemperatureMode::before_identity;
  bool open_on_abnormal_temperature = false;
  bool remeasure_on_alarm = true;         // one re-measurement before raising the alarm
  bool staff_secondary_check = true;      // an abnormal reading is referred to staff (hand-held check)
  int max_face_attempts = 3;              // face captures before the gate gives up on face
  bool card_allowed = true;
  bool card_requires_face = false;        // card + face 1:1 for holders with a template (defeats cloned cards);
                                          // holders who refused face enrolment keep plain card access
  VisitorHandling visitors = VisitorHandling::staff_registration;
  bool quarantine_exit_denied = true;     // quarantined residents may not exit during their window
  bool health_code_check = false;         // yellow/red health code is referred to staff
};

// What the back office knows about a person: rights and validity, kept apart from templates.
struct Rights {
  bool resident = true;                   // false: a registered visitor
  std::int64_t valid_from_s = INT64_MIN;  // access window, seconds on the gate's clock
  std::int64_t valid_until_s = INT64_MAX;
  std::int64_t quarantine_until_s = INT64_MIN;  // in isolation while now < quarantine_until_s
  HealthCode health = HealthCode::green;
  bool has_face_template = false;         // enrolled; card + face 1:1 can only be asked of them
};

// Looks up a person's rights by id; the simulator implements it over its population, the daemon over
// its database. Returns nullopt for unknown ids.
class RightsDirectory {
 public:
  virtual ~RightsDirectory() = default;
  virtual std::optional<Rights> rights(std::uint32_t person_id) const = 0;
};

struct FaceEvidence {
  bool acquired = false;                  // false: failure to acquire (no usable face)
  MaskState mask = MaskState::none;       // as classified by the core
  std::optional<std::uint32_t> best_id;   // best gallery match (1:N), if the gallery is not empty
  double score = -1.0;                    // its cosine score
};

enum class CardStatus { valid, revoked, unknown, misread };
struct CardEvidence {
  CardStatus status = CardStatus::misread;
  std::uint32_t holder_id = 0;            // the enrolled holder of the card number (valid/revoked)
  std::optional<double> face_verify_score;  // 1:1 score against the holder, if card_requires_face
  MaskState mask = MaskState::none;
};

// A staff check is a full manual check (entry permit or ID, rights, hand-held temperature): the staff
// member, not the terminal, is responsible for the decision, and `approved` opens the door.
struct StaffEvidence {
  bool approved = false;                  // the staff member lets the person through
  std::optional<double> handheld_temperature_c;
};

enum class Step { measure_temperature, capture_face, read_card, staff_check, done };
enum class Verdict { pending, grant, deny };

enum class Reason {
  none,
  recognised,             // face matched an authorised person
  card_accepted,
  staff_approved,
  staff_denied,
  temperature_only,       // temperature-only mode: a normal reading opens the door
  fever,                  // abnormal temperature, door kept closed
  fever_opened,           // abnormal temperature but the policy opens anyway
  mask_required,
  not_recognised,         // face attempts exhausted, no other credential
  failure_to_acquire,     // no usable face in any attempt, no other credential
  card_revoked,
  card_unknown,
  card_misread,           // repeated read errors (parity)
  card_face_mismatch,
  quarantined,
  outside_validity,
  health_code,
  visitor,                // referred to staff for registration
  visitor_denied,
  no_credential,          // neither face nor card offered: manual check by staff
};
std::string_view to_string(Reason);
std::string_view to_string(Step);
std::string_view to_string(Verdict);

struct Outcome {
  Verdict verdict = Verdict::pending;
  Reason reason = Reason::none;
  Credential credential = Credential::none;   // what finally opened (or would have opened) the door
  Credential identified_by = Credential::none;  // the credential that identified the person, if any
  std::optional<std::uint32_t> person_id;   // who the gate believes passed
  std::optional<double> temperature_c;      // displayed (compensated) temperature at the terminal
  std::optional<double> staff_temperature_c;  // the staff's hand-held re-check, if any
  bool temperature_alarm = false;
  int face_attempts = 0;
  int match_attempts = 0;                   // face attempts that reached matching (acquired, not refused for the mask)
  int temperature_measurements = 0;
  bool mask_reminder = false;
  bool referred_to_staff = false;
  std::string announcement;                 // e.g. "体温正常，36.3度，识别成功"
};

// What the person can offer, as far as the gate is told up front (does the person hold a card, is this
// someone staff should register). The gate never learns who the person is except through evidence.
struct Presentation {
  Direction direction = Direction::entry;
  bool offers_face = true;
  bool has_card = false;
  bool is_visitor = false;
  std::int64_t now_s = 0;                   // the gate's clock, for validity windows
};

class GateTransaction {
 public:
  GateTransaction(const Policy& policy, const RightsDirectory& directory, Presentation presentation);

  Step next() const { return step_; }
  void on_temperature(double sensor_reading_c);
  void on_face(const FaceEvidence& face);
  void on_card(const CardEvidence& card);
  void on_staff(const StaffEvidence& staff);

  const Outcome& outcome() const { return outcome_; }
  bool done() const { return step_ == Step::done; }
  // Why the person was sent to staff (the outcome's reason if staff decline); none if not referred.
  Reason referral_reason() const { return pending_staff_reason_; }

 private:
  void after_temperature();
  void begin_identity();
  void identity_failed(Reason reason);
  void authorise(std::uint32_t person_id, Credential credential);
  void refer_to_staff(Reason reason);
  void finish(Verdict verdict, Reason reason);

  const Policy& policy_;
  const RightsDirectory& directory_;
  Presentation presentation_;
  Step step_ = Step::capture_face;
  Outcome outcome_;
  bool temperature_done_ = false;
  std::optional<std::uint32_t> identified_;
  Credential identified_by_ = Credential::none;
  Reason pending_staff_reason_ = Reason::none;
  bool any_acquired_ = false;
  int card_reads_ = 0;
  static constexpr int kMaxCardReads = 2;
};

// The acceptance threshold for a probe the core classified as `classified` (masked and below-the-nose
// probes use the masked threshold). The simulator's attempt-level counters use the same function.
double threshold_for(const Policy& policy, MaskState classified);

// The announcement text for an outcome, in the terminals' wording (Chinese, as deployed).
std::string announcement_for(const Outcome& outcome);

}  // namespace gatetwin::recognizer
