#include "pixel_commands.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "gatetwin/sim/calibration.hpp"
#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/pixel_sensor.hpp"
#include "gatetwin/sim/report.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/world.hpp"

namespace gatetwin::app {
namespace gs = gatetwin::sim;

namespace {

struct CalibrateOptions {
  std::string scenario;
  std::string out;
  std::vector<std::string> sets;
  std::optional<std::uint64_t> seed;
  bool check = false;
  bool quiet = false;
};

// Newcombe's hybrid score interval (method 10) for the difference of two proportions, from Wilson intervals.
struct Interval {
  double lo, hi;
};
Interval wilson(double hits, double n, double z = 1.959964) {
  if (n <= 0) return {0.0, 1.0};
  const double p = hits / n, z2 = z * z;
  const double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}
Interval difference(const gs::Rate& a, const gs::Rate& b) {
  const double p1 = a.value(), p2 = b.value();
  const Interval w1 = wilson(static_cast<double>(a.hits), static_cast<double>(a.trials));
  const Interval w2 = wilson(static_cast<double>(b.hits), static_cast<double>(b.trials));
  const double d = p1 - p2;
  return {d - std::sqrt((p1 - w1.lo) * (p1 - w1.lo) + (w2.hi - p2) * (w2.hi - p2)),
          d + std::sqrt((w1.hi - p1) * (w1.hi - p1) + (p2 - w2.lo) * (p2 - w2.lo))};
}

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100.0 * v);
  return b;
}

bool print_errors(const gs::LoadResult& r) {
  for (const auto& e : r.errors) std::cerr << e.str() << "\n";
  if (!r.errors.empty()) std::cerr << r.errors.size() << " error(s); nothing was run\n";
  return r.errors.empty();
}

