// The door relay as a Modbus handler, without sockets: the register map, the door's state machine and its
// alarms under simulated time (a ManualClock: the pulse relocks at its deadline however late anyone looks),
// the events the simulation sees, value ranges and exceptions, and the fault modes.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "gatetwin/devices/door_relay.hpp"

namespace gd = gatetwin::devices;
namespace mb = gatetwin::devices::modbus;
using gd::DoorCause;
using gd::DoorState;
using gd::Micros;
namespace reg = gd::relay_reg;

namespace {

constexpr Micros kMs{1'000};
constexpr Micros kSecond{1'000'000};

mb::Request request(std::uint8_t function, std::uint16_t address, std::uint16_t quantity) {
  mb::Request q;
  q.header = {9, 1};
  q.function = function;
  q.address = address;
  q.quantity = quantity;
  return q;
}

mb::Request coil(std::uint16_t address, bool on) {
  mb::Request q = request(0x05, address, 1);
  q.bits = {on};
  return q;
}

mb::Request write(std::uint16_t address, std::vector<std::uint16_t> values) {
  mb::Request q = request(values.size() == 1 ? 0x06 : 0x10, address, static_cast<std::uint16_t>(values.size()));
  q.registers = std::move(values);
  return q;
}

struct Rig {
  explicit Rig(gd::DoorRelayParams p = {}, gd::FaultPlan f = {}) : relay(clock, p, std::move(f)) {}
  bool coil_state() { return relay.handle(request(0x01, 0, 1)).bits.at(0); }
  std::vector<bool> inputs() {
    auto bits = relay.handle(request(0x02, 0, reg::discrete_count)).bits;
    bits.resize(reg::discrete_count);
    return bits;
  }
  std::vector<std::uint16_t> input_registers() { return relay.handle(request(0x04, 0, reg::input_count)).registers; }
  DoorState state() { return static_cast<DoorState>(input_registers().at(reg::state)); }
  std::optional<mb::Exception> exception_of(const mb::Request& q) { return relay.handle(q).exception; }
  void at(Micros t) { clock.set(t); }
  gd::ManualClock clock;
  gd::DoorRelay relay;
};

// The (time, from, to, cause) of each event, for comparing sequences.
struct Step {
  Micros time;
  DoorState from, to;
  DoorCause cause;
  bool operator==(const Step&) const = default;
};
std::vector<Step> steps(const std::vector<gd::DoorEvent>& events) {
  std::vector<Step> out;
  for (const auto& e : events) out.push_back({e.time, e.from, e.to, e.cause});
  return out;
}

}  // namespace

TEST(DoorRelay, PowersUpLockedWithItsDefaults) {
  Rig rig;
  EXPECT_FALSE(rig.coil_state());
  EXPECT_EQ(rig.inputs(), (std::vector<bool>{false, false, false, false}));
  EXPECT_EQ(rig.input_registers(), (std::vector<std::uint16_t>{0, 0, 0}));
  EXPECT_EQ(rig.relay.handle(request(0x03, 0, 2)).registers, (std::vector<std::uint16_t>{3000, 30}));
  EXPECT_FALSE(rig.relay.next_deadline());
}

TEST(DoorRelay, ACoilPulseRelocksAtItsDeadlineInSimulatedTime) {
  Rig rig;
  rig.at(kSecond);
  const auto r = rig.relay.handle(coil(0, true));
  EXPECT_FALSE(r.exception);
  EXPECT_EQ(r.bits.at(0), true);  // the reply echoes the request
  EXPECT_TRUE(rig.coil_state());
  EXPECT_EQ(rig.state(), DoorState::unlocked);
  EXPECT_EQ(rig.relay.next_deadline(), 4 * kSecond);
  rig.at(4 * kSecond - Micros{1});
  EXPECT_TRUE(rig.coil_state());
  // Nobody looks until 10 s: the relock still happened, and is stamped, at 4 s.
  rig.at(10 * kSecond);
  EXPECT_FALSE(rig.coil_state());
  EXPECT_EQ(rig.state(), DoorState::locked);
  EXPECT_EQ(steps(rig.relay.take_events()),
            (std::vector<Step>{{kSecond, DoorState::locked, DoorState::unlocked, DoorCause::coil_on},
                               {4 * kSecond, DoorState::unlocked, DoorState::locked, DoorCause::pulse_expired}}));
  EXPECT_TRUE(rig.relay.take_events().empty());  // taken once
  const auto regs = rig.input_registers();
  EXPECT_EQ(regs[reg::changes_high], 0);
  EXPECT_EQ(regs[reg::changes_low], 2);
}

TEST(DoorRelay, APassageOpensAndClosesTheDoorAndRelocksBehindIt) {
  Rig rig;
  rig.relay.handle(coil(0, true));  // t = 0, pulse to 3 s
  rig.at(kSecond);
  rig.relay.set_door_open(true);
  EXPECT_EQ(rig.state(), DoorState::open);
  EXPECT_EQ(rig.inputs()[reg::door_contact], true);
  rig.at(2 * kSecond);
  rig.relay.set_door_open(false);
  EXPECT_EQ(rig.state(), DoorState::closed);  // closed behind the person, relay still energised
  rig.at(5 * kSecond);
  rig.relay.advance();
  const auto s = rig.relay.snapshot();
  EXPECT_EQ(s.state, DoorState::locked);
  EXPECT_FALSE(s.relay);
  EXPECT_EQ(s.state_changes, 4u);
  EXPECT_EQ(steps(rig.relay.take_events()),
            (std::vector<Step>{{Micros{0}, DoorState::locked, DoorState::unlocked, DoorCause::coil_on},
                               {kSecond, DoorState::unlocked, DoorState::open, DoorCause::door_opened},
                               {2 * kSecond, DoorState::open, DoorState::closed, DoorCause::door_closed},
                               {3 * kSecond, DoorState::closed, DoorState::locked, DoorCause::pulse_expired}}));
}

TEST(DoorRelay, ADoorStillOpenWhenThePulseEndsLocksWhenItCloses) {
  Rig rig;
  rig.relay.handle(coil(0, true));
  rig.at(kSecond);
  rig.relay.set_door_open(true);
  rig.at(3 * kSecond);
  EXPECT_FALSE(rig.coil_state());  // the relay released on time
  EXPECT_EQ(rig.state(), DoorState::open);
  rig.at(4 * kSecond);
  rig.relay.set_door_open(false);
  EXPECT_EQ(rig.state(), DoorState::locked);
  const auto e = rig.relay.take_events();
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[2].from, DoorState::open);  // the relay's release alone: no change of state
  EXPECT_EQ(e[2].to, DoorState::open);
  EXPECT_FALSE(e[2].relay);
  EXPECT_EQ(e[2].cause, DoorCause::pulse_expired);
  EXPECT_EQ(rig.relay.snapshot().state_changes, 3u);
}

