// gatetwin-studio's model without a window: edits re-run the simulation off the calling thread, the
// results are the simulation library's own, A/B runs share their random numbers, capacity sizing finds the
// smallest configuration, and saved scenarios load back to the same thing.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gatetwin/sim/capacity.hpp"
#include "gatetwin/sim/live.hpp"
#include "gatetwin/sim/metrics.hpp"
#include "gatetwin/sim/report.hpp"
#include "gatetwin/sim/scenario_loader.hpp"
#include "gatetwin/sim/world.hpp"
#include "gatetwin/studio/session.hpp"

namespace fs = std::filesystem;
namespace gs = gatetwin::sim;
using gatetwin::studio::Job;
using gatetwin::studio::Session;

namespace {

// A small compound (one gate, one lane) whose morning queue is long enough for lanes to matter.
constexpr const char* kScenario = R"(name: studio test
seed: 7
day: {start: "06:00", end: "10:00"}
population: {households: 900, face_enrolled_share: 0.8}
arrivals: {profile: weekday, trips_per_resident: 3}
gates:
  - {name: north, lanes: 1, staff: 1}
)";

class StudioSession : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("gatetwin-studio-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    file_ = (dir_ / "compound.yaml").string();
    std::ofstream(file_) << kScenario;
  }
  void TearDown() override { fs::remove_all(dir_); }
  gs::Metrics direct(const std::vector<std::string>& overrides) {
    auto r = gs::load_scenario_file(file_, overrides);
    EXPECT_TRUE(r.ok());
    return gs::compute_metrics(*r.scenario, gs::run_world(*r.scenario));
  }
  fs::path dir_;
  std::string file_;
};

}  // namespace

TEST_F(StudioSession, AnEditReRunsTheDayOffTheCallingThreadWithTheLibrarysOwnResults) {
  Session s;
  std::string error;
  ASSERT_TRUE(s.open(file_, &error)) << error;
  ASSERT_TRUE(s.wait_idle(120));
  auto one = s.snapshot();
  ASSERT_TRUE(one->run_a);
  EXPECT_FALSE(one->stale);
  const auto d1 = direct({});
  EXPECT_EQ(one->run_a->metrics.passages, d1.passages);
  EXPECT_DOUBLE_EQ(one->run_a->metrics.wait_s.p95, d1.wait_s.p95);
  EXPECT_EQ(one->run_a->lane_queue.size(), 1u);
  // One timeline row per simulated minute from 06:00 until the last queue has drained after 10:00.
  EXPECT_GE(one->run_a->minute_h.size(), 240u);
  EXPECT_FLOAT_EQ(one->run_a->minute_h.front(), 6.0f);

  ASSERT_TRUE(s.set("gates[0].lanes", "3"));
  // The call returns before the run: the snapshot says its results are stale.
  EXPECT_TRUE(s.snapshot()->stale);
  EXPECT_EQ(s.snapshot()->a->gates[0].lanes, 3);
  ASSERT_TRUE(s.wait_idle(120));
  auto three = s.snapshot();
  const auto d3 = direct({"gates[0].lanes=3"});
  EXPECT_EQ(three->run_a->lane_queue.size(), 3u);
  EXPECT_DOUBLE_EQ(three->run_a->metrics.wait_s.p95, d3.wait_s.p95);
  EXPECT_LT(three->run_a->metrics.wait_s.mean, one->run_a->metrics.wait_s.mean);
  EXPECT_EQ(three->edits_a.at("gates[0].lanes"), "3");
  EXPECT_TRUE(three->dirty);
}

TEST_F(StudioSession, AnInvalidEditIsRefusedWithItsErrorAndTheLastValidConfigurationStays) {
  Session s;
  std::string error;
  ASSERT_TRUE(s.open(file_, &error)) << error;
  EXPECT_FALSE(s.set("population.face_enrolled_share", "1.5"));
  auto snap = s.snapshot();
  ASSERT_EQ(snap->errors.size(), 1u);
  EXPECT_NE(snap->errors[0].find("population.face_enrolled_share"), std::string::npos) << snap->errors[0];
  EXPECT_NE(snap->errors[0].find("between 0 and 1"), std::string::npos) << snap->errors[0];
  EXPECT_DOUBLE_EQ(snap->a->population.face_enrolled_share, 0.8);
  EXPECT_TRUE(snap->edits_a.empty());
  EXPECT_FALSE(s.set("gates[0].lanse", "2"));
  EXPECT_NE(s.snapshot()->errors[0].find("lanse"), std::string::npos) << s.snapshot()->errors[0];
  // A bad file is refused whole, naming the line.
  std::ofstream(dir_ / "bad.yaml") << "name: x\ngates:\n  - {name: n, lanes: -2}\n";
  EXPECT_FALSE(s.open((dir_ / "bad.yaml").string(), &error));
  EXPECT_NE(error.find("bad.yaml:3:"), std::string::npos) << error;
  EXPECT_EQ(s.snapshot()->file, file_);
}

