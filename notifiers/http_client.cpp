#include "notifiers/http_client.hpp"

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace herald::notifiers {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using steady = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr std::chrono::milliseconds max_connect{10000};
// Deadlines are checked this often while requests are in flight: one timer for
// all connections, not one armed and cancelled per read and write.
constexpr std::chrono::milliseconds sweep_every{25};
constexpr std::chrono::seconds max_idle{20};  // a kept connection older than this is not reused
constexpr std::uint32_t max_header_bytes = 64 * 1024;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// The parts of a URL a request needs.
struct endpoint {
  bool tls = false;
  std::string host;         // without brackets, for DNS, SNI and certificate checks
  std::string host_header;  // as the Host header carries it
  std::string port;
  std::string target;       // path and query
  std::string user, password;
  std::string origin;           // scheme://host[:port], as Host gives it
  std::string verified_origin;  // origin + "|v": with the default trust store, the usual case
};

std::string url_part(CURLU* u, CURLUPart part, unsigned flags) {
  char* text = nullptr;
  if (curl_url_get(u, part, &text, flags) != CURLUE_OK || !text) return {};
  std::string s(text);
  curl_free(text);
  return s;
}

std::optional<endpoint> parse(const std::string& url) {
  CURLU* u = curl_url();
  if (!u) return std::nullopt;
  std::optional<endpoint> out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    endpoint ep;
    const auto scheme = url_part(u, CURLUPART_SCHEME, 0);
    ep.tls = scheme == "https";
    ep.host = url_part(u, CURLUPART_HOST, 0);
    ep.port = url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    const auto explicit_port = url_part(u, CURLUPART_PORT, 0);
    ep.host_header = explicit_port.empty() ? ep.host : ep.host + ":" + explicit_port;
    if (ep.host.size() > 2 && ep.host.front() == '[' && ep.host.back() == ']') ep.host = ep.host.substr(1, ep.host.size() - 2);
    ep.target = url_part(u, CURLUPART_PATH, 0);
    if (ep.target.empty()) ep.target = "/";
    const auto query = url_part(u, CURLUPART_QUERY, 0);
    if (!query.empty()) ep.target += "?" + query;
    ep.user = url_part(u, CURLUPART_USER, CURLU_URLDECODE);
    ep.password = url_part(u, CURLUPART_PASSWORD, CURLU_URLDECODE);
    ep.origin = scheme + "://" + ep.host_header;
    ep.verified_origin = ep.origin + "|v";
    if ((scheme == "http" || scheme == "https") && !ep.host.empty() && !ep.port.empty()) out = std::move(ep);
  }
  curl_url_cleanup(u);
  return out;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  return out;
}

std::string seconds_text(std::chrono::milliseconds ms) {
  const auto s = static_cast<double>(ms.count()) / 1000.0;
  std::string text = std::to_string(s);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text + " s";
}

// A response body kept up to a cap: past it the read stops with body_limit
// and the first `cap` bytes stay, as a log excerpt.
struct capped_body {
  struct value_type {
    std::string data;
    std::size_t cap = 0;
    bool oversize = false;
  };

  class reader {
   public:
    template <bool is_request, class Fields>
    reader(http::header<is_request, Fields>&, value_type& v) : v_(v) {}
    void init(const boost::optional<std::uint64_t>&, error_code& ec) { ec = {}; }
    template <class Buffers>
    std::size_t put(const Buffers& buffers, error_code& ec) {
      std::size_t used = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        const std::size_t room = v_.cap - std::min(v_.cap, v_.data.size());
        const std::size_t take = std::min(room, b.size());
        v_.data.append(static_cast<const char*>(b.data()), take);
        used += b.size();
        if (take < b.size()) {
          v_.oversize = true;
          ec = http::error::body_limit;
          return used;
        }
      }
      ec = {};
      return used;
    }
    void finish(error_code& ec) { ec = {}; }

