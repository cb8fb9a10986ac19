// The camera against a real client: OpenCV's VideoCapture with its FFmpeg backend reads the RTSP stream
// over TCP and over UDP, the MJPEG stream, and the Digest-protected stream, and every decoded frame matches
// the frame the camera made (identified by the test pattern's counter strip): PSNR >= 40 dB against the
// source picture. Faults: a stalled camera repeats its picture, an off camera refuses clients.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/io_context.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "gatetwin/devices/camera.hpp"

namespace gd = gatetwin::devices;
namespace asio = boost::asio;

namespace {

// A camera on an ephemeral loopback port with its own io thread, for the length of a test.
class Served {
 public:
  explicit Served(gd::CameraOptions options = {}) : camera(io, pattern, clock, with_kept(std::move(options))) {
    camera.start();
    thread = std::thread([this] { io.run(); });
  }
  ~Served() {
    camera.stop();
    work.reset();
    io.stop();
    thread.join();
  }
  static gd::CameraOptions with_kept(gd::CameraOptions o) {
    o.keep_frames = 200;
    return o;
  }
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  gd::SteadyClock clock;
  gd::TestPattern pattern;
  gd::Camera camera;
  std::thread thread;
};

// PSNR of the luma (BT.601 Y), as video quality is usually stated: the colour conversion after decoding
// differs between FFmpeg (swscale) and libjpeg in how chroma is upsampled, which is not the transport's doing.
double psnr_y(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat ya, yb;
  cv::cvtColor(a, ya, cv::COLOR_BGR2GRAY);
  cv::cvtColor(b, yb, cv::COLOR_BGR2GRAY);
  return cv::PSNR(ya, yb);
}

struct Received {
  int frames = 0, identified = 0;
  double worst_psnr_source = 1e9, worst_psnr_jpeg = 1e9, worst_psnr_bgr = 1e9;
  std::vector<std::uint32_t> counters;
};

// Opens `url` with the FFmpeg backend (`options`: OPENCV_FFMPEG_CAPTURE_OPTIONS, e.g. "rtsp_transport;tcp"),
// reads `n` frames, and compares each with the camera's own frame of the same counter.
Received read_frames(const Served& s, const std::string& url, const std::string& options, int n) {
  ::setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", options.c_str(), 1);
  cv::VideoCapture cap(url, cv::CAP_FFMPEG, {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv::CAP_PROP_READ_TIMEOUT_MSEC, 10000});
  Received r;
  if (!cap.isOpened()) return r;
  cv::Mat img;
  for (int i = 0; i < n && cap.read(img); ++i) {
    ++r.frames;
    const auto counter = gd::TestPattern::read_counter(img);
    if (!counter) continue;
    r.counters.push_back(*counter);
    const auto sent = s.camera.recent(*counter);
    if (!sent) continue;
    ++r.identified;
    const cv::Mat decoded_here = cv::imdecode(sent->jpeg, cv::IMREAD_COLOR);
    r.worst_psnr_source = std::min(r.worst_psnr_source, psnr_y(img, sent->raw));
    r.worst_psnr_jpeg = std::min(r.worst_psnr_jpeg, psnr_y(img, decoded_here));
    r.worst_psnr_bgr = std::min(r.worst_psnr_bgr, cv::PSNR(img, sent->raw));
  }
  return r;
}

void expect_faithful(const Received& r, int n) {
  std::printf("frames %d identified %d; worst PSNR-Y against the source %.1f dB, against libjpeg's decoding of the "
              "same JPEG %.1f dB; BGR against the source %.1f dB\n",
              r.frames, r.identified, r.worst_psnr_source, r.worst_psnr_jpeg, r.worst_psnr_bgr);
  EXPECT_EQ(r.frames, n);
  EXPECT_EQ(r.identified, n);
  EXPECT_GE(r.worst_psnr_source, 40.0);
  EXPECT_GE(r.worst_psnr_jpeg, 50.0);  // FFmpeg's and libjpeg's IDCTs differ by rounding only
  // Frames arrive in order, each newer than the last.
  for (std::size_t i = 1; i < r.counters.size(); ++i) EXPECT_GT(r.counters[i], r.counters[i - 1]);
}

}  // namespace