TEST_F(StudioSession, RapidEditsEndWithTheResultsOfTheLastOne) {
  Session s;
  std::string error;
  ASSERT_TRUE(s.open(file_, &error)) << error;
  for (int lanes : {2, 4, 1, 5, 2}) ASSERT_TRUE(s.set("gates[0].lanes", std::to_string(lanes)));
  ASSERT_TRUE(s.wait_idle(120));
  auto snap = s.snapshot();
  EXPECT_FALSE(snap->stale);
  EXPECT_EQ(snap->run_a->scenario.gates[0].lanes, 2);
  EXPECT_EQ(snap->run_a->lane_queue.size(), 2u);
  EXPECT_DOUBLE_EQ(snap->run_a->metrics.wait_s.p95, direct({"gates[0].lanes=2"}).wait_s.p95);
}

TEST_F(StudioSession, ABRunsShareTheirArrivalsAndReportTheDeltasAndThePassagesThatChanged) {
  Session s;
  std::string error;
  ASSERT_TRUE(s.open(file_, &error)) << error;
  s.enable_b(true);
  ASSERT_TRUE(s.set("policy.fever_threshold", "36.5", true));
  ASSERT_TRUE(s.wait_idle(120));
  auto snap = s.snapshot();
  ASSERT_TRUE(snap->run_a && snap->run_b && snap->passages) << (snap->errors.empty() ? "" : snap->errors[0]);
  EXPECT_DOUBLE_EQ(snap->a->policy.fever_threshold_c, 37.3);
  EXPECT_DOUBLE_EQ(snap->b->policy.fever_threshold_c, 36.5);
  EXPECT_TRUE(snap->passages->same_arrivals());
  EXPECT_GT(snap->passages->changes.size(), 0u);
  EXPECT_EQ(snap->run_a->metrics.passages, snap->run_b->metrics.passages);
  bool staff_delta = false;
  for (const auto& d : snap->deltas)
    if (d.name == "staff interventions") {
      staff_delta = true;
      EXPECT_GT(d.b, d.a);  // a lower threshold sends more residents to the hand-held check
      EXPECT_DOUBLE_EQ(d.a, static_cast<double>(snap->run_a->metrics.staff_interventions));
    }
  EXPECT_TRUE(staff_delta);
  // An edit of A carries over to B (B is A plus its own edits).
  ASSERT_TRUE(s.set("gates[0].lanes", "2"));
  EXPECT_EQ(s.snapshot()->b->gates[0].lanes, 2);
  EXPECT_DOUBLE_EQ(s.snapshot()->b->policy.fever_threshold_c, 36.5);
  s.enable_b(false);
  EXPECT_FALSE(s.snapshot()->b);
}

TEST_F(StudioSession, CapacitySizingFindsTheFewestLanesThatMeetTheTarget) {
  Session s;
  std::string error;
  ASSERT_TRUE(s.open(file_, &error)) << error;
  s.set_capacity_query({.target_p95_wait_s = 20, .max_lanes = 4, .max_staff = 2});
  ASSERT_TRUE(s.wait_idle(120));
  auto snap = s.snapshot();
  ASSERT_TRUE(snap->capacity);
  const auto& c = *snap->capacity;
  EXPECT_EQ(c.curve.size(), 8u);
  ASSERT_TRUE(c.smallest);
  EXPECT_LE(c.smallest->peak_p95_wait_s, 20.0);
  // Nothing with fewer lanes meets it, at any staff count.
  for (const auto& p : c.curve) {
    if (p.lanes < c.smallest->lanes) {
      EXPECT_GT(p.peak_p95_wait_s, 20.0) << p.lanes << " lanes, " << p.staff << " staff";
    }
  }
  // The curve is the library's own runs: the wait counted is the lane queue's plus the staff queue's, so
  // it is at least the lane-only peak-hour figure of the same configuration.
  const auto m = direct({"gates[0].lanes=" + std::to_string(c.smallest->lanes), "gates[0].staff=" + std::to_string(c.smallest->staff)});
  EXPECT_GE(c.smallest->peak_p95_wait_s, m.gates[0].peak_hour_wait_s.p95);
  EXPECT_LT(c.at(4, 1)->peak_p95_wait_s, c.at(1, 1)->peak_p95_wait_s);
  ASSERT_EQ(c.gate_lanes.size(), 1u);
  EXPECT_EQ(c.gate_lanes[0], c.smallest->lanes);
}

