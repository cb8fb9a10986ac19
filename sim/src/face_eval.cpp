#include "gatetwin/sim/face_eval.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "gatetwin/sim/random.hpp"
#include "gatetwin/sim/report.hpp"

namespace gatetwin::sim {
namespace fs = std::filesystem;
using recognizer::MaskState;
namespace vision = recognizer::vision;

namespace {

const char* kind_name(render::MaskKind k) {
  switch (k) {
    case render::MaskKind::none: return "none";
    case render::MaskKind::surgical: return "surgical";
    case render::MaskKind::cloth: return "cloth";
    case render::MaskKind::n95: return "n95";
    case render::MaskKind::black: return "black";
  }
  return "none";
}
const char* wear_name(render::MaskWear w) {
  switch (w) {
    case render::MaskWear::none: return "none";
    case render::MaskWear::proper: return "proper";
    case render::MaskWear::below_nose: return "below_nose";
    case render::MaskWear::on_chin: return "on_chin";
  }
  return "none";
}

std::size_t mask_index(MaskState m) {
  return m == MaskState::none ? 0 : m == MaskState::worn ? 1 : 2;
}

std::optional<MaskState> parse_mask_state(const std::string& s) {
  if (s == "none") return MaskState::none;
  if (s == "worn") return MaskState::worn;
  if (s == "below_nose") return MaskState::below_nose;
  return std::nullopt;
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

namespace {

using Rng = RandomStream;

std::uint64_t capture_key(std::uint32_t person, std::uint32_t capture) {
  return (static_cast<std::uint64_t>(person) << 20) | capture;
}

// The person's real inter-ocular distance (adult mean 63 mm, sd ~3.5 mm): with the camera's focal length
// it sets the face size at a distance.
double interocular_m(std::uint64_t seed, std::uint32_t person) {
  Rng r(seed, "face.set.iod_m", person);
  return std::clamp(r.normal(0.063, 0.0035), 0.054, 0.072);
}

// A gate probe: the capture's nuisance from render::sample_capture, the face size from the distance.
// The person looks at the terminal's screen, a few centimetres off the camera's axis, and stands where
// the screen shows the whole face.
render::Capture gate_capture(const FaceSetSpec& spec, std::uint32_t person, std::uint32_t key_person,
                             std::uint32_t capture, double* distance) {
  render::Capture c = render::sample_capture(spec.seed, key_person, capture, spec.nuisance);
  Rng r(spec.seed, "face.set.distance", capture_key(key_person, capture));
  const double lo = std::max(0.1, spec.distance_min_m), hi = std::max(lo, spec.distance_max_m);
  const double d = hi > lo ? r.uniform(lo, hi) : lo;
  CameraModel cam = spec.camera;
  cam.frame = spec.frame;
  const double nominal_iod = c.interocular_px;  // the size sample_capture drew its blur for
  c.interocular_px = cam.interocular_px(d, interocular_m(spec.seed, person));
  // The same movement during the exposure smears a near face over more pixels than a far one: motion
  // blur scales with the face's size in the frame.
  c.motion_blur_px *= c.interocular_px / std::max(1.0, nominal_iod);
  const double n = std::clamp(spec.nuisance, 0.0, 2.0), f = cam.focal_px(), iod = c.interocular_px;
  const double w = spec.frame.width, h = spec.frame.height;
  double x = 0.5 * w + f * n * r.uniform(-0.08, 0.08) / d;
  double y = 0.47 * h + f * n * r.uniform(-0.06, 0.06) / d;
  x = 1.4 * iod < w - 1.4 * iod ? std::clamp(x, 1.4 * iod, w - 1.4 * iod) : 0.5 * w;
  y = 1.4 * iod < h - 2.1 * iod ? std::clamp(y, 1.4 * iod, h - 2.1 * iod) : 0.45 * h;
  c.face_centre = {x, y};
  *distance = d;
  return c;
}

// An enrolment photo as the mini-program takes it: frontal, evenly lit, sharp, the face large and
// centred, eyes open, no hat.
render::Capture enrol_capture(const FaceSetSpec& spec, std::uint32_t person, std::uint32_t capture) {
  render::Capture c = render::sample_capture(spec.seed, person, capture, spec.enrol_nuisance);
  Rng r(spec.seed, "face.set.enrol", capture_key(person, capture));
  const double k = spec.frame.width / 640.0;
  c.interocular_px = k * r.uniform(70, 100);
  c.face_centre = {spec.frame.width * (c.face_centre.x / 640.0), spec.frame.height * 0.45 + (c.face_centre.y - 225) * k};
  c.hat = false;
  c.eyes_closed = 0;
  return c;
}

}  // namespace

std::vector<RenderedCapture> render_face_captures(const FaceSetSpec& spec) {
  std::vector<RenderedCapture> out;
  constexpr std::array<render::MaskKind, 4> kinds{render::MaskKind::surgical, render::MaskKind::cloth,
                                                  render::MaskKind::n95, render::MaskKind::black};
  auto emit = [&](const render::FaceIdentity& id, render::Capture c, LabelledImage label) {
    c.jpeg_quality = 0;  // compression happens once, when the image is encoded below
    render::Rendered r = render::render_face(id, c, spec.frame);
    if (spec.jpeg_quality > 0) {  // what a camera delivers: the round trip is part of the image
      std::vector<unsigned char> buf;
      cv::imencode(".jpg", r.image, buf, {cv::IMWRITE_JPEG_QUALITY, spec.jpeg_quality});
      r.image = cv::imdecode(buf, cv::IMREAD_COLOR);
    }
    label.mask_kind = kind_name(c.wear == render::MaskWear::none ? render::MaskKind::none : c.mask);
    label.wear = wear_name(c.wear);
    label.box = r.truth.face_box;
    out.push_back({std::move(label), std::move(r.image), id, c, true});
  };
  auto wear_mask = [&](render::Capture& c, render::MaskWear wear, std::uint32_t person, std::uint32_t capture) {
    if (wear == render::MaskWear::none) return;
    c.wear = wear;
    c.mask = kinds[(person + capture) % kinds.size()];
    c.mask_colour = static_cast<int>((person * 7 + capture * 3) % 5);
  };
  auto state_of = [](render::MaskWear wear) {
    return wear == render::MaskWear::proper       ? MaskState::worn
           : wear == render::MaskWear::below_nose ? MaskState::below_nose
                                                  : MaskState::none;
  };
  for (std::uint32_t i = 0; i < spec.identities; ++i) {
    const std::uint32_t person = spec.first_person + i;
    const render::FaceIdentity id = render::sample_identity(spec.seed, person, spec.demographics);
    std::uint32_t capture = 0;
    auto add = [&](render::MaskWear wear, std::uint32_t count, bool first_enrols) {
      for (std::uint32_t k = 0; k < count; ++k, ++capture) {
        const bool enrol = first_enrols && k == 0;
        double distance = 0;
        render::Capture c = enrol ? enrol_capture(spec, person, capture) : gate_capture(spec, person, person, capture, &distance);
        wear_mask(c, wear, person, capture);
        LabelledImage l;
        std::ostringstream name;
        name << "p" << std::setw(5) << std::setfill('0') << person << "_c" << std::setw(2) << capture << "_"
             << wear_name(wear) << ".jpg";
        l.file = name.str();
        l.person = person;
        l.mask = state_of(wear);
        l.role = enrol ? "enrol" : "probe";
        l.distance_m = distance;
        emit(id, c, std::move(l));
      }
    };
    add(render::MaskWear::none, spec.unmasked, true);
    add(render::MaskWear::proper, spec.masked, true);
    add(render::MaskWear::below_nose, spec.below_nose, false);
    add(render::MaskWear::on_chin, spec.on_chin, false);
    if (i >= spec.lookalikes) continue;
    // Look-alikes: per level a different person resembling this one, seen once bare and once masked.
    for (std::size_t level = 0; level < spec.resemblance.size(); ++level) {
      const double rho = std::clamp(spec.resemblance[level], 0.0, 1.0);
      const std::uint64_t twin_seed = Rng(spec.seed, "face.set.lookalike", capture_key(person, static_cast<std::uint32_t>(level))).next_u64();
      const render::FaceIdentity twin = render::lookalike_of(id, rho, twin_seed, spec.demographics);
      for (std::uint32_t k = 0; k < 2; ++k) {
        const std::uint32_t cap = 1000 + static_cast<std::uint32_t>(level) * 2 + k;
        double distance = 0;
        render::Capture c = gate_capture(spec, person, person, cap, &distance);
        const render::MaskWear wear = k == 0 ? render::MaskWear::none : render::MaskWear::proper;
        wear_mask(c, wear, person, cap);
        LabelledImage l;
        std::ostringstream name;
        name << "p" << std::setw(5) << std::setfill('0') << person << "_l" << std::setw(3) << std::lround(rho * 100) << "_c"
             << std::setw(2) << k << "_" << wear_name(wear) << ".jpg";
        l.file = name.str();
        l.person = person;
        l.mask = state_of(wear);
        l.role = "lookalike";
        l.distance_m = distance;
        l.resemblance = rho;
        emit(twin, c, std::move(l));
      }
    }
  }
  return out;
}

std::vector<LabelledImage> render_face_set(const FaceSetSpec& spec, const fs::path& dir_in) {
  std::error_code ec;
  fs::path dir = dir_in.lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();  // "set/" names the directory "set"
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
    throw std::runtime_error(dir.string() + ": exists and is not empty; choose a new directory for the face set");
  // Staged beside the target and renamed into place: the set appears whole or not at all.
  const fs::path staging = dir.parent_path() / (dir.filename().string() + ".partial");
  if (fs::exists(staging, ec))
    throw std::runtime_error(staging.string() + ": exists (left by an interrupted run?); remove it first");
  fs::create_directories(staging);
  struct Cleanup {
    const fs::path& path;
    bool armed = true;
    ~Cleanup() {
      std::error_code e;
      if (armed) fs::remove_all(path, e);
    }
  } cleanup{staging};
  std::ostringstream csv;
  csv << "file,person,mask,mask_kind,wear,box_x,box_y,box_w,box_h,role,distance_m,resemblance\n";
  std::vector<LabelledImage> labels;
  FaceSetSpec raw = spec;
  raw.jpeg_quality = 0;  // the file's own JPEG encoding is the camera's one compression
  for (auto& rc : render_face_captures(raw)) {
    const fs::path file = staging / rc.label.file;
    if (!cv::imwrite(file.string(), rc.image, {cv::IMWRITE_JPEG_QUALITY, spec.jpeg_quality > 0 ? spec.jpeg_quality : 95}))
      throw std::runtime_error(file.string() + ": cannot write image");
    const auto& b = rc.label.box;
    csv << rc.label.file << ',' << rc.label.person << ',' << recognizer::to_string(rc.label.mask) << ','
        << rc.label.mask_kind << ',' << rc.label.wear << ',' << std::fixed << std::setprecision(1) << b.x << ',' << b.y
        << ',' << b.width << ',' << b.height << ',' << rc.label.role << ',' << std::setprecision(3) << rc.label.distance_m
        << ',' << std::setprecision(2) << rc.label.resemblance << '\n';
    labels.push_back(rc.label);
  }
  write_file_atomic((staging / "labels.csv").string(), csv.str());
  fs::remove(dir, ec);  // empty or absent
  fs::rename(staging, dir);
  cleanup.armed = false;
  return labels;
}

std::vector<LabelledImage> load_labels(const fs::path& dir) {
  const fs::path file = dir / "labels.csv";
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read (a face set needs labels.csv: file,person,mask[,...])");
  std::string line;
  std::vector<LabelledImage> out;
  int lineno = 0;
  std::map<std::string, std::size_t> col;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    const auto f = split_csv(line);
    if (col.empty()) {
      for (std::size_t i = 0; i < f.size(); ++i) col[f[i]] = i;
      for (const char* need : {"file", "person", "mask"})
        if (!col.count(need))
          throw std::runtime_error(file.string() + ":" + std::to_string(lineno) + ": header: missing column '" + need + "'");
      continue;
    }
    auto field = [&](const std::string& name) -> std::string {
      auto it = col.find(name);
      return it == col.end() || it->second >= f.size() ? std::string() : f[it->second];
    };
    auto fail = [&](const std::string& name, const std::string& msg) {
      throw std::runtime_error(file.string() + ":" + std::to_string(lineno) + ": " + name + ": " + msg);
    };
    LabelledImage l;
    l.file = field("file");
    if (l.file.empty() || l.file.find("..") != std::string::npos || fs::path(l.file).is_absolute())
      fail("file", "must be a file name inside the set's directory");
    try {
      std::size_t used = 0;
      const unsigned long p = std::stoul(field("person"), &used);
      if (used != field("person").size() || p > 0xFFFFFFFFul) throw std::out_of_range("");
      l.person = static_cast<std::uint32_t>(p);
    } catch (const std::exception&) {
      fail("person", "must be a whole number, got '" + field("person") + "'");
    }
    const auto m = parse_mask_state(field("mask"));
    if (!m) fail("mask", "must be none, worn or below_nose, got '" + field("mask") + "'");
    l.mask = *m;
    l.mask_kind = field("mask_kind");
    l.wear = field("wear");
    if (col.count("box_w")) {
      try {
        l.box = cv::Rect2d(std::stod(field("box_x")), std::stod(field("box_y")), std::stod(field("box_w")),
                           std::stod(field("box_h")));
      } catch (const std::exception&) {
        fail("box", "box_x, box_y, box_w, box_h must be numbers");
      }
    }
    l.role = field("role");
    if (!l.role.empty() && l.role != "enrol" && l.role != "probe" && l.role != "lookalike")
      fail("role", "must be enrol, probe, lookalike or empty, got '" + l.role + "'");
    for (auto [name, value] : {std::pair{"distance_m", &l.distance_m}, std::pair{"resemblance", &l.resemblance}}) {
      const std::string v = field(name);
      if (v.empty()) continue;
      try {
        std::size_t used = 0;
        *value = std::stod(v, &used);
        if (used != v.size() || !(*value >= 0)) throw std::out_of_range("");
      } catch (const std::exception&) {
        fail(name, "must be a number >= 0, got '" + v + "'");
      }
    }
    out.push_back(l);
  }
  if (out.empty()) throw std::runtime_error(file.string() + ": no images listed");
  return out;
}

double ProtocolResult::fnmr_at(double t) const {
  if (genuine.empty()) return 0;
  return static_cast<double>(std::count_if(genuine.begin(), genuine.end(), [&](double s) { return s < t; })) /
         static_cast<double>(genuine.size());
}
double ProtocolResult::fmr_at(double t) const {
  if (impostor.empty()) return 0;
  return static_cast<double>(std::count_if(impostor.begin(), impostor.end(), [&](double s) { return s >= t; })) /
         static_cast<double>(impostor.size());
}

ProtocolResult score_protocol(std::string name, std::vector<double> genuine, std::vector<double> impostor) {
  ProtocolResult r;
  r.name = std::move(name);
  r.eer = r.eer_threshold = std::numeric_limits<double>::quiet_NaN();  // no comparisons: no EER
  std::sort(genuine.begin(), genuine.end());
  std::sort(impostor.begin(), impostor.end());
  r.genuine = std::move(genuine);
  r.impostor = std::move(impostor);
  if (r.genuine.empty() || r.impostor.empty()) return r;
  // Accept when score >= t. FNMR(t) = share of genuine below t; FMR(t) = share of impostors at or above t.
  const auto share_below = [](const std::vector<double>& v, double t) {
    return static_cast<double>(std::lower_bound(v.begin(), v.end(), t) - v.begin()) / static_cast<double>(v.size());
  };
  for (int i = 0; i <= 400; ++i) {
    const double t = -1.0 + i * 0.005;
    r.det.push_back({t, 1.0 - share_below(r.impostor, t), share_below(r.genuine, t)});
  }
  // EER: where FMR (falling) crosses FNMR (rising); interpolate between the bracketing grid points.
  r.eer = 0.5;
  for (std::size_t i = 1; i < r.det.size(); ++i) {
    const auto& a = r.det[i - 1];
    const auto& b = r.det[i];
    const double da = a.fmr - a.fnmr, db = b.fmr - b.fnmr;
    if (da >= 0 && db <= 0) {
      const double w = da == db ? 0.0 : da / (da - db);
      r.eer_threshold = a.threshold + w * (b.threshold - a.threshold);
      r.eer = (a.fmr + w * (b.fmr - a.fmr) + a.fnmr + w * (b.fnmr - a.fnmr)) / 2.0;
      break;
    }
  }
  return r;
}

double EvalReport::mask_accuracy() const {
  std::size_t ok = 0, n = 0;
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      n += mask_confusion[i][j];
      if (i == j) ok += mask_confusion[i][j];
    }
  return n ? static_cast<double>(ok) / static_cast<double>(n) : 0.0;
}

double EvalReport::fta(const std::string& m) const {
  auto it = acquire.find(m);
  if (it == acquire.end() || it->second.first == 0) return 0.0;
  return static_cast<double>(it->second.second) / static_cast<double>(it->second.first);
}

const ProtocolResult* EvalReport::protocol(const std::string& name) const {
  for (const auto& p : protocols)
    if (p.name == name) return &p;
  return nullptr;
}

double threshold_at_fmr(const ProtocolResult& p, double target_fmr) {
  if (p.impostor.empty()) return std::numeric_limits<double>::quiet_NaN();
  // Accept when score >= t: the smallest t with at most target * n impostors at or above it.
  const auto n = static_cast<double>(p.impostor.size());
  const auto allowed = static_cast<std::size_t>(std::floor(std::clamp(target_fmr, 0.0, 1.0) * n));
  if (allowed >= p.impostor.size()) return -1.0;
  const double v = p.impostor[p.impostor.size() - 1 - allowed];  // sorted ascending
  return std::nextafter(v, 2.0);
}

namespace {

struct Probe {
  std::uint32_t person;
  MaskState mask;
  std::vector<float> embedding;
  double resemblance = 0;
  std::size_t record = 0;  // index into EvalReport::records
};

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

std::string distance_band(double d) {
  const double lo = std::floor(d * 4 + 1e-9) / 4;
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << lo << "-" << lo + 0.25 << " m";
  return s.str();
}

class Evaluator {
 public:
  Evaluator(vision::FacePipeline& p, const recognizer::Policy& policy) : pipeline_(p) {
    report_.threshold_unmasked = policy.threshold_unmasked;
    report_.threshold_masked = policy.threshold_masked;
  }

