#pragma once
// Procedural synthetic faces for virtual residents. Every face is drawn from parameters by this code:
// no real person's image is used anywhere. A render is a pure function of (identity, capture, frame size),
// and identities and captures are pure functions of (seed, person[, capture]), so a run is reproducible.
//
// Coordinates: frame pixels, x to the right, y down. "Left eye" is the eye on the image's left.
#include <array>
#include <cstdint>
#include <string_view>
#include <opencv2/core.hpp>

namespace gatetwin::sim::render {

enum class MaskKind : std::uint8_t { none, surgical, cloth, n95, black };
enum class MaskWear : std::uint8_t { none, proper, below_nose, on_chin };

// What stays fixed for one person across captures. Geometry is in units of the inter-ocular distance.
struct FaceIdentity {
  std::uint64_t texture_seed = 0;   // skin texture, freckles, hair strands, small shape details
  double face_width = 2.05;         // cheek to cheek
  double face_length = 2.55;        // hairline to chin
  double jaw_squareness = 0.5;      // 0 pointed .. 1 square
  double chin_width = 0.5;
  double cheekbone = 0.5;
  double eye_size = 0.5;
  double eye_height = 0.5;          // vertical placement of the eyes
  double eye_tilt = 0.5;
  double brow_thickness = 0.5;
  double brow_height = 0.5;
  double brow_arch = 0.5;
  double nose_length = 0.5;
  double nose_width = 0.5;
  double mouth_width = 0.5;
  double lip_thickness = 0.5;
  double mouth_height = 0.5;
  double ear_size = 0.5;
  double age = 0.3;                 // 0 young .. 1 old: wrinkles, greyer hair
  cv::Vec3d skin_bgr{150, 170, 210};
  cv::Vec3d iris_bgr{40, 50, 70};
  cv::Vec3d hair_bgr{30, 30, 35};
  cv::Vec3d lip_bgr{110, 110, 180};
  int hair_style = 0;               // 0 short, 1 medium, 2 long, 3 bald, 4 bun, 5 fringe
  bool glasses = false;
  int glasses_style = 0;            // 0 thin metal round, 1 thick rectangular, 2 rimless, 3 browline
  bool beard = false;
  bool moustache = false;
  // Added for the renderer; sample_identity fills them, hand-built identities may keep the defaults.
  bool feminine = false;            // softer jaw and brows, never a beard, lipstick on some
  int skin_tone = 2;                // quota stratum of skin_bgr: 0 lightest .. 5 darkest
  double nose_bridge = 0.5;         // 0 flat .. 1 high bridge (how far the nose stands out)
  double forehead = 0.5;            // 0 low and sloping .. 1 high (hairline height)
  double asymmetry = 0.0;           // -1 .. 1: one brow higher, nose and mouth a little off the mid-line
  double brow_sparse = 0.45;        // 0 dense dark brows .. 1 sparse ones that let the skin through
  std::uint64_t marks_seed = 0;     // moles and freckles (0: from texture_seed); identical twins differ here
  // A smooth deformation of the whole head, fixed per person: (dx, dy) in IOD at a kWarpCols x kWarpRows grid
  // of control points spread over the head, interpolated between them (all zero: none). It varies the
  // shapes and placement of the features in many more ways than the named parameters above.
  static constexpr int kWarpCols = 5, kWarpRows = 6;
  std::array<float, 2 * kWarpCols * kWarpRows> shape_warp{};
};

// What changes from one capture to the next.
struct Capture {
  double yaw_deg = 0, pitch_deg = 0, roll_deg = 0;
  double interocular_px = 64;       // distance between the eye centres in the frame (sets the face size)
  cv::Point2d face_centre{320, 240};  // where the point between the eyes lands in the frame
  double light_azimuth_deg = 0;     // 0 = from the camera, +90 = from the image's right
  double light_elevation_deg = 30;
  double light_strength = 0.6;      // directional part
  double ambient = 0.5;
  double fill_light = 0;            // frontal light from the terminal itself (its fill LEDs), lit from the camera's side
  cv::Vec3d colour_cast{1, 1, 1};   // per-channel gain (B, G, R)
  double expression = 0;            // 0 neutral .. 1 smile
  double eyes_closed = 0;           // 0 open .. 1 closed
  double motion_blur_px = 0;
  double defocus_px = 0;
  double noise_sigma = 2;           // sensor noise, grey levels
  int jpeg_quality = 0;             // 0: no compression round-trip
  MaskKind mask = MaskKind::none;
  MaskWear wear = MaskWear::none;
  int mask_colour = 0;              // index into the kind's palette
  bool hat = false;
  std::uint64_t background_seed = 0;  // the background, and the clothing seen at the shoulders
  // Added for the renderer.
  double gaze_x = 0, gaze_y = 0;    // iris offset in units of the iris radius (-1 .. 1; + = image right / down)
  int hat_style = 0;                // 0 baseball cap, 1 beanie, 2 bucket hat
  int hat_colour = 0;               // index into the hat palette
};

// Who lives in the compound, as shares of the renderer's skin tones (0 lightest .. 5 darkest), hair
// colours (black, dark brown, brown, auburn, blond, light brown; greying with age comes on top) and iris
// colours (dark brown, brown, hazel, green, blue, grey). Shares need not sum to one. Equal shares keep the
// original quota (every block of 6 persons has each tone and hair colour once); other shares deal persons
// out in blocks of 100 that match the shares to the nearest person.
struct Demographics {
  std::array<double, 6> skin_tone{1, 1, 1, 1, 1, 1};
  std::array<double, 6> hair_colour{1, 1, 1, 1, 1, 1};
  std::array<double, 6> iris_colour{1, 1, 1, 1, 1, 1};
  // "balanced": every tone and colour equally (for measuring the core across the range: the default);
  // "beijing": a residential compound in Beijing (East Asian residents: light to medium tones, black and
  // dark-brown hair, brown eyes; 2% of residents from elsewhere). Throws std::invalid_argument otherwise.
  static Demographics named(std::string_view name);
  static constexpr const char* kNames = "balanced, beijing";
};

// Samples a person's identity. Identities are spread to be distinguishable (quotas keep skin tones,
// hair colours, glasses and hair styles in the shares `demographics` asks for).
FaceIdentity sample_identity(std::uint64_t seed, std::uint32_t person, const Demographics& demographics = {});

// A different person who resembles `base`: `resemblance` 1 is an identical twin (the same parameters up
// to small differences, other moles and freckles), 0 an unrelated person drawn from the population, in
// between every continuous parameter and colour is interpolated and every discrete one (sex, hair style
// and colour, glasses, beard) is the base's with that probability. Deterministic from (base, resemblance,
// seed). For stressing false accepts: look-alike impostors, twins, siblings.
FaceIdentity lookalike_of(const FaceIdentity& base, double resemblance, std::uint64_t seed,
                          const Demographics& demographics = {});

// Samples one capture's nuisance factors; `nuisance` scales the pose, lighting and blur ranges (0: a frontal,
// evenly lit, sharp capture; 1: the default gate conditions: yaw within ±20°, pitch ±12°, roll ±8°, a
// directional light up to 70° off the camera axis, inter-ocular 45-90 px, JPEG 70-95). Every capture also
// has the terminal's fill light (15-40% of the scene's light, from the camera's side), with the light
// levels scaled as auto-exposure would. The mask is left as none: callers set it. Faces are placed for a
// 640x480 frame (face_centre near its middle); callers rendering other sizes move face_centre.
Capture sample_capture(std::uint64_t seed, std::uint32_t person, std::uint32_t capture, double nuisance = 1.0);

// Where things really are in a render (for tests, alignment baselines and labelled evaluation sets).
struct FaceTruth {
  cv::Rect2d face_box;              // tight box: cheek to cheek, brows' top to chin
  std::array<cv::Point2d, 5> five;  // left eye centre, right eye centre, nose tip, mouth left, mouth right
  MaskKind mask = MaskKind::none;
  MaskWear wear = MaskWear::none;
  double interocular_px = 0;
};

struct Rendered {
  cv::Mat image;                    // CV_8UC3 BGR
  FaceTruth truth;
};

// A cluttered background (wall, door frame, signs) from its seed.
cv::Mat draw_background(std::uint64_t seed, cv::Size size);
// Draws one face onto `frame` (which may already hold others) and returns where it went.
FaceTruth draw_face(cv::Mat& frame, const FaceIdentity& identity, const Capture& capture);
// Camera effects on the whole frame: blur, noise, colour cast, JPEG round-trip. Deterministic from `seed`.
void apply_camera(cv::Mat& frame, const Capture& capture, std::uint64_t seed);
// Background + one face + camera effects.
Rendered render_face(const FaceIdentity& identity, const Capture& capture, cv::Size frame = {640, 480});

}  // namespace gatetwin::sim::render
