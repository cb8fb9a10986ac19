#include "gatetwin/recognizer/registry.hpp"

#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "sqlite_util.hpp"

namespace gatetwin::recognizer {

namespace fs = std::filesystem;
using namespace sqlite_util;
using Json = nlohmann::ordered_json;

namespace {

constexpr const char* kLabel = "registry identity store";
constexpr int kIdentitySchemaVersion = 1;
constexpr std::int64_t kDayUs = 86'400'000'000;

constexpr const char* kSchema = R"sql(
CREATE TABLE persons (
  person     INTEGER PRIMARY KEY CHECK (person BETWEEN 1 AND 4294967295),
  phone      TEXT NOT NULL,
  residence  TEXT NOT NULL,
  updated_us INTEGER NOT NULL
) STRICT;
CREATE TABLE requests (
  id             INTEGER PRIMARY KEY,
  person         INTEGER NOT NULL CHECK (person BETWEEN 1 AND 4294967295),
  phone          TEXT,
  residence      TEXT,
  photo          BLOB,
  purposes       TEXT NOT NULL,
  retention_days INTEGER NOT NULL,
  notice         TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
  reviewer       TEXT,
  reason         TEXT,
  submitted_us   INTEGER NOT NULL,
  reviewed_us    INTEGER
) STRICT;
CREATE TABLE consents (
  person         INTEGER PRIMARY KEY,
  purposes       TEXT NOT NULL,
  retention_days INTEGER NOT NULL,
  notice         TEXT NOT NULL,
  granted_us     INTEGER NOT NULL,
  expires_us     INTEGER NOT NULL,
  state          TEXT NOT NULL CHECK (state IN ('active', 'withdrawn', 'expired')),
  ended_us       INTEGER
) STRICT;
CREATE TABLE admin (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  token_hash BLOB NOT NULL CHECK (length(token_hash) = 32)
) STRICT;
)sql";

std::string photo_aad(std::uint32_t person, std::int64_t submitted_us) {
  return "gatetwin-request-photo|" + std::to_string(person) + "|" + std::to_string(submitted_us);
}

std::array<unsigned char, 32> token_hash(std::string_view token) {
  std::array<unsigned char, 32> h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     reinterpret_cast<const unsigned char*>("gatetwin-admin-token-v1"), 23);
  return h;
}

std::string subject(std::uint32_t person) { return "person:" + std::to_string(person); }

std::vector<Purpose> purposes_from_db(const Db& db, const std::string& text, const std::string& where) {
  const auto p = parse_purposes(text);
  if (!p || p->empty()) db.fail(where + ": bad purposes '" + text + "'");
  return *p;
}

ConsentRecord read_consent(const Db& db, Stmt& s) {
  ConsentRecord c;
  c.person = static_cast<std::uint32_t>(s.int64(0));
  c.purposes = purposes_from_db(db, s.text(1), "consent of person " + std::to_string(c.person));
  c.retention_days = s.int64(2);
  c.notice = s.text(3);
  c.granted_us = s.int64(4);
  c.expires_us = s.int64(5);
  const std::string state = s.text(6);
  c.state = state == "active" ? ConsentState::active : state == "withdrawn" ? ConsentState::withdrawn : ConsentState::expired;
  if (!s.is_null(7)) c.ended_us = s.int64(7);
  return c;
}

constexpr const char* kConsentColumns =
    "person, purposes, retention_days, notice, granted_us, expires_us, state, ended_us";

fs::path key_path(const fs::path& dir, const std::optional<fs::path>& key_file) {
  return key_file ? *key_file : dir / "template.key";
}

}  // namespace

bool ConsentRecord::covers(Purpose p) const { return std::find(purposes.begin(), purposes.end(), p) != purposes.end(); }

std::string_view to_string(ConsentState s) {
  switch (s) {
    case ConsentState::active: return "active";
    case ConsentState::withdrawn: return "withdrawn";
    case ConsentState::expired: return "expired";
  }
  return "?";
}

