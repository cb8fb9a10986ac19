#pragma once
// The key that encrypts face templates (and enrolment photos awaiting review) at rest, and from which the
// audit log's MAC key is derived. It lives in its own file, outside every database, readable by its owner
// only: a copied database without the key file gives no templates, and a log rewritten without the key
// cannot be made to verify.
//
// Sealing is XChaCha20-Poly1305 (libsodium's crypto_aead_xchacha20poly1305_ietf) with a random 24-byte
// nonce per message: sealed = nonce || ciphertext || 16-byte tag. The associated data binds a sealed
// template to its row's person, kind and model, so a ciphertext moved to another person's row does not
// open (no "my face opens as someone else" by swapping rows).
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace gatetwin::recognizer {

class TemplateKey {
 public:
  static constexpr std::size_t kBytes = 32;
  static constexpr std::size_t kNonceBytes = 24;
  static constexpr std::size_t kTagBytes = 16;
  static constexpr std::size_t kOverhead = kNonceBytes + kTagBytes;

  // A new random key written to `file` (created exclusively, mode 0600). std::runtime_error naming the file
  // if it exists or cannot be written.
  static TemplateKey create(const std::filesystem::path& file);
  // Reads the key, after checking that the file is a regular file owned by this user with no group or
  // other permission bits and exactly kBytes long. std::runtime_error naming the file and the problem.
  static TemplateKey load(const std::filesystem::path& file);
  // From raw bytes (tests, fuzzers). std::invalid_argument unless kBytes long.
  static TemplateKey from_bytes(std::span<const unsigned char> bytes);

  ~TemplateKey();
  TemplateKey(const TemplateKey&);
  TemplateKey& operator=(const TemplateKey&);

  std::vector<unsigned char> seal(std::span<const unsigned char> plain, std::string_view aad) const;
  // nullopt when the tag does not verify (wrong key, tampered bytes or other associated data) or the
  // input is too short to be sealed.
  std::optional<std::vector<unsigned char>> open(std::span<const unsigned char> sealed, std::string_view aad) const;
  // A sub-key for another use (libsodium's crypto_kdf: BLAKE2b keyed with this key), e.g. the audit log's
  // MAC key. `context` is exactly 8 characters.
  std::array<unsigned char, kBytes> derive(std::uint64_t id, std::string_view context) const;

 private:
  TemplateKey() = default;
  std::array<unsigned char, kBytes> key_{};
};

// std::runtime_error("<what> '<path>': ...") unless `path` exists, is owned by this process's effective
// user and grants nothing to group or others (mode & 077 == 0). For key files, token files, the registry
// directory and its databases.
void check_owner_only(const std::filesystem::path& path, std::string_view what);

}  // namespace gatetwin::recognizer
