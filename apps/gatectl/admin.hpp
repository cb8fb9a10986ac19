#pragma once
// gatectl's registry commands (docs/privacy.md): the enrolment lifecycle, consent, withdrawal, retention and
// the audit log, each authenticated with the registry's admin token.
//   gatectl registry init --registry DIR [--key FILE] [--token-out FILE]
//   gatectl enroll   --registry DIR (--request req.json | --photo P --phone N --residence R [--person ID]
//                    --purpose access [--purpose ...] --retention-days D --notice ID)
//   gatectl review   --registry DIR [--approve ID | --reject ID --reason TEXT] [--staff NAME]
//   gatectl consent  --registry DIR --person ID --purpose P ... --retention-days D --notice ID
//   gatectl withdraw --registry DIR --person ID [--reason TEXT]
//   gatectl list     --registry DIR
//   gatectl expire   --registry DIR [--now ISO-TIME]
//   gatectl movements --registry DIR --person ID       (movement tracking: refused without that consent)
//   gatectl audit verify|show|head --registry DIR
// The token comes from --token-file FILE (owner-only) or $GATECTL_TOKEN.
// Exit codes: 0 done; 1 refused input (a request, an unusable photo) or an audit log that does not verify;
// 2 usage or configuration; 3 authentication failed or purpose refused.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "gatetwin/recognizer/registry.hpp"

namespace gatetwin::gatectl {

// Makes templates from a photo's bytes (the vision pipeline); throws std::runtime_error with the reason.
using PhotoEnroller = recognizer::Registry::TemplateMaker;
struct ModelInfo {
  std::string embedder_id;
  std::size_t dim = 0;
};

class AdminCommands {
 public:
  // Adds the subcommands. `enroll` and `list` are shared with the plain-gallery forms: `--registry` selects.
  AdminCommands(CLI::App& app, CLI::App* enroll, CLI::App* list);
  // If one of this object's commands was given, runs it and returns its exit code.
  std::optional<int> run(const std::function<ModelInfo()>& model, const std::function<PhotoEnroller()>& enroller, bool pretty);
  // True when `enroll`/`list` were given with --registry.
  bool registry_mode() const { return !registry_.empty(); }

 private:
  CLI::App* init_ = nullptr;
  CLI::App* enroll_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* review_ = nullptr;
  CLI::App* consent_ = nullptr;
  CLI::App* withdraw_ = nullptr;
  CLI::App* expire_ = nullptr;
  CLI::App* movements_ = nullptr;
  CLI::App* verify_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* head_ = nullptr;
  std::string registry_, key_, token_file_, token_out_, staff_ = "admin", request_file_, photo_, phone_, residence_,
      notice_, reason_, now_, subject_;
  std::optional<std::uint32_t> person_;
  std::vector<std::string> purposes_;
  std::int64_t retention_days_ = 0;
  std::optional<std::int64_t> approve_, reject_;
};

}  // namespace gatetwin::gatectl
