// Pixel fidelity: every face attempt is rendered as the gate camera sees it (the resident approaching over
// several frames, the lane's lighting, a neighbour in the adjacent lane) and decided by the real recognition
// core in-process, against a gallery enrolled from each resident's rendered enrolment photo. What the core
// measured (scores, failures to acquire, mask confusion, stage latencies) goes to RunOutput::pixel, the raw
// material of `gatetwin calibrate`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <stdexcept>

#include <opencv2/core/utility.hpp>

#include "gatetwin/recognizer/gallery.hpp"
#include "gatetwin/recognizer/vision/manifest.hpp"
#include "gatetwin/recognizer/vision/pipeline.hpp"
#include "gatetwin/sim/face_render.hpp"
#include "gatetwin/sim/face_sensor.hpp"
#include "gatetwin/sim/gate_scene.hpp"
#include "gatetwin/sim/pixel_sensor.hpp"

#ifndef GATETWIN_DEFAULT_MANIFEST
#define GATETWIN_DEFAULT_MANIFEST "models/faceplugin-0.0.1.yaml"
#endif

namespace gatetwin::sim {

using recognizer::FaceEvidence;
using recognizer::Gallery;
using recognizer::MaskState;
namespace vision = recognizer::vision;

std::filesystem::path default_manifest_path() { return GATETWIN_DEFAULT_MANIFEST; }

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int bin_of(double score) {
  const int b = static_cast<int>(std::floor((score + 1.0) / 2.0 * PixelMeasurements::kBins));
  return std::clamp(b, 0, PixelMeasurements::kBins - 1);
}

// The deciding face is the subject's when its detection overlaps the subject's true face box.
bool decided_on(const vision::FrameAnalysis& a, const render::FaceTruth& truth) {
  if (a.deciding < 0 || truth.face_box.area() <= 0) return false;
  const cv::Rect2d d(a.faces[static_cast<std::size_t>(a.deciding)].detection.box);
  const double inter = (d & truth.face_box).area();
  const double uni = d.area() + truth.face_box.area() - inter;
  return uni > 0 && inter / uni >= 0.3;
}

}  // namespace

std::filesystem::path pixel_manifest_path(const Scenario& s) {
  return s.pixel.manifest.empty() ? default_manifest_path() : std::filesystem::path(s.pixel.manifest);
}

std::unique_ptr<vision::FacePipeline> load_pixel_pipeline(const Scenario& s) {
  cv::setNumThreads(s.pixel.threads);
  try {
    const auto root = s.pixel.models.empty() ? vision::default_model_root() : std::filesystem::path(s.pixel.models);
    return std::make_unique<vision::FacePipeline>(vision::load_manifest(pixel_manifest_path(s), root));
  } catch (const std::exception& e) {
    throw PixelSetupError("fidelity: " + s.fidelity + " needs the face models: " + e.what() +
                          " (install them with scripts/fetch-models.sh; train the mask classifier with `gatetwin train-mask`)");
  }
}

std::uint64_t face_seed(const Scenario& s) { return RandomStream(s.seed, "pixel.faces").next_u64(); }

scene::LaneSpec pixel_lane(const Scenario& s) {
  scene::LaneSpec lane;
  lane.camera.hfov_deg = s.pixel.hfov_deg;
  lane.camera.fps = s.pixel.fps;
  lane.seed = face_seed(s);
  lane.demographics = render::Demographics::named(s.pixel.demographics);
  lane.start_distance_m = s.pixel.start_distance_m;
  lane.stop_distance_m = s.pixel.stop_distance_m;
  lane.walk_speed_mps = s.pixel.walk_speed_mps;
  lane.dwell_s = s.pixel.dwell_s;
  lane.nuisance = s.pixel.nuisance;
  lane.ambient_c = s.thermal.ambient_c;
  return lane;
}

scene::Actor gate_subject(const Scenario& s, const scene::LaneSpec& lane, const Person& p, MaskState truth) {
  scene::Actor a = scene::make_actor(lane, p.id, scene::Role::subject);
  if (p.kind == PersonKind::lookalike) {
    a.identity = render::lookalike_of(render::sample_identity(lane.seed, p.impersonates, lane.demographics), s.pixel.lookalike_resemblance,
                                      lane.seed ^ (0x9E3779B97F4A7C15ull * (p.id + 1)));
  }
  if (truth != MaskState::none) {
    RandomStream habit(s.seed, "pixel.mask", p.id);  // one mask kind and colour per person
    const double u = habit.uniform();
    a.look.mask = u < 0.55 ? render::MaskKind::surgical : u < 0.75 ? render::MaskKind::n95 : u < 0.9 ? render::MaskKind::cloth : render::MaskKind::black;
    a.look.mask_colour = static_cast<int>(habit.below(4));
    a.look.wear = truth == MaskState::worn ? render::MaskWear::proper : render::MaskWear::below_nose;
  }
  a.skin_c = p.core_c - p.skin_gradient_c;
  return a;
}

