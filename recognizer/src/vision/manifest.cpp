#include "gatetwin/recognizer/vision/manifest.hpp"

#include <sodium.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace gatetwin::recognizer::vision {
namespace fs = std::filesystem;

fs::path default_model_root() {
  if (const char* m = std::getenv("GATETWIN_MODELS"); m && *m) return fs::path(m);
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "gatetwin" / "models";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "gatetwin" / "models";
  return fs::path(".cache") / "gatetwin" / "models";
}

namespace {

// Collects every problem with its position so a manifest author sees all of them at once.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void error(const YAML::Node& at, const std::string& field, const std::string& message) {
    std::ostringstream os;
    os << file_;
    if (at.IsDefined() && at.Mark().line >= 0) os << ':' << at.Mark().line + 1 << ':' << at.Mark().column + 1;
    os << ": " << field << ": " << message;
    errors_.push_back(os.str());
  }

  // Checks that `map` has only `allowed` keys.
  void only(const YAML::Node& map, const std::string& where, std::initializer_list<const char*> allowed) {
    if (!map.IsMap()) return;
    std::set<std::string> ok(allowed.begin(), allowed.end());
    for (const auto& kv : map) {
      const auto key = kv.first.as<std::string>();
      if (!ok.count(key)) error(kv.first, where.empty() ? key : where + "." + key, "unknown key");
    }
  }

  YAML::Node map(const YAML::Node& parent, const std::string& key, const std::string& field, bool required) {
    YAML::Node n = parent[key];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) error(parent, field, "missing");
      return YAML::Node();
    }
    if (!n.IsMap()) {
      error(n, field, "must be a mapping");
      return YAML::Node();
    }
    return n;
  }

  std::string text(const YAML::Node& parent, const std::string& key, const std::string& field, bool required,
                   std::string fallback = {}) {
    YAML::Node n = parent[key];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) error(parent, field, "missing");
      return fallback;
    }
    if (!n.IsScalar()) {
      error(n, field, "must be a string");
      return fallback;
    }
    return n.Scalar();
  }

  double number(const YAML::Node& parent, const std::string& key, const std::string& field, double fallback,
                double lo, double hi, bool required = false) {
    YAML::Node n = parent[key];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) error(parent, field, "missing");
      return fallback;
    }
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) {
      error(n, field, "must be a number");
      return fallback;
    }
    if (!(v >= lo && v <= hi)) {
      std::ostringstream os;
      os << "must be in [" << lo << ", " << hi << "], got " << n.Scalar();
      error(n, field, os.str());
      return fallback;
    }
    return v;
  }

  int integer(const YAML::Node& parent, const std::string& key, const std::string& field, int fallback, int lo,
              int hi, bool required = false) {
    const double v = number(parent, key, field, fallback, lo, hi, required);
    if (v != static_cast<int>(v)) {
      error(parent[key], field, "must be a whole number");
      return fallback;
    }
    return static_cast<int>(v);
  }

  bool ok() const { return errors_.empty(); }
  std::string joined() const {
    std::string s;
    for (const auto& e : errors_) s += e + "\n";
    return s;
  }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

void read_model(Reader& r, const YAML::Node& node, const std::string& where, const fs::path& dir, ModelFile& m,
                std::initializer_list<const char*> extra_keys) {
  std::vector<const char*> keys{"file", "sha256", "input"};
  keys.insert(keys.end(), extra_keys.begin(), extra_keys.end());
  if (node.IsMap()) {
    std::set<std::string> ok(keys.begin(), keys.end());
    for (const auto& kv : node) {
      const auto key = kv.first.as<std::string>();
      if (!ok.count(key)) r.error(kv.first, where + "." + key, "unknown key");
    }
  }
  m.file = r.text(node, "file", where + ".file", true);
  if (!m.file.empty() && (fs::path(m.file).is_absolute() || m.file.find("..") != std::string::npos))
    r.error(node["file"], where + ".file", "must be a plain file name inside the model directory");
  m.path = dir / m.file;
  m.sha256 = r.text(node, "sha256", where + ".sha256", true);
  if (!m.sha256.empty() && !is_hex64(m.sha256))
    r.error(node["sha256"], where + ".sha256", "must be 64 lower-case hex digits");
  YAML::Node in = r.map(node, "input", where + ".input", true);
  if (!in.IsDefined()) return;
  const std::string w = where + ".input";
  r.only(in, w, {"width", "height", "channels", "colour", "mean", "scale"});
  m.input.width = r.integer(in, "width", w + ".width", 0, 8, 4096, true);
  m.input.height = r.integer(in, "height", w + ".height", 0, 8, 4096, true);
  m.input.channels = r.integer(in, "channels", w + ".channels", 3, 1, 3, true);
  const std::string colour = r.text(in, "colour", w + ".colour", true);
  if (colour == "rgb") m.input.colour = ColourOrder::rgb;
  else if (colour == "bgr") m.input.colour = ColourOrder::bgr;
  else if (colour == "grey") m.input.colour = ColourOrder::grey;
  else if (!colour.empty()) r.error(in["colour"], w + ".colour", "must be rgb, bgr or grey, got '" + colour + "'");
  if ((m.input.colour == ColourOrder::grey) != (m.input.channels == 1))
    r.error(in, w + ".channels", "grey input needs 1 channel, rgb/bgr need 3");
  m.input.mean = r.number(in, "mean", w + ".mean", 0.0, -255.0, 255.0);
  m.input.scale = r.number(in, "scale", w + ".scale", 1.0, 1e-6, 1e3);
}

}  // namespace

