#!/usr/bin/env python3
"""`gatectl run` as in the field, against `gatetwin devices`: the daemon sees only sockets (RTSP camera with
Digest authentication, Modbus TCP thermal sensor and door relay, Wiegand TCP card reader).

- Cards: the standalone reader is presented a card every 15 s of simulated time (valid, valid, valid, revoked,
  cloned, misread; facility 42, enrolled cards 1000..1099, revoked 5000..5009), at --speed 10 every 1.5 s.
  Valid cards are granted after a temperature reading (the policy's default: temperature before identity),
  the relay's coil is written (its state-change counter, read with mbpoll, moves), revoked cards are referred
  to staff with reason card_revoked, misreads ask for another swipe. The camera shows a test pattern: frames
  are analysed, no face is acquired, nothing is decided by face.
- Status: `gatectl status` reports all four devices connected and the counters.
- Faults: a camera that goes off is logged camera_down, then camera_up after reconnecting with backoff; a relay
  that is off makes every grant log relay_unreachable and the door stays locked (the devices' own summary
  says the relay never changed state), for fail_mode secure and safe.
- SIGTERM: exit 0, the last event is `stopped`, the status socket is gone; SIGHUP is logged and ignored. A bad configuration exits 2 naming
  file:line:column and the field of every problem.

Usage: test_gatectl_daemon.py GATECTL GATETWIN   (from the repository root; CTest does this)
Needs the face models with a trained mask classifier in $GATETWIN_MODELS (CTest points it at the directory the
hil_models fixture prepares); fails, naming what is missing, without them.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "devices"))
import devices_process  # noqa: E402  (gatetwin devices as a child process)
import card_reader_peer  # noqa: E402  (an independent encoder of the Wiegand TCP transport)
import private_models  # noqa: E402  (where the installed models are)

GATECTL = GATETWIN = None
DATA = os.path.join(ROOT, "tests", "data", "gatectl")
STARTUP = 30  # s: model loading and the first RTSP session on a loaded 2-core machine


class Devices(devices_process.Devices):
    """`gatetwin devices SCENARIO --start 07:00 --speed 10` (tests/data/gatectl); its one lane's URLs by device."""

    def __init__(self, scenario):
        super().__init__(GATETWIN, os.path.join(DATA, scenario), "--start", "07:00", "--speed", "10")
        self.urls = {device: url for (lane, device), url in self.lane_urls.items() if lane == 1}

    def port(self, device):
        return self.lane_port(1, device)


