// Pacing, tested with a fake wall clock: no sleeps, no timing assertions, fully deterministic.
#include "gatetwin/sim/pacing.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gatetwin/sim/simulation.hpp"

namespace gatetwin::sim {
namespace {

using std::chrono::milliseconds;
using Wall = WallClock::time_point;

// A wall clock that only moves when told: sleep_until jumps to the requested time. An optional hook runs
// inside sleep_until (after the jump) and can deliver an external input; it returns true when it is done
// and is then removed.
class FakeClock final : public WallClock {
 public:
  Wall now() override { return t; }
  void sleep_until(Wall u) override {
    ++sleeps;
    if (u > t) t = u;
    if (hook && hook()) hook = nullptr;
  }
  void advance(std::chrono::nanoseconds d) { t += d; }

  Wall t = Wall{} + std::chrono::hours(1000);  // an arbitrary, non-zero origin
  int sleeps = 0;
  std::function<bool()> hook;
};

SimTime s(double x) { return seconds(x); }

std::chrono::nanoseconds since(const FakeClock& c, Wall origin) { return c.t - origin; }

// One event per simulated second from `from` to `to` inclusive; each records the wall time it started.
void schedule_ticks(Simulation& sim, FakeClock& clock, Wall origin, int from, int to, std::vector<std::chrono::nanoseconds>& started) {
  for (int i = from; i <= to; ++i) sim.schedule_at(s(i), [&clock, &started, origin] { started.push_back(clock.t - origin); });
}

TEST(ScaledPacer, SpeedTwoRunsTenSimulatedSecondsInFiveWallSeconds) {
  FakeClock clock;
  const Wall origin = clock.t;
  Simulation sim(1);
  std::vector<std::chrono::nanoseconds> started;
  schedule_ticks(sim, clock, origin, 0, 10, started);
  ScaledPacer pacer(2.0, clock);
  const RunSummary r = sim.run_until(s(10), pacer);
  EXPECT_EQ(r.events_executed, 11u);
  EXPECT_EQ(sim.now(), s(10));
  EXPECT_EQ(since(clock, origin), std::chrono::seconds(5));
  ASSERT_EQ(started.size(), 11u);
  for (int i = 0; i <= 10; ++i) EXPECT_EQ(started[static_cast<std::size_t>(i)], milliseconds(500 * i)) << "event " << i;
  const PacingStats st = pacer.stats();
  EXPECT_EQ(st.late_events, 0u);
  EXPECT_EQ(st.max_lateness, Duration{0});
  EXPECT_EQ(st.total_lateness, Duration{0});
  EXPECT_EQ(st.paced_events, 11u);  // the final wait for the end time is not an event
}

TEST(ScaledPacer, TheWaitForTheEndTimeIsNotCountedAsALateEvent) {
  // One event at 1 s whose handler overruns by 2 s; the run ends at 1.5 s. Only the event is paced: the
  // overrun past the end time is not an event that started late, and strict mode must not fail on it.
  FakeClock clock;
  Simulation sim(1);
  sim.schedule_at(s(1), [&clock] { clock.advance(std::chrono::seconds(2)); });
  ScaledPacer pacer(1.0, clock, /*strict=*/true);
  EXPECT_NO_THROW(sim.run_until(s(1.5), pacer));
  EXPECT_EQ(pacer.stats().paced_events, 1u);
  EXPECT_EQ(pacer.stats().late_events, 0u);
  EXPECT_EQ(pacer.stats().max_lateness, Duration{0});
}

TEST(ScaledPacer, RunUntilTheEndOfTimeDoesNotOverflow) {
  // run_until(SimTime::max()) means "until stopped"; the deadline arithmetic must not overflow.
  FakeClock clock;
  Simulation sim(1);
  sim.schedule_at(s(2), [&sim] { sim.stop(); });
  ScaledPacer pacer(1.0, clock);
  const RunSummary r = sim.run_until(SimTime::max(), pacer);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(sim.now(), s(2));
}

TEST(ScaledPacer, SpeedOneIsRealTimeFromANonZeroStart) {
  FakeClock clock;
  const Wall origin = clock.t;
  Simulation sim(1, hours(7));  // the simulated day starts at 07:00; the wall offset is relative to it
  std::vector<std::chrono::nanoseconds> started;
  for (int i = 1; i <= 10; ++i) sim.schedule_at(hours(7) + s(i), [&, i] {
    started.push_back(clock.t - origin);
    EXPECT_EQ(sim.now(), hours(7) + s(i));
  });
  ScaledPacer pacer(1.0, clock);
  sim.run_until(hours(7) + s(10), pacer);
  EXPECT_EQ(since(clock, origin), std::chrono::seconds(10));
  ASSERT_EQ(started.size(), 10u);
  for (int i = 1; i <= 10; ++i) EXPECT_EQ(started[static_cast<std::size_t>(i - 1)], std::chrono::seconds(i));
  EXPECT_EQ(pacer.stats().late_events, 0u);
}

TEST(ScaledPacer, WaitsUntilTheEndTimeWhenNoEventsRemain) {
  FakeClock clock;
  const Wall origin = clock.t;
  Simulation sim(1);
  sim.schedule_at(s(1), [] {});
  ScaledPacer pacer(0.5, clock);  // slower than real time
  const RunSummary r = sim.run_until(s(4), pacer);
  EXPECT_EQ(r.events_executed, 1u);
  EXPECT_EQ(sim.now(), s(4));
  EXPECT_EQ(since(clock, origin), std::chrono::seconds(8));
}

TEST(ScaledPacer, ASecondRunIsPacedFromWhereTheFirstEnded) {
  FakeClock clock;
  Simulation sim(1);
  std::vector<std::chrono::nanoseconds> started;
  const Wall origin = clock.t;
  schedule_ticks(sim, clock, origin, 1, 6, started);
  ScaledPacer pacer(1.0, clock);
  sim.run_until(s(3), pacer);
  EXPECT_EQ(since(clock, origin), std::chrono::seconds(3));
  clock.advance(std::chrono::seconds(100));  // time passes between runs (e.g. the operator paused)
  const Wall second = clock.t;
  sim.run_until(s(6), pacer);
  EXPECT_EQ(since(clock, second), std::chrono::seconds(3));
  EXPECT_EQ(pacer.stats().late_events, 0u);  // begin() re-anchors: the pause is not lateness
  ASSERT_EQ(started.size(), 6u);
  EXPECT_EQ(started[3], std::chrono::seconds(104));
}

TEST(ScaledPacer, SlowHandlerMakesTheNextEventLateAndIsRecorded) {
  FakeClock clock;
  const Wall origin = clock.t;
  Simulation sim(1);
  std::vector<std::chrono::nanoseconds> started;
  schedule_ticks(sim, clock, origin, 1, 5, started);
  sim.schedule_at(s(1), [&] { clock.advance(std::chrono::seconds(2)); });  // 2 s of slow work at t = 1 s
  ScaledPacer pacer(1.0, clock);
  const RunSummary r = sim.run_until(s(10), pacer);
  EXPECT_EQ(r.events_executed, 6u);
  // The event due at 2 s starts at wall 3 s (1 s late); from 3 s on the pacer is back on schedule.
  ASSERT_EQ(started.size(), 5u);
  EXPECT_EQ(started[0], std::chrono::seconds(1));
  EXPECT_EQ(started[1], std::chrono::seconds(3));
  EXPECT_EQ(started[2], std::chrono::seconds(3));
  EXPECT_EQ(started[3], std::chrono::seconds(4));
  EXPECT_EQ(started[4], std::chrono::seconds(5));
  const PacingStats st = pacer.stats();
  EXPECT_EQ(st.late_events, 1u);
  EXPECT_EQ(st.max_lateness, s(1));
  EXPECT_EQ(st.total_lateness, s(1));
  EXPECT_EQ(since(clock, origin), std::chrono::seconds(10));
}

TEST(ScaledPacer, LatenessWithinTheToleranceIsNotLate) {
  FakeClock clock;
  Simulation sim(1);
  sim.schedule_at(s(1), [&] { clock.advance(milliseconds(1040)); });
  sim.schedule_at(s(2), [] {});
  ScaledPacer pacer(1.0, clock, /*strict=*/true, milliseconds(50));
  EXPECT_NO_THROW(sim.run_until(s(5), pacer));
  const PacingStats st = pacer.stats();
  EXPECT_EQ(st.late_events, 0u);
  EXPECT_EQ(st.max_lateness, milliseconds(40));
}

TEST(ScaledPacer, StrictModeThrowsNamingTheSimTime) {
  FakeClock clock;
  Simulation sim(1, hours(7));
  std::vector<int> ran;
  sim.schedule_at(hours(7) + s(1), [&] {
    ran.push_back(1);
    clock.advance(std::chrono::seconds(2));
  });
  sim.schedule_at(hours(7) + s(2), [&] { ran.push_back(2); });
  ScaledPacer pacer(1.0, clock, /*strict=*/true, milliseconds(50));
  try {
    sim.run_until(hours(7) + s(10), pacer);
    FAIL() << "expected PacingError";
  } catch (const PacingError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("07:00:02.000"), std::string::npos) << what;  // the late event's sim time
  }
  EXPECT_EQ(ran, std::vector<int>{1});  // the late event did not run
  EXPECT_EQ(pacer.stats().late_events, 1u);
  EXPECT_EQ(pacer.stats().max_lateness, s(1));
}

TEST(ScaledPacer, InvalidSpeedIsRejected) {
  FakeClock clock;
  EXPECT_THROW(ScaledPacer(0.0, clock), std::invalid_argument);
  EXPECT_THROW(ScaledPacer(-1.0, clock), std::invalid_argument);
  EXPECT_THROW(ScaledPacer(std::nan(""), clock), std::invalid_argument);
}

// An external input arriving while the pacer waits interrupts the wait; the input runs at the sim time
// corresponding to the present wall time. The fake clock delivers the input from inside sleep_until, so
// this is deterministic and needs no thread.
struct Injection {
  SimTime ran_at{-1};
  std::chrono::nanoseconds wall{-1};
  int order = -1;
};

TEST(ScaledPacer, ExternalInputInterruptsTheWaitAndRunsAtThePresent) {
  FakeClock clock;
  const Wall origin = clock.t;
  Simulation sim(1);
  std::vector<std::string> order;
  Injection in;
  sim.schedule_at(s(10), [&] {
    order.push_back("event");
    EXPECT_EQ(clock.t - origin, std::chrono::seconds(10));
  });
  clock.hook = [&] {  // first sleep only
    sim.schedule_now_threadsafe([&] {
      in.ran_at = sim.now();
      in.wall = clock.t - origin;
      order.push_back("input");
    });
    return true;
  };
  ScaledPacer pacer(1.0, clock);
  sim.run_until(s(20), pacer);
  // The first sleep is one 1 ms slice: the input arrives at wall 1 ms and runs at sim 1 ms, without waiting
  // for the event at 10 s.
  EXPECT_EQ(in.wall, milliseconds(1));
  EXPECT_EQ(in.ran_at, milliseconds(1));
  EXPECT_EQ(order, (std::vector<std::string>{"input", "event"}));
  EXPECT_EQ(since(clock, origin), std::chrono::seconds(20));
  EXPECT_EQ(pacer.stats().late_events, 0u);
}

TEST(ScaledPacer, ExternalInputMidWaitAtSpeedTwoRunsAtTheScaledPresentAndCanScheduleEvents) {
  FakeClock clock;
  const Wall origin = clock.t;
  Simulation sim(1, hours(7));
  std::vector<std::pair<std::string, SimTime>> order;
  sim.schedule_at(hours(7) + s(10), [&] { order.emplace_back("event", sim.now()); });
  // Deliver the input on the sleep that reaches wall 2.5 s, i.e. sim 07:00:05 at speed 2.
  clock.hook = [&] {
    if (clock.t - origin < milliseconds(2500)) return false;
    sim.schedule_now_threadsafe([&] {
      order.emplace_back("input", sim.now());
      EXPECT_EQ(clock.t - origin, milliseconds(2500));
      sim.schedule_in(s(1), [&] { order.emplace_back("follow-up", sim.now()); });
    });
    return true;
  };
  ScaledPacer pacer(2.0, clock);
  sim.run_until(hours(7) + s(12), pacer);
  const std::vector<std::pair<std::string, SimTime>> expected = {
      {"input", hours(7) + s(5)}, {"follow-up", hours(7) + s(6)}, {"event", hours(7) + s(10)}};
  EXPECT_EQ(order, expected);
  EXPECT_EQ(since(clock, origin), std::chrono::seconds(6));
  EXPECT_EQ(pacer.stats().late_events, 0u);
}

TEST(ScaledPacer, ExternalInputWhileWaitingForTheEndTime) {
  FakeClock clock;
  const Wall origin = clock.t;
  Simulation sim(1);
  SimTime ran_at{-1};
  clock.hook = [&] {
    if (clock.t - origin < std::chrono::seconds(3)) return false;
    sim.schedule_now_threadsafe([&] { ran_at = sim.now(); });
    return true;
  };
  ScaledPacer pacer(1.0, clock);
  const RunSummary r = sim.run_until(s(10), pacer);  // no events at all
  EXPECT_EQ(r.events_executed, 1u);
  EXPECT_EQ(ran_at, s(3));
  EXPECT_EQ(sim.now(), s(10));
  EXPECT_EQ(since(clock, origin), std::chrono::seconds(10));
}

TEST(ScaledPacer, PresentIsNeverBeforeTheFloor) {
  FakeClock clock;
  ScaledPacer pacer(3.0, clock);
  pacer.begin(s(100));
  EXPECT_EQ(pacer.present(s(100)), s(100));
  clock.advance(std::chrono::seconds(2));
  EXPECT_EQ(pacer.present(s(100)), s(106));
  EXPECT_EQ(pacer.present(s(200)), s(200));
}

TEST(AsFastAsPossible, NeverWaitsAndPresentIsTheFloor) {
  AsFastAsPossible fast;
  std::atomic<bool> interrupt{true};
  EXPECT_TRUE(fast.wait_for(s(1e6), interrupt));
  EXPECT_EQ(fast.present(s(42)), s(42));
  Simulation a(5), b(5);
  std::vector<std::int64_t> ta, tb;
  for (int i = 0; i < 100; ++i) {
    a.schedule_at(s(i % 7), [&ta, &a] { ta.push_back(a.now().count()); });
    b.schedule_at(s(i % 7), [&tb, &b] { tb.push_back(b.now().count()); });
  }
  a.run_until(s(10), fast);
  b.run_until(s(10));
  EXPECT_EQ(ta, tb);
  EXPECT_EQ(fast.stats().paced_events, 0u);
}

}  // namespace
}  // namespace gatetwin::sim
