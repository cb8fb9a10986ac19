#pragma once
// Simulated time: an integer count of microseconds since the start of the simulated day (00:00).
// Never a double, so event order and every report are exact and reproducible.
#include <chrono>
#include <cstdint>
#include <string>

namespace gatetwin::sim {

using Duration = std::chrono::duration<std::int64_t, std::micro>;
using SimTime = Duration;  // time since 00:00 of the simulated day

constexpr Duration seconds(double s) { return Duration(static_cast<std::int64_t>(s * 1e6 + (s >= 0 ? 0.5 : -0.5))); }
constexpr double to_seconds(Duration d) { return static_cast<double>(d.count()) / 1e6; }
constexpr Duration hours(int h) { return std::chrono::hours(h); }

// "07:30:05.250" style clock text for reports and logs.
std::string format_clock(SimTime t);

}  // namespace gatetwin::sim
