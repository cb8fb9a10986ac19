#!/usr/bin/env python3
"""The enrolment registry (docs/privacy.md) as a property office and a gate use it, through gatectl only.

- Lifecycle: `registry init` (owner-only directory, key and token file); a request as the mini-program sends
  it (JSON with a base64 photo of a synthetic resident and separate consent) and one from flags; a bad request
  exits 1 naming the file and field; the token is refused when missing (2), readable by others (2) or wrong (3);
  review and approval make templates and delete the photo; movement tracking is refused (3) until the person
  consents to it; withdrawal deletes the templates (their sealed bytes leave every file of the registry) and
  keeps card access; `expire --now` deletes templates whose retention ended; `audit verify` passes, and after
  someone drops the append-only trigger and edits a record it fails (1) naming that record.
- The gate: `gatectl run` with the registry, `gatetwin devices` for camera and relay, and a card controller
  sending a card every 40 ms. A withdrawal while it runs reloads the faces (`faces_reloaded`) and the person's
  card is still granted. After 40 decisions the daemon is killed with SIGKILL: the log verifies, every
  `audit_seq` an access event carried is a committed record of that lane and attempt, and the gate restarts.
- A full disk (RLIMIT_FSIZE of 64 KiB, so SQLite's writes get EFBIG): `audit_down`; a fail-secure lane keeps the
  door locked for grants it cannot record, a fail-safe lane opens and says so; status shows the log down; what
  was committed still verifies.
- An immutable audit log (chattr +i, where the file system and privileges allow it): admin commands refuse to
  change anything; the gate starts, reports `audit_down` and applies its fail mode.

Usage: test_registry.py GATECTL GATETWIN   (from the repository root; CTest does this with $GATETWIN_MODELS set
to the hil_models fixture's models, which have the mask classifier gatectl run needs)
"""
import base64
import json
import os
import resource
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_gatectl_daemon as daemon_test  # noqa: E402  (Daemon, Devices, w26_card, models_installed)
from test_gatectl_daemon import Daemon, access, w26_card  # noqa: E402
import card_reader_peer  # noqa: E402  (tests/devices: the Wiegand TCP transport, written from docs/wiegand.md)

