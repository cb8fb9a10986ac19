#include "gatetwin/recognizer/enrolment.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <limits>

#include <nlohmann/json.hpp>

namespace gatetwin::recognizer {

namespace {

constexpr std::array<std::string_view, kPurposeCount> kPurposeNames = {"access", "movement_tracking", "police_linkage",
                                                                      "health_monitoring"};

// Printable UTF-8 without control characters (a residence is shown to staff and written to logs).
bool clean_text(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    if ((c & 0xe0) == 0xc0) n = 1, cp = c & 0x1fu;
    else if ((c & 0xf0) == 0xe0) n = 2, cp = c & 0x0fu;
    else if ((c & 0xf8) == 0xf0) n = 3, cp = c & 0x07u;
    else return false;
    if (i + n >= s.size()) return false;  // the sequence needs bytes i+1 .. i+n
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    const std::uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0)) return false;
    i += n + 1;
  }
  return true;
}

// An unknown key as the error names it: as it is when it is a plain name, else JSON-quoted (an empty key or one
// with control characters must neither vanish from nor garble the message).
std::string key_name(const std::string& k) {
  const bool plain = !k.empty() && k.size() <= 64 && std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (plain) return k;
  const std::string quoted = nlohmann::json(k).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  return quoted.size() <= 80 ? quoted : quoted.substr(0, 76) + "...\"";
}

bool is_image(const std::vector<unsigned char>& b) {
  const bool jpeg = b.size() >= 4 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff;
  static constexpr unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  const bool is_png = b.size() >= 8 && std::equal(png, png + 8, b.begin());
  return jpeg || is_png;
}

}  // namespace

std::string_view to_string(Purpose p) { return kPurposeNames[static_cast<std::size_t>(p)]; }

std::optional<Purpose> parse_purpose(std::string_view s) {
  for (std::size_t i = 0; i < kPurposeCount; ++i)
    if (kPurposeNames[i] == s) return static_cast<Purpose>(i);
  return std::nullopt;
}

std::string purposes_to_string(const std::vector<Purpose>& purposes) {
  std::string out;
  for (const Purpose p : purposes) out += (out.empty() ? "" : ",") + std::string(to_string(p));
  return out;
}

std::optional<std::vector<Purpose>> parse_purposes(std::string_view s) {
  std::vector<Purpose> out;
  while (!s.empty()) {
    const auto comma = s.find(',');
    const auto p = parse_purpose(s.substr(0, comma));
    if (!p) return std::nullopt;
    out.push_back(*p);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
    if (s.empty()) return std::nullopt;
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) return std::nullopt;
  return out;
}

void validate(ConsentGrant& c, const std::string& source, const std::string& field) {
  if (c.purposes.empty()) throw RequestError(source, field + ".purposes", "at least one purpose must be consented to");
  std::sort(c.purposes.begin(), c.purposes.end());
  if (std::adjacent_find(c.purposes.begin(), c.purposes.end()) != c.purposes.end())
    throw RequestError(source, field + ".purposes", "a purpose is listed twice");
  if (c.retention_days < 1 || c.retention_days > 3650)
    throw RequestError(source, field + ".retention_days",
                       "must be 1..3650 days (the retention period must be stated; " + std::to_string(c.retention_days) +
                           " given)");
  if (c.notice.empty() || c.notice.size() > 100 || !clean_text(c.notice))
    throw RequestError(source, field + ".notice", "the id of the separate biometric notice agreed to (1..100 printable characters)");
}

void validate(EnrolmentRequest& r, const std::string& source) {
  std::string digits;
  std::string_view phone = r.phone;
  if (phone.starts_with("+86")) phone.remove_prefix(3);
  for (const char c : phone) {
    if (c >= '0' && c <= '9') digits += c;
    else if (c != ' ' && c != '-') throw RequestError(source, "phone", "only digits, spaces, '-' and a leading +86");
  }
  if (digits.size() != 11 || digits[0] != '1' || digits[1] < '3')
    throw RequestError(source, "phone", "a mainland mobile number has 11 digits starting 13..19");
  r.phone = digits;
  if (r.residence.empty() || r.residence.size() > 200 || !clean_text(r.residence))
    throw RequestError(source, "residence", "1..200 bytes of printable UTF-8 (building, unit, room)");
  if (r.photo.empty()) throw RequestError(source, "photo", "no photo");
  if (r.photo.size() > kMaxPhotoBytes)
    throw RequestError(source, "photo", "larger than " + std::to_string(kMaxPhotoBytes >> 20) + " MiB");
  if (!is_image(r.photo)) throw RequestError(source, "photo", "not a JPEG or PNG image");
  if (r.person && *r.person == 0) throw RequestError(source, "person", "person ids start at 1");
  validate(r.consent, source);
}

