// A card reader for out-of-process peers (tests/devices/card_reader_peer.py): serves the Wiegand TCP
// transport on a free loopback port with a steady clock, prints "ready port=P" once it listens, and
// presents the frames named on standard input, one command a line:
//   present BITS    present the frame "BITS" (wire order, e.g. 00001001000110000001110011);
//                   prints "presented seq=N fate=F"
//   counters        prints "counters framing_errors=.. protocol_errors=.. acks=.. keepalives=.."
//   quit            (or end of input) stops the reader and exits 0
// Arguments: [keepalive_ms] (default 1000).
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <boost/asio/post.hpp>

#include "gatetwin/devices/card_reader.hpp"

namespace card = gatetwin::devices::card;
namespace wg = gatetwin::devices::wiegand;

int main(int argc, char** argv) {
  card::ReaderOptions options;
  if (argc > 1) options.keepalive = std::chrono::milliseconds(std::atoi(argv[1]));
  boost::asio::io_context io;
  gatetwin::devices::SteadyClock clock;
  card::CardReader reader(io, clock, {}, options);
  std::thread thread([&] { io.run(); });
  std::cout << "ready port=" << reader.port() << std::endl;

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command, argument;
    in >> command >> argument;
    if (command == "quit") break;
    if (command == "present") {
      const auto frame = wg::from_bit_string(argument);
      if (!frame) {
        std::cout << "error not a bit string: " << argument << std::endl;
        continue;
      }
      const auto p = reader.present(*frame);
      std::cout << "presented seq=" << p.sequence << " fate=" << card::to_string(p.fate) << std::endl;
    } else if (command == "counters") {
      const auto c = reader.counters();
      std::cout << "counters framing_errors=" << c.framing_errors << " protocol_errors=" << c.protocol_errors
                << " acks=" << c.acks_received << " keepalives=" << c.keepalives_received << std::endl;
    } else {
      std::cout << "error unknown command: " << command << std::endl;
    }
  }
  boost::asio::post(io, [&] { reader.stop(); });
  io.stop();
  thread.join();
  return 0;
}
