#include "daemon_lane.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <modbus/modbus.h>

namespace gatetwin::gatectl {

namespace gr = gatetwin::recognizer;
namespace rv = gatetwin::recognizer::vision;
namespace wg = gatetwin::devices::wiegand;
using Clock = std::chrono::steady_clock;

namespace {

constexpr Millis kThermalPoll{200};         // card path: interval between readings while waiting for one
constexpr Millis kFaceFreshness{1000};      // card + face: the face in view must be this recent
constexpr std::int64_t kUnknownFace = -1;

double ms_between(SteadyTime a, SteadyTime b) {
  return std::round(std::chrono::duration<double, std::milli>(b - a).count() * 10) / 10;
}

std::int64_t unix_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

gr::ThermalAssociation problem_association(gr::ThermalStatus status, std::string detail) {
  gr::ThermalAssociation a;
  a.status = status;
  a.detail = std::move(detail);
  return a;
}

}  // namespace

Lane::Lane(const Shared& shared, const LaneConfig& lane, EventLog& log, StopFlag& stop)
    : shared_(shared),
      lane_(lane),
      log_(log),
      stop_(stop),
      camera_health_(log, shared.config.gate, lane.name, "camera", redact_url(lane.camera)),
      thermal_health_(log, shared.config.gate, lane.name, "thermal", lane.thermal ? lane.thermal->url : ""),
      relay_health_(log, shared.config.gate, lane.name, "relay", lane.relay.url),
      reader_health_(log, shared.config.gate, lane.name, "reader", lane.reader ? lane.reader->url : ""),
      camera_(shared.config, lane, camera_health_, inbox_, stop),
      relay_(ModbusLink::Kind::relay, lane.relay, shared.config.modbus_timeout, shared.config.reconnect, relay_health_),
      pipeline_(shared.manifest),
      stuck_(gr::ThermalFusionConfig{}.stuck_readings) {
  if (lane.reader) reader_ = std::make_unique<ReaderLink>(shared.config, lane, reader_health_, inbox_, stop, log);
  if (lane.thermal)
    thermal_ = std::make_unique<ModbusLink>(ModbusLink::Kind::thermal, *lane.thermal, shared.config.modbus_timeout,
                                            shared.config.reconnect, thermal_health_);
  // The reading is taken after the frame's analysis (tens of ms on a shared core), so the skew allowed
  // between the two is wider than the fusion's default 200 ms; a person at the gate stands still that long.
  fusion_.max_skew = std::chrono::milliseconds(500);
  fusion_.focal_length_px = lane.thermal_spot.focal_px;
  gr::validate(fusion_);
}

Lane::~Lane() {
  stop_input();
  join();
}

void Lane::start() {
  camera_thread_ = std::thread([this] { camera_.run(); });
  if (reader_) reader_thread_ = std::thread([this] { reader_->run(); });
  worker_thread_ = std::thread([this] { work(); });
}

void Lane::stop_input() { inbox_.close(); }

void Lane::join() {
  for (auto* t : {&camera_thread_, &reader_thread_, &worker_thread_})
    if (t->joinable()) t->join();
}

bool Lane::needs_temperature() const {
  return shared_.policy.temperature_mode != gr::TemperatureMode::off && thermal_ != nullptr;
}

void Lane::work() {
  // Connect the Modbus devices at once; later attempts follow each device's backoff.
  if (thermal_) thermal_->ensure(true);
  relay_.ensure(true);
  auto next_health = Clock::now() + shared_.config.health_interval;
  for (;;) {
    auto now = Clock::now();
    for (ModbusLink* link : {thermal_.get(), &relay_})
      if (link && !link->up() && now >= link->next_attempt()) link->ensure(false);
    if (now >= next_health) {
      for (ModbusLink* link : {thermal_.get(), &relay_})
        if (link && link->up()) link->health_tick();
      next_health = Clock::now() + shared_.config.health_interval;
    }
    SteadyTime deadline = next_health;
    for (ModbusLink* link : {thermal_.get(), &relay_})
      if (link && !link->up()) deadline = std::min(deadline, link->next_attempt());
    LaneInbox::Item item = inbox_.wait(deadline);
    if (item.card) {
      on_card(*item.card);
    } else if (item.frame && !stop_.requested()) {
      on_frame(*item.frame);
    } else if (item.closed) {
      break;
    }
  }
}

bool Lane::in_cooldown(std::int64_t key, SteadyTime now) {
  std::erase_if(cooldown_, [now](const auto& kv) { return kv.second <= now; });
  return cooldown_.count(key) > 0;
}

void Lane::start_cooldown(std::int64_t key, SteadyTime now) {
  if (shared_.config.cooldown.count() > 0) cooldown_[key] = now + shared_.config.cooldown;
}

void Lane::on_frame(const Frame& frame) {
  rv::FrameAnalysis a;
  try {
    a = pipeline_.analyse(frame.image);
  } catch (const std::exception&) {  // a frame OpenCV cannot process (size, type): skip it
    std::lock_guard lock(stats_mu_);
    ++stats_.analysis_errors;
    return;
  }
  const auto now = Clock::now();
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.frames_analysed;
    stats_.analysis_ms_last = a.timings.total;
    stats_.analysis_ms_total += a.timings.total;
    if (a.faces.empty()) ++stats_.no_face;
    else if (!a.usable()) ++stats_.not_acquired;
    else ++stats_.acquired;
  }
  if (session_.active && now - session_.last_seen > shared_.config.presence_timeout) session_ = FaceSession{};
  if (!a.usable()) return;  // no face, or failure to acquire: the terminal asks again, nothing is decided
  latest_ = a;
  latest_time_ = frame.time;

