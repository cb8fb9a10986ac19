#include "gatetwin/devices/modbus_server.hpp"

#include <algorithm>

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

// One connection: read what arrives into a bounded buffer, answer every complete frame in order, close on a
// broken frame, on the peer closing, or when no request came within the idle timeout.
class Server::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Handler& handler, std::chrono::milliseconds idle, std::shared_ptr<AtomicCounters> counters)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), handler_(handler), idle_(idle),
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
    const std::size_t have = pending_.size();
    pending_.resize(have + kMaxAduBytes);
    socket_.async_read_some(asio::buffer(pending_.data() + have, kMaxAduBytes),
                            [self = shared_from_this(), have](const boost::system::error_code& ec, std::size_t n) {
                              self->pending_.resize(have + n);
                              if (ec) return self->close();
                              self->on_bytes();
                            });
  }

  void on_bytes() {
    std::vector<std::uint8_t> out;
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
      Response r;
      if (d.message.malformed) {
        r = exception_response(d.message, *d.message.malformed);
      } else {
        r = handler_.handle(d.message);
      }
      if (r.exception) ++counters_->exceptions;
      const auto bytes = encode_response(r);
      out.insert(out.end(), bytes.begin(), bytes.end());
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
    if (used > 0) last_request_ = std::chrono::steady_clock::now();
    if (out.empty()) return read();
    // Most replies fit the socket's send buffer: write them at once (non-blocking) and go back to reading;
    // only what does not fit waits for the socket to drain.
    boost::system::error_code ec;
    const std::size_t sent = socket_.write_some(asio::buffer(out), ec);
    if (ec && ec != asio::error::would_block) return close();
    if (sent == out.size()) return read();
    auto buffer = std::make_shared<std::vector<std::uint8_t>>(out.begin() + static_cast<std::ptrdiff_t>(sent), out.end());
    asio::async_write(socket_, asio::buffer(*buffer),
                      [self = shared_from_this(), buffer](const boost::system::error_code& e, std::size_t) {
                        if (e) return self->close();
                        self->read();
                      });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
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
  return c;
}

}  // namespace gatetwin::devices::modbus
