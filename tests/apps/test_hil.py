#!/usr/bin/env python3
"""Hardware in the loop as a tester runs it: `gatetwin run` on a scenario with fidelity: hil starts every lane's
emulated devices and one gatectl process per gate, paces simulated time to the wall clock, and judges gatectl's
decisions. Each scenario under scenarios/hil/ is one CTest entry (they run side by side):

  regression          the short regression: expectations met, residents in by face and card, the revoked card
                      and the visitor not, device I/O recorded, gatectl stopped cleanly; then `gatetwin replay`
                      of that run under another policy: the decision-difference report
  camera-disconnect   gatectl logs camera_down and reconnects; lane 1 admits nobody by face while the camera is off
  relay-unreachable   fail-secure: relay_unreachable events, nobody through lane 1's door by face or card
  thermal-stuck       the frozen reading is refused as implausible; lane 1's residents are referred to staff
  link-latency        lane 1's late frames make it open later than lane 2; thermal replies carry the delay

Usage: test_hil.py SCENARIO GATETWIN GATECTL MODELS_DIR   (run from the repository root; CTest does this)
MODELS_DIR holds the face models with a mask classifier (the hil_models fixture builds it: test_hil.py --models DIR).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import private_models  # noqa: E402

SCENARIO = GATETWIN = GATECTL = MODELS = None
RUN = None  # the run directory of setUpModule's run
OUT = None  # its CompletedProcess


def secs(clock):
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


TMP = None


def setUpModule():
    global RUN, OUT, TMP
    TMP = tmp = tempfile.mkdtemp(prefix="gatetwin-hil-")
    RUN = os.path.join(tmp, "run")
    env = dict(os.environ, GATETWIN_MODELS=MODELS, GATETWIN_GATECTL=GATECTL)
    OUT = subprocess.run([GATETWIN, "run", f"scenarios/hil/{SCENARIO}.yaml", "-o", RUN, "--junit", os.path.join(tmp, "junit.xml")],
                         capture_output=True, text=True, timeout=600, env=env)
    sys.stderr.write(OUT.stdout[-3000:])


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


class HilRun(unittest.TestCase):
    """What every HIL scenario must show."""

    @classmethod
    def setUpClass(cls):
        cls.report = json.load(open(os.path.join(RUN, "report.json")))
        cls.passages = load_jsonl(os.path.join(RUN, "events.jsonl"))
        cls.gatectl = load_jsonl(os.path.join(RUN, "hil", "gatectl-0.events.jsonl"))
        cls.io = load_jsonl(os.path.join(RUN, "hil", "io.jsonl"))

    def test_exit_and_expectations(self):
        self.assertEqual(OUT.returncode, 0, OUT.stderr + OUT.stdout[-2000:])
        self.assertTrue(all(e["passed"] for e in self.report["expectations"]), self.report["expectations"])
        self.assertEqual(self.report["fidelity"], "hil")

    def test_every_passage_decided_and_nobody_unauthorised_through(self):
        self.assertEqual(self.report["passages"]["unfinished"], 0)
        self.assertGreaterEqual(len(self.passages), 6)
        for p in self.passages:
            self.assertIn(p["decision"], ("grant", "deny"), p)
            if p["decision"] == "grant":
                self.assertTrue(p["truth"]["entitled"], p)

    def test_real_time_pacing_held(self):
        h = self.report["hil"]
        self.assertEqual(h["speed"], 1.0)
        self.assertGreater(h["pacing"]["paced_events"], 50)
        # Lateness is measured against the wall clock on a shared machine: allow 1% late events.
        self.assertLessEqual(h["pacing"]["late_events"], h["pacing"]["paced_events"] // 100, h["pacing"])

    def test_gatectl_ran_as_its_own_process_and_stopped_cleanly(self):
        h = self.report["hil"]
        self.assertEqual(h["gatectl_exit"], [0])
        kinds = [e["event"] for e in self.gatectl]
        self.assertEqual(kinds[0], "started")
        self.assertEqual(kinds[-1], "stopped")
        pid = self.gatectl[0]["pid"]
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)
        self.assertFalse(os.path.exists(self.gatectl[0]["status"]), "the status socket is removed")
        # gatectl got the scenario's policy and its own files, all kept in the run directory.
        for f in ("gatectl-0.yaml", "policy.yaml", "residents-0.yaml", "gallery-0.db", "gatectl-0.log"):
            self.assertTrue(os.path.exists(os.path.join(RUN, "hil", f)), f)
        self.assertFalse(os.path.exists(RUN + ".hil-work"), "the working directory moved into the run directory")

    def test_device_io_recorded(self):
        h = self.report["hil"]["recorded"]
        modbus = [r for r in self.io if r["device"] in ("thermal", "relay")]
        cards = [r for r in self.io if r["device"] == "reader"]
        frames = [r for r in self.io if r["device"] == "camera"]
        self.assertEqual(len(modbus), h["modbus_transactions"])
        self.assertEqual(len(cards), h["card_frames"])
        self.assertEqual(len(frames), h["frame_hashes"])
        self.assertTrue(any(r["device"] == "thermal" and r["fn"] == 4 for r in modbus), "thermal reads")
        # Times are simulated times inside the run.
        day = self.report["day"]
        for r in self.io:
            self.assertGreaterEqual(r["t_us"] / 1e6, secs(day["start"]) - 1e-6, r)
        for r in frames[:50]:
            self.assertRegex(r["hash"], "^[0-9a-f]{1,16}$")

    # The relay's coil is what the simulation believes: every face or card grant has a relay write on its lane.
    def test_every_gate_grant_has_a_relay_write(self):
        writes = {}
        for r in self.io:
            if r["device"] == "relay" and r["fn"] == 5 and r.get("write_bits") == [1]:
                writes.setdefault(r["lane"], []).append(r["t_us"] / 1e6)
        for p in self.passages:
            if p["decision"] == "grant" and p["credential"] in ("face", "card"):
                lane = f"main-{p['lane']}"
                start = secs(p["arrived"]) + p["wait_s"]
                end = start + p["transaction_s"]
                self.assertTrue(any(start - 0.01 <= t <= end + 0.01 for t in writes.get(lane, [])), p)


    # Someone without a template whom the camera let in as another resident is counted, once per passage
    # with such a grant, and never as a face attempt (they did not offer their face).
    def test_face_grants_for_people_who_did_not_offer_their_face_are_counted(self):
        named_other = []
        for p in self.passages:
            grants = [g for g in p.get("gatectl", []) if g["source"] == "face" and g["decision"] == "grant"]
            others = [g for g in grants if g.get("person") and g["person"] != p["person"]]
            if p["face_attempts"] == 0 and others:
                named_other.append(len(others))
        self.assertEqual(self.report["hil"]["unoffered_face_grants"], sum(named_other))
        self.assertGreaterEqual(self.report["algorithm"]["misidentified_attempts"], sum(named_other))


class Regression(unittest.TestCase):
    def setUp(self):
        if SCENARIO != "regression":
            self.skipTest("regression only")
        self.passages = load_jsonl(os.path.join(RUN, "events.jsonl"))

    def test_credentials_and_refusals(self):
        by_kind = {}
        for p in self.passages:
            by_kind.setdefault(p["person"][0], []).append(p)
        mix = {p["credential"] for p in self.passages if p["decision"] == "grant"}
        self.assertIn("face", mix)
        self.assertIn("card", mix)
        for p in by_kind.get("K", []):  # revoked card
            self.assertEqual(p["decision"], "deny", p)
        for p in by_kind.get("V", []):  # the visitor goes to staff
            self.assertEqual(p["credential"], "staff", p)
        report = json.load(open(os.path.join(RUN, "report.json")))
        step = report["hil"]["step_up_to_relay_s"]
        self.assertGreater(step["n"], 5)
        self.assertLess(step["p50"], 4.0, "a recognised resident is let in within seconds of stepping up")


class Replay(unittest.TestCase):
    """`gatetwin replay RUN --policy FILE`: the same residents at the same moments against gatectl with another
    policy; diff.txt and diff.json name the passages that changed outcome and gatectl's reasons."""

    def setUp(self):
        if SCENARIO != "regression":
            self.skipTest("regression only")
        self.tmp = tempfile.mkdtemp(prefix="gatetwin-replay-")
        self.env = dict(os.environ, GATETWIN_MODELS=MODELS, GATETWIN_GATECTL=GATECTL)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def policy(self, text):
        path = os.path.join(self.tmp, "policy.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_a_policy_change_is_reported_passage_by_passage_with_gatectls_reasons(self):
        out = os.path.join(self.tmp, "replay")
        # Every forehead now reads abnormal (35.0 °C), and the gate opens anyway: each grant's reason changes
        # from recognised / card_accepted to fever_opened while the same residents pass at the same moments.
        policy = self.policy("fever_threshold_c: 35.0\nopen_on_abnormal_temperature: true\n")
        r = subprocess.run([GATETWIN, "replay", RUN, "--policy", policy, "-o", out],
                           capture_output=True, text=True, timeout=600, env=self.env)
        sys.stderr.write(r.stdout[-2500:])
        self.assertEqual(r.returncode, 0, r.stderr)
        diff = json.load(open(os.path.join(out, "diff.json")))
        self.assertEqual(diff["changes_applied"], ["policy.fever_threshold=35.0", "policy.open_on_abnormal_temperature=true"])
        d = diff["decisions"]
        self.assertTrue(d["same_arrivals"], d)
        before = load_jsonl(os.path.join(RUN, "events.jsonl"))
        by_gate = [p for p in before if p["decision"] == "grant" and p["credential"] in ("face", "card")]
        self.assertGreater(len(by_gate), 3)
        changed = {c["passage"]: c for c in d["changes"]}
        for p in by_gate:
            self.assertIn(p["passage"], changed, p)
            c = changed[p["passage"]]
            self.assertEqual((c["a"]["decision"], c["b"]["decision"]), ("grant", "grant"), c)
            self.assertEqual(c["b"]["reason"], "fever_opened", c)
            self.assertIn(p["reason"], c["a"]["gatectl"])        # gatectl's own reasons, run A ...
            self.assertIn("grant fever_opened", c["b"]["gatectl"])  # ... and in the replay
        for c in d["changes"]:
            self.assertEqual(c["b"]["reason"], "fever_opened", c)  # nothing else moved
        self.assertEqual(d["changed"], len(d["changes"]))
        self.assertEqual(sum(d["transitions"].values()), d["changed"])
        self.assertGreater(diff["inputs"]["frames_common"], 0, "the same residents were shown to the camera")
        text = open(os.path.join(out, "diff.txt")).read()
        self.assertIn("grant/recognised -> grant/fever_opened", text)
        # The replay is a run like any other: its scenario carries the change, and gatectl got it.
        self.assertIn("fever_threshold: 35", open(os.path.join(out, "scenario.yaml")).read())
        self.assertIn("fever_threshold_c: 35", open(os.path.join(out, "hil", "policy.yaml")).read())

    def test_a_bad_policy_file_names_the_line_and_runs_nothing(self):
        out = os.path.join(self.tmp, "replay")
        r = subprocess.run([GATETWIN, "replay", RUN, "--policy", self.policy("mask: remind\nfever_treshold_c: 37.0\n"), "-o", out],
                           capture_output=True, text=True, timeout=60, env=self.env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr, r"policy\.yaml:2:1: fever_treshold_c: unknown policy key")
        self.assertFalse(os.path.exists(out))
        r = subprocess.run([GATETWIN, "replay", self.tmp, "-o", out], capture_output=True, text=True, timeout=60, env=self.env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a gatetwin run directory", r.stderr)


class Faults(unittest.TestCase):
    def setUp(self):
        self.passages = load_jsonl(os.path.join(RUN, "events.jsonl"))
        self.gatectl = load_jsonl(os.path.join(RUN, "hil", "gatectl-0.events.jsonl"))
        self.io = load_jsonl(os.path.join(RUN, "hil", "io.jsonl"))
        self.lane1 = [p for p in self.passages if p["lane"] == 1]
        self.lane2 = [p for p in self.passages if p["lane"] == 2]

    def events(self, kind, lane="main-1"):
        return [e for e in self.gatectl if e["event"] == kind and e.get("lane") == lane]

    def test_camera_disconnect(self):
        if SCENARIO != "camera-disconnect":
            self.skipTest("camera-disconnect only")
        self.assertGreaterEqual(len(self.events("camera_down")), 1)
        self.assertGreaterEqual(len(self.events("camera_up")), 2, "connected, lost, reconnected")
        off = [p for p in self.lane1 if secs("07:30:12") <= secs(p["decided"]) <= secs("07:30:35")]
        for p in off:
            self.assertNotEqual(p["credential"], "face", p)
        self.assertTrue(any(p["credential"] in ("card", "staff") for p in self.lane1), "the fallback took the lane")

    def test_relay_unreachable_fail_secure(self):
        if SCENARIO != "relay-unreachable":
            self.skipTest("relay-unreachable only")
        self.assertGreaterEqual(len(self.events("relay_down")), 1)
        alarms = self.events("relay_unreachable")
        self.assertGreaterEqual(len(alarms), 1, "a grant that could not open the door is an alarm event")
        for a in alarms:
            self.assertEqual(a["fail_mode"], "secure")
            self.assertEqual(a["door"], "not_opened")
        for p in self.lane1:
            self.assertNotIn(p["credential"], ("face", "card"), p)  # the door stayed locked
        relay1 = [r for r in self.io if r["device"] == "relay" and r["lane"] == "main-1"]
        self.assertTrue(all(r["reply"] is None for r in relay1))
        self.assertTrue(any(p["credential"] == "face" for p in self.lane2), "the other lane still works")

    def test_thermal_stuck_referred(self):
        if SCENARIO != "thermal-stuck":
            self.skipTest("thermal-stuck only")
        invalid = self.events("thermal_invalid")
        self.assertTrue(any(e["status"] == "implausible" for e in invalid), invalid[:3])
        self.assertTrue(all(e["reading"] is None or e["reading"]["object_c"] == 22.0 for e in invalid))
        for p in self.lane1:
            self.assertNotIn(p["credential"], ("face", "card"), p)
            self.assertTrue(p["referred_to_staff"], p)
        self.assertTrue(any(p["credential"] == "face" for p in self.lane2))

    def test_link_latency(self):
        if SCENARIO != "link-latency":
            self.skipTest("link-latency only")
        thermal1 = [r for r in self.io if r["device"] == "thermal" and r["lane"] == "main-1"]
        self.assertTrue(thermal1 and all(r.get("delay_us") == 100000 for r in thermal1))
        report = json.load(open(os.path.join(RUN, "report.json")))
        lanes = report["hil"]["step_up_to_relay_s"]["by_lane"]
        self.assertGreater(lanes["main/1"]["n"], 1)
        self.assertGreater(lanes["main/2"]["n"], 1)
        self.assertGreater(lanes["main/1"]["p50"], lanes["main/2"]["p50"] + 0.3, lanes)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--models":  # the fixture: models with a mask classifier
        dest = sys.argv[2]
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        private_models.make(dest, sys.argv[3])
        sys.exit(0)
    SCENARIO, GATETWIN, GATECTL, MODELS = sys.argv[1:5]
    unittest.main(argv=sys.argv[:1], verbosity=2)
