#pragma once
// The emulated IP camera: RTSP 1.0 with RTP/JPEG over TCP (interleaved) or UDP, and HTTP with an MJPEG
// stream (multipart/x-mixed-replace) and a snapshot, optionally behind HTTP Digest authentication, as the
// IP cameras at compound gates expose them. Each frame is encoded once and fanned out to every client.
//
// The picture comes from a FrameSource, which the simulation implements (the resident in view); the test
// pattern below serves standalone use. Times come from a Clock (simulated time): RTP timestamps are the
// frame's simulated time at 90 kHz. Frames are produced on a wall-clock ticker at `fps` (the HIL pacing
// keeps simulated time in step with wall time).
//
// Threading: a Camera and its connections run on one io_context driven by ONE thread; several cameras
// may share it. FrameSource::frame is called on that thread. The source and the clock must outlive the
// camera's work: until stop() has run on that thread, or the io_context has stopped.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <opencv2/core.hpp>

#include "gatetwin/devices/clock.hpp"
#include "gatetwin/devices/fault.hpp"

namespace gatetwin::devices {

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  virtual cv::Size size() const = 0;
  // The picture at simulated time t, `index` counting frames from 0: CV_8UC3 (BGR) of size().
  virtual cv::Mat frame(Micros t, std::uint64_t index) = 0;
};

// Moving colour bars, the simulated time as text, and the frame counter twice: as text and as a strip of
// black and white blocks along the top that survives JPEG, so a client can tell which frame it decoded.
class TestPattern final : public FrameSource {
 public:
  explicit TestPattern(cv::Size size = {640, 480}, std::string label = "GateTwin test pattern");
  cv::Size size() const override { return size_; }
  cv::Mat frame(Micros t, std::uint64_t index) override;
  // The counter in a decoded frame's block strip; nullopt when the strip's guard bits do not read.
  static std::optional<std::uint32_t> read_counter(const cv::Mat& bgr);

 private:
  cv::Size size_;
  std::string label_;
};

struct CameraAuth {
  std::string user, password;
  std::string realm = "GateTwin camera";
};

struct CameraOptions {
  std::string name = "lane-1";               // the stream's path: rtsp://HOST:PORT/NAME, http://HOST:PORT/NAME.mjpg
  std::string address = "127.0.0.1";
  std::uint16_t rtsp_port = 0, http_port = 0;  // 0: any free port
  double fps = 15.0;
  int jpeg_quality = 90;                      // 1..100, OpenCV's IMWRITE_JPEG_QUALITY
  std::chrono::seconds session_timeout{60};   // RTSP sessions with no request or RTCP for this long end
  std::optional<CameraAuth> auth;             // Digest (RFC 2617) on both ports when set
  std::size_t max_clients = 16;               // RTSP connections plus HTTP connections
  std::size_t max_queued_bytes = 4u << 20;    // per TCP client; frames that do not fit are skipped for it
  std::size_t keep_frames = 0;                // keep the last N frames (raw and JPEG) for recent()
  FaultPlan faults;                           // off: disconnect; stuck: stall; garbage: corrupt JPEG;
                                              // intermittent: dropped frames; slow: fps x value; delayed
};

struct CameraCounters {
  std::uint64_t frames = 0;            // produced by the ticker (including dropped and stalled ones)
  std::uint64_t frames_sent = 0;       // fanned out to clients
  std::uint64_t frames_dropped = 0;    // by intermittent / slow faults
  std::uint64_t frames_skipped = 0;    // per client: its queue was full
  std::uint64_t deadline_misses = 0;   // ticks that came more than one frame period late
  std::uint64_t rtsp_sessions = 0, http_streams = 0, snapshots = 0;
  std::uint64_t auth_failures = 0, protocol_errors = 0, timeouts = 0, refused = 0;
  std::uint64_t rtp_packets = 0, rtcp_reports = 0;
};

// One encoded frame, shared by every client it is sent to.
struct EncodedFrame {
  std::uint64_t index = 0;
  Micros time{0};
  std::uint32_t rtp_timestamp = 0;
  std::vector<std::uint8_t> jpeg;
  cv::Mat raw;  // only when CameraOptions::keep_frames > 0
};

class Camera {
 public:
  // Binds both ports before returning; call start() to begin producing frames.
  Camera(boost::asio::io_context& io, FrameSource& source, const Clock& clock, CameraOptions options = {});
  ~Camera();
  Camera(const Camera&) = delete;
  Camera& operator=(const Camera&) = delete;

  std::uint16_t rtsp_port() const;
  std::uint16_t http_port() const;
  std::string rtsp_url() const;      // rtsp://ADDRESS:PORT/NAME
  std::string mjpeg_url() const;     // http://ADDRESS:PORT/NAME.mjpg
  std::string snapshot_url() const;  // http://ADDRESS:PORT/NAME.jpg

  void start();  // posts to the io_context
  void stop();   // posts; closes every connection and the listeners
  CameraCounters counters() const;   // thread-safe
  // A kept frame by index (keep_frames > 0), thread-safe; nullptr when it is not (or no longer) kept.
  std::shared_ptr<const EncodedFrame> recent(std::uint64_t index) const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace gatetwin::devices
