// The discrete-event engine: ordering, cancellation, run_until/stop, determinism, external inputs, and a
// randomized property test against a simple reference model.
#include "gatetwin/sim/simulation.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace gatetwin::sim {
namespace {

using std::chrono::milliseconds;

// (time in microseconds, tag)
using Trace = std::vector<std::pair<std::int64_t, int>>;

SimTime s(double x) { return seconds(x); }

TEST(Simulation, EventsRunInTimeOrder) {
  Simulation sim(1);
  Trace trace;
  const double times[] = {5.0, 1.0, 3.0, 2.0, 4.0, 0.5, 10.0};
  for (int i = 0; i < 7; ++i) {
    sim.schedule_at(s(times[i]), [&sim, &trace, i] { trace.emplace_back(sim.now().count(), i); });
  }
  const RunSummary r = sim.run_until(s(20));
  EXPECT_EQ(r.events_executed, 7u);
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.end_time, s(20));
  EXPECT_EQ(sim.now(), s(20));
  const Trace expected = {{500'000, 5},   {1'000'000, 1}, {2'000'000, 3}, {3'000'000, 2},
                          {4'000'000, 4}, {5'000'000, 0}, {10'000'000, 6}};
  EXPECT_EQ(trace, expected);
  EXPECT_EQ(sim.events_executed(), 7u);
}

TEST(Simulation, ScheduleInIsRelativeToNow) {
  Simulation sim(1, hours(7));
  std::vector<SimTime> at;
  sim.schedule_in(s(2), [&] {
    at.push_back(sim.now());
    sim.schedule_in(s(3), [&] { at.push_back(sim.now()); });
  });
  sim.run_until(hours(8));
  ASSERT_EQ(at.size(), 2u);
  EXPECT_EQ(at[0], hours(7) + s(2));
  EXPECT_EQ(at[1], hours(7) + s(5));
}

TEST(Simulation, EqualTimeEventsRunInSchedulingOrderIncludingFromHandlers) {
  Simulation sim(1);
  std::vector<std::string> order;
  auto rec = [&](std::string name) {
    return [&order, &sim, name] {
      EXPECT_EQ(sim.now(), s(1)) << name;
      order.push_back(name);
    };
  };
  sim.schedule_at(s(1), [&] {
    order.push_back("A");
    sim.schedule_at(sim.now(), rec("A1"));        // same time, scheduled from a handler
    sim.schedule_in(Duration{0}, rec("A2"));
  });
  sim.schedule_at(s(1), [&] {
    order.push_back("B");
    sim.schedule_at(s(1), [&] {
      order.push_back("B1");
      sim.schedule_at(s(1), rec("B1a"));         // a third generation at the same time
    });
  });
  sim.schedule_at(s(2), rec("late"));           // would fail the time check if it ran at 1 s
  sim.schedule_at(s(1), rec("C"));
  sim.run_until(s(1));
  const std::vector<std::string> expected = {"A", "B", "C", "A1", "A2", "B1", "B1a"};
  EXPECT_EQ(order, expected);
  EXPECT_EQ(sim.pending(), 1u);  // "late"
}

TEST(Simulation, ManyEqualTimeEventsKeepFifoOrder) {
  // Enough same-time events that the heap has to reorder them many times.
  Simulation sim(1);
  std::vector<int> order;
  for (int i = 0; i < 5000; ++i) {
    const SimTime t = s(static_cast<double>((i * 7919) % 5));  // five distinct times, interleaved
    sim.schedule_at(t, [&order, i] { order.push_back(i); });
  }
  sim.run_until(s(10));
  ASSERT_EQ(order.size(), 5000u);
  std::vector<int> expected;
  for (int k = 0; k < 5; ++k)
    for (int i = 0; i < 5000; ++i)
      if ((i * 7919) % 5 == k) expected.push_back(i);
  EXPECT_EQ(order, expected);
}

TEST(Simulation, ScheduleInThePastIsClampedToNow) {
  Simulation sim(1, s(10));
  Trace trace;
  auto rec = [&](int tag) { return [&trace, &sim, tag] { trace.emplace_back(sim.now().count(), tag); }; };
  sim.schedule_at(s(5), rec(0));                   // before the start time
  sim.schedule_in(-s(3), rec(1));                  // negative delay
  sim.schedule_at(s(20), [&] {
    trace.emplace_back(sim.now().count(), 2);
    sim.schedule_at(s(1), rec(3));                 // in the past, from a handler: runs at 20 s...
  });
  sim.schedule_at(s(20), rec(4));                  // ...after what was already queued at 20 s
  sim.schedule_at(s(21), rec(5));
  sim.run_until(s(30));
  const Trace expected = {{10'000'000, 0}, {10'000'000, 1}, {20'000'000, 2},
                          {20'000'000, 4}, {20'000'000, 3}, {21'000'000, 5}};
  EXPECT_EQ(trace, expected);
}

TEST(Simulation, TimeNeverGoesBackwards) {
  Simulation sim(3);
  RandomStream rng(3, "test.monotonic");
  SimTime last{0};
  bool ok = true;
  std::function<void()> handler = [&] {
    ok = ok && sim.now() >= last;
    last = sim.now();
    // Mix of future, present and past requests.
    const auto offset = static_cast<std::int64_t>(rng.below(2000)) - 500;
    if (sim.events_executed() < 20000) sim.schedule_at(sim.now() + Duration(offset), handler);
  };
  for (int i = 0; i < 10; ++i) sim.schedule_at(Duration(i), handler);
  sim.run_until(hours(1));
  EXPECT_TRUE(ok);
  EXPECT_GE(sim.events_executed(), 20000u);
}

TEST(Simulation, CancelReturnsTrueOnceAndTheEventNeverRuns) {
  Simulation sim(1);
  bool ran_a = false, ran_b = false;
  const EventId a = sim.schedule_at(s(1), [&] { ran_a = true; });
  const EventId b = sim.schedule_at(s(2), [&] { ran_b = true; });
  EXPECT_TRUE(a.valid());
  EXPECT_TRUE(sim.is_pending(a));
  EXPECT_EQ(sim.pending(), 2u);
  EXPECT_TRUE(sim.cancel(a));
  EXPECT_FALSE(sim.is_pending(a));
  EXPECT_EQ(sim.pending(), 1u);
  EXPECT_FALSE(sim.cancel(a));  // second cancel
  EXPECT_EQ(sim.pending(), 1u);
  const RunSummary r = sim.run_until(s(10));
  EXPECT_FALSE(ran_a);
  EXPECT_TRUE(ran_b);
  EXPECT_EQ(r.events_executed, 1u);
  EXPECT_FALSE(sim.cancel(b));  // already ran
  EXPECT_FALSE(sim.is_pending(b));
  EXPECT_EQ(sim.pending(), 0u);
}

TEST(Simulation, DefaultEventIdIsInvalidAndCannotBeCancelled) {
  Simulation sim(1);
  const EventId none;
  EXPECT_FALSE(none.valid());
  EXPECT_FALSE(sim.is_pending(none));
  EXPECT_FALSE(sim.cancel(none));
  bool ran = false;
  sim.schedule_at(s(1), [&] { ran = true; });
  EXPECT_FALSE(sim.cancel(none));
  sim.run_until(s(2));
  EXPECT_TRUE(ran);
}

TEST(Simulation, EventIdFromAnotherSimulationDoesNotCancel) {
  Simulation a(1), b(1);
  const EventId ida = a.schedule_at(s(1), [] {});
  // b has no events: the slot index does not exist there.
  EXPECT_FALSE(b.is_pending(ida));
  EXPECT_FALSE(b.cancel(ida));
  EXPECT_TRUE(a.is_pending(ida));
}

TEST(Simulation, CancelFromInsideAHandler) {
  Simulation sim(1);
  std::vector<int> order;
  EventId first, later, third;
  first = sim.schedule_at(s(1), [&] {
    order.push_back(1);
    EXPECT_FALSE(sim.is_pending(first));  // the running event is no longer pending...
    EXPECT_FALSE(sim.cancel(first));      // ...so it cannot cancel itself
    EXPECT_TRUE(sim.cancel(later));       // a same-time event queued behind it
    EXPECT_TRUE(sim.is_pending(third));
  });
  later = sim.schedule_at(s(1), [&] { order.push_back(2); });
  third = sim.schedule_at(s(3), [&] {
    order.push_back(3);
    EXPECT_FALSE(sim.cancel(third));
    EXPECT_FALSE(sim.cancel(later));
  });
  sim.run_until(s(5));
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

TEST(Simulation, StaleIdDoesNotCancelAnEventThatReusedItsSlot) {
  Simulation sim(1);
  std::vector<int> ran;
  // Cancelled slot reused.
  const EventId a = sim.schedule_at(s(1), [&] { ran.push_back(0); });
  ASSERT_TRUE(sim.cancel(a));
  const EventId b = sim.schedule_at(s(1), [&] { ran.push_back(1); });
  EXPECT_FALSE(sim.cancel(a));
  EXPECT_FALSE(sim.is_pending(a));
  EXPECT_TRUE(sim.is_pending(b));
  // Executed slot reused.
  sim.run_until(s(2));
  EXPECT_EQ(ran, (std::vector<int>{1}));
  const EventId c = sim.schedule_at(s(3), [&] { ran.push_back(2); });
  EXPECT_FALSE(sim.cancel(a));
  EXPECT_FALSE(sim.cancel(b));
  EXPECT_TRUE(sim.is_pending(c));
  EXPECT_EQ(sim.pending(), 1u);
  sim.run_until(s(4));
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  // Many generations through the same slots: every stale id stays stale.
  std::vector<EventId> stale;
  for (int round = 0; round < 1000; ++round) {
    const EventId id = sim.schedule_in(s(1), [] {});
    for (const EventId& old : stale) ASSERT_FALSE(sim.is_pending(old));
    if (round % 2) {
      ASSERT_TRUE(sim.cancel(id));
    } else {
      sim.run_until(sim.now() + s(1));
    }
    if (stale.size() < 16) stale.push_back(id);
  }
  EXPECT_EQ(sim.pending(), 0u);
}

TEST(Simulation, CancelledEventLeavesSameTimeNeighboursInOrder) {
  Simulation sim(1);
  std::vector<int> order;
  std::vector<EventId> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(sim.schedule_at(s(1), [&order, i] { order.push_back(i); }));
  for (int i : {0, 3, 4, 9}) EXPECT_TRUE(sim.cancel(ids[i]));
  // New events reuse the cancelled slots but run after the old ones (sequence order, not slot order).
  for (int i = 10; i < 14; ++i) sim.schedule_at(s(1), [&order, i] { order.push_back(i); });
  sim.run_until(s(1));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 5, 6, 7, 8, 10, 11, 12, 13}));
}

