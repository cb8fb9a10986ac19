#include "gatetwin/sim/world.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>

#include <unistd.h>

#include "gatetwin/devices/wiegand.hpp"
#include "gatetwin/sim/face_sensor.hpp"
#include "gatetwin/sim/hil_gates.hpp"
#include "gatetwin/sim/pixel_sensor.hpp"
#include "gatetwin/sim/simulation.hpp"

namespace gatetwin::sim {
namespace {

using recognizer::CardEvidence;
using recognizer::CardStatus;
using recognizer::Direction;
using recognizer::FaceEvidence;
using recognizer::GateTransaction;
using recognizer::MaskState;
using recognizer::Step;
using recognizer::Verdict;

struct Passage {
  PassageRecord rec;
  MaskState mask = MaskState::none;  // current state; a resident may put the mask on when asked
  std::optional<GateTransaction> tx;
  std::vector<std::uint32_t> tailgaters;  // passages walking in behind this one
};

struct Lane {
  bool busy = false;
  std::deque<std::uint32_t> queue;
};

struct Gate {
  const GateSpec* spec = nullptr;
  std::vector<Lane> lanes;
  std::deque<std::uint32_t> shared;  // shared-queue gates
  int staff_free = 0;
  std::deque<std::uint32_t> staff_queue;
  std::size_t first_column = 0;  // index of lane 0 in the timeline columns
};

// One arrival stream: a non-homogeneous Poisson process with a piecewise-constant hourly rate, sampled
// exactly by inverting the cumulative intensity.
struct ArrivalStream {
  PersonKind kind;
  Direction direction;
  bool groups;                     // resident trips arrive in small groups
  std::array<double, 24> rate{};   // arrivals per second in each hour
  RandomStream rng;
};

// The back office's rights with the day's privacy state: a resident who withdrew, or has not consented to
// a new purpose, has no usable face template (so card + face 1:1 is not asked of them).
class PrivacyRights final : public recognizer::RightsDirectory {
 public:
  PrivacyRights(const Population& pop, const std::vector<FaceOff>& off) : pop_(pop), off_(off) {}
  std::optional<recognizer::Rights> rights(std::uint32_t id) const override {
    auto r = pop_.rights(id);
    if (r && id < off_.size() && off_[id] != FaceOff::none) r->has_face_template = false;
    return r;
  }

 private:
  const Population& pop_;
  const std::vector<FaceOff>& off_;
};

class World {
 public:
  World(const Scenario& s, std::filesystem::path hil_dir, LiveSink* live)
      : s_(s), sim_(s.seed, s.day_start), pop_(s), face_(s.fidelity == "hil" ? make_statistical_face_sensor(s) : make_face_sensor(s, pop_)),
        live_(live), rights_(pop_, face_off_) {
    face_->set_live(live);
    face_off_.assign(pop_.resident_count(), FaceOff::none);
    for (std::uint32_t id = 0; id < pop_.resident_count(); ++id) {
      const Person& p = pop_.person(id);
      if (p.refuses_face) face_off_[id] = FaceOff::refused;
      if (p.withdrew_face) face_off_[id] = FaceOff::withdrawn;
      out_.privacy.withdrawn_before_day += p.withdrew_face ? 1 : 0;
    }
    purposes_ = s.privacy.purposes;
    rebuild_galleries();
    for (std::size_t g = 0; g < s.gates.size(); ++g) {
      Gate gate;
      gate.spec = &s.gates[g];
      gate.lanes.resize(static_cast<std::size_t>(s.gates[g].lanes));
      gate.staff_free = s.gates[g].staff;
      gate.first_column = out_.lane_names.size();
      for (int l = 0; l < s.gates[g].lanes; ++l) out_.lane_names.push_back(s.gates[g].name + "/" + std::to_string(l + 1));
      gates_.push_back(std::move(gate));
    }
    out_.max_queue.assign(out_.lane_names.size(), 0);
    minute_max_.assign(out_.lane_names.size(), 0);
    minute_staff_max_.assign(gates_.size(), 0);
    if (s.fidelity == "hil") {
      if (hil_dir.empty()) hil_dir = std::filesystem::temp_directory_path() / ("gatetwin-hil-" + std::to_string(::getpid()));
      hil_ = std::make_unique<HilGates>(s, pop_, hil_dir, [this](std::size_t lane, SimTime t) {
        sim_.schedule_now_threadsafe([this, lane, t] { hil_open(lane, t); });
      });
      hil_lanes_.resize(out_.lane_names.size());
      hil_->set_live(live);
    }
  }

