#include "gatetwin/recognizer/policy.hpp"

#include <cmath>
#include <cstdio>

namespace gatetwin::recognizer {

std::string_view to_string(MaskPolicy v) {
  switch (v) {
    case MaskPolicy::off: return "off";
    case MaskPolicy::remind: return "remind";
    case MaskPolicy::require: return "require";
  }
  return "?";
}
std::string_view to_string(TemperatureMode v) {
  switch (v) {
    case TemperatureMode::before_identity: return "before";
    case TemperatureMode::after_identity: return "after";
    case TemperatureMode::only: return "only";
    case TemperatureMode::off: return "off";
  }
  return "?";
}
std::string_view to_string(VisitorHandling v) { return v == VisitorHandling::deny ? "deny" : "staff"; }
std::string_view to_string(Direction v) { return v == Direction::entry ? "entry" : "exit"; }
std::string_view to_string(MaskState v) {
  switch (v) {
    case MaskState::none: return "none";
    case MaskState::worn: return "worn";
    case MaskState::below_nose: return "below_nose";
  }
  return "?";
}
std::string_view to_string(HealthCode v) {
  switch (v) {
    case HealthCode::green: return "green";
    case HealthCode::yellow: return "yellow";
    case HealthCode::red: return "red";
  }
  return "?";
}
std::string_view to_string(Credential v) {
  switch (v) {
    case Credential::none: return "none";
    case Credential::face: return "face";
    case Credential::card: return "card";
    case Credential::staff: return "staff";
  }
  return "?";
}
std::string_view to_string(Step v) {
  switch (v) {
    case Step::measure_temperature: return "measure_temperature";
    case Step::capture_face: return "capture_face";
    case Step::read_card: return "read_card";
    case Step::staff_check: return "staff_check";
    case Step::done: return "done";
  }
  return "?";
}
std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::pending: return "pending";
    case Verdict::grant: return "grant";
    case Verdict::deny: return "deny";
  }
  return "?";
}
std::string_view to_string(Reason v) {
  switch (v) {
    case Reason::none: return "none";
    case Reason::recognised: return "recognised";
    case Reason::card_accepted: return "card_accepted";
    case Reason::staff_approved: return "staff_approved";
    case Reason::staff_denied: return "staff_denied";
    case Reason::temperature_only: return "temperature_only";
    case Reason::fever: return "fever";
    case Reason::fever_opened: return "fever_opened";
    case Reason::mask_required: return "mask_required";
    case Reason::not_recognised: return "not_recognised";
    case Reason::failure_to_acquire: return "failure_to_acquire";
    case Reason::card_revoked: return "card_revoked";
    case Reason::card_unknown: return "card_unknown";
    case Reason::card_misread: return "card_misread";
    case Reason::card_face_mismatch: return "card_face_mismatch";
    case Reason::quarantined: return "quarantined";
    case Reason::outside_validity: return "outside_validity";
    case Reason::health_code: return "health_code";
    case Reason::visitor: return "visitor";
    case Reason::visitor_denied: return "visitor_denied";
    case Reason::no_credential: return "no_credential";
  }
  return "?";
}

std::optional<MaskPolicy> parse_mask_policy(std::string_view s) {
  if (s == "off") return MaskPolicy::off;
  if (s == "remind") return MaskPolicy::remind;
  if (s == "require") return MaskPolicy::require;
  return std::nullopt;
}
std::optional<TemperatureMode> parse_temperature_mode(std::string_view s) {
  if (s == "before") return TemperatureMode::before_identity;
  if (s == "after") return TemperatureMode::after_identity;
  if (s == "only") return TemperatureMode::only;
  if (s == "off") return TemperatureMode::off;
  return std::nullopt;
}
std::optional<VisitorHandling> parse_visitor_handling(std::string_view s) {
  if (s == "staff") return VisitorHandling::staff_registration;
  if (s == "deny") return VisitorHandling::deny;
  return std::nullopt;
}

GateTransaction::GateTransaction(const Policy& policy, const RightsDirectory& directory, Presentation presentation)
    : policy_(policy), directory_(directory), presentation_(presentation) {
  if (policy_.temperature_mode == TemperatureMode::before_identity || policy_.temperature_mode == TemperatureMode::only) {
    step_ = Step::measure_temperature;
  } else {
    begin_identity();
  }
}

