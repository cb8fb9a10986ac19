// libFuzzer target: the Wiegand TCP transport codec (devices/src/wiegand_tcp.cpp) on arbitrary bytes, read
// as a stream the way a session reads it. Properties: a message never claims more bytes than it was
// given; it re-encodes to exactly the bytes it took (the codec admits one encoding per message); the same
// bytes cut one short need more rather than decode or fail; an error names a field and consumes nothing.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "gatetwin/devices/wiegand_tcp.hpp"

namespace wt = gatetwin::devices::wiegand_tcp;
namespace wg = gatetwin::devices::wiegand;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> rest(data, size);
  while (!rest.empty()) {
    const auto d = wt::decode(rest);
    if (d.status != wt::Status::ok) {
      FUZZ_CHECK(d.consumed == 0);
      FUZZ_CHECK(d.status == wt::Status::need_more || !d.error.empty());
      FUZZ_CHECK(d.status != wt::Status::need_more || rest.size() < wt::kMaxFrameBytes);
      return 0;
    }
    FUZZ_CHECK(d.consumed >= wt::kHeaderBytes + wt::kCrcBytes && d.consumed <= wt::kMaxFrameBytes);
    FUZZ_CHECK(d.consumed <= rest.size());
    const auto taken = rest.first(d.consumed);
    const std::vector<std::uint8_t> again = wt::encode(d.message);
    FUZZ_CHECK(std::vector<std::uint8_t>(taken.begin(), taken.end()) == again);
    FUZZ_CHECK(wt::decode(taken.first(d.consumed - 1)).status == wt::Status::need_more);
    if (d.message.type == wt::Type::card) {
      FUZZ_CHECK(d.message.card.bits >= 1 && d.message.card.bits <= wt::kMaxCardBits);
      (void)wg::decode(d.message.card);
    }
    rest = rest.subspan(d.consumed);
  }
  return 0;
}
