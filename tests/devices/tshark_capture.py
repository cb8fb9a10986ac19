"""Capture loopback traffic with tshark and dissect it: a real, independent decoder of what our emulated
devices put on the wire (Modbus TCP, RTSP/RTP, HTTP ...). Used by the device tests; needs tshark and
the right to capture (the tests run as root).

API
---
ports_filter(tcp=(), udp=()) -> str
    A capture (BPF) filter for these ports: ports_filter(tcp=[502, 1502]) == "tcp port 502 or tcp port 1502".

decode_as(protocol, tcp=(), udp=()) -> list[str]
    tshark `-d` arguments that decode traffic on non-standard ports as `protocol`:
    decode_as("mbtcp", tcp=[40123]) == ["-d", "tcp.port==40123,mbtcp"]. Some dissectors need a preference
    as well, passed the same way: Modbus/TCP tells queries from responses by its server port, so use
    ["-o", "mbtcp.tcp.port:40123,40124"] (which also makes tshark decode those ports as Modbus/TCP).
    Every function below takes such a list as `decode` (any extra `tshark -r` arguments).

Capture(capture_filter, path=None, interface="lo", timeout=20.0)
    Context manager. On entry runs `tshark -i INTERFACE -f "(FILTER) or udp port S" -w PATH`, where S is a
    UDP port the capture holds open for its own marker datagrams, and returns once a marker sent after
    tshark said "Capturing on ..." is in the file: the capture is live (no sleeps). On exit it sends
    another marker and waits until that too is in the file before stopping tshark with SIGINT (tshark
    hands packets to the file in blocks, up to a second late, and loses the last block when stopped
    early), then waits for tshark to end. PATH defaults to a new .pcapng in a temporary directory (kept).
    Raises CaptureError when tshark exits, or a marker does not arrive, within `timeout` seconds.
    On an interface other than lo no markers are sent (start on "Capturing on", stop at once).
    Methods (valid after the block): .count(display_filter, decode=()), .fields(display_filter, fields,
    decode=()) and .dissect(protocol, decode=()) as below, leaving the marker datagrams out; .path;
    .stderr_lines (tshark's messages).

count(path, display_filter, decode=(), exclude=None) -> int
    The number of packets in a capture file that match a display filter (and not `exclude`), dissected
    with the `decode` arguments (from decode_as).

fields(path, display_filter, fields, decode=(), exclude=None) -> list[list[str]]
    For each matching packet, the values of `fields` (tshark -T fields; a field with several occurrences
    is one comma-separated string), e.g. fields(p, "modbus.regval_uint16", ["modbus.regval_uint16"]).

dissect(path, protocol, decode=(), exclude=None) -> Dissection(packets, protocol_packets, malformed,
                                                               malformed_frames)
    The file's packet count, the packets carrying `protocol` (a display filter such as "mbtcp", "rtp",
    "http"), and the packets tshark could not dissect cleanly (MALFORMED below), with (frame number,
    info column) of each for the report.

MALFORMED = "_ws.malformed || _ws.expert.severity == error"
    A packet is malformed when a dissector ran out of bytes or met a field it cannot accept
    (_ws.malformed, "[Malformed Packet]"), or raised an expert item of severity error (e.g. a length
    field that disagrees with the data). Warnings and notes (a TCP retransmission, a Modbus exception
    response) are not errors: exception replies are legal traffic.
"""

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple

TSHARK = "tshark"
MALFORMED = "_ws.malformed || _ws.expert.severity == error"


class CaptureError(RuntimeError):
    pass


def ports_filter(tcp: Iterable[int] = (), udp: Iterable[int] = ()) -> str:
    terms = [f"tcp port {int(p)}" for p in tcp] + [f"udp port {int(p)}" for p in udp]
    if not terms:
        raise ValueError("ports_filter needs at least one port")
    return " or ".join(terms)


def decode_as(protocol: str, tcp: Iterable[int] = (), udp: Iterable[int] = ()) -> List[str]:
    args = []
    for p in tcp:
        args += ["-d", f"tcp.port=={int(p)},{protocol}"]
    for p in udp:
        args += ["-d", f"udp.port=={int(p)},{protocol}"]
    return args


