#pragma once
// RTP payload for JPEG (RFC 2435) and the RTP/RTCP packets around it (RFC 3550), pure functions over bytes.
//
// The camera encodes each frame once as a baseline JFIF (OpenCV/libjpeg: 8-bit, 3 components, Y sampled
// 2x2 or 2x1 with Cb and Cr 1x1, the standard Huffman tables of ITU T.81 Annex K). RFC 2435 sends only the
// entropy-coded scan, plus a small header from which the receiver rebuilds the JFIF headers: type 1
// (4:2:0) or 0 (4:2:2), width/8, height/8, and Q = 255 with the two quantisation tables in band in the
// first packet of each frame ("dynamic" tables, section 3.1.8), so the receiver decodes with exactly the
// tables the encoder used.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gatetwin::devices::rtp {

constexpr std::uint8_t kPayloadTypeJpeg = 26;      // static payload type (RFC 3551)
constexpr std::uint32_t kClockRate = 90'000;       // RTP timestamp units per second for video
constexpr std::size_t kDefaultMaxPacket = 1400;    // RTP packet size, below a 1500-byte Ethernet MTU

// What RFC 2435 needs out of a JFIF.
struct JpegScan {
  std::uint8_t type = 1;   // 0: 4:2:2, 1: 4:2:0
  int width = 0, height = 0;
  std::array<std::uint8_t, 64> luma_q{}, chroma_q{};  // zig-zag order, as in the DQT segment
  std::span<const std::uint8_t> scan;  // entropy-coded data after the SOS header, up to (not incl.) EOI
};

// Parses a baseline JFIF. nullopt (and `why`) for anything RFC 2435 types 0/1 cannot carry: progressive
// or 12-bit JPEG, greyscale, other sampling, restart intervals, sizes not a multiple of 8 or above 2040.
std::optional<JpegScan> parse_jpeg(std::span<const std::uint8_t> jpeg, std::string* why = nullptr);

// The RTP packets of one frame: 12-byte RTP header (version 2, PT 26, marker on the last packet), the
// 8-byte JPEG header, the quantisation-table header and tables in the first packet, then scan bytes.
// `sequence` is the first packet's sequence number and is advanced past the last one.
std::vector<std::vector<std::uint8_t>> packetize(const JpegScan& frame, std::uint32_t timestamp,
                                                 std::uint16_t& sequence, std::uint32_t ssrc,
                                                 std::size_t max_packet = kDefaultMaxPacket);

// A compound RTCP packet: a sender report (NTP and RTP time of the same instant, packets and octets sent)
// followed by an SDES with the CNAME, as RFC 3550 section 6.1 requires.
std::vector<std::uint8_t> sender_report(std::uint32_t ssrc, std::uint64_t ntp_timestamp, std::uint32_t rtp_timestamp,
                                        std::uint32_t packets, std::uint32_t octets, std::string_view cname);

// NTP timestamp (RFC 5905: seconds since 1900 in the high 32 bits, fraction in the low 32) of a Unix time.
std::uint64_t ntp_from_unix_micros(std::int64_t unix_micros);

// The receiver's side, for tests and tools: what one frame's packets carried. Packets must be the frame's,
// in order; nullopt (and `why`) on a gap, a mismatched header, or a missing table.
struct Reassembled {
  std::uint8_t type = 0, q = 0;
  int width = 0, height = 0;
  std::array<std::uint8_t, 64> luma_q{}, chroma_q{};
  std::vector<std::uint8_t> scan;
  std::uint32_t timestamp = 0;
};
std::optional<Reassembled> reassemble(const std::vector<std::vector<std::uint8_t>>& packets, std::string* why = nullptr);

}  // namespace gatetwin::devices::rtp
