#!/usr/bin/env python3
"""gatectl and gatetwin's vision commands as an operator and a tester use them: enrol, identify (JSON),
list, remove, bad input, missing models, and `gatetwin eval` with its DET plot.

Usage: test_gatectl.py PATH/TO/gatectl PATH/TO/gatetwin   (run from the repository root; CTest does this)
Needs the face models (scripts/fetch-models.sh). A private models directory is assembled from links to
the installed ONNX files plus a mask classifier trained here, so the user's cache is never written.
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

GATECTL = GATETWIN = None
TMP = None
ENV = None


def run(exe, *args, env=None, timeout=300):
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, env=env or ENV)


def lines(stdout):
    return [json.loads(l) for l in stdout.splitlines() if l.strip()]


def setUpModule():
    global TMP, ENV
    TMP = tempfile.mkdtemp(prefix="gatetwin-gatectl-")
    ENV = private_models.make(TMP, GATETWIN)
    r = run(GATETWIN, "faces", "-o", os.path.join(TMP, "set"), "--identities", "4", "--unmasked", "2",
            "--masked", "1", "--below-nose", "0", "--nuisance", "0.3")
    assert r.returncode == 0, r.stderr


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


def img(person, capture, wear="none"):
    return os.path.join(TMP, "set", "p%05d_c%02d_%s.jpg" % (person, capture, wear))


class Gatectl(unittest.TestCase):
    def setUp(self):
        self.db = os.path.join(TMP, "gallery-%s.db" % self._testMethodName)

    def enrol(self, person, *images, expect=0):
        r = run(GATECTL, "enroll", "--db", self.db, "--person", str(person), *images)
        self.assertEqual(r.returncode, expect, r.stderr)
        return r

    def test_enrol_then_identify_a_second_capture(self):
        r = self.enrol(1, img(1, 0))
        out = lines(r.stdout)
        self.assertEqual(out[0]["template"], "unmasked")
        self.enrol(2, img(2, 0))
        r = run(GATECTL, "identify", "--db", self.db, img(1, 1))
        self.assertEqual(r.returncode, 0, r.stderr)
        [res] = lines(r.stdout)
        self.assertTrue(res["acquired"])
        self.assertEqual(res["matches"][0]["person"], 1)
        self.assertGreater(res["matches"][0]["score"], res["matches"][1]["score"])
        face = res["faces"][res["deciding_face"]]
        self.assertEqual(len(face["box"]), 4)
        self.assertEqual(len(face["five_points"]), 5)
        self.assertIn(res["mask"]["state"], ("none", "worn", "below_nose"))
        for stage in ("detect", "landmarks", "align", "embed", "total"):
            self.assertGreater(res["timings_ms"][stage], 0.0, stage)
        ev = res["event"]
        if res["matches"][0]["score"] >= res["threshold"]:
            self.assertEqual(ev["decision"], "grant")
            self.assertEqual(ev["person_id"], 1)
            self.assertIn("识别成功", ev["announcement"])
        self.assertEqual(ev["lane"], "lane-1")
        self.assertEqual(ev["thermal"], "no_sensor")

    def test_temperature_is_fused_and_announced(self):
        self.enrol(3, img(3, 0))
        policy = os.path.join(TMP, "low-threshold.yaml")
        with open(policy, "w") as f:
            f.write("threshold_unmasked: 0.2\nthreshold_masked: 0.2\nmax_face_attempts: 1\nmask: \"off\"\n")
        r = run(GATECTL, "identify", "--db", self.db, "--policy", policy, "--skin-temp", "36.4", img(3, 1))
        self.assertEqual(r.returncode, 0, r.stderr)
        [res] = lines(r.stdout)
        self.assertEqual(res["thermal"]["status"], "ok")
        self.assertEqual(res["event"]["current_temperature_c"], 36.9)
        self.assertEqual(res["event"]["announcement"], "体温正常，36.9度，识别成功")
        r = run(GATECTL, "identify", "--db", self.db, "--policy", policy, "--skin-temp", "37.4", img(3, 1))
        [res] = lines(r.stdout)
        self.assertEqual(res["event"]["decision"], "pending")
        self.assertEqual(res["event"]["next"], "measure_temperature")

    def test_card_plus_face_verifies_the_holder_one_to_one(self):
        self.enrol(1, img(1, 0))
        self.enrol(2, img(2, 0))
        [plain] = lines(run(GATECTL, "identify", "--db", self.db, img(1, 1)).stdout)
        scores = {m["person"]: m["score"] for m in plain["matches"]}
        self.assertGreater(scores[1], scores[2])
        policy = os.path.join(TMP, "card-face.yaml")
        with open(policy, "w") as f:
            t = (scores[1] + scores[2]) / 2
            f.write("card_requires_face: true\nthreshold_unmasked: %.4f\nthreshold_masked: %.4f\n" % (t, t))
        [own] = lines(run(GATECTL, "identify", "--db", self.db, "--policy", policy, "--card-holder", "1", img(1, 1)).stdout)
        self.assertEqual(own["event"]["decision"], "grant")
        self.assertEqual(own["event"]["reason"], "card_accepted")
        self.assertEqual(own["event"]["verify_mode"], "card+face")
        self.assertAlmostEqual(own["event"]["score"], scores[1], places=3)
        [borrowed] = lines(run(GATECTL, "identify", "--db", self.db, "--policy", policy, "--card-holder", "2", img(1, 1)).stdout)
        self.assertEqual(borrowed["event"]["reason"], "card_face_mismatch")
        self.assertEqual(borrowed["event"]["next"], "staff_check")
        [revoked] = lines(run(GATECTL, "identify", "--db", self.db, "--card-holder", "1", "--card-status", "revoked",
                              img(1, 1)).stdout)
        self.assertEqual(revoked["event"]["reason"], "card_revoked")

    def test_bad_images_are_reported_per_image_and_never_crash(self):
        empty = os.path.join(TMP, "empty.jpg")
        open(empty, "w").close()
        text = os.path.join(TMP, "text.jpg")
        with open(text, "w") as f:
            f.write("not an image\n")
        truncated = os.path.join(TMP, "truncated.jpg")
        with open(img(0, 0), "rb") as src, open(truncated, "wb") as dst:
            dst.write(src.read()[:600])
        r = run(GATECTL, "identify", empty, text, os.path.join(TMP, "absent.jpg"), TMP, truncated, img(0, 0))
        self.assertEqual(r.returncode, 1, r.stderr)
        out = lines(r.stdout)
        self.assertEqual(len(out), 6)
        self.assertEqual(out[0]["error"], "empty file")
        self.assertIn("not a readable image", out[1]["error"])
        self.assertEqual(out[2]["error"], "no such file")
        self.assertEqual(out[3]["error"], "is a directory")
        # A truncated JPEG either fails to decode or decodes to a partly grey frame: a result, not a crash.
        self.assertTrue("error" in out[4] or "acquired" in out[4])
        self.assertTrue(out[5]["acquired"])
        self.assertEqual(out[5]["matches"], [])  # no gallery: nothing to match
        self.assertEqual(out[5]["event"]["decision"], "pending")
        self.assertEqual(out[5]["event"]["next"], "capture_face")  # the default policy allows 3 face attempts

    def test_enrolment_is_all_or_nothing(self):
        bad = os.path.join(TMP, "blank.ppm")
        with open(bad, "wb") as f:
            f.write(b"P6\n64 48\n255\n" + bytes([128]) * (64 * 48 * 3))
        r = self.enrol(5, img(0, 0), bad, expect=1)
        self.assertIn("nothing enrolled", r.stderr)
        self.assertEqual(lines(r.stdout)[1]["error"], "no face found")
        self.assertFalse(os.path.exists(self.db))
        r = run(GATECTL, "enroll", "--db", self.db, "--person", "5", "--partial", img(0, 0), bad)
        self.assertEqual(r.returncode, 1)
        listed = lines(run(GATECTL, "list", "--db", self.db).stdout)
        self.assertEqual([t["person"] for t in listed], [5])

    def test_list_and_remove(self):
        self.enrol(7, img(0, 0), img(0, 1))
        listed = lines(run(GATECTL, "list", "--db", self.db).stdout)
        self.assertEqual(len(listed), 2)
        self.assertTrue(all(t["model"] == "faceplugin-0.0.1/fr_feature.onnx" for t in listed))
        self.assertTrue(all("embedding" not in t for t in listed))
        r = run(GATECTL, "remove", "--db", self.db, "--person", "7")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 template(s) deleted", r.stderr)
        self.assertEqual(lines(run(GATECTL, "list", "--db", self.db).stdout), [])
        self.assertEqual(run(GATECTL, "remove", "--db", self.db, "--person", "7").returncode, 1)

    def test_bad_policy_file_names_line_and_key(self):
        policy = os.path.join(TMP, "bad-policy.yaml")
        with open(policy, "w") as f:
            f.write("threshold_unmasked: 0.6\nmask: sometimes\nfever_treshold_c: 37.3\n")
        r = run(GATECTL, "identify", "--policy", policy, img(0, 0))
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad-policy.yaml:2:7: mask: must be one of off, remind, require", r.stderr)
        self.assertIn("bad-policy.yaml:3:1: fever_treshold_c: unknown policy key", r.stderr)

    def test_missing_models_print_the_fixing_command(self):
        env = dict(ENV, GATETWIN_MODELS=os.path.join(TMP, "no-models"))
        r = run(GATECTL, "identify", img(0, 0), env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing: " + os.path.join(TMP, "no-models", "faceplugin-0.0.1", "fr_detect.onnx"), r.stderr)
        self.assertIn("fix with: scripts/fetch-models.sh", r.stderr)

    def test_templates_of_another_model_are_refused(self):
        self.enrol(8, img(0, 0))
        manifest = os.path.join(TMP, "other.yaml")
        with open("models/faceplugin-0.0.1.yaml") as f:
            text = f.read().replace("id: faceplugin-0.0.1", "id: other-vendor-2.0")
        with open(manifest, "w") as f:
            f.write(text.replace("directory: faceplugin-0.0.1", "directory: " + os.path.join(TMP, "models", "faceplugin-0.0.1")))
        r = run(GATECTL, "--manifest", manifest, "identify", "--db", self.db, img(0, 1))
        self.assertEqual(r.returncode, 2)
        self.assertIn("faceplugin-0.0.1/fr_feature.onnx", r.stderr)


class Eval(unittest.TestCase):
    def test_eval_on_a_rendered_set_writes_rates_and_a_det_plot(self):
        out = os.path.join(TMP, "eval")
        r = run(GATETWIN, "eval", "--images", os.path.join(TMP, "set"), "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("unmasked/unmasked: EER", r.stdout)
        with open(os.path.join(out, "report.json")) as f:
            rep = json.load(f)
        self.assertEqual(rep["images"], 12)
        self.assertEqual(set(rep["protocols"]), {"unmasked/unmasked", "unmasked/masked", "masked/masked"})
        uu = rep["protocols"]["unmasked/unmasked"]
        self.assertGreaterEqual(uu["genuine_comparisons"], 3)  # 4 identities: one enrolment + one probe each
        self.assertEqual(uu["impostor_comparisons"], 3 * uu["genuine_comparisons"])
        self.assertGreaterEqual(rep["detection"]["found_iou_0_4"], 11)
        with open(os.path.join(out, "det.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        with open(os.path.join(out, "det_unmasked_unmasked.csv")) as f:
            self.assertEqual(f.readline().strip(), "threshold,fmr,fnmr")

    def test_bad_labels_name_file_line_and_field(self):
        d = os.path.join(TMP, "badset")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "labels.csv"), "w") as f:
            f.write("file,person,mask\na.jpg,1,none\nb.jpg,x,none\n")
        r = run(GATETWIN, "eval", "--images", d)
        self.assertEqual(r.returncode, 2)
        self.assertIn("labels.csv:3: person: must be a whole number, got 'x'", r.stderr)


if __name__ == "__main__":
    GATECTL, GATETWIN = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
