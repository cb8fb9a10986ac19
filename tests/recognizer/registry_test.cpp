// The privacy side of the recognition core: the template key, sealed galleries, the audit log's chain,
// the enrolment lifecycle (request, review, consent, purposes, withdrawal, retention) and the request
// parser. The template maker here is a stand-in for the vision pipeline (gatectl's real one is exercised
// by tests/apps/test_registry.py).
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "gatetwin/recognizer/audit_log.hpp"
#include "gatetwin/recognizer/enrolment.hpp"
#include "gatetwin/recognizer/gallery_store.hpp"
#include "gatetwin/recognizer/registry.hpp"
#include "gatetwin/recognizer/template_key.hpp"

namespace {

namespace fs = std::filesystem;
using namespace gatetwin::recognizer;

constexpr const char* kModel = "test-model";
constexpr std::size_t kDim = 64;
constexpr std::int64_t kDay = 86'400'000'000;
constexpr std::int64_t kT0 = 1'591'574'400'000'000;  // 2020-06-08T00:00Z

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "gatetwin-registry-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The database file and its WAL, as a thief copying the directory would get them.
std::string store_bytes(const fs::path& db) {
  std::string all = file_bytes(db);
  if (fs::exists(db.string() + "-wal")) all += file_bytes(db.string() + "-wal");
  return all;
}

bool contains(const std::string& hay, std::span<const unsigned char> needle) {
  return hay.find(std::string(reinterpret_cast<const char*>(needle.data()), needle.size())) != std::string::npos;
}

std::vector<float> distinctive(float base) {
  std::vector<float> v(kDim);
  for (std::size_t i = 0; i < kDim; ++i) v[i] = base + static_cast<float>(i) * 0.0009765625f;
  return v;
}

std::span<const unsigned char> as_bytes(const std::vector<float>& v) {
  return {reinterpret_cast<const unsigned char*>(v.data()), v.size() * sizeof(float)};
}

// Runs SQL on a file behind the stores' backs (an attacker with the file, or a test setting things up).
void sql(const fs::path& db, const std::string& statement) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* msg = nullptr;
  const int rc = sqlite3_exec(h, statement.c_str(), nullptr, nullptr, &msg);
  const std::string err = msg ? msg : "";
  sqlite3_free(msg);
  sqlite3_close(h);
  ASSERT_EQ(rc, SQLITE_OK) << err << " in " << statement;
}

std::vector<unsigned char> blob_of(const fs::path& db, const std::string& query) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(h, query.c_str(), -1, &s, nullptr);
  std::vector<unsigned char> out;
  if (sqlite3_step(s) == SQLITE_ROW) {
    const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(s, 0));
    out.assign(p, p + sqlite3_column_bytes(s, 0));
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

TemplateKey test_key(unsigned char fill = 7) {
  std::vector<unsigned char> k(TemplateKey::kBytes, fill);
  return TemplateKey::from_bytes(k);
}

// ---- the key ---------------------------------------------------------------------------------------

TEST(TemplateKey, SealedBytesOpenOnlyWithTheKeyAndTheSameAssociatedData) {
  const TemplateKey key = test_key();
  const std::vector<unsigned char> plain = {1, 2, 3, 4, 5};
  const auto sealed = key.seal(plain, "person 1");
  EXPECT_EQ(sealed.size(), plain.size() + TemplateKey::kOverhead);
  EXPECT_EQ(key.open(sealed, "person 1"), plain);
  EXPECT_FALSE(key.open(sealed, "person 2").has_value());
  EXPECT_FALSE(test_key(8).open(sealed, "person 1").has_value());
  auto tampered = sealed;
  tampered[TemplateKey::kNonceBytes] ^= 1;
  EXPECT_FALSE(key.open(tampered, "person 1").has_value());
  EXPECT_FALSE(key.open(std::span(sealed).first(10), "person 1").has_value());
  EXPECT_NE(key.seal(plain, "person 1"), sealed) << "a fresh nonce per message";
}

