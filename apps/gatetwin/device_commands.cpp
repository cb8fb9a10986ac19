#include "device_commands.hpp"

#include <signal.h>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "gatetwin/devices/card_reader.hpp"
#include "gatetwin/sim/device_rig.hpp"
#include "gatetwin/sim/scenario_loader.hpp"

namespace gatetwin::app {

namespace gs = gatetwin::sim;
namespace dv = gatetwin::devices;

namespace {

struct Options {
  std::string scenario;
  std::vector<std::string> sets;
  std::string start;
  double speed = 1.0;
  double seconds = 0.0;
  int base_port = -1;
};

// Standalone card traffic: every 15 s of simulated time each lane's reader is presented a card, cycling
// valid, valid, valid, revoked, cloned, misread (synthetic credentials, facility 42).
class CardTraffic {
 public:
  explicit CardTraffic(std::uint64_t seed) : source_(enrolled(), revoked(), seed) {}
  void presents_until(dv::Micros now, std::vector<gs::LaneDevices>& lanes) {
    const std::int64_t slot = now.count() / 15'000'000;
    if (slot == last_slot_) return;
    last_slot_ = slot;
    static constexpr dv::card::CardKind cycle[] = {dv::card::CardKind::valid, dv::card::CardKind::valid,
                                                   dv::card::CardKind::valid, dv::card::CardKind::revoked,
                                                   dv::card::CardKind::cloned, dv::card::CardKind::misread};
    for (auto& lane : lanes) {
      const auto kind = cycle[static_cast<std::size_t>(n_ % 6)];
      lane.reader->present(source_.draw(kind, n_++).frame);
    }
  }

 private:
  static std::vector<dv::wiegand::Credential> enrolled() {
    std::vector<dv::wiegand::Credential> c;
    for (std::uint32_t k = 0; k < 100; ++k) c.push_back({dv::wiegand::Format::W26, 42, 1000 + k});
    return c;
  }
  static std::vector<dv::wiegand::Credential> revoked() {
    std::vector<dv::wiegand::Credential> c;
    for (std::uint32_t k = 0; k < 10; ++k) c.push_back({dv::wiegand::Format::W26, 42, 5000 + k});
    return c;
  }
  dv::card::CardSource source_;
  std::int64_t last_slot_ = -1;
  std::uint64_t n_ = 0;
};

int run(const Options& o) {
  std::vector<std::string> overrides = o.sets;
  if (o.base_port >= 0) overrides.push_back("devices.base_port=" + std::to_string(o.base_port));
  const auto loaded = gs::load_scenario_file(o.scenario, overrides);
  for (const auto& e : loaded.errors) std::cerr << e.str() << "\n";
  if (!loaded.errors.empty()) {
    std::cerr << loaded.errors.size() << " error(s); nothing was started\n";
    return 2;
  }
  const gs::Scenario& s = *loaded.scenario;
  gs::SimTime origin = s.day_start;
  if (!o.start.empty()) {
    const auto t = gs::parse_time_of_day(o.start);
    if (!t) {
      std::cerr << "--start: '" << o.start << "' is not a time of day (HH:MM or HH:MM:SS)\n";
      return 2;
    }
    origin = *t;
  }
  if (!(o.speed > 0) || !std::isfinite(o.speed)) {
    std::cerr << "--speed: must be above 0\n";
    return 2;
  }
  // Signals are taken by sigtimedwait on this thread; block them before the device thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  dv::SteadyClock clock(o.speed, origin);
  std::unique_ptr<gs::DeviceRig> rig;
  try {
    rig = std::make_unique<gs::DeviceRig>(s, clock);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 3;
  }
  rig->start();
  std::size_t lanes = rig->lanes().size();
  std::cout << "gatetwin devices: " << s.name << ", " << s.gates.size() << " gate(s), " << lanes
            << " lane(s); simulated clock from " << gs::format_clock(origin) << " at " << o.speed
            << "x; " << s.faults.size() << " fault(s) scheduled; Ctrl-C stops\n";
  for (const auto& line : rig->describe()) std::cout << line << "\n";
  std::cout << "ready" << std::endl;

  CardTraffic cards(s.seed);
  const auto wall_start = std::chrono::steady_clock::now();
  int signal = 0;
  while (signal <= 0) {
    const timespec tick{0, 100'000'000};
    signal = sigtimedwait(&stop_signals, nullptr, &tick);
    for (auto& lane : rig->lanes()) lane.relay->advance();  // relock expired pulses with their exact times
    cards.presents_until(clock.now(), rig->lanes());
    if (o.seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count() >= o.seconds)
      break;
  }
  rig->stop();
  for (auto& lane : rig->lanes()) {
    const auto c = lane.camera->counters();
    const auto r = lane.reader->counters();
    const auto door = lane.relay->snapshot();
    std::cout << "gate " << lane.gate << " lane " << lane.lane << ": camera " << c.frames << " frames, " << c.frames_sent
              << " sent, " << c.rtsp_sessions << " RTSP sessions, " << c.http_streams << " MJPEG streams, "
              << c.protocol_errors << " protocol errors; thermal " << lane.thermal->measurements()
              << " measurements; relay " << door.state_changes << " state changes; reader " << r.events
              << " card events to " << r.sessions_accepted << " host(s)\n";
  }
  std::cout << "stopped" << (signal > 0 ? std::string(" on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") : "")
            << std::endl;
  return 0;
}

}  // namespace

void add_device_commands(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("devices", "serve every lane's emulated hardware (camera, thermal sensor, door relay, "
                                            "card reader) on loopback and print their URLs");
  cmd->add_option("scenario", o->scenario, "scenario file (YAML)")->required();
  cmd->add_option("--set", o->sets, "override a field: path=value, e.g. devices.camera_auth=true");
  cmd->add_option("--start", o->start, "simulated time of day the clock starts at (default: day.start); faults are scheduled in it");
  cmd->add_option("--speed", o->speed, "simulated seconds per wall second (default 1)");
  cmd->add_option("--for", o->seconds, "stop after this many wall seconds (default: run until SIGINT/SIGTERM)");
  cmd->add_option("--base-port", o->base_port, "listen on fixed ports from here (see devices.base_port); default: free ports");
  cmd->callback([o, exit_code] { *exit_code = run(*o); });
}

}  // namespace gatetwin::app
