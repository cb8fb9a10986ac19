#include "sweep_command.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gatetwin/sim/sweep.hpp"

#ifdef GATETWIN_HAVE_MPI
#include <mpi.h>
#endif

namespace gatetwin::app {

namespace fs = std::filesystem;
namespace gs = gatetwin::sim;
using Clock = std::chrono::steady_clock;

namespace {

struct Task {
  std::size_t job = 0;
  int attempt = 1;
};

// One attempt of a job, with the testing aid --fail-once.
gs::SweepRow run_task(const gs::SweepPlan& plan, const SweepOptions& o, const Task& t) {
  if (t.attempt == 1 && o.fail_once.count(t.job)) {
    gs::SweepRow r;
    r.job = t.job;
    r.key = plan.jobs[t.job].key;
    r.attempts = 1;
    r.error = "injected failure (--fail-once)";
    return r;
  }
  return gs::run_sweep_job(plan, t.job, t.attempt);
}

// What the executors share: the plan, the rows so far, the journal, the retry rule and the progress line.
class Sweep {
 public:
  Sweep(const gs::SweepPlan& plan, const SweepOptions& o, fs::path dir, std::string journal_name)
      : plan_(plan), o_(o), dir_(std::move(dir)) {
    std::size_t torn = 0;
    rows_ = gs::read_sweep_journals(dir_, plan_, &torn);
    torn_ = torn;
    if (!o.shard.empty()) {
      unsigned i = 0, n = 0;
      char slash = 0;
      std::istringstream in(o.shard);
      if (!(in >> i >> slash >> n) || slash != '/' || n == 0 || i >= n || !in.eof())
        throw gs::SweepError({"--shard " + o.shard + ": I/N with 0 <= I < N"});
      shard_index_ = i;
      shard_count_ = n;
      journal_name = "jobs.shard-" + std::to_string(i) + ".jsonl";
    }
    for (const auto& j : plan_.jobs)
      if (j.index % shard_count_ == shard_index_ && !rows_.count(j.index)) todo_.push_back({j.index, 1});
    for (const auto& [job, row] : rows_)
      if (job % shard_count_ == shard_index_) ++resumed_;
    total_ = todo_.size() + resumed_;
    fs::create_directories(dir_);
    journal_ = std::make_unique<gs::SweepJournal>(dir_ / journal_name);
  }

  std::deque<Task>& todo() { return todo_; }
  const gs::SweepPlan& plan() const { return plan_; }
  std::size_t to_run() const { return todo_.size(); }
  std::size_t resumed() const { return resumed_; }
  std::size_t torn() const { return torn_; }
  bool sharded() const { return shard_count_ > 1; }
  std::string shard() const { return std::to_string(shard_index_) + "/" + std::to_string(shard_count_); }

  gs::SweepRow run(const Task& t) const { return run_task(plan_, o_, t); }

  // A finished attempt: a failed first attempt is retried once (returned), anything else is journalled.
  std::optional<Task> finished(const gs::SweepRow& row) {
    std::lock_guard lock(mu_);
    if (!row.ok && row.attempts == 1) {
      ++retries_;
      if (!o_.quiet)
        std::cerr << "sweep: job " << row.job << " failed (" << row.error << "); retrying once\n";
      return Task{row.job, 2};
    }
    journal_->append(row);
    rows_[row.job] = row;
    ++done_;
    if (o_.verbose && !o_.quiet)
      std::cerr << "sweep: job " << row.job << (row.ok ? " done" : " failed") << " (attempt " << row.attempts << ")\n";
    if (!row.ok) {
      ++failed_;
      if (!o_.quiet) std::cerr << "sweep: job " << row.job << " failed again: " << row.error << " (recorded)\n";
    }
    report(false);
    return std::nullopt;
  }

  void start(const std::string& how) {
    started_ = Clock::now();
    last_report_ = started_;
    if (o_.quiet) return;
    const std::size_t configs = plan_.jobs.size() / std::max<std::size_t>(1, plan_.spec.seeds.size());
    std::cerr << "sweep " << plan_.spec.name << ": " << plan_.jobs.size() << " jobs (" << configs << " configurations x "
              << plan_.spec.seeds.size() << " seeds)" << (sharded() ? ", shard " + shard() + ": " + std::to_string(total_) : "")
              << "; " << resumed_ << " done already" << (resumed_ ? " (resumed from " + dir_.string() + ")" : "")
              << (torn_ ? ", " + std::to_string(torn_) + " torn row(s) dropped" : "") << "; " << todo_.size()
              << " to run on " << how << "\n";
  }

