#include "gatetwin/sim/capacity.hpp"

#include <algorithm>
#include <stdexcept>

#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/world.hpp"

namespace gatetwin::sim {

const CapacityPoint* CapacityResult::at(int lanes, int staff) const {
  for (const auto& p : curve)
    if (p.lanes == lanes && p.staff == staff) return &p;
  return nullptr;
}

void check_capacity_query(const CapacityQuery& q) {
  if (q.max_lanes < 1 || q.max_lanes > 64) throw std::invalid_argument("capacity: max_lanes must be 1..64");
  if (q.max_staff < 1 || q.max_staff > 64) throw std::invalid_argument("capacity: max_staff must be 1..64");
  if (!(q.target_p95_wait_s > 0)) throw std::invalid_argument("capacity: the P95 wait target must be above 0 s");
}

std::vector<double> gate_peak_p95_wait_s(const RunOutput& out, const Metrics& m) {
  // A resident's wait at the peak: in the lane's queue and, when referred, for the person on duty (so staff
  // count too), over the passages that arrived in the gate's peak hour (the demand peak).
  std::vector<std::vector<double>> peak_waits(m.gates.size());
  for (const auto& ps : out.passages) {
    if (ps.lane < 0 || ps.gate >= m.gates.size()) continue;
    if (std::min(23, static_cast<int>(to_seconds(ps.arrived) / 3600.0)) != m.gates[ps.gate].peak_hour) continue;
    peak_waits[ps.gate].push_back(to_seconds(ps.wait()) + to_seconds(ps.staff_wait));
  }
  std::vector<double> p95;
  for (auto& w : peak_waits) p95.push_back(summarise(std::move(w)).p95);
  return p95;
}

Scenario capacity_scenario(const Scenario& base, int lanes, int staff) {
  Scenario s = base;
  s.fidelity = "statistical";  // sizing takes dozens of runs: the calibrated fast model
  for (auto& g : s.gates) {
    g.lanes = lanes;
    g.staff = staff;
  }
  s.faults.clear();  // faults belong to the emulated devices, which statistical runs do not start
  return s;
}

CapacityPoint capacity_point(const Scenario& base, int lanes, int staff) {
  const Scenario s = capacity_scenario(base, lanes, staff);
  const RunOutput out = run_world(s);
  const Metrics m = compute_metrics(s, out);
  CapacityPoint p;
  p.lanes = lanes;
  p.staff = staff;
  p.mean_wait_s = m.wait_s.mean;
  p.max_queue = m.max_queue;
  p.unfinished = m.unfinished;
  p.gate_peak_p95_s = gate_peak_p95_wait_s(out, m);
  for (const double w : p.gate_peak_p95_s) p.peak_p95_wait_s = std::max(p.peak_p95_wait_s, w);
  return p;
}

void choose_capacity(CapacityResult& r) {
  const CapacityQuery& q = r.query;
  r.smallest.reset();
  r.gate_lanes.clear();
  for (int lanes = 1; lanes <= q.max_lanes && !r.smallest; ++lanes)
    for (int staff = 1; staff <= q.max_staff; ++staff)
      if (const auto* p = r.at(lanes, staff); p && p->meets(q.target_p95_wait_s)) {
        r.smallest = *p;
        break;
      }
  const int staff = r.smallest ? r.smallest->staff : q.max_staff;
  for (std::size_t g = 0; g < r.gates.size(); ++g) {
    std::optional<int> need;
    for (int lanes = 1; lanes <= q.max_lanes && !need; ++lanes) {
      const auto* p = r.at(lanes, staff);
      if (p && p->unfinished == 0 && g < p->gate_peak_p95_s.size() && p->gate_peak_p95_s[g] <= q.target_p95_wait_s)
        need = lanes;
    }
    r.gate_lanes.push_back(need);
  }
}

CapacityResult size_capacity(const Scenario& base, const CapacityQuery& q, const CapacityProgress& progress) {
  check_capacity_query(q);
  CapacityResult r;
  r.query = q;
  for (const auto& g : base.gates) r.gates.push_back(g.name);
  const int total = q.max_lanes * q.max_staff;
  int done = 0;
  for (int staff = 1; staff <= q.max_staff; ++staff) {
    for (int lanes = 1; lanes <= q.max_lanes; ++lanes) {
      r.curve.push_back(capacity_point(base, lanes, staff));
      ++done;
      if (progress && !progress(done, total)) throw CapacityCancelled{};
    }
  }
  choose_capacity(r);
  return r;
}

}  // namespace gatetwin::sim
