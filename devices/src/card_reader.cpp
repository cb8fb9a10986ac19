#include "gatetwin/devices/card_reader.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <mutex>
#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "gatetwin/devices/wiegand_tcp.hpp"

namespace gatetwin::devices::card {

namespace asio = boost::asio;
namespace wt = wiegand_tcp;
using tcp = asio::ip::tcp;
using Bytes = std::vector<std::uint8_t>;
using SharedBytes = std::shared_ptr<const Bytes>;  // one encoded message, shared by every session's queue

namespace {

std::uint64_t mix(std::uint64_t x) { return splitmix64(x); }  // fault.hpp

std::string describe(const wiegand::Credential& c) {
  return std::string(c.format == wiegand::Format::W34 ? "W34" : "W26") + " facility " + std::to_string(c.facility) +
         " card " + std::to_string(c.card);
}

}  // namespace

// --- CardSource ----------------------------------------------------------------------------------------

std::string_view to_string(CardKind kind) {
  switch (kind) {
    case CardKind::valid: return "valid";
    case CardKind::revoked: return "revoked";
    case CardKind::cloned: return "cloned";
    case CardKind::misread: return "misread";
  }
  return "unknown";
}

CardSource::CardSource(std::vector<wiegand::Credential> enrolled, std::vector<wiegand::Credential> revoked,
                       std::uint64_t seed)
    : enrolled_(std::move(enrolled)), revoked_(std::move(revoked)), seed_(seed) {
  for (const auto* list : {&enrolled_, &revoked_})
    for (const auto& c : *list)
      if (!wiegand::encode(c)) throw std::invalid_argument("CardSource: " + describe(c) + " does not fit its format");
}

std::uint64_t CardSource::draw_bits(std::uint64_t n, std::uint64_t stream) const {
  return mix(mix(seed_ ^ mix(stream)) ^ n);
}

unsigned CardSource::misread_bit(unsigned bits, std::uint64_t n) const {
  const unsigned span = std::min(bits, 64u);
  return span == 0 ? 0 : static_cast<unsigned>(draw_bits(n, 1) % span);
}

Swipe CardSource::make(const wiegand::Credential& credential, CardKind kind, std::uint64_t n) const {
  const auto frame = wiegand::encode(credential);
  if (!frame) throw std::invalid_argument("CardSource: " + describe(credential) + " does not fit its format");
  Swipe s{*frame, kind, credential};
  // Valid, revoked and cloned cards all put the credential's own frame on the wire: what tells them apart
  // is who holds the card and the revoked list, which is the gate's business. A misread is one bad bit.
  if (kind == CardKind::misread) s.frame = wiegand::flip_bit(*frame, misread_bit(frame->bits, n));
  return s;
}

Swipe CardSource::draw(CardKind kind, std::uint64_t n) const {
  const auto& list = kind == CardKind::revoked ? revoked_ : enrolled_;
  if (list.empty())
    throw std::invalid_argument(std::string("CardSource: no ") +
                                (kind == CardKind::revoked ? "revoked" : "enrolled") + " credentials to draw from");
  // The credential's stream depends on the kind, so that swipe n of two kinds is not always the same card.
  const std::uint64_t pick = draw_bits(n, 16 + static_cast<std::uint64_t>(kind)) % list.size();
  return make(list[pick], kind, n);
}

// --- The reader's state (the listener) -------------------------------------------------------------------

std::string_view to_string(Fate fate) {
  switch (fate) {
    case Fate::sent: return "sent";
    case Fate::delayed: return "delayed";
    case Fate::off: return "off";
    case Fate::dropped: return "dropped";
    case Fate::overflow: return "overflow";
  }
  return "unknown";
}

struct CardReader::Impl : std::enable_shared_from_this<CardReader::Impl> {
  class Session;