std::string_view to_string(RequestStatus s) {
  switch (s) {
    case RequestStatus::pending: return "pending";
    case RequestStatus::approved: return "approved";
    case RequestStatus::rejected: return "rejected";
  }
  return "?";
}

std::string Registry::init(const fs::path& dir, std::int64_t now_us, const std::optional<fs::path>& key_file) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir)) throw std::runtime_error("registry '" + dir.string() + "': exists and is not a directory");
    if (!fs::is_empty(dir)) throw std::runtime_error("registry '" + dir.string() + "': not empty (a registry is made once)");
  } else if (::mkdir(dir.c_str(), 0700) != 0) {
    throw std::runtime_error("registry '" + dir.string() + "': cannot create: " + std::strerror(errno));
  }
  if (::chmod(dir.c_str(), 0700) != 0)
    throw std::runtime_error("registry '" + dir.string() + "': cannot chmod 0700: " + std::strerror(errno));
  const TemplateKey key = TemplateKey::create(key_path(dir, key_file));
  std::array<unsigned char, 32> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::string token(64, '\0');
  sodium_bin2hex(token.data(), token.size() + 1, raw.data(), raw.size());
  sodium_memzero(raw.data(), raw.size());
  const fs::path file = dir / "identity.db";
  sqlite3* handle = open_store(file, kLabel, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  struct Close {
    sqlite3* h;
    ~Close() { sqlite3_close_v2(h); }
  } close{handle};
  const Db db{handle, file, kLabel};
  prepare_store(db, kIdentitySchemaVersion);
  {
    Transaction tx(db);
    db.exec(kSchema, "cannot create the schema");
    Stmt admin(db, "INSERT INTO admin (id, token_hash) VALUES (1, ?1)");
    admin.bind_blob(1, token_hash(token));
    admin.step();
    db.exec(("PRAGMA user_version=" + std::to_string(kIdentitySchemaVersion)).c_str(), "cannot set the schema version");
    tx.commit();
  }
  AuditLog audit(dir / "audit.db", key);
  audit.append(now_us, "admin", "init", "", Json{{"key_file", key_path(dir, key_file).string()}}.dump());
  return token;
}

