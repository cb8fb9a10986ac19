#include "gatetwin/recognizer/audit_log.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include "sqlite_util.hpp"

namespace gatetwin::recognizer {

using namespace sqlite_util;

namespace {

constexpr const char* kLabel = "audit log";
constexpr std::size_t kMacBytes = 32;
using Mac = std::array<unsigned char, kMacBytes>;

constexpr const char* kSchema = R"sql(
CREATE TABLE audit (
  seq     INTEGER PRIMARY KEY CHECK (seq > 0),
  time_us INTEGER NOT NULL,
  actor   TEXT NOT NULL,
  action  TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail  TEXT NOT NULL,
  mac     BLOB NOT NULL CHECK (length(mac) = 32)
) STRICT;
CREATE INDEX audit_by_subject ON audit (subject);
CREATE TABLE head (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  INTEGER NOT NULL,
  mac  BLOB NOT NULL CHECK (length(mac) = 32),
  seal BLOB NOT NULL CHECK (length(seal) = 32)
) STRICT;
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER head_keep BEFORE DELETE ON head
  BEGIN SELECT RAISE(ABORT, 'the audit log head cannot be deleted'); END;
)sql";

class Hasher {
 public:
  explicit Hasher(const std::array<unsigned char, TemplateKey::kBytes>& key) {
    crypto_generichash_init(&st_, key.data(), key.size(), kMacBytes);
  }
  Hasher& bytes(const void* p, std::size_t n) {
    crypto_generichash_update(&st_, static_cast<const unsigned char*>(p), n);
    return *this;
  }
  Hasher& u64(std::uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    return bytes(b, 8);
  }
  Hasher& str(const std::string& s) {  // length-prefixed: field boundaries cannot shift
    u64(s.size());
    return bytes(s.data(), s.size());
  }
  Mac done() {
    Mac m{};
    crypto_generichash_final(&st_, m.data(), m.size());
    return m;
  }

 private:
  crypto_generichash_state st_{};
};

Mac record_mac(const std::array<unsigned char, TemplateKey::kBytes>& key, const Mac& prev, const AuditRecord& r) {
  Hasher h(key);
  h.str("gatetwin-audit-record-v1").bytes(prev.data(), prev.size());
  h.u64(static_cast<std::uint64_t>(r.seq)).u64(static_cast<std::uint64_t>(r.time_us));
  return h.str(r.actor).str(r.action).str(r.subject).str(r.detail).done();
}

Mac head_seal(const std::array<unsigned char, TemplateKey::kBytes>& key, std::int64_t seq, const Mac& mac) {
  Hasher h(key);
  return h.str("gatetwin-audit-head-v1").u64(static_cast<std::uint64_t>(seq)).bytes(mac.data(), mac.size()).done();
}

std::optional<Mac> as_mac(std::span<const unsigned char> b) {
  if (b.size() != kMacBytes) return std::nullopt;
  Mac m{};
  std::memcpy(m.data(), b.data(), kMacBytes);
  return m;
}

bool equal(const Mac& a, const Mac& b) { return sodium_memcmp(a.data(), b.data(), kMacBytes) == 0; }

}  // namespace

AuditLog::AuditLog(std::filesystem::path file, const TemplateKey& key)
    : file_(std::move(file)), mac_key_(key.derive(1, "gtaudit1")) {
  try {
    db_ = open_store(file_, kLabel, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX);
  } catch (const std::runtime_error& e) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file_, ec)) throw;
    read_only_reason_ = e.what();
    db_ = open_store(file_, kLabel, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX);
  }
  const Db db{db_, file_, kLabel};
  try {
    const int version = prepare_store(db, kSchemaVersion);
    if (version == 0 && !read_only_reason_.empty()) db.fail("read-only and has no schema: " + read_only_reason_);
    if (version == 0) {
      Transaction tx(db);
      db.exec(kSchema, "cannot create the schema");
      const Mac zero{};
      Stmt head(db, "INSERT INTO head (id, seq, mac, seal) VALUES (1, 0, ?1, ?2)");
      const Mac seal = head_seal(mac_key_, 0, zero);
      head.bind_blob(1, zero).bind_blob(2, seal);
      head.step();
      db.exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str(), "cannot set the schema version");
      tx.commit();
    }
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

AuditLog::~AuditLog() {
  sodium_memzero(mac_key_.data(), mac_key_.size());
  if (db_) sqlite3_close_v2(db_);
}