GATECTL = GATETWIN = None
TMP = None
STARTUP = daemon_test.STARTUP


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="gatetwin-registry-")
    r = subprocess.run([GATETWIN, "faces", "-o", os.path.join(TMP, "faces"), "--identities", "3", "--unmasked", "1",
                        "--masked", "0", "--below-nose", "0", "--nuisance", "0.2"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


def photo(person):
    return os.path.join(TMP, "faces", "p%05d_c00_none.jpg" % person)


def lines(stdout):
    return [json.loads(l) for l in stdout.splitlines() if l.strip()]


class Registry:
    """A registry directory made by `gatectl registry init`, and gatectl run against it with the token file."""

    def __init__(self, root):
        self.dir = os.path.join(root, "registry")
        self.token = os.path.join(root, "token")
        r = self.gatectl("registry", "init", "--registry", self.dir, "--token-out", self.token, token=False)
        assert r.returncode == 0, r.stderr

    def gatectl(self, *args, token=True, env=None):
        cmd = [GATECTL, *args]
        if token:
            cmd += ["--registry", self.dir, "--token-file", self.token, "--staff", "wang"]
        if env is None:  # the token comes from the file only
            env = {k: v for k, v in os.environ.items() if k != "GATECTL_TOKEN"}
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)

    def enrol(self, person, phone, retention_days=365, purposes=("access",)):
        """Submitted from flags and approved; returns the approval's output."""
        args = ["enroll", "--person", str(person), "--photo", photo(person), "--phone", phone,
                "--residence", "Building %d, Unit 1, Room 10%d" % (person, person),
                "--retention-days", str(retention_days), "--notice", "biometric-notice-2020-06"]
        for p in purposes:
            args += ["--purpose", p]
        r = self.gatectl(*args)
        assert r.returncode == 0, r.stderr
        [submitted] = lines(r.stdout)
        r = self.gatectl("review", "--approve", str(submitted["request"]))
        assert r.returncode == 0, r.stderr
        return lines(r.stdout)[0]

    def audit(self, subject=None):
        r = self.gatectl("audit", "show", *(["--subject", subject] if subject else []))
        assert r.returncode == 0, r.stderr
        return lines(r.stdout)

    def verify(self):
        return self.gatectl("audit", "verify")


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lifecycle-", dir=TMP)
        self.reg = Registry(self.tmp)

    def test_from_request_to_withdrawal_expiry_and_a_tampered_log(self):
        reg = self.reg
        self.assertEqual(stat.S_IMODE(os.stat(reg.dir).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(reg.token).st_mode), 0o600)
        with open(reg.token) as f:
            self.assertRegex(f.read().strip(), r"^[0-9a-f]{64}$")

        # The token: none, readable by others, wrong.
        r = reg.gatectl("review", "--registry", reg.dir, token=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("admin token", r.stderr)
        loose = os.path.join(self.tmp, "token-0644")
        shutil.copy(reg.token, loose)
        os.chmod(loose, 0o644)
        r = reg.gatectl("review", "--registry", reg.dir, "--token-file", loose, token=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("token file '%s': mode 0644" % loose, r.stderr)
        wrong = os.path.join(self.tmp, "token-wrong")
        with open(wrong, "w") as f:
            f.write("0" * 64 + "\n")
        os.chmod(wrong, 0o600)
        r = reg.gatectl("review", "--registry", reg.dir, "--token-file", wrong, token=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("the failure is in the audit log", r.stderr)
        with open(reg.token) as f:
            env = dict(os.environ, GATECTL_TOKEN=f.read().strip())
        r = reg.gatectl("review", "--registry", reg.dir, token=False, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)

        # A request as the mini-program sends it; a bundled consent is refused naming the file and field.
        with open(photo(1), "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        request = {"person": 1, "phone": "+86 138-0013-8001", "residence": "3号楼 2单元 401", "photo_base64": b64,
                   "consent": {"purposes": ["access"], "retention_days": 365, "notice": "biometric-notice-2020-06",
                               "separate": False}}
        req_file = os.path.join(self.tmp, "req.json")
        with open(req_file, "w") as f:
            json.dump(request, f, ensure_ascii=False)
        r = reg.gatectl("enroll", "--request", req_file)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(req_file + ": consent.separate: must be true", r.stderr)
        request["consent"]["separate"] = True
        with open(req_file, "w") as f:
            json.dump(request, f, ensure_ascii=False)
        r = reg.gatectl("enroll", "--request", req_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        [submitted] = lines(r.stdout)
        self.assertEqual((submitted["person"], submitted["status"]), (1, "pending"))
        r = reg.gatectl("review")
        [pending] = lines(r.stdout)
        self.assertEqual((pending["request"], pending["phone"]), (submitted["request"], "13800138001"))
        self.assertGreater(pending["photo_bytes"], 1000)
        r = reg.gatectl("review", "--approve", str(submitted["request"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        [approved] = lines(r.stdout)
        self.assertEqual((approved["status"], approved["photo"]), ("approved", "deleted"))
        self.assertGreaterEqual(approved["templates"], 1)
        self.assertEqual(lines(reg.gatectl("review").stdout), [], "nothing pending")
        # A second resident from flags, with a 30-day retention period.
        self.assertGreaterEqual(reg.enrol(2, "13900139002", retention_days=30)["templates"], 1)
        people = {p["person"]: p for p in lines(reg.gatectl("list").stdout)}
        self.assertEqual(sorted(people), [1, 2])
        self.assertEqual(people[1]["consent"]["purposes"], "access")
        self.assertEqual(people[1]["consent"]["state"], "active")
        self.assertEqual(people[1]["residence"], "3号楼 2单元 401")

        # Movement tracking is another purpose: refused until the person consents to it.
        r = reg.gatectl("movements", "--person", "1")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("refused", r.stderr)
        self.assertIn("movement_tracking", r.stderr)
        r = reg.gatectl("consent", "--person", "1", "--purpose", "access", "--purpose", "movement_tracking",
                        "--retention-days", "365", "--notice", "tracking-notice-2020-09")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(lines(r.stdout)[0]["consent"]["purposes"], "access,movement_tracking")
        r = reg.gatectl("movements", "--person", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = reg.gatectl("movements", "--person", "2")
        self.assertEqual(r.returncode, 3, "person 2 never consented to tracking")

        # Withdrawal: the sealed templates leave the registry's files, byte for byte; card access is unchanged.
        with sqlite3.connect("file:%s?mode=ro" % os.path.join(reg.dir, "gallery.db"), uri=True) as db:
            sealed = [bytes(b) for (b,) in db.execute("SELECT embedding FROM templates WHERE person = 1")]
        db.close()
        self.assertGreaterEqual(len(sealed), 1)
        self.assertTrue(any(s in self.registry_bytes() for s in sealed), "the test must see the bytes first")
        r = reg.gatectl("withdraw", "--person", "1", "--reason", "asked at the property office")
        self.assertEqual(r.returncode, 0, r.stderr)
        [withdrawn] = lines(r.stdout)
        self.assertEqual((withdrawn["templates_deleted"], withdrawn["card_access"]), (len(sealed), "unchanged"))
        self.assertEqual(withdrawn["consent"]["state"], "withdrawn")
        everything = self.registry_bytes()
        for s in sealed:
            self.assertNotIn(s, everything, "a withdrawn template's sealed bytes are still on disk")
            self.assertNotIn(s[24:56], everything, "part of a withdrawn template is still on disk")
        r = reg.gatectl("movements", "--person", "1")
        self.assertEqual(r.returncode, 3, "a withdrawn consent covers nothing")

        # Retention: in 2040 person 2's 30 days are long over.
        r = reg.gatectl("expire", "--now", "2040-01-01T00:00:00+08:00")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(lines(r.stdout)[0]["templates_deleted_for"], [2])
        r = reg.gatectl("expire", "--now", "tomorrow")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--now tomorrow", r.stderr)

        # The audit trail of all that verifies, and names each step.
        r = reg.verify()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"audit\.db: \d+ records, sealed head at \d+: OK")
        request_log = [(rec["action"], rec["detail"]["person"]) for rec in reg.audit("request:%d" % submitted["request"])]
        self.assertEqual(request_log, [("enrol_request", 1), ("approve", 1)])
        actions = [rec["action"] for rec in reg.audit("person:1")]
        self.assertEqual(actions, ["purpose_refused", "consent", "withdraw", "purpose_refused"])
        refusals = [rec["action"] for rec in reg.audit() if rec["action"] in ("auth_failed", "purpose_refused")]
        self.assertEqual(sorted(refusals), ["auth_failed"] + ["purpose_refused"] * 3,
                         "the wrong token and each refused use are audited")

        # Someone with the file drops the append-only trigger and edits a record: verify names it.
        records = reg.audit()
        target = records[len(records) // 2]["seq"]
        with sqlite3.connect(os.path.join(reg.dir, "audit.db")) as db:
            with self.assertRaises(sqlite3.DatabaseError):
                db.execute("UPDATE audit SET detail = '{}' WHERE seq = ?", (target,))
            db.execute("DROP TRIGGER audit_append_only_update")
            db.execute("UPDATE audit SET detail = '{}' WHERE seq = ?", (target,))
        db.close()
        r = reg.verify()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("record %d (" % target, r.stdout)
        self.assertIn("does not verify", r.stdout)
        self.assertIn("the append-only triggers were removed", r.stdout)

    def registry_bytes(self):
        out = b""
        for name in sorted(os.listdir(self.reg.dir)):
            with open(os.path.join(self.reg.dir, name), "rb") as f:
                out += f.read()
        return out


class CardController:
    """A Wiegand TCP controller (docs/wiegand.md) that presents card 42/(999 + person) every `interval` s for
    persons cycling through `persons`, with one sequence across connections (a reconnecting host is told how
    many events were issued). Acks are read and counted."""

    def __init__(self, persons, interval=0.04):
        self.persons, self.interval = list(persons), interval
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seq, self.acks, self.error = 0, 0, None
        self.acked = threading.Condition()
        self.stopping = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def url(self):
        return "wiegand-tcp://127.0.0.1:%d" % self.port

    def _run(self):
        self.listener.settimeout(0.5)
        while not self.stopping.is_set():
            try:
                c, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._acks, args=(c,), daemon=True).start()
            try:
                c.sendall(card_reader_peer.encode(3, bytes([3, 0, 0x03, 0xE8]), reader=1, sequence=self.seq))
                while not self.stopping.wait(self.interval):
                    self.seq += 1
                    person = self.persons[(self.seq - 1) % len(self.persons)]
                    c.sendall(card_reader_peer.encode(1, w26_card(42, 999 + person), reader=1, sequence=self.seq))
            except OSError:  # the host went away (killed): wait for it to come back
                pass

    def _acks(self, c):
        buf = b""
        try:
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    return
                messages, buf = card_reader_peer.split(buf + chunk)
                with self.acked:
                    self.acks += sum(m["type"] == "ack" for m in messages)
                    self.acked.notify_all()
        except (OSError, ValueError) as e:
            self.error = self.error or e

    def wait_for_acks(self, n, timeout):
        with self.acked:
            return self.acked.wait_for(lambda: self.acks >= n, timeout)

    def close(self):
        self.stopping.set()
        self.thread.join(timeout=10)
        for c in self.conns + [self.listener]:
            c.close()


class Gate(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gate-", dir=TMP)
        self.reg = Registry(self.tmp)
        for person, phone in ((1, "13800138001"), (2, "13900139002")):
            self.reg.enrol(person, phone)
        with open(os.path.join(self.tmp, "residents.yaml"), "w") as f:
            f.write("residents:\n")
            for k in range(1, 51):
                f.write("  - id: %d\n    cards: [{facility: 42, number: %d}]\n" % (k, 999 + k))
        with open(os.path.join(self.tmp, "cards-only.yaml"), "w") as f:
            f.write("temperature_mode: off\n")
        self.controller = CardController(range(1, 51))
        self.addCleanup(self.controller.close)
        self.addCleanup(self.unfreeze)

    def unfreeze(self):
        subprocess.run(["chattr", "-i", os.path.join(self.reg.dir, "audit.db")], capture_output=True)

    def config(self, devices, fail_mode="secure"):
        camera = devices.urls["camera"].replace("rtsp://", "rtsp://admin:gate-2020@")
        path = os.path.join(self.tmp, "gate.yaml")
        with open(path, "w") as f:
            f.write(f"""gate: north
registry: registry
purposes: [access]
consent_refresh: 0.2 s
residents: residents.yaml
policy: cards-only.yaml
events: "-"
status: gatectl.sock
reconnect: {{initial: 0.2 s, max: 1 s}}
lanes:
  - name: north-1
    camera: {camera}
    relay: {devices.urls["relay"]}
    reader: {self.controller.url()}
    fail_mode: {fail_mode}
""")
        return path

    def devices(self):
        return daemon_test.Devices("one-lane.yaml")

    def test_a_withdrawal_reaches_the_running_gate_and_a_kill_loses_no_committed_decision(self):
        with self.devices() as dev, Daemon(self.config(dev)) as d:
            _, started = d.wait_for("started", lambda e: e["event"] == "started", STARTUP)
            self.assertEqual(started["registry"]["purposes"], "access")
            self.assertGreaterEqual(started["templates"], 2)
            st = d.status()["registry"]
            self.assertEqual((st["persons"], st["audit"]["state"]), (2, "up"))
            i, _ = d.wait_for("10 decisions", lambda e: access(e) and e["attempt"] >= 10, 60)

            r = self.reg.gatectl("withdraw", "--person", "1")
            self.assertEqual(r.returncode, 0, r.stderr)
            i, reloaded = d.wait_for("faces_reloaded", lambda e: e["event"] == "faces_reloaded", 30, i)
            self.assertEqual((reloaded["persons"], reloaded["purposes"]), (1, "access"))
            self.assertEqual(reloaded["templates"], started["templates"] - lines(r.stdout)[0]["templates_deleted"])
            _, card = d.wait_for("person 1's card after the withdrawal",
                                 lambda e: access(e) and e.get("person_id") == 1, 30, i)
            self.assertEqual((card["decision"], card["reason"], card["door"]), ("grant", "card_accepted", "opened"))
            self.assertIn("audit_seq", card)

            d.wait_for("40 decisions", lambda e: access(e) and e["attempt"] >= 40, 60)
            d.proc.kill()  # SIGKILL: no chance to flush or close anything
            d.proc.wait(timeout=30)
            for t in d.threads:
                t.join(timeout=10)
            events = [e for e in d.events if access(e)]
        self.assertGreaterEqual(len(events), 40)
        self.assertIsNone(self.controller.error, "the host sent bytes docs/wiegand.md does not allow")
        self.assertTrue(self.controller.wait_for_acks(40, 10), "the host acks every card it processed")
        r = self.reg.verify()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        records = {rec["seq"]: rec for rec in self.reg.audit()}
        for e in events:
            self.assertIn("audit_seq", e, e)
            rec = records.get(e["audit_seq"])
            self.assertIsNotNone(rec, "access event with audit_seq %d has no committed record" % e["audit_seq"])
            self.assertEqual(rec["action"], "access")
            self.assertEqual((rec["detail"]["lane"], rec["detail"]["attempt"]), (e["lane"], e["attempt"]))
            self.assertEqual(rec["detail"]["decision"], e["decision"])
            if e.get("person_id"):
                self.assertEqual(rec["subject"], "person:%d" % e["person_id"])
        self.assertEqual(len({e["audit_seq"] for e in events}), len(events), "one record per decision")

        # The gate comes back on the same registry; the withdrawn face stays out.
        with self.devices() as dev, Daemon(self.config(dev)) as d:
            _, started = d.wait_for("started again", lambda e: e["event"] == "started", STARTUP)
            self.assertEqual(d.status()["registry"]["persons"], 1)
            d.wait_for("a decision after the restart", lambda e: access(e) and "audit_seq" in e, 60)
            self.assertEqual(d.stop(), 0, "".join(d.stderr))
        r = self.reg.verify()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_a_full_disk_applies_each_lane_fail_mode(self):
        limit = 64 * 1024

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        with self.devices() as dev:
            for mode in ("secure", "safe"):
                with self.subTest(fail_mode=mode), Daemon(self.config(dev, mode), preexec_fn=small_files) as d:
                    i, down = d.wait_for("audit_down", lambda e: e["event"] == "audit_down", 60)
                    self.assertTrue(down["file"].endswith("audit.db"), down)
                    self.assertTrue(down["error"], down)
                    _, grant = d.wait_for("an unrecorded grant", lambda e: access(e) and e["decision"] == "grant"
                                          and "audit_error" in e, 60, i)
                    self.assertNotIn("audit_seq", grant)
                    self.assertEqual(grant["fail_mode"], mode)
                    if mode == "secure":
                        self.assertEqual(grant["door"], "not_opened")
                        self.assertIn("fail-secure", grant["action"])
                    else:
                        self.assertEqual(grant["door"], "opened")
                        self.assertEqual(grant["action"], "fail-safe: opened without an audit record")
                    audit = d.status()["registry"]["audit"]
                    self.assertEqual(audit["state"], "down")
                    self.assertGreater(audit["failures"], 0)
                    self.assertEqual(d.stop(), 0, "".join(d.stderr))
                    committed = [e["audit_seq"] for e in d.events if access(e) and "audit_seq" in e]
                # What was committed before the disk filled is intact.
                r = self.reg.verify()
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                seqs = {rec["seq"] for rec in self.reg.audit()}
                self.assertTrue(set(committed) <= seqs, set(committed) - seqs)

    def test_an_immutable_audit_log_stops_changes_and_the_gate_fails_secure(self):
        audit_db = os.path.join(self.reg.dir, "audit.db")
        r = subprocess.run(["chattr", "+i", audit_db], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("chattr +i is not possible here (needs CAP_LINUX_IMMUTABLE and ext4/xfs/tmpfs): " +
                          r.stderr.strip())
        r = self.reg.gatectl("withdraw", "--person", "1")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("audit log cannot be written", r.stderr)
        with self.devices() as dev, Daemon(self.config(dev)) as d:
            i, down = d.wait_for("audit_down", lambda e: e["event"] == "audit_down", STARTUP)
            self.assertIn("read-only", down["error"])
            _, grant = d.wait_for("an unrecorded grant", lambda e: access(e) and e["decision"] == "grant", 60, i)
            self.assertEqual((grant["door"], grant["fail_mode"]), ("not_opened", "secure"))
            self.assertIn("audit_error", grant)
            self.assertEqual(d.stop(), 0, "".join(d.stderr))
        self.unfreeze()
        r = self.reg.verify()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        people = {p["person"]: p for p in lines(self.reg.gatectl("list").stdout)}
        self.assertGreaterEqual(people[1]["templates"], 1, "the refused withdrawal changed nothing")
        self.assertEqual(people[1]["consent"]["state"], "active")


if __name__ == "__main__":
    GATECTL, GATETWIN = sys.argv.pop(1), sys.argv.pop(1)
    daemon_test.GATECTL, daemon_test.GATETWIN = GATECTL, GATETWIN
    if not daemon_test.models_installed():
        sys.exit("test_registry: no face models with a mask classifier in $GATETWIN_MODELS (scripts/setup.sh "
                 "installs the models; the hil_models test fixture trains the classifier)")
    unittest.main(verbosity=2)
