// gatectl — the gate's field software: the recognition core behind a command line.
//   gatectl enroll   --db gallery.db --person 17 photo.jpg ...   templates into the gallery (photos are not kept)
//   gatectl identify [--db gallery.db] [--policy p.yaml] [--skin-temp 36.4] [--card-holder 17] frame.jpg ...
//                                                                                one JSON line per image
//   gatectl list     --db gallery.db
//   gatectl remove   --db gallery.db --person 17
//   gatectl run      --config gate.yaml      the field daemon: cameras, thermal sensors, relays, card readers
//   gatectl registry init | enroll --registry | review | consent | withdraw | expire | movements | audit
//                                            the enrolment registry (admin.hpp, docs/privacy.md)
//   gatectl status   --config gate.yaml      one JSON object from the running daemon (docs/gatectl.md)
// Exit codes: 0 done; 1 some input could not be used (reported per image), or the daemon could not start /
// does not answer; 2 usage, configuration or model error; 3 authentication failed or purpose refused.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

#include "admin.hpp"
#include "gatetwin/recognizer/gallery_store.hpp"
#include "daemon.hpp"
#include "gate_rights.hpp"
#include "gatetwin/recognizer/vision/attempt.hpp"
#include "policy_file.hpp"

namespace fs = std::filesystem;
namespace rv = gatetwin::recognizer::vision;
namespace gr = gatetwin::recognizer;
using nlohmann::json;

namespace {

fs::path default_manifest() {
  if (const char* m = std::getenv("GATETWIN_MANIFEST"); m && *m) return m;
  if (fs::exists("models/faceplugin-0.0.1.yaml")) return "models/faceplugin-0.0.1.yaml";
  return GATETWIN_DEFAULT_MANIFEST;
}

json point(const cv::Point2f& p) { return json::array({std::round(p.x * 10) / 10, std::round(p.y * 10) / 10}); }
double r2(double v) { return std::round(v * 100) / 100; }
double r4(double v) { return std::round(v * 10000) / 10000; }

json faces_json(const rv::FrameAnalysis& a, bool all_landmarks) {
  json faces = json::array();
  for (std::size_t i = 0; i < a.faces.size(); ++i) {
    const auto& f = a.faces[i];
    json j;
    const auto& b = f.detection.box;
    j["box"] = {r2(b.x), r2(b.y), r2(b.width), r2(b.height)};
    j["score"] = r4(f.detection.score);
    j["deciding"] = static_cast<int>(i) == a.deciding;
    if (f.landmarks) {
      j["interocular_px"] = r2(f.landmarks->interocular());
      json five = json::array();
      for (const auto& p : f.landmarks->five()) five.push_back(point(p));
      j["five_points"] = five;
      if (all_landmarks) {
        json pts = json::array();
        for (const auto& p : f.landmarks->points) pts.push_back(point(p));
        j["landmarks68"] = pts;
      }
    }
    if (f.quality) {
      const auto& q = *f.quality;
      j["quality"] = {{"yaw_deg", r2(q.yaw_deg)}, {"pitch_deg", r2(q.pitch_deg)}, {"roll_deg", r2(q.roll_deg)},
                      {"sharpness", r2(q.sharpness)}, {"brightness", r2(q.brightness)}};
      j["failure_to_acquire"] = f.failure == rv::AcquireFailure::none ? json(nullptr) : json(rv::to_string(f.failure));
    }
    faces.push_back(j);
  }
  return faces;
}

json timings_json(const rv::StageTimings& t) {
  return {{"detect", r2(t.detect)}, {"landmarks", r2(t.landmarks)}, {"align", r2(t.align)}, {"quality", r2(t.quality)},
          {"mask", r2(t.mask)},     {"embed", r2(t.embed)},         {"liveness", r2(t.liveness)}, {"total", r2(t.total)}};
}

json mask_json(const rv::FrameAnalysis& a) {
  if (!a.usable()) return nullptr;
  return {{"state", gr::to_string(a.mask.state)},
          {"p", {{"none", r4(a.mask.probability[0])}, {"worn", r4(a.mask.probability[1])}, {"below_nose", r4(a.mask.probability[2])}}}};
}

// Reads an image; on failure returns an empty Mat and a reason.
cv::Mat read_image(const std::string& path, std::string& why) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    why = "no such file";
    return {};
  }
  if (fs::is_directory(path, ec)) {
    why = "is a directory";
    return {};
  }
  if (fs::file_size(path, ec) == 0) {
    why = "empty file";
    return {};
  }
  cv::Mat img;
  try {
    img = cv::imread(path, cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    img.release();
  }
  if (img.empty()) why = "not a readable image (JPEG, PNG, BMP, PPM, TIFF, WebP are supported)";
  return img;
}

