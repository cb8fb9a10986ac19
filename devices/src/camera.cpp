// The emulated IP camera: a frame ticker that encodes each frame once, and RTSP and HTTP connections that
// send it on. The protocol work is in the pure codecs (rtsp.hpp, rtp_jpeg.hpp); this file is the
// sessions and listeners around them.
#include "gatetwin/devices/camera.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <functional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "gatetwin/devices/rtp_jpeg.hpp"
#include "gatetwin/devices/rtsp.hpp"

namespace gatetwin::devices {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using Bytes = std::vector<std::uint8_t>;
using SharedBytes = std::shared_ptr<const Bytes>;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

constexpr std::string_view kBoundary = "gatetwinframe";
constexpr std::size_t kMaxReadBuffer = rtsp::kMaxHeaderBytes + rtsp::kMaxBodyBytes + 8;
constexpr std::chrono::seconds kHttpRequestTimeout{10};

SharedBytes bytes_of(std::string_view s) { return std::make_shared<const Bytes>(s.begin(), s.end()); }

std::uint32_t hash32(std::string_view s) {
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

// The path of a request URI: "rtsp://host:port/a/b?x" -> "/a/b"; "/a/b" stays; "*" stays.
std::string path_of(std::string_view uri) {
  if (const auto scheme = uri.find("://"); scheme != std::string_view::npos) {
    const auto slash = uri.find('/', scheme + 3);
    uri = slash == std::string_view::npos ? std::string_view("/") : uri.substr(slash);
  }
  uri = uri.substr(0, uri.find('?'));
  while (uri.size() > 1 && uri.back() == '/') uri.remove_suffix(1);
  return std::string(uri);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// The frame as the connections see it: encoded once, with the MJPEG part built on first use.

struct Prepared {
  std::shared_ptr<const EncodedFrame> frame;
  std::optional<rtp::JpegScan> scan;  // into frame->jpeg; nullopt for a frame RFC 2435 cannot carry
  SharedBytes mjpeg_part;
};

class Connection;

class Camera::Impl : public std::enable_shared_from_this<Camera::Impl> {
 public:
  Impl(asio::io_context& io, FrameSource& source, const Clock& clock, CameraOptions options)
      : io_(io), source_(source), clock_(clock), options_(std::move(options)), rtsp_acceptor_(io),
        http_acceptor_(io), ticker_(io) {
    const auto address = asio::ip::make_address(options_.address);
    for (auto [acceptor, port] : {std::pair{&rtsp_acceptor_, options_.rtsp_port}, std::pair{&http_acceptor_, options_.http_port}}) {
      tcp::endpoint ep(address, port);
      acceptor->open(ep.protocol());
      acceptor->set_option(tcp::acceptor::reuse_address(true));
      acceptor->bind(ep);
      acceptor->listen();
    }
    rtsp_port_ = rtsp_acceptor_.local_endpoint().port();
    http_port_ = http_acceptor_.local_endpoint().port();
    ssrc_ = hash32(options_.name + ":ssrc");
    rtp_base_ = hash32(options_.name + ":rtp");
    nonce_ = rtsp::md5_hex(options_.name + ":" + std::to_string(rtsp_port_) + ":gatetwin-nonce");
    unix_at_zero_ = std::chrono::duration_cast<Micros>(std::chrono::system_clock::now().time_since_epoch()) -
                    clock_.now();
  }

  void start();
  void stop();
  void accept(tcp::acceptor& acceptor, bool rtsp);
  void tick();
  void produce(std::uint64_t index, SteadyTime slot);
  void fan_out(const std::shared_ptr<Prepared>& p);
  void prune();

  // Shared with connections.
  asio::io_context& io_;
  FrameSource& source_;
  const Clock& clock_;
  CameraOptions options_;
  tcp::acceptor rtsp_acceptor_, http_acceptor_;
  asio::steady_timer ticker_;
  std::uint16_t rtsp_port_ = 0, http_port_ = 0;
  std::uint32_t ssrc_ = 0, rtp_base_ = 0;
  std::uint32_t last_timestamp_ = 0;  // of the last frame produced (timestamps only move forward)
  bool have_timestamp_ = false;
  std::string nonce_;
  Micros unix_at_zero_{0};
  std::vector<std::weak_ptr<Connection>> connections_;
  std::shared_ptr<Prepared> latest_;
  std::shared_ptr<const EncodedFrame> last_good_;  // what a stalled (stuck) camera keeps showing
  SteadyTime first_slot_{};
  std::uint64_t next_index_ = 0;
  SteadyTime delayed_until_{};
  bool running_ = false, stopped_ = false, was_off_ = false;
  std::uint64_t session_counter_ = 0;

  struct Counters {
    std::atomic<std::uint64_t> frames{0}, frames_sent{0}, frames_dropped{0}, frames_skipped{0}, deadline_misses{0};
    std::atomic<std::uint64_t> rtsp_sessions{0}, http_streams{0}, snapshots{0}, auth_failures{0};
    std::atomic<std::uint64_t> protocol_errors{0}, timeouts{0}, refused{0}, rtp_packets{0}, rtcp_reports{0};
  } counters_;

  mutable std::mutex recent_mutex_;
  std::deque<std::shared_ptr<const EncodedFrame>> recent_;

  std::chrono::nanoseconds period() const {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / std::max(0.1, options_.fps)));
  }
  bool off_now() const { return options_.faults.is(clock_.now(), FaultMode::off); }
  // Digest check of a request; true when authentication is off or the credentials are right.
  bool authorised(const rtsp::Request& r) const {
    if (!options_.auth) return true;
    const auto h = r.header("Authorization");
    if (!h) return false;
    const auto c = rtsp::parse_digest(*h);
    if (!c || c->username != options_.auth->user || c->realm != options_.auth->realm || c->nonce != nonce_) return false;
    return rtsp::digest_response(*c, options_.auth->password, r.method) == c->response;
  }
  std::string challenge() const {
    return "Digest realm=\"" + options_.auth->realm + "\", nonce=\"" + nonce_ + "\", algorithm=MD5";
  }
};

// ---------------------------------------------------------------------------------------------------------
// A TCP client connection: a bounded read buffer and a bounded queue of outgoing buffers written in order.

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Camera::Impl> camera, tcp::socket socket)
      : camera_(std::move(camera)), socket_(std::move(socket)), timer_(camera_->io_) {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    last_activity_ = std::chrono::steady_clock::now();
  }
  virtual ~Connection() = default;

  void start() {
    arm_timer();
    read();
  }
  virtual void on_frame(const std::shared_ptr<Prepared>& frame) = 0;
  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    on_close();
  }
  bool closed() const { return closed_; }

 protected:
  virtual void on_bytes() = 0;  // parse what is in buffer_
  virtual void on_close() {}
  virtual std::chrono::steady_clock::duration idle_limit() const = 0;  // zero: no limit now

  bool room_for(std::size_t n) const { return queued_ + n <= camera_->options_.max_queued_bytes; }
  void send(SharedBytes b) {
    if (closed_) return;
    queued_ += b->size();
    out_.push_back(std::move(b));
    if (!writing_) write_next();
  }
  // Answer, then close: nothing more is read from this client.
  void close_after_write() {
    close_when_drained_ = true;
    reading_stopped_ = true;
    if (!writing_) close();
  }
  void touch() { last_activity_ = std::chrono::steady_clock::now(); }

  std::shared_ptr<Camera::Impl> camera_;
  tcp::socket socket_;
  std::vector<std::uint8_t> buffer_;

 private:
  void read() {
    if (closed_ || reading_stopped_) return;
    const std::size_t old = buffer_.size();
    buffer_.resize(old + 4096);
    socket_.async_read_some(asio::buffer(buffer_.data() + old, 4096),
                            [self = shared_from_this(), old](const boost::system::error_code& ec, std::size_t n) {
                              self->buffer_.resize(old + (ec ? 0 : n));
                              if (ec || self->closed_) return self->close();
                              if (self->reading_stopped_) return;
                              self->on_bytes();
                              if (self->buffer_.size() > kMaxReadBuffer) {
                                ++self->camera_->counters_.protocol_errors;
                                return self->close();
                              }
                              self->read();
                            });
  }
  void write_next() {
    if (out_.empty() || closed_) {
      writing_ = false;
      if (close_when_drained_) close();
      return;
    }
    writing_ = true;
    auto front = out_.front();
    asio::async_write(socket_, asio::buffer(*front),
                      [self = shared_from_this(), front](const boost::system::error_code& ec, std::size_t) {
                        self->queued_ -= front->size();
                        self->out_.pop_front();
                        if (ec) return self->close();
                        self->write_next();
                      });
  }
  void arm_timer() {
    const auto limit = idle_limit();
    timer_.expires_after(limit.count() > 0 ? limit : std::chrono::seconds(1));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      const auto idle = self->idle_limit();
      if (idle.count() > 0 && std::chrono::steady_clock::now() - self->last_activity_ >= idle) {
        ++self->camera_->counters_.timeouts;
        return self->close();
      }
      self->arm_timer();
    });
  }

  asio::steady_timer timer_;
  std::deque<SharedBytes> out_;
  std::size_t queued_ = 0;
  bool writing_ = false, closed_ = false, close_when_drained_ = false, reading_stopped_ = false;
  SteadyTime last_activity_;
};

