#pragma once
// The gate's thermal sensor as a Modbus TCP device: an IR skin thermometer of the kind access gates carry
// (register layout after industrial IR thermometers such as Calex PyroUSB / Optris CS: temperatures in
// fixed-point registers, a status word, emissivity as a writable holding register). docs/modbus-devices.md
// has the register map, the model and its defaults.
//
// The physics (who stands in front, and how warm their skin is) comes from a TemperatureSource the
// simulation implements; the sensor turns the true temperature into a reading with a deterministic error
// model (bias, drift, warm-up, ambient effect, emissivity, noise drawn from (seed, measurement number)).
// A measurement is taken whenever a client's read covers the object-temperature register.
#include <cstdint>
#include <mutex>
#include <optional>

#include "gatetwin/devices/clock.hpp"
#include "gatetwin/devices/fault.hpp"
#include "gatetwin/devices/modbus.hpp"
#include "gatetwin/devices/modbus_server.hpp"

namespace gatetwin::devices {

// What is in front of the sensor. Called on the Modbus server's thread while the simulation runs on its
// own, so an implementation must be thread-safe (e.g. atomics, or a mutex around the sim's snapshot).
class TemperatureSource {
 public:
  virtual ~TemperatureSource() = default;
  // The skin temperature (°C) of the person in the field of view at t; nullopt when nobody is there.
  virtual std::optional<double> skin_temperature_c(Micros t) = 0;
  // The air (and background) temperature around the sensor at t (°C).
  virtual double ambient_c(Micros t) = 0;
};

// The error model. Defaults describe a gate module within the ±0.3 °C (blackbody-referenced) class.
struct ThermalSensorParams {
  double bias_c = 0.0;                  // constant calibration error
  double noise_sd_c = 0.10;             // per-measurement Gaussian noise (standard deviation)
  double drift_c_per_hour = 0.0;        // bias growth since power-on
  Micros warmup{600'000'000};           // after power-on: status bit 1, extra error and noise
  double warmup_error_c = -1.0;         // extra error at power-on, shrinking linearly to 0 over the warm-up
  double warmup_noise_factor = 3.0;     // noise sd multiplier during the warm-up
  double ambient_coefficient = 0.02;    // °C of reading error per °C of ambient away from 25 °C
  double skin_emissivity = 0.98;        // the true emissivity of human skin (the configured one may differ)
  Micros powered_on_at{-3'600'000'000}; // default: on for an hour before the run starts (warmed up)
  double object_min_c = 0.0, object_max_c = 60.0;     // measuring range (status bit 2 outside, clamped)
  double ambient_min_c = 10.0, ambient_max_c = 40.0;  // rated operating range (status bit 4 outside)
  std::uint64_t seed = 0;               // the noise stream
};

// One measurement: what the sensor reported and what was really there (for the simulation's records).
struct ThermalMeasurement {
  Micros time{0};
  std::uint32_t number = 0;             // the measurement counter after this one (1 = the first)
  std::optional<double> true_skin_c;    // nullopt: nobody in front (the sensor saw the background)
  double ambient_c = 0.0;
  double reported_c = 0.0;              // the object-temperature register's value, in °C
  std::uint16_t status = 0;             // the status register (thermal_status bits)
};

// Status register bits (input register 2).
namespace thermal_status {
constexpr std::uint16_t valid = 1u << 0;          // a target is in front and the reading is its skin
constexpr std::uint16_t warming_up = 1u << 1;
constexpr std::uint16_t object_range = 1u << 2;   // reading outside the measuring range (clamped)
constexpr std::uint16_t sensor_fault = 1u << 3;   // no usable reading (the source gave a non-finite value)
constexpr std::uint16_t ambient_range = 1u << 4;  // ambient outside the rated operating range
}  // namespace thermal_status

// Register addresses (0-based, as on the wire).
namespace thermal_reg {
// input registers (FC04)
constexpr std::uint16_t object_temperature = 0;   // int16, 0.01 °C
constexpr std::uint16_t ambient_temperature = 1;  // int16, 0.01 °C
constexpr std::uint16_t status = 2;               // bits, thermal_status
constexpr std::uint16_t counter_high = 3;         // uint32 measurement counter, high word first
constexpr std::uint16_t counter_low = 4;
constexpr std::uint16_t uptime = 5;               // uint16 seconds since power-on (saturates)
constexpr std::uint16_t input_count = 6;
// holding registers (FC03/06/16)
constexpr std::uint16_t emissivity = 0;           // uint16 x1000, 100..1000, default 980
constexpr std::uint16_t compensation = 1;         // int16 0.01 °C added to the reading, default 0
constexpr std::uint16_t device_id = 2;            // read-only: 0x5401 (type 'T', firmware 1)
constexpr std::uint16_t holding_count = 3;
}  // namespace thermal_reg

class ThermalSensor final : public modbus::Handler {
 public:
  static constexpr std::uint16_t kDeviceId = 0x5401;
  static constexpr std::uint16_t kDefaultEmissivity = 980;

  // `source` and `clock` must outlive the sensor. `faults`: stuck (reports `value` °C), drift (the bias
  // grows `value` °C/h from the fault's start), off, garbage, intermittent, slow/delayed.
  ThermalSensor(TemperatureSource& source, const Clock& clock, ThermalSensorParams params = {},
                FaultPlan faults = {});

  // Modbus (the server's thread): FC03/04/06/16 as mapped, other functions 0x01, addresses 0x02, values 0x03.
  modbus::Response handle(const modbus::Request& request) override;
  modbus::Reply reply(const modbus::Request& request) override;

  // For the simulation and tests (any thread).
  std::optional<ThermalMeasurement> last_measurement() const;
  std::uint32_t measurements() const;
  double emissivity() const;        // as configured by clients
  double compensation_c() const;
  std::uint64_t requests() const;   // Modbus requests seen, answered or not (the fault event number)

  // The model on its own: the reading (°C, before compensation, clamping and quantisation) for a true
  // object temperature seen at t with the configured emissivity, for measurement number `number`. Pure.
  double model_reading(Micros t, double object_c, double ambient_c, double emissivity, std::uint32_t number) const;

 private:
  ThermalMeasurement measure(Micros t);
  std::uint16_t status_bits(Micros t, double ambient_c) const;
  modbus::Response read_inputs(const modbus::Request& q, Micros t);
  modbus::Response write_holding(const modbus::Request& q);

  TemperatureSource& source_;
  const Clock& clock_;
  ThermalSensorParams params_;
  FaultPlan faults_;

  mutable std::mutex mutex_;  // guards everything below (server thread vs simulation thread)
  std::uint16_t emissivity_ = kDefaultEmissivity;
  std::int16_t compensation_ = 0;
  std::uint32_t counter_ = 0;
  std::uint64_t requests_ = 0;
  std::optional<ThermalMeasurement> last_;
};

}  // namespace gatetwin::devices
