#pragma once
// A Modbus TCP server on Boost.Asio: a listener and one session per connection. The session owns its
// socket, an idle deadline and a bounded receive buffer; it decodes with the pure codec (modbus.hpp) and
// asks a handler for each reply. The handler is a pure function of (device state, request) -> response,
// testable without a socket. Bytes from the network never throw: a broken frame closes the session and is
// counted; a request the device cannot serve gets an exception reply. A handler may also decide that a
// request gets no reply at all, or a reply held back for a while (fault injection: a device that is off,
// loses requests, or answers slowly); replies still leave in the order their requests came.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gatetwin/devices/fault.hpp"
#include "gatetwin/devices/modbus.hpp"

namespace gatetwin::devices::modbus {

// What the session does with one request: send `response` after `delay`, or send nothing (the client's
// own timeout is all it sees). The delay is wall time (the session's steady_timer): in HIL runs the pacing
// is real time, so simulated and wall delays agree. While a reply is held the session neither reads nor
// answers later requests, so replies keep the order of their requests.
struct Reply {
  std::optional<Response> response;
  std::chrono::microseconds delay{0};
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Called on the server's io_context thread for every well-formed request that is not `malformed`.
  virtual Response handle(const Request& request) = 0;
  // Called on the server's io_context thread for every well-framed request, `malformed` ones included.
  // The default answers at once: a malformed request with its exception, any other with handle(). Devices
  // with fault injection override it (see reply_under_faults below).
  virtual Reply reply(const Request& request);
};

// A Modbus device's reply to request number `event` at simulated time `t` under its fault plan, shared by
// the Modbus devices' reply() overrides:
//   off          -> no reply
//   intermittent -> no reply for the requests the plan draws as lost
//   garbage      -> the exception whose code is the fault's `value` (0x04 server device failure if 0)
//   otherwise    -> the device's own answer (Handler::reply), held for `plan.latency(t, event)`
//                   (delayed: delay + jitter; slow: delay)
Reply reply_under_faults(Handler& device, const FaultPlan& plan, Micros t, std::uint64_t event, const Request& request);

// A plain register bank: coils, discrete inputs, holding and input registers of fixed sizes, from address
// 0. Reads and writes out of range get exception 0x02 (illegal data address), functions other than
// 01-06/15/16 0x01 (the codec marks them). The thermal sensor and door relay build on this.
class RegisterBank : public Handler {
 public:
  RegisterBank(std::size_t coils, std::size_t discrete_inputs, std::size_t holding, std::size_t input);
  Response handle(const Request& request) override;

  std::vector<bool> coils, discrete_inputs;
  std::vector<std::uint16_t> holding, input;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;                              // 0: any free port (see Server::port)
  std::chrono::milliseconds idle_timeout{30'000};      // a session with no request for this long is closed
  std::size_t max_sessions = 16;                       // more connections are accepted and closed at once
};

struct ServerCounters {
  std::uint64_t sessions_accepted = 0, sessions_refused = 0, requests = 0, exceptions = 0;
  std::uint64_t framing_errors = 0, idle_timeouts = 0;
  std::uint64_t unanswered = 0, delayed = 0;  // requests the handler left without a reply / held back
};

class Server {
 public:
  // Binds and listens before returning, so a client may connect as soon as the constructor is done.
  Server(boost::asio::io_context& io, Handler& handler, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const { return port_; }
  // Stops accepting and closes every session (call on the io_context's thread, or after it stopped).
  void stop();
  ServerCounters counters() const;

 private:
  class Session;
  void accept();

  Handler& handler_;
  ServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::vector<std::weak_ptr<Session>> sessions_;
  struct AtomicCounters {
    std::atomic<std::uint64_t> sessions_accepted{0}, sessions_refused{0}, requests{0}, exceptions{0};
    std::atomic<std::uint64_t> framing_errors{0}, idle_timeouts{0};
    std::atomic<std::uint64_t> unanswered{0}, delayed{0};
  };
  std::shared_ptr<AtomicCounters> counters_ = std::make_shared<AtomicCounters>();
};

}  // namespace gatetwin::devices::modbus
