#pragma once
// Small RAII helpers over SQLite's C API shared by the recognizer's stores (gallery, identity registry,
// audit log): a connection that names its file in every error, prepared statements, and BEGIN IMMEDIATE
// transactions rolled back unless committed. Private to recognizer/src.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gatetwin::recognizer::sqlite_util {

// The connection and the file it is for, so every error can name the file.
struct Db {
  sqlite3* db;
  const std::filesystem::path& file;
  const char* label = "gallery store";  // what the file is, in error messages

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(std::string(label) + " '" + file.string() + "': " + what);
  }
  [[noreturn]] void fail_sqlite(const std::string& what) const {
    const int code = sqlite3_extended_errcode(db);
    const std::string detail = std::string(sqlite3_errmsg(db)) + " (SQLite code " + std::to_string(code) + ")";
    if ((code & 0xff) == SQLITE_CORRUPT) fail("the database is corrupt: " + detail + ", in: " + what);
    fail(what + ": " + detail);
  }
  void exec(const char* sql, const char* what) const {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail_sqlite(what);
  }
};

class Stmt {
 public:
  Stmt(const Db& db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v2(db_.db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK) {
      db_.fail_sqlite("cannot prepare '" + std::string(sql) + "'");
    }
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind_blob(int i, std::span<const unsigned char> v) {
    check(sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind_null(int i) {
    check(sqlite3_bind_null(stmt_, i));
    return *this;
  }
  // true: a row is available; false: done.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_.fail_sqlite("cannot run '" + std::string(sqlite3_sql(stmt_)) + "'");
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  std::span<const unsigned char> blob(int col) const {
    const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, col));
    const auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col));
    return p ? std::span<const unsigned char>(p, n) : std::span<const unsigned char>();
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK) db_.fail_sqlite("cannot bind a parameter of '" + std::string(sqlite3_sql(stmt_)) + "'");
  }
  const Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if commit() is not reached.
class Transaction {
 public:
  explicit Transaction(const Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE", "cannot begin a transaction"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_.db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.exec("COMMIT", "cannot commit");
    done_ = true;
  }

 private:
  const Db& db_;
  bool done_ = false;
};

// Opens a store, creating the file with mode 0600 first when absent (SQLite gives its -wal and -shm files
// the database's mode). Throws std::runtime_error("<label> '<file>': ...").
inline sqlite3* open_store(const std::filesystem::path& file, const char* label, int flags) {
  if ((flags & SQLITE_OPEN_CREATE) != 0) {
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      throw std::runtime_error(std::string(label) + " '" + file.string() + "': cannot open: " + std::strerror(errno));
    }
    ::close(fd);
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    throw std::runtime_error(std::string(label) + " '" + file.string() + "': cannot open: " + msg);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  return db;
}

// PRAGMA quick_check, failing with what it reports ("the database is corrupt: ...").
inline void check_integrity(const Db& db) {
  Stmt check(db, "PRAGMA quick_check(5)");
  std::string problems;
  while (check.step()) {
    const std::string line = check.text(0);
    if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
  }
  if (!problems.empty()) db.fail("the database is corrupt: " + problems);
}

// WAL, synchronous=FULL (a committed transaction survives a power cut) and secure_delete (freed pages are
// zeroed), each checked.
inline void set_durable_and_secure(const Db& db) {
  {
    Stmt mode(db, "PRAGMA journal_mode=WAL");
    if (!mode.step() || mode.text(0) != "wal") db.fail("cannot switch to WAL mode (journal mode '" + mode.text(0) + "')");
  }
  db.exec("PRAGMA synchronous=FULL", "cannot set synchronous=FULL");
  Stmt secure(db, "PRAGMA secure_delete=ON");
  if (!secure.step() || secure.int64(0) != 1) db.fail("cannot enable secure_delete");
}

// Checks a store's schema version (0: a new, empty file: the caller creates the schema in a transaction;
// a file with tables but version 0, or another version, is refused), runs quick_check on an existing one,
// and set_durable_and_secure(). Returns the version found.
inline int prepare_store(const Db& db, int expected_version) {
  db.exec("SELECT count(*) FROM sqlite_schema", "cannot read the database");
  std::int64_t version = 0;
  {
    Stmt v(db, "PRAGMA user_version");
    if (v.step()) version = v.int64(0);
  }
  if (version == 0) {
    Stmt tables(db, "SELECT count(*) FROM sqlite_schema");
    if (tables.step() && tables.int64(0) != 0) db.fail("not a GateTwin file (schema version 0 but it already has tables)");
  } else if (version != expected_version) {
    db.fail("schema version " + std::to_string(version) + ", this build reads version " + std::to_string(expected_version));
  } else {
    check_integrity(db);
  }
  set_durable_and_secure(db);
  return static_cast<int>(version);
}

// Copies the WAL into the database file and truncates it, so deleted rows' old page images (which
// secure_delete does not reach) leave the disk. A reader holding the WAL makes it a no-op (retried later).
inline void checkpoint_truncate(const Db& db, const char* after) {
  int log = 0, done = 0;
  if (sqlite3_wal_checkpoint_v2(db.db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done) != SQLITE_OK &&
      sqlite3_errcode(db.db) != SQLITE_BUSY) {
    db.fail_sqlite(std::string("cannot checkpoint the WAL after ") + after);
  }
}

}  // namespace gatetwin::recognizer::sqlite_util
