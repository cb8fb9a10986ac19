#pragma once
// The daemon's side of the registry (docs/privacy.md): the faces the lanes match against, replaced as a
// whole when consent changes, and the audit of every access decision, committed before the door moves.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "daemon_events.hpp"
#include "gate_rights.hpp"
#include "gatetwin/recognizer/audit_log.hpp"
#include "gatetwin/recognizer/vision/attempt.hpp"

namespace gatetwin::gatectl {

// A gallery and the rights over it, as one immutable unit: a lane takes the current one per decision.
struct FaceSnapshot {
  FaceSnapshot(std::size_t dim, const Residents* residents) : gallery(dim), rights(gallery, residents) {}
  FaceSnapshot(const FaceSnapshot&) = delete;
  FaceSnapshot& operator=(const FaceSnapshot&) = delete;
  recognizer::Gallery gallery;
  GateRights rights;
};

class FaceDirectory {
 public:
  explicit FaceDirectory(std::shared_ptr<const FaceSnapshot> s) : snap_(std::move(s)) {}
  std::shared_ptr<const FaceSnapshot> current() const {
    std::lock_guard lock(mu_);
    return snap_;
  }
  void replace(std::shared_ptr<const FaceSnapshot> s) {
    std::lock_guard lock(mu_);
    snap_ = std::move(s);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const FaceSnapshot> snap_;
};

struct AuditOutcome {
  std::int64_t seq = 0;   // the committed record, when error is empty
  std::string error;      // why it could not be committed (disk full, read-only database, ...)
};

// Appends to the registry's audit log for the lanes. A failure is reported once as an `audit_down` event
// (with the file and SQLite's reason) and once more as `audit_up` when a later append succeeds; each
// access event that could not be recorded carries `audit_error`, and the lane applies its fail mode.
class DaemonAudit {
 public:
  DaemonAudit(recognizer::AuditLog& log, EventLog& events, std::string gate)
      : log_(log), events_(events), gate_(std::move(gate)) {}

  AuditOutcome append(const std::string& actor, const std::string& action, const std::string& subject, const Json& detail) {
    AuditOutcome out;
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    try {
      out.seq = log_.append(now, actor, action, subject, detail.dump());
    } catch (const std::exception& e) {
      out.error = e.what();
    }
    bool report = false, recovered = false;
    {
      std::lock_guard lock(mu_);
      if (out.error.empty()) {
        ++records_;
        recovered = down_;
        down_ = false;
      } else {
        ++failures_;
        last_error_ = out.error;
        report = !down_;
        down_ = true;
      }
    }
    if (report)
      events_.write({{"event", "audit_down"}, {"gate", gate_}, {"file", log_.file().string()}, {"error", out.error},
                     {"action", "each lane applies its fail_mode to grants until the audit log can be written"}});
    if (recovered) events_.write({{"event", "audit_up"}, {"gate", gate_}, {"file", log_.file().string()}});
    return out;
  }

  AuditOutcome access(const std::string& lane, const Json& ev, const recognizer::vision::AccessEvent& e) {
    Json detail = {{"gate", gate_},
                   {"lane", lane},
                   {"source", ev.value("source", "")},
                   {"attempt", ev.value("attempt", 0)},
                   {"verify_mode", e.verify_mode},
                   {"decision", recognizer::to_string(e.decision)},
                   {"reason", recognizer::to_string(e.reason)}};
    return append("gate:" + gate_ + "/" + lane, "access", e.person ? "person:" + std::to_string(*e.person) : "", detail);
  }

  Json status() const {
    std::lock_guard lock(mu_);
    return {{"file", log_.file().string()}, {"state", down_ ? "down" : "up"}, {"records", records_}, {"failures", failures_},
            {"last_error", last_error_}};
  }

 private:
  recognizer::AuditLog& log_;
  EventLog& events_;
  std::string gate_;
  mutable std::mutex mu_;
  bool down_ = false;
  std::uint64_t records_ = 0, failures_ = 0;
  std::string last_error_;
};

}  // namespace gatetwin::gatectl