struct Common {
  std::string manifest;
  std::string models;
  int threads = 0;
  bool pretty = false;
};

rv::Manifest open_manifest(const Common& c) {
  return c.models.empty() ? rv::load_manifest(c.manifest) : rv::load_manifest(c.manifest, c.models);
}

// File names need not be UTF-8: invalid bytes are replaced rather than failing the whole batch.
void print(const json& j, bool pretty) {
  std::cout << j.dump(pretty ? 2 : -1, ' ', false, json::error_handler_t::replace) << "\n" << std::flush;
}

int cmd_identify(const Common& c, const std::vector<std::string>& images, const std::string& db,
                 const std::string& policy_file, std::optional<double> skin_temp, bool liveness, std::size_t top,
                 const std::string& lane, bool all_landmarks, std::optional<std::uint32_t> card_holder,
                 const std::string& card_status) {
  const rv::Manifest m = open_manifest(c);
  rv::PipelineOptions opt;
  opt.liveness = liveness;
  opt.landmarks_all = true;
  rv::FacePipeline pipeline(m, opt);
  gr::Gallery gallery(static_cast<std::size_t>(m.embedder.dim));
  if (!db.empty()) {
    if (!fs::exists(db)) throw gatetwin::gatectl::ConfigError(db + ": no such gallery database (create it with gatectl enroll)");
    gr::GalleryStore store(db, m.embedder_id(), static_cast<std::size_t>(m.embedder.dim));
    store.load_into(gallery);
  }
  gr::Policy policy = policy_file.empty() ? gr::Policy{} : gatetwin::gatectl::load_policy(policy_file);
  // Without a thermal reading there is nothing to measure: the attempt is face-only.
  if (!skin_temp && policy.temperature_mode != gr::TemperatureMode::off) policy.temperature_mode = gr::TemperatureMode::off;
  const gatetwin::gatectl::GateRights rights(gallery);
  int status = 0;
  for (const auto& path : images) {
    json out;
    out["image"] = path;
    std::string why;
    const cv::Mat img = read_image(path, why);
    if (img.empty()) {
      out["error"] = why;
      print(out, c.pretty);
      status = 1;
      continue;
    }
    out["width"] = img.cols;
    out["height"] = img.rows;
    const rv::FrameAnalysis a = pipeline.analyse(img);
    out["faces"] = faces_json(a, all_landmarks);
    out["deciding_face"] = a.deciding >= 0 ? json(a.deciding) : json(nullptr);
    out["acquired"] = a.usable();
    out["failure_to_acquire"] = a.usable() ? json(nullptr) : json(rv::to_string(a.failure));
    out["mask"] = mask_json(a);
    if (a.liveness) out["liveness"] = r4(*a.liveness);

    rv::AttemptInput in;
    in.lane = lane;
    in.top_k = top;
    if (card_holder) {  // a card swiped with this frame: the card path, 1:1 against its holder if the policy asks
      in.presentation.has_card = true;
      in.presentation.offers_face = false;
      gr::CardEvidence card;
      card.holder_id = *card_holder;
      card.status = card_status == "valid"     ? gr::CardStatus::valid
                    : card_status == "revoked" ? gr::CardStatus::revoked
                    : card_status == "unknown" ? gr::CardStatus::unknown
                                               : gr::CardStatus::misread;
      in.card = card;
    }
    in.time_us = 0;
    if (skin_temp) {
      // A spot thermometer aimed where the deciding face is (a still image has no installation
      // calibration), read at the frame's time: the fusion still checks distance, other faces in the
      // region (ambiguous) and plausibility.
      gr::Box region{0, 0, static_cast<double>(img.cols), static_cast<double>(img.rows)};
      if (a.deciding >= 0) {
        const auto& b = a.faces[static_cast<std::size_t>(a.deciding)].detection.box;
        region = {b.x, b.y, b.width, b.height};
      }
      gr::SpotThermalFusion fusion(gr::ThermalFusionConfig{}, gr::SpotSensorCalibration{region, 0.1, 5.0});
      gr::SpotReading reading;
      reading.object_c = *skin_temp;
      const auto faces = rv::observations(a);
      in.thermal = fusion.associate(reading, faces, gr::Micros{0}, 1);
    }
    const rv::AttemptResult r = rv::decide_attempt(policy, rights, gallery, a, in);
    json matches = json::array();
    for (const auto& mt : r.identification.top)
      matches.push_back({{"person", mt.person}, {"score", r4(mt.score)}, {"template", gr::to_string(mt.kind)}});
    out["matches"] = matches;
    out["threshold"] = gr::threshold_for(policy, a.mask.state);
    if (in.thermal) out["thermal"] = {{"status", gr::to_string(in.thermal->status)}, {"detail", in.thermal->detail}};
    out["event"] = json::parse(rv::to_json(r.event));
    out["timings_ms"] = timings_json(a.timings);
    print(out, c.pretty);
  }
  return status;
}

