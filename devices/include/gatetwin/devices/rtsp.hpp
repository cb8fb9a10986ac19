#pragma once
// RTSP 1.0 (RFC 2326) and HTTP/1.x request codec, pure functions over bytes. Both protocols share the
// message syntax (a request line, header lines, an empty line, a body of Content-Length bytes), so one
// parser serves the camera's RTSP and HTTP ports. On an RTSP connection the client may also send
// interleaved binary frames ('$', channel, 16-bit length; RFC 2326 section 10.12), e.g. its RTCP receiver
// reports over TCP: decode_message returns those as Interleaved.
//
// Also here: the Transport header (section 12.39) and HTTP Digest authentication (RFC 2617, MD5, without
// qop as RTSP cameras and FFmpeg use it, and with qop=auth), and MD5 itself (RFC 1321).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace gatetwin::devices::rtsp {

constexpr std::size_t kMaxHeaderBytes = 8192;  // request line + headers; longer is an error
constexpr std::size_t kMaxBodyBytes = 65536;   // Content-Length above this is an error
constexpr std::size_t kMaxHeaders = 64;

struct Request {
  std::string method;    // "OPTIONS", "GET", ... (case-sensitive, as the RFC says)
  std::string uri;
  std::string version;   // "RTSP/1.0", "HTTP/1.1", "HTTP/1.0"
  std::vector<std::pair<std::string, std::string>> headers;  // in order, values trimmed
  std::string body;
  // The first header of that name (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  int cseq() const;      // CSeq as a number, -1 when missing or not a number
};

struct Interleaved {
  std::uint8_t channel = 0;
  std::vector<std::uint8_t> payload;
};

enum class Status { ok, need_more, error };

struct Decoded {
  Status status = Status::need_more;
  std::size_t consumed = 0;  // ok: bytes this message took
  std::variant<Request, Interleaved> message;
  std::string error;         // error: what was wrong, naming the field
};

// One message from the front of `bytes`. `allow_interleaved`: accept '$' frames (RTSP over TCP).
Decoded decode_message(std::span<const std::uint8_t> bytes, bool allow_interleaved = true);
inline Decoded decode_message(std::string_view text, bool allow_interleaved = true) {
  return decode_message(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
                        allow_interleaved);
}

// A response: status line, the headers given (CSeq first when >= 0), Content-Length when there is a body.
std::string encode_response(std::string_view version, int code, std::string_view reason, int cseq,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            std::string_view body = {});

// An interleaved binary frame: '$', channel, length (big-endian), payload (at most 65535 bytes).
std::vector<std::uint8_t> encode_interleaved(std::uint8_t channel, std::span<const std::uint8_t> payload);

// Transport: the first transport spec the server can serve, RTP/AVP over UDP (client_port) or over TCP
// (interleaved). Unicast only.
struct Transport {
  bool tcp = false;
  std::uint8_t interleaved_rtp = 0, interleaved_rtcp = 1;   // tcp
  std::uint16_t client_rtp = 0, client_rtcp = 0;            // udp
};
// nullopt: nothing acceptable (the caller answers 461 Unsupported Transport).
std::optional<Transport> parse_transport(std::string_view header);

// --- HTTP Digest (RFC 2617) ---------------------------------------------------------------------------
std::array<std::uint8_t, 16> md5(std::string_view data);
std::string md5_hex(std::string_view data);

struct DigestCredentials {
  std::string username, realm, nonce, uri, response, qop, nc, cnonce, algorithm;
};
// Parses `Digest k=v, k="v", ...`; nullopt when it is not a Digest header or a required field is missing.
std::optional<DigestCredentials> parse_digest(std::string_view authorization);
// The response a client holding `password` must send for `method` (RFC 2617 section 3.2.2.1).
std::string digest_response(const DigestCredentials& c, std::string_view password, std::string_view method);

}  // namespace gatetwin::devices::rtsp
