#include "gatetwin/devices/thermal_sensor.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace gatetwin::devices {

namespace mb = modbus;

namespace {

constexpr double kKelvin = 273.15;
constexpr double kReferenceAmbientC = 25.0;  // the temperature the ambient effect is specified against
constexpr double kMicrosPerHour = 3.6e9;

// Neighbouring measurement numbers draw independent values (fault.hpp).
std::uint64_t mix(std::uint64_t x) { return splitmix64(x); }

// A uniform draw in (0, 1] for (seed, number, stream): never 0, so its logarithm is finite.
double uniform(std::uint64_t seed, std::uint64_t number, std::uint64_t stream) {
  const std::uint64_t bits = mix(mix(seed ^ mix(stream)) ^ number);
  return (static_cast<double>(bits >> 11) + 1.0) * 0x1.0p-53;
}

// A standard normal draw (Box-Muller) that depends on nothing but (seed, number).
double gaussian(std::uint64_t seed, std::uint64_t number) {
  const double u1 = uniform(seed, number, 1), u2 = uniform(seed, number, 2);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// °C to the register's signed hundredths, saturating; a non-finite value is 0x8000 ("no value").
std::uint16_t centi(double c) {
  if (!std::isfinite(c)) return 0x8000;
  const double v = std::clamp(std::round(c * 100.0), -32767.0, 32767.0);
  return static_cast<std::uint16_t>(static_cast<std::int16_t>(v));
}

double seconds(Micros d) { return static_cast<double>(d.count()) / 1e6; }

}  // namespace

ThermalSensor::ThermalSensor(TemperatureSource& source, const Clock& clock, ThermalSensorParams params, FaultPlan faults)
    : source_(source), clock_(clock), params_(params), faults_(std::move(faults)) {}

double ThermalSensor::model_reading(Micros t, double object_c, double ambient_c, double emissivity,
                                    std::uint32_t number) const {
  // Grey-body radiometry over the whole spectrum (Stefan-Boltzmann): the detector receives the object's
  // emission plus the surroundings reflected by it, W = e_true T^4 + (1 - e_true) T_amb^4, and the sensor
  // inverts W with the emissivity it was configured with. A configured emissivity below the skin's reads
  // warm, above reads cold, when the skin is warmer than the room; at e_set = e_true the reading is exact.
  const double tk = object_c + kKelvin, ta = ambient_c + kKelvin;
  const double e_true = params_.skin_emissivity;
  const double received = e_true * std::pow(tk, 4) + (1.0 - e_true) * std::pow(ta, 4);
  const double inverted = (received - (1.0 - emissivity) * std::pow(ta, 4)) / emissivity;
  const double radiometric = (inverted > 0.0 ? std::pow(inverted, 0.25) : 0.0) - kKelvin;

  const Micros on = std::max(Micros{0}, t - params_.powered_on_at);
  double error = params_.bias_c + params_.drift_c_per_hour * static_cast<double>(on.count()) / kMicrosPerHour +
                 params_.ambient_coefficient * (ambient_c - kReferenceAmbientC);
  double sd = params_.noise_sd_c;
  if (on < params_.warmup) {
    const double remaining = 1.0 - static_cast<double>(on.count()) / static_cast<double>(params_.warmup.count());
    error += params_.warmup_error_c * remaining;
    sd *= params_.warmup_noise_factor;
  }
  return radiometric + error + sd * gaussian(params_.seed, number);
}

std::uint16_t ThermalSensor::status_bits(Micros t, double ambient_c) const {
  std::uint16_t s = 0;
  if (t - params_.powered_on_at < params_.warmup) s = static_cast<std::uint16_t>(s | thermal_status::warming_up);
  if (!(ambient_c >= params_.ambient_min_c && ambient_c <= params_.ambient_max_c))
    s = static_cast<std::uint16_t>(s | thermal_status::ambient_range);
  return s;
}

// Called with mutex_ held. The source is asked first: a person or nobody (then the sensor sees the
// background, at ambient temperature, and the valid bit is clear).
ThermalMeasurement ThermalSensor::measure(Micros t) {
  ThermalMeasurement m;
  m.time = t;
  m.number = ++counter_;
  m.true_skin_c = source_.skin_temperature_c(t);
  m.ambient_c = source_.ambient_c(t);
  m.status = status_bits(t, m.ambient_c);
  const double object = m.true_skin_c.value_or(m.ambient_c);
  if (!std::isfinite(object) || !std::isfinite(m.ambient_c)) {
    m.reported_c = std::nan("");
    m.status |= thermal_status::sensor_fault;
    return m;
  }
  double reading = model_reading(t, object, m.ambient_c, emissivity_ / 1000.0, m.number);
  if (const auto drift = faults_.active(t, FaultMode::drift))
    reading += drift->value * static_cast<double>((t - drift->start).count()) / kMicrosPerHour;
  reading += compensation_ / 100.0;
  if (const auto stuck = faults_.active(t, FaultMode::stuck)) reading = stuck->value;  // the output is frozen
  if (reading < params_.object_min_c || reading > params_.object_max_c) {
    m.status |= thermal_status::object_range;
    reading = std::clamp(reading, params_.object_min_c, params_.object_max_c);
  }
  m.reported_c = reading;
  if (m.true_skin_c) m.status |= thermal_status::valid;
  return m;
}

mb::Response ThermalSensor::read_inputs(const mb::Request& q, Micros t) {
  const unsigned first = q.address, end = first + q.quantity;
  if (end > thermal_reg::input_count) return mb::exception_response(q, mb::Exception::illegal_data_address);
  std::lock_guard lock(mutex_);
  // A read covering the object temperature takes a measurement; other reads show the last one's object
  // value and flags with the ambient and warm-up state of now.
  double ambient = 0.0;
  std::uint16_t object = 0x8000, status = 0;
  if (first == thermal_reg::object_temperature) {
    last_ = measure(t);
    ambient = last_->ambient_c;
    status = last_->status;
    object = centi(last_->reported_c);
  } else {
    ambient = source_.ambient_c(t);
    status = status_bits(t, ambient);
    if (last_) {
      object = centi(last_->reported_c);
      constexpr std::uint16_t kept = thermal_status::valid | thermal_status::object_range | thermal_status::sensor_fault;
      status = static_cast<std::uint16_t>(status | (last_->status & kept));
    }
  }
  const double uptime = std::clamp(std::floor(seconds(t - params_.powered_on_at)), 0.0, 65535.0);
  const std::uint16_t values[thermal_reg::input_count] = {
      object, centi(ambient), status, static_cast<std::uint16_t>(counter_ >> 16),
      static_cast<std::uint16_t>(counter_ & 0xFFFF), static_cast<std::uint16_t>(uptime)};
  mb::Response r;
  r.header = q.header;
  r.function = q.function;
  r.address = q.address;
  r.quantity = q.quantity;
  r.registers.assign(values + first, values + end);
  return r;
}

mb::Response ThermalSensor::write_holding(const mb::Request& q) {
  const unsigned first = q.address, end = first + static_cast<unsigned>(q.registers.size());
  // The device id is read-only: a write touching it is refused as a whole, like one past the map (0x02).
  if (end > thermal_reg::device_id) return mb::exception_response(q, mb::Exception::illegal_data_address);
  std::lock_guard lock(mutex_);
  std::uint16_t emissivity = emissivity_;
  std::int16_t compensation = compensation_;
  for (unsigned a = first; a < end; ++a) {
    const std::uint16_t v = q.registers[a - first];
    if (a == thermal_reg::emissivity) {
      if (v < 100 || v > 1000) return mb::exception_response(q, mb::Exception::illegal_data_value);
      emissivity = v;
    } else {
      const auto c = static_cast<std::int16_t>(v);
      if (c < -500 || c > 500) return mb::exception_response(q, mb::Exception::illegal_data_value);
      compensation = c;
    }
  }
  emissivity_ = emissivity;  // all or nothing: a refused multiple write changes no register
  compensation_ = compensation;
  mb::Response r;
  r.header = q.header;
  r.function = q.function;
  r.address = q.address;
  r.quantity = q.quantity;
  r.registers = q.registers;
  return r;
}

mb::Response ThermalSensor::handle(const mb::Request& q) {
  const Micros t = clock_.now();
  switch (q.function) {
    case 0x04:
      return read_inputs(q, t);
    case 0x03: {
      if (static_cast<unsigned>(q.address) + q.quantity > thermal_reg::holding_count)
        return mb::exception_response(q, mb::Exception::illegal_data_address);
      std::lock_guard lock(mutex_);
      const std::uint16_t values[thermal_reg::holding_count] = {emissivity_, static_cast<std::uint16_t>(compensation_),
                                                                 kDeviceId};
      mb::Response r;
      r.header = q.header;
      r.function = q.function;
      r.address = q.address;
      r.quantity = q.quantity;
      r.registers.assign(values + q.address, values + q.address + q.quantity);
      return r;
    }
    case 0x06:
    case 0x10:
      return write_holding(q);
    default:  // coils and discrete inputs: the sensor has none and does not implement their functions
      return mb::exception_response(q, mb::Exception::illegal_function);
  }
}

mb::Reply ThermalSensor::reply(const mb::Request& q) {
  const Micros t = clock_.now();
  std::uint64_t event = 0;
  {
    std::lock_guard lock(mutex_);
    event = requests_++;
  }
  return mb::reply_under_faults(*this, faults_, t, event, q);
}

std::optional<ThermalMeasurement> ThermalSensor::last_measurement() const {
  std::lock_guard lock(mutex_);
  return last_;
}

std::uint32_t ThermalSensor::measurements() const {
  std::lock_guard lock(mutex_);
  return counter_;
}

double ThermalSensor::emissivity() const {
  std::lock_guard lock(mutex_);
  return emissivity_ / 1000.0;
}

double ThermalSensor::compensation_c() const {
  std::lock_guard lock(mutex_);
  return compensation_ / 100.0;
}

std::uint64_t ThermalSensor::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

}  // namespace gatetwin::devices