TEST(Simulation, RunUntilStopsAtTheEndTimeAndContinues) {
  Simulation sim(1);
  Trace trace;
  for (int i = 1; i <= 4; ++i) sim.schedule_at(s(i), [&trace, &sim, i] { trace.emplace_back(sim.now().count(), i); });
  RunSummary r = sim.run_until(s(2.5));
  EXPECT_EQ(r.events_executed, 2u);
  EXPECT_EQ(r.end_time, s(2.5));
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(sim.now(), s(2.5));
  EXPECT_EQ(sim.pending(), 2u);
  EXPECT_EQ(trace, (Trace{{1'000'000, 1}, {2'000'000, 2}}));

  // An event exactly at the end time runs.
  r = sim.run_until(s(3));
  EXPECT_EQ(r.events_executed, 1u);
  EXPECT_EQ(sim.now(), s(3));
  EXPECT_EQ(sim.pending(), 1u);

  r = sim.run_until(s(10));
  EXPECT_EQ(r.events_executed, 1u);
  EXPECT_EQ(r.end_time, s(10));
  EXPECT_EQ(sim.now(), s(10));
  EXPECT_EQ(sim.pending(), 0u);
  EXPECT_EQ(trace, (Trace{{1'000'000, 1}, {2'000'000, 2}, {3'000'000, 3}, {4'000'000, 4}}));
  EXPECT_EQ(sim.events_executed(), 4u);

  // Nothing left: the clock still moves to the end.
  r = sim.run_until(s(15));
  EXPECT_EQ(r.events_executed, 0u);
  EXPECT_EQ(sim.now(), s(15));
}