   private:
    value_type& v_;
  };
};

using response_parser = http::response_parser<capped_body>;

struct connection {
  std::string origin;
  tcp::socket socket;
  std::optional<ssl::stream<tcp::socket&>> tls;  // over `socket`, for https
  beast::flat_buffer buffer;
  steady::time_point idle_since{};
  steady::time_point deadline{};  // while busy: closed by the sweeper past this
  bool expired = false;           // the sweeper closed it
  std::size_t* open_count;

  connection(asio::io_context& io, std::size_t* count) : socket(io), open_count(count) { ++*open_count; }
  ~connection() { --*open_count; }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  void close() {
    error_code ignored;
    socket.close(ignored);
  }
};

// What one exchange on a connection came to.
struct exchange_result {
  transfer_result result;
  bool reusable = false;  // the connection may carry the next request
  bool stale = false;     // a kept connection failed before any response: try a new one
};

}  // namespace

struct http_client::impl : std::enable_shared_from_this<impl> {
  struct pending {
    transfer_request req;
    std::function<void(transfer_result)> done;
  };

  asio::io_context& io;
  const std::size_t max_parallel;
  std::size_t open = 0;  // connections, idle or busy
  std::size_t in_flight = 0;
  bool closed = false;
  std::deque<pending> queue;
  // Before the connections: their TLS streams use these.
  std::map<std::pair<bool, std::string>, std::unique_ptr<ssl::context>> tls_contexts;
  std::unordered_map<std::string, std::vector<std::unique_ptr<connection>>> idle;  // newest last
  std::vector<connection*> busy;  // at most max_parallel
  asio::steady_timer sweeper;
  bool sweeping = false;
  // By URL (status URLs differ per commit); null for an invalid one. Shared, so
  // a request holds its endpoint without a copy while the cache may be cleared.
  std::unordered_map<std::string, std::shared_ptr<const endpoint>> parsed;

  impl(asio::io_context& i, std::size_t parallel)
      : io(i), max_parallel(std::max<std::size_t>(parallel, 1)), sweeper(i) {}

  void close_all() {
    closed = true;
    queue.clear();
    for (auto* c : busy) c->close();
    idle.clear();
    sweeper.cancel();
  }

  void start(pending p) {
    ++in_flight;
    asio::co_spawn(io, run(shared_from_this(), std::move(p)), asio::detached);
  }

  static asio::awaitable<void> run(std::shared_ptr<impl> self, pending p) {
    auto result = co_await self->fetch(p.req);
    --self->in_flight;
    if (self->closed) co_return;  // abandoned: no callback
    while (self->in_flight < self->max_parallel && !self->queue.empty()) {
      auto next = std::move(self->queue.front());
      self->queue.pop_front();
      self->start(std::move(next));
    }
    try {
      p.done(std::move(result));
    } catch (...) {
      // A callback's failure is its own.
    }
  }

  // ---- deadlines

  void watch(connection& c, steady::time_point deadline) {
    c.deadline = deadline;
    busy.push_back(&c);
    if (!sweeping) sweep_later();
  }

  void unwatch(connection& c) {
    const auto it = std::find(busy.begin(), busy.end(), &c);
    if (it == busy.end()) return;
    *it = busy.back();
    busy.pop_back();
  }

  std::shared_ptr<const endpoint> endpoint_of(const std::string& url) {
    constexpr std::size_t max_parsed = 1024;
    if (const auto it = parsed.find(url); it != parsed.end()) return it->second;
    if (parsed.size() >= max_parsed) parsed.clear();
    auto ep = parse(url);
    return parsed.emplace(url, ep ? std::make_shared<const endpoint>(std::move(*ep)) : nullptr).first->second;
  }

  void sweep_later() {
    sweeping = true;
    sweeper.expires_after(sweep_every);
    sweeper.async_wait([w = weak_from_this()](const error_code& ec) {
      const auto self = w.lock();
      if (!self || ec) return;
      self->sweep();
    });
  }

