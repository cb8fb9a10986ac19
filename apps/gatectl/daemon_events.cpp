#include "daemon_events.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <system_error>

namespace gatetwin::gatectl {

std::int64_t mono_us(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  const auto us = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1000 - (us % 1000 < 0 ? 1 : 0));
  const int ms = static_cast<int>(((us % 1000) + 1000) % 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  const long off = tm.tm_gmtoff;
  char out[64];
  std::snprintf(out, sizeof out, "%s.%03d%c%02ld:%02ld", date, ms, off < 0 ? '-' : '+', std::labs(off) / 3600,
                (std::labs(off) % 3600) / 60);
  return out;
}

EventLog::EventLog(const std::string& target, bool fsync) : fsync_(fsync) {
  if (target == "-") {
    fd_ = STDOUT_FILENO;
    return;
  }
  fd_ = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) throw std::runtime_error("events: cannot open " + target + ": " + std::strerror(errno));
  owned_ = true;
}

EventLog::~EventLog() {
  if (owned_) ::close(fd_);
}

std::string EventLog::write(const Json& event) {
  const auto now = std::chrono::system_clock::now();
  Json line;
  line["time"] = iso_time(now);
  line["mono_us"] = mono_us();
  for (auto it = event.begin(); it != event.end(); ++it) line[it.key()] = it.value();
  // Text from devices (error strings, URLs) need not be UTF-8: replace rather than throw.
  const std::string text = line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  std::lock_guard lock(mu_);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (errors_.fetch_add(1) == 0) std::cerr << "gatectl: event log write failed: " << std::strerror(errno) << "\n";
      return line["time"];
    }
    done += static_cast<std::size_t>(n);
  }
  if (fsync_ && owned_) ::fsync(fd_);
  lines_.fetch_add(1);
  return line["time"];
}

StopFlag::StopFlag() {
  fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

StopFlag::~StopFlag() { ::close(fd_); }

void StopFlag::request() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true);
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(fd_, &one, sizeof one);  // the fd stays readable: never read back
  cv_.notify_all();
}

bool StopFlag::wait_for(Millis d) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, d, [this] { return stop_.load(); });
}

DeviceHealth::DeviceHealth(EventLog& log, std::string gate, std::string lane, std::string device, std::string url)
    : log_(log), gate_(std::move(gate)), lane_(std::move(lane)), device_(std::move(device)), url_(std::move(url)) {}

void DeviceHealth::up(const Json& detail) {
  Json e;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::up) return;
    ++connects_;
    const auto now = std::chrono::steady_clock::now();
    e["event"] = device_ + "_up";
    e["gate"] = gate_;
    e["lane"] = lane_;
    e["device"] = device_;
    e["url"] = url_;
    if (state_ == State::down) {
      e["down_for_s"] = std::round(std::chrono::duration<double>(now - down_since_).count() * 1000) / 1000;
      e["failed_attempts"] = failures_;
    }
    for (auto it = detail.begin(); it != detail.end(); ++it) e[it.key()] = it.value();
    state_ = State::up;
  }
  const std::string t = log_.write(e);
  std::lock_guard lock(mu_);
  since_ = t;
}

void DeviceHealth::down(const std::string& error) {
  Json e;
  {
    std::lock_guard lock(mu_);
    ++failures_;
    last_error_ = error;
    if (state_ == State::down) return;
    down_since_ = std::chrono::steady_clock::now();
    e["event"] = device_ + "_down";
    e["gate"] = gate_;
    e["lane"] = lane_;
    e["device"] = device_;
    e["url"] = url_;
    e["error"] = error;
    e["was"] = state_ == State::up ? "up" : "connecting";
    state_ = State::down;
  }
  const std::string t = log_.write(e);
  std::lock_guard lock(mu_);
  since_ = t;
}

void DeviceHealth::error(const std::string& error) {
  std::lock_guard lock(mu_);
  ++errors_;
  last_error_ = error;
}

bool DeviceHealth::connected() const {
  std::lock_guard lock(mu_);
  return state_ == State::up;
}

Json DeviceHealth::snapshot() const {
  std::lock_guard lock(mu_);
  Json j;
  j["url"] = url_;
  j["state"] = state_ == State::up ? "up" : state_ == State::down ? "down" : "connecting";
  j["connected"] = state_ == State::up;
  j["since"] = since_.empty() ? Json(nullptr) : Json(since_);
  j["last_error"] = last_error_.empty() ? Json(nullptr) : Json(last_error_);
  j["connects"] = connects_;
  j["reconnects"] = connects_ > 0 ? connects_ - 1 : 0;
  j["failures"] = failures_;
  j["refused_requests"] = errors_;
  return j;
}

}  // namespace gatetwin::gatectl
