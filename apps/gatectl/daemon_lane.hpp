#pragma once
// One lane of the gate: its devices and its decision worker. The worker takes the newest camera frame or
// a queued card event, runs the face pipeline and the policy engine (recognizer::vision::decide_attempt,
// as `gatectl identify` does), reads the thermal sensor when a decision needs a temperature, opens the
// door relay on a grant, and writes one access event per decided attempt. The lane loop, the face
// session and the cooldown are described in docs/gatectl.md.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "daemon_audit.hpp"
#include "daemon_devices.hpp"
#include "gatetwin/recognizer/vision/attempt.hpp"

namespace gatetwin::gatectl {

// What every lane reads. The faces are replaced as a whole when consent changes (FaceDirectory).
struct Shared {
  const DaemonConfig& config;
  const recognizer::Policy& policy;
  const FaceDirectory& faces;
  const Residents* residents;             // card directory; null: no residents file, every card is unknown
  const recognizer::vision::Manifest& manifest;
  DaemonAudit* audit;                     // null: no registry, no audit log
};

class Lane {
 public:
  // Loads the lane's face pipeline (throws ModelError) and prepares its device clients; starts nothing.
  Lane(const Shared& shared, const LaneConfig& lane, EventLog& log, StopFlag& stop);
  ~Lane();
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  void start();          // the camera, card reader and worker threads
  void stop_input();     // after StopFlag::request(): no new frames; queued cards are still decided
  void join();
  Json status() const;
  const std::string& name() const { return lane_.name; }

 private:
  // A person (or an unrecognised face) in front of the camera across frames: the policy engine decides
  // one frame at a time, so the lane carries what a terminal's transaction would across frames.
  struct FaceSession {
    bool active = false;
    std::int64_t key = -1;                // person id, or -1 for a face no template matches
    std::uint64_t subject = 0;            // thermal stuck detector's subject
    int failed_faces = 0;                 // frames whose face did not match
    int abnormal_readings = 0;            // fever readings already taken (the re-measurement is done)
    int failed_thermal = 0;               // readings that could not be associated with the face
    bool thermal_reported = false;        // one thermal_invalid event per session
    SteadyTime last_seen{};
    SteadyTime started{};                 // first frame of the session: the thermal wait runs from here
  };

  struct ThermalSample {
    std::optional<recognizer::ThermalStatus> problem;  // set: no valid reading
    std::string detail;
    recognizer::SpotReading reading;
  };

  void work();
  void on_frame(const Frame& frame);
  void on_card(const CardSwipe& swipe);
  ThermalSample read_thermal();
  recognizer::ThermalAssociation face_association(const ThermalSample& s, const recognizer::vision::FrameAnalysis& a,
                                                  SteadyTime frame_time, std::uint64_t subject);
  recognizer::ThermalAssociation card_association(const ThermalSample& s, std::uint64_t subject);
  void thermal_invalid(const recognizer::ThermalAssociation& a, const char* source);
  bool needs_temperature() const;
  // Opens the door for a grant; on failure logs relay_unreachable / relay_refused with the fail mode.
  bool open_door(const recognizer::vision::AccessEvent& e, std::uint64_t attempt, std::string& error);
  // Records the decision in the audit log (if the gate has a registry), then opens the door on a grant
  // (unless the record failed on a fail-secure lane); fills the event's door fields.
  void actuate(Json& ev, const recognizer::vision::AccessEvent& e, SteadyTime since);
  void record(Json event, const recognizer::vision::AccessEvent& e, const recognizer::Outcome& outcome);
  bool in_cooldown(std::int64_t key, SteadyTime now);
  void start_cooldown(std::int64_t key, SteadyTime now);

  const Shared& shared_;
  const LaneConfig& lane_;
  EventLog& log_;
  StopFlag& stop_;
  DeviceHealth camera_health_, thermal_health_, relay_health_, reader_health_;
  LaneInbox inbox_;
  CameraLink camera_;
  std::unique_ptr<ReaderLink> reader_;
  std::unique_ptr<ModbusLink> thermal_;
  ModbusLink relay_;
  recognizer::vision::FacePipeline pipeline_;
  recognizer::ThermalFusionConfig fusion_;
  recognizer::StuckDetector stuck_;
  std::thread camera_thread_, reader_thread_, worker_thread_;

  // Worker-thread state.
  FaceSession session_;
  std::uint64_t subjects_ = 0;
  std::optional<std::uint32_t> last_counter_;  // thermal measurement counter
  Json last_reading_ = nullptr;                // the sensor's last registers, for thermal_invalid events
  std::optional<recognizer::vision::FrameAnalysis> latest_;  // for card + face
  SteadyTime latest_time_{};
  std::map<std::int64_t, SteadyTime> cooldown_;

  // Counters for the status query (worker writes, status server reads).
  struct Stats {
    std::uint64_t frames_analysed = 0, no_face = 0, not_acquired = 0, acquired = 0, analysis_errors = 0;
    std::uint64_t cooldown_skips = 0, face_attempts = 0, card_attempts = 0, grant = 0, deny = 0, pending = 0;
    std::uint64_t thermal_reads = 0, thermal_valid = 0, thermal_invalid = 0, relay_opens = 0, relay_failures = 0;
    std::uint64_t unaudited_refusals = 0;  // grants not opened: the audit log could not be written (fail-secure)
    double analysis_ms_last = 0, analysis_ms_total = 0;
    std::string last_event_time;
  };
  mutable std::mutex stats_mu_;
  Stats stats_;
  std::uint64_t attempts_ = 0;
};

}  // namespace gatetwin::gatectl
