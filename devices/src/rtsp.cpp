#include "gatetwin/devices/rtsp.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace gatetwin::devices::rtsp {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool is_token_char(char c) {
  return c > 32 && c < 127 && !std::strchr("()<>@,;:\\\"/[]?={}", c);
}

Decoded fail(std::string why) {
  Decoded d;
  d.status = Status::error;
  d.error = std::move(why);
  return d;
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return std::string_view(v);
  return std::nullopt;
}

int Request::cseq() const {
  const auto v = header("CSeq");
  if (!v) return -1;
  const auto n = number<int>(*v);
  return n && *n >= 0 ? *n : -1;
}

Decoded decode_message(std::span<const std::uint8_t> bytes, bool allow_interleaved) {
  if (bytes.empty()) return {};
  if (bytes[0] == '$') {
    if (!allow_interleaved) return fail("interleaved frame ('$') on a connection that does not carry them");
    if (bytes.size() < 4) return {};
    const std::size_t length = (std::size_t{bytes[2]} << 8) | bytes[3];
    if (bytes.size() < 4 + length) return {};
    Decoded d;
    d.status = Status::ok;
    d.consumed = 4 + length;
    d.message = Interleaved{bytes[1], std::vector<std::uint8_t>(bytes.begin() + 4, bytes.begin() + 4 + length)};
    return d;
  }
  // The head ends at the first empty line (CRLF CRLF; a bare LF LF is accepted as RFC 2616 19.3 advises).
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::size_t head_end = std::string_view::npos, body_start = 0;
  for (std::size_t i = 0; i + 1 < text.size() && i < kMaxHeaderBytes + 4; ++i) {
    if (text[i] == '\n' && text[i + 1] == '\n') { head_end = i; body_start = i + 2; break; }
    if (text[i] == '\n' && text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n') {
      head_end = i; body_start = i + 3; break;
    }
  }
  if (head_end == std::string_view::npos) {
    if (text.size() > kMaxHeaderBytes) return fail("header: longer than 8192 bytes without an empty line");
    // Anything that cannot begin a request line is rejected now rather than buffered.
    for (char c : text.substr(0, std::min<std::size_t>(text.size(), 16))) {
      if (c == ' ' || c == '\r' || c == '\n') break;
      if (!is_token_char(c)) return fail("request line: method is not a token");
    }
    return {};
  }
  if (head_end > kMaxHeaderBytes) return fail("header: longer than 8192 bytes");

  Request r;
  std::string_view head = text.substr(0, head_end + 1);
  auto next_line = [&head]() {
    const auto nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl == std::string_view::npos ? head.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  const std::string_view start = next_line();
  const auto sp1 = start.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : start.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail("request line: expected 'METHOD URI VERSION'");
  r.method = std::string(start.substr(0, sp1));
  r.uri = std::string(start.substr(sp1 + 1, sp2 - sp1 - 1));
  r.version = std::string(start.substr(sp2 + 1));
  if (r.method.empty() || !std::all_of(r.method.begin(), r.method.end(), is_token_char))
    return fail("request line: method is not a token");
  if (r.uri.empty() || r.uri.find(' ') != std::string::npos) return fail("request line: bad URI");
  // Any RTSP/d.d or HTTP/d.d is well-formed: the session answers 505 to a version it does not speak.
  const auto versioned = [&](std::string_view proto) {
    const std::string_view v = r.version;
    return v.size() == proto.size() + 3 && v.substr(0, proto.size()) == proto && std::isdigit(static_cast<unsigned char>(v[proto.size()])) &&
           v[proto.size() + 1] == '.' && std::isdigit(static_cast<unsigned char>(v[proto.size() + 2]));
  };
  if (!versioned("RTSP/") && !versioned("HTTP/"))
    return fail("request line: version '" + r.version.substr(0, 16) + "' is not RTSP/d.d or HTTP/d.d");
  while (!head.empty()) {
    const std::string_view line = next_line();
    if (line.empty()) break;
    if ((line.front() == ' ' || line.front() == '\t') && !r.headers.empty()) {  // folded continuation
      r.headers.back().second += " ";
      r.headers.back().second += std::string(trim(line));
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("header: line without 'name:'");
    const std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return fail("header: name is not a token");
    if (r.headers.size() == kMaxHeaders) return fail("header: more than 64 fields");
    r.headers.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  }
  std::size_t body_length = 0;
  if (const auto cl = r.header("Content-Length")) {
    const auto n = number<std::size_t>(*cl);
    if (!n) return fail("Content-Length: not a number");
    if (*n > kMaxBodyBytes) return fail("Content-Length: above 65536");
    body_length = *n;
  }
  if (text.size() < body_start + body_length) return {};
  r.body = std::string(text.substr(body_start, body_length));
  Decoded d;
  d.status = Status::ok;
  d.consumed = body_start + body_length;
  d.message = std::move(r);
  return d;
}

std::string encode_response(std::string_view version, int code, std::string_view reason, int cseq,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            std::string_view body) {
  std::string out;
  out.reserve(256 + body.size());
  out.append(version).append(" ").append(std::to_string(code)).append(" ").append(reason).append("\r\n");
  if (cseq >= 0) out.append("CSeq: ").append(std::to_string(cseq)).append("\r\n");
  for (const auto& [k, v] : headers) out.append(k).append(": ").append(v).append("\r\n");
  if (!body.empty()) out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append("\r\n").append(body);
  return out;
}

std::vector<std::uint8_t> encode_interleaved(std::uint8_t channel, std::span<const std::uint8_t> payload) {
  const std::size_t n = std::min<std::size_t>(payload.size(), 0xFFFF);
  std::vector<std::uint8_t> out(4 + n);
  out[0] = '$';
  out[1] = channel;
  out[2] = static_cast<std::uint8_t>(n >> 8);
  out[3] = static_cast<std::uint8_t>(n);
  if (n > 0) std::memcpy(out.data() + 4, payload.data(), n);
  return out;
}

std::optional<Transport> parse_transport(std::string_view header) {
  // Comma-separated alternatives in the client's order of preference; parameters separated by ';'.
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view spec = trim(header.substr(0, comma));
    header.remove_prefix(comma == std::string_view::npos ? header.size() : comma + 1);
    Transport t;
    bool ok = true, unicast = true, have_ports = false, have_channels = false;
    std::size_t i = 0;
    while (ok && !spec.empty()) {
      const auto semi = spec.find(';');
      const std::string_view param = trim(spec.substr(0, semi));
      spec.remove_prefix(semi == std::string_view::npos ? spec.size() : semi + 1);
      if (i++ == 0) {
        if (param == "RTP/AVP/TCP") t.tcp = true;
        else if (param == "RTP/AVP" || param == "RTP/AVP/UDP") t.tcp = false;
        else ok = false;
        continue;
      }
      const auto eq = param.find('=');
      const std::string_view key = param.substr(0, eq);
      const std::string_view value = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
      const auto pair = [&](auto& a, auto& b) {
        const auto dash = value.find('-');
        const auto first = number<unsigned>(value.substr(0, dash));
        const auto second = dash == std::string_view::npos ? std::optional<unsigned>(first ? *first + 1 : 0)
                                                           : number<unsigned>(value.substr(dash + 1));
        if (!first || !second) return false;
        a = static_cast<std::remove_reference_t<decltype(a)>>(*first);
        b = static_cast<std::remove_reference_t<decltype(b)>>(*second);
        return true;
      };
      if (key == "multicast") unicast = false;
      else if (key == "client_port") {
        unsigned a = 0, b = 0;
        ok = pair(a, b) && a > 0 && a < 65536 && b > 0 && b < 65536;
        t.client_rtp = static_cast<std::uint16_t>(a);
        t.client_rtcp = static_cast<std::uint16_t>(b);
        have_ports = ok;
      } else if (key == "interleaved") {
        unsigned a = 0, b = 0;
        ok = pair(a, b) && a < 256 && b < 256;
        t.interleaved_rtp = static_cast<std::uint8_t>(a);
        t.interleaved_rtcp = static_cast<std::uint8_t>(b);
        have_channels = ok;
      }
    }
    if (!ok || !unicast) continue;
    if (!t.tcp && !have_ports) continue;
    if (t.tcp && !have_channels) { t.interleaved_rtp = 0; t.interleaved_rtcp = 1; }
    return t;
  }
  return std::nullopt;
}

// --- MD5 (RFC 1321) ----------------------------------------------------------------------------------

std::array<std::uint8_t, 16> md5(std::string_view data) {
  static constexpr std::uint32_t K[64] = {
      0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
      0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
      0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
      0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
      0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
      0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
      0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
      0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
  static constexpr int S[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
  std::uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  std::string msg(data);
  const std::uint64_t bit_length = static_cast<std::uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back(0);
  for (int i = 0; i < 8; ++i) msg.push_back(static_cast<char>((bit_length >> (8 * i)) & 0xFF));
  const auto rotl = [](std::uint32_t x, int c) { return (x << c) | (x >> (32 - c)); };
  for (std::size_t chunk = 0; chunk < msg.size(); chunk += 64) {
    std::uint32_t m[16];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const std::uint8_t*>(msg.data() + chunk + 4 * i);
      m[i] = p[0] | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
    }
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; ++i) {
      std::uint32_t f;
      int g;
      if (i < 16) { f = (b & c) | (~b & d); g = i; }
      else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
      else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
      else { f = c ^ (b | ~d); g = (7 * i) % 16; }
      const std::uint32_t next = b + rotl(a + f + K[i] + m[g], S[i]);
      a = d; d = c; c = b; b = next;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
  }
  std::array<std::uint8_t, 16> out{};
  for (int i = 0; i < 16; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(h[i / 4] >> (8 * (i % 4)));
  return out;
}

std::string md5_hex(std::string_view data) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (auto b : md5(data)) { s.push_back(hex[b >> 4]); s.push_back(hex[b & 15]); }
  return s;
}

std::optional<DigestCredentials> parse_digest(std::string_view h) {
  h = trim(h);
  if (h.size() < 7 || !iequals(h.substr(0, 6), "Digest") || (h[6] != ' ' && h[6] != '\t')) return std::nullopt;
  h.remove_prefix(7);
  DigestCredentials c;
  while (!h.empty()) {
    h = trim(h);
    const auto eq = h.find('=');
    if (eq == std::string_view::npos) break;
    const std::string_view key = trim(h.substr(0, eq));
    h.remove_prefix(eq + 1);
    std::string value;
    if (!h.empty() && h.front() == '"') {
      std::size_t i = 1;
      for (; i < h.size() && h[i] != '"'; ++i) {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value.push_back(h[i]);
      }
      if (i >= h.size()) return std::nullopt;  // unterminated quoted string
      h.remove_prefix(i + 1);
    } else {
      const auto end = h.find(',');
      value = std::string(trim(h.substr(0, end)));
      h.remove_prefix(end == std::string_view::npos ? h.size() : end);
    }
    h = trim(h);
    if (!h.empty() && h.front() == ',') h.remove_prefix(1);
    if (iequals(key, "username")) c.username = value;
    else if (iequals(key, "realm")) c.realm = value;
    else if (iequals(key, "nonce")) c.nonce = value;
    else if (iequals(key, "uri")) c.uri = value;
    else if (iequals(key, "response")) c.response = value;
    else if (iequals(key, "qop")) c.qop = value;
    else if (iequals(key, "nc")) c.nc = value;
    else if (iequals(key, "cnonce")) c.cnonce = value;
    else if (iequals(key, "algorithm")) c.algorithm = value;
  }
  if (c.username.empty() || c.nonce.empty() || c.uri.empty() || c.response.empty()) return std::nullopt;
  return c;
}

std::string digest_response(const DigestCredentials& c, std::string_view password, std::string_view method) {
  const std::string ha1 = md5_hex(c.username + ":" + c.realm + ":" + std::string(password));
  const std::string ha2 = md5_hex(std::string(method) + ":" + c.uri);
  if (c.qop == "auth") return md5_hex(ha1 + ":" + c.nonce + ":" + c.nc + ":" + c.cnonce + ":auth:" + ha2);
  return md5_hex(ha1 + ":" + c.nonce + ":" + ha2);
}

}  // namespace gatetwin::devices::rtsp