  Impl(asio::io_context& io_, const Clock& clock_, FaultPlan plan_, ReaderOptions options_)
      : io(io_), clock(clock_), plan(std::move(plan_)), options(std::move(options_)), acceptor(io_),
        keepalive_timer(io_), release_timer(io_) {
    const tcp::endpoint endpoint(asio::ip::make_address(options.address), options.port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
    port = acceptor.local_endpoint().port();
  }

  void start() {
    accept();
    arm_keepalive();
  }

  Presented present(const wiegand::Frame& frame);
  void stop();

  // io_context thread only, below.
  void accept();
  void enqueue(SharedBytes bytes, std::uint32_t sequence, Micros release);
  void release_due();
  void arm_release();
  void arm_keepalive();
  void broadcast(const SharedBytes& bytes);
  SharedBytes make_message(wt::Type type) const;

  asio::io_context& io;
  const Clock& clock;
  const FaultPlan plan;
  const ReaderOptions options;
  tcp::acceptor acceptor;
  std::uint16_t port = 0;
  std::atomic<bool> stopped{false};

  // io_context thread only.
  asio::steady_timer keepalive_timer, release_timer;
  bool release_armed = false;
  std::vector<std::weak_ptr<Session>> sessions;
  struct Held {
    SharedBytes bytes;
    std::uint32_t sequence;
    Micros release;
  };
  std::deque<Held> held;                 // events waiting for their release time, in sequence order
  std::uint32_t released_sequence = 0;   // the last card event handed to the sessions

  // present()'s numbering, under present_mutex.
  std::mutex present_mutex;
  std::uint64_t swipes = 0;
  std::uint32_t sequence = 0;
  Micros last_release{std::numeric_limits<std::int64_t>::min()};
  std::atomic<std::size_t> pending{0};  // events posted by present() and not yet handed to the sessions

  struct {
    std::atomic<std::uint64_t> presents{0}, events{0}, swallowed_off{0}, dropped_intermittent{0},
        corrupted_garbage{0}, delayed{0}, held_overflows{0}, sessions_accepted{0}, sessions_refused{0}, messages_sent{0},
        keepalives_sent{0}, keepalives_received{0}, acks_received{0}, framing_errors{0}, protocol_errors{0},
        idle_timeouts{0}, write_timeouts{0}, queue_overflows{0};
  } counters;
};

// --- One connection ------------------------------------------------------------------------------------

// Owns the socket, a bounded queue of messages to write (one write in flight at a time), a read deadline
// (the host must send something every idle_timeout) and a write deadline (a host that stops reading is
// reset). Everything the host sends is decoded; anything but a keepalive or a proper ack closes the session.
class CardReader::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Impl> reader)
      : socket_(std::move(socket)), idle_timer_(socket_.get_executor()), write_timer_(socket_.get_executor()),
        reader_(std::move(reader)) {}

  void start() {
    boost::system::error_code ignore;
    socket_.non_blocking(true, ignore);  // send() writes at once when the socket has room
    // The first message says what the reader decodes and how often it will keep the link alive, unless
    // the reader is `off` (silent: the host learns nothing until the fault ends).
    if (!reader_->plan.is(reader_->clock.now(), FaultMode::off)) send(reader_->make_message(wt::Type::status));
    last_rx_ = std::chrono::steady_clock::now();
    if (reader_->options.idle_timeout.count() > 0) arm_idle();
    read();
  }

  // Sends a message: at once if nothing is waiting and the socket takes it whole (the usual case), else
  // after what is queued. A queue that is full because the host is not reading discards its oldest
  // message: the newest swipes matter most to a person at the gate, and the sequence numbers let the host
  // see the gap.
  void send(SharedBytes bytes) {
    if (closed_) return;
    if (!writing_ && queue_.empty()) {
      boost::system::error_code ec;
      const std::size_t n = socket_.write_some(asio::buffer(*bytes), ec);  // non-blocking (start())
      if (ec && ec != asio::error::would_block) return close();
      if (!ec && n == bytes->size()) {
        ++reader_->counters.messages_sent;
        return;
      }
      return write(std::move(bytes), ec ? 0 : n);
    }
    if (queue_.size() >= std::max<std::size_t>(reader_->options.max_queue, 1)) {
      queue_.pop_front();
      ++reader_->counters.queue_overflows;
    }
    queue_.push_back(std::move(bytes));
  }

