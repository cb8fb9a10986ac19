// libFuzzer target: the Modbus TCP codec (devices/src/modbus.cpp) on arbitrary bytes, read as a stream the
// way a session reads it: frame after frame, as requests and as responses. Properties beyond "no crash, no
// sanitizer report": a decoded frame never claims more bytes than it was given; whatever decodes re-encodes
// to a frame that decodes to the same message; a request a device cannot serve gets an exception reply
// that decodes as one.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "gatetwin/devices/modbus.hpp"

namespace mb = gatetwin::devices::modbus;

namespace {

bool same(const mb::Request& a, const mb::Request& b) {
  return a.header.transaction == b.header.transaction && a.header.unit == b.header.unit && a.function == b.function &&
         a.address == b.address && a.quantity == b.quantity && a.bits == b.bits && a.registers == b.registers &&
         a.malformed == b.malformed;
}

bool same(const mb::Response& a, const mb::Response& b) {
  return a.header.transaction == b.header.transaction && a.header.unit == b.header.unit && a.function == b.function &&
         a.exception == b.exception && a.address == b.address && a.quantity == b.quantity && a.bits == b.bits &&
         a.registers == b.registers;
}

void requests(std::span<const std::uint8_t> rest) {
  while (!rest.empty()) {
    const auto d = mb::decode_request(rest);
    if (d.status != mb::Status::ok) {
      FUZZ_CHECK(d.consumed == 0);
      FUZZ_CHECK(d.status == mb::Status::need_more || !d.error.empty());
      return;
    }
    FUZZ_CHECK(d.consumed >= mb::kHeaderBytes + 1 && d.consumed <= rest.size() && d.consumed <= mb::kMaxAduBytes);
    if (d.message.malformed) {
      const auto reply = mb::encode_response(mb::exception_response(d.message, *d.message.malformed));
      const auto back = mb::decode_response(reply);
      FUZZ_CHECK(back.status == mb::Status::ok && back.consumed == reply.size());
      FUZZ_CHECK(back.message.exception == d.message.malformed);
      FUZZ_CHECK(back.message.header.transaction == d.message.header.transaction);
    } else {
      const auto bytes = mb::encode_request(d.message);
      const auto again = mb::decode_request(bytes);
      FUZZ_CHECK(again.status == mb::Status::ok && again.consumed == bytes.size());
      FUZZ_CHECK(same(again.message, d.message));
    }
    rest = rest.subspan(d.consumed);
  }
}

void responses(std::span<const std::uint8_t> rest) {
  while (!rest.empty()) {
    const auto d = mb::decode_response(rest);
    if (d.status != mb::Status::ok) {
      FUZZ_CHECK(d.consumed == 0);
      FUZZ_CHECK(d.status == mb::Status::need_more || !d.error.empty());
      return;
    }
    FUZZ_CHECK(d.consumed >= mb::kHeaderBytes + 1 && d.consumed <= rest.size() && d.consumed <= mb::kMaxAduBytes);
    const auto bytes = mb::encode_response(d.message);
    const auto again = mb::decode_response(bytes);
    FUZZ_CHECK(again.status == mb::Status::ok && again.consumed == bytes.size());
    FUZZ_CHECK(same(again.message, d.message));
    rest = rest.subspan(d.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  requests(input);
  responses(input);
  return 0;
}
