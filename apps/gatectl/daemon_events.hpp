#pragma once
// The daemon's shared plumbing: the event log (JSON lines, one write(2) per line), time stamps, the stop
// flag every thread waits on, reconnect backoff, and each device's health (connected, last error,
// reconnects) with its up/down events. No global state: the daemon owns one of each.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon_config.hpp"

namespace gatetwin::gatectl {

using Json = nlohmann::ordered_json;
using SteadyTime = std::chrono::steady_clock::time_point;

// Microseconds on the monotonic clock (CLOCK_MONOTONIC: since boot, never steps).
std::int64_t mono_us(SteadyTime t = std::chrono::steady_clock::now());
// ISO-8601 local wall time with milliseconds and the UTC offset: 2020-06-08T07:30:01.250+08:00.
std::string iso_time(std::chrono::system_clock::time_point t = std::chrono::system_clock::now());

// JSON lines to a file (appended) or standard output. Each line is written with one write(2) under a
// mutex, so lines from lane threads never interleave and nothing sits in a user-space buffer when the
// process ends; with fsync every line is also on disk before write() returns.
class EventLog {
 public:
  EventLog(const std::string& target, bool fsync);  // "-": standard output; throws std::runtime_error
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Puts "time" (wall, ISO-8601) and "mono_us" before the event's own fields and writes the line.
  // Returns the time written. A failed write (disk full) is counted and reported once on stderr.
  std::string write(const Json& event);
  std::uint64_t lines() const { return lines_.load(); }
  std::uint64_t write_errors() const { return errors_.load(); }

 private:
  int fd_ = -1;
  bool owned_ = false;
  bool fsync_ = false;
  std::mutex mu_;
  std::atomic<std::uint64_t> lines_{0}, errors_{0};
};

// Set once on SIGTERM/SIGINT. Threads sleep on it (wait_for) or poll its fd (readable once requested).
class StopFlag {
 public:
  StopFlag();  // throws std::system_error when no eventfd can be made
  ~StopFlag();
  StopFlag(const StopFlag&) = delete;
  StopFlag& operator=(const StopFlag&) = delete;
  void request();
  bool requested() const { return stop_.load(); }
  // Sleeps up to `d`; true when stop was requested (at once if it already was).
  bool wait_for(Millis d);
  int fd() const { return fd_; }

 private:
  std::atomic<bool> stop_{false};
  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
};

// Exponential backoff between reconnect attempts: initial, 2x, 4x, ... up to max; reset after a success.
// No jitter: each device has its own schedule and a gate has a handful of devices, so there is no herd
// to spread, and a fixed schedule keeps tests and logs predictable.
class Backoff {
 public:
  explicit Backoff(const Reconnect& config) : config_(config), next_(config.initial) {}
  Millis next() {
    const Millis d = next_;
    next_ = std::min(config_.max, next_ * 2);
    return d;
  }
  void reset() { next_ = config_.initial; }

 private:
  Reconnect config_;
  Millis next_;
};

// One device's link state, shared between the thread that talks to the device and the status server.
// up() and down() log `<device>_up` / `<device>_down` on transitions only: a device that stays down
// through fifty reconnect attempts gives one down event (attempts are counted in the status).
class DeviceHealth {
 public:
  DeviceHealth(EventLog& log, std::string gate, std::string lane, std::string device, std::string url);
  void up(const Json& detail = Json::object());
  void down(const std::string& error);
  // A request the device refused (e.g. a Modbus exception): the link is up but the device is not well.
  void error(const std::string& error);
  bool connected() const;
  Json snapshot() const;

 private:
  EventLog& log_;
  std::string gate_, lane_, device_, url_;
  mutable std::mutex mu_;
  enum class State { connecting, up, down } state_ = State::connecting;
  std::string last_error_;
  std::string since_;                     // wall time of the last transition
  SteadyTime down_since_{};
  std::uint64_t connects_ = 0;            // successful connections (the first one included)
  std::uint64_t failures_ = 0;            // failed connection attempts and lost links
  std::uint64_t errors_ = 0;              // refused requests
};

}  // namespace gatetwin::gatectl
