#include "gatetwin/recognizer/vision/attempt.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

namespace gatetwin::recognizer::vision {

std::vector<FaceObservation> observations(const FrameAnalysis& a) {
  std::vector<FaceObservation> out;
  for (const auto& f : a.faces) {
    FaceObservation o;
    const auto& b = f.detection.box;
    o.box = {b.x, b.y, b.width, b.height};
    if (f.landmarks) {
      o.interocular_px = f.landmarks->interocular();
      const auto& p = f.landmarks->points;
      // Inner eye corners: iBUG 39 (left eye's inner corner) and 42 (right eye's inner corner).
      o.inner_canthus_left = Point{p[39].x, p[39].y};
      o.inner_canthus_right = Point{p[42].x, p[42].y};
    } else {
      o.interocular_px = 0.42 * b.width;  // typical ratio for the detector's boxes
    }
    out.push_back(o);
  }
  return out;
}

namespace {

std::string verify_mode(const Outcome& o, Step next) {
  switch (o.credential) {
    case Credential::face: return "face";
    case Credential::card: return o.identified_by == Credential::card ? "card" : "card+face";
    case Credential::staff: return "staff";
    case Credential::none: break;
  }
  if (o.reason == Reason::temperature_only) return "temperature";
  if (next == Step::read_card) return "card";
  if (next == Step::staff_check || o.referred_to_staff) return "staff";
  return "face";
}

std::string pending_announcement(Step next, const Outcome& o) {
  switch (next) {
    case Step::measure_temperature: return "请重新测温";            // please measure again
    case Step::capture_face: return o.mask_reminder ? "请正确佩戴口罩，请正对屏幕" : "请正对屏幕";  // face the screen
    case Step::read_card: return "请刷卡";                           // please swipe your card
    case Step::staff_check: return "请联系工作人员";                 // please see the staff
    case Step::done: break;
  }
  return {};
}

}  // namespace

AttemptResult decide_attempt(const Policy& policy, const RightsDirectory& directory, const Gallery& gallery,
                             const FrameAnalysis& analysis, const AttemptInput& input) {
  AttemptResult r;
  r.identification = identify(analysis, gallery, input.top_k);
  GateTransaction tx(policy, directory, input.presentation);
  bool face_given = false, temperature_given = false, card_given = false;
  for (int guard = 0; guard < 8 && !tx.done(); ++guard) {
    const Step s = tx.next();
    if (s == Step::measure_temperature && !temperature_given && input.thermal &&
        input.thermal->status == ThermalStatus::ok) {
      tx.on_temperature(input.thermal->skin_c);
      temperature_given = true;
    } else if (s == Step::capture_face && !face_given) {
      tx.on_face(r.identification.evidence);
      face_given = true;
    } else if (s == Step::read_card && !card_given && input.card) {
      CardEvidence card = *input.card;
      card.mask = analysis.mask.state;
      if (policy.card_requires_face && analysis.usable() && !card.face_verify_score)
        if (const auto v = gallery.verify(card.holder_id, analysis.embedding)) card.face_verify_score = *v;
      if (card.face_verify_score) r.event.score = *card.face_verify_score;
      tx.on_card(card);
      card_given = true;
    } else {
      break;  // this frame has nothing more to offer
    }
  }
  r.outcome = tx.outcome();
  AccessEvent& e = r.event;
  e.time_us = input.time_us;
  e.lane = input.lane;
  e.next = tx.next();
  e.decision = tx.done() ? r.outcome.verdict : Verdict::pending;
  e.reason = !tx.done() && e.next == Step::staff_check ? tx.referral_reason() : r.outcome.reason;
  e.verify_mode = verify_mode(r.outcome, e.next);
  if (card_given && policy.card_requires_face && e.score) e.verify_mode = "card+face";
  e.person = r.outcome.person_id;
  e.temperature_c = r.outcome.temperature_c;
  e.abnormal_temperature = r.outcome.temperature_alarm;
  e.mask = analysis.mask.state;
  e.mask_reminder = r.outcome.mask_reminder;
  if (!e.score && r.identification.evidence.best_id) e.score = r.identification.evidence.score;
  e.thermal = input.thermal ? std::string(to_string(input.thermal->status)) : "no_sensor";
  e.announcement = tx.done() ? r.outcome.announcement : pending_announcement(e.next, r.outcome);
  if (e.announcement.empty()) e.announcement = announcement_for(r.outcome);
  return r;
}

std::string to_json(const AccessEvent& e) {
  nlohmann::json j;
  j["time_us"] = e.time_us;
  j["lane"] = e.lane;
  j["verify_mode"] = e.verify_mode;
  j["person_id"] = e.person ? nlohmann::json(*e.person) : nlohmann::json(nullptr);
  j["decision"] = to_string(e.decision);
  j["reason"] = to_string(e.reason);
  j["next"] = to_string(e.next);
  j["current_temperature_c"] = e.temperature_c ? nlohmann::json(std::round(*e.temperature_c * 10) / 10)
                                               : nlohmann::json(nullptr);
  j["abnormal_temperature"] = e.abnormal_temperature;
  j["mask"] = to_string(e.mask);
  j["mask_reminder"] = e.mask_reminder;
  j["score"] = e.score ? nlohmann::json(*e.score) : nlohmann::json(nullptr);
  j["thermal"] = e.thermal;
  j["announcement"] = e.announcement;
  return j.dump();
}

}  // namespace gatetwin::recognizer::vision