class Daemon:
    """`gatectl run` with events on stdout; a thread parses each line as it comes (every line must be JSON)."""

    def __init__(self, config, gatectl=None, **popen):
        self.config = config
        self.gatectl = gatectl or GATECTL
        self.proc = subprocess.Popen([self.gatectl, "run", "--config", config], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, **popen)
        self.events, self.bad_lines, self.stderr = [], [], []
        self.eof = False
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._stdout, daemon=True),
                        threading.Thread(target=self._stderr, daemon=True)]
        for t in self.threads:
            t.start()

    def _stdout(self):
        for line in self.proc.stdout:
            with self.cond:
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    self.bad_lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait_for(self, what, pred, timeout, after=0):
        """The first event (from index `after`) for which pred holds; fails with the log at the deadline."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(after, len(self.events)):
                    if pred(self.events[i]):
                        return i, self.events[i]
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    raise AssertionError("no %s within %d s; events:\n%s\nstderr:\n%s" % (
                        what, timeout, "\n".join(json.dumps(e) for e in self.events[-40:]), "".join(self.stderr)))
                self.cond.wait(left)

    def status(self):
        p = subprocess.run([self.gatectl, "status", "--config", self.config], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        for t in self.threads:
            t.join(timeout=10)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for t in self.threads:
            t.join(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


def access(e):
    return e.get("event") == "access"


def w26_card(facility, number):
    """A card event payload: H10301 bits (docs/wiegand.md) with their bit count, padded to whole bytes."""
    data = format(facility, "08b") + format(number, "016b")
    bits = ("1" if data[:12].count("1") % 2 else "0") + data + ("0" if data[12:].count("1") % 2 else "1")
    return bytes([26]) + (int(bits, 2) << 6).to_bytes(4, "big")


class FakeController:
    """A Wiegand TCP controller written from docs/wiegand.md (not the emulator): connection 1 gets the status,
    card event 1 (42/1000) split in two writes, waits for the host's ack of 1, then garbage; connection 2 gets a
    status saying 5 events were issued (2..5 missed) and card event 6 (42/5000), then stays open."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(STARTUP)
        self.port = self.listener.getsockname()[1]
        self.acked, self.error, self.conns = [], None, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            status = lambda seq: card_reader_peer.encode(3, bytes([3, 0, 0x03, 0xE8]), reader=1, sequence=seq)
            c, _ = self.listener.accept()
            self.conns.append(c)
            c.settimeout(15)
            card = card_reader_peer.encode(1, w26_card(42, 1000), reader=1, sequence=1, timestamp=1_500_000)
            c.sendall(status(0) + card[:7])
            c.sendall(card[7:])
            buf = b""
            while 1 not in self.acked:
                chunk = c.recv(4096)
                if not chunk:
                    raise RuntimeError("host closed before acking")
                messages, buf = card_reader_peer.split(buf + chunk)
                self.acked += [m["acked"] for m in messages if m["type"] == "ack"]
            c.sendall(b"\xff" * 40)  # not a message: the host must drop the session, not crash
            c2, _ = self.listener.accept()
            self.conns.append(c2)
            c2.sendall(status(5) + card_reader_peer.encode(1, w26_card(42, 5000), reader=1, sequence=6))
        except Exception as e:  # reported by the test
            self.error = e
        self.done.set()

    def close(self):
        for c in self.conns + [self.listener]:
            c.close()


