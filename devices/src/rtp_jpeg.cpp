#include "gatetwin/devices/rtp_jpeg.hpp"

#include <algorithm>

namespace gatetwin::devices::rtp {

namespace {

bool fail(std::string* why, const char* text) {
  if (why) *why = text;
  return false;
}

void put16(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, v >> 16);
  put16(out, v & 0xFFFF);
}

}  // namespace

std::optional<JpegScan> parse_jpeg(std::span<const std::uint8_t> j, std::string* why) {
  JpegScan out;
  if (j.size() < 4 || j[0] != 0xFF || j[1] != 0xD8) return fail(why, "not a JPEG (no SOI)"), std::nullopt;
  bool have_luma = false, have_chroma = false, have_frame = false;
  std::uint8_t table_of[3] = {0, 0, 0};
  std::size_t i = 2;
  while (i + 4 <= j.size()) {
    if (j[i] != 0xFF) return fail(why, "marker expected"), std::nullopt;
    const std::uint8_t marker = j[i + 1];
    if (marker == 0xFF) { ++i; continue; }  // fill byte
    const std::size_t length = (std::size_t{j[i + 2]} << 8) | j[i + 3];
    if (length < 2 || i + 2 + length > j.size()) return fail(why, "segment length runs past the end"), std::nullopt;
    const auto seg = j.subspan(i + 4, length - 2);
    switch (marker) {
      case 0xDB:  // DQT: one or more tables
        for (std::size_t k = 0; k < seg.size();) {
          const std::uint8_t pq = seg[k] >> 4, tq = seg[k] & 15;
          if (pq != 0) return fail(why, "16-bit quantisation table"), std::nullopt;
          if (k + 65 > seg.size()) return fail(why, "short DQT"), std::nullopt;
          if (tq > 1) return fail(why, "quantisation table id above 1"), std::nullopt;
          auto& dst = tq == 0 ? out.luma_q : out.chroma_q;
          std::copy_n(seg.begin() + static_cast<std::ptrdiff_t>(k + 1), 64, dst.begin());
          (tq == 0 ? have_luma : have_chroma) = true;
          k += 65;
        }
        break;
      case 0xC0: {  // SOF0: baseline
        if (seg.size() < 15 || seg[0] != 8 || seg[5] != 3) return fail(why, "not 8-bit 3-component"), std::nullopt;
        out.height = (seg[1] << 8) | seg[2];
        out.width = (seg[3] << 8) | seg[4];
        const std::uint8_t y = seg[7], cb = seg[10], cr = seg[13];
        if (cb != 0x11 || cr != 0x11) return fail(why, "chroma sampling is not 1x1"), std::nullopt;
        if (y == 0x22) out.type = 1;
        else if (y == 0x21) out.type = 0;
        else return fail(why, "luma sampling is neither 2x2 nor 2x1"), std::nullopt;
        table_of[0] = seg[8];
        table_of[1] = seg[11];
        table_of[2] = seg[14];
        have_frame = true;
        break;
      }
      case 0xC1: case 0xC2: case 0xC3: case 0xC5: case 0xC6: case 0xC7:
      case 0xC9: case 0xCA: case 0xCB: case 0xCD: case 0xCE: case 0xCF:
        return fail(why, "not a baseline JPEG"), std::nullopt;
      case 0xDD:
        if (seg.size() >= 2 && (seg[0] | seg[1]) != 0) return fail(why, "restart intervals"), std::nullopt;
        break;
      case 0xDA: {  // SOS: the entropy-coded data follows this header, up to EOI
        if (!have_frame || !have_luma || !have_chroma) return fail(why, "scan before frame or tables"), std::nullopt;
        if (table_of[0] != 0 || table_of[1] != 1 || table_of[2] != 1)
          return fail(why, "components do not use tables 0/1/1"), std::nullopt;
        const std::size_t start = i + 2 + length;
        std::size_t end = j.size();
        if (end >= start + 2 && j[end - 2] == 0xFF && j[end - 1] == 0xD9) end -= 2;
        else return fail(why, "no EOI at the end"), std::nullopt;
        if (out.width % 8 || out.height % 8 || out.width == 0 || out.height == 0 || out.width > 2040 ||
            out.height > 2040)
          return fail(why, "size not a multiple of 8 in 8..2040"), std::nullopt;
        out.scan = j.subspan(start, end - start);
        return out;
      }
      default:
        break;  // APPn, COM, DHT (libjpeg writes the standard tables), ...
    }
    i += 2 + length;
  }
  return fail(why, "no SOS"), std::nullopt;
}

