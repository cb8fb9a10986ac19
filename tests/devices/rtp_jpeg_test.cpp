// RTP/JPEG (RFC 2435): what is parsed out of OpenCV's JFIF, packets that reassemble to the same scan and
// tables at every packet size, JPEGs the payload format cannot carry, RTCP sender reports, NTP time, and the
// test pattern's frame counter surviving JPEG.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "gatetwin/devices/camera.hpp"
#include "gatetwin/devices/rtp_jpeg.hpp"

namespace gd = gatetwin::devices;
namespace rtp = gatetwin::devices::rtp;

namespace {
std::vector<std::uint8_t> encode(const cv::Mat& img, std::vector<int> params = {cv::IMWRITE_JPEG_QUALITY, 90}) {
  std::vector<std::uint8_t> out;
  cv::imencode(".jpg", img, out, params);
  return out;
}
cv::Mat pattern(std::uint64_t index = 5, cv::Size size = {640, 480}) {
  gd::TestPattern p(size);
  return p.frame(gd::Micros{1'234'567}, index);
}
}  // namespace

TEST(RtpJpeg, ParsesOpenCvJfif) {
  const auto jpeg = encode(pattern());
  std::string why;
  const auto scan = rtp::parse_jpeg(jpeg, &why);
  ASSERT_TRUE(scan.has_value()) << why;
  EXPECT_EQ(scan->type, 1);  // libjpeg's default sampling is 4:2:0
  EXPECT_EQ(scan->width, 640);
  EXPECT_EQ(scan->height, 480);
  // Scan data ends right before EOI and starts after the SOS header.
  EXPECT_EQ(scan->scan.data() + scan->scan.size() + 2, jpeg.data() + jpeg.size());
  EXPECT_GT(scan->scan.size(), jpeg.size() / 2);
  // At quality 90 the luma DC quantiser is 3 (the IJG table scaled), and chroma differs from luma.
  EXPECT_EQ(scan->luma_q[0], 3);
  EXPECT_NE(scan->luma_q, scan->chroma_q);
}

TEST(RtpJpeg, PacketsReassembleToTheSameScanAtEveryPacketSize) {
  const auto jpeg = encode(pattern());
  const auto scan = *rtp::parse_jpeg(jpeg);
  for (std::size_t max : {200u, 576u, 1400u, 9000u, 65000u}) {
    std::uint16_t seq = 65530;  // wraps within the frame
    const auto packets = rtp::packetize(scan, 0xDEADBEEF, seq, 0x12345678, max);
    std::size_t last_seq_expected = (65530 + packets.size()) & 0xFFFF;
    EXPECT_EQ(seq, last_seq_expected);
    for (const auto& p : packets) {
      EXPECT_LE(p.size(), std::max<std::size_t>(max, 12 + 8 + 132 + 16));
      EXPECT_EQ(p[0], 0x80);
      EXPECT_EQ(p[8], 0x12);  // SSRC
    }
    std::string why;
    const auto r = rtp::reassemble(packets, &why);
    ASSERT_TRUE(r.has_value()) << why << " at max " << max;
    EXPECT_EQ(r->type, 1);
    EXPECT_EQ(r->q, 255);
    EXPECT_EQ(r->width, 640);
    EXPECT_EQ(r->height, 480);
    EXPECT_EQ(r->timestamp, 0xDEADBEEFu);
    EXPECT_EQ(r->luma_q, scan.luma_q);
    EXPECT_EQ(r->chroma_q, scan.chroma_q);
    ASSERT_EQ(r->scan.size(), scan.scan.size());
    EXPECT_TRUE(std::equal(r->scan.begin(), r->scan.end(), scan.scan.begin()));
  }
}

