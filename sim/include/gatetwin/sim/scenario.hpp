#pragma once
// A scenario: everything that defines a run. A run is a pure function of a Scenario (which includes its
// seed). Field meanings, units and defaults are documented once, in the schema (scenario_schema.cpp),
// from which docs/scenarios.md is generated; the defaults below must match it (a test checks).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gatetwin/recognizer/policy.hpp"
#include "gatetwin/sim/time.hpp"

namespace gatetwin::sim {

// A duration drawn per person from a lognormal with this arithmetic mean and sd (seconds).
struct TimeDist {
  double mean_s = 0.0;
  double sd_s = 0.0;
};

struct ScoreDist {  // a normal distribution of cosine match scores
  double mean = 0.0;
  double sd = 0.1;
};

struct PopulationSpec {
  int households = 400;
  double persons_per_household = 2.6;
  double face_enrolled_share = 0.9;
  double refuse_face_share = 0.05;
  double withdrawn_share = 0.0;  // of the enrolled residents: withdrew consent before the day (template deleted)
  double card_holder_share = 0.6;
  double mask_always_share = 0.7;
  double mask_never_share = 0.05;
  double mask_sometimes_probability = 0.5;
  double mask_below_nose_share = 0.05;
  double carries_mask_share = 0.8;
  double fever_prevalence = 0.002;
  int quarantined = 0;
  double quarantine_days_max = 14.0;
  double quarantine_exit_attempts_per_person = 0.3;
  double visitors_per_day = 0.0;
  double revoked_card_attempts_per_day = 0.0;
  double cloned_card_attempts_per_day = 0.0;
  double lookalike_attempts_per_day = 0.0;
  double health_code_yellow_share = 0.0;
  double health_code_red_share = 0.0;
};

struct ArrivalSpec {
  double trips_per_resident = 2.0;  // gate passages per resident per day, both directions
  std::string profile = "weekday";  // weekday | weekend | flat | custom
  std::array<double, 24> entry_profile{};  // relative weights per hour (filled from `profile`)
  std::array<double, 24> exit_profile{};
  double group_size_mean = 1.2;
  double tailgating_share = 0.02;   // share of group followers who walk through without checking
};

enum class QueueMode { per_lane, shared };
enum class GateDirection { both, entry, exit };

struct GateSpec {
  std::string name;
  int lanes = 1;
  QueueMode queue = QueueMode::per_lane;
  int staff = 1;
  double traffic_share = 1.0;
  GateDirection direction = GateDirection::both;
  std::string compound;  // gates of one compound share its residents and face gallery; "" = the one compound
};

struct ServiceSpec {
  // Defaults add up to ~2.3 s for a first-attempt face pass: measured terminals take 1.5–3 s per person
  // (not the brochure's 0.2–0.5 s), and a staffed turnstile lane delivers 18–28 persons/min.
  TimeDist walk_up{0.6, 0.3};       // overlaps the previous person's door cycle
  TimeDist presentation{0.4, 0.2};
  TimeDist recognition{0.5, 0.15};
  TimeDist temperature{0.3, 0.1};   // one-pass terminals measure while recognising
  TimeDist door_cycle{0.5, 0.15};
  TimeDist card{2.5, 1.0};
  TimeDist staff_check{15.0, 8.0};
  TimeDist mask_adjust{4.0, 2.0};
  bool exponential = false;  // theory mode: one exponential service time per transaction (M/M/c)
  double exponential_mean_s = 2.5;
};

struct FaceModelSpec {
  std::string calibration;  // path of the calibration file the values came from, if any
  ScoreDist genuine_unmasked{0.80, 0.07};
  ScoreDist genuine_masked{0.66, 0.10};
  ScoreDist genuine_below_nose{0.70, 0.09};
  ScoreDist impostor{0.12, 0.08};
  ScoreDist impostor_masked{0.12, 0.08};  // probes with a mask worn; the loader copies `impostor` when unset
  ScoreDist lookalike{0.55, 0.08};
  // Person effects (Doddington's zoo): the share of the variation that belongs to the person and stays with
  // them all day, so a resident the core finds hard fails again on the retry. 0: attempts independent.
  double genuine_between_person = 0.0;  // of the genuine score's variance
  double fta_between_person = 0.0;      // latent correlation of one person's failures to acquire
  double impostor_between_person = 0.0; // latent correlation of one person's 1:N impostor maxima (and look-alike scores)
  double fta_unmasked = 0.01;
  double fta_masked = 0.03;
  double mask_classifier_accuracy = 0.97;
};

// Pixel fidelity: every face attempt is rendered and decided by the real core (see docs/scenarios.md).
struct PixelSpec {
  std::string models;               // model cache directory; "" = $GATETWIN_MODELS or ~/.cache/gatetwin/models
  std::string manifest;             // model manifest; "" = the shipped models/faceplugin-0.0.1.yaml
  double hfov_deg = 40.0;           // camera horizontal field of view at 640x480
  double fps = 10.0;                // camera frames per second
  double start_distance_m = 1.8;    // the first frame of an approach
  double stop_distance_m = 0.9;     // where the resident stands at the terminal (nearer, tall residents' heads leave the frame)
  double walk_speed_mps = 0.8;      // approach speed
  double dwell_s = 1.0;             // frames at the terminal before an attempt counts as a failure to acquire
  double nuisance = 1.0;            // pose, light and blur range of gate captures (0 studio .. 1 gate .. 2)
  double enrol_nuisance = 0.25;     // ... of the enrolment photo submitted through the mini-program
  double lookalike_resemblance = 0.85;  // 0 an unrelated face .. 1 an identical twin
  std::string demographics = "balanced";  // render::Demographics::named: who the residents are
  double adjacent_share = 0.0;      // probability that someone stands in the adjacent lane, in view
  int threads = 2;                  // OpenCV threads for the models
};

struct ThermalSpec {
  bool blackbody_reference = true;
  std::optional<double> noise_sd_c;  // default 0.3 with a blackbody reference, 0.5 without
  double bias_c = 0.0;
  double ambient_c = 22.0;
  double core_normal_mean_c = 36.8;
  double core_normal_sd_c = 0.25;
  double core_fever_mean_c = 38.2;
  double core_fever_sd_c = 0.5;
  double skin_gradient_c = 1.0;       // core minus forehead skin at 22 °C ambient
  double skin_gradient_per_c = 0.05;  // extra gradient per °C colder ambient
  double skin_gradient_sd_c = 0.2;
  double handheld_sd_c = 0.2;
  double noise_sd() const { return noise_sd_c.value_or(blackbody_reference ? 0.3 : 0.5); }
};

struct CardSpec {
  std::string format = "w26";  // w26 | w34
  double read_error = 0.02;     // probability that a swipe gives a parity error
};

struct StaffSpec {
  double permit_check_accuracy = 0.98;  // staff decide correctly (entry permit, ID) with this probability
};

// The emulated hardware of every lane (`gatetwin devices`, fidelity hil): where it listens and how it behaves.
struct DevicesSpec {
  std::string address = "127.0.0.1";
  int base_port = 0;              // 0: free ports; N: lane k of gate g listens on N + 10*(lane index) + 0..4
  double camera_fps = 15.0;
  int camera_jpeg_quality = 90;
  int camera_width = 640, camera_height = 480;
  bool camera_auth = false;        // HTTP Digest on RTSP and HTTP (real cameras ship with it on)
  std::string camera_user = "admin";
  std::string camera_password = "gatetwin";
  double thermal_warmup_s = 600.0;   // after power-on: larger error and the warming-up status bit
  double thermal_drift_c_per_h = 0.0;
  double relay_pulse_s = 3.0;        // how long the lock stays open after a pulse
  double relay_held_open_s = 30.0;   // door open longer than this raises the held-open alarm
};

// A fault of one device of one lane, in simulated time (devices::FaultPlan; docs/devices.md).
struct DeviceFaultSpec {
  std::string gate;              // "" = the first gate
  int lane = 1;                  // 1-based
  std::string device = "camera"; // camera | thermal | relay | reader
  std::string mode = "off";      // off | stuck | garbage | slow | delayed | intermittent | drift
  SimTime start = hours(7);
  double duration_s = 0.0;       // 0: until the end of the run
  double value = 0.0;            // stuck °C / coil, garbage exception code, slow factor, loss probability, drift °C/h
  double delay_s = 0.0;          // delayed (and slow Modbus replies): added latency
  double jitter_s = 0.0;         // delayed: plus a uniform draw in [0, jitter)
};

// Hardware in the loop (fidelity: hil): the emulated devices of every lane on loopback sockets, one gatectl
// process per gate, simulated time paced to the wall clock (docs/hil.md).
struct HilSpec {
  double speed = 1.0;               // simulated seconds per wall second
  bool strict = false;              // fail the run when an event starts later than `tolerance_s` (wall time)
  double tolerance_s = 0.5;
  std::string gatectl;              // the gatectl binary; "" = $GATETWIN_GATECTL, beside gatetwin, or on PATH
  std::string fail_mode = "secure"; // gatectl lanes' fail mode: secure (door stays locked) or safe
  double startup_timeout_s = 60.0;  // wall time for gatectl to load and report every device up (or down)
  double face_timeout_s = 10.0;     // a resident waits this long at the terminal for the door before the card or staff
  double card_timeout_s = 5.0;      // ... after a swipe
  double walk_through_s = 0.6;      // from the lock's release to the door contact opening
  bool record_frames = true;        // record each camera frame's hash (with its simulated time) in the run's I/O log
};

// Privacy choices (GB/T 35273, FACTS.md "The controversy"): how the compound handles face data, and the
// residents' consent decisions during the day. Checked in report.json's `compliance` (docs/metrics.md).
struct PrivacyEventSpec {
  SimTime at = hours(12);
  std::string kind = "withdrawal";            // withdrawal | consent | purpose_change
  double share = 0.0;                         // withdrawal: of residents using face; consent: of those awaiting re-consent
  std::string purpose = "movement_tracking";  // purpose_change: the purpose added
  double reconsent_share = 0.0;               // purpose_change (re-consent asked): residents using face who consent
};

struct PrivacySpec {
  bool consent_separate = true;     // biometric consent asked separately, with purpose, method, scope and retention
  int retention_days = 365;         // retention period stated for face data; 0: none set
  bool raw_images_kept = false;     // captured face images stored beyond the decision
  bool card_access = true;          // residents who do not use face are given a card (false: they go to staff)
  std::vector<std::string> purposes{"access"};  // purposes the residents consented to
  bool reconsent_on_purpose_change = true;      // a new purpose suspends face entry until the resident consents again
  std::vector<PrivacyEventSpec> events;
  // Not a scenario key: the compliance counterfactual (counterfactual_of in privacy.hpp), in which every
  // resident who does not use face for a privacy reason uses it, and events change nobody's credential.
  bool everyone_uses_face = false;
};

struct Expectations {
  std::optional<double> far_max, frr_max, fta_max, p95_wait_s_max, mean_wait_s_max, max_wait_s_max,
      throughput_min, fever_sensitivity_min, fever_false_alarm_max, unauthorised_entries_max,
      staff_interventions_per_hour_max, passages_min;
};

struct Scenario {
  std::string name = "unnamed";
  std::string description;
  std::string source_file;
  std::uint64_t seed = 1;
  std::string fidelity = "statistical";
  SimTime day_start = hours(6);
  SimTime day_end = hours(23);
  int day_index = 0;  // day number of the run (validity windows and quarantine are counted in days)
  PopulationSpec population;
  ArrivalSpec arrivals;
  std::vector<GateSpec> gates;
  ServiceSpec service;
  FaceModelSpec face;
  PixelSpec pixel;
  ThermalSpec thermal;
  CardSpec card;
  StaffSpec staff;
  recognizer::Policy policy;
  DevicesSpec devices;
  std::vector<DeviceFaultSpec> faults;
  HilSpec hil;
  PrivacySpec privacy;
  Expectations expect;
};

// Built-in hourly arrival profiles (relative weights), by name.
bool fill_profile(const std::string& name, std::array<double, 24>& entry, std::array<double, 24>& exit);

// Sum of the hourly weights over the open window [start, end), each hour counted by its overlap.
double profile_weight(const std::array<double, 24>& profile, SimTime start, SimTime end);

}  // namespace gatetwin::sim
