#include "gatetwin/devices/modbus_server.hpp"

#include <algorithm>
#include <exception>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace gatetwin::devices::modbus {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

RegisterBank::RegisterBank(std::size_t n_coils, std::size_t n_discrete, std::size_t n_holding, std::size_t n_input)
    : coils(n_coils), discrete_inputs(n_discrete), holding(n_holding), input(n_input) {}

Response RegisterBank::handle(const Request& q) {
  Response r;
  r.header = q.header;
  r.function = q.function;
  r.address = q.address;
  r.quantity = q.quantity;
  const auto in_range = [&](std::size_t size) {
    return static_cast<std::size_t>(q.address) + q.quantity <= size;
  };
  switch (q.function) {
    case 0x01:
    case 0x02: {
      const auto& bits = q.function == 0x01 ? coils : discrete_inputs;
      if (!in_range(bits.size())) return exception_response(q, Exception::illegal_data_address);
      r.bits.assign(bits.begin() + q.address, bits.begin() + q.address + q.quantity);
      return r;
    }
    case 0x03:
    case 0x04: {
      const auto& regs = q.function == 0x03 ? holding : input;
      if (!in_range(regs.size())) return exception_response(q, Exception::illegal_data_address);
      r.registers.assign(regs.begin() + q.address, regs.begin() + q.address + q.quantity);
      return r;
    }
    case 0x05:
    case 0x0F:
      if (!in_range(coils.size())) return exception_response(q, Exception::illegal_data_address);
      std::copy(q.bits.begin(), q.bits.end(), coils.begin() + q.address);
      r.bits = q.bits;
      return r;
    case 0x06:
    case 0x10:
      if (!in_range(holding.size())) return exception_response(q, Exception::illegal_data_address);
      std::copy(q.registers.begin(), q.registers.end(), holding.begin() + q.address);
      r.registers = q.registers;
      return r;
    default:
      return exception_response(q, Exception::illegal_function);
  }
}

Reply Handler::reply(const Request& q) {
  if (q.malformed) return {exception_response(q, *q.malformed), {}};
  return {handle(q), {}};
}

Reply reply_under_faults(Handler& device, const FaultPlan& plan, Micros t, std::uint64_t event, const Request& q) {
  const auto held = std::chrono::duration_cast<std::chrono::microseconds>(plan.latency(t, event));
  if (plan.is(t, FaultMode::off) || plan.drops(t, event)) return Reply{};
  if (const auto g = plan.active(t, FaultMode::garbage)) {
    const auto code = g->value >= 1.0 && g->value <= 255.0 ? static_cast<std::uint8_t>(g->value) : std::uint8_t{0x04};
    return Reply{exception_response(q, static_cast<Exception>(code)), held};
  }
  Reply r = device.Handler::reply(q);
  r.delay = held;
  return r;
}

