// The Modbus TCP server against a real peer: libmodbus's own client on loopback reads and writes every
// table of a register bank, gets the exception codes a device returns, and a broken frame closes only its
// own session. The server runs its io_context on a thread; the port is bound before the client connects
// (no sleeps), and every test stops the server and joins the thread.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <modbus/modbus.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "gatetwin/devices/modbus_server.hpp"

namespace mb = gatetwin::devices::modbus;
namespace asio = boost::asio;

namespace {

// A register bank served on an ephemeral loopback port for the length of a test.
class Served {
 public:
  // `setup` fills the bank before the server's thread starts (afterwards only that thread touches it).
  explicit Served(mb::ServerOptions options = {}, const std::function<void(mb::RegisterBank&)>& setup = {})
      : bank(16, 8, 32, 8), server(io, bank, options) {
    if (setup) setup(bank);
    thread = std::thread([this] { io.run(); });
  }
  ~Served() {
    asio::post(io, [this] { server.stop(); });
    io.stop();
    thread.join();
  }
  asio::io_context io;
  mb::RegisterBank bank;
  mb::Server server;
  std::thread thread;
};

// A raw loopback connection whose blocking reads give up after 5 s, so a server that fails to close a
// session fails the test instead of hanging it.
asio::ip::tcp::socket raw_connection(asio::io_context& io, std::uint16_t port) {
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  const timeval limit{5, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  return s;
}

struct Client {
  explicit Client(std::uint16_t port) : ctx(modbus_new_tcp("127.0.0.1", port)) {
    if (ctx) modbus_set_slave(ctx, 1);
  }
  ~Client() {
    if (!ctx) return;
    modbus_close(ctx);
    modbus_free(ctx);
  }
  modbus_t* ctx;
};

}  // namespace

TEST(ModbusServerPeer, LibmodbusReadsAndWritesEveryTable) {
  Served s({}, [](mb::RegisterBank& b) {
    b.input[3] = 3631;              // 36.31 °C in hundredths, as a thermometer would show it
    b.discrete_inputs[1] = true;    // a door contact
  });
  Client c(s.server.port());
  ASSERT_NE(c.ctx, nullptr);
  ASSERT_EQ(modbus_connect(c.ctx), 0) << modbus_strerror(errno);

  std::uint16_t regs[4] = {};
  ASSERT_EQ(modbus_read_input_registers(c.ctx, 2, 2, regs), 2) << modbus_strerror(errno);
  EXPECT_EQ(regs[1], 3631);
  ASSERT_EQ(modbus_write_register(c.ctx, 5, 950), 1) << modbus_strerror(errno);       // FC06
  const std::uint16_t two[2] = {0x1234, 0xBEEF};
  ASSERT_EQ(modbus_write_registers(c.ctx, 6, 2, two), 2) << modbus_strerror(errno);   // FC16
  ASSERT_EQ(modbus_read_registers(c.ctx, 5, 3, regs), 3) << modbus_strerror(errno);   // FC03
  EXPECT_EQ(regs[0], 950);
  EXPECT_EQ(regs[1], 0x1234);
  EXPECT_EQ(regs[2], 0xBEEF);

  ASSERT_EQ(modbus_write_bit(c.ctx, 0, 1), 1) << modbus_strerror(errno);              // FC05: unlock
  const std::uint8_t pattern[10] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
  ASSERT_EQ(modbus_write_bits(c.ctx, 4, 10, pattern), 10) << modbus_strerror(errno);  // FC15
  std::uint8_t bits[16] = {};
  ASSERT_EQ(modbus_read_bits(c.ctx, 0, 14, bits), 14) << modbus_strerror(errno);     // FC01
  EXPECT_EQ(bits[0], 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(bits[4 + i], pattern[i]) << i;
  ASSERT_EQ(modbus_read_input_bits(c.ctx, 0, 3, bits), 3) << modbus_strerror(errno); // FC02
  EXPECT_EQ(bits[1], 1);
  EXPECT_EQ(bits[0], 0);
  EXPECT_EQ(s.server.counters().requests, 8u);
}

TEST(ModbusServerPeer, OutOfRangeAndUnservableRequestsGetTheDevicesExceptions) {
  Served s;
  Client c(s.server.port());
  ASSERT_EQ(modbus_connect(c.ctx), 0) << modbus_strerror(errno);
  std::uint16_t regs[8] = {};
  errno = 0;
  EXPECT_EQ(modbus_read_registers(c.ctx, 30, 4, regs), -1);  // 30..33 past the 32 holding registers
  EXPECT_EQ(errno, EMBXILADD) << modbus_strerror(errno);
  errno = 0;
  EXPECT_EQ(modbus_write_bit(c.ctx, 16, 1), -1);             // coil 16 of 16
  EXPECT_EQ(errno, EMBXILADD) << modbus_strerror(errno);
  // A function the device does not serve (FC 0x11 report server id): illegal function.
  std::uint8_t id[64] = {};
  errno = 0;
  EXPECT_EQ(modbus_report_slave_id(c.ctx, sizeof id, id), -1);
  EXPECT_EQ(errno, EMBXILFUN) << modbus_strerror(errno);
  // The session survives all of these.
  ASSERT_EQ(modbus_read_registers(c.ctx, 0, 2, regs), 2) << modbus_strerror(errno);
  EXPECT_EQ(s.server.counters().exceptions, 3u);
}

TEST(ModbusServerPeer, ABrokenFrameClosesOnlyItsOwnSession) {
  Served s;
  Client good(s.server.port());
  ASSERT_EQ(modbus_connect(good.ctx), 0) << modbus_strerror(errno);
  // Another connection sends a frame with protocol id 7: the server closes it (the peer reads EOF).
  asio::io_context io;
  asio::ip::tcp::socket bad = raw_connection(io, s.server.port());
  const std::uint8_t broken[] = {0x00, 0x01, 0x00, 0x07, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x01};
  asio::write(bad, asio::buffer(broken));
  std::uint8_t byte = 0;
  boost::system::error_code ec;
  EXPECT_EQ(asio::read(bad, asio::buffer(&byte, 1), ec), 0u);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(s.server.counters().framing_errors, 1u);
  // The first client still works.
  std::uint16_t regs[1] = {};
  EXPECT_EQ(modbus_read_registers(good.ctx, 0, 1, regs), 1) << modbus_strerror(errno);
}

TEST(ModbusServerPeer, AnIdleSessionIsClosedAtItsDeadline) {
  mb::ServerOptions o;
  o.idle_timeout = std::chrono::milliseconds(100);
  Served s(o);
  asio::io_context io;
  asio::ip::tcp::socket quiet = raw_connection(io, s.server.port());
  std::uint8_t byte = 0;
  boost::system::error_code ec;
  // The blocking read returns when the server closes the silent session (the deadline, not a sleep).
  EXPECT_EQ(asio::read(quiet, asio::buffer(&byte, 1), ec), 0u);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(s.server.counters().idle_timeouts, 1u);
}