TEST(RtpJpeg, ReassemblyRejectsAGap) {
  const auto jpeg = encode(pattern());
  std::uint16_t seq = 0;
  auto packets = rtp::packetize(*rtp::parse_jpeg(jpeg), 1, seq, 2);
  ASSERT_GT(packets.size(), 3u);
  packets.erase(packets.begin() + 1);
  std::string why;
  EXPECT_FALSE(rtp::reassemble(packets, &why).has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RtpJpeg, RefusesWhatRfc2435CannotCarry) {
  std::string why;
  cv::Mat grey;
  cv::cvtColor(pattern(), grey, cv::COLOR_BGR2GRAY);
  EXPECT_FALSE(rtp::parse_jpeg(encode(grey), &why).has_value());
  EXPECT_NE(why.find("3-component"), std::string::npos) << why;
  EXPECT_FALSE(rtp::parse_jpeg(encode(pattern(), {cv::IMWRITE_JPEG_PROGRESSIVE, 1}), &why).has_value());
  EXPECT_NE(why.find("baseline"), std::string::npos) << why;
  EXPECT_FALSE(rtp::parse_jpeg(encode(pattern(5, {644, 480})), &why).has_value());
  EXPECT_NE(why.find("multiple of 8"), std::string::npos) << why;
  EXPECT_FALSE(rtp::parse_jpeg(encode(pattern(), {cv::IMWRITE_JPEG_RST_INTERVAL, 4}), &why).has_value());
  EXPECT_NE(why.find("restart"), std::string::npos) << why;
  auto truncated = encode(pattern());
  truncated.resize(truncated.size() / 2);
  EXPECT_FALSE(rtp::parse_jpeg(truncated, &why).has_value());
  const std::vector<std::uint8_t> garbage(100, 0xFF);
  EXPECT_FALSE(rtp::parse_jpeg(garbage, &why).has_value());
  // Every prefix of a valid JPEG is refused without reading past its end.
  const auto jpeg = encode(pattern(1, {64, 48}));
  for (std::size_t k = 0; k + 1 < jpeg.size(); ++k)
    ASSERT_FALSE(rtp::parse_jpeg(std::span(jpeg).first(k)).has_value()) << k;
}

TEST(Rtcp, SenderReportIsACompoundPacketOfWholeWords) {
  const auto p = rtp::sender_report(0xAABBCCDD, 0x0102030405060708ull, 0x11223344, 10, 5000, "gatetwin@lane-1");
  ASSERT_EQ(p.size() % 4, 0u);
  EXPECT_EQ(p[0], 0x80);
  EXPECT_EQ(p[1], 200);
  EXPECT_EQ((p[2] << 8) | p[3], 6);  // 28 bytes
  EXPECT_EQ(p[8], 0x01);             // NTP seconds, MSB
  EXPECT_EQ(p[16], 0x11);            // RTP timestamp
  EXPECT_EQ(p[23], 10);              // packet count
  EXPECT_EQ(p[28], 0x81);            // SDES, one chunk
  EXPECT_EQ(p[29], 202);
  const std::size_t sdes_words = (p[30] << 8) | p[31];
  EXPECT_EQ(28 + 4 + 4 * sdes_words, p.size());
  EXPECT_EQ(p[36], 1);   // CNAME
  EXPECT_EQ(p[37], 15);  // its length
  EXPECT_EQ(std::string(p.begin() + 38, p.begin() + 53), "gatetwin@lane-1");
  EXPECT_EQ(p[53], 0);   // END
}

TEST(Rtcp, NtpTimeOfUnixTime) {
  EXPECT_EQ(rtp::ntp_from_unix_micros(0), 2'208'988'800ull << 32);
  EXPECT_EQ(rtp::ntp_from_unix_micros(1'500'000), ((2'208'988'800ull + 1) << 32) | 0x80000000ull);
}

TEST(TestPatternCounter, SurvivesJpegAndRejectsOtherPictures) {
  for (std::uint64_t index : {0ull, 1ull, 77ull, 4095ull, 1234567ull}) {
    cv::Mat decoded = cv::imdecode(encode(pattern(index), {cv::IMWRITE_JPEG_QUALITY, 40}), cv::IMREAD_COLOR);
    EXPECT_EQ(gd::TestPattern::read_counter(decoded), index);
  }
  EXPECT_FALSE(gd::TestPattern::read_counter(cv::Mat(480, 640, CV_8UC3, cv::Scalar::all(128))).has_value());
  EXPECT_FALSE(gd::TestPattern::read_counter(cv::Mat(480, 640, CV_8UC3, cv::Scalar::all(255))).has_value());
}