TEST(CameraPeer, VideoCaptureReadsRtspOverTcp) {
  Served s;
  const auto r = read_frames(s, s.camera.rtsp_url(), "rtsp_transport;tcp", 20);
  expect_faithful(r, 20);
  const auto c = s.camera.counters();
  EXPECT_EQ(c.rtsp_sessions, 1u);
  EXPECT_GT(c.rtcp_reports, 0u);
  EXPECT_EQ(c.protocol_errors, 0u);
}

TEST(CameraPeer, VideoCaptureReadsRtspOverUdp) {
  Served s;
  const auto r = read_frames(s, s.camera.rtsp_url(), "rtsp_transport;udp", 20);
  expect_faithful(r, 20);
  EXPECT_EQ(s.camera.counters().protocol_errors, 0u);
}

TEST(CameraPeer, VideoCaptureReadsMjpegOverHttp) {
  Served s;
  const auto r = read_frames(s, s.camera.mjpeg_url(), "", 20);
  expect_faithful(r, 20);
  EXPECT_EQ(s.camera.counters().http_streams, 1u);
}

TEST(CameraPeer, DigestAuthenticationAdmitsOnlyTheRightPassword) {
  gd::CameraOptions o;
  o.auth = gd::CameraAuth{"admin", "gate-2020"};
  Served s(o);
  const std::string url = s.camera.rtsp_url();
  const std::string with = "rtsp://admin:gate-2020@" + url.substr(7);
  const std::string wrong = "rtsp://admin:wrong@" + url.substr(7);
  expect_faithful(read_frames(s, with, "rtsp_transport;tcp", 5), 5);
  EXPECT_EQ(read_frames(s, url, "rtsp_transport;tcp", 5).frames, 0);
  EXPECT_EQ(read_frames(s, wrong, "rtsp_transport;tcp", 5).frames, 0);
  EXPECT_GE(s.camera.counters().auth_failures, 2u);
  const std::string mjpeg = s.camera.mjpeg_url();
  expect_faithful(read_frames(s, "http://admin:gate-2020@" + mjpeg.substr(7), "", 5), 5);
  EXPECT_EQ(read_frames(s, mjpeg, "", 5).frames, 0);
}

