// A thermal sensor and a door relay on ephemeral loopback ports, for tests with external Modbus masters
// (mbpoll, pymodbus) and captures (tshark). Prints `ready thermal=PORT relay=PORT` once both listen, then
// reads commands on stdin, one per line, each answered with one line (`ok ...` or `error ...`); at EOF it
// stops the servers and exits 0.
//
//   modbus_devices_server [--manual-clock] [--noise SD] [--seed N]
//                         [--thermal-fault MODE[:VALUE[:DELAY_MS]]]... [--relay-fault ...]...
//
// --manual-clock: simulated time starts at 0 and moves only by `time` commands (default: wall time).
// Faults last the whole run. Commands:
//   time SECONDS          set the manual clock
//   skin C | skin none    the skin temperature in front of the sensor, or nobody
//   ambient C             the room temperature
//   door open|close       the door contact (a person pushes through, the door swings shut)
//   button press|release  the exit button
//   events                the relay's events since the last `events`: `event T_US FROM TO CAUSE` lines, then ok
//   state                 `ok state=S relay=0|1 door=0|1 held=0|1 forced=0|1`
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "gatetwin/devices/door_relay.hpp"
#include "gatetwin/devices/thermal_sensor.hpp"

namespace gd = gatetwin::devices;
namespace mb = gatetwin::devices::modbus;
namespace asio = boost::asio;

namespace {

class Source final : public gd::TemperatureSource {
 public:
  std::optional<double> skin_temperature_c(gd::Micros) override {
    if (!present.load()) return std::nullopt;
    return skin.load();
  }
  double ambient_c(gd::Micros) override { return ambient.load(); }
  std::atomic<bool> present{true};
  std::atomic<double> skin{36.5}, ambient{25.0};
};

std::optional<double> number(const std::string& text) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// MODE[:VALUE[:DELAY_MS]], active for the whole run.
std::optional<gd::Fault> parse_fault(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string p; std::getline(in, p, ':');) parts.push_back(p);
  if (parts.empty() || parts.size() > 3) return std::nullopt;
  const auto mode = gd::parse_fault_mode(parts[0]);
  if (!mode) return std::nullopt;
  gd::Fault f{*mode};
  if (parts.size() > 1) {
    const auto v = number(parts[1]);
    if (!v) return std::nullopt;
    f.value = *v;
  }
  if (parts.size() > 2) {
    const auto ms = number(parts[2]);
    if (!ms || *ms < 0) return std::nullopt;
    f.delay = gd::Micros{static_cast<std::int64_t>(*ms * 1000)};
  }
  return f;
}

int usage(const std::string& why) {
  std::cerr << "modbus_devices_server: " << why << "\n"
            << "usage: modbus_devices_server [--manual-clock] [--noise SD] [--seed N] "
               "[--thermal-fault MODE[:VALUE[:DELAY_MS]]]... [--relay-fault ...]...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  bool manual = false;
  gd::ThermalSensorParams params;
  std::uint64_t seed = 1;
  std::vector<gd::Fault> thermal_faults, relay_faults;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (a == "--manual-clock") {
      manual = true;
    } else if (a == "--noise" || a == "--seed") {
      const auto v = next();
      const auto n = v ? number(*v) : std::nullopt;
      if (!n || *n < 0) return usage(a + " needs a non-negative number");
      if (a == "--noise")
        params.noise_sd_c = *n;
      else
        seed = static_cast<std::uint64_t>(*n);
    } else if (a == "--thermal-fault" || a == "--relay-fault") {
      const auto v = next();
      const auto f = v ? parse_fault(*v) : std::nullopt;
      if (!f) return usage(a + " needs MODE[:VALUE[:DELAY_MS]] with MODE one of off, stuck, garbage, slow, "
                               "delayed, intermittent, drift");
      (a == "--thermal-fault" ? thermal_faults : relay_faults).push_back(*f);
    } else {
      return usage("unknown argument " + a);
    }
  }
  params.seed = seed;

  gd::ManualClock manual_clock;
  gd::SteadyClock wall_clock;
  const gd::Clock& clock = manual ? static_cast<const gd::Clock&>(manual_clock) : wall_clock;
  Source source;
  gd::ThermalSensor sensor(source, clock, params, gd::FaultPlan(thermal_faults, seed));
  gd::DoorRelay relay(clock, {}, gd::FaultPlan(relay_faults, seed + 1));

  asio::io_context io;
  auto thermal_server = std::make_unique<mb::Server>(io, sensor);
  auto relay_server = std::make_unique<mb::Server>(io, relay);
  std::thread thread([&] { io.run(); });
  std::cout << "ready thermal=" << thermal_server->port() << " relay=" << relay_server->port() << std::endl;

  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream words(line);
    std::string cmd, arg;
    words >> cmd >> arg;
    const auto value = number(arg);
    std::string reply = "ok";
    if (cmd == "time" && value && manual) {
      manual_clock.set(gd::Micros{static_cast<std::int64_t>(*value * 1e6)});
      relay.advance();
    } else if (cmd == "skin" && arg == "none") {
      source.present = false;
    } else if (cmd == "skin" && value) {
      source.skin = *value;
      source.present = true;
    } else if (cmd == "ambient" && value) {
      source.ambient = *value;
    } else if (cmd == "door" && (arg == "open" || arg == "close")) {
      relay.set_door_open(arg == "open");
    } else if (cmd == "button" && (arg == "press" || arg == "release")) {
      relay.set_exit_button(arg == "press");
    } else if (cmd == "events") {
      for (const auto& e : relay.take_events())
        std::cout << "event " << e.time.count() << ' ' << gd::to_string(e.from) << ' ' << gd::to_string(e.to) << ' '
                  << gd::to_string(e.cause) << '\n';
    } else if (cmd == "state") {
      const auto s = relay.snapshot();
      reply = "ok state=" + std::string(gd::to_string(s.state)) + " relay=" + std::to_string(s.relay) +
              " door=" + std::to_string(s.door_open) + " held=" + std::to_string(s.alarms.held_open) +
              " forced=" + std::to_string(s.alarms.forced_open);
    } else {
      reply = "error unknown command: " + line;
    }
    std::cout << reply << std::endl;
  }

  // EOF: stop accepting and close every session on the servers' own thread; with nothing left to wait
  // for (reads, timers and held replies are cancelled by the close), io.run() returns.
  asio::post(io, [&] {
    thermal_server->stop();
    relay_server->stop();
  });
  thread.join();
  return EXIT_SUCCESS;
}
