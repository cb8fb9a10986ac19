// libFuzzer target: the camera's request codec (devices/src/rtsp.cpp) on arbitrary bytes, read as a stream
// the way an RTSP session reads it (requests and interleaved frames back to back) and as an HTTP request.
// Properties beyond "no crash, no sanitizer report": a decoded message never claims more bytes than it was
// given or than the limits allow; an error names its field; a request's CSeq is -1 or a number; whatever
// header a request carries can be fed to the Transport and Digest parsers; an encoded interleaved frame
// decodes back to itself.
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>

#include "fuzz_check.hpp"
#include "gatetwin/devices/rtsp.hpp"

namespace rtsp = gatetwin::devices::rtsp;

namespace {

void stream(std::span<const std::uint8_t> rest, bool interleaved) {
  while (!rest.empty()) {
    const auto d = rtsp::decode_message(rest, interleaved);
    if (d.status != rtsp::Status::ok) {
      FUZZ_CHECK(d.consumed == 0);
      FUZZ_CHECK(d.status == rtsp::Status::need_more || !d.error.empty());
      return;
    }
    FUZZ_CHECK(d.consumed > 0 && d.consumed <= rest.size());
    if (const auto* r = std::get_if<rtsp::Request>(&d.message)) {
      FUZZ_CHECK(d.consumed <= rtsp::kMaxHeaderBytes + 4 + rtsp::kMaxBodyBytes);
      FUZZ_CHECK(r->headers.size() <= rtsp::kMaxHeaders);
      FUZZ_CHECK(r->cseq() >= -1);
      FUZZ_CHECK(!r->method.empty() && !r->uri.empty());
      for (const auto& [name, value] : r->headers) {
        if (const auto t = rtsp::parse_transport(value); t && !t->tcp) FUZZ_CHECK(t->client_rtp > 0);
        if (const auto c = rtsp::parse_digest(value)) {
          FUZZ_CHECK(!c->username.empty() && !c->nonce.empty());
          FUZZ_CHECK(rtsp::digest_response(*c, "password", r->method).size() == 32);
        }
      }
    } else {
      const auto& il = std::get<rtsp::Interleaved>(d.message);
      FUZZ_CHECK(interleaved);
      FUZZ_CHECK(d.consumed == 4 + il.payload.size());
      const auto again = rtsp::encode_interleaved(il.channel, il.payload);
      FUZZ_CHECK(again.size() == d.consumed);
      FUZZ_CHECK(std::equal(again.begin(), again.end(), rest.begin()));
    }
    rest = rest.subspan(d.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  stream(bytes, true);   // an RTSP connection
  stream(bytes, false);  // an HTTP connection
  return 0;
}
