// How many 640x480 @ 15 fps camera streams this machine serves without missing frame deadlines: the
// emulator's cameras (devices/) beside FFmpeg serving the same frames in the same run (the baseline).
//
// Both sides get the same 30 pre-rendered test-pattern frames in a loop, encode each frame to JPEG and send
// it as RTP/JPEG over UDP to a receiver in this process, which notes when each frame's last packet arrived.
//   emulator: N Camera objects on two io_context threads (one per core), each with an RTSP session set up
//             over TCP for UDP delivery, as a client would;
//   ffmpeg:   N `ffmpeg -f rawvideo -i pipe: -c:v mjpeg -huffman default -q:v 3 -f rtp` processes (RFC 2435
//             needs the standard Huffman tables), fed raw frames at 15 fps.
// A frame is late when it arrives more than one frame period after its RTP timestamp says it should (against
// the stream's median delay; the first second is warm-up); a stream keeps up when it delivers >= 99% of its
// frames and < 1% of them are late.
// Printed per N: delivered %, late %, CPU seconds per stream-second. Usage: camera_bench [SECONDS] [N...]
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "gatetwin/devices/camera.hpp"

namespace gd = gatetwin::devices;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kFps = 15.0;
constexpr int kLoop = 30;

// The same frames for everyone: a loop of pre-rendered test-pattern frames.
class Replay final : public gd::FrameSource {
 public:
  explicit Replay(const std::vector<cv::Mat>& frames) : frames_(frames) {}
  cv::Size size() const override { return frames_[0].size(); }
  cv::Mat frame(gd::Micros, std::uint64_t index) override { return frames_[index % frames_.size()]; }

 private:
  const std::vector<cv::Mat>& frames_;
};