TEST(Simulation, EventsScheduledAtTheEndFromAHandlerAtTheEndRun) {
  Simulation sim(1);
  int count = 0;
  sim.schedule_at(s(5), [&] {
    ++count;
    sim.schedule_in(Duration{0}, [&] { ++count; });
    sim.schedule_in(Duration{1}, [&] { ++count; });  // 1 µs after the end: stays pending
  });
  sim.run_until(s(5));
  EXPECT_EQ(count, 2);
  EXPECT_EQ(sim.pending(), 1u);
  sim.run_until(s(6));
  EXPECT_EQ(count, 3);
}

TEST(Simulation, StopFromAHandler) {
  Simulation sim(1);
  Trace trace;
  for (int i = 1; i <= 4; ++i) {
    sim.schedule_at(s(i), [&trace, &sim, i] {
      trace.emplace_back(sim.now().count(), i);
      if (i == 2) sim.stop();
    });
  }
  sim.schedule_at(s(2), [&] { trace.emplace_back(sim.now().count(), 20); });  // same time, after the stop
  RunSummary r = sim.run_until(s(10));
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.events_executed, 2u);
  EXPECT_EQ(r.end_time, s(2));
  EXPECT_EQ(sim.now(), s(2));
  EXPECT_EQ(sim.pending(), 3u);
  EXPECT_EQ(trace, (Trace{{1'000'000, 1}, {2'000'000, 2}}));

  // A later run continues where the stopped one left off, and is not itself stopped.
  r = sim.run_until(s(10));
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.events_executed, 3u);
  EXPECT_EQ(sim.now(), s(10));
  EXPECT_EQ(trace, (Trace{{1'000'000, 1}, {2'000'000, 2}, {2'000'000, 20}, {3'000'000, 3}, {4'000'000, 4}}));
}

