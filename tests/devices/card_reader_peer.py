#!/usr/bin/env python3
"""The card reader against an independent peer: this script decodes the Wiegand TCP transport with its own
implementation of docs/wiegand.md (struct + its own CRC), and tshark dissects the same bytes with the
project's Lua dissector (tools/wireshark/wiegand_tcp.lua).

    card_reader_peer.py CARD_READER_SERVER LUA_DISSECTOR

1. Starts the server program (tests/devices/card_reader_server.cpp), waits for "ready port=P".
2. A host connects over a plain socket (every read has a 5 s deadline): the status message comes first;
   the script presents the H10301 and W34 examples of docs/wiegand.md and a misread, and checks each card
   event bit for bit; waits for a keepalive; sends a keepalive and acks, then one garbage byte, after which
   the reader must close the connection and count one framing error, three acks and one keepalive.
3. Everything that crossed the connection (but the garbage byte) is written as a capture with text2pcap,
   segment by segment as received, and tshark with the Lua dissector must find every message and no
   malformed packet or expert error; a second capture with a broken CRC and broken padding must yield
   exactly those two errors.
Exits 0 on success, 1 with a message otherwise; always stops the server it started."""

import os
import socket
import struct
import subprocess
import sys
import tempfile

W26 = "0" "00010010" "0011000000111001" "1"          # H10301 facility 18 card 12345
W34 = "1" "0000010011010010" "1101110111010101" "0"  # W34 facility 1234 card 56789
MISREAD = W26[:5] + ("1" if W26[5] == "0" else "0") + W26[6:]
TYPES = {1: "card", 2: "keepalive", 3: "status", 4: "ack"}
MALFORMED = "_ws.malformed || _ws.expert.severity == error"


