#pragma once
// The lane the HIL tests stage residents in: a 10 fps camera, a resident walking up at 0.8 m/s to stand
// 0.9 m from the terminal (within the thermal sensor's reach) for `dwell_s`, moderate capture nuisance.
#include "gatetwin/sim/gate_scene.hpp"

namespace gatetwin::sim::testing {

inline scene::LaneSpec hil_lane_spec(double dwell_s) {
  scene::LaneSpec lane;
  lane.seed = 20200616;
  lane.camera.fps = 10;
  lane.stop_distance_m = 0.9;
  lane.walk_speed_mps = 0.8;
  lane.dwell_s = dwell_s;
  lane.nuisance = 0.5;
  return lane;
}

}  // namespace gatetwin::sim::testing
