#pragma once
// What a run shows while it runs, for a live view (gatetwin-studio's Live tab): the frames a lane's camera
// sees with the faces the core found, the door's state, and every decision as it is made. A run given no
// sink shows nothing and pays nothing. Calls may come from the simulation's thread and, in HIL, from the
// emulated camera's thread: a sink must be thread-safe and quick (copy, then return).
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "gatetwin/sim/time.hpp"

namespace gatetwin::sim {

struct LiveFace {
  cv::Rect2f box;          // in the frame's pixels
  bool deciding = false;   // the face the core decided on
};

struct LiveFrame {
  std::string lane;                  // "gate/lane", as RunOutput::lane_names
  std::optional<SimTime> t;          // simulated time of the frame (HIL); pixel attempts are not timed frame by frame
  std::uint64_t passage = 0;
  cv::Mat image;                     // BGR, valid during the call only
  std::vector<LiveFace> faces;
  std::string caption;               // e.g. "R000123 approaching, frame 4"
};

struct LiveEvent {
  SimTime t{0};
  std::string lane;                  // "" when the passage used no lane
  std::uint64_t passage = 0;
  std::string person, direction, credential, decision, reason;
  std::optional<double> temperature_c;
  bool from_gatectl = false;         // HIL: an access event of gatectl's (else the simulation's final decision)
  std::optional<cv::Rect2f> face_box;  // HIL face events: the face gatectl decided on, camera pixels
};

class LiveSink {
 public:
  virtual ~LiveSink() = default;
  virtual void frame(const LiveFrame&) {}
  virtual void event(const LiveEvent&) {}
  virtual void door(const std::string& /*lane*/, bool /*open*/, SimTime /*t*/) {}
};

}  // namespace gatetwin::sim
