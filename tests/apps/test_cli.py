#!/usr/bin/env python3
"""The gatetwin command line as a tester uses it: exit codes, error messages, reports, atomicity.

Usage: test_cli.py PATH/TO/gatetwin   (run from the repository root; CTest does this)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

GATETWIN = None


def read(path, mode="r"):
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
        return f.read()


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def run(*args):
    return subprocess.run([GATETWIN, *args], capture_output=True, text=True, timeout=60)


class Validate(unittest.TestCase):
    def test_good_files_validate(self):
        for path in ["scenarios/jiaochangkou.yaml", "tests/data/cli/tiny.yaml"]:
            r = run("validate", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("ok", r.stdout)

    def test_all_errors_listed_with_file_line_column(self):
        r = run("validate", "tests/data/cli/four_errors.yaml")
        self.assertEqual(r.returncode, 2)
        lines = [l for l in r.stderr.splitlines() if l.startswith("tests/data/cli/four_errors.yaml:")]
        self.assertEqual(len(lines), 4, r.stderr)
        self.assertIn("four_errors.yaml:4:3: population.househods: unknown key (did you mean 'households'?)", lines[0])
        self.assertIn(":5:21: population.fever_prevalence: must be between 0 and 1", lines[1])
        self.assertIn(":7:9: policy.mask: unknown value 'sometimes' (expected one of: off, remind, require)", lines[2])
        self.assertIn(":10:11: service.walk_up.mean: unit 'kg' does not fit this field", lines[3])
        self.assertIn("4 error(s)", r.stderr)

    def test_missing_file(self):
        r = run("validate", "tests/data/cli/no_such_file.yaml")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no_such_file.yaml: cannot open", r.stderr)

    def test_bad_override(self):
        r = run("validate", "tests/data/cli/tiny.yaml", "--set", "policy.fever_threshold=hot")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--set: policy.fever_threshold: expected a number", r.stderr)


class Run(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gatetwin-cli-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def out(self, name="run"):
        return os.path.join(self.tmp, name)

    def test_run_writes_consistent_reports(self):
        r = run("run", "tests/data/cli/tiny.yaml", "-o", self.out())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("GateTwin — tiny", r.stdout)
        files = sorted(os.listdir(self.out()))
        self.assertEqual(files, ["events.jsonl", "junit.xml", "report.json", "scenario.yaml", "timeline.csv"])
        report = json.loads(read(os.path.join(self.out(), "report.json")))
        events = jsonl(os.path.join(self.out(), "events.jsonl"))
        self.assertEqual(report["passages"]["total"], len(events))
        self.assertGreater(len(events), 10)
        granted = sum(1 for e in events if e["decision"] == "grant")
        self.assertEqual(report["passages"]["granted"], granted)
        visitors = [e for e in events if e["person"].startswith("V")]
        self.assertTrue(visitors and all(e["reason"] in ("staff_approved", "visitor") for e in visitors))
        timeline = read(os.path.join(self.out(), "timeline.csv")).splitlines()
        self.assertEqual(timeline[0], "time,queue:east/1,staff_queue:1")
        self.assertEqual(timeline[1].split(",")[0], "07:00")
        junit = ET.parse(os.path.join(self.out(), "junit.xml")).getroot()
        self.assertEqual(junit.get("failures"), "0")
        # The resolved scenario written beside the reports validates and reproduces the run.
        again = run("run", os.path.join(self.out(), "scenario.yaml"), "-o", self.out("again"), "-q")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(read(os.path.join(self.out(), "events.jsonl")),
                         read(os.path.join(self.out("again"), "events.jsonl")))

    def test_same_seed_same_bytes_other_seed_other_bytes(self):
        for name, seed in [("a", "5"), ("b", "5"), ("c", "6")]:
            self.assertEqual(run("run", "tests/data/cli/tiny.yaml", "-q", "--seed", seed, "-o", self.out(name)).returncode, 0)
        ev = {n: read(os.path.join(self.out(n), "events.jsonl"), "rb") for n in "abc"}
        self.assertEqual(ev["a"], ev["b"])
        self.assertNotEqual(ev["a"], ev["c"])

    def test_failed_expectation_exits_1_and_is_listed_in_junit(self):
        junit_path = os.path.join(self.tmp, "extra-junit.xml")
        r = run("run", "tests/data/cli/tiny.yaml", "-o", self.out(), "--set", "expect.p95_wait_s_max=0",
                "--set", "expect.passages_min=1e6", "--junit", junit_path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("FAIL passages_min", r.stdout)
        self.assertRegex(r.stderr, r"expectations failed:.* passages_min")
        root = ET.parse(junit_path).getroot()
        failed = [tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None]
        self.assertIn("passages_min", failed)
        self.assertEqual(read(junit_path), read(os.path.join(self.out(), "junit.xml")))

    def test_bad_input_writes_nothing_and_keeps_the_previous_run(self):
        self.assertEqual(run("run", "tests/data/cli/tiny.yaml", "-q", "-o", self.out()).returncode, 0)
        before = read(os.path.join(self.out(), "events.jsonl"), "rb")
        r = run("run", "tests/data/cli/four_errors.yaml", "-o", self.out())
        self.assertEqual(r.returncode, 2)
        self.assertEqual(read(os.path.join(self.out(), "events.jsonl"), "rb"), before)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["run"], "no staging directories left behind")
        r = run("run", "tests/data/cli/four_errors.yaml", "-o", self.out("fresh"))
        self.assertEqual(r.returncode, 2)
        self.assertFalse(os.path.exists(self.out("fresh")))

    def test_unwritable_output_is_a_clear_error(self):
        blocker = os.path.join(self.tmp, "file")
        write(blocker, "not a directory")
        r = run("run", "tests/data/cli/tiny.yaml", "-q", "-o", os.path.join(blocker, "run"))
        self.assertEqual(r.returncode, 3)
        self.assertIn(blocker, r.stderr)

    def test_an_existing_directory_that_is_not_a_run_is_never_replaced(self):
        precious = os.path.join(self.tmp, "project")
        os.mkdir(precious)
        write(os.path.join(precious, "keep.txt"), "mine")
        r = run("run", "tests/data/cli/tiny.yaml", "-q", "-o", precious)
        self.assertEqual(r.returncode, 3)
        self.assertIn("is not a GateTwin run directory", r.stderr)
        self.assertEqual(read(os.path.join(precious, "keep.txt")), "mine")
        self.assertEqual(sorted(os.listdir(self.tmp)), ["project"], "no staging directories left behind")

    def test_a_gate_that_never_empties_its_queue_fails_the_run(self):
        # One hour of service per person on one lane: the queue is still there a week later.
        r = run("run", "tests/data/cli/tiny.yaml", "-o", self.out(), "--set", "service.exponential=true",
                "--set", "service.exponential_mean=1h")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("still queued a week after day.end", r.stdout)
        report = json.loads(read(os.path.join(self.out(), "report.json")))
        self.assertGreater(report["passages"]["unfinished"], 0)
        failed = [e["name"] for e in report["expectations"] if not e["passed"]]
        self.assertIn("all_passages_finished", failed)

    def test_a_rerun_replaces_the_run_directory_whole(self):
        self.assertEqual(run("run", "tests/data/cli/tiny.yaml", "-q", "-o", self.out()).returncode, 0)
        write(os.path.join(self.out(), "stale.txt"), "from an older run")
        self.assertEqual(run("run", "tests/data/cli/tiny.yaml", "-q", "-o", self.out()).returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(self.out(), "stale.txt")))


class Compare(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gatetwin-cmp-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_policy_pair_differs_only_where_the_policy_bites(self):
        a, b = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        common = ["--set", "population.fever_prevalence=0.05", "-q"]
        self.assertEqual(run("run", "tests/data/cli/tiny.yaml", *common, "-o", a).returncode, 0)
        self.assertEqual(run("run", "tests/data/cli/tiny.yaml", *common, "--set", "policy.fever_threshold=38.5", "-o", b).returncode, 0)
        r = run("compare", a, b, "-n", "1000")
        self.assertEqual(r.returncode, 0, r.stderr)
        changed = [l for l in r.stdout.splitlines() if l.startswith("  passage ")]
        self.assertTrue(changed, r.stdout)
        # Every change is a fever decision under 37.3 that the 38.5 threshold no longer makes.
        for line in changed:
            self.assertIn("fever", line.split("->")[0], line)
        ev_a = {e["passage"]: e for e in jsonl(os.path.join(a, "events.jsonl"))}
        ev_b = {e["passage"]: e for e in jsonl(os.path.join(b, "events.jsonl"))}
        self.assertEqual(sorted(ev_a), sorted(ev_b))
        self.assertEqual({k: v["person"] for k, v in ev_a.items()}, {k: v["person"] for k, v in ev_b.items()})
        differing = sum(1 for k in ev_a if (ev_a[k]["decision"], ev_a[k]["reason"]) != (ev_b[k]["decision"], ev_b[k]["reason"]))
        self.assertIn("changed outcome: %d" % differing, r.stdout)

    def test_runs_with_other_arrivals_are_flagged(self):
        a, b = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        self.assertEqual(run("run", "tests/data/cli/tiny.yaml", "-q", "-o", a).returncode, 0)
        self.assertEqual(run("run", "tests/data/cli/tiny.yaml", "-q", "--seed", "77", "-o", b).returncode, 0)
        r = run("compare", a, b)
        self.assertEqual(r.returncode, 2)
        self.assertIn("do not share their arrivals", r.stdout)

    def test_malformed_event_log_names_file_and_line(self):
        bad = os.path.join(self.tmp, "bad.jsonl")
        write(bad, '{"passage": 0, "person": "R000001", "decision": "grant", "reason": "recognised"}\n{oops\n')
        r = run("compare", bad, bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.jsonl:2:", r.stderr)


class Replay(unittest.TestCase):
    """`gatetwin replay` on a statistical run: a pure function of the scenario and seed, so a control replay
    changes nothing, and a policy change is reported passage by passage (the HIL replay: test_hil.py)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gatetwin-replay-")
        self.run_dir = os.path.join(self.tmp, "run")
        r = run("run", "tests/data/cli/tiny.yaml", "--set", "population.fever_prevalence=0.05", "-q", "-o", self.run_dir)
        self.assertEqual(r.returncode, 0, r.stderr)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def policy(self, text, name="policy.yaml"):
        path = os.path.join(self.tmp, name)
        write(path, text)
        return path

    def test_a_control_replay_changes_nothing(self):
        out = os.path.join(self.tmp, "control")
        r = run("replay", self.run_dir, "-o", out, "--fail-on-change")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertIn("a control replay", r.stdout)
        d = json.loads(read(os.path.join(out, "diff.json")))
        self.assertEqual(d["changes_applied"], [])
        self.assertEqual((d["decisions"]["changed"], d["decisions"]["matched"]), (0, d["decisions"]["passages_a"]))
        self.assertEqual(read(os.path.join(out, "events.jsonl")), read(os.path.join(self.run_dir, "events.jsonl")))

    def test_a_gatectl_policy_file_is_replayed_and_its_effect_listed(self):
        out = os.path.join(self.tmp, "replay")
        r = run("replay", self.run_dir, "--policy", self.policy("fever_threshold_c: 38.5\ntemperature_mode: before_identity\n"),
                "-o", out, "-n", "1000", "--fail-on-change")
        self.assertEqual(r.returncode, 1, r.stderr)  # --fail-on-change: passages changed
        d = json.loads(read(os.path.join(out, "diff.json")))
        self.assertEqual(d["changes_applied"], ["policy.fever_threshold=38.5", "policy.temperature_mode=before"])
        dec = d["decisions"]
        self.assertTrue(dec["same_arrivals"])
        self.assertGreater(dec["changed"], 0)
        for c in dec["changes"]:  # only fever decisions under 37.3 that 38.5 no longer makes
            self.assertIn("fever", c["a"]["reason"], c)
            self.assertNotIn("fever", c["b"]["reason"], c)
        ev_a = {e["passage"]: e for e in jsonl(os.path.join(self.run_dir, "events.jsonl"))}
        ev_b = {e["passage"]: e for e in jsonl(os.path.join(out, "events.jsonl"))}
        truly = sorted(k for k in ev_a if (ev_a[k]["decision"], ev_a[k]["reason"]) != (ev_b[k]["decision"], ev_b[k]["reason"]))
        self.assertEqual(sorted(c["passage"] for c in dec["changes"]), truly)
        self.assertIn("changed: policy.fever_threshold=38.5", read(os.path.join(out, "diff.txt")))

    def test_bad_input_names_the_place_and_writes_nothing(self):
        out = os.path.join(self.tmp, "replay")
        cases = [
            (["--policy", self.policy("mask: remind\nfever_treshold_c: 37.0\n", "p1.yaml")], r"p1\.yaml:2:1: fever_treshold_c: unknown policy key"),
            (["--policy", self.policy("mask: remind\nfever_threshold_c: hot\n", "p2.yaml")], r"p2\.yaml:2:1: fever_threshold_c: expected a number"),
            (["--policy", self.policy("mask: [remind\n", "p3.yaml")], r"p3\.yaml:\d+:\d+: "),
            (["--policy", os.path.join(self.tmp, "missing.yaml")], "cannot read the policy file"),
            (["--set", "policy.mask=sometimes"], "policy.mask"),
        ]
        for args, message in cases:
            r = run("replay", self.run_dir, *args, "-o", out)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertRegex(r.stderr, message)
            self.assertFalse(os.path.exists(out), args)
        r = run("replay", self.tmp, "-o", out)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a gatetwin run directory", r.stderr)
        r = run("replay", self.run_dir, "-o", self.run_dir + "/")
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot overwrite the run it replays", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.run_dir, "events.jsonl")))