TEST(DoorRelay, WritingTheCoilOffRelocksAtOnceAndOnAgainRestartsThePulse) {
  Rig rig;
  rig.relay.handle(coil(0, true));
  rig.at(2 * kSecond);
  rig.relay.handle(coil(0, true));  // restart: now ends at 5 s
  rig.at(4 * kSecond);
  EXPECT_TRUE(rig.coil_state());
  rig.relay.handle(coil(0, false));
  EXPECT_FALSE(rig.coil_state());
  EXPECT_EQ(rig.state(), DoorState::locked);
  EXPECT_FALSE(rig.relay.next_deadline());
  // FC15 on the single coil works too.
  mb::Request multi = request(0x0F, 0, 1);
  multi.bits = {true};
  EXPECT_FALSE(rig.exception_of(multi));
  EXPECT_EQ(rig.state(), DoorState::unlocked);
  EXPECT_EQ(steps(rig.relay.take_events()).back().cause, DoorCause::coil_on);
}


// An observer that learns grants from the relay (HIL) must see a second grant that arrives while the
// relay is still energised from the first: the restart is an event although no state changed.
TEST(DoorRelay, EnergisingTheEnergisedRelayIsAnEventAtItsTime) {
  Rig rig;
  std::vector<gd::DoorEvent> heard;
  rig.relay.set_listener([&](const gd::DoorEvent& e) { heard.push_back(e); });
  rig.relay.handle(coil(0, true));
  rig.at(2 * kSecond);
  const std::size_t before = heard.size();
  rig.relay.handle(coil(0, true));
  ASSERT_EQ(heard.size(), before + 1);
  EXPECT_EQ(heard.back().cause, DoorCause::coil_on);
  EXPECT_EQ(heard.back().time, 2 * kSecond);
  EXPECT_EQ(heard.back().from, heard.back().to);  // still unlocked: a restart, not a change
  // Writing the coil off twice is not: only the first relocks.
  rig.relay.handle(coil(0, false));
  const std::size_t after_off = heard.size();
  rig.relay.handle(coil(0, false));
  EXPECT_EQ(heard.size(), after_off);
}
TEST(DoorRelay, HeldOpenAlarmRisesAfterTheDelayAndClearsOnClosing) {
  Rig rig;
  ASSERT_FALSE(rig.exception_of(write(reg::held_open_delay_s, {5})));
  rig.relay.handle(coil(0, true));
  rig.at(kSecond);
  rig.relay.set_door_open(true);
  EXPECT_EQ(rig.relay.next_deadline(), 3 * kSecond);  // the pulse first, then the alarm at 6 s
  rig.at(5 * kSecond);
  EXPECT_FALSE(rig.inputs()[reg::held_open_alarm]);  // (the request brings the relay to 5 s: pulse over)
  EXPECT_EQ(rig.relay.next_deadline(), 6 * kSecond);
  rig.at(7 * kSecond);
  rig.relay.advance();
  EXPECT_TRUE(rig.inputs()[reg::held_open_alarm]);
  auto events = rig.relay.take_events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().time, 6 * kSecond);
  EXPECT_EQ(events.back().cause, DoorCause::held_open);
  EXPECT_TRUE(events.back().alarms.held_open);
  rig.relay.set_door_open(false);
  EXPECT_FALSE(rig.inputs()[reg::held_open_alarm]);
  events = rig.relay.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].alarms.held_open);
}