  void report(bool final) {
    if (o_.quiet) return;
    const auto now = Clock::now();
    if (!final && (now - last_report_ < std::chrono::seconds(2) || done_ == todo_total())) return;
    last_report_ = now;
    const double secs = std::chrono::duration<double>(now - started_).count();
    const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
    const std::size_t left = todo_total() - done_;
    char line[200];
    std::snprintf(line, sizeof line, "sweep: %zu/%zu jobs (%zu failed, %zu retried), %.2f jobs/s, %s %.0f s", resumed_ + done_,
                  total_, failed_, retries_, rate, final ? "took" : "ETA", final ? secs : (rate > 0 ? static_cast<double>(left) / rate : 0.0));
    std::cerr << line << "\n";
  }

  std::size_t todo_total() const { return total_ - resumed_; }
  std::size_t failed() const { return failed_; }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - started_).count(); }

  // Writes the outputs when every job of the plan has a row (any shard's); prints the answers.
  int finish() {
    report(true);
    std::size_t torn = 0;
    const auto all = gs::read_sweep_journals(dir_, plan_, &torn);
    if (all.size() < plan_.jobs.size()) {
      std::cout << "sweep " << plan_.spec.name << (sharded() ? ", shard " + shard() : "") << ": " << all.size() << " of "
                << plan_.jobs.size() << " jobs have results in " << dir_.string()
                << "; the outputs are written when the last shard finishes (or run `gatetwin sweep` on the file "
                   "without --shard)\n";
      return failed_ ? 1 : 0;
    }
    const std::size_t failed = gs::write_sweep_outputs(plan_, all, dir_);
    print_answers();
    return failed ? 1 : 0;
  }

 private:
  void print_answers() const {
    if (o_.quiet) return;
    const auto summary = nlohmann::json::parse(std::ifstream(dir_ / "summary.json"));
    const auto& jobs = summary["jobs"];
    std::cout << "sweep " << plan_.spec.name << ": " << jobs["total"] << " jobs, " << jobs["failed"] << " failed, "
              << jobs["retried"] << " retried\n";
    char buf[256];
    if (summary.contains("capacity")) {
      std::cout << "  capacity: fewest lanes (then staff) per gate keeping the worst gate's peak-hour P95 wait under "
                << plan_.spec.capacity->target_p95_wait_s << " s, "
                << (plan_.spec.capacity_upper ? "the top of the 95% interval" : "the mean") << " over "
                << plan_.spec.seeds.size() << " seed(s):\n";
      for (const auto& c : summary["capacity"]) {
        std::string where = c["scenario"].get<std::string>() + " / " + c["variant"].get<std::string>();
        for (const auto& [k, v] : c["vary"].items()) where += " / " + k + "=" + v.get<std::string>();
        if (c["answer"].is_null()) {
          std::cout << "    " << where << ": none on the grid\n";
          continue;
        }
        const auto& a = c["answer"];
        const auto& w = a["worst_gate_p95_s"];
        std::snprintf(buf, sizeof buf, "%d lane%s, %d staff: P95 %.1f s", a["lanes"].get<int>(),
                      a["lanes"].get<int>() == 1 ? "" : "s", a["staff"].get<int>(), a["peak_p95_wait_s"].get<double>());
        std::string ci;
        if (!w.is_null() && !w["ci95"].is_null()) {
          char b2[96];
          std::snprintf(b2, sizeof b2, " (95%% CI %.1f-%.1f s)", w["ci95"][0].get<double>(), w["ci95"][1].get<double>());
          ci = b2;
        }
        // Gates sized alone, grouped by the lanes they need: "2 lanes: c01-north, c07-main; 1 lane: 18 others".
        std::map<int, std::vector<std::string>> by_lanes;
        for (const auto& [g, n] : c["gate_lanes"].items()) by_lanes[n.is_null() ? 0 : n.get<int>()].push_back(g);
        std::size_t most = 0;
        for (const auto& [n, gs_] : by_lanes) most = std::max(most, gs_.size());
        std::string gates;
        for (auto it = by_lanes.rbegin(); it != by_lanes.rend(); ++it) {
          const auto& [n, names] = *it;
          std::string list;
          if (by_lanes.size() == 1) {
            list = names.size() == 1 ? names[0] : "all " + std::to_string(names.size()) + " gates";
          } else if (names.size() == most && names.size() > 3) {
            list = std::to_string(names.size()) + " others";
          } else {
            for (const auto& g : names) list += (list.empty() ? "" : ", ") + g;
          }
          gates += (gates.empty() ? "" : "; ") + (n ? std::to_string(n) + (n == 1 ? " lane: " : " lanes: ") : "none on the grid: ") + list;
        }
        std::cout << "    " << where << ": " << buf << ci << "; each gate alone: " << gates << "\n";
      }
    }
    if (plan_.spec.capacity && !plan_.spec.objective_given) {
      std::cout << "  outputs in " << dir_.string() << ": results.csv, summary.csv, summary.json, capacity.png\n";
      return;
    }
    std::cout << "  best (" << summary["objective"].begin().key() << " " << plan_.spec.objective
              << (plan_.spec.constraints.empty() ? "" : ", subject to the constraints") << "):\n";
    for (const auto& b : summary["best"]) {
      std::cout << "    " << b["scenario"].get<std::string>() << " / " << b["variant"].get<std::string>() << ": ";
      if (b["configuration"].is_null()) {
        std::cout << b["why_none"].get<std::string>() << "\n";
        continue;
      }
      const auto& c = summary["configurations"][b["configuration"].get<std::size_t>()];
      std::string what;
      for (const auto& [k, v] : c["vary"].items()) what += (what.empty() ? "" : ", ") + k + "=" + v.get<std::string>();
      if (c.contains("lanes")) what += (what.empty() ? "" : ", ") + std::string("lanes=") + c["lanes"].dump() + ", staff=" + c["staff"].dump();
      std::snprintf(buf, sizeof buf, "%.4g", b["objective"].get<double>());
      std::cout << (what.empty() ? "(the base configuration)" : what) << ": " << plan_.spec.objective << " " << buf << "\n";
    }
    std::cout << "  outputs in " << dir_.string() << ": results.csv, summary.csv, summary.json"
              << (summary.contains("capacity") ? ", capacity.png" : "") << "\n";
  }

