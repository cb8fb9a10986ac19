// The RTSP/HTTP request codec: RFC 2326 examples, every message split at every byte, back-to-back and
// interleaved frames, errors naming the field, seeded garbage; Transport parsing; MD5 (RFC 1321 test suite)
// and Digest (the RFC 2617 section 3.5 example).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "gatetwin/devices/rtsp.hpp"

namespace rtsp = gatetwin::devices::rtsp;

namespace {

// Requests from RFC 2326 (sections 10.1, 10.2, 10.4, 10.3 with a body), plus an HTTP/1.1 GET.
const std::vector<std::string> kExamples = {
    "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nRequire: implicit-play\r\nProxy-Require: gzipped-messages\r\n\r\n",
    "DESCRIBE rtsp://server.example.com/fizzle/foo RTSP/1.0\r\nCSeq: 312\r\n"
    "Accept: application/sdp, application/rtsl, application/mheg\r\n\r\n",
    "SETUP rtsp://example.com/foo/bar/baz.rm RTSP/1.0\r\nCSeq: 302\r\n"
    "Transport: RTP/AVP;multicast;ttl=127;mode=\"PLAY\",\r\n"
    "    RTP/AVP;unicast;client_port=3456-3457;mode=\"PLAY\"\r\n\r\n",
    "ANNOUNCE rtsp://server.example.com/fizzle/foo RTSP/1.0\r\nCSeq: 312\r\nDate: 23 Jan 1997 15:35:06 GMT\r\n"
    "Session: 47112344\r\nContent-Type: application/sdp\r\nContent-Length: 25\r\n\r\n"
    "v=0\r\no=mhandley 2890844\r\n",
    "GET /lane-1.mjpg HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Lavf/59.27.100\r\n\r\n",
};

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST(RtspCodec, DecodesTheRfcExamples) {
  auto d = rtsp::decode_message(kExamples[0]);
  ASSERT_EQ(d.status, rtsp::Status::ok) << d.error;
  auto r = std::get<rtsp::Request>(d.message);
  EXPECT_EQ(r.method, "OPTIONS");
  EXPECT_EQ(r.uri, "*");
  EXPECT_EQ(r.version, "RTSP/1.0");
  EXPECT_EQ(r.cseq(), 1);
  EXPECT_EQ(r.header("proxy-require"), "gzipped-messages");  // names are case-insensitive
  EXPECT_EQ(d.consumed, kExamples[0].size());

  d = rtsp::decode_message(kExamples[2]);
  ASSERT_EQ(d.status, rtsp::Status::ok) << d.error;
  r = std::get<rtsp::Request>(d.message);
  // The folded continuation line joins its header.
  EXPECT_EQ(r.header("Transport"),
            "RTP/AVP;multicast;ttl=127;mode=\"PLAY\", RTP/AVP;unicast;client_port=3456-3457;mode=\"PLAY\"");
  const auto t = rtsp::parse_transport(*r.header("Transport"));
  ASSERT_TRUE(t.has_value());  // the multicast alternative is skipped, the unicast one taken
  EXPECT_FALSE(t->tcp);
  EXPECT_EQ(t->client_rtp, 3456);
  EXPECT_EQ(t->client_rtcp, 3457);

  d = rtsp::decode_message(kExamples[3]);
  ASSERT_EQ(d.status, rtsp::Status::ok) << d.error;
  EXPECT_EQ(std::get<rtsp::Request>(d.message).body, "v=0\r\no=mhandley 2890844\r\n");
}

TEST(RtspCodec, EveryMessageSplitAtEveryByteNeedsMoreUntilWhole) {
  for (const auto& m : kExamples) {
    for (std::size_t k = 0; k < m.size(); ++k) {
      const auto d = rtsp::decode_message(bytes(m).first(k));
      ASSERT_EQ(d.status, rtsp::Status::need_more) << "prefix of " << k << " bytes of: " << m << " error " << d.error;
    }
    const auto whole = rtsp::decode_message(bytes(m));
    ASSERT_EQ(whole.status, rtsp::Status::ok) << m;
    EXPECT_EQ(whole.consumed, m.size());
  }
  // An interleaved frame too.
  const auto frame = rtsp::encode_interleaved(1, std::vector<std::uint8_t>{0x81, 0xC9, 0x00, 0x01, 9, 9, 9, 9});
  for (std::size_t k = 0; k < frame.size(); ++k)
    ASSERT_EQ(rtsp::decode_message(std::span(frame).first(k)).status, rtsp::Status::need_more);
  const auto d = rtsp::decode_message(std::span(frame));
  ASSERT_EQ(d.status, rtsp::Status::ok);
  const auto& il = std::get<rtsp::Interleaved>(d.message);
  EXPECT_EQ(il.channel, 1);
  EXPECT_EQ(il.payload.size(), 8u);
}

TEST(RtspCodec, MessagesBackToBackAreTakenOneAtATime) {
  std::string stream;
  for (const auto& m : kExamples) stream += m;
  const auto rr = rtsp::encode_interleaved(3, std::vector<std::uint8_t>(40, 7));
  stream.append(rr.begin(), rr.end());
  std::size_t at = 0, n = 0;
  while (at < stream.size()) {
    const auto d = rtsp::decode_message(bytes(stream).subspan(at));
    ASSERT_EQ(d.status, rtsp::Status::ok) << "message " << n;
    at += d.consumed;
    ++n;
  }
  EXPECT_EQ(n, kExamples.size() + 1);
}

TEST(RtspCodec, ErrorsNameTheField) {
  const auto error = [](const std::string& text, bool interleaved = true) {
    const auto d = rtsp::decode_message(text, interleaved);
    EXPECT_EQ(d.status, rtsp::Status::error) << text;
    return d.error;
  };
  EXPECT_NE(error("PLAY rtsp://x/y RTSQ/1.0\r\nCSeq: 1\r\n\r\n").find("version"), std::string::npos);
  EXPECT_NE(error("PLAY\r\n\r\n").find("request line"), std::string::npos);
  EXPECT_NE(error("PLAY rtsp://x/y RTSP/1.0\r\nno colon here\r\n\r\n").find("header"), std::string::npos);
  EXPECT_NE(error("PLAY rtsp://x/y RTSP/1.0\r\nContent-Length: 99999999\r\n\r\n").find("Content-Length"),
            std::string::npos);
  EXPECT_NE(error("PLAY rtsp://x/y RTSP/1.0\r\nContent-Length: 1x\r\n\r\n").find("Content-Length"), std::string::npos);
  EXPECT_NE(error(std::string("$\x01\x00\x04" "abcd", 8), false).find("interleaved"), std::string::npos);
  EXPECT_NE(error(std::string("\x16\x03\x01\x02\x00", 5)).find("method"), std::string::npos);  // a TLS hello
  // A header that never ends is cut off at the limit instead of being buffered forever.
  EXPECT_NE(error("GET / HTTP/1.1\r\nX: " + std::string(rtsp::kMaxHeaderBytes, 'a')).find("8192"), std::string::npos);
}

TEST(RtspCodec, SeededGarbageNeverOverruns) {
  std::mt19937_64 rng(2326);
  const std::string alphabet = "GETPLAYSETUP RTSP/1.0\r\n:$CSeq Content-Length 0123456789";
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 200, '\0');
    for (auto& c : s) c = (rng() % 4 == 0) ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()];
    const auto d = rtsp::decode_message(s);
    ASSERT_LE(d.consumed, s.size());
    if (d.status != rtsp::Status::ok) {
      ASSERT_EQ(d.consumed, 0u);
    }
    if (d.status == rtsp::Status::error) {
      ASSERT_FALSE(d.error.empty());
    }
  }
}