std::vector<std::vector<std::uint8_t>> packetize(const JpegScan& f, std::uint32_t timestamp, std::uint16_t& sequence,
                                                 std::uint32_t ssrc, std::size_t max_packet) {
  constexpr std::size_t kRtpHeader = 12, kJpegHeader = 8, kTables = 4 + 128;
  std::vector<std::vector<std::uint8_t>> packets;
  std::size_t offset = 0;
  do {
    const std::size_t overhead = kRtpHeader + kJpegHeader + (offset == 0 ? kTables : 0);
    const std::size_t room = max_packet > overhead + 16 ? max_packet - overhead : 16;
    const std::size_t n = std::min(room, f.scan.size() - offset);
    const bool last = offset + n == f.scan.size();
    std::vector<std::uint8_t> p;
    p.reserve(overhead + n);
    p.push_back(0x80);                                                    // V=2, P=0, X=0, CC=0
    p.push_back(static_cast<std::uint8_t>((last ? 0x80 : 0) | kPayloadTypeJpeg));  // marker: frame's last packet
    put16(p, sequence++);
    put32(p, timestamp);
    put32(p, ssrc);
    p.push_back(0);                                                       // type-specific
    p.push_back(static_cast<std::uint8_t>(offset >> 16));                 // fragment offset, 24 bits
    put16(p, static_cast<std::uint32_t>(offset & 0xFFFF));
    p.push_back(f.type);
    p.push_back(255);                                                     // Q: tables in band
    p.push_back(static_cast<std::uint8_t>(f.width / 8));
    p.push_back(static_cast<std::uint8_t>(f.height / 8));
    if (offset == 0) {
      p.push_back(0);  // MBZ
      p.push_back(0);  // precision: both tables 8-bit
      put16(p, 128);
      p.insert(p.end(), f.luma_q.begin(), f.luma_q.end());
      p.insert(p.end(), f.chroma_q.begin(), f.chroma_q.end());
    }
    p.insert(p.end(), f.scan.begin() + static_cast<std::ptrdiff_t>(offset),
             f.scan.begin() + static_cast<std::ptrdiff_t>(offset + n));
    packets.push_back(std::move(p));
    offset += n;
  } while (offset < f.scan.size());
  return packets;
}

std::vector<std::uint8_t> sender_report(std::uint32_t ssrc, std::uint64_t ntp, std::uint32_t rtp_ts,
                                        std::uint32_t packets, std::uint32_t octets, std::string_view cname) {
  std::vector<std::uint8_t> out;
  out.push_back(0x80);  // V=2, RC=0
  out.push_back(200);   // SR
  put16(out, 6);        // length in 32-bit words minus one
  put32(out, ssrc);
  put32(out, static_cast<std::uint32_t>(ntp >> 32));
  put32(out, static_cast<std::uint32_t>(ntp));
  put32(out, rtp_ts);
  put32(out, packets);
  put32(out, octets);
  // SDES with one chunk: SSRC, CNAME item, END, padded to a 32-bit boundary.
  const std::size_t name = std::min<std::size_t>(cname.size(), 255);
  const std::size_t chunk = 4 + 2 + name + 1;
  const std::size_t padded = (chunk + 3) / 4 * 4;
  out.push_back(0x81);  // V=2, SC=1
  out.push_back(202);   // SDES
  put16(out, static_cast<std::uint32_t>(padded / 4));
  put32(out, ssrc);
  out.push_back(1);     // CNAME
  out.push_back(static_cast<std::uint8_t>(name));
  out.insert(out.end(), cname.begin(), cname.begin() + static_cast<std::ptrdiff_t>(name));
  for (std::size_t k = chunk - 1; k < padded; ++k) out.push_back(0);  // END and padding
  return out;
}

std::uint64_t ntp_from_unix_micros(std::int64_t unix_micros) {
  constexpr std::uint64_t kUnixToNtp = 2'208'988'800ull;  // seconds from 1900-01-01 to 1970-01-01
  const auto us = static_cast<std::uint64_t>(unix_micros);
  const std::uint64_t seconds = us / 1'000'000 + kUnixToNtp;
  const std::uint64_t fraction = ((us % 1'000'000) << 32) / 1'000'000;
  return (seconds << 32) | fraction;
}

std::optional<Reassembled> reassemble(const std::vector<std::vector<std::uint8_t>>& packets, std::string* why) {
  Reassembled r;
  if (packets.empty()) return fail(why, "no packets"), std::nullopt;
  std::uint16_t expected_seq = 0;
  for (std::size_t k = 0; k < packets.size(); ++k) {
    const auto& p = packets[k];
    if (p.size() < 20 || (p[0] >> 6) != 2 || (p[1] & 0x7F) != kPayloadTypeJpeg)
      return fail(why, "not an RTP/JPEG packet"), std::nullopt;
    const std::uint16_t seq = static_cast<std::uint16_t>((p[2] << 8) | p[3]);
    const std::uint32_t ts = (std::uint32_t{p[4]} << 24) | (p[5] << 16) | (p[6] << 8) | p[7];
    const bool marker = p[1] & 0x80;
    if (k == 0) r.timestamp = ts;
    else if (seq != expected_seq || ts != r.timestamp) return fail(why, "sequence gap or timestamp change"), std::nullopt;
    if (marker != (k + 1 == packets.size())) return fail(why, "marker bit not on the last packet only"), std::nullopt;
    expected_seq = static_cast<std::uint16_t>(seq + 1);
    const std::size_t offset = (std::size_t{p[13]} << 16) | (p[14] << 8) | p[15];
    if (offset != r.scan.size()) return fail(why, "fragment offset does not follow"), std::nullopt;
    std::size_t body = 20;
    if (k == 0) {
      r.type = p[16];
      r.q = p[17];
      r.width = p[18] * 8;
      r.height = p[19] * 8;
      if (r.q >= 128) {
        if (p.size() < 24 + 128 || ((p[22] << 8) | p[23]) != 128) return fail(why, "missing tables"), std::nullopt;
        std::copy_n(p.begin() + 24, 64, r.luma_q.begin());
        std::copy_n(p.begin() + 88, 64, r.chroma_q.begin());
        body = 24 + 128;
      }
    }
    r.scan.insert(r.scan.end(), p.begin() + static_cast<std::ptrdiff_t>(body), p.end());
  }
  return r;
}

}  // namespace gatetwin::devices::rtp