  const gs::SweepPlan& plan_;
  const SweepOptions& o_;
  fs::path dir_;
  std::map<std::size_t, gs::SweepRow> rows_;
  std::deque<Task> todo_;
  std::unique_ptr<gs::SweepJournal> journal_;
  std::mutex mu_;
  std::size_t resumed_ = 0, total_ = 0, done_ = 0, failed_ = 0, retries_ = 0, torn_ = 0;
  unsigned shard_index_ = 0, shard_count_ = 1;
  Clock::time_point started_, last_report_;
};

int run_local(Sweep& sweep, unsigned workers) {
  std::mutex mu;
  std::deque<Task>& todo = sweep.todo();
  std::vector<std::thread> pool;
  std::exception_ptr error;
  std::condition_variable cv;
  std::size_t busy = 0;
  for (unsigned w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      for (;;) {
        Task t;
        {
          std::unique_lock lock(mu);
          // A retry is queued by a worker that is still busy: wait for it rather than leave early.
          cv.wait(lock, [&] { return !todo.empty() || busy == 0 || error; });
          if (todo.empty() || error) return;
          t = todo.front();
          todo.pop_front();
          ++busy;
        }
        std::optional<Task> retry;
        try {
          retry = sweep.finished(sweep.run(t));
        } catch (...) {  // the journal could not be written: stop, what is journalled stays
          std::lock_guard lock(mu);
          if (!error) error = std::current_exception();
        }
        {
          std::lock_guard lock(mu);
          if (retry) todo.push_back(*retry);
          --busy;
        }
        cv.notify_all();
      }
    });
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return 0;
}

#ifdef GATETWIN_HAVE_MPI

enum Tag : int { kReady = 1, kJob = 2, kResult = 3, kStop = 4 };

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw std::runtime_error(std::string("MPI ") + what + ": " + std::string(msg, static_cast<std::size_t>(len)));
}

