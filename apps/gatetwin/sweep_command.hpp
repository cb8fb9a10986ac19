#pragma once
// `gatetwin sweep`: a sweep file's jobs run by a local worker pool, by MPI ranks (rank 0 hands out jobs as
// ranks ask; it runs jobs itself too), or as one shard of a Slurm job array; journalled, resumable, and the
// same outputs whichever ran them (docs/sweeps.md).
#include <cstdint>
#include <set>
#include <string>

namespace gatetwin::app {

struct SweepOptions {
  std::string spec;              // the sweep file
  std::string out_dir;           // default runs/sweep-<name>
  unsigned jobs = 0;             // local workers (0: one per core)
  bool mpi = false;              // under mpirun: ranks share the jobs
  std::string shard;             // "I/N": only jobs with index % N == I (Slurm array tasks)
  std::string slurm_script;      // write a Slurm job-array script here instead of running
  unsigned slurm_tasks = 4;      // its array size
  bool dry_run = false;          // print the plan only
  bool quiet = false;
  bool verbose = false;          // a line per finished job
  std::set<std::size_t> fail_once;  // testing aid: these jobs' first attempt fails (the retry runs them)
};

// Exit status: 0 every job ok; 1 some jobs failed twice (recorded; the outputs are written); 2 a bad sweep
// file or arguments; 3 an I/O or MPI error (the journal keeps what finished: run the command again).
int run_sweep(const SweepOptions& o);

}  // namespace gatetwin::app
