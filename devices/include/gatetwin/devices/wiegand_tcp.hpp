#pragma once
// The framed TCP transport that carries Wiegand card events from the emulated access controller to host
// software (gatectl), as network access controllers do: the controller is the TCP server, the host
// connects, and the controller pushes one message per card read plus keepalives. docs/wiegand.md has the
// byte-by-byte layout; in short, every message is
//
//   offset size field
//   0      2    magic 0x57 0x47 ("WG")
//   2      1    version, 1
//   3      1    type: 0x01 card event, 0x02 keepalive, 0x03 status, 0x04 ack
//   4      2    reader (lane) id
//   6      4    sequence number
//   10     8    timestamp, signed microseconds of simulated time
//   18     2    payload length (bounded per type, checked before the payload is waited for)
//   20     n    payload
//   20+n   2    CRC-16/IBM-3740 (a.k.a. CRC-16/CCITT-FALSE) over bytes 0 .. 19+n
//
// all big-endian. Pure functions over bytes, no sockets: decode() takes whatever has arrived and says how
// many bytes one message took, that it needs more, or which field makes the stream unreadable. Nothing
// here throws or reads outside its input, whatever the bytes.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gatetwin/devices/clock.hpp"
#include "gatetwin/devices/wiegand.hpp"

namespace gatetwin::devices::wiegand_tcp {

constexpr std::uint8_t kMagic0 = 0x57, kMagic1 = 0x47;  // "WG"
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 20;
constexpr std::size_t kCrcBytes = 2;
constexpr unsigned kMaxCardBits = 64;                                    // a Frame holds at most 64 bits
constexpr std::size_t kMaxPayloadBytes = 1 + (kMaxCardBits + 7) / 8;    // card event: bit count + 8 bytes
constexpr std::size_t kMaxFrameBytes = kHeaderBytes + kMaxPayloadBytes + kCrcBytes;  // 31
constexpr std::size_t kStatusPayloadBytes = 4;
constexpr std::size_t kAckPayloadBytes = 4;

enum class Type : std::uint8_t {
  card = 0x01,       // controller -> host: one card read
  keepalive = 0x02,  // either way: "still here", no payload
  status = 0x03,     // controller -> host: sent first on every connection
  ack = 0x04,        // host -> controller: a card event has been processed
};

// Status payload: which Wiegand formats the reader decodes (bit 0 W26, bit 1 W34; the other bits are
// reserved and must be 0) and the controller's keepalive interval, so the host can size its dead-peer
// timeout (0: the controller sends none).
constexpr std::uint8_t kFormatW26 = 0x01, kFormatW34 = 0x02;
struct ReaderStatus {
  std::uint8_t formats = kFormatW26 | kFormatW34;
  std::uint16_t keepalive_ms = 0;
  friend bool operator==(const ReaderStatus&, const ReaderStatus&) = default;
};

// One message. `card`, `status` and `acked` are read and written only for their own type; decode leaves
// the others value-initialized, so a decoded message compares equal to the one that was encoded.
struct Message {
  Type type = Type::keepalive;
  std::uint16_t reader = 0;
  // Card events: the controller's event number (1, 2, ... across all connections, so every host sees the
  // same number for the same read). Keepalive and status: the last event number issued, so a host sees
  // what it missed. Host messages: the host's own counter, not interpreted.
  std::uint32_t sequence = 0;
  Micros timestamp{0};      // card events: when the card was read; others: when the message was sent
  wiegand::Frame card{0, 0};  // Type::card: 1..64 raw bits, parity not checked here (a misread is data)
  ReaderStatus status{};      // Type::status
  std::uint32_t acked = 0;    // Type::ack: the card event's sequence number
  friend bool operator==(const Message&, const Message&) = default;
};

enum class Status { ok, need_more, error };

struct Decoded {
  Status status = Status::need_more;
  std::size_t consumed = 0;  // Status::ok: bytes this message took; 0 otherwise
  Message message;           // Status::ok only
  std::string error;         // Status::error: what is wrong, starting with the field's name
};

// Decodes the first message in `bytes`. Fields are checked as soon as they have arrived (a wrong magic is
// an error at the first byte, a payload length beyond its type's bound at the 20th), so a broken stream is
// rejected without waiting for bytes that may never come. Errors, in the order checked:
//   "magic", "version", "type", "payload length" (header), "crc", then per type "card bit count",
//   "payload length" (a card's bytes must match its bit count), "card padding", "status formats",
//   "status reserved".
Decoded decode(std::span<const std::uint8_t> bytes);

// One complete message. The payload is built from the message's type; a card frame's bits above its
// length are ignored and a bit count above 64 is written as 64. A card with 0 bits encodes (tests build
// broken frames on purpose) and decodes as an error.
std::vector<std::uint8_t> encode(const Message& message);

// CRC-16/IBM-3740, also known as CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, neither input
// nor output reflected, no final XOR; check value ("123456789") 0x29B1 (RevEng CRC catalogue).
std::uint16_t crc16(std::span<const std::uint8_t> bytes);

std::string_view to_string(Type type);

}  // namespace gatetwin::devices::wiegand_tcp