  bool idle() const { return !writing_ && queue_.empty(); }

  // `reset`: drop unsent data and send RST (a host that stopped reading would otherwise hold the socket's
  // buffers until the kernel gives up).
  void close(bool reset = false) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    idle_timer_.cancel();
    write_timer_.cancel();
    queue_.clear();
    if (reset) {
      socket_.set_option(asio::socket_base::linger(true, 0), ec);
    } else {
      socket_.shutdown(tcp::socket::shutdown_both, ec);
    }
    socket_.close(ec);
  }

 private:
  void arm_idle() {
    idle_timer_.expires_at(last_rx_ + reader_->options.idle_timeout);
    idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      if (std::chrono::steady_clock::now() < self->last_rx_ + self->reader_->options.idle_timeout)
        return self->arm_idle();
      ++self->reader_->counters.idle_timeouts;
      self->close();
    });
  }

  // Writes the rest of a message from `offset`, then whatever was queued meanwhile, one at a time.
  void write(SharedBytes bytes, std::size_t offset) {
    inflight_ = std::move(bytes);
    writing_ = true;
    const std::uint64_t generation = ++write_generation_;
    if (reader_->options.write_timeout.count() > 0) arm_write_deadline(generation);
    asio::async_write(socket_, asio::buffer(inflight_->data() + offset, inflight_->size() - offset),
                      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                        self->writing_ = false;
                        self->inflight_.reset();
                        if (ec) return self->close();
                        self->write_timer_.cancel();
                        ++self->reader_->counters.messages_sent;
                        if (self->closed_ || self->queue_.empty()) return;
                        auto next = std::move(self->queue_.front());
                        self->queue_.pop_front();
                        self->write(std::move(next), 0);
                      });
  }

  void arm_write_deadline(std::uint64_t generation) {
    write_timer_.expires_after(reader_->options.write_timeout);
    write_timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
      // A stale expiry (the write finished and another began) is told apart by its generation.
      if (ec || self->closed_ || !self->writing_ || self->write_generation_ != generation) return;
      ++self->reader_->counters.write_timeouts;
      self->close(true);
    });
  }

  void read() {
    // At most one partial message plus one read's worth: complete messages are handled at once.
    const std::size_t have = rx_.size();
    rx_.resize(have + wt::kMaxFrameBytes);
    socket_.async_read_some(asio::buffer(rx_.data() + have, wt::kMaxFrameBytes),
                            [self = shared_from_this(), have](const boost::system::error_code& ec, std::size_t n) {
                              self->rx_.resize(have + n);
                              if (ec) return self->close();
                              self->on_bytes();
                            });
  }

  void on_bytes() {
    std::size_t used = 0;
    for (;;) {
      const auto d = wt::decode(std::span<const std::uint8_t>(rx_).subspan(used));
      if (d.status == wt::Status::need_more) break;
      if (d.status == wt::Status::error) {
        ++reader_->counters.framing_errors;
        return close();
      }
      used += d.consumed;
      if (!accept_from_host(d.message)) {
        ++reader_->counters.protocol_errors;
        return close();
      }
    }
    rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(used));
    if (used > 0) last_rx_ = std::chrono::steady_clock::now();
    read();
  }

  // A host may send keepalives and acks of events it was sent; card events and status are the
  // controller's, and an ack of an event not yet issued means the host is confused.
  bool accept_from_host(const wt::Message& m) {
    switch (m.type) {
      case wt::Type::keepalive:
        ++reader_->counters.keepalives_received;
        return true;
      case wt::Type::ack:
        if (m.acked == 0 || m.acked > reader_->released_sequence) return false;
        ++reader_->counters.acks_received;
        return true;
      case wt::Type::card:
      case wt::Type::status:
        return false;
    }
    return false;
  }

  tcp::socket socket_;
  asio::steady_timer idle_timer_, write_timer_;
  std::shared_ptr<Impl> reader_;
  std::deque<SharedBytes> queue_;
  SharedBytes inflight_;
  bool writing_ = false, closed_ = false;
  std::uint64_t write_generation_ = 0;
  Bytes rx_;
  std::chrono::steady_clock::time_point last_rx_;
};

