#pragma once
// Run reports: report.json, events.jsonl, timeline.csv, junit.xml and the scenario as resolved
// (scenario.yaml), written into a run directory atomically: everything is written into a staging
// directory beside it, which then replaces the run directory in one rename.
#include <string>

#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/scenario.hpp"
#include "gatetwin/sim/world.hpp"

namespace gatetwin::sim {

std::string report_json(const Scenario& s, const Metrics& m, const RunOutput& out);
std::string events_jsonl(const Scenario& s, const RunOutput& out);
std::string timeline_csv(const RunOutput& out);
std::string junit_xml(const Scenario& s, const Metrics& m, double wall_seconds);
std::string summary_text(const Scenario& s, const Metrics& m, const RunOutput& out);

// Writes all reports into `dir` atomically. Throws std::runtime_error naming the path on failure, and
// leaves any previous contents of `dir` untouched in that case.
void write_run_directory(const std::string& dir, const Scenario& s, const Metrics& m, const RunOutput& out, double wall_seconds);

// Writes one file atomically (temporary file in the same directory, then rename).
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace gatetwin::sim
