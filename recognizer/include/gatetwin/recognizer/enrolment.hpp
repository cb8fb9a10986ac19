#pragma once
// What a resident submits to enrol for face entry, and the biometric consent that comes with it — the
// input side of the registry (registry.hpp), kept free of storage so it can be parsed and fuzzed alone.
//
// A request is what the compound's mini-program sends (FACTS.md: phone number, face photo, actual
// residence), as JSON:
//   {"person": 17,                                  // optional: the back office's id; assigned if absent
//    "phone": "13800138017",                        // mainland mobile, optionally +86
//    "residence": "Building 3, Unit 2, Room 401",
//    "photo_base64": "/9j/4AAQ...",                 // JPEG or PNG, at most 4 MiB decoded
//    "consent": {"purposes": ["access"],            // what the face may be used for
//                "retention_days": 365,             // templates are deleted after this
//                "notice": "biometric-notice-2020-06", // the separate notice the resident agreed to
//                "separate": true}}                  // asked apart from the general privacy notice
// GB/T 35273 asks for biometric consent to be separate and explicit, with purpose, scope and retention
// stated: a request without them is refused, and so is one whose consent was bundled (separate: false).
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gatetwin::recognizer {

// What a face template may be used for. Identity verification at the gate is `access`; the others are the
// "changes of purpose" that need new consent (FACTS.md: from verification to tracking movements).
enum class Purpose : std::uint8_t { access, movement_tracking, police_linkage, health_monitoring };
constexpr std::size_t kPurposeCount = 4;
std::string_view to_string(Purpose);
std::optional<Purpose> parse_purpose(std::string_view);
// "access,movement_tracking" <-> purposes, in enum order, no duplicates.
std::string purposes_to_string(const std::vector<Purpose>& purposes);
std::optional<std::vector<Purpose>> parse_purposes(std::string_view comma_separated);

struct ConsentGrant {
  std::vector<Purpose> purposes;   // non-empty, sorted, unique
  std::int64_t retention_days = 0; // 1 .. 3650
  std::string notice;              // id of the separate biometric notice agreed to
};

struct EnrolmentRequest {
  std::optional<std::uint32_t> person;
  std::string phone;
  std::string residence;
  std::vector<unsigned char> photo;  // JPEG or PNG bytes
  ConsentGrant consent;
};

// A refused request: where (the source and the JSON field) and why.
class RequestError : public std::runtime_error {
 public:
  RequestError(const std::string& source, const std::string& field, const std::string& message)
      : std::runtime_error(source + ": " + field + ": " + message), field_(field) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

constexpr std::size_t kMaxPhotoBytes = 4u << 20;
constexpr std::size_t kMaxRequestBytes = 6u << 20;

// Parses and validates a request; RequestError naming `source` and the field otherwise. Never anything else
// for any input bytes (fuzzed: fuzz/enrolment_fuzz.cpp).
EnrolmentRequest parse_enrolment_request(std::string_view json, const std::string& source);
// The checks parse_enrolment_request applies, for requests built another way (gatectl enroll's flags);
// normalises the phone number (+86 and separators removed) and sorts the purposes.
void validate(EnrolmentRequest& request, const std::string& source);
void validate(ConsentGrant& consent, const std::string& source, const std::string& field = "consent");

}  // namespace gatetwin::recognizer
