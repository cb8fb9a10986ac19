#pragma once
// One lane in a hardware-in-the-loop run, as the simulation sees it. The simulation puts a resident at the
// lane (the LaneStage shows them to the camera and the thermal sensor); the gate's own software, gatectl,
// decides over its sockets and, to let them in, energises the door relay; the simulation learns that from
// the relay's events (never from gatectl's log), then walks the resident through the door.
//
// Relay events arrive on the Modbus server's thread; HilLane queues them under its own lock and wakes the
// simulation's thread, which waits with a wall-clock limit (the HIL pacing keeps simulated time in step).
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "gatetwin/devices/door_relay.hpp"
#include "gatetwin/sim/lane_stage.hpp"
#include "gatetwin/sim/time.hpp"

namespace gatetwin::sim {

class HilLane {
 public:
  // Installs itself as the relay's listener (the relay must not be serving requests yet).
  HilLane(devices::DoorRelay& relay, LaneStage& stage);
  HilLane(const HilLane&) = delete;
  HilLane& operator=(const HilLane&) = delete;

  // The resident (and whoever walks with them) steps up at simulated time t0.
  void present(SimTime t0, std::uint64_t passage, std::vector<scene::Actor> actors);
  // Blocks until the relay is energised after the last present() (a grant by the gate), or `wall_limit`
  // passes. Returns the simulated time of the relay event, or nullopt on time-out (a refusal, a failure to
  // acquire, or a gate that is down: the simulation then retries, or sends the resident to card or staff).
  std::optional<SimTime> wait_for_open(std::chrono::milliseconds wall_limit);
  // The resident walks through: the door contact opens now and closes when `closed` is true; the lane is
  // then empty. Call with the door's physical times in simulated time order.
  void door(bool open);
  void leave();  // the resident steps away without passing (refused, gone to the staff post)

  // Also calls `fn` for every relay event, on the relay's thread with the relay's lock held: it must only
  // queue work (Simulation::schedule_now_threadsafe), never call back into the relay. Set before serving.
  void on_event(std::function<void(const devices::DoorEvent&)> fn) { on_event_ = std::move(fn); }

  // Every relay event so far (state changes with their simulated times), for the run's record.
  std::vector<devices::DoorEvent> events() const;

 private:
  devices::DoorRelay& relay_;
  LaneStage& stage_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<devices::DoorEvent> events_;
  std::size_t waiting_from_ = 0;   // events before this index belong to earlier passages
  std::function<void(const devices::DoorEvent&)> on_event_;
};

}  // namespace gatetwin::sim