  RunOutput run(const ProgressFn& progress) {
    const auto& p = s_.population;
    const double trips = static_cast<double>(pop_.free_residents().size()) * s_.arrivals.trips_per_resident / 2.0;
    const double groups = trips / realised_group_size();
    add_stream(PersonKind::resident, Direction::entry, true, groups, s_.arrivals.entry_profile, "arrivals.residents.entry");
    add_stream(PersonKind::resident, Direction::exit, true, groups, s_.arrivals.exit_profile, "arrivals.residents.exit");
    add_stream(PersonKind::resident, Direction::exit, false,
               static_cast<double>(pop_.isolated_residents().size()) * p.quarantine_exit_attempts_per_person, s_.arrivals.exit_profile,
               "arrivals.isolated.exit");
    add_stream(PersonKind::visitor, Direction::entry, false, p.visitors_per_day, s_.arrivals.entry_profile, "arrivals.visitors");
    add_stream(PersonKind::lookalike, Direction::entry, false, p.lookalike_attempts_per_day, s_.arrivals.entry_profile, "arrivals.lookalikes");
    add_stream(PersonKind::cloned_card, Direction::entry, false, p.cloned_card_attempts_per_day, s_.arrivals.entry_profile, "arrivals.cloned_cards");
    add_stream(PersonKind::revoked_card, Direction::entry, false, p.revoked_card_attempts_per_day, s_.arrivals.entry_profile, "arrivals.revoked_cards");
    for (std::size_t i = 0; i < streams_.size(); ++i) schedule_next_arrival(i);
    // Privacy events (none in the counterfactual, where everyone uses face whatever happens).
    if (!s_.privacy.everyone_uses_face)
      for (std::size_t k = 0; k < s_.privacy.events.size(); ++k) sim_.schedule_at(s_.privacy.events[k].at, [this, k] { privacy_event(k); });

    progress_ = &progress;
    sim_.schedule_at(s_.day_start, [this] { sample_minute(); });
    // Arrivals stop at day.end; the run goes on until every queue is empty, for at most a week more.
    RunSummary summary;
    if (hil_) {
      // Hardware in the loop: simulated time follows the wall clock; the devices' clock starts with it.
      hil_->start();
      SteadyWallClock wall;
      ScaledPacer pacer(s_.hil.speed, wall, s_.hil.strict, seconds(s_.hil.tolerance_s));
      hil_->run_clock();
      try {
        summary = sim_.run_until(s_.day_end + hours(24 * 7), pacer);
      } catch (...) {
        hil_->stop();
        throw;
      }
      hil_->stop();
      out_.hil.active = true;
      out_.hil.speed = s_.hil.speed;
      out_.hil.pacing = pacer.stats();
      out_.hil.gates = hil_->stats();
      out_.hil.workdir = hil_->workdir();
    } else {
      summary = sim_.run_until(s_.day_end + hours(24 * 7));
    }
    out_.events = summary.events_executed;
    out_.unfinished = active_;
    out_.end_time = out_.passages.empty() ? s_.day_start : out_.passages.back().decided;
    out_.residents = pop_.resident_count();
    out_.enrolled = pop_.enrolled_count();
    face_->finish(out_);
    for (const FaceOff f : face_off_) {
      out_.privacy.refused += f == FaceOff::refused;
      out_.privacy.withdrawn += f == FaceOff::withdrawn;
      out_.privacy.no_reconsent += f == FaceOff::no_reconsent;
    }
    out_.privacy.purposes = purposes_;
    for (const auto& person : pop_.persons()) {
      out_.person_labels.push_back(person.label());
      out_.febrile.push_back(person.febrile);
    }
    return std::move(out_);
  }

 private:
  // ---------------------------------------------------------------- arrivals
  // Mean size of a resident group as formed in on_arrival: 1 + Poisson(group_size_mean - 1), capped at
  // the leader's household members who are not isolated; the leader is any free resident. Dividing the
  // trips by this (not by group_size_mean) keeps trips_per_resident exact in expectation.
  double realised_group_size() const {
    const double lambda = s_.arrivals.group_size_mean - 1.0;
    const auto& first = pop_.households_first();
    double total = 0, leaders = 0;
    for (std::size_t h = 0; h + 1 < first.size(); ++h) {
      std::uint32_t k = 0;
      for (std::uint32_t id = first[h]; id < first[h + 1]; ++id) k += pop_.person(id).quarantined_on(s_.day_index) ? 0 : 1;
      if (k == 0) continue;
      // E[min(1 + X, k)] = 1 + sum_{i=1}^{k-1} P(X >= i), X ~ Poisson(lambda).
      double expected = 1.0, pmf = std::exp(-lambda), cdf = pmf;
      for (std::uint32_t i = 1; i < k; ++i) {
        expected += 1.0 - cdf;
        pmf *= lambda / i;
        cdf += pmf;
      }
      total += k * expected;
      leaders += k;
    }
    return leaders > 0 ? total / leaders : 1.0;
  }

  void add_stream(PersonKind kind, Direction dir, bool groups, double per_day, const std::array<double, 24>& profile,
                  const char* name) {
    if (per_day <= 0) return;
    // Normalise the hourly weights over the part of each hour inside the open window.
    const double weight = profile_weight(profile, s_.day_start, s_.day_end);
    if (weight <= 0) return;
    ArrivalStream st{kind, dir, groups, {}, RandomStream(s_.seed, name)};
    for (int h = 0; h < 24; ++h) st.rate[h] = per_day * profile[h] / weight / 3600.0;
    streams_.push_back(std::move(st));
  }

  void schedule_next_arrival(std::size_t i) {
    ArrivalStream& st = streams_[i];
    double budget = st.rng.exponential(1.0);  // unit-rate exponential, spent against the intensity
    double t = to_seconds(sim_.now());
    const double end = to_seconds(s_.day_end);
    while (t < end) {
      const int h = std::min(23, static_cast<int>(t / 3600.0));
      const double seg_end = std::min(end, (h + 1) * 3600.0);
      const double mass = st.rate[h] * (seg_end - t);
      if (mass >= budget && st.rate[h] > 0) {
        t += budget / st.rate[h];
        sim_.schedule_at(seconds(t), [this, i] { on_arrival(i); });
        return;
      }
      budget -= mass;
      t = seg_end;
    }
  }

  void on_arrival(std::size_t i) {
    ArrivalStream& st = streams_[i];
    std::vector<std::uint32_t> members;
    if (st.kind == PersonKind::resident && st.groups) {
      const auto& free = pop_.free_residents();
      if (free.empty()) return;
      const std::uint32_t leader = free[st.rng.below(free.size())];
      members.push_back(leader);
      // A group is the leader and members of the same household (never larger than the household).
      const std::uint32_t size = 1 + st.rng.poisson(s_.arrivals.group_size_mean - 1.0);
      const auto& first = pop_.households_first();
      const std::uint32_t hh = pop_.person(leader).household;
      for (std::uint32_t id = first[hh]; id < first[hh + 1] && members.size() < size; ++id) {
        if (id != leader && !pop_.person(id).quarantined_on(s_.day_index)) members.push_back(id);
      }
    } else if (st.kind == PersonKind::resident) {
      const auto& iso = pop_.isolated_residents();
      if (iso.empty()) return;
      members.push_back(iso[st.rng.below(iso.size())]);
    } else {
      members.push_back(pop_.add_outsider(st.kind, st.rng));
    }
    const Person& lead = pop_.person(members.front());
    const std::uint16_t gate = pop_.gate_serves(lead.home_gate, st.direction)
                                   ? lead.home_gate
                                   : pop_.pick_gate(st.direction, st.rng, lead.compound);
    std::uint32_t leader_passage = 0;
    for (std::size_t k = 0; k < members.size(); ++k) {
      const std::uint32_t idx = new_passage(members[k], st.direction, gate);
      if (k == 0) {
        leader_passage = idx;
        join_queue(idx);
      } else if (st.rng.bernoulli(s_.arrivals.tailgating_share)) {
        passages_[leader_passage].tailgaters.push_back(idx);
      } else {
        join_queue(idx);
      }
    }
    schedule_next_arrival(i);
  }

