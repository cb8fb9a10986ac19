#include "gatetwin/sim/scenario_loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "scenario_schema.hpp"

namespace gatetwin::sim {
namespace {

using schema::Field;
using schema::Kind;

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::optional<double> parse_double(const std::string& s) {
  double v = 0;
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Splits "1500 ms" into (1500, "ms"); a bare number gives an empty unit.
std::optional<std::pair<double, std::string>> split_unit(const std::string& raw) {
  const std::string s = trim(raw);
  std::size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == '-' || s[i] == '+' ||
                          s[i] == 'e' || s[i] == 'E')) {
    // 'e' is part of a number only when followed by a digit or sign (so "5 e" is not eaten).
    if ((s[i] == 'e' || s[i] == 'E') && !(i + 1 < s.size() && (std::isdigit(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '-' || s[i + 1] == '+'))) break;
    ++i;
  }
  const auto v = parse_double(s.substr(0, i));
  if (!v) return std::nullopt;
  return std::make_pair(*v, trim(s.substr(i)));
}

// "hh:mm" or "hh:mm:ss", two digits each (one for the hour), 00:00 to 24:00; nothing else.
std::optional<SimTime> parse_clock(const std::string& raw) {
  auto two = [&](std::size_t at, int& out) {
    if (at + 2 > raw.size() || !std::isdigit(static_cast<unsigned char>(raw[at])) || !std::isdigit(static_cast<unsigned char>(raw[at + 1])))
      return false;
    out = (raw[at] - '0') * 10 + (raw[at + 1] - '0');
    return true;
  };
  int h = 0, m = 0, sec = 0;
  std::size_t pos = 0;
  if (raw.size() >= 2 && std::isdigit(static_cast<unsigned char>(raw[0])) && raw[1] == ':') {
    h = raw[0] - '0';
    pos = 1;
  } else if (two(0, h)) {
    pos = 2;
  } else {
    return std::nullopt;
  }
  if (pos >= raw.size() || raw[pos] != ':' || !two(pos + 1, m)) return std::nullopt;
  pos += 3;
  if (pos < raw.size()) {
    if (raw[pos] != ':' || !two(pos + 1, sec) || pos + 3 != raw.size()) return std::nullopt;
  }
  if (h > 24 || m > 59 || sec > 59 || (h == 24 && (m || sec))) return std::nullopt;
  return std::chrono::hours(h) + std::chrono::minutes(m) + std::chrono::seconds(sec);
}

// Numbers in messages: plain notation ("1000000", "0.5"), not "1e+06".
std::string format_limit(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  return buf;
}

std::string format_number(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, p);
}

std::string format_clock_hms(SimTime t) {
  const auto total = t.count() / 1'000'000;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", static_cast<long long>(total / 3600),
                static_cast<long long>((total / 60) % 60), static_cast<long long>(total % 60));
  return buf;
}

const std::string kOverrides = "--set";

// The gate a scenario without a `gates` list gets.
GateSpec default_gate() {
  GateSpec g;
  g.name = "main";
  g.lanes = 2;
  return g;
}

class Loader {
 public:
  explicit Loader(Scenario& s) : s_(s) {}
  std::vector<ScenarioError> errors;
  std::map<std::string, std::pair<std::string, YAML::Mark>> marks;  // path -> (file, place)
  std::set<std::string> error_fields;                                // fields that already have an error

  void error(const std::string& file, const YAML::Mark& m, const std::string& field, const std::string& msg) {
    ScenarioError e;
    e.file = file;
    if (!m.is_null() && file != kOverrides) {  // an override's value has no place in a file
      e.line = m.line + 1;
      e.column = m.column + 1;
    }
    e.field = field;
    e.message = msg;
    error_fields.insert(field);
    errors.push_back(std::move(e));
  }

  std::string skip_key;  // a calibration file's top-level `measured:` block (not settings)