  void add(const LabelledImage& label, const cv::Mat& image, const RenderedCapture* rendered = nullptr) {
    ++report_.images;
    auto& acq = report_.acquire[std::string(recognizer::to_string(label.mask))];
    ++acq.first;
    const vision::FrameAnalysis a = pipeline_.analyse(image);
    latency_sum_ += a.timings.total;
    const std::size_t record = report_.records.size();
    {
      ImageRecord rec;
      rec.label = label;
      rec.failure = std::string(vision::to_string(a.failure));
      if (a.deciding >= 0 && a.faces[static_cast<std::size_t>(a.deciding)].quality) {
        const vision::Quality& q = *a.faces[static_cast<std::size_t>(a.deciding)].quality;
        rec.interocular_px = q.interocular_px, rec.yaw_deg = q.yaw_deg, rec.pitch_deg = q.pitch_deg;
        rec.sharpness = q.sharpness, rec.brightness = q.brightness;
      }
      if (a.usable()) rec.classified_mask = std::string(recognizer::to_string(a.mask.state));
      if (rendered && rendered->rendered) {
        const render::Capture& c = rendered->capture;
        const render::FaceIdentity& id = rendered->identity;
        auto f = [](double v) { return static_cast<float>(v); };
        rec.drawn = ImageRecord::Drawn{f(c.yaw_deg), f(c.pitch_deg), f(c.roll_deg), f(c.light_azimuth_deg),
                                       f(c.light_elevation_deg), f(c.light_strength), f(c.ambient), f(c.fill_light),
                                       f(c.expression), f(c.eyes_closed), f(c.motion_blur_px), f(c.defocus_px),
                                       f(c.noise_sigma), c.hat, id.glasses, static_cast<std::uint8_t>(id.hair_style),
                                       static_cast<std::uint8_t>(id.skin_tone)};
      }
      report_.records.push_back(std::move(rec));
    }
    const bool enrol_photo = label.role == "enrol";
    bool detected = false;
    if (label.box.area() > 0) {
      ++report_.boxes_checked;
      for (const auto& f : a.faces)
        if (vision::iou(f.detection.box, cv::Rect2f(label.box)) >= 0.4) detected = true;
      if (detected) ++report_.boxes_found;
    }
    if (enrol_photo) ++report_.enrolments;
    if (!enrol_photo) {  // a gate capture: detection and acquisition per mask state and distance band
      std::vector<ProbeCounts*> strata{&report_.probes_by_mask[std::string(recognizer::to_string(label.mask))]};
      if (label.distance_m > 0) strata.push_back(&report_.probes_by_distance[distance_band(label.distance_m)]);
      for (ProbeCounts* c : strata) {
        ++c->images;
        if (label.box.area() > 0) ++c->with_box, c->detected += detected ? 1 : 0;
        if (!a.usable()) ++c->not_acquired, c->too_small += a.failure == vision::AcquireFailure::too_small ? 1 : 0;
      }
    }
    if (!a.usable()) {
      ++acq.second;
      ++report_.failure_reasons[std::string(vision::to_string(a.failure))];
      if (enrol_photo) ++report_.enrol_failures;
      return;
    }
    ++report_.mask_confusion[mask_index(label.mask)][mask_index(a.mask.state)];
    const bool masked = label.mask != MaskState::none;
    if (label.role == "lookalike") {
      lookalikes_.push_back({label.person, label.mask, a.embedding, label.resemblance, record});
      return;
    }
    auto& enrolled = masked ? masked_enrol_ : unmasked_enrol_;
    if (enrol_photo || (label.role.empty() && !enrolled.count(label.person))) {
      if (!enrolled.count(label.person)) enrolled[label.person] = a.embedding;
      return;
    }
    probes_.push_back({label.person, label.mask, a.embedding, 0.0, record});
  }

