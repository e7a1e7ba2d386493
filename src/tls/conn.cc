#include "tls/conn.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>

namespace gh::tls {

namespace {
constexpr std::uint8_t kHandshakeRecord = 22;
}  // namespace

std::size_t client_hello_end(std::span<const std::uint8_t> b) {
  if (b.empty()) return 0;
  if (b[0] != kHandshakeRecord) return b.size();
  std::size_t off = 0;
  std::size_t payload = 0;
  std::array<std::uint8_t, 4> header{};
  std::size_t header_have = 0;
  while (off + 5 <= b.size()) {
    if (b[off] != kHandshakeRecord) return off;
    const std::size_t len = (std::size_t{b[off + 3]} << 8) | b[off + 4];
    if (off + 5 + len > b.size()) return 0;
    for (std::size_t i = 0; i < len && header_have < header.size(); ++i) {
      header[header_have++] = b[off + 5 + i];
    }
    payload += len;
    off += 5 + len;
    if (header_have == header.size()) {
      const std::size_t need =
          4 + ((std::size_t{header[1]} << 16) | (std::size_t{header[2]} << 8) | header[3]);
      if (payload >= need) return off;
    }
  }
  return 0;
}

TlsConn::~TlsConn() {
  reset();
}

bool TlsConn::start(ServerContextPtr ctx, int fd) {
  reset();
  ctx_ = std::move(ctx);
  fd_ = fd;
  ssl_ = ctx_ != nullptr ? ctx_->new_ssl() : nullptr;
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd) != 1) {
    reset();
    return false;
  }
  SSL_set_accept_state(ssl_);
  return true;
}

void TlsConn::reset() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  ssl_ = nullptr;
  ctx_.reset();
  fd_ = -1;
  hello_done_ = established_ = failed_ = read_wants_write_ = false;
  hello_.clear();
  // Objects are reused: an unusually long hello is not kept for every later connection.
  if (hello_.capacity() > 4096) hello_.shrink_to_fit();
  ERR_clear_error();
}

TlsConn::Step TlsConn::capture_hello() {
  // Peeked, not read: the bytes stay in the socket for OpenSSL, whose view of them is not
  // complete (it drops GREASE values and extensions it does not know).
  thread_local std::array<std::uint8_t, kMaxClientHello> scratch;
  const ssize_t n = ::recv(fd_, scratch.data(), scratch.size(), MSG_PEEK);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Step::WantRead;
    failed_ = true;
    return Step::Failed;
  }
  if (n == 0) {
    failed_ = true;
    return Step::Failed;
  }
  const std::span<const std::uint8_t> got(scratch.data(), static_cast<std::size_t>(n));
  std::size_t end = client_hello_end(got);
  if (end == 0 && got.size() < scratch.size()) return Step::WantRead;  // the rest is on its way
  if (end == 0) end = got.size();  // over the cap: the first 16 KiB
  hello_.assign(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(end));
  hello_done_ = true;
  return Step::Done;
}

TlsConn::Step TlsConn::handshake() {
  if (ssl_ == nullptr || failed_) return Step::Failed;
  if (established_) return Step::Done;
  if (!hello_done_) {
    const Step s = capture_hello();
    if (s != Step::Done) return s;
  }
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    established_ = true;
    return Step::Done;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
      return Step::WantRead;
    case SSL_ERROR_WANT_WRITE:
      return Step::WantWrite;
    default:
      failed_ = true;
      ERR_clear_error();
      return Step::Failed;
  }
}

ssize_t TlsConn::read(void* buf, std::size_t len) {
  read_wants_write_ = false;
  if (ssl_ == nullptr || failed_) {
    errno = ECONNRESET;
    return -1;
  }
  ERR_clear_error();
  const int n = SSL_read(ssl_, buf, static_cast<int>(std::min<std::size_t>(len, INT_MAX)));
  if (n > 0) return n;
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      read_wants_write_ = true;
      errno = EAGAIN;
      return -1;
    default:
      failed_ = true;
      ERR_clear_error();
      errno = ECONNRESET;
      return -1;
  }
}

ssize_t TlsConn::write(const void* buf, std::size_t len) {
  if (ssl_ == nullptr || failed_) {
    errno = EPIPE;
    return -1;
  }
  ERR_clear_error();
  const int n = SSL_write(ssl_, buf, static_cast<int>(std::min<std::size_t>(len, INT_MAX)));
  if (n > 0) return n;
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      return -1;
    default:
      failed_ = true;
      ERR_clear_error();
      errno = EPIPE;
      return -1;
  }
}

void TlsConn::shutdown() {
  if (ssl_ == nullptr || !established_ || failed_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify; a full socket just loses it
  ERR_clear_error();
}

std::string_view TlsConn::alpn() const {
  if (ssl_ == nullptr) return {};
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl_, &p, &n);
  return p == nullptr ? std::string_view{} : std::string_view(reinterpret_cast<const char*>(p), n);
}

std::string_view TlsConn::server_name() const {
  const char* n = ssl_ != nullptr ? SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name) : nullptr;
  return n == nullptr ? std::string_view{} : std::string_view(n);
}

std::string_view TlsConn::version() const {
  return ssl_ != nullptr ? std::string_view(SSL_get_version(ssl_)) : std::string_view{};
}

bool TlsConn::resumed() const {
  return ssl_ != nullptr && SSL_session_reused(ssl_) == 1;
}

bool TlsConn::ktls_send() const {
  return ssl_ != nullptr && BIO_get_ktls_send(SSL_get_wbio(ssl_)) == 1;
}

bool TlsConn::ktls_recv() const {
  return ssl_ != nullptr && BIO_get_ktls_recv(SSL_get_rbio(ssl_)) == 1;
}

}  // namespace gh::tls
