#include "gatetwin/sim/hil_gates.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "gatetwin/devices/fault.hpp"
#include "gatetwin/recognizer/gallery.hpp"
#include "gatetwin/recognizer/gallery_store.hpp"
#include "gatetwin/sim/device_rig.hpp"
#include "gatetwin/sim/hil_lane.hpp"
#include "gatetwin/sim/lane_stage.hpp"
#include "gatetwin/sim/pixel_sensor.hpp"

#ifndef GATETWIN_BUILT_GATECTL
#define GATETWIN_BUILT_GATECTL ""
#endif

extern char** environ;

namespace gatetwin::sim {

namespace fs = std::filesystem;
namespace dv = gatetwin::devices;
using Json = nlohmann::json;

recognizer::Direction hil_lane_direction(const GateSpec& g, int lane) {
  if (g.direction == GateDirection::entry) return recognizer::Direction::entry;
  if (g.direction == GateDirection::exit) return recognizer::Direction::exit;
  return lane % 2 == 0 ? recognizer::Direction::entry : recognizer::Direction::exit;
}

std::optional<dv::wiegand::Credential> hil_card(const Person& p, const Scenario& s) {
  const auto fmt = s.card.format == "w34" ? dv::wiegand::Format::W34 : dv::wiegand::Format::W26;
  switch (p.kind) {
    case PersonKind::resident:
      if (!p.has_card) return std::nullopt;
      return dv::wiegand::Credential{fmt, 1, p.id + 1};
    case PersonKind::revoked_card: return dv::wiegand::Credential{fmt, 1, 60000 + p.serial % 5000};
    case PersonKind::cloned_card: return dv::wiegand::Credential{fmt, 1, p.impersonates + 1};
    default: return std::nullopt;
  }
}

namespace {

// Simulated time as the devices see it: day.start until the run starts, then day.start plus the wall
// time since, times the speed (the pacer's mapping, started within microseconds of it).
class RunClock final : public dv::Clock {
 public:
  RunClock(SimTime origin, double speed) : origin_(origin.count()), speed_(speed) {}
  dv::Micros now() const override {
    if (!running_.load(std::memory_order_acquire)) return dv::Micros{origin_};
    const auto wall = std::chrono::steady_clock::now().time_since_epoch().count() - start_ns_.load(std::memory_order_acquire);
    return dv::Micros{origin_ + static_cast<std::int64_t>(static_cast<double>(wall) / 1000.0 * speed_)};
  }
  void run() {
    start_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_release);
    running_.store(true, std::memory_order_release);
  }

 private:
  std::int64_t origin_;
  double speed_;
  std::atomic<std::int64_t> start_ns_{0};
  std::atomic<bool> running_{false};
};

// The run's device I/O log: one JSON object per line, written by the device thread and the simulation.
class IoLog {
 public:
  explicit IoLog(const fs::path& file) : out_(file) {
    if (!out_) throw HilSetupError(file.string() + ": cannot create the device I/O log");
  }
  void write(const Json& j) {
    const std::string line = j.dump(-1, ' ', false, Json::error_handler_t::replace);
    std::lock_guard lock(mu_);
    out_ << line << '\n';
  }
  void flush() {
    std::lock_guard lock(mu_);
    out_.flush();
  }

