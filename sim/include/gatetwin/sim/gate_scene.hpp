#pragma once
// The gate lane as the terminal's camera sees it: a resident walking up to the terminal over several frames
// at the camera's frame rate, optionally with someone close behind in the same lane (tailgating) and someone
// in the adjacent lane, plus the registered low-resolution thermal array's view of the same scene.
//
// Geometry (metres, seconds; docs/scene.md): the camera (CameraModel) sits at the terminal at lens height
// 1.55 m looking along the lane; z is the distance in front of the lens, x is to the image's right, y is
// the height above the floor. The subject walks from `start_distance_m` toward the terminal at
// `walk_speed_mps`, brakes over the last `brake_m` and stands at `stop_distance_m` for `dwell_s`.
//
// Frames are generated lazily, one per call to Approach::next(), so a caller that stops as soon as the
// recognition core acquires a face pays only for the frames it used. Everything is a pure function of
// (LaneSpec, actors): the same inputs give identical pixels.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "gatetwin/recognizer/thermal_fusion.hpp"
#include "gatetwin/sim/camera_model.hpp"
#include "gatetwin/sim/face_render.hpp"

namespace gatetwin::sim::scene {

enum class Role : std::uint8_t { subject, behind, adjacent };
std::string_view to_string(Role role);

// One person in the scene. The scene drives pose, size, position, lighting and blur; `look` supplies what
// the person wears and how they look: mask, wear, mask_colour, hat, hat_style, hat_colour, expression,
// eyes_closed, gaze. Its other fields are ignored.
struct Actor {
  std::uint32_t person = 0;
  Role role = Role::subject;
  render::FaceIdentity identity;
  render::Capture look;
  double skin_c = 36.3;        // forehead skin temperature, °C (the hottest skin the thermal array sees)
  double eye_height_m = 1.55;  // eye height above the floor
  double iod_m = 0.063;        // inter-ocular distance
  // Placement relative to the subject (see LaneSpec for the defaults make_actor draws):
  //   behind:   gap_m behind the subject along the lane (closing to 60% of it at the terminal);
  //   adjacent: gap_m farther than the subject at the start (may be negative: ahead of the subject).
  //   lateral_m: sideways offset from the lane's centre line (+ = image right).
  double gap_m = 0.0;
  double lateral_m = 0.0;
  double speed_factor = 1.0;   // adjacent: walking speed relative to the subject's
};

struct LaneSpec {
  CameraModel camera;
  std::uint64_t seed = 1;
  std::uint64_t passage = 0;       // with seed: the background, lighting and every actor's motion
  double start_distance_m = 2.5;   // subject's distance from the lens in the first frame
  double stop_distance_m = 0.6;    // where the subject stands in front of the terminal
  double walk_speed_mps = 1.0;
  double brake_m = 0.4;            // constant deceleration over the last brake_m before the stop
  double dwell_s = 1.0;            // standing at the terminal after the stop (frames keep coming)
  double ambient_c = 22.0;         // air and wall temperature, °C
  double nuisance = 1.0;           // scales pose wander, lighting variation and camera noise (0: clean)
  double exposure_s = 0.02;        // shutter time: motion blur = image speed x exposure
  double lane_width_m = 0.9;       // make_actor: adjacent lane centre offset
  render::Demographics demographics;  // make_actor: who the residents are
};

// A person drawn from the population for a role: identity from sample_identity(seed, person, demographics), eye height,
// skin temperature (N(36.3, 0.25) °C), placement and a look without mask or hat. Deterministic from
// (spec.seed, person, role).
Actor make_actor(const LaneSpec& spec, std::uint32_t person, Role role);

// Ground truth for one actor in one frame.
struct ActorInFrame {
  std::size_t actor = 0;          // index into the approach's actors
  std::uint32_t person = 0;
  Role role = Role::subject;
  double distance_m = 0;          // z of the eyes
  double lateral_m = 0;           // x of the eyes
  bool in_view = false;           // drawn, and at least half of the face box inside the frame
  bool drawn = false;             // any part (head or shoulders) drawn
  render::Capture capture;        // what draw_face was given (pose, size, position, mask...)
  render::FaceTruth face;         // set when drawn
};

struct SceneFrame {
  int index = 0;
  std::int64_t t_us = 0;          // since the approach began: llround(index * 1e6 / fps)
  cv::Mat image;                  // CV_8UC3 BGR, camera.frame size (empty when rendering was skipped)
  std::vector<ActorInFrame> actors;  // every actor, in the order given, drawn or not
};

class Approach {
 public:
  // Actors: at most one subject (the first actor with Role::subject leads; without one the scene is empty
  // of a subject and the others walk as if one were there). Throws std::invalid_argument on a bad spec.
  Approach(const LaneSpec& spec, std::vector<Actor> actors);

