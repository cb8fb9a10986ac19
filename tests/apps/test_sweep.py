#!/usr/bin/env python3
"""`gatetwin sweep` as a planner and a cluster use it (docs/sweeps.md), on the sweep files in tests/data/sweep/.

- The same tables whatever runs the jobs: a local pool of 2 workers, 1 worker, and `mpirun --oversubscribe -n 3`
  give byte-identical results.csv, summary.csv and summary.json (and capacity.png), for a plain sweep and a
  capacity sweep; with 0.1 s jobs every MPI rank gets some; an error longer than MPI's eager limit crosses whole.
- Failures: a variant whose override the loader refuses fails, is retried once, is reported with the loader's
  message and exit 1, while the other jobs and the outputs stand; an injected first-attempt failure
  (--fail-once) is retried and the results equal an undisturbed run's (also under MPI).
- Resume: a sweep killed with SIGKILL half-way (after its 5th journalled job) resumes without redoing the jobs
  in its journal, and a torn last journal line is dropped; the final outputs equal an uninterrupted run's.
  A directory holding another sweep's journal is refused.
- Slurm: the emitted job-array script, run once per array task id, leaves the same outputs.
- A bad sweep file: exit 2 with every problem as file:line:column: field: message.

Usage: test_sweep.py GATETWIN   (from the repository root; CTest does this)
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

GATETWIN = None
DATA = os.path.join("tests", "data", "sweep")
OUTPUTS = ("results.csv", "summary.csv", "summary.json")


def mpi_env():
    env = dict(os.environ)
    if os.geteuid() == 0:  # CI runs as root; Open MPI refuses unless told this is meant
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def sweep(spec, out, *args, mpi=0, timeout=300):
    cmd = [GATETWIN, "sweep", os.path.join(DATA, spec), "-o", out, *args]
    if mpi:
        cmd = ["mpirun", "--oversubscribe", "-n", str(mpi)] + cmd + ["--mpi"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=mpi_env())


def attempts_by_rank(stderr):
    """{"0": n, "1": n, ...} from rank 0's "sweep: attempts by rank: rank 0 7, rank 1 3" line."""
    line = stderr.split("attempts by rank: ")[1].splitlines()[0]
    return {p.split(" ")[1]: int(p.split(" ")[2]) for p in line.split(", ")}


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Sweep(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gatetwin-sweep-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def out(self, name):
        return os.path.join(self.tmp, name)

    def assertSameOutputs(self, a, b, files=OUTPUTS):
        for f in files:
            self.assertEqual(read(os.path.join(a, f)), read(os.path.join(b, f)), f + " differs between " + a + " and " + b)

    def test_local_and_mpi_give_the_same_tables(self):
        r = sweep("small.yaml", self.out("local"), "--jobs", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("12 jobs (4 configurations x 3 seeds)", r.stderr)
        self.assertIn("best (minimise wait_p95_s, subject to the constraints)", r.stdout)
        r1 = sweep("small.yaml", self.out("one"), "--jobs", "1")
        self.assertEqual(r1.returncode, 0, r1.stderr)
        self.assertSameOutputs(self.out("local"), self.out("one"))
        m = sweep("small.yaml", self.out("mpi"), mpi=3)
        self.assertEqual(m.returncode, 0, m.stdout + m.stderr)
        self.assertIn("on 3 MPI rank(s)", m.stderr)
        by_rank = attempts_by_rank(m.stderr)
        self.assertEqual(sorted(by_rank), ["0", "1", "2"])
        self.assertEqual(sum(by_rank.values()), 12)
        self.assertSameOutputs(self.out("local"), self.out("mpi"))

        # The tables themselves: 12 rows in job order, 4 configurations with intervals over 3 seeds.
        with open(os.path.join(self.out("local"), "results.csv")) as f:
            rows = f.read().splitlines()
        header = rows[0].split(",")
        self.assertEqual(header[:6], ["job", "scenario", "variant", "population.face_enrolled_share", "seed", "status"])
        self.assertEqual(len(rows), 13)
        self.assertEqual([r.split(",")[0] for r in rows[1:]], [str(i) for i in range(12)])
        self.assertEqual([r.split(",")[4] for r in rows[1:4]], ["1", "2", "3"])
        with open(os.path.join(self.out("local"), "summary.json")) as f:
            s = json.load(f)
        self.assertEqual(s["jobs"], {"total": 12, "ok": 12, "failed": 0, "retried": 0})
        self.assertEqual(len(s["configurations"]), 4)
        c = s["configurations"][3]
        self.assertEqual((c["variant"], c["vary"], c["seeds_ok"]),
                         ("lenient-fever", {"population.face_enrolled_share": "0.9"}, 3))
        w = c["metrics"]["wait_p95_s"]
        self.assertLessEqual(w["ci95"][0], w["mean"])
        self.assertLessEqual(w["mean"], w["ci95"][1])
        self.assertLess(w["min"], w["max"], "three seeds give three different days")
        # Fewer residents on face means more cards and staff: the 0.6 share is slower than 0.9.
        self.assertGreater(s["configurations"][0]["metrics"]["card_share"]["mean"],
                           s["configurations"][1]["metrics"]["card_share"]["mean"])
        best = {b["variant"]: b for b in s["best"]}
        self.assertEqual(set(best), {"default", "lenient-fever"})
        for b in best.values():
            self.assertIsNotNone(b["configuration"])

    def test_capacity_sweep_is_the_same_under_mpi_and_sizes_each_policy(self):
        r = sweep("capacity.yaml", self.out("local"))
        self.assertEqual(r.returncode, 0, r.stderr)
        m = sweep("capacity.yaml", self.out("mpi"), mpi=2)
        self.assertEqual(m.returncode, 0, m.stdout + m.stderr)
        self.assertSameOutputs(self.out("local"), self.out("mpi"), OUTPUTS + ("capacity.png",))
        with open(os.path.join(self.out("local"), "summary.json")) as f:
            s = json.load(f)
        self.assertEqual(s["jobs"]["total"], 2 * 3 * 2 * 4)
        self.assertEqual([c["variant"] for c in s["capacity"]], ["temperature-first", "no-remeasure"])
        for c in s["capacity"]:
            a = c["answer"]
            self.assertIsNotNone(a, c)
            self.assertLessEqual(a["peak_p95_wait_s"], 3)
            self.assertGreater(a["lanes"], 1, "one lane does not meet a 3 s target at the peak")
            one_lane = [p for p in c["curve"] if p["lanes"] == a["lanes"] - 1 and p["staff"] == a["staff"]][0]
            self.assertGreater(one_lane["peak_p95_wait_s"], 3)
            self.assertEqual(c["gate_lanes"], {"main": a["lanes"]})
            self.assertEqual(len(c["curve"]), 6)
        self.assertIn("capacity: fewest lanes", r.stdout)
        self.assertEqual(read(os.path.join(self.out("local"), "capacity.png"))[:8], b"\x89PNG\r\n\x1a\n")

    def test_failed_jobs_are_retried_once_and_reported(self):
        r = sweep("failing.yaml", self.out("f"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.count("retrying once"), 2)
        self.assertEqual(r.stderr.count("failed again"), 2)
        self.assertIn("--set: policy.fever_threshold: must be between 35 and 42", r.stderr)
        with open(os.path.join(self.out("f"), "summary.json")) as f:
            s = json.load(f)
        self.assertEqual(s["jobs"], {"total": 4, "ok": 2, "failed": 2, "retried": 2})
        bad = s["configurations"][1]
        self.assertEqual(bad["seeds_ok"], 0)
        self.assertEqual([x["seed"] for x in bad["failed"]], [1, 2])
        self.assertIn("policy.fever_threshold", bad["failed"][0]["error"])
        self.assertEqual({b["variant"]: b["why_none"] for b in s["best"]},
                         {"default": None, "impossible-threshold": "every job failed"})
        with open(os.path.join(self.out("f"), "results.csv")) as f:
            rows = f.read().splitlines()[1:]
        self.assertEqual([r.split(",")[4:6] for r in rows], [["ok", "1"], ["ok", "1"], ["failed", "2"], ["failed", "2"]])

        # An error longer than Open MPI's eager limit (4 kB) crosses from a worker rank whole. (Which rank runs
        # which attempt is up to the load balancing; with 12 attempts rank 1 nearly always has some.)
        long = sweep("long-error.yaml", self.out("long"), mpi=2, timeout=120)
        self.assertEqual(long.returncode, 1, long.stdout + long.stderr)
        self.assertEqual(sum(attempts_by_rank(long.stderr).values()), 12)
        with open(os.path.join(self.out("long"), "summary.json")) as f:
            failed = json.load(f)["configurations"][0]["failed"]
        self.assertEqual(len(failed), 6)
        for x in failed:
            self.assertGreater(len(x["error"]), 4096)
            self.assertEqual(x["error"].count("unknown field"), 40)

        # A transient failure (the first attempt of jobs 3 and 7): retried, and the tables are the undisturbed
        # ones but for the attempt counts.
        clean = sweep("small.yaml", self.out("clean"))
        self.assertEqual(clean.returncode, 0, clean.stderr)
        for name, mpi in (("once", 0), ("once-mpi", 3)):
            r = sweep("small.yaml", self.out(name), "--fail-once", "3", "--fail-once", "7", mpi=mpi)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stderr.count("injected failure"), 2)
            with open(os.path.join(self.out(name), "summary.json")) as f:
                self.assertEqual(json.load(f)["jobs"]["retried"], 2)
            with open(os.path.join(self.out(name), "results.csv")) as f:
                once = [l.split(",") for l in f.read().splitlines()]
            with open(os.path.join(self.out("clean"), "results.csv")) as f:
                plain = [l.split(",") for l in f.read().splitlines()]
            self.assertEqual([r[6] for r in once[1:]], ["2" if i in (3, 7) else "1" for i in range(12)])
            self.assertEqual([r[:6] + r[7:] for r in once], [r[:6] + r[7:] for r in plain])

    def test_a_killed_sweep_resumes_without_redoing_jobs(self):
        full = sweep("resume.yaml", self.out("full"))
        self.assertEqual(full.returncode, 0, full.stderr)
        # Jobs of ~0.1 s: under MPI every rank gets some (rank 0 hands them out as ranks ask), same tables.
        m = sweep("resume.yaml", self.out("mpi"), mpi=3)
        self.assertEqual(m.returncode, 0, m.stdout + m.stderr)
        by_rank = attempts_by_rank(m.stderr)
        self.assertEqual(sum(by_rank.values()), 24)
        self.assertTrue(all(v > 0 for v in by_rank.values()), by_rank)
        self.assertSameOutputs(self.out("full"), self.out("mpi"))
        out = self.out("killed")
        p = subprocess.Popen([GATETWIN, "sweep", os.path.join(DATA, "resume.yaml"), "-o", out, "--jobs", "1", "-v"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            for line in p.stderr:  # the 5th job is journalled (the line comes after the fsync)
                if line.startswith("sweep: job 4 done"):
                    p.send_signal(signal.SIGKILL)
                    break
            else:
                self.fail("no 'job 4 done' line")
        finally:
            p.kill()
            p.wait()
            p.stderr.close()
        journal = os.path.join(out, "jobs.jsonl")
        with open(journal) as f:
            done = [json.loads(l)["job"] for l in f]
        self.assertGreaterEqual(len(done), 5)
        self.assertLess(len(done), 24, "killed half-way")
        self.assertFalse(os.path.exists(os.path.join(out, "results.csv")))
        with open(journal, "a") as f:
            f.write('{"job": 23, "key": "00')  # a row torn by the kill
        r = sweep("resume.yaml", out, "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("%d done already (resumed from %s), 1 torn row(s) dropped; %d to run" % (len(done), out, 24 - len(done)),
                      r.stderr)
        rerun = sorted(int(l.split()[2]) for l in r.stderr.splitlines() if l.startswith("sweep: job ") and " done " in l)
        self.assertEqual(rerun, sorted(set(range(24)) - set(done)), "no finished job runs again")
        self.assertSameOutputs(self.out("full"), out)
        # Run again: nothing to do, the same outputs.
        again = sweep("resume.yaml", out)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("24 done already", again.stderr)
        self.assertIn("0 to run", again.stderr)
        self.assertSameOutputs(self.out("full"), out)
        # Another sweep's directory is refused, naming the journal line.
        other = sweep("small.yaml", out)
        self.assertEqual(other.returncode, 2)
        self.assertIn("jobs.jsonl:1: job 0 is not this sweep's", other.stderr)
        # Under MPI too: every rank stops (none is left waiting), with rank 0's reason, once.
        other = sweep("small.yaml", out, mpi=2, timeout=60)
        self.assertEqual(other.returncode, 2, other.stdout + other.stderr)
        self.assertEqual(other.stderr.count("is not this sweep's"), 1, other.stderr)

    def test_the_slurm_array_script_runs_the_shards(self):
        script = self.out("array.sh")
        out = self.out("slurm")
        r = subprocess.run([GATETWIN, "sweep", os.path.join(DATA, "small.yaml"), "-o", out, "--slurm-script", script,
                            "--array", "3"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(out), "Slurm writes the tasks' logs there before they run")
        with open(script) as f:
            text = f.read()
        self.assertIn("#SBATCH --array=0-2", text)
        self.assertIn("--shard \"$task/3\"", text)
        for task in range(3):  # what Slurm does, one task after another
            t = subprocess.run(["bash", script], capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, SLURM_ARRAY_TASK_ID=str(task), SLURM_CPUS_PER_TASK="1"))
            self.assertEqual(t.returncode, 0, t.stderr)
            self.assertTrue(os.path.exists(os.path.join(out, "jobs.shard-%d.jsonl" % task)))
            self.assertEqual(os.path.exists(os.path.join(out, "results.csv")), task == 2, t.stdout)
        local = sweep("small.yaml", self.out("local"))
        self.assertEqual(local.returncode, 0, local.stderr)
        self.assertSameOutputs(self.out("local"), out)

    def test_a_bad_sweep_file_names_every_problem(self):
        r = sweep("bad.yaml", self.out("bad"))
        self.assertEqual(r.returncode, 2, r.stderr)
        f = os.path.join(DATA, "bad.yaml")
        expected = [f + ":2:51: scenarios[1]: no such file",
                    f + ":4:27: vary.policy.fever_threshold: to is below from",
                    f + ":5:8: seeds: a seed is listed twice",
                    f + ":6:15: constraints[0]: unknown metric 'wait_p95'",
                    f + ":6:33: constraints[1]: \"METRIC <= NUMBER\" or \"METRIC >= NUMBER\"",
                    f + ":7:31: capacity.target_p95_wait_s: seconds above 0",
                    f + ":7:45: capacity.max_lanes: a whole number 1..64",
                    f + ":8:1: colour: unknown key"]
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), len(expected), r.stderr)
        for line, want in zip(lines, expected):
            self.assertTrue(line.startswith(want), (line, want))
        self.assertFalse(os.path.exists(self.out("bad")), "nothing is written for a bad file")
        # Ranks that would plan different jobs (another sweep file on one node: MPMD launch) refuse together.
        cmd = ["mpirun", "--oversubscribe", "-n", "1", GATETWIN, "sweep", os.path.join(DATA, "small.yaml"), "-o",
               self.out("mixed"), "--mpi", ":", "-n", "1", GATETWIN, "sweep", os.path.join(DATA, "failing.yaml"), "-o",
               self.out("mixed"), "--mpi"]
        mixed = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=mpi_env())
        self.assertEqual(mixed.returncode, 2, mixed.stdout + mixed.stderr)
        self.assertIn("rank 1: plans other jobs than rank 0", mixed.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.out("mixed"), "results.csv")))
        m = sweep("bad.yaml", self.out("bad"), mpi=2, timeout=60)
        self.assertEqual(m.returncode, 2, m.stdout + m.stderr)
        self.assertEqual(m.stderr.count("colour: unknown key"), 1, "rank 0 reports, once")


if __name__ == "__main__":
    GATETWIN = sys.argv.pop(1)
    if not shutil.which("mpirun"):
        sys.exit("test_sweep: mpirun not found (scripts/setup.sh installs openmpi-bin)")
    unittest.main(verbosity=2)
