#include "daemon_devices.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include <modbus/modbus.h>
#include <opencv2/videoio.hpp>

#include "gatetwin/devices/wiegand_tcp.hpp"

namespace gatetwin::gatectl {

namespace wt = gatetwin::devices::wiegand_tcp;
using Clock = std::chrono::steady_clock;

// ---- LaneInbox ------------------------------------------------------------------------------------------

LaneInbox::LaneInbox() {
  ack_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ack_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

LaneInbox::~LaneInbox() { ::close(ack_fd_); }

void LaneInbox::put_frame(cv::Mat image, SteadyTime time) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    ++counters_.frames;
    if (frame_) ++counters_.frames_replaced;
    frame_ = Frame{std::move(image), time, counters_.frames};
  }
  cv_.notify_one();
}

void LaneInbox::put_card(const CardSwipe& card) {
  {
    std::lock_guard lock(mu_);
    ++counters_.cards;
    if (cards_.size() >= kMaxCards) {
      cards_.pop_front();
      ++counters_.cards_dropped;
    }
    cards_.push_back(card);
  }
  cv_.notify_one();
}

void LaneInbox::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    frame_.reset();
  }
  cv_.notify_all();
}

LaneInbox::Item LaneInbox::wait(SteadyTime deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [this] { return closed_ || frame_ || !cards_.empty(); });
  Item item;
  if (!cards_.empty()) {
    item.card = cards_.front();
    cards_.pop_front();
  } else if (frame_) {
    item.frame = std::move(frame_);
    frame_.reset();
  } else {
    item.closed = closed_;
  }
  return item;
}

void LaneInbox::ack(std::uint32_t sequence) {
  {
    std::lock_guard lock(mu_);
    if (acks_.size() < 4 * kMaxCards) acks_.push_back(sequence);  // acks are a courtesy: never unbounded
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(ack_fd_, &one, sizeof one);
}

std::vector<std::uint32_t> LaneInbox::take_acks() {
  std::uint64_t drained = 0;
  [[maybe_unused]] const auto n = ::read(ack_fd_, &drained, sizeof drained);
  std::lock_guard lock(mu_);
  std::vector<std::uint32_t> out;
  out.swap(acks_);
  return out;
}

LaneInbox::Counters LaneInbox::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

// ---- CameraLink -----------------------------------------------------------------------------------------

CameraLink::CameraLink(const DaemonConfig& config, const LaneConfig& lane, DeviceHealth& health, LaneInbox& inbox,
                       StopFlag& stop)
    : config_(config), lane_(lane), health_(health), inbox_(inbox), stop_(stop) {}

void CameraLink::run() {
  Backoff backoff(config_.reconnect);
  const std::vector<int> params{cv::CAP_PROP_OPEN_TIMEOUT_MSEC, static_cast<int>(config_.camera_open_timeout.count()),
                                cv::CAP_PROP_READ_TIMEOUT_MSEC, static_cast<int>(config_.camera_read_timeout.count())};
  auto read = [](cv::VideoCapture& cap, cv::Mat& frame) {
    try {
      return cap.read(frame) && !frame.empty();
    } catch (const cv::Exception&) {
      return false;
    }
  };
  while (!stop_.requested()) {
    cv::VideoCapture cap;
    bool opened = false;
    try {
      opened = cap.open(lane_.camera, cv::CAP_FFMPEG, params) && cap.isOpened();
    } catch (const cv::Exception&) {
      opened = false;
    }
    cv::Mat frame;
    if (!opened) {
      health_.down("cannot open the stream (refused, unreachable, unauthorised, or no video within " +
                   std::to_string(config_.camera_open_timeout.count()) + " ms)");
    } else if (!read(cap, frame)) {
      health_.down("stream opened but no frame within " + std::to_string(config_.camera_read_timeout.count()) + " ms");
    } else {
      health_.up({{"width", frame.cols}, {"height", frame.rows}});
      backoff.reset();
      inbox_.put_frame(std::move(frame), Clock::now());
      while (!stop_.requested()) {
        cv::Mat next;  // a fresh Mat per frame: the worker may still hold the previous one
        if (!read(cap, next)) {
          health_.down("stream lost: no frame within " + std::to_string(config_.camera_read_timeout.count()) +
                       " ms or the connection closed");
          break;
        }
        inbox_.put_frame(std::move(next), Clock::now());
      }
    }
    cap.release();
    if (stop_.requested()) break;
    stop_.wait_for(backoff.next());
  }
}

// ---- ReaderLink -----------------------------------------------------------------------------------------

ReaderLink::ReaderLink(const DaemonConfig& config, const LaneConfig& lane, DeviceHealth& health, LaneInbox& inbox,
                       StopFlag& stop, EventLog& log)
    : config_(config), lane_(lane), health_(health), inbox_(inbox), stop_(stop), log_(log) {}

Json ReaderLink::counters() const {
  return {{"messages", messages_.load()},     {"card_events", card_events_.load()}, {"keepalives", keepalives_.load()},
          {"missed_events", missed_.load()},  {"framing_errors", framing_errors_.load()}, {"acks_sent", acks_sent_.load()}};
}

int ReaderLink::connect_once(std::string& error) {
  const ReaderEndpoint& ep = *lane_.reader;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (const int rc = ::getaddrinfo(ep.host.c_str(), std::to_string(ep.port).c_str(), &hints, &list); rc != 0) {
    error = "cannot resolve " + ep.host + ": " + ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  error = "no address for " + ep.host;
  for (addrinfo* a = list; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS) {
      pollfd p[2] = {{fd, POLLOUT, 0}, {stop_.fd(), POLLIN, 0}};
      const int n = ::poll(p, 2, static_cast<int>(config_.connect_timeout.count()));
      int so = 0;
      socklen_t len = sizeof so;
      if (n > 0 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP)) && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) == 0 &&
          so == 0)
        break;
      error = n == 0 ? "connect: no answer within " + std::to_string(config_.connect_timeout.count()) + " ms"
                     : std::string("connect: ") + std::strerror(so ? so : errno);
    } else {
      error = std::string("connect: ") + std::strerror(errno);
    }
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(list);
  return fd;
}

