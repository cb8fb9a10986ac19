#pragma once
// The scenario schema: one entry per field, with its type, unit, range, meaning and an accessor into
// Scenario. The loader, the YAML writer and docs/scenarios.md all come from this one table.
#include <functional>
#include <string>
#include <vector>

#include "gatetwin/sim/scenario.hpp"

namespace gatetwin::sim::schema {

enum class Kind { integer, number, share, seconds, celsius, boolean, text, choice, clock, profile, optional_number, seed, choice_list };

struct Field {
  std::string path;     // "population.households"; gates use "gates[].lanes"
  Kind kind;
  std::string unit;     // shown in docs: "persons", "s", "°C", "share 0–1"
  double min = 0.0;     // inclusive range for numeric kinds
  double max = 0.0;
  std::vector<std::string> choices;  // for Kind::choice and Kind::choice_list
  std::string doc;
  // Accessors; only the one matching `kind` is set. `i` is the index for list sections (gates).
  std::function<int&(Scenario&, std::size_t i)> int_ref;
  std::function<double&(Scenario&, std::size_t i)> num_ref;
  std::function<bool&(Scenario&, std::size_t i)> bool_ref;
  std::function<std::string&(Scenario&, std::size_t i)> text_ref;
  std::function<std::optional<double>&(Scenario&, std::size_t i)> opt_ref;
  std::function<SimTime&(Scenario&, std::size_t i)> clock_ref;
  std::function<std::array<double, 24>&(Scenario&, std::size_t i)> profile_ref;
  std::function<std::uint64_t&(Scenario&, std::size_t i)> seed_ref;
  std::function<std::vector<std::string>&(Scenario&, std::size_t i)> list_ref;  // choice_list: distinct names from `choices`
  // Choice fields convert through strings.
  std::function<void(Scenario&, std::size_t i, const std::string&)> set_choice;
  std::function<std::string(const Scenario&, std::size_t i)> get_choice;
};

const std::vector<Field>& fields();
const Field* find(const std::string& path);
// Section docs, in display order: {"population", "who lives in the compound"}.
const std::vector<std::pair<std::string, std::string>>& sections();

}  // namespace gatetwin::sim::schema
