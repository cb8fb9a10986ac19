#include "gatetwin/devices/door_relay.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace gatetwin::devices {

namespace mb = modbus;

namespace {

mb::Response echo(const mb::Request& q) {
  mb::Response r;
  r.header = q.header;
  r.function = q.function;
  r.address = q.address;
  r.quantity = q.quantity;
  return r;
}

bool fits(const mb::Request& q, std::size_t size) { return static_cast<std::size_t>(q.address) + q.quantity <= size; }

Micros milliseconds(std::uint16_t ms) { return Micros{static_cast<std::int64_t>(ms) * 1000}; }

}  // namespace

struct DoorRelay::Before {
  DoorState state;
  bool relay;
  DoorAlarms alarms;
};

DoorRelay::DoorRelay(const Clock& clock, DoorRelayParams params, FaultPlan faults)
    : clock_(clock), faults_(std::move(faults)), pulse_ms_(std::clamp<std::uint16_t>(params.pulse_ms, 100, 60000)),
      held_open_delay_s_(std::clamp<std::uint16_t>(params.held_open_delay_s, 1, 3600)), now_(clock.now()),
      max_events_(std::max<std::size_t>(params.max_events, 1)) {}

// --- the state machine (every function below runs with mutex_ held) ---

// An event for whatever changed since `before`: the state (counted), the relay or the alarms.
void DoorRelay::record(Micros t, const Before& before, DoorCause cause) {
  // Nothing changed: no event, except an energise of the energised relay, which restarts its pulse (the
  // gate let someone else in; whoever watches the relay must see that grant too).
  if (before.state == state_ && before.relay == relay_ && before.alarms == alarms_ && cause != DoorCause::coil_on) return;
  if (before.state != state_) ++state_changes_;
  const DoorEvent e{t, before.state, state_, cause, relay_, alarms_};
  if (events_.size() >= max_events_) {
    events_.pop_front();
    ++dropped_;
  }
  events_.push_back(e);
  if (listener_) listener_(e);
}

// When the energised relay will release: at the pulse's end, or, if a stuck fault holds the relay then,
// when that fault ends (a stuck relay lets go when it is freed; the controller's timer ran out long ago).
std::optional<Micros> DoorRelay::release_time() const {
  if (!relay_ || !pulse_ends_) return std::nullopt;
  Micros t = *pulse_ends_;
  for (std::size_t i = 0; i <= faults_.faults().size(); ++i) {
    const auto f = faults_.active(t, FaultMode::stuck);
    if (!f) return t;
    if (f->end == Micros::max()) return std::nullopt;
    t = f->end;
  }
  return std::nullopt;
}

std::optional<Micros> DoorRelay::held_open_time() const {
  if (!door_open_ || alarms_.held_open) return std::nullopt;
  return opened_at_ + Micros{static_cast<std::int64_t>(held_open_delay_s_) * 1'000'000};
}

// Runs the deadlines that fall at or before t in time order, each stamped with its own time.
void DoorRelay::advance_to(Micros t) {
  now_ = std::max(now_, t);
  for (;;) {
    const auto release = release_time(), held = held_open_time();
    const bool release_due = release && *release <= now_, held_due = held && *held <= now_;
    if (release_due && (!held_due || *release <= *held)) {
      const Before before{state_, relay_, alarms_};
      relay_ = false;
      pulse_ends_.reset();
      if (state_ == DoorState::unlocked || state_ == DoorState::closed) state_ = DoorState::locked;
      record(*release, before, DoorCause::pulse_expired);
    } else if (held_due) {
      const Before before{state_, relay_, alarms_};
      alarms_.held_open = true;
      record(*held, before, DoorCause::held_open);
    } else {
      return;
    }
  }
}

// Energise the relay for one pulse (a running pulse restarts). A stuck relay does not move.
void DoorRelay::energise(Micros t, DoorCause cause) {
  if (stuck(t)) return;
  const Before before{state_, relay_, alarms_};
  relay_ = true;
  pulse_ends_ = t + milliseconds(pulse_ms_);
  if (state_ == DoorState::locked) state_ = DoorState::unlocked;
  record(t, before, cause);
}

// Release the relay at once. An open door stays open and locks when it closes.
void DoorRelay::release(Micros t, DoorCause cause) {
  if (stuck(t)) return;
  const Before before{state_, relay_, alarms_};
  relay_ = false;
  pulse_ends_.reset();
  if (state_ == DoorState::unlocked || state_ == DoorState::closed) state_ = DoorState::locked;
  record(t, before, cause);
}

// --- physics ---

void DoorRelay::set_door_open(bool open) {
  std::lock_guard lock(mutex_);
  advance_to(clock_.now());
  if (open == door_open_) return;
  const Before before{state_, relay_, alarms_};
  door_open_ = open;
  if (open) {
    opened_at_ = now_;
    if (state_ == DoorState::locked) {
      state_ = DoorState::forced_open;
      alarms_.forced_open = true;
    } else {
      state_ = DoorState::open;
    }
  } else {
    // Closing ends both alarms (a controller's forced and held outputs follow the door) and relocks
    // unless the relay is still energised.
    alarms_ = {};
    state_ = relay_ ? DoorState::closed : DoorState::locked;
  }
  record(now_, before, open ? DoorCause::door_opened : DoorCause::door_closed);
}

void DoorRelay::set_exit_button(bool pressed) {
  std::lock_guard lock(mutex_);
  advance_to(clock_.now());
  if (pressed == exit_button_) return;
  exit_button_ = pressed;
  if (pressed) energise(now_, DoorCause::exit_button);
}

void DoorRelay::advance() {
  std::lock_guard lock(mutex_);
  advance_to(clock_.now());
}

