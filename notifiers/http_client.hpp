// HTTP/1.1 over Boost.Beast on an Asio io_context: keep-alive connections
// pooled per origin, TLS with peer verification, a deadline per request and a
// cap on the response body. It does the reporters' HTTP deliveries on the event
// loop itself: a request costs a write and a read on a kept connection, with no
// hand-off to another thread (libcurl, on its own thread, still does SMTP and
// requests that must go through a proxy; see notifiers/transfer).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>

#include "notifiers/transfer.hpp"

namespace boost::asio {
class io_context;
}

namespace herald::notifiers {

class http_client {
 public:
  // Runs on `io` (whose thread calls submit and receives the callbacks).
  http_client(boost::asio::io_context& io, std::size_t max_parallel);
  // Closes every connection; requests in flight or queued are abandoned without callbacks.
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // Call on the io_context's thread. `done` runs there too, exactly once and
  // never inside submit (unless the client is destroyed first). An http:// or
  // https:// URL only.
  void submit(transfer_request r, std::function<void(transfer_result)> done);

  // Loads the trusted certificates for these TLS settings now (about 20 ms for
  // the system store), so the first HTTPS delivery does not read them from
  // disk on the loop. Call before the loop runs, or on its thread.
  void prepare_tls(bool verify, const std::filesystem::path& ca_file);

  // Requests sent and not answered yet (not those queued behind max_parallel).
  std::size_t in_flight() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace herald::notifiers
