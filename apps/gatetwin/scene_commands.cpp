#include "scene_commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "gatetwin/recognizer/thermal_fusion.hpp"
#include "gatetwin/sim/face_render.hpp"
#include "gatetwin/sim/gate_scene.hpp"
#include "gatetwin/sim/report.hpp"

namespace gatetwin::app {
namespace fs = std::filesystem;
namespace render = sim::render;
namespace scene = sim::scene;

namespace {

// Failures writing output (exit 3), as opposed to bad input (exit 2).
struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const std::map<std::string, render::MaskKind> kMaskKinds{{"none", render::MaskKind::none},
                                                         {"surgical", render::MaskKind::surgical},
                                                         {"cloth", render::MaskKind::cloth},
                                                         {"n95", render::MaskKind::n95},
                                                         {"black", render::MaskKind::black}};
const std::map<std::string, render::MaskWear> kMaskWears{{"proper", render::MaskWear::proper},
                                                         {"below_nose", render::MaskWear::below_nose},
                                                         {"on_chin", render::MaskWear::on_chin}};

std::string name_of(render::MaskKind k) {
  for (const auto& [n, v] : kMaskKinds)
    if (v == k) return n;
  return "?";
}
std::string name_of(render::MaskWear w) {
  if (w == render::MaskWear::none) return "none";
  for (const auto& [n, v] : kMaskWears)
    if (v == w) return n;
  return "?";
}

// Encodes and writes one image atomically (temporary file beside it, then rename); errors name the file.
void write_image(const fs::path& path, const cv::Mat& image, int jpeg_quality = 90) {
  std::vector<std::uint8_t> buf;
  const std::string ext = path.extension().string();
  bool ok = false;
  try {
    ok = cv::imencode(ext.empty() ? ".png" : ext, image, buf, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality});
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok) throw IoError(path.string() + ": cannot encode the image (unknown extension?)");
  try {
    sim::write_file_atomic(path.string(), std::string(buf.begin(), buf.end()));
  } catch (const std::exception& e) {
    throw IoError(e.what());
  }
}

int guarded(const std::function<int()>& f) {
  try {
    return f();
  } catch (const IoError& e) {
    std::cerr << "gatetwin: " << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "gatetwin: " << e.what() << "\n";
    return 2;
  }
}

void caption(cv::Mat& img, const std::string& text, cv::Point at, double scale = 0.45) {
  cv::putText(img, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), 3, cv::LINE_AA);
  cv::putText(img, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
}

// ---- gatetwin scene ---------------------------------------------------------------------------------------

struct SceneOptions {
  std::string out;
  std::string filmstrip;
  std::uint64_t seed = 7;
  std::uint64_t passage = 0;
  std::uint32_t person = 0;
  bool behind = false, adjacent = false, hat = false;
  std::string mask = "none", wear = "proper";
  double fps = 10, start = 2.5, stop = 0.6, speed = 1.0, ambient = 22.0, nuisance = 1.0;
  double skin = 0;  // 0: the actor's own
  std::string thermal = "32x24";
  int strip_frames = 5;
};

std::string fmt(double v, int digits = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string truth_line(const scene::SceneFrame& f, const scene::ActorInFrame& a, const scene::Actor& actor) {
  std::ostringstream s;
  s << "{\"frame\":" << f.index << ",\"t_us\":" << f.t_us << ",\"person\":" << a.person << ",\"role\":\""
    << scene::to_string(a.role) << "\",\"distance_m\":" << fmt(a.distance_m) << ",\"lateral_m\":" << fmt(a.lateral_m)
    << ",\"drawn\":" << (a.drawn ? "true" : "false") << ",\"in_view\":" << (a.in_view ? "true" : "false")
    << ",\"skin_c\":" << fmt(actor.skin_c, 2) << ",\"yaw_deg\":" << fmt(a.capture.yaw_deg, 1)
    << ",\"pitch_deg\":" << fmt(a.capture.pitch_deg, 1) << ",\"roll_deg\":" << fmt(a.capture.roll_deg, 1)
    << ",\"motion_blur_px\":" << fmt(a.capture.motion_blur_px, 2) << ",\"mask\":\"" << name_of(a.capture.mask)
    << "\",\"wear\":\"" << name_of(a.capture.mask == render::MaskKind::none ? render::MaskWear::none : a.capture.wear) << "\"";
  if (a.drawn) {
    const auto& b = a.face.face_box;
    s << ",\"interocular_px\":" << fmt(a.face.interocular_px, 2) << ",\"face_box\":[" << fmt(b.x, 1) << "," << fmt(b.y, 1)
      << "," << fmt(b.width, 1) << "," << fmt(b.height, 1) << "],\"five\":[";
    for (std::size_t i = 0; i < a.face.five.size(); ++i)
      s << (i ? "," : "") << "[" << fmt(a.face.five[i].x, 1) << "," << fmt(a.face.five[i].y, 1) << "]";
    s << "]";
  }
  s << "}\n";
  return s.str();
}

cv::Mat filmstrip(const std::vector<cv::Mat>& frames, const std::vector<cv::Mat>& thermals,
                  const std::vector<std::string>& labels) {
  const cv::Size cell{320, 240};
  const int n = static_cast<int>(frames.size());
  cv::Mat strip(2 * cell.height, n * cell.width, CV_8UC3, cv::Scalar(0, 0, 0));
  for (int i = 0; i < n; ++i) {
    cv::Mat a, b;
    cv::resize(frames[static_cast<std::size_t>(i)], a, cell, 0, 0, cv::INTER_AREA);
    cv::resize(thermals[static_cast<std::size_t>(i)], b, cell, 0, 0, cv::INTER_NEAREST);
    caption(a, labels[static_cast<std::size_t>(i)], {6, 18});
    a.copyTo(strip(cv::Rect(i * cell.width, 0, cell.width, cell.height)));
    b.copyTo(strip(cv::Rect(i * cell.width, cell.height, cell.width, cell.height)));
    cv::line(strip, {i * cell.width, 0}, {i * cell.width, strip.rows}, cv::Scalar(0, 0, 0), 2);
  }
  return strip;
}

// Replaces `dir` by a finished `staging` directory; an existing `dir` must be empty or an earlier scene.
void swap_into_place(const fs::path& staging, const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    const fs::path old = dir.parent_path() / ("." + dir.filename().string() + ".old." + std::to_string(::getpid()));
    fs::rename(dir, old, ec);
    if (ec) throw IoError(dir.string() + ": cannot move the previous scene aside: " + ec.message());
    fs::rename(staging, dir, ec);
    if (ec) {
      std::error_code ignore;
      fs::rename(old, dir, ignore);
      throw IoError(dir.string() + ": cannot rename into place: " + ec.message());
    }
    fs::remove_all(old, ec);
    return;
  }
  fs::rename(staging, dir, ec);
  if (ec) throw IoError(dir.string() + ": cannot rename into place: " + ec.message());
}

int run_scene(const SceneOptions& o) {
  scene::ThermalSpec ts;
  if (std::sscanf(o.thermal.c_str(), "%dx%d", &ts.width, &ts.height) != 2 || ts.width < 2 || ts.height < 2 ||
      ts.width > 640 || ts.height > 480)
    throw std::invalid_argument("--thermal: expected WIDTHxHEIGHT such as 32x24 or 80x60, got '" + o.thermal + "'");
  if (o.stop > o.start) throw std::invalid_argument("--stop (" + fmt(o.stop, 2) + " m) is beyond --start (" + fmt(o.start, 2) + " m)");
  scene::LaneSpec lane;
  lane.seed = o.seed;
  lane.passage = o.passage;
  lane.camera.fps = o.fps;
  lane.start_distance_m = o.start;
  lane.stop_distance_m = o.stop;
  lane.walk_speed_mps = o.speed;
  lane.ambient_c = o.ambient;
  lane.nuisance = o.nuisance;
  std::vector<scene::Actor> actors{scene::make_actor(lane, o.person, scene::Role::subject)};
  auto& subject = actors[0];
  subject.look.mask = kMaskKinds.at(o.mask);
  subject.look.wear = subject.look.mask == render::MaskKind::none ? render::MaskWear::none : kMaskWears.at(o.wear);
  subject.look.hat = o.hat;
  if (o.skin > 0) subject.skin_c = o.skin;
  if (o.behind) actors.push_back(scene::make_actor(lane, o.person + 1, scene::Role::behind));
  if (o.adjacent) actors.push_back(scene::make_actor(lane, o.person + 2, scene::Role::adjacent));
  scene::Approach approach(lane, actors);

  const fs::path dir = fs::absolute(o.out).lexically_normal();
  std::error_code ec;
  if (fs::exists(dir, ec) && (!fs::is_directory(dir, ec) || (!fs::is_empty(dir, ec) && !fs::exists(dir / "truth.jsonl", ec))))
    throw std::invalid_argument(dir.string() + ": exists and is not an earlier scene (no truth.jsonl); choose a new directory");
  const fs::path staging = dir.parent_path() / (dir.filename().string() + ".partial");
  if (fs::exists(staging, ec)) throw IoError(staging.string() + ": exists (left by an interrupted run?); remove it first");
  fs::create_directories(staging, ec);
  if (ec) throw IoError(staging.string() + ": cannot create directory: " + ec.message());
  struct Cleanup {
    fs::path path;
    bool armed = true;
    ~Cleanup() {
      std::error_code e;
      if (armed) fs::remove_all(path, e);
    }
  } cleanup{staging};

  const auto cal = scene::thermal_calibration(lane.camera, ts);
  recognizer::ThermalFusionConfig fusion;
  fusion.focal_length_px = lane.camera.focal_px();
  std::ostringstream truth;
  std::vector<cv::Mat> strip_frames, strip_thermals;
  std::vector<std::string> labels;
  const int n = approach.frames();
  const int picks = std::clamp(o.strip_frames, 1, n);
  auto picked = [&](int i) {
    for (int k = 0; k < picks; ++k)
      if (i == (picks == 1 ? n - 1 : k * (n - 1) / (picks - 1))) return true;
    return false;
  };
  scene::SceneFrame f;
  const int scale = std::max(1, 640 / ts.width);
  while (approach.next(f)) {
    char name[64];
    std::snprintf(name, sizeof name, "frame_%03d.jpg", f.index);
    write_image(staging / name, f.image);
    const auto t = scene::thermal_frame(lane, approach.actors(), f, ts);
    const cv::Mat tc = scene::thermal_false_colour(t, scale);
    std::snprintf(name, sizeof name, "thermal_%03d.png", f.index);
    write_image(staging / name, tc);
    std::vector<recognizer::FaceObservation> faces;
    for (const auto& a : f.actors)
      if (a.in_view) faces.push_back(scene::observe(a.face));
    const auto r = recognizer::associate_array(fusion, cal, t, faces, recognizer::Micros{f.t_us});
    for (const auto& a : f.actors) truth << truth_line(f, a, approach.actors()[a.actor]);
    truth << "{\"frame\":" << f.index << ",\"t_us\":" << f.t_us << ",\"thermal\":\"" << recognizer::to_string(r.status)
          << "\",\"thermal_c\":" << (r.status == recognizer::ThermalStatus::ok ? fmt(r.skin_c, 2) : "null") << "}\n";
    if (picked(f.index)) {
      strip_frames.push_back(f.image.clone());
      strip_thermals.push_back(tc);
      labels.push_back("t=" + fmt(static_cast<double>(f.t_us) / 1e6, 1) + " s  " + fmt(f.actors[0].distance_m, 2) + " m  " +
                       (r.status == recognizer::ThermalStatus::ok ? fmt(r.skin_c, 1) + " C" : std::string(recognizer::to_string(r.status))));
    }
  }
  try {
    sim::write_file_atomic((staging / "truth.jsonl").string(), truth.str());
  } catch (const std::exception& e) {
    throw IoError(e.what());
  }
  const cv::Mat strip = filmstrip(strip_frames, strip_thermals, labels);
  write_image(staging / "filmstrip.jpg", strip, 88);
  swap_into_place(staging, dir);
  cleanup.armed = false;
  if (!o.filmstrip.empty()) write_image(o.filmstrip, strip, 85);
  std::cout << "scene: " << n << " frames at " << fmt(o.fps, 1) << " fps (" << fmt(o.start, 2) << " m -> " << fmt(o.stop, 2)
            << " m), " << actors.size() << " people, thermal " << ts.width << "x" << ts.height << " in " << dir.string() << "\n";
  if (!o.filmstrip.empty()) std::cout << "filmstrip: " << o.filmstrip << "\n";
  return 0;
}

// ---- gatetwin contact-sheet -------------------------------------------------------------------------------

struct SheetOptions {
  std::string out;
  std::uint64_t seed = 7;
  std::uint32_t count = 24;
  std::uint32_t first = 0;
  int columns = 6;
  std::string demographics = "balanced";
};

int run_contact_sheet(const SheetOptions& o) {
  const cv::Size cell{200, 250};
  const int cols = std::max(1, std::min<int>(o.columns, static_cast<int>(o.count)));
  const int rows = (static_cast<int>(o.count) + cols - 1) / cols;
  cv::Mat sheet(rows * cell.height, cols * cell.width, CV_8UC3, cv::Scalar(40, 40, 40));
  const render::MaskKind kinds[] = {render::MaskKind::surgical, render::MaskKind::cloth, render::MaskKind::n95,
                                    render::MaskKind::black};
  const render::MaskWear wears[] = {render::MaskWear::proper, render::MaskWear::proper, render::MaskWear::below_nose,
                                    render::MaskWear::on_chin};
  const std::uint32_t unmasked = (o.count + 1) / 2;
  const render::Demographics demographics = render::Demographics::named(o.demographics);
  for (std::uint32_t i = 0; i < o.count; ++i) {
    const std::uint32_t person = o.first + i;
    const render::FaceIdentity id = render::sample_identity(o.seed, person, demographics);
    render::Capture c = render::sample_capture(o.seed, person, 0, 0.35);
    c.interocular_px = 72;
    c.face_centre = {320, 215};
    c.hat = (i % 5) == 3;  // every fifth resident wears a hat
    if (i >= unmasked) {
      const std::uint32_t j = i - unmasked;
      c.mask = kinds[j % 4];
      c.wear = wears[(j / 4 + j) % 4];
      c.mask_colour = static_cast<int>(j % 3);
    }
    const render::Rendered r = render::render_face(id, c, {640, 480});
    // A portrait crop around the face: 2.6 IOD wide, head top to the shoulders.
    const double iod = c.interocular_px;
    cv::Rect crop(static_cast<int>(320 - 1.9 * iod), static_cast<int>(215 - 2.5 * iod), static_cast<int>(3.8 * iod),
                  static_cast<int>(4.75 * iod));
    crop &= cv::Rect(0, 0, 640, 480);
    cv::Mat tile;
    cv::resize(r.image(crop), tile, cell, 0, 0, cv::INTER_AREA);
    const std::string what = c.mask == render::MaskKind::none ? std::string("no mask")
                                                               : name_of(c.mask) + " / " + name_of(c.wear);
    caption(tile, "#" + std::to_string(person) + (id.glasses ? " glasses" : "") + (c.hat ? " hat" : ""), {6, 18});
    caption(tile, what, {6, cell.height - 10});
    const int x = static_cast<int>(i % static_cast<std::uint32_t>(cols)) * cell.width;
    const int y = static_cast<int>(i / static_cast<std::uint32_t>(cols)) * cell.height;
    tile.copyTo(sheet(cv::Rect(x, y, cell.width, cell.height)));
    cv::rectangle(sheet, cv::Rect(x, y, cell.width, cell.height), cv::Scalar(40, 40, 40), 2);
  }
  write_image(o.out, sheet, 88);
  std::cout << "contact sheet: " << o.count << " synthetic residents (" << unmasked << " unmasked) in " << o.out << "\n";
  return 0;
}

}  // namespace

