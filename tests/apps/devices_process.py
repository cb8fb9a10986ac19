"""`gatetwin devices` as a child process for the tests that point real clients at it (test_devices.py,
test_gatectl_daemon.py): started, read up to its `ready` line, its URLs by (lane, device); stopped with
SIGTERM, or killed if a test fails first. Every stream is closed."""
import re
import signal
import subprocess

_URL_LINE = re.compile(r"gate (\S+) lane (\d+) (camera mjpeg|camera|snapshot|thermal|relay|card reader) +(\S+)")


class Devices:
    def __init__(self, gatetwin, *args):
        self.proc = subprocess.Popen([gatetwin, "devices", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lane_urls = {}  # (lane, device) -> URL, lane from 1
        self.lines = []
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.strip() == "ready":
                break
            m = _URL_LINE.match(line)
            if m:
                self.lane_urls[(int(m.group(2)), m.group(3))] = m.group(4)
        else:
            err = self.proc.stderr.read()
            self.__exit__()
            raise RuntimeError("gatetwin devices ended before ready: " + "".join(self.lines) + err)

    def lane_port(self, lane, device):
        return int(self.lane_urls[(lane, device)].split(":")[2].split("/")[0])

    def stop(self):
        """SIGTERM; returns (exit status, stdout after the ready line, stderr)."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()
