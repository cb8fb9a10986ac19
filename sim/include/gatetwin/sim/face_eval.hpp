#pragma once
// Measuring the real recognition core on labelled face images (ISO/IEC 19795 vocabulary):
// algorithm-level FMR/FNMR and DET curves per mask protocol, EER, failure-to-acquire rates and the
// mask-state classifier's accuracy. The labelled set is a directory of images with a labels.csv; until
// pixel mode renders every passage, `render_face_set` produces one from the synthetic face renderer.
#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "gatetwin/recognizer/vision/pipeline.hpp"
#include "gatetwin/sim/camera_model.hpp"
#include "gatetwin/sim/face_render.hpp"

namespace gatetwin::sim {

// One labelled image. `mask` is the ground-truth mask state (a mask on the chin counts as none: nose and
// mouth are visible); `box` is the true face box when known (rendered sets), empty otherwise.
// `role`: "enrol" (the resident's enrolment photo), "probe" (a gate capture), "lookalike" (a gate capture
// of someone else resembling `person`, scored only against `person`'s enrolment), or empty (a set
// without roles: the first acquired unmasked / masked image of a person is the enrolment).
struct LabelledImage {
  std::string file;          // relative to the set's directory
  std::uint32_t person = 0;
  recognizer::MaskState mask = recognizer::MaskState::none;
  std::string mask_kind;     // none, surgical, cloth, n95, black
  std::string wear;          // none, proper, below_nose, on_chin
  cv::Rect2d box;
  std::string role;
  double distance_m = 0;     // camera to face, 0 when unknown
  double resemblance = 0;    // lookalike images: 1 identical twin .. 0 unrelated
};

// A synthetic set. Per identity: `unmasked` captures without a mask, the first of them the enrolment
// photo; `masked` with the mask worn properly, the first of them the masked enrolment photo; then
// captures with the mask below the nose and on the chin. Enrolment photos are what a resident submits
// through the mini-program (frontal, evenly lit, sharp: `enrol_nuisance`, inter-ocular 70-100 px); every
// other capture is a gate probe at `nuisance` and at a distance drawn uniformly from
// [distance_min_m, distance_max_m], its face size set by `camera`.
// The first `lookalikes` identities also get, per `resemblance` level, one unmasked and one masked gate
// capture of a look-alike (render::lookalike_of).
struct FaceSetSpec {
  std::uint64_t seed = 1;
  std::uint32_t first_person = 0;
  std::uint32_t identities = 40;
  std::uint32_t unmasked = 3;      // captures per identity without a mask (the first: enrolment)
  std::uint32_t masked = 2;        // ... with the mask worn properly (the first: masked enrolment)
  std::uint32_t below_nose = 1;    // ... worn below the nose
  std::uint32_t on_chin = 0;       // ... pulled down onto the chin
  double nuisance = 1.0;           // gate probes: pose, light and blur range (0 = frontal studio captures)
  double enrol_nuisance = 0.25;    // enrolment photos
  double distance_min_m = 0.5;     // gate probes: distance from the camera
  double distance_max_m = 1.5;
  std::uint32_t lookalikes = 0;
  std::vector<double> resemblance{1.0, 0.9, 0.75, 0.5};
  cv::Size frame{640, 480};        // the camera's frame (its field of view is camera.hfov_deg)
  CameraModel camera;
  render::Demographics demographics;  // who the identities are (render::Demographics::named)
  int jpeg_quality = 92;           // images are written as JPEG (as a camera delivers them)
};

// One rendered capture of the set, in memory (the same order and labels as the files), with the identity
// and nuisance it was drawn with when it was rendered (for the per-image records of the report).
struct RenderedCapture {
  LabelledImage label;
  cv::Mat image;
  render::FaceIdentity identity;
  render::Capture capture;
  bool rendered = false;                  // identity and capture are known
};
std::vector<RenderedCapture> render_face_captures(const FaceSetSpec& spec);

// Renders a set into `dir` (created; must be empty or absent) with labels.csv. Returns the labels.
std::vector<LabelledImage> render_face_set(const FaceSetSpec& spec, const std::filesystem::path& dir);

// Reads dir/labels.csv; throws std::runtime_error naming the file, line and field on bad input.
std::vector<LabelledImage> load_labels(const std::filesystem::path& dir);

// Error rates of one comparison protocol.
struct DetPoint {
  double threshold, fmr, fnmr;
};
struct ProtocolResult {
  std::string name;                // e.g. "unmasked/unmasked" (enrolment/probe)
  std::vector<double> genuine, impostor;
  std::vector<DetPoint> det;       // threshold ascending
  double eer = 0;                  // equal error rate (interpolated)
  double eer_threshold = 0;
  double fnmr_at(double threshold) const;
  double fmr_at(double threshold) const;
};

// Sweeps thresholds over [-1, 1] and interpolates the EER.
ProtocolResult score_protocol(std::string name, std::vector<double> genuine, std::vector<double> impostor);

// Gate probes counted in one stratum (a true mask state or a distance band).
struct ProbeCounts {
  std::size_t images = 0;
  std::size_t with_box = 0, detected = 0;  // true box known; a detection with IoU >= 0.4 to it
  std::size_t not_acquired = 0;            // failures to acquire (any reason)
  std::size_t too_small = 0;               // ... of them: below the quality gate's inter-ocular minimum
};

// Look-alike impostors at one resemblance level, scored against the resembled person's enrolment.
struct LookalikeResult {
  double resemblance = 0;
  std::vector<double> unmasked, masked;    // scores of unmasked / masked look-alike probes
};

// One image as the evaluation saw it: what the pipeline made of it and, for probes, how it scored against
// its own person's unmasked enrolment and against the best other enrolled person. Rendered sets add the
// capture's nuisance, so failures can be traced to pose, light, distance or blur.
struct ImageRecord {
  LabelledImage label;
  std::string failure;                    // "none" when acquired
  std::string classified_mask;            // empty when not acquired
  double interocular_px = 0, yaw_deg = 0, pitch_deg = 0, sharpness = 0, brightness = 0;  // the pipeline's estimates
  double genuine = std::numeric_limits<double>::quiet_NaN();   // vs the own unmasked enrolment
  double best_impostor = std::numeric_limits<double>::quiet_NaN();
  std::uint32_t best_impostor_person = 0;
  // What the image was drawn with (rendered sets): the capture's nuisance and the identity's traits.
  struct Drawn {
    float yaw_deg = 0, pitch_deg = 0, roll_deg = 0, light_azimuth_deg = 0, light_elevation_deg = 0;
    float light_strength = 0, ambient = 0, fill_light = 0, expression = 0, eyes_closed = 0;
    float motion_blur_px = 0, defocus_px = 0, noise_sigma = 0;
    bool hat = false, glasses = false;
    std::uint8_t hair_style = 0, skin_tone = 0;
  };
  std::optional<Drawn> drawn;
};

struct EvalReport {
  std::size_t images = 0;
  std::vector<ImageRecord> records;       // every image, in evaluation order (enrolment photos included)
  std::map<std::string, std::pair<std::size_t, std::size_t>> acquire;  // per true mask state: (images, failures)
  std::map<std::string, std::size_t> failure_reasons;
  std::size_t boxes_checked = 0, boxes_found = 0;   // true box known; a detection with IoU >= 0.4
  std::map<std::string, ProbeCounts> probes_by_mask;  // gate probes per true mask state
  std::map<std::string, ProbeCounts> probes_by_distance;  // ... per distance band ("0.50-0.75 m")
  std::size_t enrolments = 0, enrol_failures = 0;   // enrolment photos; failures to enrol
  std::array<std::array<std::size_t, 3>, 3> mask_confusion{};  // [true][classified], acquired images only
  std::vector<ProtocolResult> protocols;
  std::vector<LookalikeResult> lookalikes;          // resemblance descending
  double threshold_unmasked = 0, threshold_masked = 0;  // the policy's, reported beside the rates
  double mean_latency_ms = 0;