void add_scene_commands(CLI::App& app, int* exit_code) {
  auto s = std::make_shared<SceneOptions>();
  auto* sc = app.add_subcommand("scene", "render one approach to the gate as the camera and the thermal array see it "
                                         "(frames, thermal maps, truth.jsonl, filmstrip); synthetic people only");
  sc->add_option("-o,--out", s->out, "directory for the scene (new, empty, or an earlier scene, which is replaced)")->required();
  sc->add_option("--seed", s->seed, "seed of the people, lighting and motion")->capture_default_str();
  sc->add_option("--passage", s->passage, "passage number (another passage: other lighting and motion)")->capture_default_str();
  sc->add_option("--person", s->person, "the subject's person id (behind: +1, adjacent: +2)")->capture_default_str();
  sc->add_flag("--behind", s->behind, "someone close behind in the same lane (tailgating)");
  sc->add_flag("--adjacent", s->adjacent, "someone in the adjacent lane, 0.9 m to the side");
  sc->add_option("--mask", s->mask, "subject's mask")->capture_default_str()->check(CLI::IsMember({"none", "surgical", "cloth", "n95", "black"}));
  sc->add_option("--wear", s->wear, "how the mask is worn")->capture_default_str()->check(CLI::IsMember({"proper", "below_nose", "on_chin"}));
  sc->add_flag("--hat", s->hat, "the subject wears a hat");
  sc->add_option("--skin", s->skin, "subject's forehead skin temperature, °C (default: the person's own)")->check(CLI::Range(30.0, 43.0));
  sc->add_option("--fps", s->fps, "camera frame rate")->capture_default_str()->check(CLI::Range(1.0, 120.0));
  sc->add_option("--start", s->start, "subject's distance in the first frame, m")->capture_default_str()->check(CLI::Range(0.3, 8.0));
  sc->add_option("--stop", s->stop, "where the subject stops, m")->capture_default_str()->check(CLI::Range(0.3, 8.0));
  sc->add_option("--speed", s->speed, "walking speed, m/s")->capture_default_str()->check(CLI::Range(0.1, 3.0));
  sc->add_option("--ambient", s->ambient, "ambient (wall) temperature, °C")->capture_default_str()->check(CLI::Range(-20.0, 45.0));
  sc->add_option("--nuisance", s->nuisance, "pose, lighting and noise range, 0 (clean) .. 1 (gate) .. 2")->capture_default_str()->check(CLI::Range(0.0, 2.0));
  sc->add_option("--thermal", s->thermal, "thermal array size, WIDTHxHEIGHT")->capture_default_str();
  sc->add_option("--strip-frames", s->strip_frames, "frames in the filmstrip")->capture_default_str()->check(CLI::Range(1, 12));
  sc->add_option("--filmstrip", s->filmstrip, "also write the filmstrip to this file (e.g. docs/img/gate-approach.jpg)");
  sc->callback([s, exit_code] { *exit_code = guarded([&] { return run_scene(*s); }); });

  auto o = std::make_shared<SheetOptions>();
  auto* cs = app.add_subcommand("contact-sheet", "a captioned grid of synthetic residents: half unmasked, the rest "
                                                 "across mask kinds and wear, with hats, glasses, ages and skin tones");
  cs->add_option("-o,--out", o->out, "image file to write (.jpg or .png)")->required();
  cs->add_option("--seed", o->seed, "seed of the residents")->capture_default_str();
  cs->add_option("--count", o->count, "residents on the sheet")->capture_default_str()->check(CLI::Range(1u, 400u));
  cs->add_option("--first", o->first, "first person id")->capture_default_str();
  cs->add_option("--columns", o->columns, "residents per row")->capture_default_str()->check(CLI::Range(1, 20));
  cs->add_option("--demographics", o->demographics, "who the residents are: balanced or beijing (see docs/scene.md)")
      ->capture_default_str()
      ->check(CLI::IsMember({"balanced", "beijing"}));
  cs->callback([o, exit_code] { *exit_code = guarded([&] { return run_contact_sheet(*o); }); });
}

}  // namespace gatetwin::app
