#pragma once
// Fault injection shared by every emulated device. A FaultPlan is a list of faults, each a mode active in
// a window of simulated time, and a seed. Devices consult it with their clock's time and an event number
// (a frame, a request, a card swipe), so whether a given event is hit is a function of (plan, seed, event)
// and never of thread timing: a run is reproducible per seed.
//
// The vocabulary, and what each device does with it (docs/devices.md has the full table):
//   off           the device stops answering: camera disconnects and refuses, Modbus requests get no
//                 reply, the card reader is silent
//   stuck         the output freezes: camera repeats its last frame (a stall), the thermal sensor reports
//                 `value` (°C), the relay's coil stays where it is
//   garbage       the output is corrupt: camera sends broken JPEG, Modbus devices reply with exception
//                 `value` (default 0x04 server device failure), the card reader sends parity errors
//   slow          the camera's frame rate is multiplied by `value` (0.5 = half the frames); Modbus replies
//                 are held `delay`
//   delayed       every message on the link is held `delay` plus a uniform draw in [0, jitter)
//   intermittent  each event is lost with probability `value`: dropped frames, unanswered requests,
//                 swallowed swipes
//   drift         the thermal sensor's bias grows by `value` °C per hour from the fault's start
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gatetwin/devices/clock.hpp"

namespace gatetwin::devices {

enum class FaultMode { off, stuck, garbage, slow, delayed, intermittent, drift };

struct Fault {
  FaultMode mode = FaultMode::off;
  Micros start{0};
  Micros end{std::numeric_limits<std::int64_t>::max()};  // exclusive
  double value = 0.0;
  Micros delay{0};
  Micros jitter{0};
  bool active_at(Micros t) const { return t >= start && t < end; }
};

class FaultPlan {
 public:
  FaultPlan() = default;
  FaultPlan(std::vector<Fault> faults, std::uint64_t seed) : faults_(std::move(faults)), seed_(seed) {}

  bool empty() const { return faults_.empty(); }
  const std::vector<Fault>& faults() const { return faults_; }

  // The fault of this mode in effect at t; when windows of one mode overlap, the one listed last wins.
  std::optional<Fault> active(Micros t, FaultMode mode) const;
  bool is(Micros t, FaultMode mode) const { return active(t, mode).has_value(); }

  // A uniform draw in [0, 1) for event number `event` on stream `stream` (a device may use several).
  double uniform(std::uint64_t event, std::uint64_t stream = 0) const;
  // intermittent in effect at t and this event drawn lost.
  bool drops(Micros t, std::uint64_t event) const;
  // delayed in effect at t: its delay plus the event's jitter draw (0 otherwise); `slow` adds its delay.
  Micros latency(Micros t, std::uint64_t event) const;

 private:
  std::vector<Fault> faults_;
  std::uint64_t seed_ = 0;
};

// SplitMix64's finaliser: a good 64-bit mix, so neighbouring event numbers draw independent values. The
// devices' seeded draws are built on it.
std::uint64_t splitmix64(std::uint64_t x);

std::string_view to_string(FaultMode mode);
std::optional<FaultMode> parse_fault_mode(std::string_view text);

}  // namespace gatetwin::devices