int cmd_enroll(const Common& c, const std::vector<std::string>& images, const std::string& db, std::uint32_t person,
               const std::string& kind_opt, bool partial) {
  const rv::Manifest m = open_manifest(c);
  rv::FacePipeline pipeline(m);
  std::vector<std::vector<float>> embeddings;
  std::vector<gr::TemplateKind> kinds;
  int status = 0;
  for (const auto& path : images) {
    json out;
    out["image"] = path;
    out["person"] = person;
    std::string why;
    cv::Mat img = read_image(path, why);
    if (img.empty()) {
      out["error"] = why;
      print(out, c.pretty);
      status = 1;
      continue;
    }
    const rv::FrameAnalysis a = pipeline.analyse(img);
    img.release();  // the photo is not kept beyond this point
    out["faces"] = a.faces.size();
    if (a.faces.size() > 1) out["note"] = "several faces: the closest one is enrolled";
    if (!a.usable()) {
      out["error"] = a.faces.empty() ? "no face found" : "face not usable: " + std::string(rv::to_string(a.failure));
      print(out, c.pretty);
      status = 1;
      continue;
    }
    gr::TemplateKind kind = rv::template_kind(a.mask.state);
    if (kind_opt == "unmasked") kind = gr::TemplateKind::unmasked;
    if (kind_opt == "masked") kind = gr::TemplateKind::masked;
    out["mask"] = mask_json(a);
    out["template"] = gr::to_string(kind);
    out["interocular_px"] = r2(a.faces[static_cast<std::size_t>(a.deciding)].quality->interocular_px);
    embeddings.push_back(a.embedding);
    kinds.push_back(kind);
    print(out, c.pretty);
  }
  if (status != 0 && !partial) {
    std::cerr << "gatectl enroll: nothing enrolled (some images could not be used; --partial enrols the usable ones)\n";
    return 1;
  }
  if (embeddings.empty()) return status;
  gr::GalleryStore store(db, m.embedder_id(), static_cast<std::size_t>(m.embedder.dim));
  std::vector<gr::NewTemplate> batch;
  const auto now = std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  for (std::size_t i = 0; i < embeddings.size(); ++i) batch.push_back({person, kinds[i], embeddings[i], now});
  store.add(batch);  // one transaction: all or nothing
  std::cerr << "gatectl enroll: person " << person << ": " << batch.size() << " template(s) stored in " << db << "\n";
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gatectl: the gate's recognition core (face detection, mask state, 1:N search, thermal fusion, decision)"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (--manifest, --models, --threads, --pretty) also after the subcommand
  Common c;
  c.manifest = default_manifest().string();
  app.add_option("--manifest", c.manifest, "model manifest (YAML)")->capture_default_str();
  app.add_option("--models", c.models, "models cache directory (default $GATETWIN_MODELS or ~/.cache/gatetwin/models)");
  app.add_option("--threads", c.threads, "OpenCV threads (0 = OpenCV's default)")->check(CLI::Range(0, 64));
  app.add_flag("--pretty", c.pretty, "indent the JSON output");

  auto* identify = app.add_subcommand("identify", "analyse images and decide an attempt for each (JSON lines)");
  std::vector<std::string> id_images;
  std::string id_db, id_policy, id_lane = "lane-1";
  std::optional<double> skin;
  bool id_liveness = false, id_all = false;
  std::size_t id_top = 5;
  identify->add_option("images", id_images, "image files")->required();
  identify->add_option("--db", id_db, "gallery database (SQLite)");
  identify->add_option("--policy", id_policy, "policy file (YAML, keys of the policy engine)");
  identify->add_option("--skin-temp", skin, "thermometer reading for the face in view, degC (enables temperature checks)")
      ->check(CLI::Range(-50.0, 150.0));
  identify->add_flag("--liveness", id_liveness, "run the liveness model");
  identify->add_flag("--landmarks", id_all, "print all 68 landmarks of every face");
  identify->add_option("--top", id_top, "matches to report")->check(CLI::Range(1, 100));
  identify->add_option("--lane", id_lane, "lane name in the access event");
  std::optional<std::uint32_t> card_holder;
  std::string card_status = "valid";
  identify->add_option("--card-holder", card_holder, "a card was swiped: the person id its number belongs to "
                                                     "(with card_requires_face the face is verified 1:1 against them)");
  identify->add_option("--card-status", card_status, "status of the swiped card")
      ->check(CLI::IsMember({"valid", "revoked", "unknown", "misread"}));

  auto* enroll = app.add_subcommand("enroll", "enrol a person from one or more photos (templates only are stored)");
  std::vector<std::string> en_images;
  std::string en_db, en_kind = "auto";
  std::uint32_t en_person = 0;
  bool en_partial = false;
  enroll->add_option("images", en_images, "photo files (with --db)");
  enroll->add_option("--db", en_db, "a plain development gallery (SQLite; created if absent); else --registry");
  enroll->add_option("--person", en_person, "person id");
  enroll->add_option("--kind", en_kind, "template kind")->check(CLI::IsMember({"auto", "unmasked", "masked"}));
  enroll->add_flag("--partial", en_partial, "enrol the usable photos even if others fail");

  auto* list = app.add_subcommand("list", "list the templates in a gallery (no template data)");
  std::string ls_db;
  list->add_option("--db", ls_db, "gallery database (or --registry: persons, consent, templates)")->check(CLI::ExistingFile);

  auto* remove = app.add_subcommand("remove", "delete every template of a person");
  std::string rm_db;
  std::uint32_t rm_person = 0;
  remove->add_option("--db", rm_db, "gallery database")->required()->check(CLI::ExistingFile);
  remove->add_option("--person", rm_person, "person id")->required();

  auto* run = app.add_subcommand("run", "run the gate daemon: read the lanes' cameras, thermal sensors, card readers; "
                                        "decide; open the relays; write access events (docs/gatectl.md)");
  std::string run_config;
  run->add_option("--config", run_config, "daemon configuration (YAML)")->required();
  auto* status = app.add_subcommand("status", "print the running daemon's status (one JSON object)");
  std::string status_config;
  status->add_option("--config", status_config, "the daemon's configuration (YAML): where its status socket is")->required();

  gatetwin::gatectl::AdminCommands admin(app, enroll, list);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (c.threads > 0) cv::setNumThreads(c.threads);
  try {
    if (*identify) return cmd_identify(c, id_images, id_db, id_policy, skin, id_liveness, id_top, id_lane, id_all, card_holder,
                                     card_status);
    const auto model = [&] {
      const rv::Manifest m = open_manifest(c);
      return gatetwin::gatectl::ModelInfo{m.embedder_id(), static_cast<std::size_t>(m.embedder.dim)};
    };
    const auto enroller = [&]() -> gatetwin::gatectl::PhotoEnroller {
      auto pipeline = std::make_shared<rv::FacePipeline>(open_manifest(c));
      return [pipeline](std::span<const unsigned char> photo) {
        cv::Mat img;
        try {
          img = cv::imdecode(cv::Mat(1, static_cast<int>(photo.size()), CV_8UC1, const_cast<unsigned char*>(photo.data())),
                             cv::IMREAD_COLOR);
        } catch (const cv::Exception&) {
          img.release();
        }
        if (img.empty()) throw std::runtime_error("not a readable image");
        const rv::FrameAnalysis a = pipeline->analyse(img);
        img.setTo(cv::Scalar::all(0));  // the decoded photo is not kept
        if (!a.usable())
          throw std::runtime_error(a.faces.empty() ? "no face found" : "face not usable: " + std::string(rv::to_string(a.failure)));
        return std::vector<gr::MadeTemplate>{{rv::template_kind(a.mask.state), a.embedding}};
      };
    };
    if (const auto code = admin.run(model, enroller, c.pretty)) return *code;
    if (*enroll) {
      if (en_db.empty() || en_images.empty() || !enroll->count("--person"))
        throw gatetwin::gatectl::ConfigError("enroll: --db DB --person ID photo... (a development gallery), or --registry DIR "
                                             "(an enrolment request: docs/privacy.md)");
      return cmd_enroll(c, en_images, en_db, en_person, en_kind, en_partial);
    }
    if (*list && ls_db.empty()) throw gatetwin::gatectl::ConfigError("list: --db DB or --registry DIR");
    if (*run) return gatetwin::gatectl::run_daemon(run_config, {c.manifest, c.models});
    if (*status) return gatetwin::gatectl::query_status(status_config, c.pretty);
    const rv::Manifest m = open_manifest(c);
    if (*list) {
      gr::GalleryStore store(ls_db, m.embedder_id(), static_cast<std::size_t>(m.embedder.dim));
      for (const auto& t : store.list())
        print({{"id", t.id}, {"person", t.person}, {"template", gr::to_string(t.kind)}, {"dim", t.dim}, {"model", t.model},
               {"created_us", t.created.time_since_epoch().count()}},
              c.pretty);
      return 0;
    }
    if (*remove) {
      gr::GalleryStore store(rm_db, m.embedder_id(), static_cast<std::size_t>(m.embedder.dim));
      const auto n = store.remove(rm_person);
      std::cerr << "gatectl remove: person " << rm_person << ": " << n << " template(s) deleted\n";
      return n > 0 ? 0 : 1;
    }
  } catch (const rv::ModelError& e) {
    std::cerr << "gatectl: " << e.what() << (std::string(e.what()).ends_with("\n") ? "" : "\n");
    return 2;
  } catch (const gatetwin::gatectl::ConfigError& e) {
    std::cerr << "gatectl: " << e.what() << (std::string(e.what()).ends_with("\n") ? "" : "\n");
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "gatectl: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
