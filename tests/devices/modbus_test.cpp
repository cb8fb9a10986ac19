// The Modbus TCP codec against the request/response examples of the Modbus Application Protocol
// Specification V1.1b3 (section 6, one per function code), fed whole, split at every byte position and
// back to back; broken frames close the stream, well-framed requests a device cannot serve decode with the
// exception their reply must carry.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "gatetwin/devices/modbus.hpp"

namespace mb = gatetwin::devices::modbus;

namespace {

using Bytes = std::vector<std::uint8_t>;

// MBAP header (transaction 0x0001, protocol 0, length, unit 0x11) + PDU.
Bytes adu(const Bytes& pdu, std::uint16_t transaction = 1, std::uint8_t unit = 0x11) {
  Bytes out{static_cast<std::uint8_t>(transaction >> 8), static_cast<std::uint8_t>(transaction & 0xFF), 0, 0,
            static_cast<std::uint8_t>((pdu.size() + 1) >> 8), static_cast<std::uint8_t>((pdu.size() + 1) & 0xFF), unit};
  out.insert(out.end(), pdu.begin(), pdu.end());
  return out;
}

struct Example {
  const char* name;
  Bytes request_pdu, response_pdu;
};

// V1.1b3 section 6: the specification's own examples.
const std::vector<Example> kExamples{
    {"6.1 read coils 20-38", {0x01, 0x00, 0x13, 0x00, 0x13}, {0x01, 0x03, 0xCD, 0x6B, 0x05}},
    {"6.2 read discrete inputs 197-218", {0x02, 0x00, 0xC4, 0x00, 0x16}, {0x02, 0x03, 0xAC, 0xDB, 0x35}},
    {"6.3 read holding registers 108-110", {0x03, 0x00, 0x6B, 0x00, 0x03}, {0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64}},
    {"6.4 read input register 9", {0x04, 0x00, 0x08, 0x00, 0x01}, {0x04, 0x02, 0x00, 0x0A}},
    {"6.5 write single coil 173 ON", {0x05, 0x00, 0xAC, 0xFF, 0x00}, {0x05, 0x00, 0xAC, 0xFF, 0x00}},
    {"6.6 write single register 2", {0x06, 0x00, 0x01, 0x00, 0x03}, {0x06, 0x00, 0x01, 0x00, 0x03}},
    {"6.11 write multiple coils 20-29", {0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01}, {0x0F, 0x00, 0x13, 0x00, 0x0A}},
    {"6.12 write multiple registers 2-3", {0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02}, {0x10, 0x00, 0x01, 0x00, 0x02}},
};

}  // namespace

TEST(ModbusCodec, SpecificationExamplesRoundTrip) {
  for (const auto& ex : kExamples) {
    SCOPED_TRACE(ex.name);
    const Bytes req = adu(ex.request_pdu, 0x1234), rsp = adu(ex.response_pdu, 0x1234);
    const auto q = mb::decode_request(req);
    ASSERT_EQ(q.status, mb::Status::ok) << q.error;
    EXPECT_EQ(q.consumed, req.size());
    EXPECT_EQ(q.message.header.transaction, 0x1234);
    EXPECT_EQ(q.message.header.unit, 0x11);
    EXPECT_FALSE(q.message.malformed);
    EXPECT_EQ(mb::encode_request(q.message), req);
    const auto r = mb::decode_response(rsp);
    ASSERT_EQ(r.status, mb::Status::ok) << r.error;
    EXPECT_EQ(r.consumed, rsp.size());
    EXPECT_EQ(mb::encode_response(r.message), rsp);
  }
}

