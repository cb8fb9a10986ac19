// Fault plans: windows, precedence, and draws that depend only on (seed, event), never on timing.
#include <gtest/gtest.h>

#include "gatetwin/devices/fault.hpp"

namespace gd = gatetwin::devices;
using gd::FaultMode;
using gd::Micros;

TEST(FaultPlan, WindowsAreHalfOpenAndTheLastListedWins) {
  gd::FaultPlan plan({{FaultMode::stuck, Micros{10}, Micros{20}, 36.0},
                      {FaultMode::stuck, Micros{15}, Micros{30}, 39.5}}, 1);
  EXPECT_FALSE(plan.is(Micros{9}, FaultMode::stuck));
  EXPECT_DOUBLE_EQ(plan.active(Micros{10}, FaultMode::stuck)->value, 36.0);
  EXPECT_DOUBLE_EQ(plan.active(Micros{15}, FaultMode::stuck)->value, 39.5);
  EXPECT_DOUBLE_EQ(plan.active(Micros{29}, FaultMode::stuck)->value, 39.5);
  EXPECT_FALSE(plan.is(Micros{30}, FaultMode::stuck));
  EXPECT_FALSE(plan.is(Micros{15}, FaultMode::off));
}

TEST(FaultPlan, IntermittentDropsTheRequestedShareReproducibly) {
  gd::FaultPlan a({{FaultMode::intermittent, Micros{0}, Micros{1000}, 0.25}}, 42);
  gd::FaultPlan b({{FaultMode::intermittent, Micros{0}, Micros{1000}, 0.25}}, 42);
  gd::FaultPlan c({{FaultMode::intermittent, Micros{0}, Micros{1000}, 0.25}}, 43);
  int dropped = 0, same_as_b = 0, same_as_c = 0;
  for (std::uint64_t e = 0; e < 20000; ++e) {
    const bool d = a.drops(Micros{5}, e);
    dropped += d;
    same_as_b += d == b.drops(Micros{5}, e);
    same_as_c += d == c.drops(Micros{5}, e);
  }
  EXPECT_NEAR(dropped / 20000.0, 0.25, 0.01);
  EXPECT_EQ(same_as_b, 20000);   // same seed: the same events are lost
  EXPECT_LT(same_as_c, 17000);   // another seed: other events (agreement ~62.5% by chance)
  EXPECT_FALSE(a.drops(Micros{1000}, 3));  // outside the window nothing is lost
}

TEST(FaultPlan, LatencyIsDelayPlusJitterInRange) {
  gd::FaultPlan plan({{FaultMode::delayed, Micros{0}, Micros{100}, 0.0, Micros{5000}, Micros{2000}}}, 7);
  Micros lo{1'000'000}, hi{0};
  for (std::uint64_t e = 0; e < 5000; ++e) {
    const auto l = plan.latency(Micros{50}, e);
    lo = std::min(lo, l);
    hi = std::max(hi, l);
  }
  EXPECT_GE(lo, Micros{5000});
  EXPECT_LT(hi, Micros{7000});
  EXPECT_GT(hi - lo, Micros{1800});  // the jitter is used, not a constant
  EXPECT_EQ(plan.latency(Micros{100}, 1), Micros{0});
}

TEST(FaultPlan, ModeNamesRoundTrip) {
  for (auto m : {FaultMode::off, FaultMode::stuck, FaultMode::garbage, FaultMode::slow, FaultMode::delayed,
                 FaultMode::intermittent, FaultMode::drift})
    EXPECT_EQ(gd::parse_fault_mode(gd::to_string(m)), m);
  EXPECT_FALSE(gd::parse_fault_mode("stalled").has_value());
}