// ---------------------------------------------------------------------------------------------------------
// RTSP: one connection carries at most one session with one track (the camera's video).

class RtspConnection final : public Connection {
 public:
  using Connection::Connection;

  void on_frame(const std::shared_ptr<Prepared>& p) override {
    if (!playing_ || !p->scan) return;
    auto packets = rtp::packetize(*p->scan, p->frame->rtp_timestamp, sequence_, camera_->ssrc_);
    const bool report = frames_since_report_ == 0 || frames_since_report_ >= std::max(1.0, camera_->options_.fps);
    if (transport_.tcp) {
      std::size_t total = 0;
      for (const auto& pkt : packets) total += pkt.size() + 4;
      if (!room_for(total)) {
        ++camera_->counters_.frames_skipped;
        sequence_ = static_cast<std::uint16_t>(sequence_ - packets.size());  // nothing of it was sent
        return;
      }
      auto out = std::make_shared<Bytes>();
      out->reserve(total + 80);
      for (const auto& pkt : packets) {
        const auto framed = rtsp::encode_interleaved(transport_.interleaved_rtp, pkt);
        out->insert(out->end(), framed.begin(), framed.end());
      }
      account(packets);
      if (report) {
        const auto sr = sender_report(*p->frame);
        const auto framed = rtsp::encode_interleaved(transport_.interleaved_rtcp, sr);
        out->insert(out->end(), framed.begin(), framed.end());
      }
      send(std::move(out));
    } else if (rtp_socket_) {
      boost::system::error_code ec;
      for (const auto& pkt : packets) rtp_socket_->send_to(asio::buffer(pkt), client_rtp_, 0, ec);
      account(packets);
      if (report) rtcp_socket_->send_to(asio::buffer(sender_report(*p->frame)), client_rtcp_, 0, ec);
    }
    frames_since_report_ = report ? 1 : frames_since_report_ + 1;
    ++camera_->counters_.frames_sent;
  }

