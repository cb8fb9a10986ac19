#!/usr/bin/env python3
"""Jobs per second of a statistical-mode sweep: the local executor with 1 and 2 workers, and MPI with 1 and 2
ranks (mpirun -n K gatetwin sweep --mpi; rank 0 runs jobs as well as handing them out).

The sweep is Gucheng (FACTS.md: 14 compounds, 20 gates) over --seeds seeds, one statistical day per job, with
a fresh results directory per run (nothing is resumed). The baseline is the 1-worker local run of the same
invocation: every other row is its ratio to it, so a noisy, shared machine shows up as a ratio rather than
as a wrong absolute figure. Every run's results.csv must be identical to the baseline's (checked).

Usage: bench/sweep_bench.py [--seeds 48] [--repeat 3] [--gatetwin build/apps/gatetwin/gatetwin]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=48)
    ap.add_argument("--repeat", type=int, default=3, help="runs per row; the best is reported")
    ap.add_argument("--gatetwin", default=os.path.join(ROOT, "build", "apps", "gatetwin", "gatetwin"))
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sweep-bench-")
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    spec = os.path.join(work, "bench.yaml")
    with open(spec, "w") as f:
        f.write("name: bench\nscenarios: [%s]\nseeds: {first: 1, count: %d}\n"
                % (os.path.join(ROOT, "scenarios", "gucheng.yaml"), a.seeds))
    rows = [("local, 1 worker (baseline)", ["--jobs", "1"], 0), ("local, 2 workers", ["--jobs", "2"], 0),
            ("MPI, 1 rank", [], 1), ("MPI, 2 ranks", [], 2)]
    try:
        # Round robin (row 1, 2, 3, 4, row 1, 2, ...) so that a slow spell of the machine hits every row alike.
        best, reference = [None] * len(rows), None
        for k in range(a.repeat):
            for i, (name, args, ranks) in enumerate(rows):
                out = os.path.join(work, "out-%d-%d" % (i, k))
                cmd = [a.gatetwin, "sweep", spec, "-o", out, "-q", *(args or ["--jobs", "1"])]
                if ranks:
                    cmd = ["mpirun", "--oversubscribe", "-n", str(ranks), a.gatetwin, "sweep", spec, "-o", out, "-q", "--mpi"]
                t0 = time.monotonic()
                p = subprocess.run(cmd, capture_output=True, text=True, env=env)
                secs = time.monotonic() - t0
                if p.returncode != 0:
                    sys.exit("%s failed:\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
                with open(os.path.join(out, "results.csv"), "rb") as f:
                    csv = f.read()
                if reference is None:
                    reference = csv
                elif csv != reference:
                    sys.exit(name + ": results.csv differs from the baseline's")
                best[i] = secs if best[i] is None else min(best[i], secs)
        results = [(name, best[i]) for i, (name, _, _) in enumerate(rows)]
        base = a.seeds / results[0][1]
        print("sweep of %d statistical Gucheng days (20 gates), best of %d, wall time including start-up:" % (a.seeds, a.repeat))
        print("| executor | wall s | jobs/s | / baseline |")
        print("|---|---:|---:|---:|")
        for name, secs in results:
            rate = a.seeds / secs
            print("| %s | %.2f | %.1f | %.2fx |" % (name, secs, rate, rate / base))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
