#include "gatetwin/sim/hil_lane.hpp"

namespace gatetwin::sim {

HilLane::HilLane(devices::DoorRelay& relay, LaneStage& stage) : relay_(relay), stage_(stage) {
  relay_.set_listener([this](const devices::DoorEvent& e) {
    // Called with the relay's lock held: only queue and wake (never call back into the relay).
    {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
    }
    changed_.notify_all();
    if (on_event_) on_event_(e);
  });
}

void HilLane::present(SimTime t0, std::uint64_t passage, std::vector<scene::Actor> actors) {
  {
    std::lock_guard lock(mutex_);
    waiting_from_ = events_.size();
  }
  stage_.begin(t0, passage, std::move(actors));
}

std::optional<SimTime> HilLane::wait_for_open(std::chrono::milliseconds wall_limit) {
  std::unique_lock lock(mutex_);
  std::optional<SimTime> opened;
  const auto found = [&] {
    for (std::size_t i = waiting_from_; i < events_.size(); ++i)
      if (events_[i].cause == devices::DoorCause::coil_on && events_[i].relay) {
        opened = events_[i].time;
        waiting_from_ = i + 1;
        return true;
      }
    return false;
  };
  changed_.wait_for(lock, wall_limit, found);
  return opened;
}

void HilLane::door(bool open) {
  relay_.set_door_open(open);
  if (!open) stage_.clear();
}

void HilLane::leave() { stage_.clear(); }

std::vector<devices::DoorEvent> HilLane::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

}  // namespace gatetwin::sim
