#pragma once
// The enrolment registry: the lifecycle of a resident's face data, with consent, purpose, retention,
// withdrawal and an audit trail (docs/privacy.md). A registry is a directory, owner-only (0700):
//
//   identity.db    who people are (phone, residence), enrolment requests, consents, the admin token's hash
//   gallery.db     face templates only, each sealed with the template key (GalleryStore, schema 2), by person id
//   audit.db       the append-only, hash-chained audit log (audit_log.hpp)
//   template.key   the key (or elsewhere: `key_file`), outside every database
//
// Lifecycle: submit() a request (phone, residence, photo, separate consent) -> the photo waits, sealed,
// for staff review -> approve() makes the templates (through a caller-supplied TemplateMaker: the vision
// pipeline lives in gatectl) and deletes the photo, or reject() with a reason deletes it -> the consent
// (purposes, retention period, the notice agreed to) is recorded apart from the request; consent() records a
// new one (a change of purpose); withdraw() deletes the templates and ends the consent (card access is
// untouched: it is not here); expire() deletes templates whose retention period has ended, and templates
// with no active consent (left by a crash between the two databases).
//
// Templates are used only for purposes their person consented to: load_gallery() loads only persons whose
// active consent covers every purpose the gate declares, and require() refuses any other use. Every change
// and every refusal is audited. Opening checks that the directory, key and databases are owner-only; every
// error (std::runtime_error, or RequestError / AuthError / PurposeRefused) names the file and the problem.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gatetwin/recognizer/audit_log.hpp"
#include "gatetwin/recognizer/enrolment.hpp"
#include "gatetwin/recognizer/gallery_store.hpp"
#include "gatetwin/recognizer/template_key.hpp"

struct sqlite3;

namespace gatetwin::recognizer {

class AuthError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class PurposeRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ConsentState { active, withdrawn, expired };
std::string_view to_string(ConsentState);

struct ConsentRecord {
  std::uint32_t person = 0;
  std::vector<Purpose> purposes;
  std::int64_t retention_days = 0;
  std::string notice;
  std::int64_t granted_us = 0;
  std::int64_t expires_us = 0;   // granted + retention
  ConsentState state = ConsentState::active;
  std::optional<std::int64_t> ended_us;  // withdrawn or expired at
  bool covers(Purpose p) const;
  bool active_at(std::int64_t now_us) const { return state == ConsentState::active && now_us < expires_us; }
};

enum class RequestStatus { pending, approved, rejected };
std::string_view to_string(RequestStatus);

struct RequestRecord {
  std::int64_t id = 0;
  std::uint32_t person = 0;
  std::string phone, residence;  // kept while pending; moved to the person's record on approval, dropped on rejection
  std::vector<Purpose> purposes;
  std::int64_t retention_days = 0;
  std::string notice;
  RequestStatus status = RequestStatus::pending;
  std::string reviewer, reason;
  std::int64_t submitted_us = 0;
  std::optional<std::int64_t> reviewed_us;
  std::size_t photo_bytes = 0;   // 0 once the photo is deleted
};

struct PersonRecord {
  std::uint32_t person = 0;
  std::string phone, residence;
  std::size_t templates = 0;
  std::optional<ConsentRecord> consent;
};

// A template made from an enrolment photo.
struct MadeTemplate {
  TemplateKind kind = TemplateKind::unmasked;
  std::vector<float> embedding;
};

class Registry {
 public:
  // Makes templates from an approved request's photo; throws std::runtime_error("no face found", ...) when
  // the photo cannot be used. The photo buffer is wiped after the call.
  using TemplateMaker = std::function<std::vector<MadeTemplate>(std::span<const unsigned char> photo)>;

  // Creates a registry in `dir` (created 0700; refused if it holds anything) with a new key in `key_file`
  // (default dir/template.key) and returns the admin token (64 hex digits), shown once: only its hash is kept.
  static std::string init(const std::filesystem::path& dir, std::int64_t now_us,
                          const std::optional<std::filesystem::path>& key_file = std::nullopt);

  // Opens an existing registry, checking ownership and permissions of the directory, key and databases.
  // Unless `audit_may_be_read_only` (a gate, which then applies its fail mode), an audit log that cannot be
  // written is an error here, before anything could change unaudited.
  Registry(const std::filesystem::path& dir, std::string model_id, std::size_t dim,
           const std::optional<std::filesystem::path>& key_file = std::nullopt, bool audit_may_be_read_only = false);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // AuthError unless `token` is the admin token; a failure is audited.
  void authenticate(std::string_view token, const std::string& actor, std::int64_t now_us);

  // Records a request, its photo sealed until review; returns the request id (the person id assigned, if
  // the request had none, is in requests()).
  std::int64_t submit(EnrolmentRequest request, const std::string& actor, std::int64_t now_us);
  std::vector<RequestRecord> requests(bool pending_only = false) const;
  // Approves a pending request: templates stored (replacing the person's old ones), consent recorded, photo
  // deleted. If `make` throws, the request is rejected with its message as the reason (photo deleted) and
  // the exception is rethrown. Returns the number of templates stored.
  std::size_t approve(std::int64_t request, const std::string& staff, std::int64_t now_us, const TemplateMaker& make);
  void reject(std::int64_t request, const std::string& staff, const std::string& reason, std::int64_t now_us);

  // New consent for a person already enrolled (e.g. a purpose added). Their templates are kept if any.
  void consent(std::uint32_t person, ConsentGrant grant, const std::string& actor, std::int64_t now_us);
  // Ends the consent and deletes the templates (wiped from the file); returns the templates deleted.
  std::size_t withdraw(std::uint32_t person, const std::string& actor, const std::string& reason, std::int64_t now_us);
  // Deletes the templates of every person whose retention ended by now_us (consent -> expired), and of any
  // person with no active consent. Returns the persons whose templates were deleted.
  std::vector<std::uint32_t> expire(std::int64_t now_us, const std::string& actor = "retention");

  std::optional<ConsentRecord> consent_of(std::uint32_t person) const;
  std::vector<PersonRecord> persons() const;
  bool permits(std::uint32_t person, Purpose purpose, std::int64_t now_us) const;
  // PurposeRefused (audited) unless the person's active consent covers `purpose`.
  void require(std::uint32_t person, Purpose purpose, const std::string& actor, std::int64_t now_us);

  struct Loaded {
    std::size_t templates = 0;
    std::size_t persons = 0;
    std::vector<std::uint32_t> refused;  // have templates, but no active consent covering every purpose
  };
  // Loads into `gallery` the templates of persons whose active consent covers all of `purposes`.
  Loaded load_gallery(Gallery& gallery, const std::vector<Purpose>& purposes, std::int64_t now_us) const;

  // SQLite's data_version of the identity and gallery databases: changes when another process committed.
  std::uint64_t change_counter() const;

  AuditLog& audit() { return *audit_; }
  const AuditLog& audit() const { return *audit_; }
  const GalleryStore& gallery_store() const { return *gallery_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& identity_file() const { return identity_file_; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path identity_file_;
  std::optional<TemplateKey> key_;
  sqlite3* db_ = nullptr;  // identity.db
  std::unique_ptr<GalleryStore> gallery_;
  std::unique_ptr<AuditLog> audit_;
};

}  // namespace gatetwin::recognizer