  const gr::Policy& policy = shared_.policy;
  const auto faces = shared_.faces.current();  // one consistent gallery for this frame
  const rv::Identification id = rv::identify(a, faces->gallery, 1);
  const bool matched = id.evidence.best_id && id.evidence.score >= gr::threshold_for(policy, a.mask.state) &&
                       faces->rights.rights(*id.evidence.best_id);
  const std::int64_t key = matched ? static_cast<std::int64_t>(*id.evidence.best_id) : kUnknownFace;
  if (in_cooldown(key, now)) {
    std::lock_guard lock(stats_mu_);
    ++stats_.cooldown_skips;
    return;
  }
  if (!session_.active || session_.key != key) {
    session_ = FaceSession{true, key, ++subjects_};
    session_.started = now;
  }
  session_.last_seen = now;

  rv::AttemptInput in;
  in.lane = lane_.name;
  in.top_k = 1;
  in.time_us = mono_us(frame.time);
  in.presentation.direction = lane_.direction;
  in.presentation.now_s = unix_now_s();
  if (needs_temperature()) in.thermal = face_association(read_thermal(), a, frame.time, session_.subject);
  // The engine decides one frame at a time; the session tells it what earlier frames used up.
  gr::Policy p = policy;
  p.max_face_attempts = std::max(1, policy.max_face_attempts - session_.failed_faces);
  if (session_.abnormal_readings > 0) p.remeasure_on_alarm = false;
  const rv::AttemptResult r = rv::decide_attempt(p, faces->rights, faces->gallery, a, in);
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.face_attempts;
  }
  const rv::AccessEvent& e = r.event;
  const bool thermal_ok = in.thermal && in.thermal->status == gr::ThermalStatus::ok;
  if (in.thermal && !thermal_ok && !session_.thermal_reported) {
    thermal_invalid(*in.thermal, "face");
    session_.thermal_reported = true;
  }
  bool referred_for_thermal = false;
  if (e.decision == gr::Verdict::pending) {
    if (e.next == gr::Step::capture_face) {  // not recognised in this frame: the next frame tries again
      ++session_.failed_faces;
      return;
    }
    if (e.next == gr::Step::measure_temperature) {
      if (thermal_ok) {  // a first abnormal reading: the engine measures again
        ++session_.abnormal_readings;
        return;
      }
      // A person still walking up is recognised before they reach the measuring spot: the terminal waits
      // for a valid reading (up to measure_timeout from the first frame of the session) and refers them
      // to staff only when repeated failures outlast it (as feed_temperature does after max failures).
      if (++session_.failed_thermal < fusion_.max_failed_associations ||
          now - session_.started < shared_.config.measure_timeout)
        return;
      referred_for_thermal = true;
    }
  }
  Json ev = {{"event", "access"}, {"gate", shared_.config.gate}, {"lane", lane_.name}, {"source", "face"},
             {"attempt", ++attempts_}};
  if (referred_for_thermal) ev["referred_to_staff"] = true;
  if (in.thermal) ev["thermal_detail"] = in.thermal->detail;
  {  // the face decided on, as terminals' event feeds give its rectangle: x, y, width, height in frame pixels
    const auto& b = a.faces[static_cast<std::size_t>(a.deciding)].detection.box;
    ev["face_box"] = {std::lround(b.x), std::lround(b.y), std::lround(b.width), std::lround(b.height)};
  }
  ev["latency_ms"] = ms_between(frame.time, Clock::now());
  actuate(ev, e, frame.time);
  record(std::move(ev), e, r.outcome);
  start_cooldown(key, now);
  session_ = FaceSession{};
}