TEST(Simulation, PendingCounts) {
  Simulation sim(1);
  EXPECT_EQ(sim.pending(), 0u);
  std::vector<EventId> ids;
  std::vector<std::size_t> seen;
  for (int i = 0; i < 5; ++i) ids.push_back(sim.schedule_at(s(i + 1), [&] { seen.push_back(sim.pending()); }));
  EXPECT_EQ(sim.pending(), 5u);
  sim.cancel(ids[1]);
  sim.cancel(ids[1]);
  EXPECT_EQ(sim.pending(), 4u);
  sim.schedule_at(s(3), [&] {
    seen.push_back(sim.pending());
    sim.schedule_in(s(100), [] {});
    seen.push_back(sim.pending());
  });
  EXPECT_EQ(sim.pending(), 5u);
  sim.run_until(s(10));
  // The running event is not counted as pending.
  EXPECT_EQ(seen, (std::vector<std::size_t>{4, 3, 2, 3, 2, 1}));
  EXPECT_EQ(sim.pending(), 1u);
}

// ---------------------------------------------------------------- determinism across simulations

// A self-driving workload that draws everything from the simulation's own streams.
struct Workload {
  explicit Workload(Simulation& s_) : sim(s_), rng(s_.stream("workload")), delays(s_.stream("workload.delays")) {
    for (int i = 0; i < 40; ++i) spawn(Duration(static_cast<std::int64_t>(delays.below(1'000'000))));
  }
  void spawn(Duration delay) {
    const int tag = next_tag++;
    ids.push_back(sim.schedule_in(delay, [this, tag] { fire(tag); }));
  }
  void fire(int tag) {
    trace.emplace_back(sim.now().count(), tag);
    if (next_tag > 20000) return;
    // 0-2 children on a 10 ms grid (lots of equal times), sometimes a cancellation.
    const auto children = rng.below(3) + (rng.bernoulli(0.1) ? 1 : 0);
    for (std::uint64_t k = 0; k < children; ++k) {
      const auto ms = static_cast<std::int64_t>(delays.exponential(200.0) / 10.0) * 10;
      spawn(milliseconds(ms));
    }
    if (rng.bernoulli(0.2)) cancelled += sim.cancel(ids[rng.below(ids.size())]) ? 1 : 0;
  }
  Simulation& sim;
  RandomStream rng, delays;
  std::vector<EventId> ids;
  Trace trace;
  int next_tag = 0;
  int cancelled = 0;
};