TEST(DoorRelay, OpeningWhileLockedIsForcedOpen) {
  Rig rig;
  rig.at(kSecond);
  rig.relay.set_door_open(true);
  EXPECT_EQ(rig.state(), DoorState::forced_open);
  EXPECT_EQ(rig.inputs(), (std::vector<bool>{true, false, false, true}));
  rig.at(31 * kSecond);  // forced and then held open
  EXPECT_EQ(rig.inputs(), (std::vector<bool>{true, false, true, true}));
  rig.relay.set_door_open(false);
  EXPECT_EQ(rig.state(), DoorState::locked);
  EXPECT_EQ(rig.inputs(), (std::vector<bool>{false, false, false, false}));
  const auto e = rig.relay.take_events();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_TRUE(e[0].alarms.forced_open);
  EXPECT_EQ(e[1].cause, DoorCause::held_open);
  EXPECT_EQ(e[1].time, 31 * kSecond);
  EXPECT_EQ(e[2].to, DoorState::locked);
}

TEST(DoorRelay, TheExitButtonStartsAPulse) {
  Rig rig;
  rig.relay.set_exit_button(true);
  EXPECT_EQ(rig.state(), DoorState::unlocked);
  EXPECT_TRUE(rig.inputs()[reg::exit_button]);
  rig.relay.set_exit_button(false);
  EXPECT_FALSE(rig.inputs()[reg::exit_button]);
  EXPECT_TRUE(rig.coil_state());  // releasing the button does not relock; the pulse does
  const auto e = rig.relay.take_events();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].cause, DoorCause::exit_button);
}

