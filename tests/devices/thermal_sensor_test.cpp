// The thermal sensor as a Modbus handler, without sockets: the register map and its scaling, the error
// model (emissivity, compensation, warm-up, drift, ambient effect, ranges), noise that depends only on
// (seed, measurement number), exceptions, and the fault modes' replies. Time is a ManualClock.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "gatetwin/devices/thermal_sensor.hpp"

namespace gd = gatetwin::devices;
namespace mb = gatetwin::devices::modbus;
using gd::Micros;
namespace reg = gd::thermal_reg;
namespace st = gd::thermal_status;

namespace {

constexpr Micros kSecond{1'000'000};
constexpr Micros kHour{3'600'000'000};

// A person (or nobody) in front of the sensor at a fixed skin and room temperature.
class FixedSource final : public gd::TemperatureSource {
 public:
  std::optional<double> skin_temperature_c(Micros) override { return skin; }
  double ambient_c(Micros) override { return ambient; }
  std::optional<double> skin = 36.5;
  double ambient = 25.0;
};

gd::ThermalSensorParams noiseless() {
  gd::ThermalSensorParams p;
  p.noise_sd_c = 0.0;
  return p;
}

mb::Request request(std::uint8_t function, std::uint16_t address, std::uint16_t quantity) {
  mb::Request q;
  q.header = {7, 1};
  q.function = function;
  q.address = address;
  q.quantity = quantity;
  return q;
}

mb::Request write(std::uint16_t address, std::vector<std::uint16_t> values) {
  mb::Request q = request(values.size() == 1 ? 0x06 : 0x10, address, static_cast<std::uint16_t>(values.size()));
  q.registers = std::move(values);
  return q;
}

std::int16_t as_signed(std::uint16_t v) { return static_cast<std::int16_t>(v); }

// A sensor with its source and clock, and shorthands for reading it.
struct Rig {
  explicit Rig(gd::ThermalSensorParams p = noiseless(), gd::FaultPlan f = {}) : sensor(source, clock, p, std::move(f)) {}
  std::vector<std::uint16_t> inputs(std::uint16_t address = 0, std::uint16_t n = reg::input_count) {
    const auto r = sensor.handle(request(0x04, address, n));
    EXPECT_FALSE(r.exception) << mb::to_string(*r.exception);
    return r.registers;
  }
  double object_c() { return as_signed(inputs(0, 1).at(0)) / 100.0; }
  std::optional<mb::Exception> exception_of(const mb::Request& q) { return sensor.handle(q).exception; }
  FixedSource source;
  gd::ManualClock clock;
  gd::ThermalSensor sensor;
};

}  // namespace

TEST(ThermalSensor, ReportsSkinAndAmbientInSignedHundredthsWithStatusCounterAndUptime) {
  Rig rig;
  const auto regs = rig.inputs();
  ASSERT_EQ(regs.size(), 6u);
  EXPECT_EQ(regs[reg::object_temperature], 3650);
  EXPECT_EQ(regs[reg::ambient_temperature], 2500);
  EXPECT_EQ(regs[reg::status], st::valid);
  EXPECT_EQ(regs[reg::counter_high], 0);
  EXPECT_EQ(regs[reg::counter_low], 1);
  EXPECT_EQ(regs[reg::uptime], 3600);  // powered on an hour before the run by default
  rig.source.ambient = -5.25;          // negative temperatures are two's complement
  EXPECT_EQ(as_signed(rig.inputs(1, 1)[0]), -525);
  const auto m = rig.sensor.last_measurement();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->number, 1u);
  EXPECT_DOUBLE_EQ(*m->true_skin_c, 36.5);
  EXPECT_NEAR(m->reported_c, 36.5, 1e-9);
}

TEST(ThermalSensor, NobodyInFrontReadsTheBackgroundWithTheValidBitClear) {
  Rig rig;
  rig.source.skin.reset();
  rig.source.ambient = 22.0;
  const auto regs = rig.inputs();
  EXPECT_EQ(regs[reg::object_temperature], 2194);  // 22 °C, 0.02 °C/°C x 3 °C below 25 reads 0.06 low
  EXPECT_EQ(regs[reg::status] & st::valid, 0);
}