TEST(TemplateKey, KeyFilesMustBeOwnerOnlyAndTheRightSize) {
  TempDir dir;
  const fs::path f = dir.path() / "k";
  const TemplateKey made = TemplateKey::create(f);
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto sealed = made.seal(std::vector<unsigned char>{9}, "x");
  EXPECT_EQ(TemplateKey::load(f).open(sealed, "x"), std::vector<unsigned char>{9});
  EXPECT_THROW(TemplateKey::create(f), std::runtime_error) << "an existing key is never overwritten";
  ::chmod(f.c_str(), 0640);
  try {
    TemplateKey::load(f);
    ADD_FAILURE() << "a group-readable key was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("mode 0640"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(f.string()), std::string::npos) << e.what();
  }
  ::chmod(f.c_str(), 0600);
  std::ofstream(f, std::ios::app) << "x";
  EXPECT_THROW(TemplateKey::load(f), std::runtime_error);
}

// ---- sealed galleries --------------------------------------------------------------------------------

TEST(SealedGallery, NoTemplateIsInTheFileInTheClearAndRowsCannotBeMovedBetweenPersons) {
  TempDir dir;
  const fs::path file = dir.path() / "g.db";
  const TemplateKey key = test_key();
  const auto secret = distinctive(1.0f);
  {
    GalleryStore store(file, kModel, kDim, &key);
    EXPECT_TRUE(store.sealed());
    store.add(5, secret, TemplateKind::unmasked, StoreTime{});
    store.add(6, distinctive(2.0f), TemplateKind::unmasked, StoreTime{});
  }
  EXPECT_FALSE(contains(store_bytes(file), as_bytes(secret).subspan(0, 32))) << "a template in the clear";
  {
    GalleryStore store(file, kModel, kDim, &key);
    Gallery g(kDim);
    EXPECT_EQ(store.load_into(g), 2u);
    EXPECT_GT(g.verify(5, secret).value_or(0.0f), 0.99f);
  }
  EXPECT_THROW(GalleryStore(file, kModel, kDim), std::runtime_error) << "opened without its key";
  // A thief with write access moves person 5's template to person 6's row: it no longer opens.
  sql(file, "UPDATE templates SET person = 6 WHERE person = 5");
  GalleryStore store(file, kModel, kDim, &key);
  Gallery g(kDim);
  try {
    store.load_into(g);
    ADD_FAILURE() << "a moved template was loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not decrypt"), std::string::npos) << e.what();
  }
  EXPECT_EQ(g.size(), 0u) << "nothing loaded from a store with a bad row";
}

TEST(SealedGallery, APlainGalleryIsRefusedWithAKey) {
  TempDir dir;
  const fs::path file = dir.path() / "plain.db";
  { GalleryStore plain(file, kModel, kDim); }
  const TemplateKey key = test_key();
  EXPECT_THROW(GalleryStore(file, kModel, kDim, &key), std::runtime_error);
}

// ---- the audit log -----------------------------------------------------------------------------------

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AuditLog log(file_, key_);
    for (int i = 1; i <= 6; ++i)
      log.append(kT0 + i, "staff:wang", "approve", "request:" + std::to_string(i), "{\"n\":" + std::to_string(i) + "}");
  }
  AuditCheck check() { return AuditLog(file_, key_).verify(); }
  std::string problems() {
    std::string all;
    for (const auto& p : check().problems) all += p + "\n";
    return all;
  }
  void unprotect() {
    sql(file_, "DROP TRIGGER audit_append_only_update; DROP TRIGGER audit_append_only_delete;");
  }
  void protect() {
    sql(file_, "CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'x'); END;"
               "CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'x'); END;");
  }
  TempDir dir_;
  fs::path file_ = dir_.path() / "audit.db";
  TemplateKey key_ = test_key();
};

TEST_F(AuditTest, AnIntactLogVerifies) {
  const AuditCheck c = check();
  EXPECT_TRUE(c.ok()) << problems();
  EXPECT_EQ(c.records, 6);
  EXPECT_EQ(c.head_seq, 6);
  const auto rec = AuditLog(file_, key_).records("request:3");
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0].seq, 3);
  EXPECT_EQ(rec[0].detail, "{\"n\":3}");
}