  std::uint32_t new_passage(std::uint32_t person_id, Direction dir, std::uint16_t gate) {
    const auto idx = static_cast<std::uint32_t>(passages_.size());
    Passage ps;
    PassageRecord& r = ps.rec;
    r.passage = idx;
    r.person = person_id;
    r.direction = dir;
    r.gate = gate;
    r.arrived = sim_.now();
    const Person& p = pop_.person(person_id);
    r.entitled = p.kind == PersonKind::visitor || (p.kind == PersonKind::resident && !(dir == Direction::exit && p.quarantined_on(s_.day_index)));
    // The trip's mask state comes from the passage's own stream (common random numbers across policies).
    RandomStream trip(s_.seed, "trip", idx);
    bool masked = p.mask_habit == MaskHabit::always ||
                  (p.mask_habit == MaskHabit::sometimes && trip.bernoulli(s_.population.mask_sometimes_probability));
    r.mask_truth = !masked ? MaskState::none
                           : (trip.bernoulli(s_.population.mask_below_nose_share) ? MaskState::below_nose : MaskState::worn);
    ps.mask = r.mask_truth;
    passages_.push_back(std::move(ps));
    ++active_;
    return idx;
  }

  // ---------------------------------------------------------------- queues and lanes
  void join_queue(std::uint32_t idx) {
    Passage& ps = passages_[idx];
    const std::uint16_t gate = ps.rec.gate;
    Gate& g = gates_[gate];
    if (g.spec->queue == QueueMode::shared) {
      g.shared.push_back(idx);
      for (std::size_t l = 0; l < g.lanes.size(); ++l) {
        if (!g.lanes[l].busy && lane_serves(gate, l, ps.rec.direction)) {
          start_next(gate, l);
          break;
        }
      }
      note_queue(g.first_column, g.shared.size());
      return;
    }
    const auto load = [&](std::size_t k) { return g.lanes[k].queue.size() + (g.lanes[k].busy ? 1 : 0); };
    std::size_t best = g.lanes.size();
    for (std::size_t l = 0; l < g.lanes.size(); ++l) {
      if (!lane_serves(gate, l, ps.rec.direction)) continue;
      if (best == g.lanes.size() || load(l) < load(best)) best = l;
    }
    g.lanes[best].queue.push_back(idx);
    if (!g.lanes[best].busy) start_next(gate, best);
    note_queue(g.first_column + best, g.lanes[best].queue.size());
  }

  void note_queue(std::size_t column, std::size_t length) {
    const auto n = static_cast<std::uint32_t>(length);
    out_.max_queue[column] = std::max(out_.max_queue[column], n);
    minute_max_[column] = std::max(minute_max_[column], n);
  }

  void start_next(std::uint16_t gate, std::size_t lane) {
    Gate& g = gates_[gate];
    auto& q = g.spec->queue == QueueMode::shared ? g.shared : g.lanes[lane].queue;
    if (q.empty() || g.lanes[lane].busy) return;
    // A shared queue sends the first person this lane serves (in HIL a lane is an entry or an exit lane).
    auto next = q.begin();
    while (next != q.end() && !lane_serves(gate, lane, passages_[*next].rec.direction)) ++next;
    if (next == q.end()) return;
    const std::uint32_t idx = *next;
    q.erase(next);
    g.lanes[lane].busy = true;
    Passage& ps = passages_[idx];
    ps.rec.lane = static_cast<std::int16_t>(lane);
    ps.rec.service_start = sim_.now();
    if (hil_) return hil_begin(gate, lane, idx);
    const Duration t = serve(ps);
    sim_.schedule_in(t, [this, gate, lane, idx] { lane_done(gate, lane, idx); });
  }

  void lane_done(std::uint16_t gate, std::size_t lane, std::uint32_t idx) {
    Gate& g = gates_[gate];
    g.lanes[lane].busy = false;
    Passage& ps = passages_[idx];
    ps.rec.lane_end = sim_.now();
    if (ps.tx && !ps.tx->done()) {
      to_staff(idx);
    } else {
      decide(idx);
    }
    start_next(gate, lane);
  }

  // ---------------------------------------------------------------- one transaction at the terminal
  Duration draw(const TimeDist& d, RandomStream& r) const {
    if (d.mean_s <= 0) return Duration{0};
    return seconds(r.lognormal_mean_sd(d.mean_s, d.sd_s));
  }

