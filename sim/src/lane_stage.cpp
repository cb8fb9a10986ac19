#include "gatetwin/sim/lane_stage.hpp"

#include <cmath>

namespace gatetwin::sim {

LaneStage::LaneStage(scene::LaneSpec lane, double reach_m) : lane_(std::move(lane)), reach_m_(reach_m) {}

void LaneStage::begin(SimTime t0, std::uint64_t passage, std::vector<scene::Actor> actors) {
  scene::LaneSpec spec = lane_;
  spec.passage = passage;
  Passage p;
  p.t0 = t0;
  for (const auto& a : actors)
    if (a.role == scene::Role::subject) {
      p.skin_c = a.skin_c;
      break;
    }
  p.approach = std::make_unique<scene::Approach>(spec, std::move(actors));
  std::lock_guard lock(mutex_);
  passage_ = std::move(p);
}

void LaneStage::clear() {
  std::lock_guard lock(mutex_);
  passage_.reset();
}

cv::Mat LaneStage::frame(devices::Micros t, std::uint64_t) {
  std::lock_guard lock(mutex_);
  if (!passage_) {
    if (empty_.empty()) {
      // The lane with nobody in it: an approach without actors renders the background only.
      scene::Approach nobody(lane_, {});
      scene::SceneFrame f;
      if (nobody.next(f)) empty_ = f.image;
      ++rendered_;
    }
    return empty_;
  }
  auto& p = *passage_;
  // The approach's frame for this moment: frames are produced at the camera's rate from t0; a camera
  // asking at another rate sees the newest frame at or before its time. Frames it skips are not drawn.
  const double since_s = std::chrono::duration<double>(t - p.t0).count();
  const int wanted = since_s < 0 ? 0 : static_cast<int>(std::floor(since_s * lane_.camera.fps));
  scene::SceneFrame f;
  while (p.approach->position() < wanted && p.approach->position() < p.approach->frames() - 1)
    if (!p.approach->next_truth_only(f)) break;
  if (p.last.image.empty() || p.approach->position() <= wanted) {
    if (p.approach->next(f)) {
      p.last = std::move(f);
      ++rendered_;
    }
  }
  return p.last.image.empty() ? cv::Mat(lane_.camera.frame, CV_8UC3, cv::Scalar::all(0)) : p.last.image;
}

std::optional<double> LaneStage::skin_temperature_c(devices::Micros t) {
  std::lock_guard lock(mutex_);
  if (!passage_) return std::nullopt;
  const double since_s = std::chrono::duration<double>(t - passage_->t0).count();
  if (since_s < 0 || passage_->approach->subject_distance_m(since_s) > reach_m_) return std::nullopt;
  return passage_->skin_c;
}

std::uint64_t LaneStage::rendered() const {
  std::lock_guard lock(mutex_);
  return rendered_;
}

}  // namespace gatetwin::sim