TEST(ThermalSensor, OnlyReadsCoveringTheObjectRegisterAreMeasurements) {
  Rig rig;
  rig.inputs(0, 1);
  rig.inputs(0, 6);
  const auto later = rig.inputs(1, 5);  // ambient, status, counter, uptime: no measurement
  EXPECT_EQ(later[reg::counter_low - 1], 2);
  EXPECT_EQ(later[reg::status - 1], st::valid);  // the last measurement's flags
  EXPECT_EQ(rig.sensor.measurements(), 2u);
  // The counter is 32 bits, high word first.
  for (int i = 0; i < 65536; ++i) rig.sensor.handle(request(0x04, 0, 1));
  const auto c = rig.inputs(3, 2);
  EXPECT_EQ(c[0], 1);
  EXPECT_EQ(c[1], 2);
}

TEST(ThermalSensor, NoiseIsAFunctionOfSeedAndMeasurementNumberOnly) {
  gd::ThermalSensorParams p;
  p.noise_sd_c = 0.1;
  p.seed = 42;
  Rig a(p), b(p);
  p.seed = 43;
  Rig c(p);
  int differ = 0;
  double sum = 0, sum2 = 0;
  constexpr int n = 4000;
  for (int i = 0; i < n; ++i) {
    if (i % 3 == 0) b.clock.advance(kSecond);  // time and other reads do not change the draws
    b.inputs(1, 2);
    const double x = a.sensor.model_reading(a.clock.now(), 36.5, 25.0, 0.98, static_cast<std::uint32_t>(i + 1));
    const auto ra = a.inputs(0, 1);
    ASSERT_EQ(ra, b.inputs(0, 1)) << i;
    if (c.inputs(0, 1) != ra) ++differ;
    EXPECT_DOUBLE_EQ(a.sensor.last_measurement()->reported_c, x);
    sum += x - 36.5;
    sum2 += (x - 36.5) * (x - 36.5);
  }
  EXPECT_GT(differ, n * 9 / 10);  // another seed, another stream
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.01);  // 4 standard errors
  EXPECT_NEAR(sd, 0.1, 0.006);
}

TEST(ThermalSensor, EmissivityIsWritableWithinItsRangeAndShiftsTheReadingTheRightWay) {
  Rig rig;
  EXPECT_EQ(rig.exception_of(write(reg::emissivity, {99})), mb::Exception::illegal_data_value);
  EXPECT_EQ(rig.exception_of(write(reg::emissivity, {1001})), mb::Exception::illegal_data_value);
  EXPECT_DOUBLE_EQ(rig.sensor.emissivity(), 0.98);
  const double at_skin = rig.object_c();
  ASSERT_FALSE(rig.exception_of(write(reg::emissivity, {950})));
  const double low = rig.object_c();
  ASSERT_FALSE(rig.exception_of(write(reg::emissivity, {1000})));
  const double high = rig.object_c();
  // Skin (36.5) warmer than the room (25): assuming less emission than there is reads warm, more reads cold.
  // (Grey body: e_set T_r^4 + (1 - e_set) T_amb^4 = 0.98 T_skin^4 + 0.02 T_amb^4, in kelvin.)
  EXPECT_NEAR(at_skin, 36.50, 0.005);
  EXPECT_NEAR(low, 36.84, 0.006);
  EXPECT_NEAR(high, 36.28, 0.006);
  // The extremes are accepted and read back.
  ASSERT_FALSE(rig.exception_of(write(reg::emissivity, {100})));
  EXPECT_EQ(rig.sensor.handle(request(0x03, reg::emissivity, 1)).registers.at(0), 100);
}

