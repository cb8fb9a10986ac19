#pragma once
// Loading and validating scenario files. Every error names file:line:column and the field; all errors
// are collected and reported at once; unknown keys are errors (a misspelt key silently ignored is the
// worst bug a regression tool can have).
#include <optional>
#include <string>
#include <vector>

#include "gatetwin/sim/scenario.hpp"

namespace gatetwin::sim {

struct ScenarioError {
  std::string file;
  int line = 0;    // 1-based; 0 when the error is not tied to a place in the file
  int column = 0;  // 1-based
  std::string field;
  std::string message;
  std::string str() const;  // "file:line:column: field: message"
};

struct LoadResult {
  std::optional<Scenario> scenario;
  std::vector<ScenarioError> errors;
  bool ok() const { return scenario.has_value() && errors.empty(); }
};

// `overrides` are "path=value" strings (value in YAML syntax), applied after the file, e.g.
// "policy.fever_threshold=37.5" or "gates[0].lanes=3". Errors in them name "--set" as the file.
LoadResult load_scenario_file(const std::string& path, const std::vector<std::string>& overrides = {});
LoadResult load_scenario_text(const std::string& yaml_text, const std::string& display_name,
                              const std::vector<std::string>& overrides = {});

// The fully resolved scenario as YAML (every field, defaults included). Loading it gives the same scenario.
std::string to_yaml(const Scenario& scenario);

// docs/scenarios.md's reference section, generated from the schema.
std::string schema_markdown();

// "hh:mm" or "hh:mm:ss" (00:00 to 24:00) as a simulated time of day; nullopt for anything else.
std::optional<SimTime> parse_time_of_day(const std::string& text);

}  // namespace gatetwin::sim