def crc16(data):
    """CRC-16/IBM-3740 (CCITT-FALSE); check value of b"123456789" is 0x29B1."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def encode(kind, payload, reader=0, sequence=0, timestamp=0):
    body = b"WG" + bytes([1, kind]) + struct.pack(">HIqH", reader, sequence, timestamp, len(payload)) + payload
    return body + struct.pack(">H", crc16(body))


def decode(buf):
    """(message dict, size) for the first complete message in buf, or (None, 0) if more bytes are needed.
    Raises ValueError on anything docs/wiegand.md does not allow."""
    if len(buf) < 20:
        return None, 0
    magic, version, kind, reader, sequence, timestamp, length = struct.unpack(">2sBBHIqH", buf[:20])
    if magic != b"WG" or version != 1 or kind not in TYPES:
        raise ValueError(f"bad header {buf[:4].hex()}")
    if len(buf) < 22 + length:
        return None, 0
    (crc,) = struct.unpack(">H", buf[20 + length:22 + length])
    if crc != crc16(buf[:20 + length]):
        raise ValueError("bad crc")
    m = {"type": TYPES[kind], "reader": reader, "seq": sequence, "ts": timestamp}
    payload = buf[20:20 + length]
    if kind == 1:
        bits = payload[0]
        if not 1 <= bits <= 64 or len(payload) != 1 + (bits + 7) // 8:
            raise ValueError(f"card of {bits} bits in {len(payload)} bytes")
        value = int.from_bytes(payload[1:], "big")
        pad = 8 * (len(payload) - 1) - bits
        if value & ((1 << pad) - 1):
            raise ValueError("padding bits set")
        m["bits"] = format(value >> pad, f"0{bits}b")
    elif kind == 3:
        m["formats"], reserved, m["keepalive_ms"] = struct.unpack(">BBH", payload)
        if reserved or m["formats"] & 0xFC:
            raise ValueError("reserved status bits set")
    elif kind == 4:
        (m["acked"],) = struct.unpack(">I", payload)
    return m, 22 + length


def split(buf):
    """(the complete messages at the start of buf, the bytes left over); ValueError as decode."""
    messages = []
    while True:
        m, n = decode(buf)
        if not m:
            return messages, buf
        messages.append(m)
        buf = buf[n:]


class Host:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.segments = []  # ("in" | "out", bytes) as they crossed the socket, for the capture

    def next(self):
        while True:
            m, size = decode(self.buf)
            if m:
                self.buf = self.buf[size:]
                return m
            chunk = self.sock.recv(4096)  # 5 s deadline (socket timeout)
            if not chunk:
                raise EOFError("the reader closed the connection")
            self.segments.append(("in", chunk))
            self.buf += chunk

    def next_of(self, kind):
        while True:
            m = self.next()
            if m["type"] == kind:
                return m

    def send(self, data, record=True):
        self.sock.sendall(data)
        if record:
            self.segments.append(("out", data))

    def closed_by_reader(self):
        try:
            while self.sock.recv(4096):
                pass
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


class Server:
    def __init__(self, program):
        self.proc = subprocess.Popen([program, "100"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("ready port="):
            raise RuntimeError(f"server said {line!r}")
        self.port = int(line.split("=")[1])

    def command(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return dict(kv.split("=") for kv in self.proc.stdout.readline().split()[1:])

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def text2pcap(segments, port, path):
    """A capture of the segments: 'in' from the reader (port) to the host, 'out' the other way."""
    lines = []
    for direction, data in segments:
        lines.append("I" if direction == "in" else "O")
        for off in range(0, len(data), 16):
            lines.append("%06x %s" % (off, " ".join("%02x" % b for b in data[off:off + 16])))
        lines.append("")
    with open(path + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["text2pcap", "-q", "-D", "-4", "127.0.0.1,127.0.0.2", "-T", f"{port},50000",
                    path + ".txt", path], check=True, stderr=subprocess.DEVNULL)


def tshark(lua, port, path, display_filter, fields=("frame.number",)):
    args = ["tshark", "-n", "-X", f"lua_script:{lua}", "-d", f"tcp.port=={port},wgtcp", "-r", path,
            "-Y", display_filter, "-T", "fields"]
    for field in fields:
        args += ["-e", field]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def main():
    program, lua = sys.argv[1], sys.argv[2]
    server = Server(program)
    try:
        host = Host(server.port)
        status = host.next()
        check(status["type"] == "status", f"first message {status}")
        check(status["formats"] == 3 and status["keepalive_ms"] == 100, f"status {status}")

        sent = []
        for bits in (W26, W34, MISREAD):
            reply = server.command(f"present {bits}")
            check(reply.get("fate") == "sent", f"present: {reply}")
            m = host.next_of("card")
            check(m["bits"] == bits and m["seq"] == int(reply["seq"]) and m["reader"] == 1, f"card {m} for {bits}")
            sent.append(m)
        check([m["seq"] for m in sent] == [1, 2, 3], "sequence numbers 1, 2, 3")
        check(sent[0]["ts"] <= sent[1]["ts"] <= sent[2]["ts"], "timestamps in order")
        keepalive = host.next_of("keepalive")
        check(keepalive["seq"] == 3, f"keepalive after three events says {keepalive['seq']}")

        host.send(encode(2, b""))
        for seq in (1, 2, 3):
            host.send(encode(4, struct.pack(">I", seq), sequence=seq))
        host.send(b"\xff", record=False)  # garbage: the reader must close this session
        check(host.closed_by_reader(), "the reader did not close a session that sent garbage")
        counters = server.command("counters")
        check(counters == {"framing_errors": "1", "protocol_errors": "0", "acks": "3", "keepalives": "1"},
              f"counters {counters}")

        # Every message that crossed: what the reader sent (decoded again from the raw bytes) and the host's.
        received = b"".join(data for d, data in host.segments if d == "in")
        messages = 0
        while received:
            _, size = decode(received)
            if not size:
                break
            messages += 1
            received = received[size:]
        messages += 1 + 3  # the host's keepalive and acks

        with tempfile.TemporaryDirectory() as tmp:
            good = os.path.join(tmp, "reader.pcap")
            text2pcap(host.segments, server.port, good)
            rows = tshark(lua, server.port, good, "wgtcp", ["wgtcp.type"])
            found = sum(len(r[0].split(",")) for r in rows)
            check(found == messages, f"tshark found {found} messages, {messages} crossed the connection")
            cards = tshark(lua, server.port, good, "wgtcp.type == 1", ["wgtcp.card.wire"])
            wires = [w for r in cards for w in r[0].split(",")]
            check(wires == [W26, W34, MISREAD], f"tshark read the cards as {wires}")
            bad = tshark(lua, server.port, good, MALFORMED)
            check(not bad, f"tshark: malformed packets {bad}")

            # The dissector's own errors: one broken CRC, one set padding bit.
            card = encode(1, bytes([26]) + (int(W26, 2) << 6).to_bytes(4, "big"), reader=1, sequence=9)
            broken = os.path.join(tmp, "broken.pcap")
            text2pcap([("in", card[:-1] + bytes([card[-1] ^ 1])),
                       ("in", encode(1, bytes([26]) + ((int(W26, 2) << 6) | 1).to_bytes(4, "big")))],
                      server.port, broken)
            errors = tshark(lua, server.port, broken, MALFORMED)
            check(len(errors) == 2, f"tshark flagged {len(errors)} of 2 broken messages")
        print(f"ok: {len(sent)} card events decoded independently; tshark dissected {messages} messages, "
              "0 malformed; broken CRC and padding flagged")
        return 0
    except (AssertionError, EOFError, ValueError, socket.timeout, RuntimeError, subprocess.CalledProcessError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
