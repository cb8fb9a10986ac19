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
        report = json.load(open(os.path.join(self.out(), "report.json")))
        events = [json.loads(l) for l in open(os.path.join(self.out(), "events.jsonl"))]
        self.assertEqual(report["passages"]["total"], len(events))
        self.assertGreater(len(events), 10)
        granted = sum(1 for e in events if e["decision"] == "grant")
        self.assertEqual(report["passages"]["granted"], granted)
        visitors = [e for e in events if e["person"].startswith("V")]
        self.assertTrue(visitors and all(e["reason"] in ("staff_approved", "visitor") for e in visitors))
        timeline = open(os.path.join(self.out(), "timeline.csv")).read().splitlines()
        self.assertEqual(timeline[0], "time,queue:east/1,staff_queue:1")
        self.assertEqual(timeline[1].split(",")[0], "07:00")
        junit = ET.parse(os.path.join(self.out(), "junit.xml")).getroot()
        self.assertEqual(junit.get("failures"), "0")
        # The resolved scenario written beside the reports validates and reproduces the run.
        again = run("run", os.path.join(self.out(), "scenario.yaml"), "-o", self.out("again"), "-q")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(open(os.path.join(self.out(), "events.jsonl")).read(),
                         open(os.path.join(self.out("again"), "events.jsonl")).read())

    def test_same_seed_same_bytes_other_seed_other_bytes(self):
        for name, seed in [("a", "5"), ("b", "5"), ("c", "6")]:
            self.assertEqual(run("run", "tests/data/cli/tiny.yaml", "-q", "--seed", seed, "-o", self.out(name)).returncode, 0)
        ev = {n: open(os.path.join(self.out(n), "events.jsonl"), "rb").read() for n in "abc"}
        self.assertEqual(ev["a"], ev["b"])
        self.assertNotEqual(ev["a"], ev["c"])

    def test_failed_expectation_exits_1_and_is_listed_in_junit(self):
        junit_path = os.path.join(self.tmp, "extra-junit.xml")
        r = run("run", "tests/data/cli/tiny.yaml", "-o", self.out(), "--set", "expect.p95_wait_s_max=0",
                "--set", "expect.passages_min=1e6", "--junit", junit_path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("FAIL passages_min", r.stdout)
        self.assertIn("expectations failed: passages_min", r.stderr)
        root = ET.parse(junit_path).getroot()
        failed = [tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None]
        self.assertIn("passages_min", failed)
        self.assertEqual(open(junit_path).read(), open(os.path.join(self.out(), "junit.xml")).read())

    def test_bad_input_writes_nothing_and_keeps_the_previous_run(self):
        self.assertEqual(run("run", "tests/data/cli/tiny.yaml", "-q", "-o", self.out()).returncode, 0)
        before = open(os.path.join(self.out(), "events.jsonl"), "rb").read()
        r = run("run", "tests/data/cli/four_errors.yaml", "-o", self.out())
        self.assertEqual(r.returncode, 2)
        self.assertEqual(open(os.path.join(self.out(), "events.jsonl"), "rb").read(), before)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["run"], "no staging directories left behind")
        r = run("run", "tests/data/cli/four_errors.yaml", "-o", self.out("fresh"))
        self.assertEqual(r.returncode, 2)
        self.assertFalse(os.path.exists(self.out("fresh")))

    def test_unwritable_output_is_a_clear_error(self):
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").write("not a directory")
        r = run("run", "tests/data/cli/tiny.yaml", "-q", "-o", os.path.join(blocker, "run"))
        self.assertEqual(r.returncode, 3)
        self.assertIn(blocker, r.stderr)

    def test_a_rerun_replaces_the_run_directory_whole(self):
        self.assertEqual(run("run", "tests/data/cli/tiny.yaml", "-q", "-o", self.out()).returncode, 0)
        open(os.path.join(self.out(), "stale.txt"), "w").write("from an older run")
        self.assertEqual(run("run", "tests/data/cli/tiny.yaml", "-q", "-o", self.out()).returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(self.out(), "stale.txt")))


class Docs(unittest.TestCase):
    def test_docs_scenarios_md_carries_the_current_schema(self):
        r = run("schema")
        self.assertEqual(r.returncode, 0)
        doc = open("docs/scenarios.md", encoding="utf-8").read()
        self.assertIn(r.stdout.strip(), doc, "docs/scenarios.md is stale: regenerate with scripts/gen-docs.sh")


if __name__ == "__main__":
    GATETWIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