TEST(DoorRelay, TimerRegistersAcceptTheirRangesAndApplyToTheNextPulse) {
  Rig rig;
  EXPECT_EQ(rig.exception_of(write(reg::pulse_ms, {99})), mb::Exception::illegal_data_value);
  EXPECT_EQ(rig.exception_of(write(reg::pulse_ms, {60001})), mb::Exception::illegal_data_value);
  EXPECT_EQ(rig.exception_of(write(reg::held_open_delay_s, {0})), mb::Exception::illegal_data_value);
  EXPECT_EQ(rig.exception_of(write(reg::pulse_ms, {500, 3601})), mb::Exception::illegal_data_value);
  EXPECT_EQ(rig.relay.handle(request(0x03, 0, 2)).registers, (std::vector<std::uint16_t>{3000, 30}));  // unchanged
  rig.relay.handle(coil(0, true));
  ASSERT_FALSE(rig.exception_of(write(reg::pulse_ms, {500, 60})));
  EXPECT_EQ(rig.relay.next_deadline(), 3 * kSecond);  // the running pulse keeps its end
  rig.at(3 * kSecond);
  rig.relay.handle(coil(0, true));
  EXPECT_EQ(rig.relay.next_deadline(), 3 * kSecond + 500 * kMs);
  ASSERT_FALSE(rig.exception_of(write(reg::pulse_ms, {100})));
  ASSERT_FALSE(rig.exception_of(write(reg::pulse_ms, {60000})));
}

TEST(DoorRelay, OutOfMapAddressesGetIllegalDataAddress) {
  Rig rig;
  EXPECT_EQ(rig.exception_of(coil(1, true)), mb::Exception::illegal_data_address);
  EXPECT_EQ(rig.exception_of(request(0x01, 0, 2)), mb::Exception::illegal_data_address);
  EXPECT_EQ(rig.exception_of(request(0x02, 2, 3)), mb::Exception::illegal_data_address);
  EXPECT_EQ(rig.exception_of(request(0x03, 2, 1)), mb::Exception::illegal_data_address);
  EXPECT_EQ(rig.exception_of(request(0x04, 1, 3)), mb::Exception::illegal_data_address);
  EXPECT_EQ(rig.exception_of(write(2, {1})), mb::Exception::illegal_data_address);
  mb::Request two = request(0x0F, 0, 2);
  two.bits = {true, true};
  EXPECT_EQ(rig.exception_of(two), mb::Exception::illegal_data_address);
  EXPECT_EQ(rig.exception_of(request(0x2B, 0, 1)), mb::Exception::illegal_function);
  EXPECT_FALSE(rig.coil_state());  // none of it moved the relay
}

TEST(DoorRelay, AStuckRelayEchoesWritesButDoesNotMove) {
  gd::FaultPlan plan({{gd::FaultMode::stuck, 10 * kSecond, 20 * kSecond}}, 1);
  Rig rig({}, plan);
  rig.at(10 * kSecond);
  const auto r = rig.relay.reply(coil(0, true));
  ASSERT_TRUE(r.response);
  EXPECT_FALSE(r.response->exception);
  EXPECT_EQ(r.response->bits.at(0), true);
  EXPECT_FALSE(rig.coil_state());
  rig.relay.set_exit_button(true);
  EXPECT_EQ(rig.state(), DoorState::locked);
  rig.relay.set_exit_button(false);
  // Energised just before the window: the pulse would end at 12 s, inside it; the relay lets go at 20 s.
  Rig held({}, plan);
  held.at(9 * kSecond);
  held.relay.handle(coil(0, true));
  held.at(11 * kSecond);
  held.relay.handle(coil(0, false));  // stuck: no effect
  EXPECT_EQ(held.relay.next_deadline(), 20 * kSecond);
  held.at(19 * kSecond);
  EXPECT_TRUE(held.coil_state());
  held.at(25 * kSecond);
  EXPECT_FALSE(held.coil_state());
  const auto e = held.relay.take_events();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[1].time, 20 * kSecond);
  // After the window writes work again.
  held.relay.handle(coil(0, true));
  EXPECT_TRUE(held.coil_state());
}