TEST(CameraPeer, AStalledCameraRepeatsItsPicture) {
  gd::CameraOptions o;
  o.faults = gd::FaultPlan({{gd::FaultMode::stuck, gd::Micros{0}, gd::Micros{3'600'000'000}}}, 1);
  Served s(o);
  const auto r = read_frames(s, s.camera.rtsp_url(), "rtsp_transport;tcp", 10);
  ASSERT_EQ(r.frames, 10);
  ASSERT_EQ(r.counters.size(), 10u);
  for (auto c : r.counters) EXPECT_EQ(c, r.counters.front());  // the frame before the stall, over and over
}

TEST(CameraPeer, AnOffCameraRefusesClients) {
  gd::CameraOptions o;
  o.faults = gd::FaultPlan({{gd::FaultMode::off, gd::Micros{0}, gd::Micros{3'600'000'000}}}, 1);
  Served s(o);
  EXPECT_EQ(read_frames(s, s.camera.rtsp_url(), "rtsp_transport;tcp", 3).frames, 0);
  EXPECT_GE(s.camera.counters().refused, 1u);
}

TEST(CameraPeer, IntermittentDropsFramesTheClientNeverSees) {
  gd::CameraOptions o;
  o.faults = gd::FaultPlan({{gd::FaultMode::intermittent, gd::Micros{0}, gd::Micros{3'600'000'000}, 0.3}}, 9);
  Served s(o);
  const auto r = read_frames(s, s.camera.rtsp_url(), "rtsp_transport;tcp", 20);
  ASSERT_EQ(r.frames, 20);
  // Frames the plan drops never arrive: every decoded counter is one the plan let through.
  const auto& plan = o.faults;
  int gaps = 0;
  for (std::size_t i = 0; i < r.counters.size(); ++i) {
    EXPECT_FALSE(plan.drops(gd::Micros{1}, r.counters[i])) << r.counters[i];
    if (i > 0 && r.counters[i] > r.counters[i - 1] + 1) ++gaps;
  }
  EXPECT_GT(gaps, 0);
  EXPECT_GT(s.camera.counters().frames_dropped, 0u);
}

namespace {

// A raw TCP connection whose reads give up after 5 s, and a helper that reads until the server closes.
asio::ip::tcp::socket raw(asio::io_context& io, std::uint16_t port) {
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  const timeval limit{5, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  return s;
}
std::string read_until_closed(asio::ip::tcp::socket& s) {
  std::string all;
  char buf[4096];
  while (true) {
    boost::system::error_code ec;
    const auto n = s.read_some(asio::buffer(buf), ec);
    all.append(buf, n);
    if (ec) return ec == asio::error::eof ? all : all + "\n<error: " + ec.message() + ">";
  }
}

}  // namespace

TEST(CameraPeer, GarbageGets400AndTheConnectionCloses) {
  Served s;
  asio::io_context io;
  auto c = raw(io, s.camera.rtsp_port());
  asio::write(c, asio::buffer(std::string("\x16\x03\x01\x02\x00 hello", 11)));
  const auto reply = read_until_closed(c);
  EXPECT_EQ(reply.rfind("RTSP/1.0 400 Bad Request\r\n", 0), 0u) << reply;
  // The camera goes on serving others.
  expect_faithful(read_frames(s, s.camera.rtsp_url(), "rtsp_transport;tcp", 3), 3);
  EXPECT_EQ(s.camera.counters().protocol_errors, 1u);
  // HTTP too: a bad request line is answered 400 and closed.
  auto h = raw(io, s.camera.http_port());
  asio::write(h, asio::buffer(std::string("GET\r\n\r\n")));
  EXPECT_EQ(read_until_closed(h).rfind("HTTP/1.0 400 Bad Request\r\n", 0), 0u);
}

TEST(CameraPeer, AnIdleSessionEndsAtItsTimeout) {
  gd::CameraOptions o;
  o.session_timeout = std::chrono::seconds(1);
  Served s(o);
  asio::io_context io;
  auto c = raw(io, s.camera.rtsp_port());
  const std::string url = s.camera.rtsp_url();
  asio::write(c, asio::buffer("SETUP " + url + "/track1 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"));
  const auto t0 = std::chrono::steady_clock::now();
  const auto all = read_until_closed(c);  // nothing more is sent: no PLAY, no keep-alive
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(all.find("Session: "), std::string::npos) << all;
  EXPECT_NE(all.find(";timeout=1"), std::string::npos) << all;
  EXPECT_EQ(all.find("<error"), std::string::npos) << all;  // closed by the server, not our 5 s limit
  EXPECT_GE(waited, 0.9);
  EXPECT_EQ(s.camera.counters().timeouts, 1u);
}

TEST(CameraPeer, RtspStatusCodesForMisuse) {
  Served s;
  asio::io_context io;
  auto c = raw(io, s.camera.rtsp_port());
  const std::string url = s.camera.rtsp_url();
  const auto ask = [&](const std::string& request) {
    asio::write(c, asio::buffer(request));
    asio::streambuf in;
    const auto n = asio::read_until(c, in, "\r\n\r\n");
    std::string head(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + static_cast<std::ptrdiff_t>(n));
    return head.substr(0, head.find("\r\n"));
  };
  EXPECT_EQ(ask("PLAY " + url + " RTSP/1.0\r\nCSeq: 1\r\n\r\n"), "RTSP/1.0 454 Session Not Found");
  EXPECT_EQ(ask("DESCRIBE rtsp://127.0.0.1/elsewhere RTSP/1.0\r\nCSeq: 2\r\n\r\n"), "RTSP/1.0 404 Not Found");
  EXPECT_EQ(ask("SETUP " + url + "/track1 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;multicast\r\n\r\n"),
            "RTSP/1.0 461 Unsupported Transport");
  EXPECT_EQ(ask("RECORD " + url + " RTSP/1.0\r\nCSeq: 4\r\n\r\n"), "RTSP/1.0 405 Method Not Allowed");
  EXPECT_EQ(ask("OPTIONS * RTSP/2.0\r\nCSeq: 5\r\n\r\n"), "RTSP/1.0 505 RTSP Version Not Supported");
  EXPECT_EQ(ask("OPTIONS * RTSP/1.0\r\n\r\n"), "RTSP/1.0 400 Bad Request");  // no CSeq
  EXPECT_EQ(ask("GET_PARAMETER " + url + " RTSP/1.0\r\nCSeq: 6\r\n\r\n"), "RTSP/1.0 200 OK");
}

TEST(CameraPeer, SlowHalvesTheFrameRate) {
  gd::CameraOptions o;
  o.faults = gd::FaultPlan({{gd::FaultMode::slow, gd::Micros{0}, gd::Micros{3'600'000'000}, 0.5}}, 1);
  Served s(o);
  const auto r = read_frames(s, s.camera.rtsp_url(), "rtsp_transport;tcp", 10);
  ASSERT_EQ(r.identified, 10);
  for (auto c : r.counters) EXPECT_EQ(c % 2, 0u) << c;  // every odd frame is not sent
  const auto c = s.camera.counters();
  // Half the frames produced are dropped (slots the ticker missed on a loaded machine produce nothing).
  const double produced = static_cast<double>(c.frames - c.deadline_misses);
  EXPECT_NEAR(static_cast<double>(c.frames_dropped), produced / 2.0, 2.0);
}

TEST(CameraPeer, DelayedFramesArriveLate) {
  gd::CameraOptions o;
  o.faults = gd::FaultPlan({{gd::FaultMode::delayed, gd::Micros{0}, gd::Micros{3'600'000'000}, 0, gd::Micros{400'000},
                             gd::Micros{100'000}}},
                           1);
  Served s(o);
  ::setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp", 1);
  cv::VideoCapture cap(s.camera.rtsp_url(), cv::CAP_FFMPEG);
  ASSERT_TRUE(cap.isOpened());
  cv::Mat img;
  double least = 1e9;
  for (int i = 0; i < 8 && cap.read(img); ++i) {
    const auto seen = s.clock.now();
    const auto counter = gd::TestPattern::read_counter(img);
    ASSERT_TRUE(counter.has_value());
    const auto sent = s.camera.recent(*counter);
    ASSERT_TRUE(sent);
    least = std::min(least, std::chrono::duration<double>(seen - sent->time).count());
  }
  EXPECT_GE(least, 0.4);  // every frame spent at least the fault's delay on the link
}

TEST(CameraPeer, GarbageCorruptsThePicture) {
  gd::CameraOptions o;
  o.faults = gd::FaultPlan({{gd::FaultMode::garbage, gd::Micros{0}, gd::Micros{3'600'000'000}}}, 1);
  Served s(o);
  // The decoder gets broken JPEGs: what it makes of them is far from the source (or unreadable).
  ::setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp", 1);
  cv::VideoCapture cap(s.camera.rtsp_url(), cv::CAP_FFMPEG, {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, 10000,
                                                            cv::CAP_PROP_READ_TIMEOUT_MSEC, 10000});
  int damaged = 0, frames = 0;
  cv::Mat img;
  for (int i = 0; i < 6 && cap.isOpened() && cap.read(img); ++i) {
    ++frames;
    const auto counter = gd::TestPattern::read_counter(img);
    const auto sent = counter ? s.camera.recent(*counter) : nullptr;
    if (!sent || psnr_y(img, sent->raw) < 30.0) ++damaged;
  }
  // What FFmpeg makes of them depends on which bytes broke: sometimes a damaged picture, sometimes nothing it
  // can open. Whatever it decoded is far from the source.
  std::printf("garbage: %d frames decoded by FFmpeg, %d damaged\n", frames, damaged);
  EXPECT_EQ(damaged, frames);
  // And every frame the camera sent is broken for libjpeg too.
  int checked = 0;
  for (std::uint64_t i = 0; i < s.camera.counters().frames; ++i) {
    const auto sent = s.camera.recent(i);
    if (!sent) continue;
    ++checked;
    const cv::Mat decoded = cv::imdecode(sent->jpeg, cv::IMREAD_COLOR);
    EXPECT_TRUE(decoded.empty() || psnr_y(decoded, sent->raw) < 30.0) << "frame " << i;
  }
  EXPECT_GT(checked, 5);
}
