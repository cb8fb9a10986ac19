#include "gatetwin/recognizer/gallery_store.hpp"

#include <sqlite3.h>

#include <sodium.h>

#include "sqlite_util.hpp"

#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace gatetwin::recognizer {

using namespace sqlite_util;

namespace {

// Version 1 keeps embeddings in the clear (a development gallery); version 2 seals each one with the
// template key (nonce || ciphertext || tag: 40 bytes more than the float32 values).
std::string schema(bool sealed) {
  return std::string(R"sql(
CREATE TABLE templates (
  id         INTEGER PRIMARY KEY,
  person     INTEGER NOT NULL CHECK (person BETWEEN 0 AND 4294967295),
  kind       TEXT    NOT NULL CHECK (kind IN ('unmasked', 'masked')),
  model      TEXT    NOT NULL,
  dim        INTEGER NOT NULL CHECK (dim > 0),
  embedding  BLOB    NOT NULL CHECK (length(embedding) = 4 * dim)sql") +
         (sealed ? " + " + std::to_string(TemplateKey::kOverhead) : "") + R"sql(),
  created_us INTEGER NOT NULL
) STRICT;
CREATE INDEX templates_by_person ON templates (person);
)sql";
}

// What a sealed template is bound to: a ciphertext moved to another row does not open.
std::string template_aad(std::int64_t person, std::string_view kind, std::string_view model) {
  return "gatetwin-template|" + std::to_string(person) + "|" + std::string(kind) + "|" + std::string(model);
}

// Same checks as Gallery::add, so nothing is stored that the gallery would refuse.
void validate(std::span<const float> v, std::size_t dim) {
  if (v.size() != dim) {
    throw std::invalid_argument("gallery store: template has " + std::to_string(v.size()) +
                                " values, the store's dimension is " + std::to_string(dim));
  }
  bool nonzero = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      throw std::invalid_argument("gallery store: template value " + std::to_string(i) + " is " +
                                  (std::isnan(v[i]) ? "NaN" : "infinite"));
    }
    nonzero = nonzero || v[i] != 0.0f;
  }
  if (!nonzero) throw std::invalid_argument("gallery store: template is a zero vector (no direction)");
}

std::vector<unsigned char> encode(std::span<const float> v) {
  std::vector<unsigned char> out(v.size() * 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto b = std::bit_cast<std::uint32_t>(v[i]);
    for (std::size_t j = 0; j < 4; ++j) out[4 * i + j] = static_cast<unsigned char>(b >> (8 * j));
  }
  return out;
}

void decode(std::span<const unsigned char> bytes, float* out) {
  for (std::size_t i = 0; i < bytes.size() / 4; ++i) {
    std::uint32_t b = 0;
    for (std::size_t j = 0; j < 4; ++j) b |= static_cast<std::uint32_t>(bytes[4 * i + j]) << (8 * j);
    out[i] = std::bit_cast<float>(b);
  }
}

std::string row_name(std::int64_t id, std::int64_t person) {
  return "template id " + std::to_string(id) + " (person " + std::to_string(person) + ")";
}

}  // namespace

GalleryStore::GalleryStore(std::filesystem::path file, std::string model_id, std::size_t dim, const TemplateKey* key)
    : file_(std::move(file)), model_(std::move(model_id)), dim_(dim) {
  if (key) key_ = *key;
  if (dim_ == 0 || dim_ > static_cast<std::size_t>(std::numeric_limits<int>::max() / 4)) {
    throw std::invalid_argument("gallery store: bad template dimension " + std::to_string(dim_));
  }
  if (model_.empty()) throw std::invalid_argument("gallery store: empty model id");
  const int rc = sqlite3_open_v2(file_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  const Db db{db_, file_};
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close();
    throw std::runtime_error("gallery store '" + file_.string() + "': cannot open: " + msg);
  }
  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);

    // Everything up to the schema creation only reads, so a foreign file is refused unchanged.
    // The first read of the file: a file that is not a database fails here.
    db.exec("SELECT count(*) FROM sqlite_schema", "cannot read the database");
    std::int64_t version = 0;
    {
      Stmt v(db, "PRAGMA user_version");
      if (v.step()) version = v.int64(0);
    }
    if (version == 0) {
      Stmt tables(db, "SELECT count(*) FROM sqlite_schema");
      if (tables.step() && tables.int64(0) != 0) {
        db.fail("not a GateTwin gallery store (schema version 0 but it already has tables)");
      }
    } else if (version == kSchemaVersion && key_) {
      db.fail("a plain gallery (templates not encrypted, schema version 1); the registry keeps templates "
              "encrypted: enrol the residents again through the registry");
    } else if (version == kSealedSchemaVersion && !key_) {
      db.fail("templates are encrypted (schema version 2): open it with its key (a registry)");
    } else if (version != kSchemaVersion && version != kSealedSchemaVersion) {
      db.fail("schema version " + std::to_string(version) + ", this build reads versions " +
              std::to_string(kSchemaVersion) + " and " + std::to_string(kSealedSchemaVersion));
    } else {
      check_contents();    // specific messages first (model, dimension, blob size) ...
      check_integrity(db);  // ... then any damage they did not run into
    }
    set_durable_and_secure(db);
    if (version == 0) {
      Transaction tx(db);
      {
        Stmt tables(db, "SELECT count(*) FROM sqlite_schema");  // again, inside the write lock
        if (tables.step() && tables.int64(0) != 0) {
          db.fail("not a GateTwin gallery store (schema version 0 but it already has tables)");
        }
      }
      db.exec(schema(key_.has_value()).c_str(), "cannot create the schema");
      db.exec(("PRAGMA user_version=" + std::to_string(key_ ? kSealedSchemaVersion : kSchemaVersion)).c_str(),
              "cannot set the schema version");
      tx.commit();
    }
  } catch (...) {
    close();
    throw;
  }
}