class GatectlDaemon(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gatectl-daemon-")
        with open(os.path.join(self.tmp, "residents.yaml"), "w") as f:
            f.write("# person k holds card 42/(999 + k); cards 5000..5009 are revoked\nresidents:\n")
            for k in range(1, 101):
                f.write("  - id: %d\n    cards: [{facility: 42, number: %d}]\n" % (k, 999 + k))
            f.write("revoked_cards:\n")
            for n in range(5000, 5010):
                f.write("  - {facility: 42, number: %d}\n" % n)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def config(self, devices, fail_mode="secure", extra=""):
        camera = devices.urls["camera"].replace("rtsp://", "rtsp://admin:gate-2020@")
        path = os.path.join(self.tmp, "gate.yaml")
        with open(path, "w") as f:
            f.write(f"""gate: north
residents: residents.yaml
events: "-"
status: gatectl.sock
reconnect: {{initial: 0.2 s, max: 1 s}}
{extra}lanes:
  - name: north-1
    camera: {camera}
    thermal: {devices.urls["thermal"]}
    relay: {devices.urls["relay"]}
    reader: {devices.urls["card reader"]}
    fail_mode: {fail_mode}
""")
        return path

    def assert_clean_stop(self, d):
        self.assertEqual(d.stop(), 0, "".join(d.stderr))
        self.assertEqual(d.bad_lines, [])
        self.assertEqual(d.events[-1]["event"], "stopped", d.events[-3:])
        self.assertEqual(d.events[-1]["signal"], "SIGTERM")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "gatectl.sock")))

    def test_cards_are_decided_and_grants_open_the_relay(self):
        with Devices("one-lane.yaml") as dev, Daemon(self.config(dev)) as d:
            d.wait_for("started event", lambda e: e["event"] == "started", STARTUP)
            for device in ("camera", "thermal", "relay", "reader"):
                d.wait_for(device + "_up", lambda e, n=device + "_up": e["event"] == n, STARTUP)
            st = d.status()
            lane = st["lanes"][0]
            self.assertEqual(st["gate"], "north")
            for device in ("camera", "thermal", "relay", "reader"):
                self.assertTrue(lane["devices"][device]["connected"], lane["devices"][device])
            self.assertEqual(lane["devices"]["camera"]["url"], dev.urls["camera"].replace("rtsp://", "rtsp://admin:***@"))
            self.assertEqual(lane["devices"]["thermal"]["device_id"], "0x5401")

            # A grant of an enrolled card, with a temperature, and the door opened; a revoked card; a misread.
            _, grant = d.wait_for("granted card", lambda e: access(e) and e["decision"] == "grant", 60)
            self.assertEqual((grant["source"], grant["verify_mode"], grant["reason"]), ("card", "card", "card_accepted"))
            self.assertEqual(grant["card"]["facility"], 42)
            self.assertEqual(grant["person_id"], grant["card"]["number"] - 999)
            self.assertEqual(grant["door"], "opened")
            self.assertIsNotNone(grant["current_temperature_c"])
            self.assertEqual(grant["thermal"], "ok")
            self.assertIn("刷卡成功", grant["announcement"])
            for key in ("time", "mono_us", "lane", "person_id", "decision", "reason", "abnormal_temperature", "mask"):
                self.assertIn(key, grant)
            self.assertRegex(grant["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
            _, revoked = d.wait_for("revoked card", lambda e: access(e) and e["card"].get("status") == "revoked", 60)
            self.assertNotEqual(revoked["decision"], "grant")
            self.assertEqual(revoked["reason"], "card_revoked")
            self.assertEqual(revoked["door"], "closed")
            self.assertTrue(revoked["referred_to_staff"])
            self.assertTrue(5000 <= revoked["card"]["number"] <= 5009)
            _, misread = d.wait_for("misread card", lambda e: access(e) and e["card"].get("status") == "misread", 60)
            self.assertIn(misread["card"]["error"], ("parity_error_leading", "parity_error_trailing"))
            self.assertEqual((misread["decision"], misread["next"], misread["door"]), ("pending", "read_card", "closed"))

            # The relay was driven: its state-change counter (input registers 1-2) moved, as mbpoll reads it.
            p = subprocess.run(["mbpoll", "-m", "tcp", "-p", str(dev.port("relay")), "-a", "1", "-o", "1", "-t", "3",
                                "-r", "1", "-c", "3", "-1", "127.0.0.1"], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            regs = {int(k): int(v) for k, v in re.findall(r"\[(\d+)\]:\s+(-?\d+)", p.stdout)}
            self.assertGreater(regs[2] * 65536 + regs[3], 0, p.stdout)

            st = d.status()["lanes"][0]
            grants = [e for e in d.events if access(e) and e["decision"] == "grant"]
            self.assertGreaterEqual(st["relay"]["opens"], len(grants))
            self.assertGreater(st["thermal"]["reads"], 0)
            self.assertGreater(st["thermal"]["valid"], 0)
            self.assertGreaterEqual(st["attempts"]["card"], 3)
            self.assertGreater(st["devices"]["reader"]["acks_sent"], 0)
            # The test pattern has no face: frames are analysed, nothing is acquired or decided by face.
            self.assertGreater(st["frames_analysed"], 0)
            self.assertEqual(st["faces"]["acquired"], 0)
            self.assertEqual(st["attempts"]["face"], 0)
            self.assertFalse([e for e in d.events if access(e) and e["source"] == "face"])
            self.assert_clean_stop(d)
            rc, out, err = dev.stop()
            self.assertEqual(rc, 0, err)

    def test_camera_outage_is_logged_and_reconnected(self):
        with Devices("camera-off.yaml") as dev, Daemon(self.config(dev)) as d:
            i, _ = d.wait_for("camera_up", lambda e: e["event"] == "camera_up", STARTUP)
            # Off from 07:01 for 30 s of simulated time: 6 s to 9 s of wall time after the devices started.
            i, down = d.wait_for("camera_down", lambda e: e["event"] == "camera_down", 30, i)
            self.assertEqual(down["was"], "up")
            _, up = d.wait_for("camera_up after the outage", lambda e: e["event"] == "camera_up", 30, i)
            self.assertGreater(up["down_for_s"], 0)
            self.assertGreaterEqual(up["failed_attempts"], 1)
            # SIGHUP (a service manager's reload) is logged and does not stop the daemon.
            d.proc.send_signal(signal.SIGHUP)
            d.wait_for("reload_ignored", lambda e: e["event"] == "reload_ignored", 10)
            cam = d.status()["lanes"][0]["devices"]["camera"]
            self.assertTrue(cam["connected"])
            self.assertEqual(cam["reconnects"], 1)
            self.assertGreaterEqual(cam["failures"], 2)  # the lost stream and at least one refused reconnect
            self.assert_clean_stop(d)

    def test_unreachable_relay_keeps_the_door_locked(self):
        with Devices("relay-off.yaml") as dev:
            for mode in ("secure", "safe"):
                with self.subTest(fail_mode=mode), Daemon(self.config(dev, fail_mode=mode)) as d:
                    d.wait_for("relay_down", lambda e: e["event"] == "relay_down", STARTUP)
                    i, grant = d.wait_for("granted card", lambda e: access(e) and e["decision"] == "grant", 60)
                    self.assertEqual(grant["door"], "not_opened")
                    self.assertIn("relay_error", grant)
                    _, alarm = d.wait_for("relay_unreachable", lambda e: e["event"] == "relay_unreachable", 1)
                    self.assertEqual((alarm["fail_mode"], alarm["door"]), (mode, "not_opened"))
                    self.assertEqual(alarm["attempt"], grant["attempt"])
                    self.assertIn("fail-secure" if mode == "secure" else "fail-safe", alarm["action"])
                    relay = d.status()["lanes"][0]["devices"]["relay"]
                    self.assertFalse(relay["connected"])
                    self.assertEqual(relay["fail_mode"], mode)
                    self.assert_clean_stop(d)
            rc, out, err = dev.stop()
            self.assertEqual(rc, 0, err)
            self.assertIn("relay 0 state changes", out)  # the door never moved

    def test_a_reader_sending_garbage_is_reconnected(self):
        fake = FakeController()
        with open(os.path.join(self.tmp, "no-temperature.yaml"), "w") as f:
            f.write("temperature_mode: off\n")
        path = os.path.join(self.tmp, "gate.yaml")
        with open(path, "w") as f:  # camera and relay on ports where nothing listens: they stay down
            f.write(f"""gate: north
residents: residents.yaml
policy: no-temperature.yaml
events: "-"
status: gatectl.sock
reconnect: {{initial: 0.2 s, max: 1 s}}
lanes:
  - name: north-1
    camera: rtsp://127.0.0.1:1/north-1
    relay: modbus-tcp://127.0.0.1:1/1
    reader: wiegand-tcp://127.0.0.1:{fake.port}
""")
        try:
            with Daemon(path) as d:
                up, _ = d.wait_for("reader_up", lambda e: e["event"] == "reader_up", STARTUP)
                self.assertEqual(d.events[up]["keepalive_ms"], 1000)
                _, first = d.wait_for("card 1000", lambda e: access(e) and e["card"].get("number") == 1000, 30)
                self.assertEqual((first["decision"], first["person_id"], first["door"]), ("grant", 1, "not_opened"))
                self.assertEqual(first["card"]["sequence"], 1)
                # The ack goes out before the door is tried, so the garbage may come before the card's event.
                i, down = d.wait_for("reader_down", lambda e: e["event"] == "reader_down", 30, up)
                self.assertIn("unreadable message from the controller: magic", down["error"])
                i, _ = d.wait_for("reader_up again", lambda e: e["event"] == "reader_up", 30, i)
                _, missed = d.wait_for("missed events", lambda e: e["event"] == "card_events_missed", 30, i)
                self.assertEqual((missed["first_sequence"], missed["last_sequence"], missed["count"]), (2, 5, 4))
                _, revoked = d.wait_for("card 5000", lambda e: access(e) and e["card"].get("number") == 5000, 30, i)
                self.assertEqual(revoked["reason"], "card_revoked")
                self.assertTrue(fake.done.wait(30))
                self.assertIsNone(fake.error)
                self.assertEqual(fake.acked, [1])
                reader = d.status()["lanes"][0]["devices"]["reader"]
                self.assertEqual((reader["connected"], reader["reconnects"], reader["framing_errors"]), (True, 1, 1))
                self.assertEqual(reader["missed_events"], 4)
                self.assert_clean_stop(d)
        finally:
            fake.close()

    def test_bad_configuration_names_file_line_and_field(self):
        path = os.path.join(self.tmp, "bad.yaml")
        with open(path, "w") as f:
            f.write("gate: north\n"                                       # 1
                    "status: gatectl.sock\n"                              # 2
                    "reconect: {initial: 1 s}\n"                          # 3 misspelt key
                    "cooldown: soon\n"                                    # 4 not a duration
                    "lanes:\n"                                            # 5
                    "  - name: north-1\n"                                 # 6
                    "    camera: ftp://127.0.0.1/x\n"                     # 7 not a camera URL
                    "    relay: modbus-tcp://127.0.0.1\n"                 # 8 no port
                    "    reader: wiegand-tcp://127.0.0.1:4000\n"          # 9
                    "    fail_mode: open\n")                              # 10 not a fail mode
        for cmd in ("run", "status"):
            p = subprocess.run([GATECTL, cmd, "--config", path], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)
            for pattern in (r":3:1: reconect: unknown key", r":4:11: cooldown: must be a duration",
                            r":7:13: lanes\[0\]\.camera: must be an rtsp://", r":8:12: lanes\[0\]\.relay: must be",
                            r":10:16: lanes\[0\]\.fail_mode: must be secure or safe"):
                self.assertRegex(p.stderr, re.escape(path) + pattern)
        # A residents file with a bad card and a policy that measures temperature on a lane with no sensor.
        with open(os.path.join(self.tmp, "bad-residents.yaml"), "w") as f:
            f.write("residents:\n  - id: 1\n    cards: [{facility: 300, number: 1}]\n")
        with open(path, "w") as f:
            f.write("gate: north\nstatus: gatectl.sock\nresidents: bad-residents.yaml\nlanes:\n"
                    "  - name: north-1\n    camera: rtsp://127.0.0.1:1/x\n    relay: modbus-tcp://127.0.0.1:2/1\n")
        p = subprocess.run([GATECTL, "run", "--config", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertRegex(p.stderr, re.escape(path) + r":5:1: lanes\[0\]\.thermal: missing, but the policy measures")
        with open(os.path.join(self.tmp, "off.yaml"), "w") as f:
            f.write("temperature_mode: off\n")
        with open(path, "a") as f:
            f.write("policy: off.yaml\n")
        p = subprocess.run([GATECTL, "run", "--config", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertRegex(p.stderr, r"bad-residents\.yaml:3:\d+: residents\[0\]\.cards\[0\]\.facility: must be a whole "
                                   r"number in \[0, 255\]")
        # No daemon on the socket: status says so (exit 1).
        with open(path, "w") as f:
            f.write("gate: north\nstatus: gatectl.sock\nlanes:\n"
                    "  - name: north-1\n    camera: rtsp://127.0.0.1:1/x\n    relay: modbus-tcp://127.0.0.1:2/1\n")
        p = subprocess.run([GATECTL, "status", "--config", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("no gatectl answers on", p.stderr)


def models_installed():
    d = os.path.join(private_models.installed_models_root(), "faceplugin-0.0.1")
    return all(os.path.exists(os.path.join(d, f))
               for f in ("fr_detect.onnx", "fr_landmark.onnx", "fr_feature.onnx", "gatetwin-mask-v1.yaml"))


if __name__ == "__main__":
    GATECTL, GATETWIN = sys.argv.pop(1), sys.argv.pop(1)
    if not models_installed():
        sys.exit("test_gatectl_daemon: no face models with a mask classifier in "
                 f"{private_models.installed_models_root()}/faceplugin-0.0.1 (scripts/setup.sh installs the models; "
                 "the hil_models test fixture trains the classifier)")
    unittest.main(verbosity=2)
