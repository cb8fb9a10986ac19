#pragma once
// Wiegand card-frame codec: pure functions over bits, no I/O, no exceptions. The emulated card readers
// use it to produce frames, and the statistical mode uses flip_bit() to model misreads.
//
// Bit numbering follows the reader datasheets: wire bit 1 is sent first. In a Frame it is the most
// significant of the low `bits` bits of `value`, so a frame reads left to right as it was transmitted.
//
// 26-bit H10301                              34-bit (common HID "Wiegand 34")
//   bit  1      even parity over bits 2..13    bit  1      even parity over bits 2..17
//   bits 2..9   facility code, 8 bits, MSB 1st bits 2..17   facility/site code, 16 bits, MSB first
//   bits 10..25 card number, 16 bits, MSB 1st  bits 18..33  card number, 16 bits, MSB first
//   bit  26     odd parity over bits 14..25    bit  34     odd parity over bits 18..33
//
// In both formats the leading parity covers the first half of the data bits and the trailing parity the
// second half (in W26 the halves are 12 bits, so the leading one spans the facility code and the top 4
// card bits). "Even parity" means the parity bit makes the count of ones over the bit plus its span
// even; "odd" makes it odd. Every data bit is covered by exactly one parity, so any single-bit misread
// is detected; two flips in the same half cancel out and decode to a different, valid credential.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gatetwin::devices::wiegand {

enum class Format { W26, W34 };

struct Credential {
  Format format;
  std::uint32_t facility;
  std::uint32_t card;
  friend bool operator==(const Credential&, const Credential&) = default;
};

// Raw frame: `bits` wire bits held MSB-first in the low `bits` bits of `value`. Bits of `value` above
// `bits` are not part of the frame and are ignored by every function here (never an error). A frame
// cannot be longer than 64 bits; functions treat a larger `bits` as documented on each.
struct Frame {
  unsigned bits;
  std::uint64_t value;
  friend bool operator==(const Frame&, const Frame&) = default;
};

enum class DecodeStatus {
  ok,
  bad_length,             // bits is neither 26 nor 34
  parity_error_leading,   // wire bit 1 does not match its half (checked first)
  parity_error_trailing,  // the last wire bit does not match its half
};

struct DecodeResult {
  DecodeStatus status;
  Credential credential;  // meaningful only when status == ok; value-initialized ({W26, 0, 0}) otherwise
};

// Frame length and field limits of a format (26/34 bits; facility 255/65535; card 65535 for both).
constexpr unsigned bit_count(Format f) { return f == Format::W34 ? 34u : 26u; }
constexpr std::uint32_t max_facility(Format f) { return f == Format::W34 ? 0xFFFFu : 0xFFu; }
constexpr std::uint32_t max_card(Format) { return 0xFFFFu; }

// The frame for a credential, parities included; nullopt if facility or card exceeds the format's range.
std::optional<Frame> encode(const Credential& credential);

// The credential in a frame. The format is chosen by the length (26 -> W26, 34 -> W34); stray bits of
// `value` above `bits` are ignored. Total: every input, including bits of 0 or above 64, gets a status.
DecodeResult decode(const Frame& frame);

std::string_view to_string(DecodeStatus status);

// "1010..." in wire order (bit 1 first). Only the low 64 bits exist, so a frame with bits > 64 renders
// as its 64 bits; bits == 0 renders as "".
std::string to_bit_string(const Frame& frame);

// Parses "1010..." (wire order) into a frame of that many bits. Rejects an empty string, more than 64
// characters, and any character other than '0' and '1' (no spaces or separators).
std::optional<Frame> from_bit_string(std::string_view text);

// The frame with one bit inverted, as a reader misread would. `index` is 0-based in wire order (0 is wire
// bit 1, the MSB); an index at or beyond the frame's length (or 64) returns the frame unchanged.
Frame flip_bit(Frame frame, unsigned index);

}  // namespace gatetwin::devices::wiegand