TEST_F(AuditTest, TheDatabaseRefusesUpdatesAndDeletes) {
  sqlite3* h = nullptr;
  sqlite3_open(file_.c_str(), &h);
  EXPECT_NE(sqlite3_exec(h, "UPDATE audit SET detail = '{}' WHERE seq = 2", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(h, "DELETE FROM audit WHERE seq = 6", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(h);
  EXPECT_TRUE(check().ok());
}

TEST_F(AuditTest, AnEditedRecordIsFound) {
  unprotect();
  sql(file_, "UPDATE audit SET detail = '{\"n\":99}' WHERE seq = 3");
  protect();
  const std::string p = problems();
  EXPECT_NE(p.find("record 3 "), std::string::npos) << p;
  EXPECT_EQ(p.find("record 4 "), std::string::npos) << "only the edited record is named: " << p;
}

TEST_F(AuditTest, ARemovedRecordIsFound) {
  unprotect();
  sql(file_, "DELETE FROM audit WHERE seq = 4");
  protect();
  const std::string p = problems();
  EXPECT_NE(p.find("records 4..4 are missing"), std::string::npos) << p;
}

TEST_F(AuditTest, ARecordRemovedFromTheEndIsFound) {
  unprotect();
  sql(file_, "DELETE FROM audit WHERE seq = 6");
  protect();
  const std::string p = problems();
  EXPECT_NE(p.find("removed from the end"), std::string::npos) << p;
}

TEST_F(AuditTest, ReorderedRecordsAreFound) {
  unprotect();
  sql(file_, "UPDATE audit SET seq = 100 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 5; "
             "UPDATE audit SET seq = 5 WHERE seq = 100;");
  protect();
  const std::string p = problems();
  EXPECT_NE(p.find("record 2 "), std::string::npos) << p;
  EXPECT_NE(p.find("record 5 "), std::string::npos) << p;
}

TEST_F(AuditTest, AForgedHeadAndRemovedTriggersAreFound) {
  sql(file_, "UPDATE head SET seq = 5");
  EXPECT_NE(problems().find("head row does not verify"), std::string::npos);
  TempDir other;
  const fs::path f2 = other.path() / "a.db";
  { AuditLog(f2, key_).append(kT0, "a", "b", "c", "{}"); }
  sql(f2, "DROP TRIGGER audit_append_only_update");
  const auto c = AuditLog(f2, key_).verify();
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_NE(c.problems[0].find("triggers"), std::string::npos);
}

TEST_F(AuditTest, AChainRewrittenWithAnotherKeyDoesNotVerify) {
  EXPECT_FALSE(AuditLog(file_, test_key(9)).verify().ok());
  EXPECT_THROW(AuditLog(file_, test_key(9)).append(kT0, "x", "y", "z", "{}"), std::runtime_error)
      << "nothing is appended to a log whose head does not verify";
}

// ---- the registry ------------------------------------------------------------------------------------

// A JPEG's first bytes and some payload: the registry checks the magic; the maker below stands in for the
// vision pipeline and derives a template from the bytes.
std::vector<unsigned char> fake_photo(unsigned char seed) {
  std::vector<unsigned char> p = {0xff, 0xd8, 0xff, 0xe0};
  for (int i = 0; i < 200; ++i) p.push_back(static_cast<unsigned char>(seed * 31 + i * 7));
  return p;
}

EnrolmentRequest request(std::optional<std::uint32_t> person, unsigned char seed, std::int64_t retention_days = 365) {
  EnrolmentRequest r;
  r.person = person;
  r.phone = "+86 138-0013-8017";
  r.residence = "3号楼 2单元 401";
  r.photo = fake_photo(seed);
  r.consent = {{Purpose::access}, retention_days, "biometric-notice-2020-06"};
  return r;
}

Registry::TemplateMaker maker() {
  return [](std::span<const unsigned char> photo) {
    return std::vector<MadeTemplate>{{TemplateKind::unmasked, distinctive(static_cast<float>(photo[5]) / 16.0f + 1.0f)}};
  };
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { token_ = Registry::init(root_, kT0); }
  Registry open() { return Registry(root_, kModel, kDim); }
  TempDir tmp_;
  fs::path root_ = tmp_.path() / "registry";
  std::string token_;
};

TEST_F(RegistryTest, InitMakesAnOwnerOnlyDirectoryAndATokenThatAuthenticates) {
  EXPECT_EQ(token_.size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* f : {"template.key", "identity.db", "audit.db"}) {
    ASSERT_EQ(::stat((root_ / f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 077, 0u) << f;
  }
  Registry reg = open();
  EXPECT_NO_THROW(reg.authenticate(token_, "admin", kT0));
  EXPECT_THROW(reg.authenticate(std::string(64, '0'), "admin", kT0), AuthError);
  const auto rec = reg.audit().records();
  ASSERT_EQ(rec.size(), 2u);
  EXPECT_EQ(rec[0].action, "init");
  EXPECT_EQ(rec[1].action, "auth_failed");
  EXPECT_THROW(Registry::init(root_, kT0), std::runtime_error) << "a registry is made once";
}

TEST_F(RegistryTest, OpeningRefusesADirectoryOthersCanRead) {
  ::chmod(root_.c_str(), 0755);
  try {
    open();
    ADD_FAILURE() << "opened a world-readable registry";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("mode 0755"), std::string::npos) << e.what();
  }
  ::chmod(root_.c_str(), 0700);
  ::chmod((root_ / "identity.db").c_str(), 0644);
  EXPECT_THROW(open(), std::runtime_error);
}

TEST_F(RegistryTest, ApprovalMakesTemplatesRecordsConsentAndDeletesThePhoto) {
  Registry reg = open();
  const std::int64_t id = reg.submit(request(17, 1), "miniprogram", kT0 + 1);
  auto pending = reg.requests(true);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].person, 17u);
  EXPECT_EQ(pending[0].phone, "13800138017") << "normalised";
  EXPECT_GT(pending[0].photo_bytes, 0u);
  const auto sealed_photo = blob_of(root_ / "identity.db", "SELECT photo FROM requests");
  ASSERT_GT(sealed_photo.size(), 100u);
  const auto photo = fake_photo(1);
  EXPECT_FALSE(contains(store_bytes(root_ / "identity.db"), std::span(photo).subspan(4, 64)))
      << "the photo waits for review sealed, not in the clear";
  ASSERT_TRUE(contains(store_bytes(root_ / "identity.db"), std::span(sealed_photo).subspan(30, 64)));
  EXPECT_FALSE(reg.consent_of(17).has_value()) << "no consent before approval";

  EXPECT_EQ(reg.approve(id, "wang", kT0 + 2, maker()), 1u);
  EXPECT_TRUE(reg.requests(true).empty());
  const auto all = reg.requests();
  EXPECT_EQ(all[0].status, RequestStatus::approved);
  EXPECT_EQ(all[0].photo_bytes, 0u);
  EXPECT_EQ(all[0].reviewer, "wang");
  EXPECT_FALSE(contains(store_bytes(root_ / "identity.db"), std::span(sealed_photo).subspan(30, 64)))
      << "the photo's bytes are gone from the file after approval (secure delete)";
  const auto c = reg.consent_of(17);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->active_at(kT0 + 3));
  EXPECT_EQ(c->expires_us, kT0 + 2 + 365 * kDay);
  EXPECT_EQ(c->notice, "biometric-notice-2020-06");
  Gallery g(kDim);
  const auto loaded = reg.load_gallery(g, {Purpose::access}, kT0 + 3);
  EXPECT_EQ(loaded.templates, 1u);
  EXPECT_TRUE(g.contains(17));
  EXPECT_TRUE(reg.audit().verify().ok());
}

TEST_F(RegistryTest, AnUnusablePhotoRejectsTheRequestWithTheReason) {
  Registry reg = open();
  const std::int64_t id = reg.submit(request(std::nullopt, 2), "miniprogram", kT0);
  const auto failing = [](std::span<const unsigned char>) -> std::vector<MadeTemplate> {
    throw std::runtime_error("no face found");
  };
  EXPECT_THROW(reg.approve(id, "wang", kT0 + 1, failing), std::runtime_error);
  const auto r = reg.requests();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].person, 1u) << "the first assigned id";
  EXPECT_EQ(r[0].status, RequestStatus::rejected);
  EXPECT_EQ(r[0].reason, "photo unusable: no face found");
  EXPECT_EQ(r[0].photo_bytes, 0u);
  EXPECT_EQ(reg.gallery_store().size(), 0u);
  EXPECT_THROW(reg.reject(id, "wang", "again", kT0 + 2), RequestError) << "reviewed once";
  const std::int64_t id2 = reg.submit(request(std::nullopt, 3), "miniprogram", kT0 + 3);
  EXPECT_THROW(reg.reject(id2, "wang", "", kT0 + 4), RequestError) << "a rejection needs a reason";
  reg.reject(id2, "wang", "residence not in this compound", kT0 + 4);
  EXPECT_EQ(reg.requests()[1].reason, "residence not in this compound");
}

