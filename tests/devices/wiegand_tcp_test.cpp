// The Wiegand TCP transport codec: the CRC's published check value, frames spelled out byte by byte in
// docs/wiegand.md (computed by an independent Python encoder), every message fed split at every byte and
// back to back, every broken field named, and 20,000 seeded garbage inputs that never overrun.
#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "gatetwin/devices/wiegand_tcp.hpp"

namespace wt = gatetwin::devices::wiegand_tcp;
namespace wg = gatetwin::devices::wiegand;
using gatetwin::devices::Micros;

namespace {

using Bytes = std::vector<std::uint8_t>;

wt::Message card(std::uint16_t reader, std::uint32_t seq, std::int64_t us, wg::Frame frame) {
  wt::Message m;
  m.type = wt::Type::card;
  m.reader = reader;
  m.sequence = seq;
  m.timestamp = Micros{us};
  m.card = frame;
  return m;
}

wt::Message of_type(wt::Type type, std::uint32_t seq = 0) {
  wt::Message m;
  m.type = type;
  m.reader = 3;
  m.sequence = seq;
  m.timestamp = Micros{123'456'789};
  if (type == wt::Type::status) m.status = {wt::kFormatW26 | wt::kFormatW34, 1000};
  if (type == wt::Type::ack) m.acked = 42;
  return m;
}

// One of each type and card frames of 1, 7, 8, 9, 26, 34 and 64 bits (padding of 7..0 bits).
std::vector<wt::Message> samples() {
  std::vector<wt::Message> out{of_type(wt::Type::keepalive, 1), of_type(wt::Type::status), of_type(wt::Type::ack, 5)};
  for (const unsigned bits : {1u, 7u, 8u, 9u, 26u, 34u, 64u}) {
    const std::uint64_t value = bits == 64 ? 0xFEDCBA9876543210ull : (0xA5A5A5A5A5A5A5A5ull & ((1ull << bits) - 1));
    out.push_back(card(static_cast<std::uint16_t>(bits), bits * 1000, -static_cast<std::int64_t>(bits), {bits, value}));
  }
  return out;
}

Bytes with_crc(Bytes b) {
  const std::uint16_t crc = wt::crc16(b);
  b.push_back(static_cast<std::uint8_t>(crc >> 8));
  b.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  return b;
}

// The frame with its CRC recomputed after a field was changed (to reach the checks behind the CRC).
Bytes recrc(Bytes b) {
  b.resize(b.size() - 2);
  return with_crc(std::move(b));
}

void expect_error(const Bytes& b, std::string_view field) {
  const auto d = wt::decode(b);
  EXPECT_EQ(d.status, wt::Status::error) << field;
  EXPECT_EQ(d.consumed, 0u);
  EXPECT_EQ(d.error.rfind(field, 0), 0u) << "error should start with '" << field << "': " << d.error;
}

}  // namespace

TEST(WiegandTcpCrc, PublishedCheckValue) {
  // RevEng CRC catalogue, CRC-16/IBM-3740 (alias CRC-16/CCITT-FALSE): width=16 poly=0x1021 init=0xffff
  // refin=false refout=false xorout=0x0000 check=0x29b1 residue=0x0000.
  constexpr std::string_view check = "123456789";
  const Bytes bytes(check.begin(), check.end());
  EXPECT_EQ(wt::crc16(bytes), 0x29B1);
  EXPECT_EQ(wt::crc16({}), 0xFFFF);  // the initial value, nothing shifted in
  // Residue 0: a message followed by its own CRC (big-endian) has CRC 0.
  EXPECT_EQ(wt::crc16(with_crc(bytes)), 0x0000);
}