std::uint64_t enrol_photos(vision::FacePipeline& pipeline, const Scenario& s, const std::vector<std::uint32_t>& ids,
                           const std::function<void(std::uint32_t, const std::vector<float>&)>& add) {
  const std::uint64_t seed = face_seed(s);
  const auto demographics = render::Demographics::named(s.pixel.demographics);
  std::uint64_t refused = 0;
  for (const std::uint32_t id : ids) {
    const render::FaceIdentity identity = render::sample_identity(seed, id, demographics);
    bool ok = false;
    for (std::uint32_t take = 0; take < 3 && !ok; ++take) {
      render::Capture cap = render::sample_capture(seed, id, 0x80000000u + take, s.pixel.enrol_nuisance);
      cap.interocular_px = 95;
      cap.face_centre = {320, 230};
      cap.jpeg_quality = 90;
      const auto r = render::render_face(identity, cap);
      const auto a = pipeline.analyse(r.image);
      if (a.usable()) {
        add(id, a.embedding);
        ok = true;
      }
    }
    if (!ok) ++refused;
  }
  return refused;
}

namespace {

class PixelFaceSensor final : public FaceSensor {
 public:
  PixelFaceSensor(const Scenario& s, const Population& pop)
      : s_(s), pop_(pop), pipeline_(load_pixel_pipeline(s)), lane_(pixel_lane(s)) {
    m_.active = true;
    enrol_all();
  }

  FaceEvidence capture(const FaceRequest& q, RandomStream& /*rng*/, AttemptCounts& counts) override {
    const Person& p = *q.person;
    const int m = static_cast<int>(q.truth);
    ++m_.attempts;
    if (live_) {
      showing_lane_ = s_.gates[q.gate].name + "/" + std::to_string(q.lane + 1);
      showing_passage_ = q.passage;
      showing_ = p.label() + (q.attempt == 0 ? " walking up" : " retry " + std::to_string(q.attempt));
    }
    scene::LaneSpec lane = lane_;
    lane.passage = q.passage * 64 + std::min<std::uint32_t>(q.attempt, 63);
    // The first attempt is the walk up to the terminal; a retry is captured standing there.
    lane.start_distance_m = q.attempt == 0 ? s_.pixel.start_distance_m : s_.pixel.stop_distance_m;
    std::vector<scene::Actor> actors{subject(lane, p, q.truth)};
    if (q.behind && *q.behind != p.id) actors.push_back(scene::make_actor(lane, *q.behind, scene::Role::behind));
    RandomStream neighbours(s_.seed, "pixel.adjacent", lane.passage);
    if (neighbours.bernoulli(s_.pixel.adjacent_share) && !pop_.free_residents().empty()) {
      const auto& pool = pop_.free_residents();
      const std::uint32_t other = pool[neighbours.below(pool.size())];
      if (other != p.id) actors.push_back(scene::make_actor(lane, other, scene::Role::adjacent));
    }
    scene::Approach approach(lane, std::move(actors));

    scene::SceneFrame frame;
    vision::FrameAnalysis a;
    const std::uint64_t frames_before = m_.frames_analysed;
    const double core_before = m_.stage_ms_sum[6];  // total
    const bool usable = analyse_until_usable(approach, frame, a);
    m_.attempt_frames += m_.frames_analysed - frames_before;
    m_.attempt_core_ms += m_.stage_ms_sum[6] - core_before;

    AttemptTally t;
    t.enrolled = p.enrolled;
    FaceEvidence e;
    if (!usable) {
      if (p.enrolled) m_.genuine_attempts.push_back({p.id, static_cast<std::uint8_t>(m), static_cast<std::uint8_t>(std::min<std::uint32_t>(q.attempt, 255)), false, std::nan("")});
      ++failures_[std::string(vision::to_string(a.failure))];
      count_face_attempt(counts, q.truth, t, 0.0);
      return e;
    }
    if (!frame.actors.empty() && !decided_on(a, frame.actors.front().face)) ++m_.decided_on_other;
    e.acquired = t.acquired = true;
    e.mask = a.mask.state;
    ++m_.mask_confusion[static_cast<std::size_t>(m)][static_cast<std::size_t>(e.mask)];
    const Gallery& g = *galleries_[q.compound];
    const double thr = recognizer::threshold_for(s_.policy, e.mask);
    if (g.persons() == 0) {
      count_face_attempt(counts, q.truth, t, thr);
      return e;
    }
    // Every enrolled person's score: the best is the evidence; the rest are the calibration's impostor sample.
    const auto all = g.search(a.embedding, g.persons());
    e.best_id = all.front().person;
    e.score = all.front().score;
    const bool lookalike = p.kind == PersonKind::lookalike;
    double best_impostor = -2.0;
    std::uint32_t impostors = 0;
    for (const auto& match : all) {
      if (p.kind == PersonKind::resident && match.person == p.id) {
        t.genuine = match.score;
        continue;
      }
      if (lookalike && match.person == p.impersonates) {
        m_.lookalike.push_back(match.score);
      } else {
        ++m_.impostor_hist[static_cast<std::size_t>(m)][static_cast<std::size_t>(bin_of(match.score))];
        m_.impostor_sum[static_cast<std::size_t>(m)] += match.score;
        ++m_.impostor_n[static_cast<std::size_t>(m)];
        best_impostor = std::max(best_impostor, static_cast<double>(match.score));
        ++impostors;
      }
      if (!t.best_other || match.score > *t.best_other) t.best_other = match.score;
    }
    if (p.enrolled) m_.genuine_attempts.push_back({p.id, static_cast<std::uint8_t>(m), static_cast<std::uint8_t>(std::min<std::uint32_t>(q.attempt, 255)), true, t.genuine.value_or(std::nan(""))});
    if (impostors > 0) m_.best_impostor[static_cast<std::size_t>(m)].push_back({best_impostor, impostors, p.id});
    count_face_attempt(counts, q.truth, t, thr);
    return e;
  }