double threshold_for(const Policy& policy, MaskState classified) {
  return classified == MaskState::none ? policy.threshold_unmasked : policy.threshold_masked;
}

void GateTransaction::on_temperature(double sensor_reading_c) {
  if (step_ != Step::measure_temperature) return;
  // Round to 0.1 °C as terminals display it; the threshold compares the displayed value.
  const double shown = std::round((sensor_reading_c + policy_.compensation_c) * 10.0) / 10.0;
  ++outcome_.temperature_measurements;
  outcome_.temperature_c = shown;
  if (shown + 1e-9 >= policy_.fever_threshold_c) {
    if (policy_.remeasure_on_alarm && outcome_.temperature_measurements == 1) return;  // measure again
    outcome_.temperature_alarm = true;
    if (!policy_.open_on_abnormal_temperature) {
      if (policy_.staff_secondary_check) {
        refer_to_staff(Reason::fever);
      } else {
        finish(Verdict::deny, Reason::fever);
      }
      return;
    }
  }
  temperature_done_ = true;
  after_temperature();
}

void GateTransaction::after_temperature() {
  switch (policy_.temperature_mode) {
    case TemperatureMode::only:
      outcome_.credential = Credential::none;
      finish(Verdict::grant, outcome_.temperature_alarm ? Reason::fever_opened : Reason::temperature_only);
      return;
    case TemperatureMode::after_identity:
      if (identified_) {
        outcome_.person_id = identified_;
        outcome_.credential = identified_by_;
        finish(Verdict::grant, outcome_.temperature_alarm ? Reason::fever_opened
                                                          : (identified_by_ == Credential::card ? Reason::card_accepted
                                                                                                : Reason::recognised));
      }
      return;
    default:
      begin_identity();
  }
}

void GateTransaction::begin_identity() {
  if (presentation_.is_visitor) {
    if (policy_.visitors == VisitorHandling::deny) {
      finish(Verdict::deny, Reason::visitor_denied);
    } else {
      refer_to_staff(Reason::visitor);
    }
    return;
  }
  if (presentation_.offers_face) {
    step_ = Step::capture_face;
  } else if (presentation_.has_card && policy_.card_allowed) {
    step_ = Step::read_card;
  } else {
    refer_to_staff(Reason::no_credential);
  }
}

void GateTransaction::on_face(const FaceEvidence& face) {
  if (step_ != Step::capture_face) return;
  ++outcome_.face_attempts;
  const bool last = outcome_.face_attempts >= policy_.max_face_attempts;
  if (face.acquired) any_acquired_ = true;
  if (face.acquired && face.mask != MaskState::worn) {
    if (policy_.mask == MaskPolicy::require) {
      if (last) identity_failed(Reason::mask_required);
      return;
    }
    if (policy_.mask == MaskPolicy::remind) outcome_.mask_reminder = true;
  }
  if (face.acquired) ++outcome_.match_attempts;
  // A match to a template the back office no longer knows (record deleted) counts as no match.
  if (face.acquired && face.best_id && face.score >= threshold_for(policy_, face.mask) && directory_.rights(*face.best_id)) {
    authorise(*face.best_id, Credential::face);
    return;
  }
  if (last) identity_failed(any_acquired_ ? Reason::not_recognised : Reason::failure_to_acquire);
}

void GateTransaction::identity_failed(Reason reason) {
  if (presentation_.has_card && policy_.card_allowed && card_reads_ == 0) {
    step_ = Step::read_card;
    return;
  }
  refer_to_staff(reason);
}

void GateTransaction::on_card(const CardEvidence& card) {
  if (step_ != Step::read_card) return;
  ++card_reads_;
  switch (card.status) {
    case CardStatus::misread:
      if (card_reads_ < kMaxCardReads) return;  // swipe again
      refer_to_staff(Reason::card_misread);
      return;
    case CardStatus::revoked: refer_to_staff(Reason::card_revoked); return;
    case CardStatus::unknown: refer_to_staff(Reason::card_unknown); return;
    case CardStatus::valid: break;
  }
  if (policy_.card_requires_face) {
    const auto holder = directory_.rights(card.holder_id);
    const bool verifiable = holder && holder->has_face_template;
    if (verifiable && !(card.face_verify_score && *card.face_verify_score >= threshold_for(policy_, card.mask))) {
      refer_to_staff(Reason::card_face_mismatch);
      return;
    }
  }
  authorise(card.holder_id, Credential::card);
}