// Polling without spinning a core (Open MPI's blocking calls busy-poll, and mpirun binds a rank to one core,
// which rank 0's worker thread shares): the pause grows from 50 us to 5 ms while nothing happens.
class Backoff {
 public:
  std::chrono::microseconds next() {
    const auto now = pause_;
    pause_ = std::min(pause_ * 2, std::chrono::microseconds(5000));
    return now;
  }
  void reset() { pause_ = std::chrono::microseconds(50); }

 private:
  std::chrono::microseconds pause_{50};
};

// Waits for a message from `source`: probe, else pause.
MPI_Status wait_message(int source) {
  Backoff backoff;
  for (;;) {
    int flag = 0;
    MPI_Status st;
    check(MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st), "probe");
    if (flag) return st;
    std::this_thread::sleep_for(backoff.next());
  }
}

// A rank other than 0: ask, run, answer, until told to stop.
void mpi_worker(const gs::SweepPlan& plan, const SweepOptions& o) {
  check(MPI_Send(nullptr, 0, MPI_CHAR, 0, kReady, MPI_COMM_WORLD), "send");
  for (;;) {
    const MPI_Status st = wait_message(0);
    if (st.MPI_TAG == kStop) {
      check(MPI_Recv(nullptr, 0, MPI_CHAR, 0, kStop, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "receive");
      return;
    }
    std::uint64_t msg[2] = {0, 0};
    check(MPI_Recv(msg, 2, MPI_UINT64_T, 0, kJob, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "receive");
    if (msg[0] >= plan.jobs.size()) throw std::runtime_error("MPI: rank 0 sent job " + std::to_string(msg[0]) + ", not in the plan");
    const gs::SweepRow row = run_task(plan, o, {static_cast<std::size_t>(msg[0]), static_cast<int>(msg[1])});
    const std::string text = gs::sweep_row_json(row);
    check(MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, 0, kResult, MPI_COMM_WORLD), "send");
  }
}

// Rank 0: hands out jobs as ranks ask (dynamic load balancing), runs jobs itself on a second thread, takes
// results, retries a failed job once (on whichever rank asks next), journals.
std::vector<std::size_t> mpi_coordinator(Sweep& sweep, int ranks) {
  std::deque<Task>& todo = sweep.todo();
  std::vector<std::size_t> per_rank(static_cast<std::size_t>(ranks), 0);
  std::vector<bool> busy(static_cast<std::size_t>(ranks), false);
  std::vector<bool> ready(static_cast<std::size_t>(ranks), false);
  std::vector<std::size_t> assigned(static_cast<std::size_t>(ranks), 0);
  // Rank 0's own worker thread: one task at a time through these.
  std::mutex mu;
  std::condition_variable cv, result_cv;
  std::optional<Task> local_task;
  std::optional<gs::SweepRow> local_result;
  bool local_stop = false;
  std::thread local([&] {
    for (;;) {
      Task t;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return local_task || local_stop; });
        if (local_stop && !local_task) return;
        t = *local_task;
      }
      gs::SweepRow row = sweep.run(t);
      {
        std::lock_guard lock(mu);
        local_task.reset();
        local_result = std::move(row);
      }
      result_cv.notify_all();
    }
  });
  std::exception_ptr error;
  try {
    std::size_t outstanding = 0;
    bool local_busy = false;
    Backoff backoff;
    auto take = [&](const gs::SweepRow& row, int rank) {
      ++per_rank[static_cast<std::size_t>(rank)];
      if (const auto retry = sweep.finished(row)) todo.push_back(*retry);
    };
    while (!todo.empty() || outstanding > 0 || local_busy) {
      bool progressed = false;
      int flag = 0;
      MPI_Status st;
      check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st), "probe");
      if (flag) {
        progressed = true;
        const auto r = static_cast<std::size_t>(st.MPI_SOURCE);
        if (st.MPI_TAG == kReady) {
          check(MPI_Recv(nullptr, 0, MPI_CHAR, st.MPI_SOURCE, kReady, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "receive");
          ready[r] = true;
        } else if (st.MPI_TAG == kResult) {
          int len = 0;
          check(MPI_Get_count(&st, MPI_CHAR, &len), "count");
          std::string text(static_cast<std::size_t>(len), '\0');
          check(MPI_Recv(text.data(), len, MPI_CHAR, st.MPI_SOURCE, kResult, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "receive");
          const auto row = gs::parse_sweep_row(text);
          if (!row) throw std::runtime_error("MPI: rank " + std::to_string(r) + " sent an unreadable result");
          if (!busy[r] || row->job != assigned[r] || row->key != sweep.plan().jobs[row->job].key)
            throw std::runtime_error("MPI: rank " + std::to_string(r) + " sent a result for job " + std::to_string(row->job) +
                                     ", not the job it was given");
          busy[r] = false;
          --outstanding;
          take(*row, static_cast<int>(r));
        } else {
          throw std::runtime_error("MPI: unexpected message tag " + std::to_string(st.MPI_TAG) + " from rank " +
                                   std::to_string(r));
        }
      }
      for (int r = 1; r < ranks && !todo.empty(); ++r) {
        if (!ready[static_cast<std::size_t>(r)] || busy[static_cast<std::size_t>(r)]) continue;
        const Task t = todo.front();
        todo.pop_front();
        const std::uint64_t msg[2] = {t.job, static_cast<std::uint64_t>(t.attempt)};
        check(MPI_Send(msg, 2, MPI_UINT64_T, r, kJob, MPI_COMM_WORLD), "send");
        busy[static_cast<std::size_t>(r)] = true;
        assigned[static_cast<std::size_t>(r)] = t.job;
        ++outstanding;
        progressed = true;
      }
      {
        // Rank 0's own worker: take its result (a retry may refill the queue), then give it the next job.
        const auto feed_local = [&] {
          std::lock_guard lock(mu);
          if (local_busy || todo.empty()) return;
          local_task = todo.front();
          todo.pop_front();
          local_busy = true;
          cv.notify_all();
        };
        std::optional<gs::SweepRow> result;
        {
          std::lock_guard lock(mu);
          if (local_result) {
            result = std::move(local_result);
            local_result.reset();
            local_busy = false;
          }
        }
        if (result) {
          progressed = true;
          take(*result, 0);
        }
        feed_local();
      }
      if (progressed) {
        backoff.reset();
      } else {  // nothing to do: pause, but wake at once for rank 0's own result
        std::unique_lock lock(mu);
        result_cv.wait_for(lock, backoff.next(), [&] { return local_result.has_value(); });
      }
    }
    // Every rank has said it is ready (a rank that had no job yet still sends kReady): stop them all.
    for (int r = 1; r < ranks; ++r) {
      if (!ready[static_cast<std::size_t>(r)]) {
        const MPI_Status st = wait_message(r);
        if (st.MPI_TAG != kReady) throw std::runtime_error("MPI: rank " + std::to_string(r) + " sent a result for no job");
        check(MPI_Recv(nullptr, 0, MPI_CHAR, r, kReady, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "receive");
      }
      check(MPI_Send(nullptr, 0, MPI_CHAR, r, kStop, MPI_COMM_WORLD), "send");
    }
  } catch (...) {
    error = std::current_exception();
  }
  {
    std::lock_guard lock(mu);
    local_stop = true;
  }
  cv.notify_all();
  local.join();
  if (error) std::rethrow_exception(error);
  return per_rank;
}