  Duration serve(Passage& ps) {
    PassageRecord& r = ps.rec;
    const std::uint64_t seed = s_.seed;
    RandomStream times(seed, "service", r.passage);
    if (s_.service.exponential) {
      r.outcome.verdict = Verdict::grant;
      r.outcome.reason = recognizer::Reason::recognised;
      r.outcome.credential = recognizer::Credential::face;
      return seconds(times.exponential(s_.service.exponential_mean_s));
    }
    RandomStream face_rng(seed, "face", r.passage), thermal_rng(seed, "thermal", r.passage), card_rng(seed, "card", r.passage);
    const Person& p = pop_.person(r.person);
    recognizer::Presentation pres;
    pres.direction = r.direction;
    r.face_off = face_off_of(p);
    pres.offers_face = offers_face(p);
    // A resident who does not use face for a privacy reason uses the card they were given (privacy.card_access).
    pres.has_card = r.face_off == FaceOff::none ? p.has_card : s_.privacy.card_access;
    pres.is_visitor = p.kind == PersonKind::visitor;
    pres.now_s = static_cast<std::int64_t>(s_.day_index) * 86400 + sim_.now().count() / 1'000'000;
    ps.tx.emplace(s_.policy, rights_, pres);
    GateTransaction& tx = *ps.tx;
    Duration t = draw(s_.service.walk_up, times);
    std::uint32_t attempt = 0;
    for (int guard = 0; guard < 64 && !tx.done() && tx.next() != Step::staff_check; ++guard) {
      switch (tx.next()) {
        case Step::measure_temperature: {
          t += draw(s_.service.temperature, times);
          ++out_.attempts.temperature_measurements;
          const double skin = p.core_c - p.skin_gradient_c;
          tx.on_temperature(skin + s_.thermal.bias_c + thermal_rng.normal(0.0, s_.thermal.noise_sd()));
          break;
        }
        case Step::capture_face: {
          t += draw(s_.service.presentation, times) + draw(s_.service.recognition, times);
          const FaceEvidence e = face_->capture(face_request(ps, attempt++), face_rng, out_.attempts);
          tx.on_face(e);
          // Asked to wear the mask properly: a resident who has one puts it on before the next attempt.
          if (s_.policy.mask == recognizer::MaskPolicy::require && e.acquired && e.mask != MaskState::worn && !tx.done() &&
              tx.next() == Step::capture_face && p.carries_mask) {
            t += draw(s_.service.mask_adjust, times);
            ps.mask = MaskState::worn;
          }
          break;
        }
        case Step::read_card: {
          t += draw(s_.service.card, times);
          tx.on_card(sample_card(ps, card_rng));
          break;
        }
        default: break;
      }
    }
    if (!tx.done() && tx.next() != Step::staff_check) throw std::logic_error("gate transaction did not converge");
    if (tx.done() && tx.outcome().verdict == Verdict::grant) t += draw(s_.service.door_cycle, times);
    return t;
  }

  FaceRequest face_request(const Passage& ps, std::uint32_t attempt) const {
    FaceRequest q;
    q.person = &pop_.person(ps.rec.person);
    q.truth = ps.mask;
    q.gate = ps.rec.gate;
    q.lane = ps.rec.lane;
    q.passage = ps.rec.passage;
    q.attempt = attempt;
    q.compound = pop_.compound_of_gate(ps.rec.gate);
    q.gallery = &galleries_[q.compound];
    if (!ps.tailgaters.empty()) q.behind = passages_[ps.tailgaters.front()].rec.person;
    return q;
  }

  CardEvidence sample_card(const Passage& ps, RandomStream& r) {
    const Person& p = pop_.person(ps.rec.person);
    const MaskState mask = ps.mask;
    ++out_.attempts.card_swipes;
    CardEvidence e;
    e.mask = mask;
    // The reader delivers a Wiegand frame; a misread flips one bit, which parity always catches.
    const std::uint32_t card_number = (p.kind == PersonKind::cloned_card ? p.impersonates : p.id) & 0xFFFFu;
    const auto fmt = s_.card.format == "w34" ? devices::wiegand::Format::W34 : devices::wiegand::Format::W26;
    auto frame = devices::wiegand::encode({fmt, 1, card_number});
    if (frame && r.bernoulli(s_.card.read_error)) {
      frame = devices::wiegand::flip_bit(*frame, static_cast<unsigned>(r.below(frame->bits)));
    }
    if (!frame || devices::wiegand::decode(*frame).status != devices::wiegand::DecodeStatus::ok) {
      ++out_.attempts.card_misreads;
      e.status = CardStatus::misread;
      return e;
    }
    switch (p.kind) {
      case PersonKind::revoked_card: e.status = CardStatus::revoked; return e;
      case PersonKind::cloned_card:
        if (pop_.card_holders().empty()) {  // nothing to clone: the reader does not know the number
          e.status = CardStatus::unknown;
          return e;
        }
        e.status = CardStatus::valid;
        e.holder_id = p.impersonates;
        if (s_.policy.card_requires_face) e.face_verify_score = face_->verify(face_request(ps, 0), p.impersonates, r);
        return e;
      default:
        if (p.kind != PersonKind::resident) {
          e.status = CardStatus::unknown;
          return e;
        }
        e.status = CardStatus::valid;
        e.holder_id = p.id;
        if (s_.policy.card_requires_face) e.face_verify_score = face_->verify(face_request(ps, 0), p.id, r);
        return e;
    }
  }

  // ---------------------------------------------------------------- staff
  void to_staff(std::uint32_t idx) {
    Gate& g = gates_[passages_[idx].rec.gate];
    if (g.spec->staff == 0) {
      passages_[idx].rec.staff_unavailable = true;
      staff_verdict(passages_[idx], {false, std::nullopt});
      decide(idx);
      return;
    }
    g.staff_queue.push_back(idx);
    const std::uint16_t gi = passages_[idx].rec.gate;
    try_staff(gi);
    minute_staff_max_[gi] = std::max(minute_staff_max_[gi], static_cast<std::uint32_t>(g.staff_queue.size()));
  }

  void try_staff(std::uint16_t gate) {
    Gate& g = gates_[gate];
    while (g.staff_free > 0 && !g.staff_queue.empty()) {
      const std::uint32_t idx = g.staff_queue.front();
      g.staff_queue.pop_front();
      --g.staff_free;
      Passage& ps = passages_[idx];
      ps.rec.staff_wait = sim_.now() - ps.rec.lane_end;
      RandomStream staff_rng(s_.seed, "staff", ps.rec.passage);
      const Duration t = draw(s_.service.staff_check, staff_rng);
      ps.rec.staff_time = t;
      sim_.schedule_in(t, [this, gate, idx] { staff_done(gate, idx); });
    }
  }

