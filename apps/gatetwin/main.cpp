// gatetwin: the headless front end over gatetwin::sim (run, validate, compare, schema).
// Exit codes: 0 ok; 1 an expectation failed; 2 bad input (scenario, arguments); 3 internal or I/O error.
#include "face_commands.hpp"
#include "pixel_commands.hpp"
#include "scene_commands.hpp"
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "gatetwin/sim/compare.hpp"
#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/pixel_sensor.hpp"
#include "device_commands.hpp"
#include "replay_commands.hpp"
#include "run_command.hpp"
#include "sweep_command.hpp"
#include "gatetwin/sim/report.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/world.hpp"

namespace gs = gatetwin::sim;

namespace {

int cmd_run(const std::string& file, std::string out_dir, const std::vector<std::string>& sets, std::optional<std::uint64_t> seed,
            const std::string& junit_path, bool quiet) {
  std::vector<std::string> overrides = sets;
  if (seed) overrides.push_back("seed=" + std::to_string(*seed));
  const auto loaded = gs::load_scenario_file(file, overrides);
  if (!gatetwin::app::print_load_errors(loaded)) return 2;
  const gs::Scenario& s = *loaded.scenario;
  if (out_dir.empty()) {
    out_dir = "runs/" + std::filesystem::path(file).stem().string() + "-seed" + std::to_string(s.seed);
  }
  return gatetwin::app::run_scenario(s, {out_dir, junit_path, quiet});
}

int cmd_validate(const std::vector<std::string>& files, const std::vector<std::string>& sets) {
  int rc = 0;
  for (const auto& f : files) {
    const auto r = gs::load_scenario_file(f, sets);
    if (gatetwin::app::print_load_errors(r)) {
      std::cout << f << ": ok (" << r.scenario->name << ", " << r.scenario->gates.size() << " gate(s))\n";
    } else {
      rc = 2;
    }
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GateTwin: a digital twin of face-recognition and temperature gates at residential compounds"};
  app.require_subcommand(1);

  std::string scenario, out_dir, junit;
  std::vector<std::string> sets;
  std::optional<std::uint64_t> seed;
  bool quiet = false;
  auto* run = app.add_subcommand("run", "simulate a scenario and write its reports");
  run->add_option("scenario", scenario, "scenario file (YAML)")->required();
  run->add_option("-o,--out", out_dir, "run directory (default runs/<scenario>-seed<seed>)");
  run->add_option("--seed", seed, "override the scenario's seed");
  run->add_option("--set", sets, "override a field: path=value, e.g. policy.fever_threshold=37.5 or gates[0].lanes=3");
  run->add_option("--junit", junit, "also write the JUnit XML to this path");
  run->add_flag("-q,--quiet", quiet, "print nothing but errors");

  std::vector<std::string> files;
  auto* validate = app.add_subcommand("validate", "check scenario files; lists every error with file:line:column");
  validate->add_option("files", files, "scenario files")->required();
  validate->add_option("--set", sets, "apply overrides before validating");

  auto* schema = app.add_subcommand("schema", "print the scenario schema as Markdown tables (every key with unit, default, range)");

  std::string run_a, run_b;
  std::size_t max_listed = 20;
  auto* compare = app.add_subcommand("compare", "compare two runs of the same scenario and seed passage by passage");
  compare->add_option("run_a", run_a, "first run directory (or its events.jsonl)")->required();
  compare->add_option("run_b", run_b, "second run directory (or its events.jsonl)")->required();
  compare->add_option("-n,--list", max_listed, "list at most this many changed passages (default 20)");

  gatetwin::app::SweepOptions sw;
  std::vector<std::size_t> fail_once;
  auto* sweep = app.add_subcommand("sweep", "run a sweep file's jobs (scenarios x variants x grid x seeds) locally, "
                                            "under mpirun (--mpi) or as Slurm array tasks; resumable (docs/sweeps.md)");
  sweep->add_option("spec", sw.spec, "sweep file (YAML)")->required();
  sweep->add_option("-o,--out", sw.out_dir, "results directory (default runs/sweep-<name>); a directory with a "
                                            "journal resumes");
  sweep->add_option("-j,--jobs", sw.jobs, "local workers (default: one per core)")->check(CLI::Range(1u, 1024u));
  sweep->add_flag("--mpi", sw.mpi, "share the jobs among the MPI ranks (mpirun -n K gatetwin sweep ... --mpi)");
  sweep->add_option("--shard", sw.shard, "run only the jobs whose index % N == I (I/N; Slurm array tasks)");
  sweep->add_option("--slurm-script", sw.slurm_script, "write a Slurm job-array script for the sweep instead of running it");
  sweep->add_option("--array", sw.slurm_tasks, "tasks in the Slurm array (default 4)")->check(CLI::Range(1u, 100000u));
  sweep->add_flag("--dry-run", sw.dry_run, "print the jobs and their overrides, run nothing");
  sweep->add_flag("-q,--quiet", sw.quiet, "print nothing but errors");
  sweep->add_flag("-v,--verbose", sw.verbose, "a line per finished job (after it is journalled)");
  sweep->add_option("--fail-once", fail_once, "testing aid: the first attempt of these jobs fails (the retry runs them)");

  int face_exit = -1;
  gatetwin::app::add_face_commands(app, &face_exit);
  gatetwin::app::add_scene_commands(app, &face_exit);
  gatetwin::app::add_pixel_commands(app, &face_exit);
  gatetwin::app::add_device_commands(app, &face_exit);
  gatetwin::app::add_replay_commands(app, &face_exit);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (face_exit >= 0) return face_exit;  // a vision command (faces, eval, scene, calibrate, ...) ran in its callback
  try {
    if (*run) return cmd_run(scenario, out_dir, sets, seed, junit, quiet);
    if (*sweep) {
      sw.fail_once.insert(fail_once.begin(), fail_once.end());
      return gatetwin::app::run_sweep(sw);
    }
    if (*validate) return cmd_validate(files, sets);
    if (*compare) {
      auto events = [](const std::string& p) {
        return std::filesystem::is_directory(p) ? (std::filesystem::path(p) / "events.jsonl").string() : p;
      };
      try {
        const auto c = gs::compare_event_logs(events(run_a), events(run_b));
        std::cout << gs::comparison_text(c, max_listed);
        return c.same_arrivals() ? 0 : 2;
      } catch (const std::runtime_error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
      }
    }
    if (*schema) {
      std::cout << gs::schema_markdown();
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
