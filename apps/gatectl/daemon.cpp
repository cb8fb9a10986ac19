#include "daemon.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>

#include "daemon_lane.hpp"
#include "gate_rights.hpp"
#include "gatetwin/recognizer/gallery_store.hpp"
#include "gatetwin/recognizer/registry.hpp"

namespace gatetwin::gatectl {

namespace fs = std::filesystem;
namespace gr = gatetwin::recognizer;
namespace rv = gatetwin::recognizer::vision;

namespace {

std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

sockaddr_un unix_address(const fs::path& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);  // the length was checked with the config
  return a;
}

// Connects to a Unix socket; -1 with errno on failure.
int connect_unix(const fs::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const sockaddr_un a = unix_address(path);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// The status socket: each connection gets one JSON object and a newline, then is closed. Requests are
// not read (there are none): a client cannot make the daemon do anything through it.
class StatusServer {
 public:
  StatusServer(fs::path path, std::function<Json()> snapshot) : path_(std::move(path)), snapshot_(std::move(snapshot)) {
    struct stat st{};
    if (::lstat(path_.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) throw std::runtime_error(path_.string() + " exists and is not a socket");
      if (const int fd = connect_unix(path_); fd >= 0) {
        ::close(fd);
        throw std::runtime_error("another gatectl answers on " + path_.string());
      }
      ::unlink(path_.c_str());  // a socket left by a daemon that did not stop cleanly
    }
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_un a = unix_address(path_);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 8) != 0) {
      const std::string why = std::strerror(errno);
      if (fd_ >= 0) ::close(fd_);
      throw std::runtime_error("status socket " + path_.string() + ": " + why);
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~StatusServer() {
    stop_.request();
    thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }

 private:
  void serve() {
    while (!stop_.requested()) {
      pollfd p[2] = {{fd_, POLLIN, 0}, {stop_.fd(), POLLIN, 0}};
      if (::poll(p, 2, -1) <= 0 || !(p[0].revents & POLLIN)) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      const timeval tv{1, 0};  // a client that does not read cannot hold the server
      ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      const std::string text = snapshot_().dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
      std::size_t done = 0;
      while (done < text.size()) {
        const ssize_t n = ::send(c, text.data() + done, text.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
      ::close(c);
    }
  }

  fs::path path_;
  std::function<Json()> snapshot_;
  StopFlag stop_;
  int fd_ = -1;
  std::thread thread_;
};

// The policy engine's temperature modes need a thermometer on every lane.
void check_lanes_against_policy(const DaemonConfig& c, const gr::Policy& policy) {
  if (policy.temperature_mode == gr::TemperatureMode::off) return;
  std::string errors;
  for (std::size_t i = 0; i < c.lanes.size(); ++i) {
    if (c.lanes[i].thermal) continue;
    errors += c.file.string() + ":" + std::to_string(c.lanes[i].line) + ":1: lanes[" + std::to_string(i) +
              "].thermal: missing, but the policy measures temperature (temperature_mode: " +
              std::string(gr::to_string(policy.temperature_mode)) + "); give the lane a thermal sensor or set "
              "temperature_mode: off in the policy\n";
  }
  if (!errors.empty()) throw ConfigError(errors);
}

}  // namespace

int run_daemon(const fs::path& config_file, const RunOptions& options) {
  const DaemonConfig config = load_daemon_config(config_file);
  const gr::Policy policy = config.policy ? load_policy(*config.policy) : gr::Policy{};
  check_lanes_against_policy(config, policy);
  std::optional<Residents> residents;
  if (config.residents) residents = load_residents(*config.residents);
  const fs::path manifest_file = config.manifest ? *config.manifest : options.default_manifest;
  const rv::Manifest manifest =
      options.models.empty() ? rv::load_manifest(manifest_file) : rv::load_manifest(manifest_file, options.models);
  const auto dim = static_cast<std::size_t>(manifest.embedder.dim);
  const Residents* residents_ptr = residents ? &*residents : nullptr;
  std::unique_ptr<gr::Registry> registry;
  if (config.registry) {
    try {
      registry = std::make_unique<gr::Registry>(*config.registry, manifest.embedder_id(), dim, config.registry_key,
                                                /*audit_may_be_read_only=*/true);
    } catch (const std::runtime_error& e) {
      throw ConfigError(config.file.string() + ": registry: " + e.what());
    }
  }
  // The faces the lanes see: from the registry, only residents whose active consent covers every purpose
  // this gate declares; from a plain gallery, everyone in it.
  std::atomic<std::size_t> templates{0};
  Json face_source = Json::object();
  std::mutex face_source_mu;
  auto load_faces = [&]() -> std::shared_ptr<const FaceSnapshot> {
    auto snap = std::make_shared<FaceSnapshot>(dim, residents_ptr);
    if (registry) {
      const auto loaded = registry->load_gallery(snap->gallery, config.purposes, wall_us());
      templates = loaded.templates;
      std::lock_guard lock(face_source_mu);
      face_source = {{"registry", config.registry->string()}, {"purposes", gr::purposes_to_string(config.purposes)},
                     {"templates", loaded.templates}, {"persons", loaded.persons},
                     {"refused_persons", loaded.refused.size()}};
    } else if (config.gallery) {
      gr::GalleryStore store(*config.gallery, manifest.embedder_id(), dim);
      templates = store.load_into(snap->gallery);
    }
    return snap;
  };
  // Retention is enforced before the first face is matched.
  Json expired_at_start = nullptr;
  if (registry) {
    try {
      expired_at_start = registry->expire(wall_us(), "gate:" + config.gate);
    } catch (const std::runtime_error& e) {
      expired_at_start = {{"error", e.what()}};
      std::cerr << "gatectl run: retention check failed: " << e.what() << "\n";
    }
  }
  std::shared_ptr<const FaceSnapshot> first_faces;
  try {
    first_faces = load_faces();
  } catch (const std::runtime_error& e) {
    throw ConfigError(std::string(config.registry ? "registry: " : "gallery: ") + e.what());
  }
  FaceDirectory faces(first_faces);

  // Signals are taken by sigwait on this thread only: block them before any thread starts (threads
  // inherit the mask), so no handler ever runs. A reader that goes away gives EPIPE, not SIGPIPE.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);  // a service manager's "reload": logged, not acted on (see below)
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // A file size limit (ulimit -f) gives EFBIG on the write that would pass it, like a full disk, instead of
  // killing the daemon: the audit log reports it and the lanes apply their fail mode.
  ::signal(SIGXFSZ, SIG_IGN);
  // RTSP over TCP (interleaved) unless the operator chose otherwise: no UDP ports to open, no loss.
  ::setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp", 0);

  std::unique_ptr<EventLog> log;
  try {
    log = std::make_unique<EventLog>(config.events, config.events_fsync);
  } catch (const std::exception& e) {
    std::cerr << "gatectl run: " << e.what() << "\n";
    return 1;
  }
  StopFlag stop;
  std::unique_ptr<DaemonAudit> audit;
  if (registry) audit = std::make_unique<DaemonAudit>(registry->audit(), *log, config.gate);
  const Shared shared{config, policy, faces, residents_ptr, manifest, audit.get()};
  std::vector<std::unique_ptr<Lane>> lanes;
  for (const auto& lc : config.lanes) lanes.push_back(std::make_unique<Lane>(shared, lc, *log, stop));

  const auto started_wall = iso_time();
  const auto started = std::chrono::steady_clock::now();
  std::atomic<bool> stopping{false};
  auto snapshot = [&] {
    Json j;
    j["gate"] = config.gate;
    j["pid"] = ::getpid();
    j["state"] = stopping.load() ? "stopping" : "running";
    j["started"] = started_wall;
    j["uptime_s"] = std::round(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() * 10) / 10;
    j["events"] = {{"target", config.events}, {"lines", log->lines()}, {"write_errors", log->write_errors()}};
    if (registry) {
      std::lock_guard lock(face_source_mu);
      j["registry"] = face_source;
      j["registry"]["audit"] = audit->status();
    }
    j["lanes"] = Json::array();
    for (const auto& l : lanes) j["lanes"].push_back(l->status());
    return j;
  };
  std::unique_ptr<StatusServer> status;
  try {
    status = std::make_unique<StatusServer>(config.status_socket, snapshot);
  } catch (const std::exception& e) {
    std::cerr << "gatectl run: " << e.what() << "\n";
    return 1;
  }

  Json lane_names = Json::array();
  for (const auto& l : config.lanes) lane_names.push_back(l.name);
  log->write({{"event", "started"}, {"gate", config.gate}, {"pid", ::getpid()}, {"lanes", lane_names},
              {"model", manifest.id}, {"templates", templates.load()},
              {"residents", residents ? Json(residents->people.size()) : Json(nullptr)},
              {"policy", config.policy ? Json(config.policy->string()) : Json("defaults")},
              {"status", config.status_socket.string()},
              {"registry", registry ? Json({{"dir", config.registry->string()},
                                            {"purposes", gr::purposes_to_string(config.purposes)},
                                            {"templates_deleted_for", expired_at_start}})
                                    : Json(nullptr)}});
  // Consent changes made by `gatectl withdraw` / `consent` / `expire` reach the lanes within
  // consent_refresh; templates past their retention period are deleted every retention_check.
  std::thread maintenance;
  if (registry) {
    audit->append("gate:" + config.gate, "gate_start", "",
                  {{"pid", ::getpid()}, {"purposes", gr::purposes_to_string(config.purposes)}, {"templates", templates.load()}});
    maintenance = std::thread([&] {
      std::uint64_t seen = registry->change_counter();
      auto next_expiry = std::chrono::steady_clock::now() + config.retention_check;
      while (!stop.wait_for(config.consent_refresh)) {
        try {
          bool reload = false;
          if (std::chrono::steady_clock::now() >= next_expiry) {
            next_expiry += config.retention_check;
            const auto deleted = registry->expire(wall_us(), "gate:" + config.gate);
            if (!deleted.empty()) {
              log->write({{"event", "retention_expired"}, {"gate", config.gate}, {"persons", deleted}});
              reload = true;
            }
          }
          if (const std::uint64_t now = registry->change_counter(); now != seen) {
            seen = now;
            reload = true;
          }
          if (!reload) continue;
          faces.replace(load_faces());
          Json ev = {{"event", "faces_reloaded"}, {"gate", config.gate}};
          {
            std::lock_guard lock(face_source_mu);
            for (auto it = face_source.begin(); it != face_source.end(); ++it) ev[it.key()] = it.value();
          }
          log->write(ev);
        } catch (const std::exception& e) {  // the lanes keep the faces they have
          log->write({{"event", "registry_error"}, {"gate", config.gate}, {"error", e.what()}});
        }
      }
    });
  }
  for (auto& l : lanes) l->start();
  std::cerr << "gatectl run: gate " << config.gate << ", " << lanes.size() << " lane(s), " << templates.load()
            << " template(s); events to " << (config.events == "-" ? "stdout" : config.events) << "; status on "
            << config.status_socket.string() << "; ready" << std::endl;

  int sig = 0;
  for (;;) {
    if (sigwait(&stop_signals, &sig) != 0) continue;
    if (sig != SIGHUP) break;
    // Reloading the gallery, residents or policy under running lanes is not supported: say so and go on
    // (the default action of SIGHUP would end the daemon without its final event).
    log->write({{"event", "reload_ignored"}, {"gate", config.gate}, {"signal", "SIGHUP"},
                {"detail", "restart gatectl to load a changed gallery, residents or policy"}});
  }
  // Stop taking frames and card events, let each worker finish what it holds (a decision in flight, cards
  // already received), then close the devices (the lanes' destructors) and the socket.
  stopping = true;
  stop.request();
  for (auto& l : lanes) l->stop_input();
  for (auto& l : lanes) l->join();
  if (maintenance.joinable()) maintenance.join();
  if (audit) audit->append("gate:" + config.gate, "gate_stop", "", Json::object());
  Json final_state = snapshot();
  Json summary = Json::array();
  for (const auto& l : final_state["lanes"])
    summary.push_back({{"lane", l["name"]}, {"frames_read", l["frames_read"]}, {"frames_skipped", l["frames_skipped"]},
                       {"frames_analysed", l["frames_analysed"]}, {"analysis_ms", l["analysis_ms"]}, {"attempts", l["attempts"]},
                       {"decisions", l["decisions"]}});
  status.reset();  // removes the socket
  lanes.clear();
  log->write({{"event", "stopped"}, {"gate", config.gate}, {"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"},
              {"uptime_s", final_state["uptime_s"]}, {"lanes", summary}});
  std::cerr << "gatectl run: stopped on " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << std::endl;
  return 0;
}

int query_status(const fs::path& config_file, bool pretty) {
  const DaemonConfig config = load_daemon_config(config_file);
  const int fd = connect_unix(config.status_socket);
  if (fd < 0) {
    std::cerr << "gatectl status: no gatectl answers on " << config.status_socket.string() << ": " << std::strerror(errno)
              << "\n";
    return 1;
  }
  const timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > (4u << 20)) break;  // far beyond any status: stop reading
  }
  ::close(fd);
  const Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::cerr << "gatectl status: the daemon on " << config.status_socket.string() << " did not send a status object\n";
    return 1;
  }
  std::cout << j.dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace) << std::endl;
  return 0;
}

}  // namespace gatetwin::gatectl
