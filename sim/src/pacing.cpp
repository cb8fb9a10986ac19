#include "gatetwin/sim/pacing.hpp"

#include <algorithm>
#include <thread>

namespace gatetwin::sim {

WallClock::time_point SteadyWallClock::now() { return std::chrono::steady_clock::now(); }
void SteadyWallClock::sleep_until(time_point t) { std::this_thread::sleep_until(t); }

ScaledPacer::ScaledPacer(double speed, WallClock& clock, bool strict, Duration tolerance)
    : speed_(speed), clock_(clock), strict_(strict), tolerance_(tolerance) {
  if (!(speed > 0.0)) throw std::invalid_argument("pacing speed must be > 0");
}

void ScaledPacer::begin(SimTime start) {
  sim_start_ = start;
  wall_start_ = clock_.now();
  stats_ = {};
}

WallClock::time_point ScaledPacer::deadline(SimTime t) const {
  const double offset_us = static_cast<double>((t - sim_start_).count()) / speed_;
  // A far-away end time (SimTime::max() = "run until stopped") must not overflow the clock.
  constexpr double kYearUs = 365.0 * 86400.0 * 1e6;
  if (offset_us > kYearUs) return WallClock::time_point::max();
  const auto wall_offset = std::chrono::duration<double, std::micro>(offset_us);
  return wall_start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(wall_offset);
}

bool ScaledPacer::wait_for(SimTime t, const std::atomic<bool>& interrupt, bool is_event) {
  const auto due = deadline(t);
  // Sleep in short slices so an external input is noticed within a millisecond.
  constexpr auto slice = std::chrono::milliseconds(1);
  auto now = clock_.now();
  while (now < due) {
    if (interrupt.load(std::memory_order_acquire)) return false;
    clock_.sleep_until(std::min(due, now + slice));
    now = clock_.now();
  }
  if (!is_event) return true;
  const auto late = std::chrono::duration_cast<Duration>(now - due);
  ++stats_.paced_events;
  stats_.total_lateness += late;
  stats_.max_lateness = std::max(stats_.max_lateness, late);
  if (late > tolerance_) {
    ++stats_.late_events;
    if (strict_) {
      throw PacingError("real-time pacing fell behind by " + std::to_string(to_seconds(late)) +
                        " s at sim time " + format_clock(t) + " (tolerance " + std::to_string(to_seconds(tolerance_)) + " s)");
    }
  }
  return true;
}

SimTime ScaledPacer::present(SimTime floor) {
  const auto wall = std::chrono::duration_cast<std::chrono::duration<double, std::micro>>(clock_.now() - wall_start_);
  const SimTime t = sim_start_ + Duration(static_cast<std::int64_t>(wall.count() * speed_));
  return std::max(t, floor);
}

}  // namespace gatetwin::sim