  void sweep() {
    sweeping = false;
    if (closed) return;
    const auto now = steady::now();
    for (auto* c : busy)
      if (!c->expired && now >= c->deadline) {
        c->expired = true;
        c->close();  // its pending read or write ends with operation_aborted
      }
    if (!busy.empty()) sweep_later();
  }

  // ---- requests

  asio::awaitable<transfer_result> fetch(const transfer_request& r) {
    transfer_result out;
    const auto ep = endpoint_of(r.url);
    if (!ep) {
      co_await asio::post(io, asio::use_awaitable);  // never a callback inside submit
      out.error = "invalid URL";
      co_return out;
    }
    const auto deadline = steady::now() + r.timeout;
    // Connections are shared by requests to the same origin with the same TLS settings.
    std::string other_origin;
    if (!r.tls_verify || !r.tls_ca_file.empty())
      other_origin = ep->origin + (r.tls_verify ? "|v" : "|-") + r.tls_ca_file.string();
    const std::string& origin = other_origin.empty() ? ep->verified_origin : other_origin;
    const std::string wire = message(*ep, r);
    for (bool retried = false;;) {
      std::unique_ptr<connection> c = take_idle(origin);
      const bool reused = c != nullptr;
      if (!c) {
        c = co_await connect(*ep, r, origin, deadline, out);
        if (!c) co_return out;
      }
      watch(*c, deadline);
      auto x = co_await exchange(*c, wire, r, reused);
      unwatch(*c);
      if (x.stale && !retried && !closed) {
        retried = true;  // the peer closed a kept connection: once more on a new one
        continue;
      }
      if (x.reusable && !closed) keep(std::move(c));
      co_return std::move(x.result);
    }
  }

  std::unique_ptr<connection> take_idle(const std::string& origin) {
    const auto it = idle.find(origin);
    if (it == idle.end()) return nullptr;
    auto& list = it->second;
    const auto now = steady::now();
    while (!list.empty()) {
      auto c = std::move(list.back());
      list.pop_back();
      if (now - c->idle_since < max_idle) return c;
    }
    return nullptr;
  }

  void keep(std::unique_ptr<connection> c) {
    c->idle_since = steady::now();
    idle[c->origin].push_back(std::move(c));
  }

  // Room for one more connection: the oldest idle one of any origin goes.
  void make_room() {
    while (open >= max_parallel) {
      std::vector<std::unique_ptr<connection>>* oldest = nullptr;
      for (auto& [origin, list] : idle)
        if (!list.empty() && (!oldest || list.front()->idle_since < oldest->front()->idle_since)) oldest = &list;
      if (!oldest) return;
      oldest->erase(oldest->begin());
    }
  }