  EvalReport finish() {
    std::vector<double> g_uu, i_uu, g_um, i_um, g_mm, i_mm;
    for (const Probe& p : probes_) {
      const bool masked = p.mask != MaskState::none;
      // Unmasked enrolment: probe unmasked -> U/U; probe masked -> U/M.
      ImageRecord& rec = report_.records[p.record];
      for (const auto& [person, e] : unmasked_enrol_) {
        const double s = dot(e, p.embedding);
        auto& g = masked ? g_um : g_uu;
        auto& i = masked ? i_um : i_uu;
        (person == p.person ? g : i).push_back(s);
        if (person == p.person) {
          rec.genuine = s;
        } else if (!(s <= rec.best_impostor)) {  // also replaces the initial NaN
          rec.best_impostor = s, rec.best_impostor_person = person;
        }
      }
      if (masked)
        for (const auto& [person, e] : masked_enrol_) (person == p.person ? g_mm : i_mm).push_back(dot(e, p.embedding));
    }
    report_.protocols.push_back(score_protocol("unmasked/unmasked", std::move(g_uu), std::move(i_uu)));
    report_.protocols.push_back(score_protocol("unmasked/masked", std::move(g_um), std::move(i_um)));
    report_.protocols.push_back(score_protocol("masked/masked", std::move(g_mm), std::move(i_mm)));
    // Look-alikes against the unmasked enrolment of the person they resemble.
    std::map<double, LookalikeResult, std::greater<>> levels;
    for (const Probe& p : lookalikes_) {
      auto it = unmasked_enrol_.find(p.person);
      if (it == unmasked_enrol_.end()) continue;
      auto& l = levels[p.resemblance];
      l.resemblance = p.resemblance;
      const double s = dot(it->second, p.embedding);
      (p.mask == MaskState::none ? l.unmasked : l.masked).push_back(s);
      report_.records[p.record].best_impostor = s, report_.records[p.record].best_impostor_person = p.person;
    }
    for (auto& [r, l] : levels) report_.lookalikes.push_back(std::move(l));
    report_.mean_latency_ms = report_.images ? latency_sum_ / static_cast<double>(report_.images) : 0.0;
    return report_;
  }