double cpu_seconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// UDP sockets (RTP, RTCP) per stream and a thread that notes each frame's arrival by its marker packet.
class Receiver {
 public:
  explicit Receiver(int streams) : io_(), frames_(static_cast<std::size_t>(streams)) {
    for (int i = 0; i < streams; ++i) {
      rtp_.emplace_back(io_, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      rtcp_.emplace_back(io_, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      const int big = 4 << 20;
      ::setsockopt(rtp_.back().native_handle(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    }
  }
  std::uint16_t rtp_port(int i) const { return rtp_[static_cast<std::size_t>(i)].local_endpoint().port(); }
  std::uint16_t rtcp_port(int i) const { return rtcp_[static_cast<std::size_t>(i)].local_endpoint().port(); }

  void start() {
    thread_ = std::thread([this] {
      std::vector<pollfd> fds;
      for (auto& s : rtp_) fds.push_back({s.native_handle(), POLLIN, 0});
      std::vector<std::uint8_t> buf(65536);
      while (!stop_) {
        if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
        const auto now = Clock::now();
        for (std::size_t i = 0; i < fds.size(); ++i) {
          if (!(fds[i].revents & POLLIN)) continue;
          while (true) {
            const auto n = ::recv(fds[i].fd, buf.data(), buf.size(), MSG_DONTWAIT);
            if (n < 12) break;
            if (buf[1] & 0x80) {  // marker: the frame's last packet
              const std::uint32_t ts = (std::uint32_t{buf[4]} << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7];
              frames_[i].push_back({now, ts});
            }
          }
        }
      }
      cpu_ = thread_cpu_seconds();
    });
  }
  void stop() {
    stop_ = true;
    thread_.join();
  }
  double cpu() const { return cpu_; }

  struct Result {
    double delivered = 0, late = 0;
  };
  // Over the frames whose media time falls in [kWarmUp, seconds) of each stream's timeline (the first second
  // is start-up: processes launching, sessions being set up). Each stream's expected arrival of a frame is
  // its media time plus the stream's median (arrival - media time), so a start-up burst does not set the
  // reference and a stream that falls behind shows as late from the middle of the run on.
  Result result(double seconds) const {
    constexpr double kWarmUp = 1.0;
    Result r;
    const double period = 1.0 / kFps;
    double expected = 0, delivered = 0, late = 0;
    for (const auto& stream : frames_) {
      expected += (seconds - kWarmUp) * kFps;
      if (stream.empty()) continue;
      const std::uint32_t ts0 = stream.front().ts;
      const auto a0 = stream.front().at;
      std::vector<std::pair<double, double>> rel;  // (arrival - a0, media time), measured window only
      std::vector<double> lag;
      for (const auto& f : stream) {
        const double arrival = std::chrono::duration<double>(f.at - a0).count();
        const double media = static_cast<double>(static_cast<std::uint32_t>(f.ts - ts0)) / 90000.0;
        if (media < kWarmUp || media >= seconds) continue;
        rel.emplace_back(arrival, media);
        lag.push_back(arrival - media);
      }
      if (lag.empty()) continue;
      std::nth_element(lag.begin(), lag.begin() + static_cast<std::ptrdiff_t>(lag.size() / 2), lag.end());
      const double anchor = lag[lag.size() / 2];
      for (const auto& [arrival, media] : rel) {
        ++delivered;
        if (arrival - media - anchor > period) ++late;
      }
    }
    r.delivered = delivered / expected;
    r.late = delivered > 0 ? late / delivered : 1.0;
    return r;
  }

 private:
  struct Arrival {
    Clock::time_point at;
    std::uint32_t ts;
  };
  asio::io_context io_;
  std::vector<asio::ip::udp::socket> rtp_, rtcp_;
  std::vector<std::vector<Arrival>> frames_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  double cpu_ = 0;
};

struct Figures {
  double delivered, late, cpu_per_stream_second;
  std::uint64_t ticker_misses = 0;
};

// One RTSP control connection per stream: SETUP for UDP delivery to the receiver's ports, then PLAY.
asio::ip::tcp::socket rtsp_play(asio::io_context& io, const std::string& url, std::uint16_t rtp, std::uint16_t rtcp) {
  const auto port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::streambuf in;
  auto request = [&](const std::string& text) {
    asio::write(s, asio::buffer(text));
    const auto n = asio::read_until(s, in, "\r\n\r\n");
    std::string reply(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + static_cast<std::ptrdiff_t>(n));
    in.consume(n);
    if (reply.rfind("RTSP/1.0 200", 0) != 0) throw std::runtime_error("RTSP refused: " + reply);
    return reply;
  };
  const std::string setup = request("SETUP " + url + "/track1 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port=" +
                                    std::to_string(rtp) + "-" + std::to_string(rtcp) + "\r\n\r\n");
  const auto at = setup.find("Session: ");
  const std::string session = setup.substr(at + 9, setup.find_first_of(";\r", at + 9) - at - 9);
  request("PLAY " + url + " RTSP/1.0\r\nCSeq: 2\r\nSession: " + session + "\r\n\r\n");
  return s;
}

Figures run_emulator(const std::vector<cv::Mat>& frames, int n, double seconds) {
  Receiver rx(n);
  rx.start();
  asio::io_context io[2];
  auto guard0 = asio::make_work_guard(io[0]);
  auto guard1 = asio::make_work_guard(io[1]);
  gd::SteadyClock clock;
  std::vector<std::unique_ptr<Replay>> sources;
  std::vector<std::unique_ptr<gd::Camera>> cameras;
  for (int i = 0; i < n; ++i) {
    sources.push_back(std::make_unique<Replay>(frames));
    gd::CameraOptions o;
    o.name = "cam-" + std::to_string(i);
    o.fps = kFps;
    cameras.push_back(std::make_unique<gd::Camera>(io[i % 2], *sources.back(), clock, o));
  }
  std::thread threads[2] = {std::thread([&] { io[0].run(); }), std::thread([&] { io[1].run(); })};
  asio::io_context control;
  std::vector<asio::ip::tcp::socket> sessions;
  const double cpu0 = cpu_seconds(RUSAGE_SELF);
  for (int i = 0; i < n; ++i) {
    cameras[static_cast<std::size_t>(i)]->start();
    sessions.push_back(rtsp_play(control, cameras[static_cast<std::size_t>(i)]->rtsp_url(), rx.rtp_port(i), rx.rtcp_port(i)));
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds + 0.5));  // the measured run itself
  Figures f{};
  for (auto& c : cameras) {
    f.ticker_misses += c->counters().deadline_misses;
    c->stop();
  }
  const double cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
  rx.stop();
  guard0.reset();
  guard1.reset();
  io[0].stop();
  io[1].stop();
  for (auto& t : threads) t.join();
  const auto r = rx.result(seconds);
  f.delivered = r.delivered;
  f.late = r.late;
  f.cpu_per_stream_second = (cpu - rx.cpu()) / (n * (seconds + 0.5));
  return f;
}

Figures run_ffmpeg(const std::vector<cv::Mat>& frames, int n, double seconds) {
  Receiver rx(n);
  rx.start();
  struct Child {
    pid_t pid;
    int in;
  };
  std::vector<Child> children;
  const double cpu0 = cpu_seconds(RUSAGE_CHILDREN);
  for (int i = 0; i < n; ++i) {
    int pipe_fd[2];
    if (::pipe(pipe_fd) != 0) throw std::runtime_error("pipe");
    const std::string out = "rtp://127.0.0.1:" + std::to_string(rx.rtp_port(i)) + "?rtcpport=" + std::to_string(rx.rtcp_port(i));
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(pipe_fd[0], 0);
      const int null = ::open("/dev/null", O_WRONLY);  // ffmpeg prints the stream's SDP on stdout
      ::dup2(null, 1);
      ::close(pipe_fd[0]);
      ::close(pipe_fd[1]);
      ::execlp("ffmpeg", "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "rawvideo", "-pix_fmt",
               "bgr24", "-s", "640x480", "-r", "15", "-i", "pipe:0", "-c:v", "mjpeg", "-huffman", "default", "-q:v", "3", "-pix_fmt",
               "yuvj420p", "-f", "rtp", out.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(pipe_fd[0]);
    children.push_back({pid, pipe_fd[1]});
  }
  // Feed every ffmpeg its frames at 15 fps from one thread per stream.
  std::vector<std::thread> feeders;
  const auto start = Clock::now() + std::chrono::milliseconds(300);
  const int total = static_cast<int>((seconds + 0.5) * kFps);
  for (auto& c : children)
    feeders.emplace_back([&frames, fd = c.in, start, total] {
      for (int k = 0; k < total; ++k) {
        std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(k / kFps)));
        const cv::Mat& m = frames[static_cast<std::size_t>(k % kLoop)];
        std::size_t left = m.total() * m.elemSize();
        const auto* p = m.data;
        while (left > 0) {
          const auto w = ::write(fd, p, left);
          if (w <= 0) return;
          left -= static_cast<std::size_t>(w);
          p += w;
        }
      }
    });
  for (auto& t : feeders) t.join();
  for (auto& c : children) ::close(c.in);
  for (auto& c : children) ::waitpid(c.pid, nullptr, 0);
  const double cpu = cpu_seconds(RUSAGE_CHILDREN) - cpu0;
  rx.stop();
  const auto r = rx.result(seconds);
  return {r.delivered, r.late, cpu / (n * (seconds + 0.5)), 0};
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  const double seconds = argc > 1 ? std::stod(argv[1]) : 5.0;
  std::vector<int> counts;
  for (int i = 2; i < argc; ++i) counts.push_back(std::stoi(argv[i]));
  if (counts.empty()) counts = {8, 16, 32, 48};
  gd::TestPattern pattern;
  std::vector<cv::Mat> frames;
  for (int k = 0; k < kLoop; ++k) frames.push_back(pattern.frame(gd::Micros{k * 66'667}, static_cast<std::uint64_t>(k)));
  std::printf("camera streams, 640x480 @ %.0f fps, RTP/JPEG over UDP on loopback, %.0f s per run, %u cores\n", kFps,
              seconds, std::thread::hardware_concurrency());
  std::printf("%8s | %-44s | %-44s\n", "streams", "emulator: delivered  late  CPU s/stream-s  misses",
              "ffmpeg (baseline): delivered  late  CPU s/stream-s");
  int best_emulator = 0, best_ffmpeg = 0;
  double emu_cpu = 0, ff_cpu = 0;
  for (int n : counts) {
    const auto e = run_emulator(frames, n, seconds);
    const auto f = run_ffmpeg(frames, n, seconds);
    std::printf("%8d | %20.1f%% %5.1f%% %15.4f %7llu | %28.1f%% %5.1f%% %15.4f\n", n, 100 * e.delivered, 100 * e.late,
                e.cpu_per_stream_second, static_cast<unsigned long long>(e.ticker_misses), 100 * f.delivered,
                100 * f.late, f.cpu_per_stream_second);
    std::fflush(stdout);
    if (e.delivered >= 0.99 && e.late < 0.01) best_emulator = std::max(best_emulator, n);
    if (f.delivered >= 0.99 && f.late < 0.01) best_ffmpeg = std::max(best_ffmpeg, n);
    emu_cpu = e.cpu_per_stream_second;
    ff_cpu = f.cpu_per_stream_second;
  }
  std::printf("streams kept up (>= 99%% delivered, < 1%% late): emulator %d, ffmpeg %d (of those tried)\n", best_emulator,
              best_ffmpeg);
  std::printf("CPU per stream at the largest run: emulator %.4f s/s, ffmpeg %.4f s/s (%.2fx); 2 cores fit about "
              "%.0f emulator streams by CPU\n",
              emu_cpu, ff_cpu, ff_cpu / std::max(1e-9, emu_cpu), 2.0 / std::max(1e-9, emu_cpu));
  return 0;
}