TEST_F(RegistryTest, APurposeNotConsentedToIsRefusedUntilReconsent) {
  Registry reg = open();
  reg.approve(reg.submit(request(17, 1), "miniprogram", kT0), "wang", kT0, maker());
  reg.approve(reg.submit(request(18, 2), "miniprogram", kT0), "wang", kT0, maker());
  EXPECT_TRUE(reg.permits(17, Purpose::access, kT0 + 1));
  EXPECT_FALSE(reg.permits(17, Purpose::movement_tracking, kT0 + 1));
  try {
    reg.require(17, Purpose::movement_tracking, "police", kT0 + 1);
    ADD_FAILURE() << "tracking allowed without consent";
  } catch (const PurposeRefused& e) {
    EXPECT_NE(std::string(e.what()).find("consented only to access"), std::string::npos) << e.what();
  }
  EXPECT_EQ(reg.audit().records("person:17").back().action, "purpose_refused");
  // A gate that also tracks movements may use only the faces of those who consented to that too.
  Gallery tracking(kDim);
  auto loaded = reg.load_gallery(tracking, {Purpose::access, Purpose::movement_tracking}, kT0 + 1);
  EXPECT_EQ(loaded.templates, 0u);
  EXPECT_EQ(loaded.refused, (std::vector<std::uint32_t>{17, 18}));
  reg.consent(17, {{Purpose::movement_tracking, Purpose::access}, 30, "tracking-notice-2020-07"}, "resident", kT0 + 2);
  EXPECT_NO_THROW(reg.require(17, Purpose::movement_tracking, "police", kT0 + 3));
  Gallery after(kDim);
  loaded = reg.load_gallery(after, {Purpose::access, Purpose::movement_tracking}, kT0 + 3);
  EXPECT_TRUE(after.contains(17));
  EXPECT_FALSE(after.contains(18));
  EXPECT_EQ(loaded.refused, std::vector<std::uint32_t>{18});
  EXPECT_THROW(reg.consent(99, {{Purpose::access}, 30, "n"}, "x", kT0), RequestError) << "never enrolled";
}

