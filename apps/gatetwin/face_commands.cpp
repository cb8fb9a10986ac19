#include "face_commands.hpp"

#include <filesystem>
#include <iostream>
#include <memory>

#include <opencv2/core/utility.hpp>

#include "gatetwin/recognizer/vision/pipeline.hpp"
#include "gatetwin/sim/face_eval.hpp"

namespace gatetwin::app {
namespace fs = std::filesystem;
namespace rv = recognizer::vision;

namespace {

struct Options {
  std::string manifest = GATETWIN_DEFAULT_MANIFEST;
  std::string models;
  sim::FaceSetSpec set;
  std::string out;
  std::string images;
  std::uint64_t seed = 7;
  std::uint32_t train = 300, heldout = 60;
  int threads = 0;
  bool flip_embedding = false;
  std::string mask_model;
  std::string demographics = "balanced";
};

rv::Manifest manifest_of(const Options& o) {
  return o.models.empty() ? rv::load_manifest(o.manifest) : rv::load_manifest(o.manifest, o.models);
}

int guarded(const std::function<int()>& f) {
  try {
    return f();
  } catch (const rv::ModelError& e) {
    std::cerr << "gatetwin: " << e.what() << (std::string(e.what()).ends_with("\n") ? "" : "\n");
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "gatetwin: " << e.what() << "\n";
    return 2;
  }
}

void add_set_options(CLI::App* c, Options& o) {
  c->add_option("--seed", o.set.seed, "seed of the synthetic identities and captures")->capture_default_str();
  c->add_option("--identities", o.set.identities, "synthetic identities")->capture_default_str()->check(CLI::Range(2u, 100000u));
  c->add_option("--first-person", o.set.first_person, "id of the first identity")->capture_default_str();
  c->add_option("--unmasked", o.set.unmasked, "unmasked captures per identity")->capture_default_str()->check(CLI::Range(0u, 50u));
  c->add_option("--masked", o.set.masked, "captures with the mask worn properly")->capture_default_str()->check(CLI::Range(0u, 50u));
  c->add_option("--below-nose", o.set.below_nose, "captures with the mask below the nose")->capture_default_str()->check(CLI::Range(0u, 50u));
  c->add_option("--on-chin", o.set.on_chin, "captures with the mask on the chin")->capture_default_str()->check(CLI::Range(0u, 50u));
  c->add_option("--nuisance", o.set.nuisance, "gate probes' pose/light/blur range, 0 (studio) .. 1 (gate) .. 2")->capture_default_str()->check(CLI::Range(0.0, 2.0));
  c->add_option("--enrol-nuisance", o.set.enrol_nuisance, "enrolment photos' (mini-program) pose/light/blur range")->capture_default_str()->check(CLI::Range(0.0, 2.0));
  c->add_option("--distance-min", o.set.distance_min_m, "gate probes: nearest distance from the camera, m")->capture_default_str()->check(CLI::Range(0.2, 5.0));
  c->add_option("--distance-max", o.set.distance_max_m, "gate probes: farthest distance from the camera, m")->capture_default_str()->check(CLI::Range(0.2, 5.0));
  c->add_option("--lookalikes", o.set.lookalikes, "identities that also get look-alike impostors (one bare, one masked per level)")->capture_default_str()->check(CLI::Range(0u, 100000u));
  c->add_option("--demographics", o.demographics, "who the identities are: balanced (every skin tone, hair and eye colour equally) or beijing (see docs/scene.md)")
      ->capture_default_str()
      ->check(CLI::IsMember({"balanced", "beijing"}));
  c->add_option("--resemblance", o.set.resemblance, "look-alike resemblance levels, 1 (identical twin) .. 0 (unrelated)")->capture_default_str()->check(CLI::Range(0.0, 1.0))->delimiter(',');
}

void check_set(sim::FaceSetSpec& s, const std::string& demographics) {
  s.demographics = sim::render::Demographics::named(demographics);
  if (s.distance_max_m < s.distance_min_m)
    throw std::runtime_error("--distance-max (" + std::to_string(s.distance_max_m) + ") is below --distance-min (" +
                             std::to_string(s.distance_min_m) + ")");
}

void add_model_options(CLI::App* c, Options& o) {
  c->add_option("--manifest", o.manifest, "model manifest (YAML)")->capture_default_str();
  c->add_option("--models", o.models, "models cache directory (default $GATETWIN_MODELS or ~/.cache/gatetwin/models)");
  c->add_option("--threads", o.threads, "OpenCV threads (0 = OpenCV's default)")->check(CLI::Range(0, 64));
}

}  // namespace

void add_face_commands(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<Options>();

  auto* faces = app.add_subcommand("faces", "render a labelled synthetic face set (images + labels.csv); no real person's image");
  add_set_options(faces, *o);
  faces->add_option("-o,--out", o->out, "new directory for the set")->required();
  faces->callback([o, exit_code] {
    *exit_code = guarded([&] {
      check_set(o->set, o->demographics);
      const auto labels = sim::render_face_set(o->set, o->out);
      std::cout << "faces: " << labels.size() << " images of " << o->set.identities << " identities in " << o->out << "\n";
      return 0;
    });
  });

  auto* train = app.add_subcommand("train-mask", "train the mask-state classifier on synthetic renders and report held-out accuracy");
  add_model_options(train, *o);
  train->add_option("--seed", o->seed, "seed of the training renders")->capture_default_str();
  train->add_option("--train", o->train, "training identities (6 captures each)")->capture_default_str()->check(CLI::Range(4u, 100000u));
  train->add_option("--heldout", o->heldout, "held-out identities (other people)")->capture_default_str()->check(CLI::Range(2u, 100000u));
  train->add_option("-o,--out", o->mask_model, "where to write the classifier (default: the manifest's mask_classifier path)");
  train->callback([o, exit_code] {
    *exit_code = guarded([&] {
      if (o->threads > 0) cv::setNumThreads(o->threads);
      const rv::Manifest m = manifest_of(*o);
      rv::FacePipeline pipeline(m, {}, rv::MaskClassifier{});  // features need detection + alignment only
      const auto t = sim::train_mask_classifier(pipeline, o->seed, o->train, o->heldout);
      const fs::path out = o->mask_model.empty() ? m.mask_classifier : fs::path(o->mask_model);
      t.classifier.save(out, t.provenance);
      std::cout << t.provenance << "held-out confusion (rows true none/worn/below_nose, cols classified):\n";
      for (const auto& row : t.heldout_confusion) std::cout << "  " << row[0] << " " << row[1] << " " << row[2] << "\n";
      std::cout << "written: " << out.string() << "\n";
      return 0;
    });
  });

  auto* eval = app.add_subcommand("eval", "measure the recognition core: FMR/FNMR, DET (CSV, PNG), EER per mask protocol, FTA, mask accuracy");
  add_model_options(eval, *o);
  add_set_options(eval, *o);
  eval->add_option("--images", o->images, "a labelled image directory (labels.csv); default: render a synthetic set in memory");
  eval->add_option("-o,--out", o->out, "directory for report.json, det_*.csv, det.png");
  eval->add_flag("--flip-embedding", o->flip_embedding, "embed each face's mirror image too and sum (slower; see docs/recognizer.md)");
  eval->callback([o, exit_code] {
    *exit_code = guarded([&] {
      if (o->threads > 0) cv::setNumThreads(o->threads);
      check_set(o->set, o->demographics);
      rv::PipelineOptions popts;
      popts.flip_embedding = o->flip_embedding;
      rv::FacePipeline pipeline(manifest_of(*o), popts);
      const recognizer::Policy policy;
      const sim::EvalReport r = o->images.empty() ? sim::evaluate_set(pipeline, o->set, policy)
                                                  : sim::evaluate_directory(pipeline, o->images, policy);
      std::cout << sim::eval_summary(r);
      if (!o->out.empty()) {
        sim::write_eval_report(r, o->out);
        std::cout << "written: " << o->out << "/report.json, det_*.csv, det.png\n";
      }
      return 0;
    });
  });
}

}  // namespace gatetwin::app
