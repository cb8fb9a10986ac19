// Modbus TCP requests per second on one loopback connection: the emulator's server (devices/) beside
// libmodbus's own server in the same run (the baseline), both asked by the same libmodbus client to read
// 10 holding registers. Goal (issue 5): the emulator serves at least as many requests/s as libmodbus.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <modbus/modbus.h>
#include <unistd.h>

#include "gatetwin/devices/modbus_server.hpp"

namespace mb = gatetwin::devices::modbus;

namespace {

void run_client(benchmark::State& state, std::uint16_t port) {
  modbus_t* c = modbus_new_tcp("127.0.0.1", port);
  if (!c || modbus_connect(c) != 0) {
    state.SkipWithError("cannot connect");
    return;
  }
  std::uint16_t regs[10];
  for (auto _ : state) {
    if (modbus_read_registers(c, 0, 10, regs) != 10) {
      state.SkipWithError(modbus_strerror(errno));
      break;
    }
  }
  state.counters["requests/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  modbus_close(c);
  modbus_free(c);
}

void BM_Emulator(benchmark::State& state) {
  boost::asio::io_context io{1};  // one thread runs it, as in the device rig
  mb::RegisterBank bank(16, 16, 64, 16);
  mb::Server server(io, bank);
  std::thread t([&] { io.run(); });
  run_client(state, server.port());
  boost::asio::post(io, [&] { server.stop(); });
  io.stop();
  t.join();
}

// libmodbus's server: accept one connection, then receive and reply until the client closes.
void BM_LibmodbusServer(benchmark::State& state) {
  modbus_t* s = modbus_new_tcp("127.0.0.1", 0);
  modbus_mapping_t* map = modbus_mapping_new(16, 16, 64, 16);
  // libmodbus cannot listen on port 0 and report the port: try a range of fixed ports.
  int listener = -1;
  std::uint16_t port = 0;
  for (std::uint16_t p = 15020; p < 15120 && listener < 0; ++p) {
    modbus_free(s);
    s = modbus_new_tcp("127.0.0.1", p);
    listener = modbus_tcp_listen(s, 1);
    port = p;
  }
  if (listener < 0) {
    state.SkipWithError("no free port for libmodbus");
    modbus_mapping_free(map);
    modbus_free(s);
    return;
  }
  std::thread server([&] {
    int sock = listener;
    if (modbus_tcp_accept(s, &sock) < 0) return;
    std::uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    for (;;) {
      const int rc = modbus_receive(s, query);
      if (rc > 0) {
        modbus_reply(s, query, rc, map);
      } else if (rc == -1) {
        break;  // the client closed
      }
    }
  });
  run_client(state, port);
  server.join();
  ::close(listener);
  modbus_close(s);
  modbus_mapping_free(map);
  modbus_free(s);
}

}  // namespace

BENCHMARK(BM_LibmodbusServer)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_Emulator)->MinTime(2.0)->UseRealTime();
BENCHMARK_MAIN();