TEST(CapacitySizing, StaffCountWhenManyAreReferredToThem) {
  // Visitors are registered by the person on duty: with many of them one person is the bottleneck.
  auto r = gs::load_scenario_text("name: visitors\nseed: 3\nday: {start: \"07:00\", end: \"10:00\"}\n"
                                  "population: {households: 300, visitors_per_day: 400}\n"
                                  "gates:\n  - {name: main, lanes: 1, staff: 1}\n",
                                  "visitors.yaml");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].str());
  const auto c = gs::size_capacity(*r.scenario, {.target_p95_wait_s = 20, .max_lanes = 2, .max_staff = 3});
  EXPECT_GT(c.at(2, 1)->peak_p95_wait_s, c.at(2, 3)->peak_p95_wait_s);
  ASSERT_TRUE(c.smallest);
  EXPECT_GT(c.smallest->staff, 1);
  EXPECT_THROW(gs::size_capacity(*r.scenario, {.target_p95_wait_s = 0, .max_lanes = 2, .max_staff = 1}), std::invalid_argument);
}

TEST_F(StudioSession, ASavedScenarioValidatesAndLoadsBackToTheEditedConfiguration) {
  Session s;
  std::string error;
  ASSERT_TRUE(s.open(file_, &error)) << error;
  ASSERT_TRUE(s.set("gates[0].lanes", "2"));
  ASSERT_TRUE(s.set("policy.mask", "require"));
  const auto out = (dir_ / "saved.yaml").string();
  ASSERT_TRUE(s.save(out, &error)) << error;
  EXPECT_FALSE(s.snapshot()->dirty);
  auto back = gs::load_scenario_file(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.scenario->gates[0].lanes, 2);
  EXPECT_EQ(back.scenario->policy.mask, gatetwin::recognizer::MaskPolicy::require);
  EXPECT_EQ(gs::to_yaml(*back.scenario), gs::to_yaml(*s.snapshot()->a));
  // Saving where it cannot be written fails and leaves nothing behind.
  EXPECT_FALSE(s.save((dir_ / "no-such-dir" / "x.yaml").string(), &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(fs::exists(dir_ / "no-such-dir"));
  // The report of A's latest run.
  ASSERT_TRUE(s.wait_idle(120));
  ASSERT_TRUE(s.export_report((dir_ / "report").string(), &error)) << error;
  EXPECT_TRUE(fs::exists(dir_ / "report" / "report.json"));
  EXPECT_TRUE(fs::exists(dir_ / "report" / "events.jsonl"));
}

TEST(LiveSink, GetsEveryDecisionAsItIsMadeAndNoFramesInTheStatisticalModel) {
  struct Recorder final : gs::LiveSink {
    std::vector<gs::LiveEvent> events;
    int frames = 0;
    void event(const gs::LiveEvent& e) override { events.push_back(e); }
    void frame(const gs::LiveFrame&) override { ++frames; }
  } rec;
  auto r = gs::load_scenario_text(kScenario, "live.yaml");
  ASSERT_TRUE(r.ok());
  int progress_calls = 0;
  const auto out = gs::run_world(*r.scenario, [&](gs::SimTime, gs::SimTime) { ++progress_calls; }, {}, &rec);
  ASSERT_EQ(rec.events.size(), out.passages.size());
  EXPECT_EQ(rec.frames, 0);
  for (std::size_t i = 0; i < out.passages.size(); ++i) {
    EXPECT_EQ(rec.events[i].passage, out.passages[i].passage);
    EXPECT_EQ(rec.events[i].t, out.passages[i].decided);
    if (i > 0) {
      EXPECT_GE(rec.events[i].t, rec.events[i - 1].t);
    }
  }
  // With a live view, progress comes every simulated minute (the view's clock and the point to abandon).
  EXPECT_GE(progress_calls, 240);
  // And the run is the same run: a live view changes nothing.
  EXPECT_EQ(gs::events_jsonl(*r.scenario, out), gs::events_jsonl(*r.scenario, gs::run_world(*r.scenario)));
}