  // Walks a mapping node whose keys sit under `prefix` ("" for the root, "population." ...).
  void walk_map(const std::string& file, const YAML::Node& map, const std::string& prefix, std::size_t index,
                const std::string& shown_prefix) {
    std::set<std::string> seen;
    for (const auto& kv : map) {
      const YAML::Node& key_node = kv.first;
      const YAML::Node& value = kv.second;
      if (!key_node.IsScalar()) {
        error(file, key_node.Mark(), shown_prefix, "keys must be plain names");
        continue;
      }
      const std::string key = key_node.Scalar();
      if (key.find_first_of(".[]") != std::string::npos || key.empty()) {
        error(file, key_node.Mark(), shown_prefix + key, "unknown key (write nested settings as mappings, not dotted names)");
        continue;
      }
      if (!skip_key.empty() && key == skip_key && prefix == "face.") continue;
      const std::string path = prefix + key;
      const std::string shown = shown_prefix + key;
      if (!seen.insert(key).second) {
        error(file, key_node.Mark(), shown, "duplicate key");
        continue;
      }
      if (const Field* f = schema::find(path)) {
        apply(file, *f, value, index, shown, key_node.Mark());
        continue;
      }
      if (has_children(path + "[].")) {
        if (!value.IsSequence()) {
          error(file, value.Mark(), shown, "expected a list");
          continue;
        }
        for (std::size_t i = 0; i < value.size(); ++i) {
          const YAML::Node item = value[i];
          if (!item.IsMap()) {
            error(file, item.Mark(), shown + "[" + std::to_string(i) + "]", "expected a mapping");
            continue;
          }
          ensure_item(path, i);
          walk_map(file, item, path + "[].", i, shown + "[" + std::to_string(i) + "].");
        }
        continue;
      }
      if (has_children(path + ".")) {
        if (!value.IsMap()) {
          error(file, value.IsNull() ? key_node.Mark() : value.Mark(), shown, "expected a mapping of " + key + " settings");
          continue;
        }
        walk_map(file, value, path + ".", index, shown + ".");
        continue;
      }
      error(file, key_node.Mark(), shown, "unknown key" + suggestion(prefix, key));
    }
  }

  // List sections: `gates`, `faults` and `privacy.events`.
  void ensure_item(const std::string& list, std::size_t i) {
    if (list == "faults") {
      if (s_.faults.size() <= i) s_.faults.resize(i + 1);
      return;
    }
    if (list == "privacy.events") {
      if (s_.privacy.events.size() <= i) s_.privacy.events.resize(i + 1);
      return;
    }
    ensure_gate(i);
  }
  void ensure_gate(std::size_t i) {
    while (s_.gates.size() <= i) {
      GateSpec g;
      g.name = "gate" + std::to_string(s_.gates.size() + 1);
      s_.gates.push_back(g);
    }
  }

