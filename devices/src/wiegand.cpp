#include "gatetwin/devices/wiegand.hpp"

#include <algorithm>
#include <bit>

namespace gatetwin::devices::wiegand {
namespace {

// Both formats are "parity, facility, card, parity" with the two parities splitting the data in half;
// only the facility width differs, so one description drives both encode and decode.
struct Layout {
  unsigned bits;           // whole frame
  unsigned facility_bits;  // card is always 16 bits
  unsigned data_bits() const { return bits - 2; }
  unsigned half() const { return data_bits() / 2; }  // span of each parity
};
constexpr unsigned card_bits = 16;

std::optional<Layout> layout_of(Format f) {
  switch (f) {
    case Format::W26: return Layout{26, 8};
    case Format::W34: return Layout{34, 16};
  }
  return std::nullopt;  // a cast-in value outside the enum
}

// Low n bits set; n == 64 must not shift by 64 (undefined behaviour).
constexpr std::uint64_t low_mask(unsigned n) { return n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1; }

bool odd_ones(std::uint64_t v) { return (std::popcount(v) & 1) != 0; }

}  // namespace

std::optional<Frame> encode(const Credential& credential) {
  const auto layout = layout_of(credential.format);
  if (!layout || credential.facility > max_facility(credential.format) || credential.card > max_card(credential.format))
    return std::nullopt;
  const unsigned half = layout->half();
  const std::uint64_t data = (std::uint64_t{credential.facility} << card_bits) | credential.card;
  // Even parity: set the bit when its half has an odd count, making the total even. Odd parity: the reverse.
  const std::uint64_t leading = odd_ones(data >> half) ? 1 : 0;
  const std::uint64_t trailing = odd_ones(data & low_mask(half)) ? 0 : 1;
  return Frame{layout->bits, (leading << (layout->bits - 1)) | (data << 1) | trailing};
}

DecodeResult decode(const Frame& frame) {
  DecodeResult result{DecodeStatus::bad_length, {}};
  if (frame.bits != 26 && frame.bits != 34) return result;
  const Format format = frame.bits == 26 ? Format::W26 : Format::W34;
  const Layout layout = *layout_of(format);
  const unsigned half = layout.half();
  const std::uint64_t v = frame.value & low_mask(frame.bits);  // drop stray bits above the frame

  // Each parity bit is checked together with the half it covers: leading bit + first half must hold an
  // even number of ones, second half + trailing bit an odd number.
  if (odd_ones(v >> (half + 1))) {
    result.status = DecodeStatus::parity_error_leading;
  } else if (!odd_ones(v & low_mask(half + 1))) {
    result.status = DecodeStatus::parity_error_trailing;
  } else {
    const std::uint64_t data = (v >> 1) & low_mask(layout.data_bits());
    result.status = DecodeStatus::ok;
    result.credential = {format, static_cast<std::uint32_t>(data >> card_bits),
                         static_cast<std::uint32_t>(data & low_mask(card_bits))};
  }
  return result;
}

std::string_view to_string(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::ok: return "ok";
    case DecodeStatus::bad_length: return "bad_length";
    case DecodeStatus::parity_error_leading: return "parity_error_leading";
    case DecodeStatus::parity_error_trailing: return "parity_error_trailing";
  }
  return "unknown";
}

std::string to_bit_string(const Frame& frame) {
  const unsigned n = std::min(frame.bits, 64u);
  std::string text(n, '0');
  for (unsigned i = 0; i < n; ++i)
    if ((frame.value >> (n - 1 - i)) & 1) text[i] = '1';  // character i is wire bit i + 1
  return text;
}

std::optional<Frame> from_bit_string(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c != '0' && c != '1') return std::nullopt;
    value = (value << 1) | (c == '1' ? 1u : 0u);
  }
  return Frame{static_cast<unsigned>(text.size()), value};
}

Frame flip_bit(Frame frame, unsigned index) {
  const unsigned n = std::min(frame.bits, 64u);
  if (index < n) frame.value ^= std::uint64_t{1} << (n - 1 - index);
  return frame;
}

}  // namespace gatetwin::devices::wiegand