void Lane::on_card(const CardSwipe& swipe) {
  const gr::Policy& policy = shared_.policy;
  Json card = {{"sequence", swipe.sequence}, {"bits", swipe.bits.bits}, {"raw", wg::to_bit_string(swipe.bits)}};
  gr::CardEvidence evidence;
  const wg::DecodeResult d = wg::decode(swipe.bits);
  if (d.status != wg::DecodeStatus::ok) {
    evidence.status = gr::CardStatus::misread;
    card["status"] = "misread";
    card["error"] = wg::to_string(d.status);
  } else {
    const CardKey key{d.credential.format == wg::Format::W34 ? CardFormat::w34 : CardFormat::w26, d.credential.facility,
                      d.credential.card};
    card["format"] = key.format == CardFormat::w34 ? "w34" : "w26";
    card["facility"] = key.facility;
    card["number"] = key.number;
    evidence.status = gr::CardStatus::unknown;
    if (shared_.residents) {
      if (const auto it = shared_.residents->cards.find(key); it != shared_.residents->cards.end()) {
        evidence.status = it->second.revoked ? gr::CardStatus::revoked : gr::CardStatus::valid;
        evidence.holder_id = it->second.holder;
        if (it->second.holder) card["holder"] = it->second.holder;
      }
    }
    card["status"] = evidence.status == gr::CardStatus::valid     ? "valid"
                     : evidence.status == gr::CardStatus::revoked ? "revoked"
                                                                  : "unknown";
  }
  // Card + face: the face in view when the card was swiped, if there was one a moment ago.
  const bool fresh = latest_ && Clock::now() - latest_time_ <= kFaceFreshness;
  const rv::FrameAnalysis analysis = fresh ? *latest_ : rv::FrameAnalysis{};

  rv::AttemptInput in;
  in.lane = lane_.name;
  in.top_k = 1;
  in.time_us = mono_us(swipe.received);
  in.presentation.direction = lane_.direction;
  in.presentation.offers_face = false;
  in.presentation.has_card = true;
  in.card = evidence;
  gr::Policy p = policy;
  const std::uint64_t subject = ++subjects_;
  const auto deadline = swipe.received + shared_.config.measure_timeout;
  rv::AttemptResult r;
  const auto faces = shared_.faces.current();
  // A card holder stands at the terminal: while the engine needs a temperature, measure again every
  // kThermalPoll until a valid reading or measure_timeout (one reading only once stopping).
  for (;;) {
    in.presentation.now_s = unix_now_s();
    in.thermal.reset();
    if (needs_temperature()) in.thermal = card_association(read_thermal(), subject);
    r = rv::decide_attempt(p, faces->rights, faces->gallery, analysis, in);
    const bool thermal_ok = in.thermal && in.thermal->status == gr::ThermalStatus::ok;
    if (r.event.decision != gr::Verdict::pending || r.event.next != gr::Step::measure_temperature) break;
    if (thermal_ok) p.remeasure_on_alarm = false;  // the abnormal first reading is taken; the next one decides
    if (stop_.requested() || Clock::now() + kThermalPoll > deadline) break;
    stop_.wait_for(kThermalPoll);
  }
  if (in.thermal && in.thermal->status != gr::ThermalStatus::ok) thermal_invalid(*in.thermal, "card");
  // Still waiting for a temperature when measure_timeout ran out: the holder goes to staff, who measure
  // by hand (as the face path refers after repeated failed readings).
  const bool referred_for_thermal = r.event.decision == gr::Verdict::pending && r.event.next == gr::Step::measure_temperature;
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.card_attempts;
  }
  const rv::AccessEvent& e = r.event;
  Json ev = {{"event", "access"}, {"gate", shared_.config.gate}, {"lane", lane_.name}, {"source", "card"},
             {"attempt", ++attempts_}, {"card", card}};
  if (referred_for_thermal) ev["referred_to_staff"] = true;
  if (in.thermal) ev["thermal_detail"] = in.thermal->detail;
  ev["latency_ms"] = ms_between(swipe.received, Clock::now());
  actuate(ev, e, swipe.received);
  record(std::move(ev), e, r.outcome);
  inbox_.ack(swipe.sequence);  // processed: decided, acted on and logged
  // The holder has just been decided by card: their face in view should not open the door again.
  if (evidence.holder_id) start_cooldown(evidence.holder_id, Clock::now());
}

