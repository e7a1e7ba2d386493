// One TLS connection on a non-blocking socket: the handshake, then reads and writes with
// recv/send's conventions, so the HTTP transport changes only where it touches the client
// socket. Before the handshake the ClientHello is peeked (left in the socket for OpenSSL) and
// kept for fingerprints. Objects are reused across connections (the session's free list).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tls/context.h"

namespace gh::tls {

// How many leading bytes of `b` hold the whole first handshake message (the ClientHello) in
// complete handshake records; 0 while more bytes are needed. Anything but a handshake record ends
// the capture (OpenSSL then refuses the connection itself): the bytes before it.
std::size_t client_hello_end(std::span<const std::uint8_t> b);

class TlsConn {
 public:
  // The ClientHello kept: its first records, at most this many bytes.
  static constexpr std::size_t kMaxClientHello = 16 * 1024;

  enum class Step : std::uint8_t {
    Done,       // handshake complete
    WantRead,   // wait until the socket is readable
    WantWrite,  // wait until the socket is writable
    Failed,     // close the connection (not TLS, a fatal alert, the peer left)
  };

  TlsConn() = default;
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;

  // Takes `ctx` for this connection; false when no SSL object could be made.
  bool start(ServerContextPtr ctx, int fd);
  // Drives the handshake (first the ClientHello capture).
  Step handshake();
  bool established() const { return established_; }

  // As recv/send: bytes moved, 0 at the end of the stream (read), -1 with errno (EAGAIN when
  // OpenSSL waits for the socket). After EAGAIN from read(), read_wants_write() says the
  // socket's writability is what it waits for (a TLS 1.3 key update it must answer).
  ssize_t read(void* buf, std::size_t len);
  ssize_t write(const void* buf, std::size_t len);
  bool read_wants_write() const { return read_wants_write_; }
  // Sends close_notify (best effort, never waits) unless the connection failed.
  void shutdown();
  // Frees the SSL object; the object may start() again.
  void reset();

  // The ClientHello as received: complete TLS records from the first byte, capped at
  // kMaxClientHello (a longer one is cut). Empty before the handshake began.
  std::span<const std::uint8_t> client_hello() const { return {hello_.data(), hello_.size()}; }
  // The protocol ALPN chose ("http/1.1"), or "" when none was.
  std::string_view alpn() const;
  std::string_view server_name() const;  // SNI, or ""
  std::string_view version() const;      // "TLSv1.3"
  bool resumed() const;
  bool ktls_send() const;
  bool ktls_recv() const;

 private:
  // Peeks until the whole ClientHello (by its record and handshake lengths) is in, or the cap.
  Step capture_hello();

  ServerContextPtr ctx_;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool hello_done_ = false;
  bool established_ = false;
  bool failed_ = false;  // fatal: no close_notify may be sent
  bool read_wants_write_ = false;
  std::vector<std::uint8_t> hello_;
};

}  // namespace gh::tls
