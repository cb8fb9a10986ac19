#include <algorithm>
#include <string>

#include "gatetwin/sim/scenario.hpp"

namespace gatetwin::sim {

// Hourly arrival weights (relative; only their ratios matter). The weekday shape follows the morning
// commute out (07:00–09:00 exits) and the evening return (17:00–20:00 entries) of a Beijing residential
// compound, with shopping trips around midday; the weekend is flatter with a late-morning hump.
bool fill_profile(const std::string& name, std::array<double, 24>& entry, std::array<double, 24>& exit) {
  if (name == "weekday") {
    exit = {0.2, 0.1, 0.05, 0.05, 0.1, 0.5, 2.5, 6.0, 7.0, 3.5, 2.0, 1.8, 1.6, 1.5, 1.5, 1.6, 1.8, 2.0, 2.0, 1.8, 1.2, 0.8, 0.4, 0.3};
    entry = {0.3, 0.1, 0.05, 0.05, 0.05, 0.2, 0.6, 1.2, 1.6, 1.5, 1.6, 2.0, 2.2, 1.8, 1.6, 1.7, 2.2, 4.0, 6.5, 5.5, 3.2, 2.0, 1.0, 0.5};
    return true;
  }
  if (name == "weekend") {
    exit = {0.2, 0.1, 0.05, 0.05, 0.05, 0.2, 0.6, 1.5, 2.5, 3.5, 3.8, 3.0, 2.2, 2.0, 2.2, 2.4, 2.2, 1.8, 1.5, 1.3, 1.0, 0.6, 0.4, 0.3};
    entry = {0.3, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 1.5, 2.0, 2.8, 3.0, 2.2, 2.0, 2.2, 2.6, 3.0, 3.2, 2.8, 2.0, 1.4, 0.8, 0.5};
    return true;
  }
  if (name == "flat") {
    entry.fill(1.0);
    exit.fill(1.0);
    return true;
  }
  return false;
}

double profile_weight(const std::array<double, 24>& profile, SimTime start, SimTime end) {
  const double start_h = to_seconds(start) / 3600.0, end_h = to_seconds(end) / 3600.0;
  double weight = 0;
  for (int h = 0; h < 24; ++h) weight += profile[h] * std::max(0.0, std::min(end_h, h + 1.0) - std::max(start_h, double(h)));
  return weight;
}

}  // namespace gatetwin::sim