  void staff_done(std::uint16_t gate, std::uint32_t idx) {
    Passage& ps = passages_[idx];
    const Person& p = pop_.person(ps.rec.person);
    RandomStream r(s_.seed, "staff.decision", ps.rec.passage);
    recognizer::StaffEvidence ev;
    bool should_pass = ps.rec.entitled;
    // Staff measure with a hand-held thermometer after a terminal alarm, and whenever the terminal has not
    // measured this person (identity-first mode referrals, visitors) but the policy asks for temperature.
    const auto& so = ps.tx ? ps.tx->outcome() : ps.rec.outcome;
    if (so.temperature_alarm ||
        (so.temperature_measurements == 0 && s_.policy.temperature_mode != recognizer::TemperatureMode::off)) {
      const double handheld = std::round((p.core_c + r.normal(0.0, s_.thermal.handheld_sd_c)) * 10.0) / 10.0;
      ev.handheld_temperature_c = handheld;
      if (handheld >= 37.3) should_pass = false;
    }
    if (s_.policy.health_code_check && p.health != recognizer::HealthCode::green) should_pass = false;
    ev.approved = r.bernoulli(s_.staff.permit_check_accuracy) ? should_pass : !should_pass;
    staff_verdict(ps, ev);
    ++gates_[gate].staff_free;
    decide(idx);
    try_staff(gate);
  }

  // The staff's decision: through the policy engine's transaction, or, in HIL (where gatectl decided the
  // terminal's part and the transaction lives in gatectl), as the staff post records it.
  void staff_verdict(Passage& ps, const recognizer::StaffEvidence& ev) {
    if (ps.tx) return ps.tx->on_staff(ev);
    recognizer::Outcome& o = ps.rec.outcome;
    o.verdict = ev.approved ? Verdict::grant : Verdict::deny;
    o.reason = ev.approved ? recognizer::Reason::staff_approved : recognizer::Reason::staff_denied;
    o.credential = recognizer::Credential::staff;
    o.staff_temperature_c = ev.handheld_temperature_c;
    o.referred_to_staff = true;
  }

  // ---------------------------------------------------------------- hardware in the loop
  // A lane's state while a resident stands at it. gatectl decides; the simulation sees the relay.
  struct HilLaneState {
    enum class Phase { idle, face, card, door } phase = Phase::idle;
    std::uint32_t idx = 0;
    std::uint16_t gate = 0;
    std::size_t lane = 0;
    EventId timeout;
    int swipes = 0;
    bool misread = false;        // the last swipe's frame had a flipped bit
    bool tried_face = false;
    recognizer::Credential opened_by = recognizer::Credential::none;
    std::vector<GateDecision> heard;   // gatectl's access events for this passage so far
    EventId listen;
  };

  bool lane_serves(std::uint16_t gate, std::size_t lane, Direction d) const {
    return !hil_ || hil_lane_direction(*gates_[gate].spec, static_cast<int>(lane)) == d;
  }

  void hil_begin(std::uint16_t gate, std::size_t lane, std::uint32_t idx) {
    const std::size_t col = gates_[gate].first_column + lane;
    HilLaneState& st = hil_lanes_[col];
    st = HilLaneState{};
    st.idx = idx;
    st.gate = gate;
    st.lane = lane;
    Passage& ps = passages_[idx];
    const Person& p = pop_.person(ps.rec.person);
    scene::LaneSpec spec = hil_->lane_spec();
    spec.passage = ps.rec.passage;
    std::vector<scene::Actor> actors{gate_subject(s_, spec, p, ps.mask)};
    if (!ps.tailgaters.empty()) actors.push_back(scene::make_actor(spec, passages_[ps.tailgaters.front()].rec.person, scene::Role::behind));
    hil_->present(col, sim_.now(), ps.rec.passage, std::move(actors));
    // Whoever has a face template (or passes themselves off as someone who has) looks at the camera and
    // waits; the others go to the card reader or the staff post.
    ps.rec.face_off = face_off_of(p);
    if (offers_face(p)) {
      st.phase = HilLaneState::Phase::face;
      st.tried_face = true;
      st.timeout = sim_.schedule_in(seconds(s_.hil.face_timeout_s), [this, col] { hil_timeout(col); });
    } else {
      hil_card_or_staff(col);
    }
    st.listen = sim_.schedule_in(kHilListen, [this, col, idx] { hil_listen(col, idx); });
  }

  // The resident hears the terminal: gatectl's announcement of a refusal, a referral, a request for the
  // card, or a grant whose door did not open sends them on (after a moment to react) without waiting out
  // the timeout. Whether the door opened is never taken from here: only the relay tells.
  static constexpr Duration kHilListen = std::chrono::milliseconds(250);
  static constexpr Duration kHilReact = std::chrono::milliseconds(700);
  void hil_listen(std::size_t col, std::uint32_t idx) {
    HilLaneState& st = hil_lanes_[col];
    if (st.idx != idx || st.phase == HilLaneState::Phase::idle) return;
    bool sent_on = false;
    for (auto& d : hil_->take_decisions(col)) {
      sent_on = sent_on || d.decision == "deny" || d.door == "not_opened" || d.referred_to_staff ||
                (d.decision == "pending" && d.next == "read_card");
      show_gatectl(col, idx, d);
      st.heard.push_back(std::move(d));
    }
    if (st.phase == HilLaneState::Phase::door) return;  // going through: nothing more to hear
    if (sent_on && (st.phase == HilLaneState::Phase::face || st.phase == HilLaneState::Phase::card) && sim_.is_pending(st.timeout)) {
      sim_.cancel(st.timeout);
      st.timeout = sim_.schedule_in(kHilReact, [this, col] { hil_move_on(col); });
    }
    st.listen = sim_.schedule_in(kHilListen, [this, col, idx] { hil_listen(col, idx); });
  }

