#pragma once
// The daemon's device clients, one lane's worth each, all reconnecting with backoff:
//   - CameraLink: a thread that reads frames with OpenCV's VideoCapture (FFmpeg) and keeps only the
//     newest one in the lane's inbox (a lane that analyses slower than the camera sends decides on the
//     freshest picture, never on a growing backlog);
//   - ReaderLink: a thread that holds the TCP connection to the access controller, decodes the Wiegand
//     transport (docs/wiegand.md) with the devices codec, queues card events and sends keepalives and acks;
//   - ModbusLink: a libmodbus client for the thermal sensor or the door relay, used from the lane's worker
//     thread (requests are short and bounded by the response timeout).
// Bytes from the network never throw and never crash: they end a session, are counted and reconnected.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include <opencv2/core.hpp>

#include "daemon_events.hpp"
#include "gatetwin/devices/wiegand.hpp"

struct _modbus;

namespace gatetwin::gatectl {

struct Frame {
  cv::Mat image;
  SteadyTime time;                        // when the frame was read
  std::uint64_t index = 0;                // frames read on this lane, from 1
};

struct CardSwipe {
  devices::wiegand::Frame bits{0, 0};     // as read, parity not checked
  std::uint32_t sequence = 0;             // the controller's event number
  std::int64_t reader_time_us = 0;        // the controller's clock at the read
  std::uint16_t reader = 0;
  SteadyTime received;
};

// What the device threads hand to a lane's worker: the newest frame, queued card events, and the acks the
// worker sends back. Bounded: one frame (an unprocessed one is replaced), kMaxCards card events (the
// oldest is dropped and counted).
class LaneInbox {
 public:
  static constexpr std::size_t kMaxCards = 64;
  LaneInbox();
  ~LaneInbox();
  LaneInbox(const LaneInbox&) = delete;
  LaneInbox& operator=(const LaneInbox&) = delete;

  void put_frame(cv::Mat image, SteadyTime time);
  void put_card(const CardSwipe& card);
  // Stop taking frames; cards already queued are still handed out, then wait() reports closed.
  void close();

  struct Item {
    std::optional<CardSwipe> card;        // cards first: a swipe is a deliberate act
    std::optional<Frame> frame;
    bool closed = false;                  // closed and no card left
  };
  Item wait(SteadyTime deadline);

  // Acks for processed card events, carried back to the reader thread (ack_fd() becomes readable).
  void ack(std::uint32_t sequence);
  std::vector<std::uint32_t> take_acks();
  int ack_fd() const { return ack_fd_; }

  struct Counters {
    std::uint64_t frames = 0, frames_replaced = 0, cards = 0, cards_dropped = 0;
  };
  Counters counters() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Frame> frame_;
  std::deque<CardSwipe> cards_;
  std::vector<std::uint32_t> acks_;
  bool closed_ = false;
  Counters counters_;
  int ack_fd_ = -1;
};

class CameraLink {
 public:
  CameraLink(const DaemonConfig& config, const LaneConfig& lane, DeviceHealth& health, LaneInbox& inbox,
             StopFlag& stop);
  void run();  // the thread body: open, read, reconnect with backoff, until stop

 private:
  const DaemonConfig& config_;
  const LaneConfig& lane_;
  DeviceHealth& health_;
  LaneInbox& inbox_;
  StopFlag& stop_;
};

class ReaderLink {
 public:
  ReaderLink(const DaemonConfig& config, const LaneConfig& lane, DeviceHealth& health, LaneInbox& inbox,
             StopFlag& stop, EventLog& log);
  void run();  // the thread body
  Json counters() const;

 private:
  int connect_once(std::string& error);
  // One connection, until it fails (returns its error) or stop is requested (returns nullopt).
  std::optional<std::string> session(int fd);
  bool send(int fd, std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& message);
  void note_sequence(std::uint32_t last_issued, bool card);

  const DaemonConfig& config_;
  const LaneConfig& lane_;
  DeviceHealth& health_;
  LaneInbox& inbox_;
  StopFlag& stop_;
  EventLog& log_;
  std::uint32_t host_sequence_ = 0;
  std::optional<std::uint32_t> last_sequence_;  // the last controller event number seen
  std::atomic<std::uint64_t> messages_{0}, card_events_{0}, keepalives_{0}, missed_{0}, framing_errors_{0}, acks_sent_{0};
};

// One Modbus TCP device. Used by one thread (the lane's worker). A link failure (timeout, reset, a reply
// that breaks the framing) closes the connection and reconnects after the backoff; an exception reply
// leaves the link up and counts as a refused request.
class ModbusLink {
 public:
  enum class Kind { thermal, relay };
  ModbusLink(Kind kind, const ModbusEndpoint& endpoint, Millis timeout, const Reconnect& backoff,
             DeviceHealth& health);
  ~ModbusLink();
  ModbusLink(const ModbusLink&) = delete;
  ModbusLink& operator=(const ModbusLink&) = delete;

  // True when the link is up; connects (with one probe request) first if it is down and the backoff has
  // run out, or at once when `urgent` (a grant that must open the door does not wait for the schedule).
  bool ensure(bool urgent);
  // Probes an idle device (thermal: the device id register, which takes no measurement; relay: door state,
  // state-change counter, contact and alarms) or reconnects a lost one when due.
  void health_tick();
  bool up() const { return up_; }
  SteadyTime next_attempt() const { return next_attempt_; }

  enum class Result { ok, unreachable, refused };
  // One request: f(ctx) returns libmodbus's result (-1 with errno on failure).
  Result call(const std::function<int(_modbus*)>& f, std::string& error);

  Json snapshot() const;                  // relay: the last door state read; thermal: device id

 private:
  bool connect_and_probe(std::string& error);
  Result raw(const std::function<int(_modbus*)>& f, std::string& error);  // no side effects on the link
  Result probe(std::string& error);
  void drop(const std::string& error);

  Kind kind_;
  ModbusEndpoint endpoint_;
  Millis timeout_;
  Backoff backoff_;
  DeviceHealth& health_;
  _modbus* ctx_ = nullptr;
  bool up_ = false;
  SteadyTime next_attempt_{};
  mutable std::mutex mu_;                 // guards detail_ (read by the status server)
  Json detail_ = Json::object();
};

}  // namespace gatetwin::gatectl