  void apply(const std::string& file, const Field& f, const YAML::Node& value, std::size_t i, const std::string& shown,
             const YAML::Mark& key_mark) {
    const YAML::Mark vm = value.IsNull() ? key_mark : value.Mark();
    marks[shown] = {file, vm};
    if (value.IsNull()) {
      error(file, vm, shown, "missing value");
      return;
    }
    if (f.kind == Kind::profile) {
      if (!value.IsSequence() || value.size() != 24) {
        error(file, vm, shown, "expected a list of 24 hourly weights");
        return;
      }
      std::array<double, 24> out{};
      for (std::size_t h = 0; h < 24; ++h) {
        const auto v = value[h].IsScalar() ? parse_double(value[h].Scalar()) : std::nullopt;
        if (!v || *v < 0) {
          error(file, value[h].Mark(), shown + "[" + std::to_string(h) + "]", "expected a number >= 0");
          return;
        }
        out[h] = *v;
      }
      f.profile_ref(s_, i) = out;
      return;
    }
    if (f.kind == Kind::choice_list) {
      if (!value.IsSequence()) {
        error(file, vm, shown, "expected a list, e.g. [" + f.choices.front() + "]");
        return;
      }
      std::vector<std::string> out;
      for (std::size_t k = 0; k < value.size(); ++k) {
        const std::string item_shown = shown + "[" + std::to_string(k) + "]";
        const std::string name = value[k].IsScalar() ? value[k].Scalar() : "";
        if (std::find(f.choices.begin(), f.choices.end(), name) == f.choices.end()) {
          std::string list;
          for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
          error(file, value[k].Mark(), item_shown, "unknown value '" + name + "' (expected one of: " + list + ")");
          return;
        }
        if (std::find(out.begin(), out.end(), name) != out.end()) {
          error(file, value[k].Mark(), item_shown, "'" + name + "' is listed twice");
          return;
        }
        out.push_back(name);
      }
      f.list_ref(s_, i) = std::move(out);
      return;
    }
    if (!value.IsScalar()) {
      error(file, vm, shown, "expected a single value, got a " + std::string(value.IsMap() ? "mapping" : "list"));
      return;
    }
    const std::string raw = value.Scalar();
    switch (f.kind) {
      case Kind::text: f.text_ref(s_, i) = raw; return;
      case Kind::boolean:
        if (raw == "true") f.bool_ref(s_, i) = true;
        else if (raw == "false") f.bool_ref(s_, i) = false;
        else error(file, vm, shown, "expected true or false, got '" + raw + "'");
        return;
      case Kind::choice: {
        if (std::find(f.choices.begin(), f.choices.end(), raw) == f.choices.end()) {
          std::string list;
          for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
          error(file, vm, shown, "unknown value '" + raw + "' (expected one of: " + list + ")");
          return;
        }
        f.set_choice(s_, i, raw);
        return;
      }
      case Kind::seed: {
        std::uint64_t v = 0;
        auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
        if (ec != std::errc() || p != raw.data() + raw.size()) {
          error(file, vm, shown, "expected an unsigned 64-bit integer, got '" + raw + "'");
          return;
        }
        f.seed_ref(s_, i) = v;
        return;
      }
      case Kind::clock: {
        const auto t = parse_clock(raw);
        if (!t) {
          error(file, vm, shown, "expected a time of day hh:mm or hh:mm:ss (00:00 to 24:00), got '" + raw + "'");
          return;
        }
        f.clock_ref(s_, i) = *t;
        return;
      }
      default: break;
    }
    // Numeric kinds, with unit checking.
    const auto parsed = split_unit(raw);
    if (!parsed) {
      error(file, vm, shown, "expected a number" + (f.unit.empty() ? std::string() : " in " + f.unit) + ", got '" + raw + "'");
      return;
    }
    double v = parsed->first;
    const std::string& unit = parsed->second;
    if (!unit.empty()) {
      bool ok = unit == f.unit;  // "400 households" is fine for a field counted in households
      if (f.kind == Kind::seconds || (f.kind == Kind::optional_number && f.unit == "s")) {
        static const std::map<std::string, double> scale = {{"s", 1.0}, {"ms", 1e-3}, {"min", 60.0}, {"h", 3600.0}};
        if (auto it = scale.find(unit); it != scale.end()) v *= it->second, ok = true;
      } else if (f.kind == Kind::celsius || f.unit == "°C") {
        ok = unit == "C" || unit == "°C" || unit == "degC";
      } else if (f.kind == Kind::share || f.unit == "share 0–1") {
        if (unit == "%") v /= 100.0, ok = true;
      }
      if (!ok) {
        error(file, vm, shown, "unit '" + unit + "' does not fit this field (unit: " + (f.unit.empty() ? "none" : f.unit) + ")");
        return;
      }
    }
    if (v < f.min || v > f.max) {
      error(file, vm, shown, "must be between " + format_limit(f.min) + " and " + format_limit(f.max) +
                                 (f.unit.empty() ? "" : " (" + f.unit + ")") + ", got " + format_limit(v));
      return;
    }
    switch (f.kind) {
      case Kind::integer:
        if (v != std::floor(v)) {
          error(file, vm, shown, "expected a whole number, got '" + raw + "'");
          return;
        }
        f.int_ref(s_, i) = static_cast<int>(v);
        return;
      case Kind::optional_number: f.opt_ref(s_, i) = v; return;
      default: f.num_ref(s_, i) = v; return;
    }
  }

  static bool has_children(const std::string& prefix) {
    return std::any_of(schema::fields().begin(), schema::fields().end(), [&](const Field& f) { return starts_with(f.path, prefix); });
  }

  static std::string suggestion(const std::string& prefix, const std::string& key) {
    std::set<std::string> siblings;
    for (const auto& f : schema::fields()) {
      if (!starts_with(f.path, prefix)) continue;
      std::string rest = f.path.substr(prefix.size());
      rest = rest.substr(0, rest.find_first_of(".["));
      siblings.insert(rest);
    }
    std::string best;
    std::size_t best_d = 3;  // suggest only close names
    for (const auto& c : siblings) {
      const std::size_t d = edit_distance(key, c);
      if (d < best_d) best_d = d, best = c;
    }
    if (!best.empty()) return " (did you mean '" + best + "'?)";
    std::string list;
    for (const auto& c : siblings) list += (list.empty() ? "" : ", ") + c;
    return list.empty() ? "" : " (known keys here: " + list + ")";
  }

 private:
  Scenario& s_;
};

