#include "gatetwin/recognizer/template_key.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace gatetwin::recognizer {

namespace fs = std::filesystem;

namespace {

void init_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

std::string mode_string(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

}  // namespace

void check_owner_only(const fs::path& path, std::string_view what) {
  struct stat st {};
  const std::string name = std::string(what) + " '" + path.string() + "'";
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(name + ": " + std::strerror(errno));
  if (st.st_uid != ::geteuid()) {
    throw std::runtime_error(name + ": owned by uid " + std::to_string(st.st_uid) + ", not by this user (uid " +
                             std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & 077) != 0) {
    throw std::runtime_error(name + ": mode " + mode_string(st.st_mode) +
                             " lets group or others in; it must be owner-only (chmod go-rwx)");
  }
}

TemplateKey TemplateKey::create(const fs::path& file) {
  init_sodium();
  TemplateKey k;
  randombytes_buf(k.key_.data(), k.key_.size());
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("key file '" + file.string() + "': cannot create: " + std::strerror(errno));
  const ssize_t n = ::write(fd, k.key_.data(), k.key_.size());
  const bool ok = n == static_cast<ssize_t>(k.key_.size()) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(file.c_str());
    throw std::runtime_error("key file '" + file.string() + "': cannot write: " + std::strerror(err));
  }
  return k;
}

TemplateKey TemplateKey::load(const fs::path& file) {
  init_sodium();
  check_owner_only(file, "key file");
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("key file '" + file.string() + "': cannot open: " + std::strerror(errno));
  struct stat st {};
  TemplateKey k;
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const ssize_t n = regular ? ::read(fd, k.key_.data(), k.key_.size()) : -1;
  unsigned char extra = 0;
  const ssize_t more = regular ? ::read(fd, &extra, 1) : 0;
  ::close(fd);
  if (!regular) throw std::runtime_error("key file '" + file.string() + "': not a regular file");
  if (n != static_cast<ssize_t>(kBytes) || more != 0) {
    throw std::runtime_error("key file '" + file.string() + "': must be exactly " + std::to_string(kBytes) +
                             " bytes (" + std::to_string(st.st_size) + " found)");
  }
  return k;
}

TemplateKey TemplateKey::from_bytes(std::span<const unsigned char> bytes) {
  init_sodium();
  if (bytes.size() != kBytes) throw std::invalid_argument("a template key is " + std::to_string(kBytes) + " bytes");
  TemplateKey k;
  std::memcpy(k.key_.data(), bytes.data(), kBytes);
  return k;
}

TemplateKey::~TemplateKey() { sodium_memzero(key_.data(), key_.size()); }
TemplateKey::TemplateKey(const TemplateKey&) = default;
TemplateKey& TemplateKey::operator=(const TemplateKey&) = default;

std::vector<unsigned char> TemplateKey::seal(std::span<const unsigned char> plain, std::string_view aad) const {
  std::vector<unsigned char> out(kNonceBytes + plain.size() + kTagBytes);
  randombytes_buf(out.data(), kNonceBytes);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kNonceBytes, &len, plain.data(), plain.size(),
                                             reinterpret_cast<const unsigned char*>(aad.data()), aad.size(), nullptr,
                                             out.data(), key_.data());
  out.resize(kNonceBytes + static_cast<std::size_t>(len));
  return out;
}

std::optional<std::vector<unsigned char>> TemplateKey::open(std::span<const unsigned char> sealed,
                                                           std::string_view aad) const {
  if (sealed.size() < kOverhead) return std::nullopt;
  std::vector<unsigned char> out(sealed.size() - kOverhead);
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &len, nullptr, sealed.data() + kNonceBytes,
                                                 sealed.size() - kNonceBytes,
                                                 reinterpret_cast<const unsigned char*>(aad.data()), aad.size(),
                                                 sealed.data(), key_.data()) != 0) {
    sodium_memzero(out.data(), out.size());
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::array<unsigned char, TemplateKey::kBytes> TemplateKey::derive(std::uint64_t id, std::string_view context) const {
  static_assert(crypto_kdf_KEYBYTES == kBytes);
  if (context.size() != crypto_kdf_CONTEXTBYTES) throw std::invalid_argument("a key derivation context is 8 characters");
  char ctx[crypto_kdf_CONTEXTBYTES + 1] = {};
  std::memcpy(ctx, context.data(), context.size());
  std::array<unsigned char, kBytes> sub{};
  crypto_kdf_derive_from_key(sub.data(), sub.size(), id, ctx, key_.data());
  return sub;
}

}  // namespace gatetwin::recognizer