std::optional<Micros> DoorRelay::next_deadline() const {
  std::lock_guard lock(mutex_);
  const auto release = release_time(), held = held_open_time();
  if (release && held) return std::min(*release, *held);
  return release ? release : held;
}

DoorSnapshot DoorRelay::snapshot() {
  std::lock_guard lock(mutex_);
  advance_to(clock_.now());
  return {state_, relay_, door_open_, exit_button_, alarms_, state_changes_, relay_ ? release_time() : std::nullopt};
}

std::vector<DoorEvent> DoorRelay::take_events() {
  std::lock_guard lock(mutex_);
  advance_to(clock_.now());
  std::vector<DoorEvent> out(events_.begin(), events_.end());
  events_.clear();
  return out;
}

std::uint64_t DoorRelay::dropped_events() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void DoorRelay::set_listener(Listener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

std::uint64_t DoorRelay::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

// --- Modbus ---

mb::Response DoorRelay::write_coils(const mb::Request& q, Micros t) {
  // Sizes come from the values themselves (a request built by hand may disagree with its quantity).
  if (q.bits.empty()) return mb::exception_response(q, mb::Exception::illegal_data_value);
  if (q.address + q.bits.size() > 1) return mb::exception_response(q, mb::Exception::illegal_data_address);
  // The reply echoes the request whether or not the relay moved: a stuck relay's controller does not know.
  if (q.bits.at(0))
    energise(t, DoorCause::coil_on);
  else
    release(t, DoorCause::coil_off);
  auto r = echo(q);
  r.bits = q.bits;
  return r;
}

mb::Response DoorRelay::write_holding(const mb::Request& q) {
  if (q.address + q.registers.size() > relay_reg::holding_count)
    return mb::exception_response(q, mb::Exception::illegal_data_address);
  std::array<std::uint16_t, relay_reg::holding_count> values{pulse_ms_, held_open_delay_s_};
  for (std::size_t i = 0; i < q.registers.size(); ++i) {
    const std::size_t a = q.address + i;
    const std::uint16_t v = q.registers[i];
    const bool ok = a == relay_reg::pulse_ms ? (v >= 100 && v <= 60000) : (v >= 1 && v <= 3600);
    if (!ok) return mb::exception_response(q, mb::Exception::illegal_data_value);  // nothing written
    values[a] = v;
  }
  pulse_ms_ = values[relay_reg::pulse_ms];  // a running pulse keeps its end; the next one uses the new time
  held_open_delay_s_ = values[relay_reg::held_open_delay_s];
  auto r = echo(q);
  r.registers = q.registers;
  return r;
}

mb::Response DoorRelay::serve(const mb::Request& q, Micros t) {
  std::lock_guard lock(mutex_);
  advance_to(t);
  t = now_;
  auto r = echo(q);
  switch (q.function) {
    case 0x01:
      if (!fits(q, 1)) return mb::exception_response(q, mb::Exception::illegal_data_address);
      r.bits = {relay_};
      return r;
    case 0x02: {
      if (!fits(q, relay_reg::discrete_count)) return mb::exception_response(q, mb::Exception::illegal_data_address);
      const std::array<bool, relay_reg::discrete_count> in{door_open_, exit_button_, alarms_.held_open,
                                                           alarms_.forced_open};
      r.bits.assign(in.begin() + q.address, in.begin() + q.address + q.quantity);
      return r;
    }
    case 0x03: {
      if (!fits(q, relay_reg::holding_count)) return mb::exception_response(q, mb::Exception::illegal_data_address);
      const std::array<std::uint16_t, relay_reg::holding_count> h{pulse_ms_, held_open_delay_s_};
      r.registers.assign(h.begin() + q.address, h.begin() + q.address + q.quantity);
      return r;
    }
    case 0x04: {
      if (!fits(q, relay_reg::input_count)) return mb::exception_response(q, mb::Exception::illegal_data_address);
      const std::array<std::uint16_t, relay_reg::input_count> in{static_cast<std::uint16_t>(state_),
                                                                 static_cast<std::uint16_t>(state_changes_ >> 16),
                                                                 static_cast<std::uint16_t>(state_changes_ & 0xFFFF)};
      r.registers.assign(in.begin() + q.address, in.begin() + q.address + q.quantity);
      return r;
    }
    case 0x05:
    case 0x0F:
      return write_coils(q, t);
    case 0x06:
    case 0x10:
      return write_holding(q);
    default:
      return mb::exception_response(q, mb::Exception::illegal_function);
  }
}

mb::Response DoorRelay::handle(const mb::Request& q) { return serve(q, clock_.now()); }

mb::Reply DoorRelay::reply(const mb::Request& q) {
  const Micros t = clock_.now();
  std::uint64_t event = 0;
  {
    std::lock_guard lock(mutex_);
    event = requests_++;
  }
  return mb::reply_under_faults(*this, faults_, t, event, q);
}

std::string_view to_string(DoorState s) {
  switch (s) {
    case DoorState::locked: return "locked";
    case DoorState::unlocked: return "unlocked";
    case DoorState::open: return "open";
    case DoorState::closed: return "closed";
    case DoorState::forced_open: return "forced_open";
  }
  return "?";
}

std::string_view to_string(DoorCause c) {
  switch (c) {
    case DoorCause::coil_on: return "coil_on";
    case DoorCause::coil_off: return "coil_off";
    case DoorCause::pulse_expired: return "pulse_expired";
    case DoorCause::exit_button: return "exit_button";
    case DoorCause::door_opened: return "door_opened";
    case DoorCause::door_closed: return "door_closed";
    case DoorCause::held_open: return "held_open";
  }
  return "?";
}

}  // namespace gatetwin::devices
