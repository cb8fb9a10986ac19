#include "gatetwin/devices/modbus.hpp"

namespace gatetwin::devices::modbus {
namespace {

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

// The MBAP header and the PDU's bounds, or why the frame cannot be read.
struct Frame {
  Status status = Status::need_more;
  Header header;
  std::span<const std::uint8_t> pdu;
  std::size_t size = 0;
  std::string error;
};

Frame frame(std::span<const std::uint8_t> b) {
  Frame f;
  if (b.size() < kHeaderBytes) return f;
  const std::uint16_t protocol = be16(b, 2), length = be16(b, 4);
  if (protocol != 0) {
    f.status = Status::error;
    f.error = "MBAP protocol id: must be 0 (Modbus), got " + std::to_string(protocol);
    return f;
  }
  // The length counts the unit id and the PDU: at least a function code, at most the largest PDU.
  if (length < 2 || length > kMaxPduBytes + 1) {
    f.status = Status::error;
    f.error = "MBAP length: must be 2.." + std::to_string(kMaxPduBytes + 1) + ", got " + std::to_string(length);
    return f;
  }
  const std::size_t size = kHeaderBytes - 1 + length;
  if (b.size() < size) return f;
  f.status = Status::ok;
  f.header = {be16(b, 0), b[6]};
  f.pdu = b.subspan(kHeaderBytes, size - kHeaderBytes);
  f.size = size;
  return f;
}

std::vector<bool> unpack_bits(std::span<const std::uint8_t> bytes, std::size_t count) {
  std::vector<bool> bits(count);
  for (std::size_t i = 0; i < count; ++i) bits[i] = ((bytes[i / 8] >> (i % 8)) & 1) != 0;
  return bits;
}

void pack_bits(std::vector<std::uint8_t>& out, const std::vector<bool>& bits) {
  const std::size_t bytes = (bits.size() + 7) / 8;
  out.push_back(static_cast<std::uint8_t>(bytes));
  for (std::size_t k = 0; k < bytes; ++k) {
    std::uint8_t v = 0;
    for (std::size_t i = 0; i < 8 && 8 * k + i < bits.size(); ++i)
      if (bits[8 * k + i]) v = static_cast<std::uint8_t>(v | (1u << i));
    out.push_back(v);
  }
}

// A byte count, then the registers (read responses and write-multiple requests).
void put_registers(std::vector<std::uint8_t>& pdu, const std::vector<std::uint16_t>& registers) {
  pdu.push_back(static_cast<std::uint8_t>(2 * registers.size()));
  for (std::uint16_t v : registers) put16(pdu, v);
}

// Write single coil / register: the request and its echo have the same body.
void put_single_write(std::vector<std::uint8_t>& pdu, std::uint8_t function, std::uint16_t address,
                      const std::vector<bool>& bits, const std::vector<std::uint16_t>& registers) {
  put16(pdu, address);
  if (function == 0x05) {
    put16(pdu, !bits.empty() && bits[0] ? 0xFF00 : 0x0000);
  } else {
    put16(pdu, registers.empty() ? 0 : registers[0]);
  }
}

std::vector<std::uint8_t> with_header(const Header& h, const std::vector<std::uint8_t>& pdu) {
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderBytes + pdu.size());
  put16(out, h.transaction);
  put16(out, 0);
  put16(out, static_cast<std::uint16_t>(pdu.size() + 1));
  out.push_back(h.unit);
  out.insert(out.end(), pdu.begin(), pdu.end());
  return out;
}

// Parses a request PDU into `r`; a request the device cannot serve gets `r.malformed`.
void parse_request(std::span<const std::uint8_t> pdu, Request& r) {
  r.function = pdu[0];
  const auto data = pdu.subspan(1);
  const auto bad = [&](Exception e) { r.malformed = e; };
  switch (r.function) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04: {
      if (data.size() != 4) return bad(Exception::illegal_data_value);
      r.address = be16(data, 0), r.quantity = be16(data, 2);
      const std::uint16_t max = r.function <= 0x02 ? kMaxReadBits : kMaxReadRegisters;
      if (r.quantity < 1 || r.quantity > max) bad(Exception::illegal_data_value);
      return;
    }
    case 0x05: {
      if (data.size() != 4) return bad(Exception::illegal_data_value);
      r.address = be16(data, 0);
      const std::uint16_t v = be16(data, 2);
      if (v != 0xFF00 && v != 0x0000) return bad(Exception::illegal_data_value);
      r.quantity = 1;
      r.bits = {v == 0xFF00};
      return;
    }
    case 0x06: {
      if (data.size() != 4) return bad(Exception::illegal_data_value);
      r.address = be16(data, 0);
      r.quantity = 1;
      r.registers = {be16(data, 2)};
      return;
    }
    case 0x0F:
    case 0x10: {
      if (data.size() < 5) return bad(Exception::illegal_data_value);
      r.address = be16(data, 0), r.quantity = be16(data, 2);
      const std::size_t count = data[4];
      const bool coils = r.function == 0x0F;
      const std::uint16_t max = coils ? kMaxWriteBits : kMaxWriteRegisters;
      const std::size_t expected = coils ? (r.quantity + 7u) / 8u : 2u * r.quantity;
      if (r.quantity < 1 || r.quantity > max || count != expected || data.size() != 5 + count)
        return bad(Exception::illegal_data_value);
      const auto values = data.subspan(5);
      if (coils) {
        r.bits = unpack_bits(values, r.quantity);
      } else {
        for (std::size_t i = 0; i < r.quantity; ++i) r.registers.push_back(be16(values, 2 * i));
      }
      return;
    }
    default:
      return bad(Exception::illegal_function);
  }
}