 private:
  std::mutex mu_;
  std::ofstream out_;
};

Json bits_json(const std::vector<bool>& bits, std::size_t n) {
  Json a = Json::array();
  for (std::size_t i = 0; i < std::min(n, bits.size()); ++i) a.push_back(bits[i] ? 1 : 0);
  return a;
}

// A Modbus device as the server sees it, recording every transaction (request, reply or none, delay)
// with the device's simulated time.
class RecordingHandler final : public dv::modbus::Handler {
 public:
  RecordingHandler(dv::modbus::Handler& inner, const dv::Clock& clock, IoLog& log, std::string lane, std::string device,
                   std::atomic<std::uint64_t>& count)
      : inner_(inner), clock_(clock), log_(log), lane_(std::move(lane)), device_(std::move(device)), count_(count) {}
  dv::modbus::Response handle(const dv::modbus::Request& q) override { return inner_.handle(q); }
  dv::modbus::Reply reply(const dv::modbus::Request& q) override {
    const auto t = clock_.now();
    dv::modbus::Reply r = inner_.reply(q);
    Json j = {{"t_us", t.count()}, {"t", format_clock(SimTime{t.count()})}, {"lane", lane_}, {"device", device_},
              {"transaction", q.header.transaction}, {"fn", q.function}, {"addr", q.address}, {"qty", q.quantity}};
    if (!q.registers.empty()) j["write_regs"] = q.registers;
    if (!q.bits.empty()) j["write_bits"] = bits_json(q.bits, q.bits.size());
    if (!r.response) {
      j["reply"] = nullptr;
    } else {
      Json rep;
      rep["exception"] = r.response->exception ? Json(static_cast<int>(*r.response->exception)) : Json(nullptr);
      if (!r.response->registers.empty()) rep["regs"] = r.response->registers;
      if (!r.response->bits.empty()) rep["bits"] = bits_json(r.response->bits, q.quantity ? q.quantity : r.response->bits.size());
      j["reply"] = rep;
    }
    if (r.delay.count() > 0) j["delay_us"] = r.delay.count();
    log_.write(j);
    count_.fetch_add(1, std::memory_order_relaxed);
    return r;
  }

 private:
  dv::modbus::Handler& inner_;
  const dv::Clock& clock_;
  IoLog& log_;
  std::string lane_, device_;
  std::atomic<std::uint64_t>& count_;
};

// A 64-bit hash of a picture's pixels (rows, so a padded Mat hashes like a continuous one).
std::uint64_t picture_hash(const cv::Mat& m) {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (static_cast<std::uint64_t>(m.rows) << 32) ^ static_cast<std::uint64_t>(m.cols);
  const std::size_t row_bytes = static_cast<std::size_t>(m.cols) * m.elemSize();
  for (int y = 0; y < m.rows; ++y) {
    const auto* p = m.ptr<std::uint8_t>(y);
    std::size_t i = 0;
    for (; i + 8 <= row_bytes; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      h = (h ^ w) * 0x100000001B3ull;
      h ^= h >> 29;
    }
    for (; i < row_bytes; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  }
  return dv::splitmix64(h);
}

// The lane's stage as the camera sees it, recording each frame's hash with its simulated time.
class RecordingFrames final : public dv::FrameSource {
 public:
  RecordingFrames(std::shared_ptr<LaneStage> stage, IoLog* log, std::string lane, std::atomic<std::uint64_t>& count,
                  LiveSink* live, std::string live_lane)
      : stage_(std::move(stage)), log_(log), lane_(std::move(lane)), count_(count), live_(live), live_lane_(std::move(live_lane)) {}
  cv::Size size() const override { return stage_->size(); }
  cv::Mat frame(dv::Micros t, std::uint64_t index) override {
    cv::Mat m = stage_->frame(t, index);
    if (live_) {
      LiveFrame f;
      f.lane = live_lane_;
      f.t = SimTime{t.count()};
      f.image = m;
      f.caption = "camera frame " + std::to_string(index);
      live_->frame(f);
    }
    if (log_) {
      std::ostringstream hex;
      hex << std::hex << picture_hash(m);
      log_->write({{"t_us", t.count()}, {"t", format_clock(SimTime{t.count()})}, {"lane", lane_}, {"device", "camera"},
                   {"frame", index}, {"hash", hex.str()}});
      count_.fetch_add(1, std::memory_order_relaxed);
    }
    return m;
  }

 private:
  std::shared_ptr<LaneStage> stage_;
  IoLog* log_;
  std::string lane_;
  std::atomic<std::uint64_t>& count_;
  LiveSink* live_;          // a live view, may be null
  std::string live_lane_;   // "gate/lane"
};

// A child process with its output in a file; SIGTERM and reaped on stop.
class Child {
 public:
  Child(const std::string& program, const std::vector<std::string>& args, const fs::path& log, const std::vector<std::string>& env_extra) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    std::vector<std::string> all{program};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    env.insert(env.end(), env_extra.begin(), env_extra.end());
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, program.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw HilSetupError("cannot start " + program + ": " + std::strerror(rc));
  }
  ~Child() { stop(std::chrono::seconds(5)); }
  // The exit status if it has ended (128 + signal for a signal).
  std::optional<int> poll() {
    if (pid_ <= 0) return status_;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    return status_;
  }
  // SIGTERM, then SIGKILL after `grace`.
  int stop(std::chrono::milliseconds grace) {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      const auto until = std::chrono::steady_clock::now() + grace;
      while (!poll() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (!poll()) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
        status_ = 128 + SIGKILL;
      }
    }
    return status_.value_or(-1);
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// gatectl's event log, read as it grows: complete lines only.
class EventTail {
 public:
  explicit EventTail(fs::path file) : file_(std::move(file)) {}
  std::vector<Json> read() {
    std::vector<Json> out;
    std::ifstream in(file_, std::ios::binary);
    if (!in) return out;
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t start = 0;
    for (std::size_t nl; (nl = chunk.find('\n', start)) != std::string::npos; start = nl + 1) {
      Json j = Json::parse(chunk.substr(start, nl - start), nullptr, false);
      if (!j.is_discarded() && j.is_object()) out.push_back(std::move(j));
    }
    offset_ += start;
    return out;
  }

 private:
  fs::path file_;
  std::size_t offset_ = 0;
};

std::string yaml_quote(const std::string& s) {
  std::string q = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

std::string find_gatectl(const Scenario& s) {
  if (!s.hil.gatectl.empty()) return s.hil.gatectl;
  if (const char* e = std::getenv("GATETWIN_GATECTL"); e && *e) return e;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const fs::path& p : {self.parent_path() / "gatectl", self.parent_path().parent_path() / "gatectl" / "gatectl"})
      if (fs::exists(p, ec)) return p.string();
  }
  if (const std::string built = GATETWIN_BUILT_GATECTL; !built.empty() && fs::exists(built, ec)) return built;
  return "gatectl";  // on PATH
}

}  // namespace