#endif

// A word for bash, single-quoted ('it'"'"'s').
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\"'\"'") : std::string(1, c);
  return out + "'";
}

std::string slurm_script(const gs::SweepPlan& plan, const SweepOptions& o, const fs::path& dir) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  const std::string exe = n > 0 ? std::string(self, static_cast<std::size_t>(n)) : "gatetwin";
  const std::string spec = fs::absolute(o.spec).string();
  const std::string out = fs::absolute(dir).string();
  const std::string tasks = std::to_string(o.slurm_tasks);
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# A Slurm job array for the sweep " << plan.spec.name << " (" << plan.jobs.size() << " jobs), written by\n"
    << "#   gatetwin sweep " << o.spec << " --slurm-script " << o.slurm_script << " --array " << tasks << "\n"
    << "# Submit with `sbatch " << o.slurm_script << "`. Task I runs the jobs whose index % " << tasks << " == I with\n"
    << "# $SLURM_CPUS_PER_TASK workers and journals them in " << out << "/jobs.shard-I.jsonl; the task that\n"
    << "# finishes last writes results.csv, summary.json and the plot. A task that is cut off (time limit,\n"
    << "# pre-emption) resumes where it stopped when it runs again (`scontrol requeue`). The journal directory\n"
    << "# must be on a file system every node sees. docs/sweeps.md.\n"
    << "#SBATCH --job-name=gatetwin-" << plan.spec.name << "\n"
    << "#SBATCH --array=0-" << (o.slurm_tasks - 1) << "\n"
    << "#SBATCH --cpus-per-task=2\n"
    << "#SBATCH --output=" << out << "/slurm-%A_%a.log\n"  // the directory exists: made with the script
    << "set -euo pipefail\n"
    << "task=${SLURM_ARRAY_TASK_ID:?this script runs as a Slurm array task (or set SLURM_ARRAY_TASK_ID)}\n"
    << "exec " << shell_quote(exe) << " sweep " << shell_quote(spec) << " -o " << shell_quote(out) << " --shard \"$task/"
    << tasks << "\" --jobs \"${SLURM_CPUS_PER_TASK:-1}\"\n";
  return s.str();
}

}  // namespace

