#pragma once
// Who may pass, as a terminal knows it: the rights of the people a residents file lists (whether they have a
// face template comes from the gallery), or, without one, open rights for everyone with a template in the
// gallery (a stand-alone terminal: the gallery holds no identity data or rights, kept apart from templates).
// Used by `gatectl identify` (no residents file) and `gatectl run`.
#include <optional>

#include "daemon_config.hpp"
#include "gatetwin/recognizer/gallery.hpp"
#include "gatetwin/recognizer/policy.hpp"

namespace gatetwin::gatectl {

class GateRights : public recognizer::RightsDirectory {
 public:
  explicit GateRights(const recognizer::Gallery& gallery, const Residents* residents = nullptr)
      : gallery_(gallery), residents_(residents) {}
  std::optional<recognizer::Rights> rights(std::uint32_t id) const override {
    if (residents_) {
      const auto it = residents_->people.find(id);
      if (it == residents_->people.end()) return std::nullopt;
      recognizer::Rights r = it->second;
      r.has_face_template = gallery_.contains(id);
      return r;
    }
    if (!gallery_.contains(id)) return std::nullopt;
    recognizer::Rights r;
    r.has_face_template = true;
    return r;
  }

 private:
  const recognizer::Gallery& gallery_;
  const Residents* residents_;
};

}  // namespace gatetwin::gatectl
