// libFuzzer target: the Wiegand frame codec (devices/src/wiegand.cpp). The input is a frame and a string:
//   byte 0       the frame's bit count (0..255: lengths beyond 64 must be handled too)
//   bytes 1..8   its value, big-endian (stray bits above the length included)
//   bytes 9..    text for from_bit_string()
// Properties: decode() is total and exact (a frame decodes ok only if it is the encoding of what it decodes
// to), bit strings round-trip, flip_bit() is its own inverse and a single flip is always caught.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "gatetwin/devices/wiegand.hpp"

namespace wg = gatetwin::devices::wiegand;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return 0;
  std::uint64_t value = 0;
  for (int i = 1; i <= 8; ++i) value = (value << 8) | data[i];
  const wg::Frame frame{data[0], value};
  const unsigned n = frame.bits < 64 ? frame.bits : 64;
  const std::uint64_t mask = n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
  const wg::Frame clean{frame.bits, value & mask};

  const wg::DecodeResult r = wg::decode(frame);
  FUZZ_CHECK(!wg::to_string(r.status).empty());
  if (r.status == wg::DecodeStatus::ok) {
    FUZZ_CHECK(wg::encode(r.credential) == clean);
    // One wrong bit anywhere is caught.
    FUZZ_CHECK(wg::decode(wg::flip_bit(frame, value % frame.bits)).status != wg::DecodeStatus::ok);
  } else {
    FUZZ_CHECK(r.credential == (wg::Credential{wg::Format::W26, 0, 0}));
  }
  const std::string text = wg::to_bit_string(frame);
  FUZZ_CHECK(text.size() == n);
  if (n >= 1 && frame.bits <= 64) FUZZ_CHECK(wg::from_bit_string(text) == clean);
  const unsigned index = data[8];
  FUZZ_CHECK(wg::flip_bit(wg::flip_bit(frame, index), index) == frame);

  const std::string_view rest(reinterpret_cast<const char*>(data + 9), size - 9);
  if (const auto parsed = wg::from_bit_string(rest)) {
    FUZZ_CHECK(wg::to_bit_string(*parsed) == rest);
    (void)wg::decode(*parsed);
  }
  return 0;
}
