// The card reader on loopback against plain socket hosts: the sim side presents cards, the hosts receive
// and decode the exact frames, with every fault the reader takes (intermittent drops match the plan's draws,
// delayed events keep their order, `off` sends nothing, garbage flips the drawn bit) and every kind of host
// misbehaviour (garbage, forbidden messages, silence, not reading). The reader runs its io_context on a
// thread; hosts wait for the reader's first message (or a read deadline), never sleep.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <poll.h>
#include <sys/socket.h>

#include "gatetwin/devices/card_reader.hpp"
#include "gatetwin/devices/wiegand_tcp.hpp"

namespace card = gatetwin::devices::card;
namespace wt = gatetwin::devices::wiegand_tcp;
namespace wg = gatetwin::devices::wiegand;
namespace asio = boost::asio;
using gatetwin::devices::Fault;
using gatetwin::devices::FaultMode;
using gatetwin::devices::FaultPlan;
using gatetwin::devices::ManualClock;
using gatetwin::devices::Micros;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<std::uint8_t>;

card::ReaderOptions quiet() {
  card::ReaderOptions o;
  o.keepalive = 0ms;  // tests that count messages want only the ones they cause
  return o;
}

// A reader on an ephemeral loopback port with a ManualClock, for the length of a test.
class Served {
 public:
  explicit Served(FaultPlan plan = {}, card::ReaderOptions options = quiet())
      : reader(io, clock, std::move(plan), std::move(options)) {
    thread = std::thread([this] { io.run(); });
  }
  ~Served() {
    asio::post(io, [this] { reader.stop(); });
    io.stop();
    thread.join();
  }
  // Returns once the reader's thread has handled everything posted so far (every earlier present()).
  void drain() {
    std::promise<void> done;
    asio::post(io, [&] { done.set_value(); });
    done.get_future().wait();
  }
  ManualClock clock;
  asio::io_context io;
  card::CardReader reader;
  std::thread thread;
};

// A host: a blocking socket read through poll() with a deadline on every read.
class Host {
 public:
  // `hello`: wait for the reader's status message, which proves the session is set up (presents before
  // that would not reach this host).
  explicit Host(std::uint16_t port, bool hello = true, int receive_buffer = 0) : socket_(io_) {
    socket_.open(asio::ip::tcp::v4());
    if (receive_buffer > 0) socket_.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    if (!hello) return;
    const auto first = next(5s);
    EXPECT_TRUE(first && first->type == wt::Type::status) << "the reader's first message is its status";
    if (first) status = *first;
  }

  // The next message within `deadline`; nullopt on timeout, end of stream or a broken frame.
  std::optional<wt::Message> next(std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      const auto d = wt::decode(rx_);
      if (d.status == wt::Status::ok) {
        rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(d.consumed));
        return d.message;
      }
      if (d.status == wt::Status::error) {
        ADD_FAILURE() << "the reader sent a broken frame: " << d.error;
        return std::nullopt;
      }
      if (!wait_readable(until)) return std::nullopt;
      std::uint8_t buf[4096];
      const auto n = ::recv(socket_.native_handle(), buf, sizeof buf, 0);
      if (n <= 0) {
        ended = true;
        return std::nullopt;
      }
      rx_.insert(rx_.end(), buf, buf + n);
    }
  }

  // The next card event, skipping keepalives (and status).
  std::optional<wt::Message> next_card(std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left <= 0ms) return std::nullopt;
      auto m = next(left);
      if (!m || m->type == wt::Type::card) return m;
    }
  }

  // True when the reader closes the connection within `deadline` (whatever it sent before is discarded).
  bool closed_within(std::chrono::milliseconds deadline) {
    while (next(deadline)) {
    }
    return ended;
  }

  // True when the connection is reset or hung up within `deadline`, without reading anything.
  bool hung_up_within(std::chrono::milliseconds deadline) {
    pollfd p{socket_.native_handle(), 0, 0};  // no events asked: only POLLERR / POLLHUP wake it
    return ::poll(&p, 1, static_cast<int>(deadline.count())) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
  }

  void send(const Bytes& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  wt::Message status;
  bool ended = false;

 private:
  bool wait_readable(std::chrono::steady_clock::time_point until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left < 0ms) return false;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
  }

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  Bytes rx_;
};

wg::Frame w26(std::uint32_t card) { return *wg::encode({wg::Format::W26, 18, card}); }