void GalleryStore::check_contents() {
  const Db db{db_, file_};
  {
    Stmt other(db, "SELECT model, count(*) FROM templates WHERE model <> ?1 GROUP BY model ORDER BY 2 DESC LIMIT 1");
    other.bind(1, model_);
    if (other.step()) {
      db.fail("holds " + std::to_string(other.int64(1)) + " template(s) of model '" + other.text(0) +
              "', but the embedder in use is '" + model_ + "'; templates of another model cannot be compared (re-enrol)");
    }
  }
  // length() of a blob reads only the record header, not the blob, so this is cheap.
  Stmt bad(db,
           "SELECT id, person, dim, length(embedding), typeof(embedding) FROM templates "
           "WHERE dim <> ?1 OR typeof(embedding) <> 'blob' OR length(embedding) <> ?2 ORDER BY id LIMIT 1");
  bad.bind(1, static_cast<std::int64_t>(dim_)).bind(2, static_cast<std::int64_t>(blob_bytes()));
  if (bad.step()) {
    const std::string row = row_name(bad.int64(0), bad.int64(1));
    if (bad.int64(2) != static_cast<std::int64_t>(dim_)) {
      db.fail(row + " has dimension " + std::to_string(bad.int64(2)) + ", expected " + std::to_string(dim_));
    }
    db.fail(row + ": embedding " + bad.text(4) + " of " + std::to_string(bad.int64(3)) + " bytes, expected " +
            std::to_string(blob_bytes()) + " (" + std::to_string(dim_) + " float32" + (key_ ? ", sealed)" : ")"));
  }
}

GalleryStore::~GalleryStore() { close(); }