void ReaderLink::note_sequence(std::uint32_t seq, bool card) {
  if (!last_sequence_) {
    // Events issued before this host first connected are not its business; a first card counts itself.
    last_sequence_ = card ? seq - 1 : seq;
  }
  const std::uint32_t last = *last_sequence_;
  if (seq > last + (card ? 1u : 0u)) {
    const std::uint32_t first = last + 1, to = card ? seq - 1 : seq;
    missed_ += to - first + 1;
    log_.write({{"event", "card_events_missed"}, {"gate", config_.gate}, {"lane", lane_.name}, {"device", "reader"},
                {"first_sequence", first}, {"last_sequence", to}, {"count", to - first + 1}});
  }
  // A lower number than seen before means the controller restarted its numbering: follow it.
  last_sequence_ = seq;
}

bool ReaderLink::send(int fd, std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& message) {
  if (out.size() + message.size() > 4096) return false;  // the controller has stopped reading
  out.insert(out.end(), message.begin(), message.end());
  while (!out.empty()) {
    const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // the rest goes when poll says so
    if (n <= 0) return false;
    out.erase(out.begin(), out.begin() + n);
  }
  return true;
}

std::optional<std::string> ReaderLink::session(int fd) {
  std::vector<std::uint8_t> in, out;
  in.reserve(4096 + wt::kMaxFrameBytes);
  bool alive = false;                     // a status (or any valid message) arrived on this connection
  std::uint16_t keepalive_ms = 0;
  const auto connected = Clock::now();
  auto last_rx = connected;
  auto next_keepalive = connected + std::chrono::seconds(10);
  auto host_message = [this](wt::Type type, std::uint32_t acked) {
    wt::Message m;
    m.type = type;
    m.sequence = ++host_sequence_;
    m.timestamp = devices::Micros{-1};    // the host has no simulated clock
    m.acked = acked;
    return wt::encode(m);
  };
  while (!stop_.requested()) {
    const auto now = Clock::now();
    // Dead peer: no first message within connect_timeout; then three keepalive intervals of silence.
    const auto deadline = !alive ? connected + config_.connect_timeout
                                 : keepalive_ms > 0 ? last_rx + 3 * Millis(keepalive_ms) : SteadyTime::max();
    if (now >= deadline)
      return !alive ? "no status message within " + std::to_string(config_.connect_timeout.count()) + " ms"
                    : "controller silent for three keepalive intervals (" + std::to_string(3 * keepalive_ms) + " ms)";
    if (alive && now >= next_keepalive) {
      if (!send(fd, out, host_message(wt::Type::keepalive, 0))) return "cannot send a keepalive";
      next_keepalive = now + (keepalive_ms > 0 ? Millis(keepalive_ms) : Millis(10000));
    }
    for (const std::uint32_t seq : inbox_.take_acks()) {
      if (!send(fd, out, host_message(wt::Type::ack, seq))) return "cannot send an ack";
      ++acks_sent_;
    }
    const auto until = std::min({deadline, alive ? next_keepalive : deadline, now + Millis(1000)});
    const int timeout = static_cast<int>(std::max<std::int64_t>(
        1, std::chrono::duration_cast<Millis>(until - now).count()));
    pollfd p[3] = {{fd, static_cast<short>(POLLIN | (out.empty() ? 0 : POLLOUT)), 0},
                   {stop_.fd(), POLLIN, 0},
                   {inbox_.ack_fd(), POLLIN, 0}};
    if (::poll(p, 3, timeout) < 0) {
      if (errno == EINTR) continue;
      return std::string("poll: ") + std::strerror(errno);
    }
    if ((p[0].revents & POLLOUT) && !send(fd, out, {})) return "connection lost while sending";
    if (!(p[0].revents & (POLLIN | POLLERR | POLLHUP))) continue;
    std::uint8_t chunk[4096];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) return std::string("connection lost: ") + std::strerror(errno);
    if (n == 0) return "connection closed by the controller";
    in.insert(in.end(), chunk, chunk + n);
    last_rx = Clock::now();
    // Every complete message in the buffer; what stays is at most one partial message (< 31 bytes).
    while (!in.empty()) {
      const wt::Decoded d = wt::decode(in);
      if (d.status == wt::Status::need_more) break;
      if (d.status == wt::Status::error) {
        ++framing_errors_;
        return "unreadable message from the controller: " + d.error;
      }
      in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(d.consumed));
      ++messages_;
      const wt::Message& m = d.message;
      if (m.type == wt::Type::ack) return "the controller sent an ack (a host-to-controller message)";
      if (m.type == wt::Type::status) {
        keepalive_ms = m.status.keepalive_ms;
        next_keepalive = last_rx + (keepalive_ms > 0 ? Millis(keepalive_ms) : Millis(10000));
      }
      if (!alive) {  // up before anything this connection tells (missed events, cards) is logged
        alive = true;
        Json detail = {{"keepalive_ms", keepalive_ms}};
        if (m.type == wt::Type::status)
          detail["formats"] = std::string(m.status.formats & wt::kFormatW26 ? "W26 " : "") +
                              (m.status.formats & wt::kFormatW34 ? "W34" : "");
        health_.up(detail);
      }
      if (m.type == wt::Type::card) {
        ++card_events_;
        note_sequence(m.sequence, true);
        inbox_.put_card({m.card, m.sequence, m.timestamp.count(), m.reader, last_rx});
      } else {
        if (m.type == wt::Type::keepalive) ++keepalives_;
        note_sequence(m.sequence, false);
      }
    }
  }
  return std::nullopt;
}