std::int64_t AuditLog::append(std::int64_t time_us, const std::string& actor, const std::string& action,
                              const std::string& subject, const std::string& detail) {
  std::lock_guard lock(mu_);
  const Db db{db_, file_, kLabel};
  if (!read_only_reason_.empty()) db.fail("cannot append: the log is read-only (" + read_only_reason_ + ")");
  Transaction tx(db);
  Stmt head(db, "SELECT seq, mac, seal FROM head WHERE id = 1");
  if (!head.step()) db.fail("the head row is missing (the log was tampered with; run gatectl audit verify)");
  const std::optional<Mac> prev = as_mac(head.blob(1));
  const std::optional<Mac> seal = as_mac(head.blob(2));
  if (!prev || !seal || !equal(*seal, head_seal(mac_key_, head.int64(0), *prev))) {
    db.fail("the head row does not verify (the log was tampered with, or this is another registry's key); "
            "nothing appended");
  }
  AuditRecord r{head.int64(0) + 1, time_us, actor, action, subject, detail};
  const Mac mac = record_mac(mac_key_, *prev, r);
  Stmt insert(db, "INSERT INTO audit (seq, time_us, actor, action, subject, detail, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  insert.bind(1, r.seq).bind(2, r.time_us).bind(3, r.actor).bind(4, r.action).bind(5, r.subject).bind(6, r.detail);
  insert.bind_blob(7, mac);
  insert.step();
  Stmt update(db, "UPDATE head SET seq = ?1, mac = ?2, seal = ?3 WHERE id = 1");
  const Mac new_seal = head_seal(mac_key_, r.seq, mac);
  update.bind(1, r.seq).bind_blob(2, mac).bind_blob(3, new_seal);
  update.step();
  tx.commit();
  return r.seq;
}

AuditCheck AuditLog::verify() const {
  std::lock_guard lock(mu_);
  const Db db{db_, file_, kLabel};
  AuditCheck out;
  // One read transaction, so a concurrent append cannot make the head and the records disagree.
  db.exec("BEGIN", "cannot begin a read transaction");
  struct End {
    sqlite3* db;
    ~End() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end{db_};
  Mac prev{};
  std::int64_t expected = 1;
  Stmt read(db, "SELECT seq, time_us, actor, action, subject, detail, mac FROM audit ORDER BY seq");
  while (read.step()) {
    AuditRecord r{read.int64(0), read.int64(1), read.text(2), read.text(3), read.text(4), read.text(5)};
    ++out.records;
    const std::optional<Mac> stored = as_mac(read.blob(6));
    if (r.seq != expected) {
      out.problems.push_back(r.seq > expected
                                 ? "records " + std::to_string(expected) + ".." + std::to_string(r.seq - 1) +
                                       " are missing (removed)"
                                 : "record " + std::to_string(r.seq) + " is out of sequence");
    }
    if (!stored || !equal(*stored, record_mac(mac_key_, prev, r))) {
      out.problems.push_back("record " + std::to_string(r.seq) + " (" + r.action + " " + r.subject +
                             ") does not verify: it was edited, or records before it were removed, inserted or "
                             "reordered");
    }
    if (stored) prev = *stored;
    expected = r.seq + 1;
  }
  Stmt head(db, "SELECT seq, mac, seal FROM head WHERE id = 1");
  if (!head.step()) {
    out.problems.push_back("the head row is missing");
    return out;
  }
  out.head_seq = head.int64(0);
  const std::optional<Mac> head_mac = as_mac(head.blob(1));
  const std::optional<Mac> seal = as_mac(head.blob(2));
  if (!head_mac || !seal || !equal(*seal, head_seal(mac_key_, out.head_seq, *head_mac))) {
    out.problems.push_back("the head row does not verify (edited, or another registry's key)");
  } else if (out.head_seq != expected - 1 || !equal(*head_mac, prev)) {
    out.problems.push_back(out.head_seq > expected - 1
                               ? "the log ends at record " + std::to_string(expected - 1) + " but its sealed head is record " +
                                     std::to_string(out.head_seq) + ": records were removed from the end"
                               : "the sealed head is record " + std::to_string(out.head_seq) +
                                     " but the log does not end there: records were added, removed or changed after it");
  }
  Stmt triggers(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'audit_append_only_%'");
  if (triggers.step() && triggers.int64(0) != 2) out.problems.push_back("the append-only triggers were removed");
  return out;
}

std::vector<AuditRecord> AuditLog::records(const std::string& subject) const {
  std::lock_guard lock(mu_);
  const Db db{db_, file_, kLabel};
  std::vector<AuditRecord> out;
  Stmt read(db, subject.empty() ? "SELECT seq, time_us, actor, action, subject, detail FROM audit ORDER BY seq"
                                : "SELECT seq, time_us, actor, action, subject, detail FROM audit WHERE subject = ?1 ORDER BY seq");
  if (!subject.empty()) read.bind(1, subject);
  while (read.step()) out.push_back({read.int64(0), read.int64(1), read.text(2), read.text(3), read.text(4), read.text(5)});
  return out;
}

std::int64_t AuditLog::size() const {
  std::lock_guard lock(mu_);
  const Db db{db_, file_, kLabel};
  Stmt count(db, "SELECT count(*) FROM audit");
  count.step();
  return count.int64(0);
}

}  // namespace gatetwin::recognizer