TEST(WiegandTcpCodec, DocumentedFramesByteForByte) {
  // docs/wiegand.md, "Worked frames": H10301 facility 18 card 12345 (0x246073), reader 1, sequence 1, at
  // 1.5 s; the W34 example (facility 1234 card 56789) from reader 2, sequence 7, at 2 s; a keepalive, the
  // status a reader sends first and a host's ack (timestamp -1: any 64-bit value is carried).
  const Bytes w26{0x57, 0x47, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                  0x00, 0x16, 0xE3, 0x60, 0x00, 0x05, 0x1A, 0x09, 0x18, 0x1C, 0xC0, 0xBC, 0x48};
  const Bytes w34{0x57, 0x47, 0x01, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
                  0x00, 0x1E, 0x84, 0x80, 0x00, 0x06, 0x22, 0x82, 0x69, 0x6E, 0xEA, 0x80, 0x5E, 0xBB};
  const Bytes keepalive{0x57, 0x47, 0x01, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00,
                        0x00, 0x00, 0x00, 0x00, 0x26, 0x25, 0xA0, 0x00, 0x00, 0x07, 0x12};
  const Bytes status{0x57, 0x47, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x03, 0x00, 0x03, 0xE8, 0x37, 0x26};
  const Bytes ack{0x57, 0x47, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0xFF, 0xFF, 0xFF,
                  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x36, 0x1C};

  const auto w26_frame = wg::encode({wg::Format::W26, 18, 12345});
  const auto w34_frame = wg::encode({wg::Format::W34, 1234, 56789});
  ASSERT_TRUE(w26_frame && w34_frame);
  EXPECT_EQ(wt::encode(card(1, 1, 1'500'000, *w26_frame)), w26);
  EXPECT_EQ(wt::encode(card(2, 7, 2'000'000, *w34_frame)), w34);
  wt::Message k;
  k.reader = 1, k.sequence = 1, k.timestamp = Micros{2'500'000};
  EXPECT_EQ(wt::encode(k), keepalive);
  wt::Message s;
  s.type = wt::Type::status, s.reader = 1, s.status = {wt::kFormatW26 | wt::kFormatW34, 1000};
  EXPECT_EQ(wt::encode(s), status);
  wt::Message a;
  a.type = wt::Type::ack, a.sequence = 9, a.timestamp = Micros{-1}, a.acked = 1;
  EXPECT_EQ(wt::encode(a), ack);

  const auto d = wt::decode(w26);
  ASSERT_EQ(d.status, wt::Status::ok) << d.error;
  EXPECT_EQ(d.consumed, w26.size());
  EXPECT_EQ(d.message.card, *w26_frame);
  EXPECT_EQ(wg::decode(d.message.card).credential, (wg::Credential{wg::Format::W26, 18, 12345}));
  EXPECT_EQ(d.message.timestamp, Micros{1'500'000});
  const auto d34 = wt::decode(w34);
  ASSERT_EQ(d34.status, wt::Status::ok) << d34.error;
  EXPECT_EQ(wg::decode(d34.message.card).credential, (wg::Credential{wg::Format::W34, 1234, 56789}));
  EXPECT_EQ(wt::decode(ack).message.timestamp, Micros{-1});
  EXPECT_EQ(wt::decode(status).message.status.keepalive_ms, 1000);
}

TEST(WiegandTcpCodec, EveryMessageRoundTrips) {
  for (const auto& m : samples()) {
    const Bytes b = wt::encode(m);
    const auto d = wt::decode(b);
    ASSERT_EQ(d.status, wt::Status::ok) << wt::to_string(m.type) << ": " << d.error;
    EXPECT_EQ(d.consumed, b.size());
    EXPECT_EQ(d.message, m) << wt::to_string(m.type) << " " << m.card.bits;
    EXPECT_LE(b.size(), wt::kMaxFrameBytes);
  }
}

TEST(WiegandTcpCodec, EveryMessageSplitAtEveryBytePositionNeedsMore) {
  for (const auto& m : samples()) {
    const Bytes b = wt::encode(m);
    for (std::size_t cut = 0; cut < b.size(); ++cut) {
      const auto d = wt::decode(std::span<const std::uint8_t>(b.data(), cut));
      EXPECT_EQ(d.status, wt::Status::need_more) << wt::to_string(m.type) << " cut at " << cut << ": " << d.error;
      EXPECT_EQ(d.consumed, 0u);
    }
    // Fed one byte more at a time, as a socket might deliver it: whole only at the end.
    Bytes stream;
    for (std::size_t i = 0; i < b.size(); ++i) {
      stream.push_back(b[i]);
      EXPECT_EQ(wt::decode(stream).status, i + 1 == b.size() ? wt::Status::ok : wt::Status::need_more);
    }
  }
}

TEST(WiegandTcpCodec, MessagesBackToBackAreTakenOneAtATime) {
  const auto messages = samples();
  Bytes stream;
  for (const auto& m : messages) {
    const Bytes b = wt::encode(m);
    stream.insert(stream.end(), b.begin(), b.end());
  }
  stream.push_back(wt::kMagic0);  // the start of a next message: needs more, not an error
  std::span<const std::uint8_t> rest(stream);
  for (const auto& m : messages) {
    const auto d = wt::decode(rest);
    ASSERT_EQ(d.status, wt::Status::ok) << d.error;
    EXPECT_EQ(d.message, m);
    rest = rest.subspan(d.consumed);
  }
  EXPECT_EQ(rest.size(), 1u);
  EXPECT_EQ(wt::decode(rest).status, wt::Status::need_more);
}

