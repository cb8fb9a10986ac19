// A camera on loopback for the client tests (ffprobe, tshark): prints one line
//   ready rtsp=URL mjpeg=URL snapshot=URL
// and serves the test pattern until its standard input closes, then prints its counters and exits.
// Options: --fps F, --quality Q, --auth USER:PASSWORD, --fault MODE:START_S:END_S[:VALUE] (repeatable).
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include "gatetwin/devices/camera.hpp"

namespace gd = gatetwin::devices;

int main(int argc, char** argv) {
  gd::CameraOptions options;
  std::vector<gd::Fault> faults;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--fps") options.fps = std::stod(value);
    else if (key == "--quality") options.jpeg_quality = std::stoi(value);
    else if (key == "--auth") {
      const auto colon = value.find(':');
      options.auth = gd::CameraAuth{value.substr(0, colon), value.substr(colon + 1)};
    } else if (key == "--fault") {
      gd::Fault f;
      char mode[32] = {};
      double start = 0, end = 0, v = 0;
      if (std::sscanf(value.c_str(), "%31[a-z]:%lf:%lf:%lf", mode, &start, &end, &v) < 3 ||
          !gd::parse_fault_mode(mode)) {
        std::cerr << "camera_server: bad --fault '" << value << "'\n";
        return 2;
      }
      f.mode = *gd::parse_fault_mode(mode);
      f.start = gd::Micros{static_cast<std::int64_t>(start * 1e6)};
      f.end = gd::Micros{static_cast<std::int64_t>(end * 1e6)};
      f.value = v;
      faults.push_back(f);
    } else {
      std::cerr << "camera_server: unknown option " << key << "\n";
      return 2;
    }
  }
  options.faults = gd::FaultPlan(faults, 1);
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  gd::SteadyClock clock;
  gd::TestPattern pattern;
  gd::Camera camera(io, pattern, clock, options);
  camera.start();
  std::thread runner([&io] { io.run(); });
  std::cout << "ready rtsp=" << camera.rtsp_url() << " mjpeg=" << camera.mjpeg_url()
            << " snapshot=" << camera.snapshot_url() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {}
  camera.stop();
  work.reset();
  io.stop();
  runner.join();
  const auto c = camera.counters();
  std::cout << "frames=" << c.frames << " sent=" << c.frames_sent << " rtsp_sessions=" << c.rtsp_sessions
            << " http_streams=" << c.http_streams << " protocol_errors=" << c.protocol_errors
            << " auth_failures=" << c.auth_failures << " deadline_misses=" << c.deadline_misses << std::endl;
  return 0;
}
