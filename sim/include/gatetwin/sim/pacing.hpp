#pragma once
// Pacing: how simulated time relates to wall time. One model, several pacings (as in ns-3):
//  - AsFastAsPossible: events run back to back (statistical and pixel runs);
//  - ScaledPacer(speed): sim time advances `speed` times faster than wall time; speed 1 is real time,
//    which HIL runs need. Lateness (how far behind wall time an event starts) is measured, and a strict
//    pacer fails the run when lateness exceeds a tolerance.
// The wall clock is an interface so pacing is tested with a fake clock, never with timed tests.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>

#include "gatetwin/sim/time.hpp"

namespace gatetwin::sim {

class WallClock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~WallClock() = default;
  virtual time_point now() = 0;
  virtual void sleep_until(time_point t) = 0;
};

// The process's steady clock.
class SteadyWallClock final : public WallClock {
 public:
  time_point now() override;
  void sleep_until(time_point t) override;
};

struct PacingStats {
  std::uint64_t paced_events = 0;
  std::uint64_t late_events = 0;   // started more than the tolerance after their wall deadline
  Duration max_lateness{0};
  Duration total_lateness{0};
};

class PacingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Pacer {
 public:
  virtual ~Pacer() = default;
  virtual void begin(SimTime start) { (void)start; }
  // Blocks until the event at sim time `t` may run. Returns false if it returned early because
  // `interrupt` became true (an external input arrived); the caller then processes it and asks again.
  // `is_event` is false for the final wait until the run's end time, which is not counted in stats().
  virtual bool wait_for(SimTime t, const std::atomic<bool>& interrupt, bool is_event = true) = 0;
  // The sim time that corresponds to the present wall time, never earlier than `floor`.
  virtual SimTime present(SimTime floor) { return floor; }
  virtual PacingStats stats() const { return {}; }
};

class AsFastAsPossible final : public Pacer {
 public:
  bool wait_for(SimTime, const std::atomic<bool>&, bool = true) override { return true; }
};

class ScaledPacer final : public Pacer {
 public:
  // speed: simulated seconds per wall second (1.0 = real time). strict: throw PacingError when an event
  // starts more than `tolerance` (wall time) after its deadline.
  ScaledPacer(double speed, WallClock& clock, bool strict = false, Duration tolerance = std::chrono::milliseconds(50));
  void begin(SimTime start) override;
  bool wait_for(SimTime t, const std::atomic<bool>& interrupt, bool is_event = true) override;
  SimTime present(SimTime floor) override;
  PacingStats stats() const override { return stats_; }

 private:
  WallClock::time_point deadline(SimTime t) const;
  double speed_;
  WallClock& clock_;
  bool strict_;
  Duration tolerance_;
  SimTime sim_start_{0};
  WallClock::time_point wall_start_{};
  PacingStats stats_;
};

}  // namespace gatetwin::sim