void GateTransaction::authorise(std::uint32_t person_id, Credential credential) {
  const auto rights = directory_.rights(person_id);
  if (!rights) {  // a card whose holder the back office no longer knows (faces are checked in on_face)
    refer_to_staff(credential == Credential::card ? Reason::card_unknown : Reason::not_recognised);
    return;
  }
  outcome_.person_id = person_id;
  outcome_.credential = credential;
  outcome_.identified_by = credential;
  const std::int64_t now = presentation_.now_s;
  if (now < rights->valid_from_s || now >= rights->valid_until_s) {
    finish(Verdict::deny, Reason::outside_validity);
    return;
  }
  if (presentation_.direction == Direction::exit && policy_.quarantine_exit_denied && now < rights->quarantine_until_s) {
    finish(Verdict::deny, Reason::quarantined);
    return;
  }
  if (policy_.health_code_check && rights->health != HealthCode::green) {
    refer_to_staff(Reason::health_code);
    return;
  }
  identified_ = person_id;
  identified_by_ = credential;
  if (policy_.temperature_mode == TemperatureMode::after_identity && !temperature_done_) {
    step_ = Step::measure_temperature;
    return;
  }
  finish(Verdict::grant, outcome_.temperature_alarm
                             ? Reason::fever_opened
                             : (credential == Credential::card ? Reason::card_accepted : Reason::recognised));
}

void GateTransaction::refer_to_staff(Reason reason) {
  outcome_.referred_to_staff = true;
  pending_staff_reason_ = reason;
  step_ = Step::staff_check;
}

void GateTransaction::on_staff(const StaffEvidence& staff) {
  if (step_ != Step::staff_check) return;
  if (staff.handheld_temperature_c) outcome_.staff_temperature_c = *staff.handheld_temperature_c;
  if (staff.approved) {
    outcome_.credential = Credential::staff;
    finish(Verdict::grant, Reason::staff_approved);
  } else {
    finish(Verdict::deny, pending_staff_reason_);
  }
}

void GateTransaction::finish(Verdict verdict, Reason reason) {
  outcome_.verdict = verdict;
  outcome_.reason = reason;
  step_ = Step::done;
  outcome_.announcement = announcement_for(outcome_);
}

std::string announcement_for(const Outcome& o) {
  std::string text;
  if (o.temperature_c) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s，%.1f度，", o.temperature_alarm ? "体温异常" : "体温正常", *o.temperature_c);
    text += buf;
  }
  if (o.staff_temperature_c) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "人工复测%.1f度，", *o.staff_temperature_c);
    text += buf;
  }
  if (o.mask_reminder) text += "请佩戴口罩，";
  switch (o.reason) {
    case Reason::recognised: text += "识别成功"; break;
    case Reason::card_accepted: text += "刷卡成功"; break;
    case Reason::staff_approved: text += "人工核验通过"; break;
    case Reason::temperature_only:
    case Reason::fever_opened: text += "请通行"; break;
    case Reason::fever: text += "请联系工作人员复测"; break;
    case Reason::mask_required: text += "请佩戴口罩"; break;
    case Reason::not_recognised:
    case Reason::failure_to_acquire: text += "识别失败"; break;
    case Reason::card_revoked: text += "卡已失效"; break;
    case Reason::card_unknown: text += "无效卡"; break;
    case Reason::card_misread: text += "读卡失败"; break;
    case Reason::card_face_mismatch: text += "人卡不符"; break;
    case Reason::quarantined: text += "隔离期内禁止外出"; break;
    case Reason::outside_validity: text += "不在有效期内"; break;
    case Reason::health_code: text += "健康码异常"; break;
    case Reason::visitor:
    case Reason::visitor_denied: text += "访客请登记"; break;
    case Reason::staff_denied:
    case Reason::no_credential: text += "禁止通行"; break;
    case Reason::none: break;
  }
  return text;
}

}  // namespace gatetwin::recognizer