struct HilGates::Impl {
  const Scenario& s;
  const Population& pop;
  OpenFn on_open;
  RunClock clock;
  scene::LaneSpec spec;
  std::unique_ptr<IoLog> io;
  std::atomic<std::uint64_t> modbus_count{0}, frame_count{0}, stray{0};
  std::uint64_t card_count = 0;
  std::vector<std::unique_ptr<RecordingHandler>> wrapped;
  std::vector<std::shared_ptr<LaneStage>> stages;
  std::unique_ptr<DeviceRig> rig;
  std::vector<std::unique_ptr<HilLane>> hil_lanes;
  std::vector<std::string> lane_names;
  std::map<std::string, std::size_t> lane_index;
  std::vector<std::unique_ptr<Child>> gatectl;
  std::vector<EventTail> tails;
  std::vector<std::vector<GateDecision>> pending;  // per lane: read from the logs, not yet taken
  HilStats stats;
  LiveSink* live = nullptr;                         // set before start(), which hands it to the cameras
  std::vector<std::atomic<bool>> waiting;           // per lane: someone stands there (for stray opens)
  bool stopped = false;

  Impl(const Scenario& sc, const Population& p, OpenFn fn) : s(sc), pop(p), on_open(std::move(fn)), clock(sc.day_start, sc.hil.speed) {
    spec = pixel_lane(s);
    spec.camera.frame = cv::Size(s.devices.camera_width, s.devices.camera_height);
    spec.camera.fps = s.devices.camera_fps;
    spec.dwell_s = s.hil.face_timeout_s;  // a resident keeps moving a little while they wait at the terminal
    for (const auto& g : s.gates)
      for (int l = 1; l <= g.lanes; ++l) {
        lane_index[g.name + "-" + std::to_string(l)] = lane_names.size();
        lane_names.push_back(g.name + "-" + std::to_string(l));
      }
    pending.resize(lane_names.size());
    waiting = std::vector<std::atomic<bool>>(lane_names.size());
  }