class Capture:
    def __init__(self, capture_filter: str, path: Optional[str] = None, interface: str = "lo",
                 timeout: float = 20.0):
        self.interface = interface
        self.timeout = timeout
        if path is None:
            path = os.path.join(tempfile.mkdtemp(prefix="gatetwin-capture-"), "capture.pcapng")
        self.path = path
        self.stderr_lines: List[str] = []
        self._markers = interface == "lo"
        self._marker_socket: Optional[socket.socket] = None
        self.marker_port = 0
        if self._markers:
            # Markers go to a port this socket holds, so they are delivered (no ICMP) and nobody else's.
            self._marker_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._marker_socket.bind(("127.0.0.1", 0))
            self.marker_port = self._marker_socket.getsockname()[1]
            capture_filter = f"({capture_filter}) or udp port {self.marker_port}"
        self.capture_filter = capture_filter
        self._proc: Optional[subprocess.Popen] = None
        self._reader: Optional[threading.Thread] = None
        self._capturing = threading.Event()

    @property
    def exclude(self) -> Optional[str]:
        """A display filter for the capture's own marker datagrams."""
        return f"udp.port == {self.marker_port}" if self._markers else None

    def _read_stderr(self):
        # Drains tshark's stderr for the whole capture (a full pipe would stall it) and notes the moment
        # it starts capturing.
        for line in self._proc.stderr:
            self.stderr_lines.append(line.rstrip("\n"))
            if line.startswith("Capturing on"):
                self._capturing.set()

    def _fail(self, why: str):
        self._stop()
        raise CaptureError(f"tshark on {self.interface} ({self.capture_filter}): {why}: "
                           + " | ".join(self.stderr_lines))

    def _mark(self, what: str):
        """Sends marker datagrams until the capture file holds one (tshark may attach its filter a moment
        after saying "Capturing on", so an early marker can go uncaptured), polling the file's bytes."""
        token = f"gatetwin-capture-{what}-{uuid.uuid4().hex}".encode()
        deadline = time.monotonic() + self.timeout
        next_send = 0.0
        while True:
            now = time.monotonic()
            if now >= next_send:
                self._marker_socket.sendto(token, ("127.0.0.1", self.marker_port))
                next_send = now + 0.25
            try:
                with open(self.path, "rb") as f:
                    if token in f.read():
                        return
            except FileNotFoundError:
                pass
            if self._proc.poll() is not None:
                self._fail(f"tshark exited before the {what} marker reached the file")
            if now > deadline:
                self._fail(f"the {what} marker did not reach the file within {self.timeout} s")
            time.sleep(0.02)  # polling the file for a condition, not waiting for time to pass

    def __enter__(self) -> "Capture":
        self._proc = subprocess.Popen(
            [TSHARK, "-i", self.interface, "-f", self.capture_filter, "-w", self.path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.timeout
        while not self._capturing.wait(0.05):
            if self._proc.poll() is not None:
                self._fail("tshark exited before capturing")
            if time.monotonic() > deadline:
                self._fail(f"no \"Capturing on\" within {self.timeout} s")
        if self._markers:
            self._mark("start")
        return self

    def _stop(self):
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reader.join(timeout=5)
        self._proc.stderr.close()
        if self._marker_socket:
            self._marker_socket.close()
            self._marker_socket = None

    def __exit__(self, exc_type, *rest):
        try:
            if self._markers and exc_type is None:
                self._mark("end")
        finally:
            self._stop()
        return False

    def count(self, display_filter: str, decode: Sequence[str] = ()) -> int:
        return count(self.path, display_filter, decode, self.exclude)

    def fields(self, display_filter: str, names: Sequence[str], decode: Sequence[str] = ()) -> List[List[str]]:
        return fields(self.path, display_filter, names, decode, self.exclude)

    def dissect(self, protocol: str, decode: Sequence[str] = ()) -> "Dissection":
        return dissect(self.path, protocol, decode, self.exclude)


def _tshark_read(path: str, args: Sequence[str]) -> str:
    out = subprocess.run([TSHARK, "-n", "-r", path, *args], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise CaptureError(f"tshark -r {path} {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
    return out.stdout


def _frames(path: str, display_filter: Optional[str], decode: Sequence[str], exclude: Optional[str] = None,
            fields=("frame.number",)) -> List[List[str]]:
    terms = [f"({t})" for t in (display_filter, f"!({exclude})" if exclude else None) if t]
    args = list(decode)
    if terms:
        args += ["-Y", " && ".join(terms)]
    args += ["-T", "fields", "-E", "separator=\t"]
    for f in fields:
        args += ["-e", f]
    return [line.split("\t") for line in _tshark_read(path, args).splitlines() if line.strip()]


def count(path: str, display_filter: str, decode: Sequence[str] = (), exclude: Optional[str] = None) -> int:
    return len(_frames(path, display_filter, decode, exclude))


def fields(path: str, display_filter: str, names: Sequence[str], decode: Sequence[str] = (),
           exclude: Optional[str] = None) -> List[List[str]]:
    return _frames(path, display_filter, decode, exclude, fields=tuple(names))


class Dissection(NamedTuple):
    packets: int
    protocol_packets: int
    malformed: int
    malformed_frames: List[Tuple[str, str]]


def dissect(path: str, protocol: str, decode: Sequence[str] = (), exclude: Optional[str] = None) -> Dissection:
    bad = _frames(path, MALFORMED, decode, exclude, fields=("frame.number", "_ws.col.Info"))
    return Dissection(packets=len(_frames(path, None, decode, exclude)),
                      protocol_packets=count(path, protocol, decode, exclude),
                      malformed=len(bad),
                      malformed_frames=[(row[0], row[1] if len(row) > 1 else "") for row in bad])
