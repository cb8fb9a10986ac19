#pragma once
// What stands in front of one lane's emulated devices in hardware-in-the-loop runs: the simulation puts a
// resident (and whoever walks with them) at the lane, the camera's frames show them walking up at the
// frame's simulated time, and the thermal sensor reads the subject's forehead once they are close enough.
// It is the lane's FrameSource and TemperatureSource (devices/), so the emulators never see sim headers.
//
// Threading: the camera's and the Modbus server's thread call frame() and skin_temperature_c(); the
// simulation calls begin() and clear(). One mutex guards the approach.
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "gatetwin/devices/camera.hpp"
#include "gatetwin/devices/thermal_sensor.hpp"
#include "gatetwin/sim/gate_scene.hpp"
#include "gatetwin/sim/time.hpp"

namespace gatetwin::sim {

class LaneStage final : public devices::FrameSource, public devices::TemperatureSource {
 public:
  // `lane` gives the camera (its frame size is the picture's), the walk and the ambient temperature.
  // `reach_m`: the thermal sensor sees the subject's forehead from this distance (a gate's sensor reads at
  // about an arm's length).
  explicit LaneStage(scene::LaneSpec lane, double reach_m = 1.0);

  // A passage begins at simulated time t0: the actors (the first subject leads) walk up as in pixel mode.
  void begin(SimTime t0, std::uint64_t passage, std::vector<scene::Actor> actors);
  // Nobody at the lane (the camera shows the empty lane; the sensor sees the background).
  void clear();

  cv::Size size() const override { return lane_.camera.frame; }
  cv::Mat frame(devices::Micros t, std::uint64_t index) override;
  std::optional<double> skin_temperature_c(devices::Micros t) override;
  double ambient_c(devices::Micros) override { return lane_.ambient_c; }

  // Frames rendered so far (the cost of HIL is mostly these).
  std::uint64_t rendered() const;

 private:
  struct Passage {
    SimTime t0{0};
    std::unique_ptr<scene::Approach> approach;
    scene::SceneFrame last;   // the newest frame rendered (shown again while the subject stands still)
    double skin_c = 0.0;
  };
  scene::LaneSpec lane_;
  double reach_m_;
  mutable std::mutex mutex_;
  std::optional<Passage> passage_;
  cv::Mat empty_;             // the empty lane, drawn once
  std::uint64_t rendered_ = 0;
};

}  // namespace gatetwin::sim
