#pragma once
// The gallery's templates on disk, in SQLite: templates only (never photos), and person ids only (names
// and rights live in another store, so a leaked gallery file does not say whose faces these are).
//
// Schema (PRAGMA user_version = GalleryStore::kSchemaVersion, or kSealedSchemaVersion when opened with a key):
//   templates(id INTEGER PRIMARY KEY, person INTEGER 0..2^32-1, kind TEXT 'unmasked'|'masked',
//             model TEXT, dim INTEGER, embedding BLOB of dim float32 little-endian, created_us INTEGER)
// With a TemplateKey (the registry's galleries: docs/privacy.md) every embedding is sealed with it
// (template_key.hpp: XChaCha20-Poly1305 bound to the row's person, kind and model), so the file holds no
// template in the clear; a sealed store cannot be opened without the key, nor a plain one with a key.
// `model` names the embedder that produced the template (e.g. "faceplugin-0.0.1/fr_feature"): scores
// between templates of different embedders mean nothing, so a store holding another model's templates is
// refused. `created_us` is the caller's clock (microseconds since the Unix epoch), stored as given.
//
// The database runs in WAL mode with synchronous=FULL (a returned add/remove survives a power cut) and
// secure_delete=ON; remove() also checkpoints and truncates the WAL, so a withdrawn template's bytes
// are gone from the database file and its WAL when remove() returns.
//
// Opening checks the whole file (SQLite's quick_check, schema version, every template's model, dimension
// and blob size) and throws std::runtime_error naming the file and the problem (with SQLite's message
// where SQLite reported it). One GalleryStore is one connection: use it from one thread at a time.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gatetwin/recognizer/gallery.hpp"
#include "gatetwin/recognizer/template_key.hpp"

struct sqlite3;

namespace gatetwin::recognizer {

using StoreTime = std::chrono::sys_time<std::chrono::microseconds>;

// A template to store.
struct NewTemplate {
  std::uint32_t person = 0;
  TemplateKind kind = TemplateKind::unmasked;
  std::span<const float> embedding;
  StoreTime created{};
};

// What list() reports about a stored template (not the template itself).
struct StoredTemplate {
  std::int64_t id = 0;  // the row id, stable for the life of the row
  std::uint32_t person = 0;
  TemplateKind kind = TemplateKind::unmasked;
  std::size_t dim = 0;
  std::string model;
  StoreTime created{};
  friend bool operator==(const StoredTemplate&, const StoredTemplate&) = default;
};

class GalleryStore {
 public:
  static constexpr int kSchemaVersion = 1;        // embeddings in the clear
  static constexpr int kSealedSchemaVersion = 2;  // embeddings sealed with a TemplateKey

  // Opens `file`, creating it (and the schema) if it does not exist. `model_id` and `dim` are those of
  // the embedder in use; templates of any other model or dimension make the open fail. With `key`, templates
  // are sealed (a new file gets schema version 2) and a plain file is refused.
  GalleryStore(std::filesystem::path file, std::string model_id, std::size_t dim, const TemplateKey* key = nullptr);
  ~GalleryStore();
  GalleryStore(GalleryStore&& other) noexcept;
  GalleryStore& operator=(GalleryStore&& other) noexcept;
  GalleryStore(const GalleryStore&) = delete;
  GalleryStore& operator=(const GalleryStore&) = delete;

  // Stores one template (validated like Gallery::add: std::invalid_argument for a wrong dimension, a
  // non-finite value or a zero vector); returns its row id.
  std::int64_t add(std::uint32_t person, std::span<const float> embedding, TemplateKind kind, StoreTime created);
  // Stores several in one transaction: all or none. Returns their row ids in order.
  std::vector<std::int64_t> add(std::span<const NewTemplate> templates);
  // Deletes every template of `person` (one transaction) and wipes them from the file; returns how many.
  std::size_t remove(std::uint32_t person);

  // Adds every stored template to `gallery` (whose dimension must be dim(); std::invalid_argument if
  // not) in row-id order; returns how many. Every row is read and checked before the gallery is
  // touched, so on error (std::runtime_error) the gallery is unchanged.
  // With `keep`, only the templates of persons it accepts are read (and decrypted).
  std::size_t load_into(Gallery& gallery, const std::function<bool(std::uint32_t)>& keep = {}) const;
  // Every stored template's metadata, in row-id order.
  std::vector<StoredTemplate> list() const;
  std::size_t size() const;

  const std::filesystem::path& file() const { return file_; }
  const std::string& model_id() const { return model_; }
  std::size_t dim() const { return dim_; }
  bool sealed() const { return key_.has_value(); }

 private:
  std::size_t blob_bytes() const { return 4 * dim_ + (key_ ? TemplateKey::kOverhead : 0); }
  void close() noexcept;
  void check_contents();

  std::filesystem::path file_;
  std::string model_;
  std::size_t dim_;
  std::optional<TemplateKey> key_;
  sqlite3* db_ = nullptr;
};

}  // namespace gatetwin::recognizer
