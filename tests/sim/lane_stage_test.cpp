// The lane's physics for hardware-in-the-loop runs: a resident put at the lane appears in the emulated
// camera's frames at the frame's simulated time and in front of the thermal sensor once close; through the
// real RTSP stream (OpenCV's FFmpeg client) the recognition core identifies them against their enrolment
// photo, and a libmodbus client reads their skin temperature. Simulated time is a ManualClock the test sets.
#include <gtest/gtest.h>

#include <cstdlib>
#include <tuple>

#include <modbus/modbus.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "gatetwin/devices/clock.hpp"
#include "gatetwin/recognizer/gallery.hpp"
#include "gatetwin/recognizer/vision/pipeline.hpp"
#include "gatetwin/sim/device_rig.hpp"
#include "gatetwin/sim/hil_lane.hpp"
#include "gatetwin/sim/lane_stage.hpp"
#include "hil_lane_spec.hpp"

namespace gs = gatetwin::sim;
namespace gd = gatetwin::devices;
namespace rv = gatetwin::recognizer::vision;
namespace render = gatetwin::sim::render;

namespace {

constexpr std::uint32_t kResident = 17;

gs::scene::LaneSpec lane_spec() { return gs::testing::hil_lane_spec(3.0); }

gd::Micros at(double seconds) { return gd::Micros{static_cast<std::int64_t>(seconds * 1e6)}; }

}  // namespace

TEST(LaneStage, ShowsTheResidentAtTheFramesTimeAndIsDeterministic) {
  const auto spec = lane_spec();
  gs::LaneStage a(spec), b(spec);
  const cv::Mat empty = a.frame(at(0), 0).clone();
  EXPECT_EQ(cv::norm(empty, a.frame(at(5), 1), cv::NORM_L1), 0.0);  // nobody: the same empty lane
  EXPECT_FALSE(a.skin_temperature_c(at(5)).has_value());

  for (auto* stage : {&a, &b})
    stage->begin(gs::SimTime{at(10)}, 1, {gs::scene::make_actor(spec, kResident, gs::scene::Role::subject)});
  const cv::Mat far = a.frame(at(10.0), 0).clone();
  const cv::Mat near = a.frame(at(13.5), 1).clone();
  EXPECT_GT(cv::norm(far, empty, cv::NORM_L1), 0.0);   // someone is there
  EXPECT_GT(cv::norm(near, far, cv::NORM_L1), 0.0);    // and walks up
  EXPECT_EQ(cv::norm(b.frame(at(13.5), 7), near, cv::NORM_L1), 0.0);  // same passage, same pixels
  EXPECT_EQ(cv::norm(a.frame(at(13.5), 2), near, cv::NORM_L1), 0.0);  // asking again shows the same frame

  // The sensor reads the forehead only within reach: far at the start, close once standing at the terminal.
  EXPECT_FALSE(a.skin_temperature_c(at(10.0)).has_value());
  const auto skin = a.skin_temperature_c(at(14.0));
  ASSERT_TRUE(skin.has_value());
  EXPECT_NEAR(*skin, gs::scene::make_actor(spec, kResident, gs::scene::Role::subject).skin_c, 1e-9);
  a.clear();
  EXPECT_FALSE(a.skin_temperature_c(at(14.0)).has_value());
  EXPECT_EQ(cv::norm(a.frame(at(14.0), 3), empty, cv::NORM_L1), 0.0);
}

// The resident, rendered by the sim, travels through the emulated camera's RTSP stream to a real client and
// the real core recognises them; the thermal sensor reports their skin over Modbus.
TEST(LaneStageHil, TheCoreRecognisesTheResidentThroughTheCameraStream) {
  rv::FacePipeline pipeline(rv::load_manifest(GATETWIN_DEFAULT_MANIFEST), rv::PipelineOptions{}, rv::MaskClassifier{});
  const auto spec = lane_spec();
  const auto actor = gs::scene::make_actor(spec, kResident, gs::scene::Role::subject);
  // Enrolment: the resident's photo as submitted through the mini-program (frontal, close, even light).
  gatetwin::recognizer::Gallery gallery(gatetwin::recognizer::Gallery::kShippedDim);
  for (std::uint32_t person : {kResident, kResident + 1, kResident + 2}) {
    render::Capture cap = render::sample_capture(spec.seed, person, 0x80000000u, 0.25);
    cap.interocular_px = 95;
    cap.face_centre = {320, 230};
    const auto photo = render::render_face(render::sample_identity(spec.seed, person, spec.demographics), cap);
    const auto a = pipeline.analyse(photo.image);
    ASSERT_TRUE(a.usable()) << "enrolment photo of " << person;
    gallery.add(person, a.embedding, gatetwin::recognizer::TemplateKind::unmasked);
  }

  gs::Scenario scenario;
  scenario.gates.push_back({"north", 1, gs::QueueMode::per_lane, 1, 1.0, gs::GateDirection::both, ""});
  scenario.devices.camera_fps = 10;
  gd::ManualClock clock(gd::Micros{gs::hours(7)});
  auto stage = std::make_shared<gs::LaneStage>(spec);
  gs::DeviceRig rig(scenario, clock, [&](const gs::GateSpec&, int) { return gs::LaneSources{stage, stage}; });
  // The resident started walking 4 s ago: they stand at the terminal.
  stage->begin(gs::hours(7), 1, {actor});
  clock.set(gd::Micros{gs::hours(7)} + at(4.0));
  rig.start();

  ::setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp", 1);
  cv::VideoCapture cap(rig.lanes()[0].camera->rtsp_url(), cv::CAP_FFMPEG,
                       {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv::CAP_PROP_READ_TIMEOUT_MSEC, 10000});
  ASSERT_TRUE(cap.isOpened());
  cv::Mat frame;
  int recognised = 0, read = 0;
  for (int i = 0; i < 5 && cap.read(frame); ++i) {
    ++read;
    const auto a = pipeline.analyse(frame);
    if (std::getenv("GATETWIN_DEBUG_FRAMES")) cv::imwrite("/tmp/hil_frame_" + std::to_string(i) + ".jpg", frame);
    if (!a.usable()) continue;
    const auto best = gallery.search(a.embedding, 1);
    ASSERT_FALSE(best.empty());
    if (best[0].person == kResident && best[0].score >= 0.62f) ++recognised;
  }
  EXPECT_EQ(read, 5);
  EXPECT_GE(recognised, 3);

  // The thermal sensor, read as gatectl reads it (input registers 0..2: object 0.01 °C, ambient, status).
  const std::string url = rig.lanes()[0].thermal_url();
  const auto port = std::stoi(url.substr(url.rfind(':') + 1));
  modbus_t* m = modbus_new_tcp("127.0.0.1", port);
  ASSERT_NE(m, nullptr);
  modbus_set_slave(m, 1);
  ASSERT_EQ(modbus_connect(m), 0);
  std::uint16_t regs[3] = {};
  ASSERT_EQ(modbus_read_input_registers(m, 0, 3, regs), 3);
  modbus_close(m);
  modbus_free(m);
  EXPECT_NEAR(static_cast<std::int16_t>(regs[0]) / 100.0, actor.skin_c, 1.5);
  EXPECT_TRUE(regs[2] & 1u);  // status bit 0: a person in front, the reading is their skin
  rig.stop();
}

