#include "gatetwin/sim/sweep.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/world.hpp"

namespace gatetwin::sim {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

}  // namespace

SweepError::SweepError(const std::vector<std::string>& problems)
    : std::runtime_error(join(problems, "\n")), problems_(problems) {}

std::string SweepConstraint::text() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.12g", limit);
  return metric + (at_most ? " <= " : " >= ") + buf;
}

const std::vector<std::string>& sweep_metric_names() {
  static const std::vector<std::string> names = {
      "passages",           "granted",           "denied",           "tailgated",        "unfinished",
      "wait_mean_s",        "wait_p95_s",        "wait_max_s",       "peak_p95_wait_s",  "max_queue",
      "transaction_mean_s", "transaction_p95_s", "staff_interventions", "staff_wait_p95_s", "frr",
      "far",                "fta",               "fever_sensitivity", "fever_false_alarm", "unauthorised_entries",
      "face_share",         "card_share",        "compliance_passed"};
  return names;
}

namespace {

// ---- the sweep file ------------------------------------------------------------------------------------

class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}
  void at(const YAML::Node& n, const std::string& field, const std::string& message) {
    const YAML::Mark m = n ? n.Mark() : YAML::Mark::null_mark();
    if (m.line >= 0)
      list_.push_back({m.line + 1, m.column + 1,
                       file_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + field + ": " + message});
    else
      list_.push_back({0, 0, file_ + ": " + field + ": " + message});
  }
  void add(const std::string& line) { list_.push_back({0, 0, line}); }
  // In file order, as the scenario loader reports.
  void throw_if_any() {
    if (list_.empty()) return;
    std::stable_sort(list_.begin(), list_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    std::vector<std::string> lines;
    for (const auto& p : list_) lines.push_back(p.text);
    throw SweepError(lines);
  }

 private:
  struct Problem {
    int line = 0, column = 0;
    std::string text;
  };
  std::string file_;
  std::vector<Problem> list_;
};

// A YAML value as the loader's --set takes it (YAML syntax on one line).
std::string value_text(const YAML::Node& n) {
  if (n.IsScalar()) {
    // A plain scalar goes as written; one that was quoted in the file stays quoted.
    if (n.Tag() == "!") {
      YAML::Emitter e;
      e << YAML::DoubleQuoted << n.Scalar();
      return e.c_str();
    }
    return n.Scalar();
  }
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

std::optional<double> number(const YAML::Node& n) {
  if (!n || !n.IsScalar()) return std::nullopt;
  const std::string& s = n.Scalar();
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  return buf;
}

bool valid_path(const std::string& p) {
  if (p.empty() || p.find('=') != std::string::npos || p.find(' ') != std::string::npos) return false;
  return true;
}

void check_keys(Problems& pr, const YAML::Node& map, const std::string& where, const std::set<std::string>& allowed) {
  for (const auto& kv : map) {
    const std::string k = kv.first.Scalar();
    if (!allowed.count(k)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      pr.at(kv.first, where + k, "unknown key (expected one of: " + list + ")");
    }
  }
}

// `set:` as a list of "path=value" strings or a mapping path: value.
std::vector<std::string> read_sets(Problems& pr, const YAML::Node& n, const std::string& field) {
  std::vector<std::string> out;
  if (n.IsSequence()) {
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string f = field + "[" + std::to_string(i) + "]";
      if (!n[i].IsScalar() || n[i].Scalar().find('=') == std::string::npos || n[i].Scalar().front() == '=')
        pr.at(n[i], f, "an override \"path=value\" (as gatetwin run --set)");
      else
        out.push_back(n[i].Scalar());
    }
  } else if (n.IsMap()) {
    for (const auto& kv : n) {
      const std::string path = kv.first.Scalar();
      if (!valid_path(path)) pr.at(kv.first, field + "." + path, "not a field path");
      else out.push_back(path + "=" + value_text(kv.second));
    }
  } else {
    pr.at(n, field, "a mapping {path: value} or a list of \"path=value\"");
  }
  return out;
}

}  // namespace

