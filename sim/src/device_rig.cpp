#include "gatetwin/sim/device_rig.hpp"

#include <cmath>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>

#include "gatetwin/sim/random.hpp"

namespace gatetwin::sim {

namespace dv = gatetwin::devices;

namespace {

// Standalone physics: someone steps in front of the sensor for 3 s every 10 s of simulated time; their skin
// temperature is the scenario's normal core temperature minus its skin gradient, drawn per visit.
class SyntheticVisitors final : public dv::TemperatureSource {
 public:
  SyntheticVisitors(const Scenario& s, const std::string& name) : thermal_(s.thermal), seed_(s.seed), name_(name) {}
  std::optional<double> skin_temperature_c(dv::Micros t) override {
    const std::int64_t visit = t.count() / 10'000'000;
    if (t.count() % 10'000'000 >= 3'000'000) return std::nullopt;
    RandomStream r(seed_, "devices.visitors." + name_, static_cast<std::uint64_t>(visit));
    return r.normal(thermal_.core_normal_mean_c, thermal_.core_normal_sd_c) - thermal_.skin_gradient_c;
  }
  double ambient_c(dv::Micros) override { return thermal_.ambient_c; }

 private:
  ThermalSpec thermal_;
  std::uint64_t seed_;
  std::string name_;
};

std::uint16_t port_for(const Scenario& s, std::size_t lane_index, int offset) {
  if (s.devices.base_port == 0) return 0;
  const auto p = static_cast<long>(s.devices.base_port) + 10 * static_cast<long>(lane_index) + offset;
  if (p > 65535) throw std::runtime_error("devices.base_port: lane " + std::to_string(lane_index + 1) +
                                          " would need port " + std::to_string(p) + ", above 65535");
  return static_cast<std::uint16_t>(p);
}

template <class Make>
auto listening(const std::string& what, std::uint16_t port, Make make) {
  try {
    return make();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(what + ": cannot listen on port " + std::to_string(port) + ": " + e.code().message());
  }
}

dv::Micros micros(double seconds) { return dv::Micros{static_cast<std::int64_t>(std::llround(seconds * 1e6))}; }

}  // namespace

dv::FaultPlan fault_plan(const Scenario& s, const std::string& gate, int lane, const std::string& device) {
  std::vector<dv::Fault> faults;
  for (const auto& f : s.faults) {
    const std::string g = f.gate.empty() && !s.gates.empty() ? s.gates.front().name : f.gate;
    if (g != gate || f.lane != lane || f.device != device) continue;
    dv::Fault d;
    d.mode = *dv::parse_fault_mode(f.mode);  // the loader accepts only known modes
    d.start = f.start;
    if (f.duration_s > 0) d.end = f.start + micros(f.duration_s);
    d.value = f.value;
    d.delay = micros(f.delay_s);
    d.jitter = micros(f.jitter_s);
    faults.push_back(d);
  }
  return dv::FaultPlan(std::move(faults), RandomStream(s.seed, "devices.faults." + gate + "." + std::to_string(lane) +
                                                                   "." + device).next_u64());
}

std::string LaneDevices::thermal_url() const {
  return "modbus-tcp://" + address + ":" + std::to_string(thermal_server->port()) + "/1";
}
std::string LaneDevices::relay_url() const {
  return "modbus-tcp://" + address + ":" + std::to_string(relay_server->port()) + "/1";
}
std::string LaneDevices::reader_url() const { return "wiegand-tcp://" + address + ":" + std::to_string(reader->port()); }

DeviceRig::DeviceRig(const Scenario& s, const dv::Clock& clock, SourceFactory sources, ModbusWrap wrap)
    : work_(boost::asio::make_work_guard(io_)) {
  std::size_t index = 0;
  for (const auto& gate : s.gates) {
    for (int lane = 1; lane <= gate.lanes; ++lane, ++index) {
      const std::string name = gate.name + "-" + std::to_string(lane);
      LaneDevices d;
      d.gate = gate.name;
      d.lane = lane;
      d.address = s.devices.address;
      if (sources) {
        auto given = sources(gate, lane);
        d.frames = std::move(given.frames);
        d.temperature = std::move(given.temperature);
      } else {
        d.frames = std::make_shared<dv::TestPattern>(cv::Size(s.devices.camera_width, s.devices.camera_height),
                                                     "GateTwin gate " + gate.name + " lane " + std::to_string(lane));
        d.temperature = std::make_shared<SyntheticVisitors>(s, name);
      }

      dv::CameraOptions co;
      co.name = name;
      co.address = s.devices.address;
      co.rtsp_port = port_for(s, index, 0);
      co.http_port = port_for(s, index, 1);
      co.fps = s.devices.camera_fps;
      co.jpeg_quality = s.devices.camera_jpeg_quality;
      if (s.devices.camera_auth) co.auth = dv::CameraAuth{s.devices.camera_user, s.devices.camera_password};
      co.faults = fault_plan(s, gate.name, lane, "camera");
      d.camera = listening("gate " + gate.name + " lane " + std::to_string(lane) + " camera", co.rtsp_port,
                      [&] { return std::make_unique<dv::Camera>(io_, *d.frames, clock, co); });

      dv::ThermalSensorParams tp;
      tp.bias_c = s.thermal.bias_c;
      tp.noise_sd_c = s.thermal.noise_sd();
      tp.drift_c_per_hour = s.devices.thermal_drift_c_per_h;
      tp.warmup = micros(s.devices.thermal_warmup_s);
      tp.powered_on_at = s.day_start;  // powered on when the day starts
      tp.seed = RandomStream(s.seed, "devices.thermal." + name).next_u64();
      d.thermal = std::make_unique<dv::ThermalSensor>(*d.temperature, clock, tp, fault_plan(s, gate.name, lane, "thermal"));
      dv::modbus::ServerOptions mo;
      mo.address = s.devices.address;
      mo.port = port_for(s, index, 2);
      d.thermal_server = listening("gate " + gate.name + " lane " + std::to_string(lane) + " thermal sensor", mo.port,
                              [&] {
                                return std::make_unique<dv::modbus::Server>(io_, wrap ? *wrap(name, "thermal", *d.thermal) : *d.thermal, mo);
                              });

      dv::DoorRelayParams rp;
      rp.pulse_ms = static_cast<std::uint16_t>(std::llround(s.devices.relay_pulse_s * 1000));
      rp.held_open_delay_s = static_cast<std::uint16_t>(std::llround(s.devices.relay_held_open_s));
      d.relay = std::make_unique<dv::DoorRelay>(clock, rp, fault_plan(s, gate.name, lane, "relay"));
      mo.port = port_for(s, index, 3);
      d.relay_server = listening("gate " + gate.name + " lane " + std::to_string(lane) + " door relay", mo.port,
                            [&] {
                              return std::make_unique<dv::modbus::Server>(io_, wrap ? *wrap(name, "relay", *d.relay) : *d.relay, mo);
                            });

      dv::card::ReaderOptions ro;
      ro.address = s.devices.address;
      ro.port = port_for(s, index, 4);
      ro.reader_id = static_cast<std::uint16_t>(index + 1);
      d.reader = listening("gate " + gate.name + " lane " + std::to_string(lane) + " card reader", ro.port, [&] {
        return std::make_unique<dv::card::CardReader>(io_, clock, fault_plan(s, gate.name, lane, "reader"), ro);
      });
      lanes_.push_back(std::move(d));
    }
  }
}

DeviceRig::~DeviceRig() { stop(); }

void DeviceRig::start() {
  for (auto& d : lanes_) d.camera->start();
  if (!thread_.joinable()) thread_ = std::thread([this] { io_.run(); });
}

void DeviceRig::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& d : lanes_) {
    d.camera->stop();
    d.reader->stop();
    boost::asio::post(io_, [s1 = d.thermal_server.get(), s2 = d.relay_server.get()] {
      s1->stop();
      s2->stop();
    });
  }
  work_.reset();
  if (thread_.joinable()) {
    // Let the posted stops run, then end the loop (sessions may hold timers).
    boost::asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  } else {
    io_.stop();
  }
}

std::vector<std::string> DeviceRig::describe() const {
  std::vector<std::string> out;
  for (const auto& d : lanes_) {
    const std::string who = "gate " + d.gate + " lane " + std::to_string(d.lane);
    out.push_back(who + " camera       " + d.camera->rtsp_url());
    out.push_back(who + " camera mjpeg " + d.camera->mjpeg_url());
    out.push_back(who + " snapshot     " + d.camera->snapshot_url());
    out.push_back(who + " thermal      " + d.thermal_url());
    out.push_back(who + " relay        " + d.relay_url());
    out.push_back(who + " card reader  " + d.reader_url());
  }
  return out;
}

}  // namespace gatetwin::sim