wt::Message host_message(wt::Type type, std::uint32_t acked = 0) {
  wt::Message m;
  m.type = type;
  m.acked = acked;
  if (type == wt::Type::card) m.card = w26(1);
  return m;
}

}  // namespace

TEST(CardReaderPeer, EveryHostReceivesTheExactFramesStampedWithTheClock) {
  card::ReaderOptions options = quiet();
  options.reader_id = 7;
  options.keepalive = 250ms;
  Served s({}, options);
  Host a(s.reader.port()), b(s.reader.port());
  EXPECT_EQ(a.status.reader, 7);
  EXPECT_EQ(a.status.status.formats, wt::kFormatW26 | wt::kFormatW34);
  EXPECT_EQ(a.status.status.keepalive_ms, 250);
  EXPECT_EQ(a.status.sequence, 0u);

  const card::CardSource source({{wg::Format::W26, 18, 12345}, {wg::Format::W34, 1234, 56789}}, {}, 11);
  std::vector<card::Presented> presented;
  for (std::uint64_t n = 0; n < 6; ++n) {
    s.clock.set(Micros{1'000'000 + 400'000 * static_cast<std::int64_t>(n)});
    const auto kind = n % 3 == 2 ? card::CardKind::misread : card::CardKind::valid;
    const card::Swipe swipe = source.draw(kind, n);
    presented.push_back(s.reader.present(swipe.frame));
    EXPECT_EQ(presented.back().frame, swipe.frame);
    EXPECT_EQ(presented.back().fate, card::Fate::sent);
  }
  for (Host* host : {&a, &b}) {
    for (const auto& p : presented) {
      const auto m = host->next_card(5s);
      ASSERT_TRUE(m) << "card " << p.sequence;
      EXPECT_EQ(m->sequence, p.sequence);
      EXPECT_EQ(m->reader, 7);
      EXPECT_EQ(m->timestamp, p.time);
      EXPECT_EQ(m->card, p.frame);
    }
  }
  // The misreads arrive as sent, with their parity error: the transport carries bits, the host judges.
  EXPECT_NE(wg::decode(presented[2].frame).status, wg::DecodeStatus::ok);
  const auto c = s.reader.counters();
  EXPECT_EQ(c.presents, 6u);
  EXPECT_EQ(c.events, 6u);
  EXPECT_EQ(c.sessions_accepted, 2u);
}

TEST(CardReaderPeer, KeepalivesCarryTheLastSequenceAndTheClock) {
  card::ReaderOptions options = quiet();
  options.keepalive = 20ms;
  Served s({}, options);
  Host h(s.reader.port());
  s.clock.set(Micros{5'000'000});
  s.reader.present(w26(1));
  const auto m = h.next_card(5s);
  ASSERT_TRUE(m);
  // Keepalives after the card say event 1 was the last one issued.
  for (;;) {
    const auto k = h.next(5s);
    ASSERT_TRUE(k);
    ASSERT_EQ(k->type, wt::Type::keepalive);
    if (k->sequence == 1) {
      EXPECT_EQ(k->timestamp, Micros{5'000'000});
      break;
    }
  }
  EXPECT_GT(s.reader.counters().keepalives_sent, 0u);
}

TEST(CardReaderPeer, IntermittentLosesExactlyTheSwipesThePlanDraws) {
  const FaultPlan plan({Fault{.mode = FaultMode::intermittent, .start = Micros{0}, .end = Micros{1'000'000}, .value = 0.3}}, 99);
  Served s(plan);
  Host h(s.reader.port());
  s.clock.set(Micros{500'000});
  std::vector<std::uint32_t> kept;  // card numbers expected on the wire, in order
  for (std::uint32_t i = 0; i < 300; ++i) {
    const auto p = s.reader.present(w26(i));
    const bool lost = plan.drops(Micros{500'000}, i);  // the draw for swipe i, computed here independently
    EXPECT_EQ(p.fate, lost ? card::Fate::dropped : card::Fate::sent) << i;
    if (!lost) kept.push_back(i);
  }
  // After the window a marker card goes through; everything before it has arrived by then (one stream).
  s.clock.set(Micros{2'000'000});
  s.reader.present(w26(9999));
  std::vector<std::uint32_t> got;
  for (;;) {
    const auto m = h.next_card(5s);
    ASSERT_TRUE(m);
    ASSERT_EQ(m->sequence, got.size() + 1) << "sequence numbers count sent events only";
    const auto c = wg::decode(m->card).credential.card;
    if (c == 9999) break;
    got.push_back(c);
  }
  EXPECT_EQ(got, kept);
  EXPECT_NEAR(static_cast<double>(300 - kept.size()) / 300, 0.3, 0.08);
  EXPECT_EQ(s.reader.counters().dropped_intermittent, 300 - kept.size());
}

TEST(CardReaderPeer, DelayedEventsWaitForSimulatedTimeAndKeepTheirOrder) {
  // 100 ms delay plus up to 300 ms jitter, presents 10 ms apart: without the order rule later swipes with
  // smaller draws would overtake earlier ones.
  const FaultPlan plan({Fault{.mode = FaultMode::delayed, .delay = Micros{100'000}, .jitter = Micros{300'000}}}, 5);
  Served s(plan);
  Host h(s.reader.port());
  std::vector<card::Presented> presented;
  bool would_reorder = false;
  Micros latest_due{0};
  for (std::uint32_t i = 0; i < 10; ++i) {
    s.clock.set(Micros{10'000 * static_cast<std::int64_t>(i)});
    presented.push_back(s.reader.present(w26(i)));
    const auto& p = presented.back();
    const Micros due = p.time + plan.latency(p.time, p.swipe);
    would_reorder = would_reorder || due < latest_due;
    latest_due = std::max(latest_due, due);
    EXPECT_EQ(p.fate, card::Fate::delayed);
    EXPECT_EQ(p.release, latest_due) << "released when due, or with the event it queues behind";
  }
  ASSERT_TRUE(would_reorder) << "the seed should draw jitter that would reorder some swipes";

  // The clock stands at 90 ms, before any release: nothing arrives (a read deadline, not a sleep).
  EXPECT_FALSE(h.next_card(150ms));
  // Move the clock to the 5th event's release: the first five (and any released at the same time) come.
  s.clock.set(presented[4].release);
  for (std::uint32_t i = 0; i < 5; ++i) {
    const auto m = h.next_card(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->sequence, i + 1);
    EXPECT_EQ(m->timestamp, presented[i].time) << "stamped when read, not when released";
  }
  std::uint32_t next = 6;
  while (next <= 10 && presented[next - 1].release <= presented[4].release) {
    const auto m = h.next_card(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->sequence, next++);
  }
  if (next <= 10) {
    EXPECT_FALSE(h.next_card(100ms)) << "event " << next << " is not due yet";
  }
  s.clock.set(presented.back().release);
  for (; next <= 10; ++next) {
    const auto m = h.next_card(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->sequence, next);
    EXPECT_EQ(wg::decode(m->card).credential.card, next - 1);
  }
  EXPECT_EQ(s.reader.counters().delayed, 10u);
}

TEST(CardReaderPeer, HeldEventsAreBoundedBeyondTheBoundSwipesAreSwallowed) {
  card::ReaderOptions options = quiet();
  options.max_held = 5;
  Served s(FaultPlan({Fault{.mode = FaultMode::delayed, .delay = Micros{1'000'000}}}, 0), options);
  Host h(s.reader.port());
  for (std::uint32_t i = 0; i < 8; ++i)
    EXPECT_EQ(s.reader.present(w26(i)).fate, i < 5 ? card::Fate::delayed : card::Fate::overflow) << i;
  s.clock.set(Micros{1'000'000});
  for (std::uint32_t seq = 1; seq <= 5; ++seq) {
    const auto m = h.next_card(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->sequence, seq);
  }
  s.drain();  // the release has run: room again
  EXPECT_EQ(s.reader.present(w26(9)).fate, card::Fate::delayed);
  EXPECT_EQ(s.reader.counters().held_overflows, 3u);
}

TEST(CardReaderPeer, GarbageFlipsTheDrawnBitSoParityFails) {
  const FaultPlan plan({Fault{.mode = FaultMode::garbage}}, 1234);
  Served s(plan);
  Host h(s.reader.port());
  for (std::uint32_t i = 0; i < 50; ++i) {
    const wg::Frame clean = i % 2 ? w26(i) : *wg::encode({wg::Format::W34, 300, i});
    const auto p = s.reader.present(clean);
    const auto bit = static_cast<unsigned>(plan.uniform(i, card::kGarbageStream) * clean.bits);
    EXPECT_TRUE(p.corrupted);
    const auto m = h.next_card(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->card, wg::flip_bit(clean, bit));
    EXPECT_NE(wg::decode(m->card).status, wg::DecodeStatus::ok);
  }
  EXPECT_EQ(s.reader.counters().corrupted_garbage, 50u);
}

TEST(CardReaderPeer, OffIsSilentThenTheReaderComesBack) {
  card::ReaderOptions options = quiet();
  options.keepalive = 20ms;
  const Micros start{1'000'000}, end{2'000'000};
  Served s(FaultPlan({Fault{.mode = FaultMode::off, .start = start, .end = end}}, 0), options);
  Host h(s.reader.port());
  const auto k = h.next(5s);
  ASSERT_TRUE(k) << "keepalives flow before the fault";
  EXPECT_EQ(k->type, wt::Type::keepalive);

  s.clock.set(Micros{1'500'000});
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(s.reader.present(w26(i)).fate, card::Fate::off);
  Host late(s.reader.port(), /*hello=*/false);
  // 300 ms is 15 keepalive periods: nothing stamped inside the window arrives, not even a status for the
  // host that connected during it. (A keepalive stamped before the clock moved may still be in flight.)
  while (const auto m = h.next(300ms)) EXPECT_LT(m->timestamp, start) << wt::to_string(m->type);
  EXPECT_FALSE(h.ended);
  EXPECT_FALSE(late.next(50ms));
  EXPECT_FALSE(late.ended) << "silent, not disconnected";

  s.clock.set(Micros{2'500'000});
  const auto back = late.next(5s);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, wt::Type::keepalive);
  EXPECT_EQ(back->sequence, 0u) << "the swallowed swipes were never issued";
  s.reader.present(w26(7));
  const auto m = h.next_card(5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->sequence, 1u);
  EXPECT_EQ(s.reader.counters().swallowed_off, 3u);
}

TEST(CardReaderPeer, ABadHostIsClosedAndCountedOthersGoOn) {
  Served s;
  Host good(s.reader.port());
  s.reader.present(w26(1));
  ASSERT_TRUE(good.next_card(5s));

  Host junk(s.reader.port());
  const std::string_view http = "GET / HTTP/1.0\r\n\r\n";
  junk.send(Bytes(http.begin(), http.end()));
  EXPECT_TRUE(junk.closed_within(5s));

  Host impostor(s.reader.port());  // a host may not send card events
  impostor.send(wt::encode(host_message(wt::Type::card)));
  EXPECT_TRUE(impostor.closed_within(5s));

  Host confused(s.reader.port());  // acks an event that was never issued
  confused.send(wt::encode(host_message(wt::Type::ack, 2)));
  EXPECT_TRUE(confused.closed_within(5s));

  // A keepalive and an ack of event 1 are fine; the trailing garbage then closes the session, which tells
  // this host that the two were handled before.
  Host polite(s.reader.port());
  Bytes bytes = wt::encode(host_message(wt::Type::keepalive));
  const Bytes ack = wt::encode(host_message(wt::Type::ack, 1));
  bytes.insert(bytes.end(), ack.begin(), ack.end());
  bytes.push_back(0xFF);
  polite.send(bytes);
  EXPECT_TRUE(polite.closed_within(5s));

  const auto c = s.reader.counters();
  EXPECT_EQ(c.framing_errors, 2u);
  EXPECT_EQ(c.protocol_errors, 2u);
  EXPECT_EQ(c.acks_received, 1u);
  EXPECT_EQ(c.keepalives_received, 1u);
  s.reader.present(w26(2));
  const auto m = good.next_card(5s);
  ASSERT_TRUE(m) << "the good host's session is untouched";
  EXPECT_EQ(m->sequence, 2u);
}

TEST(CardReaderPeer, ASilentHostIsClosedAtItsDeadlineAKeptAliveOneIsNot) {
  card::ReaderOptions options = quiet();
  options.idle_timeout = 200ms;
  Served s({}, options);
  Host silent(s.reader.port()), alive(s.reader.port());
  const auto t0 = std::chrono::steady_clock::now();
  // The live host sends a keepalive every 50 ms, paced by its own read deadline, for 600 ms.
  while (std::chrono::steady_clock::now() - t0 < 600ms) {
    EXPECT_FALSE(alive.next(50ms));
    alive.send(wt::encode(host_message(wt::Type::keepalive)));
  }
  EXPECT_FALSE(alive.ended);
  EXPECT_TRUE(silent.closed_within(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
  s.reader.present(w26(3));
  EXPECT_TRUE(alive.next_card(5s));
  EXPECT_EQ(s.reader.counters().idle_timeouts, 1u);
}

TEST(CardReaderPeer, AHostThatDoesNotReadGetsTheNewestEventsTheOldestAreDropped) {
  card::ReaderOptions options = quiet();
  options.max_queue = 16;
  options.send_buffer_bytes = 4096;
  Served s({}, options);
  Host slow(s.reader.port(), true, 4096);
  constexpr std::uint32_t kCards = 5000;  // 135 kB: far more than the small socket buffers hold
  for (std::uint32_t i = 0; i < kCards; ++i) s.reader.present(w26(i % 60000));
  s.drain();  // every present has been queued (or has overflowed) before the host starts reading
  std::vector<std::uint32_t> seqs;
  while (seqs.empty() || seqs.back() != kCards) {
    const auto m = slow.next_card(5s);
    ASSERT_TRUE(m) << "after " << seqs.size() << " events";
    seqs.push_back(m->sequence);
  }
  const auto c = s.reader.counters();
  EXPECT_GT(c.queue_overflows, 0u);
  EXPECT_EQ(seqs.size() + c.queue_overflows, kCards);
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
  EXPECT_EQ(std::adjacent_find(seqs.begin(), seqs.end()), seqs.end());
  ASSERT_GE(seqs.size(), 16u);
  // The queue kept the newest 16: the last 16 received are the last 16 issued.
  for (std::size_t k = 0; k < 16; ++k) EXPECT_EQ(seqs[seqs.size() - 1 - k], kCards - k);
}

TEST(CardReaderPeer, AHostThatStopsReadingIsResetAtTheWriteDeadline) {
  card::ReaderOptions options = quiet();
  options.max_queue = 10'000;  // nothing overflows: the queue outlasts the socket buffers, so a write stalls
  options.send_buffer_bytes = 4096;
  options.write_timeout = 300ms;
  Served s({}, options);
  Host stuck(s.reader.port(), true, 4096);
  for (std::uint32_t i = 0; i < 5000; ++i) s.reader.present(w26(i % 60000));
  EXPECT_TRUE(stuck.hung_up_within(5s));
  const auto c = s.reader.counters();
  EXPECT_EQ(c.write_timeouts, 1u);
  EXPECT_EQ(c.queue_overflows, 0u);
  EXPECT_LT(c.messages_sent, 5000u);
}

TEST(CardReaderPeer, ConnectionsBeyondTheLimitAreRefused) {
  card::ReaderOptions options = quiet();
  options.max_sessions = 1;
  Served s({}, options);
  Host first(s.reader.port());
  Host second(s.reader.port(), false);
  EXPECT_TRUE(second.closed_within(5s));
  EXPECT_EQ(s.reader.counters().sessions_refused, 1u);
  s.reader.present(w26(1));
  EXPECT_TRUE(first.next_card(5s));
}

TEST(CardReaderPeer, PresentsFromManyThreadsAreNumberedInSendingOrder) {
  Served s;
  Host h(s.reader.port());
  constexpr int kThreads = 4, kEach = 250;
  std::vector<std::vector<card::Presented>> by_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) by_thread[t].push_back(s.reader.present(w26(static_cast<std::uint32_t>(t * 1000 + i))));
    });
  for (auto& t : threads) t.join();
  std::vector<std::uint32_t> card_of(kThreads * kEach + 1);
  for (const auto& list : by_thread)
    for (const auto& p : list) card_of.at(p.sequence) = wg::decode(p.frame).credential.card;
  for (std::uint32_t seq = 1; seq <= kThreads * kEach; ++seq) {
    const auto m = h.next_card(5s);
    ASSERT_TRUE(m);
    ASSERT_EQ(m->sequence, seq);
    EXPECT_EQ(wg::decode(m->card).credential.card, card_of[seq]);
  }
}

TEST(CardReader, RejectsFramesNoWireFrameCanHold) {
  Served s;
  EXPECT_THROW(s.reader.present(wg::Frame{0, 0}), std::invalid_argument);
  EXPECT_THROW(s.reader.present(wg::Frame{65, 0}), std::invalid_argument);
  EXPECT_EQ(s.reader.counters().presents, 0u);
}