SweepSpec load_sweep_text(const std::string& yaml, const fs::path& display_name) {
  Problems pr(display_name.string());
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    pr.add(display_name.string() + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
           ": (syntax): " + e.msg);
    pr.throw_if_any();
  }
  if (!root.IsMap()) {
    pr.add(display_name.string() + ": (top): a sweep file is a mapping (scenarios, seeds, vary, ...)");
    pr.throw_if_any();
  }
  check_keys(pr, root, "", {"name", "scenarios", "set", "variants", "vary", "seeds", "objective", "constraints", "capacity"});
  SweepSpec s;
  s.file = display_name;
  const fs::path base = display_name.has_parent_path() ? display_name.parent_path() : fs::path(".");
  s.name = display_name.stem().string();
  // The name is a directory name and goes into scripts: letters, digits, '.', '_' and '-' only.
  auto plain_name = [](const std::string& t) {
    return !t.empty() && t.size() <= 64 && t.front() != '.' && std::all_of(t.begin(), t.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    });
  };
  if (const auto& n = root["name"]) {
    if (!n.IsScalar() || !plain_name(n.Scalar()))
      pr.at(n, "name", "1..64 letters, digits, '.', '_' or '-' (it names the results directory), not starting with '.'");
    else s.name = n.Scalar();
  } else if (!plain_name(s.name)) {
    pr.add(display_name.string() + ": name: the file's name does not make a sweep name; give name: (letters, digits, '.', '_', '-')");
  }
  if (const auto& n = root["scenarios"]; !n) {
    pr.add(display_name.string() + ": scenarios: missing (a list of scenario files)");
  } else if (!n.IsSequence() || n.size() == 0) {
    pr.at(n, "scenarios", "a non-empty list of scenario files");
  } else {
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string f = "scenarios[" + std::to_string(i) + "]";
      if (!n[i].IsScalar()) {
        pr.at(n[i], f, "a file name");
        continue;
      }
      const fs::path p = fs::path(n[i].Scalar()).is_absolute() ? fs::path(n[i].Scalar()) : base / n[i].Scalar();
      std::error_code ec;
      if (!fs::is_regular_file(p, ec)) pr.at(n[i], f, "no such file: " + p.string());
      else s.scenarios.push_back(p.lexically_normal());
    }
  }
  if (const auto& n = root["set"]) s.sets = read_sets(pr, n, "set");
  if (const auto& n = root["variants"]) {
    if (!n.IsSequence() || n.size() == 0) {
      pr.at(n, "variants", "a non-empty list of {name, set}");
    } else {
      std::set<std::string> names;
      for (std::size_t i = 0; i < n.size(); ++i) {
        const std::string f = "variants[" + std::to_string(i) + "]";
        if (!n[i].IsMap()) {
          pr.at(n[i], f, "a mapping {name, set}");
          continue;
        }
        check_keys(pr, n[i], f + ".", {"name", "set"});
        SweepVariant v;
        if (!n[i]["name"] || !n[i]["name"].IsScalar() || n[i]["name"].Scalar().empty()) {
          pr.at(n[i], f + ".name", "missing (a short name for the results)");
        } else {
          v.name = n[i]["name"].Scalar();
          if (!names.insert(v.name).second) pr.at(n[i]["name"], f + ".name", "'" + v.name + "' is used twice");
          if (v.name.find_first_of(",\"\n") != std::string::npos) pr.at(n[i]["name"], f + ".name", "no commas, quotes or newlines");
        }
        if (n[i]["set"]) v.sets = read_sets(pr, n[i]["set"], f + ".set");
        s.variants.push_back(std::move(v));
      }
    }
  }
  if (s.variants.empty()) s.variants.push_back({"base", {}});
  if (const auto& n = root["vary"]) {
    if (!n.IsMap()) {
      pr.at(n, "vary", "a mapping from field path to a list of values or a range {from, to, step}");
    } else {
      for (const auto& kv : n) {
        SweepAxis a;
        a.path = kv.first.Scalar();
        const std::string f = "vary." + a.path;
        if (!valid_path(a.path)) {
          pr.at(kv.first, f, "not a field path");
          continue;
        }
        if (a.path == "seed") {
          pr.at(kv.first, f, "seeds are given by `seeds:`");
          continue;
        }
        const YAML::Node& v = kv.second;
        if (v.IsSequence()) {
          if (v.size() == 0) pr.at(v, f, "an empty list");
          for (std::size_t i = 0; i < v.size(); ++i) a.values.push_back(value_text(v[i]));
        } else if (v.IsMap()) {
          check_keys(pr, v, f + ".", {"from", "to", "step"});
          const auto from = number(v["from"]), to = number(v["to"]), step = number(v["step"]);
          if (!from || !to) {
            pr.at(v, f, "a range needs numbers from and to (and step, default 1)");
            continue;
          }
          const double st = v["step"] ? step.value_or(0) : 1.0;
          if (!(st > 0)) {
            pr.at(v["step"] ? v["step"] : v, f + ".step", "must be a number above 0");
            continue;
          }
          if (*to < *from) {
            pr.at(v, f, "to is below from");
            continue;
          }
          const double count = std::floor((*to - *from) / st + 1e-9) + 1;
          if (count > 10000) {
            pr.at(v, f, "more than 10000 values");
            continue;
          }
          for (int i = 0; i < static_cast<int>(count); ++i) {
            double x = *from + i * st;
            if (std::fabs(x) < 1e-9 * st) x = 0;  // -0.3 + 3 x 0.1 is 5.6e-17, meant as 0
            a.values.push_back(number_text(x));
          }
        } else {
          pr.at(v, f, "a list of values or a range {from, to, step}");
        }
        s.axes.push_back(std::move(a));
      }
    }
  }
  if (const auto& n = root["seeds"]; !n) {
    s.seeds = {1};
  } else if (n.IsSequence() && n.size() > 0) {
    for (std::size_t i = 0; i < n.size(); ++i) {
      std::uint64_t v = 0;
      const std::string t = n[i].IsScalar() ? n[i].Scalar() : "";
      const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (t.empty() || ec != std::errc() || end != t.data() + t.size())
        pr.at(n[i], "seeds[" + std::to_string(i) + "]", "a whole number 0..18446744073709551615");
      else s.seeds.push_back(v);
    }
  } else if (n.IsMap()) {
    check_keys(pr, n, "seeds.", {"first", "count"});
    auto whole = [](const YAML::Node& v) -> std::optional<std::uint64_t> {
      if (!v || !v.IsScalar()) return std::nullopt;
      const std::string& t = v.Scalar();
      std::uint64_t x = 0;
      const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
      if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
      return x;
    };
    const auto first = whole(n["first"]), count = whole(n["count"]);
    if (!first) pr.at(n["first"] ? n["first"] : n, "seeds.first", "a whole number 0..18446744073709551615");
    if (!count || *count < 1 || *count > 100000) pr.at(n["count"] ? n["count"] : n, "seeds.count", "a whole number 1..100000");
    else if (first && *first > std::numeric_limits<std::uint64_t>::max() - (*count - 1))
      pr.at(n, "seeds", "first + count - 1 passes the largest seed");
    else if (first)
      for (std::uint64_t i = 0; i < *count; ++i) s.seeds.push_back(*first + i);
  } else {
    pr.at(n, "seeds", "a list of seeds or {first, count}");
  }
  {
    std::set<std::uint64_t> unique(s.seeds.begin(), s.seeds.end());
    if (unique.size() != s.seeds.size()) pr.at(root["seeds"], "seeds", "a seed is listed twice");
  }
  const auto& names = sweep_metric_names();
  auto known = [&](const std::string& m) { return std::find(names.begin(), names.end(), m) != names.end(); };
  if (const auto& n = root["objective"]) {
    if (!n.IsMap() || n.size() != 1 || (!n["minimise"] && !n["maximise"])) {
      pr.at(n, "objective", "{minimise: METRIC} or {maximise: METRIC}");
    } else {
      s.minimise = static_cast<bool>(n["minimise"]);
      s.objective_given = true;
      const YAML::Node& m = s.minimise ? n["minimise"] : n["maximise"];
      if (!m.IsScalar() || !known(m.Scalar())) pr.at(m, "objective", "unknown metric (" + join(names, ", ") + ")");
      else s.objective = m.Scalar();
    }
  }
  if (const auto& n = root["constraints"]) {
    if (!n.IsSequence()) {
      pr.at(n, "constraints", "a list of \"METRIC <= NUMBER\" or \"METRIC >= NUMBER\"");
    } else {
      for (std::size_t i = 0; i < n.size(); ++i) {
        const std::string f = "constraints[" + std::to_string(i) + "]";
        std::istringstream in(n[i].IsScalar() ? n[i].Scalar() : "");
        SweepConstraint c;
        std::string op, limit, rest;
        in >> c.metric >> op >> limit >> rest;
        double v = 0;
        const auto [end, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), v);
        if (!known(c.metric)) pr.at(n[i], f, "unknown metric '" + c.metric + "' (" + join(names, ", ") + ")");
        else if ((op != "<=" && op != ">=") || limit.empty() || ec != std::errc() || end != limit.data() + limit.size() ||
                 !rest.empty() || !std::isfinite(v))
          pr.at(n[i], f, "\"METRIC <= NUMBER\" or \"METRIC >= NUMBER\"");
        else {
          c.at_most = op == "<=";
          c.limit = v;
          s.constraints.push_back(c);
        }
      }
    }
  }
  if (const auto& n = root["capacity"]) {
    if (!n.IsMap()) {
      pr.at(n, "capacity", "{target_p95_wait_s, max_lanes, max_staff}");
    } else {
      check_keys(pr, n, "capacity.", {"target_p95_wait_s", "max_lanes", "max_staff", "meet"});
      if (const auto& m = n["meet"]) {
        if (!m.IsScalar() || (m.Scalar() != "mean" && m.Scalar() != "ci95_upper"))
          pr.at(m, "capacity.meet", "mean (the mean over seeds meets the target) or ci95_upper (the top of its 95% interval does)");
        else s.capacity_upper = m.Scalar() == "ci95_upper";
      }
      CapacityQuery q;
      if (n["target_p95_wait_s"]) {
        const auto v = number(n["target_p95_wait_s"]);
        if (!v || *v <= 0) pr.at(n["target_p95_wait_s"], "capacity.target_p95_wait_s", "seconds above 0");
        else q.target_p95_wait_s = *v;
      }
      for (const auto& [key, ref] : {std::pair<const char*, int*>{"max_lanes", &q.max_lanes}, {"max_staff", &q.max_staff}}) {
        if (!n[key]) continue;
        const auto v = number(n[key]);
        if (!v || *v < 1 || *v > 64 || *v != std::floor(*v)) pr.at(n[key], std::string("capacity.") + key, "a whole number 1..64");
        else *ref = static_cast<int>(*v);
      }
      s.capacity = q;
      for (const auto& a : s.axes)
        if (a.path.find(".lanes") != std::string::npos || a.path.find(".staff") != std::string::npos)
          pr.at(n, "capacity", "the capacity grid sets every gate's lanes and staff; do not vary " + a.path + " as well");
    }
  }
  pr.throw_if_any();
  return s;
}

