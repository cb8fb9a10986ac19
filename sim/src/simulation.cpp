#include "gatetwin/sim/simulation.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace gatetwin::sim {

std::string format_clock(SimTime t) {
  const std::int64_t us = t.count();
  const std::int64_t total_ms = us / 1000;
  const std::int64_t h = total_ms / 3'600'000;
  const std::int64_t m = (total_ms / 60'000) % 60;
  const std::int64_t s = (total_ms / 1000) % 60;
  const std::int64_t ms = total_ms % 1000;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld.%03lld", static_cast<long long>(h), static_cast<long long>(m),
                static_cast<long long>(s), static_cast<long long>(ms));
  return buf;
}

Simulation::Simulation(std::uint64_t seed, SimTime start) : seed_(seed), now_(start) {}

EventId Simulation::schedule_at(SimTime t, Action action) {
  if (t < now_) t = now_;
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (slots_.size() > kSlotMask) throw std::length_error("more than 16.7 million pending events");
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.action = std::move(action);
  s.live = true;
  s.key = (next_seq_++ << kSlotBits) | slot;
  ++live_;
  push(Entry{t.count(), s.key});
  return EventId(slot, s.generation);
}

bool Simulation::is_pending(EventId id) const {
  return id.valid() && id.slot_ < slots_.size() && slots_[id.slot_].live && slots_[id.slot_].generation == id.generation_;
}

bool Simulation::cancel(EventId id) {
  if (!is_pending(id)) return false;
  release(id.slot_);
  ++stale_in_heap_;
  return true;
}

void Simulation::release(std::uint32_t slot) {
  Slot& s = slots_[slot];
  s.action = nullptr;
  s.live = false;
  if (++s.generation == 0) s.generation = 1;  // 0 is reserved for "never scheduled"
  --live_;
  free_slots_.push_back(slot);
}

// A binary heap (kArity = 2; a 4-ary heap measured slower in bench/engine_bench).
void Simulation::push(Entry e) {
  heap_.push_back(e);
  std::size_t i = heap_.size() - 1;
  while (i > 0) {
    const std::size_t parent = (i - 1) / kArity;
    if (!later(heap_[parent], e)) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

Simulation::Entry Simulation::pop() {
  const Entry top = heap_.front();
  const Entry last = heap_.back();
  heap_.pop_back();
  const std::size_t n = heap_.size();
  if (n > 0) {
    std::size_t i = 0;
    for (;;) {
      const std::size_t first = kArity * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = std::min(first + kArity, n);
      for (std::size_t c = first + 1; c < end; ++c)
        if (later(heap_[best], heap_[c])) best = c;
      if (!later(last, heap_[best])) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = last;
  }
  return top;
}

void Simulation::schedule_now_threadsafe(Action action) {
  std::lock_guard lock(inbox_mutex_);
  inbox_.push_back(std::move(action));
  inbox_nonempty_.store(true, std::memory_order_release);
}

void Simulation::drain_inbox(Pacer& pacer) {
  std::vector<Action> batch;
  {
    std::lock_guard lock(inbox_mutex_);
    batch.swap(inbox_);
    inbox_nonempty_.store(false, std::memory_order_release);
  }
  const SimTime at = pacer.present(now_);
  for (auto& a : batch) schedule_at(at, std::move(a));
}

RunSummary Simulation::run_until(SimTime end) {
  AsFastAsPossible fast;
  return run_until(end, fast);
}

RunSummary Simulation::run_until(SimTime end, Pacer& pacer) {
  stop_requested_ = false;
  pacer.begin(now_);
  RunSummary summary;
  const std::uint64_t executed_before = executed_;
  for (;;) {
    if (inbox_nonempty_.load(std::memory_order_acquire)) drain_inbox(pacer);
    if (stop_requested_) {
      summary.stopped = true;
      break;
    }
    // Skip cancelled entries at the top (only when some are in the heap: the common case skips the
    // slot-table lookup).
    while (stale_in_heap_ > 0 && !heap_.empty()) {
      const Entry& top = heap_.front();
      const Slot& s = slots_[top.slot()];
      if (s.live && s.key == top.key) break;
      pop();
      --stale_in_heap_;
    }
    if (heap_.empty() || heap_.front().time > end.count()) {
      // Nothing due before the end: in paced mode wait for the end (or an external input).
      if (!pacer.wait_for(end, inbox_nonempty_, /*is_event=*/false)) continue;
      now_ = std::max(now_, end);
      break;
    }
    const SimTime t{heap_.front().time};
    if (!pacer.wait_for(t, inbox_nonempty_)) continue;  // an external input arrived first
    const Entry e = pop();
    now_ = SimTime{e.time};
    Action action = std::move(slots_[e.slot()].action);
    release(e.slot());
    // The next event's action is a random slot; fetch it while this one runs.
    if (!heap_.empty()) __builtin_prefetch(&slots_[heap_.front().slot()]);
    ++executed_;
    action();
  }
  summary.events_executed = executed_ - executed_before;
  summary.end_time = now_;
  return summary;
}

}  // namespace gatetwin::sim
