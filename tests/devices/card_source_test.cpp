// CardSource, the card reader's physics: each kind of presentation puts the frame it should on the wire
// with its ground-truth label, and the draws depend on (seed, kind, n) only.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <vector>

#include "gatetwin/devices/card_reader.hpp"

namespace card = gatetwin::devices::card;
namespace wg = gatetwin::devices::wiegand;

namespace {

const std::vector<wg::Credential> kEnrolled{
    {wg::Format::W26, 18, 12345}, {wg::Format::W26, 18, 12346}, {wg::Format::W34, 1234, 56789}, {wg::Format::W26, 7, 1}};
const std::vector<wg::Credential> kRevoked{{wg::Format::W26, 18, 40000}, {wg::Format::W34, 9, 9}};

bool enrolled(const wg::Credential& c) {
  for (const auto& e : kEnrolled)
    if (e == c) return true;
  return false;
}

}  // namespace

TEST(CardSource, EachKindPutsItsFrameOnTheWire) {
  const card::CardSource source(kEnrolled, kRevoked, 2020);
  for (std::uint64_t n = 0; n < 500; ++n) {
    // Valid and cloned cards carry an enrolled credential's own frame: identical bits, only the holder
    // differs, so nothing on the wire tells a clone apart.
    for (const auto kind : {card::CardKind::valid, card::CardKind::cloned}) {
      const card::Swipe s = source.draw(kind, n);
      EXPECT_EQ(s.truth, kind);
      EXPECT_TRUE(enrolled(s.credential));
      EXPECT_EQ(s.frame, wg::encode(s.credential));
      EXPECT_EQ(wg::decode(s.frame).credential, s.credential);
    }
    const card::Swipe r = source.draw(card::CardKind::revoked, n);
    EXPECT_EQ(r.truth, card::CardKind::revoked);
    EXPECT_TRUE(r.credential == kRevoked[0] || r.credential == kRevoked[1]);
    EXPECT_EQ(wg::decode(r.frame).status, wg::DecodeStatus::ok);
    EXPECT_EQ(wg::decode(r.frame).credential, r.credential);
    // A misread is the card's frame with exactly the drawn bit flipped: parity always catches it.
    const card::Swipe m = source.draw(card::CardKind::misread, n);
    EXPECT_EQ(m.truth, card::CardKind::misread);
    EXPECT_TRUE(enrolled(m.credential));
    const auto clean = wg::encode(m.credential);
    ASSERT_TRUE(clean);
    EXPECT_EQ(m.frame, wg::flip_bit(*clean, source.misread_bit(clean->bits, n)));
    EXPECT_NE(wg::decode(m.frame).status, wg::DecodeStatus::ok);
  }
}

TEST(CardSource, DrawsDependOnSeedAndNumberOnly) {
  const card::CardSource a(kEnrolled, kRevoked, 7), b(kEnrolled, kRevoked, 7), c(kEnrolled, kRevoked, 8);
  // b is asked in the reverse order and gives the same answers: nothing depends on call order.
  std::vector<card::Swipe> backwards(200);
  for (std::uint64_t n = 200; n-- > 0;) backwards[n] = b.draw(card::CardKind::misread, n);
  std::size_t differ = 0;
  for (std::uint64_t n = 0; n < 200; ++n) {
    const auto from_a = a.draw(card::CardKind::misread, n);
    EXPECT_EQ(from_a.frame, backwards[n].frame);
    EXPECT_EQ(from_a.credential, backwards[n].credential);
    if (c.draw(card::CardKind::misread, n).frame != from_a.frame) ++differ;
  }
  EXPECT_GT(differ, 150u) << "another seed presents other cards";
}

TEST(CardSource, DrawsCoverTheListsAndEveryMisreadBit) {
  const card::CardSource source(kEnrolled, kRevoked, 1);
  std::set<std::uint32_t> cards;
  std::set<unsigned> w26_bits, w34_bits;
  for (std::uint64_t n = 0; n < 2000; ++n) {
    cards.insert(source.draw(card::CardKind::valid, n).credential.card);
    w26_bits.insert(source.misread_bit(26, n));
    w34_bits.insert(source.misread_bit(34, n));
  }
  EXPECT_EQ(cards.size(), kEnrolled.size());
  EXPECT_EQ(w26_bits.size(), 26u);
  EXPECT_EQ(*w26_bits.rbegin(), 25u);
  EXPECT_EQ(w34_bits.size(), 34u);
}

TEST(CardSource, MakePresentsAGivenCredential) {
  const card::CardSource source({}, {}, 3);
  const wg::Credential mine{wg::Format::W34, 65535, 0};
  EXPECT_EQ(source.make(mine, card::CardKind::valid, 0).frame, wg::encode(mine));
  EXPECT_EQ(source.make(mine, card::CardKind::misread, 5).frame,
            wg::flip_bit(*wg::encode(mine), source.misread_bit(34, 5)));
  EXPECT_THROW(source.make({wg::Format::W26, 256, 0}, card::CardKind::valid, 0), std::invalid_argument);
  EXPECT_THROW(source.draw(card::CardKind::valid, 0), std::invalid_argument);   // nothing enrolled
  EXPECT_THROW(source.draw(card::CardKind::revoked, 0), std::invalid_argument);  // nothing revoked
  EXPECT_THROW(card::CardSource({{wg::Format::W26, 0, 70000}}, {}, 0), std::invalid_argument);
  EXPECT_EQ(card::to_string(card::CardKind::cloned), "cloned");
}
