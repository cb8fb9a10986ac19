// The sweep library (sim/sweep.hpp): the file's checks, the expansion into jobs, a job as a pure function of
// its definition, the journal (torn lines, another sweep's rows), the statistics of the summary, and capacity
// sizing shared with size_capacity.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "gatetwin/sim/capacity.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/sweep.hpp"

namespace gs = gatetwin::sim;
namespace fs = std::filesystem;

namespace {

const fs::path kRepo = GATETWIN_SOURCE_DIR;

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("gatetwin-sweep-test-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A sweep file beside the repository's scenarios (paths in it are relative to the file).
gs::SweepSpec spec(const std::string& yaml) { return gs::load_sweep_text(yaml, kRepo / "scenarios" / "test-sweep.yaml"); }

std::vector<std::string> problems(const std::string& yaml) {
  try {
    spec(yaml);
  } catch (const gs::SweepError& e) {
    return e.problems();
  }
  return {};
}

TEST(SweepFile, ExpandsScenariosVariantsGridAndSeedsInOrder) {
  const gs::SweepSpec s = spec(R"(
scenarios: [jiaochangkou.yaml]
variants:
  - {name: a}
  - {name: b, set: {policy.mask: require}}
vary:
  policy.fever_threshold: {from: 37.0, to: 37.4, step: 0.2}
  gates[*].lanes: [1, 2]
seeds: {first: 5, count: 2}
)");
  EXPECT_EQ(s.name, "test-sweep");
  ASSERT_EQ(s.axes.size(), 2u);
  EXPECT_EQ(s.axes[0].values, (std::vector<std::string>{"37", "37.2", "37.4"}));  // no 37.400000000000006
  EXPECT_EQ(s.seeds, (std::vector<std::uint64_t>{5, 6}));
  // A range through zero gives 0, not -0.3 + 3 x 0.1 = 5.6e-17.
  EXPECT_EQ(spec("scenarios: [jiaochangkou.yaml]\nvary: {policy.compensation: {from: -0.3, to: 0.3, step: 0.1}}\n").axes[0].values,
            (std::vector<std::string>{"-0.3", "-0.2", "-0.1", "0", "0.1", "0.2", "0.3"}));
  EXPECT_EQ(spec("scenarios: [jiaochangkou.yaml]\nseeds: {first: 18446744073709551614, count: 2}\n").seeds,
            (std::vector<std::uint64_t>{18446744073709551614ull, 18446744073709551615ull}));
  const gs::SweepPlan p = gs::plan_sweep(s);
  EXPECT_EQ(p.points.size(), 6u);
  ASSERT_EQ(p.jobs.size(), 2u * 6u * 2u);
  EXPECT_EQ(p.gates[0], std::vector<std::string>{"main"});
  // Seeds innermost, then the grid (first axis slowest), then variants.
  const auto& j3 = p.jobs[3];
  EXPECT_EQ(j3.variant, 0u);
  EXPECT_EQ(j3.point, 1u);
  EXPECT_EQ(j3.seed, 6u);
  EXPECT_EQ(j3.overrides, (std::vector<std::string>{"policy.fever_threshold=37", "gates[0].lanes=2", "seed=6"}));
  EXPECT_EQ(p.jobs[12].overrides.front(), "policy.mask=require");
  // Every job has its own key, and the same file plans the same keys.
  std::set<std::string> keys;
  for (const auto& j : p.jobs) keys.insert(j.key);
  EXPECT_EQ(keys.size(), p.jobs.size());
  EXPECT_EQ(gs::plan_sweep(s).key, p.key);
}

TEST(SweepFile, EveryProblemIsNamedWithItsPlace) {
  const auto p = problems(R"(scenarios: [nowhere.yaml]
vary: {policy.fever_threshold: {from: 1, to: 2, step: 0}, seed: [1]}
seeds: {first: -1, count: 0}
objective: {minimise: speed}
constraints: [frr <> 0.1]
capacity: {max_staff: 65}
variants: [{name: x}, {name: x}]
)");
  const std::string f = (kRepo / "scenarios" / "test-sweep.yaml").string();
  const std::vector<std::string> want = {f + ":1:13: scenarios[0]: no such file",
                                         f + ":2:", f + ":2:", f + ":3:", f + ":3:", f + ":4:", f + ":5:", f + ":6:", f + ":7:"};
  ASSERT_EQ(p.size(), want.size()) << ::testing::PrintToString(p);
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_EQ(p[i].rfind(want[i], 0), 0u) << p[i];
  EXPECT_NE(p[1].find("vary.policy.fever_threshold.step: must be a number above 0"), std::string::npos) << p[1];
  EXPECT_NE(p[2].find("vary.seed: seeds are given by `seeds:`"), std::string::npos) << p[2];
  EXPECT_NE(p[8].find("variants[1].name: 'x' is used twice"), std::string::npos) << p[8];
  EXPECT_EQ(problems("scenarios: [jiaochangkou.yaml]\nseeds: [1, 2]\n"), std::vector<std::string>{});
  EXPECT_NE(problems("name: ../up\nscenarios: [jiaochangkou.yaml]\n").at(0).find("name: 1..64 letters"), std::string::npos);
  EXPECT_NE(problems("scenarios: [jiaochangkou.yaml]\nconstraints: [frr <= nan]\n").at(0).find("constraints[0]"), std::string::npos);
  EXPECT_NE(problems("scenarios: [jiaochangkou.yaml]\nseeds: {first: 18446744073709551615, count: 2}\n").at(0).find("passes the largest"),
            std::string::npos);
  EXPECT_NE(problems("[1, 2]").at(0).find("a sweep file is a mapping"), std::string::npos);
  EXPECT_NE(problems("scenarios: [a\n").at(0).find("(syntax)"), std::string::npos);
}

TEST(SweepFile, AScenarioThatDoesNotLoadStopsThePlan) {
  const gs::SweepSpec s = spec("scenarios: [jiaochangkou.yaml]\nset: [\"gates[0].lanes=0\"]\n");
  try {
    gs::plan_sweep(s);
    FAIL() << "planned";
  } catch (const gs::SweepError& e) {
    EXPECT_NE(e.problems().at(0).find("gates[0].lanes"), std::string::npos) << e.what();
  }
}

TEST(SweepJob, IsAPureFunctionOfItsDefinitionAndReportsLoadErrors) {
  const gs::SweepPlan p = gs::plan_sweep(spec(R"(
scenarios: [jiaochangkou.yaml]
variants: [{name: ok}, {name: broken, set: {policy.threshold_masked: 7}}]
seeds: [3]
)"));
  const gs::SweepRow a = gs::run_sweep_job(p, 0, 1), b = gs::run_sweep_job(p, 0, 2);
  ASSERT_TRUE(a.ok) << a.error;
  EXPECT_EQ(a.metrics, b.metrics);
  EXPECT_EQ(a.metrics.size(), gs::sweep_metric_names().size());
  EXPECT_EQ(b.attempts, 2);
  ASSERT_EQ(a.gate_peak_p95_s.size(), 1u);
  // Its figures are the ones a plain run of the same scenario and seed gives.
  const auto loaded = gs::load_scenario_file((kRepo / "scenarios" / "jiaochangkou.yaml").string(), {"seed=3"});
  const gs::CapacityPoint c = gs::capacity_point(*loaded.scenario, loaded.scenario->gates[0].lanes, loaded.scenario->gates[0].staff);
  EXPECT_DOUBLE_EQ(a.gate_peak_p95_s[0], c.gate_peak_p95_s[0]);
  const gs::SweepRow bad = gs::run_sweep_job(p, 1, 1);
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.error.find("--set: policy.threshold_masked"), std::string::npos) << bad.error;
  // A row survives the journal's JSON exactly.
  const auto back = gs::parse_sweep_row(gs::sweep_row_json(a));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->metrics, a.metrics);
  EXPECT_EQ(back->key, a.key);
  EXPECT_FALSE(gs::parse_sweep_row(gs::sweep_row_json(a).substr(0, 40)));
}

TEST(SweepJournal, ATornLastLineIsDroppedAndAnotherSweepsRowIsRefused) {
  const gs::SweepPlan p = gs::plan_sweep(spec("scenarios: [jiaochangkou.yaml]\nseeds: [1, 2, 3]\n"));
  const fs::path dir = temp_dir("journal");
  gs::SweepRow r;
  r.job = 1;
  r.key = p.jobs[1].key;
  r.ok = false;
  r.attempts = 2;
  r.error = "x";
  {
    gs::SweepJournal j(dir / "jobs.jsonl");
    j.append(r);
  }
  {
    std::ofstream(dir / "jobs.jsonl", std::ios::app) << "{\"job\": 2, \"ke";  // cut by a crash
  }
  std::size_t torn = 0;
  auto rows = gs::read_sweep_journals(dir, p, &torn);
  EXPECT_EQ(rows.size(), 1u);
  EXPECT_EQ(torn, 1u);
  {
    gs::SweepJournal j(dir / "jobs.jsonl");  // cuts the torn tail, so the next row is whole
    r.job = 2;
    r.key = p.jobs[2].key;
    j.append(r);
  }
  rows = gs::read_sweep_journals(dir, p, &torn);
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(torn, 0u);
  // A whole row whose newline was not written yet is kept, and the next row starts on its own line.
  {
    r.job = 0;
    r.key = p.jobs[0].key;
    std::ofstream(dir / "jobs.jsonl", std::ios::app) << gs::sweep_row_json(r);
  }
  rows = gs::read_sweep_journals(dir, p, &torn);
  EXPECT_EQ(rows.size(), 3u);
  {
    gs::SweepJournal j(dir / "jobs.jsonl");
    j.append(rows.at(1));
  }
  rows = gs::read_sweep_journals(dir, p, &torn);
  EXPECT_EQ(rows.size(), 3u);
  EXPECT_EQ(torn, 0u);
  const gs::SweepPlan other = gs::plan_sweep(spec("scenarios: [jiaochangkou.yaml]\nseeds: [7, 8, 9]\n"));
  EXPECT_THROW(gs::read_sweep_journals(dir, other), gs::SweepError);
  fs::remove_all(dir);
}

TEST(SweepSummary, MeansAndIntervalsAcrossSeeds) {
  EXPECT_DOUBLE_EQ(gs::t95(1), 12.706);
  EXPECT_DOUBLE_EQ(gs::t95(4), 2.776);
  EXPECT_NEAR(gs::t95(30), 2.042, 5e-4);   // the table's end and the expansion agree
  EXPECT_NEAR(gs::t95(31), 2.0395, 5e-4);
  EXPECT_NEAR(gs::t95(60), 2.0003, 5e-4);
  EXPECT_NEAR(gs::t95(120), 1.9799, 5e-4);
  EXPECT_NEAR(gs::t95(1000), 1.9623, 5e-4);
  const gs::SweepPlan p = gs::plan_sweep(spec("scenarios: [jiaochangkou.yaml]\nseeds: [1, 2, 3, 4, 5]\n"));
  std::map<std::size_t, gs::SweepRow> rows;
  const auto& names = gs::sweep_metric_names();
  const std::size_t wait = static_cast<std::size_t>(std::find(names.begin(), names.end(), "wait_p95_s") - names.begin());
  for (std::size_t i = 0; i < 5; ++i) {
    gs::SweepRow r;
    r.job = i;
    r.key = p.jobs[i].key;
    r.ok = true;
    r.attempts = 1;
    r.metrics.assign(names.size(), 0.0);
    r.metrics[wait] = static_cast<double>(i + 1);  // 1..5: mean 3, sd sqrt(2.5)
    r.gate_peak_p95_s = {static_cast<double>(i)};
    rows[i] = r;
  }
  const fs::path dir = temp_dir("summary");
  EXPECT_EQ(gs::write_sweep_outputs(p, rows, dir), 0u);
  std::ifstream in(dir / "summary.json");
  const auto s = nlohmann::json::parse(in);
  const auto& w = s["configurations"][0]["metrics"]["wait_p95_s"];
  EXPECT_DOUBLE_EQ(w["mean"].get<double>(), 3.0);
  EXPECT_NEAR(w["sd"].get<double>(), std::sqrt(2.5), 1e-12);
  EXPECT_NEAR(w["ci95"][1].get<double>() - 3.0, 2.776 * std::sqrt(2.5) / std::sqrt(5.0), 1e-12);
  EXPECT_EQ(s["jobs"]["total"], 5);
  EXPECT_FALSE(fs::exists(dir / "capacity.png"));
  fs::remove_all(dir);
}

TEST(SweepCapacity, SizeCapacityIsMadeOfTheSamePieces) {
  const auto loaded = gs::load_scenario_file((kRepo / "scenarios" / "jiaochangkou.yaml").string());
  ASSERT_TRUE(loaded.ok());
  const gs::CapacityQuery q{.target_p95_wait_s = 3, .max_lanes = 3, .max_staff = 1};
  const gs::CapacityResult whole = gs::size_capacity(*loaded.scenario, q);
  gs::CapacityResult parts;
  parts.query = q;
  parts.gates = whole.gates;
  for (int lanes = 1; lanes <= 3; ++lanes) parts.curve.push_back(gs::capacity_point(*loaded.scenario, lanes, 1));
  gs::choose_capacity(parts);
  ASSERT_TRUE(whole.smallest);
  ASSERT_TRUE(parts.smallest);
  EXPECT_EQ(parts.smallest->lanes, whole.smallest->lanes);
  EXPECT_EQ(parts.curve[1].peak_p95_wait_s, whole.curve[1].peak_p95_wait_s);
  EXPECT_EQ(parts.gate_lanes, whole.gate_lanes);
}

}  // namespace