TEST_F(RegistryTest, WithdrawalDeletesTheTemplateFromTheFileBytes) {
  Registry reg = open();
  for (std::uint32_t p = 1; p <= 12; ++p) reg.approve(reg.submit(request(p, static_cast<unsigned char>(p)), "m", kT0), "wang", kT0, maker());
  const auto sealed = blob_of(root_ / "gallery.db", "SELECT embedding FROM templates WHERE person = 7");
  ASSERT_EQ(sealed.size(), 4 * kDim + TemplateKey::kOverhead);
  ASSERT_TRUE(contains(store_bytes(root_ / "gallery.db"), std::span(sealed).subspan(40, 64)));
  EXPECT_EQ(reg.withdraw(7, "resident", "moved out", kT0 + 1), 1u);
  EXPECT_FALSE(contains(store_bytes(root_ / "gallery.db"), std::span(sealed).subspan(40, 64)))
      << "the withdrawn template's bytes remain in the database file or its WAL (free pages included)";
  EXPECT_EQ(reg.consent_of(7)->state, ConsentState::withdrawn);
  EXPECT_FALSE(reg.permits(7, Purpose::access, kT0 + 2));
  Gallery g(kDim);
  EXPECT_EQ(reg.load_gallery(g, {Purpose::access}, kT0 + 2).persons, 11u);
  EXPECT_FALSE(g.contains(7));
  const auto last = reg.audit().records("person:7").back();
  EXPECT_EQ(last.action, "withdraw");
  EXPECT_NE(last.detail.find("\"card_access\":\"unchanged\""), std::string::npos);
  EXPECT_TRUE(reg.audit().verify().ok());
}

TEST_F(RegistryTest, RetentionExpiryAndOrphansAreDeletedOnSchedule) {
  Registry reg = open();
  reg.approve(reg.submit(request(1, 1, 1), "m", kT0), "wang", kT0, maker());    // one day
  reg.approve(reg.submit(request(2, 2, 365), "m", kT0), "wang", kT0, maker());  // a year
  EXPECT_TRUE(reg.expire(kT0 + kDay / 2).empty());
  Gallery before(kDim);
  EXPECT_EQ(reg.load_gallery(before, {Purpose::access}, kT0 + kDay + 1).persons, 1u) << "expired consent: not loaded";
  EXPECT_EQ(reg.expire(kT0 + kDay), std::vector<std::uint32_t>{1});
  EXPECT_EQ(reg.consent_of(1)->state, ConsentState::expired);
  EXPECT_EQ(reg.gallery_store().size(), 1u);
  // A template with no consent (e.g. a crash between the two databases) is deleted too.
  const TemplateKey key = TemplateKey::load(root_ / "template.key");
  { GalleryStore(root_ / "gallery.db", kModel, kDim, &key).add(40, distinctive(3.0f), TemplateKind::unmasked, StoreTime{}); }
  EXPECT_EQ(reg.expire(kT0 + 2 * kDay), std::vector<std::uint32_t>{40});
  EXPECT_EQ(reg.audit().records("person:40").back().action, "delete_orphan");
  EXPECT_EQ(reg.gallery_store().size(), 1u);
}

