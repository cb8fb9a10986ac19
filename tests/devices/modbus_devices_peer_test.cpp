// The thermal sensor and the door relay against a real peer: libmodbus's client on loopback reads and
// writes both register maps, drives the relay while the simulation moves the door from another thread,
// and meets the injected faults as a field client would (ETIMEDOUT for requests left unanswered, the
// exception codes for garbage, late replies). Plus the server's part of fault injection: a held reply
// keeps its place in the order of replies. Ports are bound before clients connect (no sleeps); every test
// stops its server and joins its thread.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <modbus/modbus.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "gatetwin/devices/door_relay.hpp"
#include "gatetwin/devices/thermal_sensor.hpp"

namespace gd = gatetwin::devices;
namespace mb = gatetwin::devices::modbus;
namespace asio = boost::asio;
using gd::Micros;

namespace {

constexpr Micros kSecond{1'000'000};

// A handler served on an ephemeral loopback port for the length of a test.
class Serving {
 public:
  explicit Serving(mb::Handler& handler) : server(io, handler) { thread = std::thread([this] { io.run(); }); }
  ~Serving() {
    asio::post(io, [this] { server.stop(); });
    io.stop();
    thread.join();
  }
  asio::io_context io;
  mb::Server server;
  std::thread thread;
};

struct Client {
  explicit Client(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::milliseconds(1000))
      : ctx(modbus_new_tcp("127.0.0.1", port)) {
    if (!ctx) return;
    modbus_set_slave(ctx, 1);
    const auto us = static_cast<std::uint32_t>(timeout.count() * 1000);
    modbus_set_response_timeout(ctx, us / 1'000'000, us % 1'000'000);
    connected = modbus_connect(ctx) == 0;
  }
  ~Client() {
    if (!ctx) return;
    modbus_close(ctx);
    modbus_free(ctx);
  }
  modbus_t* ctx;
  bool connected = false;
};

class FixedSource final : public gd::TemperatureSource {
 public:
  std::optional<double> skin_temperature_c(Micros) override {
    const double s = skin.load();
    return s > 0 ? std::optional<double>(s) : std::nullopt;
  }
  double ambient_c(Micros) override { return ambient.load(); }
  std::atomic<double> skin{36.5}, ambient{25.0};  // skin <= 0: nobody in front
};

gd::ThermalSensorParams noiseless() {
  gd::ThermalSensorParams p;
  p.noise_sd_c = 0.0;
  return p;
}

// The call's result and errno, so that one EXPECT can show both.
struct Outcome {
  int rc;
  int error;
};
template <class F>
Outcome call(F&& f) {
  errno = 0;
  const int rc = f();
  return {rc, rc == -1 ? errno : 0};
}

}  // namespace