void ReaderLink::run() {
  Backoff backoff(config_.reconnect);
  while (!stop_.requested()) {
    std::string error;
    const int fd = connect_once(error);
    if (fd >= 0) {
      const auto result = session(fd);
      ::close(fd);
      if (!result) break;  // stopped
      error = *result;
      if (health_.connected()) backoff.reset();  // the link worked: come back quickly
    }
    if (stop_.requested()) break;
    health_.down(error);
    stop_.wait_for(backoff.next());
  }
}

// ---- ModbusLink -----------------------------------------------------------------------------------------

namespace {

bool is_exception(int err) { return err > MODBUS_ENOBASE && err <= MODBUS_ENOBASE + MODBUS_EXCEPTION_GATEWAY_TARGET; }

const char* door_state_name(std::uint16_t code) {
  static constexpr const char* names[] = {"locked", "unlocked", "open", "closed", "forced_open"};
  return code < 5 ? names[code] : "unknown";
}

}  // namespace

ModbusLink::ModbusLink(Kind kind, const ModbusEndpoint& endpoint, Millis timeout, const Reconnect& backoff,
                       DeviceHealth& health)
    : kind_(kind), endpoint_(endpoint), timeout_(timeout), backoff_(backoff), health_(health) {}

ModbusLink::~ModbusLink() {
  if (ctx_) {
    modbus_close(ctx_);
    modbus_free(ctx_);
  }
}