// --- Listener, delay line, keepalives ------------------------------------------------------------------

void CardReader::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec || self->stopped) return;  // the acceptor was closed
    std::erase_if(self->sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
    boost::system::error_code ignore;
    if (self->sessions.size() >= self->options.max_sessions) {
      ++self->counters.sessions_refused;
      socket.close(ignore);
    } else {
      ++self->counters.sessions_accepted;
      if (self->options.send_buffer_bytes > 0)
        socket.set_option(asio::socket_base::send_buffer_size(self->options.send_buffer_bytes), ignore);
      auto s = std::make_shared<Session>(std::move(socket), self);
      self->sessions.push_back(s);
      s->start();
    }
    self->accept();
  });
}

SharedBytes CardReader::Impl::make_message(wt::Type type) const {
  wt::Message m;
  m.type = type;
  m.reader = options.reader_id;
  m.sequence = released_sequence;
  m.timestamp = clock.now();
  if (type == wt::Type::status) {
    const auto ms = std::clamp<std::int64_t>(options.keepalive.count(), 0, 0xFFFF);
    m.status = {wt::kFormatW26 | wt::kFormatW34, static_cast<std::uint16_t>(ms)};
  }
  return std::make_shared<const Bytes>(wt::encode(m));
}

Presented CardReader::Impl::present(const wiegand::Frame& frame) {
  if (frame.bits < 1 || frame.bits > wt::kMaxCardBits)
    throw std::invalid_argument("CardReader::present: a frame has 1..64 bits, got " + std::to_string(frame.bits));
  // One lock orders numbering, fault draws and posting, so the io_context sees events in sequence order.
  std::lock_guard lock(present_mutex);
  Presented p;
  p.swipe = swipes++;
  p.time = clock.now();
  ++counters.presents;
  if (plan.is(p.time, FaultMode::off)) {
    p.fate = Fate::off;
    ++counters.swallowed_off;
    return p;
  }
  if (plan.drops(p.time, p.swipe)) {
    p.fate = Fate::dropped;
    ++counters.dropped_intermittent;
    return p;
  }
  if (pending >= std::max<std::size_t>(options.max_held, 1)) {
    p.fate = Fate::overflow;
    ++counters.held_overflows;
    return p;
  }
  p.frame = frame;
  if (plan.is(p.time, FaultMode::garbage)) {
    const auto bit = static_cast<unsigned>(plan.uniform(p.swipe, kGarbageStream) * frame.bits);
    p.frame = wiegand::flip_bit(frame, std::min(bit, frame.bits - 1));
    p.corrupted = true;
    ++counters.corrupted_garbage;
  }
  p.sequence = ++sequence;
  ++counters.events;
  // The link keeps order: an event never leaves before one presented earlier, whatever their jitter.
  p.release = std::max(p.time + plan.latency(p.time, p.swipe), last_release);
  last_release = p.release;
  if (p.release > p.time) {
    p.fate = Fate::delayed;
    ++counters.delayed;
  }
  ++pending;
  wt::Message m;
  m.type = wt::Type::card;
  m.reader = options.reader_id;
  m.sequence = p.sequence;
  m.timestamp = p.time;
  m.card = p.frame;
  asio::post(io, [self = shared_from_this(), bytes = std::make_shared<const Bytes>(wt::encode(m)), seq = p.sequence,
                  release = p.release]() mutable { self->enqueue(std::move(bytes), seq, release); });
  return p;
}

