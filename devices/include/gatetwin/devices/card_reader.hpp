#pragma once
// The emulated card reader: a Wiegand reader head on an access controller that serves the framed TCP
// transport (wiegand_tcp.hpp, docs/wiegand.md). The simulation calls present() with the frame a person's
// card produces; the reader stamps it with its Clock's time, applies the fault plan and pushes a card event
// to every connected host. Hosts (gatectl) connect to it; it never connects out.
//
// Three layers as in modbus_server.hpp: the pure codec (wiegand_tcp.hpp), one session per connection (a
// bounded send queue, a read deadline, a write deadline), and a listener. Bytes from the network never
// throw: a session that sends a broken frame or a message a host may not send is closed and counted.
//
// CardSource is the physics: from a seed and the credential lists it produces the frame a presentation
// puts on the Wiegand lines together with its ground truth (valid, revoked, cloned, misread).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "gatetwin/devices/clock.hpp"
#include "gatetwin/devices/fault.hpp"
#include "gatetwin/devices/wiegand.hpp"

namespace gatetwin::devices::card {

// --- Card sources (the physics) ----------------------------------------------------------------------

// What was really presented, for scoring the gate's decision.
enum class CardKind {
  valid,    // an enrolled, unrevoked card held by its owner
  revoked,  // a card whose credential is on the revoked list
  cloned,   // a copy of an enrolled card's bits presented by someone else: the frame is identical
  misread,  // an enrolled card read with one bit wrong: parity fails, the reader cannot tell whose it was
};
std::string_view to_string(CardKind kind);

struct Swipe {
  wiegand::Frame frame;            // what the Wiegand lines carry
  CardKind truth = CardKind::valid;
  wiegand::Credential credential;  // the credential the physical card holds (before any misread)
};

// Draws are a function of (seed, kind, n) only, never of call order, so the sim can ask for swipe n of a
// stream from any thread and two runs with one seed present the same cards.
class CardSource {
 public:
  // Throws std::invalid_argument if a credential does not fit its format (wiegand::encode fails).
  CardSource(std::vector<wiegand::Credential> enrolled, std::vector<wiegand::Credential> revoked, std::uint64_t seed);

  // A card of this kind, its credential drawn from the matching list (valid, cloned and misread from the
  // enrolled list, revoked from the revoked one). Throws std::invalid_argument if that list is empty.
  Swipe draw(CardKind kind, std::uint64_t n) const;
  // This credential presented as `kind` (the sim knows whose card it is): misread flips the bit drawn for
  // n; the others carry the credential's own frame. Throws std::invalid_argument if it does not encode.
  Swipe make(const wiegand::Credential& credential, CardKind kind, std::uint64_t n) const;

  // The wire index (0 = wire bit 1) a misread of a `bits`-bit frame flips for draw n.
  unsigned misread_bit(unsigned bits, std::uint64_t n) const;

  const std::vector<wiegand::Credential>& enrolled() const { return enrolled_; }
  const std::vector<wiegand::Credential>& revoked() const { return revoked_; }

 private:
  std::uint64_t draw_bits(std::uint64_t n, std::uint64_t stream) const;
  std::vector<wiegand::Credential> enrolled_, revoked_;
  std::uint64_t seed_;
};

// --- The reader ----------------------------------------------------------------------------------------

struct ReaderOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;                          // 0: any free port (see CardReader::port)
  std::uint16_t reader_id = 1;                     // the header's reader (lane) id
  std::chrono::milliseconds keepalive{1'000};      // a keepalive to every idle session this often; 0: none
  std::chrono::milliseconds idle_timeout{60'000};  // nothing received from a host this long: close; 0: never
  std::chrono::milliseconds write_timeout{10'000}; // a write pending this long (host not reading): reset
  std::size_t max_sessions = 8;                    // more connections are accepted and closed at once
  std::size_t max_queue = 256;                     // messages waiting per session; beyond, the oldest goes
  int send_buffer_bytes = 0;                       // SO_SNDBUF of sessions; 0: the system's default
  std::chrono::milliseconds delay_poll{2};         // how often (wall time) held events are checked for release
  std::size_t max_held = 10'000;                   // events awaiting release (a delay fault); beyond, swallowed
};

// The fault plan's draws use the swipe number as the event number: stream 1 intermittent (FaultPlan::drops),
// stream 2 delay jitter (FaultPlan::latency), stream 3 the bit a `garbage` fault flips.
constexpr std::uint64_t kGarbageStream = 3;

enum class Fate {
  sent,      // queued to every session now
  delayed,   // held until `release` in simulated time (a delayed/slow fault, or behind a held event)
  off,       // swallowed: an `off` fault was active
  dropped,   // swallowed: an `intermittent` fault drew this swipe lost
  overflow,  // swallowed: max_held events were already waiting for release (the controller's buffer is full)
};
std::string_view to_string(Fate fate);

// What present() did with a swipe (the sim logs it as ground truth; tests compare it with the wire).
struct Presented {
  std::uint64_t swipe = 0;       // 0, 1, ...: present() calls on this reader, the faults' event number
  Micros time{0};                // the clock's time: the event's timestamp
  Fate fate = Fate::sent;
  std::uint32_t sequence = 0;    // the card event's sequence number (sent, delayed); 0 when swallowed
  wiegand::Frame frame{0, 0};    // the frame as sent: a `garbage` fault flips one bit
  bool corrupted = false;        // a `garbage` fault flipped a bit
  Micros release{0};             // simulated time the event leaves the reader (>= time, never before an
                                 // earlier event's release: the link keeps order)
};

struct ReaderCounters {
  std::uint64_t presents = 0, events = 0;  // present() calls; card events given a sequence number
  std::uint64_t swallowed_off = 0, dropped_intermittent = 0, corrupted_garbage = 0, delayed = 0, held_overflows = 0;
  std::uint64_t sessions_accepted = 0, sessions_refused = 0;
  std::uint64_t messages_sent = 0, keepalives_sent = 0;        // written to sockets (all types; keepalives)
  std::uint64_t keepalives_received = 0, acks_received = 0;
  std::uint64_t framing_errors = 0;   // a host sent bytes the codec rejects: session closed
  std::uint64_t protocol_errors = 0;  // a host sent a card or status message, or acked an unsent event: closed
  std::uint64_t idle_timeouts = 0, write_timeouts = 0;
  std::uint64_t queue_overflows = 0;  // messages discarded from a full session queue (the oldest)
};

class CardReader {
 public:
  // Binds and listens before returning. The io_context is run by one thread (any one); `clock` and the
  // reader must outlive it running.
  CardReader(boost::asio::io_context& io, const Clock& clock, FaultPlan faults = {}, ReaderOptions options = {});
  ~CardReader();
  CardReader(const CardReader&) = delete;
  CardReader& operator=(const CardReader&) = delete;

  std::uint16_t port() const;

  // A card in front of the reader. Thread-safe (any thread, concurrently): swipes are numbered and sent in
  // the order the calls take the reader's lock. Sends nothing itself: the io_context's thread writes.
  Presented present(const wiegand::Frame& frame);

  // Stops accepting, closes every session and ignores later presents (call on the io_context's thread, or
  // after it stopped).
  void stop();
  ReaderCounters counters() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the handlers it posts, which may outlive a destroyed reader
};

}  // namespace gatetwin::devices::card
