#include "policy_file.hpp"

#include <functional>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace gatetwin::gatectl {

recognizer::Policy load_policy(const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw ConfigError(file.string() + ": cannot read the policy file");
  } catch (const YAML::ParserException& e) {
    throw ConfigError(file.string() + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                      ": " + e.msg);
  }
  recognizer::Policy p;
  if (root.IsNull()) return p;
  if (!root.IsMap()) throw ConfigError(file.string() + ": a policy file is a YAML mapping of policy keys");
  std::vector<std::string> errors;
  auto at = [&](const YAML::Node& n, const std::string& key, const std::string& msg) {
    std::ostringstream os;
    os << file.string() << ':' << n.Mark().line + 1 << ':' << n.Mark().column + 1 << ": " << key << ": " << msg;
    errors.push_back(os.str());
  };
  auto number = [&](double& out, double lo, double hi) {
    return [&out, lo, hi, &at](const YAML::Node& n, const std::string& key) {
      double v = 0;
      if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) return at(n, key, "must be a number");
      if (!(v >= lo && v <= hi)) {
        std::ostringstream os;
        os << "must be in [" << lo << ", " << hi << "], got " << n.Scalar();
        return at(n, key, os.str());
      }
      out = v;
    };
  };
  auto flag = [&](bool& out) {
    return [&out, &at](const YAML::Node& n, const std::string& key) {
      bool v = false;
      if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) return at(n, key, "must be true or false");
      out = v;
    };
  };
  auto count = [&](int& out, int lo, int hi) {
    return [&out, lo, hi, &at](const YAML::Node& n, const std::string& key) {
      int v = 0;
      if (!n.IsScalar() || !YAML::convert<int>::decode(n, v) || v < lo || v > hi)
        return at(n, key, "must be a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      out = v;
    };
  };
  auto choice = [&](auto& out, auto parse, const char* allowed) {
    return [&out, parse, allowed, &at](const YAML::Node& n, const std::string& key) {
      const auto v = n.IsScalar() ? parse(n.Scalar()) : decltype(parse(std::string()))();
      if (!v) return at(n, key, std::string("must be one of ") + allowed);
      out = *v;
    };
  };
  std::map<std::string, std::function<void(const YAML::Node&, const std::string&)>> keys{
      {"threshold_unmasked", number(p.threshold_unmasked, -1.0, 1.0)},
      {"threshold_masked", number(p.threshold_masked, -1.0, 1.0)},
      {"mask", choice(p.mask, [](const std::string& s) { return recognizer::parse_mask_policy(s); }, "off, remind, require")},
      {"fever_threshold_c", number(p.fever_threshold_c, 34.0, 42.0)},
      {"compensation_c", number(p.compensation_c, -3.0, 3.0)},
      {"temperature_mode", choice(p.temperature_mode, [](const std::string& s) { return recognizer::parse_temperature_mode(s); },
                                  "before_identity, after_identity, only, off")},
      {"open_on_abnormal_temperature", flag(p.open_on_abnormal_temperature)},
      {"remeasure_on_alarm", flag(p.remeasure_on_alarm)},
      {"staff_secondary_check", flag(p.staff_secondary_check)},
      {"max_face_attempts", count(p.max_face_attempts, 1, 10)},
      {"card_allowed", flag(p.card_allowed)},
      {"card_requires_face", flag(p.card_requires_face)},
      {"visitors", choice(p.visitors, [](const std::string& s) { return recognizer::parse_visitor_handling(s); },
                          "staff_registration, deny")},
      {"quarantine_exit_denied", flag(p.quarantine_exit_denied)},
      {"health_code_check", flag(p.health_code_check)},
  };
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    auto it = keys.find(key);
    if (it == keys.end()) {
      std::string known;
      for (const auto& k : keys) known += (known.empty() ? "" : ", ") + k.first;
      at(kv.first, key, "unknown policy key (known: " + known + ")");
      continue;
    }
    it->second(kv.second, key);
  }
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += e + "\n";
    throw ConfigError(all);
  }
  return p;
}

}  // namespace gatetwin::gatectl