void cross_validate(Scenario& s, Loader& L, const std::string& file) {
  auto where = [&](const std::string& field) -> std::pair<std::string, YAML::Mark> {
    if (auto it = L.marks.find(field); it != L.marks.end()) return it->second;
    return {file, YAML::Mark::null_mark()};
  };
  auto fail = [&](const std::string& field, const std::string& msg) {
    const auto [f, m] = where(field);
    L.error(f, m, field, msg);
  };
  const auto& p = s.population;
  if (p.face_enrolled_share + p.refuse_face_share > 1.0 + 1e-12)
    fail("population.refuse_face_share", "face_enrolled_share + refuse_face_share must not exceed 1");
  if (p.mask_always_share + p.mask_never_share > 1.0 + 1e-12)
    fail("population.mask_never_share", "mask_always_share + mask_never_share must not exceed 1");
  if (p.health_code_yellow_share + p.health_code_red_share > 1.0 + 1e-12)
    fail("population.health_code_red_share", "health_code_yellow_share + health_code_red_share must not exceed 1");
  if (s.day_end <= s.day_start) fail("day.end", "must be later than day.start");
  // A masked impostor distribution that was not given is the unmasked one (the model before it was split).
  if (!L.marks.count("face.impostor_masked.mean")) s.face.impostor_masked.mean = s.face.impostor.mean;
  if (!L.marks.count("face.impostor_masked.sd")) s.face.impostor_masked.sd = s.face.impostor.sd;
  if (s.pixel.stop_distance_m > s.pixel.start_distance_m)
    fail("pixel.stop_distance_m", "is farther than pixel.start_distance_m; an approach closes the distance");
  if (s.policy.threshold_masked > s.policy.threshold_unmasked)
    fail("policy.threshold_masked", "is above policy.threshold_unmasked; masked probes score lower, so this is almost surely a mistake");
  if (s.arrivals.profile == "custom") {
    for (const char* key : {"arrivals.entry_profile", "arrivals.exit_profile"}) {
      if (L.error_fields.count(key)) continue;  // already reported where the list is wrong
      const auto& prof = std::string(key) == "arrivals.entry_profile" ? s.arrivals.entry_profile : s.arrivals.exit_profile;
      double sum = 0;
      for (double w : prof) sum += w;
      if (sum <= 0) fail(key, "a custom profile needs 24 weights with a positive sum");
    }
  } else {
    if (L.marks.count("arrivals.entry_profile") || L.marks.count("arrivals.exit_profile"))
      fail(L.marks.count("arrivals.entry_profile") ? "arrivals.entry_profile" : "arrivals.exit_profile",
           "hourly weights are only used with profile: custom");
    fill_profile(s.arrivals.profile, s.arrivals.entry_profile, s.arrivals.exit_profile);
  }
  // Every arrival profile needs weight inside the open hours, or nobody ever arrives.
  if (s.day_end > s.day_start && !L.error_fields.count("arrivals.entry_profile") && !L.error_fields.count("arrivals.exit_profile")) {
    for (const auto* prof : {&s.arrivals.entry_profile, &s.arrivals.exit_profile}) {
      if (profile_weight(*prof, s.day_start, s.day_end) <= 0) {
        fail(prof == &s.arrivals.entry_profile ? "arrivals.entry_profile" : "arrivals.exit_profile",
             "no weight between day.start and day.end: nobody would arrive");
        break;
      }
    }
  }
  if (s.gates.empty()) s.gates.push_back(default_gate());
  std::set<std::string> names;
  std::map<std::string, std::pair<bool, bool>> serves;  // compound -> (some gate serves entries, ... exits)
  std::map<std::string, std::string> first_gate;         // compound -> a field of its first gate, for the error's place
  for (std::size_t i = 0; i < s.gates.size(); ++i) {
    const auto& g = s.gates[i];
    const std::string base = "gates[" + std::to_string(i) + "]";
    if (!names.insert(g.name).second) fail(base + ".name", "duplicate gate name '" + g.name + "'");
    if (!first_gate.count(g.compound)) {
      first_gate[g.compound] = L.marks.count(base + ".compound") ? base + ".compound" : base + ".name";
      if (!L.marks.count(first_gate[g.compound])) first_gate[g.compound] = "gates";
    }
    auto& [entry, exit] = serves[g.compound];
    entry |= g.direction != GateDirection::exit && g.traffic_share > 0;
    exit |= g.direction != GateDirection::entry && g.traffic_share > 0;
  }
  // In HIL each lane is configured in gatectl as an entry or an exit lane (a terminal knows its direction):
  // a gate serving both directions alternates them, so it needs at least two lanes.
  if (s.fidelity == "hil") {
    for (std::size_t i = 0; i < s.gates.size(); ++i) {
      const auto& g = s.gates[i];
      const std::string base = "gates[" + std::to_string(i) + "]";
      if (g.direction == GateDirection::both && g.lanes < 2)
        fail(L.marks.count(base + ".lanes") ? base + ".lanes" : base + ".name",
             "fidelity hil: gate '" + g.name + "' serves both directions with one lane; gatectl runs a lane as entry or exit: "
             "give it 2 lanes (odd lanes entry, even lanes exit) or set direction: entry or exit");
    }
  }
  // Faults name a lane that exists, and a camera picture RTP/JPEG can carry.
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    auto& ft = s.faults[i];
    const std::string base = "faults[" + std::to_string(i) + "]";
    if (ft.gate.empty()) ft.gate = s.gates.front().name;
    const auto g = std::find_if(s.gates.begin(), s.gates.end(), [&](const GateSpec& x) { return x.name == ft.gate; });
    if (g == s.gates.end()) {
      fail(base + ".gate", "no gate named '" + ft.gate + "'");
      continue;
    }
    if (ft.lane > g->lanes)
      fail(base + ".lane", "gate '" + g->name + "' has " + std::to_string(g->lanes) + " lane(s), not " + std::to_string(ft.lane));
    if (ft.mode == "drift" && ft.device != "thermal") fail(base + ".mode", "drift is a thermal sensor fault");
    if ((ft.mode == "intermittent" || (ft.mode == "slow" && ft.device == "camera")) && (ft.value <= 0 || ft.value > 1))
      fail(base + ".value", ft.mode + " needs a value in (0, 1]: " + (ft.mode == "slow" ? "the share of frames kept" : "the probability of a loss"));
  }
  // Privacy events: inside the day, and only the keys their kind uses.
  for (std::size_t i = 0; i < s.privacy.events.size(); ++i) {
    const auto& ev = s.privacy.events[i];
    const std::string base = "privacy.events[" + std::to_string(i) + "]";
    const std::string at = L.marks.count(base + ".at") ? base + ".at" : L.marks.count(base + ".kind") ? base + ".kind" : "privacy.events";
    if (!L.marks.count(base + ".at")) fail(at, "give the event's time (at: hh:mm)");
    else if (ev.at < s.day_start || ev.at > s.day_end) fail(at, "must be between day.start and day.end");
    const bool purpose = ev.kind == "purpose_change";
    if (purpose && L.marks.count(base + ".share")) fail(base + ".share", "not used by purpose_change (reconsent_share is)");
    if (!purpose && L.marks.count(base + ".reconsent_share")) fail(base + ".reconsent_share", "only used by purpose_change");
    if (!purpose && L.marks.count(base + ".purpose")) fail(base + ".purpose", "only used by purpose_change");
    if (purpose && ev.purpose == "access") fail(L.marks.count(base + ".purpose") ? base + ".purpose" : at, "access is the gate's own purpose: name the new one");
  }
  if (s.devices.camera_width % 16 || s.devices.camera_height % 16)
    fail(L.marks.count("devices.camera_width") && s.devices.camera_width % 16 ? "devices.camera_width" : "devices.camera_height",
         "must be a multiple of 16 (RTP/JPEG carries 4:2:0 JPEG in 16x16 blocks)");
  for (const auto& [compound, dirs] : serves) {
    const std::string who = compound.empty() ? "" : " of compound '" + compound + "'";
    const std::string& at = first_gate[compound];
    if (!dirs.first && !dirs.second) fail(at, "no gate" + who + " has a traffic_share above 0");
    else if (!dirs.first || !dirs.second) fail(at, "no gate" + who + " serves " + (!dirs.first ? "entries" : "exits"));
  }
}