  // Renders the next frame into `out`; false after the last frame (out is left unchanged).
  bool next(SceneFrame& out);
  // The next frame's truth only (positions, captures, predicted face truth left empty), no pixels.
  bool next_truth_only(SceneFrame& out);
  int frames() const { return frames_; }
  int rendered() const { return rendered_; }   // frames whose pixels were drawn so far
  int position() const { return next_index_; }
  const LaneSpec& spec() const { return spec_; }
  const std::vector<Actor>& actors() const { return actors_; }

  // Subject's distance from the lens at time t (seconds since the start).
  double subject_distance_m(double t_s) const;

 private:
  struct Wander {                  // one actor's smooth head motion (drawn once, evaluated per frame)
    double yaw_amp[2], yaw_hz[2], yaw_phase[2], pitch_amp, pitch_hz, pitch_phase, pitch_bias, roll_amp,
        roll_hz, roll_phase, bob_phase, attention_far_m;
    std::uint64_t clothing_seed;
  };
  struct Place {                   // where an actor is at one instant
    double x, y, z;
  };
  Place place(std::size_t actor, double t_s) const;
  render::Capture capture_at(std::size_t actor, double t_s) const;
  void fill_truth(int index, SceneFrame& out) const;
  LaneSpec spec_;
  std::vector<Actor> actors_;
  std::vector<Wander> wander_;
  int subject_ = -1;               // index of the leading subject, -1 when none
  render::Capture base_;           // the passage's lighting and camera
  std::uint64_t passage_seed_ = 0;
  std::uint64_t background_seed_ = 0;
  cv::Mat background_;             // drawn once, on the first rendered frame
  int frames_ = 0;
  int next_index_ = 0;
  int rendered_ = 0;
};

// ---- Thermal view ---------------------------------------------------------------------------------------

struct ThermalSpec {
  int width = 32;                  // MLX90640-like 32x24; 80x60 also usual
  int height = 24;
  double noise_c = 0.08;           // per-pixel sensor noise, sd °C
  double clothing_rise = 0.2;      // clothing: ambient + this share of (skin - ambient)
  double hair_rise = 0.45;         // hair
  double hat_rise = 0.25;
  double mask_rise = 0.55;         // a worn mask (warmed by the breath)
  int oversample = 8;              // temperature image drawn at oversample x the array's size, then area-averaged
};

// The array's registration to the camera: it sees the same field of view, so a visible pixel centre
// (x, y) maps to thermal (u, v) = ((x + 0.5) * width / frame.width - 0.5, likewise for v).
recognizer::ArraySensorCalibration thermal_calibration(const CameraModel& camera, const ThermalSpec& spec = {});

// The array's frame for one scene frame: walls at ambient, clothing a little warmer, skin per actor (forehead
// and inner canthi at skin_c, cheeks, nose and chin cooler), worn masks, hair and hats between skin and
// ambient, glasses lenses near ambient; each thermal pixel is the area average of what it sees, plus noise
// from a stream keyed by (seed, passage, frame index). Time = the frame's t_us. Needs only the frame's truth.
recognizer::ThermalFrame thermal_frame(const LaneSpec& lane, std::span<const Actor> actors, const SceneFrame& frame,
                                       const ThermalSpec& spec = {});

// The thermal frame as a false-colour image (ironbow-like), upscaled by `scale` (nearest), range lo..hi °C.
cv::Mat thermal_false_colour(const recognizer::ThermalFrame& frame, int scale = 10, double lo_c = 20.0,
                             double hi_c = 38.0);

// A face as the core's fusion would see it, from truth: box, inter-ocular distance and the inner canthi
// (0.2 IOD inward of each eye centre). For tests and for pixel mode's truth-driven fusion.
recognizer::FaceObservation observe(const render::FaceTruth& face);

}  // namespace gatetwin::sim::scene
