#!/usr/bin/env python3
"""The camera against FFmpeg's command-line client and a packet dissector.

ffprobe reads the RTSP stream over TCP and over UDP and the MJPEG stream, and decodes 10 frames of
640x480 MJPEG from each with increasing timestamps; with Digest authentication on, the right password is
admitted and a missing one refused with 401. tshark captures a session of each protocol on loopback and
dissects it (RTSP, RTP/JPEG, RTCP, HTTP multipart) with zero malformed packets.

Usage: test_camera_clients.py CAMERA_SERVER
"""
import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SERVER = None


class Camera:
    """camera_server on ephemeral ports; its ready line gives the URLs. Stopped by closing its stdin."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([SERVER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready "):
            self.proc.kill()
            raise RuntimeError("camera_server did not start: " + line + self.proc.stderr.read())
        self.urls = dict(item.split("=", 1) for item in line.split()[1:])

    def port(self, key):
        return int(self.urls[key].split(":")[2].split("/")[0])

    def stop(self):
        """Closes stdin, waits, returns the counters line."""
        out, _ = self.proc.communicate(timeout=30)
        return dict(item.split("=", 1) for item in out.split())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def ffprobe(url, *options, frames=10):
    cmd = ["ffprobe", "-v", "error", *options, "-select_streams", "v", "-show_entries",
           "stream=codec_name,width,height:frame=pts_time,width,height", "-read_intervals", "%+#" + str(frames),
           "-of", "json", url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip() else {}), p.stderr


class FfprobeReadsEveryStream(unittest.TestCase):
    def check(self, url, *options):
        rc, out, err = ffprobe(url, *options)
        self.assertEqual(rc, 0, err)
        stream = out["streams"][0]
        self.assertEqual((stream["codec_name"], stream["width"], stream["height"]), ("mjpeg", 640, 480))
        frames = out["frames"]
        self.assertEqual(len(frames), 10)
        times = [float(f["pts_time"]) for f in frames if "pts_time" in f]
        if times:  # RTSP frames carry timestamps from the RTP clock; MJPEG over HTTP may not
            self.assertEqual(times, sorted(times))
            self.assertEqual(len(set(times)), len(times))

    def test_rtsp_tcp_udp_and_mjpeg(self):
        with Camera() as cam:
            self.check(cam.urls["rtsp"], "-rtsp_transport", "tcp")
            self.check(cam.urls["rtsp"], "-rtsp_transport", "udp")
            self.check(cam.urls["mjpeg"])
            counters = cam.stop()
        self.assertEqual(counters["protocol_errors"], "0")
        self.assertEqual(counters["rtsp_sessions"], "2")

    def test_digest_authentication(self):
        with Camera("--auth", "admin:gate-2020") as cam:
            url = cam.urls["rtsp"]
            self.check(url.replace("rtsp://", "rtsp://admin:gate-2020@"), "-rtsp_transport", "tcp")
            rc, _, err = ffprobe(url, "-rtsp_transport", "tcp")
            self.assertNotEqual(rc, 0)
            self.assertIn("401", err)
            counters = cam.stop()
        self.assertGreaterEqual(int(counters["auth_failures"]), 1)


class TsharkDissectsEveryProtocol(unittest.TestCase):
    def test_rtsp_rtp_rtcp_and_http(self):
        import tshark_capture as tc
        with Camera() as cam:
            rtsp_port, http_port = cam.port("rtsp"), cam.port("mjpeg")
            # RTP and RTCP over UDP use ports negotiated in SETUP: capture all loopback UDP; tshark's RTSP
            # dissector reads the Transport header and decodes those ports as RTP/RTCP.
            with tc.Capture(tc.ports_filter(tcp=[rtsp_port, http_port]) + " or udp") as cap:
                ffprobe(cam.urls["rtsp"], "-rtsp_transport", "tcp", frames=20)
                ffprobe(cam.urls["rtsp"], "-rtsp_transport", "udp", frames=20)
                ffprobe(cam.urls["mjpeg"], frames=5)
            cam.stop()
        decode = tc.decode_as("rtsp", tcp=[rtsp_port]) + tc.decode_as("http", tcp=[http_port])
        results = {proto: cap.dissect(proto, decode) for proto in
                   ["rtsp", "rtp", "jpeg", "rtcp", "http", "mime_multipart"]}
        for proto, d in results.items():
            print(f"{proto}: {d.protocol_packets} of {d.packets} packets, malformed {d.malformed}")
            self.assertGreater(d.protocol_packets, 0, proto)
        any_result = next(iter(results.values()))
        self.assertEqual(any_result.malformed, 0, any_result.malformed_frames[:5])
        # Both transports carried RTP/JPEG: interleaved in the RTSP connection and in UDP datagrams.
        self.assertGreater(cap.count("rtp && tcp", decode), 0)
        self.assertGreater(cap.count("rtp && udp", decode), 0)
        self.assertGreater(cap.count("rtcp.pt == 200", decode), 0)  # sender reports


if __name__ == "__main__":
    SERVER = sys.argv.pop(1)
    unittest.main(verbosity=2)
