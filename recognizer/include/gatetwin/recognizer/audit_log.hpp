#pragma once
// The append-only, tamper-evident audit log: every enrolment, review, consent change, withdrawal,
// retention deletion, failed authentication and access decision, in SQLite.
//
// Each record carries a MAC over its own fields and the previous record's MAC (a hash chain keyed with a
// sub-key of the registry's template key: BLAKE2b-256, libsodium's crypto_generichash), and a one-row
// `head` table holds the last sequence number and MAC, itself MAC'd. verify() therefore finds a record
// edited, removed from the middle or the end, inserted or moved, and — without the key — a rewritten
// chain cannot be made to verify again. Triggers refuse UPDATE and DELETE on records, so the database
// itself is append-only for everyone who goes through SQLite. (A whole-file rollback to an older copy is
// not detectable from the file alone: `gatectl audit head` prints the head to keep elsewhere.)
//
// append() commits one transaction per record with synchronous=FULL in WAL mode: when it returns, the
// record survives a crash of the process (kill -9) or of the machine. Errors (disk full, read-only file)
// throw std::runtime_error naming the file and SQLite's reason; nothing half-written remains. One AuditLog
// may be shared by threads (a mutex serialises them); several processes may append to one file (SQLite's
// write lock, busy timeout 5 s).
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "gatetwin/recognizer/template_key.hpp"

struct sqlite3;

namespace gatetwin::recognizer {

struct AuditRecord {
  std::int64_t seq = 0;       // 1, 2, 3, ...
  std::int64_t time_us = 0;   // wall clock, microseconds since the Unix epoch
  std::string actor;          // "staff:wang", "gate:north/north-1", "admin", "retention"
  std::string action;         // "enrol_request", "approve", "reject", "consent", "withdraw", "expire", "access", ...
  std::string subject;        // "person:17", "request:3", ""
  std::string detail;         // JSON object text
};

struct AuditCheck {
  std::int64_t records = 0;         // records read
  std::int64_t head_seq = 0;        // what the sealed head says
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

class AuditLog {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens `file`, creating it (mode 0600) with its schema if absent. std::runtime_error naming the file.
  // An existing log that cannot be opened for writing (read-only file system, immutable file) is opened
  // read-only: verify() and records() work, append() throws naming why (writable() is false).
  AuditLog(std::filesystem::path file, const TemplateKey& key);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends and commits one record; returns its sequence number.
  std::int64_t append(std::int64_t time_us, const std::string& actor, const std::string& action,
                      const std::string& subject, const std::string& detail);
  // Checks the whole chain and the head.
  AuditCheck verify() const;
  // Records in sequence order, optionally only those of one subject (e.g. "person:17").
  std::vector<AuditRecord> records(const std::string& subject = {}) const;
  std::int64_t size() const;
  bool writable() const { return read_only_reason_.empty(); }
  const std::string& read_only_reason() const { return read_only_reason_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
  std::array<unsigned char, TemplateKey::kBytes> mac_key_{};
  sqlite3* db_ = nullptr;
  std::string read_only_reason_;
  mutable std::mutex mu_;
};

}  // namespace gatetwin::recognizer
