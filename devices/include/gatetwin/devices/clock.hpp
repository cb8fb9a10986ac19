#pragma once
// The time a device sees. Emulated devices stamp what they produce (RTP timestamps, measurement times,
// door state changes) and schedule their faults in simulated time, which the simulation owns; devices/
// never includes sim headers, so the simulation hands them a Clock. Standalone (`gatetwin devices`) the
// clock is the wall clock since start.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace gatetwin::devices {

// Simulated time in integer microseconds since the start of the run (the same unit as sim::Time).
using Micros = std::chrono::duration<std::int64_t, std::micro>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Micros now() const = 0;  // thread-safe: device threads call it
};

// Set by its owner (the simulation's pacing loop, or a test): devices read whatever was stored last.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros start = Micros{0}) : us_(start.count()) {}
  Micros now() const override { return Micros{us_.load(std::memory_order_acquire)}; }
  void set(Micros t) { us_.store(t.count(), std::memory_order_release); }
  void advance(Micros dt) { us_.fetch_add(dt.count(), std::memory_order_acq_rel); }

 private:
  std::atomic<std::int64_t> us_;
};

// `origin` plus the wall time since construction (steady, never jumps) scaled by `speed` (1 = real time).
class SteadyClock final : public Clock {
 public:
  explicit SteadyClock(double speed = 1.0, Micros origin = Micros{0})
      : start_(std::chrono::steady_clock::now()), speed_(speed), origin_(origin) {}
  Micros now() const override {
    const auto wall = std::chrono::duration_cast<Micros>(std::chrono::steady_clock::now() - start_);
    return origin_ + Micros{static_cast<std::int64_t>(static_cast<double>(wall.count()) * speed_)};
  }

 private:
  std::chrono::steady_clock::time_point start_;
  double speed_;
  Micros origin_;
};

}  // namespace gatetwin::devices
