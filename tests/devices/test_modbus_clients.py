#!/usr/bin/env python3
"""The emulated thermal sensor and door relay against external Modbus masters: mbpoll (libmodbus-based
CLI) and pymodbus 3.0 read and write both devices, the injected faults reach them as timeouts,
exceptions and late replies, and tshark, dissecting a capture of that traffic, finds Modbus/TCP packets,
the register values the clients printed, and nothing malformed.

    test_modbus_clients.py PATH/TO/modbus_devices_server [unittest args]

The server program prints `ready thermal=PORT relay=PORT` when it listens (no sleeps here) and takes
physics and clock commands on stdin; closing its stdin stops it, and every test waits for it to exit 0.
"""

import os
import queue
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tshark_capture as tc  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

SERVER = None  # set from argv in __main__
LINE_TIMEOUT = 10.0


class Devices:
    """modbus_devices_server for the length of a `with` block."""

    def __init__(self, *args):
        self.args = ["--manual-clock", "--noise", "0", *args]
        self.proc = None
        self.thermal = self.relay = 0
        self.lines = queue.Queue()  # stdout, line by line (None at EOF), filled by a reader thread

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _line(self) -> str:
        try:
            line = self.lines.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"modbus_devices_server said nothing for {LINE_TIMEOUT} s") from None
        if line is None:
            raise AssertionError(f"modbus_devices_server exited ({self.proc.wait()})")
        return line

    def __enter__(self):
        self.proc = subprocess.Popen([SERVER, *self.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            words = self._line().split()
            assert words[0] == "ready", words
            ports = dict(w.split("=") for w in words[1:])
            self.thermal, self.relay = int(ports["thermal"]), int(ports["relay"])
        except BaseException:
            self._stop()
            raise
        return self

    def command(self, text: str) -> list:
        """Sends one command; returns the lines it printed before its `ok` line (fails on `error`)."""
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self._line()
            if line.startswith("ok"):
                return lines + ([line] if line != "ok" else [])
            if line.startswith("error"):
                raise AssertionError(f"{text!r}: {line}")
            lines.append(line)

    def _stop(self) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("modbus_devices_server did not stop at the end of its stdin")
        finally:
            self.reader.join(timeout=10)
            self.proc.stdout.close()

    def __exit__(self, exc_type, *rest):
        rc = self._stop()
        if exc_type is None and rc != 0:
            raise AssertionError(f"modbus_devices_server exited with {rc}")
        return False


def mbpoll(port, *args, values=(), timeout="1"):
    """Runs mbpoll once against 127.0.0.1:port: reads when there are no values, else writes them."""
    cmd = ["mbpoll", "-m", "tcp", "-p", str(port), "-a", "1", "-o", timeout, *args]
    if not values:
        cmd.append("-1")
    cmd += ["127.0.0.1", *values]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def mbpoll_read(test, port, *args):
    """The values mbpoll printed, by reference: lines `[REF]: <tab>VALUE`."""
    r = mbpoll(port, *args)
    test.assertEqual(r.returncode, 0, r.stderr)
    values = {}
    for line in r.stdout.splitlines():
        if line.startswith("[") and "]:" in line:
            ref, value = line.split("]:", 1)
            values[int(ref[1:])] = int(value.split()[0])
    return values


def pymodbus_client(port, timeout=1):
    # pymodbus 3.0 truncates the timeout to whole seconds (int(timeout)): 0 would make the socket non-blocking.
    c = ModbusTcpClient("127.0.0.1", port=port, timeout=timeout, retries=0)
    if not c.connect():
        raise AssertionError(f"pymodbus could not connect to {port}")
    return c


class Mbpoll(unittest.TestCase):
    def test_reads_the_thermal_sensor_and_writes_emissivity_and_compensation(self):
        with Devices() as d:
            # -t 3: input registers (FC04); -r is 1-based: reference 1 is address 0.
            self.assertEqual(mbpoll_read(self, d.thermal, "-t", "3", "-r", "1", "-c", "6"),
                             {1: 3650, 2: 2500, 3: 1, 4: 0, 5: 1, 6: 3600})
            # The measurement counter as one 32-bit value, high word first (-B); reading from address 3
            # does not take a measurement.
            self.assertEqual(mbpoll_read(self, d.thermal, "-t", "3:int", "-B", "-r", "4", "-c", "1"), {4: 1})
            w = mbpoll(d.thermal, "-t", "4", "-r", "1", values=["950"])  # -t 4: holding registers
            self.assertEqual(w.returncode, 0, w.stderr)
            self.assertIn("Written 1 references", w.stdout)
            # -0.45 °C: mbpoll's 16-bit type is unsigned, so the two's complement is written.
            w = mbpoll(d.thermal, "-t", "4", "-r", "2", values=[str(65536 - 45)])
            self.assertEqual(w.returncode, 0, w.stderr)
            self.assertEqual(mbpoll_read(self, d.thermal, "-t", "4", "-r", "1", "-c", "3"),
                             {1: 950, 2: 65536 - 45, 3: 0x5401})
            # e = 0.95 reads 36.84 for 36.50 of skin; the compensation takes 0.45 off.
            self.assertEqual(mbpoll_read(self, d.thermal, "-t", "3", "-r", "1", "-c", "1"), {1: 3639})
            w = mbpoll(d.thermal, "-t", "4", "-r", "1", values=["99"])
            self.assertNotEqual(w.returncode, 0)
            self.assertIn("Illegal data value", w.stderr)
            r = mbpoll(d.thermal, "-t", "3", "-r", "7")
            self.assertIn("Illegal data address", r.stderr)
            r = mbpoll(d.thermal, "-t", "0", "-r", "1")  # coils: the sensor has none
            self.assertIn("Illegal function", r.stderr)

    def test_unlocks_the_relay_while_the_simulation_moves_the_door(self):
        with Devices() as d:
            w = mbpoll(d.relay, "-t", "0", "-r", "1", values=["1"])  # -t 0: coils (FC05)
            self.assertEqual(w.returncode, 0, w.stderr)
            self.assertEqual(mbpoll_read(self, d.relay, "-t", "0", "-r", "1"), {1: 1})
            self.assertEqual(mbpoll_read(self, d.relay, "-t", "3", "-r", "1", "-c", "3"), {1: 1, 2: 0, 3: 1})
            d.command("door open")
            self.assertEqual(mbpoll_read(self, d.relay, "-t", "1", "-r", "1", "-c", "4"),  # -t 1: discrete inputs
                             {1: 1, 2: 0, 3: 0, 4: 0})
            d.command("time 3.5")  # the 3 s pulse has ended; the door is still open
            self.assertEqual(mbpoll_read(self, d.relay, "-t", "0", "-r", "1"), {1: 0})
            self.assertEqual(mbpoll_read(self, d.relay, "-t", "3", "-r", "1"), {1: 2})
            d.command("door close")
            self.assertEqual(mbpoll_read(self, d.relay, "-t", "3", "-r", "1", "-c", "3"), {1: 0, 2: 0, 3: 3})
            self.assertEqual(d.command("events"), [
                "event 0 locked unlocked coil_on",
                "event 0 unlocked open door_opened",
                "event 3000000 open open pulse_expired",
                "event 3500000 open locked door_closed",
            ])
            w = mbpoll(d.relay, "-t", "4", "-r", "1", values=["60001"])
            self.assertIn("Illegal data value", w.stderr)


class Pymodbus(unittest.TestCase):
    def test_reads_and_writes_the_thermal_sensor(self):
        with Devices() as d:
            c = pymodbus_client(d.thermal)
            try:
                rr = c.read_input_registers(0, 6, slave=1)
                self.assertFalse(rr.isError(), rr)
                self.assertEqual(rr.registers, [3650, 2500, 1, 0, 1, 3600])
                self.assertFalse(c.write_register(0, 970, slave=1).isError())
                self.assertFalse(c.write_registers(0, [980, 20], slave=1).isError())  # FC16
                self.assertEqual(c.read_holding_registers(0, 3, slave=1).registers, [980, 20, 0x5401])
                d.command("skin 38.1")
                self.assertEqual(c.read_input_registers(0, 1, slave=1).registers, [3830])
                d.command("skin none")
                d.command("ambient 21")
                rr = c.read_input_registers(0, 3, slave=1)
                self.assertEqual(rr.registers, [2112, 2100, 0])  # the room, 0.08 low (0.02/°C), +0.20; no target
                bad = c.write_register(0, 1001, slave=1)
                self.assertTrue(bad.isError())
                self.assertEqual(bad.exception_code, 3)
                bad = c.write_register(2, 1, slave=1)  # the device id is read-only
                self.assertEqual(bad.exception_code, 2)
            finally:
                c.close()

    def test_drives_the_relay_and_sees_the_alarms(self):
        with Devices() as d:
            c = pymodbus_client(d.relay)
            try:
                self.assertFalse(c.write_registers(0, [500, 5], slave=1).isError())  # pulse 500 ms, held-open 5 s
                self.assertFalse(c.write_coil(0, True, slave=1).isError())
                self.assertTrue(c.read_coils(0, 1, slave=1).bits[0])
                d.command("time 1")
                self.assertFalse(c.read_coils(0, 1, slave=1).bits[0])  # relocked at 0.5 s
                d.command("door open")  # while locked: forced open
                self.assertEqual(c.read_discrete_inputs(0, 4, slave=1).bits[:4], [True, False, False, True])
                d.command("time 6")
                self.assertEqual(c.read_discrete_inputs(0, 4, slave=1).bits[:4], [True, False, True, True])
                self.assertEqual(c.read_input_registers(0, 1, slave=1).registers, [4])  # forced_open
                self.assertEqual(d.command("state"), ["ok state=forced_open relay=0 door=1 held=1 forced=1"])
                d.command("door close")
                d.command("button press")  # the exit button starts a pulse
                self.assertEqual(c.read_discrete_inputs(0, 4, slave=1).bits[:4], [False, True, False, False])
                self.assertTrue(c.read_coils(0, 1, slave=1).bits[0])
                self.assertEqual(c.write_coil(1, True, slave=1).exception_code, 2)
            finally:
                c.close()


class Faults(unittest.TestCase):
    def test_off_and_garbage_reach_both_clients(self):
        with Devices("--thermal-fault", "off", "--relay-fault", "garbage:6") as d:
            r = mbpoll(d.thermal, "-t", "3", "-r", "1", timeout="0.3")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("timed out", r.stderr)
            c = pymodbus_client(d.thermal)
            try:
                rr = c.read_input_registers(0, 1, slave=1)
                self.assertTrue(rr.isError())
                self.assertIn("No response received", str(rr))
            finally:
                c.close()
            r = mbpoll(d.relay, "-t", "0", "-r", "1")
            self.assertIn("busy", r.stderr)  # exception 0x06, server device busy
            c = pymodbus_client(d.relay)
            try:
                self.assertEqual(c.read_coils(0, 1, slave=1).exception_code, 6)
            finally:
                c.close()

    def test_a_stuck_relay_echoes_and_a_slow_sensor_answers_late(self):
        with Devices("--relay-fault", "stuck", "--thermal-fault", "delayed:0:300") as d:
            w = mbpoll(d.relay, "-t", "0", "-r", "1", values=["1"])
            self.assertEqual(w.returncode, 0, w.stderr)  # the write is acknowledged...
            self.assertEqual(mbpoll_read(self, d.relay, "-t", "0", "-r", "1"), {1: 0})  # ...the relay did not move
            c = pymodbus_client(d.thermal)
            try:
                start = time.monotonic()
                rr = c.read_input_registers(0, 1, slave=1)
                self.assertGreaterEqual(time.monotonic() - start, 0.3)
                self.assertEqual(rr.registers, [3650])
            finally:
                c.close()


def raw_frame(transaction, pdu):
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, 1) + pdu


class Tshark(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="gatetwin-modbus-capture-")
        self.addCleanup(self.tmp.cleanup)

    def test_the_clients_traffic_dissects_as_modbus_tcp_with_nothing_malformed(self):
        with Devices() as d:
            with tc.Capture(tc.ports_filter(tcp=[d.thermal, d.relay]), os.path.join(self.tmp.name, "clients.pcapng")) as cap:
                self.assertEqual(mbpoll_read(self, d.thermal, "-t", "3", "-r", "1", "-c", "6"),
                                 {1: 3650, 2: 2500, 3: 1, 4: 0, 5: 1, 6: 3600})
                self.assertIn("Illegal data value", mbpoll(d.thermal, "-t", "4", "-r", "1", values=["5"]).stderr)
                self.assertEqual(mbpoll(d.relay, "-t", "0", "-r", "1", values=["1"]).returncode, 0)
                c = pymodbus_client(d.relay)
                try:
                    self.assertEqual(c.read_input_registers(0, 3, slave=1).registers, [1, 0, 1])
                    self.assertEqual(c.read_discrete_inputs(0, 4, slave=1).bits[:4], [False] * 4)
                    self.assertEqual(c.write_coil(3, True, slave=1).exception_code, 2)
                finally:
                    c.close()
        # Modbus/TCP tells queries from responses by the server's port: name both.
        decode = ["-o", f"mbtcp.tcp.port:{d.thermal},{d.relay}"]
        result = cap.dissect("mbtcp", decode)
        self.assertEqual(result.protocol_packets, 12, result)  # six requests, six replies
        self.assertEqual(result.malformed, 0, result.malformed_frames)
        # tshark's own decoding agrees with what the clients saw.
        self.assertIn(["3650,2500,1,0,1,3600"], cap.fields("modbus.regval_uint16", ["modbus.regval_uint16"], decode))
        self.assertEqual(sorted(cap.fields("modbus.exception_code", ["modbus.exception_code"], decode)), [["2"], ["3"]])

    def test_the_malformed_check_does_catch_a_broken_frame(self):
        # The check above must not be vacuous: a read-holding-registers request two bytes short (the
        # server answers it with exception 0x03) is flagged by the same filter.
        with Devices() as d:
            with tc.Capture(tc.ports_filter(tcp=[d.thermal]), os.path.join(self.tmp.name, "broken.pcapng")) as cap:
                with socket.create_connection(("127.0.0.1", d.thermal), timeout=5) as s:
                    s.sendall(raw_frame(7, bytes([0x03, 0x00, 0x00])))
                    reply = s.recv(64)
                self.assertEqual(reply, raw_frame(7, bytes([0x83, 0x03])))
        result = cap.dissect("mbtcp", ["-o", f"mbtcp.tcp.port:{d.thermal}"])
        self.assertEqual(result.protocol_packets, 2, result)
        self.assertGreaterEqual(result.malformed, 1, result)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_modbus_clients.py PATH/TO/modbus_devices_server [unittest args]")
    SERVER = sys.argv.pop(1)
    unittest.main(verbosity=2)
