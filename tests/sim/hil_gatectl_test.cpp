// Hardware in the loop, end to end: the simulation's lane (a rendered resident in front of the emulated
// camera and thermal sensor) and the deployable gatectl as its own process, which sees only sockets. The
// resident enrolled through `gatectl enroll` walks up; gatectl reads the RTSP stream, recognises them,
// reads their temperature over Modbus and energises the relay; the simulation learns of it from the relay
// and walks them through. A stranger is not let in. gatectl is stopped with SIGTERM and exits 0.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <opencv2/imgcodecs.hpp>

#include "gatetwin/devices/clock.hpp"
#include "gatetwin/sim/device_rig.hpp"
#include "gatetwin/sim/hil_lane.hpp"
#include "gatetwin/sim/lane_stage.hpp"
#include "hil_lane_spec.hpp"

namespace gs = gatetwin::sim;
namespace gd = gatetwin::devices;
namespace fs = std::filesystem;
namespace render = gatetwin::sim::render;

namespace {

constexpr std::uint32_t kResident = 17, kStranger = 4242;

int run(const std::vector<std::string>& args) {
  std::string cmd;
  for (const auto& a : args) cmd += "'" + a + "' ";
  return std::system((cmd + ">/dev/null 2>&1").c_str());
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// gatectl run as a child process; SIGTERM and reaped on destruction.
class Gatectl {
 public:
  explicit Gatectl(const fs::path& config) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(GATETWIN_GATECTL, GATETWIN_GATECTL, "run", "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ~Gatectl() { stop(); }

 private:
  pid_t pid_ = -1;
};

gs::scene::LaneSpec lane_spec() { return gs::testing::hil_lane_spec(4.0); }

}  // namespace

TEST(HilGatectl, TheResidentIsRecognisedAndLetInAndAStrangerIsNot) {
  const fs::path dir = fs::temp_directory_path() / ("gatetwin-hil-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto spec = lane_spec();

  // Enrolment through the gate's own tool, from the photo the resident submitted.
  render::Capture cap = render::sample_capture(spec.seed, kResident, 0x80000000u, 0.25);
  cap.interocular_px = 95;
  cap.face_centre = {320, 230};
  const auto photo = render::render_face(render::sample_identity(spec.seed, kResident, spec.demographics), cap);
  ASSERT_TRUE(cv::imwrite((dir / "photo.jpg").string(), photo.image));
  ASSERT_EQ(run({GATETWIN_GATECTL, "enroll", "--db", (dir / "gallery.db").string(), "--person",
                 std::to_string(kResident), (dir / "photo.jpg").string()}),
            0);
  std::ofstream(dir / "residents.yaml") << "residents:\n  - id: " << kResident
                                        << "\n    cards: [{facility: 42, number: 1017}]\n";

  // The lane: every device of one lane, its physics the LaneStage; simulated time runs with the wall clock
  // from 07:00 (HIL pacing at speed 1).
  gs::Scenario scenario;
  scenario.gates.push_back({"north", 1, gs::QueueMode::per_lane, 1, 1.0, gs::GateDirection::both, ""});
  scenario.devices.camera_fps = 10;
  scenario.devices.thermal_warmup_s = 0;
  gd::SteadyClock clock(1.0, gd::Micros{gs::hours(7)});
  auto stage = std::make_shared<gs::LaneStage>(spec);
  gs::DeviceRig rig(scenario, clock, [&](const gs::GateSpec&, int) { return gs::LaneSources{stage, stage}; });
  gs::HilLane lane(*rig.lanes()[0].relay, *stage);
  rig.start();
  const auto& d = rig.lanes()[0];
  std::ofstream(dir / "gate.yaml") << "gate: north\n"
                                   << "gallery: " << (dir / "gallery.db").string() << "\n"
                                   << "residents: " << (dir / "residents.yaml").string() << "\n"
                                   << "events: " << (dir / "events.jsonl").string() << "\n"
                                   << "status: " << (dir / "gatectl.sock").string() << "\n"
                                   << "lanes:\n  - name: north-1\n"
                                   << "    camera: " << d.camera->rtsp_url() << "\n"
                                   << "    thermal: " << d.thermal_url() << "\n"
                                   << "    relay: " << d.relay_url() << "\n"
                                   << "    reader: " << d.reader_url() << "\n";
  Gatectl gatectl(dir / "gate.yaml");

  // A stranger walks up first: the gate must not open (gatectl has loaded its models meanwhile).
  lane.present(gs::SimTime{clock.now()}, 1, {gs::scene::make_actor(spec, kStranger, gs::scene::Role::subject)});
  EXPECT_FALSE(lane.wait_for_open(std::chrono::milliseconds(8000)).has_value());
  lane.leave();

  // The resident walks up: recognised, temperature normal, the relay opens.
  const gs::SimTime t0{clock.now()};
  lane.present(t0, 2, {gs::scene::make_actor(spec, kResident, gs::scene::Role::subject)});
  const auto opened = lane.wait_for_open(std::chrono::milliseconds(20000));
  ASSERT_TRUE(opened.has_value()) << slurp(dir / "events.jsonl");
  std::printf("relay energised %.2f s (simulated) after the resident stepped up\n",
              std::chrono::duration<double>(*opened - t0).count());
  EXPECT_LT(*opened - t0, std::chrono::seconds(10));
  lane.door(true);
  lane.door(false);

  EXPECT_EQ(gatectl.stop(), 0);
  const std::string events = slurp(dir / "events.jsonl");
  EXPECT_NE(events.find("\"person_id\":17"), std::string::npos) << events;
  EXPECT_NE(events.find("\"decision\":\"grant\""), std::string::npos) << events;
  EXPECT_EQ(events.find("\"person_id\":4242"), std::string::npos);  // never in the gallery, never named
  EXPECT_NE(events.find("\"event\":\"stopped\""), std::string::npos);
  rig.stop();
  fs::remove_all(dir);
}