void GalleryStore::close() noexcept {
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

GalleryStore::GalleryStore(GalleryStore&& other) noexcept
    : file_(std::move(other.file_)),
      model_(std::move(other.model_)),
      dim_(other.dim_),
      key_(std::move(other.key_)),
      db_(std::exchange(other.db_, nullptr)) {}

GalleryStore& GalleryStore::operator=(GalleryStore&& other) noexcept {
  if (this != &other) {
    close();
    file_ = std::move(other.file_);
    model_ = std::move(other.model_);
    dim_ = other.dim_;
    key_ = std::move(other.key_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

std::int64_t GalleryStore::add(std::uint32_t person, std::span<const float> embedding, TemplateKind kind,
                               StoreTime created) {
  const NewTemplate t{person, kind, embedding, created};
  return add(std::span<const NewTemplate>(&t, 1)).front();
}

std::vector<std::int64_t> GalleryStore::add(std::span<const NewTemplate> templates) {
  if (!db_) throw std::logic_error("gallery store: used after move");
  for (const auto& t : templates) validate(t.embedding, dim_);
  const Db db{db_, file_};
  std::vector<std::int64_t> ids;
  ids.reserve(templates.size());
  Transaction tx(db);
  Stmt insert(db, "INSERT INTO templates (person, kind, model, dim, embedding, created_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  for (const auto& t : templates) {
    insert.reset();
    insert.bind(1, static_cast<std::int64_t>(t.person))
        .bind(2, to_string(t.kind))
        .bind(3, model_)
        .bind(4, static_cast<std::int64_t>(dim_))
        .bind_blob(5, key_ ? key_->seal(encode(t.embedding), template_aad(t.person, to_string(t.kind), model_))
                           : encode(t.embedding))
        .bind(6, static_cast<std::int64_t>(t.created.time_since_epoch().count()));
    insert.step();
    ids.push_back(sqlite3_last_insert_rowid(db_));
  }
  tx.commit();
  return ids;
}

std::size_t GalleryStore::remove(std::uint32_t person) {
  if (!db_) throw std::logic_error("gallery store: used after move");
  const Db db{db_, file_};
  std::size_t removed = 0;
  {
    Transaction tx(db);
    Stmt del(db, "DELETE FROM templates WHERE person = ?1");
    del.bind(1, static_cast<std::int64_t>(person));
    del.step();
    removed = static_cast<std::size_t>(sqlite3_changes64(db_));
    tx.commit();
  }
  if (removed > 0) {
    // secure_delete zeroed the freed space in the new page images; copying them into the database file
    // and truncating the WAL also drops the old images that still held the template. (If another
    // connection keeps reading past the busy timeout the WAL stays; the next remove retries.)
    int log = 0, done = 0;
    if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done) != SQLITE_OK &&
        sqlite3_errcode(db_) != SQLITE_BUSY) {
      db.fail_sqlite("cannot checkpoint the WAL after a removal");
    }
  }
  return removed;
}

std::size_t GalleryStore::load_into(Gallery& gallery, const std::function<bool(std::uint32_t)>& keep) const {
  if (!db_) throw std::logic_error("gallery store: used after move");
  if (gallery.dim() != dim_) {
    throw std::invalid_argument("gallery store: gallery dimension " + std::to_string(gallery.dim()) +
                                " differs from the store's " + std::to_string(dim_));
  }
  const Db db{db_, file_};
  struct Row {
    std::uint32_t person;
    TemplateKind kind;
  };
  std::vector<Row> rows;
  std::vector<float> values;
  Stmt read(db, "SELECT id, person, kind, model, dim, embedding FROM templates ORDER BY id");
  while (read.step()) {
    const std::int64_t id = read.int64(0);
    const std::int64_t person = read.int64(1);
    const std::string row = row_name(id, person);
    if (person < 0 || person > std::numeric_limits<std::uint32_t>::max()) db.fail(row + ": person id out of range");
    if (keep && !keep(static_cast<std::uint32_t>(person))) continue;
    const std::optional<TemplateKind> kind = parse_template_kind(read.text(2));
    if (!kind) db.fail(row + ": unknown kind '" + read.text(2) + "'");
    if (read.text(3) != model_) {
      db.fail(row + " is of model '" + read.text(3) + "', but the embedder in use is '" + model_ + "'");
    }
    const auto stored = read.blob(5);
    if (read.int64(4) != static_cast<std::int64_t>(dim_) || stored.size() != blob_bytes()) {
      db.fail(row + ": embedding of " + std::to_string(stored.size()) + " bytes (dimension " +
              std::to_string(read.int64(4)) + "), expected " + std::to_string(blob_bytes()));
    }
    std::optional<std::vector<unsigned char>> opened;
    if (key_) {
      opened = key_->open(stored, template_aad(person, read.text(2), model_));
      if (!opened) {
        db.fail(row + " does not decrypt with this key (another registry's key file, or the row was altered or "
                      "moved to another person)");
      }
    }
    const std::span<const unsigned char> blob = opened ? std::span<const unsigned char>(*opened) : stored;
    const std::size_t at = values.size();
    values.resize(at + dim_);
    decode(blob, values.data() + at);
    if (opened) sodium_memzero(opened->data(), opened->size());
    bool nonzero = false;
    for (std::size_t i = at; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) db.fail(row + ": embedding has a non-finite value");
      nonzero = nonzero || values[i] != 0.0f;
    }
    if (!nonzero) db.fail(row + ": embedding is a zero vector");
    rows.push_back({static_cast<std::uint32_t>(person), *kind});
  }
  gallery.reserve(gallery.size() + rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    gallery.add(rows[i].person, std::span<const float>(values.data() + i * dim_, dim_), rows[i].kind);
  }
  return rows.size();
}

std::vector<StoredTemplate> GalleryStore::list() const {
  if (!db_) throw std::logic_error("gallery store: used after move");
  const Db db{db_, file_};
  std::vector<StoredTemplate> out;
  Stmt read(db, "SELECT id, person, kind, model, dim, created_us FROM templates ORDER BY id");
  while (read.step()) {
    StoredTemplate t;
    t.id = read.int64(0);
    t.person = static_cast<std::uint32_t>(read.int64(1));
    const auto kind = parse_template_kind(read.text(2));
    if (!kind) db.fail(row_name(t.id, read.int64(1)) + ": unknown kind '" + read.text(2) + "'");
    t.kind = *kind;
    t.model = read.text(3);
    t.dim = static_cast<std::size_t>(read.int64(4));
    t.created = StoreTime(std::chrono::microseconds(read.int64(5)));
    out.push_back(std::move(t));
  }
  return out;
}

std::size_t GalleryStore::size() const {
  if (!db_) throw std::logic_error("gallery store: used after move");
  const Db db{db_, file_};
  Stmt count(db, "SELECT count(*) FROM templates");
  count.step();
  return static_cast<std::size_t>(count.int64(0));
}

}  // namespace gatetwin::recognizer
