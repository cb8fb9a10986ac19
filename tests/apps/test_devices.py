#!/usr/bin/env python3
"""`gatetwin devices` as a person uses it: serve a scenario's lanes, point real clients at the printed URLs.

scenarios/devices/two-lanes-faults.yaml at 07:30 (its faults active): ffprobe reads lane 1's camera with
the password and is refused without it, and is refused by lane 2's camera (off); mbpoll reads lane 1's
thermal sensor stuck at 39.50 °C and lane 2's normal one, switches lane 1's relay and gets exception 0x04
from lane 2's; a host receives card events from the reader. SIGTERM stops the command cleanly. Bad input:
a scenario error is reported with file:line and exit 2; a taken port names itself and exits 3.

Usage: test_devices.py GATETWIN
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "devices"))
import devices_process  # noqa: E402  (gatetwin devices as a child process)
import card_reader_peer  # noqa: E402  (its decoder of the Wiegand TCP transport)

GATETWIN = None
SCENARIO = os.path.join(ROOT, "scenarios", "devices", "two-lanes-faults.yaml")


class Devices(devices_process.Devices):
    """`gatetwin devices` until its `ready` line; the URLs by (lane, device)."""

    def __init__(self, *args):
        super().__init__(GATETWIN, *args)
        self.urls = self.lane_urls

    def port(self, lane, device):
        return self.lane_port(lane, device)


def mbpoll(port, *args, write=()):
    """mbpoll against 127.0.0.1:port, unit 1, 1 s timeout; `write`: values to write (after the host)."""
    p = subprocess.run(["mbpoll", "-m", "tcp", "-p", str(port), "-a", "1", "-o", "1", *args, "127.0.0.1", *write],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def ffprobe(url):
    p = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v", "-show_entries",
                        "stream=codec_name,width,height", "-of", "csv=p=0", url],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.strip(), p.stderr


class ServesTheScenario(unittest.TestCase):
    def test_clients_at_the_printed_urls_see_the_scheduled_faults(self):
        with Devices(SCENARIO, "--start", "07:30:01") as d:
            self.assertEqual(len(d.urls), 12, d.lines)  # 2 lanes x 6 URLs
            # Camera with Digest authentication (devices.camera_auth) ...
            url1 = d.urls[(1, "camera")]
            rc, out, err = ffprobe(url1.replace("rtsp://", "rtsp://admin:gate-2020@"))
            self.assertEqual((rc, out), (0, "mjpeg,640,480"), err)
            rc, _, err = ffprobe(url1)
            self.assertNotEqual(rc, 0)
            self.assertIn("401", err)
            # ... and lane 2's camera is off from 07:30 for a minute: connections are refused or dropped.
            rc, _, err = ffprobe(d.urls[(2, "camera")].replace("rtsp://", "rtsp://admin:gate-2020@"))
            self.assertNotEqual(rc, 0)
            # Thermal sensors: input register 0 is the object temperature in 0.01 °C.
            rc, out = mbpoll(d.port(1, "thermal"), "-t", "3", "-r", "1", "-c", "1", "-1")
            self.assertEqual(rc, 0, out)
            self.assertRegex(out, r"\[1\]:\s+3950\b")  # stuck at 39.5 °C
            rc, out = mbpoll(d.port(2, "thermal"), "-t", "3", "-r", "1", "-c", "1", "-1")
            self.assertEqual(rc, 0, out)
            reading = int(re.search(r"\[1\]:\s+(\d+)", out).group(1))
            self.assertTrue(1000 <= reading <= 3800, out)  # someone's skin or the background, not the fault
            # Relays: lane 1 switches its lock coil; lane 2 answers exception 0x04.
            rc, out = mbpoll(d.port(1, "relay"), "-t", "0", "-r", "1", write=["1"])
            self.assertEqual(rc, 0, out)
            rc, out = mbpoll(d.port(1, "relay"), "-t", "0", "-r", "1", "-c", "1", "-1")
            self.assertEqual(rc, 0, out)
            self.assertRegex(out, r"\[1\]:\s+1\b")
            rc, out = mbpoll(d.port(2, "relay"), "-t", "0", "-r", "1", write=["1"])
            self.assertNotEqual(rc, 0)
            self.assertIn("failure", out.lower())  # "Slave device or server failure"
            # Card reader: the host gets the reader's status, then card events (a card every 15 s of
            # simulated time; at --start 07:30:01 the first comes at once).
            host, port = d.urls[(1, "card reader")].replace("wiegand-tcp://", "").split(":")
            with socket.create_connection((host, int(port)), timeout=10) as s:
                s.settimeout(10)
                buf, kinds = b"", []
                while "card" not in kinds:
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, "reader closed the connection")
                    messages, buf = card_reader_peer.split(buf + chunk)
                    kinds += [m["type"] for m in messages]
                self.assertEqual(kinds[0], "status")
            rc, out, err = d.stop()
        self.assertEqual(rc, 0, err)
        self.assertIn("stopped on SIGTERM", out)
        self.assertRegex(out, r"gate north lane 1: camera \d+ frames, [1-9]\d* sent, 1 RTSP sessions")

    def test_bad_scenario_names_file_and_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("name: x\ngates:\n  - name: g\n    lanes: 1\nfaults:\n  - device: camera\n    lane: 2\n")
        p = subprocess.run([GATETWIN, "devices", f.name, "--for", "1"], capture_output=True, text=True, timeout=30)
        os.unlink(f.name)
        self.assertEqual(p.returncode, 2)
        self.assertRegex(p.stderr, re.escape(f.name) + r":7:\d+: faults\[0\]\.lane: gate 'g' has 1 lane\(s\), not 2")

    def test_a_taken_port_is_named(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            p = subprocess.run([GATETWIN, "devices", SCENARIO, "--base-port", str(port), "--for", "1"],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(f"camera: cannot listen on port {port}", p.stderr)


if __name__ == "__main__":
    GATETWIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