TEST(ThermalSensor, CompensationIsAddedAndAMultipleWriteIsAllOrNothing) {
  Rig rig;
  ASSERT_FALSE(rig.exception_of(write(reg::compensation, {static_cast<std::uint16_t>(-45)})));
  EXPECT_NEAR(rig.object_c(), 36.05, 1e-9);
  EXPECT_EQ(rig.exception_of(write(reg::compensation, {501})), mb::Exception::illegal_data_value);
  // FC16 over both: the emissivity is fine, the compensation is not, so neither is written.
  EXPECT_EQ(rig.exception_of(write(reg::emissivity, {950, static_cast<std::uint16_t>(-501)})),
            mb::Exception::illegal_data_value);
  EXPECT_DOUBLE_EQ(rig.sensor.emissivity(), 0.98);
  ASSERT_FALSE(rig.exception_of(write(reg::emissivity, {970, 20})));
  EXPECT_DOUBLE_EQ(rig.sensor.emissivity(), 0.97);
  EXPECT_DOUBLE_EQ(rig.sensor.compensation_c(), 0.2);
  const auto h = rig.sensor.handle(request(0x03, 0, 3));
  EXPECT_EQ(h.registers, (std::vector<std::uint16_t>{970, 20, gd::ThermalSensor::kDeviceId}));
}

TEST(ThermalSensor, ReadOnlyOutOfMapAndUnimplementedFunctionsGetTheirExceptions) {
  Rig rig;
  EXPECT_EQ(rig.exception_of(write(reg::device_id, {1})), mb::Exception::illegal_data_address);
  EXPECT_EQ(rig.exception_of(write(reg::compensation, {5, 1})), mb::Exception::illegal_data_address);
  EXPECT_DOUBLE_EQ(rig.sensor.compensation_c(), 0.0);  // refused as a whole
  EXPECT_EQ(rig.exception_of(request(0x03, 2, 2)), mb::Exception::illegal_data_address);
  EXPECT_EQ(rig.exception_of(request(0x04, 5, 2)), mb::Exception::illegal_data_address);
  EXPECT_EQ(rig.exception_of(request(0x04, 6, 1)), mb::Exception::illegal_data_address);
  for (const std::uint8_t f : {std::uint8_t{0x01}, std::uint8_t{0x02}}) EXPECT_EQ(rig.exception_of(request(f, 0, 1)), mb::Exception::illegal_function);
  mb::Request coil = request(0x05, 0, 1);
  coil.bits = {true};
  EXPECT_EQ(rig.exception_of(coil), mb::Exception::illegal_function);
  EXPECT_EQ(rig.sensor.measurements(), 0u);
  // A request the codec marked malformed is answered with its own exception through reply().
  mb::Request bad = request(0x03, 0, 0);
  bad.malformed = mb::Exception::illegal_data_value;
  EXPECT_EQ(rig.sensor.reply(bad).response->exception, mb::Exception::illegal_data_value);
}