  void read_logs() {
    for (auto& tail : tails) {
      for (const Json& j : tail.read()) {
        const std::string type = j.value("event", "");
        ++stats.events[type];
        if (type != "access") continue;
        const auto it = lane_index.find(j.value("lane", ""));
        if (it == lane_index.end()) continue;
        GateDecision d;
        d.source = j.value("source", "");
        d.decision = j.value("decision", "");
        d.reason = j.value("reason", "");
        d.next = j.contains("next") && j["next"].is_string() ? j["next"].get<std::string>() : "";
        if (j.contains("person_id") && j["person_id"].is_number_unsigned() && j["person_id"].get<std::uint64_t>() >= 1)
          d.person = static_cast<std::uint32_t>(j["person_id"].get<std::uint64_t>() - 1);
        if (j.contains("current_temperature_c") && j["current_temperature_c"].is_number())
          d.temperature_c = j["current_temperature_c"].get<double>();
        d.abnormal_temperature = j.value("abnormal_temperature", false);
        d.mask = j.contains("mask") && j["mask"].is_string() ? j["mask"].get<std::string>() : "";
        d.referred_to_staff = j.value("referred_to_staff", false);
        d.door = j.value("door", "");
        d.latency_ms = j.value("latency_ms", 0.0);
        if (j.contains("door_ms") && j["door_ms"].is_number()) d.door_ms = j["door_ms"].get<double>();
        if (j.contains("face_box") && j["face_box"].is_array() && j["face_box"].size() == 4) {
          std::array<float, 4> b{};
          bool ok = true;
          for (std::size_t k = 0; k < 4; ++k) {
            ok = ok && j["face_box"][k].is_number();
            if (ok) b[k] = j["face_box"][k].get<float>();
          }
          if (ok) d.face_box = b;
        }
        pending[it->second].push_back(std::move(d));
      }
    }
  }

  void write_files(const fs::path& dir, const std::string& gatectl_bin) {
    // The galleries: each compound's enrolled residents, enrolled by the core from their rendered photos
    // (gatectl's ids are the simulation's plus one: 0 is not a valid id in its files).
    std::unique_ptr<recognizer::vision::FacePipeline> pipeline;
    try {
      pipeline = load_pixel_pipeline(s);
    } catch (const PixelSetupError& e) {
      throw HilSetupError(e.what());
    }
    const auto& manifest = pipeline->manifest();
    std::size_t compounds = 0;
    for (std::uint16_t g = 0; g < s.gates.size(); ++g) compounds = std::max<std::size_t>(compounds, pop.compound_of_gate(g) + 1u);
    const auto now_us = std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    for (std::size_t c = 0; c < compounds; ++c) {
      recognizer::GalleryStore store(dir / ("gallery-" + std::to_string(c) + ".db"), manifest.embedder_id(),
                                     static_cast<std::size_t>(manifest.embedder.dim));
      enrol_photos(*pipeline, s, pop.gallery(static_cast<std::uint16_t>(c)), [&](std::uint32_t id, const std::vector<float>& e) {
        store.add(id + 1, e, recognizer::TemplateKind::unmasked, now_us);
      });
      // Residents and their cards (identity data apart from the templates). Isolation is open-ended for
      // the run: gatectl's clock is the wall clock, the run is one day.
      std::ofstream r(dir / ("residents-" + std::to_string(c) + ".yaml"));
      r << "# residents of compound " << c << " as the gate knows them (ids: simulation id + 1)\nresidents:\n";
      for (const Person& p : pop.persons()) {
        if (p.kind != PersonKind::resident || p.compound != c) continue;
        if (p.id + 1 >= 60000) throw HilSetupError("fidelity hil: more than 59,998 persons do not fit the card numbering of docs/hil.md");
        r << "  - id: " << p.id + 1 << "\n";
        if (const auto card = hil_card(p, s))
          r << "    cards: [{facility: " << card->facility << ", number: " << card->card << ", format: " << s.card.format << "}]\n";
        if (p.quarantined_on(s.day_index)) r << "    quarantine_until: \"2099-01-01\"\n";
        if (p.health != recognizer::HealthCode::green) r << "    health: " << recognizer::to_string(p.health) << "\n";
      }
      r << "revoked_cards:\n";
      for (std::uint32_t n = 60000; n < 65000; n += 1) r << "  - {facility: 1, number: " << n << ", format: " << s.card.format << "}\n";
    }
    // The policy, key for key (gatectl's policy file: docs/gatectl.md).
    const auto& p = s.policy;
    std::ofstream pol(dir / "policy.yaml");
    pol << "threshold_unmasked: " << p.threshold_unmasked << "\nthreshold_masked: " << p.threshold_masked
        << "\nmask: " << recognizer::to_string(p.mask) << "\nfever_threshold_c: " << p.fever_threshold_c
        << "\ncompensation_c: " << p.compensation_c << "\ntemperature_mode: " << recognizer::to_string(p.temperature_mode)
        << "\nopen_on_abnormal_temperature: " << std::boolalpha << p.open_on_abnormal_temperature
        << "\nremeasure_on_alarm: " << p.remeasure_on_alarm << "\nstaff_secondary_check: " << p.staff_secondary_check
        << "\nmax_face_attempts: " << p.max_face_attempts << "\ncard_allowed: " << p.card_allowed
        << "\ncard_requires_face: " << p.card_requires_face << "\nvisitors: " << recognizer::to_string(p.visitors)
        << "\nquarantine_exit_denied: " << p.quarantine_exit_denied << "\nhealth_code_check: " << p.health_code_check << "\n";
    (void)gatectl_bin;
  }