  // Next step after the face (or a swipe) did not open the door: a card (again only after a misread), or staff.
  void hil_card_or_staff(std::size_t col) {
    HilLaneState& st = hil_lanes_[col];
    const Passage& ps = passages_[st.idx];
    const auto card = hil_card(pop_.person(ps.rec.person), s_);
    if (card && s_.policy.card_allowed && (st.swipes == 0 || (st.swipes == 1 && st.misread))) {
      st.phase = HilLaneState::Phase::card;
      RandomStream times(s_.seed, "hil.card", ps.rec.passage * 4 + static_cast<std::uint64_t>(st.swipes));
      const std::uint32_t idx = st.idx;
      sim_.schedule_in(draw(s_.service.card, times), [this, col, idx] { hil_swipe(col, idx); });
      return;
    }
    hil_->leave(col);
    hil_done(col, false);
  }

  void hil_swipe(std::size_t col, std::uint32_t idx) {
    HilLaneState& st = hil_lanes_[col];
    if (st.idx != idx || st.phase != HilLaneState::Phase::card) return;  // the door opened meanwhile
    const Passage& ps = passages_[idx];
    const auto card = hil_card(pop_.person(ps.rec.person), s_);
    auto frame = devices::wiegand::encode(*card);
    RandomStream r(s_.seed, "hil.card.read", ps.rec.passage * 4 + static_cast<std::uint64_t>(st.swipes));
    st.misread = frame && r.bernoulli(s_.card.read_error);
    if (st.misread) frame = devices::wiegand::flip_bit(*frame, static_cast<unsigned>(r.below(frame->bits)));
    ++st.swipes;
    ++out_.attempts.card_swipes;
    if (st.misread) ++out_.attempts.card_misreads;
    if (frame) hil_->swipe(col, *frame);
    st.timeout = sim_.schedule_in(seconds(s_.hil.card_timeout_s), [this, col] { hil_timeout(col); });
  }

  void hil_timeout(std::size_t col) {
    HilLaneState& st = hil_lanes_[col];
    if (st.phase == HilLaneState::Phase::face) ++out_.hil.face_timeouts;
    else if (st.phase == HilLaneState::Phase::card) ++out_.hil.card_timeouts;
    hil_move_on(col);
  }
  void hil_move_on(std::size_t col) {
    const HilLaneState& st = hil_lanes_[col];
    if (st.phase == HilLaneState::Phase::face || st.phase == HilLaneState::Phase::card) hil_card_or_staff(col);
  }

  // The relay energised (an input from the device thread, run at the present simulated time).
  void hil_open(std::size_t col, SimTime relay_time) {
    HilLaneState& st = hil_lanes_[col];
    if (st.phase != HilLaneState::Phase::face && st.phase != HilLaneState::Phase::card) return;
    sim_.cancel(st.timeout);
    st.opened_by = st.swipes > 0 ? recognizer::Credential::card : recognizer::Credential::face;  // hil_outcome refines it
    st.phase = HilLaneState::Phase::door;
    const Passage& ps = passages_[st.idx];
    out_.hil.open_after_s.push_back(to_seconds(relay_time - ps.rec.service_start));
    out_.hil.open_lane.push_back(static_cast<std::uint32_t>(col));
    RandomStream times(s_.seed, "service", ps.rec.passage);
    const Duration cycle = draw(s_.service.door_cycle, times);
    sim_.schedule_in(seconds(s_.hil.walk_through_s), [this, col, cycle] {
      hil_->door(col, true);
      if (live_) live_->door(out_.lane_names[col], true, sim_.now());
      sim_.schedule_in(cycle, [this, col] {
        hil_->door(col, false);
        if (live_) live_->door(out_.lane_names[col], false, sim_.now());
        hil_done(col, true);
      });
    });
  }

  // The resident left the terminal: through the door, or to the staff post.
  void hil_done(std::size_t col, bool opened) {
    HilLaneState& st = hil_lanes_[col];
    st.phase = HilLaneState::Phase::idle;
    sim_.cancel(st.listen);
    Passage& ps = passages_[st.idx];
    for (auto& d : hil_->take_decisions(col)) {
      show_gatectl(col, st.idx, d);
      st.heard.push_back(std::move(d));
    }
    hil_outcome(ps, st, st.heard, opened);
    Gate& g = gates_[st.gate];
    g.lanes[st.lane].busy = false;
    ps.rec.lane_end = sim_.now();
    if (opened) decide(st.idx);
    else to_staff(st.idx);
    start_next(st.gate, st.lane);
  }