void Lane::record(Json ev, const rv::AccessEvent& e, const gr::Outcome& outcome) {
  // The daemon's header fields, then the recognizer's access event in a reading order (it serialises its
  // keys sorted), then the daemon's details (card, door, latency).
  const Json access = Json::parse(rv::to_json(e));
  Json out;
  for (const char* k : {"event", "gate", "lane", "source", "attempt"}) out[k] = ev[k];
  for (const char* k : {"time_us", "verify_mode", "person_id", "decision", "reason", "next", "current_temperature_c",
                        "abnormal_temperature", "mask", "mask_reminder", "score", "thermal", "announcement"})
    if (access.contains(k)) out[k] = access[k];
  for (auto it = access.begin(); it != access.end(); ++it)
    if (!out.contains(it.key())) out[it.key()] = it.value();
  out["referred_to_staff"] = outcome.referred_to_staff || ev.value("referred_to_staff", false);
  for (auto it = ev.begin(); it != ev.end(); ++it)
    if (!out.contains(it.key())) out[it.key()] = it.value();
  const std::string t = log_.write(out);
  std::lock_guard lock(stats_mu_);
  stats_.last_event_time = t;
  (e.decision == gr::Verdict::grant ? stats_.grant : e.decision == gr::Verdict::deny ? stats_.deny : stats_.pending)++;
}

Lane::ThermalSample Lane::read_thermal() {
  ThermalSample s;
  s.reading.time = gr::Micros{mono_us()};
  std::string error;
  std::uint16_t regs[6] = {};
  if (!thermal_->ensure(false)) {
    last_reading_ = nullptr;
    s.problem = gr::ThermalStatus::sensor_fault;
    s.detail = "thermal sensor unreachable";
    return s;
  }
  const auto r = thermal_->call([&](modbus_t* c) { return modbus_read_input_registers(c, 0, 6, regs); }, error);
  s.reading.time = gr::Micros{mono_us()};
  if (r != ModbusLink::Result::ok) {
    last_reading_ = nullptr;
    s.problem = gr::ThermalStatus::sensor_fault;
    s.detail = "thermal sensor: " + error;
    return s;
  }
  const auto object = static_cast<std::int16_t>(regs[0]);
  const std::uint16_t status = regs[2];
  const std::uint32_t counter = (static_cast<std::uint32_t>(regs[3]) << 16) | regs[4];
  last_reading_ = {{"object_c", object / 100.0}, {"ambient_c", static_cast<std::int16_t>(regs[1]) / 100.0},
                 {"status", status}, {"counter", counter}};
  s.reading.object_c = object / 100.0;
  const bool counter_stuck = last_counter_ && *last_counter_ == counter;
  last_counter_ = counter;
  // Status bits (docs/modbus-devices.md): 0 valid, 1 warming up, 2 out of range, 3 fault.
  if ((status & 0x08) || regs[0] == 0x8000) {
    s.problem = gr::ThermalStatus::sensor_fault;
    s.detail = "the sensor reports a fault (status bit 3)";
  } else if (counter_stuck) {
    s.problem = gr::ThermalStatus::sensor_fault;
    s.detail = "the measurement counter did not advance: the sensor is not measuring";
  } else if (status & 0x02) {
    s.problem = gr::ThermalStatus::sensor_not_ready;
    s.detail = "the sensor is warming up (status bit 1)";
  } else if (status & 0x04) {
    s.problem = gr::ThermalStatus::out_of_range;
    s.detail = "object temperature outside the measuring range (status bit 2)";
  } else if (!(status & 0x01)) {
    s.problem = gr::ThermalStatus::out_of_region;
    s.detail = "nobody in the measuring spot (status bit 0 clear)";
  }
  std::lock_guard lock(stats_mu_);
  ++stats_.thermal_reads;
  return s;
}

