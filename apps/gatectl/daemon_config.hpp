#pragma once
// The daemon's configuration (`gatectl run --config gate.yaml`) and the residents file it names: typed,
// validated YAML. Unknown keys and bad values are errors naming file:line:column and the field, all of
// them listed at once (ConfigError). Every key, unit and default: docs/gatectl.md.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gatetwin/recognizer/enrolment.hpp"
#include "gatetwin/recognizer/policy.hpp"
#include "gatetwin/recognizer/thermal_fusion.hpp"
#include "policy_file.hpp"

namespace gatetwin::gatectl {

using Millis = std::chrono::milliseconds;

// What the daemon does when a grant must open the door and the relay does not carry out the command.
// Either way the door is not opened remotely; the mode says what the lock hardware does and what the
// event log tells staff (docs/gatectl.md#fail-modes).
enum class FailMode { secure, safe };
std::string_view to_string(FailMode);

// modbus-tcp://HOST:PORT[/UNIT] (unit 1 by default; Modbus TCP devices reached directly ignore it).
struct ModbusEndpoint {
  std::string url;
  std::string host;
  int port = 502;
  int unit = 1;
};

// wiegand-tcp://HOST:PORT: the access controller's card-event transport (docs/wiegand.md).
struct ReaderEndpoint {
  std::string url;
  std::string host;
  int port = 0;
};

// Where the spot thermometer measures, from the installation calibration (recognizer-thermal.md).
struct ThermalSpot {
  std::optional<recognizer::Box> region;  // measuring region in camera px; none: aimed at the face in front
  double min_distance_m = 0.3;
  double max_distance_m = 1.5;
  double focal_px = 879.0;                // camera focal length in px (40° horizontal FOV at 640 px)
};

struct LaneConfig {
  int line = 0;                           // where the lane starts in the config file (for later checks)
  std::string name;
  std::string camera;                     // rtsp://, http:// or https:// URL, credentials included
  std::optional<ModbusEndpoint> thermal;  // none: a terminal without a thermometer (policy must not measure)
  ModbusEndpoint relay;
  std::optional<ReaderEndpoint> reader;
  FailMode fail_mode = FailMode::secure;
  recognizer::Direction direction = recognizer::Direction::entry;
  ThermalSpot thermal_spot;
};

struct Reconnect {
  Millis initial{200};
  Millis max{5000};
};

struct DaemonConfig {
  std::filesystem::path file;             // the config file; relative paths are relative to its directory
  std::string gate;
  std::optional<std::filesystem::path> gallery;    // none: no face templates (every face is unknown)
  // The enrolment registry (docs/privacy.md) instead of a plain gallery: sealed templates of residents whose
  // consent covers `purposes`, and every access decision in its audit log before the door moves.
  std::optional<std::filesystem::path> registry;
  std::optional<std::filesystem::path> registry_key;  // none: REGISTRY/template.key
  std::vector<recognizer::Purpose> purposes{recognizer::Purpose::access};  // what this gate uses faces for
  Millis consent_refresh{2000};           // consent changes (withdrawal) reach the lanes within this
  Millis retention_check{3'600'000};      // how often expired templates are deleted
  std::optional<std::filesystem::path> residents;  // none: everyone in the gallery has open rights
  std::optional<std::filesystem::path> policy;     // none: the policy engine's defaults
  std::optional<std::filesystem::path> manifest;   // none: gatectl's default manifest
  std::string events = "-";               // JSON lines file, "-" = standard output
  bool events_fsync = false;              // fsync after every line (a power cut loses nothing)
  std::filesystem::path status_socket;    // Unix socket answering `gatectl status`
  Reconnect reconnect;
  Millis cooldown{5000};                  // no new face decision for the same person within this
  Millis presence_timeout{1500};          // a face session ends when no face was acquired for this long
  Millis measure_timeout{3000};           // card path: how long to wait for a valid temperature reading
  Millis camera_open_timeout{5000};
  Millis camera_read_timeout{2000};
  Millis connect_timeout{2000};           // TCP connect of the card reader, and its first status message
  Millis modbus_timeout{300};             // libmodbus response (and connect) timeout
  Millis health_interval{1000};           // how often idle Modbus devices are probed
  std::vector<LaneConfig> lanes;
};

// Parses and validates `file` (existence of the files it names included, not their contents). Throws
// ConfigError listing every problem as "file:line:column: field: message".
DaemonConfig load_daemon_config(const std::filesystem::path& file);

// ---- Residents: card credentials and rights, kept apart from the gallery's templates ----------------

enum class CardFormat { w26, w34 };
struct CardKey {
  CardFormat format = CardFormat::w26;
  std::uint32_t facility = 0;
  std::uint32_t number = 0;
  friend auto operator<=>(const CardKey&, const CardKey&) = default;
};

struct CardRecord {
  std::uint32_t holder = 0;               // 0 with revoked: a revoked card whose holder is not recorded
  bool revoked = false;
};

struct Residents {
  std::map<std::uint32_t, recognizer::Rights> people;  // has_face_template is filled from the gallery later
  std::map<CardKey, CardRecord> cards;
};

// Throws ConfigError listing every problem with file:line:column.
Residents load_residents(const std::filesystem::path& file);

// "2020-06-01", "2020-06-01T07:30", "2020-06-01T07:30:00+08:00", "...Z": Unix seconds. Without an offset
// the time is local time (the gate's time zone).
std::optional<std::int64_t> parse_date_time(const std::string& text);

// The URL with any password replaced by "***" (event logs and status are read by more people than the
// camera's administrator).
std::string redact_url(const std::string& url);

}  // namespace gatetwin::gatectl