void ModbusLink::drop(const std::string& error) {
  if (ctx_) {
    modbus_close(ctx_);
    modbus_free(ctx_);
    ctx_ = nullptr;
  }
  up_ = false;
  health_.down(error);
  next_attempt_ = Clock::now() + backoff_.next();
}

bool ModbusLink::connect_and_probe(std::string& error) {
  ctx_ = modbus_new_tcp_pi(endpoint_.host.c_str(), std::to_string(endpoint_.port).c_str());
  if (!ctx_) {
    error = std::string("cannot create a Modbus context: ") + modbus_strerror(errno);
    return false;
  }
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout_).count();
  const auto sec = static_cast<std::uint32_t>(us / 1'000'000), usec = static_cast<std::uint32_t>(us % 1'000'000);
  modbus_set_slave(ctx_, endpoint_.unit);
  modbus_set_response_timeout(ctx_, sec, usec);  // libmodbus also bounds connect() by it
  modbus_set_byte_timeout(ctx_, sec, usec);
  if (modbus_connect(ctx_) == -1) {
    error = std::string("connect: ") + modbus_strerror(errno);
    modbus_free(ctx_);
    ctx_ = nullptr;
    return false;
  }
  // A device whose TCP port accepts but which does not answer (a hung firmware, the `off` fault) is not
  // up: one request must come back.
  const Result r = probe(error);
  if (r == Result::unreachable) {
    modbus_close(ctx_);
    modbus_free(ctx_);
    ctx_ = nullptr;
    return false;
  }
  if (r == Result::refused) health_.error("refused: " + error);
  return true;
}

bool ModbusLink::ensure(bool urgent) {
  if (up_) return true;
  if (!urgent && Clock::now() < next_attempt_) return false;
  std::string error;
  if (!connect_and_probe(error)) {
    health_.down(error);
    next_attempt_ = Clock::now() + backoff_.next();
    return false;
  }
  up_ = true;
  backoff_.reset();
  health_.up(snapshot());
  return true;
}

ModbusLink::Result ModbusLink::raw(const std::function<int(_modbus*)>& f, std::string& error) {
  if (!ctx_) {
    error = "not connected";
    return Result::unreachable;
  }
  if (f(ctx_) != -1) return Result::ok;
  const int err = errno;
  error = modbus_strerror(err);
  return is_exception(err) ? Result::refused : Result::unreachable;
}

ModbusLink::Result ModbusLink::call(const std::function<int(_modbus*)>& f, std::string& error) {
  if (!up_) {
    error = "not connected";
    return Result::unreachable;
  }
  const Result r = raw(f, error);
  if (r == Result::refused) health_.error("refused: " + error);
  // A timeout, a reset or a reply that broke the framing: start again from a clean connection.
  if (r == Result::unreachable) drop(error);
  return r;
}

ModbusLink::Result ModbusLink::probe(std::string& error) {
  if (kind_ == Kind::thermal) {
    std::uint16_t id = 0;
    const Result r = raw([&](modbus_t* c) { return modbus_read_registers(c, 2, 1, &id); }, error);
    if (r == Result::ok) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%04X", id);
      std::lock_guard lock(mu_);
      detail_["device_id"] = hex;
    }
    return r;
  }
  std::uint16_t regs[3] = {0, 0, 0};
  std::uint8_t bits[4] = {0, 0, 0, 0};
  Result r = raw([&](modbus_t* c) { return modbus_read_input_registers(c, 0, 3, regs); }, error);
  if (r == Result::ok) r = raw([&](modbus_t* c) { return modbus_read_input_bits(c, 0, 4, bits); }, error);
  if (r == Result::ok) {
    std::lock_guard lock(mu_);
    detail_["door_state"] = door_state_name(regs[0]);
    detail_["state_changes"] = (static_cast<std::uint32_t>(regs[1]) << 16) | regs[2];
    detail_["door_open"] = bits[0] != 0;
    detail_["held_open_alarm"] = bits[2] != 0;
    detail_["forced_open_alarm"] = bits[3] != 0;
  }
  return r;
}

void ModbusLink::health_tick() {
  if (!up_) {
    ensure(false);
    return;
  }
  std::string error;
  const Result r = probe(error);
  if (r == Result::refused) health_.error("refused: " + error);
  if (r == Result::unreachable) drop(error);
}

Json ModbusLink::snapshot() const {
  std::lock_guard lock(mu_);
  return detail_;
}

}  // namespace gatetwin::gatectl