  // The terminal's part of the outcome from gatectl's access events for this passage, and the attempt
  // counts (one face access event is one decided attempt; a face phase without any is a failure to acquire).
  void hil_outcome(Passage& ps, const HilLaneState& st, const std::vector<GateDecision>& ds, bool opened) {
    recognizer::Outcome& o = ps.rec.outcome;
    o = {};
    const Person& p = pop_.person(ps.rec.person);
    const auto m = static_cast<std::size_t>(ps.mask);
    const GateDecision* last = nullptr;
    out_.hil.heard[ps.rec.passage] = ds;
    for (const auto& d : ds) {
      last = &d;
      if (d.door_ms) out_.hil.gatectl_door_ms.push_back(*d.door_ms);
      if (d.temperature_c) {
        ++o.temperature_measurements;
        ++out_.attempts.temperature_measurements;
        o.temperature_c = d.temperature_c;
      }
      o.temperature_alarm = o.temperature_alarm || d.abnormal_temperature;
      // The camera sees everyone; only those who offer their face make face attempts (a resident who
      // refused enrolment is "an unrecognised face" to gatectl while they swipe their card).
      // Someone without a template (who refused enrolment, or was never enrolled) whom the camera matched
      // to an enrolled resident and let in: not a biometric attempt (they did not offer their face, so FMR
      // is untouched), but the access log names the wrong person.
      if (d.source == "face" && !st.tried_face && d.decision == "grant" && d.person && *d.person != p.id) {
        ++out_.attempts.misidentified;
        ++out_.hil.unoffered_face_grants;
      }
      if (d.source != "face" || !st.tried_face) continue;
      ++o.face_attempts;
      ++out_.attempts.face_attempts[m];
      // A decision that never reached matching (the temperature came first and failed; the mask was
      // refused) is not a biometric attempt: the engine names a person, or finds nobody.
      if (!d.person && d.reason != "not_recognised") continue;
      ++o.match_attempts;
      const bool named_other = d.person && *d.person != p.id;
      if (p.kind == PersonKind::resident && p.enrolled) {
        ++out_.attempts.genuine[m];
        if (!(d.decision == "grant" && d.person == p.id)) ++out_.attempts.genuine_nonmatch[m];
        if (named_other) ++out_.attempts.misidentified;
      } else {
        ++out_.attempts.impostor[m];
        if (d.person) ++out_.attempts.impostor_match[m];
      }
      if (d.person) o.identified_by = recognizer::Credential::face;
    }
    if (st.tried_face && o.face_attempts == 0) {
      ++o.face_attempts;
      ++out_.attempts.face_attempts[m];
      ++out_.attempts.fta[m];
    }
    if (last) {
      o.reason = reason_named(last->reason);
      if (last->person) o.person_id = last->person;
      o.mask_reminder = last->reason == "mask_required";
    }
    if (opened) {
      o.verdict = Verdict::grant;
      o.credential = st.opened_by;
      // The credential of gatectl's last grant opened it (a face may still be recognised after a swipe).
      for (auto it = ds.rbegin(); it != ds.rend(); ++it)
        if (it->decision == "grant") {
          o.credential = it->source == "card" ? recognizer::Credential::card : recognizer::Credential::face;
          last = &*it;
          o.reason = reason_named(it->reason);
          o.person_id = it->person;
          break;
        }
      if (!last || last->decision != "grant")
        o.reason = o.credential == recognizer::Credential::face ? recognizer::Reason::recognised : recognizer::Reason::card_accepted;
      if (o.credential == recognizer::Credential::card && o.identified_by == recognizer::Credential::none)
        o.identified_by = recognizer::Credential::card;
    } else {
      o.verdict = Verdict::deny;
      if (!last) o.reason = st.tried_face ? recognizer::Reason::failure_to_acquire : recognizer::Reason::no_credential;
      o.referred_to_staff = true;
    }
  }

  static recognizer::Reason reason_named(const std::string& name) {
    for (int k = 0; k <= static_cast<int>(recognizer::Reason::no_credential); ++k)
      if (recognizer::to_string(static_cast<recognizer::Reason>(k)) == name) return static_cast<recognizer::Reason>(k);
    return recognizer::Reason::none;
  }

  // ---------------------------------------------------------------- outcome
  void decide(std::uint32_t idx) {
    Passage& ps = passages_[idx];
    PassageRecord& r = ps.rec;
    r.decided = sim_.now();
    if (ps.tx) r.outcome = ps.tx->outcome();
    r.passed = r.outcome.verdict == Verdict::grant;
    const auto followers = std::move(ps.tailgaters);
    out_.passages.push_back(r);
    show_decision(r);
    ps.tx.reset();
    --active_;
    if (hil_ && active_ == 0 && sim_.now() >= s_.day_end) sim_.stop();  // paced runs end when the last person is through
    for (const std::uint32_t f : followers) {
      if (r.passed) {
        PassageRecord& fr = passages_[f].rec;
        fr.tailgated = true;
        fr.passed = true;
        fr.lane = r.lane;
        fr.arrived = r.arrived;
        fr.service_start = fr.lane_end = fr.decided = sim_.now();
        out_.passages.push_back(fr);
        show_decision(fr);
        --active_;
      } else {
        join_queue(f);  // the door stayed shut: the follower queues like everyone else
      }
    }
  }

  // ---------------------------------------------------------------- privacy
  FaceOff face_off_of(const Person& p) const { return p.kind == PersonKind::resident ? face_off_[p.id] : FaceOff::none; }
  bool offers_face(const Person& p) const {
    return (p.enrolled && face_off_of(p) == FaceOff::none) || p.kind == PersonKind::lookalike;
  }

  // The templates the terminals search: enrolled residents who have not withdrawn and whose consent covers
  // the purposes in force (a suspended template is not searched until its resident consents again).
  void rebuild_galleries() {
    galleries_.clear();
    for (std::uint16_t c = 0; c < compounds(); ++c) {
      std::vector<std::uint32_t> g;
      for (const std::uint32_t id : pop_.gallery(c))
        if (face_off_[id] == FaceOff::none) g.push_back(id);
      galleries_.push_back(std::move(g));
    }
  }
  std::uint16_t compounds() const {
    std::uint16_t n = 0;
    for (std::uint16_t g = 0; g < s_.gates.size(); ++g) n = std::max<std::uint16_t>(n, static_cast<std::uint16_t>(pop_.compound_of_gate(g) + 1));
    return n;
  }

  // Chooses `n` of `pool` with the event's own stream (partial Fisher-Yates): who is affected never
  // depends on, or changes, any other stream.
  static std::vector<std::uint32_t> choose(std::vector<std::uint32_t> pool, std::uint32_t n, RandomStream& r) {
    n = std::min<std::uint32_t>(n, static_cast<std::uint32_t>(pool.size()));
    for (std::uint32_t k = 0; k < n; ++k) std::swap(pool[k], pool[k + r.below(pool.size() - k)]);
    pool.resize(n);
    return pool;
  }
  std::vector<std::uint32_t> residents_where(FaceOff state, bool enrolled_only) const {
    std::vector<std::uint32_t> ids;
    for (std::uint32_t id = 0; id < face_off_.size(); ++id)
      if (face_off_[id] == state && (!enrolled_only || pop_.person(id).enrolled)) ids.push_back(id);
    return ids;
  }
  static std::uint32_t count_of(double share, std::size_t n) {
    return static_cast<std::uint32_t>(std::llround(share * static_cast<double>(n)));
  }

