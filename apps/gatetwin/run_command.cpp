#include "run_command.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/pixel_sensor.hpp"
#include "gatetwin/sim/report.hpp"
#include "gatetwin/sim/world.hpp"

namespace gatetwin::app {
namespace gs = gatetwin::sim;

bool print_load_errors(const gs::LoadResult& r) {
  for (const auto& e : r.errors) std::cerr << e.str() << "\n";
  if (!r.errors.empty()) std::cerr << r.errors.size() << " error(s); nothing was run\n";
  return r.errors.empty();
}

int run_scenario(const gs::Scenario& s, const RunOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  // Progress on stderr for runs longer than a few seconds.
  const gs::ProgressFn progress = [&](gs::SimTime now, gs::SimTime end) {
    const auto wall = std::chrono::steady_clock::now();
    if (o.quiet || wall - t0 < std::chrono::seconds(2) || wall - last < std::chrono::seconds(1)) return;
    last = wall;
    const double frac = std::min(1.0, gs::to_seconds(now - s.day_start) / gs::to_seconds(end - s.day_start));
    std::fprintf(stderr, "  ... %s simulated (%.0f%% of the day)\n", gs::format_clock(now).substr(0, 5).c_str(), 100.0 * frac);
  };
  gs::RunOutput out;
  // HIL keeps gatectl's files and the device I/O beside the run directory until it moves in as hil/.
  const std::filesystem::path hil_work = std::filesystem::absolute(o.out_dir).lexically_normal().string() + ".hil-work";
  try {
    out = gs::run_world(s, progress, s.fidelity == "hil" ? hil_work : std::filesystem::path{});
  } catch (const gs::PixelSetupError& e) {  // models missing or altered: bad input, nothing written
    std::cerr << "gatetwin: " << e.what() << "\n";
    return 2;
  } catch (const gs::HilSetupError& e) {
    std::cerr << "gatetwin: fidelity hil could not start: " << e.what() << "\n(files kept in " << hil_work.string() << ")\n";
    return 3;
  } catch (const gs::PacingError& e) {
    std::cerr << "gatetwin: hil.strict: " << e.what() << "; the run is void (files kept in " << hil_work.string() << ")\n";
    return 1;
  }
  gs::Metrics m = gs::compute_metrics(s, out);
  gs::add_queue_effect(s, m);  // the compliance counterfactual (statistical, same seed)
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  try {
    gs::write_run_directory(o.out_dir, s, m, out, wall);
    if (!o.junit.empty()) gs::write_file_atomic(o.junit, gs::junit_xml(s, m, wall));
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 3;
  }
  if (!o.quiet) {
    std::cout << gs::summary_text(s, m, out);
    std::printf("  %llu events in %.3f s wall; reports in %s/\n", static_cast<unsigned long long>(out.events), wall, o.out_dir.c_str());
  }
  if (!m.expectations_met()) {
    std::cerr << "expectations failed:";
    for (const auto& e : m.expectations)
      if (!e.passed) std::cerr << " " << e.name;
    std::cerr << "\n";
    return 1;
  }
  return 0;
}

}  // namespace gatetwin::app
