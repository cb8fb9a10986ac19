// Wiegand codec tests: hand-derived frames, round trips, misread detection, and total handling of junk.
#include "gatetwin/devices/wiegand.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace gatetwin::devices::wiegand {

// Lets failures print credentials, statuses and frames readably (found by ADL, so in the types' namespace).
[[maybe_unused]] static void PrintTo(const Credential& c, std::ostream* os) {
  *os << (c.format == Format::W26 ? "W26" : "W34") << "{facility " << c.facility << ", card " << c.card << "}";
}
[[maybe_unused]] static void PrintTo(DecodeStatus s, std::ostream* os) { *os << to_string(s); }
[[maybe_unused]] static void PrintTo(const Frame& f, std::ostream* os) { *os << f.bits << ":" << to_bit_string(f); }

namespace {

Frame encoded(const Credential& c) {
  const auto frame = encode(c);
  EXPECT_TRUE(frame.has_value()) << "facility " << c.facility << " card " << c.card;
  return frame.value_or(Frame{0, 0});
}

// 0, 1, every `step` up to max, and max - 1, max: covers both ends of every field.
std::vector<std::uint32_t> grid(std::uint32_t max, std::uint32_t step) {
  std::vector<std::uint32_t> values{0, 1, max - 1, max};
  for (std::uint32_t v = step; v < max; v += step) values.push_back(v);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

std::vector<Credential> credential_grid(Format format, std::uint32_t step) {
  std::vector<Credential> out;
  for (auto facility : grid(max_facility(format), step))
    for (auto card : grid(max_card(format), 257)) out.push_back({format, facility, card});
  return out;
}

// Independent reference for the parity rules, on the bit string rather than on integers: the leading
// bit plus the first half of the data must hold an even number of '1's, the second half plus the
// trailing bit an odd number. Returns the status decode() must report.
DecodeStatus reference_status(const std::string& wire) {
  if (wire.size() != 26 && wire.size() != 34) return DecodeStatus::bad_length;
  const std::size_t half = (wire.size() - 2) / 2;
  const auto ones = [&](std::size_t from, std::size_t count) {
    return std::count(wire.begin() + static_cast<std::ptrdiff_t>(from),
                      wire.begin() + static_cast<std::ptrdiff_t>(from + count), '1');
  };
  if (ones(0, half + 1) % 2 != 0) return DecodeStatus::parity_error_leading;
  if (ones(half + 1, half + 1) % 2 != 1) return DecodeStatus::parity_error_trailing;
  return DecodeStatus::ok;
}

// --- Hand-derived frames --------------------------------------------------------------------------------

TEST(WiegandWorkedExample, H10301Facility18Card12345) {
  // Data: facility 18 = 00010010, card 12345 = 0x3039 = 0011000000111001.
  // Wire bits 2..25 are therefore 00010010 0011000000111001; the parities split them into halves of 12.
  //   Bits 2..13  = 00010010 0011  -> four '1's, already even, so the even leading parity bit is 0.
  //   Bits 14..25 = 000000111001   -> four '1's, even, so the odd trailing parity bit is 1 (makes five).
  // Frame = 0 | 00010010 | 0011000000111001 | 1.
  const std::string expected = "0" "00010010" "0011000000111001" "1";
  ASSERT_EQ(expected, "00001001000110000001110011");
  const Frame frame = encoded({Format::W26, 18, 12345});
  EXPECT_EQ(frame.bits, 26u);
  EXPECT_EQ(to_bit_string(frame), expected);
  EXPECT_EQ(frame.value, 0x246073u);  // the same 26 bits as a number: 00 0010 0100 0110 0000 0111 0011

  const auto parsed = from_bit_string(expected);
  ASSERT_TRUE(parsed.has_value());
  const DecodeResult r = decode(*parsed);
  EXPECT_EQ(r.status, DecodeStatus::ok);
  EXPECT_EQ(r.credential, (Credential{Format::W26, 18, 12345}));
}

TEST(WiegandWorkedExample, H10301Extremes) {
  // All-zero data: the leading half has zero '1's (even -> 0), the trailing half zero (odd parity -> 1).
  EXPECT_EQ(to_bit_string(encoded({Format::W26, 0, 0})), "00000000000000000000000001");
  // All-ones data: each half has twelve '1's (even), so leading 0 and trailing 1 again.
  EXPECT_EQ(to_bit_string(encoded({Format::W26, 255, 65535})), "01111111111111111111111111");
  // Facility 128 = 10000000 card 0: one '1' in the first half -> leading 1; trailing half empty -> 1.
  EXPECT_EQ(to_bit_string(encoded({Format::W26, 128, 0})), "11000000000000000000000001");
  // Facility 0 card 1: first half empty -> 0; one '1' in the second half is already odd -> 0.
  EXPECT_EQ(to_bit_string(encoded({Format::W26, 0, 1})), "00000000000000000000000010");
}

TEST(WiegandWorkedExample, W34Facility1234Card56789) {
  // Data: facility 1234 = 0x04D2 = 0000010011010010, card 56789 = 0xDDD5 = 1101110111010101.
  // The parities split the 32 data bits into the two 16-bit fields.
  //   Bits 2..17  (facility) hold five '1's   -> odd, so the even leading parity bit is 1.
  //   Bits 18..33 (card)     hold eleven '1's -> already odd, so the odd trailing parity bit is 0.
  const std::string expected = "1" "0000010011010010" "1101110111010101" "0";
  const Frame frame = encoded({Format::W34, 1234, 56789});
  EXPECT_EQ(frame.bits, 34u);
  EXPECT_EQ(to_bit_string(frame), expected);
  EXPECT_EQ(decode(frame).credential, (Credential{Format::W34, 1234, 56789}));

  // All-zero data: leading 0, trailing 1, as in W26.
  EXPECT_EQ(to_bit_string(encoded({Format::W34, 0, 0})), "0000000000000000000000000000000001");
}

// --- Encoding limits and round trips -------------------------------------------------------------------

TEST(WiegandEncode, RejectsOutOfRangeFields) {
  constexpr auto u32max = std::numeric_limits<std::uint32_t>::max();
  EXPECT_FALSE(encode({Format::W26, 256, 0}).has_value());
  EXPECT_FALSE(encode({Format::W26, 0, 65536}).has_value());
  EXPECT_FALSE(encode({Format::W26, u32max, u32max}).has_value());
  EXPECT_FALSE(encode({Format::W34, 65536, 0}).has_value());
  EXPECT_FALSE(encode({Format::W34, 0, 65536}).has_value());
  EXPECT_FALSE(encode({Format::W34, u32max, 0}).has_value());
  EXPECT_FALSE(encode({static_cast<Format>(7), 1, 1}).has_value());  // not a format at all
  EXPECT_TRUE(encode({Format::W26, 255, 65535}).has_value());
  EXPECT_TRUE(encode({Format::W34, 65535, 65535}).has_value());
}

TEST(WiegandEncode, RoundTripsAGridOfCredentialsInBothFormats) {
  for (Format format : {Format::W26, Format::W34}) {
    for (const Credential& c : credential_grid(format, format == Format::W26 ? 5 : 1031)) {
      const Frame frame = encoded(c);
      ASSERT_EQ(frame.bits, bit_count(format));
      ASSERT_EQ(frame.value >> frame.bits, 0u) << "no bits above the frame";
      ASSERT_EQ(reference_status(to_bit_string(frame)), DecodeStatus::ok) << "parities per the reference";
      const DecodeResult r = decode(frame);
      ASSERT_EQ(r.status, DecodeStatus::ok);
      ASSERT_EQ(r.credential, c);
    }
  }
}

// --- Misreads -------------------------------------------------------------------------------------------

TEST(WiegandMisread, EverySingleBitFlipIsCaughtByTheParityCoveringIt) {
  // Every wire bit is covered by exactly one parity (the parity bits cover themselves), so one flip always
  // breaks exactly that parity: a single misread never decodes to a credential, valid or not. Indices
  // 0..half (leading bit and first data half) break the leading parity, the rest break the trailing one.
  for (Format format : {Format::W26, Format::W34}) {
    const unsigned bits = bit_count(format);
    const unsigned half = (bits - 2) / 2;
    for (const Credential& c : credential_grid(format, format == Format::W26 ? 17 : 4099)) {
      const Frame frame = encoded(c);
      for (unsigned i = 0; i < bits; ++i) {
        const DecodeStatus expected =
            i <= half ? DecodeStatus::parity_error_leading : DecodeStatus::parity_error_trailing;
        ASSERT_EQ(decode(flip_bit(frame, i)).status, expected) << "bit index " << i << " of " << bits;
      }
    }
  }
}

TEST(WiegandMisread, TwoFlipsInOneHalfGoUndetectedTwoAcrossHalvesAreCaught) {
  // The limit of one parity bit per half: flipping wire bits 3 and 4 (facility 00010010 -> 01110010)
  // keeps the first half's count even, so the frame decodes cleanly as someone else's card.
  const Frame frame = encoded({Format::W26, 18, 12345});
  const Frame twice = flip_bit(flip_bit(frame, 2), 3);  // indices are 0-based
  EXPECT_EQ(to_bit_string(twice), "00111001000110000001110011");
  const DecodeResult r = decode(twice);
  EXPECT_EQ(r.status, DecodeStatus::ok);
  EXPECT_EQ(r.credential, (Credential{Format::W26, 114, 12345}));
  // One flip in each half breaks both parities; the leading one is reported.
  EXPECT_EQ(decode(flip_bit(flip_bit(frame, 1), 20)).status, DecodeStatus::parity_error_leading);
}

TEST(WiegandMisread, FlipBitIndexesInWireOrderAndIgnoresOutOfRange) {
  const Frame zero{26, 0};
  EXPECT_EQ(to_bit_string(flip_bit(zero, 0)), "10000000000000000000000000");
  EXPECT_EQ(to_bit_string(flip_bit(zero, 25)), "00000000000000000000000001");
  EXPECT_EQ(flip_bit(zero, 26), zero);
  EXPECT_EQ(flip_bit(zero, std::numeric_limits<unsigned>::max()), zero);
  EXPECT_EQ(flip_bit(Frame{0, 5}, 0), (Frame{0, 5}));
  EXPECT_EQ(flip_bit(Frame{64, 0}, 0).value, std::uint64_t{1} << 63);
  EXPECT_EQ(flip_bit(Frame{1000, 0}, 0).value, std::uint64_t{1} << 63);  // only 64 bits exist
  const Frame f = encoded({Format::W34, 4321, 8765});
  for (unsigned i = 0; i < 34; ++i) EXPECT_EQ(flip_bit(flip_bit(f, i), i), f);
}

// --- Arbitrary input ------------------------------------------------------------------------------------

TEST(WiegandDecode, RejectsEveryOtherLength) {
  const std::uint64_t values[] = {0, 1, 0x246073, ~std::uint64_t{0}};
  const unsigned lengths[] = {0, 1, 2, 24, 25, 27, 32, 33, 35, 36, 63, 64, 65, 1000,
                              std::numeric_limits<unsigned>::max()};
  for (unsigned bits : lengths) {
    for (std::uint64_t value : values) {
      const DecodeResult r = decode(Frame{bits, value});
      EXPECT_EQ(r.status, DecodeStatus::bad_length) << bits;
      EXPECT_EQ(r.credential, (Credential{Format::W26, 0, 0})) << "no credential unless ok";
    }
  }
}

TEST(WiegandDecode, IgnoresStrayBitsAboveTheFrame) {
  const Frame w26 = encoded({Format::W26, 18, 12345});
  const Frame w34 = encoded({Format::W34, 1234, 56789});
  EXPECT_EQ(decode(Frame{26, w26.value | (~std::uint64_t{0} << 26)}).credential, decode(w26).credential);
  EXPECT_EQ(decode(Frame{34, w34.value | (std::uint64_t{1} << 63)}).credential, decode(w34).credential);
  EXPECT_EQ(to_bit_string(Frame{26, w26.value | (std::uint64_t{1} << 40)}), to_bit_string(w26));
}

TEST(WiegandDecode, SeededSampleOfRawFramesMatchesTheReferenceParityRules) {
  // A seeded sample instead of all 2^26 / 2^34 frames. Every frame gets the reference's status, and every
  // frame that decodes re-encodes to itself: decode is the exact inverse of encode, nothing else is "ok".
  std::mt19937_64 rng(0x57E6A4D);  // mt19937_64's sequence is fixed by the standard: same sample everywhere
  for (unsigned bits : {26u, 34u}) {
    std::size_t ok = 0;
    constexpr std::size_t samples = 200'000;
    for (std::size_t n = 0; n < samples; ++n) {
      const Frame frame{bits, rng() & ((std::uint64_t{1} << bits) - 1)};
      const DecodeResult r = decode(frame);
      ASSERT_EQ(r.status, reference_status(to_bit_string(frame))) << to_bit_string(frame);
      if (r.status != DecodeStatus::ok) continue;
      ++ok;
      ASSERT_EQ(encode(r.credential), frame);
    }
    // Two independent parity bits: a random frame passes both a quarter of the time.
    EXPECT_NEAR(static_cast<double>(ok) / samples, 0.25, 0.01) << bits;
  }
}

TEST(WiegandDecode, SurvivesRandomLengthsAndValues) {
  std::mt19937_64 rng(42);
  for (int n = 0; n < 100'000; ++n) {
    const auto bits = static_cast<unsigned>(rng() % 70);  // 0..69: includes over-long frames
    const Frame frame{bits, rng()};
    const DecodeResult r = decode(frame);
    if (bits != 26 && bits != 34) {
      ASSERT_EQ(r.status, DecodeStatus::bad_length);
    }
    ASSERT_EQ(to_bit_string(frame).size(), std::min(bits, 64u));
    (void)flip_bit(frame, static_cast<unsigned>(rng() % 80));
  }
}

// --- Bit strings ----------------------------------------------------------------------------------------

TEST(WiegandBitString, ParsesOnlyZerosAndOnesUpTo64) {
  for (std::string_view junk : {"", " ", "2", "01a", " 01", "01 ", "0 1", "0b101", "1,0", "-1", "\t",
                                "10\n", "\xC2\xB9"}) {
    EXPECT_FALSE(from_bit_string(junk).has_value()) << '"' << junk << '"';
  }
  EXPECT_FALSE(from_bit_string(std::string(65, '0')).has_value());
  EXPECT_FALSE(from_bit_string(std::string_view("01\0" "1", 4)).has_value());  // embedded NUL

  EXPECT_EQ(from_bit_string(std::string(64, '1')), (Frame{64, ~std::uint64_t{0}}));
  EXPECT_EQ(from_bit_string("0"), (Frame{1, 0}));
  EXPECT_EQ(from_bit_string("0001"), (Frame{4, 1}));  // leading zeros count towards the length
  EXPECT_EQ(from_bit_string("1000"), (Frame{4, 8}));
}

TEST(WiegandBitString, RoundTripsAndRendersInWireOrder) {
  EXPECT_EQ(to_bit_string(Frame{0, 123}), "");
  EXPECT_EQ(to_bit_string(Frame{4, 0b0011}), "0011");
  EXPECT_EQ(to_bit_string(Frame{100, 1}), std::string(63, '0') + "1");  // only 64 bits exist
  std::mt19937_64 rng(7);
  for (int n = 0; n < 10'000; ++n) {
    const auto bits = static_cast<unsigned>(1 + rng() % 64);
    const Frame frame{bits, rng() & (bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1)};
    ASSERT_EQ(from_bit_string(to_bit_string(frame)), frame);
  }
}

TEST(WiegandStatus, HasReadableNames) {
  EXPECT_EQ(to_string(DecodeStatus::ok), "ok");
  EXPECT_EQ(to_string(DecodeStatus::bad_length), "bad_length");
  EXPECT_EQ(to_string(DecodeStatus::parity_error_leading), "parity_error_leading");
  EXPECT_EQ(to_string(DecodeStatus::parity_error_trailing), "parity_error_trailing");
}

}  // namespace
}  // namespace gatetwin::devices::wiegand
