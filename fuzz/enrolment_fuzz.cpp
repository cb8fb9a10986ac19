// libFuzzer target: the registry's admin input paths (recognizer/src/enrolment.cpp) on arbitrary bytes, as
// `gatectl enroll --request` reads what the mini-program submitted, and `--purpose` lists.
// Properties beyond "no crash, no sanitizer report":
// - a request is either parsed, or refused with a RequestError that names the source and a field (nothing
//   else is thrown);
// - a parsed request passes validate() again unchanged (parsing normalises, it does not invent): an 11-digit
//   phone, a JPEG/PNG photo within the size limit, sorted unique purposes, a retention period 1..3650 days;
// - parse_purposes gives sorted unique purposes that print back to a list that parses to the same;
// - the same bytes taken as a sealed template never open with a key (no forgery by accident).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "gatetwin/recognizer/enrolment.hpp"
#include "gatetwin/recognizer/template_key.hpp"

namespace gr = gatetwin::recognizer;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    gr::EnrolmentRequest r = gr::parse_enrolment_request(text, "req.json");
    FUZZ_CHECK(r.phone.size() == 11 && r.phone[0] == '1');
    FUZZ_CHECK(!r.photo.empty() && r.photo.size() <= gr::kMaxPhotoBytes);
    FUZZ_CHECK(!r.consent.purposes.empty());
    FUZZ_CHECK(r.consent.retention_days >= 1 && r.consent.retention_days <= 3650);
    FUZZ_CHECK(!r.person || *r.person > 0);
    const gr::EnrolmentRequest before = r;
    gr::validate(r, "again");
    FUZZ_CHECK(r.phone == before.phone && r.consent.purposes == before.consent.purposes && r.photo == before.photo);
  } catch (const gr::RequestError& e) {
    FUZZ_CHECK(!e.field().empty());
    FUZZ_CHECK(std::string_view(e.what()).starts_with("req.json: "));
  }
  if (const auto p = gr::parse_purposes(text)) {
    for (std::size_t i = 1; i < p->size(); ++i) FUZZ_CHECK((*p)[i - 1] < (*p)[i]);
    const auto again = gr::parse_purposes(gr::purposes_to_string(*p));
    FUZZ_CHECK(again && *again == *p);
  }
  static const gr::TemplateKey key = [] {
    std::uint8_t k[gr::TemplateKey::kBytes];
    for (std::size_t i = 0; i < sizeof k; ++i) k[i] = static_cast<std::uint8_t>(i * 13 + 1);
    return gr::TemplateKey::from_bytes(k);
  }();
  FUZZ_CHECK(!key.open({data, size}, "gatetwin-template|1|unmasked|m").has_value());
  return 0;
}