LoadResult finish(Scenario s, Loader& L, const std::string& file) {
  cross_validate(s, L, file);
  LoadResult r;
  r.errors = std::move(L.errors);
  std::stable_sort(r.errors.begin(), r.errors.end(), [](const ScenarioError& a, const ScenarioError& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  if (r.errors.empty()) r.scenario = std::move(s);
  return r;
}

// "gates[1].lanes" -> ("gates[].lanes", 1)
std::optional<std::pair<std::string, std::size_t>> normalise_override_path(const std::string& path) {
  const auto open = path.find('[');
  if (open == std::string::npos) return std::make_pair(path, std::size_t{0});
  const auto close = path.find(']', open);
  if (close == std::string::npos) return std::nullopt;
  std::size_t idx = 0;
  const std::string num = path.substr(open + 1, close - open - 1);
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), idx);
  if (ec != std::errc() || p != num.data() + num.size()) return std::nullopt;
  return std::make_pair(path.substr(0, open) + "[]" + path.substr(close + 1), idx);
}

LoadResult load(const YAML::Node& root, const std::string& file, const std::string& base_dir,
                const std::vector<std::string>& overrides) {
  Scenario s;
  s.source_file = file;
  Loader L(s);
  if (!root.IsMap()) {
    L.error(file, root.Mark(), "", root.IsNull() ? "the file is empty" : "the top level must be a mapping of settings");
    LoadResult r;
    r.errors = std::move(L.errors);
    return r;
  }
  // A calibration file first, so that inline face.* keys (and overrides) override it. `--set
  // face.calibration=...` names one too (relative to the working directory).
  std::optional<std::pair<std::string, std::string>> calibration;  // (path as written, where it was named)
  const YAML::Node face = root["face"];
  YAML::Mark cal_mark = YAML::Mark::null_mark();
  if (face && face.IsMap() && face["calibration"] && face["calibration"].IsScalar()) {
    std::filesystem::path cal = face["calibration"].Scalar();
    if (cal.is_relative() && !cal.empty()) cal = std::filesystem::path(base_dir) / cal;
    calibration = std::make_pair(cal.string(), file);
    cal_mark = face["calibration"].Mark();
  }
  for (const auto& o : overrides) {
    if (starts_with(trim(o), "face.calibration=")) {
      calibration = std::make_pair(trim(o.substr(o.find('=') + 1)), std::string(kOverrides));
      cal_mark = YAML::Mark::null_mark();
    }
  }
  if (calibration) {
    const auto& [cal, named_in] = *calibration;
    std::error_code ec;
    if (cal.empty() || !std::filesystem::is_regular_file(cal, ec)) {
      L.error(named_in, cal_mark, "face.calibration", "cannot read calibration file '" + cal + "'");
    } else {
      try {
        const YAML::Node cal_root = YAML::LoadFile(cal);
        if (!cal_root.IsMap()) {
          L.error(cal, cal_root.Mark(), "face", "a calibration file must be a mapping of face.* settings");
        } else if (cal_root["calibration"]) {
          L.error(cal, cal_root["calibration"].Mark(), "calibration", "a calibration file cannot name another calibration file");
        } else {
          L.skip_key = "measured";  // what the calibration was measured from: for people, not settings
          L.walk_map(cal, cal_root, "face.", 0, "face.");
          L.skip_key.clear();
        }
      } catch (const YAML::Exception& e) {
        L.error(cal, e.mark, "", "YAML syntax error: " + e.msg);
      } catch (const std::exception& e) {
        L.error(named_in, cal_mark, "face.calibration", "cannot read calibration file '" + cal + "': " + e.what());
      }
    }
  }
  L.walk_map(file, root, "", 0, "");
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    const auto norm = eq == std::string::npos ? std::nullopt : normalise_override_path(trim(o.substr(0, eq)));
    const Field* f = norm ? schema::find(norm->first) : nullptr;
    if (!f) {
      L.error("--set", YAML::Mark::null_mark(), eq == std::string::npos ? o : o.substr(0, eq),
              eq == std::string::npos ? "expected path=value" : "unknown field");
      continue;
    }
    if (starts_with(norm->first, "privacy.events[]") && norm->second >= s.privacy.events.size()) {
      if (norm->second == s.privacy.events.size()) {
        L.ensure_item("privacy.events", norm->second);
      } else {
        L.error("--set", YAML::Mark::null_mark(), o.substr(0, eq), "privacy event index out of range");
        continue;
      }
    }
    if (starts_with(norm->first, "faults[]") && norm->second >= s.faults.size()) {
      if (norm->second == s.faults.size()) {
        L.ensure_item("faults", norm->second);
      } else {
        L.error("--set", YAML::Mark::null_mark(), o.substr(0, eq), "fault index out of range");
        continue;
      }
    }
    if (starts_with(norm->first, "gates[]") && norm->second >= s.gates.size()) {
      if (s.gates.empty() && norm->second == 0) {
        s.gates.push_back(default_gate());  // the implicit gate a file without gates gets
      } else if (norm->second == s.gates.size()) {
        L.ensure_gate(norm->second);
      } else {
        L.error("--set", YAML::Mark::null_mark(), o.substr(0, eq), "gate index out of range");
        continue;
      }
    }
    try {
      L.apply("--set", *f, YAML::Load(o.substr(eq + 1)), norm->second, trim(o.substr(0, eq)), YAML::Mark::null_mark());
    } catch (const YAML::Exception& e) {
      L.error("--set", YAML::Mark::null_mark(), o.substr(0, eq), e.msg);
    }
  }
  return finish(std::move(s), L, file);
}

}  // namespace