void CardReader::Impl::enqueue(SharedBytes bytes, std::uint32_t seq, Micros release) {
  if (stopped) return;
  held.push_back({std::move(bytes), seq, release});
  release_due();
}

// Hands every held event whose release time has come to the sessions, in order; polls again while any is
// left (simulated time may be a ManualClock that only its owner moves, so no wall-time wait is exact).
void CardReader::Impl::release_due() {
  const Micros now = clock.now();
  while (!held.empty() && held.front().release <= now) {
    released_sequence = held.front().sequence;
    broadcast(held.front().bytes);
    held.pop_front();
    --pending;
  }
  if (!held.empty()) arm_release();
}

void CardReader::Impl::arm_release() {
  if (release_armed) return;
  release_armed = true;
  release_timer.expires_after(options.delay_poll);
  release_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->release_armed = false;
    if (ec || self->stopped) return;
    self->release_due();
  });
}

void CardReader::Impl::broadcast(const SharedBytes& bytes) {
  for (auto& w : sessions)
    if (auto s = w.lock()) s->send(bytes);
}

// Keepalives go only to sessions with nothing queued (traffic already shows the reader is alive), and not
// at all while the reader is `off`.
void CardReader::Impl::arm_keepalive() {
  if (options.keepalive.count() <= 0) return;
  keepalive_timer.expires_after(options.keepalive);
  keepalive_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped) return;
    if (!self->plan.is(self->clock.now(), FaultMode::off)) {
      SharedBytes message;
      for (auto& w : self->sessions) {
        const auto s = w.lock();
        if (!s || !s->idle()) continue;
        if (!message) message = self->make_message(wt::Type::keepalive);
        ++self->counters.keepalives_sent;  // before the send, which the host may see at once
        s->send(message);
      }
    }
    self->arm_keepalive();
  });
}

void CardReader::Impl::stop() {
  stopped = true;
  boost::system::error_code ec;
  acceptor.close(ec);
  keepalive_timer.cancel();
  release_timer.cancel();
  for (auto& w : sessions)
    if (auto s = w.lock()) s->close();
  sessions.clear();
  held.clear();
}

// --- CardReader ----------------------------------------------------------------------------------------

CardReader::CardReader(asio::io_context& io, const Clock& clock, FaultPlan faults, ReaderOptions options)
    : impl_(std::make_shared<Impl>(io, clock, std::move(faults), std::move(options))) {
  impl_->start();
}

CardReader::~CardReader() { impl_->stop(); }

std::uint16_t CardReader::port() const { return impl_->port; }

Presented CardReader::present(const wiegand::Frame& frame) { return impl_->present(frame); }

void CardReader::stop() { impl_->stop(); }

ReaderCounters CardReader::counters() const {
  const auto& a = impl_->counters;
  ReaderCounters c;
  c.presents = a.presents, c.events = a.events, c.swallowed_off = a.swallowed_off;
  c.dropped_intermittent = a.dropped_intermittent, c.corrupted_garbage = a.corrupted_garbage, c.delayed = a.delayed;
  c.held_overflows = a.held_overflows;
  c.sessions_accepted = a.sessions_accepted, c.sessions_refused = a.sessions_refused;
  c.messages_sent = a.messages_sent, c.keepalives_sent = a.keepalives_sent;
  c.keepalives_received = a.keepalives_received, c.acks_received = a.acks_received;
  c.framing_errors = a.framing_errors, c.protocol_errors = a.protocol_errors;
  c.idle_timeouts = a.idle_timeouts, c.write_timeouts = a.write_timeouts, c.queue_overflows = a.queue_overflows;
  return c;
}

}  // namespace gatetwin::devices::card