 protected:
  std::chrono::steady_clock::duration idle_limit() const override { return camera_->options_.session_timeout; }

  void on_bytes() override {
    std::size_t used = 0;
    while (!closed()) {
      auto d = rtsp::decode_message(std::span(buffer_).subspan(used));
      if (d.status == rtsp::Status::need_more) break;
      if (d.status == rtsp::Status::error) {
        ++camera_->counters_.protocol_errors;
        send(bytes_of(rtsp::encode_response("RTSP/1.0", 400, "Bad Request", -1, {})));
        close_after_write();
        used = buffer_.size();
        break;
      }
      used += d.consumed;
      touch();
      if (auto* r = std::get_if<rtsp::Request>(&d.message)) handle(*r);
      // Interleaved frames from the client (its RTCP receiver reports) only count as liveness.
    }
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(std::min(used, buffer_.size())));
  }

  void on_close() override {
    boost::system::error_code ec;
    if (rtp_socket_) rtp_socket_->close(ec);
    if (rtcp_socket_) rtcp_socket_->close(ec);
  }

 private:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  void reply(const rtsp::Request& r, int code, std::string_view reason, Headers headers = {}, std::string_view body = {}) {
    if (!session_.empty() && code < 300) headers.emplace_back("Session", session_header());
    headers.emplace_back("Server", "GateTwin camera");
    send(bytes_of(rtsp::encode_response("RTSP/1.0", code, reason, r.cseq(), headers, body)));
  }
  std::string session_header() const {
    return session_ + ";timeout=" + std::to_string(camera_->options_.session_timeout.count());
  }
  std::string base_url() const {
    return "rtsp://" + camera_->options_.address + ":" + std::to_string(camera_->rtsp_port_) + "/" +
           camera_->options_.name;
  }

  void handle(const rtsp::Request& r) {
    auto& cam = *camera_;
    if (r.version != "RTSP/1.0") return reply(r, 505, "RTSP Version Not Supported");
    if (r.cseq() < 0) {
      ++cam.counters_.protocol_errors;
      return reply(r, 400, "Bad Request");
    }
    const std::string path = path_of(r.uri);
    const std::string base = "/" + cam.options_.name;
    const bool is_base = path == base, is_track = path == base + "/track1";
    if (r.method == "OPTIONS")
      return reply(r, 200, "OK", {{"Public", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"}});
    static const char* const known[] = {"DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER"};
    static const char* const refused[] = {"ANNOUNCE", "RECORD", "SET_PARAMETER", "REDIRECT"};  // RTSP methods a camera does not serve
    if (std::find(std::begin(known), std::end(known), r.method) == std::end(known)) {
      const bool rtsp_method = std::find(std::begin(refused), std::end(refused), r.method) != std::end(refused);
      return reply(r, rtsp_method ? 405 : 501, rtsp_method ? "Method Not Allowed" : "Not Implemented",
                   {{"Allow", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"}});
    }
    if (!cam.authorised(r)) {
      ++cam.counters_.auth_failures;
      return reply(r, 401, "Unauthorized", {{"WWW-Authenticate", cam.challenge()}});
    }
    if (path != "*" && !is_base && !is_track) return reply(r, 404, "Not Found");
    // Requests that name a session must name ours.
    if (const auto s = r.header("Session"); s && r.method != "SETUP") {
      const std::string_view id = s->substr(0, s->find(';'));
      if (session_.empty() || id != session_) return reply(r, 454, "Session Not Found");
    }
    if (r.method == "DESCRIBE") return describe(r);
    if (r.method == "SETUP") return setup(r, is_track || is_base);
    if (r.method == "GET_PARAMETER") return reply(r, 200, "OK");
    if (session_.empty()) return reply(r, 454, "Session Not Found");
    if (r.method == "PLAY") {
      const bool was_playing = playing_;
      playing_ = true;
      const auto rtptime = cam.rtp_base_ + static_cast<std::uint32_t>(cam.clock_.now().count() * 9 / 100);
      reply(r, 200, "OK",
            {{"Range", "npt=now-"},
             {"RTP-Info", "url=" + base_url() + "/track1;seq=" + std::to_string(sequence_) + ";rtptime=" +
                              std::to_string(rtptime)}});
      if (!was_playing) frames_since_report_ = 0;
      return;
    }
    if (r.method == "PAUSE") {
      playing_ = false;
      return reply(r, 200, "OK");
    }
    // TEARDOWN: the session ends; the connection may carry a new one.
    playing_ = false;
    reply(r, 200, "OK");
    session_.clear();
    on_close();
    rtp_socket_.reset();
    rtcp_socket_.reset();
  }

  void describe(const rtsp::Request& r) {
    const auto& cam = *camera_;
    const auto size = cam.source_.size();
    std::string sdp;
    sdp += "v=0\r\n";
    sdp += "o=- " + std::to_string(cam.ssrc_) + " 1 IN IP4 " + cam.options_.address + "\r\n";
    sdp += "s=GateTwin camera " + cam.options_.name + "\r\n";
    sdp += "c=IN IP4 0.0.0.0\r\n";
    sdp += "t=0 0\r\n";
    sdp += "a=tool:GateTwin\r\n";
    sdp += "a=range:npt=now-\r\n";
    sdp += "a=control:*\r\n";
    sdp += "m=video 0 RTP/AVP 26\r\n";
    sdp += "a=rtpmap:26 JPEG/90000\r\n";
    sdp += "a=framerate:" + std::to_string(static_cast<int>(std::lround(cam.options_.fps))) + "\r\n";
    sdp += "a=x-dimensions:" + std::to_string(size.width) + "," + std::to_string(size.height) + "\r\n";
    sdp += "a=control:track1\r\n";
    reply(r, 200, "OK", {{"Content-Base", base_url() + "/"}, {"Content-Type", "application/sdp"}}, sdp);
  }

  void setup(const rtsp::Request& r, bool known_track) {
    auto& cam = *camera_;
    if (!known_track) return reply(r, 404, "Not Found");
    if (const auto s = r.header("Session")) {
      const std::string_view id = s->substr(0, s->find(';'));
      if (session_.empty() || id != session_) return reply(r, 454, "Session Not Found");
    } else if (!session_.empty()) {
      return reply(r, 459, "Aggregate Operation Not Allowed");
    }
    const auto header = r.header("Transport");
    const auto t = header ? rtsp::parse_transport(*header) : std::nullopt;
    if (!t) return reply(r, 461, "Unsupported Transport");
    transport_ = *t;
    std::string answer;
    if (t->tcp) {
      answer = "RTP/AVP/TCP;unicast;interleaved=" + std::to_string(t->interleaved_rtp) + "-" +
               std::to_string(t->interleaved_rtcp);
    } else {
      boost::system::error_code ec;
      const auto peer = socket_.remote_endpoint(ec);
      if (ec) return close();
      const auto local = asio::ip::make_address(cam.options_.address);
      rtp_socket_ = std::make_unique<udp::socket>(cam.io_, udp::endpoint(local, 0));
      rtcp_socket_ = std::make_unique<udp::socket>(cam.io_, udp::endpoint(local, 0));
      client_rtp_ = udp::endpoint(peer.address(), t->client_rtp);
      client_rtcp_ = udp::endpoint(peer.address(), t->client_rtcp);
      answer = "RTP/AVP;unicast;client_port=" + std::to_string(t->client_rtp) + "-" + std::to_string(t->client_rtcp) +
               ";server_port=" + std::to_string(rtp_socket_->local_endpoint().port()) + "-" +
               std::to_string(rtcp_socket_->local_endpoint().port());
      read_rtcp();
    }
    char ssrc[9];
    std::snprintf(ssrc, sizeof ssrc, "%08X", cam.ssrc_);
    answer += ";ssrc=";
    answer += ssrc;
    if (session_.empty()) {
      session_ = rtsp::md5_hex(cam.options_.name + ":" + std::to_string(++cam.session_counter_) + ":" +
                               std::to_string(cam.rtsp_port_)).substr(0, 16);
      ++cam.counters_.rtsp_sessions;
      sequence_ = static_cast<std::uint16_t>(hash32(session_));
    }
    reply(r, 200, "OK", {{"Transport", answer}});
  }

  // RTCP from a UDP client (receiver reports) keeps its session alive; the content is not used.
  void read_rtcp() {
    if (!rtcp_socket_) return;
    rtcp_socket_->async_receive_from(asio::buffer(rtcp_in_), rtcp_from_,
                                     [self = std::static_pointer_cast<RtspConnection>(shared_from_this()),
                                      sock = rtcp_socket_.get()](const boost::system::error_code& ec, std::size_t) {
                                       if (ec || self->closed() || sock != self->rtcp_socket_.get()) return;
                                       self->touch();
                                       self->read_rtcp();
                                     });
  }

  void account(const std::vector<std::vector<std::uint8_t>>& packets) {
    for (const auto& pkt : packets) {
      ++packets_sent_;
      octets_sent_ += static_cast<std::uint32_t>(pkt.size() - 12);
    }
    camera_->counters_.rtp_packets += packets.size();
  }
  std::vector<std::uint8_t> sender_report(const EncodedFrame& f) {
    ++camera_->counters_.rtcp_reports;
    const auto ntp = rtp::ntp_from_unix_micros((camera_->unix_at_zero_ + f.time).count());
    return rtp::sender_report(camera_->ssrc_, ntp, f.rtp_timestamp, packets_sent_, octets_sent_,
                              "gatetwin@" + camera_->options_.name);
  }

  std::string session_;
  rtsp::Transport transport_;
  bool playing_ = false;
  std::uint16_t sequence_ = 0;
  std::uint32_t packets_sent_ = 0, octets_sent_ = 0;
  double frames_since_report_ = 0;
  std::unique_ptr<udp::socket> rtp_socket_, rtcp_socket_;
  udp::endpoint client_rtp_, client_rtcp_, rtcp_from_;
  std::array<std::uint8_t, 1500> rtcp_in_{};
};

// ---------------------------------------------------------------------------------------------------------
// HTTP: GET NAME.mjpg (multipart stream), GET NAME.jpg (snapshot), GET / (an index).

class HttpConnection final : public Connection {
 public:
  using Connection::Connection;

  void on_frame(const std::shared_ptr<Prepared>& p) override {
    if (!streaming_) return;
    if (!p->mjpeg_part) {
      const auto& jpeg = p->frame->jpeg;
      std::string head = "--" + std::string(kBoundary) + "\r\nContent-Type: image/jpeg\r\nContent-Length: " +
                         std::to_string(jpeg.size()) + "\r\nX-Frame-Index: " + std::to_string(p->frame->index) +
                         "\r\nX-Timestamp-Us: " + std::to_string(p->frame->time.count()) + "\r\n\r\n";
      auto part = std::make_shared<Bytes>(head.begin(), head.end());
      part->insert(part->end(), jpeg.begin(), jpeg.end());
      part->push_back('\r');
      part->push_back('\n');
      p->mjpeg_part = std::move(part);
    }
    if (!room_for(p->mjpeg_part->size())) {
      ++camera_->counters_.frames_skipped;
      return;
    }
    send(p->mjpeg_part);
    ++camera_->counters_.frames_sent;
  }

 protected:
  std::chrono::steady_clock::duration idle_limit() const override {
    return streaming_ ? std::chrono::steady_clock::duration::zero() : kHttpRequestTimeout;
  }

  void on_bytes() override {
    if (answered_) {  // one request per connection; anything after it is ignored
      buffer_.clear();
      return;
    }
    auto d = rtsp::decode_message(std::span(buffer_), false);
    if (d.status == rtsp::Status::need_more) return;
    answered_ = true;
    buffer_.clear();
    if (d.status == rtsp::Status::error) {
      ++camera_->counters_.protocol_errors;
      return respond("HTTP/1.0", 400, "Bad Request", {}, "bad request: " + d.error + "\n");
    }
    handle(std::get<rtsp::Request>(d.message));
  }

 private:
  void respond(std::string_view version, int code, std::string_view reason,
               std::vector<std::pair<std::string, std::string>> headers, std::string_view body,
               std::string_view type = "text/plain") {
    headers.emplace_back("Server", "GateTwin camera");
    headers.emplace_back("Connection", "close");
    if (!body.empty()) headers.emplace_back("Content-Type", std::string(type));
    send(bytes_of(rtsp::encode_response(version, code, reason, -1, headers, body)));
    close_after_write();
  }

  void handle(const rtsp::Request& r) {
    auto& cam = *camera_;
    const std::string version = r.version == "HTTP/1.1" ? "HTTP/1.1" : "HTTP/1.0";
    if (r.version.rfind("HTTP/", 0) != 0) return respond("HTTP/1.0", 505, "HTTP Version Not Supported", {}, "");
    if (r.method != "GET") return respond(version, 405, "Method Not Allowed", {{"Allow", "GET"}}, "");
    const std::string path = path_of(r.uri);
    const std::string base = "/" + cam.options_.name;
    if (path != "/" && path != base + ".mjpg" && path != base + ".jpg")
      return respond(version, 404, "Not Found", {}, "not found: " + path + "\n");
    if (!cam.authorised(r)) {
      ++cam.counters_.auth_failures;
      return respond(version, 401, "Unauthorized", {{"WWW-Authenticate", cam.challenge()}}, "");
    }
    if (path == "/") {
      const std::string host = cam.options_.address + ":" + std::to_string(cam.http_port_);
      return respond(version, 200, "OK", {},
                     "GateTwin camera " + cam.options_.name + "\nmjpeg: http://" + host + base +
                         ".mjpg\nsnapshot: http://" + host + base + ".jpg\nrtsp: rtsp://" + cam.options_.address +
                         ":" + std::to_string(cam.rtsp_port_) + base + "\n");
    }
    if (path == base + ".jpg") {
      if (!cam.latest_) return respond(version, 503, "Service Unavailable", {{"Retry-After", "1"}}, "no frame yet\n");
      ++cam.counters_.snapshots;
      const auto& jpeg = cam.latest_->frame->jpeg;
      std::string head = rtsp::encode_response(
          version, 200, "OK", -1,
          {{"Server", "GateTwin camera"}, {"Connection", "close"}, {"Content-Type", "image/jpeg"},
           {"Content-Length", std::to_string(jpeg.size())}, {"Cache-Control", "no-cache"},
           {"X-Frame-Index", std::to_string(cam.latest_->frame->index)}});
      auto out = std::make_shared<Bytes>(head.begin(), head.end());
      out->insert(out->end(), jpeg.begin(), jpeg.end());
      send(std::move(out));
      return close_after_write();
    }
    ++cam.counters_.http_streams;
    streaming_ = true;
    send(bytes_of(rtsp::encode_response(
        version, 200, "OK", -1,
        {{"Server", "GateTwin camera"}, {"Connection", "close"}, {"Cache-Control", "no-cache"},
         {"Content-Type", "multipart/x-mixed-replace; boundary=" + std::string(kBoundary)}})));
  }

  bool answered_ = false, streaming_ = false;
};

// ---------------------------------------------------------------------------------------------------------

void Camera::Impl::start() {
  if (running_ || stopped_) return;
  running_ = true;
  accept(rtsp_acceptor_, true);
  accept(http_acceptor_, false);
  first_slot_ = std::chrono::steady_clock::now();
  next_index_ = 0;
  ticker_.expires_at(first_slot_);
  ticker_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

void Camera::Impl::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  ticker_.cancel();
  rtsp_acceptor_.close(ec);
  http_acceptor_.close(ec);
  for (auto& w : connections_)
    if (auto c = w.lock()) c->close();
  connections_.clear();
}

void Camera::Impl::accept(tcp::acceptor& acceptor, bool is_rtsp) {
  acceptor.async_accept([self = shared_from_this(), &acceptor, is_rtsp](const boost::system::error_code& ec,
                                                                       tcp::socket socket) {
    if (ec == asio::error::operation_aborted || self->stopped_) return;
    if (!ec) {
      self->prune();
      if (self->off_now() || self->connections_.size() >= self->options_.max_clients) {
        ++self->counters_.refused;
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        std::shared_ptr<Connection> c;
        if (is_rtsp) c = std::make_shared<RtspConnection>(self, std::move(socket));
        else c = std::make_shared<HttpConnection>(self, std::move(socket));
        self->connections_.push_back(c);
        c->start();
      }
    }
    self->accept(acceptor, is_rtsp);
  });
}

void Camera::Impl::prune() {
  std::erase_if(connections_, [](const std::weak_ptr<Connection>& w) {
    const auto c = w.lock();
    return !c || c->closed();
  });
}

void Camera::Impl::tick() {
  if (stopped_) return;
  const auto p = period();
  const auto now = std::chrono::steady_clock::now();
  // The slot this tick is for; slots that passed while the thread was busy are missed, not produced late.
  auto slot = first_slot_ + p * static_cast<std::int64_t>(next_index_);
  if (now - slot >= p) {
    const auto behind = static_cast<std::uint64_t>((now - slot) / p);
    counters_.deadline_misses += behind;
    counters_.frames += behind;
    next_index_ += behind;
    slot = first_slot_ + p * static_cast<std::int64_t>(next_index_);
  }
  produce(next_index_++, slot);
  ticker_.expires_at(first_slot_ + p * static_cast<std::int64_t>(next_index_));
  ticker_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

void Camera::Impl::produce(std::uint64_t index, SteadyTime slot) {
  ++counters_.frames;
  const Micros t = clock_.now();
  const auto& plan = options_.faults;
  // off: the camera is gone: every connection drops and new ones are refused until the window ends.
  if (plan.is(t, FaultMode::off)) {
    if (!was_off_)
      for (auto& w : connections_)
        if (auto c = w.lock()) c->close();
    was_off_ = true;
    ++counters_.frames_dropped;
    return;
  }
  was_off_ = false;
  if (plan.drops(t, index)) {
    ++counters_.frames_dropped;
    return;
  }
  if (const auto slow = plan.active(t, FaultMode::slow); slow && slow->value > 0 && slow->value < 1) {
    const auto k = static_cast<double>(index);
    if (index > 0 && std::floor(k * slow->value) == std::floor((k - 1) * slow->value)) {
      ++counters_.frames_dropped;
      return;
    }
  }
  auto frame = std::make_shared<EncodedFrame>();
  frame->index = index;
  frame->time = t;
  frame->rtp_timestamp = rtp_base_ + static_cast<std::uint32_t>(static_cast<std::uint64_t>(t.count()) * 9 / 100);
  // Clients need every frame's timestamp to be later than the one before (FFmpeg merges or drops frames
  // that share one). When simulated time stands still or moves less than a tick between frames (a paused
  // or slow simulation), the frame gets the previous timestamp plus one tick.
  if (have_timestamp_ && static_cast<std::int32_t>(frame->rtp_timestamp - last_timestamp_) <= 0)
    frame->rtp_timestamp = last_timestamp_ + 1;
  last_timestamp_ = frame->rtp_timestamp;
  have_timestamp_ = true;
  if (plan.is(t, FaultMode::stuck) && last_good_) {
    frame->jpeg = last_good_->jpeg;  // a stall: the picture freezes, the stream goes on
    frame->raw = last_good_->raw;
  } else {
    cv::Mat raw = source_.frame(t, index);
    cv::imencode(".jpg", raw, frame->jpeg, {cv::IMWRITE_JPEG_QUALITY, std::clamp(options_.jpeg_quality, 1, 100)});
    if (options_.keep_frames > 0) frame->raw = raw;
    if (const auto g = plan.active(t, FaultMode::garbage)) {
      // Corrupt JPEG: overwrite bytes of the entropy-coded data (headers stay, so clients try to decode).
      if (const auto scan = rtp::parse_jpeg(frame->jpeg); scan && !scan->scan.empty()) {
        const auto begin = static_cast<std::size_t>(scan->scan.data() - frame->jpeg.data());
        const std::size_t n = std::max<std::size_t>(8, scan->scan.size() / 50);
        for (std::size_t k = 0; k < n; ++k) {
          const auto at = begin + static_cast<std::size_t>(plan.uniform(index * 1024 + k, 3) *
                                                            static_cast<double>(scan->scan.size()));
          frame->jpeg[at] = static_cast<std::uint8_t>(plan.uniform(index * 1024 + k, 4) * 255);
        }
      }
    } else {
      last_good_ = frame;
    }
  }
  auto prepared = std::make_shared<Prepared>();
  prepared->frame = frame;
  prepared->scan = rtp::parse_jpeg(prepared->frame->jpeg);
  if (options_.keep_frames > 0) {
    std::lock_guard lock(recent_mutex_);
    recent_.push_back(frame);
    while (recent_.size() > options_.keep_frames) recent_.pop_front();
  }
  const Micros delay = plan.latency(t, index);
  if (delay.count() > 0) {
    // delayed: the frame goes out later, never before one delayed earlier (order is kept).
    auto when = std::max(std::chrono::steady_clock::now() + delay, delayed_until_ + std::chrono::microseconds(1));
    delayed_until_ = when;
    auto timer = std::make_shared<asio::steady_timer>(io_, when);
    timer->async_wait([self = shared_from_this(), prepared, timer](const boost::system::error_code& ec) {
      if (!ec && !self->stopped_) self->fan_out(prepared);
    });
  } else {
    fan_out(prepared);
  }
  // A frame whose fan-out finished after the next frame's slot missed its deadline.
  if (std::chrono::steady_clock::now() - slot > period()) ++counters_.deadline_misses;
}

void Camera::Impl::fan_out(const std::shared_ptr<Prepared>& p) {
  latest_ = p;
  prune();
  for (auto& w : connections_)
    if (auto c = w.lock()) c->on_frame(p);
}

// ---------------------------------------------------------------------------------------------------------

Camera::Camera(asio::io_context& io, FrameSource& source, const Clock& clock, CameraOptions options)
    : impl_(std::make_shared<Impl>(io, source, clock, std::move(options))) {}

// Handlers still queued on the io_context share the implementation, so destroying the Camera first is safe;
// the source and clock they use must live until stop() has run or the io_context has stopped (camera.hpp).
Camera::~Camera() = default;

std::uint16_t Camera::rtsp_port() const { return impl_->rtsp_port_; }
std::uint16_t Camera::http_port() const { return impl_->http_port_; }
std::string Camera::rtsp_url() const {
  return "rtsp://" + impl_->options_.address + ":" + std::to_string(impl_->rtsp_port_) + "/" + impl_->options_.name;
}
std::string Camera::mjpeg_url() const {
  return "http://" + impl_->options_.address + ":" + std::to_string(impl_->http_port_) + "/" + impl_->options_.name +
         ".mjpg";
}
std::string Camera::snapshot_url() const {
  return "http://" + impl_->options_.address + ":" + std::to_string(impl_->http_port_) + "/" + impl_->options_.name +
         ".jpg";
}

void Camera::start() {
  asio::post(impl_->io_, [impl = impl_] { impl->start(); });
}
void Camera::stop() {
  asio::post(impl_->io_, [impl = impl_] { impl->stop(); });
}

CameraCounters Camera::counters() const {
  const auto& c = impl_->counters_;
  CameraCounters out;
  out.frames = c.frames;
  out.frames_sent = c.frames_sent;
  out.frames_dropped = c.frames_dropped;
  out.frames_skipped = c.frames_skipped;
  out.deadline_misses = c.deadline_misses;
  out.rtsp_sessions = c.rtsp_sessions;
  out.http_streams = c.http_streams;
  out.snapshots = c.snapshots;
  out.auth_failures = c.auth_failures;
  out.protocol_errors = c.protocol_errors;
  out.timeouts = c.timeouts;
  out.refused = c.refused;
  out.rtp_packets = c.rtp_packets;
  out.rtcp_reports = c.rtcp_reports;
  return out;
}

std::shared_ptr<const EncodedFrame> Camera::recent(std::uint64_t index) const {
  std::lock_guard lock(impl_->recent_mutex_);
  for (const auto& f : impl_->recent_)
    if (f->index == index) return f;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------------------
// Test pattern.

namespace {
constexpr int kGuardBits = 4, kCounterBits = 24;  // guard 1010, then the counter MSB first
int block_size(cv::Size s) { return std::max(4, s.width / (kGuardBits + kCounterBits + 4)); }
}  // namespace

TestPattern::TestPattern(cv::Size size, std::string label) : size_(size), label_(std::move(label)) {}

cv::Mat TestPattern::frame(Micros t, std::uint64_t index) {
  cv::Mat img(size_, CV_8UC3);
  // Eight colour bars with soft edges, scrolling one bar width every 2 s of simulated time.
  static const cv::Vec3b colours[8] = {{235, 235, 235}, {16, 235, 235}, {235, 235, 16}, {16, 235, 16},
                                       {235, 16, 235},  {16, 16, 235},  {235, 16, 16},  {16, 16, 16}};
  const double bar = size_.width / 8.0;
  const double shift = std::fmod(static_cast<double>(t.count()) / 2e6, 8.0) * bar;
  for (int x = 0; x < size_.width; ++x) {
    const double pos = std::fmod(x + shift, size_.width) / bar;
    const int i = static_cast<int>(pos) % 8;
    img.col(x).setTo(cv::Scalar(colours[i][0], colours[i][1], colours[i][2]));
  }
  cv::GaussianBlur(img, img, cv::Size(0, 0), 1.5);
  // A grey ramp along the bottom quarter.
  const int ramp_top = size_.height * 3 / 4;
  for (int x = 0; x < size_.width; ++x)
    img(cv::Rect(x, ramp_top, 1, size_.height - ramp_top)).setTo(cv::Scalar::all(255.0 * x / std::max(1, size_.width - 1)));
  // The counter strip: guard bits then the counter, one block per bit, on a mid-grey band.
  const int b = block_size(size_);
  const cv::Rect whole(0, 0, size_.width, size_.height);  // pictures too small for the strip get part of it
  img(cv::Rect(0, 0, size_.width, std::min(size_.height, 2 * b))).setTo(cv::Scalar::all(128));
  const auto counter = static_cast<std::uint32_t>(index & ((1u << kCounterBits) - 1));
  for (int k = 0; k < kGuardBits + kCounterBits; ++k) {
    const bool one = k < kGuardBits ? (k % 2 == 0) : ((counter >> (kCounterBits - 1 - (k - kGuardBits))) & 1);
    const cv::Rect block = cv::Rect(b / 2 + k * b, b / 2, b, b) & whole;
    if (!block.empty()) img(block).setTo(cv::Scalar::all(one ? 255 : 0));
  }
  // Text: the label, the simulated time, the frame number.
  char line[96];
  std::snprintf(line, sizeof line, "t=%.3f s  frame %llu", static_cast<double>(t.count()) / 1e6,
                static_cast<unsigned long long>(index));
  const double scale = size_.width / 640.0;
  const int y0 = 3 * b;
  cv::rectangle(img, cv::Rect(0, y0, size_.width, static_cast<int>(60 * scale)) & whole, cv::Scalar::all(40), cv::FILLED);
  cv::putText(img, label_, {b / 2, y0 + static_cast<int>(24 * scale)}, cv::FONT_HERSHEY_SIMPLEX, 0.7 * scale,
              cv::Scalar::all(230), 1, cv::LINE_AA);
  cv::putText(img, line, {b / 2, y0 + static_cast<int>(50 * scale)}, cv::FONT_HERSHEY_SIMPLEX, 0.7 * scale,
              cv::Scalar::all(230), 1, cv::LINE_AA);
  return img;
}

std::optional<std::uint32_t> TestPattern::read_counter(const cv::Mat& bgr) {
  if (bgr.empty() || bgr.type() != CV_8UC3) return std::nullopt;
  const int b = block_size(bgr.size());
  if (b / 2 + (kGuardBits + kCounterBits) * b > bgr.cols || 2 * b > bgr.rows) return std::nullopt;
  std::uint32_t value = 0;
  for (int k = 0; k < kGuardBits + kCounterBits; ++k) {
    const cv::Scalar m = cv::mean(bgr(cv::Rect(b / 2 + k * b + b / 4, b / 2 + b / 4, b / 2, b / 2)));
    const double grey = (m[0] + m[1] + m[2]) / 3;
    if (grey > 80 && grey < 176) return std::nullopt;  // neither black nor white
    const bool one = grey >= 176;
    if (k < kGuardBits) {
      if (one != (k % 2 == 0)) return std::nullopt;
    } else {
      value = (value << 1) | (one ? 1u : 0u);
    }
  }
  return value;
}

}  // namespace gatetwin::devices
