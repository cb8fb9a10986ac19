#include "gatetwin/devices/fault.hpp"

#include <array>
#include <utility>

namespace gatetwin::devices {

namespace {

std::uint64_t mix(std::uint64_t x) { return splitmix64(x); }

constexpr std::array<std::pair<FaultMode, std::string_view>, 7> kNames{{
    {FaultMode::off, "off"},
    {FaultMode::stuck, "stuck"},
    {FaultMode::garbage, "garbage"},
    {FaultMode::slow, "slow"},
    {FaultMode::delayed, "delayed"},
    {FaultMode::intermittent, "intermittent"},
    {FaultMode::drift, "drift"},
}};

}  // namespace

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::optional<Fault> FaultPlan::active(Micros t, FaultMode mode) const {
  for (auto it = faults_.rbegin(); it != faults_.rend(); ++it)
    if (it->mode == mode && it->active_at(t)) return *it;
  return std::nullopt;
}

double FaultPlan::uniform(std::uint64_t event, std::uint64_t stream) const {
  const std::uint64_t bits = mix(mix(seed_ ^ mix(stream)) ^ event);
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

bool FaultPlan::drops(Micros t, std::uint64_t event) const {
  const auto f = active(t, FaultMode::intermittent);
  return f && uniform(event, 1) < f->value;
}

Micros FaultPlan::latency(Micros t, std::uint64_t event) const {
  Micros total{0};
  if (const auto f = active(t, FaultMode::delayed)) {
    total += f->delay;
    if (f->jitter.count() > 0)
      total += Micros{static_cast<std::int64_t>(uniform(event, 2) * static_cast<double>(f->jitter.count()))};
  }
  if (const auto f = active(t, FaultMode::slow)) total += f->delay;
  return total;
}

std::string_view to_string(FaultMode mode) {
  for (const auto& [m, name] : kNames)
    if (m == mode) return name;
  return "?";
}

std::optional<FaultMode> parse_fault_mode(std::string_view text) {
  for (const auto& [m, name] : kNames)
    if (name == text) return m;
  return std::nullopt;
}

}  // namespace gatetwin::devices