// Parses a response PDU into `r`; returns an error message, empty when the PDU is well formed.
std::string parse_response(std::span<const std::uint8_t> pdu, Response& r) {
  r.function = pdu[0];
  const auto data = pdu.subspan(1);
  const std::string fc = "function 0x" + std::string(1, "0123456789ABCDEF"[(r.function >> 4) & 0xF]) +
                         std::string(1, "0123456789ABCDEF"[r.function & 0xF]);
  if (r.function & 0x80) {
    if (data.size() != 1) return fc + ": an exception response has exactly one byte, the code";
    r.function = static_cast<std::uint8_t>(r.function & 0x7F);
    r.exception = static_cast<Exception>(data[0]);
    return {};
  }
  switch (r.function) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04: {
      if (data.empty() || data.size() != 1u + data[0]) return fc + ": byte count does not match the PDU's length";
      const auto values = data.subspan(1);
      if (r.function <= 0x02) {
        r.bits = unpack_bits(values, 8u * values.size());
        r.quantity = static_cast<std::uint16_t>(r.bits.size());
      } else {
        if (values.size() % 2) return fc + ": odd byte count for 16-bit registers";
        for (std::size_t i = 0; i + 1 < values.size(); i += 2) r.registers.push_back(be16(values, i));
        r.quantity = static_cast<std::uint16_t>(r.registers.size());
      }
      return {};
    }
    case 0x05:
    case 0x06:
    case 0x0F:
    case 0x10: {
      if (data.size() != 4) return fc + ": expected 4 data bytes, got " + std::to_string(data.size());
      r.address = be16(data, 0);
      const std::uint16_t v = be16(data, 2);
      if (r.function == 0x05) {
        if (v != 0xFF00 && v != 0x0000) return fc + ": coil value must be 0xFF00 or 0x0000";
        r.quantity = 1;
        r.bits = {v == 0xFF00};
      } else if (r.function == 0x06) {
        r.quantity = 1;
        r.registers = {v};
      } else {
        r.quantity = v;
      }
      return {};
    }
    default:
      return fc + ": not a function this codec knows";
  }
}

}  // namespace

Decoded<Request> decode_request(std::span<const std::uint8_t> bytes) {
  Decoded<Request> d;
  const Frame f = frame(bytes);
  d.status = f.status;
  d.error = f.error;
  if (f.status != Status::ok) return d;
  d.consumed = f.size;
  d.message.header = f.header;
  parse_request(f.pdu, d.message);
  return d;
}

Decoded<Response> decode_response(std::span<const std::uint8_t> bytes) {
  Decoded<Response> d;
  const Frame f = frame(bytes);
  d.status = f.status;
  d.error = f.error;
  if (f.status != Status::ok) return d;
  d.message.header = f.header;
  if (std::string e = parse_response(f.pdu, d.message); !e.empty()) {
    d.status = Status::error;
    d.error = std::move(e);
    return d;
  }
  d.consumed = f.size;
  return d;
}

std::vector<std::uint8_t> encode_request(const Request& r) {
  std::vector<std::uint8_t> pdu{r.function};
  switch (r.function) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
      put16(pdu, r.address), put16(pdu, r.quantity);
      break;
    case 0x05:
    case 0x06:
      put_single_write(pdu, r.function, r.address, r.bits, r.registers);
      break;
    case 0x0F:
      put16(pdu, r.address), put16(pdu, static_cast<std::uint16_t>(r.bits.size()));
      pack_bits(pdu, r.bits);
      break;
    case 0x10:
      put16(pdu, r.address), put16(pdu, static_cast<std::uint16_t>(r.registers.size()));
      put_registers(pdu, r.registers);
      break;
    default:
      break;  // an unknown function: the bare code (for tests of the server's reply)
  }
  return with_header(r.header, pdu);
}

std::vector<std::uint8_t> encode_response(const Response& r) {
  if (r.exception) {
    return with_header(r.header, {static_cast<std::uint8_t>(r.function | 0x80), static_cast<std::uint8_t>(*r.exception)});
  }
  std::vector<std::uint8_t> pdu{r.function};
  switch (r.function) {
    case 0x01:
    case 0x02:
      pack_bits(pdu, r.bits);
      break;
    case 0x03:
    case 0x04:
      put_registers(pdu, r.registers);
      break;
    case 0x05:
    case 0x06:
      put_single_write(pdu, r.function, r.address, r.bits, r.registers);
      break;
    case 0x0F:
    case 0x10:
      put16(pdu, r.address), put16(pdu, r.quantity);
      break;
    default:
      break;
  }
  return with_header(r.header, pdu);
}

Response exception_response(const Request& r, Exception e) {
  Response out;
  out.header = r.header;
  out.function = static_cast<std::uint8_t>(r.function & 0x7F);
  out.exception = e;
  return out;
}

std::string to_string(Exception e) {
  switch (e) {
    case Exception::illegal_function: return "illegal function (0x01)";
    case Exception::illegal_data_address: return "illegal data address (0x02)";
    case Exception::illegal_data_value: return "illegal data value (0x03)";
    case Exception::server_device_failure: return "server device failure (0x04)";
  }
  return "exception 0x" + std::to_string(static_cast<int>(e));
}

}  // namespace gatetwin::devices::modbus