int calibrate(const CalibrateOptions& o) {
  std::vector<std::string> overrides = o.sets;
  if (o.seed) overrides.push_back("seed=" + std::to_string(*o.seed));
  overrides.push_back("fidelity=pixel");
  const auto loaded = gs::load_scenario_file(o.scenario, overrides);
  if (!print_errors(loaded)) return 2;
  const gs::Scenario& s = *loaded.scenario;
  const std::string out = o.out.empty() ? std::filesystem::path(o.scenario).stem().string() + "-calibration.yaml" : o.out;

  if (!o.quiet) std::cerr << "calibrate: rendering every face attempt of \"" << s.name << "\" (seed " << s.seed << ") and running the real core...\n";
  gs::RunOutput pixel_run;
  try {
    pixel_run = gs::run_world(s, [&](gs::SimTime now, gs::SimTime) {
      if (!o.quiet) std::cerr << "  ... " << gs::format_clock(now).substr(0, 5) << " simulated\n";
    });
  } catch (const gs::PixelSetupError& e) {
    std::cerr << "gatetwin: " << e.what() << "\n";
    return 2;
  }
  const gs::Metrics pm = gs::compute_metrics(s, pixel_run);
  const gs::Calibration cal = gs::fit_calibration(s, pixel_run);
  try {
    gs::write_file_atomic(out, gs::calibration_yaml(s, cal));
  } catch (const std::exception& e) {
    std::cerr << "gatetwin: " << e.what() << "\n";
    return 3;
  }
  const auto& f = cal.face;
  std::printf("pixel run: %zu passages, %llu face attempts (%llu frames analysed), %llu enrolled, %llu failed to enrol\n",
              pixel_run.passages.size(), static_cast<unsigned long long>(pixel_run.pixel.attempts),
              static_cast<unsigned long long>(pixel_run.pixel.frames_analysed), static_cast<unsigned long long>(pixel_run.pixel.enrolled),
              static_cast<unsigned long long>(pixel_run.pixel.failed_to_enrol));
  std::printf("fitted: genuine unmasked %.3f±%.3f, masked %.3f±%.3f, below nose %.3f±%.3f\n", f.genuine_unmasked.mean,
              f.genuine_unmasked.sd, f.genuine_masked.mean, f.genuine_masked.sd, f.genuine_below_nose.mean, f.genuine_below_nose.sd);
  std::printf("        impostor unmasked %.3f±%.3f, masked %.3f±%.3f (per comparison); look-alike %.3f±%.3f\n", f.impostor.mean,
              f.impostor.sd, f.impostor_masked.mean, f.impostor_masked.sd, f.lookalike.mean, f.lookalike.sd);
  std::printf("        FTA unmasked %s, masked %s; mask classifier accuracy %s\n", pct(f.fta_unmasked).c_str(), pct(f.fta_masked).c_str(),
              pct(f.mask_classifier_accuracy).c_str());
  for (const auto& n : cal.notes) std::printf("not measured: %s\n", n.c_str());
  std::printf("written: %s\n", out.c_str());
  if (!o.check) return 0;

  // The same scenario and seed in statistical mode with the new calibration: the same arrivals (common
  // random numbers), sensor outcomes from the fitted distributions.
  std::vector<std::string> stat_overrides = o.sets;
  if (o.seed) stat_overrides.push_back("seed=" + std::to_string(*o.seed));
  stat_overrides.push_back("fidelity=statistical");
  stat_overrides.push_back("face.calibration=" + out);
  const auto stat_loaded = gs::load_scenario_file(o.scenario, stat_overrides);
  if (!print_errors(stat_loaded)) return 2;
  const gs::RunOutput stat_run = gs::run_world(*stat_loaded.scenario);
  const gs::Metrics sm = gs::compute_metrics(*stat_loaded.scenario, stat_run);
  std::printf("\nagreement (pixel vs statistical with this calibration; 95%% interval of the difference, Newcombe):\n");
  std::printf("  %-4s %22s %22s %22s  %s\n", "", "pixel", "statistical", "difference", "");
  bool all = true;
  auto row = [&](const char* name, const gs::Rate& p, const gs::Rate& q) {
    const Interval d = difference(p, q);
    const bool ok = d.lo <= 0.0 && d.hi >= 0.0;
    all = all && ok;
    char a[64], b[64], c[64];
    std::snprintf(a, sizeof a, "%s (%llu/%llu)", pct(p.value()).c_str(), static_cast<unsigned long long>(p.hits),
                  static_cast<unsigned long long>(p.trials));
    std::snprintf(b, sizeof b, "%s (%llu/%llu)", pct(q.value()).c_str(), static_cast<unsigned long long>(q.hits),
                  static_cast<unsigned long long>(q.trials));
    std::snprintf(c, sizeof c, "[%+.2f%%, %+.2f%%]", 100 * d.lo, 100 * d.hi);
    std::printf("  %-4s %22s %22s %22s  %s\n", name, a, b, c, ok ? "agree" : "DISAGREE");
  };
  row("FAR", pm.far, sm.far);
  row("FRR", pm.frr, sm.frr);
  row("FTA", pm.fta, sm.fta);
  return all ? 0 : 1;
}

}  // namespace

void add_pixel_commands(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<CalibrateOptions>();
  auto* c = app.add_subcommand("calibrate",
                               "run a scenario in pixel fidelity (rendered faces, the real core) and write the statistical mode's face "
                               "calibration file; --check compares the two modes' FAR, FRR and FTA");
  c->add_option("scenario", o->scenario, "scenario file (YAML); run with fidelity: pixel whatever it says")->required();
  c->add_option("-o,--out", o->out, "calibration file to write (default: <scenario>-calibration.yaml)");
  c->add_option("--set", o->sets, "override a scenario field, path=value (repeatable)");
  c->add_option("--seed", o->seed, "override the scenario's seed");
  c->add_flag("--check", o->check, "then run the statistical mode with the calibration and test agreement (exit 1 if not)");
  c->add_flag("-q,--quiet", o->quiet, "no progress on stderr");
  c->callback([o, exit_code] { *exit_code = calibrate(*o); });
}

}  // namespace gatetwin::app
