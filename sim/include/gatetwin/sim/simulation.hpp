#pragma once
// The discrete-event engine. A Simulation owns its clock, its event queue and its random streams; there
// is no global state, so tests create many and two simulations can run side by side in one process.
//
// Events are ordered by (time, insertion sequence): events at the same time run in the order they were
// scheduled, so a run is a pure function of the scenario and its seed. The queue is a binary heap of
// 16-byte plain entries; the actions live in a slot table and never move while queued, which keeps it
// faster than a std::priority_queue of std::function (bench/engine_bench). Cancellation is O(1): the
// slot is released and its heap entry is skipped when it surfaces (the entry's key no longer matches the
// slot's); an EventId carries the slot's generation, so a stale id cannot cancel a newer event.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include "gatetwin/sim/pacing.hpp"
#include "gatetwin/sim/random.hpp"
#include "gatetwin/sim/time.hpp"

namespace gatetwin::sim {

class EventId {
 public:
  EventId() = default;
  bool valid() const { return generation_ != 0; }

 private:
  friend class Simulation;
  EventId(std::uint32_t slot, std::uint32_t generation) : slot_(slot), generation_(generation) {}
  std::uint32_t slot_ = 0;
  std::uint32_t generation_ = 0;  // 0 = never scheduled
};

struct RunSummary {
  std::uint64_t events_executed = 0;
  SimTime end_time{0};
  bool stopped = false;  // stop() was called before the end time
};

class Simulation {
 public:
  using Action = std::function<void()>;

  explicit Simulation(std::uint64_t seed, SimTime start = SimTime{0});
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  SimTime now() const { return now_; }
  std::uint64_t seed() const { return seed_; }

  // Schedules `action` at absolute time `t` (clamped to now: the past cannot be scheduled).
  EventId schedule_at(SimTime t, Action action);
  EventId schedule_in(Duration delay, Action action) { return schedule_at(now_ + delay, std::move(action)); }
  // Returns true if the event was pending and is now cancelled; false if it already ran or was cancelled.
  bool cancel(EventId id);
  bool is_pending(EventId id) const;

  // The one thread-safe entry point for external inputs (a relay state read from a socket): the action
  // runs at the simulation's present time as soon as the run loop sees it.
  void schedule_now_threadsafe(Action action);

  // Runs events with time <= end, paced by `pacer`; the clock ends at `end` unless stopped early.
  RunSummary run_until(SimTime end, Pacer& pacer);
  RunSummary run_until(SimTime end);  // as fast as possible
  void stop() { stop_requested_ = true; }

  // A random stream for a named component, derived from the seed (see random.hpp).
  RandomStream stream(std::string_view component) const { return RandomStream(seed_, component); }
  RandomStream stream(std::string_view component, std::uint64_t index) const { return RandomStream(seed_, component, index); }

  std::size_t pending() const { return live_; }
  std::uint64_t events_executed() const { return executed_; }

 private:
  // 16 bytes: the time, and the insertion sequence (high 40 bits) with the slot (low 24 bits). Sequences
  // are unique, so comparing `key` orders equal times by insertion.
  struct Entry {
    std::int64_t time;
    std::uint64_t key;
    std::uint32_t slot() const { return static_cast<std::uint32_t>(key & kSlotMask); }
  };
  struct Slot {
    Action action;
    std::uint64_t key = 0;  // the key of the queued entry that owns this slot
    std::uint32_t generation = 1;
    bool live = false;
  };
  static constexpr std::uint64_t kSlotBits = 24;
  static constexpr std::uint64_t kSlotMask = (std::uint64_t{1} << kSlotBits) - 1;
  static bool later(const Entry& a, const Entry& b) {
    return a.time != b.time ? a.time > b.time : a.key > b.key;
  }
  void push(Entry e);
  Entry pop();
  void drain_inbox(Pacer& pacer);
  void release(std::uint32_t slot);

  std::uint64_t seed_;
  SimTime now_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t executed_ = 0;
  std::size_t live_ = 0;
  std::size_t stale_in_heap_ = 0;  // cancelled entries still in the heap
  bool stop_requested_ = false;
  static constexpr std::size_t kArity = 2;
  std::vector<Entry> heap_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;

  std::mutex inbox_mutex_;
  std::vector<Action> inbox_;
  std::atomic<bool> inbox_nonempty_{false};
};

}  // namespace gatetwin::sim
