#pragma once
// The model manifest: which ONNX files the pipeline runs and how to feed and read them (input size,
// mean/scale, colour order, crop, output decoding). The pipeline is driven by it, so another vendor's
// models are dropped in by writing a manifest, not by changing code. Format: docs/models.md.
#include <array>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace gatetwin::recognizer::vision {

// A manifest or model problem: the message names the file, line and field, or the model file and the
// command that fixes it.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ColourOrder { rgb, bgr, grey };

struct TensorInput {
  int width = 0, height = 0, channels = 3;
  ColourOrder colour = ColourOrder::rgb;
  double mean = 0.0;                      // subtracted from every 0-255 pixel value ...
  double scale = 1.0;                     // ... then multiplied by this
};

struct ModelFile {
  std::string file;                       // relative to the manifest's model directory
  std::string sha256;                     // pinned, 64 hex digits
  std::filesystem::path path;             // resolved absolute path
  TensorInput input;
};

struct DetectorSpec {
  ModelFile model;
  std::string scores_output = "scores";   // N x 2 per-anchor class probabilities (already softmaxed)
  std::string boxes_output = "boxes";     // N x 4 decoded boxes x1,y1,x2,y2 normalised to the input
  int face_class = 1;
  double score_threshold = 0.65;
  double nms_iou = 0.4;
  int top_k = 750;
};

struct LandmarkSpec {
  ModelFile model;
  int points = 68;                        // iBUG 68-point scheme, output normalised to the crop
  double crop_scale = 1.0;                // crop = the detection box scaled about its centre
};

struct EmbedderSpec {
  ModelFile model;
  int dim = 512;
  // Where the five alignment points (left eye, right eye, nose tip, left and right mouth corner) go in
  // the embedder's input crop.
  std::array<std::array<double, 2>, 5> template_points{};
};

struct LivenessSpec {
  ModelFile model;
  double crop_scale = 2.7;                // crop = the detection box scaled about its centre
  int live_class = 0;                     // softmax index reported as "live" (undocumented by the vendor)
};

struct Manifest {
  std::string id;                         // e.g. "faceplugin-0.0.1"; stored with every template
  std::filesystem::path source;           // the manifest file
  std::filesystem::path model_dir;        // where the model files are
  std::string fetch_command;              // printed when a model is missing or altered
  DetectorSpec detector;
  LandmarkSpec landmarks;
  EmbedderSpec embedder;
  std::optional<LivenessSpec> liveness;
  std::filesystem::path mask_classifier;  // the trained mask-state classifier (gatetwin train-mask)

  std::string embedder_id() const { return id + "/" + embedder.model.file; }
};

// The models cache: $GATETWIN_MODELS, else $XDG_CACHE_HOME/gatetwin/models, else ~/.cache/gatetwin/models.
std::filesystem::path default_model_root();

// Loads and validates a manifest. `directory:` in the manifest is resolved against `model_root`.
// Throws ModelError naming file:line:column and the field for every problem found (all at once).
Manifest load_manifest(const std::filesystem::path& file,
                       const std::filesystem::path& model_root = default_model_root());

// Checks that every model file exists and has its pinned SHA-256; throws ModelError naming the file
// and the command that fixes it.
void verify_models(const Manifest& manifest);

// SHA-256 of a file as 64 lower-case hex digits (libsodium).
std::string sha256_file(const std::filesystem::path& file);

}  // namespace gatetwin::recognizer::vision
