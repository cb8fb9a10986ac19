// The Wiegand TCP transport codec (wiegand_tcp.hpp). Kept apart from the card reader's server so that it
// has no Boost dependency: the libFuzzer target compiles it with clang on its own.
#include "gatetwin/devices/wiegand_tcp.hpp"

namespace gatetwin::devices::wiegand_tcp {
namespace {

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
std::uint32_t be32(std::span<const std::uint8_t> b, std::size_t at) {
  return (std::uint32_t{be16(b, at)} << 16) | be16(b, at + 2);
}
std::uint64_t be64(std::span<const std::uint8_t> b, std::size_t at) {
  return (std::uint64_t{be32(b, at)} << 32) | be32(b, at + 4);
}
void put(std::vector<std::uint8_t>& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::string hex(unsigned v, int digits) {
  std::string s = "0x";
  for (int i = digits - 1; i >= 0; --i) s += "0123456789ABCDEF"[(v >> (4 * i)) & 0xF];
  return s;
}

constexpr std::size_t card_bytes(unsigned bits) { return (bits + 7) / 8; }

bool known_type(std::uint8_t t) { return t >= 0x01 && t <= 0x04; }

// The payload lengths a type allows: exact for keepalive, status and ack; a range for card events (the
// exact length follows from the bit count, checked once the payload is there; a lone bit-count byte is let
// through here so that a count of 0 is reported as such).
struct Bounds {
  std::size_t min, max;
};
Bounds payload_bounds(Type t) {
  switch (t) {
    case Type::card: return {1, kMaxPayloadBytes};
    case Type::keepalive: return {0, 0};
    case Type::status: return {kStatusPayloadBytes, kStatusPayloadBytes};
    case Type::ack: return {kAckPayloadBytes, kAckPayloadBytes};
  }
  return {0, 0};
}

Decoded fail(std::string error) {
  Decoded d;
  d.status = Status::error;
  d.error = std::move(error);
  return d;
}

// The payload of a frame whose header and CRC are good; an empty string when it is well formed.
std::string parse_payload(std::span<const std::uint8_t> p, Message& m) {
  switch (m.type) {
    case Type::card: {
      const unsigned bits = p[0];
      if (bits < 1 || bits > kMaxCardBits)
        return "card bit count: must be 1.." + std::to_string(kMaxCardBits) + ", got " + std::to_string(bits);
      if (p.size() != 1 + card_bytes(bits))
        return "payload length: a card event of " + std::to_string(bits) + " bits has " +
               std::to_string(1 + card_bytes(bits)) + " bytes, got " + std::to_string(p.size());
      // The bits are MSB-first from the first data byte; the unused low bits of the last byte must be 0,
      // so that every frame has exactly one encoding.
      std::uint64_t value = 0;
      for (std::size_t i = 1; i < p.size(); ++i) value = (value << 8) | p[i];
      const unsigned pad = static_cast<unsigned>(8 * card_bytes(bits) - bits);
      if (pad > 0 && (value & ((std::uint64_t{1} << pad) - 1)) != 0)
        return "card padding: the " + std::to_string(pad) + " bits after the frame's last bit must be 0";
      m.card = {bits, value >> pad};
      return {};
    }
    case Type::status: {
      const std::uint8_t formats = p[0];
      if ((formats & ~(kFormatW26 | kFormatW34)) != 0)
        return "status formats: reserved bits set in " + hex(formats, 2);
      if (p[1] != 0) return "status reserved: must be 0, got " + hex(p[1], 2);
      m.status = {formats, be16(p, 2)};
      return {};
    }
    case Type::ack:
      m.acked = be32(p, 0);
      return {};
    case Type::keepalive:
      return {};
  }
  return "type: not a message type";  // unreachable: the header check admits only the four types
}

}  // namespace

std::uint16_t crc16(std::span<const std::uint8_t> bytes) {
  std::uint16_t crc = 0xFFFF;
  for (std::uint8_t byte : bytes) {
    crc = static_cast<std::uint16_t>(crc ^ (byte << 8));
    for (int i = 0; i < 8; ++i)
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return crc;
}

Decoded decode(std::span<const std::uint8_t> b) {
  // Each header field is judged as soon as its bytes are in.
  if (b.size() >= 1 && b[0] != kMagic0) return fail("magic: byte 0 must be 0x57 ('W'), got " + hex(b[0], 2));
  if (b.size() >= 2 && b[1] != kMagic1) return fail("magic: byte 1 must be 0x47 ('G'), got " + hex(b[1], 2));
  if (b.size() >= 3 && b[2] != kVersion)
    return fail("version: must be " + std::to_string(kVersion) + ", got " + std::to_string(b[2]));
  if (b.size() >= 4 && !known_type(b[3]))
    return fail("type: " + hex(b[3], 2) + " is not a message type (0x01 card, 0x02 keepalive, 0x03 status, 0x04 ack)");
  if (b.size() < kHeaderBytes) return {};

  const auto type = static_cast<Type>(b[3]);
  const std::size_t length = be16(b, 18);
  const Bounds bounds = payload_bounds(type);
  if (length < bounds.min || length > bounds.max) {
    return fail("payload length: a " + std::string(to_string(type)) + " message carries " +
                (bounds.min == bounds.max ? std::to_string(bounds.min)
                                          : std::to_string(bounds.min) + ".." + std::to_string(bounds.max)) +
                " bytes, got " + std::to_string(length));
  }
  const std::size_t size = kHeaderBytes + length + kCrcBytes;
  if (b.size() < size) return {};

  const std::uint16_t stated = be16(b, kHeaderBytes + length);
  const std::uint16_t computed = crc16(b.first(kHeaderBytes + length));
  if (stated != computed) return fail("crc: frame says " + hex(stated, 4) + ", bytes give " + hex(computed, 4));

  Decoded d;
  d.message.type = type;
  d.message.reader = be16(b, 4);
  d.message.sequence = be32(b, 6);
  d.message.timestamp = Micros{static_cast<std::int64_t>(be64(b, 10))};
  if (std::string e = parse_payload(b.subspan(kHeaderBytes, length), d.message); !e.empty()) return fail(std::move(e));
  d.status = Status::ok;
  d.consumed = size;
  return d;
}

std::vector<std::uint8_t> encode(const Message& m) {
  std::vector<std::uint8_t> payload;
  switch (m.type) {
    case Type::card: {
      const unsigned bits = m.card.bits > kMaxCardBits ? kMaxCardBits : m.card.bits;
      const std::uint64_t mask = bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
      const std::size_t n = card_bytes(bits);
      // Left-align the frame in n bytes: wire bit 1 becomes the MSB of the first byte.
      const std::uint64_t aligned = n == 0 ? 0 : (m.card.value & mask) << (8 * n - bits);
      payload.push_back(static_cast<std::uint8_t>(bits));
      put(payload, aligned, static_cast<int>(n));
      break;
    }
    case Type::status:
      payload = {m.status.formats, 0};
      put(payload, m.status.keepalive_ms, 2);
      break;
    case Type::ack:
      put(payload, m.acked, 4);
      break;
    case Type::keepalive:
      break;
  }
  std::vector<std::uint8_t> out{kMagic0, kMagic1, kVersion, static_cast<std::uint8_t>(m.type)};
  out.reserve(kHeaderBytes + payload.size() + kCrcBytes);
  put(out, m.reader, 2);
  put(out, m.sequence, 4);
  put(out, static_cast<std::uint64_t>(m.timestamp.count()), 8);
  put(out, payload.size(), 2);
  out.insert(out.end(), payload.begin(), payload.end());
  put(out, crc16(out), 2);
  return out;
}

std::string_view to_string(Type type) {
  switch (type) {
    case Type::card: return "card";
    case Type::keepalive: return "keepalive";
    case Type::status: return "status";
    case Type::ack: return "ack";
  }
  return "unknown";
}

}  // namespace gatetwin::devices::wiegand_tcp