std::optional<SimTime> parse_time_of_day(const std::string& text) { return parse_clock(text); }

std::string ScenarioError::str() const {
  std::ostringstream os;
  os << file;
  if (line > 0) os << ':' << line << ':' << column;
  os << ": ";
  if (!field.empty()) os << field << ": ";
  os << message;
  return os.str();
}

LoadResult load_scenario_text(const std::string& yaml_text, const std::string& display_name,
                              const std::vector<std::string>& overrides) {
  try {
    return load(YAML::Load(yaml_text), display_name, ".", overrides);
  } catch (const YAML::Exception& e) {
    LoadResult r;
    ScenarioError err{display_name, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1, "",
                      "YAML syntax error: " + e.msg};
    r.errors.push_back(err);
    return r;
  }
}

LoadResult load_scenario_file(const std::string& path, const std::vector<std::string>& overrides) {
  if (std::filesystem::is_directory(path)) {
    LoadResult r;
    r.errors.push_back({path, 0, 0, "", "is a directory, not a scenario file"});
    return r;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back({path, 0, 0, "", "cannot open the scenario file"});
    return r;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  try {
    const auto dir = std::filesystem::path(path).parent_path().string();
    return load(YAML::Load(buf.str()), path, dir.empty() ? "." : dir, overrides);
  } catch (const YAML::Exception& e) {
    LoadResult r;
    r.errors.push_back({path, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1, "",
                        "YAML syntax error: " + e.msg});
    return r;
  }
}

namespace {
std::optional<YAML::Node> value_node(const Field& f, const Scenario& sc, std::size_t i) {
  auto& s = const_cast<Scenario&>(sc);
  YAML::Node n;
  switch (f.kind) {
    case Kind::integer: n = f.int_ref(s, i); break;
    case Kind::boolean: n = f.bool_ref(s, i); break;
    case Kind::text: n = f.text_ref(s, i); break;
    case Kind::choice: n = f.get_choice(sc, i); break;
    case Kind::clock: n = format_clock_hms(f.clock_ref(s, i)); break;
    case Kind::seed: n = std::to_string(f.seed_ref(s, i)); break;
    case Kind::choice_list: {
      n = YAML::Node(YAML::NodeType::Sequence);
      for (const auto& name : f.list_ref(s, i)) n.push_back(name);
      n.SetStyle(YAML::EmitterStyle::Flow);
      break;
    }
    case Kind::profile: {
      n = YAML::Node(YAML::NodeType::Sequence);
      for (double w : f.profile_ref(s, i)) n.push_back(format_number(w));
      n.SetStyle(YAML::EmitterStyle::Flow);
      break;
    }
    case Kind::optional_number: {
      const auto& o = f.opt_ref(s, i);
      if (!o) return std::nullopt;  // not set: omitted
      n = format_number(*o);
      break;
    }
    default: n = format_number(f.num_ref(s, i)); break;
  }
  return n;
}

// Sets node[a][b][c] for a dotted path.
void put(YAML::Node root, const std::string& dotted, const YAML::Node& value) {
  std::vector<std::string> parts;
  std::size_t start = 0, dot;
  while ((dot = dotted.find('.', start)) != std::string::npos) {
    parts.push_back(dotted.substr(start, dot - start));
    start = dot + 1;
  }
  parts.push_back(dotted.substr(start));
  std::vector<YAML::Node> chain{root};
  for (std::size_t k = 0; k + 1 < parts.size(); ++k) chain.push_back(chain.back()[parts[k]]);
  chain.back()[parts.back()] = value;
}
}  // namespace

std::string to_yaml(const Scenario& s) {
  YAML::Node root(YAML::NodeType::Map);
  YAML::Node gates(YAML::NodeType::Sequence);
  for (std::size_t i = 0; i < s.gates.size(); ++i) gates.push_back(YAML::Node(YAML::NodeType::Map));
  YAML::Node faults(YAML::NodeType::Sequence);
  for (std::size_t i = 0; i < s.faults.size(); ++i) faults.push_back(YAML::Node(YAML::NodeType::Map));
  YAML::Node events(YAML::NodeType::Sequence);
  for (std::size_t i = 0; i < s.privacy.events.size(); ++i) events.push_back(YAML::Node(YAML::NodeType::Map));
  const bool custom = s.arrivals.profile == "custom";
  for (const auto& f : schema::fields()) {
    if (!custom && (f.path == "arrivals.entry_profile" || f.path == "arrivals.exit_profile")) continue;
    if (f.path == "face.calibration") continue;  // values are written out inline
    if (starts_with(f.path, "gates[].")) {
      for (std::size_t i = 0; i < s.gates.size(); ++i) {
        YAML::Node g = gates[i];
        if (const auto v = value_node(f, s, i)) put(g, f.path.substr(8), *v);
      }
      continue;
    }
    if (starts_with(f.path, "faults[].")) {
      for (std::size_t i = 0; i < s.faults.size(); ++i) {
        YAML::Node g = faults[i];
        if (const auto v = value_node(f, s, i)) put(g, f.path.substr(9), *v);
      }
      if (f.path == "faults[].jitter" && !s.faults.empty()) root["faults"] = faults;
      continue;
    }
    if (starts_with(f.path, "privacy.events[].")) {
      for (std::size_t i = 0; i < s.privacy.events.size(); ++i) {
        const PrivacyEventSpec& ev = s.privacy.events[i];
        const std::string key = f.path.substr(17);
        // Only the keys the event's kind uses (the loader refuses the others).
        if ((key == "share" && ev.kind == "purpose_change") || ((key == "purpose" || key == "reconsent_share") && ev.kind != "purpose_change")) continue;
        YAML::Node e = events[i];
        if (const auto v = value_node(f, s, i)) put(e, key, *v);
      }
      if (f.path == "privacy.events[].reconsent_share" && !s.privacy.events.empty()) root["privacy"]["events"] = events;
      continue;
    }
    const auto v = value_node(f, s, 0);
    if (!v) continue;
    put(root, f.path, *v);
    if (f.path == "arrivals.tailgating_share") root["gates"] = gates;  // keep gates near the top
  }
  YAML::Emitter out;
  out << root;
  // Quote clock times so that YAML 1.1 readers do not take 23:00:00 for a sexagesimal number. Only in the
  // top-level `day:` block: a text value (a name) may contain "  end: " too.
  std::string text = out.c_str();
  auto day = text.find("\nday:\n"), day_end = std::string::npos;
  if (day != std::string::npos) {
    day += 5;  // the block: from the end of "day:" to the first line that is not indented
    day_end = day;
    while (day_end != std::string::npos && day_end + 1 < text.size() && text[day_end + 1] == ' ')
      day_end = text.find('\n', day_end + 1);
  }
  for (const char* key : {"\n  start: ", "\n  end: "}) {
    const auto at = day == std::string::npos ? day : text.find(key, day);
    if (at < day_end) {
      const auto value = at + std::strlen(key);
      text.insert(text.find('\n', value), "\"");
      text.insert(value, "\"");
      if (day_end != std::string::npos) day_end += 2;
    }
  }
  return text + "\n";
}

std::string schema_markdown() {
  Scenario defaults;
  defaults.gates.push_back(GateSpec{"main", 1, QueueMode::per_lane, 1, 1.0, GateDirection::both, ""});
  defaults.faults.push_back(DeviceFaultSpec{});
  defaults.privacy.events.push_back(PrivacyEventSpec{});
  fill_profile("weekday", defaults.arrivals.entry_profile, defaults.arrivals.exit_profile);
  std::ostringstream md;
  for (const auto& [section, title] : schema::sections()) {
    md << "### " << (section.empty() ? "(top level)" : "`" + section + "`") << ": " << title << "\n\n";
    md << "| key | type | unit | default | range / values | meaning |\n|---|---|---|---|---|---|\n";
    for (const auto& f : schema::fields()) {
      const std::string top = f.path.substr(0, f.path.find_first_of(".["));
      const bool in_section = section.empty() ? f.path.find_first_of(".[") == std::string::npos : top == section;
      if (!in_section) continue;
      std::string type, range;
      switch (f.kind) {
        case Kind::integer: type = "integer"; break;
        case Kind::number: case Kind::seconds: case Kind::celsius: case Kind::optional_number: type = "number"; break;
        case Kind::share: type = "number or %"; break;
        case Kind::boolean: type = "true/false"; break;
        case Kind::text: type = "text"; break;
        case Kind::choice: type = "choice"; break;
        case Kind::clock: type = "time of day"; break;
        case Kind::profile: type = "list of 24 numbers"; break;
        case Kind::seed: type = "unsigned integer"; break;
        case Kind::choice_list: type = "list of names"; break;
      }
      if (f.kind == Kind::seconds) type += " (or with unit ms/s/min/h)";
      if (f.kind == Kind::celsius) type += " (or with unit °C)";
      if (f.kind == Kind::choice || f.kind == Kind::choice_list) {
        for (const auto& c : f.choices) range += (range.empty() ? "" : ", ") + ("`" + c + "`");
      } else if (f.kind == Kind::integer || f.kind == Kind::number || f.kind == Kind::share || f.kind == Kind::seconds ||
                 f.kind == Kind::celsius || f.kind == Kind::optional_number) {
        range = format_limit(f.min) + " – " + (std::isinf(f.max) ? std::string("∞") : format_limit(f.max));
      }
      std::string def;
      if (f.kind == Kind::optional_number && !f.opt_ref(defaults, 0)) {
        def = f.path == "thermal.noise_sd" ? "0.3 / 0.5" : "(none)";
      } else if (f.kind == Kind::profile) {
        def = "from `profile`";
      } else if (f.kind == Kind::choice_list) {
        for (const auto& name : f.list_ref(defaults, 0)) def += (def.empty() ? "" : ", ") + name;
        def = "[" + def + "]";
      } else {
        const auto v = value_node(f, defaults, 0);
        def = v && v->IsScalar() ? v->Scalar() : "";
        if (def.empty()) def = "\"\"";
      }
      md << "| `" << f.path << "` | " << type << " | " << f.unit << " | " << def << " | " << range << " | " << f.doc << " |\n";
    }
    md << "\n";
  }
  return md.str();
}

}  // namespace gatetwin::sim