 private:
  vision::FacePipeline& pipeline_;
  EvalReport report_;
  std::map<std::uint32_t, std::vector<float>> unmasked_enrol_, masked_enrol_;
  std::vector<Probe> probes_, lookalikes_;
  double latency_sum_ = 0;
};

double share_at_or_above(const std::vector<double>& v, double t) {
  if (v.empty()) return 0;
  return static_cast<double>(std::count_if(v.begin(), v.end(), [&](double s) { return s >= t; })) /
         static_cast<double>(v.size());
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace

EvalReport evaluate(vision::FacePipeline& pipeline, const std::vector<RenderedCapture>& images,
                    const recognizer::Policy& policy) {
  Evaluator e(pipeline, policy);
  for (const auto& rc : images) e.add(rc.label, rc.image, &rc);
  return e.finish();
}

EvalReport evaluate_set(vision::FacePipeline& pipeline, const FaceSetSpec& spec, const recognizer::Policy& policy) {
  Evaluator e(pipeline, policy);
  constexpr std::uint32_t chunk = 25;
  for (std::uint32_t done = 0; done < spec.identities; done += chunk) {
    FaceSetSpec part = spec;
    part.first_person = spec.first_person + done;
    part.identities = std::min(chunk, spec.identities - done);
    part.lookalikes = spec.lookalikes > done ? std::min(part.identities, spec.lookalikes - done) : 0;
    for (const auto& rc : render_face_captures(part)) e.add(rc.label, rc.image, &rc);
  }
  return e.finish();
}

EvalReport evaluate_directory(vision::FacePipeline& pipeline, const fs::path& dir, const recognizer::Policy& policy) {
  const auto labels = load_labels(dir);
  Evaluator e(pipeline, policy);
  for (const auto& l : labels) {
    const cv::Mat img = cv::imread((dir / l.file).string(), cv::IMREAD_COLOR);
    if (img.empty()) throw std::runtime_error((dir / l.file).string() + ": cannot read image (listed in labels.csv)");
    e.add(l, img);
  }
  return e.finish();
}

cv::Mat draw_det(const EvalReport& report) {
  const int W = 720, H = 560, left = 80, right = 20, top = 40, bottom = 70;
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  // Log axes from 1e-4 to 1 for both FMR (x) and FNMR (y).
  const double lo = -4.0;
  auto px = [&](double fmr) {
    const double v = std::log10(std::max(fmr, 1e-4));
    return left + static_cast<int>((v - lo) / -lo * (W - left - right));
  };
  auto py = [&](double fnmr) {
    const double v = std::log10(std::max(fnmr, 1e-4));
    return H - bottom - static_cast<int>((v - lo) / -lo * (H - top - bottom));
  };
  const cv::Scalar grid(225, 225, 225), axis(60, 60, 60);
  for (int d = -4; d <= 0; ++d) {
    const double v = std::pow(10.0, d);
    cv::line(img, {px(v), top}, {px(v), H - bottom}, grid, 1);
    cv::line(img, {left, py(v)}, {W - right, py(v)}, grid, 1);
    std::ostringstream s;
    s << (d == 0 ? "1" : "1e" + std::to_string(d));
    cv::putText(img, s.str(), {px(v) - 14, H - bottom + 20}, cv::FONT_HERSHEY_SIMPLEX, 0.45, axis, 1, cv::LINE_AA);
    cv::putText(img, s.str(), {left - 48, py(v) + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.45, axis, 1, cv::LINE_AA);
  }
  cv::rectangle(img, {left, top}, {W - right, H - bottom}, axis, 1);
  cv::putText(img, "FMR (false match rate)", {W / 2 - 90, H - 20}, cv::FONT_HERSHEY_SIMPLEX, 0.55, axis, 1, cv::LINE_AA);
  cv::putText(img, "FNMR", {8, (top + H - bottom) / 2 - 20}, cv::FONT_HERSHEY_SIMPLEX, 0.55, axis, 1, cv::LINE_AA);
  cv::putText(img, "DET per mask protocol (enrolment/probe)", {left, 26}, cv::FONT_HERSHEY_SIMPLEX, 0.6, axis, 1,
              cv::LINE_AA);
  const std::array<cv::Scalar, 3> colours{cv::Scalar(180, 90, 20), cv::Scalar(30, 120, 230), cv::Scalar(40, 160, 40)};
  for (std::size_t k = 0; k < report.protocols.size() && k < colours.size(); ++k) {
    const auto& p = report.protocols[k];
    if (p.det.empty()) continue;
    std::vector<cv::Point> pts;
    for (const auto& d : p.det) pts.emplace_back(px(d.fmr), py(d.fnmr));
    cv::polylines(img, pts, false, colours[k], 2, cv::LINE_AA);
    cv::circle(img, {px(p.eer), py(p.eer)}, 5, colours[k], cv::FILLED, cv::LINE_AA);
    std::ostringstream s;
    s << p.name << "  EER " << std::fixed << std::setprecision(1) << 100 * p.eer << "%";
    const int ly = H - bottom - 80 + 22 * static_cast<int>(k);  // legend in the lower left, clear of the curves
    cv::line(img, {left + 15, ly}, {left + 45, ly}, colours[k], 3);
    cv::putText(img, s.str(), {left + 53, ly + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.48, axis, 1, cv::LINE_AA);
  }
  return img;
}

namespace {

// One row per image: the label, what the pipeline made of it, its scores, and for rendered sets the
// capture's nuisance (so failures can be sorted by pose, light, distance or blur).
std::string images_csv(const EvalReport& r) {
  std::ostringstream s;
  s << "file,person,role,mask,distance_m,resemblance,failure,classified_mask,iod_px,yaw_deg,pitch_deg,sharpness,"
       "brightness,genuine,best_impostor,best_impostor_person,true_yaw_deg,true_pitch_deg,true_roll_deg,"
       "light_azimuth_deg,light_elevation_deg,light_strength,ambient,fill_light,expression,eyes_closed,"
       "motion_blur_px,defocus_px,noise_sigma,hat,glasses,hair_style,skin_tone\n";
  auto num = [&](double v, int precision) {
    if (std::isnan(v)) return std::string();
    std::ostringstream o;
    o << std::fixed << std::setprecision(precision) << v;
    return o.str();
  };
  for (const ImageRecord& x : r.records) {
    const LabelledImage& l = x.label;
    const bool scored = !std::isnan(x.genuine) || !std::isnan(x.best_impostor);
    s << l.file << ',' << l.person << ',' << l.role << ',' << recognizer::to_string(l.mask) << ','
      << num(l.distance_m, 3) << ',' << num(l.resemblance, 2) << ',' << x.failure << ',' << x.classified_mask << ','
      << num(x.interocular_px, 1) << ',' << num(x.yaw_deg, 1) << ',' << num(x.pitch_deg, 1) << ','
      << num(x.sharpness, 1) << ',' << num(x.brightness, 1) << ',' << num(x.genuine, 4) << ','
      << num(x.best_impostor, 4) << ',' << (scored && !std::isnan(x.best_impostor) ? std::to_string(x.best_impostor_person) : "");
    if (x.drawn) {
      const ImageRecord::Drawn& c = *x.drawn;
      s << ',' << num(c.yaw_deg, 1) << ',' << num(c.pitch_deg, 1) << ',' << num(c.roll_deg, 1) << ','
        << num(c.light_azimuth_deg, 1) << ',' << num(c.light_elevation_deg, 1) << ',' << num(c.light_strength, 3) << ','
        << num(c.ambient, 3) << ',' << num(c.fill_light, 3) << ',' << num(c.expression, 2) << ','
        << num(c.eyes_closed, 0) << ',' << num(c.motion_blur_px, 2) << ',' << num(c.defocus_px, 2) << ','
        << num(c.noise_sigma, 2) << ',' << (c.hat ? 1 : 0) << ',' << (c.glasses ? 1 : 0) << ','
        << static_cast<int>(c.hair_style) << ',' << static_cast<int>(c.skin_tone);
    } else {
      s << std::string(17, ',');
    }
    s << '\n';
  }
  return s.str();
}

}  // namespace

void write_eval_report(const EvalReport& r, const fs::path& dir) {
  fs::create_directories(dir);
  nlohmann::json j;
  j["images"] = r.images;
  j["mean_pipeline_latency_ms"] = r.mean_latency_ms;
  for (const auto& [m, a] : r.acquire)
    j["failure_to_acquire"][m] = {{"images", a.first}, {"failures", a.second}, {"rate", r.fta(m)}};
  j["failure_reasons"] = r.failure_reasons;
  j["detection"] = {{"with_true_box", r.boxes_checked}, {"found_iou_0_4", r.boxes_found}};
  auto counts = [](const ProbeCounts& c) {
    return nlohmann::json{{"images", c.images},
                          {"with_true_box", c.with_box},
                          {"detected", c.detected},
                          {"detection_rate", c.with_box ? static_cast<double>(c.detected) / static_cast<double>(c.with_box) : 0.0},
                          {"not_acquired", c.not_acquired},
                          {"too_small", c.too_small},
                          {"fta", c.images ? static_cast<double>(c.not_acquired) / static_cast<double>(c.images) : 0.0}};
  };
  for (const auto& [m, c] : r.probes_by_mask) j["gate_probes"]["by_mask"][m] = counts(c);
  for (const auto& [d, c] : r.probes_by_distance) j["gate_probes"]["by_distance"][d] = counts(c);
  j["enrolment"] = {{"photos", r.enrolments}, {"failures_to_enrol", r.enrol_failures}};
  const char* names[] = {"none", "worn", "below_nose"};
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t k = 0; k < 3; ++k) j["mask_classifier"]["confusion"][names[i]][names[k]] = r.mask_confusion[i][k];
  j["mask_classifier"]["accuracy"] = r.mask_accuracy();
  for (const auto& p : r.protocols) {
    nlohmann::json pj;
    pj["genuine_comparisons"] = p.genuine.size();
    pj["impostor_comparisons"] = p.impostor.size();
    pj["eer"] = p.eer;
    pj["eer_threshold"] = p.eer_threshold;
    const bool masked_probe = p.name != "unmasked/unmasked";
    const double t = masked_probe ? r.threshold_masked : r.threshold_unmasked;
    pj["policy_threshold"] = t;
    pj["fmr_at_policy_threshold"] = p.fmr_at(t);
    pj["fnmr_at_policy_threshold"] = p.fnmr_at(t);
    pj["mean_genuine_score"] = mean_of(p.genuine);
    pj["mean_impostor_score"] = mean_of(p.impostor);
    j["protocols"][p.name] = pj;
    std::ostringstream csv;
    csv << "threshold,fmr,fnmr\n";
    for (const auto& d : p.det) csv << d.threshold << ',' << d.fmr << ',' << d.fnmr << '\n';
    std::string file = "det_" + p.name + ".csv";
    std::replace(file.begin(), file.end(), '/', '_');
    write_file_atomic((dir / file).string(), csv.str());
  }
  for (const auto& op : operating_points(r)) {
    j["operating_points"].push_back({{"unmasked_fmr", op.fmr},
                                     {"threshold", op.threshold},
                                     {"fnmr_unmasked", op.fnmr_unmasked},
                                     {"fnmr_masked", op.fnmr_masked},
                                     {"fmr_masked", op.fmr_masked}});
  }
  for (const auto& t : skin_tone_rates(r)) {
    auto rate = [](std::size_t a, std::size_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
    j["unmasked_probes_by_skin_tone"].push_back({{"skin_tone", t.skin_tone},
                                                  {"probes", t.probes},
                                                  {"not_acquired", t.not_acquired},
                                                  {"scored", t.scored},
                                                  {"fnmr_at_eer_threshold", rate(t.below_eer_threshold, t.scored)},
                                                  {"fnmr_at_policy_threshold", rate(t.below_policy_threshold, t.scored)},
                                                  {"fta", rate(t.not_acquired, t.probes)}});
  }
  for (const auto& l : r.lookalikes) {
    j["lookalikes"].push_back({{"resemblance", l.resemblance},
                               {"unmasked_probes", l.unmasked.size()},
                               {"masked_probes", l.masked.size()},
                               {"mean_score_unmasked", mean_of(l.unmasked)},
                               {"mean_score_masked", mean_of(l.masked)},
                               {"fmr_unmasked_at_policy", share_at_or_above(l.unmasked, r.threshold_unmasked)},
                               {"fmr_masked_at_policy", share_at_or_above(l.masked, r.threshold_masked)}});
  }
  write_file_atomic((dir / "report.json").string(), j.dump(2) + "\n");
  write_file_atomic((dir / "images.csv").string(), images_csv(r));
  std::vector<unsigned char> png;
  cv::imencode(".png", draw_det(r), png);
  write_file_atomic((dir / "det.png").string(), std::string(png.begin(), png.end()));
}

std::vector<OperatingPoint> operating_points(const EvalReport& r) {
  std::vector<OperatingPoint> out;
  const ProtocolResult* uu = r.protocol("unmasked/unmasked");
  const ProtocolResult* um = r.protocol("unmasked/masked");
  if (!uu || uu->genuine.empty() || uu->impostor.empty()) return out;
  for (double fmr : {1e-2, 1e-3, 1e-4}) {
    if (fmr * static_cast<double>(uu->impostor.size()) < 10) continue;  // too few impostors to place it
    OperatingPoint op;
    op.fmr = fmr;
    op.threshold = threshold_at_fmr(*uu, fmr);
    op.fnmr_unmasked = uu->fnmr_at(op.threshold);
    op.fnmr_masked = um && !um->genuine.empty() ? um->fnmr_at(op.threshold) : std::numeric_limits<double>::quiet_NaN();
    op.fmr_masked = um && !um->impostor.empty() ? um->fmr_at(op.threshold) : std::numeric_limits<double>::quiet_NaN();
    out.push_back(op);
  }
  return out;
}

std::vector<StratumRates> skin_tone_rates(const EvalReport& r) {
  std::map<int, StratumRates> by;
  const ProtocolResult* uu = r.protocol("unmasked/unmasked");
  const double eer_t = uu ? uu->eer_threshold : std::numeric_limits<double>::quiet_NaN();
  for (const ImageRecord& x : r.records) {
    if (!x.drawn || x.label.role != "probe" || x.label.mask != MaskState::none) continue;
    StratumRates& s = by[x.drawn->skin_tone];
    s.skin_tone = x.drawn->skin_tone;
    ++s.probes;
    if (x.failure != "none") ++s.not_acquired;
    if (std::isnan(x.genuine)) continue;
    ++s.scored;
    if (x.genuine < eer_t) ++s.below_eer_threshold;
    if (x.genuine < r.threshold_unmasked) ++s.below_policy_threshold;
  }
  std::vector<StratumRates> out;
  for (auto& [tone, s] : by) out.push_back(s);
  return out;
}

std::string eval_summary(const EvalReport& r) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(2);
  auto pct = [](std::size_t a, std::size_t b) { return b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  s << "images: " << r.images << "  mean pipeline latency: " << r.mean_latency_ms << " ms\n";
  s << "detection (true box, IoU >= 0.4): " << r.boxes_found << "/" << r.boxes_checked << "\n";
  auto stratum = [&](const std::string& name, const ProbeCounts& c) {
    s << "  " << name << ": detected " << c.detected << "/" << c.with_box << " (" << pct(c.detected, c.with_box)
      << "%), not acquired " << c.not_acquired << "/" << c.images << " (" << pct(c.not_acquired, c.images)
      << "%; below the minimum size: " << c.too_small << ")\n";
  };
  if (!r.probes_by_mask.empty()) s << "gate probes per true mask state:\n";
  for (const auto& [m, c] : r.probes_by_mask) stratum(m, c);
  if (!r.probes_by_distance.empty()) s << "gate probes per distance band:\n";
  for (const auto& [d, c] : r.probes_by_distance) stratum(d, c);
  if (r.enrolments) s << "failure to enrol: " << r.enrol_failures << "/" << r.enrolments << "\n";
  for (const auto& [m, a] : r.acquire)
    s << "failure to acquire, " << m << ": " << a.second << "/" << a.first << " (" << 100 * r.fta(m) << "%)\n";
  s << "mask classifier accuracy: " << 100 * r.mask_accuracy() << "% (rows true none/worn/below_nose, cols classified)\n";
  for (const auto& row : r.mask_confusion) s << "  " << row[0] << " " << row[1] << " " << row[2] << "\n";
  for (const auto& p : r.protocols) {
    const double t = p.name == "unmasked/unmasked" ? r.threshold_unmasked : r.threshold_masked;
    if (p.genuine.empty() || p.impostor.empty()) {
      s << p.name << ": n/a (" << p.genuine.size() << " genuine, " << p.impostor.size() << " impostor comparisons)\n";
      continue;
    }
    s << p.name << ": EER " << 100 * p.eer << "% at " << p.eer_threshold << "; at the policy threshold " << t
      << ": FMR " << 100 * p.fmr_at(t) << "%, FNMR " << 100 * p.fnmr_at(t) << "% (" << p.genuine.size()
      << " genuine, " << p.impostor.size() << " impostor comparisons; mean scores " << mean_of(p.genuine) << " / "
      << mean_of(p.impostor) << ")\n";
  }
  for (const auto& op : operating_points(r)) {
    s << "unmasked operating point FMR " << 100 * op.fmr << "% (threshold " << std::setprecision(3) << op.threshold
      << std::setprecision(2) << "): FNMR unmasked " << 100 * op.fnmr_unmasked << "%, masked " << 100 * op.fnmr_masked
      << "% (x" << std::setprecision(1) << (op.fnmr_unmasked > 0 ? op.fnmr_masked / op.fnmr_unmasked : 0.0)
      << std::setprecision(2) << "); masked FMR " << 100 * op.fmr_masked << "%\n";
  }
  const ProtocolResult* uu_p = r.protocol("unmasked/unmasked");
  const auto tones = skin_tone_rates(r);
  if (!tones.empty() && uu_p && !std::isnan(uu_p->eer_threshold)) {
    s << "unmasked gate probes per skin tone (0 lightest .. 5 darkest): FNMR at the EER threshold "
      << std::setprecision(3) << uu_p->eer_threshold << " / at the policy's " << r.threshold_unmasked
      << std::setprecision(2) << "; FTA\n";
    for (const auto& t : tones)
      s << "  tone " << t.skin_tone << ": " << pct(t.below_eer_threshold, t.scored) << "% / "
        << pct(t.below_policy_threshold, t.scored) << "% of " << t.scored << "; FTA " << pct(t.not_acquired, t.probes)
        << "% of " << t.probes << "\n";
  }
  for (const auto& l : r.lookalikes) {
    s << "look-alikes, resemblance " << l.resemblance << ": FMR unmasked at " << r.threshold_unmasked << " "
      << 100 * share_at_or_above(l.unmasked, r.threshold_unmasked) << "% (" << l.unmasked.size() << ", mean score "
      << mean_of(l.unmasked) << "), masked at " << r.threshold_masked << " "
      << 100 * share_at_or_above(l.masked, r.threshold_masked) << "% (" << l.masked.size() << ", mean score "
      << mean_of(l.masked) << ")\n";
  }
  return s.str();
}

MaskTraining train_mask_classifier(vision::FacePipeline& pipeline, std::uint64_t seed, std::uint32_t train_identities,
                                   std::uint32_t heldout_identities) {
  MaskTraining t;
  auto collect = [&](std::uint32_t first, std::uint32_t n, std::vector<vision::MaskClassifier::Features>& x,
                     std::vector<int>& y) {
    FaceSetSpec spec;
    spec.seed = seed;
    spec.first_person = first;
    spec.identities = n;
    spec.unmasked = 2;  // an enrolment photo and a gate capture
    spec.masked = 2;    // the same, masked
    spec.below_nose = 1;
    spec.on_chin = 1;
    for (const auto& rc : render_face_captures(spec)) {
      const auto a = pipeline.analyse(rc.image);
      if (a.aligned.empty() || a.failure != vision::AcquireFailure::none) {
        ++t.skipped;
        continue;
      }
      x.push_back(vision::MaskClassifier::features(a.aligned));
      y.push_back(static_cast<int>(mask_index(rc.label.mask)));
    }
  };
  std::vector<vision::MaskClassifier::Features> xt, xh;
  std::vector<int> yt, yh;
  // Held-out identities are different people from the training ones (ids from 1'000'000 up).
  collect(0, train_identities, xt, yt);
  collect(1'000'000, heldout_identities, xh, yh);
  // Per identity: 3 x none (bare enrolment photo, bare gate capture, mask on the chin), 2 x worn (enrolment
  // photo, gate capture), 1 x below the nose; gate captures at 0.5-1.5 m.
  t.classifier = vision::MaskClassifier::train(xt, yt);
  t.train_images = xt.size();
  t.heldout_images = xh.size();
  std::size_t ok = 0;
  for (std::size_t i = 0; i < xh.size(); ++i) {
    const std::size_t got = mask_index(t.classifier.classify(xh[i]).state);
    ++t.heldout_confusion[static_cast<std::size_t>(yh[i])][got];
    if (got == static_cast<std::size_t>(yh[i])) ++ok;
  }
  t.heldout_accuracy = xh.empty() ? 0.0 : static_cast<double>(ok) / static_cast<double>(xh.size());
  std::ostringstream p;
  p << "gatetwin train-mask --seed " << seed << " --train " << train_identities << " --heldout " << heldout_identities
    << "\nfeatures: the pipeline's own detection, landmarks and alignment on synthetic renders\n"
    << "training images: " << t.train_images << ", held-out images (other identities): " << t.heldout_images
    << ", skipped (not acquired): " << t.skipped << "\nheld-out accuracy: " << std::fixed << std::setprecision(4)
    << t.heldout_accuracy << "\n";
  t.provenance = p.str();
  return t;
}

}  // namespace gatetwin::sim
