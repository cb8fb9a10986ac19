#pragma once
// The gate's door relay as a Modbus TCP device: a lock relay with a pulse timer, a door contact, an exit
// button and the held-open / forced-open alarms of a door controller. docs/modbus-devices.md has the
// register map and the state machine.
//
// Two sides drive it: Modbus clients (gatectl) write the relay coil and the timer registers on the server's
// thread, and the simulation moves the door (a person pushes it open, it swings shut, someone presses the
// exit button) from its own thread. Every call is thread-safe. Time is the Clock's: the pulse relocks and
// the held-open alarm rises at their simulated deadlines, evaluated on every request, every physics call
// and advance(), and stamped with the deadline itself, so events do not depend on how often anyone looks.
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "gatetwin/devices/clock.hpp"
#include "gatetwin/devices/fault.hpp"
#include "gatetwin/devices/modbus.hpp"
#include "gatetwin/devices/modbus_server.hpp"

namespace gatetwin::devices {

// The door's state (input register 0 carries the code).
enum class DoorState : std::uint8_t {
  locked = 0,       // closed, relay released
  unlocked = 1,     // closed, relay energised, not yet opened
  open = 2,         // opened while unlocked (a passage); stays open whatever the relay does
  closed = 3,       // closed again after a passage, relay still energised (relocks when the pulse ends)
  forced_open = 4,  // opened while locked
};

// Why something changed.
enum class DoorCause : std::uint8_t {
  coil_on,          // a client energised the relay (starts a pulse, or restarts it: an event even when nothing else changed)
  coil_off,         // a client released the relay
  pulse_expired,    // the pulse time ran out
  exit_button,      // the exit button started a pulse
  door_opened,      // the contact opened
  door_closed,      // the contact closed
  held_open,        // the held-open alarm rose (door open longer than the delay)
};

struct DoorAlarms {
  bool held_open = false;
  bool forced_open = false;
  bool operator==(const DoorAlarms&) const = default;
};

// One change, stamped with the simulated time it happened. A change of relay or alarms without a change
// of state has from == to.
struct DoorEvent {
  Micros time{0};
  DoorState from = DoorState::locked, to = DoorState::locked;
  DoorCause cause = DoorCause::coil_on;
  bool relay = false;  // energised after the event
  DoorAlarms alarms;   // after the event
};

struct DoorRelayParams {
  std::uint16_t pulse_ms = 3000;         // holding register 0 at power-on (100..60000)
  std::uint16_t held_open_delay_s = 30;  // holding register 1 at power-on (1..3600)
  std::size_t max_events = 65536;        // events kept until taken; beyond, the oldest are dropped (counted)
};

// The device's state at a moment, for the simulation and tests.
struct DoorSnapshot {
  DoorState state = DoorState::locked;
  bool relay = false, door_open = false, exit_button = false;
  DoorAlarms alarms;
  std::uint32_t state_changes = 0;
  std::optional<Micros> pulse_ends;  // when the energised relay will release (nullopt: not pulsing)
};

// Register addresses (0-based, as on the wire).
namespace relay_reg {
constexpr std::uint16_t lock_coil = 0;            // coil: 1 = energised = unlocked
constexpr std::uint16_t door_contact = 0;         // discrete inputs: 1 = door open
constexpr std::uint16_t exit_button = 1;          //   1 = pressed
constexpr std::uint16_t held_open_alarm = 2;
constexpr std::uint16_t forced_open_alarm = 3;
constexpr std::uint16_t discrete_count = 4;
constexpr std::uint16_t pulse_ms = 0;             // holding: 100..60000 ms
constexpr std::uint16_t held_open_delay_s = 1;    //   1..3600 s
constexpr std::uint16_t holding_count = 2;
constexpr std::uint16_t state = 0;                // input: DoorState code
constexpr std::uint16_t changes_high = 1;         //   uint32 state-change counter, high word first
constexpr std::uint16_t changes_low = 2;
constexpr std::uint16_t input_count = 3;
}  // namespace relay_reg

class DoorRelay final : public modbus::Handler {
 public:
  using Listener = std::function<void(const DoorEvent&)>;

  // `clock` must outlive the relay. `faults`: off, garbage, intermittent, slow/delayed (Modbus replies);
  // stuck (the relay does not move: writes are echoed but change nothing, the pulse does not release it,
  // the exit button does nothing).
  DoorRelay(const Clock& clock, DoorRelayParams params = {}, FaultPlan faults = {});

  // Modbus (the server's thread). All eight functions; 0x02 outside the map, 0x03 for values out of range.
  modbus::Response handle(const modbus::Request& request) override;
  modbus::Reply reply(const modbus::Request& request) override;

  // Physics, from the simulation (any thread): the door contact and the exit button, at the clock's time.
  void set_door_open(bool open);
  void set_exit_button(bool pressed);  // pressing starts a pulse, as a request-to-exit input does
  // Brings the device up to the clock's time (pulse expiry, held-open alarm). Every call above and every
  // request does this too; a simulation calls it at next_deadline() so deadlines pass without a client.
  void advance();
  // The next time the device changes on its own, if any (a pulse ending, the held-open alarm rising).
  std::optional<Micros> next_deadline() const;

  // Both bring the device up to the clock's time first.
  DoorSnapshot snapshot();
  std::vector<DoorEvent> take_events();   // the events since the last take, in order
  std::uint64_t dropped_events() const;   // events lost because nobody took them (max_events)
  // Called for every event with the relay's lock held: it must not call back into the relay (hand the
  // event to the simulation's thread-safe "schedule now" entry point instead). Set before serving.
  void set_listener(Listener listener);
  std::uint64_t requests() const;         // Modbus requests seen, answered or not (the fault event number)

 private:
  struct Before;  // the state an operation started from (record() compares against it)
  void advance_to(Micros t);
  std::optional<Micros> release_time() const;
  std::optional<Micros> held_open_time() const;
  void energise(Micros t, DoorCause cause);
  void release(Micros t, DoorCause cause);
  void record(Micros t, const Before& before, DoorCause cause);
  bool stuck(Micros t) const { return faults_.is(t, FaultMode::stuck); }
  modbus::Response serve(const modbus::Request& q, Micros t);
  modbus::Response write_coils(const modbus::Request& q, Micros t);
  modbus::Response write_holding(const modbus::Request& q);

  const Clock& clock_;
  FaultPlan faults_;

  mutable std::mutex mutex_;  // guards everything below
  std::uint16_t pulse_ms_, held_open_delay_s_;
  DoorState state_ = DoorState::locked;
  bool relay_ = false, door_open_ = false, exit_button_ = false;
  DoorAlarms alarms_;
  std::uint32_t state_changes_ = 0;
  std::optional<Micros> pulse_ends_;  // relay energised: when the pulse ends
  Micros opened_at_{0};               // the contact's last opening (held-open alarm)
  Micros now_{0};                     // the latest time the device has been brought to (never goes back)
  std::uint64_t requests_ = 0;
  std::deque<DoorEvent> events_;      // not yet taken
  std::size_t max_events_;
  std::uint64_t dropped_ = 0;
  Listener listener_;
};

std::string_view to_string(DoorState s);
std::string_view to_string(DoorCause c);

}  // namespace gatetwin::devices
