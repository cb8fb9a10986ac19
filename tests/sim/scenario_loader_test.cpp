// The scenario loader: defaults, every class of error (with its exact file:line:column and field), units,
// gates, `--set` overrides, calibration files, custom profiles, the YAML round trip and the generated
// schema reference. Data files live in tests/data/good and tests/data/bad (each says what it exercises);
// the tests run with the repository root as the working directory.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gatetwin/sim/scenario_loader.hpp"

namespace gs = gatetwin::sim;

namespace {

const std::string kGood = "tests/data/good/";
const std::string kBad = "tests/data/bad/";

std::string all_errors(const gs::LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += "  " + e.str() + "\n";
  return out;
}

// Loads a file that must be valid; fails the test (and returns a default scenario) otherwise.
gs::Scenario load_ok(const std::string& path, const std::vector<std::string>& sets = {}) {
  const auto r = gs::load_scenario_file(path, sets);
  EXPECT_TRUE(r.ok()) << path << ":\n" << all_errors(r);
  return r.scenario ? *r.scenario : gs::Scenario{};
}

gs::Scenario text_ok(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  const auto r = gs::load_scenario_text(yaml, "inline.yaml", sets);
  EXPECT_TRUE(r.ok()) << yaml << "\n" << all_errors(r);
  return r.scenario ? *r.scenario : gs::Scenario{};
}

// The exact "file:line:column: field: " prefix of an error.
std::string place(const std::string& file, int line, int column, const std::string& field) {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + field + ": ";
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// Checks that a file gives exactly one error, at file:line:column on `field`, whose message contains `text`.
void expect_one_error(const std::string& path, int line, int column, const std::string& field, const std::string& text,
                      const std::vector<std::string>& sets = {}) {
  SCOPED_TRACE(path);
  const auto r = gs::load_scenario_file(path, sets);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.scenario.has_value()) << "a scenario with errors must not be returned";
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  const auto& e = r.errors[0];
  EXPECT_EQ(e.file, path);
  EXPECT_EQ(e.line, line);
  EXPECT_EQ(e.column, column);
  EXPECT_EQ(e.field, field);
  const std::string s = e.str();
  EXPECT_EQ(s.rfind(place(path, line, column, field), 0), 0u) << s;
  EXPECT_TRUE(contains(e.message, text)) << "message: " << e.message << "\nexpected to contain: " << text;
}

// The first error of an override-only failure (no file errors).
gs::ScenarioError only_override_error(const std::string& path, const std::vector<std::string>& sets) {
  const auto r = gs::load_scenario_file(path, sets);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
  return r.errors.empty() ? gs::ScenarioError{} : r.errors[0];
}

// The defaults a file without gates must resolve to.
gs::Scenario default_scenario(const std::string& name) {
  gs::Scenario s;
  s.name = name;
  gs::GateSpec g;
  g.name = "main";
  g.lanes = 2;
  s.gates.push_back(g);
  gs::fill_profile("weekday", s.arrivals.entry_profile, s.arrivals.exit_profile);
  return s;
}

// Field-by-field comparison of the parts of a scenario that a run depends on.
void expect_same(const gs::Scenario& a, const gs::Scenario& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.fidelity, b.fidelity);
  EXPECT_EQ(a.day_start, b.day_start);
  EXPECT_EQ(a.day_end, b.day_end);
  EXPECT_EQ(a.day_index, b.day_index);
  const auto &pa = a.population, &pb = b.population;
  EXPECT_EQ(pa.households, pb.households);
  EXPECT_EQ(pa.persons_per_household, pb.persons_per_household);
  EXPECT_EQ(pa.face_enrolled_share, pb.face_enrolled_share);
  EXPECT_EQ(pa.refuse_face_share, pb.refuse_face_share);
  EXPECT_EQ(pa.card_holder_share, pb.card_holder_share);
  EXPECT_EQ(pa.mask_always_share, pb.mask_always_share);
  EXPECT_EQ(pa.mask_never_share, pb.mask_never_share);
  EXPECT_EQ(pa.fever_prevalence, pb.fever_prevalence);
  EXPECT_EQ(pa.quarantined, pb.quarantined);
  EXPECT_EQ(pa.visitors_per_day, pb.visitors_per_day);
  EXPECT_EQ(pa.health_code_yellow_share, pb.health_code_yellow_share);
  EXPECT_EQ(pa.health_code_red_share, pb.health_code_red_share);
  EXPECT_EQ(a.arrivals.trips_per_resident, b.arrivals.trips_per_resident);
  EXPECT_EQ(a.arrivals.profile, b.arrivals.profile);
  EXPECT_EQ(a.arrivals.entry_profile, b.arrivals.entry_profile);
  EXPECT_EQ(a.arrivals.exit_profile, b.arrivals.exit_profile);
  EXPECT_EQ(a.arrivals.group_size_mean, b.arrivals.group_size_mean);
  EXPECT_EQ(a.arrivals.tailgating_share, b.arrivals.tailgating_share);
  ASSERT_EQ(a.gates.size(), b.gates.size());
  for (std::size_t i = 0; i < a.gates.size(); ++i) {
    SCOPED_TRACE("gate " + std::to_string(i));
    EXPECT_EQ(a.gates[i].name, b.gates[i].name);
    EXPECT_EQ(a.gates[i].lanes, b.gates[i].lanes);
    EXPECT_EQ(a.gates[i].queue, b.gates[i].queue);
    EXPECT_EQ(a.gates[i].staff, b.gates[i].staff);
    EXPECT_EQ(a.gates[i].traffic_share, b.gates[i].traffic_share);
    EXPECT_EQ(a.gates[i].direction, b.gates[i].direction);
  }
  EXPECT_EQ(a.service.walk_up.mean_s, b.service.walk_up.mean_s);
  EXPECT_EQ(a.service.walk_up.sd_s, b.service.walk_up.sd_s);
  EXPECT_EQ(a.service.staff_check.mean_s, b.service.staff_check.mean_s);
  EXPECT_EQ(a.service.staff_check.sd_s, b.service.staff_check.sd_s);
  EXPECT_EQ(a.service.exponential, b.service.exponential);
  EXPECT_EQ(a.service.exponential_mean_s, b.service.exponential_mean_s);
  EXPECT_EQ(a.face.genuine_unmasked.mean, b.face.genuine_unmasked.mean);
  EXPECT_EQ(a.face.genuine_masked.mean, b.face.genuine_masked.mean);
  EXPECT_EQ(a.face.impostor.mean, b.face.impostor.mean);
  EXPECT_EQ(a.face.impostor.sd, b.face.impostor.sd);
  EXPECT_EQ(a.face.fta_masked, b.face.fta_masked);
  EXPECT_EQ(a.thermal.blackbody_reference, b.thermal.blackbody_reference);
  EXPECT_EQ(a.thermal.noise_sd_c, b.thermal.noise_sd_c);
  EXPECT_EQ(a.thermal.ambient_c, b.thermal.ambient_c);
  EXPECT_EQ(a.thermal.bias_c, b.thermal.bias_c);
  EXPECT_EQ(a.card.format, b.card.format);
  EXPECT_EQ(a.card.read_error, b.card.read_error);
  EXPECT_EQ(a.staff.permit_check_accuracy, b.staff.permit_check_accuracy);
  EXPECT_EQ(a.policy.threshold_unmasked, b.policy.threshold_unmasked);
  EXPECT_EQ(a.policy.threshold_masked, b.policy.threshold_masked);
  EXPECT_EQ(a.policy.mask, b.policy.mask);
  EXPECT_EQ(a.policy.fever_threshold_c, b.policy.fever_threshold_c);
  EXPECT_EQ(a.policy.compensation_c, b.policy.compensation_c);
  EXPECT_EQ(a.policy.temperature_mode, b.policy.temperature_mode);
  EXPECT_EQ(a.policy.max_face_attempts, b.policy.max_face_attempts);
  EXPECT_EQ(a.policy.card_allowed, b.policy.card_allowed);
  EXPECT_EQ(a.policy.card_requires_face, b.policy.card_requires_face);
  EXPECT_EQ(a.policy.visitors, b.policy.visitors);
  EXPECT_EQ(a.policy.health_code_check, b.policy.health_code_check);
  EXPECT_EQ(a.expect.far_max, b.expect.far_max);
  EXPECT_EQ(a.expect.frr_max, b.expect.frr_max);
  EXPECT_EQ(a.expect.p95_wait_s_max, b.expect.p95_wait_s_max);
  EXPECT_EQ(a.expect.unauthorised_entries_max, b.expect.unauthorised_entries_max);
  EXPECT_EQ(a.expect.passages_min, b.expect.passages_min);
}