TEST(RtspCodec, ResponsesCarryCSeqAndContentLength) {
  const auto text = rtsp::encode_response("RTSP/1.0", 200, "OK", 7, {{"Content-Type", "application/sdp"}}, "v=0\r\n");
  EXPECT_EQ(text, "RTSP/1.0 200 OK\r\nCSeq: 7\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n");
}

TEST(RtspTransport, TakesTheFirstServableSpec) {
  auto t = rtsp::parse_transport("RTP/AVP/TCP;unicast;interleaved=4-5");
  ASSERT_TRUE(t && t->tcp);
  EXPECT_EQ(t->interleaved_rtp, 4);
  EXPECT_EQ(t->interleaved_rtcp, 5);
  t = rtsp::parse_transport("RTP/AVP/TCP;unicast");  // no channels: 0-1
  ASSERT_TRUE(t && t->tcp);
  EXPECT_EQ(t->interleaved_rtp, 0);
  t = rtsp::parse_transport("RTP/AVP;unicast;client_port=5000");  // one port: RTCP is the next
  ASSERT_TRUE(t && !t->tcp);
  EXPECT_EQ(t->client_rtcp, 5001);
  EXPECT_FALSE(rtsp::parse_transport("RTP/AVP;unicast").has_value());  // UDP needs ports
  EXPECT_FALSE(rtsp::parse_transport("RTP/AVP;multicast;client_port=5000-5001").has_value());
  EXPECT_FALSE(rtsp::parse_transport("RAW/RAW/UDP;unicast;client_port=1-2").has_value());
  EXPECT_FALSE(rtsp::parse_transport("RTP/AVP;unicast;client_port=70000-70001").has_value());
  t = rtsp::parse_transport("x-real-rdt/udp;client_port=1-2, RTP/AVP/TCP;interleaved=0-1");
  ASSERT_TRUE(t && t->tcp);
}

TEST(Md5, Rfc1321TestSuite) {
  EXPECT_EQ(rtsp::md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(rtsp::md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(rtsp::md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(rtsp::md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(rtsp::md5_hex("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(rtsp::md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "d174ab98d277d9f5a5611c2c9f419d9f");
  EXPECT_EQ(rtsp::md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Digest, Rfc2617Example) {
  const auto c = rtsp::parse_digest(
      "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
      "uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
      "response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->username, "Mufasa");
  EXPECT_EQ(c->qop, "auth");
  EXPECT_EQ(rtsp::digest_response(*c, "Circle Of Life", "GET"), c->response);
  EXPECT_NE(rtsp::digest_response(*c, "circle of life", "GET"), c->response);
  EXPECT_FALSE(rtsp::parse_digest("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").has_value());
  EXPECT_FALSE(rtsp::parse_digest("Digest username=\"a\", nonce=\"unterminated").has_value());
}