TEST(Simulation, SameSeedGivesIdenticalTracesEvenWhenInterleaved) {
  Simulation solo(2024);
  Workload wsolo(solo);
  solo.run_until(hours(2));
  ASSERT_GT(wsolo.trace.size(), 10000u);
  EXPECT_GT(wsolo.cancelled, 0);

  // Two simulations with the same seed, advanced alternately in small steps in one thread, plus a third
  // with another seed stepped in between: none disturbs the others.
  Simulation a(2024), b(2024), other(7);
  Workload wa(a), wb(b), wo(other);
  for (SimTime t = s(0.37); t < hours(2); t += s(0.37)) {
    a.run_until(t);
    other.run_until(t + s(1));
    b.run_until(t);
  }
  a.run_until(hours(2));
  b.run_until(hours(2));
  other.run_until(hours(2));
  EXPECT_TRUE(wa.trace == wsolo.trace);
  EXPECT_TRUE(wb.trace == wsolo.trace);
  EXPECT_EQ(wa.cancelled, wsolo.cancelled);
  EXPECT_EQ(a.events_executed(), solo.events_executed());
  EXPECT_EQ(a.pending(), solo.pending());
  EXPECT_FALSE(wo.trace == wsolo.trace);
}

// ---------------------------------------------------------------- property test against a reference model

// The reference: a sorted map keyed by (time, sequence), cancellation by erasing, the same handler logic.
class Reference {
 public:
  using Key = std::pair<std::int64_t, std::uint64_t>;
  int schedule(std::int64_t t) {
    const int tag = next_tag_++;
    const Key k{std::max(t, now_), seq_++};
    queue_.emplace(k, tag);
    where_.emplace(tag, k);
    return tag;
  }
  bool cancel(int tag) {
    const auto it = where_.find(tag);
    if (it == where_.end()) return false;
    queue_.erase(it->second);
    where_.erase(it);
    return true;
  }
  bool pending(int tag) const { return where_.count(tag) > 0; }
  void run_until(std::int64_t end) {
    while (!queue_.empty() && queue_.begin()->first.first <= end) {
      const auto [key, tag] = *queue_.begin();
      queue_.erase(queue_.begin());
      where_.erase(tag);
      now_ = key.first;
      fire(tag);
    }
    now_ = std::max(now_, end);
  }
  std::int64_t now() const { return now_; }
  std::size_t size() const { return queue_.size(); }
  std::vector<std::tuple<std::int64_t, int, int>> trace;

 private:
  void fire(int tag);
  std::int64_t now_ = 0;
  std::uint64_t seq_ = 0;
  int next_tag_ = 0;
  std::map<Key, int> queue_;
  std::map<int, Key> where_;
};

// Handler behaviour is a pure function of the tag, so the model can mirror it exactly:
// every 5th event schedules a child 0, 1 or 2 ms later (0 = same time, from inside a handler);
// every 7th event cancels the event with half its tag (often already run, sometimes itself).
constexpr bool spawns_child(int tag) { return tag % 5 == 0; }
constexpr std::int64_t child_delay(int tag) { return (tag % 3) * 1000; }
constexpr bool cancels(int tag) { return tag % 7 == 0; }
constexpr int cancel_target(int tag) { return tag / 2; }

void Reference::fire(int tag) {
  trace.emplace_back(now_, tag, 0);
  if (spawns_child(tag)) schedule(now_ + child_delay(tag));
  if (cancels(tag)) trace.emplace_back(now_, cancel_target(tag), cancel(cancel_target(tag)) ? 1 : 2);
}