  void privacy_event(std::size_t k) {
    const PrivacyEventSpec& ev = s_.privacy.events[k];
    RandomStream r(s_.seed, "privacy.events", k);
    PrivacyEventResult res;
    res.at = sim_.now();
    res.kind = ev.kind;
    if (ev.kind == "withdrawal") {  // consent withdrawn: the template is deleted, the resident uses a card
      const auto pool = residents_where(FaceOff::none, true);
      res.eligible = static_cast<std::uint32_t>(pool.size());
      for (const std::uint32_t id : choose(pool, count_of(ev.share, pool.size()), r)) face_off_[id] = FaceOff::withdrawn, ++res.affected;
    } else if (ev.kind == "consent") {  // residents awaiting re-consent give it: their template is searched again
      const auto pool = residents_where(FaceOff::no_reconsent, true);
      res.eligible = static_cast<std::uint32_t>(pool.size());
      for (const std::uint32_t id : choose(pool, count_of(ev.share, pool.size()), r)) face_off_[id] = FaceOff::none, ++res.affected;
    } else if (ev.kind == "purpose_change") {
      res.purpose = ev.purpose;
      if (std::find(purposes_.begin(), purposes_.end(), ev.purpose) == purposes_.end()) {
        purposes_.push_back(ev.purpose);
        if (s_.privacy.reconsent_on_purpose_change) {
          // Everyone using face is asked; those who do not consent lose face entry until they do.
          const auto pool = residents_where(FaceOff::none, true);
          res.eligible = static_cast<std::uint32_t>(pool.size());
          const std::uint32_t refusing = static_cast<std::uint32_t>(pool.size()) - count_of(ev.reconsent_share, pool.size());
          for (const std::uint32_t id : choose(pool, refusing, r)) face_off_[id] = FaceOff::no_reconsent, ++res.affected;
        } else {
          out_.privacy.purpose_changes_without_consent.push_back(sim_.now());  // nothing changes at the gate
        }
      }
    }
    out_.privacy.events.push_back(std::move(res));
    rebuild_galleries();
  }

  // ---------------------------------------------------------------- live view
  void show_decision(const PassageRecord& r) {
    if (!live_) return;
    LiveEvent e;
    e.t = r.decided;
    if (r.lane >= 0) e.lane = out_.lane_names[gates_[r.gate].first_column + static_cast<std::size_t>(r.lane)];
    e.passage = r.passage;
    e.person = pop_.person(r.person).label();
    e.direction = to_string(r.direction);
    e.credential = r.tailgated ? "tailgate" : std::string(to_string(r.outcome.credential));
    e.decision = r.tailgated ? "none" : std::string(to_string(r.outcome.verdict));
    e.reason = r.tailgated ? "tailgated" : std::string(to_string(r.outcome.reason));
    e.temperature_c = r.outcome.temperature_c;
    live_->event(e);
  }

  void show_gatectl(std::size_t col, std::uint32_t idx, const GateDecision& d) {
    if (!live_) return;
    LiveEvent e;
    e.t = sim_.now();
    e.lane = out_.lane_names[col];
    e.passage = passages_[idx].rec.passage;
    e.person = d.person ? pop_.person(*d.person).label() : std::string("unknown");
    e.credential = d.source;
    e.decision = d.decision;
    e.reason = d.reason;
    e.temperature_c = d.temperature_c;
    e.from_gatectl = true;
    if (d.face_box) e.face_box = cv::Rect2f((*d.face_box)[0], (*d.face_box)[1], (*d.face_box)[2], (*d.face_box)[3]);
    live_->event(e);
  }

  // One timeline row per simulated minute: the longest queue seen during the minute that ends now.
  void sample_minute() {
    TimelineSample smp;
    smp.t = sim_.now() - std::chrono::minutes(1);
    if (sim_.now() > s_.day_start) {
      smp.lane_queue = minute_max_;
      smp.staff_queue = minute_staff_max_;
      out_.timeline.push_back(std::move(smp));
    }
    // The next minute starts with the queues as they are now.
    for (std::size_t g = 0; g < gates_.size(); ++g) {
      const Gate& gate = gates_[g];
      for (std::size_t l = 0; l < gate.lanes.size(); ++l) {
        const std::size_t len = gate.spec->queue == QueueMode::shared ? (l == 0 ? gate.shared.size() : 0) : gate.lanes[l].queue.size();
        minute_max_[gate.first_column + l] = static_cast<std::uint32_t>(len);
      }
      minute_staff_max_[g] = static_cast<std::uint32_t>(gate.staff_queue.size());
    }
    if (*progress_ && (live_ || out_.timeline.size() % 60 == 0)) (*progress_)(sim_.now(), s_.day_end);
    if (sim_.now() < s_.day_end || active_ > 0) sim_.schedule_in(std::chrono::minutes(1), [this] { sample_minute(); });
    else if (hil_) sim_.stop();
  }

  const Scenario& s_;
  Simulation sim_;
  Population pop_;
  std::unique_ptr<FaceSensor> face_;
  std::vector<Gate> gates_;
  std::vector<ArrivalStream> streams_;
  std::vector<Passage> passages_;
  std::size_t active_ = 0;
  const ProgressFn* progress_ = nullptr;
  std::vector<std::uint32_t> minute_max_, minute_staff_max_;  // longest queues in the current minute
  RunOutput out_;
  LiveSink* live_ = nullptr;                // a live view, if any
  std::vector<FaceOff> face_off_;           // by resident id: why they do not use face (none: they do, or never enrolled)
  PrivacyRights rights_;
  std::vector<std::vector<std::uint32_t>> galleries_;  // by compound: the templates the terminals search
  std::vector<std::string> purposes_;       // purposes in force
  std::unique_ptr<HilGates> hil_;           // fidelity hil
  std::vector<HilLaneState> hil_lanes_;     // by timeline column
};

}  // namespace

RunOutput run_world(const Scenario& scenario, const ProgressFn& progress) { return run_world(scenario, progress, {}); }

RunOutput run_world(const Scenario& scenario, const ProgressFn& progress, const std::filesystem::path& hil_workdir) {
  return run_world(scenario, progress, hil_workdir, nullptr);
}

RunOutput run_world(const Scenario& scenario, const ProgressFn& progress, const std::filesystem::path& hil_workdir, LiveSink* live) {
  World w(scenario, hil_workdir, live);
  return w.run(progress);
}

}  // namespace gatetwin::sim
