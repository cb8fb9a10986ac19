#pragma once
// Modbus TCP codec (Modbus Application Protocol V1.1b3, Modbus Messaging on TCP/IP V1.0b): pure functions
// over bytes, no sockets. A frame is the MBAP header (transaction id, protocol id 0, length, unit id)
// followed by the PDU (function code and data). Decoding takes whatever bytes have arrived and says how
// many it consumed, whether it needs more, or why the stream cannot be read further.
//
// Two kinds of bad input are kept apart, as real devices do:
//   - a broken frame (protocol id not 0, a length field out of range): the stream has lost its framing,
//     so decode returns Status::error and the session closes;
//   - a well-framed request the device cannot serve (unknown function, quantity or byte count out of
//     range, a coil value other than 0xFF00/0x0000): decode succeeds with `Request::malformed` set to the
//     exception code the reply must carry (0x01 illegal function, 0x03 illegal data value).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace gatetwin::devices::modbus {

// Function codes this codec understands (others decode with `malformed = illegal_function`).
enum class Function : std::uint8_t {
  read_coils = 0x01,
  read_discrete_inputs = 0x02,
  read_holding_registers = 0x03,
  read_input_registers = 0x04,
  write_single_coil = 0x05,
  write_single_register = 0x06,
  write_multiple_coils = 0x0F,
  write_multiple_registers = 0x10,
};

enum class Exception : std::uint8_t {
  illegal_function = 0x01,
  illegal_data_address = 0x02,
  illegal_data_value = 0x03,
  server_device_failure = 0x04,
};

// Protocol limits (V1.1b3 section 6).
constexpr std::size_t kHeaderBytes = 7;          // MBAP: transaction, protocol, length (2 each), unit
constexpr std::size_t kMaxPduBytes = 253;
constexpr std::size_t kMaxAduBytes = kHeaderBytes + kMaxPduBytes;  // 260 (the length field counts the unit id and the PDU: 254)
constexpr std::uint16_t kMaxReadBits = 2000;      // FC 01/02
constexpr std::uint16_t kMaxReadRegisters = 125;  // FC 03/04
constexpr std::uint16_t kMaxWriteBits = 1968;     // FC 15
constexpr std::uint16_t kMaxWriteRegisters = 123; // FC 16

struct Header {
  std::uint16_t transaction = 0;
  std::uint8_t unit = 0xFF;
};

// A request. By function: reads use `address` and `quantity`; write single coil uses `address` and
// `bits[0]`; write single register `address` and `registers[0]`; write multiple `address`, `quantity` and
// `bits` / `registers`.
struct Request {
  Header header;
  std::uint8_t function = 0;
  std::uint16_t address = 0;
  std::uint16_t quantity = 0;
  std::vector<bool> bits;
  std::vector<std::uint16_t> registers;
  std::optional<Exception> malformed;  // set: answer with this exception instead of serving the request
};

// A response. Reads carry `bits` (a multiple of 8: the byte count's worth; the requester knows how many it
// asked for) or `registers`; writes echo `address` and `quantity` (single writes: the value in bits[0] /
// registers[0]). An exception response has `exception` set and nothing else.
struct Response {
  Header header;
  std::uint8_t function = 0;
  std::optional<Exception> exception;
  std::uint16_t address = 0;
  std::uint16_t quantity = 0;
  std::vector<bool> bits;
  std::vector<std::uint16_t> registers;
};

enum class Status { ok, need_more, error };

template <class Message>
struct Decoded {
  Status status = Status::need_more;
  std::size_t consumed = 0;  // bytes of the input this frame took (ok), 0 otherwise
  Message message;
  std::string error;         // Status::error: what was wrong, naming the field
};

Decoded<Request> decode_request(std::span<const std::uint8_t> bytes);
Decoded<Response> decode_response(std::span<const std::uint8_t> bytes);

// Encoders produce one complete frame. They do not validate beyond what the wire format needs (tests and
// fault injection build odd frames on purpose); the length field is always computed from the PDU.
std::vector<std::uint8_t> encode_request(const Request& r);
std::vector<std::uint8_t> encode_response(const Response& r);

// The exception response to a request.
Response exception_response(const Request& r, Exception e);

std::string to_string(Exception e);

}  // namespace gatetwin::devices::modbus