TEST(ThermalSensorPeer, LibmodbusReadsTheMapAndWritesEmissivity) {
  FixedSource source;
  gd::ManualClock clock;
  gd::ThermalSensor sensor(source, clock, noiseless());
  Serving s(sensor);
  Client c(s.server.port());
  ASSERT_TRUE(c.connected) << modbus_strerror(errno);

  std::uint16_t regs[8] = {};
  ASSERT_EQ(modbus_read_input_registers(c.ctx, 0, 6, regs), 6) << modbus_strerror(errno);
  EXPECT_EQ(regs[0], 3650);
  EXPECT_EQ(regs[1], 2500);
  EXPECT_EQ(regs[2], gd::thermal_status::valid);
  EXPECT_EQ(regs[3], 0);
  EXPECT_EQ(regs[4], 1);
  EXPECT_EQ(regs[5], 3600);

  ASSERT_EQ(modbus_write_register(c.ctx, gd::thermal_reg::emissivity, 950), 1) << modbus_strerror(errno);
  ASSERT_EQ(modbus_read_registers(c.ctx, 0, 3, regs), 3) << modbus_strerror(errno);
  EXPECT_EQ(regs[0], 950);
  EXPECT_EQ(regs[1], 0);
  EXPECT_EQ(regs[2], gd::ThermalSensor::kDeviceId);
  ASSERT_EQ(modbus_read_input_registers(c.ctx, 0, 1, regs), 1) << modbus_strerror(errno);
  EXPECT_EQ(regs[0], 3684);  // e = 0.95 against skin's 0.98 reads 0.34 °C warm

  const std::uint16_t both[2] = {980, static_cast<std::uint16_t>(-30)};
  ASSERT_EQ(modbus_write_registers(c.ctx, 0, 2, both), 2) << modbus_strerror(errno);
  source.skin = 0.0;  // the person walks on: the sensor sees the room
  ASSERT_EQ(modbus_read_input_registers(c.ctx, 0, 3, regs), 3) << modbus_strerror(errno);
  EXPECT_EQ(regs[0], 2470);
  EXPECT_EQ(regs[2], 0);

  const auto value = call([&] { return modbus_write_register(c.ctx, gd::thermal_reg::emissivity, 99); });
  EXPECT_EQ(value.error, EMBXILVAL) << modbus_strerror(value.error);
  const auto read_only = call([&] { return modbus_write_register(c.ctx, gd::thermal_reg::device_id, 1); });
  EXPECT_EQ(read_only.error, EMBXILADD) << modbus_strerror(read_only.error);
  const auto beyond = call([&] { return modbus_read_input_registers(c.ctx, 4, 3, regs); });
  EXPECT_EQ(beyond.error, EMBXILADD) << modbus_strerror(beyond.error);
  std::uint8_t bits[8] = {};
  const auto coils = call([&] { return modbus_read_bits(c.ctx, 0, 1, bits); });
  EXPECT_EQ(coils.error, EMBXILFUN) << modbus_strerror(coils.error);
  EXPECT_DOUBLE_EQ(sensor.emissivity(), 0.98);
  EXPECT_EQ(sensor.measurements(), 3u);
  EXPECT_EQ(s.server.counters().exceptions, 4u);
}

TEST(DoorRelayPeer, LibmodbusUnlocksTheDoorAsTheSimulationPushesItOpen) {
  gd::ManualClock clock;
  gd::DoorRelay relay(clock);
  Serving s(relay);
  Client c(s.server.port());
  ASSERT_TRUE(c.connected) << modbus_strerror(errno);
  std::uint8_t bits[8] = {};
  std::uint16_t regs[4] = {};

  ASSERT_EQ(modbus_write_bit(c.ctx, gd::relay_reg::lock_coil, 1), 1) << modbus_strerror(errno);
  ASSERT_EQ(modbus_read_bits(c.ctx, 0, 1, bits), 1) << modbus_strerror(errno);
  EXPECT_EQ(bits[0], 1);
  // The simulation (this thread) pushes the door open while the server's thread serves the client.
  clock.set(kSecond);
  relay.set_door_open(true);
  ASSERT_EQ(modbus_read_input_bits(c.ctx, 0, 4, bits), 4) << modbus_strerror(errno);
  EXPECT_EQ(bits[0], 1);  // contact open
  EXPECT_EQ(bits[3], 0);  // not forced: it was unlocked
  ASSERT_EQ(modbus_read_input_registers(c.ctx, 0, 1, regs), 1) << modbus_strerror(errno);
  EXPECT_EQ(regs[0], static_cast<std::uint16_t>(gd::DoorState::open));
  relay.set_door_open(false);
  // The 3 s pulse ends in simulated time; the client sees the relay released.
  clock.set(3 * kSecond);
  ASSERT_EQ(modbus_read_bits(c.ctx, 0, 1, bits), 1) << modbus_strerror(errno);
  EXPECT_EQ(bits[0], 0);
  ASSERT_EQ(modbus_read_input_registers(c.ctx, 0, 3, regs), 3) << modbus_strerror(errno);
  EXPECT_EQ(regs[0], static_cast<std::uint16_t>(gd::DoorState::locked));
  EXPECT_EQ(regs[2], 4);  // locked -> unlocked -> open -> closed -> locked

  // The timer registers, FC15 on the coil, and the exceptions of a door controller.
  const std::uint16_t timers[2] = {1500, 10};
  ASSERT_EQ(modbus_write_registers(c.ctx, 0, 2, timers), 2) << modbus_strerror(errno);
  const std::uint8_t on[1] = {1};
  ASSERT_EQ(modbus_write_bits(c.ctx, 0, 1, on), 1) << modbus_strerror(errno);
  EXPECT_EQ(relay.next_deadline(), 3 * kSecond + Micros{1'500'000});
  const auto value = call([&] { return modbus_write_register(c.ctx, gd::relay_reg::pulse_ms, 60001); });
  EXPECT_EQ(value.error, EMBXILVAL) << modbus_strerror(value.error);
  const auto address = call([&] { return modbus_write_bit(c.ctx, 1, 1); });
  EXPECT_EQ(address.error, EMBXILADD) << modbus_strerror(address.error);

  const auto events = relay.take_events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[3].time, 3 * kSecond);
  EXPECT_EQ(events[3].cause, gd::DoorCause::pulse_expired);
  EXPECT_EQ(events[4].cause, gd::DoorCause::coil_on);
}