// load -> to_yaml -> load_scenario_text -> to_yaml must be a fixed point, with the same scenario.
void expect_round_trip(const gs::Scenario& s, const std::string& what) {
  SCOPED_TRACE(what);
  const std::string y1 = gs::to_yaml(s);
  const auto r = gs::load_scenario_text(y1, what + " (resolved)");
  ASSERT_TRUE(r.ok()) << all_errors(r) << y1;
  const std::string y2 = gs::to_yaml(*r.scenario);
  EXPECT_EQ(y1, y2);
  expect_same(s, *r.scenario);
}

// Leaf paths of the YAML that to_yaml writes ("population.households", "gates[].lanes"), by indentation.
std::vector<std::string> leaf_paths(const std::string& yaml) {
  std::vector<std::pair<std::size_t, std::string>> stack;  // (indent, key) of the open sections
  std::vector<std::string> out;
  std::istringstream in(yaml);
  std::string line;
  while (std::getline(in, line)) {
    std::size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    std::string content = line.substr(indent);
    if (content.rfind("- ", 0) == 0) {  // a list item: the enclosing key is a list
      if (!stack.empty() && stack.back().second.find("[]") == std::string::npos) stack.back().second += "[]";
      content = content.substr(2);
      indent += 2;
    }
    while (!stack.empty() && stack.back().first >= indent) stack.pop_back();
    const auto colon = content.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = content.substr(0, colon);
    std::string prefix;
    for (const auto& [ind, k] : stack) prefix += k + ".";
    if (content.find_first_not_of(' ', colon + 1) == std::string::npos) {
      stack.emplace_back(indent, key);
    } else {
      out.push_back(prefix + key);
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Defaults

TEST(ScenarioLoader, MinimalFileTakesEveryDefaultAndOneMainGateWithTwoLanes) {
  const gs::Scenario s = load_ok(kGood + "minimal.yaml");
  const gs::Scenario d;
  EXPECT_EQ(s.name, "minimal");
  EXPECT_EQ(s.source_file, kGood + "minimal.yaml");
  EXPECT_EQ(s.description, d.description);
  EXPECT_EQ(s.seed, d.seed);
  EXPECT_EQ(s.fidelity, "statistical");
  EXPECT_EQ(s.day_start, d.day_start);
  EXPECT_EQ(s.day_end, d.day_end);
  EXPECT_EQ(s.day_index, 0);
  EXPECT_EQ(s.population.households, d.population.households);
  EXPECT_EQ(s.population.persons_per_household, d.population.persons_per_household);
  EXPECT_EQ(s.population.face_enrolled_share, d.population.face_enrolled_share);
  EXPECT_EQ(s.population.fever_prevalence, d.population.fever_prevalence);
  EXPECT_EQ(s.population.quarantine_days_max, d.population.quarantine_days_max);
  EXPECT_EQ(s.population.visitors_per_day, d.population.visitors_per_day);
  EXPECT_EQ(s.arrivals.trips_per_resident, d.arrivals.trips_per_resident);
  EXPECT_EQ(s.arrivals.profile, "weekday");
  EXPECT_EQ(s.arrivals.group_size_mean, d.arrivals.group_size_mean);
  EXPECT_EQ(s.service.walk_up.mean_s, d.service.walk_up.mean_s);
  EXPECT_EQ(s.service.staff_check.sd_s, d.service.staff_check.sd_s);
  EXPECT_EQ(s.service.exponential, d.service.exponential);
  EXPECT_EQ(s.face.calibration, "");
  EXPECT_EQ(s.face.genuine_masked.mean, d.face.genuine_masked.mean);
  EXPECT_EQ(s.face.impostor.sd, d.face.impostor.sd);
  EXPECT_EQ(s.face.mask_classifier_accuracy, d.face.mask_classifier_accuracy);
  EXPECT_EQ(s.thermal.blackbody_reference, d.thermal.blackbody_reference);
  EXPECT_FALSE(s.thermal.noise_sd_c.has_value());
  EXPECT_DOUBLE_EQ(s.thermal.noise_sd(), 0.3);
  EXPECT_EQ(s.thermal.core_fever_mean_c, d.thermal.core_fever_mean_c);
  EXPECT_EQ(s.card.format, "w26");
  EXPECT_EQ(s.card.read_error, d.card.read_error);
  EXPECT_EQ(s.staff.permit_check_accuracy, d.staff.permit_check_accuracy);
  EXPECT_EQ(s.policy.threshold_unmasked, d.policy.threshold_unmasked);
  EXPECT_EQ(s.policy.fever_threshold_c, d.policy.fever_threshold_c);
  EXPECT_EQ(s.policy.mask, d.policy.mask);
  EXPECT_EQ(s.policy.temperature_mode, d.policy.temperature_mode);
  EXPECT_EQ(s.policy.visitors, d.policy.visitors);
  EXPECT_EQ(s.policy.max_face_attempts, d.policy.max_face_attempts);
  EXPECT_FALSE(s.expect.far_max.has_value());
  EXPECT_FALSE(s.expect.p95_wait_s_max.has_value());
  EXPECT_FALSE(s.expect.passages_min.has_value());

  // The built-in weekday profile is filled in.
  std::array<double, 24> entry{}, exit{};
  ASSERT_TRUE(gs::fill_profile("weekday", entry, exit));
  EXPECT_EQ(s.arrivals.entry_profile, entry);
  EXPECT_EQ(s.arrivals.exit_profile, exit);

  ASSERT_EQ(s.gates.size(), 1u);
  EXPECT_EQ(s.gates[0].name, "main");
  EXPECT_EQ(s.gates[0].lanes, 2);
  EXPECT_EQ(s.gates[0].queue, gs::QueueMode::per_lane);
  EXPECT_EQ(s.gates[0].staff, 1);
  EXPECT_EQ(s.gates[0].traffic_share, 1.0);
  EXPECT_EQ(s.gates[0].direction, gs::GateDirection::both);

  // Every field at once: the resolved YAML equals that of a default-constructed scenario.
  EXPECT_EQ(gs::to_yaml(s), gs::to_yaml(default_scenario("minimal")));
}

// ---------------------------------------------------------------------------------------------------
// One test per class of error, each with its exact place and field

TEST(ScenarioLoaderErrors, UnknownTopLevelKey) {
  expect_one_error(kBad + "unknown_top_key.yaml", 3, 1, "colour", "unknown key");
  // No close name: the known keys of that level are listed.
  const auto r = gs::load_scenario_file(kBad + "unknown_top_key.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(contains(r.errors[0].message, "population")) << r.errors[0].message;
}

TEST(ScenarioLoaderErrors, MisspeltNestedKeySuggestsTheRightOne) {
  expect_one_error(kBad + "misspelt_nested_key.yaml", 4, 3, "population.housholds", "did you mean 'households'?");
  const auto r = gs::load_scenario_file(kBad + "misspelt_nested_key.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].str(), place(kBad + "misspelt_nested_key.yaml", 4, 3, "population.housholds") +
                                   "unknown key (did you mean 'households'?)");
}

TEST(ScenarioLoaderErrors, MisspeltTopLevelKeySuggestsTheRightOne) {
  const auto r = gs::load_scenario_text("name: x\npolcy:\n  mask: off\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str(), "inline.yaml:2:1: polcy: unknown key (did you mean 'policy'?)");
}

TEST(ScenarioLoaderErrors, MisspeltGateKeySuggestsTheRightOne) {
  const auto r = gs::load_scenario_text("gates:\n  - name: a\n    lane: 2\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str(), "inline.yaml:3:5: gates[0].lane: unknown key (did you mean 'lanes'?)");
}

TEST(ScenarioLoaderErrors, TextForAnInteger) {
  expect_one_error(kBad + "wrong_type.yaml", 4, 15, "population.households", "got 'abc'");
  const auto r = gs::load_scenario_file(kBad + "wrong_type.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(contains(r.errors[0].message, "expected a number")) << r.errors[0].message;
}

TEST(ScenarioLoaderErrors, FractionalInteger) {
  expect_one_error(kBad + "fractional_integer.yaml", 4, 15, "population.households", "whole number");
  const auto r = gs::load_scenario_file(kBad + "fractional_integer.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(contains(r.errors[0].message, "2.5")) << r.errors[0].message;
}

TEST(ScenarioLoaderErrors, ShareAboveOne) {
  expect_one_error(kBad + "share_out_of_range.yaml", 4, 21, "population.fever_prevalence", "must be between 0 and 1");
  const auto r = gs::load_scenario_file(kBad + "share_out_of_range.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(contains(r.errors[0].message, "got 1.5")) << r.errors[0].message;
}

TEST(ScenarioLoaderErrors, NegativeRate) {
  expect_one_error(kBad + "negative_rate.yaml", 4, 21, "population.visitors_per_day", "must be between 0 and");
  const auto r = gs::load_scenario_file(kBad + "negative_rate.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(contains(r.errors[0].message, "got -3")) << r.errors[0].message;
}

TEST(ScenarioLoader, PixelDemographicsAreNamedPopulations) {
  EXPECT_EQ(text_ok("seed: 1\n").pixel.demographics, "balanced");
  EXPECT_EQ(text_ok("seed: 1\npixel:\n  demographics: beijing\n").pixel.demographics, "beijing");
  const auto r = gs::load_scenario_text("seed: 1\npixel:\n  demographics: paris\n", "inline.yaml", {});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(contains(r.errors[0].str(), "inline.yaml:3:17: pixel.demographics:")) << r.errors[0].str();
  EXPECT_TRUE(contains(r.errors[0].message, "balanced, beijing")) << r.errors[0].message;
}

TEST(ScenarioLoaderErrors, UnknownEnumValueListsTheAllowedValues) {
  expect_one_error(kBad + "unknown_enum.yaml", 4, 9, "policy.mask",
                   "unknown value 'sometimes' (expected one of: off, remind, require)");
}

TEST(ScenarioLoaderErrors, ImpossibleClockTime) {
  expect_one_error(kBad + "bad_clock.yaml", 4, 10, "day.start", "'25:00'");
}

TEST(ScenarioLoaderErrors, ClockFormats) {
  EXPECT_EQ(text_ok("day:\n  start: \"07:30\"\n").day_start, std::chrono::hours(7) + std::chrono::minutes(30));
  EXPECT_EQ(text_ok("day:\n  start: \"07:30:15\"\n").day_start,
            std::chrono::hours(7) + std::chrono::minutes(30) + std::chrono::seconds(15));
  EXPECT_EQ(text_ok("day:\n  end: \"24:00\"\n").day_end, std::chrono::hours(24));
  for (const char* bad : {"24:01", "07:60", "07:30:60", "7", "seven", "07:30:00:00", "-1:00"}) {
    SCOPED_TRACE(bad);
    const auto r = gs::load_scenario_text(std::string("day:\n  start: \"") + bad + "\"\n", "inline.yaml");
    ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
    EXPECT_EQ(r.errors[0].str().rfind("inline.yaml:2:10: day.start: ", 0), 0u) << r.errors[0].str();
  }
}

TEST(ScenarioLoaderErrors, DayEndBeforeDayStart) {
  expect_one_error(kBad + "day_end_before_start.yaml", 5, 8, "day.end", "later than day.start");
}

TEST(ScenarioLoaderErrors, DuplicateKey) {
  expect_one_error(kBad + "duplicate_key.yaml", 5, 3, "population.households", "duplicate key");
}

TEST(ScenarioLoaderErrors, ListWhereAMappingIsExpected) {
  expect_one_error(kBad + "list_for_mapping.yaml", 3, 13, "population", "expected a mapping");
}

TEST(ScenarioLoaderErrors, MappingWhereAValueIsExpected) {
  const auto r = gs::load_scenario_text("population:\n  households: {a: 1}\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str(), "inline.yaml:2:15: population.households: expected a single value, got a mapping");
}

TEST(ScenarioLoaderErrors, MissingValue) {
  expect_one_error(kBad + "missing_value.yaml", 4, 3, "population.households", "missing value");
}

TEST(ScenarioLoaderErrors, YamlSyntaxErrorGivesTheParsersPlace) {
  const std::string path = kBad + "syntax_error.yaml";
  const auto r = gs::load_scenario_file(path);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  const auto& e = r.errors[0];
  EXPECT_EQ(e.file, path);
  EXPECT_EQ(e.line, 4);
  EXPECT_EQ(e.column, 18);
  EXPECT_EQ(e.field, "");
  EXPECT_TRUE(contains(e.message, "YAML syntax error")) << e.message;
  EXPECT_EQ(e.str().rfind(path + ":4:18: YAML syntax error", 0), 0u) << e.str();
}

TEST(ScenarioLoaderErrors, MissingFile) {
  const std::string path = kBad + "does_not_exist.yaml";
  const auto r = gs::load_scenario_file(path);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_EQ(r.errors[0].str(), path + ": cannot open the scenario file");
}

TEST(ScenarioLoaderErrors, DirectoryInsteadOfAFile) {
  gs::LoadResult r;
  EXPECT_NO_THROW(r = gs::load_scenario_file("tests/data"));
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].file, "tests/data");
}

TEST(ScenarioLoaderErrors, EmptyFile) {
  const std::string path = kBad + "empty.yaml";
  const auto r = gs::load_scenario_file(path);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str(), path + ": the file is empty");
  // Zero bytes as well.
  const auto z = gs::load_scenario_text("", "zero.yaml");
  ASSERT_EQ(z.errors.size(), 1u) << all_errors(z);
  EXPECT_EQ(z.errors[0].str(), "zero.yaml: the file is empty");
}

TEST(ScenarioLoaderErrors, TopLevelList) {
  const std::string path = kBad + "top_level_list.yaml";
  const auto r = gs::load_scenario_file(path);
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str(), path + ":2:1: the top level must be a mapping of settings");
}

TEST(ScenarioLoaderErrors, TopLevelScalar) {
  const auto r = gs::load_scenario_text("just some text\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_TRUE(contains(r.errors[0].message, "top level must be a mapping")) << r.errors[0].str();
}

TEST(ScenarioLoaderErrors, BooleanMustBeTrueOrFalse) {
  const auto r = gs::load_scenario_text("policy:\n  card_allowed: maybe\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str(), "inline.yaml:2:17: policy.card_allowed: expected true or false, got 'maybe'");
}

TEST(ScenarioLoaderErrors, SeedMustBeAnUnsignedInteger) {
  EXPECT_EQ(text_ok("seed: 18446744073709551615\n").seed, 18446744073709551615ull);
  for (const char* bad : {"-1", "1.5", "abc", "18446744073709551616"}) {
    SCOPED_TRACE(bad);
    const auto r = gs::load_scenario_text(std::string("seed: ") + bad + "\n", "inline.yaml");
    ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
    EXPECT_EQ(r.errors[0].str().rfind("inline.yaml:1:7: seed: ", 0), 0u) << r.errors[0].str();
  }
}

TEST(ScenarioLoaderErrors, CrossFieldShareSums) {
  const auto r = gs::load_scenario_text("population:\n  mask_always_share: 0.8\n  mask_never_share: 0.3\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str().rfind("inline.yaml:3:21: population.mask_never_share: ", 0), 0u) << r.errors[0].str();
  const auto t = gs::load_scenario_text("policy:\n  threshold_unmasked: 0.5\n  threshold_masked: 0.6\n", "inline.yaml");
  ASSERT_EQ(t.errors.size(), 1u) << all_errors(t);
  EXPECT_EQ(t.errors[0].str().rfind("inline.yaml:3:21: policy.threshold_masked: ", 0), 0u) << t.errors[0].str();
}

TEST(ScenarioLoaderErrors, AllErrorsAreReportedSortedByLine) {
  const std::string path = kBad + "four_errors.yaml";
  const auto r = gs::load_scenario_file(path);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 4u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str().rfind(place(path, 5, 8, "day.end"), 0), 0u) << r.errors[0].str();
  EXPECT_EQ(r.errors[1].str(), place(path, 7, 3, "population.househods") + "unknown key (did you mean 'households'?)");
  EXPECT_EQ(r.errors[2].str().rfind(place(path, 8, 21, "population.fever_prevalence"), 0), 0u) << r.errors[2].str();
  EXPECT_EQ(r.errors[3].str().rfind(place(path, 10, 9, "policy.mask"), 0), 0u) << r.errors[3].str();
  for (std::size_t i = 1; i < r.errors.size(); ++i) EXPECT_LT(r.errors[i - 1].line, r.errors[i].line);
}

// ---------------------------------------------------------------------------------------------------
// Units

TEST(ScenarioLoaderUnits, ConvertedToTheFieldsUnit) {
  const gs::Scenario s = load_ok(kGood + "units.yaml");
  EXPECT_DOUBLE_EQ(s.service.walk_up.mean_s, 1.5);
  EXPECT_DOUBLE_EQ(s.service.walk_up.sd_s, 0.5);
  EXPECT_DOUBLE_EQ(s.service.staff_check.mean_s, 120.0);
  EXPECT_DOUBLE_EQ(s.service.staff_check.sd_s, 36.0);
  EXPECT_DOUBLE_EQ(s.population.face_enrolled_share, 0.9);
  EXPECT_DOUBLE_EQ(s.policy.fever_threshold_c, 37.5);
  EXPECT_DOUBLE_EQ(s.policy.compensation_c, 0.4);
  EXPECT_DOUBLE_EQ(s.thermal.ambient_c, -5.0);
  ASSERT_TRUE(s.thermal.noise_sd_c.has_value());
  EXPECT_DOUBLE_EQ(*s.thermal.noise_sd_c, 0.4);
  ASSERT_TRUE(s.expect.p95_wait_s_max.has_value());
  EXPECT_DOUBLE_EQ(*s.expect.p95_wait_s_max, 120.0);
  ASSERT_TRUE(s.expect.far_max.has_value());
  EXPECT_DOUBLE_EQ(*s.expect.far_max, 0.01);
}

TEST(ScenarioLoaderUnits, CelsiusWithAndWithoutTheDegreeSign) {
  EXPECT_DOUBLE_EQ(text_ok("policy:\n  fever_threshold: 37.5 °C\n").policy.fever_threshold_c, 37.5);
  EXPECT_DOUBLE_EQ(text_ok("policy:\n  fever_threshold: 37.5 C\n").policy.fever_threshold_c, 37.5);
  EXPECT_DOUBLE_EQ(text_ok("policy:\n  fever_threshold: \"37.5°C\"\n").policy.fever_threshold_c, 37.5);
  EXPECT_DOUBLE_EQ(text_ok("service:\n  card: {mean: 1500 ms}\n").service.card.mean_s, 1.5);
  EXPECT_DOUBLE_EQ(text_ok("service:\n  card: {mean: 2 min}\n").service.card.mean_s, 120.0);
  EXPECT_DOUBLE_EQ(text_ok("population:\n  fever_prevalence: 90%\n").population.fever_prevalence, 0.9);
}

TEST(ScenarioLoaderUnits, UnitIsCheckedAgainstTheRangeAfterConversion) {
  // 2 h = 7200 s is above the 3600 s limit of a service time.
  const auto r = gs::load_scenario_text("service:\n  card:\n    mean: 2 h\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str().rfind("inline.yaml:3:11: service.card.mean: must be between 0 and 3600", 0), 0u)
      << r.errors[0].str();
  // 150% is above 1.
  const auto p = gs::load_scenario_text("population:\n  fever_prevalence: 150%\n", "inline.yaml");
  ASSERT_EQ(p.errors.size(), 1u) << all_errors(p);
  EXPECT_EQ(p.errors[0].field, "population.fever_prevalence");
}

TEST(ScenarioLoaderUnits, WrongUnitIsAnErrorNamingTheUnit) {
  const std::string path = kBad + "wrong_units.yaml";
  const auto r = gs::load_scenario_file(path);
  ASSERT_EQ(r.errors.size(), 3u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str(), place(path, 4, 11, "service.walk_up.mean") + "unit 'kg' does not fit this field (unit: s)");
  EXPECT_EQ(r.errors[1].str(), place(path, 6, 11, "service.card.mean") + "unit '%' does not fit this field (unit: s)");
  EXPECT_EQ(r.errors[2].str().rfind(place(path, 8, 24, "population.face_enrolled_share") + "unit 'ms' does not fit", 0), 0u)
      << r.errors[2].str();
}

TEST(ScenarioLoaderUnits, UnitlessFieldsRejectUnits) {
  const auto r = gs::load_scenario_text("policy:\n  threshold_unmasked: 0.6 s\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].field, "policy.threshold_unmasked");
  EXPECT_TRUE(contains(r.errors[0].message, "unit 's'")) << r.errors[0].message;
}

// ---------------------------------------------------------------------------------------------------
// Gates

TEST(ScenarioLoaderGates, TwoNamedGatesWithPerGateDefaults) {
  const gs::Scenario s = load_ok(kGood + "two_gates.yaml");
  ASSERT_EQ(s.gates.size(), 2u);
  EXPECT_EQ(s.gates[0].name, "east");
  EXPECT_EQ(s.gates[0].lanes, 4);
  EXPECT_EQ(s.gates[0].queue, gs::QueueMode::shared);
  EXPECT_EQ(s.gates[0].staff, 0);
  EXPECT_EQ(s.gates[0].traffic_share, 3.0);
  EXPECT_EQ(s.gates[0].direction, gs::GateDirection::entry);
  const gs::GateSpec d;
  EXPECT_EQ(s.gates[1].name, "west");
  EXPECT_EQ(s.gates[1].lanes, d.lanes);
  EXPECT_EQ(s.gates[1].lanes, 1);
  EXPECT_EQ(s.gates[1].queue, d.queue);
  EXPECT_EQ(s.gates[1].staff, d.staff);
  EXPECT_EQ(s.gates[1].traffic_share, d.traffic_share);
  EXPECT_EQ(s.gates[1].direction, gs::GateDirection::both);
}

TEST(ScenarioLoaderGates, UnnamedGatesGetDistinctNames) {
  const gs::Scenario s = text_ok("gates:\n  - lanes: 1\n  - lanes: 2\n");
  ASSERT_EQ(s.gates.size(), 2u);
  EXPECT_FALSE(s.gates[0].name.empty());
  EXPECT_NE(s.gates[0].name, s.gates[1].name);
  EXPECT_EQ(s.gates[1].lanes, 2);
}

TEST(ScenarioLoaderGates, DuplicateGateNames) {
  expect_one_error(kBad + "duplicate_gate_names.yaml", 6, 11, "gates[1].name", "duplicate gate name 'main'");
}

TEST(ScenarioLoaderGates, GateEntryThatIsNotAMapping) {
  expect_one_error(kBad + "gate_not_mapping.yaml", 5, 5, "gates[1]", "expected a mapping");
}

TEST(ScenarioLoaderGates, GatesThatAreNotAList) {
  expect_one_error(kBad + "gates_not_list.yaml", 3, 3, "gates", "expected a list");
}

TEST(ScenarioLoaderGates, GateFieldRange) {
  const auto r = gs::load_scenario_text("gates:\n  - name: a\n    lanes: 0\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str().rfind("inline.yaml:3:12: gates[0].lanes: must be between 1 and 64", 0), 0u) << r.errors[0].str();
}

TEST(ScenarioLoaderGates, SomeGateMustServeEachDirection) {
  const auto r = gs::load_scenario_text("gates:\n  - name: a\n    direction: entry\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].field, "gates[0].name");  // placed at the compound's first gate
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_TRUE(contains(r.errors[0].message, "exits")) << r.errors[0].str();
}

TEST(ScenarioLoaderGates, EachCompoundNeedsGatesForBothDirections) {
  const auto r = gs::load_scenario_text(
      "gates:\n  - {name: a, compound: x, direction: entry}\n  - {name: b, compound: y}\n", "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].str(), "inline.yaml:2:25: gates[0].compound: no gate of compound 'x' serves exits");
}

// ---------------------------------------------------------------------------------------------------
// --set overrides

TEST(ScenarioLoaderOverrides, AppliedAfterTheFile) {
  const gs::Scenario s =
      load_ok(kGood + "two_gates.yaml", {"policy.fever_threshold=37.5", "gates[0].lanes=3", "gates[1].name=far west",
                                         "population.households=250", "service.card.mean=3000 ms", "day.start=\"05:30\""});
  EXPECT_DOUBLE_EQ(s.policy.fever_threshold_c, 37.5);
  ASSERT_EQ(s.gates.size(), 2u);
  EXPECT_EQ(s.gates[0].lanes, 3);
  EXPECT_EQ(s.gates[0].name, "east");
  EXPECT_EQ(s.gates[1].name, "far west");
  EXPECT_EQ(s.population.households, 250);
  EXPECT_DOUBLE_EQ(s.service.card.mean_s, 3.0);
  EXPECT_EQ(s.day_start, std::chrono::hours(5) + std::chrono::minutes(30));
}

TEST(ScenarioLoaderOverrides, OverrideReplacesAFileValueWithoutADuplicateError) {
  const gs::Scenario s = load_ok("scenarios/jiaochangkou.yaml", {"population.households=123", "gates[0].lanes=2"});
  EXPECT_EQ(s.population.households, 123);
  ASSERT_FALSE(s.gates.empty());
  EXPECT_EQ(s.gates[0].lanes, 2);
}

TEST(ScenarioLoaderOverrides, UnknownPath) {
  const auto e = only_override_error(kGood + "two_gates.yaml", {"policy.fever_treshold=37.5"});
  EXPECT_EQ(e.file, "--set");
  EXPECT_EQ(e.line, 0);
  EXPECT_EQ(e.field, "policy.fever_treshold");
  EXPECT_EQ(e.str(), "--set: policy.fever_treshold: unknown field");
}

TEST(ScenarioLoaderOverrides, BadValue) {
  const auto e = only_override_error(kGood + "two_gates.yaml", {"policy.fever_threshold=hot"});
  EXPECT_EQ(e.file, "--set");
  EXPECT_EQ(e.field, "policy.fever_threshold");
  EXPECT_EQ(e.str().rfind("--set: policy.fever_threshold: ", 0), 0u) << e.str();
  EXPECT_TRUE(contains(e.message, "'hot'")) << e.message;
}

TEST(ScenarioLoaderOverrides, OutOfRangeValue) {
  const auto e = only_override_error(kGood + "two_gates.yaml", {"gates[1].lanes=65"});
  EXPECT_EQ(e.str().rfind("--set: gates[1].lanes: must be between 1 and 64", 0), 0u) << e.str();
}

TEST(ScenarioLoaderOverrides, MissingEquals) {
  const auto e = only_override_error(kGood + "two_gates.yaml", {"policy.fever_threshold"});
  EXPECT_EQ(e.file, "--set");
  EXPECT_EQ(e.str(), "--set: policy.fever_threshold: expected path=value");
}

TEST(ScenarioLoaderOverrides, MissingValue) {
  const auto e = only_override_error(kGood + "two_gates.yaml", {"policy.fever_threshold="});
  EXPECT_EQ(e.str(), "--set: policy.fever_threshold: missing value");
}

TEST(ScenarioLoaderOverrides, GateIndexOutOfRange) {
  const auto e = only_override_error(kGood + "two_gates.yaml", {"gates[5].lanes=3"});
  EXPECT_EQ(e.file, "--set");
  EXPECT_EQ(e.field, "gates[5].lanes");
  EXPECT_EQ(e.str(), "--set: gates[5].lanes: gate index out of range");
}

TEST(ScenarioLoaderOverrides, BadOverrideValueYaml) {
  const auto r = gs::load_scenario_file(kGood + "two_gates.yaml", {"gates[0].name=[unclosed"});
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].file, "--set");
  EXPECT_EQ(r.errors[0].line, 0);
}

TEST(ScenarioLoaderOverrides, CrossFieldErrorCausedByAnOverrideNamesSet) {
  const auto e = only_override_error(kGood + "minimal.yaml", {"day.end=\"05:00\""});
  EXPECT_EQ(e.file, "--set");
  EXPECT_EQ(e.field, "day.end");
  EXPECT_TRUE(contains(e.message, "later than day.start")) << e.str();
}

TEST(ScenarioLoaderOverrides, AllOverrideErrorsAndFileErrorsAreReported) {
  const auto r = gs::load_scenario_file(kBad + "unknown_enum.yaml", {"nope=1", "policy.mask", "gates[3].lanes=1"});
  ASSERT_EQ(r.errors.size(), 4u) << all_errors(r);
  int from_set = 0;
  for (const auto& e : r.errors) from_set += e.file == "--set";
  EXPECT_EQ(from_set, 3);
}

// ---------------------------------------------------------------------------------------------------
// Calibration files

TEST(ScenarioLoaderCalibration, LoadedRelativeToTheScenarioAndOverriddenInline) {
  const gs::Scenario s = load_ok(kGood + "with_calibration.yaml");
  const gs::Scenario d;
  EXPECT_EQ(s.face.calibration, "calibration.yaml");
  EXPECT_DOUBLE_EQ(s.face.genuine_masked.mean, 0.7);   // from the calibration file
  EXPECT_DOUBLE_EQ(s.face.genuine_masked.sd, 0.08);
  EXPECT_DOUBLE_EQ(s.face.fta_masked, 0.04);
  EXPECT_DOUBLE_EQ(s.face.impostor.mean, 0.2);         // inline beats the calibration file
  EXPECT_DOUBLE_EQ(s.face.impostor.sd, 0.05);          // not set inline: the calibration file's value
  EXPECT_EQ(s.face.genuine_unmasked.mean, d.face.genuine_unmasked.mean);  // in neither: default
  EXPECT_EQ(s.face.fta_unmasked, d.face.fta_unmasked);
  // The resolved YAML has the values inline and loads without the calibration file.
  expect_round_trip(s, "with_calibration.yaml");
  EXPECT_FALSE(contains(gs::to_yaml(s), "calibration"));
}

TEST(ScenarioLoaderCalibration, UnknownKeyInTheCalibrationFileNamesThatFile) {
  const auto r = gs::load_scenario_file(kBad + "calibration_unknown_key.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  const auto& e = r.errors[0];
  EXPECT_EQ(e.file, kBad + "calibration_with_typo.yaml");
  EXPECT_EQ(e.line, 4);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.field, "face.imposter_sd");
  EXPECT_EQ(e.str().rfind(place(kBad + "calibration_with_typo.yaml", 4, 1, "face.imposter_sd") + "unknown key", 0), 0u)
      << e.str();
}

TEST(ScenarioLoaderCalibration, MissingCalibrationFileIsAnErrorAtTheCalibrationLine) {
  expect_one_error(kBad + "calibration_missing.yaml", 4, 16, "face.calibration", "no_such_calibration.yaml");
}

TEST(ScenarioLoaderCalibration, CalibrationFileMayNotNameAnother) {
  const auto r = gs::load_scenario_file(kBad + "calibration_nested.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].file, kBad + "calibration_names_another.yaml");
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_TRUE(contains(r.errors[0].message, "cannot name another calibration file")) << r.errors[0].str();
}

TEST(ScenarioLoaderCalibration, CalibrationFileErrorsAndScenarioErrorsAreAllReported) {
  // The calibration file's bad value and the scenario's own bad value: both reported, each in its file.
  const auto r = gs::load_scenario_text("face:\n  calibration: tests/data/bad/calibration_with_typo.yaml\n  fta_masked: 2\n",
                                        "inline.yaml");
  ASSERT_EQ(r.errors.size(), 2u) << all_errors(r);
  std::set<std::string> files;
  for (const auto& e : r.errors) files.insert(e.file);
  EXPECT_EQ(files, (std::set<std::string>{"inline.yaml", "./tests/data/bad/calibration_with_typo.yaml"}));
}

// ---------------------------------------------------------------------------------------------------
// Arrival profiles

TEST(ScenarioLoaderProfiles, CustomProfileWithTwentyFourWeights) {
  const gs::Scenario s = load_ok(kGood + "custom_profile.yaml");
  EXPECT_EQ(s.arrivals.profile, "custom");
  EXPECT_EQ(s.arrivals.entry_profile[6], 1.0);
  EXPECT_EQ(s.arrivals.exit_profile[7], 4.0);
  EXPECT_EQ(s.arrivals.exit_profile[23], 0.0);
  expect_round_trip(s, "custom_profile.yaml");
}

TEST(ScenarioLoaderProfiles, CustomProfileNeedsTwentyFourWeights) {
  const std::string path = kBad + "custom_profile_short.yaml";
  const auto r = gs::load_scenario_file(path);
  EXPECT_FALSE(r.ok());
  ASSERT_GE(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].str(), place(path, 5, 18, "arrivals.entry_profile") + "expected a list of 24 hourly weights");
}

TEST(ScenarioLoaderProfiles, CustomProfileNeedsAPositiveSum) {
  expect_one_error(kBad + "custom_profile_zero_sum.yaml", 4, 18, "arrivals.entry_profile", "positive sum");
}

TEST(ScenarioLoaderProfiles, CustomProfileNeedsBothLists) {
  const auto r = gs::load_scenario_text(
      "arrivals:\n  profile: custom\n  entry_profile: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n",
      "inline.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].field, "arrivals.exit_profile");
}

TEST(ScenarioLoaderProfiles, NegativeWeightIsReportedAtTheEntry) {
  const std::string path = kBad + "custom_profile_negative.yaml";
  const auto r = gs::load_scenario_file(path);
  EXPECT_FALSE(r.ok());
  // (The list is then left unset, so a follow-on "positive sum" error at the list may come with it.)
  const std::string want = place(path, 4, 22, "arrivals.entry_profile[1]") + "expected a number >= 0";
  EXPECT_TRUE(std::any_of(r.errors.begin(), r.errors.end(), [&](const gs::ScenarioError& e) { return e.str() == want; }))
      << all_errors(r);
}

TEST(ScenarioLoaderProfiles, HourlyWeightsOnlyWithTheCustomProfile) {
  expect_one_error(kBad + "profile_weekday_with_entry_profile.yaml", 4, 18, "arrivals.entry_profile", "only used with profile: custom");
}

// ---------------------------------------------------------------------------------------------------
// Round trip: to_yaml writes the resolved scenario; loading it gives the same scenario (a fixed point).

TEST(ScenarioLoaderRoundTrip, RichFile) {
  const gs::Scenario s = load_ok(kGood + "rich.yaml");
  // A few values, to be sure the file says what the round trip then preserves.
  EXPECT_EQ(s.name, "rich: every section");
  EXPECT_EQ(s.seed, 987654321u);
  EXPECT_EQ(s.day_end, std::chrono::hours(21) + std::chrono::minutes(30) + std::chrono::seconds(30));
  EXPECT_DOUBLE_EQ(s.population.face_enrolled_share, 0.8);
  EXPECT_DOUBLE_EQ(s.service.walk_up.mean_s, 0.8);
  EXPECT_DOUBLE_EQ(s.service.staff_check.mean_s, 30.0);
  ASSERT_EQ(s.gates.size(), 2u);
  EXPECT_EQ(s.gates[1].direction, gs::GateDirection::entry);
  ASSERT_TRUE(s.thermal.noise_sd_c.has_value());
  EXPECT_DOUBLE_EQ(*s.thermal.noise_sd_c, 0.45);
  ASSERT_TRUE(s.expect.far_max.has_value());
  EXPECT_DOUBLE_EQ(*s.expect.far_max, 0.001);
  EXPECT_EQ(s.policy.visitors, gatetwin::recognizer::VisitorHandling::deny);
  expect_round_trip(s, "rich.yaml");
}

TEST(ScenarioLoaderRoundTrip, EveryGoodTestFile) {
  for (const char* f : {"minimal.yaml", "units.yaml", "two_gates.yaml", "with_calibration.yaml", "custom_profile.yaml"})
    expect_round_trip(load_ok(kGood + f), f);
}

TEST(ScenarioLoaderRoundTrip, AwkwardText) {
  // Names that YAML would read as something else unless the writer quotes them.
  for (const char* name : {"null", "~", "true", "yes", "123", "- dash", "a: b # c", "  padded  ", "'", "\\\"q\\\"", "line\\nbreak",
                           // the writer quotes day.start and day.end by finding their keys (found by scenario_fuzz)
                           "a  end: b", "a  start: b", "x\\nday:\\n  start: 1"}) {
    SCOPED_TRACE(name);
    expect_round_trip(text_ok(std::string("name: \"") + name + "\"\ndescription: \"" + name + "\"\n"), name);
  }
}

TEST(ScenarioLoaderRoundTrip, EveryScenarioInScenariosDirectory) {
  namespace fs = std::filesystem;
  if (!fs::is_directory("scenarios")) GTEST_SKIP() << "no scenarios/ directory";
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator("scenarios")) {
    if (!entry.is_regular_file()) continue;
    const auto ext = entry.path().extension().string();
    if (ext != ".yaml" && ext != ".yml") continue;
    // Calibration files (face.* keys only) are not scenarios.
    if (entry.path().string().find("calibration") != std::string::npos) continue;
    files.push_back(entry.path().generic_string());
  }
  if (files.empty()) GTEST_SKIP() << "no scenario files in scenarios/";
  std::sort(files.begin(), files.end());
  for (const auto& f : files) expect_round_trip(load_ok(f), f);
}

TEST(ScenarioLoaderRoundTrip, ResolvedYamlLoadsFromAFile) {
  // The run directory's scenario.yaml is loaded as a file: same result as from text.
  const gs::Scenario s = load_ok(kGood + "rich.yaml");
  const auto dir = std::filesystem::temp_directory_path() / ("gatetwin_loader_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "scenario.yaml").string();
  { std::ofstream(path, std::ios::binary) << gs::to_yaml(s); }
  const gs::Scenario back = load_ok(path);
  EXPECT_EQ(gs::to_yaml(back), gs::to_yaml(s));
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------------
// The generated reference

TEST(ScenarioLoaderSchema, MarkdownMentionsEverySectionAndField) {
  const std::string md = gs::schema_markdown();
  EXPECT_TRUE(contains(md, "(top level)"));
  for (const char* section : {"day", "population", "arrivals", "gates", "service", "face", "thermal", "card", "staff",
                              "policy", "expect"})
    EXPECT_TRUE(contains(md, std::string("### `") + section + "`")) << section;
  EXPECT_TRUE(contains(md, "| `population.households` | integer |")) << md;
  EXPECT_TRUE(contains(md, "| `gates[].lanes` |"));
  EXPECT_TRUE(contains(md, "| `policy.fever_threshold` |"));
  EXPECT_TRUE(contains(md, "| `expect.p95_wait_s_max` |"));
  EXPECT_TRUE(contains(md, "| `thermal.noise_sd` |"));
  EXPECT_TRUE(contains(md, "| `face.calibration` |"));
  EXPECT_TRUE(contains(md, "`remind`"));  // choices are listed
  // Every key the YAML writer produces has a row in the reference.
  const auto paths = leaf_paths(gs::to_yaml(load_ok(kGood + "rich.yaml")));
  EXPECT_GT(paths.size(), 100u);
  for (const auto& p : paths) EXPECT_TRUE(contains(md, "| `" + p + "` |")) << p;
}

TEST(ScenarioLoaderSchema, EveryDocumentedFieldIsAcceptedByTheLoader) {
  // Each row of the reference names a key the loader knows: an override of it is never "unknown field".
  const std::string md = gs::schema_markdown();
  std::istringstream in(md);
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.rfind("| `", 0) != 0) continue;
    const auto end = line.find('`', 3);
    std::string path = line.substr(3, end - 3);
    const auto br = path.find("[]");
    if (br != std::string::npos) path.replace(br, 2, "[0]");
    const auto r = gs::load_scenario_file(kGood + "minimal.yaml", {path + "=x"});
    ++rows;
    for (const auto& e : r.errors) EXPECT_FALSE(contains(e.message, "unknown field")) << path << ": " << e.str();
  }
  EXPECT_GT(rows, 100);
}

// ---------------------------------------------------------------------------------------------------
// Strictness gaps found while writing these tests (each is a loader bug if it fails; see the report).

TEST(ScenarioLoaderStrictness, ClockRejectsTrailingText) {
  // "06:00pm" must not silently mean 06:00; nor "06:00 junk", "06:00:" or "-0:30".
  for (const char* bad : {"06:00pm", "06:00 junk", "06:00:", "-0:30"}) {
    SCOPED_TRACE(bad);
    const auto r = gs::load_scenario_text(std::string("day:\n  start: \"") + bad + "\"\n", "inline.yaml");
    EXPECT_FALSE(r.ok()) << "accepted '" << bad << "' as " << (r.scenario ? r.scenario->day_start.count() / 1000000 : -1) << " s";
    if (!r.errors.empty()) {
      EXPECT_EQ(r.errors[0].str().rfind("inline.yaml:2:10: day.start: ", 0), 0u) << r.errors[0].str();
    }
  }
}

TEST(ScenarioLoaderStrictness, DottedKeysAreNotAShortcutAroundNesting) {
  // A dotted key at the top level is not a key of the top-level mapping: it must be "unknown key" (or, if
  // accepted as a shortcut, it must at least clash with the nested spelling of the same field).
  const auto r = gs::load_scenario_text("population:\n  households: 5\n\"population.households\": 7\n", "inline.yaml");
  EXPECT_FALSE(r.ok()) << "households silently became " << (r.scenario ? r.scenario->population.households : -1);
}

TEST(ScenarioLoaderStrictnessDeathTest, GateFieldAsATopLevelKeyDoesNotCrash) {
  // "gates[].lanes" at the top level, with no gates: the loader must report an error, not index an empty
  // vector. Run in a child process so that a crash fails only this test.
  EXPECT_EXIT(
      {
        const auto r = gs::load_scenario_text("\"gates[].lanes\": 3\n", "inline.yaml");
        std::exit(r.ok() ? 1 : 0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(ScenarioLoaderStrictness, EmptyCalibrationPathIsAnErrorNotAnException) {
  // face.calibration: "" resolves to the scenario's directory; reading it must give an error, not throw.
  gs::LoadResult r;
  EXPECT_NO_THROW(r = gs::load_scenario_text("face:\n  calibration: \"\"\n", "inline.yaml"));
  EXPECT_FALSE(r.ok());
  EXPECT_NO_THROW(r = gs::load_scenario_text("face:\n  calibration: tests/data\n", "inline.yaml"));
  EXPECT_FALSE(r.ok());
}

TEST(ScenarioLoaderStrictness, CalibrationOverrideIsNotSilentlyIgnored) {
  // --set face.calibration=... must load that file (or be refused), not just change the recorded path.
  const auto missing = gs::load_scenario_file(kGood + "minimal.yaml", {"face.calibration=no_such_file.yaml"});
  EXPECT_FALSE(missing.ok()) << "a missing calibration file given with --set was accepted";
  const auto r = gs::load_scenario_file(kGood + "minimal.yaml", {"face.calibration=calibration.yaml"});
  if (r.ok()) {
    EXPECT_DOUBLE_EQ(r.scenario->face.genuine_masked.mean, 0.7) << "the calibration file was not applied";
  }
}

TEST(ScenarioLoaderStrictness, OverrideOfTheImplicitMainGate) {
  // A file without gates has one gate "main" with 2 lanes; --set gates[0].staff=2 changes its staff only.
  const gs::Scenario s = load_ok(kGood + "minimal.yaml", {"gates[0].staff=2"});
  ASSERT_EQ(s.gates.size(), 1u);
  EXPECT_EQ(s.gates[0].name, "main");
  EXPECT_EQ(s.gates[0].lanes, 2);
  EXPECT_EQ(s.gates[0].staff, 2);
}

// Robustness: thousands of seeded mutations of a real scenario (bytes flipped, deleted, duplicated,
// YAML punctuation inserted) must each give either a scenario or a list of errors that name a place in
// the text; never an exception, never a crash, never an error without a message.
TEST(ScenarioLoaderRobustness, MutatedScenariosNeverThrowAndAlwaysExplain) {
  std::ifstream in("scenarios/baiziwan.yaml", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string original = ss.str();
  ASSERT_GT(original.size(), 500u);
  const int lines = static_cast<int>(std::count(original.begin(), original.end(), '\n')) + 1;
  const std::string punctuation = ":-[]{},#&*!|>'\"%@`\t\n ";
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;  // a fixed-seed xorshift: the test is deterministic
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int accepted = 0, rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text = original;
    const int edits = 1 + static_cast<int>(next() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = next() % text.size();
      switch (next() % 4) {
        case 0: text[at] = static_cast<char>(next() % 256); break;
        case 1: text.erase(at, 1 + next() % 8); break;
        case 2: text.insert(at, text.substr(next() % text.size(), 1 + next() % 16)); break;
        default: text.insert(at, 1, punctuation[next() % punctuation.size()]); break;
      }
    }
    gs::LoadResult r;
    ASSERT_NO_THROW(r = gs::load_scenario_text(text, "mutated.yaml")) << "round " << round;
    if (r.ok()) {
      ++accepted;
      continue;
    }
    ++rejected;
    ASSERT_FALSE(r.errors.empty()) << "round " << round;
    for (const auto& err : r.errors) {
      EXPECT_FALSE(err.message.empty()) << "round " << round;
      EXPECT_LE(err.line, lines + 16) << "round " << round << ": " << err.str();  // insertions add lines
    }
  }
  // Both outcomes occur, so the mutations reach past the parser into validation.
  EXPECT_GT(accepted, 50);
  EXPECT_GT(rejected, 500);
}