SweepSpec load_sweep_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw SweepError({file.string() + ": cannot read"});
  std::ostringstream text;
  text << in.rdbuf();
  return load_sweep_text(text.str(), file);
}

// ---- the plan ------------------------------------------------------------------------------------------

namespace {

std::uint64_t key_hash(const std::string& s, std::uint64_t h = 14695981039346656037ull) {
  for (const unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

SweepPlan plan_sweep(const SweepSpec& spec) {
  SweepPlan plan;
  plan.spec = spec;
  std::vector<std::string> problems;
  for (const auto& file : spec.scenarios) {
    const LoadResult r = load_scenario_file(file.string(), spec.sets);
    if (!r.ok()) {
      for (const auto& e : r.errors) problems.push_back(e.str());
      if (r.errors.empty()) problems.push_back(file.string() + ": does not load");
      plan.gates.emplace_back();
      plan.compounds.emplace_back();
      continue;
    }
    std::vector<std::string> names, compounds;
    for (const auto& g : r.scenario->gates) {
      names.push_back(g.name);
      compounds.push_back(g.compound);
    }
    plan.gates.push_back(names);
    plan.compounds.push_back(compounds);
  }
  if (!problems.empty()) throw SweepError(problems);
  // The grid: the cartesian product of the axes, the first axis slowest.
  plan.points = {{}};
  for (const auto& a : spec.axes) {
    std::vector<std::vector<std::string>> next;
    for (const auto& p : plan.points)
      for (const auto& v : a.values) {
        auto q = p;
        q.push_back(v);
        next.push_back(std::move(q));
      }
    plan.points = std::move(next);
  }
  const int max_staff = spec.capacity ? spec.capacity->max_staff : 0;
  const int max_lanes = spec.capacity ? spec.capacity->max_lanes : 0;
  std::uint64_t plan_hash = key_hash(spec.capacity ? "capacity" : "plain");
  // A job's key covers its scenario file's bytes too: a scenario edited after a partial run, or a different
  // copy on another node, is not mixed with the results of the old one.
  std::vector<std::string> contents;
  for (const auto& file : spec.scenarios) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    contents.push_back(hex16(key_hash(text.str())));
  }
  for (std::size_t sc = 0; sc < spec.scenarios.size(); ++sc) {
    for (std::size_t v = 0; v < spec.variants.size(); ++v) {
      for (std::size_t p = 0; p < plan.points.size(); ++p) {
        std::vector<std::string> overrides = spec.sets;
        overrides.insert(overrides.end(), spec.variants[v].sets.begin(), spec.variants[v].sets.end());
        for (std::size_t a = 0; a < spec.axes.size(); ++a) {
          const std::string& path = spec.axes[a].path;
          const auto star = path.find("gates[*]");
          if (star == std::string::npos) {
            overrides.push_back(path + "=" + plan.points[p][a]);
          } else {
            for (std::size_t g = 0; g < plan.gates[sc].size(); ++g)
              overrides.push_back(path.substr(0, star) + "gates[" + std::to_string(g) + "]" + path.substr(star + 8) + "=" +
                                  plan.points[p][a]);
          }
        }
        const int staff_from = spec.capacity ? 1 : 0, lanes_from = spec.capacity ? 1 : 0;
        for (int staff = staff_from; staff <= max_staff; ++staff) {
          for (int lanes = lanes_from; lanes <= max_lanes; ++lanes) {
            for (const std::uint64_t seed : spec.seeds) {
              SweepJob j;
              j.index = plan.jobs.size();
              j.scenario = sc;
              j.variant = v;
              j.point = p;
              j.seed = seed;
              j.lanes = lanes;
              j.staff = staff;
              j.overrides = overrides;
              j.overrides.push_back("seed=" + std::to_string(seed));
              std::string def = spec.scenarios[sc].filename().string() + "#" + contents[sc] + "|" + join(j.overrides, "|");
              if (spec.capacity) def += "|lanes=" + std::to_string(lanes) + "|staff=" + std::to_string(staff);
              const std::uint64_t h = key_hash(def);
              j.key = hex16(h);
              plan_hash = key_hash(j.key, plan_hash);
              plan.jobs.push_back(std::move(j));
            }
          }
        }
      }
    }
  }
  plan.key = hex16(plan_hash);
  return plan;
}

// ---- one job ---------------------------------------------------------------------------------------------

SweepRow run_sweep_job(const SweepPlan& plan, std::size_t index, int attempt) {
  const SweepJob& j = plan.jobs.at(index);
  SweepRow row;
  row.job = index;
  row.key = j.key;
  row.attempts = attempt;
  try {
    const LoadResult r = load_scenario_file(plan.spec.scenarios[j.scenario].string(), j.overrides);
    if (!r.ok()) {
      std::vector<std::string> lines;
      for (const auto& e : r.errors) lines.push_back(e.str());
      throw std::runtime_error(lines.empty() ? "the scenario does not load" : join(lines, "; "));
    }
    const Scenario s = plan.spec.capacity ? capacity_scenario(*r.scenario, j.lanes, j.staff) : *r.scenario;
    const RunOutput out = run_world(s);
    const Metrics m = compute_metrics(s, out);
    row.gate_peak_p95_s = gate_peak_p95_wait_s(out, m);
    double peak = 0;
    for (const double w : row.gate_peak_p95_s) peak = std::max(peak, w);
    double face = 0, card = 0;
    for (const auto& [name, share] : m.credential_mix) {
      if (name == "face") face = share;
      if (name == "card") card = share;
    }
    const auto d = [](auto v) { return static_cast<double>(v); };
    row.metrics = {d(m.passages),          d(m.granted),         d(m.denied),
                   d(m.tailgated),         d(m.unfinished),      m.wait_s.mean,
                   m.wait_s.p95,           m.wait_s.max,         peak,
                   d(m.max_queue),         m.transaction_s.mean, m.transaction_s.p95,
                   d(m.staff_interventions), m.staff_wait_s.p95, m.frr.value(),
                   m.far.value(),          m.fta.value(),        m.fever_sensitivity.value(),
                   m.fever_false_alarm.value(), d(m.unauthorised_entries), face,
                   card,                   d(m.compliance.passed)};
    for (double& v : row.metrics)
      if (!std::isfinite(v)) v = 0;
    row.ok = true;
  } catch (const std::exception& e) {
    row.ok = false;
    row.metrics.clear();
    row.gate_peak_p95_s.clear();
    row.error = e.what();
  }
  return row;
}

// ---- the journal ---------------------------------------------------------------------------------------

std::string sweep_row_json(const SweepRow& row) {
  Json j = {{"job", row.job}, {"key", row.key}, {"ok", row.ok}, {"attempts", row.attempts}};
  if (row.ok) {
    j["metrics"] = row.metrics;
    j["gate_peak_p95_s"] = row.gate_peak_p95_s;
  } else {
    j["error"] = row.error;
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<SweepRow> parse_sweep_row(const std::string& line) {
  const Json j = Json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    SweepRow r;
    r.job = j.at("job").get<std::size_t>();
    r.key = j.at("key").get<std::string>();
    r.ok = j.at("ok").get<bool>();
    r.attempts = j.at("attempts").get<int>();
    if (r.ok) {
      r.metrics = j.at("metrics").get<std::vector<double>>();
      r.gate_peak_p95_s = j.at("gate_peak_p95_s").get<std::vector<double>>();
      if (r.metrics.size() != sweep_metric_names().size()) return std::nullopt;
    } else {
      r.error = j.at("error").get<std::string>();
    }
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::map<std::size_t, SweepRow> read_sweep_journals(const fs::path& dir, const SweepPlan& plan, std::size_t* torn) {
  std::map<std::size_t, SweepRow> rows;
  if (torn) *torn = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return rows;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.starts_with("jobs") && n.ends_with(".jsonl")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      const bool last = in.peek() == std::char_traits<char>::eof();
      const auto r = parse_sweep_row(line);
      if (!r) {
        if (last) {  // cut short by a crash while it was written
          if (torn) ++*torn;
          continue;
        }
        throw SweepError({f.string() + ":" + std::to_string(number) + ": not a result row (the journal is damaged)"});
      }
      if (r->job >= plan.jobs.size() || plan.jobs[r->job].key != r->key)
        throw SweepError({f.string() + ":" + std::to_string(number) + ": job " + std::to_string(r->job) +
                          " is not this sweep's (another sweep's results, or the sweep file changed): use another "
                          "output directory or delete this one"});
      rows[r->job] = *r;  // a later row for the same job (a retry after resume) wins
    }
  }
  return rows;
}

SweepJournal::SweepJournal(const fs::path& file) : file_(file) {
  // A row torn by a crash is cut off, so that the next row starts on a line of its own.
  std::error_code ec;
  if (fs::exists(file_, ec)) {
    std::ifstream in(file_, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (keep != text.size()) {
      if (parse_sweep_row(text.substr(keep))) {
        std::ofstream(file_, std::ios::binary | std::ios::app) << '\n';  // whole but unterminated: keep it
      } else {
        fs::resize_file(file_, keep);
      }
    }
  }
  fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(file_.string() + ": cannot open the journal: " + std::strerror(errno));
}

SweepJournal::~SweepJournal() {
  if (fd_ >= 0) ::close(fd_);
}

void SweepJournal::append(const SweepRow& row) {
  const std::string line = sweep_row_json(row) + "\n";
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(file_.string() + ": cannot append a result: " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd_) != 0) throw std::runtime_error(file_.string() + ": cannot sync: " + std::strerror(errno));
}

// ---- statistics ----------------------------------------------------------------------------------------

double t95(std::size_t dof) {
  static constexpr double table[] = {0,      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                     2.201,  2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                     2.080,  2.074,  2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof == 0) return 0;
  if (dof <= 30) return table[dof];
  // Beyond the table, the Cornish-Fisher expansion of t around the normal quantile (error below 1e-4 here).
  const double z = 1.959963984540054, n = static_cast<double>(dof);
  const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
  return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n) +
         (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * n * n * n);
}

}  // namespace gatetwin::sim