Registry::Registry(const fs::path& dir, std::string model_id, std::size_t dim, const std::optional<fs::path>& key_file,
                   bool audit_may_be_read_only)
    : dir_(dir), identity_file_(dir / "identity.db") {
  if (!fs::is_directory(dir_)) throw std::runtime_error("registry '" + dir_.string() + "': no such directory (gatectl registry init)");
  check_owner_only(dir_, "registry directory");
  key_ = TemplateKey::load(key_path(dir_, key_file));
  const fs::path file = identity_file();
  if (!fs::exists(file)) throw std::runtime_error(std::string(kLabel) + " '" + file.string() + "': missing");
  check_owner_only(file, kLabel);
  db_ = open_store(file, kLabel, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX);
  try {
    const Db db{db_, file, kLabel};
    if (prepare_store(db, kIdentitySchemaVersion) == 0) db.fail("has no schema (not made by gatectl registry init)");
    for (const char* name : {"gallery.db", "audit.db"})
      if (fs::exists(dir_ / name)) check_owner_only(dir_ / name, name);
    gallery_ = std::make_unique<GalleryStore>(dir_ / "gallery.db", std::move(model_id), dim, &*key_);
    ::chmod((dir_ / "gallery.db").c_str(), 0600);
    audit_ = std::make_unique<AuditLog>(dir_ / "audit.db", *key_);
    if (!audit_->writable() && !audit_may_be_read_only)
      throw std::runtime_error("the audit log cannot be written, so nothing may change: " + audit_->read_only_reason());
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

Registry::~Registry() {
  gallery_.reset();
  audit_.reset();
  if (db_) sqlite3_close_v2(db_);
}

void Registry::authenticate(std::string_view token, const std::string& actor, std::int64_t now_us) {
  const Db db{db_, identity_file(), kLabel};
  Stmt s(db, "SELECT token_hash FROM admin WHERE id = 1");
  if (!s.step()) db.fail("no admin token (the registry was not made by gatectl registry init)");
  const auto stored = s.blob(0);
  const auto given = token_hash(token);
  if (stored.size() != given.size() || sodium_memcmp(stored.data(), given.data(), given.size()) != 0) {
    audit_->append(now_us, actor, "auth_failed", "", "{}");
    throw AuthError("registry '" + dir_.string() + "': the admin token is not valid");
  }
}

std::int64_t Registry::submit(EnrolmentRequest r, const std::string& actor, std::int64_t now_us) {
  validate(r, "request");
  const Db db{db_, identity_file(), kLabel};
  std::int64_t id = 0;
  std::uint32_t person = 0;
  {
    Transaction tx(db);
    if (r.person) {
      person = *r.person;
    } else {  // a new person: one above every id in use
      Stmt next(db, "SELECT max(m) FROM (SELECT max(person) AS m FROM persons UNION ALL SELECT max(person) FROM requests)");
      next.step();
      const std::int64_t top = next.is_null(0) ? 0 : next.int64(0);
      if (top >= 4294967295) db.fail("no person id left");
      person = static_cast<std::uint32_t>(top + 1);
    }
    Stmt pending(db, "SELECT id FROM requests WHERE person = ?1 AND status = 'pending'");
    pending.bind(1, static_cast<std::int64_t>(person));
    if (pending.step())
      throw RequestError("request", "person", "person " + std::to_string(person) + " already has pending request " +
                                                  std::to_string(pending.int64(0)));
    const auto sealed = key_->seal(r.photo, photo_aad(person, now_us));
    Stmt insert(db,
                "INSERT INTO requests (person, phone, residence, photo, purposes, retention_days, notice, status, submitted_us) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8)");
    insert.bind(1, static_cast<std::int64_t>(person)).bind(2, r.phone).bind(3, r.residence).bind_blob(4, sealed);
    insert.bind(5, purposes_to_string(r.consent.purposes)).bind(6, r.consent.retention_days).bind(7, r.consent.notice);
    insert.bind(8, now_us);
    insert.step();
    id = sqlite3_last_insert_rowid(db_);
    tx.commit();
  }
  sodium_memzero(r.photo.data(), r.photo.size());
  audit_->append(now_us, actor, "enrol_request", "request:" + std::to_string(id),
                 Json{{"person", person},
                      {"purposes", purposes_to_string(r.consent.purposes)},
                      {"retention_days", r.consent.retention_days},
                      {"notice", r.consent.notice},
                      {"photo_bytes", r.photo.size()}}
                     .dump());
  return id;
}

std::vector<RequestRecord> Registry::requests(bool pending_only) const {
  const Db db{db_, identity_file(), kLabel};
  std::vector<RequestRecord> out;
  Stmt s(db, std::string("SELECT id, person, phone, residence, purposes, retention_days, notice, status, reviewer, reason, "
                         "submitted_us, reviewed_us, length(photo) FROM requests") +
                 (pending_only ? " WHERE status = 'pending'" : "") + " ORDER BY id");
  while (s.step()) {
    RequestRecord r;
    r.id = s.int64(0);
    r.person = static_cast<std::uint32_t>(s.int64(1));
    r.phone = s.text(2);
    r.residence = s.text(3);
    r.purposes = purposes_from_db(db, s.text(4), "request " + std::to_string(r.id));
    r.retention_days = s.int64(5);
    r.notice = s.text(6);
    const std::string st = s.text(7);
    r.status = st == "pending" ? RequestStatus::pending : st == "approved" ? RequestStatus::approved : RequestStatus::rejected;
    r.reviewer = s.text(8);
    r.reason = s.text(9);
    r.submitted_us = s.int64(10);
    if (!s.is_null(11)) r.reviewed_us = s.int64(11);
    r.photo_bytes = s.is_null(12) ? 0 : static_cast<std::size_t>(s.int64(12));
    out.push_back(std::move(r));
  }
  return out;
}

std::size_t Registry::approve(std::int64_t request, const std::string& staff, std::int64_t now_us, const TemplateMaker& make) {
  const Db db{db_, identity_file(), kLabel};
  std::uint32_t person = 0;
  std::string phone, residence, purposes, notice;
  std::int64_t retention = 0;
  std::optional<std::vector<unsigned char>> photo;
  {
    Stmt s(db, "SELECT person, phone, residence, photo, purposes, retention_days, notice, submitted_us, status "
               "FROM requests WHERE id = ?1");
    s.bind(1, request);
    if (!s.step()) throw RequestError("request " + std::to_string(request), "id", "no such request");
    if (s.text(8) != "pending")
      throw RequestError("request " + std::to_string(request), "status", "already " + s.text(8));
    person = static_cast<std::uint32_t>(s.int64(0));
    phone = s.text(1);
    residence = s.text(2);
    purposes = s.text(4);
    retention = s.int64(5);
    notice = s.text(6);
    photo = key_->open(s.blob(3), photo_aad(person, s.int64(7)));
    if (!photo) db.fail("request " + std::to_string(request) + ": the photo does not decrypt with this key (altered?)");
  }
  std::vector<MadeTemplate> made;
  try {
    made = make(*photo);
    if (made.empty()) throw std::runtime_error("no template could be made from the photo");
  } catch (const std::exception& e) {
    sodium_memzero(photo->data(), photo->size());
    reject(request, staff, std::string("photo unusable: ") + e.what(), now_us);
    throw;
  }
  sodium_memzero(photo->data(), photo->size());
  std::vector<NewTemplate> templates;
  for (const auto& t : made)
    templates.push_back({person, t.kind, t.embedding, StoreTime(std::chrono::microseconds(now_us))});
  gallery_->remove(person);
  gallery_->add(templates);
  {
    Transaction tx(db);
    Stmt who(db, "INSERT INTO persons (person, phone, residence, updated_us) VALUES (?1, ?2, ?3, ?4) "
                 "ON CONFLICT (person) DO UPDATE SET phone = ?2, residence = ?3, updated_us = ?4");
    who.bind(1, static_cast<std::int64_t>(person)).bind(2, phone).bind(3, residence).bind(4, now_us);
    who.step();
    Stmt consent(db, "INSERT OR REPLACE INTO consents (person, purposes, retention_days, notice, granted_us, expires_us, state, "
                     "ended_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', NULL)");
    consent.bind(1, static_cast<std::int64_t>(person)).bind(2, purposes).bind(3, retention).bind(4, notice);
    consent.bind(5, now_us).bind(6, now_us + retention * kDayUs);
    consent.step();
    Stmt done(db, "UPDATE requests SET status = 'approved', reviewer = ?2, reviewed_us = ?3, photo = NULL, phone = NULL, "
                  "residence = NULL WHERE id = ?1");
    done.bind(1, request).bind(2, staff).bind(3, now_us);
    done.step();
    tx.commit();
  }
  checkpoint_truncate(db, "deleting a photo");
  audit_->append(now_us, "staff:" + staff, "approve", "request:" + std::to_string(request),
                 Json{{"person", person}, {"templates", templates.size()}, {"purposes", purposes},
                      {"retention_days", retention}, {"photo", "deleted"}}
                     .dump());
  return templates.size();
}

void Registry::reject(std::int64_t request, const std::string& staff, const std::string& reason, std::int64_t now_us) {
  if (reason.empty()) throw RequestError("request " + std::to_string(request), "reason", "a rejection needs a reason");
  const Db db{db_, identity_file(), kLabel};
  {
    Transaction tx(db);
    Stmt s(db, "SELECT status FROM requests WHERE id = ?1");
    s.bind(1, request);
    if (!s.step()) throw RequestError("request " + std::to_string(request), "id", "no such request");
    if (s.text(0) != "pending") throw RequestError("request " + std::to_string(request), "status", "already " + s.text(0));
    Stmt done(db, "UPDATE requests SET status = 'rejected', reviewer = ?2, reason = ?3, reviewed_us = ?4, photo = NULL, "
                  "phone = NULL, residence = NULL WHERE id = ?1");
    done.bind(1, request).bind(2, staff).bind(3, reason).bind(4, now_us);
    done.step();
    tx.commit();
  }
  checkpoint_truncate(db, "deleting a photo");
  audit_->append(now_us, "staff:" + staff, "reject", "request:" + std::to_string(request),
                 Json{{"reason", reason}, {"photo", "deleted"}}.dump());
}

void Registry::consent(std::uint32_t person, ConsentGrant grant, const std::string& actor, std::int64_t now_us) {
  validate(grant, "consent");
  const Db db{db_, identity_file(), kLabel};
  {
    Transaction tx(db);
    Stmt known(db, "SELECT 1 FROM persons WHERE person = ?1");
    known.bind(1, static_cast<std::int64_t>(person));
    if (!known.step())
      throw RequestError("consent", "person", "person " + std::to_string(person) + " has never been enrolled (submit a request)");
    Stmt c(db, "INSERT OR REPLACE INTO consents (person, purposes, retention_days, notice, granted_us, expires_us, state, ended_us) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', NULL)");
    c.bind(1, static_cast<std::int64_t>(person)).bind(2, purposes_to_string(grant.purposes)).bind(3, grant.retention_days);
    c.bind(4, grant.notice).bind(5, now_us).bind(6, now_us + grant.retention_days * kDayUs);
    c.step();
    tx.commit();
  }
  const std::size_t templates = [&] {
    std::size_t n = 0;
    for (const auto& t : gallery_->list()) n += t.person == person;
    return n;
  }();
  audit_->append(now_us, actor, "consent", subject(person),
                 Json{{"purposes", purposes_to_string(grant.purposes)}, {"retention_days", grant.retention_days},
                      {"notice", grant.notice}, {"templates", templates}}
                     .dump());
}

std::size_t Registry::withdraw(std::uint32_t person, const std::string& actor, const std::string& reason, std::int64_t now_us) {
  const Db db{db_, identity_file(), kLabel};
  {
    Transaction tx(db);
    Stmt c(db, "UPDATE consents SET state = 'withdrawn', ended_us = ?2 WHERE person = ?1 AND state = 'active'");
    c.bind(1, static_cast<std::int64_t>(person)).bind(2, now_us);
    c.step();
    tx.commit();
  }
  // After the consent ends: a crash in between leaves templates that nothing loads and expire() deletes.
  const std::size_t removed = gallery_->remove(person);
  audit_->append(now_us, actor, "withdraw", subject(person),
                 Json{{"templates_deleted", removed}, {"reason", reason}, {"card_access", "unchanged"}}.dump());
  return removed;
}

std::vector<std::uint32_t> Registry::expire(std::int64_t now_us, const std::string& actor) {
  const Db db{db_, identity_file(), kLabel};
  std::vector<std::uint32_t> ended;
  {
    Transaction tx(db);
    Stmt due(db, "SELECT person FROM consents WHERE state = 'active' AND expires_us <= ?1 ORDER BY person");
    due.bind(1, now_us);
    while (due.step()) ended.push_back(static_cast<std::uint32_t>(due.int64(0)));
    Stmt mark(db, "UPDATE consents SET state = 'expired', ended_us = ?1 WHERE state = 'active' AND expires_us <= ?1");
    mark.bind(1, now_us);
    mark.step();
    tx.commit();
  }
  std::set<std::uint32_t> active;
  {
    Stmt s(db, "SELECT person FROM consents WHERE state = 'active'");
    while (s.step()) active.insert(static_cast<std::uint32_t>(s.int64(0)));
  }
  std::set<std::uint32_t> with_templates;
  for (const auto& t : gallery_->list()) with_templates.insert(t.person);
  std::vector<std::uint32_t> deleted;
  for (const std::uint32_t p : with_templates) {
    if (active.contains(p)) continue;
    const bool retention = std::find(ended.begin(), ended.end(), p) != ended.end();
    const std::size_t n = gallery_->remove(p);
    deleted.push_back(p);
    audit_->append(now_us, actor, retention ? "expire" : "delete_orphan", subject(p),
                   Json{{"templates_deleted", n},
                        {"why", retention ? "retention period ended" : "no active consent"}}
                       .dump());
  }
  for (const std::uint32_t p : ended) {  // consents that ended with no template left to delete
    if (with_templates.contains(p)) continue;
    audit_->append(now_us, actor, "expire", subject(p), Json{{"templates_deleted", 0}, {"why", "retention period ended"}}.dump());
  }
  return deleted;
}

std::optional<ConsentRecord> Registry::consent_of(std::uint32_t person) const {
  const Db db{db_, identity_file(), kLabel};
  Stmt s(db, std::string("SELECT ") + kConsentColumns + " FROM consents WHERE person = ?1");
  s.bind(1, static_cast<std::int64_t>(person));
  if (!s.step()) return std::nullopt;
  return read_consent(db, s);
}

std::vector<PersonRecord> Registry::persons() const {
  const Db db{db_, identity_file(), kLabel};
  std::map<std::uint32_t, PersonRecord> by_id;
  {
    Stmt s(db, "SELECT person, phone, residence FROM persons ORDER BY person");
    while (s.step()) {
      auto& p = by_id[static_cast<std::uint32_t>(s.int64(0))];
      p.person = static_cast<std::uint32_t>(s.int64(0));
      p.phone = s.text(1);
      p.residence = s.text(2);
    }
  }
  {
    Stmt s(db, std::string("SELECT ") + kConsentColumns + " FROM consents ORDER BY person");
    while (s.step()) {
      ConsentRecord c = read_consent(db, s);
      auto& p = by_id[c.person];
      p.person = c.person;
      p.consent = std::move(c);
    }
  }
  for (const auto& t : gallery_->list()) {
    auto& p = by_id[t.person];
    p.person = t.person;
    ++p.templates;
  }
  std::vector<PersonRecord> out;
  for (auto& [id, p] : by_id) out.push_back(std::move(p));
  return out;
}

bool Registry::permits(std::uint32_t person, Purpose purpose, std::int64_t now_us) const {
  const auto c = consent_of(person);
  return c && c->active_at(now_us) && c->covers(purpose);
}

void Registry::require(std::uint32_t person, Purpose purpose, const std::string& actor, std::int64_t now_us) {
  if (permits(person, purpose, now_us)) return;
  const auto c = consent_of(person);
  std::string why = !c                       ? "has given no consent"
                    : !c->active_at(now_us)  ? "has no active consent (" + std::string(to_string(c->state)) + ")"
                                             : "consented only to " + purposes_to_string(c->purposes);
  audit_->append(now_us, actor, "purpose_refused", subject(person),
                 Json{{"purpose", to_string(purpose)}, {"why", why}}.dump());
  throw PurposeRefused("person " + std::to_string(person) + " " + why + ", not to " + std::string(to_string(purpose)) +
                       ": refused until they consent again (gatectl consent)");
}

Registry::Loaded Registry::load_gallery(Gallery& gallery, const std::vector<Purpose>& purposes, std::int64_t now_us) const {
  const Db db{db_, identity_file(), kLabel};
  std::set<std::uint32_t> allowed;
  {
    Stmt s(db, std::string("SELECT ") + kConsentColumns + " FROM consents WHERE state = 'active'");
    while (s.step()) {
      const ConsentRecord c = read_consent(db, s);
      if (c.active_at(now_us) &&
          std::all_of(purposes.begin(), purposes.end(), [&](Purpose p) { return c.covers(p); }))
        allowed.insert(c.person);
    }
  }
  Loaded out;
  std::set<std::uint32_t> refused, loaded;
  out.templates = gallery_->load_into(gallery, [&](std::uint32_t p) {
    if (allowed.contains(p)) {
      loaded.insert(p);
      return true;
    }
    refused.insert(p);
    return false;
  });
  out.persons = loaded.size();
  out.refused.assign(refused.begin(), refused.end());
  return out;
}

std::uint64_t Registry::change_counter() const {
  const Db db{db_, identity_file(), kLabel};
  Stmt s(db, "PRAGMA data_version");
  s.step();
  return static_cast<std::uint64_t>(s.int64(0));
}

}  // namespace gatetwin::recognizer