TEST(ModbusCodec, ExamplesDecodeToTheirValues) {
  // 6.1: coils 20..38 read as CD 6B 05: coil 20 = 1 (LSB of 0xCD), coil 27 = 1 (MSB of 0xCD).
  const auto coils = mb::decode_response(adu(kExamples[0].response_pdu));
  ASSERT_EQ(coils.status, mb::Status::ok);
  ASSERT_EQ(coils.message.bits.size(), 24u);
  const Bytes expect_cd{1, 0, 1, 1, 0, 0, 1, 1};
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(coils.message.bits[i], expect_cd[i] != 0) << i;
  const auto read = mb::decode_request(adu(kExamples[0].request_pdu));
  EXPECT_EQ(read.message.address, 0x13);
  EXPECT_EQ(read.message.quantity, 19);
  // 6.3: registers 108..110 = 555, 0, 100.
  const auto regs = mb::decode_response(adu(kExamples[2].response_pdu));
  EXPECT_EQ(regs.message.registers, (std::vector<std::uint16_t>{555, 0, 100}));
  // 6.5: coil 173 on.
  const auto on = mb::decode_request(adu(kExamples[4].request_pdu));
  EXPECT_EQ(on.message.address, 172);
  EXPECT_EQ(on.message.bits, std::vector<bool>{true});
  // 6.11: ten coils from 20: CD 01 -> 1011 0011 10.
  const auto many = mb::decode_request(adu(kExamples[6].request_pdu));
  EXPECT_EQ(many.message.bits, (std::vector<bool>{1, 0, 1, 1, 0, 0, 1, 1, 1, 0}));
  // 6.12: registers 2..3 = 0x000A, 0x0102.
  const auto write = mb::decode_request(adu(kExamples[7].request_pdu));
  EXPECT_EQ(write.message.registers, (std::vector<std::uint16_t>{0x000A, 0x0102}));
}

TEST(ModbusCodec, EveryFrameSplitAtEveryBytePosition) {
  for (const auto& ex : kExamples) {
    const Bytes req = adu(ex.request_pdu), rsp = adu(ex.response_pdu);
    for (std::size_t cut = 0; cut < req.size(); ++cut)
      EXPECT_EQ(mb::decode_request(std::span<const std::uint8_t>(req.data(), cut)).status, mb::Status::need_more)
          << ex.name << " request cut at " << cut;
    for (std::size_t cut = 0; cut < rsp.size(); ++cut)
      EXPECT_EQ(mb::decode_response(std::span<const std::uint8_t>(rsp.data(), cut)).status, mb::Status::need_more)
          << ex.name << " response cut at " << cut;
    EXPECT_EQ(mb::decode_request(req).status, mb::Status::ok) << ex.name;
    EXPECT_EQ(mb::decode_response(rsp).status, mb::Status::ok) << ex.name;
  }
}

TEST(ModbusCodec, FramesBackToBackAreTakenOneAtATime) {
  Bytes stream;
  for (std::size_t i = 0; i < kExamples.size(); ++i) {
    const Bytes one = adu(kExamples[i].request_pdu, static_cast<std::uint16_t>(i + 1));
    stream.insert(stream.end(), one.begin(), one.end());
  }
  std::span<const std::uint8_t> rest(stream);
  for (std::size_t i = 0; i < kExamples.size(); ++i) {
    const auto d = mb::decode_request(rest);
    ASSERT_EQ(d.status, mb::Status::ok) << i;
    EXPECT_EQ(d.message.header.transaction, i + 1);
    EXPECT_EQ(d.message.function, kExamples[i].request_pdu[0]);
    rest = rest.subspan(d.consumed);
  }
  EXPECT_TRUE(rest.empty());
}

TEST(ModbusCodec, BrokenFramingIsAnErrorThatNamesTheField) {
  Bytes bad_protocol = adu({0x03, 0x00, 0x00, 0x00, 0x01});
  bad_protocol[3] = 1;
  const auto p = mb::decode_request(bad_protocol);
  EXPECT_EQ(p.status, mb::Status::error);
  EXPECT_NE(p.error.find("protocol id"), std::string::npos) << p.error;
  for (const int length : {0, 1, 255, 0xFFFF}) {
    Bytes b = adu({0x03, 0x00, 0x00, 0x00, 0x01});
    b[4] = static_cast<std::uint8_t>(length >> 8), b[5] = static_cast<std::uint8_t>(length & 0xFF);
    const auto d = mb::decode_request(b);
    EXPECT_EQ(d.status, mb::Status::error) << length;
    EXPECT_NE(d.error.find("MBAP length"), std::string::npos) << d.error;
    EXPECT_EQ(d.consumed, 0u);
  }
  // The largest legal frame (length 254, 260 bytes) is accepted as a frame.
  Bytes big(mb::kMaxPduBytes, 0);
  big[0] = 0x10;
  const Bytes frame = adu(big);
  EXPECT_EQ(frame.size(), mb::kMaxAduBytes);
  const auto d = mb::decode_request(frame);
  EXPECT_EQ(d.status, mb::Status::ok);
  EXPECT_EQ(d.consumed, mb::kMaxAduBytes);
  EXPECT_EQ(d.message.malformed, mb::Exception::illegal_data_value);  // framed, but no valid write
}

