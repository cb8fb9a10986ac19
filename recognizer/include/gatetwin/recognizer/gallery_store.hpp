#pragma once
// The gallery's templates on disk, in SQLite: templates only (never photos), and person ids only (names
// and rights live in another store, so a leaked gallery file does not say whose faces these are).
//
// Schema (PRAGMA user_version = GalleryStore::kSchemaVersion):
//   templates(id INTEGER PRIMARY KEY, person INTEGER 0..2^32-1, kind TEXT 'unmasked'|'masked',
//             model TEXT, dim INTEGER, embedding BLOB of dim float32 little-endian, created_us INTEGER)
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
#include <span>
#include <string>
#include <vector>

#include "gatetwin/recognizer/gallery.hpp"

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
  static constexpr int kSchemaVersion = 1;

  // Opens `file`, creating it (and the schema) if it does not exist. `model_id` and `dim` are those of
  // the embedder in use; templates of any other model or dimension make the open fail.
  GalleryStore(std::filesystem::path file, std::string model_id, std::size_t dim);
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
  std::size_t load_into(Gallery& gallery) const;
  // Every stored template's metadata, in row-id order.
  std::vector<StoredTemplate> list() const;
  std::size_t size() const;

  const std::filesystem::path& file() const { return file_; }
  const std::string& model_id() const { return model_; }
  std::size_t dim() const { return dim_; }

 private:
  void close() noexcept;
  void check_contents();

  std::filesystem::path file_;
  std::string model_;
  std::size_t dim_;
  sqlite3* db_ = nullptr;
};

}  // namespace gatetwin::recognizer