gr::ThermalAssociation Lane::face_association(const ThermalSample& s, const rv::FrameAnalysis& a, SteadyTime frame_time,
                                              std::uint64_t subject) {
  gr::ThermalAssociation r;
  if (s.problem) {
    r = problem_association(*s.problem, s.detail);
  } else {
    gr::SpotSensorCalibration cal;
    cal.min_distance_m = lane_.thermal_spot.min_distance_m;
    cal.max_distance_m = lane_.thermal_spot.max_distance_m;
    if (lane_.thermal_spot.region) {
      cal.region = *lane_.thermal_spot.region;
    } else {  // a thermometer co-registered with the camera: it measures the face in front
      const auto& b = a.faces[static_cast<std::size_t>(a.deciding)].detection.box;
      cal.region = {b.x, b.y, b.width, b.height};
    }
    try {
      const auto faces = rv::observations(a);
      r = gr::associate_spot(fusion_, cal, s.reading, faces, gr::Micros{mono_us(frame_time)});
    } catch (const std::invalid_argument& ex) {  // a degenerate box from the detector
      r = problem_association(gr::ThermalStatus::sensor_fault, ex.what());
    }
    if (r.status == gr::ThermalStatus::ok && stuck_.observe(r.skin_c, subject))
      r = problem_association(gr::ThermalStatus::suspect_stuck, "the same reading for " +
                                                                   std::to_string(stuck_.streak()) + " people in a row");
  }
  std::lock_guard lock(stats_mu_);
  (r.status == gr::ThermalStatus::ok ? stats_.thermal_valid : stats_.thermal_invalid)++;
  return r;
}

gr::ThermalAssociation Lane::card_association(const ThermalSample& s, std::uint64_t subject) {
  gr::ThermalAssociation r;
  if (s.problem) {
    r = problem_association(*s.problem, s.detail);
  } else if (!(s.reading.object_c >= fusion_.min_skin_c && s.reading.object_c <= fusion_.max_skin_c)) {
    r = problem_association(gr::ThermalStatus::implausible, "reading outside the plausible skin range");
  } else if (stuck_.observe(s.reading.object_c, subject)) {
    r = problem_association(gr::ThermalStatus::suspect_stuck,
                            "the same reading for " + std::to_string(stuck_.streak()) + " people in a row");
  } else {
    r.status = gr::ThermalStatus::ok;
    r.skin_c = s.reading.object_c;
    r.detail = "spot reading with the card holder at the terminal";
  }
  std::lock_guard lock(stats_mu_);
  (r.status == gr::ThermalStatus::ok ? stats_.thermal_valid : stats_.thermal_invalid)++;
  return r;
}

void Lane::thermal_invalid(const gr::ThermalAssociation& a, const char* source) {
  log_.write({{"event", "thermal_invalid"}, {"gate", shared_.config.gate}, {"lane", lane_.name}, {"device", "thermal"},
              {"source", source}, {"status", gr::to_string(a.status)}, {"detail", a.detail}, {"reading", last_reading_}});
}

void Lane::actuate(Json& ev, const rv::AccessEvent& e, SteadyTime since) {
  // The record is committed before the relay is driven: a door never opens for a decision a crash could
  // lose from the audit log (unless a fail-safe lane chose availability).
  std::optional<AuditOutcome> audited;
  if (shared_.audit) {
    audited = shared_.audit->access(lane_.name, ev, e);
    if (audited->error.empty()) {
      ev["audit_seq"] = audited->seq;
    } else {
      ev["audit_error"] = audited->error;
      ev["fail_mode"] = to_string(lane_.fail_mode);
    }
  }
  const bool unrecorded = audited && !audited->error.empty();
  if (e.decision != gr::Verdict::grant) {
    ev["door"] = "closed";
    return;
  }
  if (unrecorded && lane_.fail_mode == FailMode::secure) {
    ev["door"] = "not_opened";
    ev["action"] = "fail-secure: the decision could not be recorded in the audit log; the door stays locked; "
                   "staff must check the person by hand";
    std::lock_guard lock(stats_mu_);
    ++stats_.unaudited_refusals;
    return;
  }
  std::string error;
  const bool opened = open_door(e, attempts_, error);
  ev["door"] = opened ? "opened" : "not_opened";
  if (!opened) ev["relay_error"] = error;
  if (unrecorded) ev["action"] = "fail-safe: opened without an audit record";
  ev["door_ms"] = ms_between(since, Clock::now());
}

