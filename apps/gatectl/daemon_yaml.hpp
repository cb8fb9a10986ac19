#pragma once
// Checked YAML reading for gatectl's configuration files: every problem is collected as
// "file:line:column: field: message" and thrown at once (ConfigError), as the scenario loader does.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "policy_file.hpp"

namespace gatetwin::gatectl::yaml_check {

// Collects "file:line:column: field: message" lines; throws them all at once.
class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}
  void at(const YAML::Node& n, const std::string& field, const std::string& msg) {
    std::ostringstream os;
    os << file_ << ':' << n.Mark().line + 1 << ':' << n.Mark().column + 1 << ": " << field << ": " << msg;
    lines_.push_back(os.str());
  }
  void throw_if_any() const {
    if (lines_.empty()) return;
    std::string all;
    for (const auto& l : lines_) all += l + "\n";
    all += std::to_string(lines_.size()) + " error(s)\n";
    throw ConfigError(all);
  }

 private:
  std::string file_;
  std::vector<std::string> lines_;
};

inline YAML::Node load_yaml(const std::filesystem::path& file, const char* what) {
  try {
    return YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw ConfigError(file.string() + ": cannot read the " + what);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(file.string() + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                      ": " + e.msg);
  }
}

// Reports keys of `map` not in `known` (with the known ones listed, so a misspelling is obvious).
inline void check_keys(Errors& err, const YAML::Node& map, const std::string& prefix, const std::vector<std::string>& known) {
  for (const auto& kv : map) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    err.at(kv.first, prefix + key, "unknown key (known: " + list + ")");
  }
}

inline std::optional<std::string> text(Errors& err, const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar() || n.Scalar().empty()) {
    err.at(n, field, "must be a non-empty text");
    return std::nullopt;
  }
  return n.Scalar();
}

inline std::optional<double> number(Errors& err, const YAML::Node& n, const std::string& field, double lo, double hi) {
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) {
    err.at(n, field, "must be a number");
    return std::nullopt;
  }
  if (v < lo || v > hi) {
    std::ostringstream os;
    os << "must be in [" << lo << ", " << hi << "], got " << n.Scalar();
    err.at(n, field, os.str());
    return std::nullopt;
  }
  return v;
}

inline std::optional<long long> integer(Errors& err, const YAML::Node& n, const std::string& field, long long lo, long long hi) {
  long long v = 0;
  if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v) || v < lo || v > hi) {
    err.at(n, field, "must be a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return std::nullopt;
  }
  return v;
}

inline std::optional<bool> boolean(Errors& err, const YAML::Node& n, const std::string& field) {
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    err.at(n, field, "must be true or false");
    return std::nullopt;
  }
  return v;
}

}  // namespace gatetwin::gatectl::yaml_check
