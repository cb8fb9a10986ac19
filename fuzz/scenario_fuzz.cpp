// libFuzzer target: the scenario loader (sim/src/scenario_loader.cpp and scenario_schema.cpp) on arbitrary
// text, as `gatetwin run` and gatetwin-studio feed it a scenario file and --set overrides.
// Input: the scenario's YAML text. Lines that start with "#set " are also passed as overrides (the rest of
// the line, "path=value"); to YAML they are comments, so a seed stays a readable scenario file.
// Properties beyond "no crash, no sanitizer report":
// - a load succeeds exactly when there are no errors, and then has a scenario;
// - a failed load lists at least one error; every error has a file and a message, and names a place in the
//   text (line > 0, within the text, and a column) or a field, or is the "file is empty" error or about an
//   override with an empty path;
// - errors are sorted by file, line and column;
// - a loaded scenario's to_yaml() loads again without errors, to the same YAML (the round trip
//   `gatetwin run --dump` and the studio's save rely on).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "fuzz_check.hpp"
#include "gatetwin/sim/scenario_loader.hpp"

namespace sim = gatetwin::sim;

namespace {

void check_errors(const sim::LoadResult& r, const std::string& text, bool empty_override_path) {
  FUZZ_CHECK(r.ok() == r.errors.empty());
  FUZZ_CHECK(r.scenario.has_value() == r.errors.empty());
  const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const auto& e : r.errors) {
    FUZZ_CHECK(!e.file.empty() && !e.message.empty());
    FUZZ_CHECK(e.line >= 0 && e.column >= 0);
    FUZZ_CHECK((e.line > 0) == (e.column > 0));
    if (e.file == "fuzz.yaml") FUZZ_CHECK(e.line <= lines);
    // (An override with an empty path, "" or "=x", has no field to name.)
    FUZZ_CHECK(e.line > 0 || !e.field.empty() || e.message == "the file is empty" ||
               (e.file == "--set" && empty_override_path));
    FUZZ_CHECK(!e.str().empty());
  }
  FUZZ_CHECK(std::is_sorted(r.errors.begin(), r.errors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  }));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> overrides;
  for (std::size_t at = 0; at < text.size();) {
    const auto end = std::min(text.find('\n', at), text.size());
    if (text.compare(at, 5, "#set ") == 0) overrides.push_back(text.substr(at + 5, end - at - 5));
    at = end + 1;
  }

  const auto r = sim::load_scenario_text(text, "fuzz.yaml", overrides);
  const bool empty_override_path = std::any_of(overrides.begin(), overrides.end(), [](const std::string& o) {
    return o.substr(0, o.find('=')).find_first_not_of(" \t") == std::string::npos;
  });
  check_errors(r, text, empty_override_path);
  if (!r.ok()) return 0;

  const std::string yaml = sim::to_yaml(*r.scenario);
  const auto again = sim::load_scenario_text(yaml, "dump.yaml");
  if (!again.ok()) {
    for (const auto& e : again.errors) std::fprintf(stderr, "%s\n", e.str().c_str());
    std::fprintf(stderr, "--- to_yaml() ---\n%s", yaml.c_str());
  }
  FUZZ_CHECK(again.ok());
  const std::string yaml2 = sim::to_yaml(*again.scenario);
  if (yaml2 != yaml) std::fprintf(stderr, "--- first to_yaml() ---\n%s--- second ---\n%s", yaml.c_str(), yaml2.c_str());
  FUZZ_CHECK(yaml2 == yaml);
  return 0;
}
