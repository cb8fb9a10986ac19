#!/usr/bin/env python3
"""gatetwin-studio under Xvfb with Mesa's software OpenGL, driven by a scripted session: open a scenario,
change the lanes, let it re-run, save screenshots, the edited scenario and the figures. Checks that the
screenshots show the plots (not a blank window) and that they changed with the lanes, that the saved
scenario validates, and that the figures the window shows are the ones `gatetwin run` prints.

The live view (pixel and HIL runs shown as they run) needs the face models with a mask classifier in
$GATETWIN_MODELS (CTest: the hil_models fixture's directory) and gatectl.

Usage: test_studio.py GATETWIN_STUDIO GATETWIN GATECTL
Xvfb is started on a free display (-displayfd: it writes the display number when it is ready) and stopped
at the end.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from PIL import Image

STUDIO = GATETWIN = GATECTL = None
TMP = XVFB = DISPLAY = None
SCENARIO = "scenarios/jiaochangkou.yaml"

# series_colour(k) in apps/gatetwin-studio/plots.cpp: lane 1 / A, lane 2 / B, lane 3.
BLUE, ORANGE, GREEN = (60, 130, 230), (245, 150, 40), (70, 180, 90)
TARGET_RED = (220, 60, 60)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def start_xvfb():
    read_fd, write_fd = os.pipe()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=log)
    os.close(write_fd)
    with os.fdopen(read_fd) as r:
        number = r.readline().strip()  # blocks until the server is ready
    if not number:
        proc.kill()
        proc.wait()
        log.seek(0)
        raise RuntimeError("Xvfb did not start: " + log.read().decode(errors="replace"))
    log.close()
    return proc, ":" + number


def setUpModule():
    global TMP, XVFB, DISPLAY
    TMP = tempfile.mkdtemp(prefix="gatetwin-studio-")
    XVFB, DISPLAY = start_xvfb()


def tearDownModule():
    if XVFB:
        XVFB.terminate()
        XVFB.wait(timeout=30)
    shutil.rmtree(TMP, ignore_errors=True)


def studio(script_text, name):
    path = os.path.join(TMP, name + ".txt")
    with open(path, "w") as f:
        f.write(script_text)
    env = dict(os.environ, DISPLAY=DISPLAY, LIBGL_ALWAYS_SOFTWARE="1", GATETWIN_GATECTL=GATECTL)
    return subprocess.run([STUDIO, "--script", path], capture_output=True, text=True, timeout=600, env=env), path


def png_rgb(name):
    with Image.open(os.path.join(TMP, name + ".png")) as png:
        return png.convert("RGB")


def count(img, colour, box=None, tol=12):
    """Pixels within `tol` of `colour` in the box (left, top, right, bottom) of the image."""
    region = img.crop(box) if box else img
    r0, g0, b0 = colour
    n = 0
    for r, g, b in region.getdata():
        if abs(r - r0) <= tol and abs(g - g0) <= tol and abs(b - b0) <= tol:
            n += 1
    return n


# The queue plot: the first plot of the Day tab, right of the 370 px editor, below the toolbar and tabs.
QUEUE_BOX = (390, 80, 980, 380)


class ScriptedSession(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t = TMP
        cls.run_result, cls.script = studio(f"""# open, change the lanes, look at the capacity view, save