// One connection: read what arrives into a bounded buffer, answer every complete frame in order, close on a
// broken frame, on the peer closing, or when no request came within the idle timeout.
class Server::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Handler& handler, std::chrono::milliseconds idle, std::shared_ptr<AtomicCounters> counters)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), delay_(socket_.get_executor()), handler_(handler), idle_(idle),
        counters_(std::move(counters)) {}

  void start() {
    boost::system::error_code ignore;
    socket_.non_blocking(true, ignore);  // replies are written at once when they fit (on_bytes)
    last_request_ = std::chrono::steady_clock::now();
    arm_deadline();
    read();
  }

  void close() {
    boost::system::error_code ec;
    timer_.cancel();
    delay_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  // The idle deadline: requests only note their time (re-arming a timer on every request costs more than
  // serving it); when the timer fires it closes the session or waits out the rest from the last request.
  void arm_deadline() {
    timer_.expires_at(last_request_ + idle_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: the session closed
      if (std::chrono::steady_clock::now() < self->last_request_ + self->idle_) return self->arm_deadline();
      ++self->counters_->idle_timeouts;
      self->close();
    });
  }

  void read() {
    // The buffer never holds more than one largest frame plus one read's worth: a frame is answered (and
    // dropped) as soon as it is complete, and a partial one cannot outgrow kMaxAduBytes.
    // Wait for readability, then read without blocking (as libmodbus does with select + recv). An
    // async_read_some would first try a recv that, in a request-reply exchange, always finds nothing yet:
    // one wasted system call per request.
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return self->close();
      const std::size_t have = self->pending_.size();
      self->pending_.resize(have + kMaxAduBytes);
      boost::system::error_code rc;
      const std::size_t n = self->socket_.read_some(asio::buffer(self->pending_.data() + have, kMaxAduBytes), rc);
      self->pending_.resize(have + (rc ? 0 : n));
      if (rc == asio::error::would_block) return self->read();
      if (rc) return self->close();
      self->on_bytes();
    });
  }

  void on_bytes() { serve({}); }

  // Answers the complete frames in the buffer in order, appending their replies to `out`, until it needs
  // more bytes (then writes `out` and reads again), a reply is to be held back (then writes `out`, waits,
  // and comes back here with the held reply first), or the framing is broken (then closes).
  void serve(std::vector<std::uint8_t> out) {
    std::size_t used = 0;
    for (;;) {
      const auto d = decode_request(std::span<const std::uint8_t>(pending_).subspan(used));
      if (d.status == Status::need_more) break;
      if (d.status == Status::error) {
        ++counters_->framing_errors;
        return close();
      }
      used += d.consumed;
      ++counters_->requests;
      Reply reply = ask(d.message);
      if (!reply.response) {
        ++counters_->unanswered;
        continue;
      }
      if (reply.response->exception) ++counters_->exceptions;
      auto bytes = encode_response(*reply.response);
      if (reply.delay > std::chrono::microseconds::zero()) {
        ++counters_->delayed;
        consume(used);
        auto held = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
        return write(std::move(out), [self = shared_from_this(), held, delay = reply.delay] { self->hold(delay, held); });
      }
      out.insert(out.end(), bytes.begin(), bytes.end());
    }
    consume(used);
    write(std::move(out), [self = shared_from_this()] { self->read(); });
  }

  // The handler's reply; a handler that throws (a bug, or memory exhausted) answers 0x04 server device
  // failure rather than unwinding through the io_context.
  Reply ask(const Request& q) {
    try {
      return handler_.reply(q);
    } catch (const std::exception&) {
      return {exception_response(q, Exception::server_device_failure), {}};
    }
  }

  // Drops the frames answered from the buffer and notes the time of the last request (the idle deadline).
  void consume(std::size_t used) {
    if (used == 0) return;
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
    last_request_ = std::chrono::steady_clock::now();
  }

  // A reply held back by the handler: after `delay` it goes out ahead of the replies to any requests that
  // arrived behind it (they are still in the buffer, unread by the handler).
  void hold(std::chrono::microseconds delay, std::shared_ptr<std::vector<std::uint8_t>> bytes) {
    delay_.expires_after(delay);
    delay_.async_wait([self = shared_from_this(), bytes](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: the session closed
      self->last_request_ = std::chrono::steady_clock::now();  // a client waiting for its reply is not idle
      self->serve(std::move(*bytes));
    });
  }

  // Most replies fit the socket's send buffer: write them at once (non-blocking) and go on; only what does
  // not fit waits for the socket to drain. `next` runs once everything is written, never after a close.
  template <class Next>
  void write(std::vector<std::uint8_t> out, Next next) {
    if (out.empty()) return next();
    boost::system::error_code ec;
    const std::size_t sent = socket_.write_some(asio::buffer(out), ec);
    if (ec && ec != asio::error::would_block) return close();
    if (sent == out.size()) return next();
    auto rest = std::make_shared<std::vector<std::uint8_t>>(out.begin() + static_cast<std::ptrdiff_t>(sent), out.end());
    asio::async_write(socket_, asio::buffer(*rest),
                      [self = shared_from_this(), rest, next](const boost::system::error_code& e, std::size_t) {
                        if (e) return self->close();
                        next();
                      });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;  // the idle deadline
  asio::steady_timer delay_;  // a held reply
  Handler& handler_;
  std::chrono::milliseconds idle_;
  std::shared_ptr<AtomicCounters> counters_;
  std::vector<std::uint8_t> pending_;
  std::chrono::steady_clock::time_point last_request_;
};

Server::Server(asio::io_context& io, Handler& handler, ServerOptions options)
    : handler_(handler), options_(std::move(options)), acceptor_(io) {
  const tcp::endpoint endpoint(asio::ip::make_address(options_.address), options_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  accept();
}

Server::~Server() { stop(); }

void Server::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec) return;  // the acceptor was closed
    std::erase_if(sessions_, [](const std::weak_ptr<Session>& s) { return s.expired(); });
    if (sessions_.size() >= options_.max_sessions) {
      ++counters_->sessions_refused;
      boost::system::error_code ignore;
      socket.close(ignore);
    } else {
      ++counters_->sessions_accepted;
      auto s = std::make_shared<Session>(std::move(socket), handler_, options_.idle_timeout, counters_);
      sessions_.push_back(s);
      s->start();
    }
    accept();
  });
}

void Server::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto& w : sessions_)
    if (auto s = w.lock()) s->close();
  sessions_.clear();
}

ServerCounters Server::counters() const {
  ServerCounters c;
  c.sessions_accepted = counters_->sessions_accepted;
  c.sessions_refused = counters_->sessions_refused;
  c.requests = counters_->requests;
  c.exceptions = counters_->exceptions;
  c.framing_errors = counters_->framing_errors;
  c.idle_timeouts = counters_->idle_timeouts;
  c.unanswered = counters_->unanswered;
  c.delayed = counters_->delayed;
  return c;
}

}  // namespace gatetwin::devices::modbus
