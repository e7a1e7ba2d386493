// The upstream side of one forwarded request, apart from the client's protocol: pick a server of
// the route's upstream, connect (another server once when the connect fails), send the request
// bytes the client side puts in request_out(), parse the response head and hand the body over
// de-framed under backpressure, retry a replayable request once on a reused connection the server
// had closed, time out, and give the connection back to the pool. An HTTP/1.1 session owns one;
// an HTTP/2 connection owns one per forwarded stream. The owner is told through `Owner`.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/buffer.h"
#include "gate/exchange.h"
#include "http/message-t.h"
#include "http/parser.h"
#include "net/timer.h"
#include "net/upstream_group.h"
#include "net/upstream_pool.h"
#include "proxy/rewrite.h"
#include "proxy/splice.h"

namespace gh::proxy {

class Worker;
struct SnapshotHold;

class UpstreamExchange final : public net::UpstreamUser, public SplicePeer {
 public:
  class Owner {
   public:
    // Readiness or a deadline changed something: run the owner's state machine.
    virtual void upstream_progress() = 0;
    // The final response head, settled with the pipeline. False: no room for it yet (the head
    // is offered again on the next pump); the owner may fail the exchange instead.
    virtual bool upstream_head(const http::ResponseHead& head) = 0;
    // The exchange cannot go on (no server, failed connect, bad answer, timeout). The upstream
    // connection is closed already.
    virtual void upstream_failed(int status, std::string_view detail,
                                 std::uint32_t retry_after) = 0;

   protected:
    ~Owner() = default;
  };

  UpstreamExchange(Worker& worker, Owner& owner);
  ~UpstreamExchange() override;
  UpstreamExchange(const UpstreamExchange&) = delete;
  UpstreamExchange& operator=(const UpstreamExchange&) = delete;

  // A new exchange: forgets the previous one's state (its connection must be gone).
  void reset();
  // Serialises the request head into request_out() for `x`'s route (HTTP/1.1, see rewrite.h).
  // `replayable`: `req` stays valid until the response head, so a retry can write it again.
  bool forward_head(gate::Exchange& x, SnapshotHold* hold, const http::RequestHead& req,
                    const ForwardContext& ctx, bool replayable);
  // The request bytes for the upstream (head, then the body as the client side frames it).
  core::Buffer& request_out();
  // Picks a server (`to`, or the balancer's next) and connects; on failure the owner is told.
  bool connect(net::Balancer::Peer* to = nullptr);
  bool write(bool request_done);  // sends request_out(); `request_done`: nothing more follows
  bool read();
  // Parses the response head (settle, passive health, the owner's upstream_head).
  bool pump_head();
  // Moves response body bytes into `sink`, de-framed; re-chunked when `rechunk`.
  bool pump_body(core::Buffer& sink, bool rechunk);
  // The response is complete: the connection goes back to the pool when it can be reused.
  void finish(bool request_done);
  void close();          // closes the upstream connection (an answer of our own replaces it)
  void end();            // the exchange is over: the server's use is given back
  void clear_request();  // drops request bytes not yet sent
  void release_idle_buffers();
  void release_buffers();
  // Arms the upstream deadline (connect, first byte, idle) while `active`, else cancels it.
  void update_timer(bool active);

  bool connected() const { return up_ != nullptr; }
  bool head_done() const { return head_done_; }
  bool done() const { return done_; }
  // The body ended early (truncated or malformed): the client must see it cut short.
  bool cut_short() const { return cut_short_; }
  const http::ResponseHead& response() const { return resp_; }
  // The upstream answered 101 to the Upgrade the exchange asked for: the connection now carries
  // that protocol, read and written raw (SplicePeer) and closed at the end, never pooled.
  bool switched() const { return switched_; }
  // Bytes the upstream sent behind its 101 head (the new protocol's first).
  core::Buffer* response_buffer() { return in_; }
  bool splice_readable() const override;
  bool splice_writable() const override;
  ssize_t splice_read(char* p, std::size_t n) override;
  ssize_t splice_write(const char* p, std::size_t n) override;

  void on_upstream_events(std::uint32_t events) override;

 private:
  bool connect_failed(std::string_view why, int status);
  void blame(std::string_view why);
  void drop_peer();
  void fail(int status, std::string_view detail, std::uint32_t retry_after = 0);
  static void on_timer(void* self);

  Worker& worker_;
  Owner& owner_;
  gate::Exchange* x_ = nullptr;
  SnapshotHold* hold_ = nullptr;
  const http::RequestHead* req_ = nullptr;
  ForwardContext ctx_{};
  bool replayable_ = false;

  net::UpstreamConn* up_ = nullptr;
  net::Balancer* balancer_ = nullptr;      // the exchange's upstream, as this worker balances it
  net::Balancer::Peer* chosen_ = nullptr;  // the server it went to (a use held until the end)
  bool moved_ = false;                     // went to another server after a failed connect
  bool retried_ = false;
  core::Buffer* in_ = nullptr;   // upstream -> us
  core::Buffer* out_ = nullptr;  // us -> upstream
  http::ResponseHead resp_{};
  http::ChunkedDecoder chunked_;
  std::uint64_t remaining_ = 0;
  bool head_done_ = false;
  bool done_ = false;
  bool eof_ = false;
  bool cut_short_ = false;
  bool switched_ = false;
  std::int64_t progress_ms_ = 0;
  std::int64_t request_sent_ms_ = 0;
  net::Timer timer_;
};

}  // namespace gh::proxy