TEST(WiegandTcpCodec, EachBrokenFieldIsNamed) {
  const Bytes good = wt::encode(card(1, 1, 0, {26, 0x246073}));
  const auto changed = [&](std::size_t at, std::uint8_t v) {
    Bytes b = good;
    b[at] = v;
    return b;
  };
  // Header fields are judged on the bytes that have arrived: one wrong first byte is enough.
  expect_error({0x00}, "magic");
  expect_error({0x57, 0x00}, "magic");
  expect_error({0x57, 0x47, 0x02}, "version");
  expect_error({0x57, 0x47, 0x01, 0x00}, "type");
  expect_error({0x57, 0x47, 0x01, 0x05}, "type");
  expect_error(changed(0, 0x47), "magic");
  expect_error(changed(2, 0x00), "version");
  expect_error(changed(3, 0xFF), "type");
  // The length is checked against its type's bound as soon as the header is in: a huge length is rejected
  // at byte 20, not waited for.
  for (const auto& [type, length] : std::vector<std::pair<wt::Type, std::uint16_t>>{
           {wt::Type::card, 0}, {wt::Type::card, 10}, {wt::Type::card, 0xFFFF}, {wt::Type::keepalive, 1},
           {wt::Type::status, 3}, {wt::Type::status, 5}, {wt::Type::ack, 0}, {wt::Type::ack, 8}}) {
    Bytes header = wt::encode(of_type(type));
    header.resize(wt::kHeaderBytes);
    header[18] = static_cast<std::uint8_t>(length >> 8);
    header[19] = static_cast<std::uint8_t>(length & 0xFF);
    expect_error(header, "payload length");
  }
  // Any changed byte under the CRC, or in the CRC, is caught by it.
  for (std::size_t at = 4; at < good.size(); ++at) {
    if (at == 18 || at == 19) continue;  // the length field fails its own check first
    expect_error(changed(at, static_cast<std::uint8_t>(good[at] ^ 0x10)), "crc");
  }
  // Payload fields, behind a correct CRC.
  expect_error(recrc(changed(20, 0)), "card bit count");   // 0 bits
  expect_error(recrc(changed(20, 65)), "card bit count");  // more than a frame holds
  expect_error(recrc(changed(20, 33)), "payload length");  // 33 bits need 5 data bytes, 4 given
  expect_error(recrc(changed(20, 16)), "payload length");  // 16 bits need 2 data bytes, 4 given
  expect_error(recrc(changed(24, 0xC1)), "card padding");  // 26 bits: the last byte's low 6 bits are padding
  Bytes zero_bits = wt::encode(card(1, 1, 0, {0, 0}));     // encode writes what it is given...
  expect_error(zero_bits, "card bit count");               // ...and decode refuses it
  Bytes status = wt::encode(of_type(wt::Type::status));
  status[20] = 0x07;
  expect_error(recrc(status), "status formats");
  status[20] = 0x03, status[21] = 0x01;
  expect_error(recrc(status), "status reserved");
}

TEST(WiegandTcpCodec, EncodeTakesOnlyTheFramesBits) {
  // Bits above the frame's length are not part of it; a length above 64 is written as 64.
  const auto a = wt::decode(wt::encode(card(1, 1, 0, {26, 0x246073 | (0xFFull << 40)})));
  ASSERT_EQ(a.status, wt::Status::ok);
  EXPECT_EQ(a.message.card, (wg::Frame{26, 0x246073}));
  const auto b = wt::decode(wt::encode(card(1, 1, 0, {200, 5})));
  ASSERT_EQ(b.status, wt::Status::ok);
  EXPECT_EQ(b.message.card, (wg::Frame{64, 5}));
  // Fields of other types are neither written nor read back.
  wt::Message k = of_type(wt::Type::keepalive);
  k.card = {26, 1}, k.acked = 7, k.status = {1, 2};
  EXPECT_EQ(wt::encode(k), wt::encode(of_type(wt::Type::keepalive)));
}

TEST(WiegandTcpCodec, ArbitraryBytesNeverCrashOrOverrun) {
  // Seeded garbage; garbage behind a valid header prefix; and valid frames with one byte changed and the
  // CRC repaired, which reach the payload checks. Every result is ok, need_more or error, an ok message
  // never claims more than it was given, and re-encodes to exactly the bytes it took (one encoding each).
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  const auto messages = samples();
  std::size_t ok = 0, errors = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b;
    switch (i % 3) {
      case 0:
        b.resize(next() % 64);
        for (auto& v : b) v = static_cast<std::uint8_t>(next());
        break;
      case 1:
        b = {wt::kMagic0, wt::kMagic1, wt::kVersion, static_cast<std::uint8_t>(1 + next() % 4)};
        b.resize(4 + next() % 40);
        for (std::size_t k = 4; k < b.size(); ++k) b[k] = static_cast<std::uint8_t>(next());
        if (b.size() >= 20) b[18] = 0, b[19] = static_cast<std::uint8_t>(next() % 12);
        break;
      default:
        b = wt::encode(messages[next() % messages.size()]);
        b[4 + next() % (b.size() - 6)] = static_cast<std::uint8_t>(next());
        b = recrc(std::move(b));
        break;
    }
    const auto d = wt::decode(b);
    ASSERT_LE(d.consumed, b.size());
    if (d.status == wt::Status::ok) {
      ++ok;
      ASSERT_GE(d.consumed, wt::kHeaderBytes + wt::kCrcBytes);
      ASSERT_EQ(wt::encode(d.message), Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(d.consumed)));
    } else if (d.status == wt::Status::error) {
      ++errors;
      ASSERT_FALSE(d.error.empty());
      ASSERT_EQ(d.consumed, 0u);
    }
  }
  // The repaired frames make both outcomes common, so both paths were exercised.
  EXPECT_GT(ok, 1000u);
  EXPECT_GT(errors, 1000u);
}