// ---- requests ----------------------------------------------------------------------------------------

std::string good_request_json() {
  return R"({"person": 17, "phone": "13800138017", "residence": "Building 3, Unit 2, Room 401",
             "photo_base64": "/9j/4AAQSkZJRgABAQ==",
             "consent": {"purposes": ["movement_tracking", "access"], "retention_days": 365,
                         "notice": "biometric-notice-2020-06", "separate": true}})";
}

std::string field_of_error(const std::string& json) {
  try {
    parse_enrolment_request(json, "req.json");
  } catch (const RequestError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("req.json: ", 0), 0u) << e.what();
    return e.field();
  }
  return "(accepted)";
}

std::string with(std::string json, const std::string& from, const std::string& to) {
  const auto at = json.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return json.replace(at, from.size(), to);
}

TEST(EnrolmentRequest, AGoodRequestParses) {
  const EnrolmentRequest r = parse_enrolment_request(good_request_json(), "req.json");
  EXPECT_EQ(r.person, 17u);
  EXPECT_EQ(r.photo.size(), 13u);
  EXPECT_EQ(r.photo[0], 0xff);
  EXPECT_EQ(r.consent.purposes, (std::vector<Purpose>{Purpose::access, Purpose::movement_tracking}));
  EXPECT_EQ(r.consent.retention_days, 365);
}

TEST(EnrolmentRequest, EachProblemNamesItsField) {
  const std::string g = good_request_json();
  EXPECT_EQ(field_of_error("{"), "(request)");
  EXPECT_EQ(field_of_error("[]"), "(request)");
  EXPECT_EQ(field_of_error(with(g, "\"person\": 17", "\"person\": -1")), "person");
  EXPECT_EQ(field_of_error(with(g, "\"person\": 17", "\"persn\": 17")), "persn");
  EXPECT_EQ(field_of_error(with(g, "13800138017", "12345")), "phone");
  EXPECT_EQ(field_of_error(with(g, "Building 3, Unit 2, Room 401", "")), "residence");
  EXPECT_EQ(field_of_error(with(g, "Building 3", "Building\\u0007")), "residence");
  EXPECT_EQ(field_of_error(with(g, "/9j/4AAQSkZJRgABAQ==", "not base64!")), "photo_base64");
  EXPECT_EQ(field_of_error(with(g, "/9j/4AAQSkZJRgABAQ==", "aGVsbG8gd29ybGQ=")), "photo");
  EXPECT_EQ(field_of_error(with(g, "\"separate\": true", "\"separate\": false")), "consent.separate");
  EXPECT_EQ(field_of_error(with(g, "\"retention_days\": 365,", "")), "consent.retention_days");
  EXPECT_EQ(field_of_error(with(g, "365", "0")), "consent.retention_days");
  EXPECT_EQ(field_of_error(with(g, "\"movement_tracking\", ", "\"selling\", ")), "consent.purposes");
  EXPECT_EQ(field_of_error(with(g, "\"movement_tracking\"", "\"access\"")), "consent.purposes");
  EXPECT_EQ(field_of_error(with(g, "[\"movement_tracking\", \"access\"]", "[]")), "consent.purposes");
  EXPECT_EQ(field_of_error(with(g, "biometric-notice-2020-06", "")), "consent.notice");
  const auto without_consent = g.substr(0, g.find(",\n             \"consent\"")) + "}";
  EXPECT_EQ(field_of_error(without_consent), "consent");
  // Unknown keys are named even when they are empty or hold control characters (found by fuzz_enrolment).
  EXPECT_EQ(field_of_error(with(g, "\"person\": 17", "\"\": 17")), "\"\"");
  EXPECT_EQ(field_of_error(with(g, "\"person\": 17", "\"a\\u0007b\": 17")), "\"a\\u0007b\"");
  EXPECT_EQ(field_of_error(with(g, "\"separate\": true", "\"\": 1, \"separate\": true")), "consent.\"\"");
}

}  // namespace