TEST(DoorRelayPeer, FaultsReachTheClientAsTimeoutsExceptionsAndLateReplies) {
  gd::Fault slow{gd::FaultMode::delayed, 40 * kSecond, 50 * kSecond};
  slow.delay = Micros{150'000};
  const gd::FaultPlan plan({{gd::FaultMode::off, Micros{0}, 10 * kSecond},
                            {gd::FaultMode::garbage, 10 * kSecond, 20 * kSecond},
                            {gd::FaultMode::garbage, 20 * kSecond, 30 * kSecond, 6.0},
                            {gd::FaultMode::stuck, 30 * kSecond, 40 * kSecond},
                            slow},
                           5);
  gd::ManualClock clock;
  gd::DoorRelay relay(clock, {}, plan);
  Serving s(relay);
  Client c(s.server.port(), std::chrono::milliseconds(200));
  ASSERT_TRUE(c.connected) << modbus_strerror(errno);
  std::uint8_t bits[1] = {};

  const auto off = call([&] { return modbus_read_bits(c.ctx, 0, 1, bits); });
  EXPECT_EQ(off.error, ETIMEDOUT) << modbus_strerror(off.error);
  EXPECT_EQ(s.server.counters().unanswered, 1u);
  clock.set(10 * kSecond);
  const auto failure = call([&] { return modbus_read_bits(c.ctx, 0, 1, bits); });
  EXPECT_EQ(failure.error, EMBXSFAIL) << modbus_strerror(failure.error);
  clock.set(20 * kSecond);
  const auto busy = call([&] { return modbus_write_bit(c.ctx, 0, 1); });
  EXPECT_EQ(busy.error, EMBXSBUSY) << modbus_strerror(busy.error);
  clock.set(30 * kSecond);
  EXPECT_EQ(modbus_write_bit(c.ctx, 0, 1), 1) << modbus_strerror(errno);  // echoed...
  ASSERT_EQ(modbus_read_bits(c.ctx, 0, 1, bits), 1) << modbus_strerror(errno);
  EXPECT_EQ(bits[0], 0);  // ...but the relay did not move
  clock.set(40 * kSecond);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(modbus_write_bit(c.ctx, 0, 1), 1) << modbus_strerror(errno);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  EXPECT_EQ(s.server.counters().delayed, 1u);
  clock.set(50 * kSecond);
  ASSERT_EQ(modbus_read_bits(c.ctx, 0, 1, bits), 1) << modbus_strerror(errno);
  EXPECT_EQ(bits[0], 0);  // the 3 s pulse from 40 s is over
}

TEST(ThermalSensorPeer, IntermittentLossTimesOutExactlyTheRequestsThePlanDraws) {
  const gd::FaultPlan plan({{gd::FaultMode::intermittent, Micros{0}, Micros::max(), 0.5}}, 11);
  FixedSource source;
  gd::ManualClock clock;
  gd::ThermalSensor sensor(source, clock, noiseless(), plan);
  Serving s(sensor);
  Client c(s.server.port(), std::chrono::milliseconds(100));
  ASSERT_TRUE(c.connected) << modbus_strerror(errno);
  int lost = 0;
  for (std::uint64_t i = 0; i < 12; ++i) {
    std::uint16_t reg = 0;
    const auto r = call([&] { return modbus_read_input_registers(c.ctx, 0, 1, &reg); });
    if (plan.drops(Micros{0}, i)) {
      EXPECT_EQ(r.error, ETIMEDOUT) << i << ": " << modbus_strerror(r.error);
      ++lost;
    } else {
      EXPECT_EQ(r.rc, 1) << i << ": " << modbus_strerror(r.error);
      EXPECT_EQ(reg, 3650);
    }
  }
  EXPECT_GT(lost, 0);
  EXPECT_LT(lost, 12);
  EXPECT_EQ(s.server.counters().unanswered, static_cast<std::uint64_t>(lost));
  EXPECT_EQ(sensor.measurements(), static_cast<std::uint32_t>(12 - lost));  // lost requests measure nothing
}

namespace {

// A register bank that holds its reply to reads of address 0 and never answers reads of address 5.
class Picky final : public mb::RegisterBank {
 public:
  Picky() : RegisterBank(0, 0, 8, 0) {}
  mb::Reply reply(const mb::Request& q) override {
    if (q.address == 5) return {};
    auto r = RegisterBank::reply(q);
    if (q.address == 0) r.delay = std::chrono::milliseconds(100);
    return r;
  }
};

std::vector<std::uint8_t> read_holding(std::uint16_t transaction, std::uint16_t address) {
  mb::Request q;
  q.header = {transaction, 1};
  q.function = 0x03;
  q.address = address;
  q.quantity = 1;
  return mb::encode_request(q);
}

}  // namespace

TEST(ModbusServerFaults, AHeldReplyKeepsItsPlaceAndAnUnansweredRequestLeavesTheSessionOpen) {
  Picky bank;
  bank.holding = {10, 11, 12, 13, 14, 15, 16, 17};
  Serving s(bank);
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), s.server.port()});
  const timeval limit{5, 0};  // a server that never answers fails the test instead of hanging it
  ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);

  // Three requests in one write: held (0), unanswered (5), immediate (2).
  std::vector<std::uint8_t> out;
  for (const auto& f : {read_holding(1, 0), read_holding(2, 5), read_holding(3, 2)}) out.insert(out.end(), f.begin(), f.end());
  const auto start = std::chrono::steady_clock::now();
  asio::write(sock, asio::buffer(out));
  std::vector<std::uint8_t> in(22);  // two replies of 11 bytes
  boost::system::error_code ec;
  ASSERT_EQ(asio::read(sock, asio::buffer(in), ec), in.size()) << ec.message();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  const auto first = mb::decode_response(in);
  ASSERT_EQ(first.status, mb::Status::ok) << first.error;
  const auto second = mb::decode_response(std::span<const std::uint8_t>(in).subspan(first.consumed));
  ASSERT_EQ(second.status, mb::Status::ok) << second.error;
  EXPECT_EQ(first.message.header.transaction, 1);
  EXPECT_EQ(first.message.registers.at(0), 10);
  EXPECT_EQ(second.message.header.transaction, 3);
  EXPECT_EQ(second.message.registers.at(0), 12);
  // The session is still open and answers the next request at once.
  asio::write(sock, asio::buffer(read_holding(4, 7)));
  std::vector<std::uint8_t> last(11);
  ASSERT_EQ(asio::read(sock, asio::buffer(last), ec), last.size()) << ec.message();
  EXPECT_EQ(mb::decode_response(last).message.registers.at(0), 17);
  const auto counters = s.server.counters();
  EXPECT_EQ(counters.requests, 4u);
  EXPECT_EQ(counters.unanswered, 1u);
  EXPECT_EQ(counters.delayed, 1u);
}