class Docs(unittest.TestCase):
    def test_docs_scenarios_md_carries_the_current_schema(self):
        r = run("schema")
        self.assertEqual(r.returncode, 0)
        doc = read("docs/scenarios.md")
        self.assertTrue(r.stdout.strip() in doc, "docs/scenarios.md is stale: regenerate with scripts/gen-docs.sh")


class SceneAndContactSheet(unittest.TestCase):
    """The renderer's commands: no models needed, deterministic, atomic, clear errors."""

    def test_scene_writes_frames_thermal_and_truth_deterministically(self):
        with tempfile.TemporaryDirectory() as tmp:
            outs = [os.path.join(tmp, "a"), os.path.join(tmp, "b")]
            for out in outs:
                r = run("scene", "-o", out, "--behind", "--adjacent", "--mask", "surgical", "--start", "1.2", "--stop", "0.8")
                self.assertEqual(r.returncode, 0, r.stderr)
            truth = jsonl(os.path.join(outs[0], "truth.jsonl"))
            self.assertEqual({t["role"] for t in truth if "role" in t}, {"subject", "behind", "adjacent"})
            thermal = [t for t in truth if "thermal" in t]  # the fusion's reading of each frame's thermal map
            self.assertEqual(thermal[0]["thermal"], "too_far")
            n = len({t["frame"] for t in truth})
            self.assertGreater(n, 2)
            frames = sorted(f for f in os.listdir(outs[0]) if f.startswith("frame_") and f.endswith(".jpg"))
            self.assertEqual(len(frames), n)
            subject = [t["interocular_px"] for t in truth if t.get("role") == "subject"]
            self.assertLess(subject[0], subject[-1])  # the face grows as the resident walks up
            for f in frames:
                self.assertEqual(read(os.path.join(outs[0], f), "rb")[:2], b"\xff\xd8")
                self.assertEqual(read(os.path.join(outs[0], f), "rb"), read(os.path.join(outs[1], f), "rb"), f)
            # A rerun into an earlier scene replaces it; a directory that is not a scene is never touched.
            r = run("scene", "-o", outs[0], "--start", "1.0", "--stop", "0.9")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertLess(len({t["frame"] for t in jsonl(os.path.join(outs[0], "truth.jsonl"))}), n)
            other = os.path.join(tmp, "other")
            os.makedirs(other)
            write(os.path.join(other, "keep.txt"), "mine")
            r = run("scene", "-o", other)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn(other, r.stderr)
            self.assertEqual(read(os.path.join(other, "keep.txt")), "mine")

    def test_contact_sheet_is_written_whole_or_not_at_all(self):
        with tempfile.TemporaryDirectory() as tmp:
            sheet = os.path.join(tmp, "sheet.jpg")
            r = run("contact-sheet", "-o", sheet, "--count", "6", "--columns", "3")
            self.assertEqual(r.returncode, 0, r.stderr)
            data = read(sheet, "rb")
            self.assertEqual(data[:2], b"\xff\xd8")
            self.assertEqual(sorted(os.listdir(tmp)), ["sheet.jpg"])  # no temporary file left behind
            r = run("contact-sheet", "-o", os.path.join(tmp, "missing", "sheet.jpg"), "--count", "2")
            self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
            self.assertIn("missing", r.stderr)


if __name__ == "__main__":
    GATETWIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