struct Engine {
  Simulation sim{99};
  std::vector<EventId> ids;  // by tag
  std::vector<std::tuple<std::int64_t, int, int>> trace;
  int schedule(std::int64_t t) {
    const int tag = static_cast<int>(ids.size());
    ids.push_back(sim.schedule_at(Duration(t), [this, tag] { fire(tag); }));
    return tag;
  }
  void fire(int tag) {
    const std::int64_t now = sim.now().count();
    trace.emplace_back(now, tag, 0);
    if (spawns_child(tag)) schedule(now + child_delay(tag));
    if (cancels(tag)) trace.emplace_back(now, cancel_target(tag), sim.cancel(ids[cancel_target(tag)]) ? 1 : 2);
  }
};

template <class T>
std::string first_difference(const std::vector<T>& a, const std::vector<T>& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return "first difference at record " + std::to_string(i) + ": engine (" + std::to_string(std::get<0>(a[i])) + " us, tag " +
             std::to_string(std::get<1>(a[i])) + ", kind " + std::to_string(std::get<2>(a[i])) + ") vs reference (" +
             std::to_string(std::get<0>(b[i])) + " us, tag " + std::to_string(std::get<1>(b[i])) + ", kind " +
             std::to_string(std::get<2>(b[i])) + ")";
    }
  }
  return a.size() == b.size() ? "" : "lengths differ: " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
}