  double mask_accuracy() const;
  double fta(const std::string& mask_state) const;
  const ProtocolResult* protocol(const std::string& name) const;
};

// The threshold at which a protocol's FMR falls to `target_fmr` (the (1 - target) quantile of the
// impostor scores); NaN without impostors.
double threshold_at_fmr(const ProtocolResult& p, double target_fmr);

// Runs the pipeline on every image. Protocols (enrolment / probe): the first acquired unmasked image of
// a person is that person's unmasked enrolment, the first acquired masked one the masked enrolment;
// every other acquired image is a probe, compared with every enrolment of the protocol's kind.
// `progress` is called after every image (may be empty).
EvalReport evaluate(recognizer::vision::FacePipeline& pipeline, const std::vector<RenderedCapture>& images,
                    const recognizer::Policy& policy);
// Renders `spec` a few identities at a time and evaluates as it goes (memory: the per-image records, about
// 250 bytes an image, and one embedding per probe);
// the same report as evaluate(pipeline, render_face_captures(spec), policy).
EvalReport evaluate_set(recognizer::vision::FacePipeline& pipeline, const FaceSetSpec& spec,
                        const recognizer::Policy& policy);
EvalReport evaluate_directory(recognizer::vision::FacePipeline& pipeline, const std::filesystem::path& dir,
                              const recognizer::Policy& policy);

// report.json, det_<protocol>.csv, det.png and images.csv (one row per image) into `dir` (created).
void write_eval_report(const EvalReport& report, const std::filesystem::path& dir);
std::string eval_summary(const EvalReport& report);
// NIST FRVT's view of masks: thresholds set on unmasked probes (FMR 1%, 0.1%, 0.01% where there are
// enough impostor comparisons), and what masked probes (unmasked enrolment) get at the same thresholds.
struct OperatingPoint {
  double fmr = 0, threshold = 0, fnmr_unmasked = 0, fnmr_masked = 0, fmr_masked = 0;
};
std::vector<OperatingPoint> operating_points(const EvalReport& report);
// Demographic differentials (as NIST FRVT part 3 reports them): unmasked gate probes of rendered sets per
// skin-tone stratum of the renderer (0 lightest .. 5 darkest), with their failures to acquire and their
// false non-matches at the unmasked/unmasked EER threshold and at the policy's threshold.
struct StratumRates {
  int skin_tone = 0;
  std::size_t probes = 0, not_acquired = 0, scored = 0;
  std::size_t below_eer_threshold = 0, below_policy_threshold = 0;
};
std::vector<StratumRates> skin_tone_rates(const EvalReport& report);

// The DET plot (FNMR against FMR, log axes) as an image.
cv::Mat draw_det(const EvalReport& report);

// Trains the mask-state classifier on rendered faces passed through the pipeline's own detector,
// landmarks and alignment (so it learns what it will see), and measures it on held-out identities.
struct MaskTraining {
  recognizer::vision::MaskClassifier classifier;
  std::size_t train_images = 0, heldout_images = 0, skipped = 0;
  std::array<std::array<std::size_t, 3>, 3> heldout_confusion{};
  double heldout_accuracy = 0;
  std::string provenance;
};
MaskTraining train_mask_classifier(recognizer::vision::FacePipeline& pipeline, std::uint64_t seed,
                                   std::uint32_t train_identities, std::uint32_t heldout_identities);

}  // namespace gatetwin::sim
