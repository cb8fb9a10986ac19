#include "replay_commands.hpp"

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "gatetwin/sim/compare.hpp"
#include "gatetwin/sim/report.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "run_command.hpp"

namespace gatetwin::app {
namespace gs = gatetwin::sim;
namespace fs = std::filesystem;

namespace {

struct ReplayOptions {
  std::string run_dir, out, policy, gatectl;
  std::vector<std::string> sets;
  std::size_t max_listed = 20;
  bool fail_on_change = false;
  bool quiet = false;
};

class BadInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One key of a gatectl policy file as a scenario override, and where it was written.
struct PolicyOverride {
  std::string set;    // "policy.fever_threshold=35.0"
  std::string field;  // "policy.fever_threshold"
  std::string key;    // "fever_threshold_c"
  int line = 0, column = 0;
};

// A gatectl policy file (docs/gatectl.md) as scenario overrides: the same keys under policy., with the
// scenario's names where they differ. Errors name the file, line and column.
std::vector<PolicyOverride> policy_overrides(const std::string& file) {
  static const std::map<std::string, std::string> renamed{{"fever_threshold_c", "fever_threshold"}, {"compensation_c", "compensation"}};
  static const std::map<std::string, std::string> known_keys{
      {"threshold_unmasked", ""}, {"threshold_masked", ""}, {"mask", ""}, {"fever_threshold_c", ""}, {"compensation_c", ""},
      {"temperature_mode", ""}, {"open_on_abnormal_temperature", ""}, {"remeasure_on_alarm", ""}, {"staff_secondary_check", ""},
      {"max_face_attempts", ""}, {"card_allowed", ""}, {"card_requires_face", ""}, {"visitors", ""}, {"quarantine_exit_denied", ""},
      {"health_code_check", ""}};
  static const std::map<std::string, std::string> values{
      {"before_identity", "before"}, {"after_identity", "after"}, {"staff_registration", "staff"}};
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    throw BadInput(file + ": cannot read the policy file");
  } catch (const YAML::ParserException& e) {
    throw BadInput(file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return {};
  if (!root.IsMap()) throw BadInput(file + ": a policy file is a YAML mapping of policy keys (docs/gatectl.md)");
  std::vector<PolicyOverride> out;
  std::string errors;
  for (const auto& kv : root) {
    const auto mark = kv.first.Mark();
    const std::string where = file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
    const std::string key = kv.first.Scalar();
    if (!known_keys.count(key)) {
      errors += where + key + ": unknown policy key\n";
      continue;
    }
    if (!kv.second.IsScalar()) {
      errors += where + key + ": must be a single value\n";
      continue;
    }
    const auto rn = renamed.find(key);
    const auto v = values.find(kv.second.Scalar());
    const std::string field = "policy." + (rn == renamed.end() ? key : rn->second);
    out.push_back({field + "=" + (v == values.end() ? kv.second.Scalar() : v->second), field, key, mark.line + 1, mark.column + 1});
  }
  if (!errors.empty()) throw BadInput(errors.substr(0, errors.size() - 1));
  return out;
}

int replay(const ReplayOptions& o) {
  const fs::path run = o.run_dir;
  const fs::path scenario_file = run / "scenario.yaml", events = run / "events.jsonl";
  if (!fs::is_regular_file(scenario_file) || !fs::is_regular_file(events))
    throw BadInput(o.run_dir + ": not a gatetwin run directory (it needs scenario.yaml and events.jsonl, as gatetwin run writes them)");
  (void)gs::compare_event_logs(events.string(), events.string());  // the recorded log must read before anything runs

  std::vector<std::string> overrides;
  const auto from_policy = o.policy.empty() ? std::vector<PolicyOverride>{} : policy_overrides(o.policy);
  for (const auto& p : from_policy) overrides.push_back(p.set);
  overrides.insert(overrides.end(), o.sets.begin(), o.sets.end());
  if (!o.gatectl.empty()) overrides.push_back("hil.gatectl=" + fs::absolute(o.gatectl).string());
  auto loaded = gs::load_scenario_file(scenario_file.string(), overrides);
  for (auto& e : loaded.errors) {  // a bad value from the policy file is reported at its place in that file
    for (const auto& p : from_policy)
      if (e.line == 0 && e.field == p.field) {
        e.file = o.policy;
        e.line = p.line;
        e.column = p.column;
        e.field = p.key;
      }
  }
  if (!print_load_errors(loaded)) return 2;
  const gs::Scenario& s = *loaded.scenario;

  std::string out = o.out;
  if (out.empty()) out = fs::absolute(run).lexically_normal().string() + "-replay";
  if (out.back() == '/') out.pop_back();
  if (fs::weakly_canonical(out) == fs::weakly_canonical(run)) throw BadInput(out + ": the replay cannot overwrite the run it replays");

  if (!o.quiet) std::cout << "replaying " << o.run_dir << " (" << s.name << ", seed " << s.seed << ", fidelity " << s.fidelity << ")"
                          << (overrides.empty() ? " unchanged: a control replay" : " with:") << "\n";
  if (!o.quiet)
    for (const auto& ov : overrides) std::cout << "  " << ov << "\n";
  const int rc = run_scenario(s, {out, "", o.quiet});
  if (rc == 2 || rc == 3 || !fs::is_regular_file(fs::path(out) / "events.jsonl")) return rc;

  const auto c = gs::compare_event_logs(events.string(), (fs::path(out) / "events.jsonl").string());
  nlohmann::json j = {{"replayed", fs::absolute(run).lexically_normal().string()}, {"replay", out}, {"changes_applied", overrides},
                      {"fidelity", s.fidelity}, {"seed", s.seed}, {"decisions", gs::comparison_json(c)}};
  std::ostringstream text;
  text << "decision differences: " << o.run_dir << " (A) -> " << out << " (B)\n";
  for (const auto& ov : overrides) text << "  changed: " << ov << "\n";
  text << gs::comparison_text(c, o.max_listed);
  const fs::path io_a = run / "hil" / "io.jsonl", io_b = fs::path(out) / "hil" / "io.jsonl";
  if (fs::is_regular_file(io_a) && fs::is_regular_file(io_b)) {
    const auto in = gs::compare_device_io(io_a.string(), io_b.string());
    j["inputs"] = {{"frames_a", in.frames_a}, {"frames_b", in.frames_b}, {"frames_common", in.frames_common},
                   {"cards_a", in.cards_a}, {"cards_b", in.cards_b}, {"cards_common", in.cards_common},
                   {"modbus_transactions_a", in.modbus_a}, {"modbus_transactions_b", in.modbus_b}};
    text << "device inputs: " << in.frames_common << " camera frames shown in both runs (A " << in.frames_a << ", B " << in.frames_b
         << "); card frames in both " << in.cards_common << " (A " << in.cards_a << ", B " << in.cards_b << "); Modbus transactions A "
         << in.modbus_a << ", B " << in.modbus_b << "\n";
  }
  if (s.fidelity == "hil")
    text << "note: a HIL run is paced by the wall clock; a control replay (no change) shows how many passages differ by timing alone\n";
  gs::write_file_atomic((fs::path(out) / "diff.json").string(), j.dump(2) + "\n");
  gs::write_file_atomic((fs::path(out) / "diff.txt").string(), text.str());
  if (!o.quiet) std::cout << text.str() << "(diff.txt and diff.json in " << out << "/)\n";
  if (rc != 0) return rc;
  return o.fail_on_change && !c.changes.empty() ? 1 : 0;
}

}  // namespace

void add_replay_commands(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ReplayOptions>();
  auto* cmd = app.add_subcommand("replay",
                                 "re-run a run directory's scenario and seed with a changed policy or gatectl; write which passages changed "
                                 "outcome and why (diff.txt, diff.json in the new run)");
  cmd->add_option("run_dir", o->run_dir, "a run directory written by gatetwin run (scenario.yaml, events.jsonl; hil/ for a HIL run)")
      ->required();
  cmd->add_option("--policy", o->policy, "a gatectl policy file (docs/gatectl.md) that replaces the recorded policy's keys it names");
  cmd->add_option("--set", o->sets, "override a scenario field, as gatetwin run --set");
  cmd->add_option("--gatectl", o->gatectl, "the gatectl binary to replay against (fidelity hil)");
  cmd->add_option("-o,--out", o->out, "the replay's run directory (default RUN_DIR-replay)");
  cmd->add_option("-n,--list", o->max_listed, "list at most this many changed passages (default 20)");
  cmd->add_flag("--fail-on-change", o->fail_on_change, "exit 1 when any passage changed outcome");
  cmd->add_flag("-q,--quiet", o->quiet, "print nothing but errors");
  cmd->callback([o, exit_code] {
    try {
      *exit_code = replay(*o);
    } catch (const BadInput& e) {
      std::cerr << "gatetwin replay: " << e.what() << "\n";
      *exit_code = 2;
    } catch (const std::runtime_error& e) {  // a malformed events.jsonl names its file and line
      std::cerr << "gatetwin replay: " << e.what() << "\n";
      *exit_code = 2;
    }
  });
}

}  // namespace gatetwin::app