  void write_gate_config(const fs::path& dir, std::size_t g, std::size_t first_lane) {
    const GateSpec& gate = s.gates[g];
    std::ofstream c(dir / ("gatectl-" + std::to_string(g) + ".yaml"));
    c << "# gatectl for gate " << gate.name << ", written by gatetwin (fidelity: hil)\n"
      << "gate: " << yaml_quote(gate.name) << "\n"
      << "gallery: gallery-" << pop.compound_of_gate(static_cast<std::uint16_t>(g)) << ".db\n"
      << "residents: residents-" << pop.compound_of_gate(static_cast<std::uint16_t>(g)) << ".yaml\n"
      << "policy: policy.yaml\n"
      << "manifest: " << yaml_quote(fs::absolute(pixel_manifest_path(s)).string()) << "\n"
      << "events: gatectl-" << g << ".events.jsonl\n"
      // A Unix socket path must fit 108 bytes: keep it short, in /tmp.
      << "status: " << yaml_quote("/tmp/gatetwin-hil-" + std::to_string(::getpid()) + "-" + std::to_string(g) + ".sock") << "\n"
      << "lanes:\n";
    const double focal = spec.camera.focal_px();
    for (int l = 0; l < gate.lanes; ++l) {
      const LaneDevices& d = rig->lanes()[first_lane + static_cast<std::size_t>(l)];
      std::string camera = d.camera->rtsp_url();
      if (s.devices.camera_auth)  // credentials in the URL, as gatectl's configuration takes them
        camera = "rtsp://" + s.devices.camera_user + ":" + s.devices.camera_password + "@" + camera.substr(7);
      c << "  - name: " << yaml_quote(lane_names[first_lane + static_cast<std::size_t>(l)]) << "\n"
        << "    camera: " << yaml_quote(camera) << "\n"
        << "    thermal: " << d.thermal_url() << "\n"
        << "    relay: " << d.relay_url() << "\n"
        << "    reader: " << d.reader_url() << "\n"
        << "    direction: " << recognizer::to_string(hil_lane_direction(gate, l)) << "\n"
        << "    fail_mode: " << s.hil.fail_mode << "\n"
        << "    thermal_spot: {focal_px: " << focal << "}\n";
    }
  }
};

HilGates::HilGates(const Scenario& s, const Population& pop, fs::path workdir, OpenFn on_open)
    : impl_(std::make_unique<Impl>(s, pop, std::move(on_open))), dir_(std::move(workdir)) {}

