#include "admin.hpp"

#include <sodium.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "daemon_config.hpp"
#include "gatetwin/recognizer/registry.hpp"
#include "policy_file.hpp"

namespace gatetwin::gatectl {

namespace fs = std::filesystem;
namespace gr = gatetwin::recognizer;
using Json = nlohmann::ordered_json;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso(std::int64_t us) {
  const std::time_t t = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void print(const Json& j, bool pretty) { std::cout << j.dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace) << "\n"; }

// The token: a file that only its owner can read, or the environment. Never a command-line argument (it
// would show in ps and shell history).
std::string read_token(const std::string& file) {
  std::string token;
  if (!file.empty()) {
    gr::check_owner_only(file, "token file");
    std::ifstream in(file);
    if (!in) throw ConfigError("token file '" + file + "': cannot read");
    std::getline(in, token);
  } else if (const char* env = std::getenv("GATECTL_TOKEN"); env && *env) {
    token = env;
  } else {
    throw ConfigError("registry commands need the admin token: --token-file FILE (owner-only) or $GATECTL_TOKEN "
                      "(printed once by gatectl registry init)");
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

std::vector<gr::Purpose> purposes(const std::vector<std::string>& names) {
  std::vector<gr::Purpose> out;
  for (const auto& n : names) {
    const auto p = gr::parse_purpose(n);
    if (!p) throw ConfigError("--purpose " + n + ": unknown (access, movement_tracking, police_linkage, health_monitoring)");
    out.push_back(*p);
  }
  return out;
}

std::vector<unsigned char> read_bytes(const std::string& path, std::size_t limit, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(what + " '" + path + "': cannot read");
  std::vector<unsigned char> out;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.insert(out.end(), buf, buf + in.gcount());
    if (out.size() > limit) throw ConfigError(what + " '" + path + "': larger than " + std::to_string(limit >> 20) + " MiB");
  }
  return out;
}

Json consent_json(const gr::ConsentRecord& c) {
  Json j = {{"state", gr::to_string(c.state)},
            {"purposes", gr::purposes_to_string(c.purposes)},
            {"retention_days", c.retention_days},
            {"notice", c.notice},
            {"granted", iso(c.granted_us)},
            {"expires", iso(c.expires_us)}};
  if (c.ended_us) j["ended"] = iso(*c.ended_us);
  return j;
}

Json record_json(const gr::AuditRecord& r) {
  Json detail = Json::parse(r.detail, nullptr, false);
  if (detail.is_discarded()) detail = r.detail;
  return {{"seq", r.seq}, {"time", iso(r.time_us)}, {"actor", r.actor}, {"action", r.action}, {"subject", r.subject},
          {"detail", detail}};
}

}  // namespace

AdminCommands::AdminCommands(CLI::App& app, CLI::App* enroll, CLI::App* list) : enroll_(enroll), list_(list) {
  auto common = [&](CLI::App* c, bool needs_registry = true) {
    auto* o = c->add_option("--registry", registry_, "registry directory (gatectl registry init)");
    if (needs_registry) o->required();
    c->add_option("--key", key_, "template key file (default: REGISTRY/template.key)");
    c->add_option("--token-file", token_file_, "file holding the admin token, owner-only (else $GATECTL_TOKEN)");
    c->add_option("--staff", staff_, "who is acting, for the audit log")->capture_default_str();
  };
  auto* registry = app.add_subcommand("registry", "create an enrolment registry (docs/privacy.md)");
  registry->require_subcommand(1);
  init_ = registry->add_subcommand("init", "make a registry directory, its template key and admin token (printed once)");
  init_->add_option("--registry", registry_, "directory to create (0700)")->required();
  init_->add_option("--key", key_, "where to create the template key (default: REGISTRY/template.key)");
  init_->add_option("--token-out", token_out_, "write the admin token to this file (0600) instead of printing it");

  common(enroll, false);
  enroll->add_option("--request", request_file_, "the request as the mini-program submits it (JSON, docs/privacy.md)");
  enroll->add_option("--photo", photo_, "face photo (JPEG or PNG); with --phone, --residence and the consent options");
  enroll->add_option("--phone", phone_, "resident's mobile number");
  enroll->add_option("--residence", residence_, "building, unit, room");
  // --person is the plain form's option too (main.cpp): read back from it in run().
  enroll->add_option("--purpose", purposes_, "a purpose consented to (repeat): access, movement_tracking, police_linkage, "
                                             "health_monitoring");
  enroll->add_option("--retention-days", retention_days_, "retention period consented to, days");
  enroll->add_option("--notice", notice_, "id of the separate biometric notice the resident agreed to");
  common(list, false);

  review_ = app.add_subcommand("review", "list pending enrolment requests, or approve / reject one");
  common(review_);
  review_->add_option("--approve", approve_, "request id to approve (templates made, photo deleted)");
  review_->add_option("--reject", reject_, "request id to reject (photo deleted)");
  review_->add_option("--reason", reason_, "why a request is rejected");

  consent_ = app.add_subcommand("consent", "record new consent for an enrolled person (a change of purpose)");
  common(consent_);
  consent_->add_option("--person", person_, "person id")->required();
  consent_->add_option("--purpose", purposes_, "a purpose consented to (repeat)")->required();
  consent_->add_option("--retention-days", retention_days_, "retention period, days")->required();
  consent_->add_option("--notice", notice_, "id of the notice agreed to")->required();

  withdraw_ = app.add_subcommand("withdraw", "withdraw a person's consent: templates deleted, card access unchanged");
  common(withdraw_);
  withdraw_->add_option("--person", person_, "person id")->required();
  withdraw_->add_option("--reason", reason_, "recorded in the audit log");

  expire_ = app.add_subcommand("expire", "delete templates whose retention period ended, and templates without consent");
  common(expire_);
  expire_->add_option("--now", now_, "the time to expire at (ISO 8601; default: now)");

  movements_ = app.add_subcommand("movements", "a person's entries and exits from the audit log (movement tracking: "
                                               "refused unless they consented to it)");
  common(movements_);
  movements_->add_option("--person", person_, "person id")->required();

  auto* audit = app.add_subcommand("audit", "the audit log: verify the chain, show records, print the sealed head");
  audit->require_subcommand(1);
  verify_ = audit->add_subcommand("verify", "check every record and the head; exit 1 naming each problem");
  show_ = audit->add_subcommand("show", "print records (JSON lines)");
  head_ = audit->add_subcommand("head", "print the last record's sequence number (keep it elsewhere to detect rollback)");
  for (CLI::App* c : {verify_, show_, head_}) common(c);
  show_->add_option("--subject", subject_, "only this subject (e.g. person:17)");
}

std::optional<int> AdminCommands::run(const std::function<ModelInfo()>& model, const std::function<PhotoEnroller()>& enroller,
                                      bool pretty) {
  if (init_->parsed()) {
    const std::string token = gr::Registry::init(registry_, now_us(), key_.empty() ? std::nullopt : std::optional<fs::path>(key_));
    if (!token_out_.empty()) {
      const int fd = ::open(token_out_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0 || ::write(fd, (token + "\n").data(), token.size() + 1) != static_cast<ssize_t>(token.size() + 1)) {
        if (fd >= 0) ::close(fd);
        throw ConfigError("--token-out '" + token_out_ + "': cannot write (it must not exist yet)");
      }
      ::close(fd);
      std::cerr << "gatectl registry init: " << registry_ << " created; admin token in " << token_out_ << "\n";
    } else {
      std::cout << token << "\n";
      std::cerr << "gatectl registry init: " << registry_ << " created; the admin token above is shown once\n";
    }
    return 0;
  }
  const bool admin = (enroll_->parsed() || list_->parsed()) ? !registry_.empty()
                                                            : (review_->parsed() || consent_->parsed() || withdraw_->parsed() ||
                                                               expire_->parsed() || movements_->parsed() || verify_->parsed() ||
                                                               show_->parsed() || head_->parsed());
  if (!admin) return std::nullopt;
  const std::string token = read_token(token_file_);
  const ModelInfo m = model();
  gr::Registry reg(registry_, m.embedder_id, m.dim, key_.empty() ? std::nullopt : std::optional<fs::path>(key_));
  const std::string actor = "staff:" + staff_;
  try {
    reg.authenticate(token, actor, now_us());
  } catch (const gr::AuthError& e) {
    std::cerr << "gatectl: " << e.what() << " (the failure is in the audit log)\n";
    return 3;
  }

  if (enroll_->parsed()) {
    gr::EnrolmentRequest r;
    if (!request_file_.empty()) {
      if (!photo_.empty()) throw ConfigError("enroll: --request or --photo, not both");
      const auto bytes = read_bytes(request_file_, gr::kMaxRequestBytes, "request");
      try {
        r = gr::parse_enrolment_request(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                                        request_file_);
      } catch (const gr::RequestError& e) {
        std::cerr << "gatectl enroll: " << e.what() << "\n";
        return 1;
      }
    } else {
      if (photo_.empty()) throw ConfigError("enroll --registry: give --request FILE, or --photo with --phone, --residence, "
                                            "--purpose, --retention-days and --notice");
      if (enroll_->count("--person") > 0) r.person = enroll_->get_option("--person")->as<std::uint32_t>();
      r.phone = phone_;
      r.residence = residence_;
      r.photo = read_bytes(photo_, gr::kMaxPhotoBytes, "photo");
      r.consent = {purposes(purposes_), retention_days_, notice_};
      try {
        gr::validate(r, "gatectl enroll");
      } catch (const gr::RequestError& e) {
        std::cerr << e.what() << "\n";
        return 1;
      }
    }
    const std::int64_t id = reg.submit(std::move(r), actor, now_us());
    for (const auto& q : reg.requests(true))
      if (q.id == id) print({{"request", id}, {"person", q.person}, {"status", "pending"}}, pretty);
    return 0;
  }
  if (review_->parsed()) {
    if (approve_ && reject_) throw ConfigError("review: --approve or --reject, not both");
    if (approve_) {
      const PhotoEnroller make = enroller();
      try {
        const std::size_t n = reg.approve(*approve_, staff_, now_us(), make);
        print({{"request", *approve_}, {"status", "approved"}, {"templates", n}, {"photo", "deleted"}}, pretty);
        return 0;
      } catch (const gr::RequestError& e) {
        std::cerr << "gatectl review: " << e.what() << "\n";
        return 1;
      } catch (const std::runtime_error& e) {
        if (dynamic_cast<const gr::AuthError*>(&e)) throw;
        std::cerr << "gatectl review: request " << *approve_ << " rejected: photo unusable: " << e.what()
                  << " (the resident must submit a new photo)\n";
        return 1;
      }
    }
    if (reject_) {
      try {
        reg.reject(*reject_, staff_, reason_, now_us());
      } catch (const gr::RequestError& e) {
        std::cerr << "gatectl review: " << e.what() << "\n";
        return 1;
      }
      print({{"request", *reject_}, {"status", "rejected"}, {"reason", reason_}, {"photo", "deleted"}}, pretty);
      return 0;
    }
    for (const auto& q : reg.requests(true))
      print({{"request", q.id}, {"person", q.person}, {"phone", q.phone}, {"residence", q.residence},
             {"purposes", gr::purposes_to_string(q.purposes)}, {"retention_days", q.retention_days}, {"notice", q.notice},
             {"submitted", iso(q.submitted_us)}, {"photo_bytes", q.photo_bytes}},
            pretty);
    return 0;
  }
  if (consent_->parsed()) {
    try {
      reg.consent(*person_, {purposes(purposes_), retention_days_, notice_}, actor, now_us());
    } catch (const gr::RequestError& e) {
      std::cerr << "gatectl consent: " << e.what() << "\n";
      return 1;
    }
    print({{"person", *person_}, {"consent", consent_json(*reg.consent_of(*person_))}}, pretty);
    return 0;
  }
  if (withdraw_->parsed()) {
    const bool had = reg.consent_of(*person_).has_value();
    const std::size_t n = reg.withdraw(*person_, actor, reason_, now_us());
    print({{"person", *person_}, {"templates_deleted", n}, {"card_access", "unchanged"},
           {"consent", had ? consent_json(*reg.consent_of(*person_)) : Json(nullptr)}},
          pretty);
    return had || n > 0 ? 0 : 1;
  }
  if (expire_->parsed()) {
    std::int64_t at = now_us();
    if (!now_.empty()) {
      const auto t = parse_date_time(now_);
      if (!t) throw ConfigError("--now " + now_ + ": not a date-time (2020-06-08T07:30:00+08:00)");
      at = *t * 1'000'000;
    }
    const auto deleted = reg.expire(at, actor);
    print({{"expired_at", iso(at)}, {"templates_deleted_for", deleted}}, pretty);
    return 0;
  }
  if (movements_->parsed()) {
    try {
      reg.require(*person_, gr::Purpose::movement_tracking, actor, now_us());
    } catch (const gr::PurposeRefused& e) {
      std::cerr << "gatectl movements: refused: " << e.what() << "\n";
      return 3;
    }
    for (const auto& r : reg.audit().records("person:" + std::to_string(*person_)))
      if (r.action == "access") print(record_json(r), pretty);
    return 0;
  }
  if (list_->parsed()) {
    for (const auto& p : reg.persons())
      print({{"person", p.person}, {"phone", p.phone}, {"residence", p.residence}, {"templates", p.templates},
             {"consent", p.consent ? consent_json(*p.consent) : Json(nullptr)}},
            pretty);
    return 0;
  }
  if (verify_->parsed()) {
    const gr::AuditCheck c = reg.audit().verify();
    for (const auto& p : c.problems) std::cout << reg.audit().file().string() << ": " << p << "\n";
    std::cout << reg.audit().file().string() << ": " << c.records << " records, sealed head at " << c.head_seq << ": "
              << (c.ok() ? "OK" : std::to_string(c.problems.size()) + " problem(s)") << "\n";
    return c.ok() ? 0 : 1;
  }
  if (show_->parsed()) {
    for (const auto& r : reg.audit().records(subject_)) print(record_json(r), pretty);
    return 0;
  }
  if (head_->parsed()) {
    const gr::AuditCheck c = reg.audit().verify();
    print({{"file", reg.audit().file().string()}, {"head_seq", c.head_seq}, {"records", c.records}, {"verified", c.ok()}}, pretty);
    return c.ok() ? 0 : 1;
  }
  return std::nullopt;
}

}  // namespace gatetwin::gatectl
