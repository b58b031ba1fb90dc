// Transfers for the reporters, so the event loop never waits on a peer:
// HTTP(S) requests over Boost.Beast (notifiers/http_client) on an Asio loop,
// and SMTP submissions, or HTTP through a proxy set in the environment
// (http_proxy, https_proxy, all_proxy), over libcurl on a worker thread that
// drives a curl multi handle.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/reporter.hpp"

namespace boost::asio {
class io_context;
}

namespace herald::notifiers {

struct transfer_request {
  std::string url;  // http(s)://... or smtp(s)://host:port
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // HTTP body, or the whole mail message for SMTP
  std::string username, password;  // HTTP basic auth or SMTP AUTH; empty: none
  // SMTP only.
  std::string mail_from;
  std::vector<std::string> mail_to;
  core::smtp_security security = core::smtp_security::none;
  // TLS (HTTPS and SMTP).
  bool tls_verify = true;
  std::filesystem::path tls_ca_file;
  std::chrono::milliseconds timeout{30000};     // whole transfer
  std::size_t max_response_bytes = 64 * 1024;  // body kept; past it the transfer stops with an error
};

struct transfer_result {
  long status = 0;     // HTTP status or last SMTP reply code; 0: no response
  std::string error;   // transport failure (refused, timeout, TLS, oversize); empty otherwise
  std::map<std::string, std::string> headers;  // response headers, names lower-case
  std::string body;                            // at most max_response_bytes
  bool permanent = false;  // herald stopped the transfer for a reason that no retry can change
};

// No CR, LF or NUL: fit for a header line or an SMTP command. A request with a
// value that is not is refused by submit().
bool is_line_safe(std::string_view s);

class transfer {
 public:
  // HTTP on a thread of its own; callbacks on the transfer threads.
  explicit transfer(std::size_t max_parallel = 32);
  // HTTP on `io`, whose thread must be the one that calls submit; every callback
  // runs there too (curl's are posted to it).
  explicit transfer(boost::asio::io_context& io, std::size_t max_parallel = 32);
  // Stops the threads; transfers in flight are abandoned without callbacks (with
  // `io`: a callback already posted to it runs if `io` runs again).
  ~transfer();
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;

  // Thread-safe with the first constructor. `done` runs exactly once (unless
  // destroyed first) and never inside submit; it must not destroy this transfer.
  // Exceptions from it are dropped.
  void submit(transfer_request r, std::function<void(transfer_result)> done);

  // True with `io`: callbacks run on the loop, with nothing more to post.
  bool calls_back_on_loop() const;

  // For an https:// URL: loads the trusted certificates for these settings ahead
  // of the first request (see http_client::prepare_tls); other URLs: nothing.
  // With `io`, call before it runs or on its thread.
  void prepare_tls(const std::string& url, bool verify, const std::filesystem::path& ca_file);

  // With `io`, on its thread: HTTP requests on that loop that wait for their
  // answer (app/loop_runner naps while there are several). Otherwise 0.
  std::size_t http_in_flight() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace herald::notifiers
