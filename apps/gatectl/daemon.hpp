#pragma once
// `gatectl run --config gate.yaml`: the gate's field daemon. `gatectl status --config gate.yaml`: asks a
// running daemon for its state over its Unix socket. docs/gatectl.md describes both.
#include <filesystem>
#include <string>

namespace gatetwin::gatectl {

struct RunOptions {
  std::filesystem::path default_manifest;  // used when the config names none
  std::string models;                      // models cache directory override ("" = the manifest's default)
};

// Runs until SIGTERM or SIGINT; returns the exit status: 0 after a clean stop, 1 when the daemon cannot
// start (status socket taken, event log not writable). Configuration and model problems throw
// ConfigError / ModelError (exit 2 in main).
int run_daemon(const std::filesystem::path& config, const RunOptions& options);

// Prints the daemon's status JSON; 0 when it answered, 1 when no daemon answers on the socket.
int query_status(const std::filesystem::path& config, bool pretty);

}  // namespace gatetwin::gatectl