HilGates::~HilGates() { stop(); }

std::size_t HilGates::lanes() const { return impl_->lane_names.size(); }
const scene::LaneSpec& HilGates::lane_spec() const { return impl_->spec; }

void HilGates::start() {
  Impl& m = *impl_;
  const Scenario& s = m.s;
  std::error_code ec;
  // A HIL directory left by an earlier run (kept after a failure) is cleared: its galleries and logs must
  // not leak into this run. Anything else is never removed.
  if (fs::exists(dir_, ec) && !fs::is_empty(dir_, ec)) {
    if (!fs::exists(dir_ / "policy.yaml", ec)) throw HilSetupError(dir_.string() + ": exists and is not a GateTwin HIL directory; refusing to use it");
    fs::remove_all(dir_, ec);
    if (ec) throw HilSetupError(dir_.string() + ": cannot clear the earlier HIL directory: " + ec.message());
  }
  fs::create_directories(dir_, ec);
  if (ec) throw HilSetupError(dir_.string() + ": cannot create the HIL directory: " + ec.message());
  const std::string bin = find_gatectl(s);
  m.write_files(dir_, bin);
  m.io = std::make_unique<IoLog>(dir_ / "io.jsonl");

  for (std::size_t i = 0; i < m.lane_names.size(); ++i) m.stages.push_back(std::make_shared<LaneStage>(m.spec, 1.0));
  std::size_t next_stage = 0;
  const auto sources = [&](const GateSpec& gate, int lane) {
    auto stage = m.stages[next_stage];
    const std::string name = m.lane_names[next_stage++];
    auto frames = std::make_shared<RecordingFrames>(stage, s.hil.record_frames ? m.io.get() : nullptr, name, m.frame_count,
                                                    m.live, gate.name + "/" + std::to_string(lane));
    return LaneSources{frames, stage};
  };
  const auto wrap = [&](const std::string& lane, const std::string& device, dv::modbus::Handler& h) -> dv::modbus::Handler* {
    m.wrapped.push_back(std::make_unique<RecordingHandler>(h, m.clock, *m.io, lane, device, m.modbus_count));
    return m.wrapped.back().get();
  };
  try {
    m.rig = std::make_unique<DeviceRig>(s, m.clock, sources, wrap);
  } catch (const std::runtime_error& e) {
    throw HilSetupError(e.what());
  }
  for (std::size_t i = 0; i < m.lane_names.size(); ++i) {
    m.hil_lanes.push_back(std::make_unique<HilLane>(*m.rig->lanes()[i].relay, *m.stages[i]));
    m.hil_lanes.back()->on_event([this, i](const dv::DoorEvent& e) {
      if (e.cause != dv::DoorCause::coil_on || !e.relay) return;
      if (!impl_->waiting[i].load(std::memory_order_acquire)) {
        impl_->stray.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      impl_->on_open(i, SimTime{e.time.count()});
    });
  }
  m.rig->start();

  std::size_t first = 0;
  std::vector<std::string> env;
  if (!s.pixel.models.empty()) env.push_back("GATETWIN_MODELS=" + s.pixel.models);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t g = 0; g < s.gates.size(); ++g) {
    m.write_gate_config(dir_, g, first);
    first += static_cast<std::size_t>(s.gates[g].lanes);
    m.tails.emplace_back(dir_ / ("gatectl-" + std::to_string(g) + ".events.jsonl"));
    m.gatectl.push_back(std::make_unique<Child>(bin, std::vector<std::string>{"run", "--config", (dir_ / ("gatectl-" + std::to_string(g) + ".yaml")).string()},
                                                dir_ / ("gatectl-" + std::to_string(g) + ".log"), env));
  }
  // Ready: gatectl has reported every device of every lane, up or (a device faulty from the start) down.
  std::map<std::string, std::set<std::string>> settled;  // lane -> devices reported
  const auto limit = t0 + std::chrono::milliseconds(static_cast<std::int64_t>(s.hil.startup_timeout_s * 1000));
  for (;;) {
    for (std::size_t g = 0; g < m.tails.size(); ++g) {
      for (const Json& j : m.tails[g].read()) {
        const std::string type = j.value("event", "");
        ++m.stats.events[type];
        const auto ends = [&](const char* tail) {
          const std::string t = tail;
          return type.size() > t.size() && type.compare(type.size() - t.size(), t.size(), t) == 0;
        };
        if (ends("_up") || ends("_down")) settled[j.value("lane", "")].insert(j.value("device", type));
      }
      if (const auto rc = m.gatectl[g]->poll()) {
        std::ifstream log(dir_ / ("gatectl-" + std::to_string(g) + ".log"));
        std::stringstream text;
        text << log.rdbuf();
        throw HilSetupError("gatectl for gate " + s.gates[g].name + " (" + bin + ") exited with status " + std::to_string(*rc) +
                            " before its devices were up:\n" + text.str());
      }
    }
    bool all = true;
    for (const auto& name : m.lane_names) all = all && settled[name].size() >= 4;
    if (all) break;
    if (std::chrono::steady_clock::now() > limit) {
      std::string missing;
      for (const auto& name : m.lane_names)
        if (settled[name].size() < 4) missing += " " + name + " (" + std::to_string(settled[name].size()) + " of 4 devices reported)";
      throw HilSetupError("gatectl did not report every device up or down within hil.startup_timeout (" +
                          std::to_string(s.hil.startup_timeout_s) + " s):" + missing + "; see " + dir_.string() + "/gatectl-*.log");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  m.stats.startup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void HilGates::run_clock() { impl_->clock.run(); }

void HilGates::present(std::size_t lane, SimTime t0, std::uint64_t passage, std::vector<scene::Actor> actors) {
  impl_->waiting[lane].store(true, std::memory_order_release);
  impl_->hil_lanes[lane]->present(t0, passage, std::move(actors));
}

void HilGates::leave(std::size_t lane) {
  impl_->waiting[lane].store(false, std::memory_order_release);
  impl_->hil_lanes[lane]->leave();
}

void HilGates::set_live(LiveSink* live) { impl_->live = live; }

void HilGates::door(std::size_t lane, bool open) {
  if (open) impl_->waiting[lane].store(false, std::memory_order_release);
  impl_->hil_lanes[lane]->door(open);
}

dv::card::Presented HilGates::swipe(std::size_t lane, const dv::wiegand::Frame& frame) {
  Impl& m = *impl_;
  const auto p = m.rig->lanes()[lane].reader->present(frame);
  std::ostringstream hex;
  hex << std::hex << frame.value;
  m.io->write({{"t_us", p.time.count()}, {"t", format_clock(SimTime{p.time.count()})}, {"lane", m.lane_names[lane]},
               {"device", "reader"}, {"bits", frame.bits}, {"value", hex.str()}, {"fate", dv::card::to_string(p.fate)},
               {"sequence", p.sequence}, {"corrupted", p.corrupted}});
  ++m.card_count;
  return p;
}

std::vector<GateDecision> HilGates::take_decisions(std::size_t lane) {
  impl_->read_logs();
  std::vector<GateDecision> out;
  out.swap(impl_->pending[lane]);
  return out;
}

void HilGates::stop() {
  Impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  for (auto& c : m.gatectl) m.stats.gatectl_exit.push_back(c->stop(std::chrono::seconds(10)));
  m.read_logs();
  if (m.rig) m.rig->stop();
  for (const auto& st : m.stages) m.stats.frames_rendered += st->rendered();
  if (m.io) m.io->flush();
  m.stats.modbus_transactions = m.modbus_count.load();
  m.stats.frames_hashed = m.frame_count.load();
  m.stats.card_frames = m.card_count;
  m.stats.stray_opens = m.stray.load();
  for (std::size_t g = 0; g < m.s.gates.size(); ++g)
    fs::remove("/tmp/gatetwin-hil-" + std::to_string(::getpid()) + "-" + std::to_string(g) + ".sock");
}

HilStats HilGates::stats() const { return impl_->stats; }

}  // namespace gatetwin::sim