open {SCENARIO}
wait 300
screenshot {t}/day1.png
dump {t}/one.json
set gates[0].lanes 3
wait 300
screenshot {t}/day3.png
dump {t}/three.json
tab Capacity
screenshot {t}/capacity.png
save {t}/edited.yaml
export {t}/report
quit
""", "session")

    def test_exit_status(self):
        r = self.run_result
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)

    def test_screenshots_show_the_plots(self):
        for name in ("day1", "day3", "capacity"):
            with Image.open(os.path.join(TMP, name + ".png")) as png:
                img = png.convert("RGB")
            self.assertEqual(img.size, (1600, 1000), name)
            colours = img.getcolors(maxcolors=1 << 20)
            self.assertGreater(len(colours), 50, f"{name}: {len(colours)} colours - a blank window?")
        day1 = png_rgb("day1")
        # The queue plot draws lane 1 in blue; the bar plots of the day fill thousands of blue pixels.
        self.assertGreater(count(day1, BLUE, QUEUE_BOX), 100)
        self.assertGreater(count(day1, BLUE), 20000)

    def test_the_plots_follow_the_lanes(self):
        day1 = png_rgb("day1")
        day3 = png_rgb("day3")
        # One lane: one series in the queue plot. Three lanes: lanes 2 and 3 appear in their colours (a
        # legend square is 100 pixels; lane 2's line adds more, lane 3 rarely has a queue at Jiaochangkou),
        # and lane 1's queue, drawn in blue, is much shorter.
        self.assertEqual(count(day1, ORANGE, QUEUE_BOX), 0)
        self.assertEqual(count(day1, GREEN, QUEUE_BOX), 0)
        self.assertGreater(count(day3, ORANGE, QUEUE_BOX), 150)
        self.assertGreaterEqual(count(day3, GREEN, QUEUE_BOX), 90)
        self.assertLess(count(day3, BLUE, QUEUE_BOX), count(day1, BLUE, QUEUE_BOX) / 2)

    def test_the_capacity_view_draws_its_curve_and_target(self):
        cap = png_rgb("capacity")
        self.assertGreater(count(cap, TARGET_RED), 100, "the dashed target line")
        self.assertGreater(count(cap, BLUE), 300, "the 1-staff curve")

    def test_the_figures_are_the_command_lines(self):
        one = load_json(os.path.join(TMP, "one.json"))
        three = load_json(os.path.join(TMP, "three.json"))
        self.assertEqual(one["a"]["lanes"], [1])
        self.assertEqual(three["a"]["lanes"], [3])
        self.assertEqual(three["edits_a"], {"gates[0].lanes": "3"})
        out = os.path.join(TMP, "cli3")
        r = subprocess.run([GATETWIN, "run", SCENARIO, "--set", "gates[0].lanes=3", "-q", "-o", out],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        report = load_json(os.path.join(out, "report.json"))
        self.assertEqual(three["a"]["passages"], report["passages"]["total"])
        self.assertAlmostEqual(three["a"]["P95 wait"], report["wait_s"]["p95"], places=6)
        self.assertLessEqual(three["a"]["mean wait"], one["a"]["mean wait"])
        # The capacity answer is a configuration on its own curve that meets the target.
        cap = three["capacity"]
        self.assertIsNotNone(cap["smallest"])
        self.assertLessEqual(cap["smallest"]["peak_p95_wait_s"], cap["target_p95_wait_s"])

    def test_the_saved_scenario_validates_and_keeps_the_edit(self):
        saved = os.path.join(TMP, "edited.yaml")
        r = subprocess.run([GATETWIN, "validate", saved], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        out = os.path.join(TMP, "saved-run")
        r = subprocess.run([GATETWIN, "run", saved, "-q", "-o", out], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        report = load_json(os.path.join(out, "report.json"))
        exported = load_json(os.path.join(TMP, "report", "report.json"))
        self.assertEqual(report["gates"][0]["lanes"], 3)
        # Running the saved file gives the report the studio exported.
        self.assertEqual(report["passages"], exported["passages"])
        self.assertEqual(report["wait_s"], exported["wait_s"])


# The lane images of the Live tab: the first two 384 px wide frames, side by side, below the button row.
LANE1_BOX = (390, 125, 765, 400)
LANE2_BOX = (780, 125, 1160, 400)


def distinct_colours(img, box):
    return len(img.crop(box).getcolors(maxcolors=1 << 20) or [])


class LiveRuns(unittest.TestCase):
    def test_a_pixel_run_shows_the_rendered_residents_and_the_decisions(self):
        r, _ = studio(f"""open scenarios/pixel/calibration-small.yaml
set day.end 07:05
tab Live
live
wait 300
screenshot {TMP}/live-pixel.png
dump {TMP}/live-pixel.json
""", "live-pixel")
        self.assertEqual(r.returncode, 0, r.stderr)
        live = load_json(os.path.join(TMP, "live-pixel.json"))["live"]
        self.assertEqual(live["fidelity"], "pixel")
        self.assertFalse(live["running"])
        self.assertEqual(live["error"], "")
        self.assertGreater(live["decisions"], 3)
        self.assertEqual(live["events"], min(live["decisions"], 200))
        self.assertGreater(live["lanes"][0]["frames"], 10)
        img = png_rgb("live-pixel")
        self.assertGreater(distinct_colours(img, LANE1_BOX), 1000, "a rendered frame, not a blank rectangle")

    def test_a_hil_run_shows_both_lanes_cameras_gatectls_faces_and_events(self):
        r, _ = studio(f"""open scenarios/hil/regression.yaml
set day.end 07:30:30
tab Live
live
pause 15
screenshot {TMP}/live-hil.png
wait 300
dump {TMP}/live-hil.json
""", "live-hil")
        self.assertEqual(r.returncode, 0, r.stderr)
        live = load_json(os.path.join(TMP, "live-hil.json"))["live"]
        self.assertEqual(live["fidelity"], "hil")
        self.assertEqual(live["error"], "")
        self.assertGreater(live["decisions"], 2)
        self.assertGreater(live["gatectl_events"], 2)
        for lane in live["lanes"]:
            self.assertGreater(lane["frames"], 50, lane)  # the emulated camera's stream, ~10 fps
        self.assertGreater(sum(lane["gatectl_boxes"] for lane in live["lanes"]), 0, "gatectl's face boxes reach the view")
        img = png_rgb("live-hil")
        self.assertGreater(distinct_colours(img, LANE1_BOX), 500)
        self.assertGreater(distinct_colours(img, LANE2_BOX), 500)

    def test_a_statistical_scenario_has_no_live_run(self):
        r, path = studio(f"open {SCENARIO}\nlive\n", "live-statistical")
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:2: live: a live run needs fidelity pixel or hil", r.stderr)


class BadScripts(unittest.TestCase):
    def test_an_unknown_command_names_the_line_and_runs_nothing(self):
        r, path = studio(f"open {SCENARIO}\nzoom 3\n", "unknown")
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:2: unknown command 'zoom'", r.stderr)

    def test_a_bad_number_is_reported_before_anything_runs(self):
        r, path = studio(f"open {SCENARIO}\nwait 3O\n", "number")
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:2: wait: '3O' is not a number", r.stderr)

    def test_an_invalid_edit_names_the_field(self):
        r, path = studio(f"open {SCENARIO}\nset population.face_enrolled_share 1.5\nquit\n", "invalid")
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:2:", r.stderr)
        self.assertIn("population.face_enrolled_share", r.stderr)

    def test_a_missing_scenario(self):
        r, path = studio("open /nonexistent/x.yaml\n", "missing")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/x.yaml", r.stderr)


if __name__ == "__main__":
    STUDIO, GATETWIN, GATECTL = sys.argv.pop(1), sys.argv.pop(1), sys.argv.pop(1)
    unittest.main(verbosity=2)
