#pragma once
// Capacity sizing: the fewest lanes and staff per gate that keep the peak-hour P95 wait under a target. The
// wait is a resident's in the lane's queue plus, when referred, for the person on duty; the peak hour is
// each gate's demand peak (metrics.md, gates[].peak_hour).
// Every (lanes, staff) pair on the grid is one run of the scenario with that many lanes and staff at each
// gate, the same seed for every pair (common random numbers: the same residents arrive at the same
// moments), so the curve behind the answer moves only with the capacity. Used by gatetwin-studio's
// capacity view and by sweeps.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gatetwin/sim/scenario.hpp"

namespace gatetwin::sim {

struct CapacityQuery {
  double target_p95_wait_s = 60.0;  // the peak-hour P95 wait every gate must stay under
  int max_lanes = 6;                // lanes per gate tried: 1 .. max_lanes
  int max_staff = 3;                // staff per gate tried: 1 .. max_staff
};

struct CapacityPoint {
  int lanes = 0, staff = 0;
  double peak_p95_wait_s = 0;              // the worst gate's peak-hour P95 wait (lane queue + staff queue)
  double mean_wait_s = 0;
  std::uint32_t max_queue = 0;
  std::uint64_t unfinished = 0;            // passages still queued a week after day.end (hopeless overload)
  std::vector<double> gate_peak_p95_s;     // per gate, in scenario order
  bool meets(double target) const { return unfinished == 0 && peak_p95_wait_s <= target; }
};

struct CapacityResult {
  CapacityQuery query;
  std::vector<std::string> gates;          // gate names, in scenario order
  std::vector<CapacityPoint> curve;        // staff-major: for staff 1..max_staff, lanes 1..max_lanes
  // The answer: the fewest lanes at any gate that meet the target (with the fewest staff that achieve it);
  // nullopt when no pair on the grid does.
  std::optional<CapacityPoint> smallest;
  // Per gate, at the answer's staff: the fewest lanes that keep that gate alone under the target (gates
  // are independent queues, so a gate can be sized on its own); nullopt when none on the grid does.
  std::vector<std::optional<int>> gate_lanes;
  const CapacityPoint* at(int lanes, int staff) const;
};

// Called after each run with (runs done, runs in all). Returning false cancels: size_capacity then
// throws CapacityCancelled.
using CapacityProgress = std::function<bool(int done, int total)>;
struct CapacityCancelled {};

// Throws std::invalid_argument for a query outside 1..64 lanes, 1..64 staff or a target <= 0.
CapacityResult size_capacity(const Scenario& base, const CapacityQuery& q, const CapacityProgress& progress = {});

// The pieces size_capacity is made of, for sweeps (sweep.hpp) that spread the grid over processes and
// average it over seeds:
// One point of the grid: `base` with `lanes` and `staff` at every gate, run in statistical fidelity
// (without device faults).
CapacityPoint capacity_point(const Scenario& base, int lanes, int staff);
// What capacity_point runs: `base` with those lanes and staff at every gate, statistical, no faults.
Scenario capacity_scenario(const Scenario& base, int lanes, int staff);
// Per gate, the P95 of the waits (lane queue + staff queue) of the passages that arrived in the gate's
// peak hour.
struct RunOutput;
struct Metrics;
std::vector<double> gate_peak_p95_wait_s(const RunOutput& out, const Metrics& m);
// Fills r.smallest and r.gate_lanes from r.curve and r.query (r.gates names the gates).
void choose_capacity(CapacityResult& r);
// Checks a query (std::invalid_argument as size_capacity).
void check_capacity_query(const CapacityQuery& q);

}  // namespace gatetwin::sim