void run_property(std::uint64_t seed, int operations) {
  RandomStream rng(seed, "test.property");
  Engine engine;
  Reference model;
  std::uint64_t cancels_true = 0, stale_cancels = 0, runs = 0;
  for (int op = 0; op < operations; ++op) {
    const auto r = rng.below(100);
    if (r < 55) {
      // Mostly near-future times on a 1 ms grid (many ties), some in the past (clamped), some far ahead.
      const std::int64_t now = model.now();
      std::int64_t t;
      const auto kind = rng.below(10);
      if (kind < 7) t = now + static_cast<std::int64_t>(rng.below(50)) * 1000;
      else if (kind < 9) t = now - static_cast<std::int64_t>(rng.below(10'000));
      else t = now + static_cast<std::int64_t>(rng.below(5'000)) * 1000;
      const int te = engine.schedule(t);
      const int tm = model.schedule(t);
      ASSERT_EQ(te, tm);
    } else if (r < 85) {
      if (engine.ids.empty()) continue;
      // Recent tags are likelier to be pending; old ones are stale ids whose slots have been reused.
      const auto n = engine.ids.size();
      const int tag = static_cast<int>(rng.bernoulli(0.7) ? n - 1 - rng.below(std::min<std::size_t>(n, 200)) : rng.below(n));
      const bool expected = model.cancel(tag);
      ASSERT_EQ(engine.sim.cancel(engine.ids[static_cast<std::size_t>(tag)]), expected) << "op " << op << " tag " << tag;
      cancels_true += expected ? 1 : 0;
      stale_cancels += expected ? 0 : 1;
    } else if (r < 90) {
      const int tag = static_cast<int>(rng.below(engine.ids.size() + 1));
      if (static_cast<std::size_t>(tag) < engine.ids.size()) {
        ASSERT_EQ(engine.sim.is_pending(engine.ids[static_cast<std::size_t>(tag)]), model.pending(tag)) << "op " << op;
      }
    } else {
      const std::int64_t end = model.now() + static_cast<std::int64_t>(rng.below(30)) * 1000;
      model.run_until(end);
      engine.sim.run_until(Duration(end));
      ++runs;
      ASSERT_EQ(engine.sim.now().count(), model.now());
    }
    ASSERT_EQ(engine.sim.pending(), model.size()) << "op " << op;
  }
  // Drain everything.
  const std::int64_t end = model.now() + 10'000'000'000;
  model.run_until(end);
  engine.sim.run_until(Duration(end));
  EXPECT_EQ(engine.sim.pending(), 0u);
  EXPECT_EQ(model.size(), 0u);
  EXPECT_EQ(first_difference(engine.trace, model.trace), "");
  EXPECT_EQ(engine.trace.size(), model.trace.size());
  // The workload really exercised what it is meant to.
  EXPECT_GT(engine.trace.size(), 30000u);
  EXPECT_GT(cancels_true, 1000u);
  EXPECT_GT(stale_cancels, 5000u);
  EXPECT_GT(runs, 5000u);
}

TEST(SimulationProperty, MatchesReferenceModelOver100kRandomOperations) { run_property(1, 100'000); }
TEST(SimulationProperty, MatchesReferenceModelWithAnotherSeed) { run_property(0xdecafbad, 100'000); }

// ---------------------------------------------------------------- external inputs from other threads

TEST(Simulation, ScheduleNowThreadsafeFromAnotherThreadRunsOnTheSimThreadAtNow) {
  Simulation sim(1);
  const auto sim_thread = std::this_thread::get_id();
  std::thread::id poster, ran_on;
  SimTime ran_at{-1};
  std::vector<std::string> order;
  sim.schedule_at(s(5), [&] {
    order.push_back("handler");
    // A device thread delivers an input while the simulation is at 5 s.
    std::thread t([&] {
      poster = std::this_thread::get_id();
      sim.schedule_now_threadsafe([&] {
        ran_on = std::this_thread::get_id();
        ran_at = sim.now();
        order.push_back("external");
      });
    });
    t.join();
  });
  sim.schedule_at(s(5), [&] { order.push_back("same-time"); });
  sim.schedule_at(s(6), [&] { order.push_back("later"); });
  EXPECT_EQ(sim.pending(), 3u);
  sim.run_until(s(10));
  EXPECT_EQ(ran_on, sim_thread);
  EXPECT_NE(ran_on, poster);
  EXPECT_EQ(ran_at, s(5));
  // The input is scheduled at the present time when the loop next looks, so it never precedes an event
  // of an earlier or equal time that was already queued, and never waits for a later one.
  EXPECT_EQ(order, (std::vector<std::string>{"handler", "same-time", "external", "later"}));
}

TEST(Simulation, ScheduleNowThreadsafeBeforeARunIsDeliveredAtTheStartOfTheRun) {
  Simulation sim(1, s(100));
  std::thread::id ran_on;
  SimTime ran_at{-1};
  std::thread t([&] {
    sim.schedule_now_threadsafe([&] {
      ran_on = std::this_thread::get_id();
      ran_at = sim.now();
    });
  });
  t.join();
  EXPECT_EQ(sim.pending(), 0u);  // not an event until the run loop takes it
  const RunSummary r = sim.run_until(s(200));
  EXPECT_EQ(r.events_executed, 1u);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(ran_at, s(100));
  EXPECT_EQ(sim.now(), s(200));
}

TEST(Simulation, ScheduleNowThreadsafeConcurrentProducerKeepsOrder) {
  Simulation sim(1);
  constexpr int kInputs = 2000;
  const auto sim_thread = std::this_thread::get_id();
  std::vector<int> received;
  bool all_on_sim_thread = true;
  bool times_monotonic = true;
  SimTime last{0};
  // A ticker keeps the simulation busy (no sleeping) until every input has been delivered.
  std::function<void()> tick = [&] {
    if (static_cast<int>(received.size()) == kInputs) {
      sim.stop();
      return;
    }
    sim.schedule_in(milliseconds(1), tick);
  };
  sim.schedule_at(SimTime{0}, tick);
  std::thread producer([&] {
    for (int i = 0; i < kInputs; ++i) {
      sim.schedule_now_threadsafe([&, i] {
        all_on_sim_thread = all_on_sim_thread && std::this_thread::get_id() == sim_thread;
        times_monotonic = times_monotonic && sim.now() >= last;
        last = sim.now();
        received.push_back(i);
      });
    }
  });
  const RunSummary r = sim.run_until(SimTime{std::numeric_limits<std::int64_t>::max() / 4});
  producer.join();
  EXPECT_TRUE(r.stopped);
  ASSERT_EQ(received.size(), static_cast<std::size_t>(kInputs));
  for (int i = 0; i < kInputs; ++i) ASSERT_EQ(received[static_cast<std::size_t>(i)], i);
  EXPECT_TRUE(all_on_sim_thread);
  EXPECT_TRUE(times_monotonic);
}

}  // namespace
}  // namespace gatetwin::sim