  ssl::context* tls_context(const transfer_request& r, std::string& error) {
    auto& slot = tls_contexts[{r.tls_verify, r.tls_ca_file.string()}];
    if (slot) return slot.get();
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_compression);
    error_code ec;
    if (r.tls_verify) {
      ctx->set_verify_mode(ssl::verify_peer);
      if (!r.tls_ca_file.empty())
        ctx->load_verify_file(r.tls_ca_file.string(), ec);
      else
        ctx->set_default_verify_paths(ec);
    } else {
      ctx->set_verify_mode(ssl::verify_none);
    }
    if (ec) {
      error = "cannot load trusted certificates: " + ec.message();
      return nullptr;
    }
    slot = std::move(ctx);
    return slot.get();
  }

  asio::awaitable<std::unique_ptr<connection>> connect(const endpoint& ep, const transfer_request& r,
                                                       const std::string& origin, steady::time_point deadline,
                                                       transfer_result& out) {
    const std::string& where = ep.host_header;
    tcp::resolver resolver(io);
    auto [rec, addresses] = co_await resolver.async_resolve(ep.host, ep.port, use_tuple);
    if (closed) co_return nullptr;
    if (rec) {
      out.error = "Could not resolve host " + ep.host + ": " + rec.message();
      co_return nullptr;
    }
    ssl::context* ctx = nullptr;
    if (ep.tls && !(ctx = tls_context(r, out.error))) co_return nullptr;
    make_room();
    auto c = std::make_unique<connection>(io, &open);
    c->origin = origin;

    const auto connect_by = std::min(deadline, steady::now() + max_connect);
    watch(*c, connect_by);
    auto [cec, peer] = co_await asio::async_connect(c->socket, addresses, use_tuple);
    unwatch(*c);
    if (closed) co_return nullptr;
    if (cec) {
      out.error = c->expired ? "Timeout was reached: could not connect to " + where + " within " +
                                   seconds_text(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::min<steady::duration>(r.timeout, max_connect)))
                             : "Could not connect to " + where + ": " + cec.message();
      co_return nullptr;
    }
    error_code ignored;
    c->socket.set_option(tcp::no_delay(true), ignored);
    c->socket.non_blocking(true, ignored);  // exchange() writes without waiting
    if (!ep.tls) co_return c;

    auto& s = c->tls.emplace(c->socket, *ctx);
    if (r.tls_verify) s.set_verify_callback(ssl::host_name_verification(ep.host));
    error_code not_ip;
    asio::ip::make_address(ep.host, not_ip);
    // SNI; the macro SSL_set_tlsext_host_name hides a C cast, so call SSL_ctrl directly.
    if (not_ip)
      SSL_ctrl(s.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(ep.host.c_str()));
    watch(*c, deadline);
    auto [hec] = co_await s.async_handshake(ssl::stream_base::client, use_tuple);
    unwatch(*c);
    if (closed) co_return nullptr;
    if (hec) {
      out.error = c->expired ? "Timeout was reached during the TLS handshake with " + where
                             : "TLS handshake with " + where + " failed: " + hec.message();
      co_return nullptr;
    }
    co_return c;
  }

  // The request as it goes on the wire. Method and header names are tokens and
  // values hold no CR, LF or NUL (transfer::submit checks them).
  static std::string message(const endpoint& ep, const transfer_request& r) {
    const auto given = [&](std::string_view name) {
      return std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& h) { return equal_nocase(h.first, name); });
    };
    std::string m;
    m.reserve(256 + ep.target.size() + r.body.size());
    const auto header = [&](std::string_view name, std::string_view value) {
      m.append(name).append(": ").append(value).append("\r\n");
    };
    m.append(r.method).append(" ").append(ep.target).append(" HTTP/1.1\r\n");
    if (!given("Host")) header("Host", ep.host_header);
    if (!given("User-Agent")) header("User-Agent", "herald");
    if (!given("Accept")) header("Accept", "*/*");
    const auto& user = r.username.empty() ? ep.user : r.username;
    const auto& password = r.username.empty() ? ep.password : r.password;
    if (!user.empty() && !given("Authorization")) header("Authorization", "Basic " + base64(user + ":" + password));
    for (const auto& [name, value] : r.headers)
      if (!equal_nocase(name, "Content-Length") && !equal_nocase(name, "Transfer-Encoding"))
        header(name, value);  // the framing is ours alone; any other given header replaces a default
    const bool bodyless = (r.method == "GET" || r.method == "HEAD") && r.body.empty();
    if (!bodyless) {
      if (!given("Content-Type")) header("Content-Type", "application/x-www-form-urlencoded");
      header("Content-Length", std::to_string(r.body.size()));
    }
    m.append("\r\n").append(r.body);
    return m;
  }

  asio::awaitable<exchange_result> exchange(connection& c, const std::string& wire, const transfer_request& r,
                                            bool reused) {
    exchange_result x;
    auto& out = x.result;
    const auto timed_out = [&] {
      out.error = "Timeout was reached: no complete response within " + seconds_text(r.timeout);
    };

    error_code wec;
    if (c.tls) {
      std::tie(wec, std::ignore) = co_await asio::async_write(*c.tls, asio::buffer(wire), use_tuple);
    } else {
      // Mostly the whole request fits the socket's empty send buffer. Written
      // here (the socket is non-blocking), it goes without the loop pass that
      // async_write takes to complete even when its first send writes it all.
      const std::size_t sent = c.socket.write_some(asio::buffer(wire), wec);
      if (wec == asio::error::would_block || wec == asio::error::try_again) wec = {};
      if (!wec && sent < wire.size())
        std::tie(wec, std::ignore) = co_await asio::async_write(c.socket, asio::buffer(wire) + sent, use_tuple);
    }
    if (closed) co_return x;
    if (wec) {
      if (c.expired)
        timed_out();
      else if (reused)
        x.stale = true;
      else
        out.error = "Send failure: " + wec.message();
      co_return x;
    }

    std::optional<response_parser> parser;
    for (;;) {
      parser.emplace();
      parser->header_limit(max_header_bytes);
      parser->body_limit(boost::none);  // the body caps itself and keeps what came first
      parser->get().body().cap = r.max_response_bytes;
      if (r.method == "HEAD") parser->skip(true);
      error_code rec;
      if (c.tls)
        std::tie(rec, std::ignore) = co_await http::async_read(*c.tls, c.buffer, *parser, use_tuple);
      else
        std::tie(rec, std::ignore) = co_await http::async_read(c.socket, c.buffer, *parser, use_tuple);
      if (closed) co_return x;
      const bool got_header = parser->is_header_done();
      if (got_header) out.status = parser->get().result_int();
      auto& body = parser->get().body();
      if (body.oversize) {
        out.error = "response larger than " + std::to_string(r.max_response_bytes) + " bytes";
        out.body = std::move(body.data);
        co_return x;
      }
      if (rec) {
        if (c.expired) {
          timed_out();
        } else if (!parser->got_some() && reused) {
          x.stale = true;
        } else if (!parser->got_some() && (rec == http::error::end_of_stream || rec == asio::error::eof ||
                                           rec == asio::error::connection_reset)) {
          out.error = "Empty reply from server";
        } else if (rec.category() == http::make_error_code(http::error::end_of_stream).category() ||
                   rec == asio::error::eof) {
          out.error = "Weird server reply: " + rec.message();
        } else {
          out.error = "Recv failure: " + rec.message();
        }
        if (!got_header) out.status = 0;
        co_return x;
      }
      const unsigned status = parser->get().result_int();
      if (status >= 100 && status < 200 && status != 101) continue;  // interim: the real answer follows
      break;
    }
    auto& res = parser->get();
    for (const auto& field : res) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), lower);
      out.headers[std::move(name)] = std::string(field.value());
    }
    out.body = std::move(res.body().data);
    x.reusable = parser->keep_alive();
    co_return x;
  }
};

http_client::http_client(asio::io_context& io, std::size_t max_parallel)
    : impl_(std::make_shared<impl>(io, max_parallel)) {}

http_client::~http_client() { impl_->close_all(); }

void http_client::submit(transfer_request r, std::function<void(transfer_result)> done) {
  auto& i = *impl_;
  impl::pending p{std::move(r), std::move(done)};
  if (i.in_flight < i.max_parallel)
    i.start(std::move(p));
  else
    i.queue.push_back(std::move(p));
}

std::size_t http_client::in_flight() const { return impl_->in_flight; }

void http_client::prepare_tls(bool verify, const std::filesystem::path& ca_file) {
  transfer_request r;
  r.tls_verify = verify;
  r.tls_ca_file = ca_file;
  std::string error;  // reported by the first attempt, which tries again
  impl_->tls_context(r, error);
}

}  // namespace herald::notifiers
