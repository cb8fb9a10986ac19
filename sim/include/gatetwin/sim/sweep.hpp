#pragma once
// Sweeps: many independent runs of scenarios with fields changed, over seeds, summarised per configuration
// with confidence intervals across seeds, and capacity sizing averaged over seeds (docs/sweeps.md).
//
// A sweep file names base scenarios, named variants (e.g. four policies: sets of overrides), a grid of
// fields to vary (lists and ranges, any scenario field by its --set path; `gates[*].` means every gate),
// seeds, an objective with constraints, and optionally a capacity query. It expands into jobs in a fixed
// order; each job is a pure function of (scenario file, overrides, seed) -> one result row, so a job gives
// the same row in any process on any machine, and the summary (computed from the rows in job order) is
// the same whatever ran the jobs and in whatever order they finished. Executors live in the app (local
// thread pool, MPI, Slurm shards); this is the part they share.
//
// Results are journalled: one JSON line per finished job, appended and fsynced as it finishes, so a sweep
// killed half-way resumes from its journal(s) without redoing finished jobs.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gatetwin/sim/capacity.hpp"

namespace gatetwin::sim {

// A sweep file's problems, each "file:line:column: field: message", all at once.
class SweepError : public std::runtime_error {
 public:
  explicit SweepError(const std::vector<std::string>& problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

struct SweepVariant {
  std::string name;
  std::vector<std::string> sets;  // "path=value" overrides, in file order
};

struct SweepAxis {
  std::string path;                 // a --set path; "gates[*]." expands to every gate of the base scenario
  std::vector<std::string> values;  // YAML scalars as written (numbers of a range printed shortest)
};

struct SweepConstraint {
  std::string metric;
  bool at_most = true;  // metric <= limit (else >=)
  double limit = 0;
  std::string text() const;  // "peak_p95_wait_s <= 60"
};

struct SweepSpec {
  std::filesystem::path file;
  std::string name;
  std::vector<std::filesystem::path> scenarios;  // resolved against the sweep file's directory
  std::vector<std::string> sets;                 // overrides applied to every job first
  std::vector<SweepVariant> variants;            // at least one ("base" when the file names none)
  std::vector<SweepAxis> axes;                   // the grid: their cartesian product, first axis slowest
  std::vector<std::uint64_t> seeds;
  std::string objective = "peak_p95_wait_s";     // a metric name (sweep_metric_names)
  bool minimise = true;
  bool objective_given = false;                  // the file names one (else: minimise peak_p95_wait_s)
  std::vector<SweepConstraint> constraints;
  std::optional<CapacityQuery> capacity;         // capacity mode: every configuration over the lanes x staff grid
  bool capacity_upper = false;                   // capacity.meet: ci95_upper (the interval's top must meet the target)
};

// Reads and checks a sweep file; SweepError with every problem. Scenario files must exist (they are loaded
// when jobs run: a job whose overrides the loader refuses fails and is reported, the sweep goes on).
SweepSpec load_sweep_file(const std::filesystem::path& file);
SweepSpec load_sweep_text(const std::string& yaml, const std::filesystem::path& display_name);

// The metrics of a result row, in column order, with what they mean (docs/sweeps.md).
const std::vector<std::string>& sweep_metric_names();

struct SweepJob {
  std::size_t index = 0;
  std::size_t scenario = 0, variant = 0, point = 0;  // point: index into the grid (cartesian product)
  std::uint64_t seed = 0;
  int lanes = 0, staff = 0;                          // capacity mode only (0 otherwise)
  std::vector<std::string> overrides;                // everything passed to the loader, seed last
  std::string key;                                   // 16 hex digits identifying the job's definition
};

struct SweepPlan {
  SweepSpec spec;
  std::vector<std::vector<std::string>> points;  // per grid point: the axis values, in axis order
  std::vector<std::vector<std::string>> gates;   // per scenario: gate names (from loading it once)
  std::vector<std::vector<std::string>> compounds;  // per scenario: each gate's compound ("" = the one compound)
  std::vector<SweepJob> jobs;                    // scenario, variant, point, [staff, lanes,] seed order
  std::string key;                               // identifies the whole plan (all job keys)
};

// Loads each base scenario once (SweepError naming the scenario's load errors) to expand `gates[*]`
// and list the gates, and expands the jobs.
SweepPlan plan_sweep(const SweepSpec& spec);

struct SweepRow {
  std::size_t job = 0;
  std::string key;
  bool ok = false;
  int attempts = 0;
  std::string error;                                   // the last attempt's, when !ok
  std::vector<double> metrics;                         // sweep_metric_names() order, when ok
  std::vector<double> gate_peak_p95_s;                 // per gate of the scenario, when ok
};

// Runs one job (loading its scenario with its overrides): a row with ok, or with the error (a load error
// names file:line:column or --set). Never throws for a job's own problems.
SweepRow run_sweep_job(const SweepPlan& plan, std::size_t job, int attempt);

// One journal line (JSON) and back. parse_sweep_row returns nullopt for a line cut short by a crash.
std::string sweep_row_json(const SweepRow& row);
std::optional<SweepRow> parse_sweep_row(const std::string& line);

// Reads every journal in `dir` (jobs*.jsonl): the finished rows by job index. A row whose key is not the
// plan's job at that index means the directory holds another sweep's results: SweepError saying so. A
// torn last line is ignored (and counted in `torn`).
std::map<std::size_t, SweepRow> read_sweep_journals(const std::filesystem::path& dir, const SweepPlan& plan,
                                                    std::size_t* torn = nullptr);

// Appends rows to a journal file: one write and fsync per row, so a row is either whole or torn.
class SweepJournal {
 public:
  explicit SweepJournal(const std::filesystem::path& file);  // created 0644 if absent; torn tail cut
  ~SweepJournal();
  SweepJournal(const SweepJournal&) = delete;
  SweepJournal& operator=(const SweepJournal&) = delete;
  void append(const SweepRow& row);

 private:
  std::filesystem::path file_;
  int fd_ = -1;
};

// The outputs once every job has a row: results.csv (one row per job, in job order), summary.json and
// summary.csv (per configuration: each metric's mean, standard deviation and 95% confidence interval
// across seeds, the objective and the constraints; the best feasible configuration per scenario and
// variant; failed jobs; in capacity mode the seed-averaged curve and answer per scenario, variant and grid
// point), and capacity.png in capacity mode. Each file is written to a temporary name and renamed.
// Returns the number of failed jobs.
std::size_t write_sweep_outputs(const SweepPlan& plan, const std::map<std::size_t, SweepRow>& rows,
                                const std::filesystem::path& dir);

// Student's t quantile for a two-sided 95% interval with `dof` degrees of freedom (dof >= 1).
double t95(std::size_t dof);

}  // namespace gatetwin::sim