  std::optional<double> verify(const FaceRequest& q, std::uint32_t holder, RandomStream& /*rng*/) override {
    const Gallery& g = *galleries_[q.compound];
    if (!g.contains(holder)) return std::nullopt;
    scene::LaneSpec lane = lane_;
    lane.passage = q.passage * 64 + 63;  // the card reader's own capture, standing at the terminal
    lane.start_distance_m = s_.pixel.stop_distance_m;
    scene::Approach approach(lane, {subject(lane, *q.person, q.truth)});
    scene::SceneFrame frame;
    vision::FrameAnalysis a;
    if (!analyse_until_usable(approach, frame, a)) return std::nullopt;
    return g.verify(holder, a.embedding);
  }

  void finish(RunOutput& out) override {
    m_.failure_reasons.assign(failures_.begin(), failures_.end());
    out.pixel = std::move(m_);
  }

 private:
  // Renders the approach frame by frame and runs the core on each until a face is usable; `frame` and `a`
  // hold the last frame and its analysis. False when the frames ran out first.
  bool analyse_until_usable(scene::Approach& approach, scene::SceneFrame& frame, vision::FrameAnalysis& a) {
    while (true) {
      const auto r0 = std::chrono::steady_clock::now();
      if (!approach.next(frame)) return false;
      m_.render_ms_sum += ms_since(r0);
      ++m_.frames_rendered;
      a = pipeline_->analyse(frame.image);
      ++m_.frames_analysed;
      add_timings(a.timings);
      if (live_) show(frame, a);
      if (a.usable()) return true;
    }
  }

  void set_live(LiveSink* sink) override { live_ = sink; }

  void show(const scene::SceneFrame& frame, const vision::FrameAnalysis& a) {
    LiveFrame f;
    f.lane = showing_lane_;
    f.passage = showing_passage_;
    f.image = frame.image;
    for (std::size_t i = 0; i < a.faces.size(); ++i)
      f.faces.push_back({a.faces[i].detection.box, static_cast<int>(i) == a.deciding});
    f.caption = showing_ + (a.usable() ? ": face acquired" : ": " + std::string(vision::to_string(a.failure)));
    live_->frame(f);
  }

  scene::Actor subject(const scene::LaneSpec& lane, const Person& p, MaskState truth) const {
    return gate_subject(s_, lane, p, truth);
  }

  // One gallery per compound, enrolled from its residents' photos.
  void enrol_all() {
    const std::size_t compounds = [&] {
      std::size_t n = 0;
      for (std::uint16_t g = 0; g < s_.gates.size(); ++g) n = std::max<std::size_t>(n, pop_.compound_of_gate(g) + 1u);
      return n;
    }();
    for (std::size_t c = 0; c < compounds; ++c) {
      auto gallery = std::make_unique<Gallery>(Gallery::kShippedDim);
      const auto& ids = pop_.gallery(static_cast<std::uint16_t>(c));
      const std::uint64_t refused = enrol_photos(*pipeline_, s_, ids, [&](std::uint32_t id, const std::vector<float>& e) {
        gallery->add(id, e, recognizer::TemplateKind::unmasked);
      });
      m_.failed_to_enrol += refused;
      m_.enrolled += ids.size() - refused;
      galleries_.push_back(std::move(gallery));
    }
  }

  void add_timings(const vision::StageTimings& t) {
    const double v[7] = {t.detect, t.landmarks, t.align, t.quality, t.mask, t.embed, t.total};
    for (int i = 0; i < 7; ++i) m_.stage_ms_sum[static_cast<std::size_t>(i)] += v[i];
  }

  const Scenario& s_;
  const Population& pop_;
  std::unique_ptr<vision::FacePipeline> pipeline_;
  std::vector<std::unique_ptr<Gallery>> galleries_;  // per compound
  scene::LaneSpec lane_;
  PixelMeasurements m_;
  std::map<std::string, std::uint64_t> failures_;
  LiveSink* live_ = nullptr;
  std::string showing_lane_, showing_;  // the attempt being shown live
  std::uint64_t showing_passage_ = 0;
};

}  // namespace

std::unique_ptr<FaceSensor> make_pixel_face_sensor(const Scenario& scenario, const Population& population) {
  return std::make_unique<PixelFaceSensor>(scenario, population);
}

}  // namespace gatetwin::sim