Manifest load_manifest(const fs::path& file, const fs::path& model_root) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw ModelError(file.string() + ": cannot read the model manifest");
  } catch (const YAML::ParserException& e) {
    throw ModelError(file.string() + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                     ": " + e.msg);
  }
  Reader r(file.string());
  Manifest m;
  m.source = fs::absolute(file);
  if (!root.IsMap()) throw ModelError(file.string() + ": a model manifest must be a YAML mapping");
  r.only(root, "", {"id", "directory", "fetch", "detector", "landmarks", "embedder", "liveness", "mask_classifier"});
  m.id = r.text(root, "id", "id", true);
  const std::string dir = r.text(root, "directory", "directory", true);
  m.model_dir = fs::path(dir).is_absolute() ? fs::path(dir) : model_root / dir;
  m.fetch_command = r.text(root, "fetch", "fetch", false, "scripts/fetch-models.sh");

  if (YAML::Node d = r.map(root, "detector", "detector", true); d.IsDefined()) {
    read_model(r, d, "detector", m.model_dir, m.detector.model,
               {"scores_output", "boxes_output", "face_class", "score_threshold", "nms_iou", "top_k"});
    m.detector.scores_output = r.text(d, "scores_output", "detector.scores_output", false, "scores");
    m.detector.boxes_output = r.text(d, "boxes_output", "detector.boxes_output", false, "boxes");
    m.detector.face_class = r.integer(d, "face_class", "detector.face_class", 1, 0, 1);
    m.detector.score_threshold = r.number(d, "score_threshold", "detector.score_threshold", 0.65, 0.0, 1.0);
    m.detector.nms_iou = r.number(d, "nms_iou", "detector.nms_iou", 0.4, 0.0, 1.0);
    m.detector.top_k = r.integer(d, "top_k", "detector.top_k", 750, 1, 100000);
  }
  if (YAML::Node l = r.map(root, "landmarks", "landmarks", true); l.IsDefined()) {
    read_model(r, l, "landmarks", m.model_dir, m.landmarks.model, {"points", "crop_scale"});
    m.landmarks.points = r.integer(l, "points", "landmarks.points", 68, 68, 68);
    m.landmarks.crop_scale = r.number(l, "crop_scale", "landmarks.crop_scale", 1.0, 0.5, 4.0);
  }
  if (YAML::Node e = r.map(root, "embedder", "embedder", true); e.IsDefined()) {
    read_model(r, e, "embedder", m.model_dir, m.embedder.model, {"dim", "template_points"});
    m.embedder.dim = r.integer(e, "dim", "embedder.dim", 512, 16, 4096, true);
    YAML::Node tp = e["template_points"];
    bool good = tp.IsSequence() && tp.size() == 5;
    for (std::size_t i = 0; good && i < 5; ++i) {
      good = tp[i].IsSequence() && tp[i].size() == 2;
      for (std::size_t k = 0; good && k < 2; ++k) {
        good = YAML::convert<double>::decode(tp[i][k], m.embedder.template_points[i][k]);
        good = good && m.embedder.template_points[i][k] >= 0 &&
               m.embedder.template_points[i][k] <= std::max(m.embedder.model.input.width, m.embedder.model.input.height);
      }
    }
    if (!good)
      r.error(tp.IsDefined() ? tp : e, "embedder.template_points",
              "must be five [x, y] pixel positions inside the input (eyes, nose tip, mouth corners)");
  }
  if (YAML::Node l = r.map(root, "liveness", "liveness", false); l.IsDefined()) {
    LivenessSpec s;
    read_model(r, l, "liveness", m.model_dir, s.model, {"crop_scale", "live_class"});
    s.crop_scale = r.number(l, "crop_scale", "liveness.crop_scale", 2.7, 0.5, 6.0);
    s.live_class = r.integer(l, "live_class", "liveness.live_class", 0, 0, 16);
    m.liveness = s;
  }
  const std::string mask = r.text(root, "mask_classifier", "mask_classifier", false);
  if (!mask.empty()) m.mask_classifier = fs::path(mask).is_absolute() ? fs::path(mask) : m.model_dir / mask;
  if (!r.ok()) throw ModelError(r.joined());
  return m;
}

std::string sha256_file(const fs::path& file) {
  if (sodium_init() < 0) throw ModelError("libsodium failed to initialise");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ModelError(file.string() + ": cannot open");
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = in.gcount();
    if (got > 0) crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(buf.data()),
                                           static_cast<unsigned long long>(got));
  }
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, out);
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : out) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

void verify_models(const Manifest& m) {
  std::vector<const ModelFile*> files{&m.detector.model, &m.landmarks.model, &m.embedder.model};
  if (m.liveness) files.push_back(&m.liveness->model);
  std::string problems;
  for (const ModelFile* f : files) {
    std::error_code ec;
    if (!fs::is_regular_file(f->path, ec)) {
      problems += "  missing: " + f->path.string() + "\n";
      continue;
    }
    const std::string got = sha256_file(f->path);
    if (got != f->sha256)
      problems += "  altered: " + f->path.string() + " has SHA-256 " + got + ", the manifest pins " + f->sha256 + "\n";
  }
  if (!problems.empty())
    throw ModelError("models for " + m.id + " (manifest " + m.source.string() + ") are not usable:\n" + problems +
                     "fix with: " + m.fetch_command);
}

}  // namespace gatetwin::recognizer::vision
