#pragma once
// The emulated hardware of every lane a scenario declares: a camera (RTSP + HTTP MJPEG), a thermal sensor
// and a door relay (Modbus TCP), and a card reader (Wiegand over framed TCP), each with the faults the
// scenario schedules for it. `gatetwin devices` serves a rig standalone; fidelity hil (issue 6) drives one.
//
// Time: the devices read `clock`, whose value is simulated time of day (sim::SimTime, µs since 00:00), so
// a fault at 07:30 begins when the clock says 07:30. Standalone, the clock is the wall clock started at a
// chosen time of day.
//
// Physics: each lane gets a FrameSource and a TemperatureSource. Standalone they are a test pattern
// labelled with the gate and lane, and a synthetic resident who steps in front of the thermal sensor for
// 3 s every 10 s (skin temperature from the scenario's thermal model, seeded); HIL replaces them with the
// resident at the lane.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "gatetwin/devices/camera.hpp"
#include "gatetwin/devices/card_reader.hpp"
#include "gatetwin/devices/door_relay.hpp"
#include "gatetwin/devices/modbus_server.hpp"
#include "gatetwin/devices/thermal_sensor.hpp"
#include "gatetwin/sim/scenario.hpp"

namespace gatetwin::sim {

struct LaneDevices {
  std::string gate;
  int lane = 1;  // 1-based within its gate
  std::shared_ptr<devices::FrameSource> frames;          // may be one object with temperature (LaneStage)
  std::shared_ptr<devices::TemperatureSource> temperature;
  std::unique_ptr<devices::Camera> camera;
  std::unique_ptr<devices::ThermalSensor> thermal;
  std::unique_ptr<devices::modbus::Server> thermal_server;
  std::unique_ptr<devices::DoorRelay> relay;
  std::unique_ptr<devices::modbus::Server> relay_server;
  std::unique_ptr<devices::card::CardReader> reader;

  std::string thermal_url() const;  // modbus-tcp://ADDRESS:PORT/UNIT
  std::string relay_url() const;
  std::string reader_url() const;   // wiegand-tcp://ADDRESS:PORT
  std::string address;
};

// The fault plan of one device of one lane: the scenario's faults for it, in simulated time, with a seed
// derived from the scenario's seed and the device's name (so other devices' draws do not move).
devices::FaultPlan fault_plan(const Scenario& s, const std::string& gate, int lane, const std::string& device);

// A lane's physics. Without a factory a rig gets the standalone ones described above.
struct LaneSources {
  std::shared_ptr<devices::FrameSource> frames;
  std::shared_ptr<devices::TemperatureSource> temperature;
};
using SourceFactory = std::function<LaneSources(const GateSpec& gate, int lane)>;
// Wraps a lane's Modbus device before its server is made (HIL records every transaction this way). Gets
// the lane's name ("north-1"), "thermal" or "relay", and the device; returns the handler the server
// serves, owned by the caller and outliving the rig (or the device itself).
using ModbusWrap = std::function<devices::modbus::Handler*(const std::string& lane, const std::string& device,
                                                           devices::modbus::Handler& handler)>;

class DeviceRig {
 public:
  // Builds and binds every lane's devices (ports from devices.base_port, or free ones). Throws
  // std::runtime_error naming the device and port when one cannot be bound.
  DeviceRig(const Scenario& scenario, const devices::Clock& clock, SourceFactory sources = {}, ModbusWrap wrap = {});
  ~DeviceRig();  // stops everything and joins the thread
  DeviceRig(const DeviceRig&) = delete;
  DeviceRig& operator=(const DeviceRig&) = delete;

  void start();  // cameras start producing; one io thread serves every device
  void stop();
  std::vector<LaneDevices>& lanes() { return lanes_; }
  // One line per device: "gate main lane 1 camera rtsp://127.0.0.1:8554/main-1 ..." (what `gatetwin devices` prints).
  std::vector<std::string> describe() const;

 private:
  boost::asio::io_context io_{1};  // one thread runs every device
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<LaneDevices> lanes_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace gatetwin::sim