TEST(ModbusCodec, RequestsADeviceCannotServeCarryTheirExceptionCode) {
  struct Case {
    Bytes pdu;
    mb::Exception e;
  };
  const std::vector<Case> cases{
      {{0x2B, 0x0E, 0x01, 0x00}, mb::Exception::illegal_function},          // read device identification: not served
      {{0x07}, mb::Exception::illegal_function},                            // read exception status (serial only)
      {{0x01, 0x00, 0x00, 0x00, 0x00}, mb::Exception::illegal_data_value},  // zero coils
      {{0x01, 0x00, 0x00, 0x07, 0xD1}, mb::Exception::illegal_data_value},  // 2001 coils
      {{0x03, 0x00, 0x00, 0x00, 0x7E}, mb::Exception::illegal_data_value},  // 126 registers
      {{0x03, 0x00, 0x00, 0x00}, mb::Exception::illegal_data_value},        // short PDU
      {{0x05, 0x00, 0x01, 0x12, 0x34}, mb::Exception::illegal_data_value},  // coil value not 0xFF00/0x0000
      {{0x0F, 0x00, 0x13, 0x00, 0x0A, 0x01, 0xCD}, mb::Exception::illegal_data_value},         // byte count 1 for 10 coils
      {{0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01}, mb::Exception::illegal_data_value},  // a byte missing
      {{0x10, 0x00, 0x01, 0x00, 0x7C, 0xF8}, mb::Exception::illegal_data_value},  // 124 registers
  };
  for (const auto& c : cases) {
    const Bytes frame = adu(c.pdu);
    const auto d = mb::decode_request(frame);
    ASSERT_EQ(d.status, mb::Status::ok) << "function " << int(c.pdu[0]);
    EXPECT_EQ(d.consumed, frame.size());  // the frame is intact: the stream goes on after it
    ASSERT_TRUE(d.message.malformed.has_value()) << "function " << int(c.pdu[0]);
    EXPECT_EQ(*d.message.malformed, c.e) << "function " << int(c.pdu[0]);
    // The reply: the function code with the top bit set, then the exception code.
    const Bytes reply = mb::encode_response(mb::exception_response(d.message, c.e));
    EXPECT_EQ(reply, adu({static_cast<std::uint8_t>(c.pdu[0] | 0x80), static_cast<std::uint8_t>(c.e)}));
    const auto back = mb::decode_response(reply);
    ASSERT_EQ(back.status, mb::Status::ok);
    EXPECT_EQ(back.message.exception, c.e);
    EXPECT_EQ(back.message.function, c.pdu[0] & 0x7F);
  }
}

TEST(ModbusCodec, MalformedResponsesAreErrors) {
  for (const Bytes& pdu : {Bytes{0x03, 0x04, 0x00, 0x01}, Bytes{0x03, 0x03, 0x00, 0x01, 0x02}, Bytes{0x81},
                           Bytes{0x05, 0x00, 0x01, 0x12, 0x34}, Bytes{0x06, 0x00}, Bytes{0x42, 0x00}}) {
    const auto d = mb::decode_response(adu(pdu));
    EXPECT_EQ(d.status, mb::Status::error) << "function " << int(pdu[0]);
    EXPECT_NE(d.error.find("function 0x"), std::string::npos) << d.error;
    EXPECT_EQ(d.consumed, 0u);
  }
}

TEST(ModbusCodec, ArbitraryBytesNeverCrashOrOverrun) {
  // Seeded garbage, and garbage behind a plausible header: every result is ok, need_more or error, and an
  // ok frame never claims more bytes than it was given.
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 20000; ++i) {
    Bytes b(next() % 270);
    for (auto& v : b) v = static_cast<std::uint8_t>(next());
    if (i % 2 && b.size() >= 7) b[2] = b[3] = 0, b[4] = 0, b[5] = static_cast<std::uint8_t>(2 + next() % 40);
    const auto q = mb::decode_request(b);
    const auto r = mb::decode_response(b);
    EXPECT_LE(q.consumed, b.size());
    EXPECT_LE(r.consumed, b.size());
    if (q.status == mb::Status::ok) {
      EXPECT_GE(q.consumed, 8u);
    }
  }
}