TEST(DoorRelay, LinkFaultsLeaveRequestsUnansweredOrFailedOrLate) {
  const auto q = request(0x01, 0, 1);
  {
    Rig rig({}, gd::FaultPlan({{gd::FaultMode::off, Micros{0}, 5 * kSecond}}, 1));
    EXPECT_FALSE(rig.relay.reply(coil(0, true)).response);
    EXPECT_FALSE(rig.relay.snapshot().relay);  // a device that is off does not act on what it did not hear
    rig.at(5 * kSecond);
    EXPECT_TRUE(rig.relay.reply(q).response);
    EXPECT_EQ(rig.relay.requests(), 2u);
  }
  {
    Rig rig({}, gd::FaultPlan({{gd::FaultMode::garbage, Micros{0}, Micros::max(), 4.0}}, 1));
    EXPECT_EQ(rig.relay.reply(coil(0, true)).response->exception, mb::Exception::server_device_failure);
    EXPECT_FALSE(rig.relay.snapshot().relay);
  }
  {
    const gd::FaultPlan plan({{gd::FaultMode::intermittent, Micros{0}, Micros::max(), 0.5}}, 77);
    Rig rig({}, plan);
    for (std::uint64_t i = 0; i < 200; ++i)
      EXPECT_EQ(rig.relay.reply(q).response.has_value(), !plan.drops(Micros{0}, i)) << i;
  }
  {
    gd::Fault slow{gd::FaultMode::slow};
    slow.delay = 80 * kMs;
    Rig rig({}, gd::FaultPlan({slow}, 1));
    const auto r = rig.relay.reply(coil(0, true));
    ASSERT_TRUE(r.response);
    EXPECT_EQ(r.delay, std::chrono::microseconds(80'000));
    EXPECT_TRUE(rig.relay.snapshot().relay);  // acted on at once, answered late
  }
}

TEST(DoorRelay, TheListenerSeesEveryEventInOrderAndTimeNeverRunsBack) {
  Rig rig;
  std::vector<gd::DoorEvent> heard;
  rig.relay.set_listener([&](const gd::DoorEvent& e) { heard.push_back(e); });
  rig.at(5 * kSecond);
  rig.relay.handle(coil(0, true));
  rig.at(2 * kSecond);  // a clock set back is read as "no time passed"
  rig.relay.set_door_open(true);
  rig.at(9 * kSecond);
  rig.relay.set_door_open(false);
  const auto taken = rig.relay.take_events();
  ASSERT_EQ(heard.size(), taken.size());
  ASSERT_EQ(taken.size(), 4u);
  for (std::size_t i = 0; i < taken.size(); ++i) {
    EXPECT_EQ(heard[i].time, taken[i].time);
    EXPECT_EQ(heard[i].cause, taken[i].cause);
    if (i > 0) {
      EXPECT_GE(taken[i].time, taken[i - 1].time);
    }
  }
  EXPECT_EQ(taken[1].time, 5 * kSecond);
}

TEST(DoorRelay, EventsBeyondTheBoundDropTheOldest) {
  gd::DoorRelayParams p;
  p.max_events = 3;
  Rig rig(p);
  for (int i = 0; i < 5; ++i) {
    rig.relay.handle(coil(0, true));
    rig.relay.handle(coil(0, false));
  }
  EXPECT_EQ(rig.relay.take_events().size(), 3u);
  EXPECT_EQ(rig.relay.dropped_events(), 7u);
}

TEST(DoorRelay, PhysicsAndRequestsFromTwoThreadsKeepOneConsistentHistory) {
  Rig rig;
  std::thread sim([&] {
    for (int i = 0; i < 2000; ++i) rig.relay.set_door_open(i % 2 == 0);
  });
  for (int i = 0; i < 2000; ++i) rig.relay.handle(coil(0, i % 3 != 0));
  sim.join();
  const auto events = rig.relay.take_events();
  const auto s = rig.relay.snapshot();
  // Each event starts where the previous one ended, and the counter counts the changes of state.
  std::uint32_t changes = 0;
  DoorState at = DoorState::locked;
  for (const auto& e : events) {
    ASSERT_EQ(e.from, at);
    at = e.to;
    changes += e.from != e.to ? 1 : 0;
  }
  EXPECT_EQ(at, s.state);
  EXPECT_EQ(changes, s.state_changes);
  EXPECT_FALSE(s.door_open);
}