int run_sweep(const SweepOptions& o) {
  int rank = 0, ranks = 1;
#ifdef GATETWIN_HAVE_MPI
  struct MpiSession {
    explicit MpiSession(bool enable) : on(enable) {
      if (!on) return;
      // Open MPI's shared-memory transport copies large messages with process_vm_readv, which containers
      // without ptrace rights refuse ("Read -1, expected ..., errno = 1"). Rows are small, but a failed job's
      // error can be long: plain copies everywhere (every rank sets the same; the environment can override).
      ::setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      // Errors come back as codes: a job's failure is recorded and the sweep goes on; a communication error
      // ends the command with the journal intact (run it again to resume).
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    ~MpiSession() {
      if (on) MPI_Finalize();
    }
    bool on;
  } mpi_session(o.mpi);
  if (o.mpi) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  }
#else
  if (o.mpi) {
    std::cerr << "gatetwin sweep: --mpi: this gatetwin was built without MPI (scripts/setup.sh installs libopenmpi-dev; "
                 "reconfigure)\n";
    return 2;
  }
#endif
  const bool speaker = rank == 0;
  std::optional<gs::SweepPlan> plan;
  std::vector<std::string> plan_problems;
  try {
    plan = gs::plan_sweep(gs::load_sweep_file(o.spec));
  } catch (const gs::SweepError& e) {
    plan_problems = e.problems();
  }
  if (!o.mpi || o.dry_run || !o.slurm_script.empty()) {  // no MPI traffic: each process answers for itself
    if (!plan) {
      if (speaker)
        for (const auto& p : plan_problems) std::cerr << p << "\n";
      return 2;
    }
  }
#ifdef GATETWIN_HAVE_MPI
  // Under MPI every rank must plan the same jobs before any is handed out, and rank 0 must accept the
  // results directory: rank 0 says how it went and which plan it has; every rank compares; all agree to
  // go on or all stop (a rank that stopped alone would leave the others waiting for ever).
  std::optional<Sweep> sweep_at_0;
  if (o.mpi && !o.dry_run && o.slurm_script.empty()) {
    int status0 = plan ? 0 : 2;
    const fs::path dir0 = !plan ? fs::path() : o.out_dir.empty() ? fs::path("runs") / ("sweep-" + plan->spec.name) : fs::path(o.out_dir);
    if (speaker) {
      for (const auto& p : plan_problems) std::cerr << p << "\n";
      if (plan) {
        try {
          sweep_at_0.emplace(*plan, o, dir0, "jobs.jsonl");
        } catch (const gs::SweepError& e) {
          for (const auto& p : e.problems()) std::cerr << p << "\n";
          status0 = 2;
        } catch (const std::exception& e) {
          std::cerr << "gatetwin sweep: " << e.what() << "\n";
          status0 = 3;
        }
      }
    }
    char key[17] = {};
    if (speaker && plan) std::snprintf(key, sizeof key, "%s", plan->key.c_str());
    MPI_Bcast(&status0, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(key, 17, MPI_CHAR, 0, MPI_COMM_WORLD);
    int mine = 1;
    if (!speaker && status0 == 0) {
      if (!plan) {
        for (const auto& p : plan_problems) std::cerr << "rank " << rank << ": " << p << "\n";
        mine = 0;
      } else if (plan->key != key) {
        std::cerr << "rank " << rank << ": plans other jobs than rank 0 (plan " << plan->key << ", rank 0's " << key
                  << "): the sweep file or a scenario differs on this node\n";
        mine = 0;
      }
    }
    int all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (status0 != 0) return status0;
    if (!all) {
      if (speaker) std::cerr << "gatetwin sweep: a rank cannot run this sweep (above); nothing was run\n";
      return 2;
    }
  }
#endif
  const fs::path dir = o.out_dir.empty() ? fs::path("runs") / ("sweep-" + plan->spec.name) : fs::path(o.out_dir);
  if (o.dry_run) {
    if (speaker) {
      std::cout << "sweep " << plan->spec.name << ": " << plan->jobs.size() << " jobs, plan " << plan->key << "\n";
      for (const auto& j : plan->jobs) {
        std::cout << "  job " << j.index << " " << plan->spec.scenarios[j.scenario].filename().string();
        if (plan->spec.capacity) std::cout << " lanes=" << j.lanes << " staff=" << j.staff;
        for (const auto& s : j.overrides) std::cout << " --set " << s;
        std::cout << "\n";
      }
    }
    return 0;
  }
  if (!o.slurm_script.empty()) {
    if (!speaker) return 0;
    if (o.slurm_tasks < 1) {
      std::cerr << "gatetwin sweep: --array must be at least 1\n";
      return 2;
    }
    // Slurm opens each task's log in the results directory before the task runs: it must exist.
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      std::cerr << "gatetwin sweep: " << dir.string() << ": cannot create: " << ec.message() << "\n";
      return 3;
    }
    std::ofstream out(o.slurm_script, std::ios::trunc);
    out << slurm_script(*plan, o, dir);
    if (!out) {
      std::cerr << "gatetwin sweep: " << o.slurm_script << ": cannot write\n";
      return 3;
    }
    out.close();
    fs::permissions(o.slurm_script, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add);
    std::cout << "wrote " << o.slurm_script << ": a Slurm array of " << o.slurm_tasks << " tasks for " << plan->jobs.size()
              << " jobs; results in " << dir.string() << "\n";
    return 0;
  }
  try {
    if (!speaker) {  // an MPI rank other than 0: it runs what rank 0 sends, and journals nothing
#ifdef GATETWIN_HAVE_MPI
      mpi_worker(*plan, o);
#endif
      return 0;
    }
#ifdef GATETWIN_HAVE_MPI
    std::optional<Sweep> local_sweep;
    if (!sweep_at_0) local_sweep.emplace(*plan, o, dir, "jobs.jsonl");
    Sweep& sweep = sweep_at_0 ? *sweep_at_0 : *local_sweep;
#else
    Sweep sweep(*plan, o, dir, "jobs.jsonl");
#endif
    // The cores this process may run on (a container or `taskset` may give fewer than the machine has).
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) cores = static_cast<unsigned>(CPU_COUNT(&set));
    const unsigned workers = o.jobs ? o.jobs : cores;
    if (o.mpi) {
#ifdef GATETWIN_HAVE_MPI
      sweep.start(std::to_string(ranks) + " MPI rank(s) (rank 0 runs jobs too)");
      const auto per_rank = mpi_coordinator(sweep, ranks);
      if (!o.quiet) {
        std::string line;
        for (std::size_t r = 0; r < per_rank.size(); ++r)
          line += (r ? ", " : "") + std::string("rank ") + std::to_string(r) + " " + std::to_string(per_rank[r]);
        std::cerr << "sweep: attempts by rank: " << line << "\n";
      }
#endif
    } else {
      sweep.start(std::to_string(workers) + " local worker(s)");
      run_local(sweep, workers);
    }
    return sweep.finish();
  } catch (const gs::SweepError& e) {
    for (const auto& p : e.problems()) std::cerr << p << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "gatetwin sweep: " << (o.mpi ? "rank " + std::to_string(rank) + ": " : "") << e.what()
              << " (finished jobs are journalled in " << dir.string() << ": run the command again to resume)\n";
#ifdef GATETWIN_HAVE_MPI
    // The other ranks would wait for this one for ever: end them all (the journal is intact).
    if (o.mpi) MPI_Abort(MPI_COMM_WORLD, 3);
#endif
    return 3;
  }
}

}  // namespace gatetwin::app