namespace {

// A Modbus client standing in for the gate's controller: energises the relay's coil 0, as gatectl does on
// a grant.
void energise(const std::string& relay_url) {
  const auto port = std::stoi(relay_url.substr(relay_url.rfind(':') + 1));
  modbus_t* m = modbus_new_tcp("127.0.0.1", port);
  ASSERT_NE(m, nullptr);
  modbus_set_slave(m, 1);
  ASSERT_EQ(modbus_connect(m), 0);
  EXPECT_EQ(modbus_write_bit(m, 0, 1), 1);
  modbus_close(m);
  modbus_free(m);
}

}  // namespace

// The simulation's side of a HIL passage: it presents a resident, learns of the grant from the relay (not
// from the controller's log), walks the resident through the door, and gets every relay event with its
// simulated time; without a grant it times out.
TEST(HilLane, LearnsTheGrantFromTheRelayAndWalksTheResidentThrough) {
  const auto spec = lane_spec();
  gs::Scenario scenario;
  scenario.gates.push_back({"north", 1, gs::QueueMode::per_lane, 1, 1.0, gs::GateDirection::both, ""});
  scenario.devices.relay_pulse_s = 3.0;
  gd::ManualClock clock(gd::Micros{gs::hours(7)});
  auto stage = std::make_shared<gs::LaneStage>(spec);
  gs::DeviceRig rig(scenario, clock, [&](const gs::GateSpec&, int) { return gs::LaneSources{stage, stage}; });
  gs::HilLane lane(*rig.lanes()[0].relay, *stage);
  rig.start();

  // Nobody grants: the wait ends at its limit.
  lane.present(gs::hours(7), 1, {gs::scene::make_actor(spec, kResident, gs::scene::Role::subject)});
  EXPECT_FALSE(lane.wait_for_open(std::chrono::milliseconds(200)).has_value());
  lane.leave();

  // A grant at 07:00:02.5 (simulated): the lane sees the relay energise at that time.
  lane.present(gs::hours(7) + at(1.0), 2, {gs::scene::make_actor(spec, kResident + 1, gs::scene::Role::subject)});
  clock.set(gd::Micros{gs::hours(7)} + at(2.5));
  energise(rig.lanes()[0].relay_url());
  const auto opened = lane.wait_for_open(std::chrono::milliseconds(5000));
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, gs::hours(7) + at(2.5));
  // The resident pushes the door at 07:00:03.0 and it closes behind them at 07:00:04.2; the pulse ends at
  // 07:00:05.5 and the relay relocks.
  clock.set(gd::Micros{gs::hours(7)} + at(3.0));
  lane.door(true);
  clock.set(gd::Micros{gs::hours(7)} + at(4.2));
  lane.door(false);
  clock.set(gd::Micros{gs::hours(7)} + at(6.0));
  rig.lanes()[0].relay->advance();

  using gd::DoorCause;
  using gd::DoorState;
  const auto events = lane.events();
  ASSERT_EQ(events.size(), 4u);
  const std::vector<std::tuple<DoorState, DoorState, DoorCause, double>> expected = {
      {DoorState::locked, DoorState::unlocked, DoorCause::coil_on, 2.5},
      {DoorState::unlocked, DoorState::open, DoorCause::door_opened, 3.0},
      {DoorState::open, DoorState::closed, DoorCause::door_closed, 4.2},
      {DoorState::closed, DoorState::locked, DoorCause::pulse_expired, 5.5},
  };
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& [from, to, cause, t] = expected[i];
    EXPECT_EQ(events[i].from, from) << i;
    EXPECT_EQ(events[i].to, to) << i;
    EXPECT_EQ(events[i].cause, cause) << i;
    EXPECT_EQ(events[i].time, gd::Micros{gs::hours(7)} + at(t)) << i;
    EXPECT_FALSE(events[i].alarms.forced_open || events[i].alarms.held_open) << i;
  }
  EXPECT_FALSE(stage->skin_temperature_c(gd::Micros{gs::hours(7)} + at(6.0)).has_value());  // the lane is empty
  rig.stop();
}