EnrolmentRequest parse_enrolment_request(std::string_view text, const std::string& source) {
  if (text.size() > kMaxRequestBytes)
    throw RequestError(source, "(request)", "larger than " + std::to_string(kMaxRequestBytes >> 20) + " MiB");
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw RequestError(source, "(request)", "not valid JSON");
  if (!j.is_object()) throw RequestError(source, "(request)", "a request is a JSON object");
  static const std::array<std::string_view, 5> keys = {"person", "phone", "residence", "photo_base64", "consent"};
  for (const auto& [k, v] : j.items())
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) throw RequestError(source, key_name(k), "unknown field");
  auto text_field = [&](const nlohmann::json& obj, const char* k, const std::string& name) -> std::string {
    if (!obj.contains(k)) throw RequestError(source, name, "missing");
    if (!obj[k].is_string()) throw RequestError(source, name, "must be a string");
    return obj[k].get<std::string>();
  };
  EnrolmentRequest r;
  if (j.contains("person")) {
    const auto& p = j["person"];
    if (!p.is_number_unsigned() || p.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max())
      throw RequestError(source, "person", "an integer 1..4294967295");
    r.person = static_cast<std::uint32_t>(p.get<std::uint64_t>());
  }
  r.phone = text_field(j, "phone", "phone");
  r.residence = text_field(j, "residence", "residence");
  const std::string b64 = text_field(j, "photo_base64", "photo_base64");
  if (b64.size() > kMaxPhotoBytes / 3 * 4 + 8)
    throw RequestError(source, "photo_base64", "larger than " + std::to_string(kMaxPhotoBytes >> 20) + " MiB");
  r.photo.resize(b64.size() / 4 * 3 + 3);
  std::size_t n = 0;
  const char* end = nullptr;
  if (sodium_init() < 0 ||
      sodium_base642bin(r.photo.data(), r.photo.size(), b64.data(), b64.size(), " \n\r", &n, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size())
    throw RequestError(source, "photo_base64", "not valid base64");
  r.photo.resize(n);
  if (!j.contains("consent")) throw RequestError(source, "consent", "missing: biometric consent must be given separately");
  const auto& c = j["consent"];
  if (!c.is_object()) throw RequestError(source, "consent", "must be an object {purposes, retention_days, notice, separate}");
  for (const auto& [k, v] : c.items())
    if (k != "purposes" && k != "retention_days" && k != "notice" && k != "separate")
      throw RequestError(source, "consent." + key_name(k), "unknown field");
  if (!c.contains("separate") || !c["separate"].is_boolean() || !c["separate"].get<bool>())
    throw RequestError(source, "consent.separate",
                       "must be true: biometric consent is asked separately from the general privacy notice (GB/T 35273)");
  if (!c.contains("purposes") || !c["purposes"].is_array()) throw RequestError(source, "consent.purposes", "a list of purposes");
  for (const auto& p : c["purposes"]) {
    const auto parsed = p.is_string() ? parse_purpose(p.get<std::string>()) : std::nullopt;
    if (!parsed)
      throw RequestError(source, "consent.purposes",
                         "unknown purpose (access, movement_tracking, police_linkage, health_monitoring)");
    r.consent.purposes.push_back(*parsed);
  }
  if (!c.contains("retention_days") || !c["retention_days"].is_number_integer())
    throw RequestError(source, "consent.retention_days", "missing: the retention period in days must be stated");
  r.consent.retention_days = c["retention_days"].get<std::int64_t>();
  r.consent.notice = text_field(c, "notice", "consent.notice");
  validate(r, source);
  return r;
}

}  // namespace gatetwin::recognizer
