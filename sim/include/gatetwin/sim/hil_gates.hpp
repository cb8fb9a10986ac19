#pragma once
// Hardware in the loop for a whole scenario (fidelity: hil): every lane's emulated devices on loopback
// (DeviceRig), the rendered resident in front of each lane's camera and thermal sensor (LaneStage), and
// one gatectl process per gate that sees only sockets, exactly as in the field. The world (world.cpp)
// drives it: it puts a resident at a lane, swipes their card, walks them through the door; it learns
// that the gate let someone in from the relay's coil (never from gatectl's log), and reads gatectl's
// access events afterwards for the reasons and the metrics.
//
// The run directory's hil/ folder keeps what gatectl was given (configuration, policy, residents,
// gallery), what it wrote (its event log and stderr), and the device I/O the run exchanged with it:
// every Modbus transaction, every card frame presented, and a hash of every camera frame, each with its
// simulated time (io.jsonl; docs/hil.md). `gatetwin replay` runs a recorded scenario again against a
// changed gatectl or policy and compares the decisions.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gatetwin/devices/card_reader.hpp"
#include "gatetwin/devices/clock.hpp"
#include "gatetwin/devices/wiegand.hpp"
#include "gatetwin/recognizer/policy.hpp"
#include "gatetwin/sim/gate_scene.hpp"
#include "gatetwin/sim/live.hpp"
#include "gatetwin/sim/population.hpp"
#include "gatetwin/sim/scenario.hpp"
#include "gatetwin/sim/time.hpp"

namespace gatetwin::sim {

// Something HIL needs is missing or failed to start (gatectl not found, a model missing, a device not up
// in time); the message names it.
class HilSetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The direction gatectl runs lane `lane` (0-based) of gate `g` in: the gate's own; a gate serving both
// directions alternates entry (lanes 1, 3, ...) and exit (lanes 2, 4, ...).
recognizer::Direction hil_lane_direction(const GateSpec& g, int lane);

// The card a person holds, as the residents file gatectl reads lists it (facility 1): a resident's own
// card is number id + 1; a revoked card one of 60000..64999 (listed as revoked); a cloned card carries the
// number of the resident it copies. nullopt: no card.
std::optional<devices::wiegand::Credential> hil_card(const Person& p, const Scenario& s);

// One gatectl access event as the simulation reads it back.
struct GateDecision {
  std::string source;                   // face | card
  std::string decision;                 // grant | deny | pending
  std::string reason;                   // the policy engine's reason (recognised, not_recognised, fever, ...)
  std::string next;                     // pending: what the terminal asks for next (read_card, staff_check, ...)
  std::optional<std::uint32_t> person;  // whom gatectl believes it saw (a simulation person id)
  std::optional<double> temperature_c;
  bool abnormal_temperature = false;
  std::string mask;                     // none | worn | below_nose | unknown
  bool referred_to_staff = false;
  std::string door;                     // opened | not_opened | closed
  double latency_ms = 0;                // gatectl: frame (or swipe) to decision
  std::optional<double> door_ms;        // gatectl: frame (or swipe) to the relay write's reply
  std::optional<std::array<float, 4>> face_box;  // face events: the decided face, x y w h in camera pixels
};

struct HilStats {
  double startup_s = 0;                          // wall time from launching gatectl to every device reported up (or down)
  std::vector<int> gatectl_exit;                 // per gate: the exit status after SIGTERM (0 = clean)
  std::map<std::string, std::uint64_t> events;   // gatectl's events by type (access, camera_down, relay_unreachable, ...)
  std::uint64_t frames_rendered = 0;             // by the lanes' stages
  std::uint64_t modbus_transactions = 0, card_frames = 0, frames_hashed = 0;  // recorded device I/O
  std::uint64_t stray_opens = 0;                 // relay energised while nobody waited at the lane
};

class HilGates {
 public:
  // Called on a device thread when a lane's relay energises. `lane` counts over all gates' lanes in
  // scenario order; `t` is the relay's simulated time.
  using OpenFn = std::function<void(std::size_t lane, SimTime t)>;

  // Prepares nothing yet; `workdir` is created by start() and holds every file of the HIL run.
  HilGates(const Scenario& s, const Population& pop, std::filesystem::path workdir, OpenFn on_open);
  ~HilGates();
  HilGates(const HilGates&) = delete;
  HilGates& operator=(const HilGates&) = delete;

  // Enrols the galleries (the core's models, in this process), writes gatectl's files, starts the devices
  // and one gatectl per gate, and waits until gatectl reports every device of every lane up, or down when faulty (wall limit
  // hil.startup_timeout). Simulated time stands at day.start until run_clock(). Throws HilSetupError.
  void start();
  // Simulated time starts moving from day.start at hil.speed, now.
  void run_clock();

  void present(std::size_t lane, SimTime t0, std::uint64_t passage, std::vector<scene::Actor> actors);
  void leave(std::size_t lane);       // nobody at the lane any more
  void door(std::size_t lane, bool open);
  // Shows every lane's camera frames to a live view; call before start().
  void set_live(LiveSink* live);
  // A card held to the lane's reader; recorded in the I/O log.
  devices::card::Presented swipe(std::size_t lane, const devices::wiegand::Frame& frame);
  // gatectl's access events for `lane` logged since the last call, in log order.
  std::vector<GateDecision> take_decisions(std::size_t lane);

  // SIGTERM to every gatectl (their exit status kept), devices stopped, logs closed. Idempotent.
  void stop();
  HilStats stats() const;
  std::size_t lanes() const;
  const std::filesystem::path& workdir() const { return dir_; }
  // The lane as the stages render it (pixel.* with the devices' camera size and frame rate).
  const scene::LaneSpec& lane_spec() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::filesystem::path dir_;
};

}  // namespace gatetwin::sim