TEST(ThermalSensor, WarmUpFlagsTheStatusAndReadsLowShrinkingToNothing) {
  gd::ThermalSensorParams p = noiseless();
  p.powered_on_at = Micros{0};
  Rig rig(p);
  auto regs = rig.inputs();
  EXPECT_EQ(regs[reg::status], st::valid | st::warming_up);
  EXPECT_EQ(regs[reg::object_temperature], 3550);  // -1.0 °C at power-on
  EXPECT_EQ(regs[reg::uptime], 0);
  rig.clock.set(300 * kSecond);
  regs = rig.inputs();
  EXPECT_EQ(regs[reg::object_temperature], 3600);  // half-way: -0.5 °C
  EXPECT_EQ(regs[reg::uptime], 300);
  rig.clock.set(600 * kSecond);
  regs = rig.inputs();
  EXPECT_EQ(regs[reg::status], st::valid);
  EXPECT_EQ(regs[reg::object_temperature], 3650);
  rig.clock.set(100'000 * kSecond);
  EXPECT_EQ(rig.inputs(5, 1)[0], 65535);  // uptime saturates
}

TEST(ThermalSensor, DriftAndAmbientEffectAndRangesAreModelled) {
  gd::ThermalSensorParams p = noiseless();
  p.drift_c_per_hour = 0.1;
  p.powered_on_at = Micros{0};
  p.warmup = Micros{0};
  Rig rig(p);
  rig.clock.set(2 * kHour);
  EXPECT_NEAR(rig.object_c(), 36.7, 1e-9);
  rig.clock.set(Micros{0});  // (time never runs backwards in a run; here it isolates the ambient effect)
  rig.source.ambient = 35.0;
  EXPECT_NEAR(rig.object_c(), 36.5 + 0.2, 1e-9);  // 0.02 °C per °C, 10 °C above 25
  rig.source.ambient = 45.0;
  EXPECT_EQ(rig.inputs()[reg::status], st::valid | st::ambient_range);
  rig.source.ambient = 25.0;
  rig.source.skin = 70.0;
  const auto regs = rig.inputs();
  EXPECT_EQ(regs[reg::status], st::valid | st::object_range);
  EXPECT_EQ(regs[reg::object_temperature], 6000);  // clamped to the measuring range
  rig.source.skin = std::numeric_limits<double>::quiet_NaN();
  const auto broken = rig.inputs();
  EXPECT_EQ(broken[reg::object_temperature], 0x8000);
  EXPECT_EQ(broken[reg::status], st::sensor_fault);
}

TEST(ThermalSensor, StuckAndDriftFaultsChangeTheReadingInsideTheirWindows) {
  gd::FaultPlan plan({{gd::FaultMode::stuck, 10 * kSecond, 20 * kSecond, 35.2},
                      {gd::FaultMode::drift, kHour, 3 * kHour, 1.0}},
                     1);
  Rig rig(noiseless(), plan);
  EXPECT_NEAR(rig.object_c(), 36.5, 1e-9);
  rig.clock.set(10 * kSecond);
  EXPECT_NEAR(rig.object_c(), 35.2, 1e-9);
  rig.source.skin = 38.0;  // a fever does not show through a stuck sensor
  EXPECT_NEAR(rig.object_c(), 35.2, 1e-9);
  rig.clock.set(20 * kSecond);
  EXPECT_NEAR(rig.object_c(), 38.0, 1e-9);
  rig.clock.set(kHour + kHour / 2);
  EXPECT_NEAR(rig.object_c(), 38.5, 1e-9);
  rig.clock.set(3 * kHour);
  EXPECT_NEAR(rig.object_c(), 38.0, 1e-9);
}

TEST(ThermalSensor, LinkFaultsDecideTheReplyPerRequestAndSeed) {
  const auto q = request(0x04, 0, 1);
  {
    Rig rig(noiseless(), gd::FaultPlan({{gd::FaultMode::off, Micros{0}, 10 * kSecond}}, 1));
    EXPECT_FALSE(rig.sensor.reply(q).response);
    EXPECT_EQ(rig.sensor.measurements(), 0u);  // a device that is off measures nothing
    rig.clock.set(10 * kSecond);
    EXPECT_TRUE(rig.sensor.reply(q).response);
  }
  {
    Rig rig(noiseless(), gd::FaultPlan({{gd::FaultMode::garbage}}, 1));
    EXPECT_EQ(rig.sensor.reply(q).response->exception, mb::Exception::server_device_failure);
    Rig busy(noiseless(), gd::FaultPlan({{gd::FaultMode::garbage, Micros{0}, Micros::max(), 6.0}}, 1));
    EXPECT_EQ(static_cast<int>(*busy.sensor.reply(q).response->exception), 6);  // server device busy
  }
  {
    const gd::FaultPlan plan({{gd::FaultMode::intermittent, Micros{0}, Micros::max(), 0.3}}, 9);
    Rig rig(noiseless(), plan);
    int lost = 0;
    for (std::uint64_t i = 0; i < 1000; ++i) {
      const bool answered = rig.sensor.reply(q).response.has_value();
      EXPECT_EQ(answered, !plan.drops(Micros{0}, i)) << i;
      lost += answered ? 0 : 1;
    }
    EXPECT_NEAR(lost, 300, 60);
    EXPECT_EQ(rig.sensor.requests(), 1000u);
  }
  {
    gd::Fault d{gd::FaultMode::delayed};
    d.delay = Micros{150'000};
    d.jitter = Micros{10'000};
    Rig rig(noiseless(), gd::FaultPlan({d}, 3));
    const auto r = rig.sensor.reply(q);
    ASSERT_TRUE(r.response);
    EXPECT_EQ(r.response->registers.at(0), 3650);
    EXPECT_GE(r.delay.count(), 150'000);
    EXPECT_LT(r.delay.count(), 160'000);
  }
}