bool Lane::open_door(const rv::AccessEvent& e, std::uint64_t attempt, std::string& error) {
  ModbusLink::Result r = ModbusLink::Result::unreachable;
  error = "relay unreachable";
  if (relay_.ensure(true)) r = relay_.call([](modbus_t* c) { return modbus_write_bit(c, 0, 1); }, error);
  std::lock_guard lock(stats_mu_);
  if (r == ModbusLink::Result::ok) {
    ++stats_.relay_opens;
    return true;
  }
  ++stats_.relay_failures;
  Json ev = {{"event", r == ModbusLink::Result::refused ? "relay_refused" : "relay_unreachable"},
             {"gate", shared_.config.gate},
             {"lane", lane_.name},
             {"device", "relay"},
             {"attempt", attempt},
             {"person_id", e.person ? Json(*e.person) : Json(nullptr)},
             {"error", error},
             {"fail_mode", to_string(lane_.fail_mode)},
             {"door", "not_opened"}};
  ev["action"] = lane_.fail_mode == FailMode::secure
                     ? "fail-secure: the door stays locked; staff must let the person through by hand"
                     : "fail-safe lane: its lock releases only if the lock loses power; gatectl cannot open it "
                       "remotely; staff must let the person through";
  log_.write(ev);
  return false;
}

Json Lane::status() const {
  const auto in = inbox_.counters();
  Json devices;
  devices["camera"] = camera_health_.snapshot();
  devices["camera"]["frames"] = in.frames;
  if (thermal_) {
    devices["thermal"] = thermal_health_.snapshot();
    devices["thermal"].update(thermal_->snapshot());
  }
  devices["relay"] = relay_health_.snapshot();
  devices["relay"].update(relay_.snapshot());
  devices["relay"]["fail_mode"] = to_string(lane_.fail_mode);
  if (reader_) {
    devices["reader"] = reader_health_.snapshot();
    devices["reader"].update(reader_->counters());
    devices["reader"]["queue_dropped"] = in.cards_dropped;
  }
  std::lock_guard lock(stats_mu_);
  const Stats& s = stats_;
  Json j;
  j["name"] = lane_.name;
  j["devices"] = devices;
  j["frames_read"] = in.frames;
  j["frames_skipped"] = in.frames_replaced;  // replaced by a newer frame before the worker got to them
  j["frames_analysed"] = s.frames_analysed;
  j["faces"] = {{"none", s.no_face}, {"not_acquired", s.not_acquired}, {"acquired", s.acquired},
                {"analysis_errors", s.analysis_errors}, {"cooldown_skips", s.cooldown_skips}};
  j["analysis_ms"] = {{"last", std::round(s.analysis_ms_last * 10) / 10},
                      {"mean", s.frames_analysed ? std::round(s.analysis_ms_total / static_cast<double>(s.frames_analysed) * 10) / 10 : 0.0}};
  j["attempts"] = {{"face", s.face_attempts}, {"card", s.card_attempts}};
  j["decisions"] = {{"grant", s.grant}, {"deny", s.deny}, {"pending", s.pending}};
  j["thermal"] = {{"reads", s.thermal_reads}, {"valid", s.thermal_valid}, {"invalid", s.thermal_invalid}};
  j["relay"] = {{"opens", s.relay_opens}, {"failures", s.relay_failures}};
  j["unaudited_refusals"] = s.unaudited_refusals;
  j["last_event_time"] = s.last_event_time.empty() ? Json(nullptr) : Json(s.last_event_time);
  return j;
}

}  // namespace gatetwin::gatectl
