#!/usr/bin/env python3
"""Pixel fidelity and calibration as a developer uses them: `gatetwin run` with fidelity: pixel renders every
face attempt and runs the real core (byte-identical reruns, a pixel section in report.json), missing models
are a clear error, and `gatetwin calibrate --check` writes a calibration file with which the statistical mode
agrees with the pixel run on FAR, FRR and FTA within the 95% interval of their difference.

Usage: test_pixel.py PATH/TO/gatetwin   (run from the repository root; CTest does this)
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

GATETWIN = None
TMP = None
ENV = None
SMALL = "scenarios/pixel/calibration-small.yaml"
# A tiny pixel run: a dozen residents for half an hour.
TINY = ["--set", "population.households=5", "--set", "day.end=07:30", "--set", "population.lookalike_attempts_per_day=6"]


def run(*args, env=None, timeout=900):
    return subprocess.run([GATETWIN, *args], capture_output=True, text=True, timeout=timeout, env=env or ENV)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def setUpModule():
    global TMP, ENV
    TMP = tempfile.mkdtemp(prefix="gatetwin-pixel-")
    ENV = private_models.make(TMP, GATETWIN)


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


class PixelRun(unittest.TestCase):
    def test_rerun_is_byte_identical_and_reports_what_the_core_did(self):
        outs = []
        for k in range(2):
            out = os.path.join(TMP, "tiny%d" % k)
            r = run("run", SMALL, "-o", out, "--quiet", *TINY)
            self.assertIn(r.returncode, (0, 1), r.stderr)
            outs.append(out)
        a, b = (read_bytes(os.path.join(o, "events.jsonl")) for o in outs)
        self.assertGreater(len(a), 0)
        self.assertEqual(a, b, "two pixel runs of one scenario and seed must give the same event log")
        with open(os.path.join(outs[0], "report.json")) as f:
            report = json.load(f)
        self.assertEqual(report["fidelity"], "pixel")
        px = report["pixel"]
        self.assertGreater(px["enrolled"], 0)
        self.assertGreaterEqual(px["frames_analysed"], px["face_attempts"])
        self.assertGreater(px["face_attempts"], 0)
        self.assertEqual(sum(sum(r) for r in px["mask_confusion_true_by_classified"]) +
                         sum(px["failures_to_acquire"].values()), px["face_attempts"])
        self.assertEqual(report["decision"]["fta"]["trials"], px["face_attempts"])

    def test_missing_models_are_a_clear_error(self):
        env = dict(ENV, GATETWIN_MODELS=os.path.join(TMP, "nowhere"))
        r = run("run", SMALL, "-o", os.path.join(TMP, "never"), "--quiet", *TINY, env=env)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("fetch-models.sh", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(TMP, "never")))


class Calibrate(unittest.TestCase):
    def test_statistical_mode_agrees_with_pixel_mode(self):
        cal = os.path.join(TMP, "cal.yaml")
        r = run("calibrate", SMALL, "-o", cal, "--check", "--quiet")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        table = r.stdout.split("agreement (", 1)[-1].splitlines()
        rows = [l for l in table if l.split()[:1] in (["FAR"], ["FRR"], ["FTA"])]
        self.assertEqual(len(rows), 3, r.stdout)
        for row in rows:
            self.assertTrue(row.rstrip().endswith("agree"), row)
        with open(cal) as f:
            text = f.read()
        for key in ("genuine_unmasked:", "impostor_masked:", "fta_masked:", "genuine_between_person:", "measured:",
                    "latency_ms_per_frame:", "embed:"):
            self.assertIn(key, text)
        # The file is a calibration the statistical mode loads.
        r = run("validate", "tests/data/good/minimal.yaml", "--set", "face.calibration=" + cal)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    GATETWIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
